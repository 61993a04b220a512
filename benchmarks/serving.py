"""The network service against the in-process ``models.Server`` on the same requests.

Clients with their own key sets encrypt their requests once, up front; the same request bytes then go

- to ``models.Server.handle`` in this process (the baseline: no network, no serving layer), and
- to ``python -m he_tf serve`` on loopback, over gRPC (``Predict``) and over REST (``:predict``),

each one at a time (latency) and from several threads at once (throughput). Every response is
decrypted and checked against the model's float64 result. Bytes are the messages each way: the wire
messages in process, the serialized ``PredictRequest``/``PredictResponse`` over gRPC, the JSON bodies
over REST (base64); each client's public context, sent once, is counted apart. Run from the
repository root::

    python -m benchmarks.serving     # about 2 minutes; writes benchmarks/results/serving.{json,md}
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks import machine, result_files
from benchmarks.servers import ROOT

FEATURES, SAMPLES = 30, 64
ATOL = 1e-4


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _run(mode: str, calls: list, threads: int) -> dict:
    """Runs every call (a function returning the bytes it moved and whether its result was right)."""
    latencies, moved, correct = [], [], 0

    def timed(call):
        start = time.perf_counter()
        result = call()
        return time.perf_counter() - start, result

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for seconds, (bytes_moved, ok) in pool.map(timed, calls):
            latencies.append(seconds)
            moved.append(bytes_moved)
            correct += ok
    wall = time.perf_counter() - start
    return {"mode": mode, "threads": threads, "requests": len(calls), "correct": correct,
            "throughput_rps": len(calls) / wall, "p50_ms": 1e3 * _percentile(latencies, 50),
            "p99_ms": 1e3 * _percentile(latencies, 99), "bytes_per_request": float(np.mean(moved))}


class _ServeProcess:
    def __init__(self, model_dir: Path, concurrency: int) -> None:
        self._log = tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "he_tf", "serve", str(model_dir), "--port", "0", "--rest-port", "0",
             "--concurrency", str(concurrency)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._log)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            for line in Path(self._log.name).read_text(errors="replace").splitlines():
                if '"ready"' in line:
                    self.ready = json.loads(line)
                    return
            if self.process.poll() is not None:
                raise RuntimeError(Path(self._log.name).read_text())
            time.sleep(0.2)
        raise TimeoutError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        os.unlink(self._log.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=20, help="per client")
    parser.add_argument("--threads", type=int, default=4, help="concurrent callers in the throughput runs")
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    import he_tf
    import he_tf.models as hm
    from he_tf.serving import signatures

    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    model = hm.from_weights(rng.normal(size=(FEATURES, 1)) / np.sqrt(FEATURES), [0.1], "sigmoid",
                            feature_range=(-3, 3), name="bench")
    folder = Path(tempfile.mkdtemp())
    model.save(folder / "bench")
    clients = [hm.Client.generate(model.key_requirements()) for _ in range(args.clients)]
    servers = [hm.Server(c.public_context, model) for c in clients]
    xs = [[rng.uniform(-3, 3, size=(SAMPLES, FEATURES)) for _ in range(args.requests)] for _ in clients]
    requests = [[c.encrypt(x) for x in client_xs] for c, client_xs in zip(clients, xs)]
    work = [(i, j) for j in range(args.requests) for i in range(args.clients)]  # clients interleaved

    def check(i: int, j: int, response: bytes) -> bool:
        return bool(np.allclose(clients[i].decrypt(response).raw, model.predict_plain(xs[i][j]), atol=ATOL))

    def in_process(i: int, j: int):
        response = servers[i].handle(requests[i][j])
        return len(requests[i][j]) + len(response), check(i, j, response)

    serve = _ServeProcess(folder / "bench", concurrency=os.cpu_count() or 1)
    channel = grpc.insecure_channel(f"127.0.0.1:{serve.ready['grpc_port']}",
                                    options=[("grpc.max_send_message_length", 1 << 28),
                                             ("grpc.max_receive_message_length", 1 << 28)])
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    rest_url = f"http://127.0.0.1:{serve.ready['rest_port']}/v1/models/bench:predict"

    def grpc_message(i: int, j: int, with_context: bool) -> predict_pb2.PredictRequest:
        message = predict_pb2.PredictRequest()
        message.model_spec.name = "bench"
        message.inputs["request"].CopyFrom(signatures.make_tensor(requests[i][j]))
        if with_context:
            message.inputs["context"].CopyFrom(signatures.make_tensor(clients[i].public_context))
        return message

    def over_grpc(i: int, j: int):
        message = grpc_message(i, j, False)
        response = stub.Predict(message, timeout=60)
        return message.ByteSize() + response.ByteSize(), check(i, j, response.outputs["response"].string_val[0])

    def over_rest(i: int, j: int):
        body = json.dumps({"inputs": {"request": {"b64": base64.b64encode(requests[i][j]).decode()}}}).encode()
        with urllib.request.urlopen(urllib.request.Request(rest_url, data=body), timeout=60) as r:
            answer = r.read()
        return len(body) + len(answer), check(i, j, base64.b64decode(json.loads(answer)["outputs"]["b64"]))

    try:
        context_bytes = []
        for i in range(args.clients):  # each context once (the first request), and every trace warmed up
            message = grpc_message(i, 0, True)
            stub.Predict(message, timeout=60)
            context_bytes.append(len(clients[i].public_context))
            in_process(i, 0)
        over_rest(0, 0)
        rows = []
        for threads in (1, args.threads):
            for mode, call in (("in-process models.Server", in_process), ("gRPC (python -m he_tf serve)", over_grpc),
                               ("REST (python -m he_tf serve)", over_rest)):
                rows.append(_run(mode, [lambda i=i, j=j, call=call: call(i, j) for i, j in work], threads))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        channel.close()
        serve.stop()
    base = {r["threads"]: r for r in rows if r["mode"].startswith("in-process")}
    for r in rows:
        b = base[r["threads"]]
        r["throughput_vs_in_process"] = r["throughput_rps"] / b["throughput_rps"]
        r["p50_vs_in_process"] = r["p50_ms"] / b["p50_ms"]
        r["bytes_vs_in_process"] = r["bytes_per_request"] / b["bytes_per_request"]
    import aiohttp
    import grpc as grpc_module

    described = machine.describe({"bench": {"he_tf": he_tf.__version__, "tensorflow": tf.__version__}})
    described["versions"].update(grpcio=grpc_module.__version__, aiohttp=aiohttp.__version__)
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": described,
              "model": {"features": FEATURES, "samples_per_request": SAMPLES, "params": str(model.params),
                        "layout": model.layout},
              "clients": args.clients, "requests_per_client": args.requests,
              "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
              "context_bytes_once_per_client": int(np.mean(context_bytes)), "rows": rows}
    v = described["versions"]
    lines = [
        "# Serving: `python -m he_tf serve` vs the in-process models.Server", "",
        f"{result['date']}; {described['cpu']}, {described['cpus']} CPUs, {described['memory_gib']} GiB; "
        f"{described['os']}; Python {v['python']}, TensorFlow {v.get('tensorflow')}, he-tf {v.get('he_tf')}, "
        f"grpcio {v['grpcio']}, aiohttp {v['aiohttp']}; commit {described['commit']}", "",
        f"Logistic regression, {FEATURES} features, {SAMPLES} samples per request (batch layout, "
        f"{model.params}); {args.clients} clients with their own key sets x {args.requests} requests, the "
        "same request bytes in every mode, every response decrypted and checked. Server and clients share "
        f"the machine's cores (loopback). Each client's public context "
        f"({result['context_bytes_once_per_client']} bytes) is sent once, with its first request, outside "
        f"the timed runs. 1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (the "
        "cores are shared: ratios measured in the same run are the numbers to read).", "",
        "| mode | callers | requests/s | p50 ms | p99 ms | bytes/request | throughput vs in-process | "
        "bytes vs in-process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ] + [f"| {r['mode']} | {r['threads']} | {r['throughput_rps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
         f"{r['bytes_per_request']:.0f} | {r['throughput_vs_in_process']:.2f}x | {r['bytes_vs_in_process']:.3f}x |"
         for r in rows]
    assert all(r["correct"] == r["requests"] for r in rows), "a response decrypted wrong"
    result_files.write(Path(args.output_dir), "serving", result, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
