"""Turning measured blocks into per-case numbers: fastest-block median, median, spread."""

from __future__ import annotations

import statistics


def summarize(blocks: list[dict]) -> dict:
    """Seconds per ciphertext of one implementation on one case.

    ``s_per_ct`` is the median call of the fastest block: other load on the
    machine only ever adds time, so the fastest block is the least disturbed
    (the same rule for every implementation). ``spread`` is the interquartile
    range of all calls over their median.
    """
    samples = sorted(s for b in blocks for s in b["samples"])
    medians = [statistics.median(b["samples"]) for b in blocks]
    median = statistics.median(samples)
    q1, q3 = (statistics.quantiles(samples, n=4)[i] for i in (0, 2)) if len(samples) > 1 else (median, median)
    return {
        "s_per_ct": min(medians),
        "median_s_per_ct": median,
        "min_s_per_ct": samples[0],
        "spread": (q3 - q1) / median if median else 0.0,
        "calls": len(samples),
        "max_error": max(b["max_error"] for b in blocks),
        "block_medians": medians,
        "foreign_cpu": [round(b["foreign_cpu"], 3) for b in blocks],
        "max_rss_kb": max(b.get("max_rss_kb", 0) for b in blocks),
    }
