"""The peer transport refuses a node of another network, even one that claims a devnet node's
name, organisation and chain id: only its TLS certificate (issued by another network's CA) gives
it away.

The rogue is a PeerNetwork in this process with node4's TLS material from a second network that
`init_network` wrote (same chain id, same organisation and node names). It trusts both networks'
CAs and dials node1..node3; node1's config is changed to dial "node4" at the rogue's address.
Nothing may reach the rogue and none of its envelopes may reach a node, while the devnet goes on
committing the same blocks on all four validators.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
from devnet_harness import (
    LOOPBACK,
    PORTS_PER_NODE,
    Acknowledged,
    Devnet,
    RoguePeer,
    assert_acknowledged_exactly_once,
    assert_same_chain,
    wait_until,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.net import PeerAddress
from causeway.net import statistics as counters
from causeway.provisioning import init_network, node_directory

pytestmark = pytest.mark.e2e

SENDER = "org1/client"
BATCHES = 6
STEP_TIMEOUT_S = 60.0
# Dial attempts the rogue must have made (and had refused) to each node before the end.
ROGUE_ATTEMPTS_MIN = 2


def test_peer_with_a_certificate_of_another_network_is_refused(tmp_path: Path) -> None:
    with Devnet(tmp_path, validators=4, consensus="tbft", spare_ports=1) as devnet:
        names = devnet.names
        victim, impostor = names[0], names[-1]
        honest = [name for name in names if name != impostor]
        rogue_port = devnet.port_base + len(names) * PORTS_PER_NODE
        rogue_address = f"{LOOPBACK}:{rogue_port}"

        # Another network under the same chain id (ids are unique unless given): only the TLS
        # identities tell the two apart.
        chain_id = devnet.chain_id()
        foreign = init_network(
            tmp_path / "foreign", 4, "intl", "tbft", validators=4, chain_id=chain_id
        )
        assert foreign.chain_id == chain_id
        foreign_home = node_directory(tmp_path / "foreign", impostor)
        devnet_bundle = (devnet.node(victim).home / "tls" / "ca-bundle.pem").read_bytes()
        assert (foreign_home / "tls" / "ca-bundle.pem").read_bytes() != devnet_bundle

        # node1 now looks for node4 where the rogue listens.
        config = devnet.node(victim).home / "config.toml"
        text = config.read_text(encoding="utf-8")
        real_address = f'"{devnet.node(impostor).peer_address}"'
        assert text.count(real_address) == 1
        config.write_text(text.replace(real_address, f'"{rogue_address}"'), encoding="utf-8")

        rogue = RoguePeer(
            chain_id=chain_id,
            home=foreign_home,
            listen_port=rogue_port,
            peers=[
                PeerAddress(name, devnet.node(name).member_id, devnet.node(name).peer_address)
                for name in honest
            ],
            extra_trust_pem=devnet_bundle,
        )
        assert rogue.tls.member_id == devnet.node(impostor).member_id
        with rogue:
            # It listens: what follows is refusal, not an absent peer.
            socket.create_connection((LOOPBACK, rogue_port), timeout=5.0).close()
            # Killed first: `devnet restart` would wait out a graceful stop for nothing.
            devnet.send_signal(victim, signal.SIGKILL)
            devnet.wait_for_exit(victim)
            devnet.restart(victim)

            acknowledged: list[Acknowledged] = []
            for serial in range(BATCHES):
                name = names[serial % len(names)]
                client = devnet.client(name, SENDER)
                batch = [
                    client.transaction(
                        "kv",
                        "put",
                        contracts_pb2.KvPutArguments(
                            key=f"peers/{serial}/{i}".encode(), value=b"v"
                        ),
                    )
                    for i in range(3)
                ]
                for result in client.submit_batch(batch, wait=True, timeout_s=30.0):
                    assert result.succeeded, result
                    acknowledged.append(Acknowledged(result.transaction_id, result.height, name))

            refusal = f"cannot connect to peer {impostor} at {rogue_address}"

            def refused_for_its_certificate() -> bool:
                log = devnet.node(victim).log_path.read_text(errors="replace")
                return any(
                    refusal in line and "CERTIFICATE_VERIFY_FAILED" in line
                    for line in log.splitlines()
                )

            wait_until(
                refused_for_its_certificate,
                STEP_TIMEOUT_S,
                lambda: f"{victim} never tried the rogue:\n{devnet.log_tail(victim)}",
            )
            wait_until(
                lambda: all(
                    rogue.statistics.get(counters.CONNECT_FAILURES, devnet.node(name).member_id)
                    >= ROGUE_ATTEMPTS_MIN
                    for name in honest
                ),
                STEP_TIMEOUT_S,
                lambda: f"the rogue did not dial every node: {rogue.statistics.peer_snapshot()}",
            )
            # node1 is connected to node2 and node3 only: the "node4" it dials is the rogue.
            status = devnet.client(victim).status()
            assert status.peers_connected == len(names) - 2, status
        # The rogue's thread has ended: its counters are final.
        assert rogue.failure is None, repr(rogue.failure)
        assert rogue.snapshot() == [], f"the rogue received {rogue.snapshot()[:5]}"
        opened = rogue.final_statistics[counters.CONNECTIONS_OPENED]
        assert opened == 0, f"the rogue connected: {rogue.statistics.peer_snapshot()}"
        assert rogue.final_statistics[counters.SENT_ENVELOPES] == 0

        # The devnet went on as one chain, node4 (which node1 no longer dials) included.
        target = max(item.height for item in acknowledged)
        devnet.wait_for_heights(target, timeout_s=STEP_TIMEOUT_S)
        chain = assert_same_chain(devnet, target)
        assert_acknowledged_exactly_once(devnet, chain, acknowledged)
        victim_log = devnet.node(victim).log_path.read_text(errors="replace")
        assert f"connected to peer {impostor}" not in victim_log.rpartition("node started")[2]
