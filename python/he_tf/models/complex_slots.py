"""Complex packing: two samples per slot, one in the real part and one in the imaginary part.

CKKS slots are complex: N/2 slots hold N real values. For a model whose server
computation is linear with real coefficients (one affine layer: plaintext
products by real weights, sums, rotations, rescales), the real and imaginary
parts of every slot are computed on separately, so a request of ``S`` samples
is folded into ``rows(S) = ceil(S / 2)`` rows: sample ``i`` in the real part of
row ``i``, sample ``rows + i`` in the imaginary part (zero past ``S``). Half
the ciphertexts, hence half the encryption, bytes, parsing and compute. The
only change on the server is the bias, added to both parts (``b + i b``).

It is wrong for any non-linear step (a square or a polynomial mixes the
parts), so :attr:`EncryptedModel.complex_packing` allows it only for a single
affine layer, and the server refuses folded requests for any other model.
Messages record it as ``meta["folded"] = S``.

A slot holding ``x + i y`` has modulus up to ``sqrt(2) max(|x|, |y|)``, and
its modulus is what bounds the encoding's coefficients: the compiler checks
folded results against the room with that factor (:data:`GROWTH`).
"""

from __future__ import annotations

import math

import numpy as np

GROWTH = math.sqrt(2.0)
"""The largest modulus of a slot ``x + i y`` over ``max(|x|, |y|)``."""


def rows(samples: int) -> int:
    """Rows ``samples`` samples fold into."""
    return -(-samples // 2)


def fold(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, ...)`` -> ``(real, imag)``, each ``(rows(samples), ...)``: the first rows samples, then the rest."""
    half = rows(x.shape[0])
    imag = np.zeros((half,) + x.shape[1:], dtype=np.float64)
    imag[: x.shape[0] - half] = x[half:]
    return np.ascontiguousarray(x[:half], dtype=np.float64), imag


def unfold(real: np.ndarray, imag: np.ndarray, samples: int) -> np.ndarray:
    """Inverse of :func:`fold`: ``samples`` rows, the real parts' first."""
    if real.shape != imag.shape or real.shape[0] != rows(samples):
        raise ValueError(f"{samples} folded samples take {rows(samples)} rows, got parts of shapes {real.shape} "
                         f"and {imag.shape}")
    return np.concatenate([real, imag])[:samples]
