"""What he-tf's bounded, validating ciphertext loader costs over SEAL's own load, per ring.

Both run in one process of ``he_tf_seal_bench`` on the same bytes (SEAL's
default compression): ``deserialize`` is SEAL's ``Ciphertext::load``,
``deserialize_validated`` is ``he_tf::LoadValidated`` (csrc/core/seal_load.cc:
the SEAL header, the declared sizes against the parameters, decompression capped
at the exact size, the level, scale and NTT form, then SEAL's load of the checked
bytes). Rounds alternate the order of the two. Run from the repository root::

    python -m benchmarks.loader_checks      # about 30 s; writes benchmarks/results/loader_checks.{json,md}
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

from benchmarks import machine, result_files, seal_harness
from benchmarks.grid import DEFAULT_PARAMS
from benchmarks.servers import ROOT

OPS = ("deserialize", "deserialize_validated")


def measure(exe, ring: int, rounds: int, count: int, repeats: int) -> dict:
    p = DEFAULT_PARAMS[ring]
    token = f"{ring}:{','.join(map(str, p.coeff_mod_bit_sizes))}:{p.scale_bits}"
    samples = {op: [] for op in OPS}
    for r in range(rounds):
        order = OPS if r % 2 == 0 else OPS[::-1]
        done = subprocess.run([str(exe), f"--params={token}", f"--op={','.join(order)}", f"--count={count}",
                               f"--repeats={repeats}", "--threads=1"], check=True, capture_output=True, text=True)
        for op, result in json.loads(done.stdout)["results"].items():
            samples[op].append(result["median_s_per_ct"])
    seal_ms, checked_ms = (1e3 * min(samples[op]) for op in OPS)
    return {"params": token, "seal_load_ms": seal_ms, "validated_load_ms": checked_ms,
            "ratio": checked_ms / seal_ms, "ratio_median": statistics.median(
                a / b for a, b in zip(samples["deserialize_validated"], samples["deserialize"]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    exe = seal_harness.build()
    ready = subprocess.run([str(exe), "--serve", "--params=4096:40,29,40:29"], input="", capture_output=True,
                           text=True, timeout=60).stdout.splitlines()[0]
    described = machine.describe({"seal": json.loads(ready)})
    rows = [measure(exe, ring, args.rounds, count=64 * 8192 // ring, repeats=20) for ring in sorted(DEFAULT_PARAMS)]
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": described, "rings": rows}
    lines = [
        "# he-tf's validating ciphertext loader vs SEAL's load", "",
        f"{result['date']}; {described['cpu']}, {described['cpus']} CPUs; {described['os']}; "
        f"SEAL {described['versions'].get('seal')}; commit {described['commit']}", "",
        "Milliseconds per ciphertext, one thread, the fastest of "
        f"{args.rounds} alternating rounds (ratio: also the median of the per-round ratios).", "",
        "| parameters | SEAL load ms | he-tf validated load ms | ratio (fastest) | ratio (median) |",
        "|---|---:|---:|---:|---:|",
    ] + [f"| `{r['params']}` | {r['seal_load_ms']:.4f} | {r['validated_load_ms']:.4f} | {r['ratio']:.3f}x | "
         f"{r['ratio_median']:.3f}x |" for r in rows]
    result_files.write(ROOT / args.output_dir, "loader_checks", result, "\n".join(lines))  # absolute stays
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
