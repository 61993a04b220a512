"""Protocols: which cryptography computes on private values.

A :class:`Protocol` defines private inputs, variables and outputs and the ops
on its private tensors. ``CKKS`` (homomorphic encryption: private tensors are
HETensors) and ``SecretSharing`` (two-party additive shares) are built in;
other packages add more by subclassing :class:`Protocol` and registering a
private tensor type with :func:`register_tensor_type`.

The protocol in force is the innermost ``with protocol:`` block, else the one
installed with :func:`set_protocol`.
"""

from __future__ import annotations

import itertools
from typing import Callable, ClassVar, Optional

from he_tf.protocol.players import get_config

# Ops every protocol may implement; private tensors support them as he_tf.*
# functions, through tf.* dispatch and as operators.
OPS = ("add", "subtract", "negative", "multiply", "matmul", "square", "reduce_sum", "polyval")

_protocols: dict[str, "Protocol"] = {}
_counter = itertools.count()
_stack: list["Protocol"] = []
_installed: Optional["Protocol"] = None


class Protocol:
    """Base class of protocols. Subclasses implement the private-value API and the ops they support."""

    name: ClassVar[str] = "protocol"

    def __init__(self) -> None:
        self.key = f"{self.name}-{next(_counter)}"
        _protocols[self.key] = self

    @property
    def players(self) -> tuple[str, ...]:
        """The players this protocol involves (checked against the config on use)."""
        raise NotImplementedError

    def check_players(self) -> None:
        get_config().check(*self.players)

    # --- private values -------------------------------------------------------------------------
    def define_private_input(self, player: str, fn: Callable[[], object]):
        """``fn()`` runs on ``player``'s device; its result becomes private to the computation."""
        raise NotImplementedError(f"{self.name} does not define private inputs")

    def define_private_variable(self, value, owner: str):
        raise NotImplementedError(f"{self.name} does not define private variables")

    def define_output(self, player: str, fn: Optional[Callable], x):
        """Reveals ``x`` to ``player`` only; ``fn`` (if given) post-processes it on that player's device."""
        raise NotImplementedError(f"{self.name} does not define outputs")

    def owns(self, value) -> bool:
        """Whether ``value`` is a private tensor of this protocol."""
        return getattr(value, "protocol_key", None) == self.key

    # --- ops ------------------------------------------------------------------------------------
    def unsupported(self, op: str):
        raise TypeError(f"the {self.name} protocol does not support {op}")

    # --- scoping --------------------------------------------------------------------------------
    def __enter__(self) -> "Protocol":
        _stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack.remove(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r})"


def lookup(key: str) -> Protocol:
    """The protocol a private tensor's ``protocol_key`` names."""
    try:
        return _protocols[key]
    except KeyError:
        raise ValueError(f"no protocol {key!r} exists in this process") from None


def set_protocol(protocol: Optional[Protocol]) -> None:
    """Installs the protocol used outside any ``with protocol:`` block (None uninstalls)."""
    global _installed
    if protocol is not None and not isinstance(protocol, Protocol):
        raise TypeError(f"set_protocol takes a he_tf protocol, got {type(protocol).__name__}")
    _installed = protocol


def get_protocol() -> Protocol:
    """The protocol in force; raises if none is."""
    if _stack:
        return _stack[-1]
    if _installed is None:
        raise RuntimeError(
            "no protocol is in force: call he_tf.set_protocol(he_tf.protocol.CKKS(key_owner=...)) or use "
            "`with protocol:`"
        )
    return _installed


def protocol_of(value) -> Protocol:
    """The protocol ``value`` is private to (for an HETensor: the CKKS protocol of its key set)."""
    key = getattr(value, "protocol_key", None)
    if key is not None:
        return lookup(key)
    from he_tf.tensor import HETensor

    if isinstance(value, HETensor):
        return _ckks_protocol_of(value)
    raise TypeError(f"{type(value).__name__} is not a private tensor of any protocol")


def _ckks_protocol_of(x) -> Protocol:
    """The CKKS protocol an HETensor belongs to: the one in force, or the only one with its parameters."""
    candidates = [p for p in (_stack[::-1] + [_installed] + list(_protocols.values())) if p is not None]
    for p in candidates:
        if p.owns(x):
            return p
    raise ValueError(
        "this HETensor belongs to no CKKS protocol in force; create it with define_private_input of a "
        "he_tf.protocol.CKKS protocol, or run inside `with protocol:`"
    )


# Conversions between protocol classes: (source class, target class) -> fn(x, source, target).
_conversions: dict[tuple[type, type], Callable] = {}


def register_conversion(source: type, target: type):
    """Registers the decorated ``fn(x, source, target)`` converting private tensors from ``source`` to ``target``."""

    def decorator(fn):
        _conversions[(source, target)] = fn
        return fn

    return decorator


def convert(x, to: Protocol):
    """Re-expresses private tensor ``x`` under protocol ``to`` (e.g. CKKS ciphertexts to secret shares)."""
    if not isinstance(to, Protocol):
        raise TypeError(f"convert needs a protocol as `to`, got {type(to).__name__}")
    source = protocol_of(x)
    if source is to:
        return x
    for (src, dst), fn in _conversions.items():
        if isinstance(source, src) and isinstance(to, dst):
            return fn(x, source, to)
    raise TypeError(f"he-tf cannot convert private tensors from {source!r} to {to!r}")


def define_private_input(player: str, fn: Callable[[], object]):
    """A private input that ``player`` supplies by running ``fn()`` on its device, under the protocol in force."""
    return get_protocol().define_private_input(player, fn)


def define_private_variable(value, owner: str):
    """A private variable with initial ``value``, owned by ``owner``, under the protocol in force."""
    return get_protocol().define_private_variable(value, owner)


def define_output(player: str, fn: Optional[Callable], x):
    """Reveals private ``x`` to ``player`` only; ``fn(value)``, if given, runs on that player's device."""
    return protocol_of(x).define_output(player, fn, x)
