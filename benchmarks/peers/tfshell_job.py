"""tf-shell (BGV on Google's SHELL, in TensorFlow): samples in the N slots of each ciphertext, ct @ pt.

tf-shell has no ciphertext serialization, so its pass runs in one process and its request and response
bytes are the ciphertexts' size in memory form (2 polynomials x N coefficients x 8 bytes per prime).
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.peers.common import Phases, Task, serve

LOG_N = 12
# t below 2^32: with a larger t, ct @ pt decrypts to garbage in tf-shell 0.5 (measured: 33 bits fail, 32 work).
# q: two 52-bit primes, 104 bits, within N=4096's 109.
PLAINTEXT_BITS, MODULUS_BITS = 32, 52
SCALING_FACTOR = 2**11  # fixed point: x and w to 11 fraction bits each, the products at 22 (|logit| 2^22 < t/2)


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):  # deterministic below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def ntt_primes(bits: int, count: int, two_n: int) -> list[int]:
    """The largest ``count`` primes below 2^bits that are 1 mod 2N (batching needs them)."""
    primes, candidate = [], (1 << bits) - (1 << bits) % two_n + 1
    while len(primes) < count:
        candidate -= two_n
        if _is_prime(candidate):
            primes.append(candidate)
    return primes


class TfShellTask(Task):
    def __init__(self, data: dict) -> None:
        import tensorflow as tf
        import tf_shell

        self.tf, self.shell = tf, tf_shell
        n = 1 << LOG_N
        moduli = ntt_primes(MODULUS_BITS, 2, 2 * n)
        t = ntt_primes(PLAINTEXT_BITS, 1, 2 * n)[0]
        self.context = tf_shell.create_context64(log_n=LOG_N, main_moduli=moduli, plaintext_modulus=t,
                                                 scaling_factor=SCALING_FACTOR)
        self.key = tf_shell.create_key64(self.context)
        x = data["x"]
        self.samples = len(x)
        chunks = -(-len(x) // n)
        padded = np.zeros((chunks * n, x.shape[1]))
        padded[: len(x)] = x
        self.x = [tf.constant(padded[i * n:(i + 1) * n]) for i in range(chunks)]  # the first axis fills the slots
        self.w = tf.constant(data["weights"].reshape(-1, 1))
        self.b = tf.constant(data["bias"], tf.float64)
        self.ct_bytes = 2 * n * len(moduli) * 8
        self.info = {
            "params": {"poly_modulus_degree": n, "moduli_bits": MODULUS_BITS, "primes": len(moduli),
                       "plaintext_modulus_bits": PLAINTEXT_BITS, "scaling_factor": SCALING_FACTOR},
            "layout": "samples in the N slots, one ciphertext per feature and chunk",
            "request_ciphertexts": chunks * x.shape[1],
            "key_bytes": {"secret_key (in memory)": n * len(moduli) * 8},
            "bytes": "in-memory size: tf-shell has no ciphertext serialization",
        }

    def run(self, phases: Phases) -> tuple[np.ndarray, int, int]:
        shell = self.shell
        with phases("client encrypt"):
            cts = [shell.to_encrypted(x, self.key, self.context) for x in self.x]
        with phases("server compute"):
            outputs = [shell.matmul(ct, self.w) + self.b for ct in cts]
        with phases("client decrypt"):
            logits = np.concatenate([shell.to_tensorflow(out, self.key).numpy()[:, 0] for out in outputs])
        request = len(cts) * cts[0].shape[1] * self.ct_bytes
        return logits[: self.samples], request, len(outputs) * self.ct_bytes


if __name__ == "__main__":
    import importlib.metadata

    import tensorflow as tf

    serve("tf-shell", f"{importlib.metadata.version('tf-shell')} (TensorFlow {tf.__version__})", TfShellTask,
          sys.argv[1])
