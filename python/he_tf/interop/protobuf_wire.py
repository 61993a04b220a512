"""A small, bounded reader and writer of the protobuf wire format, for messages from other parties.

Reading follows a schema (field number -> name and type) and refuses, with ``ProtobufError`` (a
``ValueError``), anything past its bounds before allocating for it: messages over
:data:`MAX_MESSAGE_BYTES`, varints over 10 bytes (or past 64 bits), lengths past the bytes that
remain, nesting past :data:`MAX_DEPTH`, a known field with the wrong wire type or a value out of its
type's range, and a singular field that appears twice. Unknown fields are skipped (groups, a
deprecated wire type, are refused). Length-delimited values are zero-copy views of the input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Union

MAX_MESSAGE_BYTES = 2**31 - 1  # protobuf's own limit
MAX_DEPTH = 8
MAX_VARINT_BYTES = 10

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """Bytes that are not a well-formed message of the expected schema."""


@dataclass(frozen=True)
class Field:
    """One field of a schema: ``kind`` is "bytes", "uint32", "bool", "double" or a nested :class:`Schema`.

    ``max_items`` bounds a repeated field's items, ``min_bytes`` each bytes item's length (so that many
    tiny items cannot make a list far larger than the message).
    """

    name: str
    kind: Union[str, "Schema"]
    repeated: bool = False
    max_items: int = 2**20
    min_bytes: int = 0


@dataclass(frozen=True)
class Schema:
    name: str
    fields: dict[int, Field]


def _varint(data: memoryview, pos: int, what: str) -> tuple[int, int]:
    value = shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos >= len(data):
            raise ProtobufError(f"{what}: truncated varint")
        byte = data[pos]
        pos += 1
        if i == MAX_VARINT_BYTES - 1 and byte > 1:
            raise ProtobufError(f"{what}: a varint past 64 bits")
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos
    raise ProtobufError(f"{what}: a varint longer than {MAX_VARINT_BYTES} bytes")


def _scalar(field: Field, value: int, what: str):
    if field.kind == "uint32":
        if value >= 2**32:
            raise ProtobufError(f"{what}: {field.name} = {value} does not fit in uint32")
        return value
    if field.kind == "bool":
        if value > 1:
            raise ProtobufError(f"{what}: {field.name} = {value} is not a bool")
        return bool(value)
    raise AssertionError(field.kind)


def parse(data, schema: Schema, *, depth: int = 0) -> dict:
    """The fields of ``schema`` found in ``data`` (bytes-like): name -> value (a list for repeated fields).

    Absent singular fields are absent from the result (callers apply proto3's defaults).
    """
    view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
    what = schema.name
    if len(view) > MAX_MESSAGE_BYTES:
        raise ProtobufError(
            f"{what}: {len(view)} bytes, more than the {MAX_MESSAGE_BYTES} a message may have"
        )
    if depth > MAX_DEPTH:
        raise ProtobufError(f"{what}: nested deeper than {MAX_DEPTH}")
    out: dict = {f.name: [] for f in schema.fields.values() if f.repeated}
    pos = 0
    while pos < len(view):
        key, pos = _varint(view, pos, what)
        number, wire = key >> 3, key & 7
        if number == 0 or number >= 2**29:
            raise ProtobufError(f"{what}: field number {number} is not valid")
        field = schema.fields.get(number)
        if wire == VARINT:
            value, pos = _varint(view, pos, what)
        elif wire == FIXED64 or wire == FIXED32:
            size = 8 if wire == FIXED64 else 4
            if len(view) - pos < size:
                raise ProtobufError(f"{what}: truncated fixed-width field {number}")
            value, pos = view[pos : pos + size], pos + size
        elif wire == LENGTH:
            length, pos = _varint(view, pos, what)
            if length > len(view) - pos:
                raise ProtobufError(
                    f"{what}: field {number} declares {length} bytes, {len(view) - pos} remain"
                )
            value, pos = view[pos : pos + length], pos + length
        else:
            raise ProtobufError(f"{what}: wire type {wire} (field {number}) is not supported")
        if field is None:
            continue  # unknown: skipped
        value = _decode(field, wire, value, what, depth)
        if field.repeated:
            items = out[field.name]
            items.extend(value) if isinstance(value, list) else items.append(value)
            if len(items) > field.max_items:
                raise ProtobufError(f"{what}: more than {field.max_items} items in {field.name}")
        elif field.name in out:
            raise ProtobufError(f"{what}: field {field.name} appears twice")
        else:
            out[field.name] = value
    return out


def _decode(field: Field, wire: int, value, what: str, depth: int):
    kind = field.kind
    if isinstance(kind, Schema):
        if wire != LENGTH:
            raise ProtobufError(f"{what}: {field.name} must be a message (wire type 2), got wire type {wire}")
        return parse(value, kind, depth=depth + 1)
    if kind == "bytes":
        if wire != LENGTH:
            raise ProtobufError(f"{what}: {field.name} must be bytes (wire type 2), got wire type {wire}")
        if len(value) < field.min_bytes:
            raise ProtobufError(
                f"{what}: an item of {field.name} has {len(value)} bytes, at least "
                f"{field.min_bytes} are needed"
            )
        return value
    if kind == "double":
        if wire != FIXED64:
            raise ProtobufError(f"{what}: {field.name} must be a double (wire type 1), got wire type {wire}")
        return struct.unpack("<d", value)[0]
    if wire == VARINT:
        return _scalar(field, value, what)
    if wire == LENGTH and field.repeated:  # packed repeated scalars
        items, pos = [], 0
        while pos < len(value):
            if len(items) >= field.max_items:
                raise ProtobufError(f"{what}: more than {field.max_items} items in {field.name}")
            item, pos = _varint(value, pos, what)
            items.append(_scalar(field, item, what))
        return items
    raise ProtobufError(f"{what}: {field.name} must be a varint, got wire type {wire}")


# ---- writing ----------------------------------------------------------------------------------------


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def write(schema: Schema, values: dict) -> bytes:
    """``values`` (name -> value, a list for repeated fields) as a message of ``schema``.

    Repeated scalars are written packed."""
    parts = []
    for number, field in sorted(schema.fields.items()):
        if field.name not in values:
            continue
        value = values[field.name]
        if isinstance(field.kind, Schema):
            body = write(field.kind, value)
            parts += [_encode_varint(number << 3 | LENGTH), _encode_varint(len(body)), body]
        elif field.kind == "bytes":
            for item in value if field.repeated else [value]:
                parts += [_encode_varint(number << 3 | LENGTH), _encode_varint(len(item)), bytes(item)]
        elif field.kind == "double":
            parts += [_encode_varint(number << 3 | FIXED64), struct.pack("<d", value)]
        elif field.repeated:
            body = b"".join(_encode_varint(int(v)) for v in value)
            parts += [_encode_varint(number << 3 | LENGTH), _encode_varint(len(body)), body]
        else:
            parts += [_encode_varint(number << 3 | VARINT), _encode_varint(int(value))]
    return b"".join(parts)
