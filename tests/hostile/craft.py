"""Hostile inputs crafted from real, valid he-tf objects by editing SEAL's serialized layout.

Every function takes bytes that he-tf produced and returns edited bytes; nothing here talks to
he-tf's loaders, so the same inputs serve the bad-input matrix and the fuzz harnesses' seeds.

SEAL 4.1's layouts (native/src/seal/serialization.h, ciphertext.cpp, plaintext.cpp, dynarray.h,
randomgen.cpp, kswitchkeys.cpp):

- every object starts with a 16-byte ``SEALHeader``: uint16 magic 0xA15E, uint8 header size (16),
  uint8 version major (4), uint8 minor, uint8 compression (0 none, 1 zlib, 2 zstd), uint16 reserved,
  uint64 total size including the header; the members after it are compressed as a whole;
- a ``Ciphertext`` (and a ``PublicKey``) has parms_id (4 x uint64), is_ntt_form (1 byte), size,
  poly_modulus_degree, coeff_modulus_size (uint64 each), scale (double), correction_factor (uint64),
  then a ``DynArray`` of uint64 words: its own uncompressed SEALHeader, uint64 count, the words. A
  seeded ciphertext stores half the words, then a ``UniformRandomGeneratorInfo`` (SEALHeader,
  prng type byte, 64-byte seed);
- a ``Plaintext`` (and a ``SecretKey``, which saves its plaintext's members) has parms_id,
  coeff_count (uint64), scale (double), then the ``DynArray``. A zero parms_id means "not NTT form";
- ``RelinKeys`` / ``GaloisKeys`` (KSwitchKeys) hold parms_id, uint64 count, then per key an uint64
  count and that many PublicKeys, each with its own header.

SEAL bounds a DynArray by ``size * N * primes`` words (``coeff_count`` for a plaintext), and both may
be 0, which disables the bound: :func:`empty_ciphertext` and :func:`empty_plaintext` make such objects.

he-tf's containers around them:

- ``he_tf.serialize`` strings: 8-byte key-set id, SEAL bytes (compressed), CRC-32 of those bytes;
- variant encoding (``tf.io.serialize_tensor`` of ciphertexts or encoded plaintexts): per element an
  8-byte key-set id, then SEAL's uncompressed bytes;
- public context / secret key: an 8-byte tag, the key-set id, the parameters, then length-prefixed
  (uint64) blobs of SEAL bytes, then a BLAKE2b-64 digest of all that. Blobs and the id are located in
  the real bytes, not at fixed offsets, and the digest is recomputed after an edit so that edits reach
  the loader behind it;
- wire messages: an 8-byte magic, uint32 big-endian header length, JSON header, concatenated strings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import zlib
from typing import Callable

SEAL_MAGIC = 0xA15E
SEAL_HEADER = struct.Struct("<HBBBBHQ")  # magic, header size, major, minor, compression, reserved, size
NONE, ZLIB, ZSTD = 0, 1, 2
U64 = struct.Struct("<Q")
F64 = struct.Struct("<d")
KEY_ID = U64  # the key-set id every he-tf container starts with (after its tag, for key containers)

# Offsets inside a Ciphertext's (or PublicKey's) members, i.e. after its SEALHeader.
CT_PARMS_ID, CT_NTT, CT_SIZE, CT_N, CT_PRIMES, CT_SCALE, CT_CORRECTION, CT_DATA = (
    0,
    32,
    33,
    41,
    49,
    57,
    65,
    73,
)
# Offsets inside a Plaintext's (or SecretKey's) members.
PT_PARMS_ID, PT_COEFF_COUNT, PT_SCALE, PT_DATA = 0, 32, 40, 48
# Inside a DynArray at its offset: SEALHeader, uint64 count, words.
DYN_COUNT, DYN_WORDS = SEAL_HEADER.size, SEAL_HEADER.size + 8

ZSTD_BLOCK = 1 << 17  # zstd's largest block: 128 KiB


# ---------------------------------------------------------------------------------------------------
# SEAL objects: header, (de)compression, fields


@dataclasses.dataclass(frozen=True)
class SealHeader:
    magic: int
    header_size: int
    major: int
    minor: int
    compression: int
    reserved: int
    size: int

    @classmethod
    def read(cls, data: bytes, offset: int = 0) -> SealHeader:
        return cls(*SEAL_HEADER.unpack_from(data, offset))

    def pack(self, **changes) -> bytes:
        h = dataclasses.replace(self, **changes)
        return SEAL_HEADER.pack(h.magic, h.header_size, h.major, h.minor, h.compression, h.reserved, h.size)

    @property
    def plausible(self) -> bool:
        return self.magic == SEAL_MAGIC and self.header_size == SEAL_HEADER.size and self.major in (3, 4)


def _zstd():
    import zstandard  # the `test` extra installs it

    return zstandard


MEMBERS_LIMIT = 1 << 26  # real objects of the test parameters are far smaller; bombs are refused


def members(seal_bytes: bytes, limit: int = MEMBERS_LIMIT) -> bytes:
    """The uncompressed members of one SEAL object (everything after its header), at most ``limit``
    bytes (a bomb raises ValueError instead of inflating)."""
    header = SealHeader.read(seal_bytes)
    if not header.plausible:
        raise ValueError(f"not a SEAL object: {header}")
    body = seal_bytes[SEAL_HEADER.size : header.size]
    if header.compression == NONE:
        return body
    if header.compression == ZLIB:
        out = zlib.decompressobj().decompress(body, limit + 1)
    elif header.compression == ZSTD:
        out = _zstd().ZstdDecompressor().stream_reader(body).read(limit + 1)
    else:
        raise ValueError(f"unknown SEAL compression mode {header.compression}")
    if len(out) > limit:
        raise ValueError(f"the object inflates past {limit} bytes")
    return out


def seal_object(body: bytes, compression: int = NONE, like: bytes | None = None) -> bytes:
    """A SEAL object around ``body`` (members), compressed with ``compression``.

    The version comes from ``like`` (a real object) when given, else 4.1.
    """
    if compression == ZLIB:
        body = zlib.compress(body)
    elif compression == ZSTD:
        body = _zstd().ZstdCompressor(level=1).compress(body)
    elif compression != NONE:
        raise ValueError(f"unknown SEAL compression mode {compression}")
    base = (
        SealHeader.read(like) if like is not None else SealHeader(SEAL_MAGIC, SEAL_HEADER.size, 4, 1, 0, 0, 0)
    )
    return base.pack(compression=compression, reserved=0, size=SEAL_HEADER.size + len(body)) + body


def dynarray(words: bytes | int, declared: int | None = None) -> bytes:
    """A DynArray of uint64 words (``bytes`` of them, or that many zero words) declaring ``declared``."""
    data = bytes(8 * words) if isinstance(words, int) else words
    count = len(data) // 8 if declared is None else declared
    size = SEAL_HEADER.size + 8 + 8 * count
    return SEAL_HEADER.pack(SEAL_MAGIC, SEAL_HEADER.size, 4, 1, NONE, 0, size) + U64.pack(count) + data


@dataclasses.dataclass
class Ciphertext:
    """A Ciphertext's (or PublicKey's) members, editable field by field."""

    parms_id: bytes
    ntt_form: int
    size: int
    poly_modulus_degree: int
    coeff_modulus_size: int
    scale: float
    correction_factor: int
    data: bytes  # the DynArray (with its header) and, for a seeded ciphertext, the PRNG info

    @classmethod
    def parse(cls, seal_bytes: bytes) -> Ciphertext:
        m = members(seal_bytes)
        return cls(
            m[CT_PARMS_ID:CT_NTT],
            m[CT_NTT],
            U64.unpack_from(m, CT_SIZE)[0],
            U64.unpack_from(m, CT_N)[0],
            U64.unpack_from(m, CT_PRIMES)[0],
            F64.unpack_from(m, CT_SCALE)[0],
            U64.unpack_from(m, CT_CORRECTION)[0],
            m[CT_DATA:],
        )

    @property
    def word_count(self) -> int:
        return U64.unpack_from(self.data, DYN_COUNT)[0]

    @property
    def seeded(self) -> bool:
        return self.word_count == self.poly_modulus_degree * self.coeff_modulus_size

    def body(self) -> bytes:
        return (
            self.parms_id
            + bytes([self.ntt_form])
            + U64.pack(self.size)
            + U64.pack(self.poly_modulus_degree)
            + U64.pack(self.coeff_modulus_size)
            + F64.pack(self.scale)
            + U64.pack(self.correction_factor)
            + self.data
        )

    def save(self, compression: int = NONE) -> bytes:
        return seal_object(self.body(), compression)


@dataclasses.dataclass
class Plaintext:
    """A Plaintext's (or SecretKey's) members."""

    parms_id: bytes
    coeff_count: int
    scale: float
    data: bytes

    @classmethod
    def parse(cls, seal_bytes: bytes) -> Plaintext:
        m = members(seal_bytes)
        return cls(
            m[PT_PARMS_ID:PT_COEFF_COUNT],
            U64.unpack_from(m, PT_COEFF_COUNT)[0],
            F64.unpack_from(m, PT_SCALE)[0],
            m[PT_DATA:],
        )

    def body(self) -> bytes:
        return self.parms_id + U64.pack(self.coeff_count) + F64.pack(self.scale) + self.data

    def save(self, compression: int = NONE) -> bytes:
        return seal_object(self.body(), compression)


def edit_ciphertext(seal_bytes: bytes, compression: int = NONE, **fields) -> bytes:
    """``seal_bytes`` (a ciphertext or public key) with the given :class:`Ciphertext` fields replaced."""
    ct = dataclasses.replace(Ciphertext.parse(seal_bytes), **fields)
    return ct.save(compression)


def empty_ciphertext(seal_bytes: bytes, declared_words: int = 0) -> bytes:
    """A size-0 ciphertext (113 bytes) with the metadata of ``seal_bytes``, its DynArray declaring
    ``declared_words`` words and holding none. SEAL accepts size 0 and then bounds the DynArray by 0
    words, which means unbounded: a non-zero count makes it zero-fill ``8 * declared_words`` bytes."""
    ct = Ciphertext.parse(seal_bytes)
    ct.size, ct.data = 0, dynarray(b"", declared=declared_words)
    return ct.save()


def empty_plaintext(seal_bytes: bytes, declared_words: int = 0) -> bytes:
    """A plaintext (or secret key) of 0 coefficients in non-NTT form (88 bytes), its DynArray declaring
    ``declared_words`` words: SEAL's bound is ``coeff_count`` = 0, i.e. none."""
    pt = Plaintext.parse(seal_bytes)
    pt.parms_id, pt.coeff_count, pt.data = bytes(32), 0, dynarray(b"", declared=declared_words)
    return pt.save()


# ---------------------------------------------------------------------------------------------------
# Decompression bombs


def zstd_zeros_frame(size: int, declare_size: bool = True) -> bytes:
    """A valid zstd frame of ``size`` zero bytes made of RLE blocks: 4 bytes per 128 KiB (32768:1).

    With ``declare_size`` the frame header states the content size, else the decoder learns it only
    by decompressing.
    """
    if size <= 0:
        raise ValueError("size must be positive")
    magic = struct.pack("<I", 0xFD2FB528)
    window = bytes([(17 - 10) << 3])  # Window_Descriptor: 2^17 bytes
    if declare_size:
        head = bytes([0b11 << 6]) + window + U64.pack(size)  # FCS_Field_Size 8, not single-segment
    else:
        head = bytes([0]) + window
    blocks = bytearray()
    left = size
    while left:
        n = min(left, ZSTD_BLOCK)
        left -= n
        blocks += (int(left == 0) | 1 << 1 | n << 3).to_bytes(
            3, "little"
        ) + b"\x00"  # last?, RLE, size; byte 0
    return magic + head + bytes(blocks)


def zlib_zeros(size: int) -> bytes:
    """A zlib stream of ``size`` zero bytes (about 1030:1), compressed without holding them."""
    c = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    out = []
    for start in range(0, size, len(chunk)):
        out.append(c.compress(chunk[: min(len(chunk), size - start)]))
    out.append(c.flush())
    return b"".join(out)


def bomb(size: int, compression: int = ZSTD, declare_size: bool = True, like: bytes | None = None) -> bytes:
    """A SEAL object whose members decompress to ``size`` zero bytes."""
    body = zstd_zeros_frame(size, declare_size) if compression == ZSTD else zlib_zeros(size)
    base = (
        SealHeader.read(like) if like is not None else SealHeader(SEAL_MAGIC, SEAL_HEADER.size, 4, 1, 0, 0, 0)
    )
    return base.pack(compression=compression, reserved=0, size=SEAL_HEADER.size + len(body)) + body


# ---------------------------------------------------------------------------------------------------
# he_tf.serialize strings and variant encodings


def crc32(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


def split_serialized(s: bytes) -> tuple[bytes, bytes]:
    """An ``he_tf.serialize`` string's key-set id and SEAL bytes (the CRC-32 dropped)."""
    return s[: KEY_ID.size], s[KEY_ID.size : -4]


def serialized(key_id: bytes, seal_bytes: bytes) -> bytes:
    """An ``he_tf.serialize`` string: id, SEAL bytes and their (correct) CRC-32."""
    return key_id + seal_bytes + crc32(seal_bytes)


RESIDUE_MAGIC = b"HETFRES1"
RESIDUE_PREFIX = 113  # SEAL's header and ciphertext members up to the data array's word count


def residue_split(payload: bytes) -> tuple[bytes, bytes]:
    """A residue-encoded ciphertext (csrc/core/residues.h): (magic and SEAL prefix, the rest)."""
    if not payload.startswith(RESIDUE_MAGIC):
        raise ValueError("not residue-encoded")
    cut = len(RESIDUE_MAGIC) + RESIDUE_PREFIX
    return payload[:cut], payload[cut:]


def residue_first_word(payload: bytes, value: int, bits: int) -> bytes:
    """``payload`` with its first residue (the low ``bits`` bits of the stream) set to ``value``."""
    head, rest = residue_split(payload)
    stream = int.from_bytes(rest[:8], "little")
    stream = (stream & ~((1 << bits) - 1)) | value
    return head + stream.to_bytes(8, "little") + rest[8:]


def residue_prefix_field(payload: bytes, offset: int, value: int) -> bytes:
    """``payload`` with the uint64 at ``offset`` of its SEAL prefix replaced (e.g. 8: the header's size,
    49: the polynomial count, 105: the word count)."""
    at = len(RESIDUE_MAGIC) + offset
    return payload[:at] + struct.pack("<Q", value) + payload[at + 8:]


def edit_serialized(s: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """``s`` with its SEAL bytes replaced by ``edit(seal_bytes)``, the checksum made right again."""
    key_id, seal_bytes = split_serialized(s)
    return serialized(key_id, edit(seal_bytes))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos, value, shift = pos + 1, value | (byte & 0x7F) << shift, shift + 7
        if byte < 0x80:
            return value, pos


def _variant_protos(serialized_tensor: bytes):
    """The TensorProto of a serialized variant tensor and its elements' VariantTensorDataProtos.

    ``tf.io.serialize_tensor`` puts them in ``tensor_content``: one varint length per element, then
    the elements; TensorProtos made otherwise may use ``variant_val``.
    """
    from tensorflow.core.framework import tensor_pb2

    proto = tensor_pb2.TensorProto.FromString(serialized_tensor)
    if proto.variant_val:
        return proto, list(proto.variant_val)
    content, pos, count = proto.tensor_content, 0, 1
    for d in proto.tensor_shape.dim:
        count *= d.size
    sizes = []
    for _ in range(count):
        size, pos = _read_varint(content, pos)
        sizes.append(size)
    elements = []
    for size in sizes:
        elements.append(tensor_pb2.VariantTensorDataProto.FromString(content[pos : pos + size]))
        pos += size
    return proto, elements


def variant_elements(serialized_tensor: bytes) -> list[bytes]:
    """The element encodings (id + SEAL bytes) of ``tf.io.serialize_tensor`` of a variant tensor."""
    return [e.metadata for e in _variant_protos(serialized_tensor)[1]]


def with_variant_elements(serialized_tensor: bytes, encodings: list[bytes]) -> bytes:
    """``serialized_tensor`` (a variant tensor's proto) with each element's encoding replaced."""
    proto, elements = _variant_protos(serialized_tensor)
    if len(encodings) != len(elements):
        raise ValueError(f"one encoding per element: {len(elements)}, got {len(encodings)}")
    for e, data in zip(elements, encodings):
        e.metadata = data
    if not proto.variant_val:
        protos = [e.SerializeToString() for e in elements]
        proto.tensor_content = b"".join(_varint(len(p)) for p in protos) + b"".join(protos)
    return proto.SerializeToString()


def edit_variant(serialized_tensor: bytes, edit: Callable[[bytes], bytes], index: int | None = None) -> bytes:
    """Each element's SEAL bytes (or only element ``index``'s) replaced by ``edit(seal_bytes)``."""
    elements = variant_elements(serialized_tensor)
    for i, e in enumerate(elements):
        if index is None or i == index:
            elements[i] = e[: KEY_ID.size] + edit(e[KEY_ID.size :])
    return with_variant_elements(serialized_tensor, elements)


# ---------------------------------------------------------------------------------------------------
# Key containers (public context, secret key)


@dataclasses.dataclass(frozen=True)
class Blob:
    """A length-prefixed SEAL object inside a key container."""

    length_offset: int  # where its uint64 length is
    start: int
    end: int


def blobs(container: bytes) -> list[Blob]:
    """The SEAL objects of a key container, in order, found by their uint64 length and SEALHeader."""
    found, pos = [], 0
    while pos + 8 + SEAL_HEADER.size <= len(container):
        (length,) = U64.unpack_from(container, pos)
        start = pos + 8
        if SEAL_HEADER.size <= length <= len(container) - start:
            h = SealHeader.read(container, start)
            if h.plausible and h.size == length:
                found.append(Blob(pos, start, start + length))
                pos = start + length
                continue
        pos += 1
    return found


def replace_blob(container: bytes, index: int, seal_bytes: bytes) -> bytes:
    """``container`` with blob ``index`` replaced (its length prefix too) and its checksum made right."""
    b = blobs(container)[index]
    out = container[: b.length_offset] + U64.pack(len(seal_bytes)) + seal_bytes + container[b.end :]
    return with_digest(out)


def key_id_offset(container: bytes, key_id: int) -> int:
    """Where the container stores ``key_id`` (read from the real bytes)."""
    offset = container.find(KEY_ID.pack(key_id))
    if offset < 0:
        raise ValueError(f"the container does not hold key-set id {key_id:016x}")
    return offset


def relabel(container: bytes, key_id: int, new_key_id: int) -> bytes:
    """``container`` (of key set ``key_id``) claiming to belong to key set ``new_key_id``; every copy of
    the id is replaced and the digest made right, as an attacker would."""
    key_id_offset(container, key_id)
    return with_digest(container.replace(KEY_ID.pack(key_id), KEY_ID.pack(new_key_id)))


def flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


DIGEST = U64  # the trailer of a key container: BLAKE2b (8-byte digest) of everything before it


def with_digest(container: bytes) -> bytes:
    """``container`` with its trailer recomputed over its (edited) contents, as an attacker can."""
    body = container[: -DIGEST.size]
    return body + hashlib.blake2b(body, digest_size=DIGEST.size).digest()


def digest_matches(container: bytes) -> bool:
    return with_digest(container) == container


# ---------------------------------------------------------------------------------------------------
# Wire messages


WIRE_LENGTH = struct.Struct(">I")


def wire_split(message: bytes) -> tuple[bytes, dict, bytes]:
    """A wire message's magic, JSON header and body."""
    (size,) = WIRE_LENGTH.unpack_from(message, 8)
    start = 8 + WIRE_LENGTH.size
    return message[:8], json.loads(message[start : start + size]), message[start + size :]


def wire_join(magic: bytes, header: dict | bytes, body: bytes) -> bytes:
    head = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return magic + WIRE_LENGTH.pack(len(head)) + head + body


def wire_strings(message: bytes) -> list[bytes]:
    """The serialized ciphertexts of a wire message, split by the header's lengths."""
    _, header, body = wire_split(message)
    out, pos = [], 0
    for n in header["lengths"]:
        out.append(body[pos : pos + n])
        pos += n
    return out


def wire_with_strings(message: bytes, strings: list[bytes]) -> bytes:
    """``message`` carrying ``strings`` instead (lengths updated, grid unchanged)."""
    magic, header, _ = wire_split(message)
    header["lengths"] = [len(s) for s in strings]
    return wire_join(magic, header, b"".join(strings))


def wire_nested_header(message: bytes, depth: int) -> bytes:
    """``message`` whose header holds a list nested ``depth`` deep (valid JSON, otherwise intact)."""
    magic, header, body = wire_split(message)
    head = json.dumps(header, separators=(",", ":")).encode()
    assert head.endswith(b"}")
    head = head[:-1] + b',"nested":' + b"[" * depth + b"]" * depth + b"}"
    return wire_join(magic, head, body)


def wire_with_shape(message: bytes, shape: list[int]) -> bytes:
    """``message`` whose header claims the tensor has ``shape`` (grid, lengths and body unchanged)."""
    magic, header, body = wire_split(message)
    header["tensor"]["shape"] = shape
    return wire_join(magic, header, body)


def wire_with_meta(message: bytes, **meta) -> bytes:
    """``message`` whose header's meta also holds ``meta`` (e.g. a block layout's ``samples``)."""
    magic, header, body = wire_split(message)
    header["meta"].update(meta)
    return wire_join(magic, header, body)


def wire_huge_shape(message: bytes, rows: int, slots: int) -> bytes:
    """A request claiming ``rows`` samples (batch layout): the grid and lengths match, the body is empty."""
    magic, header, _ = wire_split(message)
    t = header["tensor"]
    t["shape"][0] = rows
    grid = [-(-rows // slots)] + t["ciphertext_shape"][1:]
    t["ciphertext_shape"] = grid
    count = 1
    for d in grid:
        count *= d
    header["lengths"] = [0] * count
    return wire_join(magic, header, b"")
