"""The dealer's bytes with the plain dealer and the seeded dealer, measured in one run.

``python -m benchmarks.seeded_dealer``: the hybrid benchmark's two secret-sharing variants
(``hybrid_inference.measure``) and a secret-sharing matmul of two private 256 x 256 matrices, each under
``Dealer`` and ``SeededDealer``. The dealer's bytes are the transcript's bytes on the dealer's outgoing
edges (``Transcript.bytes_per_edge``: elements times dtype size); the ratio is seeded over plain, from the
same run. Writes ``benchmarks/results/seeded_dealer.{json,md}`` with the machine and versions.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

import he_tf
from benchmarks import hybrid_inference, machine, result_files
from he_tf.protocol import SecretSharing, recording
from he_tf.protocol.providers import Dealer, SeededDealer

PROVIDERS = {"Dealer": Dealer, "SeededDealer": SeededDealer}
MATMUL = 256


def matmul(provider) -> dict:
    """x @ w with x from the client, w from the server, both private; revealed to the client."""
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    rng = np.random.default_rng(0)
    x, w = rng.uniform(-1, 1, (MATMUL, MATMUL)), rng.uniform(-1, 1, (MATMUL, MATMUL))
    with recording() as transcript:
        start = time.perf_counter()
        with SecretSharing(players=("client", "server"), dealer="dealer", provider=provider()):
            xs = he_tf.define_private_input("client", lambda: x)
            ws = he_tf.define_private_input("server", lambda: w)
            got = he_tf.define_output("client", None, tf.matmul(xs, ws)).numpy()
        seconds = time.perf_counter() - start
    edges = transcript.bytes_per_edge(sender="dealer")
    return {"variant": f"SecretSharing matmul {MATMUL}x{MATMUL} @ {MATMUL}x{MATMUL}",
            "online_seconds": seconds, "dealer_bytes": sum(edges.values()),
            "dealer_edges": {f"{s}->{r}": n for (s, r), n in edges.items()},
            "max_abs_error": float(np.max(np.abs(got - x @ w)))}


def measure() -> dict:
    rows = {}
    for name, provider in PROVIDERS.items():
        for row in hybrid_inference.measure(provider, with_ckks=False) + [matmul(provider)]:
            rows.setdefault(row["variant"], {})[name] = row
    results = []
    for variant, by_provider in rows.items():
        plain, seeded = by_provider["Dealer"], by_provider["SeededDealer"]
        results.append({
            "variant": variant,
            "dealer_bytes": {name: r["dealer_bytes"] for name, r in by_provider.items()},
            "ratio": seeded["dealer_bytes"] / plain["dealer_bytes"],
            "online_seconds": {name: r["online_seconds"] for name, r in by_provider.items()},
            "error": {name: r.get("max_probability_error", r.get("max_abs_error"))
                      for name, r in by_provider.items()},
        })
    versions = {"he_tf": he_tf.__version__, "tensorflow": tf.__version__}
    return {"machine": machine.describe({"this process": versions}), "rows": results}


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Machine: {m['cpu']} ({m['cpus']} CPUs), {m['os']}; versions {m['versions']}; commit {m['commit']}.",
        "",
        "| variant | dealer bytes, Dealer | dealer bytes, SeededDealer | seeded / plain | online s (Dealer / "
        "Seeded) | max error vs plaintext (Dealer / Seeded) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        b, t, e = r["dealer_bytes"], r["online_seconds"], r["error"]
        lines.append(f"| {r['variant']} | {b['Dealer']:,} | {b['SeededDealer']:,} | {r['ratio']:.3f} | "
                     f"{t['Dealer']:.3f} / {t['SeededDealer']:.3f} | "
                     f"{e['Dealer']:.2e} / {e['SeededDealer']:.2e} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    return result_files.run("seeded_dealer", measure, markdown, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
