"""The TenSEAL user's side of tests/test_tenseal_interop.py, run by TenSEAL's Python (.venv-peers/tenseal).

    python tenseal_side.py COMMAND DIR [JSON]

Reads and writes files in DIR (TenSEAL is never imported by he-tf's process):
- ``keys DIR '{"n": 8192, "bits": [60, 40, 40, 60], "scale_bits": 40, "galois": true, "relin": true}'``:
  a context; ``context.private`` (with the secret key), ``context.public`` (without).
- ``encrypt DIR '{"values": [...], "kind": "vector"|"tensor", "batch": bool, "name": "x"}'``: ``NAME.ts``.
- ``compute DIR '{"name": "x", "kind": ..., "w": [...], "b": [...], "scalar": float|null}'``: ``NAME.out.ts``
  = x * w + b (then + scalar, if given) in TenSEAL.
- ``decrypt DIR '{"name": ..., "kind": ...}'``: ``NAME.json`` with the decrypted values.
"""

import json
import sys
from pathlib import Path

import numpy as np
import tenseal as ts


def keys(folder: Path, a: dict) -> None:
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, a["n"], coeff_mod_bit_sizes=a["bits"])
    ctx.global_scale = 2.0 ** a["scale_bits"]
    if a.get("galois", True):
        ctx.generate_galois_keys()
    relin = a.get("relin", True)
    (folder / "context.private").write_bytes(ctx.serialize(save_secret_key=True, save_relin_keys=relin))
    (folder / "context.public").write_bytes(ctx.serialize(save_relin_keys=relin))


def _context(folder: Path):
    return ts.context_from((folder / "context.private").read_bytes())


def _load(ctx, folder: Path, name: str, kind: str):
    data = (folder / f"{name}.ts").read_bytes()
    return ts.ckks_vector_from(ctx, data) if kind == "vector" else ts.ckks_tensor_from(ctx, data)


def encrypt(folder: Path, a: dict) -> None:
    ctx = _context(folder)
    values = np.array(a["values"], dtype=float)
    if a["kind"] == "vector":
        x = ts.ckks_vector(ctx, values.tolist())
    else:
        x = ts.ckks_tensor(ctx, ts.plain_tensor(values), batch=a.get("batch", False))
    (folder / f"{a['name']}.ts").write_bytes(x.serialize())


def compute(folder: Path, a: dict) -> None:
    ctx = _context(folder)
    x = _load(ctx, folder, a["name"], a["kind"])
    w, b = a["w"], a["b"]
    if a["kind"] == "tensor":
        w, b = ts.plain_tensor(np.array(w)), ts.plain_tensor(np.array(b))
    y = x * w + b
    if a.get("scalar") is not None:
        y = y + a["scalar"]
    (folder / f"{a['name']}.out.ts").write_bytes(y.serialize())


def decrypt(folder: Path, a: dict) -> None:
    ctx = _context(folder)
    x = _load(ctx, folder, a["name"], a["kind"])
    values = x.decrypt() if a["kind"] == "vector" else x.decrypt().tolist()
    (folder / f"{a['name']}.json").write_text(json.dumps({"values": values}))


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2])
    {"keys": keys, "encrypt": encrypt, "compute": compute, "decrypt": decrypt}[command](
        folder, json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    )
