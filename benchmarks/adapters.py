"""What the framework adapters (he_tf.numpy, he_tf.torch) add to he-tf's ops: each call against its ops.

Both sides run in this process, eagerly, on the same HETensor: ``he_tf.<op>(h, ...)`` against the
framework's call on the wrapped tensor (``he_tf.numpy.asarray(h)``, ``he_tf.torch.as_encrypted(h)``),
which routes to those same functions; torch's last case is a ``torch.nn.Sequential`` forward against its
ops in order. End to end, rounds of call pairs that alternate which goes first give the ratio of their
times. What the adapter adds is its own work (the framework's dispatch, one lookup, the argument
adaptation, the wrap; for a module ``nn.Module.__call__`` too): measured alone, with every op answering
at once, and as a share of the ops' time. The target: the adapter adds at most 5%. On a loaded machine
the end-to-end ratio spreads by more than that either way; the share does not. Run from the repository
root::

    python -m benchmarks.adapters            # about 80 s: benchmarks/results/adapters.{json,md}
    python -m benchmarks.adapters --check    # exit 1 if an adapter adds more than 5% to a call
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import time
import timeit
from typing import Callable

import numpy as np

from benchmarks import machine, result_files
from benchmarks.servers import ROOT

TARGET = 1.05


def numpy_cases(keys, samples: int, features: int) -> dict:
    """name: (the op called directly, the NumPy call that routes to it), on the same encrypted data."""
    import he_tf
    import he_tf.numpy as hnp

    rng = np.random.default_rng(0)
    h = he_tf.encrypt(keys.public, rng.normal(size=(samples, features)))
    x, w = hnp.asarray(h), rng.normal(size=(features, 4))
    row, p, shape = rng.normal(size=features), [0.5, 1.0, 0.25], (samples, 2, -1)
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


def torch_cases(keys, samples: int, features: int) -> dict:
    """name: (the ops called directly, the torch call that routes to them), on the same encrypted data."""
    import torch
    import torch.nn.functional as F

    import he_tf
    import he_tf.torch as ht

    rng = np.random.default_rng(0)
    h = he_tf.encrypt(keys.public, rng.normal(size=(samples, features)))
    x = ht.as_encrypted(h)
    row = torch.from_numpy(rng.normal(size=features))
    w = torch.from_numpy(rng.normal(size=(features, 4)))
    p, shape = [0.5, 1.0, 0.25], (samples, 2, -1)
    torch.manual_seed(0)
    linear = torch.nn.Linear(features, 4)
    module = torch.nn.Sequential(linear, ht.Square())
    weight, bias = linear.weight.detach().numpy(), linear.bias.detach().numpy()
    return {
        "x + x": (lambda: he_tf.add(h, h), lambda: x + x),
        "torch.sub(x, row)": (lambda: he_tf.subtract(h, row.numpy()), lambda: torch.sub(x, row)),
        "x * row": (lambda: he_tf.multiply(h, row.numpy()), lambda: x * row),
        "torch.square(x)": (lambda: he_tf.square(h), lambda: torch.square(x)),
        "x @ w": (lambda: he_tf.matmul(h, w.numpy()), lambda: x @ w),
        "torch.sum(x, 0)": (lambda: he_tf.reduce_sum(h, 0), lambda: torch.sum(x, 0)),
        "polyval(p, x)": (lambda: he_tf.polyval(p, h), lambda: ht.polyval(p, x)),
        "x.t()": (lambda: he_tf.transpose(h), lambda: x.t()),
        "x.reshape(...)": (lambda: he_tf.reshape(h, shape), lambda: x.reshape(shape)),
        "torch.cat(..., 1)": (lambda: he_tf.concat([h, h], 1), lambda: torch.cat([x, x], 1)),
        "F.linear(x, W, b)": (lambda: he_tf.add(he_tf.matmul(h, weight.T), bias),
                              lambda: F.linear(x, linear.weight, linear.bias)),
        "Sequential(Linear, Square)(x)": (lambda: he_tf.square(he_tf.add(he_tf.matmul(h, weight.T), bias)),
                                          lambda: module(x)),
    }


@contextlib.contextmanager
def numpy_ops_answering(result):
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


@contextlib.contextmanager
def torch_ops_answering(result):
    """Every ``he_tf.<op>`` (which he_tf.torch's adaptations call) replaced by one returning ``result``."""
    import torch

    import he_tf
    from he_tf import routing

    saved = {name: getattr(he_tf, name) for name in routing.FUNCTIONS}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch computes nothing here; its threads would only compete with TF's
    for name in saved:
        setattr(he_tf, name, lambda *args, **kwargs: result)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(he_tf, name, function)
        torch.set_num_threads(threads)


@dataclasses.dataclass(frozen=True)
class Framework:
    module: str  # the adapter
    cases: Callable
    ops_answering: Callable
    version: Callable[[], str]


FRAMEWORKS = {
    "numpy": Framework("he_tf.numpy", numpy_cases, numpy_ops_answering, lambda: np.__version__),
    "torch": Framework("he_tf.torch", torch_cases, torch_ops_answering,
                       lambda: __import__("torch").__version__),
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


def measure(framework: Framework, direct, adapted, rounds: int, seconds: float) -> dict:
    direct(), adapted()  # traced and warm
    pairs = [_round(direct, adapted, seconds) for _ in range(rounds)]
    with framework.ops_answering(direct()):
        alone_us = 1e6 * min(timeit.repeat(adapted, number=1000, repeat=5)) / 1000
    direct_ms = 1e3 * statistics.median(d for d, _ in pairs)
    return {"direct_ms": direct_ms, "adapter_ms": 1e3 * statistics.median(a for _, a in pairs),
            "ratio": statistics.median(a / d for d, a in pairs),
            "ratio_spread": [min(a / d for d, a in pairs), max(a / d for d, a in pairs)],
            "adapter_us": alone_us, "adapter_share": alone_us / (1e3 * direct_ms)}


def table(name: str, framework: Framework, rows: list[dict]) -> list[str]:
    return [
        f"## {framework.module} ({name} {framework.version()})", "",
        f"| {name} call | he-tf ops direct ms | through {framework.module} ms | ratio | range | adapter alone us "
        "| share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ] + [f"| `{r['call']}` | {r['direct_ms']:.3f} | {r['adapter_ms']:.3f} | {r['ratio']:.3f}x | "
         f"{r['ratio_spread'][0]:.2f}-{r['ratio_spread'][1]:.2f} | {r['adapter_us']:.2f} | "
         f"{r['adapter_share']:.2%} |" for r in rows] + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=sorted(FRAMEWORKS), action="append",
                        help="only these adapters (repeatable); all by default")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.15, help="per side and round")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if an adapter adds over {TARGET - 1:.0%}")
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    import tensorflow as tf

    import he_tf

    params = he_tf.Params()
    keys = he_tf.KeySet.generate(params)
    names = args.framework or sorted(FRAMEWORKS)
    results = {}
    for name in names:
        framework = FRAMEWORKS[name]
        results[name] = [{"call": call, **measure(framework, direct, adapted, args.rounds, args.seconds)}
                         for call, (direct, adapted) in framework.cases(keys, args.samples, args.features).items()]
    described = machine.describe({"he_tf": {"he_tf": he_tf.__version__, "tensorflow": tf.__version__,
                                            **{name: FRAMEWORKS[name].version() for name in names}}})
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": described, "params": repr(params),
              "shape": [args.samples, args.features], "layout": "batch", "target_share": TARGET - 1,
              "frameworks": results}
    lines = [
        "# Framework adapters against the same he-tf ops called directly", "",
        f"{result['date']}; {described['cpu']}, {described['cpus']} CPUs; {described['os']}; "
        f"TensorFlow {tf.__version__}; commit {described['commit']}", "",
        f"An encrypted ({args.samples}, {args.features}) tensor, batch layout, `{params!r}`, eager. Each "
        f"of {args.rounds} rounds alternates the two calls for {args.seconds} s; milliseconds per call and "
        "the ratio are medians over the rounds (range: the rounds' lowest and highest ratio). Adapter "
        "alone: the call with every op answering at once (the framework's dispatch, the lookup, the "
        "argument adaptation, the wrap; for the module also `nn.Module.__call__`), the fastest of "
        f"5 x 1000 calls; share: of the ops' direct time. Target: share <= {TARGET - 1:.0%}.", "",
    ]
    for name in names:
        lines += table(name, FRAMEWORKS[name], results[name])
    result_files.write(ROOT / args.output_dir, "adapters", result, "\n".join(lines).rstrip())
    over = [f"{name}: {r['call']}" for name in names for r in results[name] if 1 + r["adapter_share"] > TARGET]
    if args.check and over:
        print(f"over the {TARGET}x target: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
