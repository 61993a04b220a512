"""Level and scale planning, done when tracing (before any heavy work).

The kernels follow fixed rules (csrc/core/arith.h); this module predicts
their results exactly, so every HETensor's type spec knows its level and
scale, aligns operands and reports exhausted levels with the fix.
"""

from __future__ import annotations

import math

import tensorflow as tf

from he_tf import ops
from he_tf.params import PRODUCT_LEVELS, Params
from he_tf.tensor import HETensor


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


def require_levels(x: HETensor, needed: int, op: str) -> None:
    """Raises ValueError, naming the depth needed and a fitting parameter set, if x lacks levels."""
    if x.level >= needed:
        return
    params = x.he_params
    depth_needed = params.depth - x.level + needed
    try:
        fit = f"he_tf.Params.for_depth({depth_needed}) gives {Params.for_depth(depth_needed, params.scale_bits)}"
    except ValueError as e:
        fit = str(e)
    raise ValueError(
        f"{op} needs {needed} more multiplicative level(s) but the encrypted operand is at level {x.level}: "
        f"this computation needs depth {depth_needed} and {params} provides {params.depth}; {fit}"
    )


def after_rescale(x: HETensor, scale: float) -> tuple[int, float]:
    """(level, scale) after a product of scale `scale` at x's level is rescaled."""
    return rescaled(x.he_params, x.level, scale)


def rescaled(params: Params, level: int, scale: float) -> tuple[int, float]:
    """(level, scale) after a product of scale ``scale`` at ``level`` is rescaled: ``q_level`` dropped."""
    return after_product(level), scale / params.primes[level]


def after_product(level: int) -> int:
    """The level after a rescaled product at ``level`` (by a plaintext encoded at the dropped prime, the
    scale is unchanged)."""
    return level - PRODUCT_LEVELS


def headroom(params: Params, level: int) -> float:
    """``q_0 * ... * q_level / 2``: a value v at scale s decrypts correctly at ``level`` only if |v| * s is below.

    CKKS computes modulo the primes still in the ciphertext; a larger |v| * s
    wraps around and decrypts to a wrong value with no error.
    """
    return float(math.prod(params.primes[: level + 1])) / 2


def max_magnitude(params: Params, level: int, scale: float) -> float:
    """The largest |value| a ciphertext at ``level`` and ``scale`` holds (:func:`headroom` / scale).

    At level 0 and the fresh scale ``2**scale_bits`` this is
    ``Params.max_value``, the bound encryption enforces.
    """
    return headroom(params, level) / scale


def align(x: HETensor, level: int, scale: float) -> HETensor:
    """x brought to exactly (level, scale); a scale change costs x one level."""
    if x.level == level and _close(x.scale, scale):
        return x
    if _close(x.scale, scale):
        return x.with_ciphertexts(ops.mod_switch(x.context, x.ciphertexts, level=level), level=level)
    if x.level <= level:
        raise ValueError(
            f"cannot bring an operand at level {x.level}, scale {x.scale!r} to level {level}, scale {scale!r}: "
            "changing the scale needs a level to spare"
        )
    cts = ops.align(x.context, x.ciphertexts, tf.constant(scale, tf.float64), level=level)
    return x.with_ciphertexts(cts, level=level, scale=scale)


def align_all(values: list[HETensor], op: str) -> list[HETensor]:
    """Equal levels and scales for adds, subtracts and concatenations, at the least cost in levels.

    The target is the lowest level and the scale found there. Higher operands
    absorb any scale change on their way down, for free. Only if operands at
    the lowest level disagree on scale does everything drop one more level.
    """
    level, scale = aligned(values, op)
    return [align(v, level, scale) for v in values]


def aligned(values: list, op: str) -> tuple[int, float]:
    """The (level, scale) :func:`align_all` brings ``values`` to (anything with ``level``, ``scale`` and
    ``he_params``: the rule also serves protocols that only track levels, like a simulator)."""
    level = min(v.level for v in values)
    scale = next(v.scale for v in values if v.level == level)
    if any(v.level == level and not _close(v.scale, scale) for v in values):
        require_levels(min(values, key=lambda v: v.level), 1, op)
        level -= 1
    return level, scale

