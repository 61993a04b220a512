"""Players: named roles (client, server, dealer, ...) and the devices their work runs on.

A config maps each player name to a TensorFlow device. Protocols place every
player's work with ``tf.device(config.device(player))``, so the same user code
runs with all players in this process (:class:`LocalConfig`, the default) or
with each player on its own TensorFlow server.
"""

from __future__ import annotations

from typing import Mapping, Sequence

LOCAL_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"
DEFAULT_PLAYERS = ("client", "server", "dealer")


class UnknownPlayerError(ValueError):
    """A player name that the installed config does not know."""


class Config:
    """Player names and the TensorFlow device each one's work is placed on."""

    def __init__(self, devices: Mapping[str, str]):
        for name in devices:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"player names must be identifiers like 'client', got {name!r}")
        if not devices:
            raise ValueError("a config needs at least one player")
        self._devices = dict(devices)

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
        return f"{type(self).__name__}({self._devices})"


class LocalConfig(Config):
    """Every player in this process, on the local CPU: nothing to start.

    >>> config = LocalConfig(["client", "server", "dealer"])
    """

    def __init__(self, players: Sequence[str] = DEFAULT_PLAYERS):
        if isinstance(players, str):
            raise TypeError("LocalConfig takes a list of player names, e.g. LocalConfig(['client', 'server'])")
        if len(set(players)) != len(players):
            raise ValueError(f"player names must be unique, got {list(players)}")
        super().__init__({name: LOCAL_DEVICE for name in players})


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


class ClusterConfig(Config):
    """Each player a task of one job in a ``tf.train.ClusterSpec``: its own TensorFlow server.

    Player i of ``addresses`` is task i of ``job``; its work is placed on
    ``/job:<job>/replica:0/task:<i>/device:CPU:0`` and TensorFlow's distributed runtime carries
    the tensors sent between players. Each host runs :meth:`start_server` for its player; the
    process that runs the computation calls :meth:`connect` first.

    >>> config = ClusterConfig({"client": "10.0.0.1:2222", "server": "10.0.0.2:2222"})
    >>> server = config.start_server("server")     # on the server's host; server.join() to serve
    >>> config.connect()                            # in the process that runs the protocol
    >>> set_config(config)
    """

    def __init__(self, addresses: Mapping[str, str], job: str = "player"):
        if not isinstance(addresses, Mapping):
            raise TypeError("ClusterConfig takes a mapping of player names to 'host:port' addresses")
        if not isinstance(job, str) or not job.isidentifier():
            raise ValueError(f"job must be an identifier, got {job!r}")
        for player, address in addresses.items():
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"player {player!r}: address must be 'host:port', got {address!r}")
        self.job = job
        self.addresses = dict(addresses)
        super().__init__({player: f"/job:{job}/replica:0/task:{i}/device:CPU:0"
                          for i, player in enumerate(self.addresses)})

    @property
    def cluster_spec(self):
        """The ``tf.train.ClusterSpec``: one job, one task per player in order."""
        import tensorflow as tf

        return tf.train.ClusterSpec({self.job: list(self.addresses.values())})

    def task_index(self, player: str) -> int:
        self.check(player)
        return list(self.addresses).index(player)

    def start_server(self, player: str):
        """Starts (and returns) ``player``'s ``tf.distribute.Server`` in this process."""
        import tensorflow as tf

        return tf.distribute.Server(self.cluster_spec, job_name=self.job, task_index=self.task_index(player),
                                    start=True)

    def connect(self) -> None:
        """Connects this process's eager runtime to the cluster, so every player's device is usable here."""
        import tensorflow as tf

        tf.config.experimental_connect_to_cluster(self.cluster_spec)
