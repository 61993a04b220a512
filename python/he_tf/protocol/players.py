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
