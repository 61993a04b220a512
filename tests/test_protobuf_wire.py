"""The bounded protobuf reader of he_tf.interop: what it accepts, and what it refuses before allocating."""

import pytest
from he_tf.interop.protobuf_wire import Field, ProtobufError, Schema, parse, write

INNER = Schema("Inner", {1: Field("data", "bytes"), 2: Field("flag", "bool")})
OUTER = Schema(
    "Outer",
    {
        1: Field("sizes", "uint32", repeated=True, max_items=4),
        2: Field("blobs", "bytes", repeated=True, min_bytes=2),
        3: Field("scale", "double"),
        4: Field("inner", INNER),
        5: Field("count", "uint32"),
    },
)


def test_round_trip_and_unknown_fields_skipped():
    values = {
        "sizes": [1, 300, 2**32 - 1],
        "blobs": [b"ab", b"cde"],
        "scale": 2.0**40,
        "inner": {"data": b"xyz", "flag": True},
        "count": 7,
    }
    data = write(OUTER, values)
    unknown = (
        b"\x30\x05" + b"\x39" + bytes(8) + b"\x42\x02hi" + b"\x4d" + bytes(4)
    )  # fields 6..9, every wire type
    got = parse(data + unknown, OUTER)
    assert got["sizes"] == values["sizes"] and [bytes(b) for b in got["blobs"]] == values["blobs"]
    assert got["scale"] == 2.0**40 and got["count"] == 7
    assert bytes(got["inner"]["data"]) == b"xyz" and got["inner"]["flag"] is True
    assert parse(b"\x08\x01\x08\x02", OUTER)["sizes"] == [1, 2]  # unpacked repeated scalars too
    assert parse(b"", OUTER) == {"sizes": [], "blobs": []}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x28" + b"\xff" * 10 + b"\x01", "past 64 bits"),
        (b"\x28\xff\xff", "truncated varint"),
        (b"\x12\xff\xff\xff\xff\x0f", "declares 4294967295 bytes"),
        (b"\x19" + bytes(4), "truncated fixed-width"),
        (b"\x28\x80\x80\x80\x80\x10", "does not fit in uint32"),
        (b"\x22\x02\x10\x02", "is not a bool"),
        (b"\x20\x01", "must be a message"),
        (b"\x1d" + bytes(4), "must be a double"),
        (b"\x28\x01\x28\x02", "appears twice"),
        (b"\x0a\x05\x01\x02\x03\x04\x05", "more than 4 items"),
        (b"\x12\x01a", "at least 2"),
        (b"\x0b", "wire type 3"),
        (b"\x00", "field number 0"),
    ],
)
def test_refusals(data, message):
    with pytest.raises(ProtobufError, match=message):
        parse(data, OUTER)


def test_nesting_is_bounded():
    deep = Schema("Deep", {})
    deep.fields[1] = Field("next", deep)
    data = b""
    for _ in range(20):
        data = b"\x0a" + bytes([len(data)]) + data if len(data) < 128 else data
    with pytest.raises(ProtobufError, match="nested deeper"):
        parse(data, deep)
