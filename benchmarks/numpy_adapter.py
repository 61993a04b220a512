"""What he_tf.numpy adds to he-tf's ops: each bound NumPy call against the op called directly.

Both sides run in this process, eagerly, on the same HETensor: ``he_tf.<op>(h, ...)`` against the NumPy
call on ``he_tf.numpy.asarray(h)``, which routes to that same function. End to end, rounds of call pairs
that alternate which goes first give the ratio of their times. What the adapter adds is its own work
(NumPy's dispatch, one lookup, the argument adaptation, the wrap): measured alone, with the op answering
at once, and as a share of the op's time. The target: the adapter adds at most 5%. On a loaded machine
the end-to-end ratio spreads by more than that either way; the share does not. Run from the repository
root::

    python -m benchmarks.numpy_adapter            # about 40 s: benchmarks/results/numpy_adapter.{json,md}
    python -m benchmarks.numpy_adapter --check    # exit 1 if the adapter adds more than 5% to an op
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import timeit

import numpy as np

from benchmarks import machine, result_files
from benchmarks.servers import ROOT

TARGET = 1.05


def cases(keys, samples: int, features: int) -> dict:
    """name: (the op called directly, the NumPy call that routes to it), on the same encrypted data."""
    import he_tf
    import he_tf.numpy as hnp

    rng = np.random.default_rng(0)
    values, w = rng.normal(size=(samples, features)), rng.normal(size=(features, 4))
    h = he_tf.encrypt(keys.public, values)
    x = hnp.asarray(h)
    row, p = rng.normal(size=features), [0.5, 1.0, 0.25]
    shape = (samples, 2, -1)
    return {
        "x + x": (lambda: he_tf.add(h, h), lambda: x + x),
        "np.subtract(x, row)": (lambda: he_tf.subtract(h, row), lambda: np.subtract(x, row)),
        "x * row": (lambda: he_tf.multiply(h, row), lambda: x * row),
        "np.square(x)": (lambda: he_tf.square(h), lambda: np.square(x)),
        "x @ w": (lambda: he_tf.matmul(h, w), lambda: x @ w),
        "np.sum(x, axis=0)": (lambda: he_tf.reduce_sum(h, 0), lambda: np.sum(x, axis=0)),
        "np.polyval(p, x)": (lambda: he_tf.polyval(p, h), lambda: np.polyval(p, x)),
        "x.T": (lambda: he_tf.transpose(h), lambda: x.T),
        "np.reshape(x, ...)": (lambda: he_tf.reshape(h, shape), lambda: np.reshape(x, shape)),
        "np.concatenate(..., 1)": (lambda: he_tf.concat([h, h], 1), lambda: np.concatenate([x, x], 1)),
    }


def _round(direct, adapted, seconds: float) -> tuple[float, float]:
    """Seconds per call of each, over pairs of calls alternating which goes first (load hits both alike)."""
    totals, calls, start = [0.0, 0.0], 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls == 0:
        for side in ((0, 1) if calls % 2 == 0 else (1, 0)):
            begin = time.perf_counter()
            (direct, adapted)[side]()
            totals[side] += time.perf_counter() - begin
        calls += 1
    return totals[0] / calls, totals[1] / calls


def measure(direct, adapted, rounds: int, seconds: float) -> dict:
    direct(), adapted()  # traced and warm
    pairs = [_round(direct, adapted, seconds) for _ in range(rounds)]
    return {"direct_ms": 1e3 * statistics.median(d for d, _ in pairs),
            "numpy_ms": 1e3 * statistics.median(a for _, a in pairs),
            "ratio": statistics.median(a / d for d, a in pairs),
            "ratio_spread": [min(a / d for d, a in pairs), max(a / d for d, a in pairs)]}


@contextlib.contextmanager
def _ops_answering(result):
    """he_tf.numpy's routes with every op replaced by one returning ``result`` at once: the adapter alone."""
    import he_tf.numpy as hnp

    saved = [(routes, dict(routes)) for routes in (hnp._UFUNCS, hnp._FUNCTIONS)]
    for routes, original in saved:
        routes.update({key: ((lambda *args: result), adapt) for key, (_, adapt) in original.items()})
    try:
        yield
    finally:
        for routes, original in saved:
            routes.update(original)


def adapter_alone_us(adapted, result) -> float:
    """Microseconds per call of the NumPy call with its op answering at once: the fastest of 5 repeats."""
    with _ops_answering(result):
        return 1e6 * min(timeit.repeat(adapted, number=2000, repeat=5)) / 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.15, help="per side and round")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if the adapter adds over {TARGET - 1:.0%}")
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    import he_tf
    import tensorflow as tf

    params = he_tf.Params()
    keys = he_tf.KeySet.generate(params)
    table = cases(keys, args.samples, args.features)
    rows = [{"call": name, **measure(direct, adapted, args.rounds, args.seconds)}
            for name, (direct, adapted) in table.items()]
    for row, (direct, adapted) in zip(rows, table.values()):
        row["adapter_us"] = adapter_alone_us(adapted, direct())
        row["adapter_share"] = row["adapter_us"] / (1e3 * row["direct_ms"])
    described = machine.describe({"he_tf": {"he_tf": he_tf.__version__, "tensorflow": tf.__version__}})
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": described, "params": repr(params),
              "shape": [args.samples, args.features], "layout": "batch", "target_share": TARGET - 1,
              "cases": rows}
    lines = [
        "# he_tf.numpy against the same he-tf ops called directly", "",
        f"{result['date']}; {described['cpu']}, {described['cpus']} CPUs; {described['os']}; "
        f"TensorFlow {tf.__version__}; commit {described['commit']}", "",
        f"An encrypted ({args.samples}, {args.features}) array, batch layout, `{params!r}`, eager. Each "
        f"of {args.rounds} rounds alternates the two calls for {args.seconds} s; milliseconds per call and "
        "the ratio are medians over the rounds (range: the rounds' lowest and highest ratio). Adapter "
        "alone: the NumPy call with its op answering at once (NumPy's dispatch, the lookup, the argument "
        "adaptation, the wrap), the fastest of 5 x 2000 calls; share: of the op's direct time. Target: "
        f"share <= {TARGET - 1:.0%}.", "",
        "| NumPy call | he-tf op direct ms | through he_tf.numpy ms | ratio | range | adapter alone us "
        "| share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ] + [f"| `{r['call']}` | {r['direct_ms']:.3f} | {r['numpy_ms']:.3f} | {r['ratio']:.3f}x | "
         f"{r['ratio_spread'][0]:.2f}-{r['ratio_spread'][1]:.2f} | {r['adapter_us']:.2f} | "
         f"{r['adapter_share']:.2%} |" for r in rows]
    result_files.write(ROOT / args.output_dir, "numpy_adapter", result, "\n".join(lines))
    over = [r["call"] for r in rows if 1 + r["adapter_share"] > TARGET]
    if args.check and over:
        print(f"over the {TARGET}x target: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
