"""TenSEAL (0.3.18, SEAL 4.1) contexts and CKKS vectors/tensors to and from he-tf, without re-encryption.

TenSEAL objects are duck-typed (anything with ``.serialize()``); TenSEAL itself is never imported.
Every byte is hostile: TenSEAL's protobuf messages are read by the bounded reader in
:mod:`he_tf.interop.protobuf_wire`, and every SEAL object in them goes through he-tf's validating
loaders (``csrc/core/seal_load.cc``) before SEAL sees it. See docs/tenseal.md.
"""

from __future__ import annotations

import math
import weakref
import zlib

import numpy as np
import tensorflow as tf

from he_tf import _core, levels, ops, packing
from he_tf.interop.protobuf_wire import Field, ProtobufError, Schema, parse, write
from he_tf.keys import PublicContext, SecretKey
from he_tf.params import Params
from he_tf.serialization import deserialize, serialize
from he_tf.tensor import HETensor

# Field numbers of TenSEAL 0.3.18's tenseal/proto/tensealcontext.proto and tensors.proto.
PRIVATE = Schema(
    "TenSEALPrivateProto",
    {
        1: Field("secret_key", "bytes"),
        2: Field("relin_keys_generated", "bool"),
        3: Field("galois_keys_generated", "bool"),
    },
)
PUBLIC = Schema(
    "TenSEALPublicProto",
    {
        1: Field("public_key", "bytes"),
        2: Field("auto_flags", "uint32"),
        3: Field("scale", "double"),
        4: Field("relin_keys", "bytes"),
        5: Field("galois_keys", "bytes"),
    },
)
CONTEXT = Schema(
    "TenSEALContextProto",
    {
        1: Field("encryption_parameters", "bytes"),
        2: Field("public_context", PUBLIC),
        3: Field("private_context", PRIVATE),
        4: Field("encryption_type", "uint32"),
    },
)
MAX_TENSOR_RANK = 16
MAX_CHUNKS = 2**16  # a CKKSVector's ciphertexts: 2^16 chunks of 512 slots (N=1024) is 33M values
MIN_CIPHERTEXT_BYTES = 64  # a SEAL header and a ciphertext's metadata, before any coefficient
VECTOR = Schema(
    "CKKSVectorProto",
    {
        1: Field("sizes", "uint32", repeated=True, max_items=MAX_CHUNKS),
        2: Field("ciphertexts", "bytes", repeated=True, max_items=MAX_CHUNKS, min_bytes=MIN_CIPHERTEXT_BYTES),
        3: Field("scale", "double"),
    },
)
TENSOR = Schema(
    "CKKSTensorProto",
    {
        1: Field("shape", "uint32", repeated=True, max_items=MAX_TENSOR_RANK),
        2: Field("ciphertexts", "bytes", repeated=True, min_bytes=MIN_CIPHERTEXT_BYTES),
        3: Field("scale", "double"),
        4: Field("batch_size", "uint32"),
    },
)
SYMMETRIC = 1  # TenSEAL's encryption_type::symmetric
KINDS = ("vector", "tensor")


class TenSEALFormatError(ValueError):
    """TenSEAL bytes that he-tf refuses: malformed, or what he-tf cannot represent (the message says)."""


def _bytes_of(obj, what: str, **serialize_kwargs) -> bytes:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if not callable(getattr(obj, "serialize", None)):
        raise TypeError(
            f"expected {what} (an object with .serialize()) or its serialized bytes, got {type(obj).__name__}"
        )
    data = obj.serialize(**serialize_kwargs)
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"{type(obj).__name__}.serialize() returned {type(data).__name__}, not bytes")
    return bytes(data)


def _parse(data: bytes, schema: Schema) -> dict:
    try:
        return parse(data, schema)
    except ProtobufError as e:
        raise TenSEALFormatError(f"not a valid TenSEAL message: {e}") from None


# ---- contexts --------------------------------------------------------------------------------------


def _context_bytes(context) -> bytes:
    # A TenSEAL Context serializes without its secret key unless asked; ask where it holds one.
    private = getattr(context, "is_private", None)
    kwargs = {"save_secret_key": True} if callable(private) and private() else {}
    return _bytes_of(context, "a TenSEAL context", **kwargs)


def _public_part(message: dict) -> tuple[Params, dict]:
    """The context's parameters (checked against he-tf's rules) and its public members."""
    if message.get("encryption_type", 0) == SYMMETRIC:
        raise TenSEALFormatError(
            "a symmetric TenSEAL context (ENCRYPTION_TYPE.SYMMETRIC) has no public key, which he-tf's "
            "key-set id "
            "and encryption need; create the context with the default ENCRYPTION_TYPE.ASYMMETRIC"
        )
    if "encryption_parameters" not in message or "public_context" not in message:
        raise TenSEALFormatError("the TenSEAL context has no encryption parameters or no public part")
    public = message["public_context"]
    scale = public.get("scale", -1.0)
    scale_bits = math.log2(scale) if math.isfinite(scale) and scale > 1 else None
    if scale_bits is None or scale_bits != int(scale_bits):
        raise TenSEALFormatError(
            f"the TenSEAL context's global scale is {scale!r}; he-tf's scales are powers of two: set "
            "context.global_scale = 2**40 (or another power of two below the first prime) before serializing"
        )
    try:
        n, bits, scale_bits = _core.params_from_seal(bytes(message["encryption_parameters"]), int(scale_bits))
    except ValueError as e:
        raise TenSEALFormatError(f"he-tf cannot use the TenSEAL context's parameters: {e}") from None
    return Params(n, tuple(bits), scale_bits), public


def _adopt(message: dict, with_secret: bool) -> tuple[PublicContext, SecretKey | None]:
    """he-tf's containers of the context's keys. A TenSEAL context with its secret key may store only flags
    saying it had relinearization / Galois keys (TenSEAL makes them again on load); he-tf does the same."""
    params, public = _public_part(message)
    private = message.get("private_context", {}) if with_secret else {}
    secret = bytes(private.get("secret_key", b""))
    if not public.get("relin_keys") and not (secret and private.get("relin_keys_generated")):
        if message.get("private_context", {}).get("relin_keys_generated"):
            raise TenSEALFormatError(
                "this private TenSEAL context keeps its relinearization keys only as a flag beside its "
                "secret "
                "key; pass the PublicContext from context_from_tenseal, or the public TenSEAL context "
                "(ctx.serialize())"
            )
        raise TenSEALFormatError(
            "the TenSEAL context holds no relinearization keys, which every he-tf context carries "
            "(ciphertext "
            "products need them): serialize it with save_relin_keys=True"
        )
    try:
        public_bytes, secret_bytes = _core.adopt_keys(
            params.poly_modulus_degree,
            list(params.coeff_mod_bit_sizes),
            params.scale_bits,
            bytes(public.get("public_key", b"")),
            bytes(public.get("relin_keys", b"")),
            bytes(public.get("galois_keys", b"")),
            secret,
            make_relin=bool(private.get("relin_keys_generated")),
            make_galois=bool(private.get("galois_keys_generated")),
        )
    except ValueError as e:
        raise TenSEALFormatError(f"he-tf refused the TenSEAL context's keys: {e}") from None
    return PublicContext(public_bytes), None if secret_bytes is None else SecretKey(secret_bytes)


def context_from_tenseal(context) -> tuple[PublicContext, SecretKey | None]:
    """(PublicContext, SecretKey or None): the keys of a TenSEAL context (``tenseal.Context`` or its bytes).

    The SecretKey is returned only where the context holds one; it is never part of the PublicContext.
    Without Galois keys in the TenSEAL context (``context.generate_galois_keys()``), every op that
    rotates slots fails naming the missing key: ``roll`` on the packed axis, ``reduce_sum`` over it
    (dot products), matmuls over it.
    """
    return _adopt(_parse(_context_bytes(context), CONTEXT), with_secret=True)


def _public(context) -> PublicContext:
    if isinstance(context, PublicContext):
        return context
    if isinstance(context, SecretKey):
        raise TypeError("pass the PublicContext (or the TenSEAL context), not the SecretKey")
    return _adopt(_parse(_bytes_of(context, "a TenSEAL context"), CONTEXT), with_secret=False)[0]


# ---- ciphertexts from TenSEAL ---------------------------------------------------------------------

_LOADED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loaded(public: PublicContext):
    """The context as the ``_core`` loaders take it, parsed once per PublicContext."""
    if public not in _LOADED:
        _LOADED[public] = _core.load_public_context(public.serialize())
    return _LOADED[public]


def _kind_of(obj, kind: str | None) -> str:
    if kind is None:
        name = type(obj).__name__
        kind = {"CKKSVector": "vector", "CKKSTensor": "tensor"}.get(name)
        if kind is None:
            raise TypeError(
                f"cannot tell whether {name} is a CKKSVector or a CKKSTensor (their bytes look "
                "alike): pass kind='vector' or kind='tensor'"
            )
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def _tenseal_chunks(length: int, slots: int) -> list[int]:
    return [slots] * ((length - 1) // slots) + [length - slots * ((length - 1) // slots)]


def _he_tf_chunks(length: int, slots: int) -> list[int]:
    chunks, n = packing.chunking(length, slots)
    return [n] * (chunks - 1) + [length - n * (chunks - 1)]


def _layout(kind: str, message: dict, slots: int) -> dict:
    """Where the ciphertexts go: the HETensor's shape, grid, packed axis, values per ciphertext and whether
    TenSEAL filled the other slots."""
    cts = message["ciphertexts"]
    if not cts:
        raise TenSEALFormatError(f"the TenSEAL {kind} holds no ciphertexts")
    if kind == "vector":
        sizes = message["sizes"]
        if len(sizes) != len(cts) or any(s < 1 or s > slots for s in sizes):
            raise TenSEALFormatError(
                f"the CKKSVector's chunk sizes {sizes[:8]} do not give one size in [1, {slots}] per "
                f"ciphertext "
                f"({len(cts)} ciphertexts)"
            )
        length = sum(sizes)
        if sizes != _tenseal_chunks(length, slots) or sizes != _he_tf_chunks(length, slots):
            raise TenSEALFormatError(
                f"he-tf cannot represent the CKKSVector's chunking {sizes[:8]}: it spreads {length} values "
                f"evenly over ciphertexts ({_he_tf_chunks(length, slots)[:8]}); split the vector into "
                f"vectors of "
                f"at most {slots} values, or of a multiple of {slots}"
            )
        # TenSEAL encrypts a vector cyclically repeated over all slots (CKKSVector::encrypt replicates it).
        return dict(shape=[length], grid=[len(cts)], packed_axis=0, per_ciphertext=sizes[0], replicated=True)
    shape, batch = message["shape"], message.get("batch_size", 0)
    if len(shape) > MAX_TENSOR_RANK or any(d < 1 for d in shape):
        raise TenSEALFormatError(
            f"the CKKSTensor's shape {shape[: MAX_TENSOR_RANK + 1]} is not one of positive "
            f"dimensions and rank at most {MAX_TENSOR_RANK}"
        )
    if math.prod(shape) != len(cts):
        raise TenSEALFormatError(
            f"the CKKSTensor's shape {shape} needs {math.prod(shape)} ciphertexts, it holds {len(cts)}"
        )
    if batch == 0:  # one value per ciphertext, encoded by TenSEAL in every slot
        return dict(shape=list(shape), grid=list(shape), packed_axis=None, per_ciphertext=1, replicated=True)
    if batch > slots:
        raise TenSEALFormatError(
            f"the CKKSTensor's batch of {batch} does not fit the {slots} slots of one ciphertext"
        )
    # A batch is encoded as it is: SEAL's encoder zero-pads it.
    return dict(
        shape=[batch, *shape], grid=[1, *shape], packed_axis=0, per_ciphertext=batch, replicated=False
    )


def from_tenseal(
    vector_or_tensor, context, *, kind: str | None = None, clear_slots: bool | None = None
) -> HETensor:
    """An HETensor holding a TenSEAL CKKSVector's or CKKSTensor's ciphertexts, as they are.

    ``context``: the :class:`~he_tf.PublicContext` from :func:`context_from_tenseal` (parsed once), or the
    TenSEAL context / its bytes. ``kind`` ("vector" or "tensor") is needed for bytes.

    he-tf keeps every slot past a ciphertext's values zero; TenSEAL does not: a CKKSVector holds its values
    repeated cyclically over all slots, a non-batched CKKSTensor each value in every slot. Those slots are
    cleared by a product with a 0/1 mask (one plaintext product per ciphertext, rescaled: one level). A
    batched CKKSTensor is zero-padded by SEAL's encoder and kept as it is; ``clear_slots=True`` clears it
    too (for one whose slots TenSEAL filled, which its CKKSTensor operations do not do).
    """
    kind = _kind_of(vector_or_tensor, kind)
    public = _public(context)
    data = _bytes_of(vector_or_tensor, f"a TenSEAL CKKS{kind.capitalize()}")
    message = _parse(data, VECTOR if kind == "vector" else TENSOR)
    params = public.params
    layout = _layout(kind, message, params.slot_count)
    if layout["replicated"] and clear_slots is False:
        what = (
            "CKKSVector repeats its values"
            if kind == "vector"
            else "non-batched CKKSTensor repeats each value"
        )
        raise ValueError(
            f"a TenSEAL {what} over every slot; he-tf clears the slots past the values (one level), "
            "clear_slots cannot be False"
        )
    clear = layout["replicated"] or bool(clear_slots)

    loaded = _loaded(public)
    found = set()
    for i, ct in enumerate(message["ciphertexts"]):
        try:
            level, scale, size = _core.load_ciphertext(loaded, bytes(ct))
        except ValueError as e:
            raise TenSEALFormatError(f"ciphertext {i} of the TenSEAL {kind}: {e}") from None
        if size != 2:
            raise TenSEALFormatError(
                f"ciphertext {i} has {size} polynomials; relinearize it in TenSEAL first"
            )
        found.add((level, scale))
    if len(found) != 1:
        raise TenSEALFormatError(
            f"the TenSEAL {kind}'s ciphertexts are at different levels or scales {sorted(found)[:4]}"
        )
    level, scale = found.pop()
    key_id = public.key_id.to_bytes(8, "little")
    strings = [key_id + bytes(ct) + zlib.crc32(ct).to_bytes(4, "little") for ct in message["ciphertexts"]]
    grid = layout["grid"]
    spec = HETensor.Spec(
        ciphertexts=tf.TensorSpec(grid, tf.variant),
        context=tf.TensorSpec([], tf.variant),
        shape=tf.TensorShape(layout["shape"]),
        dtype=tf.float64,
        layout="batch",
        packed_axis=layout["packed_axis"],
        level=level,
        scale=scale,
        params=params.as_tuple(),
    )
    x = deserialize(public, tf.reshape(tf.constant(strings, tf.string), grid), spec)
    return _clear_slots(x, layout["per_ciphertext"]) if clear else x


def _clear_slots(x: HETensor, per_ciphertext: int) -> HETensor:
    """``x`` times 1 in its used slots and 0 elsewhere (a plaintext product, rescaled: one level)."""
    levels.require_levels(x, 1, "clearing the slots past a TenSEAL ciphertext's values")
    mask = tf.ones(x.ciphertexts.shape.as_list() + [per_ciphertext], tf.float64)
    return x.with_ciphertexts(ops.multiply_plain(x.context, x.ciphertexts, mask), level=x.level - 1)


# ---- ciphertexts to TenSEAL -----------------------------------------------------------------------


def _seal_minor_version(seal_object) -> int:
    """The SEAL 4 minor version in a SEAL object's header (magic 0xA15E, header size 16, major, minor)."""
    header = bytes(seal_object[:5])
    if len(header) < 5 or header[:3] != b"\x5e\xa1\x10" or header[3] != 4:
        raise TenSEALFormatError(
            "the TenSEAL context's encryption parameters do not start with a SEAL 4 header"
        )
    return header[4]


def to_tenseal(x: HETensor, tenseal_context, *, kind: str | None = None) -> bytes:
    """The serialized TenSEAL CKKSVector (or CKKSTensor) of ``x``.

    Load it with ``ts.ckks_vector_from(ctx, data)`` (``ts.ckks_tensor_from``). ``x`` must be under the
    TenSEAL context's key set (its parameters and public key).

    ``kind`` defaults to "vector" for rank 0 and 1, else "tensor". A vector is ``x`` of rank 1 packed on
    axis 0 (in one ciphertext, or in chunks of exactly the slot count), or of rank 0; a tensor is batched
    (axis 0 packed in one ciphertext, ``layout="batch"``) or, after a sum over the packed axis, one value per
    ciphertext.
    """
    if not isinstance(x, HETensor):
        raise TypeError(f"to_tenseal takes an HETensor, got {type(x).__name__}")
    message = _parse(_bytes_of(tenseal_context, "a TenSEAL context"), CONTEXT)
    params, _ = _public_part(message)
    if params.as_tuple() != x.params:
        raise ValueError(f"the HETensor was made with {x.he_params}, the TenSEAL context has {params}")
    try:
        key_id = _core.adopted_key_id(
            *params.as_tuple(), bytes(message["public_context"].get("public_key", b""))
        )
    except ValueError as e:
        raise TenSEALFormatError(f"he-tf refused the TenSEAL context's public key: {e}") from None
    kind = kind or ("vector" if x.rank <= 1 else "tensor")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    strings = np.asarray(serialize(x).numpy(), dtype=object).reshape(-1)
    ids = {bytes(s[:8]) for s in strings}
    if ids != {key_id.to_bytes(8, "little")}:
        raise ValueError(
            "the HETensor's ciphertexts are not under the TenSEAL context's key set (another public "
            "key): TenSEAL could not decrypt them"
        )
    # TenSEAL's SEAL reads only its own SEAL 4 minor version: the one its context's objects carry.
    minor = _seal_minor_version(message["encryption_parameters"])
    cts = [_core.ciphertext_for_seal_version(*params.as_tuple(), bytes(s[8:-4]), minor) for s in strings]
    slots = params.slot_count
    if kind == "vector":
        if x.packed_axis is None and x.rank <= 1 and len(cts) == 1:
            sizes = [1] * len(cts)
        elif x.rank == 1 and x.packed_axis == 0:
            sizes = _he_tf_chunks(x.shape[0], slots)
            if sizes != _tenseal_chunks(x.shape[0], slots):
                raise ValueError(
                    f"TenSEAL cannot represent the chunking {sizes[:8]} of {x.shape[0]} values: its vectors "
                    f"fill "
                    f"each ciphertext's {slots} slots; use at most {slots} values, or a multiple of {slots}"
                )
        else:
            raise ValueError(
                f"a CKKSVector is one-dimensional: the HETensor has shape {x.shape.as_list()}, "
                f"packed axis {x.packed_axis}; use kind='tensor'"
            )
        return write(VECTOR, {"sizes": sizes, "ciphertexts": cts, "scale": x.scale})
    if x.packed_axis is None:
        return write(TENSOR, {"shape": x.shape.as_list(), "ciphertexts": cts, "scale": x.scale})
    if x.packed_axis != 0 or x.ciphertexts.shape[0] != 1:
        raise ValueError(
            f"a batched CKKSTensor packs axis 0 into one ciphertext: the HETensor of shape "
            f"{x.shape.as_list()} packs axis {x.packed_axis} into {x.ciphertexts.shape[x.packed_axis]}; "
            f"encrypt with layout='batch' and at "
            f"most {slots} rows"
        )
    return write(
        TENSOR,
        {"shape": x.shape.as_list()[1:], "ciphertexts": cts, "scale": x.scale, "batch_size": x.shape[0]},
    )
