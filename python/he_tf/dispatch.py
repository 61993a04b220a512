"""Routes TensorFlow APIs to he-tf when an argument is an HETensor.

Supported calls go to arithmetic.py / manipulation.py. Any other TensorFlow
op that receives an HETensor raises a TypeError naming the op: nothing ever
decrypts silently.
"""

from __future__ import annotations

from typing import List

import tensorflow as tf
from tensorflow.python.util import dispatch as tf_dispatch

from he_tf import arithmetic, manipulation
from he_tf.tensor import HETensor


def _register(api, *names):
    """Registers the decorated handler for `api` whenever any of `names` is an HETensor."""

    def decorator(handler):
        for name in names:
            tf.experimental.dispatch_for_api(api, {name: HETensor})(handler)
        return handler

    return decorator


@_register(tf.math.add, "x", "y")
def _add(x, y, name=None):
    return arithmetic.add(x, y)


@_register(tf.math.subtract, "x", "y")
def _subtract(x, y, name=None):
    return arithmetic.subtract(x, y)


@_register(tf.math.multiply, "x", "y")
def _multiply(x, y, name=None):
    return arithmetic.multiply(x, y)


@_register(tf.math.negative, "x")
def _negative(x, name=None):
    return arithmetic.negative(x)


@_register(tf.math.square, "x")
def _square(x, name=None):
    return arithmetic.square(x)


@_register(tf.linalg.matmul, "a", "b")
def _matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, a_is_sparse=False,
            b_is_sparse=False, output_type=None, grad_a=False, grad_b=False, name=None):
    if transpose_a or adjoint_a:
        a = _swap_last_two(a)
    if transpose_b or adjoint_b:
        b = _swap_last_two(b)
    return arithmetic.matmul(a, b)


def _swap_last_two(x):
    if isinstance(x, HETensor):
        return manipulation.transpose(x, list(range(x.rank - 2)) + [x.rank - 1, x.rank - 2])
    return tf.linalg.matrix_transpose(x)


@_register(tf.math.reduce_sum, "input_tensor")
def _reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    return arithmetic.reduce_sum(input_tensor, axis, keepdims)


@_register(tf.roll, "input")
def _roll(input, shift, axis, name=None):  # noqa: A002 (TF's argument name)
    return arithmetic.roll(input, shift, axis)


@_register(tf.math.polyval, "x")
def _polyval(coeffs, x, name=None):
    return arithmetic.polyval(coeffs, x)


@_register(tf.reshape, "tensor")
def _reshape(tensor, shape, name=None):
    return manipulation.reshape(tensor, shape)


@_register(tf.transpose, "a")
def _transpose(a, perm=None, conjugate=False, name="transpose"):
    return manipulation.transpose(a, perm)


@tf.experimental.dispatch_for_api(tf.concat, {"values": List[HETensor]})
def _concat(values, axis, name="concat"):
    return manipulation.concat(values, axis)


@tf.experimental.dispatch_for_api(tf.stack, {"values": List[HETensor]})
def _stack(values, axis=0, name="stack"):
    return manipulation.stack(values, axis)


@_register(tf.gather, "params")
def _gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    if batch_dims:
        raise ValueError("gather on an HETensor does not support batch_dims")
    return manipulation.gather(params, indices, 0 if axis is None else axis)


class _RefuseOtherOps(tf_dispatch.GlobalOpDispatcher):
    """Called when a TF op failed on its arguments: explain if one was an HETensor."""

    def handle(self, op, args, kwargs):
        if any(isinstance(v, HETensor) for v in tf.nest.flatten((args, kwargs))):
            name = getattr(op, "__name__", str(op))
            raise TypeError(
                f"{name} is not supported on encrypted tensors (HETensor): he-tf computes only additions, "
                "multiplications, matmuls, sums, polynomials, rolls and reshapes on ciphertexts. Comparisons and "
                "other non-polynomial functions need the key owner: decrypt first, or approximate the function "
                "with tf.math.polyval."
            )
        return self.NOT_SUPPORTED


_RefuseOtherOps().register()
