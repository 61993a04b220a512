"""Polynomial approximations of non-polynomial functions, for use on ciphertexts.

CKKS evaluates only additions and multiplications, so activations such as
sigmoid are replaced by a polynomial fitted on the input range the data
actually covers. Outside that range the approximation diverges quickly:
choose the range from the training data, with a margin.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def fit_polynomial(fn: Callable[[np.ndarray], np.ndarray], low: float, high: float, degree: int) -> np.ndarray:
    """Least-squares fit of ``fn`` on [low, high] at Chebyshev nodes.

    Returns coefficients in ``tf.math.polyval`` order (highest degree first).
    """
    if not low < high:
        raise ValueError(f"need low < high, got [{low}, {high}]")
    if degree < 1:
        raise ValueError(f"degree must be >= 1, got {degree}")
    nodes = np.cos(np.pi * (np.arange(8 * (degree + 1)) + 0.5) / (8 * (degree + 1)))
    x = (nodes + 1) / 2 * (high - low) + low
    fit = np.polynomial.Chebyshev.fit(x, fn(x), degree, domain=[low, high])
    return fit.convert(kind=np.polynomial.Polynomial).coef[::-1]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_polynomial(low: float, high: float, degree: int = 3) -> np.ndarray:
    """Coefficients (polyval order) of a degree-``degree`` fit of sigmoid on [low, high]."""
    return fit_polynomial(sigmoid, low, high, degree)


def max_error(coeffs: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], low: float, high: float) -> float:
    """Largest |polyval(coeffs, x) - fn(x)| on a fine grid of [low, high]."""
    x = np.linspace(low, high, 10001)
    return float(np.max(np.abs(np.polyval(coeffs, x) - fn(x))))
