"""The fixed-point bridge ops: exact encode/decode of ring values, masks far beyond double precision."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf import ops

F = 16  # fraction bits
ULP = 2.0**-F


@pytest.fixture(scope="module")
def keys():
    return he_tf.KeySet.generate(he_tf.Params(), rotations=None)


def _rows(x: he_tf.HETensor, values: np.ndarray) -> np.ndarray:
    """values of x's logical shape as slot rows [ciphertexts..., n] (vector layout, one ciphertext per row)."""
    return values.reshape(x.ciphertexts.shape.as_list() + [-1])


def _decrypt_fixed(keys, cts, n):
    return ops.decrypt_fixed_point(keys.public.tensor, keys.secret.tensor, cts, num_values=n, fraction_bits=F).numpy()


@pytest.mark.parametrize("n", [3, 100, 4096])  # direct sums below 32 slots, FFTs above
def test_decrypt_fixed_point_matches_values(keys, n):
    v = np.random.default_rng(n).uniform(-100, 100, size=(2, n))
    x = he_tf.encrypt(keys.public, v, layout="vector")
    got = _decrypt_fixed(keys, x.ciphertexts, n)[:, 0]
    # Encryption noise (~1e-7) plus rounding to the 2^-16 grid.
    np.testing.assert_allclose(got * ULP, v, atol=ULP / 2 + 1e-6)


@pytest.mark.parametrize("n", [5, 4096])
def test_full_ring_masks_round_trip_exactly(keys, n):
    # Masks uniform over Z_2^64 are values up to 2^47: doubles would keep ~6 fraction bits, not 16.
    v = np.random.default_rng(1).uniform(-8, 8, size=(2, n))
    x = he_tf.encrypt(keys.public, v, layout="vector")
    mask = ops.random_ring(_rows(x, v).shape).numpy()
    assert np.abs(mask).max() * ULP > 2.0**46
    masked = ops.add_fixed_point(keys.public.tensor, x.ciphertexts, mask, fraction_bits=F)
    share = _decrypt_fixed(keys, masked, n) - mask  # int64 wraps: arithmetic in Z_2^64
    np.testing.assert_allclose(share[:, 0] * ULP, v, atol=ULP / 2 + 1e-6)

    encrypted = ops.encrypt_fixed_point(keys.public.tensor, _decrypt_fixed(keys, masked, n), fraction_bits=F)
    unmasked = ops.add_fixed_point(keys.public.tensor, encrypted, -mask, fraction_bits=F)
    back = ops.decrypt(keys.public.tensor, keys.secret.tensor, unmasked, num_values=n).numpy()
    np.testing.assert_allclose(back[:, 0], v, atol=ULP + 1e-6)


def test_flooding_noise_costs_the_stated_precision(keys):
    x = he_tf.encrypt(keys.public, np.ones((1, 64)), layout="vector")
    zeros = np.zeros((1, 1, 64), np.int64)
    flooded = ops.add_fixed_point(keys.public.tensor, x.ciphertexts, zeros, fraction_bits=F, flood_bits=20)
    error = np.abs(he_tf.decrypt(keys.secret, x.with_ciphertexts(flooded)).numpy() - 1).max()
    # Uniform coefficients in [-2^20, 2^20] give slot noise ~ 2^20 sqrt(N/3) / 2^40 ~ 5e-5.
    assert 1e-6 < error < 1e-3


def test_random_ring_covers_the_ring():
    r = ops.random_ring([4096]).numpy()
    assert r.min() < -(2**62) and r.max() > 2**62
    assert len(np.unique(r)) == r.size
    assert not np.array_equal(r, ops.random_ring([4096]).numpy())


def test_masks_that_do_not_fit_the_level_are_refused(keys):
    x = he_tf.encrypt(keys.public, np.ones((2, 3)), layout="vector")
    last = (x * 1.5) * 1.5  # level 0: a 60-bit modulus
    mask = ops.random_ring([2, 1, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not fit the ciphertext's modulus"):
        ops.add_fixed_point(keys.public.tensor, last.ciphertexts, mask, fraction_bits=F)
    with pytest.raises(tf.errors.InvalidArgumentError, match="plus a slot axis"):
        ops.add_fixed_point(keys.public.tensor, x.ciphertexts, mask[:, 0], fraction_bits=F)
