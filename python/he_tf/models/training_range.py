"""The fixed-point budget of private training, worked out before any data is shared.

Training by gradient descent on secret shares (``he_tf.models.training``) multiplies shared values in
the ring Z_2^64: a product carries 2f fraction bits and wraps silently once |product| >= 2^(63 - 2f)
(``FixedPoint.product_limit``), and each local truncation of a shared product fails with probability
about 2 |product| 2^(2f) / 2^64 (``FixedPoint.truncation_failure_probability``). Neither can be
checked on shares, so :func:`plan` bounds every product of the training from public, declared bounds:

- ``B_j``: |x_ij| <= B_j for every feature j (each data owner checks its own columns, locally);
- ``Y``: |y_i| <= Y (1 for logistic regression, whose labels are 0 or 1);
- ``W``: ||w||_2 <= W for the weights (bias included) at every step of the training (the model owner
  checks its revealed weights against it at the end).

Then |x_i . w| <= Z = W sqrt(sum_j B_j^2 + 1) (Cauchy-Schwarz, the 1 for the bias column), the
sigmoid's polynomial in t = z / s is bounded term by term at |t| <= Z / s, and so are the error, its
scaling by the learning rate over the batch size, the gradient and the update. :func:`plan` refuses
(ValueError) when a worst-case product reaches the wrap limit, a worst-case value reaches the protocol's
input bound ``FixedPoint.max_magnitude``, or the union bound on truncation failures over the whole
training exceeds ``failure_budget``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np

from he_tf.protocol.fixed_point import FixedPoint


@dataclasses.dataclass(frozen=True)
class Quantity:
    """One value the training computes: its worst-case magnitude, and how many elements are truncated.

    ``product``: a product before truncation (2f fraction bits, wraps at ``product_limit``), else a value
    at f fraction bits (bounded by ``max_magnitude``). ``truncations``: elements truncated over the
    whole training (0 for values that are not products).
    """

    name: str
    magnitude: float
    product: bool
    truncations: int = 0


@dataclasses.dataclass(frozen=True)
class RangePlan:
    """The worst-case magnitudes of a training run and what they leave of the fixed-point range."""

    quantities: tuple[Quantity, ...]
    fixed_point: FixedPoint
    failure_bound: float  # union bound on any truncation failing, over the whole training
    logit_bound: float    # Z: worst-case |x . w|

    def __str__(self) -> str:
        fp = self.fixed_point
        rows = [f"{'quantity':<42} {'worst case':>12} {'limit':>12}"]
        for q in self.quantities:
            limit = fp.product_limit if q.product else fp.max_magnitude
            rows.append(f"{q.name:<42} {q.magnitude:>12.4g} {limit:>12.4g}")
        rows.append(f"truncation failure bound over the training: {self.failure_bound:.3g}")
        return "\n".join(rows)


def _horner_bounds(coeffs: Sequence[float], t: float) -> list[float]:
    """Worst-case |partial result| before each Horner multiplication by t (polyval order coefficients)."""
    partial, bounds = 0.0, []
    for c in coeffs[:-1]:
        partial = partial * t + abs(c)
        bounds.append(partial)
    return bounds


def plan(*, feature_bounds: Sequence[float], label_bound: float, weight_bound: float,
         learning_rate: float, l2: float, batch_sizes: Sequence[int], epochs: int,
         fixed_point: FixedPoint, sigmoid: Optional[tuple[Sequence[float], float]] = None,
         failure_budget: float = 1e-3) -> RangePlan:
    """The worst-case magnitudes of every product of the training; ValueError if one does not fit.

    Parameters
    ----------
    feature_bounds
        B_j for every feature of the joined data (the bias column is added here).
    label_bound, weight_bound
        Y and W above.
    batch_sizes
        The size of every batch of one epoch (the last may be smaller).
    sigmoid
        ``(coefficients of q in polyval order, s)`` with sigmoid(z) ~ q(z / s), for logistic regression;
        None for linear regression.
    failure_budget
        The largest accepted union bound on a truncation failing anywhere in the training.

    Raises
    ------
    ValueError
        Naming the first quantity over its limit (or the failure bound), with what would help.
    """
    bounds = np.asarray(feature_bounds, np.float64)
    d = bounds.size + 1
    z = weight_bound * math.sqrt(float(np.sum(bounds**2)) + 1.0)
    b_min, steps = min(batch_sizes), epochs * len(batch_sizes)
    rows = epochs * sum(batch_sizes)  # elements of every per-row quantity over the training
    x_max = max(float(bounds.max(initial=0.0)), 1.0)
    quantities = [Quantity("features |x|", x_max, False), Quantity("weights |w|", weight_bound, False),
                  Quantity("logits x.w (product)", z, True, rows)]
    if sigmoid is None:
        error = z + label_bound
    else:
        coeffs, s = [float(c) for c in sigmoid[0]], float(sigmoid[1])
        t = z / s
        quantities.append(Quantity("logits / s (product)", t, True, rows))
        for k, partial in enumerate(_horner_bounds(coeffs, t)):
            quantities.append(Quantity(f"sigmoid Horner step {k + 1} (product)", partial * t, True, rows))
        error = sum(abs(c) * t**(len(coeffs) - 1 - i) for i, c in enumerate(coeffs)) + label_bound
    quantities.append(Quantity("error p - y", error, False))
    scaled = error * learning_rate / b_min
    quantities.append(Quantity("error * learning_rate / batch (product)", scaled, True, rows))
    step = learning_rate * x_max * error  # sum over b rows of |x| * error * lr / b
    quantities.append(Quantity("update lr * gradient (product)", step, True, steps * d))
    if l2:
        decay = weight_bound * abs(1 - learning_rate * l2)
        quantities.append(Quantity("weight decay w * (1 - lr l2) (product)", decay, True, steps * d))
    after = weight_bound * max(1.0, abs(1 - learning_rate * l2)) + step
    quantities.append(Quantity("weights after a step", after, False))
    failure = sum(q.truncations * fixed_point.truncation_failure_probability(q.magnitude) for q in quantities)
    result = RangePlan(tuple(quantities), fixed_point, min(1.0, failure), z)
    _refuse(result, failure_budget)
    return result


def _refuse(result: RangePlan, failure_budget: float) -> None:
    fp = result.fixed_point
    advice = ("standardize the features (and clip them), declare tighter feature_bounds or a smaller "
              "weight_bound, lower the learning rate, or use a SecretSharing protocol with other "
              "fraction_bits / headroom_bits")
    for q in result.quantities:
        limit = fp.product_limit if q.product else fp.max_magnitude
        if not q.magnitude < limit:
            what = ("a product wraps in the ring at 2^(63 - 2f)" if q.product
                    else "values must stay below the protocol's input bound 2^(63 - f - headroom_bits)")
            raise ValueError(
                f"fit_private: {q.name} can reach {q.magnitude:.4g} >= {limit:.4g} with fraction_bits="
                f"{fp.fraction_bits}, headroom_bits={fp.headroom_bits} ({what}; worst case over the declared "
                f"bounds, logits up to {result.logit_bound:.4g}); {advice}")
    if result.failure_bound > failure_budget:
        worst = max(result.quantities, key=lambda q: q.truncations * q.magnitude)
        raise ValueError(
            f"fit_private: a local truncation may fail with probability up to {result.failure_bound:.3g} "
            f"over the training (union bound; budget {failure_budget:.3g}), mostly from {worst.name} up to "
            f"{worst.magnitude:.4g} at fraction_bits={fp.fraction_bits}; fewer fraction bits make each "
            f"truncation safer; else {advice}")
