"""``python -m he_tf serve MODEL_DIR``: the command line (gRPC and the server are imported only to run)."""

from __future__ import annotations

import argparse
import os
import sys

DESCRIPTION = """\
Serves an encrypted model saved with EncryptedModel.save over TensorFlow Serving's
gRPC PredictionService (Predict, GetModelMetadata; gRPC health checking) and its REST
API (/v1/models/NAME:predict, /v1/models/NAME/metadata, /metrics). The server holds
only public contexts: clients (he_tf.models.RemoteClient) encrypt, send their public
context once with a request, and decrypt the response. Logs are JSON lines on stderr;
SIGTERM drains: health turns NOT_SERVING, in-flight requests finish (--drain-seconds),
then the process exits. See docs/serving.md.
"""

TOKEN_ENV = "HE_TF_SERVING_TOKEN"


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    try:
        value = int(text[:-1]) * units[text[-1].lower()] if text[-1:].lower() in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (bytes, or with k, m, g)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 (any free one) to 65535, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def add_parser(commands) -> None:
    p = commands.add_parser("serve", help="serve a saved encrypted model over TF Serving's gRPC and REST API",
                            description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="MODEL_DIR", help="a directory written by EncryptedModel.save")
    p.add_argument("--model-name", default=None, help="the name clients use (default: the directory's name)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface)")
    p.add_argument("--port", type=_port, default=8500, help="gRPC port (default 8500, TF Serving's; 0: any)")
    p.add_argument("--rest-port", type=_port, default=8501,
                   help="REST port (default 8501, TF Serving's; 0: any free one)")
    p.add_argument("--tls-cert", metavar="PEM", help="certificate chain: serve TLS on both ports")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"require 'authorization: Bearer TOKEN' with the token in FILE (or in ${TOKEN_ENV}); "
                   "health checks and /metrics need none")
    p.add_argument("--max-request-bytes", type=_size, default="64m",
                   help="largest request (a public context must fit; default 64m)")
    p.add_argument("--context-cache-bytes", type=_size, default="1g",
                   help="serialized public contexts kept, least recently used out first (default 1g)")
    p.add_argument("--timeout", type=_positive_float, default=30.0,
                   help="seconds a request may take unless its gRPC deadline is sooner (default 30)")
    p.add_argument("--concurrency", type=_count, default=max(1, os.cpu_count() or 1),
                   help="requests running the model at once (default: the number of cores)")
    p.add_argument("--workers", type=_count, default=8, help="threads taking requests, per API (default 8)")
    p.add_argument("--drain-seconds", type=_positive_float, default=10.0,
                   help="on SIGTERM, how long in-flight requests may take to finish (default 10)")
    p.add_argument("--flood-bits", type=int, default=None,
                   help="noise flooding of every response (he_tf.models.Server's flood_bits)")


def main(args: argparse.Namespace) -> int:
    try:
        import aiohttp, grpc, grpc_health, prometheus_client, tensorflow_serving  # noqa: E401, F401
    except ModuleNotFoundError as e:
        print(f"error: python -m he_tf serve needs {e.name}: pip install 'he-tf[serving]'", file=sys.stderr)
        return 2
    from he_tf.serving import server

    if (args.tls_cert is None) != (args.tls_key is None):
        print("error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    return server.run(server.Options(
        path=args.path, model_name=args.model_name, host=args.host, port=args.port, rest_port=args.rest_port,
        tls_cert=args.tls_cert, tls_key=args.tls_key, token_file=args.token_file,
        max_request_bytes=args.max_request_bytes, context_cache_bytes=args.context_cache_bytes,
        timeout=args.timeout, concurrency=args.concurrency, workers=args.workers,
        drain_seconds=args.drain_seconds, flood_bits=args.flood_bits))
