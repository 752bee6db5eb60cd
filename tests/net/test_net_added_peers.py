"""Peers added to a running PeerNetwork (a configuration reload): dialled from then on, all or
nothing; and the bytes each peer's envelopes took, both ways."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from net_support import WAIT_S, init_test_network, prepare_nodes, start_node, vote
from waiting import wait_until_async

from causeway.errors import ConfigurationError
from causeway.net import PeerAddress


async def test_a_peer_added_while_running_is_dialled_and_counted_in_bytes(
    tmp_path: Path,
) -> None:
    description = init_test_network(tmp_path, validators=2)
    # node1 starts knowing nobody; node2 knows node1 (so it accepts node1's calls).
    nodes = prepare_nodes(
        tmp_path, description, peers_of=lambda name: [] if name == "node1" else ["node1"]
    )
    first, second = nodes["node1"], nodes["node2"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        two = await start_node(stack, second)
        assert one.configured_peers() == []
        second_address = PeerAddress(second.name, second.member_id, second.settings.listen_address)
        assert one.add_peers([second_address, second_address]) == [second.member_id]
        assert one.add_peers([second_address]) == []  # known already
        assert one.configured_peers() == [second.member_id]
        assert await one.wait_until_connected(WAIT_S, [second.member_id])
        one.broadcast_consensus(vote(1))
        await second.inbox.wait_for(lambda: bool(second.inbox.consensus))
        assert two.statistics.get("received_bytes", first.member_id) > 0
        # Counted once the write returns, which may be after the peer has the bytes.
        await wait_until_async(
            lambda: one.statistics.get("sent_bytes", second.member_id) > 0,
            what="the bytes sent to the added peer counted",
        )


async def test_adding_a_peer_of_an_unknown_organisation_adds_none(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description, peers_of=lambda name: [])
    first, second = nodes["node1"], nodes["node2"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        good = PeerAddress(second.name, second.member_id, second.settings.listen_address)
        stranger = dataclasses.replace(good, member_id="org9/node9", name="node9")
        with pytest.raises(ConfigurationError, match="org9"):
            one.add_peers([good, stranger])
        assert one.configured_peers() == []
