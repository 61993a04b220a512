"""Inputs and expected results shared by the Python workers, matching csrc/bench/workload.cc."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True)
class ParamSet:
    """CKKS parameters in the request token form ``N:bits,...:scale_bits``."""

    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int

    @classmethod
    def parse(cls, token: str) -> ParamSet:
        n, bits, scale = token.split(":")
        return cls(int(n), tuple(int(b) for b in bits.split(",")), int(scale))

    @property
    def token(self) -> str:
        return f"{self.poly_modulus_degree}:{','.join(map(str, self.coeff_mod_bit_sizes))}:{self.scale_bits}"

    @property
    def slots(self) -> int:
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        return len(self.coeff_mod_bit_sizes) - 2


def parse_op(token: str) -> tuple[str, int, int]:
    """``name[:a[xb]]`` -> (name, a, b) with the harness's defaults (rotate by 1, degree 3, square matrices)."""
    name, _, args = token.partition(":")
    parts = [int(p) for p in args.split("x")] if args else []
    a = parts[0] if parts else {"rotate": 1, "polyval": 3}.get(name, 16)
    b = parts[1] if len(parts) > 1 else a
    return name, a, b


def poly_coeffs(degree: int) -> np.ndarray:
    """Lowest degree first, all non-zero (as the C++ harness)."""
    return np.array([(-0.5 if i % 2 else 0.5) / (i + 1) for i in range(degree + 1)])


@functools.lru_cache(maxsize=8)
def values(slots: int, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and a plaintext operand p, each ``count`` rows of ``slots`` values in [-1, 1]."""
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-1.0, 1.0, size=(count, slots)) for _ in range(3))


def matrix(rows: int, cols: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(rows, cols))


def expected(op: str, a: int, b: int, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """The plaintext result of ``op`` on rows x (and y, p), as each library decrypts it; None for no check."""
    if op in ("encrypt_public", "encrypt_secret", "decrypt", "serialize", "deserialize"):
        return x
    if op == "encode":
        return p
    table = {
        "add": lambda: x + y, "add_plain": lambda: x + p, "multiply_plain": lambda: x * p,
        "multiply": lambda: x * y, "square": lambda: x * x,
        "rotate": lambda: np.roll(x, -a, axis=-1),  # left by a, as SEAL's rotate_vector
        "sum_slots": lambda: x.sum(axis=-1, keepdims=True), "dot": lambda: (x * p).sum(axis=-1, keepdims=True),
        "matmul_vector": lambda: x[:, :a] @ matrix(a, b),
        "matmul_batch": lambda: x[:a].T @ matrix(a, b),  # slots x K: batch layout, features in ciphertexts
        "polyval": lambda: np.polynomial.polynomial.polyval(x, poly_coeffs(a)),
    }
    return table[op]() if op in table else None


def max_error(got: np.ndarray, want: np.ndarray | None) -> float:
    if want is None:
        return 0.0
    got = np.asarray(got, dtype=np.float64)
    width = min(got.shape[-1], want.shape[-1])
    return float(np.abs(got[..., :width] - want[..., :width]).max())
