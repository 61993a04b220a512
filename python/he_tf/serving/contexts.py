"""The public contexts clients sent, one per key set, bounded in bytes, least recently used out first."""

from __future__ import annotations

import collections
import threading
from typing import Callable, Generic, TypeVar

from he_tf import _core
from he_tf.serving.errors import InvalidRequest, ResourceExhausted

T = TypeVar("T")


class ContextCache(Generic[T]):
    """``key-set id -> build(context bytes)``, holding at most ``max_bytes`` of serialized contexts.

    ``build`` validates and loads a context (e.g. a :class:`he_tf.models.Server` over it); it runs outside
    the lock, so one slow load does not stall requests of other key sets. The size counted for an entry
    is its serialized context's: the loaded keys take a small multiple of it in memory.
    """

    def __init__(self, max_bytes: int, build: Callable[[bytes], T]) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self._build = build
        self._entries: collections.OrderedDict[int, tuple[T, int]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_id: int) -> T | None:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None:
                return None
            self._entries.move_to_end(key_id)
            return entry[0]

    def put(self, context: bytes) -> tuple[int, T]:
        """Loads ``context`` unless its key set is cached; returns ``(key_id, value)``."""
        size = len(context)
        if size > self.max_bytes:
            raise ResourceExhausted(f"a public context of {size} bytes is larger than this server's whole "
                                    f"context cache ({self.max_bytes} bytes, --context-cache-bytes)")
        try:
            key_id = _core.read_public_header(bytes(context))[0]
        except ValueError as e:
            raise InvalidRequest(f"malformed public context: {e}") from None
        cached = self.get(key_id)
        if cached is not None:
            return key_id, cached
        value = self._build(context)  # raises for malformed contexts
        with self._lock:
            if key_id not in self._entries:
                self._entries[key_id] = (value, size)
                self.bytes += size
            self._entries.move_to_end(key_id)
            while self.bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.bytes -= evicted
                self.evictions += 1
            return key_id, self._entries[key_id][0]
