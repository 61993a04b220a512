"""The protocol contract: the op table generates the API, protocols are found by entry points.

Plugins are simulated by distributions written to a temporary folder on sys.path (a ``*.dist-info``
with ``METADATA`` and ``entry_points.txt``), which importlib.metadata reads as it reads installed ones.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf import optable, routing
from he_tf.protocol import CKKS, SecretSharing, discovery

X = np.array([[1.0, -2.0], [0.5, 3.0]])


def test_every_op_is_exported_and_documented_once():
    for op in optable.OPS:
        function = getattr(he_tf, op.name)
        assert function is routing.FUNCTIONS[op.name] and op.name in he_tf.__all__
        # The table's argument names are the CKKS implementation's (or, without one, the table's own
        # arguments and defaults): one truth for the signature.
        assert tuple(op.signature.parameters) == op.args, op.name
        assert set(op.private) <= set(op.args)
        assert inspect.signature(function) == op.signature
        if op.ckks is not None:
            assert op.signature == inspect.signature(op.ckks) and not op.defaults
        else:
            assert function.__doc__.startswith(op.doc)


def test_an_op_without_ckks_is_refused_on_hetensors_naming_secret_sharing(keys):
    """Comparisons have no CKKS implementation: every route to them refuses HETensors the same way."""
    x = he_tf.encrypt(keys.public, X)
    lacking = [op.name for op in optable.OPS if op.ckks is None]
    assert lacking == ["greater", "less", "relu", "maximum", "reduce_max", "argmax"]
    assert not CKKS.supports("relu") and CKKS.supports("add") and SecretSharing.supports("relu")
    calls = [lambda: tf.math.greater(x, 0.0), lambda: x > 0.0, lambda: 0.0 < x, lambda: tf.math.less(x, 1.0),
             lambda: tf.nn.relu(x), lambda: he_tf.relu(x), lambda: tf.maximum(x, 0.0),
             lambda: tf.reduce_max(x), lambda: tf.math.argmax(x, axis=1), lambda: he_tf.argmax(x)]
    for call in calls:
        with pytest.raises(TypeError, match=r"(greater|less|relu|maximum|reduce_max|argmax) is not supported "
                                            r"on encrypted tensors \(CKKS HETensors\).*"
                                            r"he_tf.convert\(x, to=SecretSharing.*: SecretSharing"):
            call()
    with pytest.raises(TypeError, match="greater_equal is not supported on encrypted tensors.*secret shar"):
        tf.math.greater_equal(x, 0.0)


def test_tf_scalar_mul_reaches_multiply_on_every_protocol(keys):
    """An op the library lacked, added as one row of the op table (an Api of multiply)."""
    x = he_tf.encrypt(keys.public, X)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, tf.math.scalar_mul(-1.5, x)), -1.5 * X, atol=1e-6)
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    ss = SecretSharing()
    with ss:
        s = he_tf.define_private_input("client", lambda: X)
        got = he_tf.define_output("client", None, tf.math.scalar_mul(-1.5, s))
    np.testing.assert_allclose(got, -1.5 * X, atol=1e-4)


def test_divide_by_a_plaintext(keys):
    """An op the library lacked: its CKKS implementation, one op table entry, this test."""
    x = he_tf.encrypt(keys.public, X)
    for y in (x / 4.0, tf.math.truediv(x, 4.0), tf.math.divide(x, [4.0, -2.0]), he_tf.divide(x, 4.0)):
        assert isinstance(y, he_tf.HETensor) and y.level == x.level - 1
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, tf.math.divide(x, [4.0, -2.0])), X / [4.0, -2.0],
                               atol=1e-6)
    with pytest.raises(TypeError, match="divide by an encrypted tensor is not supported"):
        x / x
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    with SecretSharing():
        s = he_tf.define_private_input("client", lambda: X)
        with pytest.raises(TypeError, match="divide is not supported by the secret_sharing protocol .*CKKS"):
            s / 2.0


def test_an_op_a_protocol_lacks_names_the_op_the_protocol_and_the_fix():
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    ss = SecretSharing()
    with ss:
        s = he_tf.define_private_input("client", lambda: X)
    for call in (lambda: tf.roll(s, 1, axis=0), lambda: he_tf.roll(s, 1, 0), lambda: tf.concat([s, s], 0)):
        with pytest.raises(TypeError, match=r"(roll|concat) is not supported by the secret_sharing protocol "
                                            r".*which supports add, .*he_tf.convert.* CKKS"):
            call()
    with pytest.raises(TypeError, match="tf.math.sin|sin is not supported on private tensors of the "
                                        "secret_sharing protocol"):
        tf.math.sin(s)


def test_builtin_protocols_register_through_entry_points():
    entries = {e.name: e for e in he_tf.protocol.available()}
    assert entries["ckks"].distribution == entries["secret_sharing"].distribution == "he-tf"
    assert entries["ckks"].load() is CKKS and entries["secret_sharing"].load() is SecretSharing
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    ss = he_tf.protocol.create("secret_sharing", fraction_bits=20)
    assert isinstance(ss, SecretSharing) and ss.fraction_bits == 20
    with pytest.raises(ValueError, match="no protocol named 'nope' is installed; available: .*ckks"):
        he_tf.protocol.create("nope")


def _distribution(folder, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]):
    info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[he_tf.protocols]\n{lines}\n")
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))


PLUGIN = """
    from he_tf.protocol import Protocol

    class Good(Protocol):
        name = "good"

        def __init__(self, flavour="plain"):
            super().__init__()
            self.flavour = flavour

    class Old(Protocol):
        name = "old"
        contract_version = 0
"""


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    _distribution(tmp_path, "good-plugin", "1.2", {"good": "plugin_mod:Good", "old": "plugin_mod:Old",
                                                   "broken": "broken_mod:Missing"},
                  {"plugin_mod": PLUGIN, "broken_mod": "raise ImportError('needs libfoo')\n"})
    _distribution(tmp_path, "rival-plugin", "0.1", {"good": "plugin_mod:Good"}, {})
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_plugins_are_listed_without_importing_them(plugins):
    entries = [(e.name, e.distribution, e.version) for e in he_tf.protocol.available()]
    assert ("broken", "good-plugin", "1.2") in entries and ("good", "rival-plugin", "0.1") in entries
    assert "broken_mod" not in sys.modules


def test_each_broken_plugin_is_named(plugins):
    with pytest.raises(discovery.PluginError, match="'good' is claimed by more than one distribution: "
                                                   "good-plugin 1.2 .*rival-plugin 0.1"):
        he_tf.protocol.create("good")
    with pytest.raises(discovery.PluginError, match="'broken' of good-plugin 1.2 .* failed to import: "
                                                   "ImportError: needs libfoo"):
        he_tf.protocol.create("broken")
    with pytest.raises(discovery.PluginError, match="'old' of good-plugin 1.2 .*contract version 0, this he-tf "
                                                   "implements version 1"):
        he_tf.protocol.create("old")
    (good,) = [e for e in he_tf.protocol.available() if e.name == "good" and e.distribution == "good-plugin"]
    assert good.load()(flavour="x").flavour == "x"


def test_a_broken_plugin_never_breaks_import(plugins):
    code = "import he_tf; print(sorted(e.name for e in he_tf.protocol.available()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(plugins), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'broken'" in done.stdout and "'ckks'" in done.stdout
