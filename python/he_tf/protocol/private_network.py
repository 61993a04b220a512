"""Private networks: each task of a ClusterConfig reachable only through Unix sockets in one directory.

TensorFlow's gRPC server listens on its port on every interface, with no authentication, and runs any
op a peer sends. A task in its own network namespace (``unshare --user --map-root-user --net``, no root
needed where unprivileged user namespaces are allowed) has only a loopback interface, so that port is
reachable from inside the namespace only. The forwarders here connect the namespace to the outside
through the file system:

- the task's own server is reachable through ``DIRECTORY/<job>-<task>.sock`` (mode 0600);
- every other task's address ``127.0.0.1:port`` inside the namespace leads to that task's socket in
  the same directory.

The directory must belong to this user and be closed to everyone else (mode 0700): the kernel then lets
only this user (and root) connect. Between hosts, OpenSSH forwards the sockets (``ssh -N -L
DIR/job-1.sock:DIR/job-1.sock host1``), so a peer needs an authorized SSH key. Every address of the
config must therefore be a loopback address with its own port: inside each namespace, loopback is where
the other tasks' forwarders listen.
"""

from __future__ import annotations

import fcntl
import os
import pathlib
import socket
import stat
import struct
import subprocess
import threading
from typing import Callable

from he_tf.protocol.players import ClusterConfig, _split_address

DRIVER_JOB = "localhost"  # TensorFlow's job of the process that connects (ClusterConfig.connect)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
UNSHARE = ("unshare", "--user", "--map-root-user", "--net", "--")


def check_namespaces() -> None:
    """Raises RuntimeError, saying why and what to do, unless ``unshare`` can make the namespaces."""
    try:
        result = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, timeout=30)
        problem = result.stderr.strip() if result.returncode else ""
    except (OSError, subprocess.TimeoutExpired) as e:
        problem = str(e)
    if problem:
        raise RuntimeError(f"cannot create a user and network namespace with `{' '.join(UNSHARE)} true`: "
                           f"{problem}. Allow unprivileged user namespaces (sysctl user.max_user_namespaces, "
                           "or kernel.unprivileged_userns_clone=1 on Debian), or keep the port unreachable "
                           "with a firewall instead")


def socket_path(directory: str | os.PathLike, job: str, task: int) -> pathlib.Path:
    """The Unix socket of task `task` of `job` in `directory`."""
    return pathlib.Path(directory) / f"{job}-{task}.sock"


def tasks(config: ClusterConfig) -> dict[tuple[str, int], int]:
    """(job, task) -> loopback port of every task: the players, then the driving process.

    Raises
    ------
    ValueError
        If the config has no ``driver`` address (the players must reach the driving process too) or an
        address is not on loopback.
    """
    if config.driver is None:
        raise ValueError("a private network needs the driving process's address in the config, e.g. "
                         "ClusterConfig({...}, driver='127.0.0.1:2220'): the players reach it through its "
                         "socket like every other task")
    addresses = {(config.job, config.task_index(p)): (p, a) for p, a in config.addresses.items()}
    addresses[(DRIVER_JOB, 0)] = ("the driver", config.driver)
    ports = {}
    for key, (name, address) in addresses.items():
        host, port = _split_address(name, address)
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"{name}: in a private network every address is a loopback address with its own "
                             f"port (other tasks are reached through forwarders there), got {address!r}; use "
                             f"'127.0.0.1:{port}'")
        ports[key] = port
    return ports


def check_directory(directory: str | os.PathLike) -> pathlib.Path:
    """`directory` if it is a directory of this user that nobody else may enter; ValueError if not."""
    path = pathlib.Path(directory)
    try:
        info = path.stat()
    except OSError as e:
        raise ValueError(f"socket directory {path}: {e.strerror}; create it with `mkdir -m 700 {path}`"
                         ) from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ValueError(f"socket directory {path} must be a directory owned by this user (uid "
                         f"{os.getuid()}) with mode 0700, got uid {info.st_uid} mode "
                         f"{stat.S_IMODE(info.st_mode):04o}: anyone who can connect to its sockets can run "
                         f"any op on the tasks; `chmod 700 {path}`")
    return path


def bring_up_loopback() -> None:
    """Sets the loopback interface up (a new network namespace starts with it down)."""
    request = struct.Struct("16sh22x")  # struct ifreq: name, flags
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        _, flags = request.unpack(fcntl.ioctl(s, 0x8913, request.pack(b"lo", 0)))  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, request.pack(b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


class Forwarders:
    """The listeners :func:`forward` started; :meth:`close` stops accepting (open connections go on)."""

    def __init__(self) -> None:
        self._listeners: list[socket.socket] = []

    def add(self, listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
        self._listeners.append(listener)
        threading.Thread(target=_accept, args=(listener, connect), daemon=True).start()

    def close(self) -> None:
        for listener in self._listeners:
            path = listener.getsockname() if listener.family == socket.AF_UNIX else None
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
            except OSError:
                pass
            listener.close()
            if path:
                pathlib.Path(path).unlink(missing_ok=True)
        self._listeners.clear()


def forward(config: ClusterConfig, directory: str | os.PathLike, own: tuple[str, int]) -> Forwarders:
    """Starts the forwarders of task `own` (``(job, task)``) in daemon threads.

    Its own server (``127.0.0.1:port``) becomes reachable through its socket; every other task's
    loopback address leads to that task's socket. Returns once every listener is bound.
    """
    directory = check_directory(directory)
    forwarders = Forwarders()
    try:
        for key, port in tasks(config).items():
            path = socket_path(directory, *key)
            if key == own:
                forwarders.add(_unix_listener(path),
                               lambda port=port: socket.create_connection(("127.0.0.1", port)))
            else:
                forwarders.add(_tcp_listener(port), lambda path=path: _unix_connection(path))
    except OSError:
        forwarders.close()
        raise
    return forwarders


def _unix_listener(path: pathlib.Path) -> socket.socket:
    if path.is_socket():
        path.unlink()  # left by an earlier run
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(64)
    return listener


def _tcp_listener(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    return listener


def _unix_connection(path: pathlib.Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
    except OSError:
        s.close()
        raise
    return s


def _accept(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    """Joins each accepted connection to a new one from `connect()`, until the listener is closed."""
    while True:
        try:
            incoming, _ = listener.accept()
        except OSError:  # closed
            return
        try:
            outgoing = connect()
        except OSError:  # the other end is not up (yet): the caller's gRPC retries
            incoming.close()
            continue
        for a, b in ((incoming, outgoing), (outgoing, incoming)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copies bytes until `source` ends; then ends both directions (waking the other pump) and closes
    `source` (the other pump closes `sink`)."""
    try:
        while data := source.recv(1 << 16):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (sink, source):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        source.close()
