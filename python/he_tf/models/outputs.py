"""Output activations, applied in plaintext by whoever holds the decrypted values.

In ``output="logits"`` mode the server returns the last layer's
pre-activations and the client applies the activation after decrypting:
exact, and no levels spent on a non-polynomial function.
"""

from __future__ import annotations

import dataclasses

import numpy as np

ACTIVATIONS = ("linear", "sigmoid", "softmax")


def sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of a negative argument only: no overflow for large |z|
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def apply(activation: str, z: np.ndarray) -> np.ndarray:
    """``activation`` (one of :data:`ACTIVATIONS`) on float values."""
    if activation == "sigmoid":
        return sigmoid(z)
    if activation == "softmax":
        return softmax(z)
    if activation == "linear":
        return z
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Decrypted model outputs.

    Attributes
    ----------
    raw:
        What the server computed, decrypted: logits (``output="logits"``),
        polynomial sigmoid values (``output="polynomial"``) or regression values.
    outputs:
        The model's outputs: probabilities for sigmoid and softmax models
        (the activation applied here when the server returned logits), else ``raw``.
    activation:
        The model's output activation, one of :data:`ACTIVATIONS`.
    """

    raw: np.ndarray
    outputs: np.ndarray
    activation: str

    @classmethod
    def from_raw(cls, raw: np.ndarray, activation: str, applied_by_server: bool) -> Prediction:
        raw = np.asarray(raw, dtype=np.float64)
        if applied_by_server:
            # A polynomial approximation can stray slightly outside [0, 1]; probabilities cannot.
            outputs = np.clip(raw, 0.0, 1.0) if activation == "sigmoid" else raw
        else:
            outputs = apply(activation, raw)
        return cls(raw=raw, outputs=outputs, activation=activation)

    def labels(self) -> np.ndarray:
        """Class labels: argmax for softmax; ``outputs > 0.5`` for sigmoid (one column per output,
        squeezed when there is one).

        Raises ``ValueError`` for regression (linear) outputs.
        """
        if self.activation == "softmax":
            return np.argmax(self.outputs, axis=-1)
        if self.activation == "sigmoid":
            labels = (self.outputs > 0.5).astype(np.int64)
            return labels[..., 0] if labels.shape[-1] == 1 else labels
        raise ValueError("a regression model's outputs have no class labels")
