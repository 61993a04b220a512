"""HybridModel: a network with exact non-linear layers, affine runs under CKKS and the rest on secret shares.

The client holds the input and the CKKS keys, the server the model, a dealer the secret sharing's
correlated randomness. Each maximal run of affine layers (merged into one Dense step: one level) runs
under CKKS on the client's ciphertexts with the server's plaintext weights; each run of non-linear steps
(ReLU, max pooling, squares, polynomials) runs on two-party secret shares between the client and the
server, exactly (docs/protocols.md, comparisons). ``he_tf.convert`` moves the values between the two
(HE -> shares: the server masks, the client decrypts the masked value; shares -> HE: the client
encrypts its share plus the server's masked share). The output, logits or the label, is revealed to the
client only, from shares (so the client never decrypts a ciphertext the server computed on directly:
the conversion floods its noise).

Build one with ``he_tf.models.from_keras(model, mode="hybrid")``.
"""

from __future__ import annotations

import types
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

import he_tf
from he_tf import levels
from he_tf.models.outputs import ACTIVATIONS
from he_tf.models.share_steps import MaxPool2D, Relu
from he_tf.models.steps import Dense, Polynomial, Square, fold_affine
from he_tf.protocol import CKKS, SecretSharing, conversions
from he_tf.protocol.ckks import DEFAULT_HIDING_BITS, DEFAULT_VALUE_BOUND

HYBRID_OUTPUTS = ("logits", "label")
HybridStep = Union[Dense, Square, Polynomial, Relu, MaxPool2D]
MAX_DEPTH = 4  # for_depth(d) tried for the conversions' headroom


def _is_selection(step: HybridStep) -> bool:
    """A Dense step that only picks inputs (each output one input times a positive factor, no bias):
    ReLU commutes with it."""
    if not isinstance(step, Dense) or np.any(step.bias != 0):
        return False
    nonzero = step.weights != 0
    return bool(np.all(nonzero.sum(axis=0) == 1) and np.all(step.weights[nonzero] > 0))


def commute_relus(steps: Sequence[HybridStep]) -> list[HybridStep]:
    """Moves each ReLU after the max poolings and selections that follow it: ``relu(max(x)) =
    max(relu(x))``, exactly, and the ReLU then runs on the pooled (fewer) values."""
    steps = list(steps)
    moved = True
    while moved:
        moved = False
        for i in range(len(steps) - 1):
            if isinstance(steps[i], Relu) and (isinstance(steps[i + 1], MaxPool2D) or _is_selection(steps[i + 1])):
                steps[i], steps[i + 1] = steps[i + 1], steps[i]
                moved = True
    return steps


class HybridModel:
    """Runs ``steps`` with affine runs under CKKS and the other steps on secret shares.

    Attributes
    ----------
    segments:
        What runs where, in order: ``("ckks", Dense)`` or ``("shares", (steps...))``.
    activation:
        The output activation (``"linear"``, ``"sigmoid"``, ``"softmax"``): :meth:`run` returns the
        logits before it (the client applies it, e.g. ``he_tf.models.outputs.apply``); labels follow it.
    output:
        ``"logits"``: the client receives the logits; ``"label"``: only the class label (argmax on
        shares for several outputs, whatever the output activation; ``logit > 0`` for one sigmoid output).
    params:
        The CKKS parameters: each affine run costs one level, and converting its result to shares
        needs the mask's headroom at the level it ends on (:func:`he_tf.protocol.conversions.check_headroom`).
    input_shape:
        One sample's shape (e.g. ``(8, 8, 1)``), flattened in row-major order.

    ``hiding_bits`` and ``value_bound`` size the conversions' masks (as in
    :class:`~he_tf.protocol.CKKS`: values up to ``value_bound`` hidden within ``2^-hiding_bits``), and
    ``fraction_bits`` the shares' fixed point (:class:`~he_tf.protocol.SecretSharing`).
    """

    def __init__(self, steps: Sequence[HybridStep], activation: str = "linear", *, output: str = "logits",
                 name: str = "model", input_shape: Sequence[int] | None = None,
                 hiding_bits: int = DEFAULT_HIDING_BITS, value_bound: float = DEFAULT_VALUE_BOUND,
                 fraction_bits: int = 16) -> None:
        if output not in HYBRID_OUTPUTS:
            raise ValueError(f"a hybrid model's output must be one of {HYBRID_OUTPUTS}, got {output!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.steps = tuple(fold_affine(commute_relus(steps)))
        if not self.steps:
            raise ValueError(f"{name} has no layers to run")
        self.activation, self.output, self.name = activation, output, name
        self.hiding_bits, self.value_bound, self.fraction_bits = hiding_bits, value_bound, fraction_bits
        self.segments = _segments(self.steps)
        widths = _check_widths(self.steps)
        self.n_features, self.n_outputs = widths[0], widths[-1]
        if activation == "softmax" and self.n_outputs < 2:
            raise ValueError("a softmax output needs at least 2 outputs")
        if output == "label" and activation == "linear" and self.n_outputs < 2:
            raise ValueError("output='label' needs a classifier (several outputs, or a sigmoid output); a "
                             "regression model's output has no label: use output='logits'")
        shape = (self.n_features,) if input_shape is None else tuple(int(d) for d in input_shape)
        if int(np.prod(shape)) != self.n_features:
            raise ValueError(f"input_shape {shape} holds {int(np.prod(shape))} values, the model takes "
                             f"{self.n_features}")
        self.input_shape = shape
        self.params = self._smallest_params()

    # --- parameters -------------------------------------------------------------------------------
    def _smallest_params(self) -> he_tf.Params:
        """``Params.for_depth(d)`` for the smallest d whose level after one affine run still holds a
        conversion mask."""
        # The conversions' rules read a CKKS protocol's hiding_bits and value_bound only: checked here
        # before any key exists.
        masks = types.SimpleNamespace(hiding_bits=self.hiding_bits, value_bound=self.value_bound)
        conversions.mask_bits(masks, self.fraction_bits)  # ValueError when the mask cannot fit the ring
        problem = None
        for depth in range(1, MAX_DEPTH + 1):
            params = he_tf.Params.for_depth(depth)
            level = levels.after_product(params.depth)
            try:
                conversions.check_headroom(masks, params, level, 2.0 ** params.scale_bits, self.name)
                return params
            except ValueError as e:
                problem = e
        raise ValueError(f"{self.name}: no parameters up to depth {MAX_DEPTH} hold the conversion masks: {problem}")

    def protocols(self, client: str = "client", server: str = "server", dealer: str = "dealer"
                  ) -> tuple[CKKS, SecretSharing]:
        """The client's CKKS keys (generated on its device; batch layout, no Galois keys) and the secret
        sharing between client and server, for the installed config (e.g. ``he_tf.LocalConfig``)."""
        ckks = CKKS(key_owner=client, evaluator=server, params=self.params, rotations=None,
                    hiding_bits=self.hiding_bits, value_bound=self.value_bound)
        shares = SecretSharing(players=(client, server), dealer=dealer, fraction_bits=self.fraction_bits,
                               outputs=[client])
        return ckks, shares

    # --- running ------------------------------------------------------------------------------------
    def evaluate(self, x, ckks: CKKS, shares: SecretSharing):
        """The server's computation on the client's private input ``x`` (an HETensor of ``ckks``, shape
        ``(samples, features)``): the private output, as shares (logits, or labels), revealed to no one."""
        if not isinstance(x, he_tf.HETensor) or not ckks.owns(x):
            raise TypeError(f"evaluate takes an HETensor of {ckks!r}, got {type(x).__name__}")
        if x.rank != 2 or x.shape[-1] != self.n_features:
            raise ValueError(f"{self.name} takes {self.n_features} features per sample, shape (samples, "
                             f"{self.n_features}); got {tuple(x.shape.as_list())}")
        if x.layout != "batch" or ckks.layout != "batch":
            raise ValueError(f"{self.name} runs in batch layout (one sample per slot, no Galois keys); got an "
                             f"input in layout={x.layout!r} under {ckks!r} with layout={ckks.layout!r}: use "
                             "model.protocols()")
        value = x
        for where, run in self.segments:
            if where == "ckks":
                if not isinstance(value, he_tf.HETensor):
                    value = he_tf.convert(value, to=ckks)
                with ckks:
                    value = run.encrypted(value)
            else:
                if isinstance(value, he_tf.HETensor):
                    value = he_tf.convert(value, to=shares)
                with shares:
                    for step in run:
                        value = _on_shares(step, value)
        if isinstance(value, he_tf.HETensor):
            value = he_tf.convert(value, to=shares)
        if self.output == "label":
            with shares:
                value = (tf.math.argmax(value, axis=1) if self.n_outputs > 1
                         else tf.math.greater(tf.reshape(value, [int(value.shape[0])]), 0.0))
        return value

    def run(self, x: ArrayLike, protocols: Optional[tuple[CKKS, SecretSharing]] = None) -> np.ndarray:
        """The client's input ``x`` ``(samples, *input_shape)`` (or flattened) through the model; returns
        what the client receives: logits ``(samples, outputs)`` or labels ``(samples,)`` (int64).

        ``protocols``: from :meth:`protocols` (new keys each call when None)."""
        x = self._flat(x)
        ckks, shares = protocols or self.protocols()
        with ckks:
            encrypted = he_tf.define_private_input(ckks.key_owner, lambda: x)
        result = self.evaluate(encrypted, ckks, shares)
        revealed = np.asarray(shares.define_output(ckks.key_owner, None, result))
        return np.rint(revealed).astype(np.int64) if self.output == "label" else revealed

    def predict(self, x: ArrayLike, protocols: Optional[tuple[CKKS, SecretSharing]] = None) -> np.ndarray:
        """Class labels for ``x``, computed as :meth:`run` does (revealed to the client)."""
        received = self.run(x, protocols)
        return received if self.output == "label" else self._labels(received)

    def logits_plain(self, x: ArrayLike) -> np.ndarray:
        """The same steps on plaintext float64: the reference."""
        value = self._flat(x)
        for step in self.steps:
            value = step.plain(value)
        return value

    def predict_plain(self, x: ArrayLike) -> np.ndarray:
        return self._labels(self.logits_plain(x))

    def conversion_magnitudes(self, x: ArrayLike) -> list[tuple[str, float]]:
        """For plaintext samples ``x`` (e.g. the training set): each conversion HE -> shares, named by
        the affine run it follows, with the largest ``|value|`` it carries. The masks hide values up
        to :attr:`value_bound` within ``2^-hiding_bits``; a larger one converts correctly but is
        hidden less well (distance ``|v| / (value_bound * 2^hiding_bits)``)."""
        value, rows = self._flat(x), []
        for where, run in self.segments:
            for step in (run,) if where == "ckks" else run:
                value = step.plain(value)
            if where == "ckks":
                rows.append((repr(run), float(np.max(np.abs(value)))))
        return rows

    def _labels(self, logits: np.ndarray) -> np.ndarray:
        """argmax over several outputs (softmax, or logits of a linear output layer), ``logit > 0`` for one."""
        if self.n_outputs > 1:
            return np.argmax(logits, axis=-1)
        if self.activation == "sigmoid":
            return (logits[:, 0] > 0).astype(np.int64)
        raise ValueError("a regression model's output has no class labels")

    def _flat(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{self.name}: the input holds NaN or infinite values")
        if x.ndim > 2 and x.shape[1:] == self.input_shape:
            x = x.reshape(len(x), -1)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            shaped = "" if len(self.input_shape) == 1 else f" (samples of shape {self.input_shape}, or flattened)"
            raise ValueError(f"{self.name} takes {self.n_features} features per sample{shaped}, got shape {x.shape}")
        return x

    def summary(self) -> str:
        lines = [f"{self.name}: {self.n_features} features -> {self.n_outputs} output(s), {self.activation}, "
                 f"hybrid"]
        for where, run in self.segments:
            lines.append(f"  CKKS    {run!r}" if where == "ckks" else f"  shares  {', '.join(map(repr, run))}")
        lines.append(f"  output={self.output!r} to the client; {self.params}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"HybridModel({self.name!r}, {len(self.segments)} segments)"


def _on_shares(step: HybridStep, x):
    if isinstance(step, (Relu, MaxPool2D)):
        return step.shared(x)
    return step.encrypted(x)  # Square / Polynomial: tf.math.square / polyval, which secret sharing runs too


def _segments(steps: Sequence[HybridStep]) -> tuple:
    segments: list = []
    for step in steps:
        if isinstance(step, Dense):
            segments.append(("ckks", step))  # fold_affine left no two Dense steps in a row
        elif segments and segments[-1][0] == "shares":
            segments[-1] = ("shares", segments[-1][1] + (step,))
        else:
            segments.append(("shares", (step,)))
    return tuple(segments)


def _check_widths(steps: Sequence[HybridStep]) -> list[int]:
    """The width after each sized step; ValueError unless they chain."""
    widths: list[int] = []
    for step in steps:
        if isinstance(step, (Dense, MaxPool2D)):
            if widths and step.inputs != widths[-1]:
                raise ValueError(f"{step!r} takes {step.inputs} inputs but the step before gives {widths[-1]}")
            widths += [step.inputs, step.outputs] if not widths else [step.outputs]
    if not widths:
        raise ValueError("a hybrid model needs a Dense or pooling step (it fixes the number of features)")
    return widths
