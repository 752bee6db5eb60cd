"""Peers that change while the transport runs: added and trusted, removed, revoked."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from net_support import (
    WAIT_S,
    PeerNode,
    connect_call,
    final_code,
    init_test_network,
    prepare_nodes,
    raw_channel_as,
    start_node,
    vote,
)
from waiting import wait_until_async

from causeway.errors import ConfigurationError
from causeway.net import PeerAddress, TlsIdentity
from causeway.net.peer_set import PeerSetChange, diff_peers, merge_peers

A = PeerAddress("node1", "org1/node1", "10.0.0.1:7150")
B = PeerAddress("node2", "org2/node2", "10.0.0.2:7150")
B_MOVED = PeerAddress("node2", "org2/node2", "10.0.0.9:7150")
C = PeerAddress("node3", "org3/node3", "10.0.0.3:7150")


def test_diff_peers_names_what_was_added_removed_and_changed() -> None:
    current = {A.member_id: A, B.member_id: B}
    wanted = {B.member_id: B_MOVED, C.member_id: C}
    assert diff_peers(current, wanted) == PeerSetChange(
        added=("org3/node3",), removed=("org1/node1",), changed=("org2/node2",)
    )
    assert not diff_peers(current, dict(current))


def test_merge_peers_prefers_the_configured_address_and_leaves_out_revoked_and_self() -> None:
    merged = merge_peers([B], [A, B_MOVED, C], revoked=["org3/node3"], own_member_id="org1/node1")
    assert merged == {"org2/node2": B}
    assert merge_peers([], [A, C]) == {A.member_id: A, C.member_id: C}


def _without_organisation(node: PeerNode, organisation: str) -> TlsIdentity:
    """``node``'s TLS identity with a bundle that lacks ``organisation``'s CA."""
    return TlsIdentity(
        key_pem=node.tls.key_pem,
        certificate_pem=node.tls.certificate_pem,
        identity=node.tls.identity,
        authorities={
            name: authorities
            for name, authorities in node.tls.authorities.items()
            if name != organisation
        },
    )


def _address(node: PeerNode) -> PeerAddress:
    return PeerAddress(node.name, node.member_id, node.settings.listen_address)


async def test_a_peer_of_a_new_organisation_is_trusted_and_dialled_without_a_restart(
    tmp_path: Path,
) -> None:
    description = init_test_network(tmp_path, validators=3)
    # node1 and node2 start as a network of two that knows nothing of org3; node3 knows node1.
    nodes = prepare_nodes(
        tmp_path,
        description,
        peers_of=lambda name: {"node1": ["node2"], "node2": ["node1"], "node3": ["node1"]}[name],
    )
    one, two, three = nodes["node1"], nodes["node2"], nodes["node3"]
    one.tls = _without_organisation(one, "org3")
    org3_authority = three.tls.authorities["org3"]
    async with AsyncExitStack() as stack:
        for node in nodes.values():
            await start_node(stack, node)
        assert await one.peer_network.wait_until_connected(WAIT_S)
        # node1 does not trust org3's CA: node3's handshake fails.
        await wait_until_async(
            lambda: three.peer_network.statistics.get("connect_failures", one.member_id) >= 1
        )
        assert not three.peer_network.connected_peers()

        change = one.peer_network.update_peers(
            {two.member_id: _address(two), three.member_id: _address(three)},
            authorities={"org3": org3_authority},
        )
        assert change == PeerSetChange(added=(three.member_id,))
        # Both ways now: node1 dials node3, and node3's next dial is accepted.
        assert await one.peer_network.wait_until_connected(WAIT_S, [three.member_id])
        assert await three.peer_network.wait_until_connected(WAIT_S, [one.member_id])
        one.peer_network.broadcast_consensus(vote(7, one.member_id))
        await three.inbox.wait_for(lambda: bool(three.inbox.consensus))
        three.peer_network.broadcast_consensus(vote(8, three.member_id))
        await one.inbox.wait_for(
            lambda: any(sender == three.member_id for sender, _ in one.inbox.consensus)
        )
        # node2 did not change: its connection stayed up throughout.
        assert one.peer_network.statistics.get("disconnects", two.member_id) == 0


@pytest.mark.parametrize("how", ["removed", "revoked"])
async def test_a_removed_or_revoked_peer_is_disconnected_at_once_and_refused(
    tmp_path: Path, how: str
) -> None:
    description = init_test_network(tmp_path, validators=3)
    nodes = prepare_nodes(tmp_path, description)
    one, two, three = nodes["node1"], nodes["node2"], nodes["node3"]
    async with AsyncExitStack() as stack:
        for node in nodes.values():
            await start_node(stack, node)
        for node in nodes.values():
            assert await node.peer_network.wait_until_connected(WAIT_S)
        peers = {three.member_id: _address(three)}
        if how == "revoked":
            # Revocation wins over the configuration: node2 stays configured, and is refused.
            peers[two.member_id] = _address(two)
        change = one.peer_network.update_peers(
            peers, revoked=[two.member_id] if how == "revoked" else []
        )
        assert change.removed == (two.member_id,)
        assert two.member_id not in one.peer_network.connected_peers()
        # node2's stream into node1 is closed, and each dial again is refused.
        await wait_until_async(
            lambda: (
                one.member_id not in two.peer_network.connected_peers()
                and one.peer_network.statistics.get("refused_peers", two.member_id) >= 1
            )
        )
        channel = raw_channel_as(two, one)
        stack.push_async_callback(channel.close, None)
        assert await final_code(connect_call(channel)) == grpc.StatusCode.PERMISSION_DENIED
        # node1 goes on with node3.
        one.peer_network.broadcast_consensus(vote(9, one.member_id))
        await three.inbox.wait_for(
            lambda: any(message.vote.height == 9 for _, message in three.inbox.consensus)
        )
        assert not any(message.vote.height == 9 for _, message in two.inbox.consensus)


async def test_a_peer_whose_organisation_has_no_trusted_ca_is_left_out(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    one, two = nodes["node1"], nodes["node2"]
    one.tls = _without_organisation(one, "org9")
    async with AsyncExitStack() as stack:
        network = await start_node(stack, one)
        stranger = PeerAddress("node9", "org9/node9", "127.0.0.1:1")
        change = network.update_peers({two.member_id: _address(two), "org9/node9": stranger})
        assert change.added == () and "org9/node9" not in {p.member_id for p in network.peers()}


def test_a_tls_authority_that_names_another_organisation_is_refused(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    one = nodes["node1"]
    org2: tuple[x509.Certificate, ...] = tuple(one.tls.authorities["org2"])
    with pytest.raises(ConfigurationError, match="names another organisation"):
        one.tls.with_authorities({"org1": org2})
    replaced = one.tls.with_authorities({"org1": tuple(one.tls.authorities["org1"])})
    assert dataclasses.asdict(replaced)["identity"] == dataclasses.asdict(one.tls)["identity"]
