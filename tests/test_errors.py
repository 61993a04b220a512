"""Bad input gives a Python exception that says what is wrong; nothing aborts."""

import hashlib
import struct

import numpy as np
import pytest
import tensorflow as tf

import he_tf

X = np.arange(6.0).reshape(2, 3)


def test_decrypt_with_another_keysets_secret_key(keys, other_keys):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="secret key belongs to key set"):
        he_tf.decrypt(other_keys.secret, x_enc)


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
def test_adding_ciphertexts_of_two_keysets(keys, other_keys, mode):
    a = he_tf.encrypt(keys.public, X)
    b = he_tf.encrypt(other_keys.public, X)
    add = (lambda p, q: p + q) if mode == "eager" else tf.function(lambda p, q: p + q)
    with pytest.raises(tf.errors.InvalidArgumentError, match="different KeySets cannot be combined"):
        add(a, b)


def test_non_ciphertext_variant(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    not_ciphertexts = tf.fill(x_enc.ciphertexts.shape, keys.public.tensor)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected he_tf ciphertexts.*PublicContext"):
        he_tf.decrypt(keys.secret, x_enc.with_ciphertexts(not_ciphertexts))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected he_tf ciphertexts"):
        x_enc + x_enc.with_ciphertexts(not_ciphertexts)


def test_context_input_must_be_a_context(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="input 'context' must hold he_tf.PublicContext"):
        he_tf.decrypt(keys.secret, x_enc.with_ciphertexts(x_enc.ciphertexts, context=keys.secret.tensor))


def test_corrupted_ciphertext_bytes(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    wire = tf.io.serialize_tensor(x_enc.ciphertexts).numpy()
    magic = b"\xa1\x10"  # SEAL's serialization header magic
    assert magic in wire
    corrupted = tf.io.parse_tensor(wire.replace(magic, b"\x00\x00"), out_type=tf.variant)
    with pytest.raises(tf.errors.InvalidArgumentError, match="refused a ciphertext: it does not start with a SEAL"):
        he_tf.decrypt(keys.secret, x_enc.with_ciphertexts(corrupted))


@pytest.mark.parametrize("cut", [0, 8, 100, 5000, -1])
def test_corrupted_public_context(keys, cut):
    data = keys.public.serialize()
    with pytest.raises(ValueError, match="public context"):
        he_tf.PublicContext.deserialize(data[:cut])


def test_corrupted_key_material(keys):
    data = bytearray(keys.public.serialize())
    # Container: tag, key-set id, N, prime count, primes, scale bits, then length-prefixed blobs
    # (public key, relinearization keys, Galois keys), then the digest.
    (primes,) = struct.unpack_from("<Q", data, 24)
    public_key = 32 + 8 * primes + 8
    (public_key_length,) = struct.unpack_from("<Q", data, public_key)
    relin_keys = public_key + 8 + public_key_length + 8
    data[relin_keys + 200:relin_keys + 260] = b"\x00" * 60
    with pytest.raises(ValueError, match="checksum does not match"):
        he_tf.PublicContext.deserialize(bytes(data))
    # Behind a recomputed checksum, the loader itself refuses the key material.
    resealed = bytes(data[:-8]) + hashlib.blake2b(bytes(data[:-8]), digest_size=8).digest()
    with pytest.raises(ValueError, match="refused the relinearization keys"):
        he_tf.PublicContext.deserialize(resealed)
    with pytest.raises(ValueError, match="secret key"):
        he_tf.SecretKey.deserialize(keys.public.serialize())


def test_values_too_large_or_not_finite(keys):
    with pytest.raises(tf.errors.InvalidArgumentError, match="too large to encrypt.*below 524288"):
        he_tf.encrypt(keys.public, [1.0, 1e7])
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        he_tf.encrypt(keys.public, [np.inf])


def test_wrong_argument_types(keys):
    with pytest.raises(TypeError, match="pass the secret key as secret="):
        he_tf.encrypt(keys.secret, X)
    with pytest.raises(TypeError, match="floating-point"):
        he_tf.encrypt(keys.public, np.arange(3))
    with pytest.raises(ValueError, match="layout"):
        he_tf.encrypt(keys.public, X, layout="diagonal")
    with pytest.raises(TypeError, match="SecretKey"):
        he_tf.decrypt(keys.public, he_tf.encrypt(keys.public, X))


def test_add_shape_and_layout_mismatch(keys):
    a = he_tf.encrypt(keys.public, X)
    with pytest.raises(ValueError, match="packed axes differ"):
        a + he_tf.encrypt(keys.public, X[:1])  # would broadcast along the packed axis
    with pytest.raises(ValueError, match="same layout"):
        a + he_tf.encrypt(keys.public, X, layout="vector")
    with pytest.raises(ValueError, match="do not broadcast"):
        a + np.ones((4,))


def test_level_exhaustion_fails_at_trace_time_with_the_fix(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    traced = tf.function(lambda v: v * v * v * v)
    with pytest.raises(ValueError, match=r"needs depth 3 .* provides 2; he_tf.Params.for_depth\(3\) gives "
                                         r"Params\(poly_modulus_degree=16384"):
        traced(x_enc)
    with pytest.raises(ValueError, match="polyval of degree 3 needs 3"):
        tf.math.polyval([1.0, 2.0, 3.0, 4.0], x_enc)


def test_multiply_across_keysets_and_params(keys, other_keys):
    a = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="different KeySets"):
        a * he_tf.encrypt(other_keys.public, X)
    small = he_tf.KeySet.generate(he_tf.Params.for_depth(1), rotations=None)
    with pytest.raises(ValueError, match="different parameters"):
        a + he_tf.encrypt(small.public, X)


def test_shape_errors(keys):
    x_enc = he_tf.encrypt(keys.public, X)  # (2, 3), axis 0 packed
    with pytest.raises(ValueError, match="cannot multiply an encrypted"):
        x_enc @ np.ones((2, 2))
    with pytest.raises(ValueError, match="packed into ciphertext slots"):
        tf.concat([x_enc, x_enc], axis=0)
    with pytest.raises(ValueError, match="packed into ciphertext slots"):
        tf.gather(x_enc, [0], axis=0)
    with pytest.raises(ValueError, match="would split or merge axis 0"):
        tf.reshape(x_enc, [3, 2])
    with pytest.raises(TypeError, match="two encrypted tensors"):
        x_enc @ he_tf.encrypt(keys.public, np.ones((3, 2)))


@pytest.mark.parametrize("op", [
    lambda v: tf.math.greater(v, 0.0),
    lambda v: tf.math.exp(v),
    lambda v: tf.nn.relu(v),
    lambda v: tf.math.maximum(v, 1.0),
    lambda v: tf.cast(v, tf.float32),
])
def test_unsupported_ops_raise_type_error(keys, op):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(TypeError, match="not supported on encrypted tensors"):
        op(x_enc)


def test_no_truth_value(keys):
    with pytest.raises(TypeError, match="truth value"):
        bool(he_tf.encrypt(keys.public, X))


def test_missing_galois_keys(keys):
    # `keys` has no rotation keys: sums over the packed axis need them.
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"no Galois key .*rotations='power_of_two'"):
        tf.reduce_sum(x_enc, axis=0)
    only_one = he_tf.KeySet.generate(rotations=[3])
    x_vec = he_tf.encrypt(only_one.public, np.arange(8.0)[None], layout="vector")
    with pytest.raises(tf.errors.InvalidArgumentError, match="no Galois key for a rotation by -5"):
        tf.roll(x_vec, shift=-3, axis=1)  # on length 8 this also rotates by 5


def test_plaintext_too_large(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot be encoded"):
        x_enc + np.full(X.shape, 1e7)


def test_decrypt_needs_the_secret_key(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(TypeError, match="SecretKey"):
        he_tf.decrypt(keys.public, x_enc)
    from he_tf import ops

    with pytest.raises(tf.errors.InvalidArgumentError, match="must hold he_tf.SecretKey"):
        ops.decrypt(x_enc.context, keys.public.tensor, x_enc.ciphertexts, num_values=2)
