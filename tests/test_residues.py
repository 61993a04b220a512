"""The residue encoding of ciphertexts (he_tf.serialize(encoding="residues")): exact, small, and hostile-safe."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from tests.hostile import craft

PARAMS = he_tf.Params(4096, (39, 30, 39), 30)
X = np.linspace(-3.0, 3.0, 2 * 2048).reshape(2048, 2)


@pytest.fixture(scope="module")
def keys():
    return he_tf.KeySet.generate(PARAMS)


@pytest.fixture(scope="module", params=["seeded", "public"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def encrypted(kind, keys):
    return he_tf.encrypt(keys.public, X, secret=keys.secret if kind == "seeded" else None)


def _load(keys, x, strings):
    data = tf.reshape(tf.constant(strings, tf.string), x.ciphertexts.shape)
    return he_tf.deserialize(keys.public, data, tf.type_spec_from_value(x))


def test_round_trip_decrypts_exactly_as_zstd_does(keys, kind, encrypted):
    residues = he_tf.serialize(encrypted, encoding="residues").numpy().ravel()
    zstd = he_tf.serialize(encrypted).numpy().ravel()
    assert all(s[8:16] == craft.RESIDUE_MAGIC for s in residues)
    a = he_tf.decrypt(keys.secret, _load(keys, encrypted, residues)).numpy()
    b = he_tf.decrypt(keys.secret, _load(keys, encrypted, zstd)).numpy()
    np.testing.assert_array_equal(a, b)  # the same ciphertext, bit for bit
    np.testing.assert_allclose(a, X, atol=1e-5)
    # Every residue in its prime's width: 39 + 30 bits per coefficient of each stored polynomial (one and
    # a seed of SEAL's 81-byte generator info when seeded), after the key-set id, the magic and SEAL's prefix;
    # then the CRC-32.
    stream = 4096 * (39 + 30) // 8
    expected = 8 + 8 + 113 + (stream + 81 if kind == "seeded" else 2 * stream) + 4
    assert [len(s) for s in residues] == [expected] * len(residues)
    assert sum(map(len, residues)) <= sum(map(len, zstd))


def test_after_computation_and_at_the_last_level(keys):
    x = he_tf.encrypt(keys.public, X, secret=keys.secret)
    y = x * 0.5 + 1.0  # one level down, not seeded
    strings = he_tf.serialize(y, encoding="residues").numpy().ravel()
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, _load(keys, y, strings)).numpy(), 0.5 * X + 1.0, atol=1e-4)


def test_unknown_encoding_is_refused(encrypted):
    with pytest.raises(ValueError, match="encoding must be one of"):
        he_tf.serialize(encrypted, encoding="lz4")


def _edited(keys, x, edit):
    strings = [craft.edit_serialized(s, edit) for s in he_tf.serialize(x, encoding="residues").numpy().ravel()]
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        _load(keys, x, strings)
    return error.value.message


def test_a_residue_at_its_prime_is_refused(keys, encrypted):
    q0 = PARAMS.primes[0]
    message = _edited(keys, encrypted, lambda b: craft.residue_first_word(b, q0, q0.bit_length()))
    assert "a residue is not below its prime" in message


@pytest.mark.parametrize("cut", [1, 9, 500, 5000])
def test_truncated_is_refused(keys, encrypted, cut):
    message = _edited(keys, encrypted, lambda b: b[:-cut])
    assert "refused a ciphertext" in message


def test_size_and_count_lies_are_refused_before_allocation(keys, encrypted):
    assert "inconsistent size" in _edited(keys, encrypted, lambda b: craft.residue_prefix_field(b, 8, 1 << 40))
    assert "words where its parameters give" in _edited(
        keys, encrypted, lambda b: craft.residue_prefix_field(b, 105, 1 << 40))
    assert "polynomials, not 2 or 3" in _edited(keys, encrypted, lambda b: craft.residue_prefix_field(b, 49, 1 << 40))


def test_other_parameters_are_refused(encrypted):
    other = he_tf.KeySet.generate(he_tf.Params(4096, (38, 30, 38), 30))
    strings = he_tf.serialize(encrypted, encoding="residues").numpy().ravel()
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        _load(other, encrypted, strings)
