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
from numpy.typing import ArrayLike

import he_tf
from he_tf.keys import KeySet, PublicContext, SecretKey
from he_tf.levels import align
from he_tf.models import outputs, wire
from he_tf.models.model import EncryptedModel, KeyRequirements

_SECRET_TAG = b"HETFSEC2"  # SecretKey.serialize() starts with it


@dataclasses.dataclass
class Traffic:
    """Bytes one side has sent and received, and the number of messages."""

    sent: int = 0
    received: int = 0
    messages: int = 0


class Client:
    """The data owner: holds the key set, encrypts features and decrypts predictions.

    Parameters
    ----------
    keys:
        The key set; its secret key never leaves this object.
    layout:
        ``"batch"`` or ``"vector"``: must match the model's.
    """

    def __init__(self, keys: KeySet, layout: str = "batch") -> None:
        if not isinstance(keys, KeySet):
            raise TypeError(f"a Client needs a KeySet (he_tf.KeySet.generate), got {type(keys).__name__}")
        self._keys = keys
        self.layout = layout
        self.traffic = Traffic()

    @classmethod
    def generate(cls, requirements: KeyRequirements | bytes) -> Client:
        """A client with fresh keys for a model's :class:`KeyRequirements` (or their JSON bytes)."""
        if isinstance(requirements, (bytes, bytearray)):
            requirements = KeyRequirements.from_json(requirements)
        return cls(requirements.generate_keys(), requirements.layout)

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
        """A request: features ``(samples, features)`` encrypted and serialized."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"encrypt takes features of shape (samples, features), got shape {x.shape}")
        # Encrypting with the secret key (the client has it) gives seeded ciphertexts: about half the bytes.
        x_enc = he_tf.encrypt(self._keys.public, x, layout=self.layout, secret=self._keys.secret)
        request = wire.encode("request", x_enc, self._keys.public.key_id)
        self.traffic.sent += len(request)
        self.traffic.messages += 1
        return request

    def decrypt(self, response: bytes) -> outputs.Prediction:
        """The server's response decrypted, with the output activation applied if the server did not."""
        self.traffic.received += len(response)
        message = wire.decode(response, self._keys.public, expect="response")
        raw = he_tf.decrypt(self._keys.secret, message.tensor).numpy()
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

    Raises
    ------
    TypeError, ValueError
        If given a secret key (or a KeySet, which holds one), or a context
        whose parameters cannot run the model.
    """

    def __init__(self, public_context: PublicContext | bytes, model: EncryptedModel) -> None:
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
        self.model = model
        self.traffic = Traffic()
        self.timing = ServerTiming()

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
        align(y, 0, y.scale)
        return time.perf_counter() - start

    def handle(self, request: bytes) -> bytes:
        """Runs the model on one request; returns the response bytes."""
        self.traffic.received += len(request)
        start = time.perf_counter()
        x = wire.decode(request, self.public, expect="request").tensor
        parsed = time.perf_counter()
        y = self.model.predict(x)
        # The client only decrypts: drop the remaining primes first, fewer bytes to send.
        y = align(y, 0, y.scale)  # eager: the ops have run when this returns
        computed = time.perf_counter()
        meta = {"output": self.model.output, "activation": self.model.activation,
                "activation_on_server": self.model.activation_on_server}
        response = wire.encode("response", y, self.public.key_id, meta)
        self.timing = ServerTiming(parsed - start, computed - parsed, time.perf_counter() - computed)
        self.traffic.sent += len(response)
        self.traffic.messages += 1
        return response


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
