"""he-tf ops inside tf.function vs raw SEAL in a C++ loop, with 1 and 2 CPU threads.

Run from the repository root::

    python -m benchmarks.ops_vs_seal [--check]

Checks: with one thread, he-tf's seconds per ciphertext for add,
multiply_plain, multiply (relinearize + rescale) and rotate over a tensor of
64 ciphertexts are within 1.10x of raw SEAL doing the same work with the same
parameters; with two threads he-tf is >= 1.7x faster than with one. The
measuring is the suite's (``python -m benchmarks --profile ops-vs-seal``);
this entry point adds the verdicts and writes
benchmarks/results/ops_vs_seal.json. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks import suite
from benchmarks.report import MAX_SEAL_RATIO
from benchmarks.servers import ROOT

MIN_SPEEDUP = 1.7  # he-tf, two threads vs one


def verdicts(result: dict) -> dict:
    out = {}
    for case in result["cases"]:
        t = {impl: r["s_per_ct"] for impl, r in case["results"].items()}
        ratio, speedup = t["he-tf@1"] / t["seal@1"], t["he-tf@1"] / t["he-tf@2"]
        out[case["op"]] = {"ratio_hetf_over_seal_1t": ratio, "hetf_speedup_2t": speedup,
                           "seal_speedup_2t": t["seal@1"] / t["seal@2"], "ratio_pass": ratio <= MAX_SEAL_RATIO,
                           "speedup_pass": speedup >= MIN_SPEEDUP, "ms_per_ct": {k: v * 1e3 for k, v in t.items()}}
    return out


def table(verdict: dict) -> str:
    lines = [f"| op | raw SEAL ms/ct | he-tf ms/ct | he-tf / SEAL (<= {MAX_SEAL_RATIO:.2f}) "
             f"| he-tf 2-thread speedup (>= {MIN_SPEEDUP}) | SEAL 2-thread speedup |", "|---|---:|---:|---:|---:|---:|"]
    for op, v in verdict.items():
        ms = v["ms_per_ct"]
        lines.append(f"| {op} | {ms['seal@1']:.4f} | {ms['he-tf@1']:.4f} | {v['ratio_hetf_over_seal_1t']:.3f}x "
                     f"{'PASS' if v['ratio_pass'] else 'FAIL'} | {v['hetf_speedup_2t']:.2f}x "
                     f"{'PASS' if v['speedup_pass'] else 'FAIL'} | {v['seal_speedup_2t']:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ops_vs_seal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit with status 1 if any op fails")
    own, rest = parser.parse_known_args(argv)
    args = suite.parse_args(["--profile", "ops-vs-seal", "--libraries", "seal", "he-tf", *rest])
    args.libraries = tuple(args.libraries)
    result = suite.run(args)
    verdict = verdicts(result)
    print(table(verdict))
    output = ROOT / "benchmarks" / "results" / "ops_vs_seal.json"
    output.write_text(json.dumps({"requirement": {"max_ratio_1t": MAX_SEAL_RATIO, "min_speedup_2t": MIN_SPEEDUP},
                                  "verdicts": verdict, "result": result}, indent=1) + "\n")
    print(f"wrote {output.relative_to(ROOT)}", file=sys.stderr)
    failed = any(not (v["ratio_pass"] and v["speedup_pass"]) for v in verdict.values())
    return 1 if own.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
