"""Measuring processes of the benchmark suite, one library and thread count each (see benchmarks/servers.py)."""
