"""Players in private networks: reachable only through their Unix sockets, or an SSH tunnel with the key.

TensorFlow's gRPC server cannot be bound to one interface (``test_cluster.py`` shows it listening on
every interface), so ``serve-player --private-network DIR`` runs each player in its own user and network
namespace. Here two players (client, server) run that way on loopback; this test process drives them
through its own forwarders, as a driver on the same host would. Checked: nothing listens on the
players' ports in this namespace, so a peer with no access to the sockets cannot even connect; a peer
with access runs ops, across both players and with inputs fed from the driver; an SSH tunnel (when
``sshd`` is installed) reaches a player with the authorized key and is refused without it.
Each server imports TensorFlow: ~20-60 s on a busy 2-core machine. Every process is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import private_network
from he_tf.protocol.players import ClusterConfig
from he_tf.remote.loopback import die_with_parent, free_port, start_players, stop_players
from test_cluster import STARTUP_TIMEOUT, infer_in_tf_function, listening

PLAYERS = ("client", "server")
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _namespaces_allowed() -> bool:
    try:
        private_network.check_namespaces()
        return True
    except RuntimeError:
        return False


needs_namespaces = pytest.mark.skipif(not _namespaces_allowed(),
                                      reason="unprivileged user namespaces unavailable (`unshare -rn` fails)")


def private_config() -> ClusterConfig:
    return ClusterConfig({p: f"127.0.0.1:{free_port()}" for p in PLAYERS}, driver=f"127.0.0.1:{free_port()}")


def port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def grpc_answers(address: tuple[str, int] | str, timeout: float = 10.0) -> bool:
    """Whether an HTTP/2 server (gRPC) answers the client preface with a SETTINGS frame at `address`."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(address)
            s.sendall(HTTP2_PREFACE + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))  # + an empty SETTINGS frame
            header = s.recv(9)
            return len(header) == 9 and header[3] == 4  # frame type 4: SETTINGS
    except OSError:
        return False


# --- no servers needed ----------------------------------------------------------------------------


def test_private_network_refuses_configs_it_cannot_forward():
    with pytest.raises(ValueError, match="driving process's address"):
        private_network.tasks(ClusterConfig({"a": "127.0.0.1:1"}))
    with pytest.raises(ValueError, match="loopback address.*'127.0.0.1:2'"):
        private_network.tasks(ClusterConfig({"a": "127.0.0.1:1", "b": "10.0.0.2:2"}, driver="127.0.0.1:3"))
    config = ClusterConfig({"a": "127.0.0.1:1", "b": "localhost:2"}, driver="127.0.0.1:3", job="hetf")
    assert private_network.tasks(config) == {("hetf", 0): 1, ("hetf", 1): 2, ("localhost", 0): 3}


def test_socket_directory_must_be_closed_to_others(tmp_path):
    with pytest.raises(ValueError, match="mkdir -m 700"):
        private_network.check_directory(tmp_path / "missing")
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    with pytest.raises(ValueError, match="mode 0700, got .* mode 0755.*chmod 700"):
        private_network.check_directory(open_dir)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    assert private_network.check_directory(closed) == closed


def test_driver_address_round_trips(tmp_path):
    config = private_config()
    config.to_json(tmp_path / "c.json")
    assert ClusterConfig.from_json(tmp_path / "c.json").driver == config.driver
    with pytest.raises(ValueError, match="own server address"):
        ClusterConfig({"a": "127.0.0.1:5"}, driver="127.0.0.1:5")


# --- players in private networks ------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_cluster(tmp_path_factory):
    """Two serve-player --private-network processes, not yet connected; (config, socket dir, startup)."""
    if not _namespaces_allowed():
        pytest.skip("unprivileged user namespaces unavailable (`unshare -rn` fails)")
    work = tmp_path_factory.mktemp("private")
    sockets = work / "sockets"
    sockets.mkdir(mode=0o700)
    config = private_config()
    config.to_json(work / "cluster.json")
    startup: dict[str, str] = {}
    procs = start_players(work / "cluster.json", PLAYERS, work, options=("--private-network", str(sockets)),
                          timeout=STARTUP_TIMEOUT, startup=startup)
    try:
        yield config, sockets, startup
    finally:
        stop_players(procs)


@needs_namespaces
def test_nothing_listens_outside_the_namespaces(private_cluster):
    config, sockets, startup = private_cluster
    for player, address in config.addresses.items():
        assert listening(port(address)) == [], player
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port(address)), timeout=5).close()
        own = private_network.socket_path(sockets, config.job, config.task_index(player))
        assert stat.S_IMODE(own.stat().st_mode) == 0o600 and own.stat().st_uid == os.getuid()
        assert grpc_answers(str(own))  # the socket leads to the player's gRPC server
        assert f"reachable from outside only through the Unix socket {own}" in startup[player]


@needs_namespaces
def test_a_peer_with_the_sockets_runs_ops_on_every_player(private_cluster):
    """This process, with access to the socket directory, connects as the driver and runs a CKKS product."""
    from tensorflow.python.eager import context

    config, sockets, _ = private_cluster
    forwarders = private_network.forward(config, sockets, (private_network.DRIVER_JOB, 0))
    previous = he_tf.get_config()
    try:
        config.connect(timeout=30)
        he_tf.set_config(config)
        with tf.device(config.device("server")):  # any op: here, reading a file as the server's user
            assert tf.io.read_file(__file__).numpy() == Path(__file__).read_bytes()
        infer_in_tf_function(config)  # its input pulled by the client's task through the driver socket
    finally:
        he_tf.set_config(previous)
        context._reset_context()  # drop the remote tasks before their servers stop
        forwarders.close()
    assert all(listening(port(a)) == [] for a in config.addresses.values())  # the forwarders stopped


SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)
    return path


@pytest.fixture
def sshd(tmp_path):
    """An sshd of this user on a loopback port that accepts one key; (port, authorized key, other key)."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH (sshd, ssh, ssh-keygen) not installed: "
                    "apt-get install openssh-server openssh-client")
    if os.getuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755)  # sshd's privilege separation directory (its service makes it)
    authorized, stranger = _keygen(tmp_path / "authorized"), _keygen(tmp_path / "stranger")
    host_key = _keygen(tmp_path / "host")
    (tmp_path / "authorized_keys").write_text((tmp_path / "authorized.pub").read_text())
    ssh_port = free_port()
    (tmp_path / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{ssh_port}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {tmp_path}/authorized_keys\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {tmp_path}/sshd.pid\nAllowStreamLocalForwarding yes\nAllowTcpForwarding yes\n")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(tmp_path / "sshd_config")], stderr=subprocess.PIPE,
                            preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not listening(ssh_port) and proc.poll() is None:
            time.sleep(0.1)
        if not listening(ssh_port):
            reason = proc.stderr.read().decode()[-500:] if proc.poll() is not None else "timeout"
            pytest.skip(f"sshd did not start: {reason}")
        yield ssh_port, authorized, stranger
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _tunnel(ssh_port: int, key: Path, local_port: int, remote_socket: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["ssh", "-N", "-p", str(ssh_port), "-i", str(key), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "ExitOnForwardFailure=yes",
         "-L", f"127.0.0.1:{local_port}:{remote_socket}", f"{os.environ.get('USER', 'root')}@127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent)


def _wait_listening(port_: int, proc: subprocess.Popen, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if listening(port_):
            return True
        time.sleep(0.1)
    return False


@needs_namespaces
def test_ssh_tunnel_reaches_a_player_with_the_key_only(private_cluster, sshd):
    config, sockets, _ = private_cluster
    ssh_port, authorized, stranger = sshd
    server_socket = private_network.socket_path(sockets, config.job, config.task_index("server"))
    refused_port, tunnel_port = free_port(), free_port()
    refused = _tunnel(ssh_port, stranger, refused_port, server_socket)
    try:
        assert refused.wait(timeout=30) != 0
        assert b"Permission denied (publickey" in refused.stderr.read()
        assert not grpc_answers(("127.0.0.1", refused_port), timeout=2)
    finally:
        if refused.poll() is None:
            refused.kill()
        refused.wait()
        refused.stderr.close()
    tunnel = _tunnel(ssh_port, authorized, tunnel_port, server_socket)
    try:
        assert _wait_listening(tunnel_port, tunnel), tunnel.stderr.read() if tunnel.poll() is not None else ""
        assert grpc_answers(("127.0.0.1", tunnel_port))  # the server's gRPC port, through SSH
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
        tunnel.stderr.close()
