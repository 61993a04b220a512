"""Writes the fuzz harnesses' key set and seed corpora (tests/fuzz/corpus/): valid and near-valid inputs.

    python -m tests.fuzz.make_corpus [FOLDER]     (default tests/fuzz/corpus; replaces what is there)

Run it again when a serialized format changes (the harnesses refuse to start on keys they cannot
load). The parameters are the smallest he-tf allows (N=2048, one data prime, no multiplication), so
seeds stay small and executions fast; the bad-input matrix covers multiplication and rotations.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np

from tests.fuzz.common import CORPUS
from tests.hostile import craft

X = np.linspace(-1.0, 1.0, 4)


def _write(folder: Path, seeds: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


def make(root: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    import he_tf
    from he_tf.models import wire

    params = he_tf.Params(2048, (27, 27), 20)
    for sub in (
        "keys",
        "fuzz_ciphertext",
        "fuzz_variant",
        "fuzz_public_context",
        "fuzz_secret_key",
        "fuzz_wire",
        "fuzz_plaintext",
        "fuzz_serving_request",
        "fuzz_key_requirements",
        "fuzz_tenseal",
    ):
        shutil.rmtree(root / sub, ignore_errors=True)
    keys = he_tf.KeySet.generate(params, rotations=[1])
    no_galois = he_tf.KeySet.generate(params, rotations=None)
    _write(root / "keys", {"a.pub": keys.public.serialize(), "a.sec": keys.secret.serialize()})

    public_ct = he_tf.encrypt(keys.public, X)
    seeded_ct = he_tf.encrypt(keys.public, X, secret=keys.secret)
    strings = [he_tf.serialize(x).numpy()[0] for x in (public_ct, seeded_ct)]
    residues = [he_tf.serialize(x, encoding="residues").numpy()[0][:-4] for x in (public_ct, seeded_ct)]
    without_crc = [s[:-4] for s in strings]
    key_id, seal_bytes = craft.split_serialized(strings[0])
    raw = craft.Ciphertext.parse(seal_bytes).save()  # uncompressed
    _write(
        root / "fuzz_ciphertext",
        {
            "valid": without_crc[0],
            "valid-seeded": without_crc[1],
            "residues": residues[0],
            "residues-seeded": residues[1],
            "uncompressed": key_id + raw,
            "zlib": key_id + craft.Ciphertext.parse(seal_bytes).save(craft.ZLIB),
            "size0": key_id + craft.empty_ciphertext(raw),
            "truncated": without_crc[0][:200],
        },
    )

    elements = [
        craft.variant_elements(tf.io.serialize_tensor(x.ciphertexts).numpy())[0]
        for x in (public_ct, seeded_ct)
    ]
    element_id, element_seal = elements[0][:8], elements[0][8:]
    _write(
        root / "fuzz_variant",
        {
            "valid": elements[0],
            "valid-seeded": elements[1],
            "size0": element_id + craft.empty_ciphertext(element_seal),
            "ntt-cleared": element_id + craft.edit_ciphertext(element_seal, ntt_form=0),
            "scale-nan": element_id + craft.edit_ciphertext(element_seal, scale=float("nan")),
        },
    )

    scale = tf.constant(float(2**params.scale_bits), tf.float64)
    plains = [
        craft.variant_elements(tf.io.serialize_tensor(he_tf.ops.encode(keys.public.tensor, values, scale,
                                                                       level=level)).numpy())[0]
        for values, level in ((tf.constant(X[None, :]), params.depth), (tf.zeros([1, 8], tf.float64), 0))
    ]
    plain_id, plain_seal = plains[0][:8], plains[0][8:]
    _write(
        root / "fuzz_plaintext",
        {
            "valid": plains[0],
            "valid-level0": plains[1],
            "zero-coefficients": plain_id + craft.empty_plaintext(plain_seal, 1 << 27),
            "scale-nan": plain_id + craft.Plaintext(**{**craft.Plaintext.parse(plain_seal).__dict__,
                                                       "scale": float("nan")}).save(),
        },
    )

    public = keys.public.serialize()
    _write(
        root / "fuzz_public_context",
        {
            "valid": public,
            "no-galois-keys": no_galois.public.serialize(),
            "truncated": public[:4096],
        },
    )
    secret = keys.secret.serialize()
    _write(
        root / "fuzz_secret_key",
        {
            "valid": secret,
            "other-key-set": no_galois.secret.serialize(),
            "truncated": secret[: len(secret) // 2],
        },
    )

    request = wire.encode("request", seeded_ct, keys.public.key_id)
    batch = wire.encode(
        "request", he_tf.encrypt(keys.public, np.ones((3, 2)), secret=keys.secret), keys.public.key_id
    )
    _write(
        root / "fuzz_wire",
        {
            "valid": request,
            "valid-grid": batch,
            "nested-header": craft.wire_nested_header(request, 50),
            "huge-shape": craft.wire_huge_shape(request, 1 << 10, params.slot_count),
        },
    )
    serving_seeds(root / "fuzz_serving_request")
    requirements_seeds(root / "fuzz_key_requirements")
    tenseal_seeds(root / "fuzz_tenseal", keys, no_galois)


def tenseal_seeds(folder: Path, keys, other) -> None:
    """TenSEAL messages (tests/hostile/tenseal_bytes.py) of the corpus key set, each behind the byte that
    chooses the loader (0 context, 1 vector, 2 tensor): valid ones, a secret key of another key set,
    another SEAL 4 minor version, a vector (refused for lack of a level after loading), tensors."""
    import he_tf
    from tests.hostile import tenseal_bytes as tb

    x = he_tf.encrypt(keys.public, X)
    batch = he_tf.encrypt(keys.public, np.ones((3, 2)))
    private = tb.context(keys, secret=True)
    proto = he_tf.interop.protobuf_wire
    message = proto.parse(private, he_tf.interop.tenseal.CONTEXT)
    message["private_context"]["secret_key"] = tb.key_blobs(other)["secret_key"]
    _write(folder, {
        "valid-context": b"\0" + tb.context(keys),
        "valid-private-context": b"\0" + private,
        "context-minor-3": b"\0" + tb.context(keys, parms=tb.seal_parms(keys.public.params, minor=3)),
        "context-foreign-secret": b"\0" + proto.write(he_tf.interop.tenseal.CONTEXT, message),
        "vector": b"\1" + tb.vector(x),
        "valid-tensor-batched": b"\2" + tb.tensor(batch),
        "tensor-scalar": b"\2" + tb.tensor(he_tf.encrypt(keys.public, np.float64(0.5)), batched=False),
    })


def requirements_seeds(folder: Path) -> None:
    """Key requirements as models publish them: batch layout with feature bounds, vector layout with
    rotations, a model without bounds, and one taking shaped samples (an input shape)."""
    from he_tf.models import from_weights

    weights = np.array([[1.0, -0.5], [0.25, 2.0], [0.0, 1.0]])
    _write(folder, {
        "valid-bounds": from_weights(weights, feature_range=(-2, 2)).key_requirements().to_json(),
        "valid-vector": from_weights(weights, layout="vector").key_requirements().to_json(),
        "no-bounds": from_weights(weights).key_requirements().to_json(),
        "valid-image": from_weights(weights, feature_range=(0, 1), input_shape=(3, 1)).key_requirements().to_json(),
    })


def serving_seeds(folder: Path) -> None:
    """PredictRequests (first byte 0) and REST bodies (first byte 1), each with its own public context."""
    import base64
    import json

    import he_tf
    from he_tf.models import wire
    from he_tf.serving import signatures
    from tensorflow_serving.apis import predict_pb2
    from tests.fuzz.fuzz_serving_request import PARAMS

    keys = he_tf.KeySet.generate(he_tf.Params(*PARAMS), rotations=None)
    message = wire.encode("request", he_tf.encrypt(keys.public, np.ones((3, 4)), secret=keys.secret),
                          keys.public.key_id)
    context = keys.public.serialize()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fuzzed"
    request.model_spec.signature_name = "predict"
    for name, value in (("request", message), ("context", context)):
        request.inputs[name].CopyFrom(signatures.make_tensor(value))
    only_request = predict_pb2.PredictRequest()
    only_request.CopyFrom(request)
    del only_request.inputs["context"]
    body = {"inputs": {"request": {"b64": base64.b64encode(message).decode()},
                       "context": {"b64": base64.b64encode(context).decode()}}}
    _write(folder, {
        "valid-grpc": b"\0" + request.SerializeToString(),
        "grpc-without-context": b"\0" + only_request.SerializeToString(),
        "valid-rest": b"\1" + json.dumps(body).encode(),
        "rest-nested": b"\1" + b'{"inputs":' + b"[" * 40 + b"]" * 40 + b"}",
    })


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serving"]:  # only the serving seeds (the others keep their committed keys)
        serving_seeds(CORPUS / "fuzz_serving_request")
        sys.exit()
    if sys.argv[1:2] == ["--tenseal"]:  # only the TenSEAL seeds, from the committed key set
        from tests.fuzz.common import load_keys
        import he_tf

        tenseal_seeds(CORPUS / "fuzz_tenseal", load_keys(), he_tf.KeySet.generate(load_keys().public.params,
                                                                                 rotations=None))
        sys.exit()
    if sys.argv[1:2] == ["--requirements"]:  # only the key-requirements seeds (keyless)
        requirements_seeds(CORPUS / "fuzz_key_requirements")
        sys.exit()
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
