"""The CKKS protocol: private tensors are HETensors under one key owner's keys.

The key owner generates the key set on its own device and sends only the
public context to the other players. Input players encrypt with the public
context and send the ciphertexts to the evaluator, which computes on them
with he_tf's ops. Only the key owner can receive an output: it gets the
ciphertext and decrypts it on its device. To reveal a value to anyone else,
convert it to secret shares (``he_tf.convert(x, to=SecretSharing(...))``) and
reveal it there.

>>> import he_tf
>>> he_tf.set_config(he_tf.LocalConfig(["client", "server"]))
>>> ckks = he_tf.protocol.CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(1))
>>> with ckks:
...     x = he_tf.define_private_input("client", lambda: [[1.0, 2.0]])
...     y = he_tf.define_output("client", None, x * 2.0)   # ~ [[2.0, 4.0]]
"""

from __future__ import annotations

import math
import weakref
from typing import Callable, Iterable, Optional

import tensorflow as tf

from he_tf import encryption, ops, optable
from he_tf.keys import KeySet
from he_tf.params import Params
from he_tf.protocol import transcript
from he_tf.protocol.players import get_config
from he_tf.protocol.base import Protocol
from he_tf.tensor import LAYOUTS, HETensor

DEFAULT_HIDING_BITS = 40
DEFAULT_VALUE_BOUND = 64.0  # |values| the conversions' masks are sized for: 2^6

# id(context tensor) -> (weak reference, protocol key): tells apart CKKS protocols with equal parameters.
# he_tf's ops pass an HETensor's context tensor on unchanged, so every result keeps its protocol's.
_context_owners: dict[int, tuple[weakref.ref, str]] = {}


def _register_context(context: tf.Tensor, protocol_key: str) -> None:
    key = id(context)
    _context_owners[key] = (weakref.ref(context, lambda _: _context_owners.pop(key, None)), protocol_key)


def _context_owner(context: tf.Tensor) -> Optional[str]:
    entry = _context_owners.get(id(context))
    return entry[1] if entry is not None and entry[0]() is context else None


class CKKS(Protocol):
    """Homomorphic encryption (CKKS) as a protocol.

    Parameters
    ----------
    key_owner:
        The player that generates and keeps the secret key; the only one who can receive outputs.
    evaluator:
        The player that holds the private tensors (ciphertexts) and computes on them.
    params:
        CKKS parameters (default ``Params()``). Converting to secret shares needs one level above
        what the computation uses, see ``docs/protocols.md``.
    rotations:
        Galois keys to generate, as for :meth:`he_tf.KeySet.generate` (``None``: none, faster keygen;
        enough for batch-layout linear layers).
    layout:
        How ``define_private_input`` packs values into slots: ``"batch"`` (axis 0) or ``"vector"``.
    hiding_bits:
        Statistical hiding of conversion masks: a value with ``|v| <= value_bound`` is masked by a
        uniform value of ``2^hiding_bits`` times that range, statistical distance ``<= 2^-hiding_bits``.
    value_bound:
        The magnitude the conversion masks are sized for (default 64). Larger values still convert
        correctly but are hidden less well (distance ``|v| / (value_bound * 2^hiding_bits)``).
    flood_bits:
        Noise flooding when converting to shares: the evaluator adds a random polynomial with
        coefficients uniform in ``[-2^flood_bits, 2^flood_bits]`` before the key owner decrypts, to
        hide the ciphertext noise (which depends on the evaluator's computation). ``None`` picks the
        largest amount that costs at most ``2^-(fraction_bits + 4)`` of precision, see
        :meth:`default_flood_bits` (``ValueError`` when that leaves no flooding at all); 0 disables it.
    """

    name = "ckks"
    tensor_type = HETensor

    def __init__(
        self,
        key_owner: str = "client",
        evaluator: str = "server",
        params: Optional[Params] = None,
        rotations: Iterable[int] | str | None = "power_of_two",
        layout: str = "batch",
        hiding_bits: int = DEFAULT_HIDING_BITS,
        value_bound: float = DEFAULT_VALUE_BOUND,
        flood_bits: Optional[int] = None,
    ) -> None:
        if key_owner == evaluator:
            raise ValueError(f"the key owner and the evaluator must be different players, both are {key_owner!r}")
        if params is not None and not isinstance(params, Params):
            raise TypeError(f"params must be a he_tf.Params, got {type(params).__name__}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if not isinstance(hiding_bits, int) or not 0 <= hiding_bits <= 60:
            raise ValueError(f"hiding_bits must be an integer in [0, 60], got {hiding_bits!r}")
        if not value_bound > 0 or not math.isfinite(value_bound):
            raise ValueError(f"value_bound must be a positive finite number, got {value_bound!r}")
        if flood_bits is not None and (not isinstance(flood_bits, int) or flood_bits < 0):
            raise ValueError(f"flood_bits must be None or an integer >= 0, got {flood_bits!r}")
        self.key_owner, self.evaluator = key_owner, evaluator
        self.layout = layout
        self.hiding_bits, self.value_bound, self.flood_bits = hiding_bits, float(value_bound), flood_bits
        self.check_players()  # before registering: a failed construction must leave no protocol behind
        self.params = params or Params()
        self._contexts: dict[str, tf.Tensor] = {}  # each player's copy of the public context
        self._scopes: list = []  # the evaluator's device scopes of nested `with self:` blocks
        # Generated by an op on the key owner's device: the secret key's bytes exist nowhere else.
        self._keys = KeySet.generate(self.params, rotations, device=self._device(key_owner))
        super().__init__()
        # The secret key is the key owner's own; it is never sent (tests check the transcript).
        with tf.init_scope():
            transcript.place(self._keys.secret.tensor, on=key_owner, kind="secret_key", label="secret key",
                             origin=key_owner)
        with tf.init_scope(), tf.device(self._device(key_owner)):  # the key owner's own copy, on its device
            self._contexts[key_owner] = ops.public_context(tf.constant(self._keys.public.serialize()))
        _register_context(self._keys.public.tensor, self.key)
        _register_context(self._contexts[key_owner], self.key)
        self._context_for(evaluator)

    # --- players and keys ---------------------------------------------------------------------------
    @property
    def players(self) -> tuple[str, ...]:
        return (self.key_owner, self.evaluator)

    @property
    def public_context(self):
        """The key set's :class:`he_tf.PublicContext` (safe to share)."""
        return self._keys.public

    def _device(self, player: str) -> str:
        return get_config().device(player)

    def _context_for(self, player: str) -> tf.Tensor:
        """``player``'s copy of the public context, sent by the key owner on first use."""
        if player not in self._contexts:
            with tf.init_scope():  # an eager tensor, reusable by every later trace
                self._contexts[player] = transcript.send(
                    self._keys.public.tensor, to=player, sender=self.key_owner, kind="public_context",
                    label="public context",
                )
                _register_context(self._contexts[player], self.key)
        return self._contexts[player]

    def owns(self, value) -> bool:
        """Whether ``value`` is an HETensor of this protocol's key set.

        Known by its context tensor when this protocol made or received it; otherwise (e.g. an HETensor
        passed into a ``tf.function`` as an argument) any CKKS protocol with the same parameters claims it.
        """
        if not isinstance(value, HETensor) or value.params != self.params.as_tuple():
            return False
        owner = _context_owner(value.context)
        return owner is None or owner == self.key

    @classmethod
    def supports(cls, op: str) -> bool:
        """Every op of the op table with a CKKS implementation (``he_tf.optable``; comparisons have none)."""
        return op in optable.BY_NAME and optable.BY_NAME[op].ckks is not None

    def send(self, x: HETensor, *, to: str, sender: str, kind: str, label: str, origin: Optional[str] = None
             ) -> HETensor:
        """Sends ``x``'s ciphertexts to ``to``, who computes on them with its own copy of the public context."""
        return transcript.send(x, to=to, sender=sender, kind=kind, label=label, origin=origin,
                               context=self._context_for(to))

    def default_flood_bits(self, fraction_bits: int, scale: float) -> int:
        """Flooding that costs about ``2^-(fraction_bits + 4)`` in the value at ``scale``.

        A random polynomial with coefficients of magnitude ``2^flood_bits`` shifts each decoded slot
        by about ``2^flood_bits * sqrt(N) / scale``. An explicit ``flood_bits`` (0 included) is returned
        as given.

        Raises
        ------
        ValueError
            With ``flood_bits=None``, when that amount is <= 0 (``fraction_bits`` too close to
            ``log2(scale)``): converting would hide none of the evaluator's noise. The message names the
            numbers and the fixes.
        """
        if self.flood_bits is not None:
            return self.flood_bits
        half_log_n = math.log2(self.params.poly_modulus_degree) / 2
        bits = int(math.floor(math.log2(scale) - fraction_bits - 4 - half_log_n))
        if bits > 0:
            return bits
        most = int(math.floor(math.log2(scale) - 5 - half_log_n))  # the largest f that leaves 1 bit
        raise ValueError(
            f"no room for noise flooding: flood_bits = floor(log2(scale) {math.log2(scale):g} - "
            f"fraction_bits {fraction_bits} - 4 - log2(N)/2 {half_log_n:g}) = {bits} <= 0, so converting to "
            f"shares would hide none of the evaluator's ciphertext noise. Fixes: fraction_bits <= {most} in "
            "SecretSharing(...); a larger scale (Params scale_bits); or pass flood_bits to CKKS(...) "
            "explicitly (flood_bits=0 disables flooding knowingly)"
        )

    # --- private values -----------------------------------------------------------------------------
    def define_private_input(self, player: str, fn: Callable[[], object]) -> HETensor:
        """``fn()`` runs on ``player``'s device; ``player`` encrypts it and sends it to the evaluator.

        Raises
        ------
        UnknownPlayerError
            If the config does not know ``player``.
        TypeError
            If ``fn`` is not callable or returns non-numeric values.
        """
        if not callable(fn):
            raise TypeError(f"define_private_input takes a function that returns the value, got {type(fn).__name__}")
        with tf.device(self._device(player)):
            value = _as_float(fn(), "define_private_input")
        return self._encrypt_and_send(player, value, "input")

    def define_private_variable(self, value, owner: str) -> HETensor:
        """``value`` (or ``value()``) encrypted by ``owner`` and held by the evaluator.

        Ciphertexts cannot live in a ``tf.Variable``: the result is an HETensor fixed at creation;
        define a new one to change it.
        """
        with tf.device(self._device(owner)):
            value = _as_float(value() if callable(value) else value, "define_private_variable")
        return self._encrypt_and_send(owner, value, "variable")

    def _encrypt_and_send(self, player: str, value: tf.Tensor, label: str) -> HETensor:
        context = self._context_for(player)
        value = transcript.place(value, on=player, kind="plaintext", label=f"{label} of {player}", origin=player)
        with tf.device(self._device(player)):
            x = encryption.encrypt_with_context(context, self.params, value, self.layout)
        if player == self.evaluator:
            return x
        return self.send(x, to=self.evaluator, sender=player, kind="ciphertext", label=f"{label} of {player}",
                         origin=player)

    def define_output(self, player: str, fn: Optional[Callable], x: HETensor):
        """Decrypts ``x`` for the key owner; ``fn(value)``, if given, runs on the key owner's device.

        Raises
        ------
        PermissionError
            If ``player`` is not the key owner: nobody else can decrypt. Convert ``x`` to a
            ``SecretSharing`` protocol with ``he_tf.convert`` and reveal it there instead.
        """
        get_config().check(player)
        if not self.owns(x):
            raise TypeError(f"define_output of {self!r} takes one of its HETensors, got {type(x).__name__}")
        if player != self.key_owner:
            raise PermissionError(
                f"CKKS can reveal a value only to the key owner {self.key_owner!r}, who holds the secret key; "
                f"{player!r} cannot decrypt. To reveal it to {player!r}, convert it to secret shares first: "
                f"he_tf.define_output({player!r}, fn, he_tf.convert(x, to=he_tf.protocol.SecretSharing("
                f"players=({self.key_owner!r}, {self.evaluator!r}), ...)))"
            )
        received = self.send(x, to=player, sender=self.evaluator, kind="ciphertext", label="output")
        with tf.device(self._device(player)):
            value = encryption.decrypt(self._keys.secret, received)
            value = transcript.place(value, on=player, kind="plaintext", label="output (decrypted)")
            return value if fn is None else fn(value)

    # --- conversions support -------------------------------------------------------------------------
    def decrypt_fixed_point(self, x: HETensor, num_values: int, fraction_bits: int) -> tf.Tensor:
        """Key owner's step of HE -> shares: exact fixed-point decryption of (masked) ``x``."""
        with tf.device(self._device(self.key_owner)):
            return ops.decrypt_fixed_point(x.context, self._keys.secret.tensor, encryption.checked_ciphertexts(x),
                                           num_values=num_values, fraction_bits=fraction_bits)

    # --- scoping: the evaluator computes ---------------------------------------------------------------
    def __enter__(self) -> "CKKS":
        """Inside ``with ckks:``, ops not placed otherwise (the HETensor arithmetic) run on the evaluator."""
        scope = tf.device(self._device(self.evaluator))
        scope.__enter__()
        self._scopes.append(scope)
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self._scopes.pop().__exit__(*exc)

    def __repr__(self) -> str:
        return f"CKKS(key_owner={self.key_owner!r}, evaluator={self.evaluator!r}, params={self.params})"


def _as_float(value, what: str) -> tf.Tensor:
    value = tf.convert_to_tensor(value, dtype_hint=tf.float64)
    if not (value.dtype.is_floating or value.dtype.is_integer):
        raise TypeError(f"{what}: CKKS encrypts real numbers, got {value.dtype.name}")
    return value if value.dtype.is_floating else tf.cast(value, tf.float64)
