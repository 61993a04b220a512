"""Command line: ``python -m he_tf demo``."""

from __future__ import annotations

import argparse
import time

import numpy as np


def demo(args: argparse.Namespace) -> None:
    import he_tf

    params = he_tf.Params()
    print(f"he-tf {he_tf.__version__}: CKKS with {params}")
    start = time.perf_counter()
    keys = he_tf.KeySet.generate(params, rotations=None)
    print(f"  key generation         {time.perf_counter() - start:8.3f} s"
          f"   (public context {len(keys.public.serialize()) / 1e6:.2f} MB)")

    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-10, 10, size=(args.rows, 4))
    y = rng.uniform(-10, 10, size=(args.rows, 4))

    start = time.perf_counter()
    x_enc, y_enc = he_tf.encrypt(keys.public, x), he_tf.encrypt(keys.public, y)
    print(f"  encrypt 2 x {x.shape}     {time.perf_counter() - start:8.3f} s   -> {x_enc!r}")
    start = time.perf_counter()
    total = x_enc + y_enc
    print(f"  add (encrypted)        {time.perf_counter() - start:8.3f} s")
    start = time.perf_counter()
    result = he_tf.decrypt(keys.secret, total).numpy()
    print(f"  decrypt                {time.perf_counter() - start:8.3f} s")
    error = np.abs(result - (x + y)).max()
    print(f"  max |decrypted - numpy| = {error:.3e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m he_tf", description="he-tf command line")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="encrypt, add and decrypt a small tensor; print the error")
    demo_parser.add_argument("--rows", type=int, default=1000, help="rows of the demo tensors (default 1000)")
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    demo(args)


if __name__ == "__main__":
    main()
