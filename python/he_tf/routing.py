"""What the op table (``he_tf.optable``) generates: ``he_tf.<op>``, tf.* dispatch, operators, refusals.

An op on private operands runs on their protocol: HETensors go to the op's
CKKS implementation, other protocols' private tensors to the protocol's method
of the op's name. Operands of two protocols in one op are refused (convert one
with ``he_tf.convert``), and so is an op the protocol lacks, naming the
protocols that have it. Any other TensorFlow op that receives a private
tensor raises a TypeError naming the op: nothing is ever revealed silently.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable, List

import tensorflow as tf
from tensorflow.python.util import dispatch as tf_dispatch

from he_tf import optable
from he_tf.protocol import base
from he_tf.protocol.base import PrivateTensor, is_private
from he_tf.tensor import HETensor


def _describe(value) -> str:
    if isinstance(value, HETensor):
        return "a CKKS HETensor"
    return f"a private tensor of {value.protocol!r}"


def _protocol_of_operands(op: str, values):
    """The one protocol the private operands belong to (None for HETensors); raises if they mix."""
    private = [v for v in values if is_private(v)]

    def kind(v):
        return "ckks" if isinstance(v, HETensor) else v.protocol_key

    if len({kind(v) for v in private}) > 1:
        a, b = private[0], next(v for v in private if kind(v) != kind(private[0]))
        raise TypeError(
            f"{op} mixes {_describe(a)} with {_describe(b)}; bring both under one protocol first with "
            "he_tf.convert(x, to=protocol)"
        )
    if not private or isinstance(private[0], HETensor):
        return None
    return private[0].protocol


def _unsupported(op: str, protocol: base.Protocol) -> TypeError:
    targets = base.conversion_targets(protocol)
    having = [cls.__name__ for cls in targets if cls.supports(op)]
    supported = [o.name for o in optable.OPS if protocol.supports(o.name)]
    fix = (f"convert the operands with he_tf.convert(x, to=...) to a protocol that has it: {', '.join(having)}"
           if having else f"no protocol it converts to ({', '.join(c.__name__ for c in targets) or 'none'}) "
           "has it either")
    return TypeError(f"{op} is not supported by the {protocol.name} protocol ({protocol!r}), which supports "
                     f"{', '.join(supported)}; {fix}")


def _not_under_ckks(op: str) -> TypeError:
    having = [cls.__name__ for cls in base.protocol_classes() if cls.supports(op)]
    return TypeError(f"{op} is not supported on encrypted tensors (CKKS HETensors): a ciphertext cannot be "
                     f"compared (CKKS computes polynomials only). Convert the operands to secret sharing "
                     f"first, "
                     f"he_tf.convert(x, to=SecretSharing(players=(key_owner, evaluator))); protocols that "
                     f"have {op}: {', '.join(having) or 'none installed'}")


def call(op: str, *args):
    """Runs ``op`` on its operands' protocol."""
    flat = [v for a in args for v in (a if isinstance(a, (list, tuple)) else [a])]
    protocol = _protocol_of_operands(op, flat)
    if protocol is None:
        ckks = optable.BY_NAME[op].ckks
        if ckks is None:
            raise _not_under_ckks(op)
        return ckks(*args)
    if not protocol.supports(op):
        raise _unsupported(op, protocol)
    return getattr(protocol, op)(*args)


def _function(op: optable.Op) -> Callable:
    """``he_tf.<op>``: the op's signature and the CKKS implementation's docs (else the table's), routed by
    the operands' protocol."""
    signature = op.signature

    def routed(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return call(op.name, *bound.args)

    if op.ckks is not None:
        routed = functools.wraps(op.ckks)(routed)
    else:
        routed.__name__ = routed.__qualname__ = op.name
        routed.__doc__ = f"{op.doc} Not under CKKS: on private tensors of a protocol that computes it."
        routed.__signature__ = signature
    routed.__module__ = "he_tf"
    return routed


FUNCTIONS: dict[str, Callable] = {op.name: _function(op) for op in optable.OPS}


def _handler(op: optable.Op, api: optable.Api) -> Callable:
    """A dispatch target with ``api``'s own signature (TensorFlow checks it) that calls the op."""
    signature = inspect.signature(api.fn)

    def handler(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return call(op.name, *api.op_args(bound.arguments))

    handler.__signature__ = signature
    handler.__name__ = f"{api.fn.__name__}_on_private_tensors"
    return handler


_HANDLERS = [(api, _handler(op, api)) for op in optable.OPS for api in op.apis]
_OP_OF_API = {api.fn: op.name for op in optable.OPS for api in op.apis}


def _dispatch_for(cls: type) -> None:
    """Makes the table's tf.* APIs accept private tensors of ``cls``."""
    for api, handler in _HANDLERS:
        for name in api.private:
            tf.experimental.dispatch_for_api(api.fn, {name: List[cls] if api.listed else cls})(handler)


def _operator(op_name: str, reflected: bool) -> Callable:
    if reflected:
        return lambda self, other: call(op_name, other, self)
    return lambda self, *other: call(op_name, self, *other)


def _install_operators(cls: type) -> None:
    """Python's operators on ``cls``, as TensorFlow's ragged_operators installs them on RaggedTensor."""
    for op in optable.OPS:
        for dunder in op.operators:
            setattr(cls, dunder, _operator(op.name, reflected=dunder.startswith("__r")))


class _RefuseOtherOps(tf_dispatch.GlobalOpDispatcher):
    """Called when a TF op failed on its arguments: explain if one was a private tensor."""

    def handle(self, op, args, kwargs):
        values = tf.nest.flatten((args, kwargs))
        name = getattr(op, "__name__", str(op))
        private = next((v for v in values if is_private(v)), None)
        if private is None:
            return self.NOT_SUPPORTED
        # A table op whose handler refused (TensorFlow's generated ops replace the handler's TypeError by
        # this dispatcher's): the refusal that names the protocols having it.
        table_op = _OP_OF_API.get(op)
        if table_op is not None and isinstance(private, HETensor) and optable.BY_NAME[table_op].ckks is None:
            raise _not_under_ckks(table_op)
        if table_op is not None and not isinstance(private, HETensor) and \
                not private.protocol.supports(table_op):
            raise _unsupported(table_op, private.protocol)
        if isinstance(private, HETensor):
            raise TypeError(
                f"{name} is not supported on encrypted tensors (HETensor): he-tf computes "
                f"{', '.join(o.name for o in optable.OPS if o.ckks is not None)} on ciphertexts. Other "
                "non-polynomial functions need the key owner: decrypt first, approximate the function with "
                "tf.math.polyval, or convert to secret sharing (he_tf.convert(x, to=SecretSharing(...))), "
                f"which computes {', '.join(o.name for o in optable.OPS if o.ckks is None)} exactly."
            )
        protocol = private.protocol
        supported = [o.name for o in optable.OPS if protocol.supports(o.name)]
        raise TypeError(
            f"{name} is not supported on private tensors of the {protocol.name} protocol, which computes "
            f"{', '.join(supported)}; reveal the value with he_tf.define_output first"
        )


_install_operators(HETensor)
_install_operators(PrivateTensor)
_RefuseOtherOps().register()
base.on_tensor_type(_dispatch_for)
