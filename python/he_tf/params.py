"""CKKS encryption parameters."""

from __future__ import annotations

import dataclasses
import functools
import math

from he_tf import _core

RINGS = (4096, 8192, 16384, 32768)
"""Ring dimensions ``for_depth`` considers, smallest first (1024 and 2048 give no multiplicative depth)."""
NOISE_BITS = {4096: 13, 8192: 14, 16384: 15, 32768: 16}
"""log2 of the error a model's result carries, in units of ``2**-scale_bits``: encryption, plaintext
products, rotations and the server's re-randomization, measured on the breast-cancer logistic model
(``python -m benchmarks.peers``, docs/benchmarks.md) and rounded up. A result decrypts to within about
``2**(NOISE_BITS[N] - scale_bits)`` of the exact value."""
PRODUCT_LEVELS = _core.product_levels()
"""Levels one rescaled product takes (the kernels' rule, ``csrc/core/plans.h``): one prime dropped."""
DEFAULT_MAGNITUDE = 2.0**19
"""The largest |value| ``for_depth(precision_bits=...)`` plans for when none is given (the default
parameters' ``max_value``)."""


def integer_bits_for(magnitude: float) -> int:
    """Bits of a first prime above the scale that hold ``|value| < magnitude``: ``q_0 / 2 / scale > magnitude``.

    SEAL's primes of ``b`` bits lie in ``(2**(b - 1), 2**b)``, so one more bit covers the worst prime and
    one the sign.
    """
    return max(1, math.ceil(math.log2(magnitude))) + 2


def chain_for(n: int, depth: int, integer_bits: int) -> tuple[tuple[int, ...], int] | None:
    """(coefficient modulus bits, scale bits) with the largest scale for ``depth`` under N's 128-bit budget.

    ``[scale + integer_bits] + [scale] * depth + [special]``, the special prime as large as the largest
    other, every prime 20 to 60 bits; ``None`` if no scale of at least 20 bits fits.
    """
    budget = _core.max_coeff_modulus_bits(n)
    for scale in range(60 - integer_bits, 19, -1):
        first = scale + integer_bits
        bits = (first,) + (scale,) * depth + (max(first, scale),)
        if sum(bits) <= budget:
            return bits, scale
    return None


@dataclasses.dataclass(frozen=True)
class Params:
    """CKKS parameters: ring size, coefficient modulus chain and scale.

    Parameters
    ----------
    poly_modulus_degree:
        Ring dimension N (a power of two, 1024 to 32768). A ciphertext holds N/2 values.
    coeff_mod_bit_sizes:
        Bit sizes of the coefficient modulus primes: the first holds the final
        result, the middle ones are consumed one per multiplication (rescale),
        the last is the special prime used for key switching.
    scale_bits:
        log2 of the fixed-point scale values are encoded at.

    Raises ``ValueError`` naming the broken rule when the combination is not
    usable or not 128-bit secure.
    """

    poly_modulus_degree: int = 8192
    coeff_mod_bit_sizes: tuple[int, ...] = (60, 40, 40, 60)
    scale_bits: int = 40

    def __post_init__(self) -> None:
        object.__setattr__(self, "coeff_mod_bit_sizes", tuple(int(b) for b in self.coeff_mod_bit_sizes))
        _core.validate_params(int(self.poly_modulus_degree), list(self.coeff_mod_bit_sizes), int(self.scale_bits))

    @classmethod
    def for_depth(cls, depth: int, scale_bits: int = 40, first_bits: int | None = None, *,
                  precision_bits: int | None = None, magnitude: float | None = None) -> Params:
        """The smallest 128-bit-secure parameters allowing ``depth`` multiplications.

        Without ``precision_bits`` the chain is ``[first] + [scale_bits] * depth + [special]``
        where the first and special primes have ``first_bits`` bits, by default
        ``min(60, scale_bits + 20)``: results then keep about
        ``first_bits - scale_bits - 1`` (19) bits for their integer part.

        With ``precision_bits`` (and ``magnitude``, the largest ``|value|`` the
        computation reaches, default ``2**19``) the ring is the smallest whose
        modulus budget gives a scale of at least ``precision_bits +``
        :data:`NOISE_BITS` ``[N]`` bits with a first prime holding ``magnitude``;
        the scale then takes every bit the budget leaves (:func:`chain_for`).
        ``scale_bits`` and ``first_bits`` are ignored. :meth:`precision_bits`
        reports what the chosen parameters give.
        """
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        if precision_bits is not None:
            return cls._for_precision(depth, precision_bits, DEFAULT_MAGNITUDE if magnitude is None else magnitude)
        outer = min(60, scale_bits + 20) if first_bits is None else first_bits
        bits = (outer,) + (scale_bits,) * depth + (outer,)
        for n in RINGS:
            if sum(bits) <= _core.max_coeff_modulus_bits(n):
                return cls(n, bits, scale_bits)
        raise ValueError(
            f"depth {depth} at scale_bits={scale_bits} needs {sum(bits)} modulus bits, more than the "
            f"{_core.max_coeff_modulus_bits(32768)} that N=32768 allows at 128-bit security; "
            "lower scale_bits or the multiplicative depth"
        )

    @classmethod
    def _for_precision(cls, depth: int, precision_bits: int, magnitude: float) -> Params:
        if not 1 <= precision_bits <= 50:
            raise ValueError(f"precision_bits must be in [1, 50], got {precision_bits}")
        if not (math.isfinite(magnitude) and magnitude > 0):
            raise ValueError(f"magnitude must be a positive finite number, got {magnitude}")
        integer_bits = integer_bits_for(magnitude)
        for n in RINGS:
            chain = chain_for(n, depth, integer_bits)
            if chain is not None and chain[1] >= precision_bits + NOISE_BITS[n]:
                return cls(n, *chain)
        raise ValueError(
            f"no 128-bit-secure ring up to N=32768 gives depth {depth} with {precision_bits} bits of precision "
            f"for values up to {magnitude:.3g}; lower precision_bits, the depth or the values' magnitude"
        )

    def precision_bits(self) -> int:
        """Bits of precision results keep: the scale's bits less :data:`NOISE_BITS` for this ring."""
        return self.scale_bits - NOISE_BITS[self.poly_modulus_degree]

    @property
    def integer_bits(self) -> int:
        """Bits left for a fresh value's integer part: ``log2(max_value)``, rounded down."""
        return math.floor(math.log2(self.max_value))

    @property
    def slot_count(self) -> int:
        """Values one ciphertext holds."""
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        """Multiplications (rescales) a fresh ciphertext allows."""
        return len(self.coeff_mod_bit_sizes) - 2

    @functools.cached_property
    def primes(self) -> tuple[int, ...]:
        """The coefficient modulus primes; a rescale at level ``l`` divides by ``primes[l]``."""
        return tuple(
            _core.coeff_modulus_primes(self.poly_modulus_degree, list(self.coeff_mod_bit_sizes), self.scale_bits)
        )

    def as_tuple(self) -> tuple:
        """A hashable form, as stored in an HETensor's type spec."""
        return (self.poly_modulus_degree, self.coeff_mod_bit_sizes, self.scale_bits)

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def from_tuple(values: tuple) -> Params:
        return Params(*values)

    @property
    def max_value(self) -> float:
        """Largest magnitude that can be encrypted and still decrypt correctly."""
        return _core.max_encodable_magnitude(
            self.poly_modulus_degree, list(self.coeff_mod_bit_sizes), self.scale_bits
        )
