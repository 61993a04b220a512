"""he-tf: Microsoft SEAL's CKKS homomorphic encryption inside TensorFlow.

>>> import he_tf
>>> keys = he_tf.KeySet.generate(he_tf.Params())
>>> x = he_tf.encrypt(keys.public, [1.0, 2.0, 3.0])
>>> he_tf.decrypt(keys.secret, x + x)  # ~ [2.0, 4.0, 6.0]
"""

from he_tf import _tf_import  # noqa: F401  (first: TensorFlow's start-up lines once)
from he_tf import approx  # noqa: F401
from he_tf.encryption import decrypt, decrypt_parts, encrypt
from he_tf.keys import KeySet, PublicContext, SecretKey
from he_tf.params import Params
from he_tf.tensor import HETensor
from he_tf import routing as _routing  # the op table's functions, tf.* handlers and operators
from he_tf.serialization import deserialize, serialize
from he_tf import protocol  # noqa: E402  (builds on everything above)
from he_tf.protocol import (
    ClusterConfig, LocalConfig, convert, define_output, define_private_input, define_private_variable, get_config,
    get_protocol, set_config, set_protocol,
)

# he_tf.add, he_tf.matmul, ...: one per op of the op table, taking HETensors and other protocols' tensors.
globals().update(_routing.FUNCTIONS)

__all__ = [
    "ClusterConfig", "HETensor", "KeySet", "LocalConfig", "Params", "PublicContext", "SecretKey",
    "convert", "decrypt", "decrypt_parts", "define_output", "define_private_input", "define_private_variable",
    "deserialize", "encrypt", "get_config", "get_protocol", "protocol", "serialize", "set_config", "set_protocol",
    *_routing.FUNCTIONS,
]
__version__ = "0.1.0"

# Subpackages and adapters as attributes on first use (he_tf.interop, he_tf.models, he_tf.numpy, ...), not
# imported here.
_LAZY = ("interop", "models", "numpy", "remote", "serving")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"he_tf.{name}")
    raise AttributeError(f"module 'he_tf' has no attribute {name!r}")
