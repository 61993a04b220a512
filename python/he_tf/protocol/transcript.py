"""What each player received: every tensor a protocol places on or sends to a player.

Protocols move data between players only through :func:`send` (and put a
player's own data on its device with :func:`place`), which places the value on
the receiver's device and records it. ``with he_tf.protocol.recording() as t:``
collects those records; tests use it to check who saw what. Inside
``tf.function`` a value is recorded once, when the function is traced.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator, Optional

import tensorflow as tf

from he_tf.protocol.players import get_config

# What a received tensor is, from the receiver's point of view.
KINDS = (
    "plaintext",       # values in the clear
    "ciphertext",      # encrypted under some key owner's key
    "share",           # one additive share of a secret-shared value
    "masked",          # a value hidden by a random mask that another player holds
    "public_context",  # parameters and public keys
    "secret_key",
    "shape",           # a tensor's dynamic shape (public metadata), e.g. for the dealer to size a triple
    "seed",            # a PRG seed the receiver expands into its share of correlated randomness
)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One tensor that arrived at ``receiver``.

    ``origin`` names the player whose private data the tensor carries (None for
    public values; ``he_tf.remote`` names a value computed from several players'
    data by all of them, comma-separated and sorted); ``label`` says which value it is, e.g. ``"x[share 0]"``;
    ``value`` is the tensor itself (symbolic inside ``tf.function``).
    """

    receiver: str
    sender: Optional[str]
    kind: str
    label: str
    origin: Optional[str]
    value: object = dataclasses.field(repr=False, compare=False, default=None)

    @property
    def nbytes(self) -> int:
        """The bytes of ``value``'s numeric tensors (elements times dtype size).

        Raises
        ------
        ValueError
            For a symbolic tensor of unknown shape, or a string or variant tensor (such as ciphertexts),
            whose size is only known serialized.
        """
        total = 0
        for t in tf.nest.flatten(self.value, expand_composites=True):
            if not (t.dtype.is_integer or t.dtype.is_floating or t.dtype.is_bool) or \
                    not t.shape.is_fully_defined():
                raise ValueError(f"{self.label}: no byte count for a {t.dtype.name} tensor "
                                 f"of shape {t.shape}")
            total += t.shape.num_elements() * t.dtype.size
        return total


class Transcript:
    """The entries recorded while it was active, in order."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def received_by(self, player: str, kind: str | None = None) -> list[Entry]:
        """Entries that ``player`` received (optionally of one kind)."""
        return [e for e in self.entries if e.receiver == player and (kind is None or e.kind == kind)]

    def kinds_received(self, player: str) -> set[str]:
        return {e.kind for e in self.received_by(player)}

    def bytes_per_edge(self, sender: str | None = None) -> dict[tuple[str, str], int]:
        """Bytes sent from one player (`sender` only, if given) to another, by (sender, receiver).

        Counts numeric tensors only (``Entry.nbytes``); ciphertexts have a size only once serialized.
        """
        edges: dict[tuple[str, str], int] = {}
        for e in self.entries:
            if e.sender is not None and e.sender != e.receiver and sender in (None, e.sender):
                edges[e.sender, e.receiver] = edges.get((e.sender, e.receiver), 0) + e.nbytes
        return edges

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __str__(self) -> str:
        rows = [f"{e.sender or '-':>10} -> {e.receiver:<10} {e.kind:<14} {e.label}" for e in self.entries]
        return "\n".join(rows)


_recording: list[Transcript] = []


@contextlib.contextmanager
def recording() -> Iterator[Transcript]:
    """Records every tensor sent to or placed on a player while the block runs."""
    transcript = Transcript()
    _recording.append(transcript)
    try:
        yield transcript
    finally:
        _recording.remove(transcript)


def send(value, *, to: str, sender: Optional[str], kind: str, label: str, origin: Optional[str] = None,
         context: Optional[tf.Tensor] = None):
    """Moves ``value`` (a tensor or composite tensor) onto player ``to``'s device and records it.

    For an HETensor, ``context`` is the receiver's own copy of the public context: then only the
    ciphertexts travel (the context, megabytes of keys, crosses once per player, not per tensor).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown transcript kind {kind!r}; one of {KINDS}")
    with tf.device(get_config().device(to)):
        if context is not None:
            moved = value.with_ciphertexts(tf.identity(value.ciphertexts), context=context)
        else:
            moved = tf.nest.map_structure(tf.identity, value, expand_composites=True)
    entry = Entry(receiver=to, sender=sender, kind=kind, label=label, origin=origin, value=moved)
    for transcript in _recording:
        transcript.entries.append(entry)
    return moved


def place(value, *, on: str, kind: str, label: str, origin: Optional[str] = None):
    """Records ``value`` as created on player ``on`` itself (its own input, its own randomness)."""
    return send(value, to=on, sender=None, kind=kind, label=label, origin=origin)
