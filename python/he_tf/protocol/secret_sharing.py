"""SecretSharing: two-party additive secret sharing over Z_2^64 in fixed point, with a Beaver-triple dealer.

>>> import he_tf
>>> from he_tf.protocol.secret_sharing import SecretSharing
>>> he_tf.set_config(he_tf.LocalConfig(["alice", "bob", "dealer", "client"]))
>>> with SecretSharing(players=("alice", "bob"), dealer="dealer") as ss:
...     x = he_tf.define_private_input("client", lambda: [[1.0, 2.0]])
...     y = he_tf.define_output("client", None, x * x + 1.0)   # ~ [[2.0, 5.0]]

A private value v is held as ring shares (v0, v1) with v0 + v1 = round(v * 2^f) mod 2^64, v0 on the
first player's device and v1 on the second's. Additions, public multipliers, sums, reshapes and
transposes are local; a product of two private values costs one Beaver triple from the dealer and one
exchange of masked shares; fixed-point products are truncated locally (SecureML), exact to one unit
of 2^-f except with probability about |product| * 2^(2f) / 2^64 per element (``ring.truncate_share``).
Comparisons (greater, less, relu, maximum, reduce_max, argmax) are exact, 8 rounds each, by binary
triples (:mod:`he_tf.protocol.comparison`).

Security model: semi-honest players, a dealer that colludes with neither player. Every tensor that
reaches a player goes through ``transcript.send``/``place``, so ``he_tf.protocol.recording()`` shows
who saw what: each player sees one share of every private value, the masked openings, and its share
of each triple; the dealer receives no value, only (in a ``tf.function`` with dimensions known at run
time only) the shapes of the factors, sent by the first party (kind ``"shape"``): no op on the dealer's
device reads a share.

Randomness: every mask, share and triple is drawn on the drawing player's device by ``ops.random_ring``
(SEAL's Blake2xb PRNG seeded by the operating system); ``uniform=fn(player, shape)`` replaces it. Triples
and square pairs come from the protocol's ``provider`` (:mod:`he_tf.protocol.providers`): the
:class:`~he_tf.protocol.providers.Dealer` by default, or a
:class:`~he_tf.protocol.providers.SeededDealer` that sends the first party only a seed per triple.
"""

from __future__ import annotations

import itertools
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from he_tf import ops
from he_tf.protocol import beaver, ring, transcript
from he_tf.protocol.base import PrivateTensor, Protocol, is_private
from he_tf.protocol.comparison import Comparisons
from he_tf.protocol.fixed_point import FixedPoint
from he_tf.protocol.players import get_config
from he_tf.protocol.providers import Dealer, Provider, Roles, Shape, Uniform


class SharedTensor(tf.experimental.ExtensionType, PrivateTensor):
    """A private value of a :class:`SecretSharing` protocol: two ring shares on two players' devices.

    ``share0 + share1 = round(value * 2^fraction_bits) mod 2^64``; ``share0`` lives with the protocol's
    first player, ``share1`` with the second. ``fraction_bits`` is the protocol's f, or 2f for a product
    not yet truncated.
    """

    share0: tf.Tensor
    share1: tf.Tensor
    fraction_bits: int
    protocol_key: str

    def __validate__(self):
        if self.share0.dtype != tf.int64 or self.share1.dtype != tf.int64:
            raise TypeError(f"shares are tf.int64, got {self.share0.dtype.name} and {self.share1.dtype.name}")
        if not self.share0.shape.is_compatible_with(self.share1.shape):
            raise ValueError(f"shares of different shapes {self.share0.shape} and {self.share1.shape}")

    @property
    def shape(self) -> tf.TensorShape:
        return self.share0.shape

    @property
    def dtype(self) -> tf.DType:
        """The dtype the value is revealed as."""
        return tf.float64

    @property
    def shares(self) -> tuple[tf.Tensor, tf.Tensor]:
        return self.share0, self.share1


class SecretSharing(Comparisons, Protocol):
    """Two-party additive secret sharing (semi-honest) with a dealer of Beaver triples.

    Parameters
    ----------
    players
        The two computing players (first holds share 0, second share 1).
    dealer
        The player that deals triples; it never receives a value and may not receive outputs.
    fraction_bits
        Fixed-point fraction bits f (resolution 2^-f; products need |x*y| < 2^(63 - 2f)).
    headroom_bits
        Inputs and public constants must have |x| < 2^(63 - f - headroom_bits).
    outputs
        Players allowed to receive revealed values: every configured player but the dealer by default.
    uniform
        ``fn(player, shape)`` drawing uniform int64 on that player's device; ``ops.random_ring`` by default.
    provider
        Where Beaver triples, square pairs and the comparisons' binary triples and bits come from
        (:mod:`he_tf.protocol.providers`, the place a plugin supplies correlated randomness): a
        :class:`~he_tf.protocol.providers.Dealer` by default.

    Raises
    ------
    ValueError
        For repeated players, bad bit counts or outputs including the dealer.
    UnknownPlayerError
        For names the installed config does not know.
    """

    name = "secret_sharing"
    tensor_type = SharedTensor

    def __init__(self, players: Sequence[str] = ("client", "server"), dealer: str = "dealer",
                 fraction_bits: int = 16, headroom_bits: int = 16, outputs: Optional[Sequence[str]] = None,
                 uniform: Optional[Uniform] = None, provider: Optional[Provider] = None) -> None:
        players = tuple(players)
        if len(players) != 2 or len(set(players + (dealer,))) != 3:
            raise ValueError(f"SecretSharing needs two distinct players and a third player as dealer, "
                             f"got players={players}, dealer={dealer!r}")
        self.parties, self.dealer = players, dealer
        self.fixed_point = FixedPoint(fraction_bits, headroom_bits)
        self.check_players()
        if outputs is not None and dealer in outputs:
            raise ValueError(f"the dealer {dealer!r} may not receive outputs: it holds every triple")
        self.outputs = None if outputs is None else tuple(outputs)
        get_config().check(*(self.outputs or ()))
        if provider is not None and not isinstance(provider, Provider):
            raise TypeError(f"provider must be a he_tf.protocol.providers.Provider, "
                            f"got {type(provider).__name__}")
        self.provider = provider or Dealer()
        self._roles = Roles(self.parties, dealer, uniform or default_uniform)
        self._labels = itertools.count()
        super().__init__()  # registers the protocol: only once it is valid

    def __repr__(self) -> str:
        return f"SecretSharing(players={self.parties}, dealer={self.dealer!r}, fraction_bits={self.fraction_bits})"

    @property
    def players(self) -> tuple[str, ...]:
        return self.parties + (self.dealer,)

    @property
    def fraction_bits(self) -> int:
        return self.fixed_point.fraction_bits

    # --- placement, randomness, bookkeeping ------------------------------------------------------

    def _device(self, player: str) -> str:
        return get_config().device(player)

    def _shape(self, x: SharedTensor) -> Shape:
        """`x`'s shape as the first party knows it: static when fully known, else from ``tf.shape`` of its
        own share on its device (a provider sends it on, recorded, to a player that needs it)."""
        with tf.device(self._device(self.parties[0])):
            return _shape_of(x.share0)

    def _label(self, what: str) -> str:
        return f"{what}#{next(self._labels)}"

    def _wrap(self, s0: tf.Tensor, s1: tf.Tensor, bits: int) -> SharedTensor:
        return SharedTensor(s0, s1, bits, self.key)

    def _local(self, fn: Callable[[int, tf.Tensor], tf.Tensor], x: SharedTensor,
               bits: Optional[int] = None) -> SharedTensor:
        """fn(party, share) on each party's device: the ops that need no communication."""
        shares = []
        for party, share in enumerate(x.shares):
            with tf.device(self._device(self.parties[party])):
                shares.append(fn(party, share))
        return self._wrap(*shares, x.fraction_bits if bits is None else bits)

    def _check(self, x, op: str) -> SharedTensor:
        if not self.owns(x):
            what = "a private tensor of another protocol" if is_private(x) else type(x).__name__
            raise TypeError(f"{self.name}.{op}: expected a private tensor of {self!r}, got {what}")
        return x

    def _public(self, value, op: str) -> tuple[tf.Tensor, int]:
        """A public operand as a ring tensor and its fraction bits: integers exactly (0), reals at f."""
        if is_private(value):
            raise TypeError(f"{self.name}.{op}: {value!r} is a private tensor of another protocol; "
                            "convert it with he_tf.convert first")
        if isinstance(value, (tf.Tensor, tf.Variable)) and value.dtype.is_integer or \
                not isinstance(value, (tf.Tensor, tf.Variable)) and np.asarray(value).dtype.kind in "biu":
            return tf.cast(value, tf.int64), 0
        return self.fixed_point.encode(value), self.fraction_bits

    # --- private values ---------------------------------------------------------------------------

    def define_private_input(self, player: str, fn: Callable[[], object]) -> SharedTensor:
        """``fn()`` runs on `player`'s device; its value is encoded there and split into two shares.

        Raises
        ------
        ValueError
            If a value is too large for the fixed-point encoding (checked on `player`'s device).
        """
        name = getattr(fn, "__name__", "")
        return self._share_from(player, fn, name if name.isidentifier() else "input")

    def define_private_variable(self, value, owner: str) -> SharedTensor:
        """`value` (or ``value()``) of `owner`, shared like an input.

        Shares live in tensors, not ``tf.Variable``s: the result is fixed at creation (as for CKKS);
        define a new one to change it.
        """
        return self._share_from(owner, value if callable(value) else lambda: value, "variable")

    def _share_from(self, player: str, fn: Callable[[], object], name: str) -> SharedTensor:
        """Runs `fn` on `player`'s device, encodes and splits its value there, hands out the shares."""
        get_config().check(player)
        label = self._label(name)
        with tf.device(self._device(player)):
            plain = transcript.place(tf.convert_to_tensor(fn(), dtype_hint=tf.float64), on=player,
                                     kind="plaintext", label=label, origin=player)
            encoded = self.fixed_point.encode(plain)
            s0, s1 = ring.share(encoded, self._roles.random(player, _shape_of(encoded)))
        shares = [self._hand_over(s, party, player, f"{label}[share {party}]", origin=player)
                  for party, s in enumerate((s0, s1))]
        return self._wrap(*shares, self.fraction_bits)

    def _hand_over(self, value, party: int, sender: str, label: str, origin: Optional[str],
                   kind: str = "share"):
        """Sends `value` to party `party`, or records it as its own when it already is there."""
        receiver = self.parties[party]
        if receiver == sender:
            return transcript.place(value, on=receiver, kind=kind, label=label, origin=origin)
        return transcript.send(value, to=receiver, sender=sender, kind=kind, label=label, origin=origin)

    def reveal(self, x: SharedTensor, to: str) -> tf.Tensor:
        """The value of `x` (float64), reconstructed on player `to`'s device only.

        Raises
        ------
        ValueError
            If `to` is the dealer or not among the allowed ``outputs``.
        """
        x = self._check(x, "reveal")
        get_config().check(to)
        if to == self.dealer or self.outputs is not None and to not in self.outputs:
            allowed = self.outputs or tuple(p for p in get_config().players if p != self.dealer)
            raise ValueError(f"{self.name}: {to!r} may not receive outputs; allowed: {', '.join(allowed)}")
        label = self._label("output")
        received = []
        for party, share in enumerate(x.shares):
            sender = self.parties[party]
            received.append(share if sender == to else transcript.send(
                share, to=to, sender=sender, kind="share", label=f"{label}[share {party}]"))
        with tf.device(self._device(to)):
            return tf.cast(ring.reconstruct(*received), tf.float64) * 2.0**-x.fraction_bits

    def define_output(self, player: str, fn: Optional[Callable], x: SharedTensor):
        """Reveals `x` to `player` only; ``fn(value)``, if given, runs on that player's device."""
        value = self.reveal(x, player)
        if fn is None:
            return value
        with tf.device(self._device(player)):
            return fn(value)

    # --- linear ops (local) ---------------------------------------------------------------------

    def add(self, x, y) -> SharedTensor:
        """x + y; a public operand is added by the first player only."""
        return self._add_or_subtract(x, y, ring.add, "add")

    def subtract(self, x, y) -> SharedTensor:
        """x - y; either operand may be public."""
        return self._add_or_subtract(x, y, ring.sub, "subtract")

    def _add_or_subtract(self, x, y, op, name: str) -> SharedTensor:
        if is_private(x) and is_private(y):
            x, y = self._align(self._check(x, name), self._check(y, name))
            shares = []
            for party in (0, 1):
                with tf.device(self._device(self.parties[party])):
                    shares.append(op(x.shares[party], y.shares[party]))
            return self._wrap(*shares, x.fraction_bits)
        private, public, swapped = (x, y, False) if is_private(x) else (y, x, True)
        private = self._check(private, name)
        value = self._public_at(public, private.fraction_bits, name)

        def step(party, share):
            # Only party 0 adds the public value; party 1 broadcasts with zeros to keep the shapes equal.
            operand = value if party == 0 else tf.zeros_like(value)
            return op(operand, share) if swapped else op(share, operand)

        return self._local(step, private)

    def _public_at(self, value, bits: int, op: str) -> tf.Tensor:
        """A public operand in the ring with `bits` fraction bits."""
        encoded, have = self._public(value, op)
        if bits >= have:
            return ring.mul(encoded, tf.constant(1 << (bits - have), tf.int64))
        return ring.shift_right(encoded, have - bits)

    def _align(self, x: SharedTensor, y: SharedTensor) -> tuple[SharedTensor, SharedTensor]:
        """Brings two private operands to the same fraction bits by scaling the lower one up (exact)."""
        if x.fraction_bits < y.fraction_bits:
            return self._scale_up(x, y.fraction_bits), y
        if y.fraction_bits < x.fraction_bits:
            return x, self._scale_up(y, x.fraction_bits)
        return x, y

    def _scale_up(self, x: SharedTensor, bits: int) -> SharedTensor:
        factor = tf.constant(1 << (bits - x.fraction_bits), tf.int64)
        return self._local(lambda _, s: ring.mul(s, factor), x, bits)

    def negative(self, x) -> SharedTensor:
        """-x."""
        return self._local(lambda _, s: ring.neg(s), self._check(x, "negative"))

    def reduce_sum(self, x, axis=None, keepdims: bool = False) -> SharedTensor:
        """Sum over `axis` (all axes when None); the sum must stay within the headroom."""
        return self._local(lambda _, s: ring.reduce_sum(s, axis, keepdims), self._check(x, "reduce_sum"))

    def reshape(self, x, shape) -> SharedTensor:
        return self._local(lambda _, s: tf.reshape(s, shape), self._check(x, "reshape"))

    def transpose(self, x, perm=None) -> SharedTensor:
        return self._local(lambda _, s: tf.transpose(s, perm), self._check(x, "transpose"))

    def truncate(self, x, bits: Optional[int] = None) -> SharedTensor:
        """Drops `bits` fraction bits (default: down to the protocol's f), locally on each share.

        Exact to one unit of the last kept place, except with probability about |x| * 2^b / 2^64 per
        element, b the fraction bits before (``ring.truncate_share``).
        """
        x = self._check(x, "truncate")
        bits = x.fraction_bits - self.fraction_bits if bits is None else bits
        if not isinstance(bits, int) or not 0 <= bits <= x.fraction_bits:
            raise ValueError(f"{self.name}.truncate: can drop 0..{x.fraction_bits} fraction bits, "
                             f"got {bits!r}")
        if bits == 0:
            return x
        return self._local(lambda party, s: ring.truncate_share(s, party, bits), x, x.fraction_bits - bits)

    def _finish(self, z: SharedTensor, truncate: bool) -> SharedTensor:
        return self.truncate(z) if truncate and z.fraction_bits > self.fraction_bits else z

    def _product_bits(self, a: int, b: int, op: str) -> int:
        if a + b > ring.BITS - 2:
            raise ValueError(f"{self.name}.{op}: a product of values with {a} and {b} fraction bits would "
                             f"have {a + b} > {ring.BITS - 2}; truncate the operands first")
        return a + b

    # --- products -------------------------------------------------------------------------------

    def multiply(self, x, y, truncate: bool = True) -> SharedTensor:
        """x * y (broadcasting). Two private operands cost one triple and one exchange; a public operand is
        multiplied locally by both players. With `truncate`, the result is brought back to f fraction bits."""
        return self._product(x, y, "multiply", truncate)

    def matmul(self, x, y, truncate: bool = True) -> SharedTensor:
        """x @ y over the last two axes; either operand may be public (local then)."""
        return self._product(x, y, "matmul", truncate)

    def _product(self, x, y, kind: beaver.Kind, truncate: bool) -> SharedTensor:
        op = ring.mul if kind == "multiply" else ring.matmul
        if is_private(x) and is_private(y):
            x, y = self._check(x, kind), self._check(y, kind)
            if kind == "multiply" and x is y:
                return self.square(x, truncate)
            bits = self._product_bits(x.fraction_bits, y.fraction_bits, kind)
            return self._finish(self._beaver(x, y, kind, bits), truncate)
        if is_private(x):
            x = self._check(x, kind)
            value, have = self._public(y, kind)
            bits = self._product_bits(x.fraction_bits, have, kind)
            z = self._local(lambda _, s: op(s, value), x, bits)
        else:
            y = self._check(y, kind)
            value, have = self._public(x, kind)
            bits = self._product_bits(have, y.fraction_bits, kind)
            z = self._local(lambda _, s: op(value, s), y, bits)
        return self._finish(z, truncate)

    def _exchange(self, label: str, masked: Sequence, open_fn: Optional[Callable] = None) -> list:
        """Each party sends its masked shares to the other; returns the opened values at each party:
        ``open_fn(own, received)``, by default their sums in the ring."""
        opened = []
        for party in (0, 1):
            other = 1 - party
            received = transcript.send(masked[other], to=self.parties[party], sender=self.parties[other],
                                       kind="masked", label=f"{label}[masked share {other}]")
            with tf.device(self._device(self.parties[party])):
                own = masked[party]
                opened.append(tf.nest.map_structure(ring.reconstruct, own, received) if open_fn is None
                              else open_fn(own, received))
        return opened

    def _beaver(self, x: SharedTensor, y: SharedTensor, kind: beaver.Kind, bits: int) -> SharedTensor:
        label = self._label(kind)

        if kind == "multiply":  # refuses bad shapes before any dealing
            ring.broadcast_shape(kind, x.shape, y.shape)
        else:
            ring.matmul_shape(x.shape, y.shape)
        triples = self.provider.triple(self._roles, kind, label, self._shape(x), self._shape(y))
        masked = []
        for party in (0, 1):
            with tf.device(self._device(self.parties[party])):
                masked.append(beaver.mask(x.shares[party], y.shares[party], triples[party]))
        opened = self._exchange(label, masked)
        shares = []
        for party in (0, 1):
            with tf.device(self._device(self.parties[party])):
                e, f = opened[party]
                shares.append(beaver.combine(party, e, f, triples[party], kind))
        return self._wrap(*shares, bits)

    def square(self, x, truncate: bool = True) -> SharedTensor:
        """x * x with a square pair (a, a^2): one opening instead of two."""
        x = self._check(x, "square")
        bits = self._product_bits(x.fraction_bits, x.fraction_bits, "square")
        label = self._label("square")
        pairs = self.provider.square_pair(self._roles, label, self._shape(x))
        masked = []
        for party in (0, 1):
            with tf.device(self._device(self.parties[party])):
                masked.append(beaver.mask_square(x.shares[party], pairs[party]))
        opened = self._exchange(label, masked)
        shares = []
        for party in (0, 1):
            with tf.device(self._device(self.parties[party])):
                shares.append(beaver.combine_square(party, opened[party], pairs[party]))
        return self._finish(self._wrap(*shares, bits), truncate)

    def polyval(self, coeffs, x) -> SharedTensor:
        """sum_i coeffs[i] * x^(n-1-i) (``tf.math.polyval`` order) by Horner's rule, public coefficients.

        n - 2 triples and n - 1 truncations for n coefficients; each truncation adds up to 2^-f, which the
        later steps multiply by |x|.
        """
        x = self._check(x, "polyval")
        if isinstance(coeffs, (tf.Tensor, np.ndarray)):
            coeffs = list(tf.unstack(tf.convert_to_tensor(coeffs, dtype_hint=tf.float64)))
        coeffs = list(coeffs)
        if not coeffs:
            raise ValueError(f"{self.name}.polyval needs at least one coefficient")
        if any(is_private(c) for c in coeffs):
            raise TypeError(f"{self.name}.polyval: coefficients must be public")
        if len(coeffs) == 1:
            return self.add(self._local(lambda _, s: tf.zeros_like(s), x), coeffs[0])
        result = self.add(self.multiply(coeffs[0], x), coeffs[1])  # public * x: local
        for c in coeffs[2:]:
            result = self.add(self.multiply(result, x), c)
        return result


def default_uniform(player: str, shape) -> tf.Tensor:
    """Uniform Z_2^64 elements from the cryptographic PRNG op (runs under the player's tf.device)."""
    if isinstance(shape, tf.TensorShape):
        shape = shape.as_list()
    return ops.random_ring(tf.cast(shape, tf.int64))


def _shape_of(t: tf.Tensor) -> Shape:
    """`t`'s :data:`Shape`; a ``tf.shape`` op (under the caller's device) only when it is not fully known."""
    return t.shape if t.shape.is_fully_defined() else (t.shape, tf.shape(t))
