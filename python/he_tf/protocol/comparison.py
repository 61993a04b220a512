"""Exact comparisons of secret-shared values: greater, less, relu, maximum, reduce_max, argmax.

The methods of :class:`~he_tf.protocol.secret_sharing.SecretSharing` that need the sign of a shared
value (mixed into it). Every comparison reduces to the sign bit of one shared difference
(:mod:`he_tf.protocol.binary`):

1. arithmetic to binary: the carry of the two shares' sum into bit 63, on XOR-shared words, by a
   carry-lookahead tree: one AND round for the generate bits (64-bit words), then six (log2 64) that
   combine adjacent positions and halve the width (32, 16, 8, 4, 2, 1 bits), with twelve binary triples
   from the provider per element; bit 63 of the sum is the sign;
2. for ``greater``/``less``, binary to arithmetic: the provider's random bit r, shared both ways, masks
   the sign bit s; the parties open c = s ^ r (one byte each) and take s = c + r - 2 c r in the ring;
3. for ``relu``/``maximum`` and the tournaments, the bit times a value v instead, in that same round:
   with the provider's selection (r both ways, a uniform a shaped like v and a * r shared) the parties
   open c = s ^ r and e = v - a together, and s * v = c v + (1 - 2c)(e r + a r). Exact: no truncation.

So every op of one comparison takes 8 rounds, and ``reduce_max``/``argmax`` over n values
ceil(log2 n) times 8 (a tournament of adjacent pairs). Nothing is approximated: the sign is that of
the ring value read in two's complement, exact while |x - y| * 2^b < 2^63, b the operands' fraction
bits (always, for values within the fixed-point encoding's range when ``headroom_bits`` >= 1). Ties: ``argmax`` gives the first maximal index (as ``np.argmax``):
the right of two candidates wins only when strictly greater, and the pairs keep their order.

What the players see: masked words (each opening is masked by a fresh triple's uniform a or b, or the
selection's uniform a) and c = s ^ r with r a uniform bit: nothing about the values. The dealer
receives nothing but the shapes, as for products. See docs/protocols.md for the security statement
and the measured costs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from he_tf.protocol import binary


def _unconverted(method: Callable) -> Callable:
    """Traced as written: AutoGraph would only rewrite these loops over public, static sizes (and its
    conversion costs more than the tracing itself: seconds per comparison)."""
    return tf.autograph.experimental.do_not_convert(method)


class Comparisons:
    """Comparison ops of two-party secret sharing; needs the host protocol's sharing machinery."""

    # --- the op table's ops ----------------------------------------------------------------------

    @_unconverted
    def greater(self, x, y):
        """x > y as a shared 0 or 1 at the protocol's fraction bits (so it multiplies like any value).

        Either operand may be public. 8 rounds; multiplying by the result truncates (one unit of 2^-f),
        whereas ``relu``/``maximum`` multiply by the bit exactly.
        """
        return self._scale_up(self._greater_bit(x, y, "greater"), self.fraction_bits)

    @_unconverted
    def less(self, x, y):
        """x < y as a shared 0 or 1 (see :meth:`greater`)."""
        return self._scale_up(self._greater_bit(y, x, "less"), self.fraction_bits)

    @_unconverted
    def relu(self, x):
        """max(x, 0), exactly: the bit x > 0 times x (8 rounds)."""
        x = self._check(x, "relu")
        return self._select(self.negative(x), x, "relu")

    @_unconverted
    def maximum(self, x, y):
        """The elementwise maximum of x and y (broadcasting; either may be public), exactly: 8 rounds."""
        difference = self.subtract(y, x)
        return self.add(x, self._select(self.negative(difference), difference, "maximum"))  # y > x

    @_unconverted
    def reduce_max(self, x, axis=None, keepdims: bool = False):
        """The maximum over `axis` (all axes when None; an int or a list), by a tournament of
        ``maximum``: ceil(log2 n) levels of 8 rounds for n values reduced. The axes and the reduced
        axes' sizes must be known when tracing."""
        x = self._finish(self._check(x, "reduce_max"), True)
        rank, reduced = self._reduced_axes(x, axis, "reduce_max")
        if not reduced:
            return x
        values = self._local(lambda _, s: s[..., None], self._flatten_axes(x, reduced, rank))
        winner = self._tournament(values, "reduce_max")
        return self._local(lambda _, s: _restore(s[..., 0, 0], reduced, keepdims), winner)

    @_unconverted
    def argmax(self, x, axis=None, one_hot: bool = False):
        """The index of the maximum along `axis` (0 when None, as ``tf.math.argmax``), shared.

        The result is the index as a shared fixed-point integer (``axis`` removed; revealed as float64),
        or with ``one_hot=True`` a shared 0/1 vector along `axis`. Ties go to the first maximal index.
        ceil(log2 n) levels of 8 rounds; each selection also carries the candidates' indices (2 values
        per pair instead of 1), or their one-hot vectors (n + 1).
        """
        x = self._finish(self._check(x, "argmax"), True)
        axis = 0 if axis is None else _static(axis, "argmax")
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}.argmax: axis must be one integer, got {axis!r}")
        rank, (axis,) = self._reduced_axes(x, int(axis), "argmax")
        flat = self._flatten_axes(x, (axis,), rank)
        n = int(flat.shape[-1])
        # Each candidate carries its public index, at x's fraction bits: as a number, or one-hot.
        index = np.eye(n, dtype=np.int64) if one_hot else np.arange(n, dtype=np.int64)[:, None]
        index = tf.constant(index << x.fraction_bits)

        def candidates(party, s):  # [..., n, 1 + k]: each value with its index (party 0 adds it)
            carried = tf.broadcast_to(index, tf.concat([tf.shape(s), index.shape[-1:]], 0))
            return tf.concat([s[..., None], carried if party == 0 else tf.zeros_like(carried)], -1)

        winner = self._tournament(self._local(candidates, flat), "argmax")
        if not one_hot:
            return self._local(lambda _, s: s[..., 0, 1], winner)
        perm = list(range(rank - 1))
        perm.insert(axis, rank - 1)
        return self._local(lambda _, s: tf.transpose(s[..., 0, 1:], perm), winner)

    # --- the sign bit ----------------------------------------------------------------------------

    def _greater_bit(self, x, y, op: str):
        """x > y as a shared 0/1 with zero fraction bits: the sign bit of y - x."""
        return self._sign_bit(self.subtract(y, x), op)

    def _sign_bit(self, z, op: str):
        """The shared bit z < 0 (zero fraction bits): arithmetic to binary, then back (8 rounds)."""
        label, shape, sign = self._sign_xor(z, op)
        return self._bit_to_arithmetic(label, shape, sign)

    def _select(self, z, v, op: str):
        """(z < 0) * v, exactly (v's fraction bits): the sign bit's 7 rounds, then one round that opens the
        masked bit and the masked value together. `v` must have the broadcast shape of z and v."""
        label, shape, sign = self._sign_xor(z, op)
        picks = self.provider.selection(self._roles, f"{label}[select]", shape, self._shape(v))
        masked = [binary.mask_select(sign[party], v.shares[party], picks[party])
                  for party in self._parties_on_devices()]
        opened = self._exchange(f"{label}[select]", masked, binary.open_select)
        shares = [binary.combine_select(party, *opened[party], v.shares[party], picks[party])
                  for party in self._parties_on_devices()]
        return self._wrap(*shares, v.fraction_bits)

    def _sign_xor(self, z, op: str):
        """(label, shape, XOR shares of the bit z < 0 as ``tf.uint8``): the carry tree's 7 AND rounds."""
        label = self._label(op)
        shape = self._shape(z)
        zero = self._per_party(lambda _, s: tf.zeros_like(s), z.shares)
        # Each share is a binary sharing of itself: (z0, 0) and (0, z1). Generate g = z0 & z1; p = z0 ^ z1
        # is shared as (z0, z1). Shifted up one place: position 0 holds no carry.
        (generate,) = self._and_round(f"{label}[and 0]", shape, 64,
                                      [((z.shares[0], zero[1]), (zero[0], z.shares[1]))])
        generate = self._per_party(lambda _, g: binary.shift_left(g, 1), generate)
        propagate = self._per_party(lambda _, s: binary.shift_left(s, 1), z.shares)
        width = 64
        for step, half in enumerate(binary.WIDTHS, 1):
            g_hi, g_lo = zip(*self._per_party(lambda _, g: binary.odd_and_even(g, width), generate))
            p_hi, p_lo = zip(*self._per_party(lambda _, p: binary.odd_and_even(p, width), propagate))
            pairs = [(p_hi, g_lo)] + ([(p_hi, p_lo)] if half > 1 else [])  # the last needs only G
            results = self._and_round(f"{label}[and {step}]", shape, half, pairs)
            generate = self._per_party(lambda _, g, r: binary.xor(g, r), g_hi, results[0])
            propagate = results[-1]
            width = half
        return label, shape, self._per_party(lambda _, s, g: binary.sign_share(s, g), z.shares, generate)

    def _and_round(self, label: str, shape, bits: int, pairs) -> list:
        """x & y on `bits`-bit words for each ((x_0, x_1), (y_0, y_1)) of `pairs`, XOR-shared, in one
        exchange."""
        triples = [self.provider.and_triple(self._roles, f"{label}.{j}", shape, bits)
                   for j in range(len(pairs))]
        masked = [[binary.mask_and(x[party], y[party], t[party]) for (x, y), t in zip(pairs, triples)]
                  for party in self._parties_on_devices()]
        opened = self._exchange(label, masked, _xor_all)
        combined = [[binary.combine_and(party, e, f, t[party]) for (e, f), t in zip(opened[party], triples)]
                    for party in self._parties_on_devices()]
        return [(combined[0][j], combined[1][j]) for j in range(len(pairs))]

    def _bit_to_arithmetic(self, label: str, shape, sign):
        """The XOR-shared bit `sign` as additive ring shares (zero fraction bits), by a shared random bit."""
        bits = self.provider.shared_bit(self._roles, f"{label}[bit]", shape)
        masked = [binary.mask_bit(sign[party], bits[party]) for party in self._parties_on_devices()]
        opened = self._exchange(f"{label}[bit]", masked, _xor_all)
        shares = [binary.bit_to_arithmetic(party, opened[party], bits[party])
                  for party in self._parties_on_devices()]
        return self._wrap(*shares, 0)

    def _per_party(self, fn: Callable, *pairs) -> tuple:
        """fn(party, *(p[party] for p in pairs)) on each party's device."""
        out = []
        for party in self._parties_on_devices():
            out.append(fn(party, *(p[party] for p in pairs)))
        return tuple(out)

    def _parties_on_devices(self):
        """0, then 1, each under its party's ``tf.device`` while the caller's loop body runs."""
        for party in (0, 1):
            with tf.device(self._device(self.parties[party])):
                yield party

    # --- tournaments -----------------------------------------------------------------------------

    def _tournament(self, candidates, op: str):
        """The winner of candidates [..., n, k] (column 0 the value, the rest carried along): adjacent pairs
        play, the right one wins only when its value is strictly greater; returns [..., 1, k]."""
        n = int(candidates.shape[-2])
        while n > 1:
            m = n // 2
            left = self._local(lambda _, s: s[..., 0:2 * m:2, :], candidates)
            right = self._local(lambda _, s: s[..., 1:2 * m:2, :], candidates)
            values = [self._local(lambda _, s: s[..., 0:1], c) for c in (left, right)]
            right_wins = self.subtract(values[0], values[1])  # negative when the right one is greater
            won = self.add(left, self._select(right_wins, self.subtract(right, left), op))
            if n % 2:
                tail = self._local(lambda _, s: s[..., n - 1:, :], candidates)
                won = self._wrap(*(tf.concat([w, t], -2) for w, t in zip(won.shares, tail.shares)),
                                 won.fraction_bits)
            candidates, n = won, m + n % 2
        return candidates

    def _reduced_axes(self, x, axis, op: str) -> tuple[int, tuple[int, ...]]:
        """x's rank and the sorted, distinct, non-negative axes of `axis` (all when None), checked."""
        rank = x.shape.rank
        if rank is None:
            raise ValueError(f"{self.name}.{op} needs the rank of its operand when tracing")
        axes = range(rank) if axis is None else np.atleast_1d(np.asarray(_static(axis, op))).tolist()
        out = set()
        for a in axes:
            if not isinstance(a, (int, np.integer)) or not -rank <= a < rank:
                raise ValueError(f"{self.name}.{op}: axis {a!r} is out of range for rank {rank}")
            out.add(int(a) % rank)
        unknown = [a for a in out if x.shape[a] is None]
        if unknown:
            raise ValueError(f"{self.name}.{op}: the size of axis {unknown[0]} must be known when tracing "
                             f"(shape {x.shape}): it fixes the rounds of comparisons")
        return rank, tuple(sorted(out))

    def _flatten_axes(self, x, reduced: tuple[int, ...], rank: int):
        """x with the `reduced` axes moved last and merged into one: [...kept, n] (kept in order)."""
        kept = [a for a in range(rank) if a not in reduced]
        n = int(np.prod([x.shape[a] for a in reduced]))

        def flatten(_, s):
            t = tf.transpose(s, kept + list(reduced))
            lead = t.shape[:len(kept)]
            target = lead.as_list() + [n] if lead.is_fully_defined() else tf.concat(
                [tf.shape(t)[:len(kept)], [n]], 0)
            return tf.reshape(t, target)

        return self._local(flatten, x)


def _static(axis, op: str):
    """`axis` as Python or NumPy integers: a tensor's value must be known when tracing."""
    if isinstance(axis, (tf.Tensor, tf.Variable)):
        value = tf.get_static_value(axis)
        if value is None:
            raise ValueError(f"{op}: the axis must be known when tracing, got the tensor {axis!r}")
        return value.item() if value.ndim == 0 else value.tolist()
    return axis


def _xor_all(mine, received):
    """Opens XOR-shared values: the own and the received masked shares, XORed."""
    return tf.nest.map_structure(tf.bitwise.bitwise_xor, mine, received)


def _restore(s: tf.Tensor, reduced: tuple[int, ...], keepdims: bool) -> tf.Tensor:
    """A reduction's result over the kept axes, with size-1 axes where `reduced` were if `keepdims`."""
    if keepdims:
        for a in reduced:
            s = tf.expand_dims(s, a)
    return s

