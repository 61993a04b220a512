"""Client and server of encrypted inference, connected only by bytes.

::

    client = Client.generate(model.key_requirements())   # data owner: keys for the model's depth
    server = Server(client.public_context, model)        # model owner: public context only, sent once
    response = server.handle(client.encrypt(x))       # bytes each way
    prediction = client.decrypt(response)

Both sides count the bytes they send and receive.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

import he_tf
from he_tf import ops
from he_tf.keys import KeySet, PublicContext, SecretKey
from he_tf.levels import align
from he_tf.models import blocks, complex_slots, outputs, wire
from he_tf.models.model import EncryptedModel, KeyRequirements

_SECRET_TAG = b"HETFSEC2"  # SecretKey.serialize() starts with it


@dataclasses.dataclass
class Traffic:
    """Bytes one side has sent and received, and the number of messages."""

    sent: int = 0
    received: int = 0
    messages: int = 0


@dataclasses.dataclass
class ClientTiming:
    """Seconds the client's last request and response took, by phase."""

    pack: float = 0.0  # features to the slot layout (NumPy)
    encrypt: float = 0.0  # encoding and encryption (HeEncryptSymmetric, parallel over ciphertexts)
    serialize: float = 0.0  # compression and the message (HeSerialize, parallel over ciphertexts)
    parse: float = 0.0  # the response's checks and loading
    decrypt: float = 0.0  # decryption, decoding and unpacking


class Client:
    """The data owner: holds the key set, encrypts features and decrypts predictions.

    Parameters
    ----------
    keys:
        The key set; its secret key never leaves this object.
    layout:
        ``"batch"`` or ``"vector"``: must match the model's.
    feature_bounds:
        ``(low, high)`` per feature (:attr:`KeyRequirements.feature_bounds`): :meth:`encrypt`
        refuses features outside, whose results could wrap around and decrypt wrong. ``None``: no check.
    requirements:
        The model's :class:`KeyRequirements` the keys were made for: requests of
        their ``samples`` are sent in their block layout (at the packing limit).
    """

    def __init__(self, keys: KeySet, layout: str = "batch", feature_bounds: tuple[ArrayLike, ArrayLike] | None = None,
                 requirements: KeyRequirements | None = None) -> None:
        if not isinstance(keys, KeySet):
            raise TypeError(f"a Client needs a KeySet (he_tf.KeySet.generate), got {type(keys).__name__}")
        self._keys = keys
        self.layout = layout
        self.feature_bounds = None if feature_bounds is None else tuple(
            np.asarray(b, dtype=np.float64) for b in feature_bounds)
        self.requirements = requirements
        self.traffic = Traffic()
        self.timing = ClientTiming()

    @classmethod
    def generate(cls, requirements: KeyRequirements | bytes) -> Client:
        """A client with fresh keys for a model's :class:`KeyRequirements` (or their JSON bytes)."""
        if isinstance(requirements, (bytes, bytearray)):
            requirements = KeyRequirements.from_json(requirements)
        return cls(requirements.generate_keys(), requirements.layout, requirements.feature_bounds, requirements)

    def _flattened(self, x: np.ndarray) -> np.ndarray:
        """``(samples, *input_shape)`` -> ``(samples, features)``; ValueError for any other shape."""
        shape = None if self.requirements is None else self.requirements.input_shape
        if shape is None or len(shape) == 1:
            if x.ndim != 2:
                raise ValueError(f"encrypt takes features of shape (samples, features), got shape {x.shape}")
            return x
        if x.shape[1:] != shape:
            images = ", ".join(str(d) for d in shape)
            raise ValueError(f"the model takes samples of shape {shape}: encrypt takes an array of shape "
                             f"(samples, {images}), got shape {x.shape}")
        return x.reshape(len(x), -1)

    def _check_bounds(self, x: np.ndarray) -> None:
        low, high = self.feature_bounds
        if x.shape[1] != low.size:
            raise ValueError(f"the model takes {low.size} features per sample, got shape {x.shape}")
        outside = ~((x >= low) & (x <= high))  # NaN is outside too
        if outside.any():
            i, j = (int(v) for v in np.argwhere(outside)[0])
            shape = None if self.requirements is None else self.requirements.input_shape
            where = f"feature {j}" if shape is None or len(shape) == 1 else (
                f"value {tuple(int(v) for v in np.unravel_index(j, shape))}")
            raise ValueError(
                f"{where} of sample {i} is {float(x[i, j])!r}, outside [{low[j]:.6g}, {high[j]:.6g}], where the "
                f"model's results are checked to decrypt correctly ({int(outside.sum())} value(s) outside); "
                "beyond it they could wrap around and decrypt wrong with no error. Scale the features, or "
                "build the model with a feature_range (or data) that covers them"
            )

    @property
    def public_context(self) -> bytes:
        """What the server needs once: parameters, public, relinearization and Galois keys. No secret key."""
        return self._keys.public.serialize()

    def send_public_context(self) -> bytes:
        """:attr:`public_context`, counted as sent."""
        data = self.public_context
        self.traffic.sent += len(data)
        self.traffic.messages += 1
        return data

    def encrypt(self, x: ArrayLike) -> bytes:
        """A request: samples ``(samples, *input_shape)`` (the model's, e.g. ``(samples, 8, 8, 1)`` for
        images; ``(samples, features)`` for flat samples) encrypted and serialized, flattened in row-major
        order."""
        start = time.perf_counter()
        x = self._flattened(np.asarray(x, dtype=np.float64))
        meta = {}
        features = None if self.requirements is None else self.requirements.features
        if features is not None and x.shape[1] != features:
            raise ValueError(f"the model takes {features} features per sample, shape (samples, {features}); "
                             f"got features of shape {x.shape}")
        if self.feature_bounds is not None:
            self._check_bounds(x)
        imag = None
        if self.requirements is not None and self.layout == "batch":
            layout = self.requirements.block_layout(*x.shape)
            if self.requirements.complex:  # a linear model: two samples per slot
                meta["folded"] = x.shape[0]
                x, imag = complex_slots.fold(x)
            if layout.packed:
                meta["samples"] = layout.samples
                x, imag = layout.pack(x), None if imag is None else layout.pack(imag)
        packed = time.perf_counter()
        # Encrypting with the secret key (the client has it) gives seeded ciphertexts: about half the bytes,
        # kept in that form up to the wire.
        x_enc = he_tf.encrypt(self._keys.public, x, layout=self.layout, secret=self._keys.secret, imag=imag)
        encrypted = time.perf_counter()
        request = wire.encode("request", x_enc, self._keys.public.key_id, meta)
        self.timing.pack, self.timing.encrypt = packed - start, encrypted - packed
        self.timing.serialize = time.perf_counter() - encrypted
        self.traffic.sent += len(request)
        self.traffic.messages += 1
        return request

    def decrypt(self, response: bytes) -> outputs.Prediction:
        """The server's response decrypted, with the output activation applied if the server did not."""
        self.traffic.received += len(response)
        start = time.perf_counter()
        message = wire.decode(response, self._keys.public, expect="response")
        parsed = time.perf_counter()
        slots = self._keys.public.params.slot_count
        if "folded" in message.meta:
            parts = [p.numpy() for p in he_tf.decrypt_parts(self._keys.secret, message.tensor)]
            if "samples" in message.meta:
                parts = [_unpacked(p, message.meta, slots) for p in parts]
            raw = _unfolded(*parts, message.meta["folded"])
        else:
            raw = he_tf.decrypt(self._keys.secret, message.tensor).numpy()
            if "samples" in message.meta:
                raw = _unpacked(raw, message.meta, slots)
        self.timing.parse, self.timing.decrypt = parsed - start, time.perf_counter() - parsed
        activation = message.meta.get("activation", "linear")
        on_server = bool(message.meta.get("activation_on_server", True))
        return outputs.Prediction.from_raw(raw, activation, on_server)


@dataclasses.dataclass
class ServerTiming:
    """Seconds the last request took on the server, by phase."""

    parse: float = 0.0
    compute: float = 0.0
    serialize: float = 0.0


class Server:
    """The model owner: runs an :class:`EncryptedModel` on requests, holding only a public context.

    Parameters
    ----------
    public_context:
        The client's ``PublicContext`` or its bytes (``Client.public_context``).
    model:
        The encrypted model to serve.
    flood_bits:
        Noise flooding: ``None`` (default) or 0 for none; else every response
        also gets a random polynomial with coefficients uniform in
        ``[-2^flood_bits, 2^flood_bits]``, which hides the low bits of the
        computation's noise and costs each value about :attr:`flood_error`.
        Every response is re-randomized (a fresh public-key encryption of zero
        added) whether or not it is flooded. See docs/protocols.md, "What a
        client learns from a response".

    Raises
    ------
    TypeError, ValueError
        If given a secret key (or a KeySet, which holds one), a context whose
        parameters cannot run the model, or a flooding width that would drown
        the values.
    """

    def __init__(self, public_context: PublicContext | bytes, model: EncryptedModel,
                 flood_bits: int | None = None) -> None:
        self.public = _public_only(public_context)
        if not isinstance(model, EncryptedModel):
            raise TypeError(f"a Server serves an he_tf.models.EncryptedModel, got {type(model).__name__}")
        params = self.public.params
        if params.depth < model.depth:
            raise ValueError(
                f"the client's parameters {params} give depth {params.depth}, {model.name} needs "
                f"{model.depth}: the client should generate keys from model.key_requirements() "
                f"({model.params})"
            )
        self.flood_bits = _checked_flood_bits(flood_bits, params)
        self.model = model
        self.traffic = Traffic()
        self.timing = ServerTiming()

    @property
    def flood_error(self) -> float:
        """Standard deviation flooding adds to each returned value: ``2^flood_bits sqrt(N / 6) / scale``."""
        return flooding_error(self.flood_bits, self.public.params)

    def requirements(self) -> bytes:
        """The model's key requirements as JSON bytes, for clients to generate keys from."""
        return self.model.key_requirements().to_json()

    def prepare(self, samples: int) -> float:
        """Traces the model for requests of ``samples`` samples, so the first real one does not pay for it.

        Runs the model once on zeros encrypted with the public context; returns the seconds it took.
        """
        start = time.perf_counter()
        zeros = np.zeros((samples, self.model.n_features))
        y = self.model.predict(he_tf.encrypt(self.public, zeros, layout=self.model.layout))
        sanitize(align(y, 0, y.scale), self.flood_bits)
        folded = self.model.complex_packing
        layout = self.model.block_layout(samples)
        rows = np.zeros((layout.samples, self.model.n_features))
        if folded:  # the complex-packed request of that size, one feature per ciphertext
            x = he_tf.encrypt(self.public, rows, layout="batch", imag=rows)
            y = self.model.predict_blocks(x, dataclasses.replace(layout, blocks=1), folded=samples)
            sanitize(align(y, 0, y.scale), self.flood_bits)
        if layout.packed:  # encodes the weights in block layout, if the keys have its rotations
            try:
                packed = layout.pack(rows)
                x = he_tf.encrypt(self.public, packed, layout="batch", imag=packed if folded else None)
                y = self.model.predict_blocks(x, layout, samples if folded else None)
                sanitize(align(y, 0, y.scale), self.flood_bits)
            except tf.errors.InvalidArgumentError:
                pass  # a key set without them: such requests come one feature per ciphertext
        return time.perf_counter() - start

    def handle(self, request: bytes) -> bytes:
        """Runs the model on one request; returns the response bytes."""
        self.traffic.received += len(request)
        start = time.perf_counter()
        message = wire.decode(request, self.public, expect="request")
        x, layout = message.tensor, self._block_layout(message)
        folded = self._folded(message, layout)
        parsed = time.perf_counter()
        y = self.model.predict_blocks(x, layout, folded)
        # The client only decrypts: drop the remaining primes first, fewer bytes to send.
        y = sanitize(align(y, 0, y.scale), self.flood_bits)  # eager: the ops have run when this returns
        computed = time.perf_counter()
        meta = {"output": self.model.output, "activation": self.model.activation,
                "activation_on_server": self.model.activation_on_server}
        if layout.packed:
            meta.update(samples=layout.samples, outputs=self.model.n_outputs)
        if folded is not None:
            meta["folded"] = folded
        response = wire.encode("response", y, self.public.key_id, meta)
        self.timing = ServerTiming(parsed - start, computed - parsed, time.perf_counter() - computed)
        self.traffic.sent += len(response)
        self.traffic.messages += 1
        return response

    def _block_layout(self, message: wire.Message) -> blocks.BlockLayout:
        """The request's layout: ``meta["samples"]`` samples per block, else one feature per ciphertext."""
        shape = tuple(message.tensor.shape.as_list())
        slots = self.public.params.slot_count
        if "samples" not in message.meta:
            return blocks.BlockLayout(shape[0], self.model.n_features, 1, slots)
        samples = message.meta["samples"]
        count, rest = divmod(shape[0], samples)
        try:
            if rest or len(shape) != 2:
                raise ValueError(f"its shape {shape} is not blocks of {samples} samples")
            layout = blocks.BlockLayout(samples, self.model.n_features, count, slots)
            if layout.shape != shape or not layout.packed:
                raise ValueError(f"{samples} samples of {self.model.n_features} features in {count} blocks "
                                 f"have shape {layout.shape}, the request {shape}")
            if not self.model.blockable:
                raise ValueError(f"{self.model.name} does not serve the block layout; send one feature per "
                                 "ciphertext")
        except ValueError as e:
            raise wire.WireFormatError(f"malformed block-layout request: {e}") from None
        return layout

    def _folded(self, message: wire.Message, layout: blocks.BlockLayout) -> int | None:
        """The samples a complex-packed request folds (``meta["folded"]``), checked against its rows and the
        model; None for one sample per slot."""
        folded = message.meta.get("folded")
        if folded is None:
            return None
        if not self.model.complex_packing:
            raise wire.WireFormatError(
                f"a complex-packed request (two samples per slot), but {self.model.name}'s server steps are not a "
                "single affine layer in batch layout: a non-linear step would mix the samples; send one sample "
                "per slot")
        if complex_slots.rows(folded) != layout.samples:
            raise wire.WireFormatError(f"malformed complex-packed request: {folded} samples fold into "
                                       f"{complex_slots.rows(folded)} rows, the request has {layout.samples}")
        return folded


def _unpacked(raw: np.ndarray, meta: dict, slots: int) -> np.ndarray:
    """A decrypted block-layout response -> ``(samples, outputs)``; WireFormatError if the shape disagrees."""
    samples, count = meta["samples"], meta.get("outputs")
    if count is None or samples > slots or raw.shape != blocks.output_shape(samples, count, slots):
        raise wire.WireFormatError(f"malformed block-layout response: {samples} samples and {count} outputs "
                                   f"do not give its shape {raw.shape}")
    return blocks.unpack_outputs(raw, samples, count, slots)


def _unfolded(real: np.ndarray, imag: np.ndarray, samples: int) -> np.ndarray:
    """A decrypted complex-packed response's parts -> ``(samples, outputs)``; WireFormatError if they disagree."""
    try:
        return complex_slots.unfold(real, imag, samples)
    except ValueError as e:
        raise wire.WireFormatError(f"malformed complex-packed response: {e}") from None


def flooding_error(flood_bits: int | None, params: he_tf.Params) -> float:
    """Standard deviation of the error flooding adds to each value at the default scale (0 without)."""
    if not flood_bits:
        return 0.0
    return 2.0 ** flood_bits * np.sqrt(params.poly_modulus_degree / 6) / 2.0 ** params.scale_bits


def _checked_flood_bits(flood_bits, params: he_tf.Params) -> int:
    if flood_bits is None:
        return 0
    if isinstance(flood_bits, bool) or not isinstance(flood_bits, int) or not 0 <= flood_bits <= 62:
        raise ValueError(f"flood_bits must be None or an integer in [0, 62], got {flood_bits!r}")
    error = flooding_error(flood_bits, params)
    if error >= 1.0:
        raise ValueError(
            f"flood_bits={flood_bits} adds noise of standard deviation {error:.3g} "
            f"to every value at {params}: the results would be noise; use flood_bits <= "
            f"{params.scale_bits - int(np.ceil(np.log2(np.sqrt(params.poly_modulus_degree / 6))))}"
            " or a larger scale_bits"
        )
    return flood_bits


def sanitize(y: he_tf.HETensor, flood_bits: int = 0) -> he_tf.HETensor:
    """y re-randomized (plus a fresh public-key encryption of zero) and, if flood_bits > 0, flooded.

    The computation is deterministic: without this, the mask component of a
    response would be a fixed function of the request's and of the model's
    plaintexts, and two responses to one request would be identical bytes.
    """
    return y.with_ciphertexts(ops.rerandomize(y.context, y.ciphertexts, flood_bits=flood_bits))


def _public_only(public_context) -> PublicContext:
    if isinstance(public_context, (SecretKey, KeySet)):
        raise TypeError(
            f"a Server must never hold the secret key, got a {type(public_context).__name__}; pass the "
            "public context only (keys.public or Client.public_context)"
        )
    if isinstance(public_context, PublicContext):
        return public_context
    if isinstance(public_context, (bytes, bytearray)):
        if bytes(public_context[: len(_SECRET_TAG)]) == _SECRET_TAG:
            raise ValueError("these bytes are a serialized secret key; a Server must never hold it: send "
                             "keys.public.serialize() (Client.public_context) instead")
        return PublicContext.deserialize(bytes(public_context))
    raise TypeError(f"a Server needs a PublicContext or its bytes, got {type(public_context).__name__}")
