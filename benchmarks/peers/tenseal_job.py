"""TenSEAL (CKKS on SEAL): one CKKSVector per feature and chunk of samples (its fastest form for a batch)."""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.peers.common import Phases, Task, serve

RING, BITS, SCALE_BITS = 4096, [39, 30, 39], 30  # he-tf's chain for this task


class TenSealTask(Task):
    def __init__(self, data: dict) -> None:
        import tenseal as ts

        self.ts = ts
        self.context = ts.context(ts.SCHEME_TYPE.CKKS, RING, coeff_mod_bit_sizes=BITS)
        self.context.global_scale = 2.0**SCALE_BITS
        self.public = self.context.copy()
        self.public.make_context_public()  # what the server gets
        self.public_bytes = self.public.serialize()
        self.x, self.w, self.b = data["x"], [float(w) for w in data["weights"]], float(data["bias"])
        slots = RING // 2
        self.chunks = [slice(i, min(i + slots, len(self.x))) for i in range(0, len(self.x), slots)]
        self.server_context = ts.context_from(self.public_bytes)
        self.info = {
            "params": {"poly_modulus_degree": RING, "coeff_mod_bit_sizes": BITS, "scale_bits": SCALE_BITS},
            "layout": "one CKKSVector per feature and chunk of samples",
            "request_ciphertexts": len(self.chunks) * self.x.shape[1],
            "key_bytes": {"public_context": len(self.public_bytes),
                          "secret_context": len(self.context.serialize(save_secret_key=True))},
        }

    def run(self, phases: Phases) -> tuple[np.ndarray, int, int]:
        ts = self.ts
        with phases("client encrypt"):
            vectors = [[ts.ckks_vector(self.context, self.x[chunk, f].tolist()) for f in range(self.x.shape[1])]
                       for chunk in self.chunks]
        with phases("client serialize"):
            request = [[v.serialize() for v in row] for row in vectors]
        with phases("server parse"):
            received = [[ts.ckks_vector_from(self.server_context, s) for s in row] for row in request]
        with phases("server compute"):
            outputs = []
            for row in received:
                acc = row[0] * self.w[0]
                for f in range(1, len(row)):
                    acc += row[f] * self.w[f]
                outputs.append(acc + self.b)
        with phases("server serialize"):
            response = [v.serialize() for v in outputs]
        with phases("client parse"):
            back = [ts.ckks_vector_from(self.context, s) for s in response]
        with phases("client decrypt"):
            logits = np.concatenate([np.array(v.decrypt()) for v in back])
        return logits, sum(len(s) for row in request for s in row), sum(len(s) for s in response)


if __name__ == "__main__":
    import importlib.metadata

    serve("TenSEAL", importlib.metadata.version("tenseal"), TenSealTask, sys.argv[1])
