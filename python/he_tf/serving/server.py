"""Both APIs in one process over one :class:`~he_tf.serving.service.Service`, until SIGTERM or SIGINT.

Start-up logs one ``ready`` line (JSON, with the ports bound) once both listen; scripts and tests wait
for it. On SIGTERM: health checks answer NOT_SERVING, new requests are refused (UNAVAILABLE / 503),
in-flight ones get ``drain_seconds`` to finish, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time

from he_tf.serving.cli import TOKEN_ENV

log = logging.getLogger("he_tf.serving")


@dataclasses.dataclass(frozen=True)
class Options:
    path: str
    model_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8500
    rest_port: int = 8501
    tls_cert: str | None = None
    tls_key: str | None = None
    token_file: str | None = None
    max_request_bytes: int = 64 << 20
    context_cache_bytes: int = 1 << 30
    timeout: float = 30.0
    concurrency: int = 2
    workers: int = 8
    drain_seconds: float = 10.0
    flood_bits: int | None = None


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, event, and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(record.created, 3), "level": record.levelname.lower(), "event": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _token(options: Options) -> str | None:
    if options.token_file is None:
        return os.environ.get(TOKEN_ENV) or None
    with open(options.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    if not token or len(token) > 1024 or not token.isprintable():
        raise ValueError(f"{options.token_file}: a token is 1 to 1024 printable characters")
    return token


def run(options: Options) -> int:
    _configure_logging()
    try:
        import he_tf.models as hm
        from he_tf.serving import grpc_api, rest_api
        from he_tf.serving.service import Limits, Service

        model = hm.load(options.path)
        name = options.model_name or os.path.basename(os.path.normpath(options.path))
        limits = Limits(max_request_bytes=options.max_request_bytes,
                        context_cache_bytes=options.context_cache_bytes, timeout=options.timeout,
                        concurrency=options.concurrency)
        service = Service(model, name, limits, options.flood_bits)
        token = _token(options)
        tls = ssl = None
        if options.tls_cert is not None:
            with open(options.tls_cert, "rb") as c, open(options.tls_key, "rb") as k:
                tls = grpc_api.Tls(key=k.read(), certificate=c.read())
            ssl = rest_api.ssl_context(options.tls_cert, options.tls_key)
        grpc_server, grpc_port, health = grpc_api.build(service, options.host, options.port,
                                                        workers=options.workers, tls=tls, token=token)
        rest = _RestThread(rest_api.app(service, token, options.workers), options.host, options.rest_port, ssl,
                           options.drain_seconds)
        grpc_server.start()
        rest_port = rest.start()
    except (ValueError, OSError) as e:  # ModelFormatError is a ValueError
        log.error("cannot start", extra={"fields": {"error": str(e)}})
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("ready", extra={"fields": {
        "model": name, "grpc_port": grpc_port, "rest_port": rest_port, "host": options.host,
        "tls": tls is not None, "token": token is not None, "pid": os.getpid(), "depth": model.depth,
        "layout": model.layout, "params": str(model.params)}})
    while not stop.wait(1.0):
        pass
    start = time.perf_counter()
    log.info("draining", extra={"fields": {"grace_seconds": options.drain_seconds}})
    service.draining = True
    grpc_api.drain(grpc_server, health, options.drain_seconds)
    rest.stop()
    log.info("stopped", extra={"fields": {"drain_seconds": round(time.perf_counter() - start, 3)}})
    return 0


class _RestThread:
    """aiohttp's event loop in a thread of its own (the main thread waits for signals)."""

    def __init__(self, app, host: str, port: int, ssl, grace: float) -> None:
        from aiohttp import web

        self._runner = web.AppRunner(app, shutdown_timeout=grace, access_log=None)
        self._host, self._port, self._ssl = host, port, ssl
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rest", daemon=True)

    def start(self) -> int:
        from aiohttp import web

        self._thread.start()

        async def listen() -> int:
            await self._runner.setup()
            site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
            await site.start()
            return self._runner.addresses[0][1]

        return asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
