"""The bad-input matrix: each case crafts one hostile input from real objects and feeds it to one API.

A case either raises (the runner records the exception) or returns a :class:`Returned` saying whether
the result it got is the correct one. Which exception families are acceptable, and whether returning
a (correct) result is acceptable at all, is part of each case's definition (:data:`CASES`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

import he_tf
from he_tf import ops
from he_tf.models import Dense, Square, wire
from tests.hostile import craft, tenseal_cases

# Small parameters: depth 1 at N=4096 (106 of the 109 modulus bits allowed), values up to 2^7.
PARAMS = he_tf.Params(4096, (38, 30, 38), 30)
ATOL = 1e-3
X = np.linspace(-2.0, 2.0, 12).reshape(4, 3)  # batch layout: 3 ciphertexts of 4 values each
BOMB_BYTES = 1 << 29  # what a zstd bomb inflates to: 512 MiB from 16 KiB (SEAL then holds about 4.7 GB)
ZLIB_BOMB_BYTES = 1 << 26  # 64 MiB from 64 KiB: zlib's ratio is ~1000:1 and crafting it costs time
DECLARED_WORDS = 1 << 27  # words a size-0 ciphertext / 0-coefficient plaintext declares: 1 GiB
VALUE = ("ValueError",)
OP_ERROR = ("ValueError", "InvalidArgumentError")


@dataclasses.dataclass(frozen=True)
class Returned:
    """What a case got back when the API did not raise."""

    correct: bool
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Env], Returned]
    expect: tuple[str, ...]  # exception families a clean refusal may raise
    may_return: bool = False  # whether a correct result is an acceptable outcome
    defect: str = ""  # what the input does to unprotected code


@dataclasses.dataclass
class Env:
    """The key sets every case reuses, loaded from files the matrix wrote once."""

    keys: he_tf.KeySet  # the key set under attack (a Galois key for step 1)
    other: he_tf.KeySet  # another key set, same parameters

    @classmethod
    def load(cls, folder: Path) -> Env:
        def keyset(name: str) -> he_tf.KeySet:
            return he_tf.KeySet(
                he_tf.PublicContext.deserialize((folder / f"{name}.pub").read_bytes()),
                he_tf.SecretKey.deserialize((folder / f"{name}.sec").read_bytes()),
            )

        return cls(keyset("a"), keyset("b"))


def write_keys(folder: Path) -> None:
    """The key sets :meth:`Env.load` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("a", "b"):
        keys = he_tf.KeySet.generate(PARAMS, rotations=[1])
        (folder / f"{name}.pub").write_bytes(keys.public.serialize())
        (folder / f"{name}.sec").write_bytes(keys.secret.serialize())


def warm_up(env: Env) -> None:
    """Runs each kind of op once, so lazy initialisation is not counted as a case's memory."""
    x = he_tf.encrypt(env.keys.public, X)
    y = he_tf.deserialize(env.keys.public, he_tf.serialize(x + 1.0), tf.type_spec_from_value(x))
    tf.io.parse_tensor(tf.io.serialize_tensor(y.ciphertexts), tf.variant)
    he_tf.decrypt(env.keys.secret, tf.math.polyval([1.0, 0.5], y)).numpy()


# ---------------------------------------------------------------------------------------------------
# Helpers


def _close(got, expected) -> Returned:
    got = np.asarray(got, dtype=np.float64)
    ok = (
        got.shape == np.shape(expected)
        and bool(np.all(np.isfinite(got)))
        and np.allclose(got, expected, atol=ATOL)
    )
    return Returned(ok, "" if ok else f"got {np.ravel(got)[:4]}..., expected {np.ravel(expected)[:4]}...")


def _variant(x: he_tf.HETensor) -> bytes:
    return tf.io.serialize_tensor(x.ciphertexts).numpy()


def _parsed(x: he_tf.HETensor, data: bytes) -> he_tf.HETensor:
    cts = tf.ensure_shape(tf.io.parse_tensor(data, tf.variant), x.ciphertexts.shape)
    return x.with_ciphertexts(cts)


def _crafted_variant(env: Env, edit: Callable[[bytes], bytes], secret: bool = False) -> he_tf.HETensor:
    """X encrypted, its variant encoding edited (every ciphertext), parsed back."""
    x = he_tf.encrypt(env.keys.public, X, secret=env.keys.secret if secret else None)
    return _parsed(x, craft.edit_variant(_variant(x), edit))


def _crafted_deserialized(env: Env, edit: Callable[[bytes], bytes]) -> he_tf.HETensor:
    """X encrypted and serialized, each string's SEAL bytes edited (checksum made right), deserialized."""
    x = he_tf.encrypt(env.keys.public, X)
    strings = [craft.edit_serialized(s, edit) for s in he_tf.serialize(x).numpy().ravel()]
    data = tf.reshape(tf.constant(strings, tf.string), x.ciphertexts.shape)
    return he_tf.deserialize(env.keys.public, data, tf.type_spec_from_value(x))


def _residues_deserialized(env: Env, edit: Callable[[bytes], bytes], secret: bool = True) -> Returned:
    """X encrypted (seeded), residue-encoded, each string edited (checksum made right), deserialized, + 1."""
    x = he_tf.encrypt(env.keys.public, X, secret=env.keys.secret if secret else None)
    strings = [craft.edit_serialized(s, edit) for s in he_tf.serialize(x, encoding="residues").numpy().ravel()]
    data = tf.reshape(tf.constant(strings, tf.string), x.ciphertexts.shape)
    return _add_one(env, he_tf.deserialize(env.keys.public, data, tf.type_spec_from_value(x)))


def _decrypt(env: Env, x: he_tf.HETensor, expected) -> Returned:
    return _close(he_tf.decrypt(env.keys.secret, x).numpy(), expected)


def _add_one(env: Env, x: he_tf.HETensor) -> Returned:
    return _decrypt(env, x + 1.0, X + 1.0)


def _polyval(env: Env, x: he_tf.HETensor) -> Returned:
    return _decrypt(env, tf.math.polyval([0.5, 1.0], x), 0.5 * X + 1.0)


def _server(env: Env) -> he_tf.models.Server:
    model = he_tf.models.from_weights(np.array([[1.0], [-0.5], [0.25]]), [0.5])
    return he_tf.models.Server(env.keys.public, model)


def _request(env: Env) -> bytes:
    x = he_tf.encrypt(env.keys.public, X, secret=env.keys.secret)
    return wire.encode("request", x, env.keys.public.key_id)


def _handle(env: Env, request: bytes) -> Returned:
    server = _server(env)
    response = server.handle(request)
    message = wire.decode(response, env.keys.public, expect="response")
    return _close(he_tf.decrypt(env.keys.secret, message.tensor).numpy(), server.model.predict_plain(X))


def _size0(seal_bytes: bytes) -> bytes:
    return craft.empty_ciphertext(seal_bytes)


def _declares_words(seal_bytes: bytes) -> bytes:
    return craft.empty_ciphertext(seal_bytes, DECLARED_WORDS)


def _zstd_bomb(seal_bytes: bytes) -> bytes:
    return craft.bomb(BOMB_BYTES, craft.ZSTD, like=seal_bytes)


def _with_scale(scale: float) -> Callable[[bytes], bytes]:
    return lambda seal_bytes: craft.edit_ciphertext(seal_bytes, scale=scale)


# ---------------------------------------------------------------------------------------------------
# Crashes: a size-0 ciphertext (113 bytes) loads and the first op dereferences its missing polynomials


def size0_add(env: Env) -> Returned:
    return _add_one(env, _crafted_variant(env, _size0))


def size0_polyval(env: Env) -> Returned:
    return _polyval(env, _crafted_variant(env, _size0))


def size0_decrypt(env: Env) -> Returned:
    return _decrypt(env, _crafted_variant(env, _size0), X)


def size0_deserialize_add(env: Env) -> Returned:
    return _add_one(env, _crafted_deserialized(env, _size0))


def size0_convert(env: Env) -> Returned:
    from he_tf.protocol import CKKS, SecretSharing

    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    ckks = CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(2), rotations=None)
    ss = SecretSharing(players=("server", "client"), dealer="dealer")
    x = ckks.define_private_input("client", lambda: X)
    hostile = _parsed(x, craft.edit_variant(_variant(x), _size0))
    return _close(ss.reveal(he_tf.convert(hostile, to=ss), "client"), X)


def size0_server(env: Env) -> Returned:
    request = _request(env)
    strings = [craft.edit_serialized(s, _size0) for s in craft.wire_strings(request)]
    return _handle(env, craft.wire_with_strings(request, strings))


# ---------------------------------------------------------------------------------------------------
# Memory: decompression bombs and DynArrays whose declared size SEAL does not bound


def zstd_bomb_deserialize(env: Env) -> Returned:
    return _add_one(env, _crafted_deserialized(env, _zstd_bomb))


def zstd_bomb_undeclared_deserialize(env: Env) -> Returned:
    return _add_one(
        env,
        _crafted_deserialized(env, lambda b: craft.bomb(BOMB_BYTES, craft.ZSTD, declare_size=False, like=b)),
    )


def zlib_bomb_deserialize(env: Env) -> Returned:
    return _add_one(env, _crafted_deserialized(env, lambda b: craft.bomb(ZLIB_BOMB_BYTES, craft.ZLIB, like=b)))


def zstd_bomb_variant(env: Env) -> Returned:
    return _add_one(env, _crafted_variant(env, _zstd_bomb))


def _public_blob(env: Env, index: int, edit: Callable[[bytes], bytes]) -> bytes:
    data = env.keys.public.serialize()
    b = craft.blobs(data)[index]
    return craft.replace_blob(data, index, edit(data[b.start : b.end]))


def _secret_blob(env: Env, edit: Callable[[bytes], bytes]) -> bytes:
    data = env.keys.secret.serialize()
    (b,) = craft.blobs(data)
    return craft.replace_blob(data, 0, edit(data[b.start : b.end]))


def _load_public(env: Env, data: bytes) -> Returned:
    public = he_tf.PublicContext.deserialize(data)
    return _roundtrip(env, public, env.keys.secret)


def _load_secret(env: Env, data: bytes) -> Returned:
    secret = he_tf.SecretKey.deserialize(data)
    return _roundtrip(env, env.keys.public, secret)


def zstd_bomb_public_key(env: Env) -> Returned:
    return _load_public(env, _public_blob(env, 0, _zstd_bomb))


def zstd_bomb_relin_keys(env: Env) -> Returned:
    return _load_public(env, _public_blob(env, 1, _zstd_bomb))


def zstd_bomb_secret_key(env: Env) -> Returned:
    return _load_secret(env, _secret_blob(env, _zstd_bomb))


def zstd_bomb_server(env: Env) -> Returned:
    request = _request(env)
    strings = [craft.edit_serialized(s, _zstd_bomb) for s in craft.wire_strings(request)]
    return _handle(env, craft.wire_with_strings(request, strings))


def declared_words_variant(env: Env) -> Returned:
    return _add_one(env, _crafted_variant(env, _declares_words))


def declared_words_deserialize(env: Env) -> Returned:
    return _add_one(env, _crafted_deserialized(env, _declares_words))


def declared_words_plaintext(env: Env) -> Returned:
    values = X.T  # one plaintext per row
    plains = ops.encode(env.keys.public.tensor, values, tf.constant(2.0**30, tf.float64), level=1)
    data = craft.edit_variant(
        tf.io.serialize_tensor(plains).numpy(), lambda b: craft.empty_plaintext(b, DECLARED_WORDS)
    )
    parsed = tf.io.parse_tensor(data, tf.variant)
    return _close(ops.decode(env.keys.public.tensor, parsed, num_values=values.shape[1]).numpy(), values)


def declared_words_secret_key(env: Env) -> Returned:
    return _load_secret(env, _secret_blob(env, lambda b: craft.empty_plaintext(b, DECLARED_WORDS)))


def declared_words_public_key(env: Env) -> Returned:
    return _load_public(env, _public_blob(env, 0, _declares_words))


def _corrupt_zstd(seal_bytes: bytes) -> bytes:
    """``seal_bytes`` (zstd-compressed) with the reserved bit of the frame header set: a decoding error."""
    at = craft.SEAL_HEADER.size + 4  # the Frame_Header_Descriptor, after the frame's magic number
    assert craft.SealHeader.read(seal_bytes).compression == craft.ZSTD
    return seal_bytes[:at] + bytes([seal_bytes[at] | 0x08]) + seal_bytes[at + 1 :]


def _refused_every_time(load: Callable[[], object], repeats: int) -> Returned:
    """``load()`` ``repeats`` times, each refused; memory left behind accumulates into the RSS peak."""
    for i in range(repeats):
        try:
            load()
        except (ValueError, tf.errors.InvalidArgumentError):
            continue
        return Returned(False, f"attempt {i} was accepted")
    return Returned(True, f"{repeats} refusals")


def zstd_error_repeated_deserialize(env: Env) -> Returned:
    """A ciphertext whose zstd frame is corrupted (its CRC-32 made right), refused 5000 times."""
    x = he_tf.encrypt(env.keys.public, X[:, :1])
    data = tf.reshape(craft.edit_serialized(he_tf.serialize(x).numpy().ravel()[0], _corrupt_zstd), [1, 1])
    spec = tf.type_spec_from_value(x)
    return _refused_every_time(lambda: he_tf.deserialize(env.keys.public, data, spec), 5000)


def zstd_error_repeated_secret_key(env: Env) -> Returned:
    """A secret key whose zstd frame is corrupted, refused 1000 times."""
    data = _secret_blob(env, _corrupt_zstd)
    return _refused_every_time(lambda: he_tf.SecretKey.deserialize(data), 1000)


def residues_above_prime(env: Env) -> Returned:
    """A residue-encoded ciphertext whose first residue is its prime (SEAL would reduce nothing)."""
    q0 = PARAMS.primes[0]
    return _residues_deserialized(env, lambda b: craft.residue_first_word(b, q0, q0.bit_length()))


def residues_truncated(env: Env) -> Returned:
    """A residue-encoded ciphertext one byte short."""
    return _residues_deserialized(env, lambda b: b[:-1])


def residues_more_polys(env: Env) -> Returned:
    """A residue-encoded public-key ciphertext (2 polynomials) whose prefix claims 3 and their words."""
    def edit(b: bytes) -> bytes:
        words = 3 * PARAMS.poly_modulus_degree * (len(PARAMS.coeff_mod_bit_sizes) - 1)
        b = craft.residue_prefix_field(craft.residue_prefix_field(b, 49, 3), 105, words)
        return craft.residue_prefix_field(b, 8, 113 + 8 * words)
    return _residues_deserialized(env, edit, secret=False)


def residues_size_lie(env: Env) -> Returned:
    """A residue-encoded ciphertext whose SEAL header declares 2^40 bytes."""
    return _residues_deserialized(env, lambda b: craft.residue_prefix_field(b, 8, 1 << 40))


def wire_huge_grid(env: Env) -> Returned:
    """2^27 x 3 samples: a grid of 65536 x 3 ciphertexts, all of length 0 (an empty body)."""
    request = craft.wire_huge_shape(_request(env), 1 << 27, PARAMS.slot_count)
    wire.decode(request, env.keys.public, expect="request")
    return Returned(False, "a request of 2^27 samples with an empty body was accepted")


def wire_block_samples_server(env: Env) -> Returned:
    """A valid request of 4 samples whose meta claims blocks of 3 samples (not a divisor of 4)."""
    return _handle(env, craft.wire_with_meta(_request(env), samples=3))


def wire_block_huge_samples_server(env: Env) -> Returned:
    """A valid request whose meta claims 2^31 samples per block."""
    return _handle(env, craft.wire_with_meta(_request(env), samples=1 << 31))


def wire_block_outputs_client(env: Env) -> Returned:
    """A valid response whose meta claims 2^31 outputs packed in blocks of 4 samples."""
    response = craft.wire_with_meta(_server(env).handle(_request(env)), samples=4, outputs=1 << 31)
    he_tf.models.Client(env.keys).decrypt(response)
    return Returned(False, "decrypted a response whose packing cannot hold its outputs")


def wire_folded_rows_server(env: Env) -> Returned:
    """A valid request of 4 rows whose meta claims 3 samples folded two per slot (they take 2 rows)."""
    return _handle(env, craft.wire_with_meta(_request(env), folded=3))


def wire_folded_huge_server(env: Env) -> Returned:
    """A valid request whose meta claims 2^31 samples folded two per slot."""
    return _handle(env, craft.wire_with_meta(_request(env), folded=1 << 31))


def wire_folded_nonlinear_server(env: Env) -> Returned:
    """A folded request (two samples per slot, rows consistent) to a model with a square: it would mix them."""
    model = he_tf.models.from_steps([Dense(np.eye(3), np.zeros(3)), Square()])
    keys = he_tf.KeySet.generate(model.params)  # depth 2
    x = he_tf.encrypt(keys.public, X, secret=keys.secret, imag=X)
    request = wire.encode("request", x, keys.public.key_id, {"folded": 8})
    he_tf.models.Server(keys.public, model).handle(request)
    return Returned(False, "a model with a square served a complex-packed request")


def wire_folded_client(env: Env) -> Returned:
    """A valid response whose meta claims 2^31 samples folded into its 4 rows."""
    response = craft.wire_with_meta(_server(env).handle(_request(env)), folded=1 << 31)
    he_tf.models.Client(env.keys).decrypt(response)
    return Returned(False, "decrypted a response whose rows cannot hold its folded samples")


def wire_huge_shape_server(env: Env) -> Returned:
    """A valid request of 4 x 3 samples (3 ciphertexts) whose header claims 2^27 x 3."""
    return _handle(env, craft.wire_with_shape(_request(env), [1 << 27, 3]))


# ---------------------------------------------------------------------------------------------------
# Silent corruption


def _roundtrip(env: Env, public: he_tf.PublicContext, secret: he_tf.SecretKey) -> Returned:
    """Encrypts X under ``public`` and checks that x*x + x (the relinearization keys) and x rolled by one
    (the Galois key) decrypt right with ``secret``."""
    x = he_tf.encrypt(public, X)
    products = _close(he_tf.decrypt(secret, x * x + x).numpy(), X * X + X)
    if not products.correct:
        return products
    slots = np.linspace(-1.0, 1.0, PARAMS.slot_count)[None]
    rotated = ops.rotate(public.tensor, ops.encrypt(public.tensor, slots), steps=1)
    return _close(
        ops.decrypt(public.tensor, secret.tensor, rotated, num_values=slots.shape[1]).numpy(),
        np.roll(slots, -1, axis=1),
    )


def _must_work(check: Callable[[], Returned]) -> None:
    """A case's own check on valid inputs: any failure is the case's bug (AssertionError), not a refusal."""
    try:
        result = check()
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"the check fails on valid inputs: {type(e).__name__}: {e}") from None
    assert result.correct, f"the check fails on valid inputs: {result.detail}"


def _bit_positions(data: bytes, count: int) -> list[int]:
    """``count`` bits spread evenly over ``data``, plus every bit of its first 64 bytes' odd bytes."""
    spread = [int(i * (8 * len(data) - 1) / (count - 1)) for i in range(count)]
    head = [8 * i + (i % 8) for i in range(1, 64, 2)]
    return sorted(set(spread + head))


def _every_flip(env: Env, data: bytes, load: Callable[[bytes], Returned]) -> Returned:
    """Each single-bit flip refused (an acceptable exception) or giving correct results."""
    _must_work(lambda: _roundtrip(env, env.keys.public, env.keys.secret))
    bits = _bit_positions(data, 48)
    accepted, wrong = 0, []
    for bit in bits:
        try:
            result = load(craft.flip_bit(data, bit))
        except (ValueError, tf.errors.InvalidArgumentError):
            continue
        accepted += 1
        if not result.correct:
            wrong.append(f"byte {bit // 8} bit {bit % 8}: {result.detail}")
    summary = f"{accepted} of {len(bits)} single-bit flips accepted, {len(wrong)} with wrong results"
    return Returned(not wrong, summary + (f"; first: {wrong[0]}" if wrong else ""))


def public_context_bit_flips(env: Env) -> Returned:
    return _every_flip(env, env.keys.public.serialize(), lambda d: _load_public(env, d))


def secret_key_bit_flips(env: Env) -> Returned:
    return _every_flip(env, env.keys.secret.serialize(), lambda d: _load_secret(env, d))


def public_context_relabelled(env: Env) -> Returned:
    """The attacked key set's public context claiming the other's id, used with the other's secret key."""
    data = craft.relabel(env.keys.public.serialize(), env.keys.public.key_id, env.other.public.key_id)
    return _roundtrip(env, he_tf.PublicContext.deserialize(data), env.other.secret)


def secret_key_relabelled(env: Env) -> Returned:
    """The other key set's secret key claiming the attacked one's id, decrypting its ciphertexts."""
    data = craft.relabel(env.other.secret.serialize(), env.other.public.key_id, env.keys.public.key_id)
    secret = he_tf.SecretKey.deserialize(data)
    x = he_tf.encrypt(env.keys.public, X)
    return _close(he_tf.decrypt(secret, x).numpy(), X)


def _scale_case(scale: float, entry: str) -> Callable[[Env], Returned]:
    def run(env: Env) -> Returned:
        load = _crafted_variant if entry == "variant" else _crafted_deserialized
        return _decrypt(env, load(env, _with_scale(scale)), X)

    return run


def _encode_with_scale(scale: float) -> Callable[[Env], Returned]:
    def run(env: Env) -> Returned:
        plains = ops.encode(env.keys.public.tensor, X.T, tf.constant(scale, tf.float64), level=1)
        return _close(ops.decode(env.keys.public.tensor, plains, num_values=X.shape[0]).numpy(), X.T)

    return run


def matmul_constants_scale_mismatch(env: Env) -> Returned:
    """[a, b] @ [[1], [1]] with a = 1 at the scale s and b = 1 at the scale 2s (a real ciphertext of 2 at
    s relabelled 2s, so it decrypts to 1): the sum must be 2, or refused."""
    ctx = env.keys.public.tensor
    cts = tf.reshape(ops.encrypt(ctx, tf.constant([[1.0], [2.0]], tf.float64)), [1, 2])
    doubled = lambda b: craft.edit_ciphertext(b, scale=2 * craft.Ciphertext.parse(b).scale)  # noqa: E731
    pair = tf.io.parse_tensor(
        craft.edit_variant(tf.io.serialize_tensor(cts).numpy(), doubled, index=1), tf.variant
    )
    # the crafted operands are what they claim
    _must_work(
        lambda: _close(
            ops.decrypt(ctx, env.keys.secret.tensor, pair, num_values=1).numpy().reshape(-1), [1.0, 1.0]
        )
    )
    out = ops.matmul_constants(ctx, pair, tf.constant([[1.0], [1.0]], tf.float64))
    return _close(ops.decrypt(ctx, env.keys.secret.tensor, out, num_values=1).numpy().reshape(-1), [2.0])


def product_past_modulus(env: Env) -> Returned:
    """x^2 with x = 800 in every slot: 640000 is past the values the default parameters hold (2^19).

    In every slot, so that the polynomial's constant coefficient carries the whole 640000 * scale. The
    model is compiled for the features it will see (``data``): the compiler must refuse it, or choose
    parameters that hold the result."""
    x = np.full((he_tf.Params.for_depth(2).slot_count, 1), 800.0)
    model = he_tf.models.from_steps([he_tf.models.Dense(np.eye(1), np.zeros(1)), he_tf.models.Square()], data=x)
    client = he_tf.models.Client.generate(model.key_requirements())
    server = he_tf.models.Server(client.public_context, model)
    prediction = client.decrypt(server.handle(client.encrypt(x[: model.params.slot_count])))
    got = np.asarray(prediction.outputs)
    ok = np.allclose(got, 640000.0, rtol=1e-4)
    return Returned(bool(ok), "" if ok else f"got {got.ravel()[:3]}, expected 640000")


def features_past_bounds(env: Env) -> Returned:
    """x^2 for a model built for x in [-1, 1]: a client sending 800 (x^2 past the modulus) must be refused
    by the model's feature bounds, not get a wrapped result."""
    square = [he_tf.models.Dense(np.eye(1), np.zeros(1)), he_tf.models.Square()]
    model = he_tf.models.from_steps(square, feature_range=([-1.0], [1.0]))
    client = he_tf.models.Client.generate(model.key_requirements().to_json())
    server = he_tf.models.Server(client.public_context, model)
    got = client.decrypt(server.handle(client.encrypt(np.full((4, 1), 800.0)))).raw
    ok = np.allclose(got, 640000.0, rtol=1e-4)
    return Returned(bool(ok), "" if ok else f"got {got.ravel()[:3]}, expected 640000")


def key_requirements_nested_json(env: Env) -> Returned:
    he_tf.models.KeyRequirements.from_json(b'{"params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    return Returned(False, "nested key requirements were accepted")


def key_requirements_huge_input_shape(env: Env) -> Returned:
    """A server's requirements claiming samples of 2^31 x 2^31 values (for a model of 4 features)."""
    document = json.loads(he_tf.models.from_weights(np.ones((4, 1))).key_requirements().to_json())
    document["input_shape"] = [1 << 31, 1 << 31]
    he_tf.models.KeyRequirements.from_json(json.dumps(document).encode())
    return Returned(False, "an input shape of 2^62 values was accepted")


def key_requirements_complex_vector(env: Env) -> Returned:
    """A server's requirements asking for complex packing (two samples per slot) in the vector layout."""
    document = json.loads(he_tf.models.from_weights(np.ones((4, 1)), layout="vector").key_requirements().to_json())
    document["complex"] = True
    he_tf.models.KeyRequirements.from_json(json.dumps(document).encode())
    return Returned(False, "complex packing in the vector layout was accepted")


def wire_nested_json(env: Env) -> Returned:
    wire.decode(craft.wire_nested_header(_request(env), 100_000), env.keys.public, expect="request")
    return Returned(True, "the nested header was ignored")


# ---------------------------------------------------------------------------------------------------
# The server's front ends (python -m he_tf serve): TF Serving's PredictRequest and REST bodies


def _service(env: Env):
    from he_tf.serving.service import Limits, Service

    model = he_tf.models.from_weights(np.ones((3, 1)), None, params=PARAMS, name="hostile")
    return Service(model, "hostile", Limits(max_request_bytes=1 << 20))


def _grpc_predict(env: Env, edit: Callable) -> Returned:
    """A PredictRequest with the request (and its context) edited by ``edit``, read and run."""
    import time

    from he_tf.serving import grpc_api, signatures
    from tensorflow_serving.apis import predict_pb2

    service = _service(env)
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "predict"
    for name, value in (("request", _request(env)), ("context", env.keys.public.serialize())):
        request.inputs[name].CopyFrom(signatures.make_tensor(value))
    edit(request)
    received = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    response = service.call("grpc", lambda: grpc_api.read_request(received, service), time.monotonic() + 60)["response"]
    message = wire.decode(response, env.keys.public, expect="response")
    return _close(he_tf.decrypt(env.keys.secret, message.tensor).numpy(), X @ np.ones((3, 1)))


def serving_many_strings(env: Env) -> Returned:
    def edit(request):
        request.inputs["request"].string_val.extend([b""] * 200_000)
    return _grpc_predict(env, edit)


def serving_huge_tensor_shape(env: Env) -> Returned:
    def edit(request):
        request.inputs["request"].tensor_shape.dim.add(size=1 << 40)
    return _grpc_predict(env, edit)


def serving_huge_wire_shape(env: Env) -> Returned:
    def edit(request):
        message = request.inputs["request"].string_val[0]
        request.inputs["request"].string_val[0] = craft.wire_huge_shape(message, 1 << 27, PARAMS.slot_count)
    return _grpc_predict(env, edit)


def serving_other_key_set_context(env: Env) -> Returned:
    def edit(request):
        request.inputs["context"].string_val[0] = env.other.public.serialize()
    return _grpc_predict(env, edit)


def serving_rest_nested_json(env: Env) -> Returned:
    from he_tf.serving import rest_api

    rest_api.parse_predict(b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 1 << 20)
    return Returned(False, "a nested body was accepted")


def serving_rest_oversized_base64(env: Env) -> Returned:
    from he_tf.serving import rest_api

    rest_api.parse_predict(b'{"inputs": {"request": {"b64": "' + b"A" * (8 << 20) + b'"}}}', 1 << 20)
    return Returned(False, "an input past the limit was decoded")


# ---------------------------------------------------------------------------------------------------
# Near-valid ciphertexts


def ntt_form_cleared(env: Env) -> Returned:
    return _add_one(env, _crafted_variant(env, lambda b: craft.edit_ciphertext(b, ntt_form=0)))


def _grow_size(size: int) -> Callable[[bytes], bytes]:
    """A ciphertext of ``size`` polynomials: the extra ones zero, so it decrypts to the same values."""

    def edit(seal_bytes: bytes) -> bytes:
        ct = craft.Ciphertext.parse(seal_bytes)
        words = ct.data[craft.DYN_WORDS :]
        extra = (size - ct.size) * ct.poly_modulus_degree * ct.coeff_modulus_size
        return craft.edit_ciphertext(seal_bytes, size=size, data=craft.dynarray(words + bytes(8 * extra)))

    return edit


def size3_multiply(env: Env) -> Returned:
    x = _crafted_variant(env, _grow_size(3))
    return _decrypt(env, x * x, X * X)


def size16_multiply(env: Env) -> Returned:
    x = _crafted_variant(env, _grow_size(16))
    return _decrypt(env, x * x, X * X)


def key_level_add(env: Env) -> Returned:
    """A ciphertext at the key level (the special prime included), which SEAL's loader allows."""
    data = env.keys.public.serialize()
    b = craft.blobs(data)[0]
    public_key = craft.Ciphertext.parse(data[b.start : b.end])
    k = public_key.coeff_modulus_size

    def edit(seal_bytes: bytes) -> bytes:
        ct = craft.Ciphertext.parse(seal_bytes)
        words = 2 * ct.poly_modulus_degree * k
        return craft.edit_ciphertext(
            seal_bytes, parms_id=public_key.parms_id, coeff_modulus_size=k, data=craft.dynarray(words)
        )

    return _add_one(env, _crafted_variant(env, edit))


def truncated_words(env: Env) -> Returned:
    def edit(seal_bytes: bytes) -> bytes:
        ct = craft.Ciphertext.parse(seal_bytes)
        return craft.edit_ciphertext(seal_bytes, data=ct.data[: len(ct.data) // 2])

    return _add_one(env, _crafted_variant(env, edit))


# ---------------------------------------------------------------------------------------------------


NAN, INF, TINY = math.nan, math.inf, 2.0**-1000

CASES: dict[str, Case] = {
    c.name: c
    for c in [
        # crashes
        Case("size0-variant-add", size0_add, OP_ERROR, defect="SIGSEGV in x + 1.0"),
        Case("size0-variant-polyval", size0_polyval, OP_ERROR, defect="SIGSEGV in tf.math.polyval"),
        Case("size0-variant-decrypt", size0_decrypt, OP_ERROR),
        Case("size0-deserialize-add", size0_deserialize_add, OP_ERROR, defect="SIGSEGV in x + 1.0"),
        Case("size0-convert-to-shares", size0_convert, OP_ERROR, defect="SIGSEGV in he_tf.convert"),
        Case("size0-server-handle", size0_server, VALUE, defect="SIGSEGV in Server.handle"),
        # memory
        Case("zstd-bomb-deserialize", zstd_bomb_deserialize, OP_ERROR, defect="inflates 512 MiB"),
        Case(
            "zstd-bomb-undeclared-deserialize",
            zstd_bomb_undeclared_deserialize,
            OP_ERROR,
            defect="inflates 512 MiB",
        ),
        Case("zlib-bomb-deserialize", zlib_bomb_deserialize, OP_ERROR, defect="inflates 64 MiB"),
        Case("zstd-bomb-variant", zstd_bomb_variant, OP_ERROR, defect="inflates 512 MiB"),
        Case("zstd-bomb-public-key", zstd_bomb_public_key, VALUE, defect="inflates 512 MiB"),
        Case("zstd-bomb-relin-keys", zstd_bomb_relin_keys, VALUE, defect="inflates 512 MiB"),
        Case("zstd-bomb-secret-key", zstd_bomb_secret_key, VALUE, defect="inflates 512 MiB"),
        Case("zstd-bomb-server-handle", zstd_bomb_server, VALUE, defect="inflates 512 MiB"),
        Case("declared-words-variant", declared_words_variant, OP_ERROR, defect="zero-fills 1 GiB"),
        Case("declared-words-deserialize", declared_words_deserialize, OP_ERROR, defect="zero-fills 1 GiB"),
        Case("declared-words-plaintext", declared_words_plaintext, OP_ERROR, defect="zero-fills 1 GiB"),
        Case("declared-words-secret-key", declared_words_secret_key, VALUE, defect="zero-fills 1 GiB"),
        Case("declared-words-public-key", declared_words_public_key, VALUE, defect="zero-fills 1 GiB"),
        Case("wire-huge-grid", wire_huge_grid, VALUE),
        Case("residues-above-prime-deserialize", residues_above_prime, OP_ERROR, defect="an unreduced residue"),
        Case("residues-truncated-deserialize", residues_truncated, OP_ERROR),
        Case("residues-more-polys-deserialize", residues_more_polys, OP_ERROR, defect="reads past the body"),
        Case("residues-size-lie-deserialize", residues_size_lie, OP_ERROR, defect="allocates 1 TiB"),
        Case("wire-block-samples-server-handle", wire_block_samples_server, VALUE),
        Case("wire-block-huge-samples-server-handle", wire_block_huge_samples_server, VALUE),
        Case("wire-block-outputs-client-decrypt", wire_block_outputs_client, VALUE),
        Case("wire-folded-rows-server-handle", wire_folded_rows_server, VALUE),
        Case("wire-folded-huge-server-handle", wire_folded_huge_server, VALUE),
        Case("wire-folded-nonlinear-server-handle", wire_folded_nonlinear_server, VALUE,
             defect="squares mix the two samples of a slot"),
        Case("wire-folded-client-decrypt", wire_folded_client, VALUE),
        Case(
            "zstd-error-repeated-deserialize",
            zstd_error_repeated_deserialize,
            OP_ERROR,
            may_return=True,
            defect="each failed zstd load leaks ~50 KB",
        ),
        Case(
            "zstd-error-repeated-secret-key",
            zstd_error_repeated_secret_key,
            VALUE,
            may_return=True,
            defect="each failed zstd load leaks ~540 KB",
        ),
        Case(
            "wire-huge-shape-server-handle",
            wire_huge_shape_server,
            VALUE,
            defect="2^27 x 3 samples claimed: GBs",
        ),
        # silent corruption
        Case(
            "public-context-bit-flips",
            public_context_bit_flips,
            OP_ERROR,
            may_return=True,
            defect="flips accepted, wrong results",
        ),
        Case("secret-key-bit-flips", secret_key_bit_flips, OP_ERROR, may_return=True),
        Case(
            "public-context-relabelled",
            public_context_relabelled,
            OP_ERROR,
            may_return=True,
            defect="garbage decryptions",
        ),
        Case(
            "secret-key-relabelled",
            secret_key_relabelled,
            OP_ERROR,
            may_return=True,
            defect="garbage decryptions",
        ),
        *[
            Case(
                f"scale-{label}-{entry}",
                _scale_case(scale, entry),
                OP_ERROR,
                may_return=True,
                defect="decrypts to NaN/0",
            )
            for label, scale in (("nan", NAN), ("inf", INF), ("tiny", TINY), ("doubled", 2.0**31))
            for entry in ("variant", "deserialize")
        ],
        *[
            Case(f"encode-scale-{label}", _encode_with_scale(scale), OP_ERROR, defect="encodes garbage")
            for label, scale in (("nan", NAN), ("inf", INF), ("negative-inf", -INF), ("zero", 0.0))
        ],
        Case(
            "matmul-constants-scale-mismatch",
            matmul_constants_scale_mismatch,
            OP_ERROR,
            may_return=True,
            defect="1*1 + 2*1 = 1.0625",
        ),
        Case("product-past-modulus", product_past_modulus, VALUE, may_return=True, defect="800^2 -> -408576"),
        Case("wire-nested-json", wire_nested_json, VALUE, defect="RecursionError"),
        Case("features-past-bounds", features_past_bounds, VALUE, defect="800^2 -> -408576"),
        Case("key-requirements-nested-json", key_requirements_nested_json, VALUE, defect="RecursionError"),
        Case("key-requirements-huge-input-shape", key_requirements_huge_input_shape, VALUE),
        Case("key-requirements-complex-vector", key_requirements_complex_vector, VALUE),
        Case("serving-many-strings", serving_many_strings, VALUE),
        Case("serving-huge-tensor-shape", serving_huge_tensor_shape, VALUE),
        Case("serving-huge-wire-shape", serving_huge_wire_shape, VALUE, defect="2^27 x 3 samples claimed: GBs"),
        Case("serving-other-key-set-context", serving_other_key_set_context, VALUE),
        Case("serving-rest-nested-json", serving_rest_nested_json, VALUE, defect="RecursionError"),
        Case("serving-rest-oversized-base64", serving_rest_oversized_base64, VALUE, defect="decodes 6 MiB"),
        # near-valid
        Case("ntt-form-cleared", ntt_form_cleared, OP_ERROR, may_return=True),
        Case("size3-multiply", size3_multiply, OP_ERROR, may_return=True),
        Case("size16-multiply", size16_multiply, OP_ERROR, may_return=True),
        Case("key-level-add", key_level_add, OP_ERROR, may_return=True),
        Case("truncated-words", truncated_words, OP_ERROR),
        # TenSEAL interop (tests/hostile/tenseal_cases.py)
        *[Case(name, run, VALUE, defect=defect) for name, (run, defect) in tenseal_cases.CASES.items()],
    ]
}
