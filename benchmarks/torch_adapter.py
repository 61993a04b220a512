"""What he_tf.torch adds to he-tf's ops: each bound torch call against the ops called directly.

Both sides run in this process, eagerly, on the same HETensor: ``he_tf.<op>(h, ...)`` against the torch
call on ``he_tf.torch.as_encrypted(h)``, which routes to that same function; the last case is a
``torch.nn.Sequential`` forward against its ops in order. End to end, rounds of call pairs that alternate
which goes first give the ratio of their times (as in ``benchmarks.numpy_adapter``). What the adapter adds
is its own work (torch's ``__torch_function__`` dispatch, one lookup, the argument adaptation, the wrap;
for the module, ``nn.Module.__call__`` too): measured alone, with every ``he_tf.<op>`` answering at once,
and as a share of the ops' time. The target: the adapter adds at most 5%. Run from the repository root::

    python -m benchmarks.torch_adapter            # about 40 s: benchmarks/results/torch_adapter.{json,md}
    python -m benchmarks.torch_adapter --check    # exit 1 if the adapter adds more than 5% to a call
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import timeit

import numpy as np

from benchmarks import machine, result_files
from benchmarks.numpy_adapter import _round
from benchmarks.servers import ROOT

TARGET = 1.05


def cases(keys, samples: int, features: int) -> dict:
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


def measure(direct, adapted, rounds: int, seconds: float) -> dict:
    direct(), adapted()  # warm
    pairs = [_round(direct, adapted, seconds) for _ in range(rounds)]
    return {"direct_ms": 1e3 * statistics.median(d for d, _ in pairs),
            "torch_ms": 1e3 * statistics.median(a for _, a in pairs),
            "ratio": statistics.median(a / d for d, a in pairs),
            "ratio_spread": [min(a / d for d, a in pairs), max(a / d for d, a in pairs)]}


@contextlib.contextmanager
def _ops_answering(result):
    """Every ``he_tf.<op>`` (which he_tf.torch's adaptations call) replaced by one returning ``result``."""
    import he_tf
    from he_tf import routing

    saved = {name: getattr(he_tf, name) for name in routing.FUNCTIONS}
    for name in saved:
        setattr(he_tf, name, lambda *args, **kwargs: result)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(he_tf, name, function)


def adapter_alone_us(adapted, result) -> float:
    """Microseconds per call of the torch call with its ops answering at once: the fastest of 5 repeats."""
    with _ops_answering(result):
        return 1e6 * min(timeit.repeat(adapted, number=1000, repeat=5)) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.15, help="per side and round")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if the adapter adds over {TARGET - 1:.0%}")
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    import tensorflow as tf
    import torch

    import he_tf

    torch.set_num_threads(1)  # torch computes nothing here; its threads would only compete with TF's
    params = he_tf.Params()
    keys = he_tf.KeySet.generate(params)
    table = cases(keys, args.samples, args.features)
    rows = [{"call": name, **measure(direct, adapted, args.rounds, args.seconds)}
            for name, (direct, adapted) in table.items()]
    for row, (direct, adapted) in zip(rows, table.values()):
        row["adapter_us"] = adapter_alone_us(adapted, direct())
        row["adapter_share"] = row["adapter_us"] / (1e3 * row["direct_ms"])
    versions = {"he_tf": he_tf.__version__, "tensorflow": tf.__version__, "torch": torch.__version__}
    described = machine.describe({"he_tf": versions})
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": described, "params": repr(params),
              "shape": [args.samples, args.features], "layout": "batch", "target_share": TARGET - 1,
              "cases": rows}
    lines = [
        "# he_tf.torch against the same he-tf ops called directly", "",
        f"{result['date']}; {described['cpu']}, {described['cpus']} CPUs; {described['os']}; "
        f"TensorFlow {tf.__version__}, torch {torch.__version__}; commit {described['commit']}", "",
        f"An encrypted ({args.samples}, {args.features}) tensor, batch layout, `{params!r}`, eager. Each "
        f"of {args.rounds} rounds alternates the two calls for {args.seconds} s; milliseconds per call and "
        "the ratio are medians over the rounds (range: the rounds' lowest and highest ratio). Adapter "
        "alone: the torch call with every he-tf op answering at once (torch's `__torch_function__` "
        "dispatch, the lookup, the argument adaptation, the wrap; for the module also "
        "`nn.Module.__call__`), the fastest of 5 x 1000 calls; share: of the ops' direct time. Target: "
        f"share <= {TARGET - 1:.0%}.", "",
        "| torch call | he-tf ops direct ms | through he_tf.torch ms | ratio | range | adapter alone us "
        "| share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ] + [f"| `{r['call']}` | {r['direct_ms']:.3f} | {r['torch_ms']:.3f} | {r['ratio']:.3f}x | "
         f"{r['ratio_spread'][0]:.2f}-{r['ratio_spread'][1]:.2f} | {r['adapter_us']:.2f} | "
         f"{r['adapter_share']:.2%} |" for r in rows]
    result_files.write(ROOT / args.output_dir, "torch_adapter", result, "\n".join(lines))
    over = [r["call"] for r in rows if 1 + r["adapter_share"] > TARGET]
    if args.check and over:
        print(f"over the {TARGET}x target: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
