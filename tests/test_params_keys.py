import numpy as np
import pytest

import he_tf


def test_default_params():
    p = he_tf.Params()
    assert (p.poly_modulus_degree, p.coeff_mod_bit_sizes, p.scale_bits) == (8192, (60, 40, 40, 60), 40)
    assert p.slot_count == 4096 and p.depth == 2
    assert p.max_value == 2.0**19


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(poly_modulus_degree=1000), "must be one of"),
        (dict(coeff_mod_bit_sizes=(60, 60, 60, 60)), "allows at most 218 for 128-bit security"),
        (dict(coeff_mod_bit_sizes=(60,)), "at least two primes"),
        (dict(coeff_mod_bit_sizes=(60, 61, 60)), "20 to 60 bits"),
        (dict(scale_bits=60), "smaller than the first prime"),
        (dict(coeff_mod_bit_sizes=(60, 40, 40, 30)), "special"),
    ],
)
def test_params_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        he_tf.Params(**kwargs)


@pytest.mark.parametrize("depth, n", [(0, 8192), (2, 8192), (3, 16384), (7, 16384), (8, 32768)])
def test_for_depth_picks_smallest_secure_ring(depth, n):
    p = he_tf.Params.for_depth(depth)
    assert p.poly_modulus_degree == n
    assert p.depth == depth
    assert sum(p.coeff_mod_bit_sizes) <= {4096: 109, 8192: 218, 16384: 438, 32768: 881}[n]


def test_for_depth_too_deep():
    with pytest.raises(ValueError, match="lower scale_bits or the multiplicative depth"):
        he_tf.Params.for_depth(40)


def test_keyset_halves_are_separate(keys):
    assert keys.public.key_id == keys.secret.key_id
    assert "secret" not in repr(keys.public).lower()
    assert keys.secret.serialize() not in keys.public.serialize()
    # The secret key's serialized SEAL object is not inside the public bytes.
    assert keys.secret.serialize()[-256:] not in keys.public.serialize()


def test_default_keyset_has_rotation_keys():
    with_rotations = he_tf.KeySet.generate()
    without = he_tf.KeySet.generate(rotations=None)
    assert len(with_rotations.public.serialize()) > 10 * len(without.public.serialize())


def test_rotation_steps_are_checked():
    with pytest.raises(ValueError, match="rotation step 0"):
        he_tf.KeySet.generate(rotations=[0])
    with pytest.raises(ValueError, match="rotations must be"):
        he_tf.KeySet.generate(rotations="all")


def test_keys_generated_on_a_device_keep_the_secret_key_there():
    keys = he_tf.KeySet.generate(he_tf.Params.for_depth(1), rotations=None, device="/CPU:0")
    x = np.array([1.5, -2.0, 3.25])
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, he_tf.encrypt(keys.public, x) * 2.0), 2 * x, atol=1e-6)
    assert keys.secret.key_id == keys.public.key_id == he_tf.PublicContext(keys.public.serialize()).key_id
    with pytest.raises(ValueError, match="never left the key-generation op"):
        keys.secret.serialize()
    other = he_tf.KeySet.generate(he_tf.Params.for_depth(1), rotations=None, device="/CPU:0")
    assert other.public.key_id != keys.public.key_id
