import numpy as np
import pytest

from he_tf import approx


@pytest.mark.parametrize("low, high, degree, bound", [(-5, 5, 3, 0.05), (-8, 8, 5, 0.06), (-2, 2, 3, 0.003)])
def test_sigmoid_fit_error(low, high, degree, bound):
    coeffs = approx.sigmoid_polynomial(low, high, degree)
    assert len(coeffs) == degree + 1
    assert approx.max_error(coeffs, approx.sigmoid, low, high) < bound


def test_exact_for_polynomials():
    coeffs = approx.fit_polynomial(lambda x: 2 * x**2 - x + 3, -1, 4, 2)
    np.testing.assert_allclose(coeffs, [2, -1, 3], atol=1e-9)


def test_bad_arguments():
    with pytest.raises(ValueError, match="low < high"):
        approx.sigmoid_polynomial(1, 1)
    with pytest.raises(ValueError, match="degree"):
        approx.fit_polynomial(np.sin, 0, 1, 0)
