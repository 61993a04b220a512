"""Players as processes of this host: ``serve-player`` for each, this process as one of them.

:class:`LoopbackCluster` picks free loopback ports, writes the ``ClusterConfig`` JSON, starts one
``python -m he_tf serve-player`` per player but the local one, connects this process as the local
player and installs the config; :meth:`LoopbackCluster.close` puts the previous config and a fresh
eager context back and stops the servers. Each server imports TensorFlow (seconds to tens of seconds
on a busy machine); every wait is bounded.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from he_tf.protocol.players import ClusterConfig, get_config, set_config

READY = "serving"  # serve-player's last start-up line: "player 'alice' serving /job:... at host:port"


def free_port() -> int:
    """A TCP port free on loopback now (another process may take it before it is bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphaned server if this process dies


def start_players(config_path: str | os.PathLike, players: Sequence[str], log_dir: str | os.PathLike, *,
                  prefix: Sequence[str] = (), options: Sequence[str] = (), timeout: float = 120.0,
                  startup: dict[str, str] | None = None) -> list[subprocess.Popen]:
    """One ``serve-player`` process per player (run under `prefix`, e.g. ``ip netns exec NS``, with more
    serve-player arguments `options`), returned once each printed its ready line; stderr goes to
    ``log_dir/<player>.log``. `startup`, if given, receives each player's output up to and including its
    ready line.

    Raises
    ------
    TimeoutError
        If a server is not ready within `timeout` seconds (all are stopped).
    OSError
        If a server exits first, e.g. its port was taken (all are stopped); the message has its log.
    """
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log_dir = Path(log_dir)
    procs: list[subprocess.Popen] = []
    for player in players:
        with open(log_dir / f"{player}.log", "w") as log:
            procs.append(subprocess.Popen(
                [*prefix, sys.executable, "-m", "he_tf", "serve-player", "--config", str(config_path),
                 "--player", player, *options], stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                preexec_fn=die_with_parent if sys.platform.startswith("linux") else None))
    deadline = time.monotonic() + timeout
    waiting = {p.stdout: (player, p) for player, p in zip(players, procs)}
    try:
        while waiting:
            ready, _, _ = select.select(list(waiting), [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"players {sorted(v[0] for v in waiting.values())} not serving after "
                                   f"{timeout:g} s; logs in {log_dir}")
            for stream in ready:
                player, proc = waiting.pop(stream)
                lines = [stream.readline()]  # the lines before the ready line are printed with it, at once
                while lines[-1] and READY not in lines[-1]:
                    lines.append(stream.readline())
                if not lines[-1]:  # EOF: the server exited (e.g. its port was taken)
                    raise OSError(f"serve-player {player!r} exited ({proc.wait()}): {''.join(lines)}"
                                  f"{(log_dir / f'{player}.log').read_text()[-2000:]}")
                if startup is not None:
                    startup[player] = "".join(lines)
    except BaseException:
        stop_players(procs)
        raise
    return procs


def stop_players(procs: Sequence[subprocess.Popen]) -> None:
    """Terminates the processes, killing any that has not exited after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class LoopbackCluster:
    """`players` as ``serve-player`` processes on loopback, this process connected as `local_player`.

    >>> cluster = LoopbackCluster(["client", "alice", "bob"], local_player="client")
    >>> ptr = he_tf.remote.send([1.0, 2.0], "alice")     # on alice's server process
    >>> cluster.close()

    Also a context manager. Connecting changes this process's eager runtime (TensorFlow cannot leave a
    cluster): ``close`` installs a fresh eager context, so tensors made while connected should not be
    used afterwards.

    Raises
    ------
    OSError, TimeoutError
        If the servers do not start (after `attempts` tries with new ports).
    """

    def __init__(self, players: Sequence[str], local_player: str, *, job: str = "player",
                 timeout: float = 120.0, attempts: int = 3):
        if local_player not in players:
            raise ValueError(f"local_player {local_player!r} must be one of the players {list(players)}")
        self._work = tempfile.TemporaryDirectory(prefix="he_tf-players-")
        path = Path(self._work.name) / "cluster.json"
        for attempt in range(attempts):
            config = ClusterConfig({p: f"127.0.0.1:{free_port()}" for p in players}, job=job,
                                   local_player=local_player)
            config.to_json(path)
            try:
                others = [p for p in players if p != local_player]
                self.processes = start_players(path, others, self._work.name, timeout=timeout)
                break
            except OSError:  # a port taken between picking and binding: new ports
                if attempt == attempts - 1:
                    self._work.cleanup()
                    raise
        self.config, self.config_path = config, path
        self._previous = get_config()
        try:
            config.connect(timeout=timeout)
        except BaseException:
            stop_players(self.processes)
            self._work.cleanup()
            raise
        set_config(config)
        self._closed = False

    def close(self) -> None:
        """Puts back the previous config and a fresh eager context, then stops the servers."""
        if self._closed:
            return
        self._closed = True
        from tensorflow.python.eager import context

        set_config(self._previous)
        # TensorFlow has no public disconnect: a new eager context drops the remote tasks.
        context._reset_context()
        stop_players(self.processes)
        self._work.cleanup()

    def __enter__(self) -> "LoopbackCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
