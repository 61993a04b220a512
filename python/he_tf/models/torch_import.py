"""from_torch: a trained ``torch.nn.Sequential`` of Linear layers to an EncryptedModel.

Affine modules (Linear, BatchNorm1d in eval mode) become Dense steps, merged
where nothing non-linear separates them; modules that are the identity at
inference (Identity, Dropout) vanish; ``he_tf.torch.Square`` and
``he_tf.torch.PolynomialActivation`` are the hidden activations; Sigmoid or
Softmax may end the chain. Anything else is refused naming the module's
path in the Sequential (``"2"``, ``"encoder.1"``).
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch
from numpy.typing import ArrayLike

import he_tf
from he_tf.models.model import PRECISION_BITS, EncryptedModel, from_steps
from he_tf.models.steps import Dense, Polynomial, Square, Step, split_output_activation
from he_tf.torch import PolynomialActivation as TorchPolynomial
from he_tf.torch import Square as TorchSquare

SUPPORTED = (
    "Linear, BatchNorm1d (eval mode), Identity, Dropout, he_tf.torch.Square and "
    "he_tf.torch.PolynomialActivation, Sigmoid or Softmax as the output activation, in nested "
    "torch.nn.Sequential chains"
)
_IDENTITY_AT_INFERENCE = (
    torch.nn.Identity, torch.nn.Dropout, torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout,
)

Item = Union[Step, str]  # a step, or the name of the output activation


def from_torch(module: torch.nn.Module, output: str = "logits",
               input_range: tuple[float, float] | None = None, degree: int = 3, layout: str = "batch",
               params: he_tf.Params | None = None,
               data: ArrayLike | None = None, feature_range: tuple[ArrayLike, ArrayLike] | None = None,
               precision_bits: int = PRECISION_BITS) -> EncryptedModel:
    """An encrypted model computing what the trained PyTorch ``module`` computes at inference.

    Parameters
    ----------
    module:
        A ``torch.nn.Sequential`` (nested ones are expanded) on inputs of
        shape ``(batch, features)``: Linear layers, optionally hidden ones
        followed by ``he_tf.torch.Square`` or ``he_tf.torch.PolynomialActivation``,
        and a linear, Sigmoid or Softmax output. A single Linear works too.
    output, input_range, degree, layout, params, data, feature_range, precision_bits:
        As for :func:`he_tf.models.from_keras`: ``"logits"`` (the client applies
        the output activation) or ``"polynomial"`` (the server evaluates a
        degree-``degree`` fit of the sigmoid on ``input_range``, or on the range
        ``data`` gives), the served layout, and the parameters (by default the
        smallest ring for the depth and, given ``data`` or ``feature_range``, for
        the results' magnitude; see :func:`he_tf.models.from_steps`).

    Raises
    ------
    ValueError
        Naming the module (its path in the Sequential), for modules the
        encrypted path cannot run, BatchNorm1d in training mode, or an
        activation before the last module; or for results that could exceed
        the parameters' room.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch takes a torch.nn.Module, got {type(module).__name__}")
    name = type(module).__name__
    items = [item for path, child in _chain(module, "") for item in _convert(path, child)]
    steps, activation = split_output_activation(items, lambda item: (
        f"{name} applies {item} before its last module; the encrypted path supports Sigmoid and Softmax only "
        "as the output activation (hidden layers need he_tf.torch.Square or he_tf.torch.PolynomialActivation)"))
    if not steps or not isinstance(steps[0], Dense):
        raise ValueError(f"{name} has no Linear (or BatchNorm1d) module before its first activation")
    return from_steps(steps, activation, output=output, input_range=input_range, data=data, degree=degree,
                      layout=layout, params=params, feature_range=feature_range, name=name,
                      precision_bits=precision_bits)


def _chain(module: torch.nn.Module, path: str) -> list[tuple[str, torch.nn.Module]]:
    """``(path, module)`` of every module the Sequential runs, in order, nested Sequentials expanded."""
    if type(module).forward is torch.nn.Sequential.forward:
        chain = []
        for name, child in module.named_children():
            chain += _chain(child, f"{path}.{name}" if path else name)
        return chain
    forward_from = type(module).forward.__module__
    if not (forward_from.startswith("torch.nn.") or forward_from == TorchSquare.__module__):
        raise ValueError(
            f"module {path or 'the model'!r} ({type(module).__name__}) defines its own forward, which "
            f"from_torch cannot read; build the model as a torch.nn.Sequential of {SUPPORTED}, or run it "
            "directly on encrypted tensors with he_tf.torch (module(he_tf.torch.encrypt(...)))"
        )
    return [(path or type(module).__name__, module)]


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float64)


def _convert(path: str, module: torch.nn.Module) -> list[Item]:
    kind = type(module).__name__
    if isinstance(module, _IDENTITY_AT_INFERENCE):
        return []
    if isinstance(module, torch.nn.Linear):
        weight = _numpy(module.weight)
        bias = _numpy(module.bias) if module.bias is not None else np.zeros(weight.shape[0])
        return [Dense(weight.T, bias)]
    if isinstance(module, torch.nn.BatchNorm1d):
        if module.training:
            raise ValueError(f"module {path!r} (BatchNorm1d) is in training mode, where it normalizes by "
                             "each batch's own statistics; call model.eval() before from_torch")
        if module.running_mean is None:
            raise ValueError(f"module {path!r} (BatchNorm1d) keeps no running statistics "
                             "(track_running_stats=False), so it has no inference-time affine map to fold")
        n = module.num_features
        gamma = _numpy(module.weight) if module.affine else np.ones(n)
        beta = _numpy(module.bias) if module.affine else np.zeros(n)
        factor = gamma / np.sqrt(_numpy(module.running_var) + module.eps)
        return [Dense(np.diag(factor), beta - _numpy(module.running_mean) * factor)]
    if isinstance(module, TorchSquare):
        return [Square()]
    if isinstance(module, TorchPolynomial):
        return [Polynomial(_numpy(module.coeffs), f"{path} activation")]
    if isinstance(module, torch.nn.Sigmoid):
        return ["sigmoid"]
    if isinstance(module, torch.nn.Softmax):
        if module.dim not in (None, 1, -1):
            raise ValueError(f"module {path!r} (Softmax) is over dim {module.dim}; only the feature dim "
                             "(1 or -1) is supported")
        return ["softmax"]
    if type(module).__module__ == "torch.nn.modules.activation":
        raise ValueError(
            f"module {path!r} ({kind}) is not a polynomial: CKKS can only add and multiply. Hidden layers "
            "need he_tf.torch.Square or he_tf.torch.PolynomialActivation (e.g. fitted with "
            "he_tf.approx.fit_polynomial; retrain with it); Sigmoid and Softmax are supported as the output "
            "activation"
        )
    raise ValueError(f"module {path!r} ({kind}) cannot run on encrypted inputs; encrypted inference runs "
                     f"{SUPPORTED}")
