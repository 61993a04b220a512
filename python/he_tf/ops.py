"""The he-tf TensorFlow op library, loaded once per process.

Each name below is a raw op; the HETensor API in he_tf builds on them and
plans levels and scales. See csrc/tf/*.cc for each op's contract.
"""

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
encrypt_symmetric = _ops.he_encrypt_symmetric
decrypt = _ops.he_decrypt
encode = _ops.he_encode
decode = _ops.he_decode
add = _ops.he_add
sub = _ops.he_sub
multiply = _ops.he_multiply
add_plain = _ops.he_add_plain
sub_plain = _ops.he_sub_plain
multiply_plain = _ops.he_multiply_plain
multiply_constant = _ops.he_multiply_constant
negate = _ops.he_negate
square = _ops.he_square
relinearize = _ops.he_relinearize
rescale = _ops.he_rescale
mod_switch = _ops.he_mod_switch
align = _ops.he_align
rotate = _ops.he_rotate
sum_slots = _ops.he_sum_slots
rerandomize = _ops.he_rerandomize
polyval = _ops.he_polyval
reduce_sum = _ops.he_reduce_sum
matmul_constants = _ops.he_mat_mul_constants
matmul_diagonal = _ops.he_mat_mul_diagonal
block_dense = _ops.he_block_dense
serialize = _ops.he_serialize
deserialize = _ops.he_deserialize
check_level_and_scale = _ops.he_check_level_and_scale
random_ring = _ops.he_random_ring
add_fixed_point = _ops.he_add_fixed_point
encrypt_fixed_point = _ops.he_encrypt_fixed_point
decrypt_fixed_point = _ops.he_decrypt_fixed_point
generate_keys = _ops.he_generate_keys
