"""``python -m benchmarks``: the op-level benchmark suite (benchmarks/suite.py)."""

import sys

from benchmarks.suite import main

sys.exit(main())
