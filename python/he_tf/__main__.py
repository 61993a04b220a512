"""Command line: ``python -m he_tf demo`` (what ``make demo`` runs), ``python -m he_tf serve`` (a saved model
over TF Serving's API) and ``python -m he_tf serve-player``."""

from __future__ import annotations

import argparse
import importlib.util
import sys

DEMO_DESCRIPTION = """\
Encrypted inference, end to end. For each dataset (scikit-learn's bundled
copies, no download) a plaintext model is trained with Keras; the held-out
samples are then encrypted by a client, scored by a server that holds the
model and only the client's public context, and decrypted by the client.
The report compares encrypted with plaintext predictions and shows the time
and bytes of each step. Splits and training are seeded; encryption noise is
random by design, so the printed errors vary in their last digits.
"""

DEMO_EPILOG = """\
examples:
  python -m he_tf demo                               logistic + linear regression, batch layout
  python -m he_tf demo --layout vector               one sample per ciphertext and request: latency
  python -m he_tf demo --output polynomial           the server also evaluates a sigmoid polynomial
  python -m he_tf demo --datasets wine               softmax regression on 3 classes
  python -m he_tf demo --params 16384:60,40,40,60:40 your own CKKS parameters
"""

SERVE_DESCRIPTION = """\
Runs the TensorFlow server of one player of a he_tf.ClusterConfig until
interrupted. The server executes the ops the driving process places on this
player's device, with he_tf's op library loaded in this process.

TensorFlow's gRPC server listens on its port on every interface (there is no
bind-address option) and runs any op from any peer that reaches the port,
unauthenticated. With --private-network DIR the server runs in its own
network namespace: its port is then reachable only through the Unix socket
DIR/<job>-<task>.sock (mode 0600 in a directory of mode 0700), which other
hosts reach through SSH (ssh -N -L SOCK:SOCK host); see docs/protocols.md.
"""


def _params(text: str):
    """``N:BITS:SCALE`` (e.g. ``8192:60,40,60:40``) to he_tf.Params."""
    import he_tf

    try:
        n, bits, scale = text.split(":")
        return he_tf.Params(int(n), tuple(int(b) for b in bits.split(",")), int(scale))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}" if ":" in text and text.count(":") == 2 else
                                         f"{text!r} is not N:BITS:SCALE, e.g. 8192:60,40,60:40") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from he_tf.models.examples import TASKS

    parser = argparse.ArgumentParser(prog="python -m he_tf", description="he-tf command line")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="encrypted logistic and linear regression inference, reported",
                               description=DEMO_DESCRIPTION, epilog=DEMO_EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--datasets", nargs="+", choices=sorted(TASKS), default=["breast_cancer", "diabetes"],
                      metavar="NAME", help=f"datasets to run, from {', '.join(sorted(TASKS))} "
                      "(default: breast_cancer diabetes)")
    demo.add_argument("--layout", choices=["batch", "vector"], default="batch",
                      help="batch: samples packed into ciphertext slots, all test samples in one request, no "
                      "rotation keys (throughput). vector: one sample per ciphertext and per request, "
                      "rotations sum over the features (latency). Default: batch")
    demo.add_argument("--output", choices=["logits", "polynomial"], default="logits",
                      help="logits: the server returns logits and the client applies sigmoid/softmax after "
                      "decrypting (exact). polynomial: the server also evaluates a polynomial fit of the "
                      "sigmoid over the training logits' range (more levels, larger parameters). "
                      "Default: logits")
    demo.add_argument("--degree", type=_positive, default=3,
                      help="degree of the sigmoid polynomial with --output polynomial (default 3)")
    demo.add_argument("--params", type=_params, default=None, metavar="N:BITS:SCALE",
                      help="CKKS parameters: ring size, coefficient modulus prime bit sizes, log2 scale, "
                      "e.g. 8192:60,40,60:40. Default: the smallest 128-bit-secure ones for the model's "
                      "depth")
    demo.add_argument("--request-size", type=_positive, default=None, metavar="N",
                      help="samples per request (default: as many as one ciphertext holds in batch layout, "
                      "1 in vector layout)")
    demo.add_argument("--epochs", type=_positive, default=30, help="Keras training epochs (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="seed for the data split and training (default 0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    serve = commands.add_parser("serve-player", help="run one player's TensorFlow server (ClusterConfig)",
                                description=SERVE_DESCRIPTION)
    serve.add_argument("--config", required=True, metavar="CLUSTER.json",
                       help='the cluster config, {"job": "player", "players": {"client": "host:port", ...}} '
                       "(ClusterConfig.to_json); every host uses the same file")
    serve.add_argument("--player", required=True, metavar="NAME", help="the player whose server to run here")
    serve.add_argument("--private-network", metavar="DIR", default=None,
                       help="run in a new user and network namespace (unshare), reachable only through Unix "
                       "sockets in DIR (yours, mode 0700): DIR/<job>-<task>.sock for this server, the other "
                       "tasks' sockets for them; every address in the config must be 127.0.0.1:PORT and the "
                       "config needs a \"driver\" address")
    from he_tf.serving.cli import add_parser

    add_parser(commands)
    return parser


# Set (to the user's name) for the process re-executed under unshare.
INSIDE_PRIVATE_NETWORK = "HE_TF_INSIDE_PRIVATE_NETWORK"


def serve_player(config_path: str, player: str, private_network: str | None = None) -> int:
    """Starts ``player``'s server from the JSON cluster config and serves until killed.

    With `private_network` (a directory), re-executes itself in a new user and network namespace first,
    then forwards its port and the other tasks' through the Unix sockets of that directory.
    """
    import getpass
    import os

    from he_tf.protocol import private_network as pn
    from he_tf.protocol.players import ClusterConfig, UnknownPlayerError

    try:
        config = ClusterConfig.from_json(config_path)
        if player not in config.players:
            raise UnknownPlayerError(f"player {player!r} is not in {config_path}; its players are "
                                     f"{', '.join(config.players)}")
        user = os.environ.get(INSIDE_PRIVATE_NETWORK) or getpass.getuser()
        if private_network is not None:
            private_network = os.path.abspath(private_network)
            pn.tasks(config)
            pn.check_directory(private_network)
            if INSIDE_PRIVATE_NETWORK not in os.environ:
                pn.check_namespaces()
                argv = [*pn.UNSHARE, sys.executable, "-m", "he_tf", "serve-player", "--config", config_path,
                        "--player", player, "--private-network", private_network]
                sys.stdout.flush()
                # The user's name from outside: inside the namespace this user is uid 0.
                os.execvpe(argv[0], argv, dict(os.environ, **{INSIDE_PRIVATE_NETWORK: user}))
            pn.bring_up_loopback()
            pn.forward(config, private_network, (config.job, config.task_index(player)))
        server = config.start_server(player)
    except (ValueError, RuntimeError, OSError) as e:  # UnknownPlayerError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in _startup_lines(config, player, private_network, user):
        print(f"he_tf: {line}", flush=True)
    server.join()
    return 0


def _startup_lines(config, player: str, private_network: str | None, user: str) -> list[str]:
    """What a peer reaching the port can do, where the server listens, what to do; then the ready line."""
    from he_tf.protocol import private_network as pn
    from he_tf.protocol.players import EXPOSURE

    port = config.address(player).rsplit(":", 1)[1]
    if private_network is None:
        where = (f"listening on port {port} of every interface of this host. Keep it unreachable from anyone "
                 "you would not let run programs as this user (firewall, VPN), or restart with "
                 "--private-network DIR (docs/protocols.md, 'Trust').")
    else:
        own = pn.socket_path(private_network, config.job, config.task_index(player))
        where = (f"listening on port {port} inside a private network namespace (loopback only): it is "
                 f"reachable from outside only through the Unix socket {own}, i.e. by this user and root on "
                 "this host and by whoever they forward it to (ssh -N -L SOCK:SOCK host).")
    host = "this host" if private_network is None else "its own network namespace (loopback only)"
    return [EXPOSURE.format(user=user, where=host), where,
            # The last line, which scripts (and tests) wait for before connecting.
            f"player {player!r} serving {config.device(player)} at {config.address(player)}"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve-player":
        return serve_player(args.config, args.player, args.private_network)
    if args.command == "serve":
        from he_tf.serving import cli

        return cli.main(args)
    missing = [name for module, name in (("sklearn", "scikit-learn"), ("tqdm", "tqdm"))
               if importlib.util.find_spec(module) is None]
    if missing:
        print(f"error: the demo needs {' and '.join(missing)}: pip install 'he-tf[demo]'", file=sys.stderr)
        return 2
    from he_tf.models import demo

    options = demo.Options(datasets=tuple(args.datasets), layout=args.layout, output=args.output,
                           degree=args.degree, params=args.params, request_size=args.request_size,
                           epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    try:
        demo.run(options)
    except ValueError as e:  # e.g. parameters too small for the model: say why, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
