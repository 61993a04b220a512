"""Bad-input cases for he_tf.interop's TenSEAL loaders (tests/hostile/cases.py runs them with the others).

Each crafts TenSEAL-format bytes (tests/hostile/tenseal_bytes.py) from the matrix's key sets and feeds
them to ``context_from_tenseal`` or ``from_tenseal``; every one must be refused with a ValueError.
"""

from __future__ import annotations

import struct
from typing import Callable

import he_tf
import numpy as np

from tests.hostile import craft
from tests.hostile import tenseal_bytes as tb

VECTOR = np.linspace(-1.0, 1.0, 5)


def _interop():
    from he_tf import interop
    from he_tf.interop import protobuf_wire, tenseal

    return interop, protobuf_wire, tenseal


def _context(env, data: bytes):
    interop, _, _ = _interop()
    public, _ = interop.context_from_tenseal(data)
    he_tf.encrypt(public, VECTOR)
    from tests.hostile.cases import Returned

    return Returned(False, "a hostile TenSEAL context was accepted")


def _vector(env, data: bytes, kind: str = "vector"):
    interop, _, _ = _interop()
    public, secret = interop.context_from_tenseal(tb.context(env.keys, secret=True))
    x = interop.from_tenseal(data, public, kind=kind)
    from tests.hostile.cases import _close

    return _close(he_tf.decrypt(secret, x).numpy()[: len(VECTOR)], VECTOR)


def _edited_vector(env, edit: Callable[[bytes], bytes]) -> bytes:
    _, wire, ts = _interop()
    message = wire.parse(tb.vector(he_tf.encrypt(env.keys.public, VECTOR)), ts.VECTOR)
    message["ciphertexts"] = [edit(bytes(c)) for c in message["ciphertexts"]]
    return wire.write(ts.VECTOR, message)


def _is_prime(n: int) -> bool:
    if n < 2 or n % 2 == 0:
        return n == 2
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _other_primes(params) -> list[int]:
    """The parameters' primes with the first replaced by another prime of its size, = 1 mod 2N."""
    from he_tf import _core

    primes = _core.coeff_modulus_primes(*params.as_tuple())
    step = 2 * params.poly_modulus_degree
    q = primes[0] - step
    while not _is_prime(q) or q in primes:
        q -= step
    assert q.bit_length() == primes[0].bit_length()
    return [q, *primes[1:]]


def context_truncated(env):
    data = tb.context(env.keys)
    return _context(env, data[: len(data) // 2])


def context_huge_length(env):
    # field 1 (encryption_parameters) declaring 2^40 bytes in a 7-byte message
    return _context(env, b"\x0a" + bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]))


def context_overlong_varint(env):
    return _context(env, b"\x20" + b"\xff" * 10 + b"\x01")


def context_wrong_wire_type(env):
    _, wire, ts = _interop()
    good = tb.context(env.keys)
    message = wire.parse(good, ts.CONTEXT)
    # public_context (field 2) as a varint instead of a message, the rest unchanged
    return _context(
        env, wire.write(ts.CONTEXT, {"encryption_parameters": message["encryption_parameters"]}) + b"\x10\x05"
    )


def context_galois_bomb(env):
    return _context(env, tb.context(env.keys, galois_keys=craft.bomb(1 << 29, craft.ZSTD)))


def context_foreign_secret_key(env):
    _, wire, ts = _interop()
    message = wire.parse(tb.context(env.keys, secret=True), ts.CONTEXT)
    message["private_context"]["secret_key"] = tb.key_blobs(env.other)["secret_key"]
    return _context(env, wire.write(ts.CONTEXT, message))


def context_other_primes(env):
    parms = tb.seal_parms(env.keys.public.params, primes=_other_primes(env.keys.public.params))
    return _context(env, tb.context(env.keys, parms=parms))


def context_params_rejected(env):
    from he_tf import _core

    primes = _core.coeff_modulus_primes(*env.keys.public.params.as_tuple())
    reordered = [primes[0], primes[2], primes[1]]  # the special prime smaller than another
    return _context(env, tb.context(env.keys, parms=tb.seal_parms(env.keys.public.params, primes=reordered)))


def context_scale_nan(env):
    return _context(env, tb.context(env.keys, scale=float("nan")))


def vector_other_parameters(env):
    other = he_tf.KeySet.generate(he_tf.Params(2048, (27, 27), 20), rotations=None)
    return _vector(env, tb.vector(he_tf.encrypt(other.public, VECTOR)))


def vector_scale_nan(env):
    return _vector(env, _edited_vector(env, lambda s: craft.edit_ciphertext(s, scale=float("nan"))))


def vector_size0(env):
    return _vector(env, _edited_vector(env, craft.empty_ciphertext))


def vector_huge_sizes(env):
    _, wire, ts = _interop()
    message = wire.parse(tb.vector(he_tf.encrypt(env.keys.public, VECTOR)), ts.VECTOR)
    message["sizes"] = [2**32 - 1]
    return _vector(env, wire.write(ts.VECTOR, message))


def vector_many_empty_ciphertexts(env):
    return _vector(env, b"\x0a\x01\x01" + b"\x12\x00" * 500_000)


def tensor_huge_shape(env):
    _, wire, ts = _interop()
    data = tb.tensor(he_tf.encrypt(env.keys.public, VECTOR))
    message = wire.parse(data, ts.TENSOR)
    message["shape"] = [2**31, 2**31, 2**31]
    return _vector(env, wire.write(ts.TENSOR, message), kind="tensor")


def vector_field_as_double(env):
    # sizes (field 1) sent as a fixed64
    return _vector(env, b"\x09" + struct.pack("<d", 5.0))


CASES = {
    "tenseal-context-truncated": (context_truncated, ""),
    "tenseal-context-huge-length": (context_huge_length, "allocates 1 TiB"),
    "tenseal-context-overlong-varint": (context_overlong_varint, ""),
    "tenseal-context-wrong-wire-type": (context_wrong_wire_type, ""),
    "tenseal-context-galois-bomb": (context_galois_bomb, "inflates 512 MiB"),
    "tenseal-context-foreign-secret-key": (context_foreign_secret_key, "another key set's secret key"),
    "tenseal-context-other-primes": (context_other_primes, "keys under primes he-tf does not use"),
    "tenseal-context-params-rejected": (context_params_rejected, ""),
    "tenseal-context-scale-nan": (context_scale_nan, ""),
    "tenseal-vector-other-parameters": (vector_other_parameters, "decrypts to garbage"),
    "tenseal-vector-scale-nan": (vector_scale_nan, "decrypts to NaN"),
    "tenseal-vector-size0": (vector_size0, "SIGSEGV"),
    "tenseal-vector-huge-sizes": (vector_huge_sizes, ""),
    "tenseal-vector-many-empty-ciphertexts": (vector_many_empty_ciphertexts, ""),
    "tenseal-vector-field-as-double": (vector_field_as_double, ""),
    "tenseal-tensor-huge-shape": (tensor_huge_shape, "2^93 ciphertexts claimed"),
}
