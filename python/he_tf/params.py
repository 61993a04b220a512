"""CKKS encryption parameters."""

from __future__ import annotations

import dataclasses
import functools

from he_tf import _core


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
    def for_depth(cls, depth: int, scale_bits: int = 40, first_bits: int | None = None) -> Params:
        """The smallest 128-bit-secure parameters allowing ``depth`` multiplications.

        The chain is ``[first] + [scale_bits] * depth + [special]`` where the
        first and special primes have ``first_bits`` bits, by default
        ``min(60, scale_bits + 20)``: results then keep about
        ``first_bits - scale_bits - 1`` (19) bits for their integer part.
        """
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        outer = min(60, scale_bits + 20) if first_bits is None else first_bits
        bits = (outer,) + (scale_bits,) * depth + (outer,)
        for n in (4096, 8192, 16384, 32768):
            if sum(bits) <= _core.max_coeff_modulus_bits(n):
                return cls(n, bits, scale_bits)
        raise ValueError(
            f"depth {depth} at scale_bits={scale_bits} needs {sum(bits)} modulus bits, more than the "
            f"{_core.max_coeff_modulus_bits(32768)} that N=32768 allows at 128-bit security; "
            "lower scale_bits or the multiplicative depth"
        )

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
