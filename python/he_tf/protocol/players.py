"""Players: named roles (client, server, dealer, ...) and the devices their work runs on.

A config maps each player name to a TensorFlow device. Protocols place every
player's work with ``tf.device(config.device(player))``, so the same user code
runs with all players in this process (:class:`LocalConfig`, the default) or
with each player on its own TensorFlow server.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import time
from typing import Mapping, Sequence

LOCAL_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"
DEFAULT_PLAYERS = ("client", "server", "dealer")


class UnknownPlayerError(ValueError):
    """A player name that the installed config does not know."""


class Config:
    """Player names and the TensorFlow device each one's work is placed on.

    ``local_player`` names the player this process is (``he_tf.remote``'s "me": the sender of what it
    sends, the receiver of what it gets); None when the process is only a driver.
    """

    def __init__(self, devices: Mapping[str, str], local_player: str | None = None):
        for name in devices:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"player names must be identifiers like 'client', got {name!r}")
        if not devices:
            raise ValueError("a config needs at least one player")
        self._devices = dict(devices)
        if local_player is not None:
            self.check(local_player)
        self._local_player = local_player

    @property
    def local_player(self) -> str | None:
        """The player this process is, or None."""
        return getattr(self, "_local_player", None)  # None also for a subclass that sets no local player

    @property
    def players(self) -> tuple[str, ...]:
        return tuple(self._devices)

    def device(self, player: str) -> str:
        """The device that ``player``'s work is placed on."""
        try:
            return self._devices[player]
        except (KeyError, TypeError):
            raise UnknownPlayerError(
                f"unknown player {player!r}: the config knows {', '.join(map(repr, self._devices))}; "
                "add it, e.g. he_tf.set_config(he_tf.LocalConfig([..., "
                f"{player!r}]))"
            ) from None

    def check(self, *players: str) -> None:
        """Raises :class:`UnknownPlayerError` for any name the config does not know."""
        for player in players:
            self.device(player)

    def __repr__(self) -> str:
        local = "" if self.local_player is None else f", local_player={self.local_player!r}"
        return f"{type(self).__name__}({self._devices}{local})"


class LocalConfig(Config):
    """Every player in this process, on the local CPU: nothing to start.

    ``local_player`` says which of them this process acts as for ``he_tf.remote``.

    >>> config = LocalConfig(["client", "server", "dealer"])
    """

    def __init__(self, players: Sequence[str] = DEFAULT_PLAYERS, local_player: str | None = None):
        if isinstance(players, str):
            raise TypeError("LocalConfig takes a list of player names, e.g. LocalConfig(['client', 'server'])")
        if len(set(players)) != len(players):
            raise ValueError(f"player names must be unique, got {list(players)}")
        super().__init__({name: LOCAL_DEVICE for name in players}, local_player)


_config: Config = LocalConfig()


def set_config(config: Config) -> None:
    """Installs ``config``: protocols created afterwards place players' work on its devices."""
    global _config
    if not isinstance(config, Config):
        raise TypeError(f"set_config takes a he_tf config such as LocalConfig([...]), got {type(config).__name__}")
    _config = config


def get_config() -> Config:
    """The installed config (``LocalConfig()`` with client, server and dealer unless set)."""
    return _config


# What a peer that reaches a player's TensorFlow server can do: stated by serve-player and the docs.
EXPOSURE = (
    "TensorFlow's gRPC server listens on this port on every interface of {where} (it has no bind-address "
    "option: the host part of the address does not restrict it), without authentication or encryption. Any "
    "peer that reaches the port can run any TensorFlow op in this process as user {user}: read and write any "
    "file this user may (and so run programs as this user), open network connections from this host, and "
    "read any tensor of this process, including the secret key if this player holds it."
)


class ServerUnreachableError(ConnectionError):
    """A player's TensorFlow server does not answer at its configured address."""


# TensorFlow's job names (DeviceNameUtils): a letter, then letters, digits and underscores.
_JOB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]+)")


def _split_address(player: str, address: object) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) as (host, port); ValueError naming the player if not."""
    match = _HOST_PORT.fullmatch(address) if isinstance(address, str) else None
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"player {player!r}: address must be 'host:port' with a port in 1..65535, "
                         f"e.g. '10.0.0.2:2222', got {address!r}")
    return match["host"].strip("[]"), int(match["port"])


class ClusterConfig(Config):
    """Each player a task of one job in a ``tf.train.ClusterSpec``: its own TensorFlow server.

    Player i of ``addresses`` is task i of ``job``; its work is placed on
    ``/job:<job>/replica:0/task:<i>/device:CPU:0`` and TensorFlow's distributed runtime carries
    the tensors sent between players. Each player's host runs that player's server
    (:meth:`start_server`, or ``python -m he_tf serve-player --config cluster.json --player NAME``);
    the process that runs the computation calls :meth:`connect`, then installs the config with
    :func:`set_config`. User code is the same as with :class:`LocalConfig`.

    Parameters
    ----------
    addresses
        Player name -> ``"host:port"`` of its server, as the other players and the driving process
        reach it. The order fixes the task indices, so every host must use the same mapping (e.g. the
        same :meth:`to_json` file).
    job
        The TensorFlow job of the players (a letter, then letters, digits, ``_``); not ``localhost``,
        the job of the process that connects.
    driver
        ``"host:port"`` of the gRPC server that :meth:`connect` starts in the driving process (its job
        ``localhost``), as the players reach it; None lets TensorFlow pick a free port. Needed for a
        private network (``he_tf.protocol.private_network``), where every task's port is fixed.
    local_player
        The player this process is: :meth:`connect` then makes this process that player's task (its
        server starts here, at its address; run no ``serve-player`` for it) instead of a driver of job
        ``localhost``. Not part of :meth:`to_json`: each host names its own. Excludes ``driver``.

    Raises
    ------
    ValueError
        For a malformed address, an address given to two players or a bad job name.

    Examples
    --------
    >>> config = ClusterConfig({"client": "10.0.0.1:2222", "server": "10.0.0.2:2222"})
    >>> config.device("server")
    '/job:player/replica:0/task:1/device:CPU:0'
    >>> server = config.start_server("server")     # on the server's host; server.join() to serve
    >>> config.connect()                            # in the process that runs the protocol
    >>> set_config(config)
    """

    def __init__(self, addresses: Mapping[str, str], job: str = "player", driver: str | None = None,
                 local_player: str | None = None):
        if not isinstance(addresses, Mapping):
            raise TypeError("ClusterConfig takes a mapping of player names to 'host:port' addresses")
        if not isinstance(job, str) or not _JOB_NAME.fullmatch(job) or job == "localhost":
            raise ValueError(f"job must be a name like 'player' (a letter, then letters, digits, _) other "
                             f"than 'localhost', got {job!r}")
        for player, address in addresses.items():
            _split_address(player, address)
        if driver is not None:
            _split_address("the driver", driver)
        values = list(addresses.values()) + ([] if driver is None else [driver])
        repeated = sorted({a for a in values if values.count(a) > 1})
        if repeated:
            raise ValueError(f"each player needs its own server address; given to several: {repeated}")
        if driver is not None and local_player is not None:
            raise ValueError(f"a process connected as player {local_player!r} is that player's task, not a "
                             "driver of its own: give driver or local_player, not both")
        super().__init__({player: f"/job:{job}/replica:0/task:{i}/device:CPU:0"
                          for i, player in enumerate(addresses)}, local_player)
        self.job = job
        self.driver = driver
        self._addresses = dict(addresses)

    @property
    def addresses(self) -> dict[str, str]:
        """Player name -> ``"host:port"``, in task order (a copy)."""
        return dict(self._addresses)

    def address(self, player: str) -> str:
        """The ``"host:port"`` of ``player``'s server; :class:`UnknownPlayerError` for unknown names."""
        self.check(player)
        return self._addresses[player]

    @property
    def cluster_spec(self):
        """The ``tf.train.ClusterSpec``: one job, one task per player in order."""
        import tensorflow as tf

        return tf.train.ClusterSpec({self.job: list(self._addresses.values())})

    def task_index(self, player: str) -> int:
        """``player``'s task in the job; :class:`UnknownPlayerError` for unknown names."""
        self.check(player)
        return list(self._addresses).index(player)

    def start_server(self, player: str, start: bool = True):
        """Starts ``player``'s ``tf.distribute.Server`` in this process and returns it.

        Run it on ``player``'s host; ``server.join()`` serves until the process ends. The server
        executes the ops placed on ``player``'s device, so its process needs he_tf's op library: this
        method loads it (``he_tf.ops``), with the ciphertext and public-context variant decoders that
        tensors arriving from other tasks need.

        The server listens on the address's port on every interface of this host, whatever its host
        part (TensorFlow binds ``[::]:port``; no option of ``tf.distribute.Server`` changes that), and
        runs any op from any peer that reaches the port, unauthenticated (:data:`EXPOSURE`). Run it in
        a private network (``python -m he_tf serve-player --private-network DIR``) or behind a firewall.

        Raises
        ------
        UnknownPlayerError
            If ``player`` is not in the config.
        RuntimeError
            If the server cannot start, e.g. its port is taken; the message names the address.
        """
        import tensorflow as tf

        from he_tf import ops  # noqa: F401  (kernels and variant decoders must be registered in this process)

        task = self.task_index(player)
        try:
            return tf.distribute.Server(self.cluster_spec, job_name=self.job, task_index=task,
                                        protocol="grpc", start=start)
        except (tf.errors.OpError, ValueError) as e:
            raise RuntimeError(f"cannot start the TensorFlow server of player {player!r} (task {task}) at "
                               f"{self._addresses[player]}: {getattr(e, 'message', e)}") from None

    def wait_for_servers(self, timeout: float = 60.0) -> None:
        """Waits until every player's server (but the local player's) accepts TCP connections.

        Raises
        ------
        ServerUnreachableError
            Naming the first player and address that did not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        for player, address in self._addresses.items():
            if player == self.local_player:
                continue  # this process's own server, started by connect
            host, port = _split_address(player, address)
            while True:
                try:
                    with socket.create_connection((host, port), timeout=1.0):
                        break
                except OSError as e:
                    if time.monotonic() >= deadline:
                        raise ServerUnreachableError(
                            f"the TensorFlow server of player {player!r} is not reachable at {address} "
                            f"(waited {timeout:g} s: {e}); start it on that host with `python -m he_tf "
                            f"serve-player --config CLUSTER.json --player {player}` or "
                            "ClusterConfig.start_server"
                        ) from None
                    time.sleep(0.1)

    def connect(self, timeout: float = 60.0) -> None:
        """Connects this process's eager runtime to the cluster, so every player's device is usable here.

        Calls ``tf.config.experimental_connect_to_cluster``: this process joins as job ``localhost``
        (TensorFlow picks its port) and drives the computation. Every Python value it feeds (what a
        ``define_private_input`` function returns) or fetches (``.numpy()`` of an output) passes
        through this process, and so does key generation: run it where those values may be. The
        driving process's own gRPC server (``driver``) is exposed like the players' (:data:`EXPOSURE`).
        With ``local_player``, this process joins as that player's task instead, and its server at that
        player's address is exposed the same way.

        Raises
        ------
        ServerUnreachableError
            If a server does not accept connections within ``timeout`` seconds. TensorFlow connects
            lazily and would block forever on the first op, so every address is checked first.
        """
        import tensorflow as tf

        self.wait_for_servers(timeout)
        if self.local_player is not None:
            tf.config.experimental_connect_to_cluster(self.cluster_spec, job_name=self.job,
                                                      task_index=self.task_index(self.local_player))
        else:
            spec = self.cluster_spec.as_dict()
            if self.driver is not None:
                spec["localhost"] = [self.driver]  # connect_to_cluster's own job: else a port TF picks
            tf.config.experimental_connect_to_cluster(tf.train.ClusterSpec(spec))
        # Connecting is lazy: one op per task makes a wrong cluster fail here, not mid-protocol.
        for player in self.players:
            with tf.device(self.device(player)):
                tf.constant(0).numpy()

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """``{"job": ..., "players": {name: "host:port", ...}}`` (and ``"driver"`` when set), written to
        ``path`` if given."""
        data = {"job": self.job, "players": self._addresses}
        if self.driver is not None:
            data["driver"] = self.driver
        text = json.dumps(data, indent=2) + "\n"
        if path is not None:
            pathlib.Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike, local_player: str | None = None) -> "ClusterConfig":
        """Reads a :meth:`to_json` file (``local_player`` as in the constructor); ValueError naming the file
        if it is not one."""
        try:
            data = json.loads(pathlib.Path(path).read_text())
            players, job, driver = data["players"], data.get("job", "player"), data.get("driver")
            if not isinstance(players, dict):
                raise TypeError("'players' must map names to 'host:port'")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}: not a he_tf cluster config ({type(e).__name__}: {e}); expected "
                             '{"job": "player", "players": {"client": "host:port", ...}}') from None
        return cls(players, job=job, driver=driver, local_player=local_player)

    def __repr__(self) -> str:
        driver = "" if self.driver is None else f", driver={self.driver!r}"
        local = "" if self.local_player is None else f", local_player={self.local_player!r}"
        return f"ClusterConfig({self._addresses}, job={self.job!r}{driver}{local})"
