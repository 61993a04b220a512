"""Players in separate network namespaces: he_tf.remote's traffic crosses real (virtual) interfaces.

The test makes, and removes at the end, a hub namespace with a bridge and one namespace per player
(alice, bob), each joined to the bridge by a veth pair: hub 10.231.0.1 (the client, this test's driver
process), alice 10.231.0.2, bob 10.231.0.3. Nothing is added to this host's own network, and every
process that talks runs inside these namespaces (this test process only starts them and reads their
output). alice's and bob's ``serve-player`` run in their namespaces; the driver (tests/netns_driver.py)
runs in the hub's as player "client" and counts the bytes on each player's link around each step.
Checked: a 2 MiB tensor sent to alice crosses her link; summing it there and getting the sum does not
bring it back; a move to bob is refused until granted, then crosses bob's link; alice's 4 MiB of
records, read by her server from her file, never cross (a remote fit moves the model and its weights
only) and the weights equal Keras's. Needs root (``ip netns add``); skipped, saying why, where
namespaces are not permitted. ~30-60 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from he_tf.protocol.players import ClusterConfig
from he_tf.remote.loopback import die_with_parent, start_players, stop_players

MiB = 2**20
PORT = 2222  # every namespace has its own ports
SUBNET = "10.231.0"
ADDRESSES = {"client": f"{SUBNET}.1", "alice": f"{SUBNET}.2", "bob": f"{SUBNET}.3"}
DRIVER = Path(__file__).resolve().parent / "netns_driver.py"


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def _unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = f"hetf{os.getpid()}probe"
    try:
        ip("netns", "add", probe)
    except subprocess.CalledProcessError as e:
        return f"`ip netns add` is not permitted here ({e.stderr.strip()}); it needs root"
    ip("netns", "del", probe)
    return None


class Network:
    """The hub namespace with bridge br0 at `addresses["client"]`, and one namespace per other player at
    its address, joined to the bridge by a veth pair."""

    def __init__(self, addresses: dict[str, str] = ADDRESSES) -> None:
        self.prefix = f"hetf{os.getpid()}"
        self.hub = f"{self.prefix}-hub"
        self.addresses = addresses
        self.players = {p: f"{self.prefix}-{p}" for p in addresses if p != "client"}
        self.made: list[str] = []
        try:
            self._make()
        except BaseException:
            self.remove()
            raise

    def _make(self) -> None:
        for ns in (self.hub, *self.players.values()):
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "addr", "add", f"{self.addresses['client']}/24", "dev", "br0")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for player, ns in self.players.items():
            hub_end = f"v-{player}"
            ip("-n", self.hub, "link", "add", hub_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", self.hub, "link", "set", hub_end, "master", "br0")
            ip("-n", self.hub, "link", "set", hub_end, "up")
            ip("-n", ns, "addr", "add", f"{self.addresses[player]}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def exec_prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]

    def remove(self) -> None:
        for ns in reversed(self.made):  # deleting a namespace deletes its interfaces
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.made.clear()


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    reason = _unavailable()
    if reason is not None:
        pytest.skip(f"players in network namespaces: {reason}")
    work = tmp_path_factory.mktemp("netns")
    config = ClusterConfig({p: f"{a}:{PORT}" for p, a in ADDRESSES.items()})
    config.to_json(work / "cluster.json")
    net = Network()
    procs = []
    try:
        for player, ns in net.players.items():
            procs += start_players(work / "cluster.json", [player], work, prefix=net.exec_prefix(ns))
        yield net, work
    finally:
        stop_players(procs)
        net.remove()


def test_remote_traffic_crosses_the_players_links(network):
    net, work = network
    done = subprocess.run([*net.exec_prefix(net.hub), sys.executable, str(DRIVER), str(work / "cluster.json"),
                           str(work)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), preexec_fn=die_with_parent)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1))  # the byte counts, shown with pytest -s
    devices = {p: f"/job:player/replica:0/task:{i}/device:CPU:0" for i, p in enumerate(ADDRESSES) if i}
    assert out["devices"] == {"sent": devices["alice"], "moved": devices["bob"], "records": devices["alice"]}
    # Sent: the 2 MiB crossed alice's link towards her, and nothing as large crossed bob's.
    assert out["send"]["alice"]["to"] >= 2 * MiB and out["send"]["bob"]["to"] < 256 * 1024
    # Summed there: the sum came back, the tensor did not.
    assert out["reduce_sum"]["alice"]["from"] < 256 * 1024 and out["sum_error"] < 1e-9
    # Moved to bob once granted: it reached bob over his link.
    assert "'bob' may not receive" in out["move_refused"]
    assert out["move"]["bob"]["to"] >= 2 * MiB and out["moved_equal"]
    # Alice's records stayed with her: reading them and training on them moved far less than they weigh.
    assert out["records_bytes"] >= 4 * MiB
    assert out["define_input"]["alice"]["from"] < 256 * 1024
    assert out["fit"]["alice"]["from"] + out["fit"]["alice"]["to"] < 1 * MiB
    assert "fit would bring back" in out["fit_refused"]
    assert out["fit_weight_difference"] < 1e-5
