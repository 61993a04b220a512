"""TenSEAL on CryptoNets, its documented way ("Encrypted Convolution on MNIST"): one image per ciphertext.

The client encodes each (padded) image with ``ts.im2col_encoding`` (one CKKSVector holding every
5x5 window), the server runs ``conv2d_im2col`` per output map, ``pack_vectors``, ``square_``, ``mm``
with the dense layers. The tutorial's ring, N=8192, holds 4096 values: CryptoNets' 169 windows of 25
pixels need 4225, so this runs at N=16384 (the smallest ring that holds them), with 40-bit primes
(the tutorial's 26-bit ones lose the labels at this depth). ``python -m benchmarks.peers.tenseal_cnn_job
DATA.npz`` in TenSEAL's own virtualenv: a ready line, then per ``run I`` line one JSON reply with the
phases of image ``I`` in milliseconds, the bytes each way and the logits.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from benchmarks.peers.common import Phases, _protocol_stream

RING, SCALE_BITS = 16384, 40
BITS = [60] + [SCALE_BITS] * 6 + [60]  # the tutorial's chain (5 products and one spare), 40-bit primes


class CryptoNetsTenSEAL:
    def __init__(self, data: dict) -> None:
        import tenseal as ts

        self.ts = ts
        self.context = ts.context(ts.SCHEME_TYPE.CKKS, RING, coeff_mod_bit_sizes=BITS)
        self.context.global_scale = 2.0**SCALE_BITS
        self.context.generate_galois_keys()
        public = self.context.copy()
        public.make_context_public()
        self.public_bytes = public.serialize(save_galois_keys=True, save_relin_keys=True)
        self.server_context = ts.context_from(self.public_bytes)
        self.images = data["images"]  # (count, 29, 29): already padded, as the network pads
        kernel = data["conv_kernel"]  # (5, 5, 1, maps), Keras' layout
        self.kernels = [kernel[:, :, 0, m].tolist() for m in range(kernel.shape[-1])]
        self.conv_bias = [float(v) for v in data["conv_bias"]]
        self.size, self.stride = kernel.shape[0], int(data["stride"])
        # pack_vectors lays the maps out map by map; Keras flattens (row, column, map): reorder the rows.
        maps, dense1 = kernel.shape[-1], data["dense1_kernel"]
        positions = dense1.shape[0] // maps
        self.dense1 = dense1.reshape(positions, maps, -1).transpose(1, 0, 2).reshape(dense1.shape[0], -1).tolist()
        self.bias1 = data["dense1_bias"].tolist()
        self.dense2, self.bias2 = data["dense2_kernel"].tolist(), data["dense2_bias"].tolist()
        self.info = {"params": {"poly_modulus_degree": RING, "coeff_mod_bit_sizes": BITS, "scale_bits": SCALE_BITS},
                     "layout": "one image per ciphertext (im2col encoding)",
                     "public_context_bytes": len(self.public_bytes)}

    def run(self, index: int, phases: Phases) -> tuple[np.ndarray, int, int]:
        ts = self.ts
        with phases("client encrypt"):
            x, windows = ts.im2col_encoding(self.context, self.images[index].tolist(), self.size, self.size,
                                            self.stride)
            request = x.serialize()
        with phases("server"):
            x = ts.ckks_vector_from(self.server_context, request)
            maps = [x.conv2d_im2col(k, windows) + b for k, b in zip(self.kernels, self.conv_bias)]
            x = ts.CKKSVector.pack_vectors(maps)
            x.square_()
            x = x.mm(self.dense1) + self.bias1
            x.square_()
            x = x.mm(self.dense2) + self.bias2
            response = x.serialize()
        with phases("client decrypt"):
            logits = np.array(ts.ckks_vector_from(self.context, response).decrypt())
        return logits, len(request), len(response)


def main(path: str) -> None:
    import importlib.metadata

    out = _protocol_stream()
    start = time.perf_counter()
    job = CryptoNetsTenSEAL(dict(np.load(path)))
    ready = {"impl": "TenSEAL", "version": importlib.metadata.version("tenseal"),
             "setup_s": time.perf_counter() - start, **job.info}
    print(json.dumps(ready), file=out, flush=True)
    for line in sys.stdin:
        command, index = line.split()
        try:
            if command != "run":
                raise ValueError(f"unknown command {command!r}")
            phases = Phases()
            logits, request, response = job.run(int(index), phases)
            reply = {"phases_ms": phases.ms, "request_bytes": request, "response_bytes": response,
                     "logits": logits.tolist()}
        except Exception as e:  # reported to the driver, which names the worker
            reply = {"error": f"{line.strip()}: {type(e).__name__}: {e}"}
        print(json.dumps(reply), file=out, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
