"""from_keras: a trained Keras model made of Dense layers to an EncryptedModel.

Affine layers (Dense, Normalization, Rescaling, BatchNormalization at
inference) become Dense steps, merged where nothing non-linear separates
them; layers that are the identity at inference (Dropout, noise) vanish.
Anything the encrypted path cannot run is refused with the layer's name.
"""

from __future__ import annotations

from typing import Union

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

import he_tf
from he_tf.models.activations import PolynomialActivation
from he_tf.models.model import PRECISION_BITS, EncryptedModel, from_steps
from he_tf.models.steps import Dense, Polynomial, Square, Step

SUPPORTED = (
    "Dense, Activation, Softmax, Normalization, Rescaling, BatchNormalization, Dropout and noise layers, "
    "Flatten of flat inputs, and nested models of these, in a chain"
)
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax")
_IDENTITY_AT_INFERENCE = (
    keras.layers.InputLayer, keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
    keras.layers.AlphaDropout, keras.layers.SpatialDropout1D, keras.layers.ActivityRegularization,
    keras.layers.Identity,
)
_SQUARES = (tf.math.square, keras.ops.square, np.square)

Item = Union[Step, str]  # a step, or the name of the output activation


def from_keras(model: keras.Model, output: str = "logits", input_range: tuple[float, float] | None = None,
               degree: int = 3, layout: str = "batch", params: he_tf.Params | None = None,
               data: ArrayLike | None = None, feature_range: tuple[ArrayLike, ArrayLike] | None = None,
               precision_bits: int = PRECISION_BITS) -> EncryptedModel:
    """An encrypted model computing what the trained Keras ``model`` computes.

    Parameters
    ----------
    model:
        A built ``keras.Model`` (Sequential or functional) on inputs of shape
        ``(batch, features)``: Dense layers, optionally one or more hidden
        ones with ``tf.math.square`` or :class:`PolynomialActivation`
        activations, and a linear, sigmoid or softmax output.
    output:
        ``"logits"``: the server returns the output layer's pre-activations
        and the client applies sigmoid/softmax after decrypting (exact).
        ``"polynomial"``: the server also evaluates a polynomial fit of the sigmoid.
    input_range:
        ``(low, high)`` logit range for the sigmoid fit; or give ``data``.
    degree:
        Degree of the sigmoid polynomial (``output="polynomial"``).
    layout:
        ``"batch"`` (throughput) or ``"vector"`` (latency): the input layout served.
    params:
        CKKS parameters; by default the smallest secure ring for the depth the
        model needs and, given ``data`` or ``feature_range``, for its results'
        magnitude and ``precision_bits`` (see :func:`he_tf.models.from_steps`).
    precision_bits:
        Bits of precision the default parameters keep for results.
    data:
        Features (e.g. the training set) to derive ``input_range`` and ``feature_range`` from.
    feature_range:
        ``(low, high)``, scalars or one value per feature, in the model's
        input units: the compiler refuses a model whose results could exceed
        what CKKS holds for such features (see :func:`he_tf.models.from_steps`).

    Raises
    ------
    ValueError
        Naming the layer, for layers or activations the encrypted path cannot
        run; or for results that could exceed the parameters' room.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"from_keras takes a keras.Model, got {type(model).__name__}")
    items = [item for layer in _chain(model) for item in _convert(layer)]
    activation = "linear"
    steps: list[Step] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            if index != len(items) - 1:
                raise ValueError(
                    f"{model.name!r} applies {item} before its last layer; the encrypted path supports "
                    "sigmoid and softmax only as the output activation (hidden layers need polynomial "
                    "activations)"
                )
            activation = item
        else:
            steps.append(item)
    if not steps or not isinstance(steps[0], Dense):
        raise ValueError(f"{model.name!r} has no Dense layer before its first activation")
    return from_steps(steps, activation, output=output, input_range=input_range, data=data, degree=degree,
                      layout=layout, params=params, feature_range=feature_range, name=model.name,
                      precision_bits=precision_bits)


def _chain(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers in order, nested models expanded; ValueError unless each feeds the next."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        raise ValueError(
            f"{model.name!r} is not built: give it an Input shape or call it on data first"
        ) from None
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{model.name!r} has {len(inputs)} inputs and {len(model.outputs)} outputs; "
                         "encrypted inference runs models with one of each")
    if len(inputs[0].shape) != 2:
        raise ValueError(f"{model.name!r} takes inputs of shape {tuple(inputs[0].shape)}; encrypted "
                         "inference runs models on flat feature vectors, shape (batch, features)")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):  # functional: check the graph is a simple chain
        previous = inputs[0]
        for layer in layers:
            try:
                chained = layer.input is previous
            except (AttributeError, ValueError):  # a layer used more than once has no single input
                chained = False
            if not chained:
                raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) does not simply take the "
                                 f"output of the layer before it; encrypted inference runs {SUPPORTED}")
            previous = layer.output
    expanded: list[keras.layers.Layer] = []
    for layer in layers:
        expanded += _chain(layer) if isinstance(layer, keras.Model) else [layer]
    return expanded


def _numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _elementwise(layer: keras.layers.Layer, scale, shift) -> Dense:
    """An elementwise affine map ``x * scale + shift`` over the feature axis, as a Dense step."""
    axis = getattr(layer, "axis", -1)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if axes not in ((-1,), (1,)):
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) normalizes axis {axis}; encrypted "
                         "inference supports the feature axis (-1) only")
    features = layer.input.shape[-1]
    scale = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (features,))
    shift = np.broadcast_to(np.asarray(shift, np.float64).reshape(-1), (features,))
    return Dense(np.diag(scale), shift)


def _convert(layer: keras.layers.Layer) -> list[Item]:
    kind = type(layer).__name__
    if isinstance(layer, _IDENTITY_AT_INFERENCE):
        return []
    if isinstance(layer, keras.layers.Flatten):
        if len(layer.input.shape) == 2:
            return []
    elif isinstance(layer, keras.layers.Dense):
        if len(layer.input.shape) != 2:
            raise ValueError(f"layer {layer.name!r} (Dense) gets inputs of rank {len(layer.input.shape)}; "
                             "encrypted inference runs Dense layers on (batch, features)")
        kernel = _numpy(layer.kernel)
        bias = _numpy(layer.bias) if layer.bias is not None else np.zeros(kernel.shape[1])
        return [Dense(kernel, bias)] + _activation(layer, layer.activation)
    elif isinstance(layer, keras.layers.Activation):
        return _activation(layer, layer.activation)
    elif isinstance(layer, keras.layers.Softmax):
        if layer.axis not in (-1, 1):
            raise ValueError(f"layer {layer.name!r} (Softmax) is over axis {layer.axis}; only -1 is "
                             "supported")
        return ["softmax"]
    elif isinstance(layer, keras.layers.Normalization):
        mean, variance = _numpy(layer.mean), _numpy(layer.variance)
        std = np.maximum(np.sqrt(variance), keras.backend.epsilon())
        if layer.invert:
            return [_elementwise(layer, std, mean)]
        return [_elementwise(layer, 1.0 / std, -mean / std)]
    elif isinstance(layer, keras.layers.Rescaling):
        return [_elementwise(layer, layer.scale, layer.offset)]
    elif isinstance(layer, keras.layers.BatchNormalization):
        n = layer.input.shape[-1]
        gamma = _numpy(layer.gamma) if layer.scale else np.ones(n)
        beta = _numpy(layer.beta) if layer.center else np.zeros(n)
        factor = gamma / np.sqrt(_numpy(layer.moving_variance) + layer.epsilon)
        return [_elementwise(layer, factor, beta - _numpy(layer.moving_mean) * factor)]
    raise ValueError(f"layer {layer.name!r} ({kind}) cannot run on encrypted inputs; encrypted inference "
                     f"runs {SUPPORTED}")


def _activation(layer: keras.layers.Layer, fn) -> list[Item]:
    if isinstance(fn, PolynomialActivation):
        return [Polynomial(fn.coeffs, f"{layer.name} activation")]
    if any(fn is square for square in _SQUARES):
        return [Square()]
    name = getattr(fn, "__name__", type(fn).__name__)
    is_keras = getattr(fn, "__module__", "").startswith("keras.")
    if fn is None or (is_keras and name == "linear"):
        return []
    if is_keras and name in OUTPUT_ACTIVATIONS:
        return [name]
    raise ValueError(
        f"layer {layer.name!r} ({type(layer).__name__}) uses activation {name!r}, which is not a polynomial: "
        "CKKS can only add and multiply. Hidden layers need tf.math.square or "
        "he_tf.models.PolynomialActivation (e.g. fitted with he_tf.approx.fit_polynomial; retrain with it); "
        "sigmoid and softmax are supported as the output activation"
    )
