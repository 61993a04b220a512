"""The bytes between client and server: one encrypted tensor per message.

Format (version 1)::

    b"HETFMSG1"                 magic; the last character is the format version
    uint32, big-endian          length of the header (at most MAX_HEADER_BYTES)
    header                      ASCII JSON, below
    body                        the ciphertexts' serialized strings (he_tf.serialize, residue encoding),
                                concatenated in row-major order

The header holds what the receiver needs to rebuild the HETensor: its
metadata (shape, dtype, layout, packed axis, level, scale, parameters), the
ciphertext grid's shape, each string's length, the key set's id and the
message kind; responses add ``meta`` (how to finish the output). Nothing in
a message can decrypt it.

Every message is hostile until checked. :func:`decode` refuses anything
malformed with :class:`WireFormatError` before allocating more than a small
multiple of the message's own size: the header is bounded in bytes and in
JSON containers (so parsing cannot recurse deeply), every field is
type-checked, the parameters must be the receiving context's, the declared
shape must follow from the ciphertext grid by the packing rule, the level and
scale must be possible under those parameters, and the number of ciphertexts
is bounded by what the body can hold. The ciphertexts themselves are then
validated by :func:`he_tf.deserialize` (checksums, SEAL's checks against the
context).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import struct

import numpy as np
import tensorflow as tf

import he_tf
from he_tf import _core, packing
from he_tf.keys import op_error_message
from he_tf.models import outputs
from he_tf.models.model import OUTPUT_MODES
from he_tf.tensor import LAYOUTS, HETensor

MAGIC = b"HETFMSG1"
VERSION = 1
KINDS = ("request", "response")
_LENGTH = struct.Struct(">I")

MAX_HEADER_BYTES = 1 << 20
"""Largest header accepted: room for the lengths of over 100,000 ciphertexts."""
MAX_HEADER_CONTAINERS = 16
"""JSON arrays and objects a header may contain in all (a valid one has 8), which also bounds nesting."""
MAX_RANK = 32
"""Largest tensor rank accepted."""
MIN_CIPHERTEXT_BYTES = 32
"""No serialized ciphertext is shorter: key-set id (8), SEAL header (16), compressed payload, CRC-32 (4)."""
DTYPES = ("float16", "bfloat16", "float32", "float64")

_HEADER_KEYS = frozenset({"format", "kind", "key_id", "tensor", "lengths", "meta"})
_TENSOR_KEYS = frozenset({"shape", "dtype", "layout", "packed_axis", "level", "scale", "params",
                          "ciphertext_shape"})
_KEY_ID = re.compile(r"[0-9a-f]{16}")
# Meta the receiver acts on, and the values each may take; and the counts (block layout: samples per
# block, outputs packed in a response; complex packing: the samples folded two per slot), positive
# integers up to MAX_COUNT.
_META = {"output": OUTPUT_MODES, "activation": outputs.ACTIVATIONS,
         "activation_on_server": (True, False)}
_META_COUNTS = ("samples", "outputs", "folded")
MAX_COUNT = 1 << 31


class WireFormatError(ValueError):
    """A message that is not a well-formed he-tf message for this side (the text says what is wrong)."""


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
    strings = he_tf.serialize(x, encoding="residues").numpy().reshape(-1).tolist()
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
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError(f"the message header would take {len(head)} bytes, more than the {MAX_HEADER_BYTES} "
                         "a receiver accepts; send the tensor in smaller parts")
    return b"".join([MAGIC, _LENGTH.pack(len(head)), head, *strings])


def decode(data: bytes, public: he_tf.PublicContext, expect: str) -> Message:
    """Rebuilds the message's HETensor under ``public``.

    Raises
    ------
    WireFormatError
        Saying what is wrong, for bytes that are not an he-tf message of kind
        ``expect`` (bad magic, format, header or field), a truncated or
        inconsistent message, or ciphertexts made with another key set or
        other parameters. Nothing else, whatever the bytes.
    TypeError
        If ``data`` is not bytes.
    """
    if expect not in KINDS:
        raise ValueError(f"expect must be one of {KINDS}, got {expect!r}")
    header, body = _split(data)
    kind = header["kind"]
    if kind != expect:
        raise WireFormatError(f"expected an he-tf {expect}, got a {kind!r} message")
    key_id = _key_id(header)
    if key_id != f"{public.key_id:016x}":
        raise WireFormatError(f"the {expect} was encrypted under key set {key_id}, but this side holds the "
                              f"public context of key set {public.key_id:016x}")
    spec = _tensor_spec(header["tensor"], public.params, expect)
    lengths = _lengths(header["lengths"], spec.ciphertexts.shape.as_list(), len(body), expect)
    meta = _meta(header["meta"])
    strings = np.empty(len(lengths), dtype=object)
    strings[:] = [body[a:b] for a, b in itertools.pairwise(itertools.accumulate(lengths, initial=0))]
    try:
        # Loads each ciphertext and checks it against the context and against the spec's level and scale.
        tensor = he_tf.deserialize(public, tf.constant(strings.reshape(spec.ciphertexts.shape), tf.string), spec)
    except tf.errors.OpError as e:
        raise WireFormatError(f"cannot load the {expect}'s ciphertexts: {op_error_message(e)}") from None
    except ValueError as e:
        raise WireFormatError(f"cannot load the {expect}'s ciphertexts: {e}") from None
    return Message(kind=expect, tensor=tensor, meta=meta)


def key_id(data: bytes) -> int:
    """The key-set id a message declares, from its checked header (the body is not read):
    which public context to decode it under. :class:`WireFormatError` for a malformed header."""
    return int(_key_id(_split(data)[0]), 16)


def _key_id(header: dict) -> str:
    value = _string(header, "key_id")
    if not _KEY_ID.fullmatch(value):
        raise WireFormatError(f"malformed he-tf message header: key_id must be 16 hex digits, got {value!r}")
    return value


def _split(data: bytes) -> tuple[dict, bytes]:
    """(header, body): the header parsed with bounded size and nesting, its top-level keys checked."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected message bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:7] != MAGIC[:7]:
        raise WireFormatError("not an he-tf message (bad magic bytes)")
    if data[:8] != MAGIC:
        raise WireFormatError(f"he-tf message format {data[7:8]!r} is not supported; this side reads format "
                              f"{VERSION}")
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start:
        raise WireFormatError("truncated he-tf message: it ends inside the header length")
    (size,) = _LENGTH.unpack_from(data, len(MAGIC))
    if size > MAX_HEADER_BYTES:
        raise WireFormatError(f"the he-tf message header announces {size} bytes; at most {MAX_HEADER_BYTES} "
                              "are accepted")
    if len(data) < start + size:
        raise WireFormatError(f"truncated he-tf message: the header announces {size} bytes, "
                              f"{len(data) - start} follow")
    head = data[start:start + size]
    # Every JSON array or object starts with a literal "[" or "{" byte (inside strings too, so this counts
    # at least as many): bounding them bounds the nesting before the parser can recurse.
    containers = head.count(b"[") + head.count(b"{")
    if containers > MAX_HEADER_CONTAINERS:
        raise WireFormatError(f"malformed he-tf message header: {containers} JSON arrays/objects, at most "
                              f"{MAX_HEADER_CONTAINERS} are accepted")
    try:
        header = json.loads(head.decode("ascii"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except WireFormatError:
        raise
    except ValueError as e:  # also UnicodeDecodeError, JSONDecodeError, integers of too many digits
        raise WireFormatError(f"malformed he-tf message header: {e}") from None
    if not isinstance(header, dict):
        raise WireFormatError(f"malformed he-tf message header: a JSON {type(header).__name__}, not an object")
    if header.get("format") != VERSION or type(header.get("format")) is not int:
        raise WireFormatError(f"unsupported he-tf message header (format {header.get('format')!r}, expected "
                              f"{VERSION})")
    _exact_keys(header, _HEADER_KEYS, "header")
    kind = _string(header, "kind")
    if kind not in KINDS:
        raise WireFormatError(f"malformed he-tf message header: kind must be one of {KINDS}, got {kind!r}")
    return header, data[start + size:]


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise WireFormatError("malformed he-tf message header: a JSON object repeats a key")
    return result


def _no_constant(name: str) -> None:
    raise WireFormatError(f"malformed he-tf message header: {name} is not a JSON number")


def _malformed(field: str, want: str, got: object) -> WireFormatError:
    text = repr(got)
    text = text if len(text) <= 80 else text[:77] + "..."
    return WireFormatError(f"malformed he-tf message header: {field} must be {want}, got {text}")


def _exact_keys(obj: dict, keys: frozenset, where: str) -> None:
    if obj.keys() != keys:
        missing, extra = sorted(keys - obj.keys()), sorted(obj.keys() - keys)
        raise WireFormatError(f"malformed he-tf message {where}: missing fields {missing}, unknown fields "
                              f"{extra[:8]}")


def _string(obj: dict, field: str) -> str:
    value = obj[field]
    if not isinstance(value, str):
        raise _malformed(field, "a string", value)
    return value


def _int(value: object, field: str, low: int, high: int) -> int:
    """``value`` if it is an int (not a bool) in [low, high]."""
    if type(value) is not int or not low <= value <= high:
        raise _malformed(field, f"an integer in [{low}, {high}]", value)
    return value


def _int_list(value: object, field: str, low: int, high: int, max_length: int) -> list[int]:
    if not isinstance(value, list) or len(value) > max_length:
        raise _malformed(field, f"a list of at most {max_length} integers", value)
    return [_int(v, f"{field}[{i}]", low, high) for i, v in enumerate(value)]


def _tensor_spec(t: object, params: he_tf.Params, expect: str) -> HETensor.Spec:
    """The HETensor type spec the header declares, checked against ``params`` and the packing rule."""
    if not isinstance(t, dict):
        raise _malformed("tensor", "an object", t)
    _exact_keys(t, _TENSOR_KEYS, "tensor header")
    declared = t["params"]
    if not (isinstance(declared, list) and len(declared) == 3 and type(declared[0]) is int
            and isinstance(declared[1], list) and all(type(b) is int for b in declared[1])
            and type(declared[2]) is int):
        raise _malformed("tensor.params", "[poly_modulus_degree, [prime bits, ...], scale_bits]", declared)
    if (declared[0], tuple(declared[1]), declared[2]) != params.as_tuple():
        raise WireFormatError(f"the {expect}'s ciphertexts were made with parameters {declared}, this side's "
                              f"public context has {params}")
    shape = _int_list(t["shape"], "tensor.shape", 1, 2**62, MAX_RANK)
    grid = _int_list(t["ciphertext_shape"], "tensor.ciphertext_shape", 1, 2**62, MAX_RANK)
    dtype = _string(t, "dtype")
    if dtype not in DTYPES:
        raise _malformed("tensor.dtype", f"one of {DTYPES}", dtype)
    layout = _string(t, "layout")
    if layout not in LAYOUTS:
        raise _malformed("tensor.layout", f"one of {LAYOUTS}", layout)
    packed_axis = t["packed_axis"]
    if packed_axis is not None:
        packed_axis = _int(packed_axis, "tensor.packed_axis", 0, len(shape) - 1)
    _check_grid(shape, grid, packed_axis, params.slot_count)
    level = _int(t["level"], "tensor.level", 0, params.depth)
    scale = t["scale"]
    if type(scale) not in (int, float):
        raise _malformed("tensor.scale", "a number", scale)
    scale = float(scale)
    try:
        _core.check_scale(*params.as_tuple(), level, scale)
    except ValueError as e:
        raise WireFormatError(f"the {expect} declares scale {scale!r} at level {level} under {params}: {e}") from None
    return HETensor.Spec(
        ciphertexts=tf.TensorSpec(grid, tf.variant), context=tf.TensorSpec([], tf.variant),
        shape=tf.TensorShape(shape), dtype=tf.as_dtype(dtype), layout=layout, packed_axis=packed_axis,
        level=level, scale=scale, params=params.as_tuple(),
    )


def _check_grid(shape: list[int], grid: list[int], packed_axis: int | None, slots: int) -> None:
    """The grid must be the shape with the packed axis replaced by its number of ciphertexts."""
    expected = list(shape)
    if packed_axis is not None:
        expected[packed_axis] = packing.chunking(shape[packed_axis], slots)[0]
    if grid != expected:
        packed = ("one value per ciphertext" if packed_axis is None
                  else f"axis {packed_axis} packed into {slots} slots per ciphertext")
        raise WireFormatError(f"malformed he-tf message header: a tensor of shape {shape} ({packed}) has a "
                              f"ciphertext grid of shape {expected}, the header declares {grid}")


def _lengths(value: object, grid: list[int], body: int, expect: str) -> list[int]:
    """The strings' lengths: one per grid cell, each a possible ciphertext's, summing to the body."""
    count = math.prod(grid)  # exact Python ints: no overflow, nothing allocated
    if count > body // MIN_CIPHERTEXT_BYTES:
        raise WireFormatError(f"the {expect} declares {count} ciphertexts (grid {grid}) but its body of {body} "
                              f"bytes can hold at most {body // MIN_CIPHERTEXT_BYTES}")
    if not isinstance(value, list) or len(value) != count:
        size = len(value) if isinstance(value, list) else value
        raise _malformed("lengths", f"a list of {count} integers (one per ciphertext of the grid {grid})", size)
    lengths = [_int(v, f"lengths[{i}]", MIN_CIPHERTEXT_BYTES, body) for i, v in enumerate(value)]
    if sum(lengths) != body:
        raise WireFormatError(f"the {expect}'s body holds {body} bytes, the header announces {sum(lengths)} "
                              f"in {count} ciphertexts for a grid of shape {grid}")
    return lengths


def _meta(value: object) -> dict:
    """A flat object of JSON scalars; the keys the client acts on must hold one of their values."""
    if not isinstance(value, dict):
        raise _malformed("meta", "an object", value)
    for key, v in value.items():
        if not (v is None or isinstance(v, (str, bool, int)) or (isinstance(v, float) and math.isfinite(v))):
            raise _malformed(f"meta[{key!r}]", "a string, number, boolean or null", v)
        if key in _META and not any(v is a if isinstance(a, bool) else v == a for a in _META[key]):
            raise _malformed(f"meta[{key!r}]", f"one of {_META[key]}", v)
        if key in _META_COUNTS:
            _int(v, f"meta[{key!r}]", 1, MAX_COUNT)
    return dict(value)
