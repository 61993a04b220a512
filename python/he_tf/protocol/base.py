"""The protocol contract: what a protocol, built in or a plugin, implements.

A protocol decides which cryptography computes on private values. It
subclasses :class:`Protocol` and

- names itself (:attr:`Protocol.name`) and declares the contract version it
  was written for (:attr:`Protocol.contract_version`, checked when a plugin loads);
- says who takes part (:attr:`Protocol.players`);
- turns plaintext into private values (:meth:`~Protocol.define_private_input`,
  :meth:`~Protocol.define_private_variable`) and back, for one player only
  (:meth:`~Protocol.define_output`);
- has a private tensor type (:attr:`Protocol.tensor_type`): a
  ``tf.experimental.ExtensionType`` that mixes in :class:`PrivateTensor` and
  declares a ``protocol_key: str`` field naming the protocol instance. Its
  tensors then answer ``he_tf.<op>``, the ``tf.*`` APIs and Python's operators
  for every op of the op table (``he_tf.optable``);
- implements each op it supports as a method of the op's name taking the op's
  arguments (``def matmul(self, a, b)``); an op it lacks is refused with a
  TypeError naming the op, the protocol and the protocols that have it;
- registers conversions to and from other protocols with
  :func:`register_conversion`.

Protocols are found by name through the entry point group ``he_tf.protocols``
(``he_tf.protocol.available()``, ``he_tf.protocol.create(name)``); see
docs/plugins.md. The protocol in force is the innermost ``with protocol:``
block, else the one installed with :func:`set_protocol`.
"""

from __future__ import annotations

import itertools
from typing import Callable, ClassVar, Optional

from he_tf.protocol.players import get_config
from he_tf.tensor import HETensor

# The version of this contract. A plugin declares the version it implements; one built for another is
# refused when it loads. Raise it when a change here breaks existing protocols.
CONTRACT_VERSION = 1


class PrivateTensor:
    """Mixin of protocols' private tensor ExtensionTypes; they declare ``protocol_key: str``.

    The op table (``he_tf.optable``) installs the operators (``+``, ``-``, ``*``, ``@``, unary ``-``)
    on this class; the tf.* APIs dispatch on every subclass a protocol declares as its tensor type.
    """

    __array_ufunc__ = None  # NumPy operands defer to our operators

    @property
    def protocol(self) -> Protocol:
        return lookup(self.protocol_key)

    def __bool__(self):
        raise TypeError("the truth value of a private tensor is unknown; reveal it with he_tf.define_output")


def is_private(value) -> bool:
    """Whether ``value`` is a private tensor of some protocol (an HETensor is CKKS's)."""
    return isinstance(value, (HETensor, PrivateTensor))


_instances: dict[str, "Protocol"] = {}
_counter = itertools.count()
_stack: list["Protocol"] = []
_installed: Optional["Protocol"] = None
_tensor_types: list[type] = []
_tensor_type_hooks: list[Callable[[type], None]] = []


def on_tensor_type(hook: Callable[[type], None]) -> None:
    """Calls ``hook(cls)`` for every protocol tensor type, those declared so far and those to come."""
    _tensor_type_hooks.append(hook)
    for cls in _tensor_types:
        hook(cls)


def _declare_tensor_type(cls: type) -> None:
    if cls in _tensor_types:
        return
    if cls is not HETensor and not (isinstance(cls, type) and issubclass(cls, PrivateTensor)):
        raise TypeError(f"a protocol's tensor_type must mix in he_tf.protocol.PrivateTensor, got {cls!r}")
    _tensor_types.append(cls)
    for hook in _tensor_type_hooks:
        hook(cls)


_declare_tensor_type(HETensor)  # CKKS's: its ops go to the op table's CKKS implementations


class Protocol:
    """Base class of protocols. Subclasses implement the private-value API and the ops they support."""

    name: ClassVar[str] = "protocol"
    contract_version: ClassVar[int] = CONTRACT_VERSION
    tensor_type: ClassVar[Optional[type]] = None  # the private tensor ExtensionType (HETensor for CKKS)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.tensor_type is not None:
            _declare_tensor_type(cls.tensor_type)

    def __init__(self) -> None:
        self.key = f"{self.name}-{next(_counter)}"
        _instances[self.key] = self

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
        """A private variable with initial ``value`` (a plaintext of ``owner``'s)."""
        raise NotImplementedError(f"{self.name} does not define private variables")

    def define_output(self, player: str, fn: Optional[Callable], x):
        """Reveals ``x`` to ``player`` only; ``fn`` (if given) post-processes it on that player's device."""
        raise NotImplementedError(f"{self.name} does not define outputs")

    def owns(self, value) -> bool:
        """Whether ``value`` is a private tensor of this protocol."""
        return getattr(value, "protocol_key", None) == self.key

    # --- ops ------------------------------------------------------------------------------------
    @classmethod
    def supports(cls, op: str) -> bool:
        """Whether this protocol computes ``op`` (one of the op table's names) on its private tensors:
        by default, whether it has a method of that name."""
        return callable(getattr(cls, op, None))

    # --- scoping --------------------------------------------------------------------------------
    def __enter__(self) -> "Protocol":
        _stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack.remove(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r})"


def protocol_classes() -> list[type]:
    """Every subclass of :class:`Protocol` defined in this process (built in, or of a plugin imported)."""
    found, todo = [], [Protocol]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def lookup(key: str) -> Protocol:
    """The protocol a private tensor's ``protocol_key`` names."""
    try:
        return _instances[key]
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
    if isinstance(value, HETensor):
        return _owner_of(value)
    raise TypeError(f"{type(value).__name__} is not a private tensor of any protocol")


def _owner_of(x: HETensor) -> Protocol:
    """The protocol that owns an HETensor: the one in force, or any other that says it does."""
    candidates = [p for p in (_stack[::-1] + [_installed] + list(_instances.values())) if p is not None]
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


def conversion_targets(source: Protocol) -> list[type]:
    """The protocol classes that ``source``'s private tensors can be converted to."""
    return [dst for (src, dst) in _conversions if isinstance(source, src)]


def define_private_input(player: str, fn: Callable[[], object]):
    """A private input that ``player`` supplies by running ``fn()`` on its device, under the protocol in force."""
    return get_protocol().define_private_input(player, fn)


def define_private_variable(value, owner: str):
    """A private variable with initial ``value``, owned by ``owner``, under the protocol in force."""
    return get_protocol().define_private_variable(value, owner)


def define_output(player: str, fn: Optional[Callable], x):
    """Reveals private ``x`` to ``player`` only; ``fn(value)``, if given, runs on that player's device."""
    return protocol_of(x).define_output(player, fn, x)
