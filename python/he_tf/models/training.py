"""Training on joint private data: linear and logistic regression by mini-batch gradient descent on shares.

Several data owners hold parts of one data set, by rows (each owner some samples) or by features (each
owner some columns of the same samples, one of them the labels). Under a
:class:`~he_tf.protocol.SecretSharing` protocol each owner shares its part with the two computing
players, the parts are joined on shares, and gradient descent runs on shares; the weights are revealed
to the model owner only::

    fit = fit_private({"alice": (x_a, y_a), "bob": (x_b, y_b)}, model_owner="carol", protocol=ss)
    fit.weights, fit.bias          # the model owner's plaintext result

The sigmoid is a polynomial q(t) fitted to sigmoid(s t) over the stated range of the logits (t = z / s).
Before anything is shared, :func:`he_tf.models.training_range.plan` bounds every product of the training
from the declared bounds and refuses what could wrap; each owner checks its own data against its bounds
on its device. See docs/tutorial-training.md for what each player sees.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from he_tf import approx
from he_tf.models import training_range
from he_tf.models.shared_layout import concat, take_rows
from he_tf.protocol import SecretSharing, SharedTensor, get_config, get_protocol

JOINS = ("rows", "features")
MODELS = ("logistic", "linear")


@dataclasses.dataclass(frozen=True)
class PrivateFit:
    """What :func:`fit_private` returns: the model owner's weights, in the clear (float64).

    ``weights``: one per feature of the joined data (owners' columns in the order of ``data``);
    ``history``: the weights and bias after each epoch, only if ``reveal_each_epoch`` (else empty);
    ``plan``: the fixed-point budget checked before training; ``epoch_seconds``: wall time per epoch.
    """

    weights: np.ndarray
    bias: float
    model: str
    model_owner: str
    plan: training_range.RangePlan
    sigmoid: Optional[np.ndarray]  # q's coefficients (polyval order), sigmoid(z) ~ q(z / sigmoid_scale)
    sigmoid_scale: float
    history: tuple[np.ndarray, ...] = ()
    epoch_seconds: tuple[float, ...] = ()

    def decision_function(self, x) -> np.ndarray:
        """x @ weights + bias (plaintext, for the model owner's own data)."""
        return np.asarray(x, np.float64) @ self.weights + self.bias

    def predict(self, x) -> np.ndarray:
        """Labels 0/1 for logistic regression (logit > 0), values for linear regression."""
        z = self.decision_function(x)
        return (z > 0).astype(np.int64) if self.model == "logistic" else z


@dataclasses.dataclass(frozen=True)
class _Part:
    owner: str
    x: np.ndarray
    bounds: np.ndarray  # B_j of this owner's columns


def batch_schedule(rows: int, batch_size: int, epochs: int,
                   seed: Optional[int] = 0) -> list[list[np.ndarray]]:
    """The row indices of every batch of every epoch: a permutation of the joined rows per epoch
    (``numpy.random.default_rng(seed)``; rows in order when seed is None) cut into ``batch_size`` pieces.

    The schedule is public: it depends on the number of rows only, never on the data.
    """
    rng = None if seed is None else np.random.default_rng(seed)
    schedule = []
    for _ in range(epochs):
        order = np.arange(rows) if rng is None else rng.permutation(rows)
        schedule.append([order[i:i + batch_size] for i in range(0, rows, batch_size)])
    return schedule


def sigmoid_polynomial(low: float, high: float, degree: int) -> tuple[np.ndarray, float]:
    """(q, s): q fitted to sigmoid(s t) on [low / s, high / s], s = max(|low|, |high|), so that
    sigmoid(z) ~ q(z / s) on [low, high] with coefficients of order one (exact in fixed point)."""
    scale = max(abs(float(low)), abs(float(high)))
    coeffs = approx.fit_polynomial(lambda t: approx.sigmoid(scale * t), low / scale, high / scale, degree)
    return coeffs, scale


def fit_private(data: Mapping[str, object], *, model_owner: str, labels: Optional[tuple[str, object]] = None,
                join: str = "rows", model: str = "logistic", protocol: Optional[SecretSharing] = None,
                epochs: int = 3, batch_size: int = 64, learning_rate: float = 0.5, l2: float = 0.0,
                sigmoid_range: tuple[float, float] = (-4.0, 4.0), sigmoid_degree: int = 1,
                feature_bounds=8.0, label_bound: Optional[float] = None, weight_bound: float = 4.0,
                failure_budget: float = 1e-3, seed: Optional[int] = 0, reveal_each_epoch: bool = False,
                progress: bool = True) -> PrivateFit:
    """Trains a linear or logistic regression on the owners' joined private data; the model owner gets it.

    Parameters
    ----------
    data
        ``join="rows"``: ``{owner: (x, y)}``, each owner some samples of the same features.
        ``join="features"``: ``{owner: x}``, each owner some features of the same samples (in the same
        order), with ``labels=(owner, y)``.
    model_owner
        The only player that receives the weights (in the clear); not the dealer.
    model
        ``"logistic"`` (labels 0/1, sigmoid by a polynomial) or ``"linear"`` (least squares).
    protocol
        The :class:`SecretSharing` protocol (its players compute, its dealer deals); the one in force
        when None.
    epochs, batch_size, learning_rate, l2
        Mini-batch gradient descent from zero weights, on the batches of :func:`batch_schedule`
        (``seed``): the gradient of the mean loss (half the squared error; for logistic regression the
        logistic loss's, ``x^T (sigmoid(z) - y) / b``, with sigmoid replaced by the polynomial) plus
        ``l2 * w`` (the bias included).
    sigmoid_range, sigmoid_degree
        The polynomial's fit range (where the logits are expected) and degree. Degree 1 (the default) is
        the least-squares line through sigmoid on the range: monotone, so gradient descent stays stable,
        and small outside the range, so the worst-case budget stays small. Higher degrees fit better
        inside the range but grow like |z|^degree outside it, which the budget must allow for (degree 3,
        whose leading coefficient is negative, also makes gradient descent diverge once logits leave the
        range).
    feature_bounds
        The declared |x| bound of every feature: one number, or ``{owner: number or one per column}``.
        Public; each owner checks its own data against its bounds on its device.
    label_bound
        |y| bound for linear regression (public, checked by the labels' owner); 1 for logistic regression.
    weight_bound
        The declared bound on ||w||_2 (bias included) during training; the model owner checks the result.
    failure_budget
        Largest accepted union bound, at the worst-case magnitudes, on any local truncation failing during
        training (a failed truncation makes one element wrong by about 2^(64 - 2f)).
    reveal_each_epoch
        Also reveal the weights to the model owner after every epoch (``PrivateFit.history``).
    progress
        A tqdm progress bar over epochs (when tqdm is installed).

    Raises
    ------
    ValueError
        For a bad argument, mismatched rows or features, data outside its declared bounds (naming the
        owner and column), a fixed-point budget that could wrap (``training_range.plan``), or trained
        weights beyond ``weight_bound``.
    UnknownPlayerError
        For a player the installed config does not know.
    TypeError
        If the protocol is not a SecretSharing protocol.
    """
    protocol = _protocol(protocol)
    _check_options(join, model, epochs, batch_size, learning_rate, l2, sigmoid_degree, weight_bound)
    config = get_config()
    config.check(model_owner, *data)
    if model_owner == protocol.dealer:
        raise ValueError(f"fit_private: the model owner may not be the dealer {protocol.dealer!r}")
    if protocol.outputs is not None and model_owner not in protocol.outputs:
        raise ValueError(f"fit_private: {protocol!r} reveals outputs to {', '.join(protocol.outputs)} only, "
                         f"not to the model owner {model_owner!r}")
    parts, y, label_owners = _parts(data, labels, join, feature_bounds)
    config.check(*label_owners)
    if model == "logistic":
        label_bound = 1.0
    elif label_bound is None or not label_bound > 0:
        raise ValueError(f"fit_private: linear regression needs label_bound > 0, the declared |y| bound, "
                         f"got {label_bound!r}")
    rows = sum(len(p.x) for p in parts) if join == "rows" else len(parts[0].x)
    schedule = batch_schedule(rows, batch_size, epochs, seed)
    poly = sigmoid_polynomial(*_range(sigmoid_range), sigmoid_degree) if model == "logistic" else None
    budget = training_range.plan(
        feature_bounds=np.concatenate([p.bounds for p in parts]) if join == "features" else
        np.max([p.bounds for p in parts], axis=0),
        label_bound=float(label_bound), weight_bound=float(weight_bound), learning_rate=float(learning_rate),
        l2=float(l2), batch_sizes=[len(b) for b in schedule[0]], epochs=epochs,
        fixed_point=protocol.fixed_point, sigmoid=poly, failure_budget=failure_budget)

    x_shared = [protocol.define_private_input(p.owner, _checked_features(p)) for p in parts]
    y_shared = [protocol.define_private_input(owner, _checked_labels(owner, v, model, float(label_bound)))
                for owner, v in zip(label_owners, y)]
    x = _with_bias(protocol, concat(protocol, x_shared, 0 if join == "rows" else 1))
    y = concat(protocol, y_shared, 0) if len(y_shared) > 1 else y_shared[0]
    w = protocol.define_private_variable(np.zeros((int(x.shape[1]), 1)), owner=model_owner)

    history, seconds = [], []
    for batches in _progress(schedule, progress):
        start = time.perf_counter()
        for indices in batches:
            w = _step(protocol, w, take_rows(protocol, x, indices), take_rows(protocol, y, indices), poly,
                      float(learning_rate), float(l2))
        seconds.append(time.perf_counter() - start)
        if reveal_each_epoch:
            history.append(protocol.define_output(model_owner, None, w).numpy()[:, 0])
    weights = protocol.define_output(model_owner, None, w).numpy()[:, 0]
    norm = float(np.linalg.norm(weights))
    if not norm <= weight_bound:
        raise ValueError(f"fit_private: the trained weights have norm {norm:.4g} > "
                         f"weight_bound={weight_bound:g}, "
                         "which the fixed-point budget assumed: products may have wrapped. Declare a larger "
                         "weight_bound (the budget is checked again), a smaller learning rate or more l2")
    return PrivateFit(weights[:-1], float(weights[-1]), model, model_owner, budget,
                      None if poly is None else poly[0], 1.0 if poly is None else poly[1],
                      tuple(history), tuple(seconds))


def _step(protocol: SecretSharing, w: SharedTensor, x: SharedTensor, y: SharedTensor, poly,
          learning_rate: float, l2: float) -> SharedTensor:
    """One gradient step on a batch: w (1 - lr l2) - x^T ((p - y) lr / b), p the model's prediction."""
    z = protocol.matmul(x, w)
    p = z if poly is None else protocol.polyval(list(poly[0]), protocol.multiply(z, 1.0 / poly[1]))
    error = protocol.multiply(protocol.subtract(p, y), learning_rate / int(x.shape[0]))
    update = protocol.matmul(protocol.transpose(x), error)
    if l2:
        w = protocol.multiply(w, 1.0 - learning_rate * l2)
    return protocol.subtract(w, update)


def _with_bias(protocol: SecretSharing, x: SharedTensor) -> SharedTensor:
    """[x, 1]: x times the public integer matrix [I | 0] plus public ones (one player adds them)."""
    rows, cols = int(x.shape[0]), int(x.shape[1])
    widen = np.eye(cols, cols + 1, dtype=np.int64)
    ones = np.zeros((rows, cols + 1))
    ones[:, -1] = 1.0
    return protocol.add(protocol.matmul(x, widen), ones)


def _checked_features(part: _Part):
    """The input function of `part`'s owner: runs on its device and refuses values beyond its bounds."""

    def features():
        x = tf.convert_to_tensor(part.x, tf.float64)
        worst = tf.reduce_max(tf.abs(x), axis=0).numpy()  # on the owner's device, seen by the owner only
        bad = np.flatnonzero(~(worst <= part.bounds))
        if bad.size:
            j = int(bad[0])
            raise ValueError(f"fit_private: {part.owner}'s feature {j} (column {j} of its data) has |x| "
                             f"up to "
                             f"{worst[j]:.4g} > its declared bound {part.bounds[j]:.4g} (or is not finite); "
                             "standardize and clip it, or declare a larger feature_bounds")
        return x
    return features


def _checked_labels(owner: str, y: np.ndarray, model: str, bound: float):
    def labels():
        values = tf.convert_to_tensor(y, tf.float64)
        plain = values.numpy()  # on the labels' owner's device
        if model == "logistic" and not np.isin(plain, (0.0, 1.0)).all():
            raise ValueError(f"fit_private: {owner}'s labels must be 0 or 1 for logistic regression")
        if not (np.abs(plain) <= bound).all():
            raise ValueError(f"fit_private: {owner}'s labels have |y| up to {np.max(np.abs(plain)):.4g} > "
                             f"label_bound={bound:g} (or are not finite)")
        return tf.reshape(values, [-1, 1])
    return labels


def _protocol(protocol) -> SecretSharing:
    protocol = get_protocol() if protocol is None else protocol
    if not isinstance(protocol, SecretSharing):
        raise TypeError(f"fit_private trains under a he_tf.protocol.SecretSharing protocol, got {protocol!r}")
    return protocol


def _check_options(join, model, epochs, batch_size, learning_rate, l2, degree, weight_bound) -> None:
    if join not in JOINS:
        raise ValueError(f"fit_private: join must be one of {JOINS}, got {join!r}")
    if model not in MODELS:
        raise ValueError(f"fit_private: model must be one of {MODELS}, got {model!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("sigmoid_degree", degree)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"fit_private: {name} must be an integer >= 1, got {value!r}")
    for name, value, low in (("learning_rate", learning_rate, 0.0), ("weight_bound", weight_bound, 0.0)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > low):
            raise ValueError(f"fit_private: {name} must be a finite number > 0, got {value!r}")
    if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"fit_private: l2 must be a finite number >= 0, got {l2!r}")


def _range(sigmoid_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in sigmoid_range)
    except (TypeError, ValueError):
        raise ValueError(f"fit_private: sigmoid_range must be (low, high), got {sigmoid_range!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"fit_private: sigmoid_range needs finite low < high, got {sigmoid_range!r}")
    return low, high


def _matrix(owner: str, value, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"fit_private: {owner}'s {what} is not numeric") from None
    if array.ndim != (2 if what == "features" else 1) or 0 in array.shape:
        shape = "[rows, features]" if what == "features" else "[rows]"
        raise ValueError(f"fit_private: {owner}'s {what} must be a non-empty {shape} array, got shape "
                         f"{array.shape}")
    return array


def _bounds(owner: str, feature_bounds, columns: int) -> np.ndarray:
    declared = feature_bounds.get(owner) if isinstance(feature_bounds, Mapping) else feature_bounds
    if declared is None:
        raise ValueError(f"fit_private: feature_bounds declares no bound for {owner!r}")
    bounds = np.broadcast_to(np.asarray(declared, np.float64), (columns,)) if np.ndim(declared) == 0 else \
        np.asarray(declared, np.float64)
    if bounds.shape != (columns,) or not (np.isfinite(bounds) & (bounds > 0)).all():
        raise ValueError(f"fit_private: {owner}'s feature bounds must be one number > 0 or one per column "
                         f"({columns}), got {declared!r}")
    return np.array(bounds)


def _parts(data, labels, join: str, feature_bounds) -> tuple[list[_Part], list[np.ndarray], list[str]]:
    """The owners' parts, their labels and the labels' owners; ValueError for mismatched shapes."""
    if not isinstance(data, Mapping) or not data:
        raise ValueError("fit_private: data must map each data owner to its data, e.g. {'alice': (x, y)}")
    parts, ys, label_owners = [], [], []
    for owner, value in data.items():
        if join == "rows":
            if not (isinstance(value, tuple) and len(value) == 2):
                raise ValueError(f"fit_private: join='rows' takes {{owner: (x, y)}}; {owner!r} gave "
                                 f"{type(value).__name__}")
            x, y = _matrix(owner, value[0], "features"), _matrix(owner, value[1], "labels")
            if len(y) != len(x):
                raise ValueError(f"fit_private: {owner!r} has {len(x)} rows of features but {len(y)} labels")
            ys.append(y)
            label_owners.append(owner)
        else:
            x = _matrix(owner, value, "features")
        parts.append(_Part(owner, x, _bounds(owner, feature_bounds, x.shape[1])))
    if join == "rows":
        if labels is not None:
            raise ValueError("fit_private: with join='rows' each owner gives its own labels: {owner: (x, y)}")
        widths = {p.owner: p.x.shape[1] for p in parts}
        if len(set(widths.values())) > 1:
            raise ValueError(f"fit_private: join='rows' needs the same features at every owner; "
                             f"columns: {widths}")
    else:
        if not (isinstance(labels, tuple) and len(labels) == 2 and isinstance(labels[0], str)):
            raise ValueError("fit_private: join='features' needs labels=(owner, y)")
        owner, y = labels[0], _matrix(labels[0], labels[1], "labels")
        heights = {p.owner: len(p.x) for p in parts}
        heights[f"{owner} (labels)"] = len(y)
        if len(set(heights.values())) > 1:
            raise ValueError(f"fit_private: join='features' needs the same rows at every owner; "
                             f"rows: {heights}")
        ys, label_owners = [y], [owner]
    return parts, ys, label_owners


def _progress(schedule, progress: bool):
    if progress:
        try:
            from tqdm.auto import tqdm
        except ModuleNotFoundError:
            return schedule
        return tqdm(schedule, desc="fit_private", unit="epoch")
    return schedule
