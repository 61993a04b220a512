"""The bytes between client and server: one encrypted tensor per message.

Format (version 1)::

    b"HETFMSG1"                 magic; the last character is the format version
    uint32, big-endian          length of the header
    header                      UTF-8 JSON, below
    body                        the ciphertexts' serialized strings, concatenated in row-major order

The header holds what the receiver needs to rebuild the HETensor: its
metadata (shape, dtype, layout, packed axis, level, scale, parameters), the
ciphertext grid's shape, each string's length, the key set's id and the
message kind; responses add ``meta`` (how to finish the output). Nothing in
a message can decrypt it.
"""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import tensorflow as tf

import he_tf
from he_tf.tensor import HETensor

MAGIC = b"HETFMSG1"
VERSION = 1
KINDS = ("request", "response")
_LENGTH = struct.Struct(">I")


@dataclasses.dataclass(frozen=True)
class Message:
    """A decoded message: the encrypted tensor and the header's ``meta`` dict."""

    kind: str
    tensor: HETensor
    meta: dict


def encode(kind: str, x: HETensor, key_id: int, meta: dict | None = None) -> bytes:
    """Serializes ``x`` (compressed ciphertexts) with its metadata into one message."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    strings = he_tf.serialize(x).numpy().reshape(-1).tolist()
    n, bits, scale_bits = x.params
    header = {
        "format": VERSION,
        "kind": kind,
        "key_id": f"{key_id:016x}",
        "tensor": {
            "shape": x.shape.as_list(),
            "dtype": x.dtype.name,
            "layout": x.layout,
            "packed_axis": x.packed_axis,
            "level": x.level,
            "scale": x.scale,  # a float's JSON repr round-trips exactly
            "params": [n, list(bits), scale_bits],
            "ciphertext_shape": x.ciphertexts.shape.as_list(),
        },
        "lengths": [len(s) for s in strings],
        "meta": meta or {},
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(head)), head, *strings])


def decode(data: bytes, public: he_tf.PublicContext, expect: str) -> Message:
    """Rebuilds the message's HETensor under ``public``.

    Raises ``ValueError`` saying what is wrong for bytes that are not an
    he-tf message of kind ``expect``, a truncated or inconsistent message,
    or ciphertexts made with another key set or other parameters.
    """
    header, body = _split(data)
    if header.get("kind") != expect:
        raise ValueError(f"expected an he-tf {expect}, got a {header.get('kind')!r} message")
    if header.get("key_id") != f"{public.key_id:016x}":
        raise ValueError(f"the {expect} was encrypted under key set {header.get('key_id')}, but this side "
                         f"holds the public context of key set {public.key_id:016x}")
    try:
        t = header["tensor"]
        n, bits, scale_bits = t["params"]
        spec = HETensor.Spec(
            ciphertexts=tf.TensorSpec(t["ciphertext_shape"], tf.variant),
            context=tf.TensorSpec([], tf.variant),
            shape=tf.TensorShape(t["shape"]),
            dtype=tf.as_dtype(t["dtype"]),
            layout=t["layout"],
            packed_axis=t["packed_axis"],
            level=int(t["level"]),
            scale=float(t["scale"]),
            params=(int(n), tuple(int(b) for b in bits), int(scale_bits)),
        )
        lengths = [int(v) for v in header["lengths"]]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed he-tf message header ({type(e).__name__}: {e})") from None
    grid = t["ciphertext_shape"]
    if len(lengths) != int(np.prod(grid)) or sum(lengths) != len(body) or min(lengths, default=1) < 0:
        raise ValueError(f"the {expect}'s body holds {len(body)} bytes, the header announces {sum(lengths)} "
                         f"in {len(lengths)} ciphertexts for a grid of shape {grid}")
    offsets = np.cumsum([0] + lengths)
    strings = np.array([body[a:b] for a, b in zip(offsets[:-1], offsets[1:])], dtype=object)
    strings = strings.reshape(grid)
    try:
        tensor = he_tf.deserialize(public, tf.constant(strings, dtype=tf.string), spec)
    except tf.errors.InvalidArgumentError as e:
        raise ValueError(f"cannot load the {expect}'s ciphertexts: {e.message}") from None
    return Message(kind=expect, tensor=tensor, meta=dict(header.get("meta") or {}))


def _split(data: bytes) -> tuple[dict, bytes]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected message bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:7] != MAGIC[:7]:
        raise ValueError("not an he-tf message (bad magic bytes)")
    if data[:8] != MAGIC:
        raise ValueError(f"he-tf message format {data[7:8]!r} is not supported; this side reads format "
                         f"{VERSION}")
    if len(data) < len(MAGIC) + _LENGTH.size:
        raise ValueError("truncated he-tf message")
    (size,) = _LENGTH.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start + size:
        raise ValueError("truncated he-tf message header")
    try:
        header = json.loads(data[start:start + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"malformed he-tf message header: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("malformed he-tf message header")
    if header.get("format") != VERSION:
        raise ValueError(f"unsupported he-tf message header (format {header.get('format')!r}, expected "
                         f"{VERSION})")
    return header, data[start + size:]
