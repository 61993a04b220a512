"""from_keras: a trained Keras model (dense or convolutional) to an EncryptedModel.

Affine layers (Dense, Conv2D, AveragePooling2D, GlobalAveragePooling2D,
ZeroPadding2D, Normalization, Rescaling, BatchNormalization at inference) become Dense steps
on the sample flattened in row-major order (:mod:`he_tf.models.image_layers`),
merged where nothing non-linear separates them; layers that only reshape
(Flatten, Reshape) or are the identity at inference (Dropout, noise) vanish.
Anything the encrypted path cannot run is refused with the layer's name and
what would work.
"""

from __future__ import annotations

from typing import Union

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

import he_tf
from he_tf.models import image_layers
from he_tf.models.activations import PolynomialActivation
from he_tf.models.hybrid import HybridModel
from he_tf.models.model import PRECISION_BITS, EncryptedModel, from_steps
from he_tf.models.share_steps import MaxPool2D, Relu
from he_tf.models.steps import Dense, Polynomial, Square, Step, split_output_activation

SUPPORTED = (
    "Dense, Conv2D, AveragePooling2D, GlobalAveragePooling2D, ZeroPadding2D, Flatten, Reshape, Activation, "
    "Softmax, Normalization, Rescaling, BatchNormalization, Dropout and noise layers (channels_last), and "
    "nested models of these, in a chain"
)
MODES = ("ckks", "hybrid")
HYBRID_SUPPORTED = "also ReLU (layers and activations) and MaxPooling2D / GlobalMaxPooling2D"
_RETRAIN = ("run it as it is with from_keras(model, mode='hybrid') (affine layers under CKKS, ReLU and max "
            "pooling exactly on secret shares), or retrain with tf.math.square or "
            "he_tf.models.PolynomialActivation activations and AveragePooling2D in place of max pooling")
_MAX_POOLING = (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D,
                keras.layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling2D, keras.layers.GlobalMaxPooling3D)
_NOT_POLYNOMIAL = (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.PReLU, keras.layers.ELU)
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax")
_IDENTITY_AT_INFERENCE = (
    keras.layers.InputLayer, keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
    keras.layers.AlphaDropout, keras.layers.SpatialDropout1D, keras.layers.ActivityRegularization,
    keras.layers.Identity,
)
_SQUARES = (tf.math.square, keras.ops.square, np.square)
_RELUS = (tf.nn.relu, keras.ops.relu, keras.activations.relu)

Item = Union[Step, Relu, MaxPool2D, str]  # a step, or the name of the output activation


def from_keras(model: keras.Model, output: str = "logits", input_range: tuple[float, float] | None = None,
               degree: int = 3, layout: str = "batch", params: he_tf.Params | None = None,
               data: ArrayLike | None = None, feature_range: tuple[ArrayLike, ArrayLike] | None = None,
               precision_bits: int = PRECISION_BITS, mode: str = "ckks") -> EncryptedModel | HybridModel:
    """An encrypted model computing what the trained Keras ``model`` computes.

    ``mode="ckks"`` (the default) runs every layer under CKKS: the model must be polynomial.
    ``mode="hybrid"`` runs an unmodified ReLU network as it is (:class:`~he_tf.models.HybridModel`):
    each run of affine layers under CKKS on the client's ciphertexts, ReLU and max pooling exactly on
    secret shares between client and server, the output revealed to the client only; it takes
    ``output="logits"`` or ``"label"`` and none of the CKKS-only parameters below.

    Parameters
    ----------
    model:
        A built ``keras.Model`` (Sequential or functional), a chain of layers
        on inputs of shape ``(batch, features)`` or images ``(batch, height,
        width, channels)``: Dense and Conv2D layers (``"valid"`` or
        ``"same"`` padding, any strides, no dilation or groups, channels
        last), average pooling, ZeroPadding2D, Flatten and Reshape, BatchNormalization
        (folded into the layer before), hidden activations ``tf.math.square``
        or :class:`PolynomialActivation`, and a linear, sigmoid or softmax
        output. The model records the input shape
        (:attr:`EncryptedModel.input_shape`): clients encrypt samples of that shape.
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
        Samples (e.g. the training set), of the model's input shape or flattened, to derive
        ``input_range`` and ``feature_range`` from.
    feature_range:
        ``(low, high)``, scalars or one value per feature (flattened in row-major order), in the model's
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
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    hybrid = mode == "hybrid"
    layers = _chain(model)
    input_shape = tuple(model.inputs[0].shape[1:])
    items = [item for layer in layers for item in _convert(layer, hybrid)]
    steps, activation = split_output_activation(items, lambda item: (
        f"{model.name!r} applies {item} before its last layer; the encrypted path supports sigmoid and softmax "
        "only as the output activation (hidden layers need polynomial activations, or ReLU with mode='hybrid')"))
    if hybrid:
        if output not in ("logits", "label"):
            raise ValueError(f"mode='hybrid' reveals output='logits' or 'label' to the client, got {output!r}")
        given = [name for name, value in (("input_range", input_range), ("params", params), ("data", data),
                                          ("feature_range", feature_range)) if value is not None]
        if given or layout != "batch":
            raise ValueError(f"mode='hybrid' chooses its parameters itself and runs in batch layout; "
                             f"{', '.join(given + (['layout'] if layout != 'batch' else []))} apply to "
                             "mode='ckks' only")
        return HybridModel(steps, activation, output=output, name=model.name, input_shape=input_shape)
    if not steps or not isinstance(steps[0], Dense):
        raise ValueError(f"{model.name!r} has no Dense, Conv2D or other affine layer before its first "
                         "activation")
    if data is not None:
        data = np.asarray(data, dtype=np.float64)
        if data.ndim > 2 and data.shape[1:] == input_shape:
            data = data.reshape(len(data), -1)
    return from_steps(steps, activation, output=output, input_range=input_range, data=data, degree=degree,
                      layout=layout, params=params, feature_range=feature_range, name=model.name,
                      precision_bits=precision_bits, input_shape=input_shape)


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
    shape = tuple(inputs[0].shape)
    if len(shape) < 2 or any(d is None for d in shape[1:]):
        raise ValueError(f"{model.name!r} takes inputs of shape {shape}; encrypted inference needs a fixed "
                         "sample shape, e.g. (batch, features) or (batch, height, width, channels)")
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


def _shape(tensor) -> tuple[int, ...]:
    """A symbolic tensor's sample shape (without the batch axis)."""
    return tuple(int(d) for d in tensor.shape[1:])


def _elementwise(layer: keras.layers.Layer, scale, shift) -> Dense:
    """An elementwise affine map ``x * scale + shift`` over the last axis (features or channels), as a
    Dense step."""
    axis = getattr(layer, "axis", -1)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    shape = _shape(layer.input)
    if axes not in ((-1,), (len(shape),)):
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) normalizes axis {axis}; encrypted "
                         "inference supports the last axis (-1: features, or channels last) only")
    return Dense(*image_layers.per_channel(scale, shift, shape))


def _channels_last(layer: keras.layers.Layer) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) uses data_format="
                         f"{layer.data_format!r}; encrypted inference runs channels_last (Keras' default): "
                         "build the model with data_format='channels_last' and move the channel axis last")


def _image_shape(layer: keras.layers.Layer) -> tuple[int, int, int]:
    shape = _shape(layer.input)
    if len(shape) != 3:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) gets inputs of shape {shape}; it needs "
                         "images (height, width, channels)")
    return shape


def _conv2d(layer: keras.layers.Conv2D, hybrid: bool = False) -> list[Item]:
    _channels_last(layer)
    if tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
        raise ValueError(f"layer {layer.name!r} (Conv2D) has dilation_rate={tuple(layer.dilation_rate)} and "
                         f"groups={layer.groups}; encrypted inference runs Conv2D with dilation_rate=1 and "
                         "groups=1 (any kernel size, strides, 'valid' or 'same' padding)")
    if layer.padding not in image_layers.PADDINGS:
        raise ValueError(f"layer {layer.name!r} (Conv2D) has padding={layer.padding!r}; use 'valid' or 'same'")
    kernel = _numpy(layer.kernel)
    matrix, out_shape = image_layers.conv2d(kernel, _image_shape(layer), tuple(layer.strides), layer.padding)
    bias = _numpy(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1])
    return [Dense(matrix, np.tile(bias, out_shape[0] * out_shape[1]))] + _activation(layer, layer.activation,
                                                                                     hybrid)


def _max_pool2d(layer: keras.layers.Layer) -> list[Item]:
    """Hybrid mode: max pooling with strides equal to the pool size and valid padding, as a crop of the
    rows and columns no window covers (an affine selection, when there are any) and a MaxPool2D."""
    _channels_last(layer)
    height, width, channels = _image_shape(layer)
    if isinstance(layer, keras.layers.GlobalMaxPooling2D):
        if layer.keepdims:
            raise ValueError(f"layer {layer.name!r} (GlobalMaxPooling2D) has keepdims=True; use keepdims=False")
        return [MaxPool2D((height, width, channels), (height, width))]
    pool, strides = tuple(layer.pool_size), tuple(layer.strides)
    if pool != strides or layer.padding != "valid":
        raise ValueError(f"layer {layer.name!r} (MaxPooling2D) has pool_size={pool}, strides={strides}, "
                         f"padding={layer.padding!r}; hybrid mode runs max pooling over non-overlapping windows: "
                         "strides equal to pool_size (Keras' default) and padding='valid'")
    kept = (height // pool[0] * pool[0], width // pool[1] * pool[1], channels)
    if min(kept) < 1:
        raise ValueError(f"layer {layer.name!r} (MaxPooling2D): a {pool} window does not fit in {height}x{width}")
    items: list[Item] = []
    if kept != (height, width, channels):
        crop, _ = image_layers.zero_pad2d(kept, ((0, height - kept[0]), (0, width - kept[1])))
        items.append(Dense(crop.T, np.zeros(crop.shape[0])))
    return items + [MaxPool2D(kept, pool)]


def _relu_layer(layer: keras.layers.ReLU) -> list[Item]:
    if layer.max_value is not None or layer.negative_slope or layer.threshold:
        raise ValueError(f"layer {layer.name!r} (ReLU) has max_value={layer.max_value}, negative_slope="
                         f"{layer.negative_slope}, threshold={layer.threshold}; hybrid mode runs the plain ReLU "
                         "max(x, 0) (the defaults)")
    return [Relu()]


def _convert(layer: keras.layers.Layer, hybrid: bool = False) -> list[Item]:
    kind = type(layer).__name__
    if isinstance(layer, _IDENTITY_AT_INFERENCE):
        return []
    if isinstance(layer, (keras.layers.Flatten, keras.layers.Reshape)):
        _channels_last(layer)
        return []  # the sample is already flat, row-major: reshaping it changes nothing
    if isinstance(layer, keras.layers.Dense):
        kernel = _numpy(layer.kernel)
        bias = _numpy(layer.bias) if layer.bias is not None else np.zeros(kernel.shape[1])
        return [Dense(*image_layers.last_axis(kernel, bias, _shape(layer.input)))] + _activation(
            layer, layer.activation, hybrid)
    if isinstance(layer, keras.layers.Conv2D) and kind == "Conv2D":  # not its transposed or separable kin
        return _conv2d(layer, hybrid)
    if isinstance(layer, keras.layers.AveragePooling2D):
        _channels_last(layer)
        matrix, _ = image_layers.average_pool2d(_image_shape(layer), tuple(layer.pool_size),
                                                tuple(layer.strides), layer.padding)
        return [Dense(matrix, np.zeros(matrix.shape[1]))]
    if isinstance(layer, keras.layers.ZeroPadding2D):
        _channels_last(layer)
        matrix, _ = image_layers.zero_pad2d(_image_shape(layer), tuple(tuple(p) for p in layer.padding))
        return [Dense(matrix, np.zeros(matrix.shape[1]))]
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        _channels_last(layer)
        matrix = image_layers.global_average_pool2d(_image_shape(layer))
        return [Dense(matrix, np.zeros(matrix.shape[1]))]
    if isinstance(layer, keras.layers.Activation):
        return _activation(layer, layer.activation, hybrid)
    if isinstance(layer, keras.layers.Softmax):
        if layer.axis not in (-1, 1):
            raise ValueError(f"layer {layer.name!r} (Softmax) is over axis {layer.axis}; only -1 is "
                             "supported")
        return ["softmax"]
    if isinstance(layer, keras.layers.Normalization):
        mean, variance = _numpy(layer.mean), _numpy(layer.variance)
        std = np.maximum(np.sqrt(variance), keras.backend.epsilon())
        if layer.invert:
            return [_elementwise(layer, std, mean)]
        return [_elementwise(layer, 1.0 / std, -mean / std)]
    if isinstance(layer, keras.layers.Rescaling):
        return [_elementwise(layer, layer.scale, layer.offset)]
    if isinstance(layer, keras.layers.BatchNormalization):
        n = _shape(layer.input)[-1]
        gamma = _numpy(layer.gamma) if layer.scale else np.ones(n)
        beta = _numpy(layer.beta) if layer.center else np.zeros(n)
        factor = gamma / np.sqrt(_numpy(layer.moving_variance) + layer.epsilon)
        return [_elementwise(layer, factor, beta - _numpy(layer.moving_mean) * factor)]
    if hybrid and isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.GlobalMaxPooling2D)):
        return _max_pool2d(layer)
    if hybrid and isinstance(layer, keras.layers.ReLU):
        return _relu_layer(layer)
    if hybrid and isinstance(layer, _MAX_POOLING + _NOT_POLYNOMIAL):
        raise ValueError(f"layer {layer.name!r} ({kind}) cannot run in hybrid mode, which runs {SUPPORTED}, "
                         f"{HYBRID_SUPPORTED}")
    if isinstance(layer, _MAX_POOLING):
        raise ValueError(f"layer {layer.name!r} ({kind}) takes a maximum, which is not a polynomial: CKKS can "
                         f"only add and multiply. {_RETRAIN[0].upper() + _RETRAIN[1:]}")
    if isinstance(layer, _NOT_POLYNOMIAL):
        raise ValueError(f"layer {layer.name!r} ({kind}) is not a polynomial: CKKS can only add and multiply. "
                         f"{_RETRAIN[0].upper() + _RETRAIN[1:]}")
    also = f", {HYBRID_SUPPORTED} with mode='hybrid'" if not hybrid else f"; {HYBRID_SUPPORTED} in hybrid mode"
    raise ValueError(f"layer {layer.name!r} ({kind}) cannot run on encrypted inputs; encrypted inference "
                     f"runs {SUPPORTED}{also}")


def _activation(layer: keras.layers.Layer, fn, hybrid: bool = False) -> list[Item]:
    if hybrid and any(fn is relu for relu in _RELUS):
        return [Relu()]
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
    if hybrid:
        raise ValueError(
            f"layer {layer.name!r} ({type(layer).__name__}) uses activation {name!r}; hybrid mode runs 'relu', "
            "tf.math.square and he_tf.models.PolynomialActivation in hidden layers and sigmoid or softmax as "
            "the output activation"
        )
    raise ValueError(
        f"layer {layer.name!r} ({type(layer).__name__}) uses activation {name!r}, which is not a polynomial: "
        "CKKS can only add and multiply. "
        + ("Run the network as it is with from_keras(model, mode='hybrid') (ReLU exactly on secret shares), "
           "or retrain: " if name == "relu" else "")
        + "Hidden layers need tf.math.square or "
        "he_tf.models.PolynomialActivation (e.g. fitted with he_tf.approx.fit_polynomial; retrain with it, "
        "and with AveragePooling2D in place of max pooling); sigmoid and softmax are supported as the output "
        "activation"
    )
