"""What every harness shares: the key set its seeds were made with, the memory cap, running atheris.

A harness is a script ``python -m tests.fuzz.<name> [libFuzzer flags] [corpus folders]``. It defines
``one_input(data)``, which feeds the bytes to one loader and lets the documented exceptions pass;
anything else that escapes (another exception type, a signal, one input making the RSS peak more than
:data:`RSS_GROWTH_LIMIT_MB` over where it started, or the process passing libFuzzer's -rss_limit_mb)
is a crash for libFuzzer.
"""

from __future__ import annotations

import os
import random
import resource
import sys
from pathlib import Path
from typing import Callable

from tests.hostile.memory import peak_rss_mb, reset_peak_rss

FUZZ = Path(__file__).resolve().parent
CORPUS = FUZZ / "corpus"
KEYS = Path(os.environ.get("HE_TF_FUZZ_KEYS", CORPUS / "keys"))
RSS_GROWTH_LIMIT_MB = 200
# The share of mutations done by the harness's structure-aware mutator (the rest: libFuzzer's).
STRUCTURED = float(os.environ.get("HE_TF_FUZZ_STRUCTURED", "0.5"))
# libFuzzer's own caps, on top of the per-input check: the process's whole RSS (TensorFlow alone is
# about 650 MB, so this catches memory that grows across inputs), one allocation (enforced only
# where libFuzzer has malloc hooks), seconds per input.
LIBFUZZER_FLAGS = ["-rss_limit_mb=2048", "-malloc_limit_mb=512", "-timeout=60", "-max_len=262144"]


class MemoryLimitExceeded(Exception):
    """Raised (a crash) when one input made the process's RSS peak past the cap over where it started."""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class MemoryCap:
    """The peak RSS of one input over the RSS before it: the peak is reset before each input
    (``/proc/self/clear_refs``), so gradual growth across inputs is left to libFuzzer's -rss_limit_mb."""

    def __init__(self, limit_mb: float = RSS_GROWTH_LIMIT_MB) -> None:
        self.limit, self.before = limit_mb, 0.0

    def start(self) -> None:
        reset_peak_rss()
        self.before = rss_mb()

    def check(self) -> None:
        grown = peak_rss_mb() - self.before
        if grown > self.limit:
            raise MemoryLimitExceeded(f"peak RSS grew by {grown:.0f} MB (cap {self.limit} MB) on this input")


def refused(load: Callable[..., object], *args) -> bool:
    """Whether ``load(*args)`` (a ``_core`` loader: the code every adapter calls, without TensorFlow's
    per-call cost) refuses the bytes. Refused bytes stop there: the op would refuse them through the
    same code; accepted ones go on through the public API."""
    try:
        load(*args)
    except ValueError:
        return True
    return False


def load_keys(folder: Path = KEYS):
    """The committed key set (``a.pub`` / ``a.sec``) the seeds were made with."""
    import he_tf

    try:
        return he_tf.KeySet(
            he_tf.PublicContext.deserialize((folder / "a.pub").read_bytes()),
            he_tf.SecretKey.deserialize((folder / "a.sec").read_bytes()),
        )
    except (OSError, ValueError) as e:
        raise SystemExit(
            f"cannot load the fuzz key set in {folder} ({e}); the key format changed? "
            "regenerate the corpus: python -m tests.fuzz.make_corpus"
        ) from None


def main(make_harness: Callable[[], tuple[Callable[[bytes], None], Callable | None]]) -> None:
    """Runs libFuzzer (atheris) on the harness that ``make_harness()`` builds: ``(one_input, mutate)``.

    he_tf's Python modules are instrumented for coverage. Before fuzzing, the seeds named ``valid*``
    of the corpus folders on the command line run once (a warm-up: lazy initialisation is no input's
    memory).
    ``mutate(data, rng)`` is a structure-aware mutator used for a share :data:`STRUCTURED` of the
    mutations (``HE_TF_FUZZ_STRUCTURED``, default half); libFuzzer's byte-level mutator does the rest.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import atheris

    with atheris.instrument_imports(include=["he_tf"]):
        import he_tf  # noqa: F401
    one_input, mutate = make_harness()
    for folder in (Path(a) for a in sys.argv[1:] if not a.startswith("-")):
        for seed in sorted(folder.glob("valid*")) if folder.is_dir() else []:
            one_input(seed.read_bytes())
    cap = MemoryCap()

    def test_one_input(data: bytes) -> None:
        cap.start()
        one_input(data)
        cap.check()

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if mutate is not None and rng.random() < STRUCTURED:
            try:
                out = mutate(data, rng)
            except Exception:  # noqa: BLE001  (not structured enough to edit: mutate the bytes instead)
                out = data
            if rng.random() < 0.3:
                out = atheris.Mutate(out, max(max_size, len(out)))
            return out[:max_size]
        return atheris.Mutate(data, max_size)

    atheris.Setup(
        [sys.argv[0], *LIBFUZZER_FLAGS, *sys.argv[1:]], test_one_input, custom_mutator=custom_mutator
    )
    atheris.Fuzz()
