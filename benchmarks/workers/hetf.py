"""he-tf's raw ops, eagerly and inside ``tf.function``, plus the same computation in plaintext TensorFlow.

One process per thread count, because TensorFlow sizes its thread pools once,
when it initializes. Requests (benchmarks/servers.py):
``<mode> <params> <op> <count> <min_repeats> <min_seconds>`` with mode
``graph`` (he-tf in tf.function), ``eager`` (he-tf) or ``plain`` (TensorFlow
on float64 tensors, no encryption), and ``sizes <params>``.

    python -m benchmarks.workers.hetf --threads=1
"""

from __future__ import annotations

import argparse
import functools
from typing import Callable

import numpy as np

from benchmarks.workers import inputs, serving
from benchmarks.workers.inputs import ParamSet

# Ops with no plaintext-TensorFlow counterpart (nothing is encoded or encrypted there).
NO_PLAIN = {"encode", "encrypt_public", "encrypt_secret", "decrypt"}


class HeTfWorker:
    def __init__(self, tf, he_tf) -> None:
        self.tf, self.he_tf, self.ops = tf, he_tf, he_tf.ops

    @functools.lru_cache(maxsize=None)
    def keys(self, token: str):
        p = ParamSet.parse(token)
        params = self.he_tf.Params(p.poly_modulus_degree, p.coeff_mod_bit_sizes, p.scale_bits)
        return params, self.he_tf.KeySet.generate(params)  # power-of-two Galois keys, the default

    @functools.lru_cache(maxsize=None)
    def encrypted(self, token: str, count: int, length: int = 0):
        """Rows x and y encrypted one per ciphertext (the first ``length`` values of x only, when given)."""
        params, keys = self.keys(token)
        x, y, _ = inputs.values(params.slot_count, count)
        tf, ctx = self.tf, keys.public.tensor
        if length:
            return self.ops.encrypt(ctx, tf.constant(x[:, :length]))
        return self.ops.encrypt(ctx, tf.constant(x)), self.ops.encrypt(ctx, tf.constant(y))

    def decrypt(self, token: str, cts) -> np.ndarray:
        params, keys = self.keys(token)
        return self.ops.decrypt(keys.public.tensor, keys.secret.tensor, cts, num_values=params.slot_count).numpy()

    def he_call(self, token: str, op: str, a: int, b: int, count: int) -> tuple[Callable, Callable]:
        """The op as a no-argument function of captured tensors, and how to turn its result into values."""
        tf, ops = self.tf, self.ops
        params, keys = self.keys(token)
        ctx, sk, slots = keys.public.tensor, keys.secret.tensor, params.slot_count
        x, _, p = (tf.constant(v) for v in inputs.values(slots, count))
        level, scale = params.depth, tf.constant(float(2**params.scale_bits), tf.float64)
        ax, bx = self.encrypted(token, count) if op not in ("matmul_vector", "matmul_batch") else (None, None)
        to_values = functools.partial(self.decrypt, token)
        if op == "encode":
            return (lambda: ops.encode(ctx, p, scale, level=level)), lambda r: ops.decode(ctx, r, num_values=slots)
        if op == "encrypt_public":
            return (lambda: ops.encrypt(ctx, x)), to_values
        if op == "encrypt_secret":
            return (lambda: ops.encrypt_symmetric(ctx, sk, x)), to_values
        if op == "decrypt":  # as he_tf.decrypt does: the level and scale check, then the decryption
            return (lambda: ops.decrypt(ctx, sk, ops.check_level_and_scale(ctx, ax, scale, level=level),
                                        num_values=slots)), lambda r: r
        if op == "serialize":
            return (lambda: ops.serialize(ctx, ax)), lambda r: to_values(ops.deserialize(ctx, r, scale, level=level))
        if op == "deserialize":
            serialized = ops.serialize(ctx, ax)
            return (lambda: ops.deserialize(ctx, serialized, scale, level=level)), to_values
        if op == "matmul_vector":
            xs, w = self.encrypted(token, count, a), tf.constant(inputs.matrix(a, b))
            return (lambda: ops.matmul_diagonal(ctx, xs, w)), to_values
        if op == "matmul_batch":  # `count` (= a) feature ciphertexts of one batch: x[F] @ W[F, K]
            w = tf.constant(inputs.matrix(a, b))
            xs = self.encrypted(token, count)[0]
            return (lambda: ops.matmul_constants(ctx, xs, w)), lambda r: to_values(r).T
        calls = {
            "add": lambda: ops.add(ctx, ax, bx),
            "add_plain": lambda: ops.add_plain(ctx, ax, p),
            "multiply_plain": lambda: ops.multiply_plain(ctx, ax, p),
            "multiply": lambda: ops.multiply(ctx, ax, bx),
            "square": lambda: ops.square(ctx, ax),
            "rotate": lambda: ops.rotate(ctx, ax, steps=a),
            "sum_slots": lambda: ops.sum_slots(ctx, ax, num_values=slots),
            "dot": lambda: ops.sum_slots(ctx, ops.multiply_plain(ctx, ax, p), num_values=slots),
            "polyval": lambda: ops.polyval(ctx, ax, tf.constant(inputs.poly_coeffs(a)), num_values=slots),
        }
        return calls[op], to_values

    def plain_call(self, token: str, op: str, a: int, b: int, count: int) -> Callable:
        """The same computation on float64 tensors (one row of slot values per ciphertext)."""
        tf = self.tf
        slots = ParamSet.parse(token).slots
        x, y, p = (tf.constant(v) for v in inputs.values(slots, count))
        coeffs = tf.constant(inputs.poly_coeffs(a)[::-1].copy())  # tf.math.polyval: highest degree first
        calls = {
            "add": lambda: x + y, "add_plain": lambda: x + p, "multiply_plain": lambda: x * p,
            "multiply": lambda: x * y, "square": lambda: tf.square(x),
            "rotate": lambda: tf.roll(x, -a, axis=1),
            "sum_slots": lambda: tf.reduce_sum(x, axis=1), "dot": lambda: tf.reduce_sum(x * p, axis=1),
            "matmul_vector": lambda: tf.matmul(x[:, :a], tf.constant(inputs.matrix(a, b))),
            "matmul_batch": lambda: tf.matmul(tf.transpose(x[:a]), tf.constant(inputs.matrix(a, b))),
            "polyval": lambda: tf.math.polyval(tf.unstack(coeffs), x),
            "serialize": lambda: tf.io.serialize_tensor(x),
        }
        if op == "deserialize":
            serialized = tf.io.serialize_tensor(x)
            return lambda: tf.io.parse_tensor(serialized, tf.float64)
        return calls[op]

    @functools.lru_cache(maxsize=None)
    def case(self, mode: str, token: str, op_token: str, count: int) -> serving.Timed:
        op, a, b = inputs.parse_op(op_token)
        if mode == "plain":
            if op in NO_PLAIN:
                raise ValueError(f"plaintext TensorFlow has no {op}")
            return serving.Timed(self.tf.function(self.plain_call(token, op, a, b, count)), count)
        call, to_values = self.he_call(token, op, a, b, count)
        if mode == "graph":
            call = self.tf.function(call)
        elif mode != "eager":
            raise ValueError(f"unknown mode {mode!r} (graph, eager, plain)")
        x, y, p = inputs.values(ParamSet.parse(token).slots, count)
        want = inputs.expected(op, a, b, x, y, p)
        return serving.Timed(call, count, lambda r: inputs.max_error(to_values(r), want))

    def sizes(self, token: str) -> dict:
        """Bytes of he-tf's public context (compressed, seeded keys) and of one serialized ciphertext."""
        params, keys = self.keys(token)
        ax, _ = self.encrypted(token, 1)
        x, _, _ = inputs.values(params.slot_count, 1)
        seeded = self.ops.encrypt_symmetric(keys.public.tensor, keys.secret.tensor, self.tf.constant(x))
        return {
            "public_context": len(keys.public.serialize()),
            "ciphertext": len(self.ops.serialize(keys.public.tensor, ax).numpy()[0]),
            "ciphertext_seeded": len(self.ops.serialize(keys.public.tensor, seeded).numpy()[0]),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers.hetf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, required=True, help="TensorFlow intra-op threads")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before a case's first timed one")
    args = parser.parse_args(argv)
    out = serving.protocol_stream()
    import tensorflow as tf

    # Before anything initializes TensorFlow's runtime (it raises otherwise).
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import he_tf

    worker = HeTfWorker(tf, he_tf)
    ready = {"impl": "he-tf", "threads": args.threads, "he_tf": he_tf.__version__, "tensorflow": tf.__version__,
             "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
             "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}
    serving.serve(ready, lambda f: worker.case(f[0], f[1], f[2], int(f[3])), lambda f: worker.sizes(f[0]),
                  args.warmup, out)


if __name__ == "__main__":
    main()
