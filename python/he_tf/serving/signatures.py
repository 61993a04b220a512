"""The served signatures and the rules for their tensors: one DT_STRING scalar per input and output.

=====================  ==========================================  ==========================
signature              inputs                                      outputs
=====================  ==========================================  ==========================
``predict``            ``request``: the wire message of            ``response``: the wire
(= ``serving_default``) ``Client.encrypt``; ``context`` (optional):   message the client
                       the public context, cached per key set      decrypts
``key_requirements``   none                                        ``requirements``: JSON
=====================  ==========================================  ==========================

Every tensor from a client is checked here before its bytes go anywhere: the dtype must be DT_STRING,
the shape a scalar or ``[1]``, exactly one string, no ``tensor_content``, and the input names those of
the signature.
"""

from __future__ import annotations

from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from he_tf.serving.errors import InvalidRequest

PREDICT, KEY_REQUIREMENTS = "predict", "key_requirements"
DEFAULT = "serving_default"  # TF Serving's name for a signature not named in the request
METHOD = "tensorflow/serving/predict"
SIGNATURES = {
    PREDICT: {"inputs": ("request", "context"), "required": ("request",), "outputs": ("response",)},
    KEY_REQUIREMENTS: {"inputs": (), "required": (), "outputs": ("requirements",)},
}
MAX_INPUTS = 2


def resolve(name: str) -> str:
    """The signature a request names ('' and ``serving_default`` are ``predict``)."""
    name = name or DEFAULT
    name = PREDICT if name == DEFAULT else name
    if name not in SIGNATURES:
        raise InvalidRequest(f"unknown signature {name[:80]!r}; this model serves "
                             f"{', '.join(sorted(SIGNATURES))} ({DEFAULT} is {PREDICT})")
    return name


def check_inputs(signature: str, names) -> None:
    """The input names must be the signature's, with every required one present."""
    spec = SIGNATURES[signature]
    names = list(names)
    unknown = [n for n in names if n not in spec["inputs"]]
    if len(names) > MAX_INPUTS or unknown:
        raise InvalidRequest(f"signature {signature!r} takes inputs {list(spec['inputs'])}, got "
                             f"{[n[:40] for n in names[:MAX_INPUTS + 1]]}")
    missing = [n for n in spec["required"] if n not in names]
    if missing:
        raise InvalidRequest(f"signature {signature!r} needs input(s) {missing}")


def read_tensor(name: str, proto: tensor_pb2.TensorProto, max_bytes: int) -> bytes:
    """The one string a DT_STRING scalar (or ``[1]``) TensorProto holds, at most ``max_bytes`` long."""
    if proto.dtype != types_pb2.DT_STRING:
        raise InvalidRequest(f"input {name!r} must be DT_STRING, got {types_pb2.DataType.Name(proto.dtype)}"
                             if proto.dtype in types_pb2.DataType.values() else
                             f"input {name!r} must be DT_STRING, got dtype {proto.dtype}")
    dims = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or dims not in ([], [1]):
        raise InvalidRequest(f"input {name!r} must be a scalar (or of shape [1]): one serialized message, "
                             f"got shape {dims[:8]}{'...' if len(dims) > 8 else ''}")
    if proto.tensor_content or len(proto.string_val) != 1:
        raise InvalidRequest(f"input {name!r} must hold exactly one string in string_val, got "
                             f"{len(proto.string_val)}{' and tensor_content' if proto.tensor_content else ''}")
    value = proto.string_val[0]
    if len(value) > max_bytes:
        raise InvalidRequest(f"input {name!r} holds {len(value)} bytes, at most {max_bytes} are accepted")
    return value


def make_tensor(value: bytes) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                  string_val=[value])


def signature_defs() -> dict[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs GetModelMetadata reports (``serving_default`` as an alias of ``predict``)."""
    def info(name: str) -> meta_graph_pb2.TensorInfo:
        return meta_graph_pb2.TensorInfo(name=name, dtype=types_pb2.DT_STRING,
                                         tensor_shape=tensor_shape_pb2.TensorShapeProto())

    defs = {}
    for name, spec in SIGNATURES.items():
        defs[name] = meta_graph_pb2.SignatureDef(
            inputs={n: info(n) for n in spec["inputs"]}, outputs={n: info(n) for n in spec["outputs"]},
            method_name=METHOD)
    defs[DEFAULT] = defs[PREDICT]
    return defs
