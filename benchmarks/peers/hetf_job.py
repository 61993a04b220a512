"""he-tf: he_tf.models Client and Server, bytes each way (the wire format, serialization included)."""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.peers.common import Phases, Task, serve


class HeTfTask(Task):
    def __init__(self, data: dict) -> None:
        import he_tf.models as hm

        x = data["x"]
        self.x = x
        self.model = hm.from_weights(data["weights"], data["bias"], "sigmoid", data=x)
        requirements = self.model.key_requirements(samples=len(x))
        self.client = hm.Client.generate(requirements)
        public = self.client.public_context
        self.server = hm.Server(public, self.model)
        self.server.prepare(len(x))
        params = self.model.params
        layout = requirements.block_layout(*x.shape)
        self.info = {
            "params": {"poly_modulus_degree": params.poly_modulus_degree,
                       "coeff_mod_bit_sizes": list(params.coeff_mod_bit_sizes), "scale_bits": params.scale_bits,
                       "precision_bits": params.precision_bits(), "rotations": list(requirements.rotations or [])},
            "layout": f"{layout.blocks} feature block(s) per ciphertext"
                      + ("; complex packing (two samples per slot)" if requirements.complex else ""),
            "request_ciphertexts": layout.ciphertexts * -(-layout.shape[0] // params.slot_count),
            "key_bytes": {"public_context": len(public),
                          "secret_key": len(self.client._keys.secret.serialize())},
        }

    def run(self, phases: Phases) -> tuple[np.ndarray, int, int]:
        client, server = self.client, self.server
        request = client.encrypt(self.x)
        response = server.handle(request)
        prediction = client.decrypt(response)
        for name, seconds in (("client pack", client.timing.pack), ("client encrypt", client.timing.encrypt),
                              ("client serialize", client.timing.serialize), ("server parse", server.timing.parse),
                              ("server compute", server.timing.compute),
                              ("server serialize", server.timing.serialize), ("client parse", client.timing.parse),
                              ("client decrypt", client.timing.decrypt)):
            phases.ms[name] = seconds * 1e3
        return prediction.raw[:, 0], len(request), len(response)


if __name__ == "__main__":
    import he_tf
    import tensorflow as tf

    serve("he-tf", f"{he_tf.__version__} (SEAL {he_tf._core.seal_version()}, TensorFlow {tf.__version__})",
          HeTfTask, sys.argv[1])
