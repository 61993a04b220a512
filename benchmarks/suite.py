"""The op-level benchmark suite: he-tf against raw SEAL, TenSEAL and plaintext TensorFlow.

Run from the repository root (after ``make install``; TenSEAL and matplotlib
from ``make bench-deps``)::

    python -m benchmarks                    # quick profile, under 5 minutes on 2 cores
    python -m benchmarks --profile full     # every ring, size and count
    python -m benchmarks --compare benchmarks/results/OLD.json

One process per library and thread count (TenSEAL embeds its own SEAL;
TensorFlow sizes its thread pools once), all started once and then measured
in turn, case by case, in interleaved blocks (order reversed every other
round), so all numbers of a case come from the same stretch of the same run.
Writes ``benchmarks/results/<date>-<profile>.{json,md}`` and PNG plots. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from benchmarks import compare, grid, machine, report, seal_harness
from benchmarks.servers import ROOT, Server, measure_block, peer_python
from benchmarks.summary import summarize

RESULTS = ROOT / "benchmarks" / "results"
SLOW_CALL_SECONDS = 0.3


def implementations(case: grid.Case, libraries: tuple[str, ...], threads: tuple[int, ...]) -> list[tuple[str, int]]:
    """(library, threads) pairs measured on ``case``; only he-tf and SEAL run with several threads."""
    if case.group == "count":
        return [(lib, 1) for lib in ("seal", "he-tf", "tenseal") if lib in libraries]
    pairs = []
    for lib in libraries:
        for t in threads if lib in ("seal", "he-tf") else (1,):
            pairs.append((lib, t))
    return pairs


def request(lib: str, case: grid.Case) -> str:
    """The request line's fields for ``lib`` (benchmarks/servers.py appends repeats and seconds)."""
    fields = f"{case.params.token} {case.op} {case.count}"
    mode = {"he-tf": "graph", "he-tf eager": "eager", "tf": "plain"}.get(lib)
    return f"{mode} {fields}" if mode else fields


def server_of(lib: str, threads: int) -> tuple[str, int]:
    return ("he-tf", threads) if lib in ("he-tf", "he-tf eager", "tf") else (lib, threads)


def start_servers(args: argparse.Namespace, exe: Path | None) -> dict[tuple[str, int], Server]:
    """Every process first, then their ready lines (TensorFlow and key set-up overlap)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    servers: dict[tuple[str, int], Server] = {}
    hetf_libs = {"he-tf", "he-tf eager", "tf"} & set(args.libraries)
    threads = args.threads
    for t in threads if hetf_libs else ():
        command = [sys.executable, "-m", "benchmarks.workers.hetf", f"--threads={t}", f"--warmup={args.warmup}"]
        servers["he-tf", t] = Server(f"he-tf ({t} thread(s))", command, env)
    if "tenseal" in args.libraries:
        command = [str(peer_python("tenseal")), "-m", "benchmarks.workers.tenseal_worker", f"--warmup={args.warmup}"]
        servers["tenseal", 1] = Server("TenSEAL", command, env)
    for t in threads if exe else ():
        servers["seal", t] = Server(f"SEAL ({t} thread(s))",
                                    [str(exe), "--serve", f"--threads={t}", f"--warmup={args.warmup}"])
    for server in servers.values():
        server.ready()
    return servers


def measure(args: argparse.Namespace, servers: dict[tuple[str, int], Server], cases: list[grid.Case]) -> list[dict]:
    results = []
    for index, case in enumerate(cases, 1):
        entry = {"key": case.key, "group": case.group, "op": case.op, "n": case.n, "count": case.count,
                 "params": case.params.token if case.params else None, "results": {}, "unavailable": {}}
        results.append(entry)
        impls = implementations(case, args.libraries, args.threads)
        if case.params is None:
            entry["unavailable"] = {f"{lib}@{t}": f"needs depth {grid.op_depth(case.op)}, more than N={case.n} allows "
                                    "at 128-bit security" for lib, t in impls}
            continue
        blocks: dict[str, list[dict]] = {f"{lib}@{t}": [] for lib, t in impls}
        started = time.perf_counter()
        for round_index in range(args.rounds):
            for lib, t in impls if round_index % 2 == 0 else impls[::-1]:
                name = f"{lib}@{t}"
                if name in entry["unavailable"]:
                    continue
                # One call per block once a call takes longer than a block: slow libraries still get
                # every round, in a bounded time.
                slow = blocks[name] and blocks[name][-1]["samples"][-1] * case.count > SLOW_CALL_SECONDS
                try:
                    blocks[name].append(measure_block(
                        servers[server_of(lib, t)], request(lib, case), 1 if slow else args.min_repeats,
                        args.block_seconds, args.max_foreign_cpu, args.retries, args.quiet_wait))
                except RuntimeError as e:  # the library lacks the op (or failed on it): recorded, not fatal
                    entry["unavailable"][name] = str(e).split(": ", 1)[-1]
        entry["results"] = {name: summarize(b) for name, b in blocks.items() if b}
        times = ", ".join(f"{name} {r['s_per_ct'] * 1e3:.3f}" for name, r in entry["results"].items())
        print(f"[{index}/{len(cases)}] {case.key}: {times} ms/ct ({time.perf_counter() - started:.1f} s)",
              file=sys.stderr)
    return results


def sizes(servers: dict[tuple[str, int], Server], ns: tuple[int, ...]) -> dict:
    """Serialized sizes per ring (default chain): raw SEAL per compression mode, he-tf and TenSEAL as shipped."""
    out: dict = {}
    for n in ns:
        token = grid.DEFAULT_PARAMS[n].token
        out[str(n)] = {"params": token}
        for lib in ("seal", "he-tf", "tenseal"):
            server = servers.get((lib, 1))
            if server is not None:
                out[str(n)][lib] = server.query(f"sizes {token}")["sizes"]
    return out


def peak_memory(servers: dict[tuple[str, int], Server], results: list[dict]) -> dict:
    """Peak resident memory of each process; cases run smallest first, so it is set by the largest case."""
    largest = max((r for r in results if r["results"]), key=lambda r: (r["n"], r["count"]), default=None)
    peaks: dict = {"largest_case": largest["key"] if largest else None, "mib": {}}
    for r in results:
        for name, value in r["results"].items():
            peaks["mib"][name] = max(peaks["mib"].get(name, 0.0), round(value["max_rss_kb"] / 1024, 1))
    return peaks


def output_paths(args: argparse.Namespace) -> Path:
    stem = f"{datetime.date.today().isoformat()}-{args.profile}"
    return (args.output_dir / stem).resolve()


def run(args: argparse.Namespace) -> dict:
    profile = grid.PROFILES[args.profile]
    for name in ("rounds", "min_repeats", "block_seconds"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(profile, name))
    args.threads = tuple(args.threads or profile.threads)
    cases = profile.cases()
    if args.ops:
        cases = [c for c in cases if c.op.split(":")[0] in args.ops]
    exe = None
    if "seal" in args.libraries:
        exe = args.seal_bench or seal_harness.build(args.build_dir)
    started = time.perf_counter()
    servers: dict[tuple[str, int], Server] = {}
    try:
        servers = start_servers(args, exe)
        results = measure(args, servers, cases)
        size_table = sizes(servers, profile.ns)
    finally:
        for server in servers.values():
            server.close()
    return {
        "profile": args.profile,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "machine": machine.describe({f"{k[0]}@{k[1]}": s.info for k, s in servers.items()}),
        "method": {"rounds": args.rounds, "min_repeats": args.min_repeats, "block_seconds": args.block_seconds,
                   "warmup": args.warmup, "threads": list(args.threads), "libraries": list(args.libraries),
                   "statistic": "median call of the fastest block, seconds per input ciphertext",
                   "max_foreign_cpu": args.max_foreign_cpu},
        "cases": results,
        "sizes": size_table,
        "peak_memory": peak_memory(servers, results),
    }


def default_libraries() -> tuple[str, ...]:
    """Every library that is installed: TenSEAL is optional (its own venv, ``make peer-venvs``)."""
    libs = tuple(grid.LIBRARIES)
    return libs if peer_python("tenseal").exists() else tuple(lib for lib in libs if lib != "tenseal")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    add("--profile", choices=list(grid.PROFILES), default="quick")
    add("--libraries", nargs="+", choices=grid.LIBRARIES, default=default_libraries())
    add("--ops", nargs="+", help="only these ops (names without sizes, e.g. multiply matmul_vector)")
    add("--threads", type=int, nargs="+", help="thread counts for he-tf and SEAL (default: the profile's)")
    add("--rounds", type=int, help="interleaved blocks per case and implementation (default: the profile's)")
    add("--min-repeats", type=int, help="timed calls per block, at least (default: the profile's)")
    add("--block-seconds", type=float, help="and seconds per block, at least (default: the profile's)")
    add("--warmup", type=int, default=1, help="untimed calls before a case's first block")
    add("--max-foreign-cpu", type=float, default=0.25,
        help="re-measure a block while other processes used more CPUs than this (Linux)")
    add("--retries", type=int, default=1, help="re-measurements of a disturbed block")
    add("--quiet-wait", type=float, default=0.5, help="before re-measuring, wait up to this long for quiet")
    add("--seal-bench", type=Path, help="a built he_tf_seal_bench (default: build one in --build-dir)")
    add("--build-dir", type=Path, default=seal_harness.DEFAULT_BUILD_DIR)
    add("--output-dir", type=Path, default=RESULTS)
    add("--no-plots", action="store_true", help="skip the PNGs (they need matplotlib)")
    add("--compare", type=Path, metavar="OLD.json", help="flag cases more than 10%% slower than in OLD.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.libraries = tuple(args.libraries)
    result = run(args)
    stem = output_paths(args)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = [stem.with_suffix(".json")]
    written[0].write_text(json.dumps(result, indent=1) + "\n")
    regressions = compare.regressions(json.loads(args.compare.read_text()), result) if args.compare else None
    if not args.no_plots and importlib.util.find_spec("matplotlib"):
        from benchmarks import plots

        written += plots.write_all(result, stem)
    markdown = report.markdown(result, [p.name for p in written if p.suffix == ".png"], regressions)
    written.append(stem.with_suffix(".md"))
    written[-1].write_text(markdown)
    print(markdown)
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=sys.stderr)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
