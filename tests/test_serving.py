"""``python -m he_tf serve`` and RemoteClient: gRPC and REST, TLS and token, two replicas, load and faults.

Four server processes on loopback, started together once: replicas A and B (plain), C (TLS + token), D
(tight limits). Results are compared with the model's float64 computation (``predict_plain``) to
ATOL. The fault tests stop replica B; they come last.
"""

from __future__ import annotations

import base64
import concurrent.futures
import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

import he_tf.models as hm
from he_tf.serving.client import RemoteError, ServerUnavailable
from tests.serving_util import ServerProcess, rest, self_signed_certificate

ATOL = 1e-4
TOKEN = "s3cret-token"
N_FEATURES = 5
RNG = np.random.default_rng(7)
WEIGHTS, BIAS = RNG.normal(size=(N_FEATURES, 2)), np.array([0.25, -0.5])


def features(rows: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=(rows, N_FEATURES))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serving") / "scores"
    hm.from_weights(WEIGHTS, BIAS, "softmax", feature_range=(-2, 2)).save(folder, samples=6)
    return folder


@pytest.fixture(scope="module")
def context_cache_bytes(model_dir) -> int:
    """Room for two key sets' public contexts of this model, not three (compressed sizes vary by a few bytes)."""
    size = len(hm.Client.generate(hm.load(model_dir).key_requirements()).public_context)
    return int(2.5 * size)


@pytest.fixture(scope="module")
def servers(model_dir, context_cache_bytes, tmp_path_factory):
    folder = tmp_path_factory.mktemp("servers")
    cert, key = self_signed_certificate(folder)
    (folder / "token").write_text(TOKEN)
    procs = {
        "a": ServerProcess(model_dir, log=folder / "a.log"),
        "b": ServerProcess(model_dir, log=folder / "b.log"),
        "c": ServerProcess(model_dir, "--tls-cert", str(cert), "--tls-key", str(key),
                           "--token-file", str(folder / "token"), log=folder / "c.log"),
        "d": ServerProcess(model_dir, "--max-request-bytes", "2m", "--context-cache-bytes", str(context_cache_bytes),
                           "--timeout", "5", log=folder / "d.log"),
    }
    try:
        for p in procs.values():
            p.wait_ready()
        procs["cert"] = cert
        yield procs
    finally:
        for name, p in procs.items():
            if isinstance(p, ServerProcess):
                p.stop(signal.SIGKILL if p.process.poll() is None and name != "a" else signal.SIGTERM)


def expected(model_dir, x):
    return hm.load(model_dir).predict_plain(x)


def test_grpc_prediction_is_the_in_process_one(servers, model_dir):
    model = hm.load(model_dir)
    with hm.RemoteClient(servers["a"].grpc_address, "scores") as client:
        x = features(6)
        remote = client.predict(x)
        np.testing.assert_allclose(remote.raw, model.predict_plain(x), atol=ATOL)
        # The in-process Server on the same key set gives the same Prediction.
        local = client.client.decrypt(hm.Server(client.client.public_context, model).handle(client.client.encrypt(x)))
        np.testing.assert_allclose(remote.outputs, local.outputs, atol=ATOL)
        np.testing.assert_array_equal(remote.labels(), np.argmax(model.predict_plain(x), axis=1))
        # Requests of other sizes on the cached context: no context sent again.
        messages = client.traffic.messages
        np.testing.assert_allclose(client.predict(features(3, 1)).raw, model.predict_plain(features(3, 1)), atol=ATOL)
        assert client.traffic.messages == messages + 1  # the request only
        assert set(client.signatures()) == {"predict", "serving_default", "key_requirements"}


def test_rest_api(servers, model_dir):
    a, client = servers["a"], hm.Client.generate(hm.load(model_dir).key_requirements())
    x = features(4, 2)
    body = {"signature_name": "predict", "inputs": {
        "request": {"b64": base64.b64encode(client.encrypt(x)).decode()},
        "context": {"b64": base64.b64encode(client.public_context).decode()}}}
    status, answer = rest(f"{a.rest_url}/v1/models/scores:predict", body)
    assert status == 200, answer
    prediction = client.decrypt(base64.b64decode(answer["outputs"]["b64"]))
    np.testing.assert_allclose(prediction.raw, expected(model_dir, x), atol=ATOL)
    # Row format, context now cached; the version path.
    row = {"instances": [{"request": {"b64": base64.b64encode(client.encrypt(x)).decode()}}]}
    status, answer = rest(f"{a.rest_url}/v1/models/scores/versions/1:predict", row)
    assert status == 200, answer
    np.testing.assert_allclose(client.decrypt(base64.b64decode(answer["predictions"][0]["response"]["b64"])).raw,
                               expected(model_dir, x), atol=ATOL)
    status, metadata = rest(f"{a.rest_url}/v1/models/scores/metadata")
    assert status == 200 and set(metadata["metadata"]["signature_def"]["signatureDef"]) >= {"predict"}
    assert rest(f"{a.rest_url}/v1/models/scores")[1]["model_version_status"][0]["state"] == "AVAILABLE"
    assert rest(f"{a.rest_url}/v1/models/other/metadata")[0] == 404
    status, answer = rest(f"{a.rest_url}/v1/models/scores:predict", {"inputs": {"request": {"b64": "!!"}}})
    assert status == 400 and answer["code"] == "INVALID_ARGUMENT" and "base64" in answer["error"]


def test_tls_and_bearer_token(servers, model_dir):
    c, cert = servers["c"], servers["cert"].read_bytes()
    with hm.RemoteClient(c.grpc_address, root_certificates=cert, server_name="localhost", token=TOKEN) as client:
        x = features(5, 3)
        np.testing.assert_allclose(client.predict(x).raw, expected(model_dir, x), atol=ATOL)
    with pytest.raises(RemoteError, match="UNAUTHENTICATED") as error:
        hm.RemoteClient(c.grpc_address, root_certificates=cert, server_name="localhost", token="wrong")
    assert error.value.code == "UNAUTHENTICATED"
    with pytest.raises(ServerUnavailable):  # plain text against a TLS port: no handshake
        hm.RemoteClient(c.grpc_address, token=TOKEN, timeout=5)
    url = f"https://localhost:{c.ready['rest_port']}/v1/models/scores/metadata"
    assert rest(url, token=TOKEN, cafile=servers["cert"])[0] == 200
    assert rest(url, token="wrong", cafile=servers["cert"])[0] == 401


def test_health_checking(servers):
    with grpc.insecure_channel(servers["a"].grpc_address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "tensorflow.serving.PredictionService"):
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def _raw_predict(address: str, inputs: dict, signature: str = "predict", timeout: float = 20.0):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "scores"
    request.model_spec.signature_name = signature
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 1 << 28)]) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=timeout)


def _string(value: bytes, shape=()) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[value])
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


def test_hostile_requests_are_invalid_argument_and_the_next_good_one_succeeds(servers, model_dir):
    from tests.hostile import craft

    a = servers["a"]
    invalid = 'he_tf_serving_requests_total{api="grpc",code="INVALID_ARGUMENT",signature="%s"}'
    before = sum(a.metrics().get(invalid % s, 0.0) for s in ("predict", "unreadable"))
    client = hm.Client.generate(hm.load(model_dir).key_requirements())
    good = client.encrypt(features(2, 4))
    context = client.public_context
    other = hm.Client.generate(hm.load(model_dir).key_requirements())
    cases = {
        "bad magic": {"request": _string(b"not a message")},
        "truncated": {"request": _string(good[: len(good) // 2]), "context": _string(context)},
        "bit flip in a ciphertext": {"request": _string(good[:-40] + bytes([good[-40] ^ 1]) + good[-39:]),
                                     "context": _string(context)},
        "nested header": {"request": _string(craft.wire_nested_header(good, 5000))},
        "huge declared shape": {"request": _string(craft.wire_huge_shape(good, 1 << 27, 4096)),
                                "context": _string(context)},
        "wrong dtype": {"request": tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0])},
        "two strings": {"request": tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[good, good])},
        "shape [2, 3]": {"request": _string(good, (2, 3))},
        "unknown input": {"request": _string(good), "x": _string(b"")},
        "garbage context": {"request": _string(good), "context": _string(b"HETFPUB" + bytes(100))},
        "another key set's context": {"request": _string(good), "context": _string(other.public_context)},
    }
    for name, inputs in cases.items():
        with pytest.raises(grpc.RpcError) as error:
            _raw_predict(a.grpc_address, inputs)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, error.value.details())
        answer = _raw_predict(a.grpc_address, {"request": _string(good), "context": _string(context)})
        np.testing.assert_allclose(client.decrypt(answer.outputs["response"].string_val[0]).raw,
                                   expected(model_dir, features(2, 4)), atol=ATOL)
    with pytest.raises(grpc.RpcError) as error:
        _raw_predict(a.grpc_address, {"request": _string(good)}, signature="train")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert servers["a"].process.poll() is None
    # Every refusal is counted: under its signature, or "unreadable" (clients cannot add label values).
    after = sum(a.metrics().get(invalid % s, 0.0) for s in ("predict", "unreadable"))
    assert after - before == len(cases) + 1
    logged = [e for e in a.events() if e.get("event") == "request" and e["code"] == "INVALID_ARGUMENT"]
    assert len(logged) >= len(cases) + 1


def test_limits(servers, model_dir, context_cache_bytes):
    d = servers["d"]
    model = hm.load(model_dir)
    # Past --max-request-bytes: a message gRPC still takes is refused by its input's size, a larger one by
    # gRPC itself, before it is parsed; REST refuses the body unread.
    with pytest.raises(grpc.RpcError) as error:
        _raw_predict(d.grpc_address, {"request": _string(bytes((2 << 20) + 10))})
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 2097152" in error.value.details()
    with pytest.raises(grpc.RpcError) as error:
        _raw_predict(d.grpc_address, {"request": _string(bytes(3 << 20))})
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status, _ = rest(f"{d.rest_url}/v1/models/scores:predict",
                     {"inputs": {"request": {"b64": base64.b64encode(bytes(3 << 20)).decode()}}})
    assert status == 413
    assert d.metrics()['he_tf_serving_requests_total{api="rest",code="RESOURCE_EXHAUSTED",signature="unreadable"}'] == 1
    # The context cache holds two key sets' contexts, not three; the least recently used goes.
    clients = [hm.RemoteClient(d.grpc_address) for _ in range(3)]
    size, cache = len(clients[0].client.public_context), context_cache_bytes
    assert 3 * size > cache >= 2 * size, size
    for client in clients:
        np.testing.assert_allclose(client.predict(features(2)).raw, model.predict_plain(features(2)), atol=ATOL)
    metrics = d.metrics()
    assert metrics["he_tf_serving_context_evictions"] >= 1
    assert metrics["he_tf_serving_context_bytes"] <= cache
    # The evicted client's context travels again with its next request, transparently.
    np.testing.assert_allclose(clients[0].predict(features(2)).raw, model.predict_plain(features(2)), atol=ATOL)
    assert d.metrics()['he_tf_serving_requests_total{api="grpc",code="FAILED_PRECONDITION",signature="predict"}'] >= 1


def test_deadline_is_refused_cleanly(servers):
    with hm.RemoteClient(servers["a"].grpc_address) as client:
        with pytest.raises(RemoteError) as error:
            client.predict(features(6), timeout=1e-4)
        assert error.value.code == "DEADLINE_EXCEEDED"


def _predict_counts(server: ServerProcess) -> float:
    return server.metrics().get('he_tf_serving_requests_total{api="grpc",code="OK",signature="predict"}', 0.0)


def test_round_robin_over_two_replicas_under_load(servers, model_dir):
    """8 clients with their own key sets, 25 requests each, over replicas A and B: all correct, none lost."""
    a, b = servers["a"], servers["b"]
    model = hm.load(model_dir)
    before = _predict_counts(a) + _predict_counts(b), _predict_counts(b)
    clients = [hm.RemoteClient([a.grpc_address, b.grpc_address], "scores") for _ in range(8)]
    assert len({c.client.public_context for c in clients}) == 8

    def work(index: int) -> int:
        correct = 0
        for request in range(25):
            x = features(1 + (index + request) % 6, seed=100 * index + request)
            correct += bool(np.allclose(clients[index].predict(x).raw, model.predict_plain(x), atol=ATOL))
        return correct

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8), timeout=300))
    assert results == [25] * 8
    after = _predict_counts(a) + _predict_counts(b), _predict_counts(b)
    assert after[0] - before[0] == 200  # every request answered once, none lost or repeated
    # Both replicas took a share (pick_first would send all 200 to one). Not an even split: round_robin
    # picks among READY subchannels, and a replica whose connection comes up late takes fewer.
    served_by_b = after[1] - before[1]
    assert 10 <= served_by_b <= 190, served_by_b
    for client in clients:
        client.close()


def test_server_killed_mid_request_then_retry_goes_to_the_other_replica(servers, model_dir):
    a, b = servers["a"], servers["b"]
    model = hm.load(model_dir)
    client = hm.RemoteClient([a.grpc_address, b.grpc_address], "scores", timeout=30)
    for seed in range(4):  # both replicas hold the context and connections are up
        client.predict(features(2, seed))
    os.kill(b.process.pid, signal.SIGSTOP)  # B takes requests into its socket but answers none
    xs = [features(3, 10 + i) for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(client.predict, x) for x in xs]
        time.sleep(1.0)  # round robin has sent half of them to B
        b.process.kill()
        outcomes = []
        for future in pending:
            try:
                outcomes.append(future.result(timeout=30))
            except ServerUnavailable as e:
                outcomes.append(e)
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, ServerUnavailable)]
    assert failed, "no request reached the stopped replica"
    assert all("UNAVAILABLE" in str(outcomes[i]) and "retried" in str(outcomes[i]) for i in failed)
    for i in failed:  # the retries go to A, which answers them
        np.testing.assert_allclose(client.predict(xs[i]).raw, model.predict_plain(xs[i]), atol=ATOL)
    for i, outcome in enumerate(outcomes):
        if i not in failed:
            np.testing.assert_allclose(outcome.raw, model.predict_plain(xs[i]), atol=ATOL)
    client.close()


def test_sigterm_drains_and_exits_cleanly(servers):
    a = servers["a"]
    with hm.RemoteClient(a.grpc_address, "scores") as client:
        done = threading.Event()
        results = []

        def busy():
            while not done.is_set():
                try:
                    results.append(client.predict(features(6)))
                except (RemoteError, ServerUnavailable) as e:
                    results.append(e)
                    return

        thread = threading.Thread(target=busy)
        thread.start()
        time.sleep(1.0)
        assert a.stop(signal.SIGTERM, timeout=30) == 0
        done.set()
        thread.join(timeout=30)
    events = [e["event"] for e in a.events()]
    assert events.index("draining") < events.index("stopped")
    # Every request the server answered (in flight at SIGTERM included) reached the client: none lost.
    answered = [e for e in a.events() if e.get("event") == "request" and e["code"] == "OK"]
    assert answered[-1]["key_id"] == f"{client.client._keys.public.key_id:016x}"
    assert sum(1 for e in answered if e["key_id"] == answered[-1]["key_id"]) == sum(
        1 for r in results if not isinstance(r, Exception))
    # Requests before the drain were answered; the one after (if any) got no answer (UNAVAILABLE, or CANCELLED
    # as the server went away: both say the request may be retried), never a broken or refused one.
    assert any(not isinstance(r, Exception) for r in results)
    failures = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, ServerUnavailable) and r.code in ("UNAVAILABLE", "CANCELLED") for r in failures), [
        (type(r).__name__, r.code, str(r)) for r in failures]
