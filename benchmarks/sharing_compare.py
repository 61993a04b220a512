"""Rounds and bytes of secret sharing's exact comparisons, counted from the transcript in one run.

``python -m benchmarks.sharing_compare``: each op (greater, less, relu, maximum, reduce_max, argmax, a 2x2
max pooling) and, as the baseline, one Beaver product of two private values, on private inputs of two
players, under ``Dealer`` and ``SeededDealer``. Only the op is recorded (inputs are shared before, the
result revealed after). From the transcript (``Transcript.bytes_per_edge``: elements times dtype size):

- rounds: the exchanges of masked values between the two players (two entries, one each way, per
  exchange); each depends on the one before, so they are sequential rounds;
- online bytes: both directions between the players; dealer bytes: from the dealer to both players;
  both per element of the input (of each operand, for two private operands).

Every result is checked against NumPy for equality (inputs on the fixed-point grid). Times are eager
(the median of 3 runs after the recorded one), in one process, and given as a ratio to the product
measured in the same run. Writes ``benchmarks/results/sharing_compare.{json,md}`` with the machine and
versions.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

import he_tf
from benchmarks import machine, result_files
from he_tf.protocol import SecretSharing, recording
from he_tf.protocol.providers import Dealer, SeededDealer

PROVIDERS = {"Dealer": Dealer, "SeededDealer": SeededDealer}
PLAYERS = ("alice", "bob")
REPEATS = 3


def _pool(ss, x, _):
    b, h, w, c = x.shape
    return ss.reduce_max(ss.reshape(x, [b, h // 2, 2, w // 2, 2, c]), [2, 4])


# name, the input shape, ss op on (x, y), NumPy reference on (x, y); y is a second private input.
WORKLOADS = (
    ("multiply (baseline)", (32, 32), lambda ss, x, y: ss.multiply(x, y, truncate=False),
     lambda x, y: x * y),
    ("greater(x, y)", (32, 32), lambda ss, x, y: ss.greater(x, y), lambda x, y: x > y),
    ("greater(x, 0)", (32, 32), lambda ss, x, y: ss.greater(x, 0.0), lambda x, y: x > 0),
    ("less(x, y)", (32, 32), lambda ss, x, y: ss.less(x, y), lambda x, y: x < y),
    ("relu(x)", (32, 32), lambda ss, x, y: ss.relu(x), lambda x, y: np.maximum(x, 0)),
    ("maximum(x, y)", (32, 32), lambda ss, x, y: ss.maximum(x, y), lambda x, y: np.maximum(x, y)),
    ("maximum(x, 0.5)", (32, 32), lambda ss, x, y: ss.maximum(x, 0.5), lambda x, y: np.maximum(x, 0.5)),
    ("reduce_max over 4", (256, 4), lambda ss, x, y: ss.reduce_max(x, 1), lambda x, y: x.max(1)),
    ("reduce_max over 16", (64, 16), lambda ss, x, y: ss.reduce_max(x, 1), lambda x, y: x.max(1)),
    ("argmax over 10 (index)", (100, 10), lambda ss, x, y: ss.argmax(x, 1), lambda x, y: x.argmax(1)),
    ("argmax over 10 (one-hot)", (100, 10), lambda ss, x, y: ss.argmax(x, 1, one_hot=True),
     lambda x, y: np.eye(10)[x.argmax(1)]),
    ("max pooling 2x2 on (4, 8, 8, 8)", (4, 8, 8, 8), _pool,
     lambda x, y: x.reshape(4, 4, 2, 4, 2, 8).max(axis=(2, 4))),
)


def measure_one(provider, name: str, shape, op, reference) -> dict:
    he_tf.set_config(he_tf.LocalConfig([*PLAYERS, "dealer", "client"]))
    rng = np.random.default_rng(0)
    x, y = rng.integers(-2**12, 2**12, shape) / 64.0, rng.integers(-2**12, 2**12, shape) / 64.0
    ss = SecretSharing(players=PLAYERS, dealer="dealer", provider=provider())
    xs, ys = ss.define_private_input("client", lambda: x), ss.define_private_input("bob", lambda: y)
    with recording() as transcript:
        result = op(ss, xs, ys)
    seconds = []
    for _ in range(REPEATS):  # the same op again, unrecorded: its time (the first run warms up)
        start = time.perf_counter()
        op(ss, xs, ys).share0.numpy()
        seconds.append(time.perf_counter() - start)
    seconds = float(np.median(seconds))
    got = ss.reveal(result, "client").numpy()
    want = np.asarray(reference(x, y), np.float64)
    exchanges = {e.label.rsplit("[masked share", 1)[0] for e in transcript if e.kind == "masked"}
    edges = transcript.bytes_per_edge()
    online = sum(n for (s, r), n in edges.items() if {s, r} == set(PLAYERS))
    dealer = sum(n for (s, _), n in edges.items() if s == "dealer")
    elements = int(np.prod(shape))
    return {"op": name, "shape": list(shape), "elements": elements, "rounds": len(exchanges),
            "online_bytes": online, "dealer_bytes": dealer, "online_bytes_per_element": online / elements,
            "dealer_bytes_per_element": dealer / elements, "seconds": seconds,
            "exact": bool(got.shape == want.shape and np.array_equal(got, want))}


def measure() -> dict:
    rows = []
    for provider_name, provider in PROVIDERS.items():
        for name, shape, op, reference in WORKLOADS:
            row = measure_one(provider, name, shape, op, reference)
            row["provider"] = provider_name
            rows.append(row)
        baseline = next(r for r in rows if r["provider"] == provider_name and r["op"] == WORKLOADS[0][0])
        for r in rows:
            if r["provider"] == provider_name:
                r["seconds_over_multiply"] = r["seconds"] / baseline["seconds"]
    versions = {"he_tf": he_tf.__version__, "tensorflow": tf.__version__}
    return {"machine": machine.describe({"this process": versions}), "rows": rows}


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Machine: {m['cpu']} ({m['cpus']} CPUs), {m['os']}; versions {m['versions']}; commit {m['commit']}.",
        "Bytes per element of the input (of each operand when both are private); rounds are sequential "
        "exchanges between the players; eager seconds as a ratio to one private product of the same size "
        "in the same run.",
        "",
        "| provider | op | input shape | rounds | online bytes / element | dealer bytes / element | "
        "seconds | / multiply | exact |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['provider']} | {r['op']} | {tuple(r['shape'])} | {r['rounds']} | "
                     f"{r['online_bytes_per_element']:.1f} | {r['dealer_bytes_per_element']:.1f} | "
                     f"{r['seconds']:.3f} | {r['seconds_over_multiply']:.1f} | "
                     f"{'yes' if r['exact'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    return result_files.run("sharing_compare", measure, markdown, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
