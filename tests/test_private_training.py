"""fit_private: logistic and linear regression trained on secret shares of several owners' data.

References: scikit-learn's LogisticRegression on the same split (test accuracy within 1 percentage point,
the issue's criterion), and plaintext mini-batch gradient descent in NumPy with the same batches
(``batch_schedule``), the same polynomial sigmoid and the same hyperparameters (weights within
WEIGHT_TOLERANCE). The private run differs from it by fixed-point rounding only: inputs and public
constants to 2^-17, and one truncation (at most 2^-16, SecureML) per product, about 10 per step and
coordinate; over 21 steps the weights differ by about 2e-4 (measured), 1e-3 allowed.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import he_tf
from he_tf.models import fit_private
from he_tf.models.shared_layout import concat, take_rows
from he_tf.models.training import batch_schedule, sigmoid_polynomial
from he_tf.protocol import CKKS, SecretSharing, UnknownPlayerError, recording

from doc_blocks import DOCS, run_python_blocks

PLAYERS = ["alice", "bob", "dealer", "carol"]
DATA_OWNERS = {"alice", "bob"}
WEIGHT_TOLERANCE = 1e-3
SETTINGS = dict(epochs=3, batch_size=64, learning_rate=0.5, l2=0.01, sigmoid_range=(-4.0, 4.0),
                sigmoid_degree=1, feature_bounds=11.0, weight_bound=4.0, seed=0, progress=False)


pytestmark = pytest.mark.usefixtures("local_players")


def protocol(**kwargs) -> SecretSharing:
    return SecretSharing(players=("alice", "bob"), dealer="dealer", **kwargs)


def breast_cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


X_TRAIN, X_TEST, Y_TRAIN, Y_TEST = breast_cancer()
HALF = len(X_TRAIN) // 2


def plaintext_gd(x, y, *, logistic: bool, epochs, batch_size, learning_rate, l2, sigmoid_range,
                 sigmoid_degree, seed, **_):
    """The same training in NumPy float64: weights then bias."""
    q, s = sigmoid_polynomial(*sigmoid_range, sigmoid_degree)
    x = np.c_[x, np.ones(len(x))]
    w = np.zeros(x.shape[1])
    for batches in batch_schedule(len(x), batch_size, epochs, seed):
        for rows in batches:
            z = x[rows] @ w
            p = np.polyval(q, z / s) if logistic else z
            w = w * (1 - learning_rate * l2) - x[rows].T @ ((p - y[rows]) * learning_rate / len(rows))
    return w


PLAIN = plaintext_gd(X_TRAIN, Y_TRAIN, logistic=True, **SETTINGS)
SKLEARN_ACCURACY = LogisticRegression().fit(X_TRAIN, Y_TRAIN).score(X_TEST, Y_TEST)


def accuracy(weights, bias) -> float:
    return float(np.mean(((X_TEST @ weights + bias) > 0) == Y_TEST))


def check_against_references(fit):
    got = np.r_[fit.weights, fit.bias]
    np.testing.assert_allclose(got, PLAIN, rtol=0, atol=WEIGHT_TOLERANCE)
    assert abs(accuracy(fit.weights, fit.bias) - SKLEARN_ACCURACY) <= 0.01
    assert np.sum(fit.predict(X_TEST) != ((X_TEST @ PLAIN[:-1] + PLAIN[-1]) > 0)) <= 1


@pytest.fixture(scope="module")
def rows_run():
    """Two owners with half the samples each; the model owner carol; recorded."""
    before = he_tf.get_config()
    he_tf.set_config(he_tf.LocalConfig(PLAYERS))
    try:
        with recording() as transcript:
            fit = fit_private(ROWS, model_owner="carol", protocol=protocol(), **SETTINGS)
    finally:
        he_tf.set_config(before)
    return fit, transcript


def test_logistic_joined_by_rows_matches_sklearn_and_plaintext_gd(rows_run):
    fit, _ = rows_run
    check_against_references(fit)
    assert fit.model == "logistic" and fit.model_owner == "carol" and fit.history == ()
    assert len(fit.epoch_seconds) == SETTINGS["epochs"]
    assert fit.plan.failure_bound <= 1e-3 and fit.plan.logit_bound > 0


def test_logistic_joined_by_features_matches_sklearn_and_plaintext_gd():
    data = {"alice": X_TRAIN[:, :12], "bob": X_TRAIN[:, 12:]}
    fit = fit_private(data, labels=("bob", Y_TRAIN), join="features", model_owner="alice",
                      protocol=protocol(), **SETTINGS)
    check_against_references(fit)


def test_only_the_model_owner_receives_the_weights_and_data_leaves_owners_as_shares_only(rows_run):
    _, transcript = rows_run
    for e in transcript:
        if e.kind == "plaintext":  # a plaintext only ever sits on the player it belongs to
            assert e.sender is None and e.receiver == e.origin, e
        if e.label.startswith("output"):
            assert e.receiver == "carol" and e.kind == "share", e
    outputs = [e for e in transcript if e.label.startswith("output")]
    assert len(outputs) == 2  # the two shares of the final weights, once
    # Every private value that left a data owner is shares, one to each computing player.
    shares: dict = {}
    for e in transcript:
        if e.origin in DATA_OWNERS and e.sender is not None or e.origin in DATA_OWNERS and e.kind == "share":
            assert e.kind == "share", e
            shares.setdefault(e.label.rsplit("[", 1)[0], set()).add(e.receiver)
    assert len(shares) == 4 and all(receivers == {"alice", "bob"} for receivers in shares.values()), shares
    assert transcript.received_by("dealer") == []
    # The model owner receives nothing but the output shares (its zero initial weights it placed itself).
    received = transcript.received_by("carol")
    assert {e.label.split("#")[0] for e in received if e.sender is not None} == {"output"}
    # Between the computing players only shares and masked openings travel.
    assert {e.kind for e in transcript if e.sender in ("alice", "bob") and e.receiver in ("alice", "bob")} \
        <= {"share", "masked"}


def test_linear_regression_by_features_matches_plaintext_gd_and_reveals_each_epoch_on_request():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    y = (y - y.mean()) / y.std()
    settings = dict(SETTINGS, feature_bounds={"alice": 5.0, "bob": [5.0] * 6}, learning_rate=0.1, l2=0.0)
    fit = fit_private({"alice": x[:, :4], "bob": x[:, 4:]}, labels=("carol", y), join="features",
                      model="linear", label_bound=4.0, model_owner="carol", protocol=protocol(),
                      reveal_each_epoch=True,
                      **{k: v for k, v in settings.items() if k not in ("sigmoid_range", "sigmoid_degree")})
    plain = plaintext_gd(x, y, logistic=False, **settings)
    np.testing.assert_allclose(np.r_[fit.weights, fit.bias], plain, rtol=0, atol=WEIGHT_TOLERANCE)
    assert fit.sigmoid is None and len(fit.history) == settings["epochs"]
    np.testing.assert_array_equal(fit.history[-1], np.r_[fit.weights, fit.bias])
    # Better than the mean predictor, as plaintext gradient descent is.
    residual = np.mean((fit.predict(x) - y) ** 2)
    assert residual < 0.7 and abs(residual - np.mean((np.c_[x, np.ones(len(x))] @ plain - y) ** 2)) < 1e-2


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
def test_concat_and_take_rows_of_shares_are_exact_and_local(mode):
    ss = protocol()
    a, b = np.arange(6.0).reshape(2, 3) / 4, -np.arange(4.0).reshape(2, 2) / 8
    with recording() as transcript:
        shared_a = ss.define_private_input("alice", lambda: a)
        shared_b = ss.define_private_input("bob", lambda: b)
    inputs = len(transcript)

    def compute(x, y):
        return (ss.reveal(concat(ss, [x, y], 1), "carol"), ss.reveal(concat(ss, [x, x], 0), "carol"),
                ss.reveal(take_rows(ss, concat(ss, [x, x], 0), [3, 0, 3]), "carol"))

    with recording() as transcript:
        run = tf.function(compute) if mode == "tf.function" else compute
        joined, stacked, rows = run(shared_a, shared_b)
    np.testing.assert_array_equal(joined.numpy(), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(stacked.numpy(), np.concatenate([a, a], 0))
    np.testing.assert_array_equal(rows.numpy(), np.concatenate([a, a], 0)[[3, 0, 3]])
    assert inputs and all(e.label.startswith("output") for e in transcript)  # nothing sent but the outputs
    with pytest.raises(ValueError, match=r"integers in \[0, 2\)"):
        take_rows(ss, shared_a, [2])
    with pytest.raises(ValueError, match="different fraction bits"):
        concat(ss, [shared_a, ss.multiply(shared_a, shared_a, truncate=False)], 0)
    with pytest.raises(TypeError, match="expected shared tensors"):
        concat(ss, [shared_a, protocol().define_private_input("alice", lambda: a)], 0)


ROWS = {"alice": (X_TRAIN[:HALF], Y_TRAIN[:HALF]), "bob": (X_TRAIN[HALF:], Y_TRAIN[HALF:])}


@pytest.mark.parametrize("change, error, message", [
    # A product that can wrap: at 28 fraction bits products wrap at 2^7, below the worst-case logits.
    (dict(protocol=dict(fraction_bits=28, headroom_bits=8)), ValueError, r"logits x\.w .* wraps in the ring"),
    # Degree 5 grows like |z|^5 beyond its range: too many truncations could fail at 16 fraction bits.
    (dict(sigmoid_degree=5), ValueError, "truncation may fail"),
    (dict(model_owner="mallory"), UnknownPlayerError, "mallory"),
    (dict(model_owner="dealer"), ValueError, "may not be the dealer"),
    (dict(protocol=dict(outputs=["alice"])), ValueError, "not to the model owner 'carol'"),
    (dict(data={"alice": ROWS["alice"], "mallory": ROWS["bob"]}), UnknownPlayerError, "mallory"),
    (dict(data={"alice": ROWS["alice"], "bob": (X_TRAIN[HALF:, :20], Y_TRAIN[HALF:])}), ValueError,
     "same features at every owner"),
    (dict(data={"alice": (X_TRAIN[:HALF], Y_TRAIN[:10])}), ValueError, "rows of features but 10 labels"),
    (dict(data={"alice": X_TRAIN[:HALF, :12], "bob": X_TRAIN[:, 12:]}, join="features",
          labels=("bob", Y_TRAIN)), ValueError, "same rows at every owner"),
    (dict(data={"alice": X_TRAIN}, join="features"), ValueError, r"labels=\(owner, y\)"),
    (dict(feature_bounds={"alice": 11.0}), ValueError, "no bound for 'bob'"),
    (dict(join="columns"), ValueError, "join must be one of"),
    (dict(epochs=0), ValueError, "epochs must be an integer >= 1"),
    (dict(protocol=None), TypeError, "SecretSharing"),
])
def test_refusals_before_any_data_is_shared(change, error, message):
    options = dict(SETTINGS, data=ROWS, model_owner="carol", protocol=protocol())
    if isinstance(change.get("protocol"), dict):
        change = dict(change, protocol=protocol(**change["protocol"]))
    options.update(change)
    if options["protocol"] is None:
        options["protocol"] = CKKS(key_owner="alice", evaluator="bob", params=he_tf.Params.for_depth(1),
                                   rotations=None)
    with recording() as transcript, pytest.raises(error, match=message):
        fit_private(options.pop("data"), **options)
    assert not [e for e in transcript if e.origin in DATA_OWNERS]


def test_an_owner_checks_its_data_against_its_declared_bounds():
    bounds = {"alice": 11.0, "bob": np.r_[np.full(3, 11.0), 1.0, np.full(26, 11.0)]}
    with recording() as transcript, pytest.raises(ValueError, match=r"bob's feature 3 .* declared bound 1"):
        fit_private(ROWS, model_owner="carol", protocol=protocol(), **dict(SETTINGS, feature_bounds=bounds))
    assert not [e for e in transcript if e.origin == "bob" and e.receiver != "bob"]  # bob shared nothing


def test_labels_must_be_zero_or_one_for_logistic_regression():
    with pytest.raises(ValueError, match="alice's labels must be 0 or 1"):
        fit_private({"alice": (X_TRAIN, 2.0 * Y_TRAIN)}, model_owner="carol", protocol=protocol(), **SETTINGS)


def test_trained_weights_beyond_the_declared_bound_are_refused_to_the_model_owner():
    with pytest.raises(ValueError, match="trained weights have norm"):
        fit_private(ROWS, model_owner="carol", protocol=protocol(),
                    **dict(SETTINGS, epochs=1, weight_bound=0.5))


def test_tutorial_runs(capsys):
    """The code of docs/tutorial-training.md runs, in order, and its assertions hold."""
    run_python_blocks(DOCS / "tutorial-training.md", at_least=5)
    printed = capsys.readouterr().out
    assert "test accuracy: private" in printed
    assert "truncation may fail" in printed and "alice's feature 3" in printed  # refusals explain themselves


def test_the_budget_bounds_what_gradient_descent_computes():
    """Plaintext gradient descent on data at the declared bounds: while ||w|| <= weight_bound, every value
    the plan bounds stays below its worst case."""
    from he_tf.models import training_range
    from he_tf.protocol.fixed_point import FixedPoint

    rng = np.random.default_rng(1)
    bounds = np.array([1.0, 2.0, 4.0])
    x = rng.choice([-1.0, 1.0], (200, 3)) * bounds * rng.uniform(0.5, 1.0, (200, 3))
    y = (x @ [1.0, -0.5, 0.25] > 0).astype(float)
    q, s = sigmoid_polynomial(-4.0, 4.0, 3)
    lr, batch, weight_bound = 0.5, 32, 2.0
    schedule = batch_schedule(len(x), batch, 3, 0)
    plan = training_range.plan(feature_bounds=bounds, label_bound=1.0, weight_bound=weight_bound,
                               learning_rate=lr, l2=0.0, batch_sizes=[len(b) for b in schedule[0]], epochs=3,
                               fixed_point=FixedPoint(16, 16), sigmoid=(q, s), failure_budget=1.0)
    worst = {quantity.name: quantity.magnitude for quantity in plan.quantities}
    x1, w, seen = np.c_[x, np.ones(len(x))], np.zeros(4), {"z": 0.0, "error": 0.0, "update": 0.0}
    for rows in (r for batches in schedule for r in batches):
        assert np.linalg.norm(w) <= weight_bound  # the budget's assumption holds on this data
        z = x1[rows] @ w
        error = np.polyval(q, z / s) - y[rows]
        update = x1[rows].T @ (error * lr / len(rows))
        for key, value in (("z", z), ("error", error), ("update", update)):
            seen[key] = max(seen[key], float(np.max(np.abs(value))))
        w = w - update
    assert 0 < seen["z"] <= worst["logits x.w (product)"] == plan.logit_bound
    assert 0 < seen["error"] <= worst["error p - y"]
    assert 0 < seen["update"] <= worst["update lr * gradient (product)"]
    assert plan.logit_bound == pytest.approx(weight_bound * np.sqrt(np.sum(bounds**2) + 1))


def test_progress_bar_per_epoch(capsys):
    fit_private({"alice": (X_TRAIN[:64], Y_TRAIN[:64])}, model_owner="carol", protocol=protocol(),
                **dict(SETTINGS, epochs=2, progress=True))
    assert "fit_private" in capsys.readouterr().err  # tqdm writes to stderr
