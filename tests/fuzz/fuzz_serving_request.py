"""Fuzzes what ``python -m he_tf serve`` reads from a client, then the service behind it.

Input: a first byte choosing the API (even: gRPC, a serialized ``PredictRequest``; odd: REST, a predict
body), then the bytes. They go through the front end's parser (``grpc_api.read_request`` /
``rest_api.parse_predict``) and, if accepted, through ``Service.call`` (context cache, wire decoding,
the model). Documented failures: ``protobuf``'s ``DecodeError`` for bytes that are no protobuf, and a
:class:`~he_tf.serving.errors.ServingError` of any code but INTERNAL (which is an unexpected exception).

    python -m tests.fuzz.fuzz_serving_request tests/fuzz/corpus/fuzz_serving_request [libFuzzer flags]
"""

from __future__ import annotations

import random
import time

from tests.fuzz import common, mutate

# Depth 1 at N=4096: the smallest parameters a model (one Dense step) runs under. The seeds carry their
# own public context (tests/fuzz/make_corpus.py), so the service runs the model on them.
PARAMS = (4096, (38, 30, 38), 30)
WEIGHTS, BIAS = [[0.5], [-0.25], [1.0], [0.125]], [0.5]


def harness():
    from google.protobuf.message import DecodeError
    from tensorflow_serving.apis import predict_pb2

    import he_tf
    import he_tf.models as hm
    from he_tf.serving import grpc_api, rest_api
    from he_tf.serving.errors import ServingError
    from he_tf.serving.service import Limits, Service

    model = hm.from_weights(WEIGHTS, BIAS, params=he_tf.Params(*PARAMS), name="fuzzed")
    service = Service(model, "fuzzed", Limits(max_request_bytes=1 << 20, context_cache_bytes=4 << 20))

    def one_input(data: bytes) -> None:
        if not data:
            return
        api, body = ("grpc" if data[0] % 2 == 0 else "rest"), data[1:]
        try:
            if api == "grpc":
                request = predict_pb2.PredictRequest.FromString(body)
                read = lambda: grpc_api.read_request(request, service)  # noqa: E731
            else:
                read = lambda: rest_api.parse_predict(body, service.limits.max_request_bytes)[:2]  # noqa: E731
            service.call(api, read, time.monotonic() + 60)
        except DecodeError:
            return
        except ServingError as e:
            if e.code == "INTERNAL":
                raise AssertionError(f"an unexpected exception inside the service: {e}") from e.__cause__

    return one_input, mutate_request


def mutate_request(data: bytes, rng: random.Random) -> bytes:
    """Edits the wire message inside a request (structure-aware), keeping the envelope."""
    import base64
    import json

    from tensorflow_serving.apis import predict_pb2

    if data and data[0] % 2 == 0:
        request = predict_pb2.PredictRequest.FromString(data[1:])
        if "request" in request.inputs and request.inputs["request"].string_val:
            values = request.inputs["request"].string_val
            values[0] = mutate.mutate_wire(values[0], rng)
        return data[:1] + request.SerializeToString()
    document = json.loads(data[1:])
    message = base64.b64decode(document["inputs"]["request"]["b64"])
    document["inputs"]["request"]["b64"] = base64.b64encode(mutate.mutate_wire(message, rng)).decode()
    return data[:1] + json.dumps(document).encode()


if __name__ == "__main__":
    common.main(harness)
