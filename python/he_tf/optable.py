"""The op table: every op on private tensors, declared once.

An :class:`Op` names the op, the arguments of ``he_tf.<name>`` and which of
them may be private, its CKKS implementation (on HETensors; None for an op
CKKS cannot compute, such as a comparison, which routing refuses on
HETensors naming the protocols that have it), the Python
operators it answers and the TensorFlow APIs that reach it (:class:`Api`:
which of the API's arguments may be private, and how its arguments map to
the op's). ``he_tf.routing`` generates from this table the ``he_tf.<op>``
functions, the ``tf.*`` dispatch handlers, the operators on HETensors and on
every protocol's private tensors, the exports and the errors for ops a
protocol lacks. A protocol implements an op as a method of the same name
taking the op's arguments.

Adding an op: its CKKS implementation (``arithmetic.py`` / ``manipulation.py``,
over the raw ops of ``ops.py``) or ``ckks=None`` with the arguments' defaults,
one entry here, a method of its name on each protocol that computes it, a test.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Callable, Mapping, Optional

import tensorflow as tf

from he_tf import arithmetic, manipulation


@dataclasses.dataclass(frozen=True)
class Api:
    """A TensorFlow API that computes an op when one of ``private`` (its argument names) is private.

    ``args``: the API's arguments passed, in order, as the op's; or ``adapt(arguments)``, from the API's
    bound arguments (defaults applied) to the op's positional arguments. ``listed``: the private argument
    is a list of tensors (``tf.concat``).
    """

    fn: Callable
    private: tuple[str, ...]
    args: tuple[str, ...] = ()
    adapt: Optional[Callable[[Mapping[str, object]], tuple]] = None
    listed: bool = False

    def op_args(self, arguments: Mapping[str, object]) -> tuple:
        return self.adapt(arguments) if self.adapt else tuple(arguments[a] for a in self.args)


@dataclasses.dataclass(frozen=True)
class Op:
    """One op: ``he_tf.<name>(*args)``; ``ckks`` computes it on HETensors (None: CKKS cannot).

    ``defaults``: (argument, default) pairs of ``he_tf.<name>`` for an op without a CKKS implementation,
    whose signature otherwise gives them.
    """

    name: str
    args: tuple[str, ...]
    private: tuple[str, ...]  # which of args may be private tensors
    ckks: Optional[Callable]
    doc: str
    apis: tuple[Api, ...] = ()
    operators: tuple[str, ...] = ()  # "__add__" (self first) and "__radd__" (self second), "__neg__"
    defaults: tuple[tuple[str, object], ...] = ()

    @property
    def signature(self) -> inspect.Signature:
        """``he_tf.<name>``'s signature: the CKKS implementation's, else the arguments with ``defaults``."""
        if self.ckks is not None:
            return inspect.signature(self.ckks)
        defaults = dict(self.defaults)
        return inspect.Signature([inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                    default=defaults.get(a, inspect.Parameter.empty))
                                  for a in self.args])


def _swap_last_two(x):
    """``tf.transpose`` of the last two axes: for a private x, itself the table's transpose."""
    x = x if hasattr(x, "shape") else tf.convert_to_tensor(x)
    rank = len(x.shape)
    return tf.transpose(x, list(range(rank - 2)) + [rank - 1, rank - 2])


def _matmul(arguments: Mapping[str, object]) -> tuple:
    """tf.linalg.matmul's transpose and adjoint flags (real values: adjoint is transpose) applied first."""
    a, b = arguments["a"], arguments["b"]
    if arguments["transpose_a"] or arguments["adjoint_a"]:
        a = _swap_last_two(a)
    if arguments["transpose_b"] or arguments["adjoint_b"]:
        b = _swap_last_two(b)
    return a, b


def _argmax(arguments: Mapping[str, object]) -> tuple:
    """tf.math.argmax: axis None is axis 0; the index is revealed as float64 whatever ``output_type``."""
    if arguments["output_type"] not in (tf.int32, tf.int64):
        raise TypeError(f"argmax gives integer indices; output_type {arguments['output_type']!r} is not one")
    return arguments["input"], 0 if arguments["axis"] is None else arguments["axis"]


def _gather(arguments: Mapping[str, object]) -> tuple:
    if arguments["batch_dims"]:
        raise ValueError("gather on a private tensor does not support batch_dims")
    axis = arguments["axis"]
    return arguments["params"], arguments["indices"], 0 if axis is None else axis


OPS: tuple[Op, ...] = (
    Op("add", ("a", "b"), ("a", "b"), arithmetic.add, "``a + b``.",
       (Api(tf.math.add, ("x", "y"), ("x", "y")),), ("__add__", "__radd__")),
    Op("subtract", ("a", "b"), ("a", "b"), arithmetic.subtract, "``a - b``.",
       (Api(tf.math.subtract, ("x", "y"), ("x", "y")),), ("__sub__", "__rsub__")),
    Op("multiply", ("a", "b"), ("a", "b"), arithmetic.multiply, "``a * b``, elementwise.",
       (Api(tf.math.multiply, ("x", "y"), ("x", "y")),
        Api(tf.math.scalar_mul, ("x",), ("scalar", "x"))), ("__mul__", "__rmul__")),
    Op("divide", ("x", "divisor"), ("x",), arithmetic.divide, "``x / divisor``, a plaintext divisor.",
       (Api(tf.math.truediv, ("x",), ("x", "y")), Api(tf.math.divide, ("x",), ("x", "y"))), ("__truediv__",)),
    Op("negative", ("x",), ("x",), arithmetic.negative, "``-x``.",
       (Api(tf.math.negative, ("x",), ("x",)),), ("__neg__",)),
    Op("square", ("x",), ("x",), arithmetic.square, "``x * x``.", (Api(tf.math.square, ("x",), ("x",)),)),
    Op("matmul", ("a", "b"), ("a", "b"), arithmetic.matmul, "``a @ b``, one operand plaintext under CKKS.",
       (Api(tf.linalg.matmul, ("a", "b"), adapt=_matmul),), ("__matmul__", "__rmatmul__")),
    Op("reduce_sum", ("x", "axis", "keepdims"), ("x",), arithmetic.reduce_sum, "Sum over axes.",
       (Api(tf.math.reduce_sum, ("input_tensor",), ("input_tensor", "axis", "keepdims")),)),
    Op("polyval", ("coeffs", "x"), ("x",), arithmetic.polyval,
       "``coeffs[0] * x**(n-1) + ... + coeffs[-1]``, plaintext coefficients.",
       (Api(tf.math.polyval, ("x",), ("coeffs", "x")),)),
    Op("roll", ("x", "shift", "axis"), ("x",), arithmetic.roll, "``tf.roll``.",
       (Api(tf.roll, ("input",), ("input", "shift", "axis")),)),
    Op("reshape", ("x", "shape"), ("x",), manipulation.reshape, "``tf.reshape``.",
       (Api(tf.reshape, ("tensor",), ("tensor", "shape")),)),
    Op("transpose", ("x", "perm"), ("x",), manipulation.transpose, "``tf.transpose``.",
       (Api(tf.transpose, ("a",), ("a", "perm")),)),
    Op("concat", ("values", "axis"), ("values",), manipulation.concat, "``tf.concat``.",
       (Api(tf.concat, ("values",), ("values", "axis"), listed=True),)),
    Op("stack", ("values", "axis"), ("values",), manipulation.stack, "``tf.stack``.",
       (Api(tf.stack, ("values",), ("values", "axis"), listed=True),)),
    Op("gather", ("x", "indices", "axis"), ("x",), manipulation.gather, "``tf.gather`` along one axis.",
       (Api(tf.gather, ("params",), adapt=_gather),)),
    # Comparisons: no CKKS implementation (a ciphertext cannot be compared); secret sharing computes them.
    Op("greater", ("x", "y"), ("x", "y"), None, "``x > y``, a private 0 or 1.",
       (Api(tf.math.greater, ("x", "y"), ("x", "y")),), ("__gt__",)),
    Op("less", ("x", "y"), ("x", "y"), None, "``x < y``, a private 0 or 1.",
       (Api(tf.math.less, ("x", "y"), ("x", "y")),), ("__lt__",)),
    Op("relu", ("x",), ("x",), None, "``max(x, 0)``.", (Api(tf.nn.relu, ("features",), ("features",)),)),
    Op("maximum", ("x", "y"), ("x", "y"), None, "The elementwise maximum.",
       (Api(tf.math.maximum, ("x", "y"), ("x", "y")),)),
    Op("reduce_max", ("x", "axis", "keepdims"), ("x",), None, "Maximum over axes.",
       (Api(tf.math.reduce_max, ("input_tensor",), ("input_tensor", "axis", "keepdims")),),
       defaults=(("axis", None), ("keepdims", False))),
    Op("argmax", ("x", "axis"), ("x",), None, "The index of the maximum along an axis (the first, for ties).",
       (Api(tf.math.argmax, ("input",), adapt=_argmax),), defaults=(("axis", None),)),
)

BY_NAME: dict[str, Op] = {op.name: op for op in OPS}


def get(name: str) -> Op:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"{name!r} is not an op of he-tf's op table ({', '.join(BY_NAME)})") from None
