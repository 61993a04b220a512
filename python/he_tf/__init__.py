"""he-tf: Microsoft SEAL's CKKS homomorphic encryption inside TensorFlow.

>>> import he_tf
>>> keys = he_tf.KeySet.generate(he_tf.Params())
>>> x = he_tf.encrypt(keys.public, [1.0, 2.0, 3.0])
>>> he_tf.decrypt(keys.secret, x + x)  # ~ [2.0, 4.0, 6.0]
"""

from he_tf.arithmetic import add
from he_tf.encryption import decrypt, encrypt
from he_tf.keys import KeySet, PublicContext, SecretKey
from he_tf.params import Params
from he_tf.tensor import HETensor

__all__ = ["HETensor", "KeySet", "Params", "PublicContext", "SecretKey", "add", "decrypt", "encrypt"]
__version__ = "0.1.0"
