"""One client and one server exchanging bytes, timed phase by phase.

Used by the demo (``python -m he_tf demo``) and the tests: a faithful run of
the protocol in one process, with the measurements its report needs.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from he_tf.models.model import EncryptedModel
from he_tf.models.outputs import Prediction
from he_tf.models.serving import Client, Server


@dataclasses.dataclass
class RoundTrip:
    """Predictions for all samples and where the time and bytes went (seconds, bytes)."""

    prediction: Prediction
    samples: int
    requests: int
    request_size: int
    keygen: float
    warmup: float
    encrypt: float
    parse: float
    compute: float
    serialize: float
    decrypt: float
    context_bytes: int
    request_bytes: int
    response_bytes: int
    blocks: int = 1  # feature blocks per ciphertext in the (full-size) requests

    @property
    def samples_per_second(self) -> float:
        """Server throughput: samples over the model's compute time."""
        return self.samples / self.compute

    @property
    def compute_per_request(self) -> float:
        return self.compute / self.requests


def run(model: EncryptedModel, x: np.ndarray, request_size: int | None = None,
        progress: Callable[[int], None] | None = None) -> RoundTrip:
    """Generates keys, sets up the server and sends ``x`` in requests of ``request_size`` samples.

    ``request_size`` defaults to one ciphertext's worth of samples in batch
    layout and 1 (latency) in vector layout. ``progress(n)`` is called after
    each request with its number of samples.
    """
    x = np.asarray(x, dtype=np.float64)
    if request_size is None:
        request_size = model.params.slot_count if model.layout == "batch" else 1
    planned = min(request_size, len(x))
    start = time.perf_counter()
    client = Client.generate(model.key_requirements(samples=planned))  # requests of this size: block layout
    keygen = time.perf_counter() - start
    server = Server(client.send_public_context(), model)
    warmup = server.prepare(planned)
    times = dict(encrypt=0.0, parse=0.0, compute=0.0, serialize=0.0, decrypt=0.0)
    raw, outputs, activation, requests = [], [], "linear", 0
    for begin in range(0, len(x), request_size):
        chunk = x[begin:begin + request_size]
        t0 = time.perf_counter()
        request = client.encrypt(chunk)
        t1 = time.perf_counter()
        response = server.handle(request)
        t2 = time.perf_counter()
        prediction = client.decrypt(response)
        t3 = time.perf_counter()
        times["encrypt"] += t1 - t0
        times["decrypt"] += t3 - t2
        times["parse"] += server.timing.parse
        times["compute"] += server.timing.compute
        times["serialize"] += server.timing.serialize
        raw.append(prediction.raw)
        outputs.append(prediction.outputs)
        activation = prediction.activation
        requests += 1
        if progress:
            progress(len(chunk))
    context_bytes = len(client.public_context)
    return RoundTrip(
        prediction=Prediction(np.concatenate(raw), np.concatenate(outputs), activation),
        samples=len(x), requests=requests, request_size=request_size, keygen=keygen, warmup=warmup, **times,
        context_bytes=context_bytes, request_bytes=client.traffic.sent - context_bytes,
        response_bytes=client.traffic.received, blocks=client.requirements.block_layout(planned, x.shape[1]).blocks,
    )
