"""The block layout's cost model, measured: ``python -m benchmarks.packing_costs``.

Per ring size (depth-1 parameters, one thread): what one request ciphertext costs on the path it
takes (secret-key encryption and serialization on the client, parsing on the server) and its bytes;
one ciphertext x plaintext product inside the block dense layer (from two layouts that differ only in
their products); one rotation (a key switch at the request's level); one ciphertext x constant product. Prints the
``he_tf.models.blocks.COSTS`` table these numbers go into (docs/benchmarks.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import he_tf  # noqa: E402
from he_tf import ops  # noqa: E402
from he_tf.models import rotations  # noqa: E402
from he_tf.models.blocks import BlockLayout, block_dense  # noqa: E402
from he_tf.params import chain_for, integer_bits_for  # noqa: E402

COUNT = 8  # ciphertexts per call


def _ms(call, repeats: int = 9) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3  # the least disturbed call: other load only ever adds time


def _block_dense_ms(public, secret, slots: int, blocks: int, cts: int) -> float:
    layout = BlockLayout(slots // blocks, cts * blocks, blocks, slots)
    x = np.random.default_rng(2).uniform(-1, 1, (layout.samples, layout.features))
    encrypted = he_tf.encrypt(public, layout.pack(x), secret=secret)
    w, b = np.ones((layout.features, 1)), np.zeros(1)
    return _ms(lambda: block_dense(encrypted, layout, w, b))  # the weights are encoded once, then cached


def measure(n: int) -> dict[str, float]:
    bits, scale = chain_for(n, 1, integer_bits_for(103.0))
    params = he_tf.Params(n, bits, scale)
    slots = params.slot_count
    steps = rotations.block_dense(slots // 4, 4, 1, slots)  # includes slots // 4
    keys = he_tf.KeySet.generate(params, rotations=steps)
    public, secret = keys.public, keys.secret
    x = np.random.default_rng(0).uniform(-1, 1, (slots, COUNT))
    encrypted = he_tf.encrypt(public, x, secret=secret)
    strings = he_tf.serialize(encrypted)
    spec = tf.type_spec_from_value(encrypted)
    ciphertext = _ms(lambda: he_tf.serialize(he_tf.encrypt(public, x, secret=secret))) + _ms(
        lambda: he_tf.deserialize(public, strings, spec))
    constant = _ms(lambda: ops.matmul_constants(public.tensor, encrypted.ciphertexts,
                                                tf.ones([COUNT, 1], tf.float64)))
    # Products: the block dense layer with 4 blocks on 16 and on 2 ciphertexts (the same 3 rotations).
    t16, t2 = (_block_dense_ms(public, secret, slots, 4, c) for c in (16, 2))
    product = max(0.0, (t16 - t2) / (4 * 14))
    # A rotation: one key switch at the request's level, as the layer does before its rescale.
    rotation = _ms(lambda: ops.rotate(public.tensor, encrypted.ciphertexts, steps=slots // 4)) / COUNT
    return {"ciphertext_ms": ciphertext / COUNT, "ciphertext_bytes": int(np.mean([len(s) for s in
                                                                                strings.numpy().ravel()])),
            "product_ms": product, "rotation_ms": rotation, "constant_ms": constant / COUNT,
            "params": str(params)}


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; one thread; {COUNT} ciphertexts per call")
    print("COSTS = {")
    for n in (4096, 8192, 16384, 32768):
        c = measure(n)
        print(f"    {n}: Costs(ciphertext_ms={c['ciphertext_ms']:.3g}, ciphertext_bytes={c['ciphertext_bytes']}, "
              f"product_ms={c['product_ms']:.3g}, rotation_ms={c['rotation_ms']:.3g}, "
              f"constant_ms={c['constant_ms']:.3g}),  # {c['params']}", flush=True)
    print("}")


if __name__ == "__main__":
    main()
