"""TenSEAL 0.3.18's message formats built from he-tf key sets, without TenSEAL: seeds for the fuzz harness
and the bad-input matrix. A context holds SEAL-serialized encryption parameters and keys, as TenSEAL
writes them; vectors and tensors hold SEAL ciphertexts.
"""

from __future__ import annotations

import struct

from tests.hostile import craft

CKKS = 2


def seal_parms(params, minor: int = 1, primes: list[int] | None = None) -> bytes:
    """SEAL's serialized CKKS EncryptionParameters (uncompressed), SEAL 4.``minor`` headers."""
    from he_tf import _core

    primes = primes or _core.coeff_modulus_primes(*params.as_tuple())

    def modulus(q: int) -> bytes:
        return craft.SEAL_HEADER.pack(
            craft.SEAL_MAGIC, craft.SEAL_HEADER.size, 4, minor, craft.NONE, 0, 24
        ) + struct.pack("<Q", q)

    body = struct.pack("<BQQ", CKKS, params.poly_modulus_degree, len(primes))
    body += b"".join(modulus(q) for q in primes) + modulus(0)
    header = craft.SealHeader(craft.SEAL_MAGIC, craft.SEAL_HEADER.size, 4, minor, craft.NONE, 0, 0)
    return header.pack(size=craft.SEAL_HEADER.size + len(body)) + body


def key_blobs(keys) -> dict[str, bytes]:
    """The SEAL objects of an he-tf key set: public, relinearization, Galois (b'' if none) and secret key."""
    public = keys.public.serialize()
    pk, rk, *gk = [public[b.start : b.end] for b in craft.blobs(public)]
    secret = keys.secret.serialize()
    sk = secret[craft.blobs(secret)[0].start : craft.blobs(secret)[0].end]
    return {"public_key": pk, "relin_keys": rk, "galois_keys": gk[0] if gk else b"", "secret_key": sk}


def context(keys, *, secret: bool = False, parms: bytes | None = None, **public_changes) -> bytes:
    """A TenSEALContextProto of ``keys`` (its secret key in the private part if ``secret``)."""
    from he_tf.interop import tenseal
    from he_tf.interop.protobuf_wire import write

    blobs = key_blobs(keys)
    public = {
        "public_key": blobs["public_key"],
        "scale": float(2**keys.public.params.scale_bits),
        "relin_keys": blobs["relin_keys"],
    }
    if blobs["galois_keys"]:
        public["galois_keys"] = blobs["galois_keys"]
    public.update(public_changes)
    message = {
        "encryption_parameters": parms or seal_parms(keys.public.params),
        "public_context": {k: v for k, v in public.items() if v is not None},
    }
    if secret:
        message["private_context"] = {"secret_key": blobs["secret_key"]}
    return write(tenseal.CONTEXT, message)


def vector(x) -> bytes:
    """A CKKSVectorProto of a rank-1 HETensor in one ciphertext."""
    import he_tf
    import numpy as np
    from he_tf.interop import tenseal
    from he_tf.interop.protobuf_wire import write

    strings = np.asarray(he_tf.serialize(x).numpy(), dtype=object).reshape(-1)
    cts = [craft.split_serialized(s)[1] for s in strings]
    return write(tenseal.VECTOR, {"sizes": [x.shape[0]] * len(cts), "ciphertexts": cts, "scale": x.scale})


def tensor(x, batched: bool = True) -> bytes:
    """A CKKSTensorProto of an HETensor: batched (axis 0 in one ciphertext) or one value per ciphertext."""
    import he_tf
    import numpy as np
    from he_tf.interop import tenseal
    from he_tf.interop.protobuf_wire import write

    strings = np.asarray(he_tf.serialize(x).numpy(), dtype=object).reshape(-1)
    cts = [craft.split_serialized(s)[1] for s in strings]
    shape = x.shape.as_list()
    values = {"shape": shape[1:] if batched else shape, "ciphertexts": cts, "scale": x.scale}
    if batched:
        values["batch_size"] = shape[0]
    return write(tenseal.TENSOR, values)
