"""he_tf.interop with TenSEAL 0.3.18: ciphertexts cross in both directions without re-encryption.

TenSEAL runs in its own virtualenv and process (``<repo>/.venv-peers/tenseal``, made by ``make test``);
tests/interop/tenseal_side.py is the TenSEAL user's code. Results are compared to NumPy within 1e-5.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import he_tf
import numpy as np
import pytest
import tensorflow as tf
from he_tf.interop import TenSEALFormatError, context_from_tenseal, from_tenseal, to_tenseal
from he_tf.interop import tenseal as interop
from he_tf.interop.protobuf_wire import parse, write

ROOT = Path(__file__).resolve().parents[1]
TENSEAL_PYTHON = ROOT / ".venv-peers" / "tenseal" / "bin" / "python"
SIDE = Path(__file__).resolve().parent / "interop" / "tenseal_side.py"
TOL = 1e-5
DEFAULT = {"n": 8192, "bits": [60, 40, 40, 60], "scale_bits": 40}

pytestmark = pytest.mark.skipif(
    not TENSEAL_PYTHON.exists(),
    reason=f"TenSEAL's virtualenv is missing ({TENSEAL_PYTHON}): `make .venv-peers/tenseal/.done` creates it",
)


def tenseal(command: str, folder: Path, **args) -> None:
    """Runs the TenSEAL user's side in TenSEAL's own process."""
    run = subprocess.run(
        [str(TENSEAL_PYTHON), str(SIDE), command, str(folder), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"TenSEAL {command} failed:\n{run.stderr[-3000:]}"


def tenseal_decrypt(folder: Path, name: str, kind: str = "vector") -> np.ndarray:
    tenseal("decrypt", folder, name=name, kind=kind)
    return np.array(json.loads((folder / f"{name}.json").read_text())["values"])


def all_slots(secret: he_tf.SecretKey, x: he_tf.HETensor) -> np.ndarray:
    """Every slot of x's first ciphertext (x's spec widened to the whole ciphertext)."""
    one = x.ciphertexts[(0,) * x.ciphertexts.shape.rank][None]
    slots = x.he_params.slot_count
    wide = x.with_ciphertexts(one, shape=tf.TensorShape([slots]), packed_axis=0)
    return he_tf.decrypt(secret, wide).numpy()


def keyset(folder: Path, **params) -> Path:
    folder.mkdir()
    tenseal("keys", folder, **{**DEFAULT, **params})
    return folder


@pytest.fixture(scope="module")
def ts_keys(tmp_path_factory) -> Path:
    return keyset(tmp_path_factory.mktemp("tenseal") / "a")


@pytest.fixture(scope="module")
def adopted(ts_keys):
    """he-tf's PublicContext (from the public TenSEAL context) and SecretKey (from the private one)."""
    public, none = context_from_tenseal((ts_keys / "context.public").read_bytes())
    assert none is None
    again, secret = context_from_tenseal((ts_keys / "context.private").read_bytes())
    assert again.key_id == public.key_id == secret.key_id
    return public, secret


def test_default_tenseal_parameters_map(adopted):
    public, secret = adopted
    assert public.params == he_tf.Params(8192, (60, 40, 40, 60), 40)
    assert isinstance(secret, he_tf.SecretKey) and secret.params == public.params


def test_tenseal_vector_computed_by_he_tf_decrypted_by_tenseal(ts_keys, adopted, tmp_path):
    public, secret = adopted
    x = np.array([0.5, -1.25, 3.0, 2.0, -0.75])
    w, b, v = (
        np.array([2.0, -1.0, 0.5, 3.0, 1.5]),
        np.array([0.1, 0.2, -0.3, 0.4, 0.5]),
        np.array([1, 2, 3, 4, 5.0]),
    )
    tenseal("encrypt", ts_keys, values=x.tolist(), kind="vector", name="x")
    enc = from_tenseal((ts_keys / "x.ts").read_bytes(), public, kind="vector")
    # TenSEAL repeats the vector over all slots; he-tf cleared the slots past the 5 values (one level).
    assert enc.shape == [5] and enc.level == 1 and enc.scale == 2.0**40
    slots = all_slots(secret, enc)
    assert np.abs(slots[:5] - x).max() < TOL and np.abs(slots[5:]).max() < TOL

    (ts_keys / "affine.ts").write_bytes(to_tenseal(enc * w + b, (ts_keys / "context.public").read_bytes()))
    np.testing.assert_allclose(tenseal_decrypt(ts_keys, "affine"), x * w + b, atol=TOL)
    dot = enc @ v
    assert dot.shape == [] and dot.packed_axis is None
    (ts_keys / "dot.ts").write_bytes(to_tenseal(dot, (ts_keys / "context.public").read_bytes()))
    np.testing.assert_allclose(tenseal_decrypt(ts_keys, "dot"), [x @ v], atol=TOL)


def test_he_tf_encrypts_tenseal_computes_both_decrypt(ts_keys, adopted):
    public, secret = adopted
    x = np.array([1.5, -2.0, 0.25, 4.0])
    w, b = [0.5, 2.0, -1.0, 1.0], [1.0, -1.0, 0.5, 0.0]
    (ts_keys / "h.ts").write_bytes(
        to_tenseal(he_tf.encrypt(public, x), (ts_keys / "context.public").read_bytes())
    )
    tenseal("compute", ts_keys, name="h", kind="vector", w=w, b=b)
    expected = x * np.array(w) + np.array(b)
    np.testing.assert_allclose(tenseal_decrypt(ts_keys, "h"), x, atol=TOL)
    back = from_tenseal((ts_keys / "h.out.ts").read_bytes(), public, kind="vector")
    np.testing.assert_allclose(he_tf.decrypt(secret, back).numpy(), expected, atol=TOL)


def test_tenseal_vectors_repeat_over_all_slots_he_tf_clears_them(ts_keys, adopted):
    public, secret = adopted
    x = np.array([1.0, 2.0, 3.0])
    tenseal("encrypt", ts_keys, values=x.tolist(), kind="vector", name="s")
    tenseal("compute", ts_keys, name="s", kind="vector", w=[1.0, 1.0, 1.0], b=[0.0, 0.0, 0.0], scalar=5.0)
    data = (ts_keys / "s.ts").read_bytes()
    with pytest.raises(ValueError, match="repeats its values"):
        from_tenseal(data, public, kind="vector", clear_slots=False)
    # The slots as TenSEAL made them: the vector, cyclically (seen through a tensor, which skips the mask).
    message = parse(data, interop.VECTOR)
    raw = from_tenseal(
        write(interop.TENSOR, {"shape": [1], "ciphertexts": message["ciphertexts"], "batch_size": 3}),
        public,
        kind="tensor",
    )
    assert np.abs(all_slots(secret, raw) - np.resize(x, public.params.slot_count)).max() < TOL
    cleared = from_tenseal((ts_keys / "s.out.ts").read_bytes(), public, kind="vector")
    assert cleared.level == 0 and np.abs(all_slots(secret, cleared)[3:]).max() < TOL
    np.testing.assert_allclose(he_tf.decrypt(secret, cleared).numpy(), x + 5, atol=TOL)


def test_tenseal_tensors(ts_keys, adopted):
    public, secret = adopted
    m = np.arange(6.0).reshape(2, 3) - 2.5
    tenseal("encrypt", ts_keys, values=m.tolist(), kind="tensor", name="t")
    data = (ts_keys / "t.ts").read_bytes()
    # A non-batched CKKSTensor: each value in every slot, cleared (one level) to one value per ciphertext.
    with pytest.raises(ValueError, match="repeats each value"):
        from_tenseal(data, public, kind="tensor", clear_slots=False)
    t = from_tenseal(data, public, kind="tensor")
    assert t.shape == [2, 3] and t.packed_axis is None and t.level == 1
    assert np.abs(all_slots(secret, t)[1:]).max() < TOL
    np.testing.assert_allclose(he_tf.decrypt(secret, t * 2.0 + 1.0).numpy(), m * 2 + 1, atol=TOL)
    (ts_keys / "t2.ts").write_bytes(to_tenseal(t * 2.0, (ts_keys / "context.public").read_bytes()))
    np.testing.assert_allclose(tenseal_decrypt(ts_keys, "t2", "tensor"), m * 2, atol=TOL)

    # A batched one: axis 0 in the slots, zero-padded, as he-tf's batch layout.
    batch = np.arange(12.0).reshape(4, 3) / 4
    tenseal("encrypt", ts_keys, values=batch.tolist(), kind="tensor", batch=True, name="bt")
    bt = from_tenseal((ts_keys / "bt.ts").read_bytes(), public, kind="tensor")
    assert bt.shape == [4, 3] and bt.packed_axis == 0 and bt.level == 2
    assert np.abs(all_slots(secret, bt)[4:]).max() < TOL
    assert from_tenseal((ts_keys / "bt.ts").read_bytes(), public, kind="tensor", clear_slots=True).level == 1
    w = np.array([1.0, -2.0, 0.5])
    (ts_keys / "bt2.ts").write_bytes(to_tenseal(bt * w + 1.0, (ts_keys / "context.public").read_bytes()))
    np.testing.assert_allclose(tenseal_decrypt(ts_keys, "bt2", "tensor"), batch * w + 1, atol=TOL)


# ---- refusals ---------------------------------------------------------------------------------------


def _edit_context(data: bytes, **changes) -> bytes:
    message = parse(data, interop.CONTEXT)
    message = {k: (dict(v) if isinstance(v, dict) else v) for k, v in message.items()}
    for key, value in changes.items():
        part, _, field = key.partition("__")
        if field:
            message.setdefault(part, {})
            if value is None:
                message[part].pop(field, None)
            else:
                message[part][field] = value
        elif value is None:
            message.pop(part, None)
        else:
            message[part] = value
    return write(interop.CONTEXT, message)


def test_refusals_of_contexts(ts_keys, tmp_path):
    public = (ts_keys / "context.public").read_bytes()
    private = (ts_keys / "context.private").read_bytes()
    cases = {
        "symmetric": (_edit_context(public, encryption_type=1), "symmetric"),
        "no relin keys": (_edit_context(public, public_context__relin_keys=None), "relinearization keys"),
        "scale not a power of two": (_edit_context(public, public_context__scale=1e12), "powers of two"),
        "no scale": (_edit_context(public, public_context__scale=None), "global scale"),
        "no public key": (_edit_context(public, public_context__public_key=None), "no public key"),
        "truncated": (public[: len(public) // 2], "TenSEALContextProto"),
        "not protobuf": (b"\xff" * 64, "TenSEALContextProto"),
    }
    for name, (data, message) in cases.items():
        with pytest.raises(TenSEALFormatError, match=message):
            context_from_tenseal(data)
    other = keyset(tmp_path / "b")
    foreign = parse((other / "context.private").read_bytes(), interop.CONTEXT)["private_context"][
        "secret_key"
    ]
    with pytest.raises(TenSEALFormatError, match="does not belong to the public key"):
        context_from_tenseal(_edit_context(private, private_context__secret_key=bytes(foreign)))
    # Parameters he-tf rejects: a special prime smaller than the others.
    bad = keyset(tmp_path / "c", bits=[30, 40, 40, 30], scale_bits=25)
    with pytest.raises(TenSEALFormatError, match="special"):
        context_from_tenseal((bad / "context.public").read_bytes())


def test_refusals_of_ciphertexts(ts_keys, adopted, tmp_path):
    public, _ = adopted
    other = keyset(tmp_path / "o", bits=[60, 40, 60])
    tenseal("encrypt", other, values=[1.0, 2.0], kind="vector", name="x")
    with pytest.raises(TenSEALFormatError, match="not a level of these parameters"):
        from_tenseal((other / "x.ts").read_bytes(), public, kind="vector")
    # he-tf spreads 5000 values evenly over two ciphertexts; TenSEAL fills the first.
    tenseal("encrypt", ts_keys, values=list(np.linspace(-1, 1, 5000)), kind="vector", name="long")
    with pytest.raises(TenSEALFormatError, match="chunking"):
        from_tenseal((ts_keys / "long.ts").read_bytes(), public, kind="vector")
    with pytest.raises(TypeError, match="kind="):
        from_tenseal(b"\x0a\x01\x03", public)
    with pytest.raises(TenSEALFormatError, match="CKKSVectorProto"):
        from_tenseal(b"\x12\xff\xff\xff\xff\x0f", public, kind="vector")  # a 4 GiB length in 6 bytes
    # An HETensor of another key set (same parameters) cannot go to this TenSEAL context.
    mine = he_tf.KeySet.generate(public.params, rotations=None)
    with pytest.raises(ValueError, match="key set"):
        to_tenseal(he_tf.encrypt(mine.public, [1.0]), (ts_keys / "context.public").read_bytes())


def test_without_galois_keys_rotations_name_the_missing_key(tmp_path):
    folder = keyset(tmp_path / "g", galois=False)
    public, _ = context_from_tenseal((folder / "context.public").read_bytes())
    tenseal("encrypt", folder, values=[1.0, 2.0, 3.0], kind="vector", name="x")
    x = from_tenseal((folder / "x.ts").read_bytes(), public, kind="vector")
    (folder / "y.ts").write_bytes(to_tenseal(x * 2.0, (folder / "context.public").read_bytes()))
    np.testing.assert_allclose(tenseal_decrypt(folder, "y"), [2.0, 4.0, 6.0], atol=TOL)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="Galois key"):
        he_tf.reduce_sum(x)


def test_private_context_gives_its_public_part_only(ts_keys, adopted):
    public, secret = adopted
    private = (ts_keys / "context.private").read_bytes()
    x = he_tf.encrypt(public, [1.0, -2.0])
    (ts_keys / "p.ts").write_bytes(to_tenseal(x, private))  # to_tenseal reads the public key only
    np.testing.assert_allclose(tenseal_decrypt(ts_keys, "p"), [1.0, -2.0], atol=TOL)
    with pytest.raises(TenSEALFormatError, match="pass the PublicContext from context_from_tenseal"):
        from_tenseal((ts_keys / "p.ts").read_bytes(), private, kind="vector")


def test_docs_example_runs(tmp_path):
    """docs/tenseal.md's blocks in order: '# TenSEAL side' in TenSEAL's process, '# he-tf side' here."""
    import os
    import re

    text = (ROOT / "docs" / "tenseal.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert [b.splitlines()[0] for b in blocks] == ["# TenSEAL side", "# he-tf side"] * 2
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            if block.startswith("# TenSEAL side"):
                run = subprocess.run(
                    [str(TENSEAL_PYTHON), "-c", block], capture_output=True, text=True, timeout=300
                )
                assert run.returncode == 0, run.stderr[-3000:]
            else:
                exec(compile(block, "docs/tenseal.md", "exec"), namespace)  # noqa: S102 (our own docs)
    finally:
        os.chdir(cwd)


def test_tenseal_objects_are_duck_typed(ts_keys, adopted):
    """Anything with .serialize() stands for a TenSEAL object; its class name tells a vector from a tensor,
    and a private context is asked for its secret key."""
    public, _ = adopted

    class CKKSVector:
        def __init__(self, data):
            self.data = data

        def serialize(self):
            return self.data

    class Context:
        def __init__(self, private):
            self.private = private

        def is_private(self):
            return True

        def serialize(self, save_secret_key=False):
            return self.private if save_secret_key else b""

    tenseal("encrypt", ts_keys, values=[3.0, -1.0], kind="vector", name="duck")
    x = from_tenseal(CKKSVector((ts_keys / "duck.ts").read_bytes()), public)
    _, secret = context_from_tenseal(Context((ts_keys / "context.private").read_bytes()))
    np.testing.assert_allclose(he_tf.decrypt(secret, x).numpy(), [3.0, -1.0], atol=TOL)
    with pytest.raises(TypeError, match="kind="):
        from_tenseal(object.__new__(type("CKKSSomething", (CKKSVector,), {})), public)
    with pytest.raises(TypeError, match=r"\.serialize\(\)"):
        from_tenseal(42, public, kind="vector")
