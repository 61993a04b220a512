"""Encrypted logistic inference against OpenFHE, tf-shell and TenSEAL (``python -m benchmarks.peers``).

Each peer runs in its own process and virtualenv (``make bench-peers``); the workers here import only
the standard library, NumPy and their own library, plus :mod:`benchmarks.peers.common`.
``tenseal_cnn_job`` is TenSEAL's side of :mod:`benchmarks.cryptonets` (a convolutional network).
"""
