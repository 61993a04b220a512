"""RemoteClient: the in-process :class:`he_tf.models.Client` over TF Serving's gRPC API.

::

    client = he_tf.models.RemoteClient("127.0.0.1:8500")       # fetches key requirements, makes keys
    prediction = client.predict(x)                              # the same Prediction as Client.decrypt

The public context travels with the first request, and again whenever a server answers that it does
not hold it (another replica, or evicted): a request never depends on which replica took the last.
Several addresses are balanced by gRPC's own ``round_robin`` policy.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Sequence

import grpc
from numpy.typing import ArrayLike
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from he_tf.models.model import MAX_REQUIREMENTS_BYTES
from he_tf.models.outputs import Prediction
from he_tf.models.serving import Client
from he_tf.serving import signatures
from he_tf.serving.errors import InvalidRequest

MAX_RESPONSE_BYTES = 256 << 20
"""Largest response this client accepts from a server."""


class RemoteError(RuntimeError):
    """A call the server refused or that did not complete; ``code`` is the gRPC status code's name."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ServerUnavailable(RemoteError, ConnectionError):
    """No server answered (down, killed mid-request, draining, unreachable): the request may be retried."""


def _target(address: str | Sequence[str]) -> str:
    """A gRPC target: one ``host:port`` as it is, several IP ``host:port`` as an ipv4:/ipv6: list."""
    if isinstance(address, str):
        return address
    addresses = list(address)
    if not addresses:
        raise ValueError("RemoteClient needs at least one address")
    versions = set()
    for a in addresses:
        host = a.rsplit(":", 1)[0].strip("[]")
        try:
            versions.add(ipaddress.ip_address(host).version)
        except ValueError:
            raise ValueError(f"several addresses must be IP literals (host:port), got {a!r}; for host names "
                             "use one DNS name resolving to every replica") from None
    if len(versions) != 1:
        raise ValueError("several addresses must all be IPv4 or all IPv6")
    return f"ipv{versions.pop()}:{','.join(addresses)}"


class RemoteClient:
    """A data owner calling a model served by ``python -m he_tf serve``.

    Parameters
    ----------
    address:
        ``"host:port"`` (any gRPC target, e.g. ``dns:///name:port`` for replicas behind DNS), or a list
        of IP ``"host:port"`` of replicas, balanced round robin.
    model_name:
        The served model's name (``--model-name``); ``""``: the one model the server serves.
    root_certificates:
        PEM bytes of the certificate authority (or self-signed certificate) to trust: TLS. ``None``: plain.
    server_name:
        The name the server's certificate is for, when it is not the address's host.
    token:
        A bearer token, sent as ``authorization: Bearer TOKEN`` with every call.
    timeout:
        Seconds each call may take (its gRPC deadline).
    """

    def __init__(self, address: str | Sequence[str], model_name: str = "", *, root_certificates: bytes | None = None,
                 server_name: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self.address = address if isinstance(address, str) else ",".join(address)
        self.model_name, self.timeout = model_name, timeout
        options = [("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
                   ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
                   ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]}))]
        if server_name is not None:
            options.append(("grpc.ssl_target_name_override", server_name))
        target = _target(address)
        if root_certificates is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._metadata = () if token is None else (("authorization", f"Bearer {token}"),)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        requirements = self._predict(signatures.KEY_REQUIREMENTS, {})["requirements"]
        if len(requirements) > MAX_REQUIREMENTS_BYTES:
            raise ValueError(f"the server's key requirements take {len(requirements)} bytes")
        self.client = Client.generate(requirements)
        self._send_context = True

    @property
    def traffic(self):
        """Bytes sent and received (:class:`he_tf.models.Traffic`), the public contexts included."""
        return self.client.traffic

    def predict(self, x: ArrayLike, timeout: float | None = None) -> Prediction:
        """Encrypts ``x`` (samples, features), has the server run the model, decrypts the result.

        Raises
        ------
        ServerUnavailable
            If no server answered or the one running the request died: the request can be retried
            (with several addresses, a retry goes to another replica).
        RemoteError
            With ``code`` ``"INVALID_ARGUMENT"`` etc. if the server refused the request.
        """
        request = self.client.encrypt(x)
        inputs = {"request": request}
        if self._send_context:
            inputs["context"] = self.client.send_public_context()
        try:
            outputs = self._predict(signatures.PREDICT, inputs, timeout)
        except RemoteError as e:
            if e.code != "FAILED_PRECONDITION" or "context" in inputs:
                raise
            # This replica does not hold our context (another one took the first request, or evicted it).
            inputs["context"] = self.client.send_public_context()
            outputs = self._predict(signatures.PREDICT, inputs, timeout)
        self._send_context = False
        return self.client.decrypt(outputs["response"])

    def signatures(self) -> dict[str, dict[str, list[str]]]:
        """The served signatures (GetModelMetadata): ``{name: {"inputs": [...], "outputs": [...]}}``."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = self.model_name
        response = self._call(self._stub.GetModelMetadata, request, None)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        if not response.metadata["signature_def"].Unpack(signature_map):
            raise ValueError("the server's metadata holds no SignatureDefMap")
        return {name: {"inputs": sorted(d.inputs), "outputs": sorted(d.outputs)}
                for name, d in signature_map.signature_def.items()}

    def _predict(self, signature: str, inputs: dict[str, bytes], timeout: float | None = None) -> dict[str, bytes]:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = signature
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(signatures.make_tensor(value))
        response = self._call(self._stub.Predict, request, timeout)
        expected = signatures.SIGNATURES[signature]["outputs"]
        if sorted(response.outputs) != sorted(expected):
            raise ValueError(f"the server answered outputs {sorted(response.outputs)[:4]}, expected {list(expected)}")
        try:
            return {name: signatures.read_tensor(name, response.outputs[name], MAX_RESPONSE_BYTES) for name in expected}
        except InvalidRequest as e:
            raise ValueError(f"malformed response from the server: {e}") from None

    def _call(self, method, request, timeout: float | None):
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            code = e.code() if callable(getattr(e, "code", None)) else grpc.StatusCode.UNKNOWN
            message = f"{code.name} from {self.address}: {e.details() if callable(getattr(e, 'details', None)) else e}"
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise ServerUnavailable(message + " (no answer: the request may be retried)", code.name) from None
            raise RemoteError(message, code.name) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
