"""EncryptedModel.save / he_tf.models.load: the SavedModel, its signature, and refusals of bad directories."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import he_tf
import he_tf.models as hm
from he_tf.models import artifact

ATOL = 1e-4
RNG = np.random.default_rng(3)
X = RNG.uniform(-1, 1, size=(8, 4))


def _models():
    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=tf.math.square),
                                    keras.layers.Dense(1, activation="sigmoid")])
    return {
        "logistic": hm.from_weights(RNG.normal(size=(4, 1)), [0.1], "sigmoid", feature_range=(-2, 2)),
        "polynomial": hm.from_keras(keras_model, output="polynomial", data=X),
        "vector": hm.from_weights(RNG.normal(size=(4, 3)), None, "softmax", layout="vector"),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifacts")
    models = _models()
    for name, model in models.items():
        model.save(folder / name)
    return folder, models


@pytest.mark.parametrize("name", ["logistic", "polynomial", "vector"])
def test_load_gives_the_same_model(saved, name):
    folder, models = saved
    original, loaded = models[name], hm.load(folder / name)
    assert repr(loaded) == repr(original) and loaded.params == original.params
    assert loaded.key_requirements() == original.key_requirements()
    assert [repr(s) for s in loaded.logit_steps] == [repr(s) for s in original.logit_steps]
    np.testing.assert_array_equal(loaded.predict_plain(X), original.predict_plain(X))
    client = hm.Client.generate(loaded.key_requirements())
    rows = X[:1] if loaded.layout == "vector" else X
    prediction = client.decrypt(hm.Server(client.public_context, loaded).handle(client.encrypt(rows)))
    np.testing.assert_allclose(prediction.raw, original.predict_plain(rows), atol=ATOL)


def test_saved_model_signature_runs_on_serialized_ciphertexts(saved):
    folder, models = saved
    model = models["logistic"]
    keys = model.key_requirements().generate_keys()
    loaded = tf.saved_model.load(str(folder / "logistic"))  # he_tf is imported: its ops are registered
    samples = json.loads((folder / "logistic" / artifact.METADATA).read_text())["signature"]["samples"]
    x = np.zeros((samples, 4))
    x[:8] = X
    x_enc = he_tf.encrypt(keys.public, x)
    out = loaded.signatures["predict"](context=tf.constant(keys.public.serialize()),
                                       ciphertexts=he_tf.serialize(x_enc))["ciphertexts"]
    spec = tf.type_spec_from_value(model.predict(x_enc))
    y = he_tf.deserialize(keys.public, out, spec)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, y).numpy()[:8], model.predict_plain(X), atol=ATOL)


def _copy(saved, tmp_path, name="logistic"):
    target = tmp_path / name
    shutil.copytree(saved[0] / name, target)
    return target


def _edit_metadata(path, **changes):
    file = path / artifact.METADATA
    metadata = json.loads(file.read_text())
    metadata.update(changes)
    file.write_text(json.dumps(metadata))


def test_another_format_version_is_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    _edit_metadata(path, version=2, written_by={"he_tf": "9.0.0"})
    with pytest.raises(hm.ModelFormatError, match=r"format version 2 .*9\.0\.0.* reads version 1"):
        hm.load(path)


def test_corrupted_weights_are_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    data = next((path / "variables").glob("variables.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(hm.ModelFormatError, match="weights"):
        hm.load(path)


def test_mixed_up_directories_are_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    shutil.copy(saved[0] / "vector" / artifact.METADATA, path / artifact.METADATA)
    with pytest.raises(hm.ModelFormatError, match="digest"):
        hm.load(path)


@pytest.mark.parametrize("content, match", [
    (b"{not json", "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON|not an he-tf model"),
    (b'{"format": "other"}', "not an he-tf model"),
    (b" " * (artifact.MAX_METADATA_BYTES + 1), "larger than"),
])
def test_malformed_metadata_is_refused(saved, tmp_path, content, match):
    path = _copy(saved, tmp_path)
    (path / artifact.METADATA).write_bytes(content)
    with pytest.raises(hm.ModelFormatError, match=match):
        hm.load(path)


def test_metadata_that_disagrees_with_the_weights_is_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    _edit_metadata(path, steps=[{"kind": "dense", "inputs": 5, "outputs": 1}])
    with pytest.raises(hm.ModelFormatError, match="weights of shape"):
        hm.load(path)
    _edit_metadata(path, steps=[{"kind": "convolution"}])
    with pytest.raises(hm.ModelFormatError, match="unknown kind"):
        hm.load(path)
    _edit_metadata(path, layout="diagonal")
    with pytest.raises(hm.ModelFormatError, match="layout"):
        hm.load(path)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(hm.ModelFormatError, match="not an he-tf model directory"):
        hm.load(tmp_path)
