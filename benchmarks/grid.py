"""The benchmark grid: parameter sets, ops, ciphertext counts, libraries and thread counts per profile."""

from __future__ import annotations

import dataclasses
import math

from benchmarks.workers.inputs import ParamSet, parse_op

# The HE standard's largest total modulus bits for 128-bit security (as he_tf.Params enforces).
MAX_MODULUS_BITS = {4096: 109, 8192: 218, 16384: 438}
# Default chains: the usual ones for each ring (he_tf.Params() for 8192).
DEFAULT_PARAMS = {
    4096: ParamSet(4096, (40, 29, 40), 29),  # scale 2^29: key-switching noise stays below 1e-3
    8192: ParamSet(8192, (60, 40, 40, 60), 40),
    16384: ParamSet(16384, (60, 40, 40, 40, 40, 60), 40),
}

# Implementations: (library, threads). "he-tf" is he-tf inside tf.function,
# "he-tf eager" the same ops called eagerly, "tf" plaintext TensorFlow.
LIBRARIES = ("seal", "he-tf", "he-tf eager", "tenseal", "tf")
LABELS = {"seal": "raw SEAL (C++)", "he-tf": "he-tf (tf.function)", "he-tf eager": "he-tf (eager)",
          "tenseal": "TenSEAL", "tf": "plaintext TF"}


def op_depth(op_token: str) -> int:
    """Rescales the op needs from a fresh ciphertext."""
    op, a, _ = parse_op(op_token)
    if op == "polyval":
        return math.ceil(math.log2(a)) + 1 if a > 1 else 1
    if op == "dot":
        return 2  # the product, then the mask that clears the slot sum's partial sums
    return 1 if op in ("multiply_plain", "multiply", "square", "sum_slots", "matmul_batch", "matmul_vector") else 0


def params_for(n: int, depth: int) -> ParamSet | None:
    """The default chain of ring ``n`` if deep enough, else a depth-matched chain: the largest scale
    (40 down to 20 bits) whose ``[scale + 20] + [scale] * depth + [scale + 20]`` fits 128-bit security."""
    default = DEFAULT_PARAMS[n]
    if default.depth >= depth:
        return default
    for scale in range(40, 19, -1):
        bits = (scale + 20,) + (scale,) * depth + (scale + 20,)
        if sum(bits) <= MAX_MODULUS_BITS[n]:
            return ParamSet(n, bits, scale)
    return None


@dataclasses.dataclass(frozen=True)
class Case:
    """One op at one size; ``group`` is "grid" (the op table) or "count" (scaling with ciphertexts)."""

    op: str
    n: int
    count: int
    group: str = "grid"

    @property
    def params(self) -> ParamSet | None:
        return params_for(self.n, op_depth(self.op))

    @property
    def key(self) -> str:
        return f"{self.group}/{self.n}/{self.op}/{self.count}"

    @property
    def ciphertexts(self) -> int:
        """Input ciphertexts per call (what times are divided by)."""
        return self.count


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    ns: tuple[int, ...]
    ops: tuple[tuple[str, int], ...]  # (op, ciphertexts per call at N=8192)
    scaling_ops: tuple[str, ...]
    scaling_counts: tuple[int, ...]
    scaling_n: int
    threads: tuple[int, ...]
    rounds: int
    min_repeats: int
    block_seconds: float

    def count_at(self, op: str, count: int, n: int) -> int:
        """Fewer ciphertexts on the larger ring (each costs about twice as much); batch matmuls keep theirs."""
        if parse_op(op)[0] == "matmul_batch":
            return parse_op(op)[1]
        return max(1, count * 8192 // n) if n > 8192 else count

    def cases(self) -> list[Case]:
        """Smallest ring first and, within a ring, the largest count last: the peak memory of the
        measuring processes at the end is the largest case's."""
        grid = [Case(op, n, self.count_at(op, c, n)) for n in self.ns for op, c in self.ops]
        scaling = [Case(op, self.scaling_n, c, "count") for op in self.scaling_ops for c in self.scaling_counts]
        return sorted(grid + scaling, key=lambda c: (c.n, c.count * (2 ** op_depth(c.op))))


# Ciphertexts per call at N=8192: about 0.1-0.2 s per call with one thread, so that the quick profile
# stays under 5 minutes on 2 cores; tf.function's fixed cost per call is < 1% of that except for add.
_OPS_QUICK = (
    ("encode", 64), ("encrypt_public", 32), ("encrypt_secret", 8), ("decrypt", 64), ("add", 64),
    ("add_plain", 64), ("multiply_plain", 64), ("multiply", 32), ("square", 32), ("rotate:1", 32),
    ("sum_slots", 4), ("dot", 4), ("matmul_batch:16x16", 16), ("matmul_batch:64x64", 64),
    ("matmul_vector:8x8", 2), ("matmul_vector:32x32", 1), ("polyval:3", 4), ("polyval:7", 4),
    ("serialize", 4), ("deserialize", 64),
)
_OPS_FULL = _OPS_QUICK + (("matmul_batch:256x256", 256), ("matmul_vector:64x64", 2), ("matmul_vector:128x128", 1))

PROFILES = {
    "quick": Profile("quick", (8192,), _OPS_QUICK, ("add", "multiply"), (1, 8, 64, 256), 8192, (1, 2),
                     rounds=2, min_repeats=2, block_seconds=0.15),
    "full": Profile("full", (4096, 8192, 16384), _OPS_FULL, ("add", "multiply_plain", "multiply", "rotate:1"),
                    (1, 4, 16, 64, 256), 8192, (1, 2), rounds=5, min_repeats=3, block_seconds=0.5),
    # The he-tf vs SEAL requirement (benchmarks/ops_vs_seal.py): four ops, 64 ciphertexts, 1 and 2 threads.
    "ops-vs-seal": Profile("ops-vs-seal", (8192,), (("add", 64), ("multiply_plain", 64), ("multiply", 64),
                                                     ("rotate:1", 64)),
                           (), (), 8192, (1, 2), rounds=5, min_repeats=3, block_seconds=0.25),
    # For the suite's own test: seconds, not minutes.
    "tiny": Profile("tiny", (4096,), (("add", 2), ("multiply", 2), ("rotate:1", 2), ("matmul_vector:4x4", 2),
                                      ("polyval:3", 2), ("serialize", 2)),
                    ("add",), (1, 2), 4096, (1,), rounds=1, min_repeats=1, block_seconds=0.0),
}
