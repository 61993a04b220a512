"""The service behind both APIs: signatures over one model, with limits, deadlines, logs and counters.

The gRPC and REST front ends only turn their transport's messages into ``(signature, {input: bytes})``
and back; everything a request goes through is here, once:

1. the input names and sizes (:mod:`~he_tf.serving.signatures`, :class:`Limits`);
2. the public context, if the request carries one: validated and cached per key set
   (:class:`~he_tf.serving.contexts.ContextCache`; each entry is an in-process
   :class:`he_tf.models.Server` over that context);
3. the request's key set: its context must be cached, else ``FAILED_PRECONDITION`` (the client sends
   it again with the request);
4. a compute slot (at most ``Limits.concurrency`` requests run the model at once), waited for until
   the request's deadline;
5. ``models.Server.handle``: the wire message decoded and checked, the model run, the response encoded.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable

from he_tf.models import wire
from he_tf.models.model import EncryptedModel
from he_tf.models.serving import Server
from he_tf.serving import signatures
from he_tf.serving.contexts import ContextCache
from he_tf.serving.errors import (
    DeadlineExceeded, InvalidRequest, ModelNotFound, ServingError, Unavailable, UnknownKeySet,
)
from he_tf.serving.metrics import Metrics

log = logging.getLogger("he_tf.serving")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may ask of the server (every default is a command-line option of ``serve``)."""

    max_request_bytes: int = 64 << 20
    """Largest message (gRPC) or body (REST, before base64) accepted; a public context must fit."""
    context_cache_bytes: int = 1 << 30
    """Serialized public contexts kept, all key sets together."""
    timeout: float = 30.0
    """Seconds a request may take from its arrival, unless its own (gRPC) deadline is sooner."""
    concurrency: int = 2
    """Requests that run the model at once; the others wait for a slot until their deadline."""

    def __post_init__(self) -> None:
        for field in ("max_request_bytes", "context_cache_bytes", "concurrency"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")


class Service:
    """One model's signatures, for any number of clients, each with its own key set."""

    def __init__(self, model: EncryptedModel, name: str, limits: Limits = Limits(),
                 flood_bits: int | None = None) -> None:
        self.model, self.name, self.limits = model, name, limits
        self.metrics = Metrics()
        self.contexts: ContextCache[Server] = ContextCache(
            limits.context_cache_bytes, lambda data: _server(data, model, flood_bits))
        self._slots = threading.BoundedSemaphore(limits.concurrency)
        self.draining = False
        self.requirements = model.key_requirements().to_json()

    def check_model(self, name: str, version: int | None = None) -> None:
        """The model a request names: this one ('' also means it), version 1 or none."""
        if (name and name != self.name) or version not in (None, 0, 1):
            raise ModelNotFound(f"this server serves model {self.name!r} version 1, not {name[:80]!r}"
                                + (f" version {version}" if version not in (None, 0, 1) else ""))

    def deadline(self, client_seconds: float | None = None) -> float:
        """The monotonic time a request arriving now must be answered by."""
        seconds = self.limits.timeout if client_seconds is None else min(client_seconds, self.limits.timeout)
        return time.monotonic() + seconds

    def call(self, api: str, read: Callable[[], tuple[str, dict[str, bytes]]], deadline: float,
             peer: str = "") -> dict[str, bytes]:
        """Runs one request: the outputs by name, or a :class:`ServingError` (counted and logged either way).

        ``read()`` gives the request's ``(signature, {input: bytes})`` from the front end's message,
        raising :class:`ServingError` for a malformed one (counted and logged like any other).
        """
        start = time.perf_counter()
        code, outputs, key_id, signature, inputs = "OK", {}, None, "unreadable", {}
        self.metrics.in_flight.inc()
        try:
            if self.draining:
                raise Unavailable("this server is shutting down; send the request to another replica")
            signature, inputs = read()
            signature = signatures.resolve(signature)
            signatures.check_inputs(signature, inputs)
            if signature == signatures.KEY_REQUIREMENTS:
                outputs = {"requirements": self.requirements}
            else:
                key_id, outputs = self._predict(inputs, deadline)
            return outputs
        except ServingError as e:
            code = e.code
            raise
        except Exception as e:  # noqa: BLE001  (logged with its traceback, answered INTERNAL, never a crash)
            code = "INTERNAL"
            log.exception("internal error", extra={"fields": {"api": api}})
            raise ServingError(f"internal error: {type(e).__name__}") from None
        finally:
            seconds = time.perf_counter() - start
            received, sent = (sum(len(v) for v in d.values()) for d in (inputs, outputs))
            # Bounded label values: a request whose signature and inputs could not be read is "unreadable".
            label = signature if signature in signatures.SIGNATURES else "unreadable"
            m = self.metrics
            m.in_flight.dec()
            m.requests.labels(api, label, code).inc()
            m.latency.labels(api, label).observe(seconds)
            m.bytes.labels("received").inc(received)
            m.bytes.labels("sent").inc(sent)
            m.contexts.set(len(self.contexts))
            m.context_bytes.set(self.contexts.bytes)
            m.evictions.set(self.contexts.evictions)
            log.info("request", extra={"fields": {
                "api": api, "signature": label, "code": code, "ms": round(seconds * 1e3, 2),
                "bytes_in": received, "bytes_out": sent, "key_id": None if key_id is None else f"{key_id:016x}",
                "peer": peer}})

    def _predict(self, inputs: dict[str, bytes], deadline: float) -> tuple[int, dict[str, bytes]]:
        request = inputs["request"]
        try:
            key_id = wire.key_id(request)
        except (ValueError, TypeError) as e:
            raise InvalidRequest(str(e)) from None
        if "context" in inputs:
            context_id, server = self.contexts.put(inputs["context"])
            if context_id != key_id:
                raise InvalidRequest(f"the request is encrypted under key set {key_id:016x}, the context sent "
                                     f"with it is key set {context_id:016x}")
        else:
            server = self.contexts.get(key_id)
            if server is None:
                raise UnknownKeySet(f"no public context for key set {key_id:016x} on this server (never sent, "
                                    "or evicted): send it with the request (input 'context')")
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise DeadlineExceeded(f"no compute slot became free before the request's deadline "
                                   f"({self.limits.concurrency} requests run at once)")
        try:
            if time.monotonic() > deadline:
                raise DeadlineExceeded("the request's deadline passed before it could run")
            try:
                response = server.handle(request)
            except (ValueError, TypeError) as e:  # WireFormatError and the model's own input checks
                raise InvalidRequest(str(e)) from None
        finally:
            self._slots.release()
        if time.monotonic() > deadline:
            raise DeadlineExceeded("the model took longer than the request's deadline")
        return key_id, {"response": response}


def _server(context: bytes, model: EncryptedModel, flood_bits: int | None) -> Server:
    """An in-process server over one client's context; malformed or unsuitable contexts are refused."""
    try:
        return Server(context, model, flood_bits=flood_bits)
    except (ValueError, TypeError) as e:
        raise InvalidRequest(f"cannot use this public context: {e}") from None
