"""The suite's Markdown report: flagged ops first, then the op table, scaling, sizes and memory."""

from __future__ import annotations

from benchmarks import compare
from benchmarks.grid import LABELS

MAX_SEAL_RATIO = 1.10  # he-tf / raw SEAL per ciphertext, batched, one thread
# Scaling cases count as batched from this many ciphertexts per call; below it a
# tf.function call's fixed cost (a few hundred microseconds) dominates.
BATCHED_COUNT = 8


def _ms(r: dict | None) -> str:
    return f"{r['s_per_ct'] * 1e3:.4g}" if r else "-"


def _ms_spread(r: dict | None) -> str:
    return f"{r['s_per_ct'] * 1e3:.4g} ±{r['spread'] * 100:.0f}%" if r else "-"


def _ratio(a: dict | None, b: dict | None) -> float | None:
    return a["s_per_ct"] / b["s_per_ct"] if a and b else None


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def flagged(result: dict) -> list[dict]:
    """Cases where he-tf (tf.function, one thread) is > 1.10x raw SEAL or slower than TenSEAL.

    Every grid case counts, and every scaling case of at least ``BATCHED_COUNT`` ciphertexts.
    """
    found = []
    for case in result["cases"]:
        if case["group"] != "grid" and case["count"] < BATCHED_COUNT:
            continue
        r = case["results"]
        hetf = r.get("he-tf@1")
        vs_seal, vs_tenseal = _ratio(hetf, r.get("seal@1")), _ratio(hetf, r.get("tenseal@1"))
        reasons = []
        if vs_seal is not None and vs_seal > MAX_SEAL_RATIO:
            reasons.append(f"{vs_seal:.2f}x raw SEAL")
        if vs_tenseal is not None and vs_tenseal > 1.0:
            reasons.append(f"{vs_tenseal:.2f}x TenSEAL")
        if reasons:
            found.append({"key": case["key"], "op": case["op"], "n": case["n"], "count": case["count"],
                          "vs_seal": vs_seal, "vs_tenseal": vs_tenseal, "reasons": reasons})
    return found


def _unavailable(case: dict, impl: str) -> str:
    reason = case["unavailable"].get(impl)
    return "n/a" if reason else "-"


def op_table(result: dict, n: int) -> list[str]:
    lines = [
        "| op | cts/call | raw SEAL ms/ct | he-tf ms/ct | he-tf / SEAL | he-tf eager ms/ct | TenSEAL ms/ct "
        "| he-tf / TenSEAL | plaintext TF ms/ct | he-tf 2-thread speedup | SEAL 2-thread speedup | he-tf max error |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in result["cases"]:
        if case["group"] != "grid" or case["n"] != n:
            continue
        r = case["results"]

        def cell(impl: str, spread: bool = False) -> str:
            if impl not in r:
                return _unavailable(case, impl)
            return _ms_spread(r[impl]) if spread else _ms(r[impl])

        hetf = r.get("he-tf@1")
        error = f"{hetf['max_error']:.1e}" if hetf else "-"
        lines.append(
            f"| {case['op']} | {case['count']} | {cell('seal@1', True)} | {cell('he-tf@1', True)} "
            f"| {_x(_ratio(hetf, r.get('seal@1')))} | {cell('he-tf eager@1')} | {cell('tenseal@1')} "
            f"| {_x(_ratio(hetf, r.get('tenseal@1')))} | {cell('tf@1')} "
            f"| {_x(_ratio(hetf, r.get('he-tf@2')))} | {_x(_ratio(r.get('seal@1'), r.get('seal@2')))} | {error} |"
        )
    return lines


def count_table(result: dict) -> list[str]:
    cases = [c for c in result["cases"] if c["group"] == "count"]
    if not cases:
        return []
    lines = ["| op | N | ciphertexts | raw SEAL ms/ct | he-tf ms/ct | he-tf / SEAL | TenSEAL ms/ct |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for c in cases:
        r = c["results"]
        lines.append(f"| {c['op']} | {c['n']} | {c['count']} | {_ms(r.get('seal@1'))} | {_ms(r.get('he-tf@1'))} "
                     f"| {_x(_ratio(r.get('he-tf@1'), r.get('seal@1')))} | {_ms(r.get('tenseal@1'))} |")
    return lines


def _mib(value: int | None) -> str:
    return f"{value / 2**20:.2f}" if value else "-"


def size_table(result: dict) -> list[str]:
    lines = ["| N | object | raw SEAL, uncompressed MiB | raw SEAL, compressed MiB | he-tf MiB | TenSEAL MiB |",
             "|---:|---|---:|---:|---:|---:|"]
    for n, s in result["sizes"].items():
        seal, hetf, tenseal = s.get("seal", {}), s.get("he-tf", {}), s.get("tenseal", {})
        compressed = next((m for m in ("zstd", "zlib") if m in seal.get("ciphertext", {})), None)
        rows = [("ciphertext", "ciphertext", "ciphertext"), ("ciphertext, secret-key encrypted (seeded)",
                                                              "ciphertext_seeded", "ciphertext_seeded"),
                ("public key (seeded)", "public_key_seeded", None), ("relinearization keys (seeded)",
                                                                     "relin_keys_seeded", None),
                ("Galois keys, power-of-two steps (seeded)", "galois_keys_seeded", None),
                ("public context: all the above keys", None, "public_context")]
        for label, seal_key, lib_key in rows:
            raw = seal.get(seal_key, {}) if seal_key else {}
            lines.append(f"| {n} | {label} | {_mib(raw.get('none'))} | {_mib(raw.get(compressed))} "
                         f"| {_mib(hetf.get(lib_key)) if lib_key else '-'} "
                         f"| {_mib(tenseal.get(lib_key)) if lib_key else '-'} |")
    return lines


def markdown(result: dict, plots: list[str], regressions: list[dict] | None = None) -> str:
    m, method = result["machine"], result["method"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    found = flagged(result)
    out = [
        f"# he-tf op benchmarks: {result['profile']} profile, {result['date']}",
        "",
        f"{m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, {m['os']}; {versions}; commit {m['commit']}. "
        f"Wall time {result['wall_seconds']:.0f} s. Each number is the {method['statistic']} of "
        f"{method['rounds']} interleaved blocks of >= {method['min_repeats']} calls and "
        f">= {method['block_seconds']} s, after {method['warmup']} warm-up call(s); ± is the interquartile "
        "range of all calls over their median. he-tf is timed inside `tf.function` unless marked eager; "
        "ratios use one thread.",
        "",
        f"## Slower than the targets (he-tf > {MAX_SEAL_RATIO:.2f}x raw SEAL, or slower than TenSEAL)",
        "",
    ]
    out += [f"- `{f['op']}` (N={f['n']}, {f['count']} ciphertexts): " + "; ".join(f["reasons"]) for f in found]
    out += ["- none"] if not found else []
    if regressions is not None:
        out += ["", "## Regressions against the compared result (> 10% slower)", ""]
        out += compare.lines(regressions) or ["- none"]
    for n in sorted({c["n"] for c in result["cases"] if c["group"] == "grid"}):
        params = next(c["params"] for c in result["cases"] if c["n"] == n)
        out += ["", f"## Ops at N={n}", "",
                f"Milliseconds per input ciphertext. Parameters `{params}` (N:primes:scale bits); ops that need "
                "more levels use a depth-matched chain at the same N (see the JSON). n/a: the library has no "
                "such op, or the ring allows no chain that deep.", ""]
        out += op_table(result, n)
    counts = count_table(result)
    if counts:
        out += ["", "## Scaling with the number of ciphertexts (one thread)", ""] + counts
    out += ["", "## Serialized sizes", ""] + size_table(result)
    peaks = result["peak_memory"]
    out += ["", f"## Peak memory (resident, per process; largest case `{peaks['largest_case']}`)", "",
            ", ".join(f"{LABELS.get(k.split('@')[0], k)} {k.split('@')[1]} thread(s): {v:.0f} MiB"
                      for k, v in sorted(peaks["mib"].items()))]
    if plots:
        out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(out) + "\n"
