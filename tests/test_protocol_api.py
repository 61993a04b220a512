"""The MPC-style API: configs and players, protocol scoping, private inputs/outputs, mixing errors.

Values are compared with NumPy: CKKS results within 1e-6 (scale 2^40), secret-sharing results within
2^-14 (16 fraction bits, a few truncations).
"""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import CKKS, SecretSharing, UnknownPlayerError

PLAYERS = ["client", "server", "dealer"]
SS_TOL = 2.0**-14


@pytest.fixture(scope="module", autouse=True)
def config():
    he_tf.set_config(he_tf.LocalConfig(PLAYERS))
    yield
    he_tf.set_config(he_tf.LocalConfig())
    he_tf.set_protocol(None)


@pytest.fixture(scope="module")
def ckks() -> CKKS:
    return CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(2), rotations=None)


@pytest.fixture(scope="module")
def ss() -> SecretSharing:
    return SecretSharing(players=("client", "server"), dealer="dealer")


X = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.5]])


# --- configs and players ----------------------------------------------------------------------------
def test_local_config_places_every_player_locally():
    config = he_tf.LocalConfig(["a", "b"])
    assert config.players == ("a", "b")
    assert config.device("a") == config.device("b") == "/job:localhost/replica:0/task:0/device:CPU:0"


def test_unknown_player_is_a_clear_error(ckks):
    with pytest.raises(UnknownPlayerError, match="unknown player 'mallory'.*knows 'client', 'server', 'dealer'"):
        ckks.define_private_input("mallory", lambda: X)
    with pytest.raises(UnknownPlayerError, match="mallory"):
        CKKS(key_owner="mallory", evaluator="server", rotations=None)
    with pytest.raises(UnknownPlayerError, match="mallory"):
        SecretSharing(players=("client", "mallory"), dealer="dealer")


def test_bad_configs_and_protocol_arguments():
    with pytest.raises(ValueError, match="unique"):
        he_tf.LocalConfig(["a", "a"])
    with pytest.raises(TypeError, match="list of player names"):
        he_tf.LocalConfig("client")
    with pytest.raises(TypeError, match="LocalConfig"):
        he_tf.set_config(["client"])
    with pytest.raises(ValueError, match="different players"):
        CKKS(key_owner="client", evaluator="client", rotations=None)
    with pytest.raises(TypeError, match="set_protocol takes a he_tf protocol"):
        he_tf.set_protocol("ckks")


# --- protocol in force --------------------------------------------------------------------------------
def test_set_get_and_with_scoping(ckks, ss):
    he_tf.set_protocol(None)
    with pytest.raises(RuntimeError, match="no protocol is in force"):
        he_tf.get_protocol()
    he_tf.set_protocol(ckks)
    assert he_tf.get_protocol() is ckks
    with ss:
        assert he_tf.get_protocol() is ss
        with ckks:
            assert he_tf.get_protocol() is ckks
        assert he_tf.get_protocol() is ss
    assert he_tf.get_protocol() is ckks
    he_tf.set_protocol(None)


def test_define_private_input_uses_the_protocol_in_force(ckks, ss):
    with ckks:
        x = he_tf.define_private_input("client", lambda: X)
    assert isinstance(x, he_tf.HETensor)
    with ss:
        s = he_tf.define_private_input("client", lambda: X)
    assert isinstance(s, he_tf.protocol.SharedTensor)
    np.testing.assert_allclose(he_tf.define_output("client", None, x), X, atol=1e-6)
    np.testing.assert_allclose(he_tf.define_output("client", None, s), X, atol=SS_TOL)


def test_define_private_variable_ckks(ckks):
    v = ckks.define_private_variable(X, owner="client")
    np.testing.assert_allclose(ckks.define_output("client", None, v + 1.0), X + 1.0, atol=1e-6)


def test_define_private_variable_secret_sharing(ss):
    with ss:
        w = he_tf.define_private_variable(tf.constant(X), owner="server")
    np.testing.assert_allclose(ss.define_output("server", None, w * 2.0), X * 2.0, atol=SS_TOL)


@pytest.mark.parametrize("name", ["ckks", "ss"])
def test_ops_as_functions_tf_dispatch_and_operators(name, request):
    protocol = request.getfixturevalue(name)
    w = np.array([[0.5, -1.0], [0.25, 0.0], [-0.5, 1.0]])
    tol = 1e-5 if name == "ckks" else SS_TOL * 8
    with protocol:
        x = he_tf.define_private_input("client", lambda: X)
        cases = {
            "operators": (2.0 * x - 1.0 + (-x), X - 1.0),
            "tf.math": (tf.add(tf.multiply(x, 3.0), x), 4.0 * X),
            "he_tf": (he_tf.subtract(he_tf.negative(x), 1.0), -X - 1.0),
            "matmul": (tf.matmul(x, w) + 1.0, X @ w + 1.0),
            "square": (tf.math.square(x), X**2),
            "polyval": (tf.math.polyval([0.5, 1.0], x), 0.5 * X + 1.0),
        }
        for label, (private, expected) in cases.items():
            got = he_tf.define_output("client", None, private)
            np.testing.assert_allclose(got, expected, atol=tol, err_msg=label)


@pytest.mark.parametrize("name", ["ckks", "ss"])
def test_same_code_in_tf_function(name, request):
    protocol = request.getfixturevalue(name)

    @tf.function
    def model(features):
        with protocol:
            x = he_tf.define_private_input("client", lambda: features)
            return he_tf.define_output("client", lambda v: v + 10.0, x * 0.5 + 1.0)

    for scale in (1.0, -3.0):  # the second call reuses the trace
        got = model(tf.constant(X * scale))
        np.testing.assert_allclose(got, X * scale * 0.5 + 11.0, atol=1e-5)
    assert model.experimental_get_tracing_count() == 1


# --- errors -------------------------------------------------------------------------------------------
def test_mixing_protocols_without_convert_is_refused(ckks, ss):
    with ckks:
        x = he_tf.define_private_input("client", lambda: X)
    with ss:
        s = he_tf.define_private_input("client", lambda: X)
    for fn in (lambda: tf.add(x, s), lambda: s + x, lambda: x + s, lambda: x @ s, lambda: he_tf.multiply(x, s),
               lambda: tf.matmul(s, x)):
        with pytest.raises(TypeError, match="he_tf.convert"):
            fn()
    other = SecretSharing(players=("client", "server"), dealer="dealer")
    with other:
        t = he_tf.define_private_input("client", lambda: X)
    with pytest.raises(TypeError, match="he_tf.convert"):
        s + t


def test_reveal_only_to_allowed_players(ckks, ss):
    with ckks:
        x = he_tf.define_private_input("client", lambda: X)
    with pytest.raises(PermissionError, match="only to the key owner 'client'.*convert"):
        he_tf.define_output("server", None, x)
    with ss:
        s = he_tf.define_private_input("client", lambda: X)
    with pytest.raises(ValueError, match="'dealer' may not receive outputs"):
        he_tf.define_output("dealer", None, s)
    with pytest.raises(UnknownPlayerError):
        he_tf.define_output("mallory", None, s)
    restricted = SecretSharing(players=("client", "server"), dealer="dealer", outputs=["client"])
    with restricted:
        r = he_tf.define_private_input("client", lambda: X)
    with pytest.raises(ValueError, match="'server' may not receive outputs"):
        he_tf.define_output("server", None, r)


def test_fixed_point_overflow_is_detected(ss):
    with pytest.raises(ValueError, match="is not below 2\\^31"):
        ss.define_private_input("client", lambda: [2.0**31])


def test_define_output_of_a_non_private_value(ckks):
    with pytest.raises(TypeError, match="not a private tensor"):
        he_tf.define_output("client", None, tf.constant(X))
