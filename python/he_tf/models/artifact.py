"""An encrypted model on disk: a TensorFlow SavedModel plus the metadata a server needs.

``save(model, path)`` (``EncryptedModel.save``) writes a directory that is a
SavedModel: its variables hold the plaintext weights, and its ``predict``
signature runs the model on serialized ciphertexts::

    import he_tf, tensorflow as tf
    loaded = tf.saved_model.load(path)          # he_tf's op library must be loaded: import he_tf first
    out = loaded.signatures["predict"](context=public.serialize(), ciphertexts=he_tf.serialize(x_enc))

Beside ``saved_model.pb`` lies ``he_tf_model.json``: the format version, the
versions that wrote it, the model's structure (steps, activation, output
mode, layout, parameters, ranges, the shape of one sample), the shape the signature takes, and a
SHA-256 digest of the weights. :func:`load` rebuilds the
:class:`~he_tf.models.EncryptedModel` from the SavedModel's variables and
refuses, with :class:`ModelFormatError`, a directory written in another
format version, metadata that does not parse or hold together, or weights
whose digest or shapes disagree with the metadata (a corrupted or mixed-up
directory). A model directory is the model owner's own file, but it is still
read as untrusted: the metadata is bounded in size and every field checked.
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np
import tensorflow as tf

import he_tf
from he_tf import packing
from he_tf.models import outputs
from he_tf.models.model import OUTPUT_MODES, EncryptedModel
from he_tf.models.steps import Dense, Polynomial, Square, Step
from he_tf.tensor import LAYOUTS, HETensor

FORMAT = "he-tf-model"
VERSION = 1
METADATA = "he_tf_model.json"
MAX_METADATA_BYTES = 1 << 22
"""Largest metadata file read: the steps' shapes and 40 bytes per feature of the ranges fit many times over."""
MAX_STEPS = 64


class ModelFormatError(ValueError):
    """A model directory that is not a readable he-tf model for this version (the text says what is wrong)."""


class _Weights(tf.Module):
    """What the SavedModel holds: the weights as variables and the predict signature."""

    def __init__(self, model: EncryptedModel, samples: int) -> None:
        super().__init__(name="he_tf_model")
        self.server_weights = [tf.Variable(a, trainable=False) for a in _arrays(model.steps)]
        self.logit_weights = [tf.Variable(a, trainable=False) for a in _arrays(model.logit_steps)]
        n, bits, scale_bits = model.params.as_tuple()
        grid = _input_grid(model, samples)

        @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec(grid, tf.string)])
        def predict(context, ciphertexts):
            ctx = he_tf.ops.public_context(context)
            level, scale = model.params.depth, float(2 ** scale_bits)
            cts = he_tf.ops.deserialize(ctx, ciphertexts, tf.constant(scale, tf.float64), level=level)
            x = HETensor(ciphertexts=tf.ensure_shape(cts, grid), context=ctx,
                         shape=tf.TensorShape([samples, model.n_features]), dtype=tf.float64,
                         layout=model.layout, packed_axis=0 if model.layout == "batch" else 1,
                         level=level, scale=scale, params=(n, tuple(bits), scale_bits))
            return {"ciphertexts": he_tf.serialize(model._run(x))}

        self.predict = predict


def _input_grid(model: EncryptedModel, samples: int) -> list[int]:
    """The ciphertext grid of ``samples`` samples encrypted in the model's layout."""
    slots = model.params.slot_count
    if model.layout == "batch":
        return [packing.chunking(samples, slots)[0], model.n_features]
    return [samples, packing.chunking(model.n_features, slots)[0]]


def _arrays(steps: tuple[Step, ...]) -> list[np.ndarray]:
    arrays: list[np.ndarray] = []
    for step in steps:
        if isinstance(step, Dense):
            arrays += [step.weights, step.bias]
        elif isinstance(step, Polynomial):
            arrays.append(step.coeffs)
    return arrays


def _describe(steps: tuple[Step, ...]) -> list[dict]:
    rows = []
    for step in steps:
        if isinstance(step, Dense):
            rows.append({"kind": "dense", "inputs": step.inputs, "outputs": step.outputs})
        elif isinstance(step, Polynomial):
            rows.append({"kind": "polynomial", "degree": step.degree, "label": step.label})
        else:
            rows.append({"kind": "square"})
    return rows


def _digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(json.dumps(list(a.shape)).encode())
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()


def save(model: EncryptedModel, path: str | os.PathLike, samples: int | None = None) -> None:
    """Writes ``model`` to the directory ``path`` (created; an existing model there is replaced).

    ``samples``: the number of samples the SavedModel's ``predict`` signature takes (a fixed shape):
    by default as many as one ciphertext holds in batch layout, 1 in vector layout. A server built
    from the directory takes requests of any size.
    """
    if not isinstance(model, EncryptedModel):
        raise TypeError(f"save takes an EncryptedModel, got {type(model).__name__}")
    if samples is None:
        samples = model.params.slot_count if model.layout == "batch" else 1
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    path = os.fspath(path)
    module = _Weights(model, samples)
    tf.saved_model.save(module, path, signatures={"predict": module.predict})
    n, bits, scale_bits = model.params.as_tuple()
    box = None if model.feature_range is None else [[float(v) for v in side] for side in model.feature_range]
    metadata = {
        "format": FORMAT, "version": VERSION,
        "written_by": {"he_tf": he_tf.__version__, "tensorflow": tf.__version__},
        "name": model.name, "activation": model.activation, "output": model.output, "layout": model.layout,
        "params": [n, list(bits), scale_bits],
        "steps": _describe(model.steps), "logit_steps": _describe(model.logit_steps),
        "input_range": None if model.input_range is None else [float(v) for v in model.input_range],
        "approximation_error": model.approximation_error,
        "feature_range": box,
        "input_shape": list(model.input_shape),
        "signature": {"name": "predict", "samples": samples, "ciphertexts": _input_grid(model, samples)},
        "weights_sha256": _digest(_arrays(model.steps) + _arrays(model.logit_steps)),
    }
    with open(os.path.join(path, METADATA), "w", encoding="ascii") as f:
        json.dump(metadata, f, allow_nan=False, indent=1)


def load(path: str | os.PathLike) -> EncryptedModel:
    """The :class:`EncryptedModel` saved at ``path``.

    Raises
    ------
    ModelFormatError
        If ``path`` holds no he-tf model, one in another format version, or
        one whose metadata or weights are malformed or disagree (corruption).
    """
    path = os.fspath(path)
    metadata = _read_metadata(path)
    try:
        loaded = tf.saved_model.load(path)
        server = [np.asarray(v.numpy(), np.float64) for v in loaded.server_weights]
        logit = [np.asarray(v.numpy(), np.float64) for v in loaded.logit_weights]
    except (OSError, ValueError, AttributeError, tf.errors.OpError) as e:  # DecodeError is a ValueError
        raise ModelFormatError(f"{path}: cannot read the SavedModel's weights: {_first_line(e)}") from None
    if _digest(server + logit) != metadata["weights_sha256"]:
        raise ModelFormatError(f"{path}: the weights do not match the digest in {METADATA}: the directory is "
                               "corrupted or its files come from different models; save the model again")
    try:
        steps = _rebuild(metadata["steps"], server)
        logit_steps = _rebuild(metadata["logit_steps"], logit)
        n, bits, scale_bits = metadata["params"]
        params = he_tf.Params(_int(n), tuple(_int(b) for b in bits), _int(scale_bits))
        return EncryptedModel(
            steps, metadata["activation"], output=metadata["output"], layout=metadata["layout"], params=params,
            logit_steps=logit_steps, input_range=_pair(metadata["input_range"]),
            approximation_error=metadata["approximation_error"], feature_range=metadata["feature_range"],
            name=metadata["name"], input_shape=metadata.get("input_shape"))
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFormatError(f"{path}: malformed {METADATA}: {e}") from None


def _first_line(e: Exception) -> str:
    return (getattr(e, "message", None) or str(e)).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _read_metadata(path: str) -> dict:
    file = os.path.join(path, METADATA)
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_METADATA_BYTES + 1)
    except OSError as e:
        raise ModelFormatError(f"{path} is not an he-tf model directory (no readable {METADATA}: "
                               f"{e.strerror}); write one with EncryptedModel.save") from None
    if len(data) > MAX_METADATA_BYTES:
        raise ModelFormatError(f"{file} is larger than {MAX_METADATA_BYTES} bytes: not an he-tf model's metadata")
    try:
        metadata = json.loads(data.decode("ascii"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise ModelFormatError(f"{file} is not valid JSON: {e}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFormatError(f"{file} is not an he-tf model's metadata (no \"format\": \"{FORMAT}\")")
    version = metadata.get("version")
    if version != VERSION or type(version) is not int:
        writer = metadata.get("written_by")
        raise ModelFormatError(
            f"{path} is an he-tf model in format version {version!r} (written by {writer!r}); this he-tf "
            f"({he_tf.__version__}) reads version {VERSION}: load it with the he-tf that wrote it and save it "
            "again with this one")
    for key, kind in (("steps", list), ("logit_steps", list), ("params", list), ("weights_sha256", str),
                      ("name", str), ("activation", str), ("output", str), ("layout", str)):
        if not isinstance(metadata.get(key), kind):
            raise ModelFormatError(f"{file}: {key!r} must be a JSON {kind.__name__}")
    checks = (("activation", outputs.ACTIVATIONS), ("output", OUTPUT_MODES), ("layout", LAYOUTS))
    for key, allowed in checks:
        if metadata[key] not in allowed:
            raise ModelFormatError(f"{file}: {key!r} must be one of {allowed}, got {metadata[key]!r}")
    return metadata


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _pair(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    low, high = value
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high)):
        raise ValueError(f"input_range must be two finite numbers, got {value!r}")
    return float(low), float(high)


def _rebuild(rows: list, arrays: list[np.ndarray]) -> tuple[Step, ...]:
    """The steps the metadata describes, from the SavedModel's arrays; shapes must agree."""
    if not 1 <= len(rows) <= MAX_STEPS:
        raise ValueError(f"a model has 1 to {MAX_STEPS} steps, the metadata lists {len(rows)}")
    steps: list[Step] = []
    remaining = list(arrays)
    for i, row in enumerate(rows):
        kind = row.get("kind") if isinstance(row, dict) else None
        if kind == "dense":
            if len(remaining) < 2:
                raise ValueError(f"step {i} (dense) has no weights in the SavedModel")
            weights, bias = remaining.pop(0), remaining.pop(0)
            if list(weights.shape) != [row.get("inputs"), row.get("outputs")]:
                raise ValueError(f"step {i}: weights of shape {weights.shape}, the metadata says "
                                 f"{row.get('inputs')} -> {row.get('outputs')}")
            steps.append(Dense(weights, bias))
        elif kind == "polynomial":
            if not remaining:
                raise ValueError(f"step {i} (polynomial) has no coefficients in the SavedModel")
            coeffs = remaining.pop(0)
            step = Polynomial(coeffs, str(row.get("label", "polynomial")))
            if step.degree != row.get("degree"):
                raise ValueError(f"step {i}: a polynomial of degree {step.degree}, the metadata says "
                                 f"{row.get('degree')!r}")
            steps.append(step)
        elif kind == "square":
            steps.append(Square())
        else:
            raise ValueError(f"step {i} has unknown kind {kind!r} (dense, polynomial or square)")
    if remaining:
        raise ValueError(f"the SavedModel holds {len(remaining)} arrays that no step of the metadata uses")
    return tuple(steps)
