"""PNG plots of a suite result (needs matplotlib, from the bench extra)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.grid import LABELS  # noqa: E402

COLORS = {"seal": "#4c4c4c", "he-tf": "#1f77b4", "he-tf eager": "#8fbce6", "tenseal": "#d62728", "tf": "#2ca02c"}


def _times_ms(case: dict, impl: str) -> float | None:
    r = case["results"].get(impl)
    return r["s_per_ct"] * 1e3 if r else None


def ops_plot(result: dict, n: int, path: Path) -> Path:
    """Time per op and library at ring ``n``, log scale (ops span five orders of magnitude)."""
    cases = [c for c in result["cases"] if c["group"] == "grid" and c["n"] == n]
    libs = [lib for lib in COLORS if any(f"{lib}@1" in c["results"] for c in cases)]
    height = 0.8 / max(1, len(libs))
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(cases) + 1.5))
    for k, lib in enumerate(libs):
        ys, xs = [], []
        for i, c in enumerate(cases):
            t = _times_ms(c, f"{lib}@1")
            if t is not None:
                ys.append(i + (k - (len(libs) - 1) / 2) * height)
                xs.append(t)
        ax.barh(ys, xs, height=height, color=COLORS[lib], label=LABELS[lib])
    ax.set_yticks(range(len(cases)), [f"{c['op']} ({c['count']} ct)" for c in cases])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per input ciphertext (log scale), one thread")
    ax.grid(axis="x", which="both", alpha=0.3)
    # Above the axes: inside, it would cover the bars of the last ops.
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(libs), fontsize="small", frameon=False)
    ax.set_title(f"Time per op and library, N={n}", pad=36)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def count_plot(result: dict, path: Path) -> Path | None:
    """Time per ciphertext against ciphertexts per call, log-log."""
    cases = [c for c in result["cases"] if c["group"] == "count"]
    ops = sorted({c["op"] for c in cases}, key=[c["op"] for c in cases].index)
    if not ops:
        return None
    fig, axes = plt.subplots(1, len(ops), figsize=(5 * len(ops), 4), squeeze=False)
    for ax, op in zip(axes[0], ops):
        mine = [c for c in cases if c["op"] == op]
        for lib in ("seal", "he-tf", "tenseal"):
            points = [(c["count"], _times_ms(c, f"{lib}@1")) for c in mine]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                ax.plot(*zip(*points), marker="o", color=COLORS[lib], label=LABELS[lib])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("ciphertexts per call (log scale)")
        ax.set_ylabel("milliseconds per ciphertext (log scale)")
        ax.set_title(f"{op}, N={mine[0]['n']}, one thread")
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def threads_plot(result: dict, path: Path) -> Path | None:
    """Speedup of two threads over one, per op, for he-tf and raw SEAL."""
    cases = [c for c in result["cases"] if c["group"] == "grid" and "he-tf@2" in c["results"]]
    if not cases:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(cases) + 1.5))
    for k, lib in enumerate(("seal", "he-tf")):
        xs, ys = [], []
        for i, c in enumerate(cases):
            one, two = _times_ms(c, f"{lib}@1"), _times_ms(c, f"{lib}@2")
            if one and two:
                xs.append(one / two)
                ys.append(i + (k - 0.5) * 0.4)
        ax.barh(ys, xs, height=0.4, color=COLORS[lib], label=LABELS[lib])
    ax.axvline(2.0, color="black", linestyle="--", linewidth=1, label="ideal (2 cores)")
    ax.set_yticks(range(len(cases)), [f"{c['op']} N={c['n']} ({c['count']} ct)" for c in cases])
    ax.invert_yaxis()
    ax.set_xlabel("speedup with 2 threads (time with 1 thread / time with 2)")
    ax.set_title("Scaling with threads")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(result: dict, stem: Path) -> list[Path]:
    """Every plot of ``result`` as ``<stem>-<what>.png``; returns the files written."""
    paths = [ops_plot(result, n, Path(f"{stem}-ops-{n}.png"))
             for n in sorted({c["n"] for c in result["cases"] if c["group"] == "grid" and c["results"]})]
    paths.append(count_plot(result, Path(f"{stem}-count.png")))
    paths.append(threads_plot(result, Path(f"{stem}-threads.png")))
    return [p for p in paths if p is not None]


def cryptonets_plot(result: dict, path: Path) -> Path:
    """CryptoNets: images per second (log scale) and each phase's milliseconds per image."""
    measured = [("he-tf batch", result["he-tf"], COLORS["he-tf"])]
    if result.get("tenseal"):
        measured.append(("TenSEAL im2col", result["tenseal"], COLORS["tenseal"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [name for name, _, _ in measured] + ["nGraph-HE2\n(published)"]
    rates = [r["images_per_s"] for _, r, _ in measured] + [result["ngraph_he2"]["images_per_s"]]
    bars = left.bar(names, rates, color=[c for _, _, c in measured] + ["#bbbbbb"])
    bars[-1].set_hatch("//")
    left.set_yscale("log")
    left.set_ylabel("images per second (log scale)")
    left.set_title("Throughput, client encrypt to decrypt")
    for bar, rate in zip(bars, rates):
        label = f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"
        left.annotate(label, (bar.get_x() + bar.get_width() / 2, rate), ha="center", va="bottom", fontsize="small")
    phases = ["client encrypt", "server", "client decrypt"]
    width = 0.8 / len(measured)
    for k, (name, r, color) in enumerate(measured):
        ms = [r["seconds"][p] / r["images"] * 1e3 for p in phases]
        right.bar(np.arange(3) + (k - (len(measured) - 1) / 2) * width, ms, width, color=color, label=name)
    right.set_xticks(range(3), phases)
    right.set_yscale("log")
    right.set_ylabel("milliseconds per image (log scale)")
    right.set_title("Where the time goes")
    right.legend(fontsize="small", frameon=False)
    for ax in (left, right):
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def hybrid_networks_plot(result: dict, path: Path) -> Path:
    """ReLU networks on digits: milliseconds and kilobytes per image of each variant, at 397 images and
    at a full batch (log scales)."""
    runs = [("397 images", result["rows"])]
    if result.get("full_batch_rows"):
        runs.append((f"{result['config']['full_batch']} images", result["full_batch_rows"]))
    variants = [r["variant"].replace(": ", ":\n", 1) for r in result["rows"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(runs)
    for k, (name, rows) in enumerate(runs):
        offset = np.arange(len(rows)) + (k - (len(runs) - 1) / 2) * width
        left.bar(offset, [1e3 * r["online_seconds"] / r["samples"] for r in rows], width, label=name)
        right.bar(offset, [r["bytes_moved"] / r["samples"] / 1e3 for r in rows], width, label=name)
    for ax, label, title in ((left, "milliseconds per image (log scale)", "Online time"),
                             (right, "kilobytes per image between players (log scale)", "Traffic")):
        ax.set_xticks(range(len(variants)), variants, fontsize="x-small", rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_title(title)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
