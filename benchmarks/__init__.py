"""he-tf benchmarks; run them from the repository root, e.g. ``python -m benchmarks.ops_vs_seal``."""
