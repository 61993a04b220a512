"""Private tensors of protocols other than CKKS, and routing of ops to their protocol.

CKKS private tensors are plain HETensors, so their ops go straight to he_tf's
arithmetic. Other protocols' private tensors are ExtensionTypes that mix in
:class:`PrivateTensor` (a ``protocol_key`` field names their protocol); their
ops go to the protocol's method of the same name. Mixing private tensors of
two protocols in one op is refused: convert one with ``he_tf.convert``.
"""

from __future__ import annotations

import functools

from he_tf import arithmetic, manipulation
from he_tf.tensor import HETensor

_HE_TF_OPS = {
    "add": arithmetic.add, "subtract": arithmetic.subtract, "negative": arithmetic.negative,
    "multiply": arithmetic.multiply, "matmul": arithmetic.matmul, "square": arithmetic.square,
    "reduce_sum": arithmetic.reduce_sum, "polyval": arithmetic.polyval, "roll": arithmetic.roll,
    "reshape": manipulation.reshape, "transpose": manipulation.transpose, "concat": manipulation.concat,
    "stack": manipulation.stack, "gather": manipulation.gather,
}


class PrivateTensor:
    """Mixin for protocols' private tensor ExtensionTypes; they declare ``protocol_key: str``."""

    __array_ufunc__ = None  # NumPy operands defer to our operators

    @property
    def protocol(self):
        from he_tf.protocol.protocol import lookup  # the protocol layer builds on this module

        return lookup(self.protocol_key)

    def __add__(self, other):
        return call("add", self, other)

    def __radd__(self, other):
        return call("add", other, self)

    def __sub__(self, other):
        return call("subtract", self, other)

    def __rsub__(self, other):
        return call("subtract", other, self)

    def __mul__(self, other):
        return call("multiply", self, other)

    def __rmul__(self, other):
        return call("multiply", other, self)

    def __matmul__(self, other):
        return call("matmul", self, other)

    def __rmatmul__(self, other):
        return call("matmul", other, self)

    def __neg__(self):
        return call("negative", self)

    def __bool__(self):
        raise TypeError("the truth value of a private tensor is unknown; reveal it with he_tf.define_output")


def is_private(value) -> bool:
    return isinstance(value, (HETensor, PrivateTensor))


def _describe(value) -> str:
    if isinstance(value, HETensor):
        return "a CKKS HETensor"
    return f"a private tensor of {value.protocol!r} ({value.protocol_key})"


def protocol_of_operands(op: str, values):
    """The one protocol the private operands belong to (None for HETensors); raises if they mix."""
    private = [v for v in values if is_private(v)]
    def kind(v):
        return "ckks" if isinstance(v, HETensor) else v.protocol_key

    if len({kind(v) for v in private}) > 1:
        a, b = private[0], next(v for v in private if kind(v) != kind(private[0]))
        raise TypeError(
            f"{op} mixes {_describe(a)} with {_describe(b)}; bring both under one protocol first with "
            "he_tf.convert(x, to=protocol)"
        )
    if not private or isinstance(private[0], HETensor):
        return None
    return private[0].protocol


def call(op: str, *args, **kwargs):
    """Runs ``op`` on its operands' protocol: he_tf arithmetic for HETensors, else the protocol's method."""
    flat = [v for a in args for v in (a if isinstance(a, (list, tuple)) else [a])]
    protocol = protocol_of_operands(op, flat)
    if protocol is None:
        return _HE_TF_OPS[op](*args, **kwargs)
    method = getattr(protocol, op, None)
    if method is None:
        protocol.unsupported(op)
    return method(*args, **kwargs)


def _routed(op: str):
    """he_tf.<op>: the HETensor function, also accepting other protocols' private tensors."""

    @functools.wraps(_HE_TF_OPS[op])
    def routed(*args, **kwargs):
        return call(op, *args, **kwargs)

    return routed


add, subtract, negative, multiply, matmul, square, reduce_sum, polyval, roll = map(
    _routed, ("add", "subtract", "negative", "multiply", "matmul", "square", "reduce_sum", "polyval", "roll")
)
reshape, transpose, concat, stack, gather = map(_routed, ("reshape", "transpose", "concat", "stack", "gather"))
