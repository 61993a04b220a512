"""The he-tf TensorFlow op library, loaded once per process."""

from pathlib import Path

import tensorflow as tf

_LIBRARY = Path(__file__).with_name("_he_tf_ops.so")

if not _LIBRARY.exists():
    raise ImportError(
        f"he-tf's op library is missing ({_LIBRARY}); build it with `pip install --no-build-isolation -e .` "
        "or `make install`"
    )

_ops = tf.load_op_library(str(_LIBRARY))

public_context = _ops.he_public_context
secret_key = _ops.he_secret_key
encrypt = _ops.he_encrypt
decrypt = _ops.he_decrypt
add = _ops.he_add
