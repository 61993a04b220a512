import pytest

import he_tf


@pytest.fixture(scope="session")
def keys() -> he_tf.KeySet:
    # No Galois keys: these tests never rotate, and keygen is 10x faster without.
    return he_tf.KeySet.generate(he_tf.Params(), rotations=None)


@pytest.fixture(scope="session")
def other_keys() -> he_tf.KeySet:
    return he_tf.KeySet.generate(he_tf.Params(), rotations=None)


@pytest.fixture
def local_players(request):
    """The test module's ``PLAYERS`` installed as a LocalConfig for the test; the previous config after."""
    before = he_tf.get_config()
    he_tf.set_config(he_tf.LocalConfig(request.module.PLAYERS))
    yield
    he_tf.set_config(before)
