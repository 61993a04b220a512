"""he-tf: Microsoft SEAL's CKKS homomorphic encryption inside TensorFlow.

>>> import he_tf
>>> keys = he_tf.KeySet.generate(he_tf.Params())
>>> x = he_tf.encrypt(keys.public, [1.0, 2.0, 3.0])
>>> he_tf.decrypt(keys.secret, x + x)  # ~ [2.0, 4.0, 6.0]
"""

from he_tf import approx  # noqa: F401
from he_tf import dispatch as _dispatch  # noqa: F401  (registers the TF API handlers)
from he_tf.encryption import decrypt, encrypt
from he_tf.keys import KeySet, PublicContext, SecretKey
from he_tf.params import Params
from he_tf.tensor import HETensor

from he_tf.private import (  # the HETensor functions, also taking other protocols' private tensors
    add, concat, gather, matmul, multiply, negative, polyval, reduce_sum, reshape, roll, square, stack, subtract,
    transpose,
)
from he_tf.serialization import deserialize, serialize
from he_tf import protocol  # noqa: E402  (builds on everything above)
from he_tf.protocol import (
    ClusterConfig, LocalConfig, convert, define_output, define_private_input, define_private_variable, get_config,
    get_protocol, set_config, set_protocol,
)

__all__ = [
    "ClusterConfig", "HETensor", "KeySet", "LocalConfig", "Params", "PublicContext", "SecretKey",
    "add", "concat", "convert", "decrypt", "define_output", "define_private_input", "define_private_variable",
    "deserialize", "encrypt", "gather", "get_config", "get_protocol", "matmul", "multiply", "negative", "polyval",
    "protocol", "reduce_sum", "reshape", "roll", "serialize", "set_config", "set_protocol", "square", "stack",
    "subtract", "transpose",
]
__version__ = "0.1.0"
