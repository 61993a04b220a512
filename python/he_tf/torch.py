"""PyTorch on encrypted tensors: ``torch.*`` functions and ``nn.Module`` forwards on CKKS ciphertexts.

>>> import he_tf, he_tf.torch, torch
>>> keys = he_tf.KeySet.generate(he_tf.Params(), rotations=None)
>>> x_enc = he_tf.torch.encrypt(keys.public, torch.randn(4, 3))
>>> layer = torch.nn.Linear(3, 2)
>>> layer(x_enc).decrypt(keys.secret)  # ~ layer(x), a float64 torch.Tensor

:class:`EncryptedTensor` is a plain class with ``__torch_function__`` (not a
``torch.Tensor`` subclass), so no torch kernel ever receives it: a function
of :data:`BINDINGS` runs its op of the op table (``he_tf.<op>``), every other
one raises a TypeError naming the function, and nothing is ever decrypted
or copied to plaintext. Plaintext operands (``torch.Tensor``, also with
``requires_grad``; Python numbers) are used by value.

Each binding's argument adaptation sits next to it; a binding of
``torch.NAME`` also answers the method ``Tensor.NAME`` (``x_enc.sum(1)``,
``t.add(x_enc)``, ``t + x_enc``), and the operators it lists on encrypted
tensors. Needs the ``torch`` extra: ``pip install 'he-tf[torch]'``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Callable, Sequence

try:
    import torch
except ModuleNotFoundError as e:
    if e.name != "torch":
        raise
    raise ModuleNotFoundError(
        "he_tf.torch needs PyTorch, which is not installed: pip install 'he-tf[torch]' (the torch extra)",
        name="torch",
    ) from e

import numpy as np

import he_tf
from he_tf.framework_table import Binding
from he_tf.tensor import HETensor


class EncryptedTensor:
    """A CKKS-encrypted tensor that PyTorch code can compute on (the functions of :data:`BINDINGS`).

    Wraps an :class:`he_tf.HETensor` (:attr:`hetensor`, no copy); make one with
    :func:`encrypt` or :func:`as_encrypted`. The secret key is never part of it.
    """

    __slots__ = ("_hetensor",)
    __array_ufunc__ = None  # NumPy operands defer to the operators below instead of iterating
    __hash__ = object.__hash__

    def __init__(self, hetensor: HETensor) -> None:
        if not isinstance(hetensor, HETensor):
            raise TypeError(f"EncryptedTensor wraps an he_tf.HETensor, got {type(hetensor).__name__}")
        self._hetensor = hetensor

    @property
    def hetensor(self) -> HETensor:
        """The wrapped HETensor (for he_tf's own functions, serialization, models)."""
        return self._hetensor

    @property
    def shape(self) -> torch.Size:
        return torch.Size(self._hetensor.shape.as_list())

    @property
    def ndim(self) -> int:
        return self._hetensor.rank

    def dim(self) -> int:
        return self._hetensor.rank

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    @property
    def dtype(self) -> torch.dtype:
        """The plaintext's dtype (float64 for tensors from :func:`encrypt`)."""
        return getattr(torch, self._hetensor.dtype.name)

    def decrypt(self, secret: he_tf.SecretKey) -> torch.Tensor:
        """The plaintext, with the key set's :class:`he_tf.SecretKey`: a float64 ``torch.Tensor``."""
        values = he_tf.decrypt(secret, self._hetensor).numpy()
        return torch.from_numpy(np.asarray(values, dtype=np.float64))

    def __repr__(self) -> str:
        return f"EncryptedTensor({self._hetensor!r})"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        route = _BY_CALLABLE.get(func)
        if route is None:
            raise _refusal(torch.overrides.resolve_name(func) or getattr(func, "__name__", repr(func)))
        return route(*args, **(kwargs or {}))

    def __getattr__(self, name: str):
        # Only for attributes not defined here: a torch.Tensor method then names itself in the refusal.
        if not name.startswith("__") and hasattr(torch.Tensor, name):
            raise _refusal(f"torch.Tensor.{name}")
        raise AttributeError(f"'EncryptedTensor' object has no attribute {name!r}")

    def __bool__(self):
        raise TypeError("the truth value of an encrypted tensor is unknown; decrypt it first")


def encrypt(public: he_tf.PublicContext, tensor, layout: str = "batch",
            secret: he_tf.SecretKey | None = None) -> EncryptedTensor:
    """``tensor`` (a floating-point ``torch.Tensor``, NumPy array or nested list) encrypted under ``public``.

    Encrypted as float64. ``layout``: ``"batch"`` packs axis 0 (samples) into
    slots, ``"vector"`` the last axis (see :func:`he_tf.encrypt`, also for ``secret``).
    """
    if isinstance(tensor, torch.Tensor):
        if not tensor.dtype.is_floating_point:
            raise TypeError(f"encrypt takes floating-point tensors, got {tensor.dtype}; cast it first "
                            "(.double())")
        tensor = tensor.detach().cpu().numpy()
    values = np.asarray(tensor)
    if not np.issubdtype(values.dtype, np.floating):
        raise TypeError(f"encrypt takes floating-point values, got {values.dtype}; cast them first")
    return EncryptedTensor(he_tf.encrypt(public, values.astype(np.float64), layout=layout, secret=secret))


def as_encrypted(hetensor: HETensor) -> EncryptedTensor:
    """``hetensor`` as an :class:`EncryptedTensor` (a wrapper, no copy)."""
    return EncryptedTensor(hetensor)


def polyval(coeffs, x):
    """``coeffs[0] * x**(n-1) + ... + coeffs[-1]`` (highest degree first, as ``tf.math.polyval``).

    On a ``torch.Tensor`` by Horner's rule in torch; on an :class:`EncryptedTensor`
    one ``he_tf.polyval`` (``ceil(log2(degree)) + 1`` levels, fewer than Horner's
    ``degree``), through ``__torch_function__``.
    """
    if torch.overrides.has_torch_function_unary(x):
        return torch.overrides.handle_torch_function(polyval, (x,), coeffs, x)
    coeffs = torch.as_tensor(coeffs).reshape(-1).tolist()
    y = torch.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        y = y * x + c
    return y


class Square(torch.nn.Module):
    """``x * x`` as a module: a polynomial activation ``he_tf.models.from_torch`` imports (one level)."""

    def forward(self, x):
        return torch.square(x)


class PolynomialActivation(torch.nn.Module):
    """``polyval(coeffs, x)`` as a module; ``coeffs`` highest degree first (e.g. from
    ``he_tf.approx.fit_polynomial``), kept as a float64 buffer (saved in ``state_dict``).

    The PyTorch twin of :class:`he_tf.models.PolynomialActivation`; ``he_tf.models.from_torch`` imports it.
    """

    def __init__(self, coeffs: Sequence[float]) -> None:
        super().__init__()
        coeffs = torch.as_tensor(np.asarray(coeffs, dtype=np.float64).reshape(-1))
        if coeffs.numel() < 2:
            raise ValueError("a polynomial activation needs degree >= 1 (at least 2 coefficients)")
        if not bool(torch.isfinite(coeffs).all()):
            raise ValueError("a polynomial activation's coefficients must be finite")
        self.register_buffer("coeffs", coeffs)

    def forward(self, x):
        return polyval(self.coeffs, x)

    def extra_repr(self) -> str:
        return f"degree {self.coeffs.numel() - 1}"


def _refusal(name: str) -> TypeError:
    return TypeError(
        f"{name} is not supported on encrypted tensors (he_tf.torch.EncryptedTensor): he-tf computes "
        f"{', '.join(b.function for b in BINDINGS)} (and their Tensor methods and operators) on ciphertexts. "
        "Comparisons and other non-polynomial functions need the key owner: decrypt first, or approximate "
        "the function with a polynomial (he_tf.torch.PolynomialActivation)"
    )


def _value(x):
    """An operand as he_tf takes it: the HETensor of an encrypted tensor, a torch tensor's values."""
    if isinstance(x, EncryptedTensor):
        return x._hetensor
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x


def _is_encrypted(x) -> bool:
    return isinstance(x, (EncryptedTensor, HETensor))


# The bindings and their argument adaptation: torch's arguments to he_tf.<op>'s.

def _scaled(other, alpha):
    """``alpha * other`` for torch.add/sub's ``alpha`` (a level if ``other`` is encrypted)."""
    other = _value(other)
    if alpha == 1:
        return other
    return he_tf.multiply(other, alpha) if isinstance(other, HETensor) else np.multiply(other, alpha)


def _add(input, other, *, alpha=1):
    return he_tf.add(_value(input), _scaled(other, alpha))


def _sub(input, other, *, alpha=1):
    return he_tf.subtract(_value(input), _scaled(other, alpha))


def _mul(input, other):
    return he_tf.multiply(_value(input), _value(other))


def _div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        raise TypeError(f"rounding_mode={rounding_mode!r} is not supported on encrypted tensors (no rounding "
                        "under CKKS); only true division by a plaintext")
    return he_tf.divide(_value(input), _value(other))


def _neg(input):
    return he_tf.negative(_value(input))


def _square(input):
    return he_tf.square(_value(input))


def _pow(input, exponent):
    if not _is_encrypted(input) or _is_encrypted(exponent) or _value(exponent) != 2:
        raise TypeError(f"torch.pow is supported on encrypted tensors for exponent 2 only (x ** 2, a "
                        f"square), got {type(exponent).__name__} exponent {exponent!r}; write other powers "
                        "as products or with he_tf.torch.polyval")
    return he_tf.square(_value(input))


def _matmul(input, other):
    return he_tf.matmul(_value(input), _value(other))


def _linear(input, weight, bias=None):
    """``F.linear``: ``input @ weight.T + bias``."""
    weight = _value(weight)
    y = he_tf.matmul(_value(input), he_tf.transpose(weight) if isinstance(weight, HETensor) else weight.T)
    return y if bias is None else he_tf.add(y, _value(bias))


def _sum(input, dim=None, keepdim=False):
    return he_tf.reduce_sum(_value(input), dim, keepdim)


def _t(input):
    """``torch.t``: the transpose of a matrix; vectors and scalars as they are."""
    x = _value(input)
    if x.rank > 2:
        raise ValueError(f"torch.t expects a tensor with at most 2 dimensions, got shape {tuple(x.shape)}; "
                         "use torch.transpose or permute on plaintext")
    return he_tf.transpose(x) if x.rank == 2 else x


def _sizes(given, keyword) -> list[int]:
    """A size argument given as ``keyword=``, as one sequence, or spread (``x.reshape(2, 3)``)."""
    if keyword is None:
        keyword = given[0] if len(given) == 1 and isinstance(given[0], (tuple, list, torch.Size)) else given
    return [int(d) for d in keyword]


def _reshape(input, *dims, shape=None):
    """``torch.reshape(x, shape)`` and ``x.reshape(*shape)`` / ``x.reshape(shape)``."""
    return he_tf.reshape(_value(input), _sizes(dims, shape))


def _transpose(input, dim0, dim1):
    x = _value(input)
    perm = list(range(x.rank))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return he_tf.transpose(x, perm)


def _permute(input, *order, dims=None):
    return he_tf.transpose(_value(input), _sizes(order, dims))


def _encrypted_list(function: str, tensors) -> list[HETensor]:
    plain = [type(t).__name__ for t in tensors if not _is_encrypted(t)]
    if plain:
        raise TypeError(f"{function} of encrypted tensors with plaintext ones ({', '.join(plain)}) is not "
                        "supported; encrypt them too (he_tf.torch.encrypt) with the same layout")
    return [_value(t) for t in tensors]


def _cat(tensors, dim=0):
    return he_tf.concat(_encrypted_list("torch.cat", tensors), dim)


def _stack(tensors, dim=0):
    return he_tf.stack(_encrypted_list("torch.stack", tensors), dim)


def _roll(input, shifts, dims=None):
    if dims is None:
        raise ValueError("torch.roll without dims rolls the flattened tensor, which would merge the axis "
                         "packed into ciphertext slots with the others; give dims")
    return he_tf.roll(_value(input), shifts, dims)


def _index_select(input, dim, index):
    return he_tf.gather(_value(input), _value(index), dim)


def _polyval(coeffs, x):
    return he_tf.polyval(np.asarray(_value(coeffs), dtype=np.float64).reshape(-1), _value(x))


@dataclasses.dataclass(frozen=True)
class _Route:
    """A binding, the adaptation of its function's arguments, and the operators on encrypted tensors
    that reach it (``__radd__``-style ones with the operands swapped)."""

    binding: Binding
    adapt: Callable
    operators: tuple[str, ...] = ()


_ROUTES: tuple[_Route, ...] = (
    _Route(Binding("torch.add", "add", "`alpha` too; `x.add`, `+`"), _add, ("__add__", "__radd__")),
    _Route(Binding("torch.sub", "subtract", "`alpha` too; `x.sub`, `-`"), _sub, ("__sub__", "__rsub__")),
    _Route(Binding("torch.subtract", "subtract", "as `torch.sub`"), _sub),
    _Route(Binding("torch.mul", "multiply", "`x.mul`, `*`"), _mul, ("__mul__", "__rmul__")),
    _Route(Binding("torch.multiply", "multiply", "as `torch.mul`"), _mul),
    _Route(Binding("torch.div", "divide", "no `rounding_mode`; `x.div`, `/`"), _div,
           ("__truediv__",)),
    _Route(Binding("torch.neg", "negative", "`x.neg`, unary `-`"), _neg, ("__neg__",)),
    _Route(Binding("torch.negative", "negative", "as `torch.neg`"), _neg),
    _Route(Binding("torch.square", "square", "`x.square`"), _square),
    _Route(Binding("torch.pow", "square", "exponent 2 only; `x.pow(2)`, `x ** 2`"), _pow, ("__pow__",)),
    _Route(Binding("torch.matmul", "matmul", "`x.matmul`, `@`"), _matmul,
           ("__matmul__", "__rmatmul__")),
    _Route(Binding("torch.mm", "matmul", "`x.mm`"), _matmul),
    _Route(Binding("torch.nn.functional.linear", "matmul",
                   "`input @ weight.T + bias` (then `add`), input or weight plaintext: `nn.Linear`"),
           _linear),
    _Route(Binding("torch.sum", "reduce_sum", "`dim` (int or tuple), `keepdim`; `x.sum`"), _sum),
    _Route(Binding("torch.t", "transpose", "at most 2 dimensions; `x.t`"), _t),
    _Route(Binding("torch.reshape", "reshape", "the packed axis kept whole; `x.reshape`"), _reshape),
    _Route(Binding("torch.transpose", "transpose", "of two dims; `x.transpose`"), _transpose),
    _Route(Binding("torch.permute", "transpose", "`x.permute`"), _permute),
    _Route(Binding("torch.cat", "concat", "encrypted tensors only, not along the packed axis"), _cat),
    _Route(Binding("torch.concat", "concat", "as `torch.cat`"), _cat),
    _Route(Binding("torch.stack", "stack", "encrypted tensors only"), _stack),
    _Route(Binding("torch.roll", "roll", "with `dims`; on the packed axis by rotations; `x.roll`"), _roll),
    _Route(Binding("torch.index_select", "gather", "not along the packed axis; `x.index_select`"),
           _index_select),
    _Route(Binding("he_tf.torch.polyval", "polyval",
                   "highest degree first; `PolynomialActivation`'s forward"), _polyval),
)

BINDINGS: tuple[Binding, ...] = tuple(route.binding for route in _ROUTES)
"""Every function he_tf.torch computes on encrypted tensors, and the op of the op table that computes it."""


def _callable(path: str):
    """The function a binding names: ``"torch.nn.functional.linear"``, or one of this module's."""
    if path.startswith(f"{__name__}."):
        return globals()[path.removeprefix(f"{__name__}.")]
    target = torch
    for attribute in path.split(".")[1:]:
        target = getattr(target, attribute)
    return target


def _routed(route: _Route) -> Callable:
    """Runs a binding on torch's arguments; the result encrypted tensor wrapped; bad arguments named."""
    adapt, function = route.adapt, route.binding.function
    signature = inspect.signature(adapt)

    @functools.wraps(adapt)
    def run(*args, **kwargs):
        try:
            result = adapt(*args, **kwargs)
        except TypeError as e:
            try:
                signature.bind(*args, **kwargs)
            except TypeError:
                raise TypeError(f"{function} on encrypted tensors takes {signature}: {e}") from None
            raise
        return EncryptedTensor(result) if isinstance(result, HETensor) else result

    return run


def _swapped(run: Callable) -> Callable:
    return lambda self, other: run(other, self)


def _build() -> dict:
    """What ``__torch_function__`` answers (each function and its Tensor method) and the methods and
    operators of :class:`EncryptedTensor`, from the routes."""
    by_callable = {}
    for route in _ROUTES:
        run = _routed(route)
        function = _callable(route.binding.function)
        by_callable[function] = run
        name = route.binding.function.rpartition(".")[2]
        method = getattr(torch.Tensor, name, None) if route.binding.function == f"torch.{name}" else None
        if method is not None:
            by_callable[method] = run
            setattr(EncryptedTensor, name, run)
        for dunder in route.operators:
            setattr(EncryptedTensor, dunder, _swapped(run) if dunder.startswith("__r") else run)
    return by_callable


def _refuse_operator(dunder: str) -> Callable:
    def refuse(self, *args, **kwargs):
        raise _refusal(f"torch.Tensor.{dunder}")

    return refuse


_BY_CALLABLE = _build()

# torch.Tensor's other operators and protocols (comparisons, indexing, iteration, conversion to numbers
# or arrays) on an encrypted tensor: a TypeError naming them, not Python's defaults.
for _dunder in (
    "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__abs__", "__pos__", "__invert__",
    "__rpow__", "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__and__", "__rand__",
    "__or__", "__ror__", "__xor__", "__rxor__", "__lshift__", "__rshift__", "__getitem__", "__setitem__",
    "__len__", "__iter__", "__contains__", "__float__", "__int__", "__index__", "__complex__", "__array__",
):
    setattr(EncryptedTensor, _dunder, _refuse_operator(_dunder))
del _dunder

__all__ = [
    "BINDINGS", "EncryptedTensor", "PolynomialActivation", "Square", "as_encrypted", "encrypt", "polyval",
]
