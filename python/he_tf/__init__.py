"""he-tf: Microsoft SEAL's CKKS homomorphic encryption inside TensorFlow.

>>> import he_tf
>>> keys = he_tf.KeySet.generate(he_tf.Params())
>>> x = he_tf.encrypt(keys.public, [1.0, 2.0, 3.0])
>>> he_tf.decrypt(keys.secret, x + x)  # ~ [2.0, 4.0, 6.0]
"""

from he_tf import approx  # noqa: F401
from he_tf import dispatch as _dispatch  # noqa: F401  (registers the TF API handlers)
from he_tf.arithmetic import add, matmul, multiply, negative, polyval, reduce_sum, roll, square, subtract
from he_tf.encryption import decrypt, encrypt
from he_tf.keys import KeySet, PublicContext, SecretKey
from he_tf.params import Params
from he_tf.tensor import HETensor

from he_tf.manipulation import concat, gather, reshape, stack, transpose
from he_tf.serialization import deserialize, serialize

__all__ = [
    "HETensor", "KeySet", "Params", "PublicContext", "SecretKey",
    "add", "concat", "decrypt", "deserialize", "encrypt", "gather", "matmul", "multiply", "negative", "polyval",
    "reduce_sum", "reshape", "roll", "serialize", "square", "stack", "subtract", "transpose",
]
__version__ = "0.1.0"
