"""he_tf.convert between CKKS and SecretSharing: round trips, headroom errors, masks and the transcript.

Tolerance: a conversion to shares rounds to 16 fraction bits (<= 2^-17) on top of CKKS's ~1e-7 error
and the default flooding (<= 2^-20), so values agree with NumPy within 2^-15.
"""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import CKKS, SecretSharing
from he_tf.protocol.conversions import mask_bits

TOL = 2.0**-15
RNG = np.random.default_rng(7)
X = RNG.normal(scale=3.0, size=(6, 4))


@pytest.fixture(scope="module", autouse=True)
def config():
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer", "alice"]))
    yield
    he_tf.set_config(he_tf.LocalConfig())


@pytest.fixture(scope="module")
def ckks() -> CKKS:
    return CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(2), rotations=None)


@pytest.fixture(scope="module")
def ss() -> SecretSharing:
    return SecretSharing(players=("server", "client"), dealer="dealer")  # key owner holds share 1


def test_he_to_shares_round_trip(ckks, ss):
    x = ckks.define_private_input("client", lambda: X)
    s = he_tf.convert(x, to=ss)
    assert isinstance(s, he_tf.protocol.SharedTensor) and s.shape == X.shape
    np.testing.assert_allclose(ss.reveal(s, "client"), X, atol=TOL)


def test_shares_to_he_round_trip(ckks, ss):
    s = ss.define_private_input("alice", lambda: X)
    x = he_tf.convert(s, to=ckks)
    assert isinstance(x, he_tf.HETensor) and x.shape == X.shape and x.level == ckks.params.depth
    np.testing.assert_allclose(ckks.define_output("client", None, x), X, atol=TOL)


def test_computation_across_protocols(ckks, ss):
    """Linear layer under HE, a square on shares, back to HE for another linear step."""
    w = RNG.normal(size=(4, 2))
    x = ckks.define_private_input("client", lambda: X)
    s = ss.square(he_tf.convert(tf.matmul(x, w), to=ss))
    y = he_tf.convert(s, to=ckks) * 0.5 + 1.0
    expected = (X @ w) ** 2 * 0.5 + 1.0
    np.testing.assert_allclose(ckks.define_output("client", None, y), expected, atol=TOL * 64)


def test_round_trips_in_tf_function(ckks, ss):
    @tf.function
    def both_ways(features):
        x = ckks.define_private_input("client", lambda: features)
        s = he_tf.convert(x * 2.0, to=ss)
        return ckks.define_output("client", None, he_tf.convert(s + 1.0, to=ckks))

    for scale in (1.0, -1.0):
        np.testing.assert_allclose(both_ways(tf.constant(X * scale)), 2.0 * X * scale + 1.0, atol=2 * TOL)


@pytest.mark.parametrize("values", [
    np.array([63.9, -63.9, 0.0, 2.0**-16]),                       # at the default value_bound (64)
    np.array([1000.0, -5000.5, 2.0**18, -(2.0**18)]),             # beyond it: correct, less hidden
])
def test_large_values_convert_exactly(ckks, ss, values):
    s = he_tf.convert(ckks.define_private_input("client", lambda: values), to=ss)
    np.testing.assert_allclose(ss.reveal(s, "server"), values, atol=TOL)
    back = ckks.define_output("client", None, he_tf.convert(s, to=ckks))
    np.testing.assert_allclose(back, values, atol=2 * TOL)


def test_several_ciphertexts_and_one_value_per_ciphertext():
    ckks = CKKS(params=he_tf.Params.for_depth(2), rotations=[1, 2], layout="vector")
    ss = SecretSharing(players=("client", "server"), dealer="dealer")
    many = RNG.normal(size=(5000, 1))  # 5000 rows in batch layout: 2 ciphertexts of 2500 slots in use
    batch = CKKS(params=he_tf.Params.for_depth(1), rotations=None)
    x = batch.define_private_input("client", lambda: many)
    assert x.ciphertexts.shape[0] == 2
    np.testing.assert_allclose(ss.reveal(he_tf.convert(x, to=ss), "client"), many, atol=TOL)
    rows = ckks.define_private_input("client", lambda: X)
    sums = tf.reduce_sum(rows, axis=1)  # vector layout: one value per ciphertext, junk in the other slots
    assert sums.packed_axis is None
    np.testing.assert_allclose(ss.reveal(he_tf.convert(sums, to=ss), "client"), X.sum(axis=1), atol=TOL)


def test_missing_headroom_is_a_clear_error(ckks, ss):
    x = ckks.define_private_input("client", lambda: X)
    low = (x * 1.0) * 1.0  # level 0: 60 bits of modulus
    with pytest.raises(ValueError, match=r"88.0 bits of modulus.*level 0 has 60.*Params.for_depth\(3\)"):
        he_tf.convert(low, to=ss)
    few = CKKS(params=he_tf.Params.for_depth(1), rotations=None, hiding_bits=10)
    fits = few.define_private_input("client", lambda: X) * 1.0  # level 0: 40 + 10 + 6 + 2 < 60
    np.testing.assert_allclose(ss.reveal(he_tf.convert(fits, to=ss), "client"), X, atol=TOL)


def test_mask_too_wide_for_the_ring(ss):
    ckks = CKKS(params=he_tf.Params.for_depth(2), rotations=None, value_bound=2.0**10)
    with pytest.raises(ValueError, match="40.*10.*16.*= 66 ring bits"):
        mask_bits(ckks, 16)
    product = ss.multiply(ss.define_private_input("client", lambda: X), 1.5, truncate=False)  # 32 fraction bits
    with pytest.raises(ValueError, match="fraction_bits"):
        he_tf.convert(product, to=ckks)


def test_parties_must_be_key_owner_and_evaluator(ckks):
    other = SecretSharing(players=("client", "alice"), dealer="dealer")
    x = ckks.define_private_input("client", lambda: X)
    with pytest.raises(ValueError, match=r"players=\('client', 'server'\)"):
        he_tf.convert(x, to=other)


def test_key_owners_share_is_masked(ckks, ss):
    """For v = 0 the key owner's share is the mask itself: spread over +-2^(hiding_bits + 6) uniformly."""
    zeros = ckks.define_private_input("client", lambda: np.zeros((4096,)))
    s = he_tf.convert(zeros, to=ss)
    owner_share = s.shares[ss.parties.index("client")].numpy() / 2.0**16 / 2.0 ** (ckks.hiding_bits + 6)
    assert np.max(np.abs(owner_share)) <= 1.0
    assert abs(np.mean(owner_share)) < 0.05 and abs(np.mean(np.abs(owner_share)) - 0.5) < 0.05
    np.testing.assert_allclose(ss.reveal(s, "client"), 0.0, atol=TOL)


def test_flooding_noise_is_added(ss):
    """flood_bits=28 adds noise of about 2^(28 + 6.5 - 40) per value, as docs/protocols.md states."""
    values = np.zeros((4096,))
    errors = {}
    for bits in (0, 28):
        ckks = CKKS(params=he_tf.Params.for_depth(1), rotations=None, hiding_bits=10, flood_bits=bits)
        s = he_tf.convert(ckks.define_private_input("client", lambda: values), to=SecretSharing(("client", "server")))
        errors[bits] = np.std(ss_reveal(s))
    assert errors[0] < 2.0**-16
    assert 2.0**-9 < errors[28] < 2.0**-2


def ss_reveal(s):
    return he_tf.protocol.protocol_of(s).reveal(s, "client").numpy()


def test_transcript_of_conversions(ckks, ss):
    with he_tf.protocol.recording() as transcript:
        x = ckks.define_private_input("client", lambda: X)
        s = he_tf.convert(x, to=ss)
        y = he_tf.convert(s * 2.0, to=ckks)
        out = ckks.define_output("client", None, y)
    np.testing.assert_allclose(out, 2.0 * X, atol=2 * TOL)
    server = transcript.received_by("server")
    assert not [e for e in server if e.origin == "client" and e.kind == "plaintext"]
    assert not [e for e in transcript if e.kind == "secret_key" and e.receiver != "client"]
    assert transcript.kinds_received("server") <= {"ciphertext", "share"}
    # Each party holds one share of each converted value; what crosses between them is masked or encrypted.
    assert [e.kind for e in transcript if e.sender is not None and "->" in e.label] == [
        "masked", "masked", "ciphertext"]
    assert all(e.receiver == "client" for e in transcript if e.kind == "plaintext")
    # The converted value's two shares went to two different players.
    assert sorted(e.receiver for e in transcript if e.label == "HE->shares share") == ["client", "server"]
