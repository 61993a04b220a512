"""The validating loaders: what they accept, and the messages of what they refuse.

The hostile inputs themselves (bombs, crafted layouts, bit flips, relabelled keys) are in the bad-input
matrix (tests/test_bad_input.py); these are the loaders' contract on honest and near-honest bytes.
"""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf import _core
from tests.hostile import craft

X = np.array([[1.0, -2.0, 3.5], [0.25, 4.0, -1.0]])


def test_containers_end_with_the_digest_the_hostile_inputs_recompute(keys):
    # The bad-input matrix and the fuzz mutators re-seal edited containers (craft.with_digest), as anyone
    # can (the digest is no MAC); were the scheme to change, their edits would stop at the digest check.
    assert craft.digest_matches(keys.public.serialize()) and craft.digest_matches(keys.secret.serialize())
    assert not craft.digest_matches(craft.flip_bit(keys.public.serialize(), 100))


def test_key_set_id_is_the_public_keys_digest(keys):
    assert keys.public.key_id == keys.secret.key_id
    assert _core.load_secret_key(keys.secret.serialize()) == keys.public.key_id
    _core.load_public_context(keys.public.serialize())


def test_containers_of_the_previous_format_say_why(keys):
    for data, cls in ((keys.public.serialize(), he_tf.PublicContext), (keys.secret.serialize(), he_tf.SecretKey)):
        old = data[:7] + b"1" + data[8:]
        with pytest.raises(ValueError, match="carry no checksum: generate a new key set"):
            cls.deserialize(old)


def test_a_flipped_or_missing_byte_is_refused(keys):
    data = keys.public.serialize()
    with pytest.raises(ValueError, match="checksum does not match"):
        he_tf.PublicContext.deserialize(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
    with pytest.raises(ValueError, match="cannot read a public context: truncated"):
        he_tf.PublicContext.deserialize(craft.with_digest(data[:-9] + data[-8:]))


def test_deserialize_checks_level_and_scale_against_the_spec(keys):
    x = he_tf.encrypt(keys.public, X)
    strings = he_tf.serialize(x)
    spec = tf.type_spec_from_value(x)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, he_tf.deserialize(keys.public, strings, spec)), X,
                               atol=1e-6)
    lower = tf.type_spec_from_value(he_tf.encrypt(keys.public, X) * 1.0)  # one level down, same scale
    with pytest.raises(tf.errors.InvalidArgumentError, match="at level 2, its tensor declares level 1"):
        he_tf.deserialize(keys.public, strings, lower)
    doubled = he_tf.HETensor.Spec(
        ciphertexts=spec.ciphertexts, context=spec.context, shape=spec.shape, dtype=spec.dtype, layout=spec.layout,
        packed_axis=spec.packed_axis, level=spec.level, scale=2 * spec.scale, params=spec.params)
    with pytest.raises(tf.errors.InvalidArgumentError, match="has scale 2\\^40, its tensor declares 2\\^41"):
        he_tf.deserialize(keys.public, strings, doubled)


def test_decrypt_checks_level_and_scale(keys):
    x = he_tf.encrypt(keys.public, X)
    y = x * 2.0  # level 1: its ciphertexts under x's spec claim the wrong level
    with pytest.raises(tf.errors.InvalidArgumentError, match="decrypt: a ciphertext is at level 1, its tensor "
                                                             "declares level 2"):
        he_tf.decrypt(keys.secret, x.with_ciphertexts(y.ciphertexts))


def test_python_loaders_refuse_with_value_error(keys):
    context = _core.load_public_context(keys.public.serialize())
    with pytest.raises(ValueError, match="refused a ciphertext: truncated|refused a ciphertext: it does not"):
        _core.load_ciphertext(context, b"\x5e\xa1" + bytes(30))
    with pytest.raises(ValueError, match="cannot read a secret key"):
        _core.load_secret_key(keys.public.serialize())


def test_seal_4_objects_of_another_minor_version_load_as_4_1(keys):
    """TenSEAL 0.3.18's SEAL writes SEAL 4.3 headers: the loaders read any SEAL 4 minor version with 4.1's
    layout (checked member by member) and hand SEAL its own version; a nested header may differ from the
    outer one only where the loader has its own copy (compressed bytes, or an outer version rewritten)."""
    context = _core.load_public_context(keys.public.serialize())
    seal_bytes = craft.split_serialized(he_tf.serialize(he_tf.encrypt(keys.public, X)).numpy().ravel()[0])[1]
    raw = craft.Ciphertext.parse(seal_bytes).save()  # uncompressed, SEAL 4.1 headers
    as_4_3 = _core.ciphertext_for_seal_version(*keys.public.params.as_tuple(), raw, 3)
    assert craft.SealHeader.read(as_4_3).minor == 3 and as_4_3 != raw
    assert _core.load_ciphertext(context, as_4_3) == _core.load_ciphertext(context, raw)
    assert _core.ciphertext_for_seal_version(*keys.public.params.as_tuple(), as_4_3, 1) == raw
    inner_only = raw[:4] + bytes([1]) + as_4_3[5:]  # outer 4.1 (used in place), inner 4.3
    with pytest.raises(ValueError, match="inner SEAL header's version differs"):
        _core.load_ciphertext(context, inner_only)
    with pytest.raises(ValueError, match="SEAL 4 header"):
        _core.load_ciphertext(context, raw[:3] + bytes([3]) + raw[4:])  # SEAL 3
