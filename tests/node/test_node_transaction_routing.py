"""A node sends its clients' transactions where its engine routes them: a leader (or solo)
keeps them, a follower sends them to its leader only, tbft (or a follower without a leader)
to every node; what it holds it forwards when it stops leading or follows a new leader."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from causeway.consensus.engines import TransactionRoute
from causeway.mempool import MempoolLimits, SharedMempool
from causeway.node import transaction_routing
from causeway.node.transaction_routing import TransactionRouting
from causeway.types import DecodedTransaction
from causeway.types.v1 import types_pb2


class Network:
    def __init__(self) -> None:
        self.gossiped: list[list[bytes]] = []
        self.recipients: list[str | None] = []

    def gossip_transactions(
        self, encoded_transactions: Sequence[bytes], *, to: str | None = None
    ) -> None:
        self.gossiped.append(list(encoded_transactions))
        self.recipients.append(to)


def routing(
    route: TransactionRoute | None, *, peers: bool = True, stopping: bool = False
) -> tuple[TransactionRouting, Network, SharedMempool]:
    """Routing over an engine that routes by `route` (None: no engine yet), with a network
    that records what it is given (or, without peers, none)."""
    engine: Any = None if route is None else SimpleNamespace(route=lambda: route)
    network = Network()
    wired: Any = network if peers else None
    mempool = SharedMempool(
        MempoolLimits(transactions_max=100, bytes_max=1 << 20),
        committed=lambda ids: [False] * len(ids),
    )
    stopped = asyncio.Event()
    if stopping:
        stopped.set()
    return (
        TransactionRouting(
            mempool=mempool, engine=lambda: engine, network=lambda: wired, stopping=stopped
        ),
        network,
        mempool,
    )


def pending(index: int) -> DecodedTransaction:
    body = types_pb2.TransactionBody(
        chain_id="c", sender="s", expiry_ms=2**62, nonce=index.to_bytes(8, "big")
    )
    transaction = types_pb2.Transaction(body=body.SerializeToString(), signature=b"s")
    return DecodedTransaction(
        id=index.to_bytes(32, "big"),
        transaction=transaction,
        body=body,
        encoded=transaction.SerializeToString(),
    )


def test_the_engine_decides_where_transactions_go() -> None:
    follower, _, _ = routing(TransactionRoute(gossip=True, to="org2/node2"))
    assert follower.leader() == "org2/node2"
    assert not follower.keeps_transactions()
    everyone, _, _ = routing(TransactionRoute(gossip=True))
    assert everyone.leader() is None
    assert not everyone.keeps_transactions()
    keeper, _, _ = routing(TransactionRoute(gossip=False))
    assert keeper.keeps_transactions()
    before_engine, _, _ = routing(None)
    assert before_engine.route() == TransactionRoute(gossip=True)
    assert not before_engine.keeps_transactions()


def test_a_follower_sends_its_clients_transactions_to_the_leader_only() -> None:
    follower, network, _ = routing(TransactionRoute(gossip=True, to="org3/node3"))
    follower.admitted([])  # nothing accepted: nothing sent
    assert network.gossiped == []
    admitted = pending(7)
    follower.admitted([admitted])
    assert network.recipients == ["org3/node3"]
    # The bytes kept since admission, the very object: nothing was encoded to send them.
    assert network.gossiped == [[admitted.encoded]]
    assert network.gossiped[0][0] is admitted.encoded


@pytest.mark.parametrize("route", [TransactionRoute(gossip=True), None])
def test_gossip_goes_to_every_node_when_no_node_builds_the_blocks(
    route: TransactionRoute | None,
) -> None:
    """tbft (any validator may propose next), a raft follower without a leader, and a node
    whose engine is not made yet."""
    gossiping, network, _ = routing(route)
    gossiping.admitted([pending(1)])
    assert network.recipients == [None]
    assert network.gossiped == [[pending(1).encoded]]


def test_a_leader_and_a_node_without_peers_keep_their_clients_transactions() -> None:
    leader, network, _ = routing(TransactionRoute(gossip=False))
    leader.admitted([pending(7)])
    assert network.gossiped == []
    without_peers, network, mempool = routing(TransactionRoute(gossip=True), peers=False)
    without_peers.admitted([pending(7)])
    mempool.add(pending(1), 0)
    without_peers.forward_pending()
    assert not without_peers.background
    assert network.gossiped == []


async def test_a_follower_forwards_what_it_holds_to_a_new_leader_only() -> None:
    follower, network, mempool = routing(TransactionRoute(gossip=True))
    for index in range(3):
        mempool.add(pending(index), 0)
    follower.forward_pending("org3/node3")
    await asyncio.gather(*follower.background)
    assert network.recipients == ["org3/node3"]
    assert network.gossiped == [[pending(index).encoded for index in range(3)]]


async def test_a_leader_that_stops_leading_forwards_what_it_holds_in_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transaction_routing, "FORWARD_SLICE_TRANSACTIONS", 2)
    former_leader, network, mempool = routing(TransactionRoute(gossip=True))
    for index in range(5):
        mempool.add(pending(index), 0)
    former_leader.forward_pending()
    await asyncio.gather(*former_leader.background)
    assert network.recipients == [None, None, None]
    assert network.gossiped == [
        [pending(index).encoded for index in indexes] for indexes in ((0, 1), (2, 3), (4,))
    ]
    assert len(mempool) == 5  # still pending here until committed
    assert not former_leader.background


async def test_nothing_is_forwarded_from_an_empty_pool_or_while_the_node_stops() -> None:
    empty, network, _ = routing(TransactionRoute(gossip=True))
    empty.forward_pending()
    assert not empty.background
    assert network.gossiped == []
    stopping, network, mempool = routing(TransactionRoute(gossip=True), stopping=True)
    mempool.add(pending(1), 0)
    stopping.forward_pending()
    assert not stopping.background
    assert network.gossiped == []
