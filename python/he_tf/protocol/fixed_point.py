"""Fixed-point encoding of real numbers into the ring Z_2^64 (``tf.int64``).

A real x is stored as the ring element round(x * 2^f), f = ``fraction_bits``, read back as the
signed value times 2^-f. Sums of encodings encode sums; a product of two encodings carries 2f fraction
bits and needs a truncation by f bits (``ring.truncate_share`` on shares, ``ring.shift_right`` on
public values) to return to f. Bounds, for ``FixedPoint(f, headroom_bits=h)``:

- encoding accepts |x| < 2^(63 - f - h) (``max_magnitude``) and refuses anything else: the h spare
  bits let 2^h such values be added without wrapping;
- a product before truncation, x*y * 2^(2f), wraps unless |x*y| < 2^(63 - 2f) (``product_limit``:
  2^31 at f = 16). Wrapping is silent in the ring (a shared value cannot be checked), so this is the
  caller's budget;
- on shares the local truncation fails with probability about |x*y| * 2^(2f) / 2^64 per element (see
  ``ring.truncate_share``): ``truncation_failure_probability`` gives the bound. At f = 16 a product
  of magnitude 2^8 fails with probability about 2^-24.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from . import ring

MAX_FRACTION_BITS = 30  # a product (2f fraction bits) must keep integer bits below bit 63


@dataclass(frozen=True)
class FixedPoint:
    """Fixed-point encoding with `fraction_bits` fraction bits and `headroom_bits` bits spare for sums.

    Parameters
    ----------
    fraction_bits
        f, in [1, 30]: the resolution is 2^-f (``ulp``).
    headroom_bits
        h >= 0 with f + h <= 62: encodings are refused unless |x| < 2^(63 - f - h).

    Raises
    ------
    ValueError
        If the bit counts are out of range.
    """

    fraction_bits: int = 16
    headroom_bits: int = 16

    def __post_init__(self) -> None:
        f, h = self.fraction_bits, self.headroom_bits
        if not isinstance(f, int) or not 1 <= f <= MAX_FRACTION_BITS:
            raise ValueError(f"fraction_bits must be an integer in [1, {MAX_FRACTION_BITS}] (a product "
                             f"holds 2 * fraction_bits fraction bits in 63), got {f!r}")
        if not isinstance(h, int) or h < 0 or f + h > ring.BITS - 2:
            raise ValueError(f"headroom_bits must be an integer >= 0 with fraction_bits + headroom_bits "
                             f"<= {ring.BITS - 2}, got headroom_bits={h!r} with fraction_bits={f}")

    @property
    def scale(self) -> float:
        """2^f: one unit of the real line in ring units."""
        return float(2**self.fraction_bits)

    @property
    def ulp(self) -> float:
        """2^-f: the encoding's resolution (rounding error at most ulp / 2)."""
        return 2.0**-self.fraction_bits

    @property
    def max_magnitude(self) -> float:
        """2^(63 - f - h): encode refuses |x| at or above this."""
        return 2.0 ** (ring.BITS - 1 - self.fraction_bits - self.headroom_bits)

    @property
    def product_limit(self) -> float:
        """2^(63 - 2f): a product x*y (2f fraction bits before truncation) wraps unless |x*y| is below."""
        return 2.0 ** (ring.BITS - 1 - 2 * self.fraction_bits)

    def truncation_failure_probability(self, magnitude: float, fraction_bits: int | None = None) -> float:
        """Upper bound on the chance that truncating a shared value of this real magnitude fails.

        ``magnitude`` is |value| in real units, carrying ``fraction_bits`` fraction bits in the ring (2f,
        a product, by default); the bound is 2^(l_x + 1 - 64) with 2^l_x the ring magnitude
        (SecureML, Theorem 1).
        """
        bits = 2 * self.fraction_bits if fraction_bits is None else fraction_bits
        return min(1.0, 2.0 * abs(magnitude) * 2.0**bits / 2.0**ring.BITS)

    def encode(self, x) -> tf.Tensor:
        """round(x * 2^f) as a ring tensor (round half to even).

        Parameters
        ----------
        x
            Real values: anything ``tf.convert_to_tensor`` takes; computed in float64.

        Raises
        ------
        ValueError
            Eagerly, if some |x| >= ``max_magnitude`` or x is not finite (inside ``tf.function`` the same
            check raises ``tf.errors.InvalidArgumentError`` when the graph runs). Encoding never wraps.
        """
        x = tf.convert_to_tensor(x, dtype_hint=tf.float64)  # Python floats would become float32
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError(f"FixedPoint.encode: real values expected, got {x.dtype.name}")
        x = tf.cast(x, tf.float64)
        bound = self.max_magnitude
        # The largest |x| for the message; a NaN propagates into it, which the message also covers.
        worst = tf.reduce_max(tf.concat([tf.abs(tf.reshape(x, [-1])), tf.zeros([1], tf.float64)], 0))
        # abs(x) < bound is False for NaN too, so one check covers overflow and non-finite values.
        ok = tf.reduce_all(tf.abs(x) < bound)
        message = self._overflow_message(bound)
        if tf.executing_eagerly():
            if not bool(ok):
                raise ValueError(message.format(worst=float(worst)))
            checked = x
        else:
            assert_op = tf.debugging.Assert(ok, [message.format(worst="(see below)"), worst])
            with tf.control_dependencies([assert_op]):
                checked = tf.identity(x)
        return tf.cast(tf.round(checked * self.scale), ring.DTYPE)

    def _overflow_message(self, bound: float) -> str:
        f, h = self.fraction_bits, self.headroom_bits
        return (f"FixedPoint.encode: |x| = {{worst}} is not below 2^{ring.BITS - 1 - f - h} = {bound:g} "
                f"(or not finite), the bound for fraction_bits={f}, headroom_bits={h}; use fewer "
                f"fraction bits or headroom bits, or scale the inputs down")

    def decode(self, x, dtype: tf.DType = tf.float64) -> tf.Tensor:
        """The signed value of ring tensor `x` times 2^-f, as `dtype` (float64 by default)."""
        x = ring.as_ring(x, "x")
        return tf.cast(tf.cast(x, tf.float64) * self.ulp, dtype)
