"""Pointers: values on a player's device, computed on there, received elsewhere only as their policy allows.

A :class:`Pointer` holds a TensorFlow tensor (or ``tf.Variable``) that lives on one player's device, its
*location*, and the value's :class:`~he_tf.remote.policy.Policy`. TensorFlow ops and Python operators on
pointers run on the location (``with tf.device(location)``; over a ``ClusterConfig`` that is TensorFlow's
eager remote execution) and give pointers. The value itself moves only through :func:`send`,
:meth:`Pointer.get` and :meth:`Pointer.move`, each a ``he_tf.protocol.transcript`` send, so
``he_tf.protocol.recording()`` lists every transfer.

"I" is the installed config's ``local_player``: the process running this code, which sends, receives
and grants as that player. Over a ``ClusterConfig`` remote ops are asynchronous (TensorFlow's remote
eager execution): a call returns once the op is queued, and an error on the player surfaces when a
value that depends on it is fetched. The policy's refusals are raised at once, before anything moves.
"""

from __future__ import annotations

import operator
import re
from typing import Callable, Iterable, Optional

import numpy as np
import tensorflow as tf
from tensorflow.python.util import dispatch as tf_dispatch

from he_tf.protocol import base, transcript
from he_tf.protocol.players import get_config
from he_tf.remote.policy import Policy


class MixedLocationsError(ValueError):
    """An op on pointers that live on different players: ops run where the data is, so one must move first."""


def whoami() -> str:
    """The player this process is: the installed config's ``local_player``.

    Raises
    ------
    ValueError
        If the config names none, saying how to name one.
    """
    config = get_config()
    if config.local_player is None:
        raise ValueError(
            f"he_tf.remote needs to know which player this process is, and {config!r} names none: install "
            "e.g. he_tf.LocalConfig(['client', 'alice'], local_player='client'), or a "
            "he_tf.ClusterConfig(..., local_player='client') connected as that player (config.connect())"
        )
    return config.local_player


def _device(player: str) -> str:
    return get_config().device(player)


def _check_players(players: Iterable[str]) -> tuple[str, ...]:
    players = (players,) if isinstance(players, str) else tuple(players)
    get_config().check(*players)
    return players


def _origin(policy: Policy) -> str:
    """The transcript's origin of a value: its owners, comma-separated."""
    return ",".join(sorted(policy.owners))


def _local_tensor(value, what: str, dtype_hint: Optional[tf.DType] = None) -> tf.Tensor:
    """`value` as a tensor of this process; refuses a tensor that lives on another player's device."""
    mine = _device(whoami())
    device = getattr(value, "device", "")
    if isinstance(value, (tf.Tensor, tf.Variable)) and device and device != mine:
        raise ValueError(f"{what} takes this process's values (device {mine}) or pointers; this tensor lives on "
                         f"{device}. Values on other players move only as pointers: ptr.move(player)")
    if isinstance(value, np.ndarray) and not (value.dtype.kind == "f" and dtype_hint is not None
                                              and dtype_hint.is_floating):
        dtype_hint = None  # integer arrays (indices, shapes) keep their type
    with tf.device(mine):
        return tf.convert_to_tensor(value, dtype_hint=dtype_hint)


class RemoteValue:
    """Something on player ``location``'s device, with the policy saying who may receive it."""

    def __init__(self, location: str, policy: Policy, label: str):
        self._location, self._policy, self._label = location, policy, label

    @property
    def location(self) -> str:
        """The player whose device holds the value."""
        return self._location

    @property
    def owners(self) -> frozenset[str]:
        """The players whose data the value carries."""
        return self._policy.owners

    @property
    def owner(self) -> str:
        """The one owner; ValueError for a value computed from several owners' data (see :attr:`owners`)."""
        if len(self.owners) != 1:
            raise ValueError(f"{self._label!r} carries data of several players: {sorted(self.owners)}")
        return next(iter(self.owners))

    @property
    def readers(self) -> frozenset[str]:
        """The players allowed to receive the value: those every owner allows."""
        return self._policy.readers

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def label(self) -> str:
        return self._label

    def grant(self, player: str):
        """Allows `player` to receive this value (and values computed from it afterwards), as this
        process's player, which must be one of its owners. Returns the pointer.

        Raises
        ------
        PermissionError
            If this process's player is not an owner.
        """
        me = whoami()
        _check_players(player)
        if me not in self.owners:
            raise PermissionError(f"only an owner grants access to {self._label!r}: its owners are "
                                  f"{sorted(self.owners)}, and this process is {me!r}")
        self._policy = self._policy.granting(me, player)
        return self

    def _check_receiver(self, player: str, action: str) -> None:
        if player in self.readers:
            return
        refusing = sorted(o for o in self.owners if player not in self._policy.allowed_by(o))
        raise PermissionError(
            f"{action}: {player!r} may not receive {self._label!r} (on {self._location!r}): it carries data of "
            f"{sorted(self.owners)}, and {refusing} {'does' if len(refusing) == 1 else 'do'} not allow "
            f"{player!r}. An owner allows it with ptr.grant({player!r}) in that owner's process; ops on the "
            "pointer still run where it is"
        )


class Pointer(RemoteValue):
    """A tensor (or ``tf.Variable``) on player ``location``'s device, with the policy saying who may
    receive it.

    Made by :func:`send`, :func:`define_input` and ops on pointers, not directly. Its shape and dtype
    are public (the driving process knows them, as TensorFlow's remote tensor handles do).
    """

    __array_ufunc__ = None  # NumPy operands defer to the pointer's operators

    def __init__(self, value, location: str, policy: Policy, label: str):
        super().__init__(location, policy, label)
        self._value = value

    @property
    def shape(self) -> tf.TensorShape:
        return self._value.shape

    @property
    def dtype(self) -> tf.DType:
        return self._value.dtype

    @property
    def device(self) -> str:
        """The TensorFlow device of the value (``location``'s device)."""
        return self._value.device

    @property
    def is_variable(self) -> bool:
        return isinstance(self._value, tf.Variable)

    # --- transfers ---------------------------------------------------------------------------------
    def _tensor(self) -> tf.Tensor:
        """The value as a tensor on the location (a variable is read there)."""
        if isinstance(self._value, tf.Variable):
            with tf.device(_device(self._location)):
                return self._value.read_value()
        return self._value

    def get(self) -> tf.Tensor:
        """The value, brought to this process's device.

        Raises
        ------
        PermissionError
            Unless every owner allows this process's player (an owner is allowed its own data).
        """
        me = whoami()
        self._check_receiver(me, "get")
        return transcript.send(self._tensor(), to=me, sender=self._location, kind="plaintext",
                               label=self._label, origin=_origin(self._policy))

    def move(self, to: str) -> "Pointer":
        """A pointer to a copy of the value on player `to` (sent there from the location), same policy.

        Raises
        ------
        PermissionError
            Unless every owner allows `to`.
        """
        _check_players(to)
        if to == self._location:
            return self
        self._check_receiver(to, "move")
        moved = transcript.send(self._tensor(), to=to, sender=self._location, kind="plaintext",
                                label=self._label, origin=_origin(self._policy))
        if isinstance(self._value, tf.Variable):
            with tf.device(_device(to)):
                moved = tf.Variable(moved, trainable=self._value.trainable)
        return Pointer(moved, to, self._policy, self._label)

    # --- variables ----------------------------------------------------------------------------------
    def _update(self, method: str, value) -> "Pointer":
        if not isinstance(self._value, tf.Variable):
            raise TypeError(f"{method} needs a pointer to a tf.Variable (he_tf.remote.send(tf.Variable(...), "
                            f"player)); {self._label!r} is a tensor")
        def update(variable, v):
            getattr(variable, method)(v, read_value=False)

        _apply(update, method, (self, value), {})
        if isinstance(value, Pointer):
            self._policy = self._policy.join(value._policy)
        return self

    def assign(self, value) -> "Pointer":
        """Assigns `value` (a pointer on the same player, or this process's value) to the variable there."""
        return self._update("assign", value)

    def assign_add(self, value) -> "Pointer":
        return self._update("assign_add", value)

    def assign_sub(self, value) -> "Pointer":
        return self._update("assign_sub", value)

    # --- what it refuses ----------------------------------------------------------------------------
    def numpy(self):
        raise TypeError(f"{self._label!r} lives on {self._location!r}: bring it here with ptr.get() (if its "
                        "owners allow), then .numpy()")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"a pointer (to {self._label!r} on {self._location!r}) is not an array here: compute "
                        "on it with TensorFlow ops, or ptr.get() it")

    def __bool__(self):
        raise TypeError("the truth value of a pointer is on another player: ptr.get() it first")

    def __iter__(self):
        raise TypeError("a pointer cannot be iterated here: index it (ptr[i]) or tf.unstack it, which give "
                        "pointers")

    def __repr__(self) -> str:
        return (f"<Pointer {self._label!r} on {self._location!r}: shape {self.shape}, {self.dtype.name}"
                f"{', variable' if self.is_variable else ''}; owners {sorted(self.owners)}, readers "
                f"{sorted(self.readers)}>")


# How to send values that are not tensors: (accepts(value), send(value, to, readers=, label=)), e.g. Keras
# models (he_tf.remote.models registers them).
_SENDERS: list[tuple[Callable[[object], bool], Callable]] = []


def register_sender(accepts: Callable[[object], bool], sender: Callable) -> None:
    """Makes :func:`send` hand the values that `accepts` to `sender`."""
    _SENDERS.append((accepts, sender))


def send(value, to: str, *, readers: Iterable[str] = (), label: Optional[str] = None):
    """Places `value` on player `to`'s device; returns a pointer owned by this process's player.

    `value` is a tensor or array of this process, a ``tf.Variable`` (a variable is made on `to`), a
    Keras model (its weights go to `to`: a :class:`~he_tf.remote.models.ModelPointer`) or a pointer
    (``ptr.move(to)``). `readers` are granted right away. The transfer is a transcript send (kind
    ``plaintext``, origin this process's player).

    Raises
    ------
    UnknownPlayerError
        If the config does not know `to` or a reader.
    ValueError
        If this process has no player (:func:`whoami`), or `value` is a tensor on another device.
    """
    if isinstance(value, Pointer):
        return value.move(to)
    if isinstance(value, RemoteValue):
        raise TypeError(f"{value!r} stays where it is; send the local value instead")
    readers = _check_players(readers)
    _check_players(to)
    me = whoami()
    for accepts, sender in _SENDERS:
        if accepts(value):
            return sender(value, to, readers=readers, label=label)
    if label is None:
        label = value.name if isinstance(value, tf.Variable) else f"value of {me}"
    moved = transcript.send(_local_tensor(value, "send"), to=to, sender=me, kind="plaintext", label=label,
                            origin=me)
    if isinstance(value, tf.Variable):
        with tf.device(_device(to)):
            moved = tf.Variable(moved, trainable=value.trainable)
    return Pointer(moved, to, Policy.owned_by(me, readers), label)


def define_input(player: str, fn: Callable[[], object], *, readers: Iterable[str] = (),
                 label: Optional[str] = None):
    """`player`'s own data: ``fn()`` runs on `player`'s device; returns a pointer owned by `player`.

    `readers` are the players `player` allows besides itself (its policy, declared with the data).
    ``fn`` may return a tuple of values: then a tuple of pointers. The value is
    recorded as placed on `player` (transcript kind ``plaintext``, origin `player`). Python and NumPy
    values that ``fn`` returns come from this process; for data that never passes through it, read
    it with TensorFlow ops that run on `player`'s device (``tf.io.read_file`` of `player`'s file).
    """
    if not callable(fn):
        raise TypeError(f"define_input takes a function that makes the value on {player!r}'s device, got "
                        f"{type(fn).__name__}")
    _check_players(player)
    policy = Policy.owned_by(player, _check_players(readers))
    fn_name = getattr(fn, "__name__", "")
    label = label or (fn_name if fn_name.isidentifier() else f"input of {player}")
    with tf.device(_device(player)):
        out = fn()

        def wrap(value):
            placed = transcript.place(tf.convert_to_tensor(value), on=player, kind="plaintext", label=label,
                                      origin=player)
            return Pointer(placed, player, policy, label)

        return tuple(wrap(v) for v in out) if isinstance(out, tuple) else wrap(out)


def apply(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` on the location of the pointers among the arguments; its tensors as pointers.

    Every TensorFlow API with dispatch support (``tf.matmul``, ``tf.reduce_sum``, ``tf.nn.relu``, ...)
    and every operator on a pointer comes here. The results' policy joins the pointer operands'
    (:meth:`Policy.join`). This process's arrays and tensors among the arguments are sent to the
    location (recorded, kind ``plaintext``, label ``argument of <op>``); Python numbers, lists of
    them and other attributes (axes, shapes) travel with the op's description, unrecorded.

    Raises
    ------
    MixedLocationsError
        If pointers on several players meet: move one first (``ptr.move(player)``).
    ValueError
        If ``fn`` returns a tensor on another device.
    """
    return _apply(fn, getattr(fn, "__name__", "op"), args, kwargs)


def _apply(fn: Callable, name: str, args: tuple, kwargs: dict, holders: tuple[RemoteValue, ...] = ()):
    """`apply`, with `holders` (e.g. a model pointer whose weights `fn` uses) counted like pointer arguments."""
    pointers = [v for v in tf.nest.flatten((args, kwargs)) if isinstance(v, Pointer)] + list(holders)
    if not pointers:
        raise TypeError(f"he_tf.remote.apply({name}, ...) needs a pointer among its arguments")
    locations = sorted({p.location for p in pointers})
    if len(locations) > 1:
        raise MixedLocationsError(
            f"{name} mixes pointers on {locations}: ops run where the data is, so bring them together "
            f"first, e.g. ptr.move({locations[0]!r}) (the value's owners must allow {locations[0]!r})")
    location, me = locations[0], whoami()
    hint = next((p.dtype for p in pointers if isinstance(p, Pointer)), None)

    def unwrap(value):
        if isinstance(value, Pointer):
            return value._value
        if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)):
            return transcript.send(_local_tensor(value, name, hint), to=location, sender=me, kind="plaintext",
                                   label=f"argument of {name}", origin=me)
        return value

    args, kwargs = tf.nest.map_structure(unwrap, (args, kwargs))
    device = _device(location)
    with tf.device(device):
        out = fn(*args, **kwargs)
    policy = Policy.join_all(p._policy for p in pointers)

    def wrap(value):
        if not isinstance(value, (tf.Tensor, tf.Variable)):
            return value
        if value.device and value.device != device:
            raise ValueError(f"{name} on {location!r}'s pointers returned a tensor on {value.device}; results "
                             f"stay on {device}, values move only with ptr.move or ptr.get")
        return Pointer(value, location, policy, name)

    return tf.nest.map_structure(wrap, out)


def define_private_input(ptr: Pointer, protocol: Optional[base.Protocol] = None):
    """`ptr`'s value as its location's private input of `protocol` (default: the protocol in force).

    The value does not move: the protocol's ``define_private_input`` runs on the location, where the
    protocol encrypts or shares it. Allowed when the location owns the value, alone or with others
    (e.g. weights it trained on its own data from another player's model): a player enters only data
    it has a part in. What the protocol then reveals, and to whom, is its ``define_output``'s: only
    enter a value in a computation whose outputs its owners agreed to (such as an aggregate).

    Raises
    ------
    PermissionError
        If the location is not among the value's owners.
    """
    if not isinstance(ptr, Pointer):
        raise TypeError(f"define_private_input takes a pointer, got {type(ptr).__name__}")
    if ptr.location not in ptr.owners:
        raise PermissionError(f"{ptr.location!r} holds {ptr.label!r} but does not own it (owners "
                              f"{sorted(ptr.owners)}): a player enters only values it owns as its private input")
    protocol = protocol or base.get_protocol()

    def value():
        return ptr._tensor()

    value.__name__ = re.sub(r"\W+", "_", ptr.label).strip("_") or "pointer"  # the protocol's label
    return protocol.define_private_input(ptr.location, value)


def _binary(fn: Callable, name: str, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: _apply(fn, name, (other, self), {})
    return lambda self, other: _apply(fn, name, (self, other), {})


# Python's operators as TensorFlow's tensors define them (Python numbers take the tensor's dtype).
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    setattr(Pointer, f"__{_name}__", _binary(getattr(operator, _name), _name))
    setattr(Pointer, f"__r{_name}__", _binary(getattr(operator, _name), _name, reflected=True))
for _name in ("lt", "le", "gt", "ge"):
    setattr(Pointer, f"__{_name}__", _binary(getattr(operator, _name), _name))
Pointer.__neg__ = lambda self: _apply(operator.neg, "neg", (self,), {})
Pointer.__abs__ = lambda self: _apply(operator.abs, "abs", (self,), {})
Pointer.__getitem__ = lambda self, key: _apply(operator.getitem, "getitem", (self, key), {})


class _PointerDispatcher(tf_dispatch.GlobalOpDispatcher):
    """Called when a TensorFlow API failed on its arguments: runs it on the location if one was a pointer."""

    def handle(self, op, args, kwargs):
        try:
            leaves = tf.nest.flatten((args, kwargs))
        except (TypeError, ValueError):  # arguments TensorFlow's nest cannot walk hold no pointer of ours
            return self.NOT_SUPPORTED
        if any(isinstance(v, Pointer) for v in leaves):
            return apply(op, *args, **kwargs)
        return self.NOT_SUPPORTED


_PointerDispatcher().register()
