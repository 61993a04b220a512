"""Protocols by name: the entry point group ``he_tf.protocols``, read lazily.

A distribution (he-tf itself included) declares its protocols in its metadata::

    [project.entry-points."he_tf.protocols"]
    simulate = "he_tf_simulate:Simulate"

:func:`available` lists them without importing any; :func:`create` imports
one, checks it, and builds it. A plugin that fails to import, is built for
another contract version or shares its name with another distribution's is
refused with a :class:`PluginError` naming the distribution; nothing here runs
at ``import he_tf``, so a broken plugin never breaks it.
"""

from __future__ import annotations

import dataclasses
from importlib import metadata

from he_tf.protocol.base import CONTRACT_VERSION, Protocol

GROUP = "he_tf.protocols"


class PluginError(RuntimeError):
    """A protocol plugin that cannot be used, and why (naming its distribution)."""


@dataclasses.dataclass(frozen=True)
class ProtocolEntry:
    """One protocol a distribution declares: its name, the distribution and version, and ``module:Class``."""

    name: str
    distribution: str
    version: str
    target: str
    _entry_point: metadata.EntryPoint = dataclasses.field(repr=False, compare=False)

    def load(self) -> type[Protocol]:
        """The protocol class, imported and checked against this contract."""
        where = f"{self.distribution} {self.version} ({self.target})"
        try:
            cls = self._entry_point.load()
        except Exception as e:  # noqa: BLE001  (any failure of a plugin's import is the plugin's)
            raise PluginError(f"the protocol {self.name!r} of {where} failed to import: "
                              f"{type(e).__name__}: {e}") from e
        if not (isinstance(cls, type) and issubclass(cls, Protocol)):
            raise PluginError(f"the protocol {self.name!r} of {where} is not a he_tf.protocol.Protocol subclass")
        version = getattr(cls, "contract_version", None)
        if version != CONTRACT_VERSION:
            raise PluginError(f"the protocol {self.name!r} of {where} implements protocol contract version "
                              f"{version}, this he-tf implements version {CONTRACT_VERSION}: install a "
                              f"release of {self.distribution} built for it")
        return cls


def available() -> list[ProtocolEntry]:
    """Every protocol the installed distributions declare, by name (nothing is imported)."""
    entries = []
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist
        entries.append(ProtocolEntry(ep.name, dist.name if dist else "?", dist.version if dist else "?", ep.value,
                                     ep))
    return sorted(entries, key=lambda e: (e.name, e.distribution))


def entry(name: str) -> ProtocolEntry:
    """The one distribution's entry for protocol ``name``."""
    found = [e for e in available() if e.name == name]
    if not found:
        names = sorted({e.name for e in available()})
        raise ValueError(f"no protocol named {name!r} is installed; available: {', '.join(names) or 'none'}")
    if len(found) > 1:
        claims = ", ".join(f"{e.distribution} {e.version} ({e.target})" for e in found)
        raise PluginError(f"the protocol name {name!r} is claimed by more than one distribution: {claims}; "
                          "uninstall all but one")
    return found[0]


def create(name: str, **options) -> Protocol:
    """Protocol ``name`` built with ``options`` (its constructor's keyword arguments)."""
    return entry(name).load()(**options)
