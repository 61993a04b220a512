"""TenSEAL's CKKSVector / CKKSTensor ops with the same parameters, in a process of its own.

TenSEAL embeds its own SEAL, so it never shares a process with he-tf.
Requests (benchmarks/servers.py): ``<params> <op> <count> <min_repeats>
<min_seconds>`` and ``sizes <params>``. Every op is TenSEAL's documented
way: one CKKSVector per row of slot values (Python loop over ``count``), and
for ``matmul_batch`` one batched CKKSTensor (samples in slots) times the
matrix. TenSEAL has no public encode or rotate: those requests fail with a
message the driver records as "not available".

    python -m benchmarks.workers.tenseal_worker
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from benchmarks.workers import inputs, serving
from benchmarks.workers.inputs import ParamSet

MISSING = {"encode": "TenSEAL has no public CKKS encode", "rotate": "TenSEAL's CKKSVector has no rotation"}


class TenSEALWorker:
    def __init__(self, ts) -> None:
        self.ts = ts

    @functools.lru_cache(maxsize=None)
    def context(self, token: str, symmetric: bool = False):
        ts, p = self.ts, ParamSet.parse(token)
        kind = ts.ENCRYPTION_TYPE.SYMMETRIC if symmetric else ts.ENCRYPTION_TYPE.ASYMMETRIC
        ctx = ts.context(ts.SCHEME_TYPE.CKKS, p.poly_modulus_degree, coeff_mod_bit_sizes=list(p.coeff_mod_bit_sizes),
                         encryption_type=kind, n_threads=1)
        ctx.global_scale = 2.0**p.scale_bits
        if not symmetric:
            ctx.generate_galois_keys()  # every power-of-two step, as he-tf's default key set
        return ctx

    @functools.lru_cache(maxsize=None)
    def rows(self, token: str, count: int) -> tuple[list, list, list]:
        return tuple([r.tolist() for r in v] for v in inputs.values(ParamSet.parse(token).slots, count))

    @functools.lru_cache(maxsize=None)
    def vectors(self, token: str, count: int, length: int = 0) -> tuple[list, list]:
        ctx, (x, y, _) = self.context(token), self.rows(token, count)
        if length:
            return [self.ts.ckks_vector(ctx, r[:length]) for r in x], []
        return [self.ts.ckks_vector(ctx, r) for r in x], [self.ts.ckks_vector(ctx, r) for r in y]

    @functools.lru_cache(maxsize=None)
    def case(self, token: str, op_token: str, count: int) -> serving.Timed:
        ts = self.ts
        op, a, b = inputs.parse_op(op_token)
        if op in MISSING:
            raise ValueError(MISSING[op])
        ctx = self.context(token)
        x, _, p = self.rows(token, count)
        xv, yv = self.vectors(token, count) if op not in ("matmul_vector", "matmul_batch") else ([], [])
        decrypt_all = lambda vs: np.array([v.decrypt() for v in vs])  # noqa: E731
        calls = {
            "encrypt_public": (lambda: [ts.ckks_vector(ctx, r) for r in x], decrypt_all),
            "decrypt": (lambda: [v.decrypt() for v in xv], np.array),
            "add": (lambda: [u + v for u, v in zip(xv, yv)], decrypt_all),
            "add_plain": (lambda: [u + r for u, r in zip(xv, p)], decrypt_all),
            "multiply_plain": (lambda: [u * r for u, r in zip(xv, p)], decrypt_all),
            "multiply": (lambda: [u * v for u, v in zip(xv, yv)], decrypt_all),
            "square": (lambda: [u.square() for u in xv], decrypt_all),
            "sum_slots": (lambda: [u.sum() for u in xv], decrypt_all),
            "dot": (lambda: [u.dot(r) for u, r in zip(xv, p)], decrypt_all),
            "polyval": (lambda: [u.polyval(inputs.poly_coeffs(a).tolist()) for u in xv], decrypt_all),
            "serialize": (lambda: [u.serialize() for u in xv],
                          lambda s: decrypt_all([ts.ckks_vector_from(ctx, b) for b in s])),
        }
        if op == "encrypt_secret":
            sym = self.context(token, symmetric=True)
            calls[op] = (lambda: [ts.ckks_vector(sym, r) for r in x], lambda vs: np.array([v.decrypt() for v in vs]))
        elif op == "deserialize":
            blobs = [u.serialize() for u in xv]
            calls[op] = (lambda: [ts.ckks_vector_from(ctx, s) for s in blobs], decrypt_all)
        elif op == "matmul_vector":
            vs, w = self.vectors(token, count, a)[0], inputs.matrix(a, b).tolist()
            calls[op] = (lambda: [v.matmul(w) for v in vs], decrypt_all)
        elif op == "matmul_batch":  # slots x F samples, batched: F ciphertexts; [1, F] @ W[F, K]
            batch = ts.ckks_tensor(ctx, ts.plain_tensor(np.array(x[:a]).T), batch=True).reshape([1, a])
            w = ts.plain_tensor(inputs.matrix(a, b))
            calls[op] = (lambda: batch.mm(w), lambda r: np.array(r.decrypt().tolist())[:, 0, :])
        call, to_values = calls[op]
        want = inputs.expected(op, a, b, *inputs.values(ParamSet.parse(token).slots, count))
        return serving.Timed(call, count, lambda r: inputs.max_error(to_values(r), want))

    def sizes(self, token: str) -> dict:
        """Bytes of TenSEAL's public context (public, relin and Galois keys) and of one serialized vector."""
        ctx = self.context(token)
        public = ctx.serialize(save_public_key=True, save_secret_key=False, save_galois_keys=True,
                               save_relin_keys=True)
        sym = self.context(token, symmetric=True)
        x = self.rows(token, 1)[0][0]
        return {"public_context": len(public), "ciphertext": len(self.ts.ckks_vector(ctx, x).serialize()),
                "ciphertext_seeded": len(self.ts.ckks_vector(sym, x).serialize())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers.tenseal_worker",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before a case's first timed one")
    args = parser.parse_args(argv)
    out = serving.protocol_stream()
    import tenseal as ts

    worker = TenSEALWorker(ts)
    serving.serve({"impl": "tenseal", "threads": 1, "tenseal": ts.__version__},
                  lambda f: worker.case(f[0], f[1], int(f[2])), lambda f: worker.sizes(f[0]), args.warmup, out)


if __name__ == "__main__":
    main()
