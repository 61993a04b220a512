"""Example problems for the demo, tests and benchmarks: scikit-learn's bundled datasets.

The datasets ship with scikit-learn (no download). Splits are stratified
for classification and fixed by the seed; models standardize inside Keras
(a Normalization layer, folded into the first Dense layer when encrypted),
so clients send raw features.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import numpy as np

TASKS = {"breast_cancer": "binary", "diabetes": "regression", "wine": "multiclass", "iris": "multiclass"}
TITLES = {
    "breast_cancer": "Breast cancer (Wisconsin): logistic regression",
    "diabetes": "Diabetes progression: linear regression",
    "wine": "Wine cultivars: softmax regression",
    "iris": "Iris species: softmax regression",
}
# L2 on the logistic weights keeps logits (and a sigmoid polynomial's range) moderate at no cost in accuracy.
L2 = 1e-3


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split of one bundled dataset."""

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Output units: 1 for regression and binary, one per class for multi-class."""
        return int(self.y_train.max()) + 1 if self.task == "multiclass" else 1

    @property
    def activation(self) -> str:
        return {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}[self.task]


def load(name: str, seed: int = 0, test_size: float = 0.2) -> Dataset:
    """Loads ``name`` (one of :data:`TASKS`) and splits it; the same seed gives the same split."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name not in TASKS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(TASKS)}")
    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    stratify = None if TASKS[name] == "regression" else y
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype(np.float64), y, test_size=test_size, random_state=seed, stratify=stratify
    )
    return Dataset(name, TASKS[name], x_train, y_train.astype(np.float64), x_test, y_test.astype(np.float64))


def build_keras(data: Dataset, hidden: int | None = None,
                hidden_activation: Callable | None = None) -> keras.Model:
    """Normalization (adapted to the training features), an optional hidden Dense layer, the output layer.

    A hidden layer needs a polynomial activation (``tf.math.square`` or
    :class:`he_tf.models.PolynomialActivation`) to run encrypted.
    """
    normalization = keras.layers.Normalization(name="standardize")
    normalization.adapt(data.x_train)
    layers = [keras.Input((data.n_features,), name="features"), normalization]
    if hidden:
        layers.append(keras.layers.Dense(hidden, activation=hidden_activation, name="hidden"))
    if data.task == "regression":
        # Start at the mean target: the optimizer then only learns the slopes.
        start = keras.initializers.Constant(data.y_train.mean())
        out = keras.layers.Dense(1, bias_initializer=start, name="output")
    else:
        out = keras.layers.Dense(data.n_outputs, activation=data.activation,
                                 kernel_regularizer=keras.regularizers.L2(L2), name="output")
    return keras.Sequential(layers + [out], name=f"{data.name}_{data.task}")


def train_keras(data: Dataset, epochs: int = 30, seed: int = 0, hidden: int | None = None,
                hidden_activation: Callable | None = None,
                callbacks: list[keras.callbacks.Callback] | None = None) -> keras.Model:
    """Trains :func:`build_keras`'s model with Adam; the same seed gives the same weights."""
    keras.utils.set_random_seed(seed)
    model = build_keras(data, hidden, hidden_activation)
    if data.task == "regression":
        model.compile(keras.optimizers.Adam(1.0), "mse", steps_per_execution=8)
    else:
        loss = "binary_crossentropy" if data.task == "binary" else "sparse_categorical_crossentropy"
        model.compile(keras.optimizers.Adam(0.05), loss, steps_per_execution=8)
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=64, shuffle=True, verbose=0,
              callbacks=callbacks or [])
    return model


def keras_from_sklearn(data: Dataset, seed: int = 0) -> keras.Model:
    """:func:`build_keras`'s model with weights fitted by scikit-learn: fast and exactly reproducible.

    The estimator sees the same standardized features the Normalization layer produces.
    """
    from sklearn.linear_model import LinearRegression, LogisticRegression

    model = build_keras(data)
    standardized = np.asarray(model.get_layer("standardize")(data.x_train), dtype=np.float64)
    if data.task == "regression":
        fit = LinearRegression().fit(standardized, data.y_train)
    else:
        fit = LogisticRegression(max_iter=5000, random_state=seed).fit(standardized, data.y_train)
    coef = np.atleast_2d(fit.coef_).T
    model.get_layer("output").set_weights([coef, np.atleast_1d(fit.intercept_)])
    return model
