"""Which compression leaves the process, and that every mode still loads.

SEAL's 16-byte header (magic A15E, header size, version, compression mode,
reserved, total size) says how the bytes after it are compressed, so bytes
compressed with zlib by an older he-tf still load with a zstd build.
"""

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

import he_tf

ATOL = 1e-6
X = np.random.default_rng(11).uniform(-10, 10, size=(3, 4))
NONE, ZLIB, ZSTD = 0, 1, 2
HEADER = struct.Struct("<HBBBBHQ")  # magic, header size, major, minor, compression, reserved, size


def _seal_has_zstd() -> bool:
    core = Path(he_tf.__file__).parent / "libhe_tf_core.so"
    out = subprocess.run(["nm", "-DC", "--defined-only", str(core)], capture_output=True, text=True).stdout
    return "ztools::zstd_" in out


@pytest.fixture(scope="module")
def default_mode() -> int:
    if shutil.which("nm") is None:
        pytest.skip("needs binutils' nm")
    # An installed SEAL without zstd compresses with zlib instead.
    return ZSTD if _seal_has_zstd() else ZLIB


def _header(seal_bytes: bytes) -> tuple:
    magic, size, *rest = HEADER.unpack_from(seal_bytes)
    assert (magic, size) == (0xA15E, HEADER.size)
    return tuple(rest)  # major, minor, compression, reserved, total size


def _variant_bytes(cts: tf.Tensor) -> list[bytes]:
    """Each ciphertext's variant encoding: 8-byte key-set id, then SEAL's bytes.

    tf.io.serialize_tensor puts a variant tensor in tensor_content: one varint
    length per element, then each element's VariantTensorDataProto.
    """
    proto = tensor_pb2.TensorProto.FromString(tf.io.serialize_tensor(cts).numpy())
    content, pos, sizes = proto.tensor_content, 0, []
    for _ in range(int(np.prod([d.size for d in proto.tensor_shape.dim]))):
        size = shift = 0
        while True:
            byte = content[pos]
            pos, size, shift = pos + 1, size | (byte & 0x7F) << shift, shift + 7
            if byte < 0x80:
                break
        sizes.append(size)
    out = []
    for size in sizes:
        out.append(tensor_pb2.VariantTensorDataProto.FromString(content[pos:pos + size]).metadata)
        pos += size
    assert pos == len(content) and out
    return out


def _recompress_zlib(seal_bytes: bytes) -> bytes:
    """What zlib-built SEAL writes for the same object."""
    major, minor, mode, reserved, size = _header(seal_bytes)
    assert mode == NONE and size == len(seal_bytes)
    body = zlib.compress(seal_bytes[HEADER.size:])
    return HEADER.pack(0xA15E, HEADER.size, major, minor, ZLIB, reserved, HEADER.size + len(body)) + body


def test_serialize_and_keys_use_the_default_compression(keys, default_mode):
    for x in (he_tf.encrypt(keys.public, X), he_tf.encrypt(keys.public, X, secret=keys.secret)):
        for s in he_tf.serialize(x).numpy().ravel():
            assert _header(s[8:])[2] == default_mode
    public = keys.public.serialize()
    first_key = public.index(struct.pack("<HBB", 0xA15E, HEADER.size, 4))  # the public key's SEAL 4 header
    assert _header(public[first_key:])[2] == default_mode


def test_secret_key_encryption_is_seeded_and_uncompressed_until_serialized(keys):
    public_enc = he_tf.encrypt(keys.public, X)
    secret_enc = he_tf.encrypt(keys.public, X, secret=keys.secret)
    seeded, full = _variant_bytes(secret_enc.ciphertexts), _variant_bytes(public_enc.ciphertexts)
    for s, f in zip(seeded, full):
        assert _header(s[8:])[2] == NONE and _header(f[8:])[2] == NONE
        assert len(s) < 0.55 * len(f)
    # Compressing on serialize keeps the seeded form.
    serialized = he_tf.serialize(secret_enc).numpy().ravel()
    assert all(len(c) < len(s) for c, s in zip(serialized, seeded))


@pytest.mark.parametrize("secret", [False, True], ids=["public-key", "secret-key (seeded)"])
def test_zlib_compressed_ciphertexts_still_deserialize(keys, secret):
    x = he_tf.encrypt(keys.public, X, secret=keys.secret if secret else None)
    old = [s[:8] + _recompress_zlib(s[8:]) for s in _variant_bytes(x.ciphertexts)]
    old = [s + zlib.crc32(s[8:]).to_bytes(4, "little") for s in old]  # he_tf.serialize's trailing checksum
    strings = tf.reshape(tf.constant(old), x.ciphertexts.shape)
    restored = he_tf.deserialize(keys.public, strings, tf.type_spec_from_value(x))
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, restored).numpy(), X, atol=ATOL)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, restored + x).numpy(), 2 * X, atol=ATOL)
