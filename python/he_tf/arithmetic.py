"""Arithmetic on HETensors."""

from __future__ import annotations

from he_tf import ops
from he_tf.tensor import HETensor


def _check_compatible(a: HETensor, b: HETensor, op: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op}: shapes differ: {a.shape} vs {b.shape}")
    if a.layout != b.layout:
        raise ValueError(f"{op}: layouts differ: {a.layout!r} vs {b.layout!r}; encrypt both with the same layout")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ: {a.dtype.name} vs {b.dtype.name}")


def add(a: HETensor, b: HETensor) -> HETensor:
    """Elementwise ``a + b`` of two HETensors encrypted under the same key set."""
    if not (isinstance(a, HETensor) and isinstance(b, HETensor)):
        raise TypeError(f"add takes two HETensors, got {type(a).__name__} and {type(b).__name__}")
    _check_compatible(a, b, "add")
    return a.with_ciphertexts(ops.add(a.context, a.ciphertexts, b.ciphertexts), level=min(a.level, b.level))
