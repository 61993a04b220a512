"""TensorFlow Serving's gRPC ``PredictionService`` (Predict, GetModelMetadata) and gRPC health checking.

Classify, Regress and MultiInference answer UNIMPLEMENTED (the generated base class does). With a
bearer token, every call but the health service's must carry ``authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import dataclasses
import hmac
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from he_tf.serving import signatures
from he_tf.serving.errors import InvalidRequest, ServingError
from he_tf.serving.service import Service

SERVICE_NAME = "tensorflow.serving.PredictionService"
_HEALTH_PREFIX = "/grpc.health.v1.Health/"


@dataclasses.dataclass(frozen=True)
class Tls:
    """PEM bytes of the server's private key and certificate chain."""

    key: bytes
    certificate: bytes


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext):  # noqa: N802
        service = self.service
        deadline = service.deadline(context.time_remaining())
        try:
            outputs = service.call("grpc", lambda: read_request(request, service), deadline, context.peer())
        except ServingError as e:
            context.abort(getattr(grpc.StatusCode, e.code), str(e))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = service.name
        response.model_spec.version.value = 1
        response.model_spec.signature_name = signatures.resolve(request.model_spec.signature_name)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(signatures.make_tensor(value))
        return response

    def GetModelMetadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest,  # noqa: N802
                         context: grpc.ServicerContext):
        try:
            spec = request.model_spec
            self.service.check_model(spec.name, spec.version.value if spec.HasField("version") else None)
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise InvalidRequest(f"metadata_field must be ['signature_def'] (the only one TF Serving "
                                     f"defines), got {[f[:40] for f in fields[:4]]}")
        except ServingError as e:
            context.abort(getattr(grpc.StatusCode, e.code), str(e))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.service.name
        response.model_spec.version.value = 1
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in signatures.signature_defs().items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        response.metadata["signature_def"].Pack(signature_map)
        return response


def read_request(request: predict_pb2.PredictRequest, service: Service) -> tuple[str, dict[str, bytes]]:
    """``(signature, {input: bytes})`` of a PredictRequest, every field checked (:class:`ServingError`)."""
    spec = request.model_spec
    service.check_model(spec.name, spec.version.value if spec.HasField("version") else None)
    signature = signatures.resolve(spec.signature_name)
    signatures.check_inputs(signature, request.inputs.keys())
    inputs = {name: signatures.read_tensor(name, proto, service.limits.max_request_bytes)
              for name, proto in request.inputs.items()}
    if set(request.output_filter) - set(signatures.SIGNATURES[signature]["outputs"]):
        raise InvalidRequest(f"output_filter names outputs that signature {signature!r} does not have")
    return signature, inputs


class _BearerToken(grpc.ServerInterceptor):
    """Refuses every call but health checks without the token (compared in constant time)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token "
                          "(metadata 'authorization: Bearer TOKEN')")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, details):
        if details.method.startswith(_HEALTH_PREFIX):
            return continuation(details)
        given = dict(details.invocation_metadata).get("authorization", "")
        if isinstance(given, str) and hmac.compare_digest(given.encode()[:4096], self._expected):
            return continuation(details)
        return self._deny


def build(service: Service, host: str, port: int, *, workers: int = 8, tls: Tls | None = None,
          token: str | None = None) -> tuple[grpc.Server, int, health.HealthServicer]:
    """A started-to-be gRPC server (call ``.start()``), the port it bound and its health servicer."""
    limit = service.limits.max_request_bytes + (1 << 16)  # the message around the payload
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        interceptors=[_BearerToken(token)] if token else [],
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
                 ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=4 * workers,
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(service), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    address = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if tls is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([(tls.key, tls.certificate)]))
    if not bound:
        raise OSError(f"cannot listen for gRPC on {address}")
    return server, bound, health_servicer


def drain(server: grpc.Server, health_servicer: health.HealthServicer, grace: float) -> None:
    """NOT_SERVING to health checks (balancers stop sending), then in-flight calls get ``grace`` seconds."""
    health_servicer.enter_graceful_shutdown()
    server.stop(grace).wait()
