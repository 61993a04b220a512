"""Helpers of the serving tests and docs test: a served model's process, its ports, a self-signed certificate.

Every server listens on 127.0.0.1 only, on ports the kernel picks (``--port 0 --rest-port 0``); every wait
is bounded.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

READY_TIMEOUT = 120.0


class ServerProcess:
    """``python -m he_tf serve PATH ...`` in a child process, logging JSON lines to a file."""

    def __init__(self, path: Path | str, *args: str, log: Path, env: dict | None = None) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115  (closed in stop)
        command = [sys.executable, "-m", "he_tf", "serve", str(path), "--port", "0", "--rest-port", "0", *args]
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log, env=environment)
        self.ready: dict | None = None

    def events(self) -> list[dict]:
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        return events

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> ServerProcess:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready = [e for e in self.events() if e.get("event") == "ready"]
            if ready:
                self.ready = ready[0]
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            time.sleep(0.2)
        raise TimeoutError(f"the server was not ready within {timeout} s:\n{self.log_path.read_text()}")

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.ready['grpc_port']}"

    @property
    def rest_url(self) -> str:
        scheme = "https" if self.ready["tls"] else "http"
        return f"{scheme}://127.0.0.1:{self.ready['rest_port']}"

    def metrics(self) -> dict[str, float]:
        """The /metrics samples, ``name{labels}`` -> value."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ready['rest_port']}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line and not line.startswith("#")}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)
        finally:
            self._log.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for ``localhost`` and 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def rest(url: str, body: dict | None = None, token: str | None = None, cafile: Path | None = None,
         timeout: float = 30.0) -> tuple[int, dict]:
    """(HTTP status, JSON) of a GET (no body) or POST."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = None if cafile is None else ssl.create_default_context(cafile=str(cafile))
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
