"""Routes TensorFlow APIs to he-tf when an argument is an HETensor or another private tensor.

Supported calls go through private.call: to arithmetic.py / manipulation.py
for HETensors, to their protocol for other private tensors. Any other
TensorFlow op that receives an HETensor raises a TypeError naming the op:
nothing ever decrypts silently.
"""

from __future__ import annotations

from typing import List

import tensorflow as tf
from tensorflow.python.util import dispatch as tf_dispatch

from he_tf.private import PrivateTensor, call, is_private
from he_tf.tensor import HETensor

# (api, argument names that may be private, handler); `register_tensor_type` installs them all for a type.
_HANDLERS: list = []


def _register(api, *names):
    """Registers the decorated handler for `api` whenever any of `names` is a private tensor."""

    def decorator(handler):
        _HANDLERS.append((api, names, handler))
        return handler

    return decorator


def register_tensor_type(cls: type) -> None:
    """Makes the tf.* APIs below accept private tensors of ``cls`` (a protocol's ExtensionType)."""
    if cls is not HETensor and not issubclass(cls, PrivateTensor):
        raise TypeError(f"{cls.__name__} must mix in he_tf.private.PrivateTensor")
    for api, names, handler in _HANDLERS:
        for name in names:
            tf.experimental.dispatch_for_api(api, {name: cls})(handler)
    for api, handler in ((tf.concat, _concat), (tf.stack, _stack)):
        tf.experimental.dispatch_for_api(api, {"values": List[cls]})(handler)


@_register(tf.math.add, "x", "y")
def _add(x, y, name=None):
    return call("add", x, y)


@_register(tf.math.subtract, "x", "y")
def _subtract(x, y, name=None):
    return call("subtract", x, y)


@_register(tf.math.multiply, "x", "y")
def _multiply(x, y, name=None):
    return call("multiply", x, y)


@_register(tf.math.negative, "x")
def _negative(x, name=None):
    return call("negative", x)


@_register(tf.math.square, "x")
def _square(x, name=None):
    return call("square", x)


@_register(tf.linalg.matmul, "a", "b")
def _matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, a_is_sparse=False,
            b_is_sparse=False, output_type=None, grad_a=False, grad_b=False, name=None):
    if transpose_a or adjoint_a:
        a = _swap_last_two(a)
    if transpose_b or adjoint_b:
        b = _swap_last_two(b)
    return call("matmul", a, b)


def _swap_last_two(x):
    if is_private(x):
        rank = x.shape.rank
        return call("transpose", x, list(range(rank - 2)) + [rank - 1, rank - 2])
    return tf.linalg.matrix_transpose(x)


@_register(tf.math.reduce_sum, "input_tensor")
def _reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    return call("reduce_sum", input_tensor, axis, keepdims)


@_register(tf.roll, "input")
def _roll(input, shift, axis, name=None):  # noqa: A002 (TF's argument name)
    return call("roll", input, shift, axis)


@_register(tf.math.polyval, "x")
def _polyval(coeffs, x, name=None):
    return call("polyval", coeffs, x)


@_register(tf.reshape, "tensor")
def _reshape(tensor, shape, name=None):
    return call("reshape", tensor, shape)


@_register(tf.transpose, "a")
def _transpose(a, perm=None, conjugate=False, name="transpose"):
    return call("transpose", a, perm)


def _concat(values, axis, name="concat"):
    return call("concat", values, axis)


def _stack(values, axis=0, name="stack"):
    return call("stack", values, axis)


@_register(tf.gather, "params")
def _gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    if batch_dims:
        raise ValueError("gather on an HETensor does not support batch_dims")
    return call("gather", params, indices, 0 if axis is None else axis)


class _RefuseOtherOps(tf_dispatch.GlobalOpDispatcher):
    """Called when a TF op failed on its arguments: explain if one was an HETensor."""

    def handle(self, op, args, kwargs):
        values = tf.nest.flatten((args, kwargs))
        name = getattr(op, "__name__", str(op))
        if any(isinstance(v, PrivateTensor) for v in values):
            raise TypeError(
                f"{name} is not supported on private tensors: their protocols compute additions, "
                "multiplications, matmuls, sums and polynomials; reveal the value with he_tf.define_output first"
            )
        if any(isinstance(v, HETensor) for v in values):
            raise TypeError(
                f"{name} is not supported on encrypted tensors (HETensor): he-tf computes only additions, "
                "multiplications, matmuls, sums, polynomials, rolls and reshapes on ciphertexts. Comparisons and "
                "other non-polynomial functions need the key owner: decrypt first, or approximate the function "
                "with tf.math.polyval."
            )
        return self.NOT_SUPPORTED


_RefuseOtherOps().register()
register_tensor_type(HETensor)
