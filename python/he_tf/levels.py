"""Level and scale planning, done when tracing (before any heavy work).

The kernels follow fixed rules (csrc/core/arith.h); this module predicts
their results exactly, so every HETensor's type spec knows its level and
scale, aligns operands and reports exhausted levels with the fix.
"""

from __future__ import annotations

import math

import tensorflow as tf

from he_tf import ops
from he_tf.params import Params
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
    return x.level - 1, scale / x.he_params.primes[x.level]


def align(x: HETensor, level: int, scale: float) -> HETensor:
    """x brought to exactly (level, scale); a scale change costs x one level."""
    if x.level == level and _close(x.scale, scale):
        return x
    if _close(x.scale, scale):
        return x.with_ciphertexts(ops.mod_switch(x.context, x.ciphertexts, level=level), level=level)
    if x.level <= level:
        raise ValueError(
            f"cannot bring an operand at level {x.level}, scale 2^{math.log2(x.scale):.4f} to level {level}, "
            f"scale 2^{math.log2(scale):.4f}: that needs a level to spare"
        )
    cts = ops.align(x.context, x.ciphertexts, tf.constant(scale, tf.float64), level=level)
    return x.with_ciphertexts(cts, level=level, scale=scale)


def align_pair(a: HETensor, b: HETensor, op: str) -> tuple[HETensor, HETensor]:
    """Equal levels and scales for an add or subtract, at the least cost in levels."""
    if a.level == b.level and _close(a.scale, b.scale):
        return a, b
    if _close(a.scale, b.scale):
        level = min(a.level, b.level)
        return align(a, level, a.scale), align(b, level, a.scale)
    if a.level != b.level:  # the higher operand absorbs the scale change on its way down
        low, high = (a, b) if a.level < b.level else (b, a)
        high = align(high, low.level, low.scale)
        return (low, high) if low is a else (high, low)
    require_levels(a, 1, op)  # same level, different scales: both drop one level
    return align(a, a.level - 1, b.scale), align(b, b.level - 1, b.scale)
