"""Ciphertexts and keys of other SEAL applications, used as they are (no re-encryption).

``he_tf.interop.from_tenseal``, ``to_tenseal`` and ``context_from_tenseal``: TenSEAL 0.3.18 (docs/tenseal.md).
"""

from he_tf.interop.protobuf_wire import ProtobufError
from he_tf.interop.tenseal import TenSEALFormatError, context_from_tenseal, from_tenseal, to_tenseal

__all__ = ["ProtobufError", "TenSEALFormatError", "context_from_tenseal", "from_tenseal", "to_tenseal"]
