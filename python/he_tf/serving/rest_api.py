"""TensorFlow Serving's REST API on aiohttp.

- ``POST /v1/models/NAME[/versions/1]:predict`` with ``{"signature_name": ..., "inputs": {"request":
  {"b64": "..."}, "context": {"b64": "..."}}}`` (columnar; ``"inputs": {"b64": ...}`` for the one
  required input) or ``{"instances": [{...}]}`` (one row): ``{"outputs": {"b64": ...}}`` or
  ``{"predictions": [{"b64": ...}]}``, as TF Serving answers. Errors: ``{"error": "...", "code": "..."}``
  with the HTTP status of the gRPC code (400 for INVALID_ARGUMENT).
- ``GET /v1/models/NAME[/versions/1]/metadata``: the signature definitions, as TF Serving gives them.
- ``GET /v1/models/NAME``: the model's status.
- ``GET /metrics``: the counters (Prometheus' text format; no token needed, like health checks).

Bodies are bounded (aiohttp's ``client_max_size``) before they are read, JSON nesting before it is
parsed, and every field checked.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
import ssl
from concurrent import futures

from aiohttp import web
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from he_tf.serving import signatures
from he_tf.serving.errors import InvalidRequest, ModelNotFound, RequestTooLarge, ServingError, Unauthenticated
from he_tf.serving.metrics import CONTENT_TYPE
from he_tf.serving.service import Service

_PATH = re.compile(r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d{1,9}))?(?P<verb>:predict|/metadata)?")
MAX_JSON_CONTAINERS = 16
"""JSON arrays and objects a body may contain (a valid one has at most 4): bounds nesting before parsing."""


def app(service: Service, token: str | None = None, workers: int = 8) -> web.Application:
    """The aiohttp application; the model runs in a thread pool of ``workers``, off the event loop."""
    executor = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rest")
    expected = None if token is None else f"Bearer {token}".encode()

    async def handle(request: web.Request) -> web.Response:
        try:
            if expected is not None and not hmac.compare_digest(
                    request.headers.get("Authorization", "").encode()[:4096], expected):
                raise Unauthenticated("missing or wrong bearer token (header 'Authorization: Bearer TOKEN')")
            match = _PATH.fullmatch(request.path)
            if match is None:
                raise ModelNotFound(f"no such resource: {request.path[:100]}; this server serves "
                                    f"/v1/models/{service.name}[:predict|/metadata]")
            version = None if match["version"] is None else int(match["version"])
            service.check_model(match["name"], version)
            verb, method = match["verb"], request.method
            if verb == ":predict" and method == "POST":
                return await _predict(request, service, executor)
            if verb == "/metadata" and method == "GET":
                return web.json_response(_metadata(service))
            if verb is None and method == "GET":
                return web.json_response({"model_version_status": [{
                    "version": "1", "state": "UNAVAILABLE" if service.draining else "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""}}]})
            raise ModelNotFound(f"{method} {request.path[:100]} is not a method of TF Serving's REST API")
        except ServingError as e:
            return web.json_response({"error": str(e), "code": e.code}, status=e.http_status)

    async def metrics(request: web.Request) -> web.Response:
        body = service.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def close_executor(_: web.Application) -> None:
        executor.shutdown(wait=True)

    application = web.Application(client_max_size=body_limit(service.limits.max_request_bytes))
    application.router.add_get("/metrics", metrics)
    application.router.add_route("*", "/v1/models/{tail:.*}", handle)
    application.on_cleanup.append(close_executor)
    return application


def body_limit(max_request_bytes: int) -> int:
    """Bodies carry base64 (4/3 of the bytes) plus a little JSON; larger ones are refused unread (413)."""
    return max_request_bytes * 4 // 3 + (1 << 16)


async def _predict(request: web.Request, service: Service, executor) -> web.Response:
    deadline = service.deadline()
    refused = None
    try:
        body = await request.read()  # past client_max_size aiohttp stops reading
    except web.HTTPRequestEntityTooLarge:
        body, refused = b"", RequestTooLarge(f"the request body is larger than the "
                                             f"{body_limit(service.limits.max_request_bytes)} bytes accepted "
                                             "(--max-request-bytes, in base64)")
    parsed = {}

    def read() -> tuple[str, dict[str, bytes]]:  # in Service.call, so refusals are counted and logged too
        if refused is not None:
            raise refused
        parsed["signature"], parsed["inputs"], parsed["rows"] = parse_predict(body, service.limits.max_request_bytes)
        return parsed["signature"], parsed["inputs"]

    loop = asyncio.get_running_loop()
    outputs = await loop.run_in_executor(executor, service.call, "rest", read, deadline, request.remote or "")
    encoded = {name: {"b64": base64.b64encode(value).decode()} for name, value in outputs.items()}
    if parsed["rows"]:
        return web.json_response({"predictions": [encoded]})
    return web.json_response({"outputs": next(iter(encoded.values())) if len(encoded) == 1 else encoded})


def parse_predict(body: bytes, max_bytes: int) -> tuple[str, dict[str, bytes], bool]:
    """``(signature, {input: bytes}, row format?)`` from a predict body; :class:`InvalidRequest` if malformed."""
    containers = body.count(b"[") + body.count(b"{")
    if containers > MAX_JSON_CONTAINERS:
        raise InvalidRequest(f"malformed predict body: {containers} JSON arrays/objects, at most "
                             f"{MAX_JSON_CONTAINERS} are accepted")
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise InvalidRequest(f"malformed predict body: {e}") from None
    if not isinstance(document, dict) or not set(document) <= {"signature_name", "inputs", "instances"}:
        raise InvalidRequest("a predict body is a JSON object with 'inputs' (or 'instances') and optionally "
                             "'signature_name'")
    name = document.get("signature_name", "")
    if not isinstance(name, str):
        raise InvalidRequest("'signature_name' must be a string")
    signature = signatures.resolve(name)
    if ("inputs" in document) == ("instances" in document):
        raise InvalidRequest("a predict body has exactly one of 'inputs' (columnar) and 'instances' (rows)")
    rows = "instances" in document
    if rows:
        instances = document["instances"]
        if not isinstance(instances, list) or len(instances) != 1:
            raise InvalidRequest("'instances' must be a list of exactly one row (one request message)")
        values = instances[0]
    else:
        values = document["inputs"]
    if isinstance(values, dict) and set(values) == {"b64"}:  # the one required input, unnamed
        required = signatures.SIGNATURES[signature]["required"]
        if len(required) != 1:
            raise InvalidRequest(f"signature {signature!r} takes named inputs")
        values = {required[0]: values}
    if not isinstance(values, dict):
        raise InvalidRequest("inputs must be an object of named {'b64': ...} values")
    signatures.check_inputs(signature, values)
    return signature, {k: _b64(k, v, max_bytes) for k, v in values.items()}, rows


def _b64(name: str, value: object, max_bytes: int) -> bytes:
    if not isinstance(value, dict) or set(value) != {"b64"} or not isinstance(value["b64"], str):
        raise InvalidRequest(f"input {name!r} must be {{\"b64\": \"<base64 of the bytes>\"}} (a DT_STRING)")
    text = value["b64"]
    if len(text) > (max_bytes + 2) // 3 * 4:
        raise InvalidRequest(f"input {name!r} holds more than {max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidRequest(f"input {name!r} is not valid base64: {e}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _metadata(service: Service) -> dict:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in signatures.signature_defs().items():
        signature_map.signature_def[name].CopyFrom(signature_def)
    return {"model_spec": {"name": service.name, "signature_name": "", "version": "1"},
            "metadata": {"signature_def": json_format.MessageToDict(signature_map)}}


def ssl_context(certificate_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate_file, key_file)
    return context
