"""Where secret sharing gets its correlated randomness: providers of Beaver triples, square pairs, binary
triples and shared bits.

:class:`~he_tf.protocol.secret_sharing.SecretSharing` asks its provider (``SecretSharing(provider=...)``)
for one fresh triple per product of two private values and one square pair per square, and, for each
comparison (``he_tf.protocol.comparison``), twelve binary (AND) triples on words of 64 down to 1 bits
and one random bit shared both in binary and in the ring (alone for ``greater``/``less``, with a
selection pair (a, a * r) for ``relu``/``maximum``), in the spirit of CrypTen's ``TupleProvider`` and
TF Encrypted's triple sources.
This is the place a plugin supplies correlated randomness (a preprocessing phase, an oblivious-transfer
or HE-based generator, a file of precomputed tuples): subclass :class:`Provider` and implement its five
methods.

The protocol needs nothing else from a third party: an input's two shares are split with its owner's
own randomness, and fixed-point truncation is local (SecureML), so there are no input masks or
truncation pairs to provide.

Two providers are built in:

- :class:`Dealer` (the default): the dealer draws the triple and sends each party its share, 3 ring
  tensors per party per triple (2 for a square pair, 3 words for a binary triple, a byte and a ring
  element per shared bit, plus 2 ring tensors shaped like the value for a selection);
- :class:`SeededDealer`: party 0's share is pseudorandom, so the dealer sends party 0 one 16-byte seed
  (transcript kind ``"seed"``) that party 0 expands on its own device with TensorFlow's stateless random
  ops, and party 1 its share as before (which corrects party 0's pseudorandom part to a valid triple).
  The dealer's bytes drop by about half (``benchmarks/seeded_dealer.py``).

Security. Both assume what the protocol assumes: semi-honest players and a dealer that colludes with
neither party (a dealer that colludes with a party learns the other party's inputs). The seeded dealer
guarantees, with the same dealer:

- against party 0 exactly what the dealer does: party 0's share is a function of the seed alone and
  party 1's share hides a and b under the dealer's own draws from the protocol's ``uniform`` (the
  CSPRNG by default), so party 0's view has the same distribution as with :class:`Dealer`;
- against party 1, computationally only: party 0's masks are pseudorandom instead of uniform, so the
  openings party 1 receives hide party 0's shares only as well as TensorFlow's Philox-4x32-10 stream
  hides its seed. Philox is a counter-based generator built for statistical quality, not a
  cryptographic PRG with a security claim, and TensorFlow derives a 64-bit key from the seed: a search
  over 2^64 keys, far below he-tf's 128-bit target, would recover party 0's masks. Use it where that
  margin is acceptable; the :class:`Dealer` (every mask from the CSPRNG) is the default.

It does not protect against a malicious dealer (a wrong triple gives a wrong result, undetected), a
dealer that colludes with a party, a seed observed in transit (the transport between players must be
confidential, as for every share), or parties on different TensorFlow versions (stateless streams may
change between versions: the expansion would differ and results would be wrong, not leaked).
The seed is drawn by the dealer from the protocol's ``uniform`` (the CSPRNG by default, never a fixed or
time seed), once per triple, and only party 0 receives it.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Callable, Sequence, Union

import tensorflow as tf

from he_tf.protocol import beaver, binary, ring, transcript
from he_tf.protocol.beaver import Kind, SquarePair, Triple
from he_tf.protocol.binary import AndTriple, Selection, SharedBit
from he_tf.protocol.players import get_config

Uniform = Callable[[str, object], tf.Tensor]
# A static shape, or (static, dynamic int32 shape tensor) when some dimensions are only known at run time.
Shape = Union[tf.TensorShape, tuple[tf.TensorShape, tf.Tensor]]
SEED_SHAPE = tf.TensorShape([2])  # two int64: 128 bits, the seed shape of TensorFlow's stateless ops


@dataclasses.dataclass(frozen=True)
class Roles:
    """What a provider knows of the protocol: its two parties, its dealer and how they draw randomness."""

    parties: tuple[str, str]
    dealer: str
    uniform: Uniform

    def device(self, player: str) -> str:
        return get_config().device(player)

    def random(self, player: str, shape: Shape) -> tf.Tensor:
        """Uniform ring elements of `shape` drawn on `player`'s device with ``uniform``.

        A dynamic `shape`'s int32 shape tensor must already be on `player`'s device (:meth:`shape_at`).
        """
        static, dynamic = (shape, None) if isinstance(shape, tf.TensorShape) else shape
        with tf.device(self.device(player)):
            return tf.ensure_shape(self.uniform(player, static if dynamic is None else dynamic), static)

    def shape_at(self, player: str, shape: Shape, label: str) -> Shape:
        """Party 0's `shape` of an operand as `player` may use it: itself when static (public, no op
        touches a share), else sent by party 0 and recorded (kind ``"shape"``)."""
        sender = self.parties[0]
        if isinstance(shape, tf.TensorShape) or player == sender:
            return shape
        static, dynamic = shape
        return static, transcript.send(dynamic, to=player, sender=sender, kind="shape", label=label)

    def hand_out(self, label: str, party: int, share):
        """Sends party `party`'s share of a triple or pair from the dealer (kind ``"share"``)."""
        return transcript.send(share, to=self.parties[party], sender=self.dealer, kind="share",
                               label=f"{label} triple[share {party}]", origin=self.dealer)


class Provider(abc.ABC):
    """A source of correlated randomness for :class:`~he_tf.protocol.secret_sharing.SecretSharing`.

    Each method returns party 0's and party 1's shares, each on its party's device, for one use only.
    Contract: every tensor that reaches a player from another goes through ``transcript.send`` (what
    the parties compute themselves through ``transcript.place``); no op on the dealer's device reads a
    share (the dealer gets shapes from :meth:`Roles.shape_at` only); ``shape_*`` arguments are party 0's
    :data:`Shape` of each operand (static, or with an int32 shape tensor on party 0's device).
    """

    @abc.abstractmethod
    def triple(self, roles: Roles, kind: Kind, label: str, shape_x: Shape,
               shape_y: Shape) -> tuple[Triple, Triple]:
        """Shares of (a, b, c) with a, b uniform shaped like x and y and c = a * b or a @ b (`kind`)."""

    @abc.abstractmethod
    def square_pair(self, roles: Roles, label: str, shape: Shape) -> tuple[SquarePair, SquarePair]:
        """Shares of (a, a^2) with a uniform of `shape`."""

    @abc.abstractmethod
    def and_triple(self, roles: Roles, label: str, shape: Shape, bits: int) -> tuple[AndTriple, AndTriple]:
        """XOR shares of (a, b, a & b) with a, b uniform `bits`-bit words of `shape`, each part in
        ``binary.wire_dtype(bits)`` (``binary.and_triple`` deals them; comparisons)."""

    @abc.abstractmethod
    def shared_bit(self, roles: Roles, label: str, shape: Shape) -> tuple[SharedBit, SharedBit]:
        """Shares of a uniform random bit r of `shape`, XOR-shared and additively shared in the ring
        (turning a binary-shared bit into an arithmetic one)."""

    @abc.abstractmethod
    def selection(self, roles: Roles, label: str, bit_shape: Shape,
                  value_shape: Shape) -> tuple[Selection, Selection]:
        """Shares of a uniform bit r of `bit_shape` (both forms), of a uniform a of `value_shape` and of
        a * r (r broadcast to `value_shape`): a binary-shared bit times a value in one round."""


class Dealer(Provider):
    """The dealer draws each triple on its device and sends each party its share (3 tensors each)."""

    def triple(self, roles, kind, label, shape_x, shape_y):
        sx, sy = _at_dealer(roles, label, shape_x, shape_y)
        with tf.device(roles.device(roles.dealer)):
            sc = product_shape(kind, sx, sy)
            a, b = roles.random(roles.dealer, sx), roles.random(roles.dealer, sy)
            shares = _deal(kind)(a, b, [roles.random(roles.dealer, s) for s in (sx, sy, sc)])
        return tuple(roles.hand_out(label, party, share) for party, share in enumerate(shares))

    def square_pair(self, roles, label, shape):
        (s,) = _at_dealer(roles, label, shape)
        with tf.device(roles.device(roles.dealer)):
            a = roles.random(roles.dealer, s)
            shares = beaver.square_pair(a, (roles.random(roles.dealer, s), roles.random(roles.dealer, s)))
        return tuple(roles.hand_out(label, party, share) for party, share in enumerate(shares))

    def and_triple(self, roles, label, shape, bits):
        (s,) = _at_dealer(roles, label, shape)
        with tf.device(roles.device(roles.dealer)):
            a, b = roles.random(roles.dealer, s), roles.random(roles.dealer, s)
            shares = binary.and_triple(a, b, [roles.random(roles.dealer, s) for _ in range(3)], bits)
        return tuple(roles.hand_out(label, party, share) for party, share in enumerate(shares))

    def shared_bit(self, roles, label, shape):
        (s,) = _at_dealer(roles, label, shape)
        with tf.device(roles.device(roles.dealer)):
            r = _random_bit(roles, s)
            shares = binary.shared_bit(r, (roles.random(roles.dealer, s), roles.random(roles.dealer, s)))
        return tuple(roles.hand_out(label, party, share) for party, share in enumerate(shares))

    def selection(self, roles, label, bit_shape, value_shape):
        sb, sv = _at_dealer(roles, label, bit_shape, value_shape)
        with tf.device(roles.device(roles.dealer)):
            r, a = _random_bit(roles, sb), roles.random(roles.dealer, sv)
            shares = binary.selection(r, a, [roles.random(roles.dealer, s) for s in (sb, sb, sv, sv)])
        return tuple(roles.hand_out(label, party, share) for party, share in enumerate(shares))


class SeededDealer(Provider):
    """Party 0 receives one seed per triple and expands its share itself; party 1 receives its share.

    The dealer draws a, b and a 128-bit seed with the protocol's ``uniform``; party 0's share
    (r_a, r_b, r_c) is the seed's stateless Philox stream (:func:`expand`), computed by the dealer and,
    from the received seed, by party 0; party 1 receives (a - r_a, b - r_b, c - r_c). See the module
    docstring for what this does and does not guarantee.
    """

    def triple(self, roles, kind, label, shape_x, shape_y):
        sx, sy = _at_dealer(roles, label, shape_x, shape_y)
        with tf.device(roles.device(roles.dealer)):
            sc = product_shape(kind, sx, sy)
            a, b = roles.random(roles.dealer, sx), roles.random(roles.dealer, sy)
            seed = roles.random(roles.dealer, SEED_SHAPE)
            _, second = _deal(kind)(a, b, expand(seed, (sx, sy, sc)))
        first = _party0_share(roles, label, seed,
                              lambda: (shape_x, shape_y, product_shape(kind, shape_x, shape_y)))
        return Triple(*first), roles.hand_out(label, 1, second)

    def square_pair(self, roles, label, shape):
        (s,) = _at_dealer(roles, label, shape)
        with tf.device(roles.device(roles.dealer)):
            a = roles.random(roles.dealer, s)
            seed = roles.random(roles.dealer, SEED_SHAPE)
            _, second = beaver.square_pair(a, expand(seed, (s, s)))
        first = _party0_share(roles, label, seed, lambda: (shape, shape))
        return SquarePair(*first), roles.hand_out(label, 1, second)

    def and_triple(self, roles, label, shape, bits):
        (s,) = _at_dealer(roles, label, shape)
        with tf.device(roles.device(roles.dealer)):
            a, b = roles.random(roles.dealer, s), roles.random(roles.dealer, s)
            seed = roles.random(roles.dealer, SEED_SHAPE)
            _, second = binary.and_triple(a, b, expand(seed, (s, s, s)), bits)
        first = _party0_share(roles, label, seed, lambda: (shape, shape, shape))
        with tf.device(roles.device(roles.parties[0])):  # the same low bits the dealer kept
            first = AndTriple(*(binary.narrow(part, bits) for part in first))
        return first, roles.hand_out(label, 1, second)

    def shared_bit(self, roles, label, shape):
        (s,) = _at_dealer(roles, label, shape)
        with tf.device(roles.device(roles.dealer)):
            r = _random_bit(roles, s)
            seed = roles.random(roles.dealer, SEED_SHAPE)
            _, second = binary.shared_bit(r, expand(seed, (s, s)))
        # Party 0 derives the same share from the seed: bit 0 of the first word, the second as is.
        (word, element) = _party0_share(roles, label, seed, lambda: (shape, shape))
        with tf.device(roles.device(roles.parties[0])):
            mine = SharedBit(tf.cast(tf.bitwise.bitwise_and(word, 1), tf.uint8), element)
        return mine, roles.hand_out(label, 1, second)

    def selection(self, roles, label, bit_shape, value_shape):
        sb, sv = _at_dealer(roles, label, bit_shape, value_shape)
        with tf.device(roles.device(roles.dealer)):
            r, a = _random_bit(roles, sb), roles.random(roles.dealer, sv)
            seed = roles.random(roles.dealer, SEED_SHAPE)
            _, second = binary.selection(r, a, expand(seed, (sb, sb, sv, sv)))
        word, element, a0, c0 = _party0_share(roles, label, seed,
                                              lambda: (bit_shape, bit_shape, value_shape, value_shape))
        with tf.device(roles.device(roles.parties[0])):
            mine = Selection(tf.cast(tf.bitwise.bitwise_and(word, 1), tf.uint8), element, a0, c0)
        return mine, roles.hand_out(label, 1, second)


def _random_bit(roles: Roles, shape: Shape) -> tf.Tensor:
    """Uniform bits (0 or 1, ring elements) on the dealer: bit 0 of its ``uniform`` draws."""
    return tf.bitwise.bitwise_and(roles.random(roles.dealer, shape), 1)


def _party0_share(roles: Roles, label: str, seed: tf.Tensor, shapes: Callable[[], Sequence[Shape]]) -> list:
    """Sends `seed` to party 0, which expands it into its parts of ``shapes()`` (its own shapes) itself."""
    received = transcript.send(seed, to=roles.parties[0], sender=roles.dealer, kind="seed",
                               label=f"{label}[seed]", origin=roles.dealer)
    with tf.device(roles.device(roles.parties[0])):
        parts = expand(received, shapes())
    return transcript.place(parts, on=roles.parties[0], kind="share", label=f"{label} triple[share 0]",
                            origin=roles.dealer)


def expand(seed: tf.Tensor, shapes: Sequence[Shape]) -> list[tf.Tensor]:
    """Uniform-looking ring tensors of `shapes` from one seed: one stateless Philox stream, split.

    Deterministic in (seed, shapes) for a given TensorFlow version, on any device that runs it.
    """
    sizes = [tf.reduce_prod(_dynamic(s)) for s in shapes]
    flat = tf.random.stateless_uniform(tf.reshape(tf.add_n(sizes), [1]), seed, minval=None, maxval=None,
                                       dtype=ring.DTYPE)
    parts = tf.split(flat, tf.stack(sizes), num=len(shapes))
    return [tf.ensure_shape(tf.reshape(p, _dynamic(s)), _static(s)) for p, s in zip(parts, shapes)]


def product_shape(kind: Kind, sx: Shape, sy: Shape) -> Shape:
    """The :data:`Shape` of a * b or a @ b from the factors' (dynamic parts from the same player)."""
    static = (ring.broadcast_shape(kind, _static(sx), _static(sy)) if kind == "multiply"
              else ring.matmul_shape(_static(sx), _static(sy)))
    if static.is_fully_defined():
        return static
    a, b = _dynamic(sx), _dynamic(sy)
    if kind == "multiply":
        return static, tf.broadcast_dynamic_shape(a, b)
    return static, tf.concat([tf.broadcast_dynamic_shape(a[:-2], b[:-2]), [a[-2], b[-1]]], 0)


def _at_dealer(roles: Roles, label: str, *shapes: Shape) -> list[Shape]:
    names = ("x", "y") if len(shapes) == 2 else ("x",)
    return [roles.shape_at(roles.dealer, s, f"{label}[shape of {n}]") for s, n in zip(shapes, names)]


def _deal(kind: Kind):
    return beaver.multiply_triple if kind == "multiply" else beaver.matmul_triple


def _static(shape: Shape) -> tf.TensorShape:
    return shape if isinstance(shape, tf.TensorShape) else shape[0]


def _dynamic(shape: Shape) -> tf.Tensor:
    """The int32 shape tensor of a :data:`Shape` (a constant when it is static)."""
    return tf.constant(shape.as_list(), tf.int32) if isinstance(shape, tf.TensorShape) else shape[1]
