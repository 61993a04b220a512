"""NumPy code on encrypted data: :class:`EncryptedArray`, an HETensor that NumPy's functions accept.

>>> import numpy as np, he_tf, he_tf.numpy as hnp
>>> keys = he_tf.KeySet.generate(he_tf.Params())
>>> x = hnp.encrypt(keys.public, np.arange(6.0).reshape(3, 2))
>>> y = np.sum(2 * x + 1, axis=0)            # an EncryptedArray: computed on ciphertexts
>>> y.decrypt(keys.secret)                   # ~ [15., 21.]

NumPy calls ``__array_ufunc__`` (NEP 13) and ``__array_function__`` (NEP 18)
of an EncryptedArray among the arguments; each function in :data:`BINDINGS`
then runs the op of he-tf's op table it is bound to (``he_tf.<op>``), after
its argument adaptation below, and the result is an EncryptedArray. Python's
operators are NumPy's ufuncs (``NDArrayOperatorsMixin``), so they obey the
same table. Any other NumPy function or ufunc, and any conversion to an
ndarray, raises a TypeError naming it: nothing is ever decrypted silently.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from he_tf import encryption, routing
from he_tf.framework_table import Binding
from he_tf.tensor import HETensor

__all__ = ["BINDINGS", "EncryptedArray", "asarray", "encrypt"]


def encrypt(public, array, layout: str = "batch", secret=None) -> EncryptedArray:
    """Encrypts ``array`` (anything ``np.asarray`` takes, real numbers) under ``public`` as float64.

    ``layout="batch"`` packs axis 0 into ciphertext slots, ``"vector"`` the last
    axis (see :func:`he_tf.encrypt`, which this calls, also for ``secret``).
    """
    if isinstance(array, (EncryptedArray, HETensor)):
        raise TypeError("encrypt takes plaintext data; the array is encrypted already "
                        "(he_tf.numpy.asarray wraps an HETensor)")
    values = np.asarray(array)
    if values.dtype.kind not in "fiub":
        raise TypeError(f"encrypt takes real numbers, got an array of dtype {values.dtype}")
    return EncryptedArray(encryption.encrypt(public, values.astype(np.float64), layout=layout, secret=secret))


def asarray(hetensor: HETensor) -> EncryptedArray:
    """``hetensor`` as an EncryptedArray, without copying (``.hetensor`` gives it back)."""
    return EncryptedArray(hetensor)


class EncryptedArray(np.lib.mixins.NDArrayOperatorsMixin):
    """An encrypted array: an :class:`he_tf.HETensor` (``.hetensor``) that NumPy code computes with.

    The HETensor's limits apply: one axis (``packed_axis``: 0 for ``layout="batch"``, the last for
    ``"vector"``) is packed into ciphertext slots, so reshapes keep it whole and ``np.concatenate``
    and ``np.take`` do not run along it; a plaintext operand broadcasts to the encrypted one but may
    not enlarge it; each product takes one of the parameters' levels.
    """

    __slots__ = ("_hetensor",)

    def __init__(self, hetensor: HETensor):
        if not isinstance(hetensor, HETensor):
            wrapped = isinstance(hetensor, EncryptedArray)
            hint = "it is one" if wrapped else "encrypt plaintext with he_tf.numpy.encrypt"
            raise TypeError(f"an EncryptedArray wraps an he_tf.HETensor, got {type(hetensor).__name__}; "
                            f"{hint}")
        self._hetensor = hetensor

    @property
    def hetensor(self) -> HETensor:
        return self._hetensor

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._hetensor.shape.as_list())

    @property
    def ndim(self) -> int:
        return self._hetensor.rank

    @property
    def size(self) -> int:
        return self._hetensor.shape.num_elements()

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._hetensor.dtype.as_numpy_dtype)

    @property
    def layout(self) -> str:
        return self._hetensor.layout

    @property
    def packed_axis(self) -> Optional[int]:
        return self._hetensor.packed_axis

    @property
    def T(self) -> EncryptedArray:  # noqa: N802 (NumPy's name)
        return np.transpose(self)

    def transpose(self, *axes) -> EncryptedArray:
        return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def reshape(self, *shape) -> EncryptedArray:
        return np.reshape(self, shape[0] if len(shape) == 1 else shape)

    def sum(self, axis=None, keepdims=False) -> EncryptedArray:
        return np.sum(self, axis=axis, keepdims=keepdims)

    def decrypt(self, secret) -> np.ndarray:
        """The values, as a float64 ndarray: for the key owner (``keys.secret``)."""
        return np.asarray(encryption.decrypt(secret, self._hetensor).numpy(), dtype=np.float64)

    def __repr__(self) -> str:
        h = self._hetensor
        return (f"EncryptedArray(shape={self.shape}, dtype={self.dtype}, layout={h.layout!r}, "
                f"packed_axis={h.packed_axis}, level={h.level})")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        route = _UFUNCS.get(ufunc)
        if route is None or method != "__call__" or (kwargs and kwargs.keys() != {"out"}):
            raise _ufunc_refusal(ufunc, method, kwargs)
        op, adapt = route
        result = op(*map(_unwrap, adapt(*inputs) if adapt else inputs))
        return _into(kwargs["out"], result, ufunc) if kwargs else EncryptedArray(result)

    def __array_function__(self, func, types, args, kwargs):
        route = _FUNCTIONS.get(func)
        if route is None:
            raise _refusal(_name(func))
        op, adapt = route
        return EncryptedArray(op(*map(_unwrap, adapt(*args, **kwargs))))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "an encrypted array does not convert to a NumPy array (np.asarray, np.array, float, ...): "
            "nothing is decrypted silently. The key owner decrypts it with arr.decrypt(keys.secret); "
            f"{_SUPPORTED_SENTENCE}"
        )

    def __bool__(self):
        raise TypeError("the truth value of an encrypted array is unknown; decrypt it first "
                        "(arr.decrypt(secret))")


def _unwrap(value):
    """An op's argument: EncryptedArrays (also in a list) as their HETensors, anything else as it is."""
    if isinstance(value, EncryptedArray):
        return value._hetensor
    if isinstance(value, (list, tuple)):
        return [_unwrap(v) for v in value]
    return value


def _into(out: tuple, result: HETensor, ufunc) -> EncryptedArray:
    """``out=(arr,)``, also ``arr += ...``: the encrypted ``arr`` now holds ``result`` (NumPy writes out)."""
    (target,) = out
    if not isinstance(target, EncryptedArray):
        raise TypeError(f"np.{ufunc.__name__} on encrypted arrays writes out= into an encrypted array only, "
                        f"got {type(target).__name__}; nothing is decrypted silently")
    if result.shape != target._hetensor.shape:
        raise ValueError(f"np.{ufunc.__name__}: the result of shape {tuple(result.shape.as_list())} does not "
                         f"fit out= of shape {target.shape}")
    target._hetensor = result
    return target


def _ndim(value) -> int:
    return value.ndim if isinstance(value, EncryptedArray) else np.ndim(value)


def _refuse_options(function: str, **options) -> None:
    """Refuses NumPy options the encrypted computation has no meaning for (``out=``, ``dtype=``, ...)."""
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise TypeError(f"{function} on encrypted arrays does not take {', '.join(f'{n}=' for n in given)}: "
                        "the result is a new encrypted array of the operands' dtype")


def _all_encrypted(function: str, arrays) -> list:
    arrays = list(arrays)
    if not all(isinstance(a, EncryptedArray) for a in arrays):
        raise TypeError(f"{function} of encrypted with plaintext arrays is not supported: encrypt every "
                        "array with he_tf.numpy.encrypt (same keys and layout) first")
    return arrays


# Argument adaptation: from a NumPy function's arguments to its op's positional arguments.

def _matmul(a, b):
    """NumPy's 1-D plaintext ``p @ x``: ``x @ p`` for a 1-D x, else ``x`` (last two axes swapped) ``@ p``."""
    if isinstance(b, EncryptedArray) and not isinstance(a, EncryptedArray) and np.ndim(a) == 1:
        if b.ndim == 1:
            return b, a
        return np.transpose(b, (*range(b.ndim - 2), b.ndim - 1, b.ndim - 2)), a
    return a, b


def _dot(a, b, out=None):
    _refuse_options("np.dot", out=out)
    if _ndim(a) == 0 or _ndim(b) == 0:
        raise ValueError("np.dot with a scalar operand on encrypted arrays: use np.multiply (or *)")
    if _ndim(b) > 2:
        raise ValueError("np.dot with a second operand of more than 2 dimensions is not supported on "
                         "encrypted arrays (it sums over that operand's second-to-last axis); use np.matmul")
    return _matmul(a, b)


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _refuse_options("np.sum", dtype=dtype, out=out, initial=initial, where=where)
    return a, axis, bool(keepdims)


def _polyval(p, x):
    if isinstance(p, EncryptedArray):
        raise TypeError("np.polyval on encrypted arrays needs plaintext coefficients p (np.polyval(p, x))")
    return p, x


def _transpose(a, axes=None):
    return a, axes


def _reshape(a, shape, order="C", copy=None):
    if order != "C":
        raise ValueError(f"np.reshape on encrypted arrays supports order='C' only, got order={order!r}")
    return a, shape


def _concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    _refuse_options("np.concatenate", out=out, dtype=dtype, casting=casting)
    if axis is None:
        raise ValueError("np.concatenate with axis=None flattens, which would merge the axis packed into "
                         "ciphertext slots; give an axis")
    return _all_encrypted("np.concatenate", arrays), axis


def _stack(arrays, axis=0, out=None, dtype=None, casting=None):
    _refuse_options("np.stack", out=out, dtype=dtype, casting=casting)
    return _all_encrypted("np.stack", arrays), axis


def _take(a, indices, axis=None, out=None, mode=None):
    _refuse_options("np.take", out=out, mode=mode)
    if axis is None:
        raise ValueError("np.take with axis=None flattens, which would merge the axis packed into ciphertext "
                         "slots; give an axis")
    return a, indices, axis


_PACKED = "not along the axis packed into ciphertext slots"
_BOUND: tuple[tuple[Binding, Optional[Callable]], ...] = (
    (Binding("np.add", "add", "also `+`"), None),
    (Binding("np.subtract", "subtract", "also `-`"), None),
    (Binding("np.multiply", "multiply", "also `*`"), None),
    (Binding("np.divide", "divide", "also `/`; the divisor plaintext"), None),
    (Binding("np.negative", "negative", "also unary `-`"), None),
    (Binding("np.square", "square"), None),
    (Binding("np.matmul", "matmul", "also `@`; a 1-D plaintext on the left as in NumPy"), _matmul),
    (Binding("np.dot", "matmul", "operands of 1 or 2 dimensions (or N-D with a 1-D or 2-D second)"), _dot),
    (Binding("np.sum", "reduce_sum", "`axis` (int, tuple or None), `keepdims`"), _sum),
    (Binding("np.polyval", "polyval", "`np.polyval(p, x)`: plaintext coefficients `p`, highest power first"),
     _polyval),
    (Binding("np.transpose", "transpose", "`axes`; also `.T`"), _transpose),
    (Binding("np.reshape", "reshape", "keeps the packed axis whole; `order='C'`"), _reshape),
    (Binding("np.concatenate", "concat", f"encrypted arrays only, {_PACKED}"), _concatenate),
    (Binding("np.stack", "stack", "encrypted arrays only"), _stack),
    (Binding("np.take", "gather", f"`axis` given, {_PACKED}"), _take),
)
BINDINGS: tuple[Binding, ...] = tuple(binding for binding, _ in _BOUND)


def _numpy_object(function: str):
    module, _, name = function.partition(".")
    assert module == "np", function
    obj = np
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _routes(ufuncs: bool) -> dict:
    routes = {}
    for binding, adapt in _BOUND:
        obj = _numpy_object(binding.function)
        if isinstance(obj, np.ufunc) == ufuncs:
            routes[obj] = (routing.FUNCTIONS[binding.op], adapt)
    return routes


_UFUNCS = _routes(ufuncs=True)
_FUNCTIONS = _routes(ufuncs=False)
_SUPPORTED_SENTENCE = (
    f"he_tf.numpy computes {', '.join(b.function for b in BINDINGS)} and the operators + - * / @ on "
    "encrypted arrays. Comparisons and other non-polynomial functions need the key owner: decrypt first, or "
    "approximate the function with np.polyval."
)


def _name(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    prefix = "np" + module[len("numpy"):] if module.startswith("numpy") else module
    return f"{prefix}.{getattr(func, '__name__', func)}"


def _refusal(function: str) -> TypeError:
    return TypeError(f"{function} is not supported on encrypted arrays: {_SUPPORTED_SENTENCE}")


def _ufunc_refusal(ufunc, method: str, kwargs) -> TypeError:
    name = f"np.{ufunc.__name__}"
    if ufunc not in _UFUNCS:
        return _refusal(name)
    if method != "__call__":
        return TypeError(f"{name}.{method} is not supported on encrypted arrays, only {name}(...) itself"
                         + ("; for sums use np.sum" if method == "reduce" else ""))
    given = ", ".join(f"{k}=" for k in kwargs if k != "out")
    return TypeError(f"{name} on encrypted arrays does not take {given}: the result is an encrypted array of "
                     "the operands' dtype")
