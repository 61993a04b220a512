"""OpenFHE CKKS (its Python wheel): one ciphertext per feature and chunk of samples, as its examples do."""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.peers.common import Phases, Task, serve

RING, SCALING_BITS, FIRST_BITS = 4096, 30, 39  # he-tf's chain for this task: 128-bit secure at N=4096


class OpenFheTask(Task):
    def __init__(self, data: dict) -> None:
        import openfhe as fhe

        self.fhe = fhe
        parameters = fhe.CCParamsCKKSRNS()
        parameters.SetMultiplicativeDepth(1)
        parameters.SetScalingModSize(SCALING_BITS)
        parameters.SetFirstModSize(FIRST_BITS)
        parameters.SetRingDim(RING)
        parameters.SetBatchSize(RING // 2)
        parameters.SetSecurityLevel(fhe.SecurityLevel.HEStd_128_classic)
        parameters.SetScalingTechnique(fhe.ScalingTechnique.FIXEDMANUAL)
        # BV key switching: no auxiliary primes (the job needs no key switch), so the chain fits N=4096.
        parameters.SetKeySwitchTechnique(fhe.KeySwitchTechnique.BV)
        self.cc = cc = fhe.GenCryptoContext(parameters)
        cc.Enable(fhe.PKESchemeFeature.PKE)
        cc.Enable(fhe.PKESchemeFeature.LEVELEDSHE)
        cc.Enable(fhe.PKESchemeFeature.ADVANCEDSHE)  # EvalLinearWSum
        self.keys = cc.KeyGen()
        self.x, self.weights, self.b = data["x"], [float(w) for w in data["weights"]], float(data["bias"])
        self.slots = cc.GetRingDimension() // 2
        self.chunks = [slice(i, min(i + self.slots, len(self.x))) for i in range(0, len(self.x), self.slots)]
        self.info = {
            "params": {"poly_modulus_degree": cc.GetRingDimension(), "scaling_mod_bits": SCALING_BITS,
                       "first_mod_bits": FIRST_BITS, "depth": 1, "scaling": "FIXEDMANUAL", "key_switching": "BV"},
            "layout": "one ciphertext per feature and chunk of samples",
            "request_ciphertexts": len(self.chunks) * self.x.shape[1],
            "key_bytes": {"public_key": len(fhe.Serialize(self.keys.publicKey, fhe.BINARY)),
                          "secret_key": len(fhe.Serialize(self.keys.secretKey, fhe.BINARY))},
        }

    def run(self, phases: Phases) -> tuple[np.ndarray, int, int]:
        fhe, cc, keys = self.fhe, self.cc, self.keys
        with phases("client encrypt"):
            cts = [[cc.Encrypt(keys.publicKey, cc.MakeCKKSPackedPlaintext(self.x[chunk, f].tolist()))
                    for f in range(self.x.shape[1])] for chunk in self.chunks]
        with phases("client serialize"):
            request = [[fhe.Serialize(ct, fhe.BINARY) for ct in row] for row in cts]
        with phases("server parse"):
            received = [[fhe.DeserializeCiphertextString(s, fhe.BINARY) for s in row] for row in request]
        with phases("server compute"):
            # EvalLinearWSum rescales (FIXEDMANUAL): one level, as he-tf.
            outputs = [cc.EvalAdd(cc.EvalLinearWSum(row, self.weights), self.b) for row in received]
        with phases("server serialize"):
            response = [fhe.Serialize(ct, fhe.BINARY) for ct in outputs]
        with phases("client parse"):
            back = [fhe.DeserializeCiphertextString(s, fhe.BINARY) for s in response]
        with phases("client decrypt"):
            logits = []
            for chunk, ct in zip(self.chunks, back):
                plain = cc.Decrypt(ct, keys.secretKey)
                plain.SetLength(chunk.stop - chunk.start)
                logits.extend(plain.GetRealPackedValue())
        return (np.array(logits), sum(len(s) for row in request for s in row), sum(len(s) for s in response))


if __name__ == "__main__":
    import importlib.metadata

    serve("OpenFHE", importlib.metadata.version("openfhe"), OpenFheTask, sys.argv[1])
