"""Times he-tf's raw ops inside ``tf.function`` with a fixed number of CPU threads.

One process per thread count, because TensorFlow sizes its thread pools once,
when it initializes. Started by :mod:`benchmarks.ops_vs_seal`, it speaks the
same line protocol as ``he_tf_seal_bench --serve``: one JSON line when ready,
then for each stdin line ``<op> <min_repeats> <min_seconds>`` one JSON line
with the seconds per ciphertext of each timed call.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from typing import Callable

import numpy as np

# op -> (raw op in the op library, expected plaintext result from (a, b, plain, step))
OPS: dict[str, tuple[str, Callable]] = {
    "add": ("he_add", lambda a, b, p, s: a + b),
    "multiply_plain": ("he_multiply_plain", lambda a, b, p, s: a * p),
    "multiply": ("he_multiply", lambda a, b, p, s: a * b),
    "rotate": ("he_rotate", lambda a, b, p, s: np.roll(a, -s, axis=-1)),  # as SEAL's rotate_vector: left by s
}


def _op_call(lib, op: str, step: int) -> Callable:
    """The raw op as f(context, a, b, plain), ignoring inputs it does not take."""
    raw = getattr(lib, OPS[op][0])
    if op in ("add", "multiply"):
        return lambda ctx, a, b, p: raw(ctx, a, b)
    if op == "multiply_plain":
        return lambda ctx, a, b, p: raw(ctx, a, p)
    return lambda ctx, a, b, p: raw(ctx, a, steps=step)


def _time_calls(fn: Callable, inputs: tuple, count: int, min_repeats: int,
                min_seconds: float) -> tuple[list[float], object]:
    """Seconds per ciphertext of each call (>= min_repeats calls, >= min_seconds) and the last result."""
    samples: list[float] = []
    last = None
    gc.disable()
    while len(samples) < min_repeats or sum(samples) * count < min_seconds:
        start = time.perf_counter()
        out = fn(*inputs)
        samples.append((time.perf_counter() - start) / count)
        last, out = out, None  # the previous results are freed outside the timed call
    gc.enable()
    return samples, last


def serve(args: argparse.Namespace, protocol) -> None:
    import tensorflow as tf

    # Before anything initializes TensorFlow's runtime (it raises otherwise).
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import he_tf

    given = {"poly_modulus_degree": args.poly_modulus_degree, "coeff_mod_bit_sizes": args.coeff_mod_bit_sizes,
             "scale_bits": args.scale_bits}
    params = he_tf.Params(**{k: v for k, v in given.items() if v is not None})
    lib = he_tf.ops._ops
    available = [op for op in OPS if hasattr(lib, OPS[op][0])]
    keys = he_tf.KeySet.generate(params, rotations=[args.step] if "rotate" in available else None)
    rng = np.random.default_rng(args.seed)
    x, y, p = (rng.uniform(-1.0, 1.0, size=(args.count, params.slot_count)) for _ in range(3))
    inputs = (
        keys.public.tensor,
        he_tf.encrypt(keys.public, x, layout="vector").ciphertexts,  # shape (count, 1)
        he_tf.encrypt(keys.public, y, layout="vector").ciphertexts,
        tf.constant(p[:, None, :]),  # one row of slot_count values per ciphertext
    )
    functions = {op: tf.function(_op_call(lib, op, args.step)) for op in available}

    def reply(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    reply({
        "ready": True, "poly_modulus_degree": params.poly_modulus_degree,
        "coeff_mod_bit_sizes": list(params.coeff_mod_bit_sizes), "scale_bits": params.scale_bits,
        "count": args.count, "threads": args.threads, "step": args.step,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "ops": available, "tensorflow": tf.__version__, "he_tf": he_tf.__version__,
    })
    warmed: set[str] = set()
    for line in sys.stdin:
        fields = line.split()
        if not fields or fields[0] == "quit":
            break
        op, min_repeats, min_seconds = fields[0], int(fields[1]), float(fields[2])
        if op not in functions:
            reply({"op": op, "error": f"the op library has no {OPS[op][0]}" if op in OPS else "unknown op"})
            continue
        fn = functions[op]
        if op not in warmed:
            warmed.add(op)
            for _ in range(args.warmup):
                fn(*inputs)
        samples, last = _time_calls(fn, inputs, args.count, min_repeats, min_seconds)
        got = he_tf.ops.decrypt(keys.public.tensor, keys.secret.tensor, last, num_values=params.slot_count)
        want = OPS[op][1](x, y, p, args.step)
        reply({"op": op, "samples": samples, "max_error": float(np.abs(got.numpy()[:, 0, :] - want).max())})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hetf_timing", description=__doc__)
    parser.add_argument("--threads", type=int, required=True, help="TensorFlow intra-op threads")
    parser.add_argument("--count", type=int, default=64, help="ciphertexts per call")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before an op's first timed one")
    parser.add_argument("--step", type=int, default=1, help="rotation step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--poly-modulus-degree", type=int, help="default: he_tf.Params()'s, as the two below")
    parser.add_argument("--coeff-mod-bit-sizes", type=int, nargs="+")
    parser.add_argument("--scale-bits", type=int)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    # Replies go to the original stdout; anything else printed goes to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(args, protocol)


if __name__ == "__main__":
    main()
