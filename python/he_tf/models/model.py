"""EncryptedModel: a chain of plaintext steps that runs on encrypted inputs.

The server holds the model and only a PublicContext; ``predict`` maps an
encrypted batch of samples to encrypted outputs. The same steps run in
float64 NumPy (``predict_plain``), the reference encrypted results are
checked against.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import operator
from typing import Sequence

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

import he_tf
from he_tf import approx, levels
from he_tf.models import blocks, complex_slots, outputs
from he_tf.models.steps import Dense, Polynomial, Square, Step, fold_affine
from he_tf.tensor import LAYOUTS

OUTPUT_MODES = ("logits", "polynomial")
# Ranges derived from data stray a little further, for new samples: the sigmoid's logit range is the data's
# largest |logit| times this factor; each feature's [min, max] is widened by (factor - 1) times its width on
# both sides.
RANGE_MARGIN = 1.1
PRECISION_BITS = 16
"""Bits of precision the compilers plan results for by default (an error near 2^-16, 1.5e-5)."""


@dataclasses.dataclass(frozen=True)
class Magnitude:
    """How large one step's results can get, and how large CKKS can hold them there.

    Attributes
    ----------
    step:
        The step (its repr); the last step's result is checked at level 0,
        where the server sends it.
    level, scale:
        Where the result lives: its ciphertexts' level and scale.
    bound:
        The largest ``|value|`` the step can produce for features in the model's range.
    room:
        The largest ``|value|`` a ciphertext at that level and scale holds
        (:func:`he_tf.levels.max_magnitude`); a larger one wraps around and
        decrypts to a wrong value with no error.
    """

    step: str
    level: int
    scale: float
    bound: float
    room: float

    @property
    def fits(self) -> bool:
        return self.bound < self.room


@dataclasses.dataclass(frozen=True)
class KeyRequirements:
    """What a client's key set must provide for a model: parameters and Galois keys, and the features
    for which the model's results decrypt correctly.

    The server publishes this (``to_json``); the client generates keys from it
    (``generate_keys``) and sends back only the public context. ``feature_bounds``
    (``(low, high)``, one value per feature) is the box the model was checked for
    (:attr:`EncryptedModel.feature_bounds`, from its feature range): :class:`~he_tf.models.Client`
    refuses features outside it, which could wrap around and decrypt wrong with no error. A model
    without a range has none (its results are guaranteed only for features within
    :attr:`EncryptedModel.max_feature_magnitude`, a worst case over all features at once).
    """

    params: he_tf.Params
    rotations: tuple[int, ...] | None
    layout: str
    feature_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    samples: int | None = None
    """The batch size the keys were made for: requests of exactly this many samples are sent in
    block layout (``blocks`` feature blocks per ciphertext), others one feature per ciphertext."""
    blocks: int = 1
    features: int | None = None
    """The features per sample the model takes (known to the client from the model's requirements)."""
    complex: bool = False
    """Complex packing (:mod:`he_tf.models.complex_slots`): requests fold two samples into each slot,
    the model being linear."""
    input_shape: tuple[int, ...] | None = None
    """The shape of one sample the client encrypts (e.g. ``(8, 8, 1)`` for an image model), whose
    row-major flattening gives the ``features``; ``None``: flat samples of ``features``."""

    def generate_keys(self) -> he_tf.KeySet:
        return he_tf.KeySet.generate(self.params, rotations=list(self.rotations) if self.rotations else None)

    def block_layout(self, samples: int, features: int) -> blocks.BlockLayout:
        """How a request of ``samples x features`` is packed under these keys (its rows folded, if complex)."""
        packed = self.layout == "batch" and samples == self.samples and self.blocks > 1
        slot_rows = complex_slots.rows(samples) if self.complex else samples
        return blocks.BlockLayout(slot_rows, features, self.blocks if packed else 1, self.params.slot_count)

    def to_json(self) -> bytes:
        n, bits, scale_bits = self.params.as_tuple()
        rotations = None if self.rotations is None else list(self.rotations)
        bounds = None if self.feature_bounds is None else [list(b) for b in self.feature_bounds]
        document = {"params": [n, list(bits), scale_bits], "rotations": rotations, "layout": self.layout,
                    "feature_bounds": bounds, "samples": self.samples, "blocks": self.blocks,
                    "features": self.features, "complex": self.complex,
                    "input_shape": None if self.input_shape is None else list(self.input_shape)}
        return json.dumps(document).encode()

    @classmethod
    def from_json(cls, data: bytes) -> KeyRequirements:
        """Parsed and checked: the document comes from the model owner, another party."""
        if len(data) > MAX_REQUIREMENTS_BYTES:
            raise ValueError(f"key requirements of {len(data)} bytes: at most {MAX_REQUIREMENTS_BYTES} are accepted")
        try:
            document = json.loads(data)
            n, bits, scale_bits = document["params"]
            rotations, layout = document["rotations"], document["layout"]
            if layout not in LAYOUTS:
                raise ValueError(f"layout {layout!r} is not one of {LAYOUTS}")
            bounds = document.get("feature_bounds")
            samples, features = document.get("samples"), document.get("features")
            count = document.get("blocks", 1)
            folded = document.get("complex", False)
            if type(folded) is not bool:
                raise ValueError(f"complex must be true or false, got {folded!r}")
            if folded and layout != "batch":
                raise ValueError("complex packing needs the batch layout")
            for name, value in (("samples", samples), ("features", features), ("blocks", count)):
                if value is not None and (type(value) is not int or not 1 <= value <= 1 << 31):
                    raise ValueError(f"{name} must be null or an integer in [1, 2^31], got {value!r}")
            input_shape = _checked_input_shape(document.get("input_shape"), features)
            params = he_tf.Params(int(n), tuple(int(b) for b in bits), int(scale_bits))
            if rotations is not None:
                rotations = tuple(int(r) for r in rotations)
                _check_rotations(rotations, params)
            if bounds is not None:
                low, high = (tuple(float(v) for v in side) for side in bounds)
                if len(low) != len(high) or not all(math.isfinite(v) for v in low + high) or any(
                        a > b for a, b in zip(low, high)):
                    raise ValueError("feature_bounds must be two equally long lists of finite low <= high")
                bounds = (low, high)
        except (ValueError, TypeError, KeyError, RecursionError) as e:
            raise ValueError(f"malformed key requirements: {e}") from None
        return cls(params, rotations, layout, bounds, samples, count or 1, features, folded, input_shape)


# Key requirements are a few hundred bytes (plus 40 per feature of the bounds).
MAX_REQUIREMENTS_BYTES = 1 << 22


MAX_INPUT_RANK = 8
"""Most axes a sample's shape may have."""


def _checked_input_shape(value, features: int | None) -> tuple[int, ...] | None:
    """A sample shape from another party: null or at most MAX_INPUT_RANK integers in [1, 2^31] whose
    product is at most 2^31 (and equals ``features`` when that is known)."""
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_INPUT_RANK or any(
            type(d) is not int or not 1 <= d <= 1 << 31 for d in value):
        raise ValueError(f"input_shape must be null or 1 to {MAX_INPUT_RANK} integers in [1, 2^31], got {value!r}")
    size = math.prod(value)
    if size > 1 << 31 or (features is not None and size != features):
        raise ValueError(f"input_shape {value} holds {size} values, the model takes {features} features")
    return tuple(value)


def _check_rotations(rotations: tuple[int, ...], params: he_tf.Params) -> None:
    """Rotation steps a model can need: distinct, 0 < |step| < slots, and (each a Galois key of megabytes,
    which the client generates and sends) no more than baby-step giant-step plans over every slot use."""
    slots = params.slot_count
    most = 4 * math.isqrt(slots) + 64
    if len(rotations) > most or len(set(rotations)) != len(rotations):
        raise ValueError(f"{len(rotations)} rotation steps (or repeated ones): at most {most} distinct are "
                         f"accepted for {slots} slots")
    bad = [r for r in rotations if not 0 < abs(r) < slots]
    if bad:
        raise ValueError(f"rotation step {bad[0]} is not in 0 < |step| < {slots}")


class EncryptedModel:
    """A model that runs on encrypted samples: Dense layers, polynomial activations, an output activation.

    Build one with :func:`he_tf.models.from_keras`, :func:`~he_tf.models.from_weights`,
    :func:`~he_tf.models.from_sklearn` or :func:`~he_tf.models.from_steps`.

    Attributes
    ----------
    steps:
        What the server runs, in order (consecutive affine maps already merged).
    activation:
        The output activation: ``"linear"``, ``"sigmoid"`` or ``"softmax"``.
    output:
        ``"logits"``: the server returns pre-activations and the client applies
        ``activation`` after decrypting (exact). ``"polynomial"``: the server
        also evaluates a polynomial approximation of the sigmoid.
    layout:
        The input layout the model serves: ``"batch"`` (samples packed into
        slots: throughput, no Galois keys) or ``"vector"`` (one sample per
        ciphertext: latency).
    params:
        CKKS parameters for the keys. Unless given: with a ``feature_range``, the
        smallest secure ring whose chain holds the largest result bound and keeps
        ``precision_bits`` (``Params.for_depth(depth, precision_bits=...,
        magnitude=...)``: N=4096 for one Dense layer on standardized features);
        without one, ``Params.for_depth(depth)`` (2^19 of integer room).
    precision_bits:
        The precision the default parameters are planned for (:data:`PRECISION_BITS`).
    input_range, approximation_error:
        For ``output="polynomial"`` with a sigmoid: the logit range the
        polynomial was fitted on and its largest error there; else ``None``.
    feature_range:
        ``(low, high)`` arrays, one value per feature: the range the compiler
        checked every step's results against (:meth:`magnitudes`), or ``None``
        if it was not given (see :attr:`max_feature_magnitude`).
    input_shape:
        The shape of one sample, e.g. ``(8, 8, 1)`` for an image model:
        its ``n_features`` values in row-major order are the features the
        steps take. ``(n_features,)`` for flat samples.

    Raises
    ------
    ValueError
        If, for features in ``feature_range``, a step's result could exceed
        what CKKS holds at its level (it would decrypt wrong), naming the step,
        the bound, the room and the fix.
    """

    def __init__(self, steps: Sequence[Step], activation: str, *, output: str, layout: str,
                 params: he_tf.Params | None, logit_steps: Sequence[Step] | None = None,
                 input_range: tuple[float, float] | None = None, approximation_error: float | None = None,
                 feature_range: tuple[ArrayLike, ArrayLike] | None = None, name: str = "model",
                 precision_bits: int = PRECISION_BITS, input_shape: Sequence[int] | None = None) -> None:
        if not steps or not isinstance(steps[0], Dense):
            raise ValueError("an encrypted model starts with a Dense step (it fixes the number of features)")
        if activation not in outputs.ACTIVATIONS:
            raise ValueError(f"activation must be one of {outputs.ACTIVATIONS}, got {activation!r}")
        if output not in OUTPUT_MODES:
            raise ValueError(f"output must be one of {OUTPUT_MODES}, got {output!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.steps = tuple(steps)
        self.logit_steps = tuple(logit_steps or steps)
        self.activation, self.output, self.layout, self.name = activation, output, layout, name
        self.input_range, self.approximation_error = input_range, approximation_error
        self._check_widths()
        self.input_shape = (self.n_features,) if input_shape is None else _model_input_shape(
            input_shape, self.n_features)
        self.feature_range = None if feature_range is None else _feature_box(feature_range, self.n_features)
        self.precision_bits = precision_bits
        self.params = params or self._default_params()
        if self.params.depth < self.depth:
            raise ValueError(
                f"{name} needs multiplicative depth {self.depth} ({self._depth_breakdown()}) but "
                f"{self.params} gives {self.params.depth}; pass params=None or "
                f"he_tf.Params.for_depth({self.depth})"
            )
        self._rotations = self._rotation_steps()  # also checks that vector-layout matrices fit the slots
        if self.feature_range is not None:
            self._check_magnitudes()
        self._function = tf.function(self._run)

    def _default_params(self) -> he_tf.Params:
        """The smallest ring for the job: sized by the largest result bound when the range is known."""
        fallback = he_tf.Params.for_depth(self.depth)
        if self.feature_range is None:
            return fallback
        low, high = self.feature_range
        bound = max([self.slot_growth * float(np.max(np.maximum(np.abs(low), np.abs(high))))]
                    + [row.bound for row in self.magnitudes(params=fallback)])  # bounds do not depend on params
        return he_tf.Params.for_depth(self.depth, precision_bits=self.precision_bits, magnitude=max(bound, 1e-30))

    def _check_widths(self) -> None:
        width = None
        for step in self.steps:
            if isinstance(step, Dense):
                if width is not None and step.inputs != width:
                    raise ValueError(f"{step!r} takes {step.inputs} inputs but the step before gives {width}")
                width = step.outputs
        if self.activation == "softmax" and width < 2:
            raise ValueError("a softmax output needs at least 2 outputs")

    @property
    def n_features(self) -> int:
        return self.steps[0].inputs

    @property
    def n_outputs(self) -> int:
        return [s for s in self.steps if isinstance(s, Dense)][-1].outputs

    @property
    def depth(self) -> int:
        """Multiplicative levels the server's computation uses."""
        return sum(step.depth for step in self.steps)

    @property
    def complex_packing(self) -> bool:
        """Whether requests fold two samples into each slot (:mod:`he_tf.models.complex_slots`): batch
        layout and a single affine layer, the only server computation that acts on the real and
        imaginary parts of a slot separately (a square or polynomial would mix them)."""
        return self.layout == "batch" and len(self.steps) == 1 and isinstance(self.steps[0], Dense)

    @property
    def slot_growth(self) -> float:
        """What a result's bound is multiplied by to bound its slots' modulus: sqrt(2) under complex packing."""
        return complex_slots.GROWTH if self.complex_packing else 1.0

    @property
    def activation_on_server(self) -> bool:
        """Whether the server's output already has the activation applied (polynomially)."""
        return self.output == "polynomial" or self.activation == "linear"

    def _depth_breakdown(self) -> str:
        return " + ".join(f"{step!r}: {step.depth}" for step in self.steps)

    def _rotation_steps(self) -> tuple[int, ...] | None:
        if self.layout == "batch":
            return None  # matmuls contract over ciphertexts: no rotations at all
        slots, packed, steps = self.params.slot_count, True, set()
        for step in self.steps:
            needed, packed = step.rotation_steps(packed, slots)
            steps.update(needed)
        return tuple(sorted(steps))

    def magnitudes(self, feature_range: tuple[ArrayLike, ArrayLike] | None = None,
                   params: he_tf.Params | None = None) -> list[Magnitude]:
        """Each step's worst-case result magnitude for features in ``feature_range`` and the room there.

        Interval arithmetic through the steps (exact for Dense steps, then
        bounds for squares and polynomials), from the model's
        :attr:`feature_range` unless one is given, under :attr:`params` unless
        others are. Levels and scales follow he_tf's planning; the last step is
        checked at level 0, where the server switches its response down to.
        """
        params = params or self.params
        box = self.feature_range if feature_range is None else _feature_box(feature_range, self.n_features)
        if box is None:
            raise ValueError(f"{self.name} has no feature_range; pass one")
        low, high = box
        level, scale = params.depth, 2.0 ** params.scale_bits
        rows = []
        for index, step in enumerate(self.steps):
            low, high = step.interval(low, high)
            level, scale = step.plan(params, level, scale)
            at = 0 if index == len(self.steps) - 1 else level
            bound = self.slot_growth * float(np.max(np.maximum(np.abs(low), np.abs(high))))
            rows.append(Magnitude(repr(step), at, scale, bound, levels.max_magnitude(params, at, scale)))
        return rows

    @functools.cached_property
    def max_feature_magnitude(self) -> float:
        """The largest ``m`` such that features in ``[-m, m]`` give results that all decrypt correctly.

        What a model built without ``feature_range`` (or ``data``) guarantees:
        larger features can wrap around and decrypt wrong, with no error.
        """
        def fits(log_m: float) -> bool:
            return all(row.fits for row in self.magnitudes((-2.0 ** log_m, 2.0 ** log_m)))

        most = self.params.max_value / self.slot_growth  # no feature above it can be encrypted
        low, high = -60.0, math.log2(most)
        if fits(high):
            return most
        if not fits(low):
            return 0.0
        for _ in range(50):  # bisection on log2(m): every bound grows with m
            middle = (low + high) / 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return 2.0 ** low

    def _check_magnitudes(self) -> None:
        low, high = self.feature_range
        largest = float(np.max(np.maximum(np.abs(low), np.abs(high))))
        if not self.slot_growth * largest < self.params.max_value:
            raise ValueError(
                f"{self.name}: feature_range reaches |x| = {largest:.6g}, but {self.params} can only encrypt "
                f"|x| < {self.params.max_value:.6g}; scale the features down (e.g. standardize them before "
                "encrypting)"
            )
        for row in self.magnitudes():
            if row.fits:
                continue
            fix = ("narrow feature_range if the features stay smaller, or scale the model's outputs down "
                   "(divide the last layer's weights and bias, multiply the decrypted result back)")
            roomier = self._roomier_params(row.bound)
            if roomier is not None:
                fix += (f", or pass params={roomier!r} (every bound then fits {self._room(roomier):.3g} times "
                        f"over; its scale 2^{roomier.scale_bits} gives "
                        f"{self.params.scale_bits - roomier.scale_bits} fewer bits of precision)")
            raise ValueError(
                f"{self.name}: for features in feature_range, {row.step} can reach |value| {row.bound:.6g}, "
                f"but a ciphertext at level {row.level} and scale 2^{math.log2(row.scale):.4g} holds "
                f"|value| < {row.room:.6g} (the primes left, q_0...q_{row.level}, over 2 * scale) under "
                f"{self.params}: the result would wrap around and decrypt wrong. Fix: {fix}"
            )

    def _room(self, params: he_tf.Params) -> float:
        return min(row.room / row.bound if row.bound else math.inf for row in self.magnitudes(params=params))

    def _roomier_params(self, bound: float) -> he_tf.Params | None:
        """Parameters of the same depth with a 60-bit first prime and a scale leaving room for ``bound``,
        if such exist and make every step fit; else None."""
        scale_bits = min(self.params.scale_bits, 59 - (math.floor(math.log2(bound)) + 2))
        try:
            params = he_tf.Params.for_depth(self.params.depth, scale_bits=scale_bits, first_bits=60)
        except ValueError:
            return None
        return params if scale_bits < self.params.scale_bits and self._room(params) > 1 else None

    @functools.cached_property
    def feature_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(low, high)`` per feature: :attr:`feature_range` grown about its centre by the largest factor
        for which every result still decrypts correctly (and every feature can be encrypted); ``None``
        without a feature range. What clients enforce: samples a little outside the range the model
        was built for (e.g. test data beyond the training data's) are fine, samples that could wrap are
        refused. A feature constant over the range grows from the width of the widest one.
        """
        if self.feature_range is None:
            return None
        low, high = self.feature_range
        centre, half = (low + high) / 2, (high - low) / 2
        floored = np.where(half > 0, half, max(float(half.max()), 1.0))

        def fits(half_widths: np.ndarray, log_k: float) -> bool:
            box = (centre - 2.0**log_k * half_widths, centre + 2.0**log_k * half_widths)
            if self.slot_growth * np.max(np.abs(np.concatenate(box))) >= self.params.max_value:
                return False
            return all(row.fits for row in self.magnitudes(box))

        half = floored if fits(floored, 0.0) else half  # the range itself fits: the model checked it
        lo, hi = 0.0, 64.0
        for _ in range(40):  # bisection on log2 of the factor: every bound grows with it
            middle = (lo + hi) / 2
            lo, hi = (middle, hi) if fits(half, middle) else (lo, middle)
        return centre - 2.0**lo * half, centre + 2.0**lo * half

    def key_requirements(self, samples: int | None = None) -> KeyRequirements:
        """The parameters and exactly the Galois keys the client's key set needs for this model, and
        the :attr:`feature_bounds` its client enforces.

        With ``samples`` (the client's batch size, batch layout): the block layout the cost model
        chooses for it (:func:`blocks.choose`) and the rotations it takes; requests of that size are
        then packed at the limit.
        """
        bounds = None if self.feature_bounds is None else tuple(tuple(map(float, b)) for b in self.feature_bounds)
        if samples is None or not self.blockable:
            return KeyRequirements(self.params, self._rotations, self.layout, bounds, features=self.n_features,
                                   complex=self.complex_packing, input_shape=self.input_shape)
        layout = self.block_layout(samples)
        steps = tuple(sorted(layout.rotation_steps(self.steps[0].outputs))) or None
        return KeyRequirements(self.params, steps, self.layout, bounds, samples, layout.blocks, self.n_features,
                               self.complex_packing, self.input_shape)

    @property
    def blockable(self) -> bool:
        """Whether requests can come in block layout: batch layout, one Dense step, then elementwise steps."""
        return self.layout == "batch" and all(isinstance(s, (Square, Polynomial)) for s in self.steps[1:])

    def block_layout(self, samples: int) -> blocks.BlockLayout:
        """The layout the cost model chooses for ``samples`` samples (one block if not :attr:`blockable`),
        of their folded rows under :attr:`complex_packing`."""
        slot_rows = complex_slots.rows(samples) if self.complex_packing else samples
        if not self.blockable:
            return blocks.BlockLayout(slot_rows, self.n_features, 1, self.params.slot_count)
        return blocks.choose(slot_rows, self.n_features, self.steps[0].outputs, self.params)

    def predict_blocks(self, x: he_tf.HETensor, layout: blocks.BlockLayout,
                       folded: int | None = None) -> he_tf.HETensor:
        """Runs the model on a request in block layout; the result packs the outputs
        (:func:`blocks.output_shape`). ``folded``: the samples of a complex-packed request, two per slot
        (:attr:`complex_packing`), in ``layout.samples`` rows."""
        if folded is not None and not self.complex_packing:
            raise ValueError(f"{self.name} cannot serve complex-packed requests: its server steps "
                             f"({self._depth_breakdown()}) are not a single affine layer in batch layout, and a "
                             "non-linear step mixes the real and imaginary parts; send one sample per slot")
        if folded is not None and complex_slots.rows(folded) != layout.samples:
            raise ValueError(f"{folded} folded samples take {complex_slots.rows(folded)} rows, the layout has "
                             f"{layout.samples}")
        if not layout.packed:
            if folded is not None:
                self._check_input(x)
                return self.steps[0].encrypted_folded(x, folded)
            return self.predict(x)
        if not self.blockable:
            raise ValueError(f"{self.name} cannot serve requests in block layout (layout={self.layout!r}, steps "
                             f"{self._depth_breakdown()}); send one feature per ciphertext")
        if layout.features != self.n_features or tuple(x.shape.as_list()) != layout.shape:
            raise ValueError(f"{self.name}: a block-layout request of {layout.samples} samples and "
                             f"{self.n_features} features has shape {layout.shape}, got {tuple(x.shape.as_list())}")
        if x.layout != "batch" or x.level < self.depth:
            raise ValueError(f"{self.name} needs a batch-layout request with {self.depth} levels, got "
                             f"layout={x.layout!r} at level {x.level}")
        dense = self.steps[0]
        y = blocks.block_dense(x, layout, dense.weights, dense.bias, folded)
        for step in self.steps[1:]:
            y = step.encrypted(y)
        return y

    def predict(self, x: he_tf.HETensor) -> he_tf.HETensor:
        """Runs the model on encrypted samples ``x`` of shape ``(samples, features)``.

        Returns an HETensor of shape ``(samples, outputs)``: logits, or
        outputs with the activation applied polynomially (see :attr:`output`).
        Raises ``TypeError``/``ValueError`` for inputs the model cannot take.
        """
        self._check_input(x)
        return self._function(x)

    def _run(self, x: he_tf.HETensor) -> he_tf.HETensor:
        for step in self.steps:
            x = step.encrypted(x)
        return x

    def _check_input(self, x: object) -> None:
        if not isinstance(x, he_tf.HETensor):
            raise TypeError(
                f"predict takes an encrypted he_tf.HETensor (he_tf.encrypt), got {type(x).__name__}; "
                "use predict_plain for plaintext inputs"
            )
        if x.rank != 2 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"{self.name} takes {self.n_features} features per sample, shape (samples, "
                f"{self.n_features}); the encrypted input has shape {tuple(x.shape.as_list())}"
            )
        if x.layout != self.layout:
            raise ValueError(
                f"{self.name} serves layout={self.layout!r} but the input was encrypted with "
                f"layout={x.layout!r}; encrypt with {self.layout!r} or build the model with "
                f"layout={x.layout!r}"
            )
        if x.level < self.depth:
            raise ValueError(
                f"{self.name} needs {self.depth} multiplicative levels ({self._depth_breakdown()}) but the "
                f"input has {x.level} ({x.he_params}); generate the keys from model.key_requirements(), "
                f"which gives {self.params}"
            )

    def predict_plain(self, x: ArrayLike) -> np.ndarray:
        """The server's computation on plaintext float64 features: what ``predict`` approximates.

        ``x``: ``(samples, features)``, or ``(samples, *input_shape)``."""
        return self._run_plain(self.steps, x)

    def logits_plain(self, x: ArrayLike) -> np.ndarray:
        """The last layer's pre-activations (logits) on plaintext features."""
        return self._run_plain(self.logit_steps, x)

    def _run_plain(self, steps: Sequence[Step], x: ArrayLike) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim > 2 and x.shape[1:] == self.input_shape:
            x = x.reshape(len(x), -1)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            shaped = "" if len(self.input_shape) == 1 else f" (samples of shape {self.input_shape}, flattened)"
            raise ValueError(f"{self.name} takes {self.n_features} features per sample{shaped}, got shape {x.shape}")
        for step in steps:
            x = step.plain(x)
        return x

    def finish(self, raw: np.ndarray) -> outputs.Prediction:
        """Decrypted server output to a :class:`Prediction` (applies the activation if the server did not)."""
        return outputs.Prediction.from_raw(raw, self.activation, self.activation_on_server)

    def save(self, path, samples: int | None = None) -> None:
        """Writes the model to the directory ``path``: a TensorFlow SavedModel plus the metadata a server
        needs (:func:`he_tf.models.artifact.save`); :func:`he_tf.models.load` reads it back."""
        from he_tf.models import artifact

        artifact.save(self, path, samples)

    def summary(self) -> str:
        """A few lines: steps, depth, parameters, layout and output mode."""
        shaped = "" if len(self.input_shape) == 1 else f" (samples of shape {self.input_shape})"
        lines = [f"{self.name}: {self.n_features} features{shaped} -> {self.n_outputs} output(s), {self.activation}"]
        lines += [f"  {step!r}  ({step.depth} level{'s' if step.depth > 1 else ''})" for step in self.steps]
        on_server = self.output == "polynomial" and self.activation != "linear"
        where = "server, polynomial" if on_server else "client"
        lines.append(f"  output={self.output!r}: {self.activation} applied by the {where}")
        if self.approximation_error is not None:
            low, high = self.input_range
            lines.append(f"  sigmoid fitted on logits in [{low:.3g}, {high:.3g}], max error "
                         f"{self.approximation_error:.2g}")
        lines.append(f"  depth {self.depth}, {self.params}, layout={self.layout!r}")
        lines.append(f"  precision about 2^-{self.params.precision_bits()} per result, integer room "
                     f"2^{self.params.integer_bits}")
        if self.feature_range is None:
            lines.append(f"  no feature_range: results decrypt correctly for |features| < "
                         f"{self.max_feature_magnitude:.3g}")
        else:
            worst = max(self.magnitudes(), key=lambda row: row.bound / row.room)
            lines.append(f"  feature_range checked: largest result bound {worst.bound:.3g} ({worst.step}), "
                         f"room {worst.room:.3g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"EncryptedModel({self.name!r}, {self.n_features} -> {self.n_outputs} {self.activation}, "
                f"output={self.output!r}, layout={self.layout!r}, depth={self.depth})")


def from_steps(steps: Sequence[Step], activation: str = "linear", *, output: str = "logits",
               input_range: tuple[float, float] | None = None, data: ArrayLike | None = None, degree: int = 3,
               layout: str = "batch", params: he_tf.Params | None = None,
               feature_range: tuple[ArrayLike, ArrayLike] | None = None, name: str = "model",
               precision_bits: int = PRECISION_BITS, input_shape: Sequence[int] | None = None) -> EncryptedModel:
    """An encrypted model from plaintext steps (:class:`Dense`, :class:`Square`, :class:`Polynomial`).

    Parameters
    ----------
    steps:
        The computation up to the logits; consecutive Dense steps are merged.
    activation:
        Output activation: ``"linear"`` (regression), ``"sigmoid"`` or ``"softmax"``.
    output:
        ``"logits"`` (client applies the activation: exact) or ``"polynomial"``
        (server evaluates a degree-``degree`` polynomial fit of the sigmoid).
        For linear outputs both are the same; softmax needs ``"logits"``.
    input_range:
        ``(low, high)``: the logit range the sigmoid polynomial is fitted on.
    data:
        Alternatively, features (e.g. the training set): the range becomes
        ``[-m, m]`` with ``m`` 1.1 times their largest ``|logit|``. Symmetric,
        so the fit crosses 0.5 at logit 0 and labels stay the plaintext ones.
        Without ``feature_range``, the data also give it: each feature's
        ``[min, max]``, widened by 10% of its width on both sides.
    degree:
        Degree of the sigmoid polynomial.
    layout:
        ``"batch"`` or ``"vector"``: the input layout the model serves.
    params:
        CKKS parameters; by default the smallest ring for the job (see
        :class:`EncryptedModel`'s ``params``), reported by ``summary()``.
    precision_bits:
        Bits of precision the default parameters keep for results.
    feature_range:
        ``(low, high)``, scalars or one value per feature: the range the
        features will lie in. The compiler bounds every step's results over it
        (interval arithmetic) and refuses, with the numbers and the fix, a
        model whose results could exceed what CKKS holds at their level (they
        would decrypt wrong, silently). Without it (and without ``data``)
        nothing is refused: :attr:`EncryptedModel.max_feature_magnitude` says
        how large features may be.
    input_shape:
        The shape of one sample (e.g. ``(28, 28, 1)``), whose row-major flattening the first step
        takes; by default flat samples. Clients encrypt samples of this shape.

    Raises
    ------
    ValueError
        For steps that do not chain, a polynomial output without a range, or
        results that could exceed the parameters' room (see ``feature_range``).
    """
    logit_steps = fold_affine(list(steps))
    if output not in OUTPUT_MODES:
        raise ValueError(f"output must be one of {OUTPUT_MODES}, got {output!r}")
    if feature_range is None and data is not None:
        feature_range = _data_range(data)
    if output == "logits" or activation == "linear":
        return EncryptedModel(logit_steps, activation, output=output, layout=layout, params=params,
                              feature_range=feature_range, name=name, precision_bits=precision_bits,
                              input_shape=input_shape)
    if activation == "softmax":
        raise ValueError(
            "output='polynomial' cannot evaluate softmax on the server: it needs exp and a division across "
            "classes, which CKKS cannot compute; use output='logits' (the client applies softmax, exactly)"
        )
    probe = EncryptedModel(logit_steps, activation, output="logits", layout=layout, params=None, name=name)
    low, high = _sigmoid_range(probe, input_range, data)
    # Fit in u = z / s with s = max(|low|, |high|) and fold 1/s into the last Dense (plaintext, free): the
    # encrypted powers u^k stay within [-1, 1] whatever the logits' scale.
    s = max(abs(low), abs(high))
    coeffs = approx.sigmoid_polynomial(low, high, degree)
    error = approx.max_error(coeffs, approx.sigmoid, low, high)
    scaled = coeffs * s ** np.arange(degree, -1, -1, dtype=np.float64)
    server_steps = list(logit_steps[:-1]) + [
        logit_steps[-1].scaled(1.0 / s), Polynomial(scaled, f"sigmoid on logits in [{low:.3g}, {high:.3g}]")
    ]
    return EncryptedModel(server_steps, activation, output=output, layout=layout, params=params,
                          logit_steps=logit_steps, input_range=(low, high), approximation_error=error,
                          feature_range=feature_range, name=name, precision_bits=precision_bits,
                          input_shape=input_shape)


def _model_input_shape(shape: Sequence[int], n_features: int) -> tuple[int, ...]:
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"input_shape must be a sequence of integers, got {shape!r}") from None
    if not 1 <= len(dims) <= MAX_INPUT_RANK or min(dims) < 1 or math.prod(dims) != n_features:
        raise ValueError(f"input_shape {shape!r} does not hold the {n_features} features the first step takes "
                         f"(1 to {MAX_INPUT_RANK} positive sizes whose product is {n_features})")
    return dims


def _feature_box(feature_range: tuple[ArrayLike, ArrayLike], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` (scalars or one value per feature) as two finite float64 arrays of ``n_features``."""
    try:
        low, high = feature_range
        low, high = (np.broadcast_to(np.asarray(v, np.float64), (n_features,)).copy() for v in (low, high))
    except (TypeError, ValueError):
        raise ValueError(f"feature_range must be (low, high), scalars or {n_features} values each, got "
                         f"{feature_range!r}") from None
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low <= high)):
        raise ValueError(f"feature_range must be finite with low <= high, got {feature_range!r}")
    return low, high


def _data_range(data: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's [min, max] over ``data``, widened on both sides by ``RANGE_MARGIN - 1`` times its width."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"data must be features of shape (samples, features), got shape {x.shape}")
    low, high = x.min(axis=0), x.max(axis=0)
    margin = (RANGE_MARGIN - 1) * (high - low)
    return low - margin, high + margin


def _sigmoid_range(model: EncryptedModel, input_range: tuple[float, float] | None,
                   data: ArrayLike | None) -> tuple[float, float]:
    if not isinstance(model.logit_steps[-1], Dense):
        raise ValueError("output='polynomial' needs the model to end with a Dense layer before the sigmoid")
    if input_range is not None:
        low, high = (float(v) for v in input_range)
        if not low < high:
            raise ValueError(f"input_range must be (low, high) with low < high, got {input_range}")
        return low, high
    if data is None:
        raise ValueError(
            "output='polynomial' needs the logits' range to fit the sigmoid on: pass input_range=(low, high) "
            "or data= (e.g. the training features) to derive it"
        )
    bound = RANGE_MARGIN * float(np.max(np.abs(model.logits_plain(data))))
    bound = bound if bound > 0 else 1.0
    return -bound, bound


def from_weights(weights: ArrayLike, bias: ArrayLike | None = None, activation: str = "linear",
                 **options) -> EncryptedModel:
    """An encrypted linear or logistic regression from plain arrays.

    Parameters
    ----------
    weights:
        ``(features, outputs)`` or ``(features,)`` (one output), as Keras stores
        them; scikit-learn's ``coef_`` is ``(outputs, features)``: pass
        ``coef_.T`` (or use :func:`from_sklearn`).
    bias:
        ``(outputs,)``, a scalar, or ``None`` for zeros.
    activation:
        ``"linear"``, ``"sigmoid"`` or ``"softmax"``.
    **options:
        ``output``, ``input_range``, ``data``, ``degree``, ``layout``,
        ``params``, ``precision_bits``, ``feature_range``, ``name`` as for :func:`from_steps`.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[:, None]
    b = np.zeros(w.shape[1]) if bias is None else np.asarray(bias, np.float64)
    if b.size not in (1, w.shape[1]) or b.ndim > 1:
        raise ValueError(f"bias has shape {b.shape}; the weights {w.shape} need ({w.shape[1]},) or a scalar")
    b = np.broadcast_to(b.reshape(-1), (w.shape[1],))
    options.setdefault("name", {"linear": "linear regression", "sigmoid": "logistic regression",
                                "softmax": "softmax regression"}.get(activation, "model"))
    return from_steps([Dense(w, b)], activation, **options)
