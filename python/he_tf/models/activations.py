"""Keras activations that he_tf.models can run on ciphertexts.

CKKS only adds and multiplies, so a hidden layer's activation must be a
polynomial: ``tf.math.square`` (one level) or a :class:`PolynomialActivation`
(``ceil(log2(degree)) + 1`` levels). Train with the same activation you serve.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="he_tf")
class PolynomialActivation:
    """``polyval(coeffs, x)`` as a Keras activation; ``coeffs`` highest degree first.

    >>> from he_tf import approx
    >>> relu_ish = PolynomialActivation(approx.fit_polynomial(lambda x: np.maximum(x, 0), -4, 4, 2))
    >>> layer = keras.layers.Dense(16, activation=relu_ish)
    """

    def __init__(self, coeffs: Sequence[float]) -> None:
        self.coeffs = tuple(float(c) for c in np.asarray(coeffs, dtype=np.float64).reshape(-1))
        if len(self.coeffs) < 2:
            raise ValueError("a polynomial activation needs degree >= 1 (at least 2 coefficients)")

    def __call__(self, x):
        y = keras.ops.full_like(x, self.coeffs[0])
        for c in self.coeffs[1:]:  # Horner's rule
            y = y * x + c
        return y

    def get_config(self) -> dict:
        return {"coeffs": list(self.coeffs)}

    @classmethod
    def from_config(cls, config: dict) -> PolynomialActivation:
        return cls(**config)

    def __repr__(self) -> str:
        return f"PolynomialActivation(degree {len(self.coeffs) - 1})"
