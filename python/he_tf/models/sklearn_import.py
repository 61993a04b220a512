"""from_sklearn: fitted scikit-learn linear models (and scalers before them) to an EncryptedModel."""

from __future__ import annotations

import numpy as np

from he_tf.models.model import EncryptedModel, from_steps
from he_tf.models.steps import Dense, Step


def from_sklearn(estimator, **options) -> EncryptedModel:
    """An encrypted model from a fitted scikit-learn estimator.

    Parameters
    ----------
    estimator:
        A linear regressor (``LinearRegression``, ``Ridge``, ``Lasso``, ...: any
        regressor with ``coef_`` and ``intercept_``), a ``LogisticRegression``
        (sigmoid for two classes, softmax for more), or a ``Pipeline`` of
        ``StandardScaler`` / ``MinMaxScaler`` / ``MaxAbsScaler`` steps ending in
        one; the scalers are folded into the weights.
    **options:
        ``output``, ``input_range``, ``data``, ``degree``, ``layout``,
        ``params``, ``precision_bits``, ``feature_range``, ``name`` as for :func:`he_tf.models.from_steps`
        (``feature_range`` and ``data`` are in the pipeline's input units, before any scaler).
    """
    from sklearn.pipeline import Pipeline

    stages = [step for _, step in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    scalers = [stage for stage in stages[:-1] if stage is not None and stage != "passthrough"]
    steps: list[Step] = [_scaler(stage) for stage in scalers]
    final = stages[-1]
    dense, activation = _linear(final)
    options.setdefault("name", type(final).__name__)
    return from_steps(steps + [dense], activation, **options)


def _scaler(stage) -> Dense:
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    if isinstance(stage, StandardScaler):
        n = stage.n_features_in_
        scale = np.ones(n) if stage.scale_ is None else 1.0 / stage.scale_
        mean = np.zeros(n) if stage.mean_ is None else stage.mean_
        return Dense(np.diag(scale), -mean * scale)
    if isinstance(stage, MinMaxScaler):
        return Dense(np.diag(stage.scale_), stage.min_)
    if isinstance(stage, MaxAbsScaler):
        return Dense(np.diag(1.0 / stage.scale_), np.zeros(stage.n_features_in_))
    raise ValueError(f"pipeline step {type(stage).__name__} cannot be folded into encrypted inference; "
                     "supported: StandardScaler, MinMaxScaler, MaxAbsScaler, then a linear model")


def _linear(model) -> tuple[Dense, str]:
    from sklearn.base import is_regressor
    from sklearn.linear_model import LogisticRegression

    if not hasattr(model, "coef_"):
        raise ValueError(f"{type(model).__name__} is not a fitted linear model (no coef_); fit it first, or "
                         "pass the weights to he_tf.models.from_weights")
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))  # (outputs, features)
    intercept = np.broadcast_to(np.asarray(model.intercept_, dtype=np.float64).reshape(-1), (coef.shape[0],))
    if isinstance(model, LogisticRegression):
        return Dense(coef.T, intercept), ("sigmoid" if coef.shape[0] == 1 else "softmax")
    if is_regressor(model):
        return Dense(coef.T, intercept), "linear"
    raise ValueError(f"{type(model).__name__} is not supported: its scores are not probabilities; encrypted "
                     "inference takes linear regressors and LogisticRegression (or use from_weights with "
                     "activation='linear' for raw scores)")
