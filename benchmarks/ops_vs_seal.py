"""he-tf ops inside tf.function vs raw SEAL in a C++ loop, with 1 and 2 CPU threads.

Run from the repository root::

    python -m benchmarks.ops_vs_seal

Checks: with one thread, he-tf's seconds per ciphertext for add,
multiply_plain, multiply (relinearize + rescale) and rotate over a tensor of
``--count`` (>= 64) ciphertexts are within 1.10x of raw SEAL doing the same
work with the same parameters; with two threads he-tf is >= 1.7x faster than
with one. Four processes (he-tf and SEAL, 1 and 2 threads) stay up and are
measured in turn, block by block, so that all four numbers for an op come
from the same minutes of the same run. Prints a Markdown table and writes
benchmarks/results/ops_vs_seal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import seal_harness

ROOT = Path(__file__).resolve().parent.parent
OPS = ("add", "multiply_plain", "multiply", "rotate")
MAX_RATIO = 1.10  # he-tf / SEAL, one thread
MIN_SPEEDUP = 1.7  # he-tf, two threads vs one


class Server:
    """A measuring process speaking the line protocol of ``he_tf_seal_bench --serve``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self._log = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(command, cwd=ROOT, env=env, text=True, bufsize=1, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log)
        self.info: dict = {}

    def _read(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            self._log.seek(0)
            tail = "".join(self._log.readlines()[-15:])
            raise RuntimeError(f"{self.name} exited (code {self._proc.wait()}):\n{tail}")
        return json.loads(line)

    def ready(self) -> dict:
        self.info = self._read()
        return self.info

    def measure(self, op: str, min_repeats: int, min_seconds: float) -> dict:
        self._proc.stdin.write(f"{op} {min_repeats} {min_seconds}\n")
        self._proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._log.close()


def start_servers(args: argparse.Namespace, exe: Path) -> dict[tuple[str, int], Server]:
    """he-tf (one process per thread count) and SEAL servers, the latter with he-tf's parameters."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    servers: dict[tuple[str, int], Server] = {}
    for threads in (1, 2):
        command = [sys.executable, "-m", "benchmarks.hetf_timing", f"--threads={threads}", f"--count={args.count}",
                   f"--warmup={args.warmup}", f"--step={args.step}"]
        if args.params:
            n, bits, scale = args.params
            command += [f"--poly-modulus-degree={n}", "--coeff-mod-bit-sizes", *bits.split(","), f"--scale-bits={scale}"]
        servers["he-tf", threads] = Server(f"he-tf ({threads} thread(s))", command, env)
    params = servers["he-tf", 1].ready()
    servers["he-tf", 2].ready()
    for threads in (1, 2):
        command = seal_harness.serve_command(exe, params, OPS, args.count, args.warmup, threads, args.step)
        servers["seal", threads] = Server(f"SEAL ({threads} thread(s))", command)
        servers["seal", threads].ready()
    return servers


def measure(args: argparse.Namespace, servers: dict[tuple[str, int], Server]) -> dict:
    """Per op and server: all samples, in ``--rounds`` interleaved blocks (order reversed every other round)."""
    order = [("seal", 1), ("he-tf", 1), ("seal", 2), ("he-tf", 2)]
    available = set(servers["he-tf", 1].info["ops"]) & set(servers["he-tf", 2].info["ops"])
    results: dict = {}
    for op in args.ops:
        per_server = {key: {"samples": [], "max_error": 0.0} for key in order}
        for round_index in range(args.rounds):
            for key in order if round_index % 2 == 0 else order[::-1]:
                if key[0] == "he-tf" and op not in available:
                    continue
                reply = servers[key].measure(op, args.repeats, args.block_seconds)
                per_server[key]["samples"] += reply["samples"]
                per_server[key]["max_error"] = max(per_server[key]["max_error"], reply["max_error"])
        results[op] = {
            f"{impl}_{threads}t": summarize(entry) for (impl, threads), entry in per_server.items() if entry["samples"]
        }
        if op not in available:
            results[op]["skipped"] = f"he-tf's op library has no he_{op} yet"
    return results


def summarize(entry: dict) -> dict:
    samples = entry["samples"]
    return {"median_s_per_ct": statistics.median(samples), "min_s_per_ct": min(samples), "samples": len(samples),
            "max_error": entry["max_error"]}


def verdicts(results: dict) -> None:
    """Adds ratio, speedups and PASS/FAIL to each op's results, from medians."""
    for r in results.values():
        med = {key: value["median_s_per_ct"] for key, value in r.items() if isinstance(value, dict)}
        if "seal_2t" in med:
            r["seal_speedup_2t"] = med["seal_1t"] / med["seal_2t"]
        if "he-tf_1t" not in med:
            continue
        r["ratio_hetf_over_seal_1t"] = med["he-tf_1t"] / med["seal_1t"]
        r["ratio_hetf_over_seal_2t"] = med["he-tf_2t"] / med["seal_2t"]
        r["hetf_speedup_2t"] = med["he-tf_1t"] / med["he-tf_2t"]
        r["ratio_pass"] = r["ratio_hetf_over_seal_1t"] <= MAX_RATIO
        r["speedup_pass"] = r["hetf_speedup_2t"] >= MIN_SPEEDUP


def table(results: dict) -> str:
    def ms(r: dict, key: str) -> str:
        return f"{r[key]['median_s_per_ct'] * 1e3:.4f}" if key in r else "-"

    lines = [
        f"| op | raw SEAL ms/ct (1 thread) | he-tf ms/ct (1 thread) | he-tf / SEAL | ratio <= {MAX_RATIO:.2f} "
        f"| he-tf 2-thread speedup | speedup >= {MIN_SPEEDUP} | SEAL 2-thread speedup |",
        "|---|---:|---:|---:|:---:|---:|:---:|---:|",
    ]
    for op, r in results.items():
        seal_speedup = f"{r['seal_speedup_2t']:.2f}x" if "seal_speedup_2t" in r else "-"
        if "skipped" in r:
            lines.append(f"| {op} | {ms(r, 'seal_1t')} | {r['skipped']} | - | - | - | - | {seal_speedup} |")
            continue
        lines.append(
            f"| {op} | {ms(r, 'seal_1t')} | {ms(r, 'he-tf_1t')} | {r['ratio_hetf_over_seal_1t']:.3f}x "
            f"| {'PASS' if r['ratio_pass'] else 'FAIL'} | {r['hetf_speedup_2t']:.2f}x "
            f"| {'PASS' if r['speedup_pass'] else 'FAIL'} | {seal_speedup} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ops_vs_seal", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    parser.add_argument("--count", type=int, default=64, help="ciphertexts per call (the requirement needs >= 64)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measuring blocks per op and process")
    parser.add_argument("--repeats", type=int, default=5, help="at least this many timed calls per block")
    parser.add_argument("--block-seconds", type=float, default=0.3, help="and at least this long per block")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before an op's first block")
    parser.add_argument("--step", type=int, default=1, help="rotation step")
    parser.add_argument("--params", nargs=3, metavar=("N", "BITS", "SCALE_BITS"),
                        help="e.g. 16384 60,40,40,40,60 40 (default: he_tf.Params())")
    parser.add_argument("--seal-bench", type=Path, help="a built he_tf_seal_bench (default: build it in --build-dir)")
    parser.add_argument("--build-dir", type=Path, default=seal_harness.DEFAULT_BUILD_DIR)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "ops_vs_seal.json")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if any measured op fails")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exe = args.seal_bench or seal_harness.build(args.build_dir)
    started = time.perf_counter()
    servers = start_servers(args, exe)
    try:
        results = measure(args, servers)
    finally:
        for server in servers.values():
            server.close()
    verdicts(results)
    info = servers["he-tf", 1].info
    print(f"\nhe-tf {info['he_tf']} (TensorFlow {info['tensorflow']}) vs SEAL 4.1 ({exe.name}); "
          f"N={info['poly_modulus_degree']}, primes {info['coeff_mod_bit_sizes']}, scale 2^{info['scale_bits']}; "
          f"{args.count} ciphertexts per call, medians of >= {args.rounds * args.repeats} calls; "
          f"{os.cpu_count()} CPUs; {time.perf_counter() - started:.0f} s\n")
    print(table(results))
    report = {
        "requirement": {"max_ratio_1t": MAX_RATIO, "min_speedup_2t": MIN_SPEEDUP},
        "config": {**{k: v for k, v in info.items() if k not in ("ready", "ops", "threads", "intra_op_threads",
                                                                 "inter_op_threads")},
                   "tf_threads": {f"{t}t": {"intra_op": servers["he-tf", t].info["intra_op_threads"],
                                            "inter_op": servers["he-tf", t].info["inter_op_threads"]} for t in (1, 2)},
                   "rounds": args.rounds, "repeats": args.repeats, "block_seconds": args.block_seconds,
                   "warmup": args.warmup, "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine()},
        "results": results,
    }
    output = args.output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    failed = any(r.get("ratio_pass") is False or r.get("speedup_pass") is False for r in results.values())
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
