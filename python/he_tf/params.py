"""CKKS encryption parameters."""

from __future__ import annotations

import dataclasses

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

    @property
    def slot_count(self) -> int:
        """Values one ciphertext holds."""
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        """Multiplications (rescales) a fresh ciphertext allows."""
        return len(self.coeff_mod_bit_sizes) - 2

    @property
    def max_value(self) -> float:
        """Largest magnitude that can be encrypted and still decrypt correctly."""
        return _core.max_encodable_magnitude(
            self.poly_modulus_degree, list(self.coeff_mod_bit_sizes), self.scale_bits
        )
