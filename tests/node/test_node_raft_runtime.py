"""The raft transaction flow of a node: peers' batches are admitted beside their streams, a
leader keeps its clients' transactions (the engine's route), and forwards them when it stops
leading."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from causeway.consensus.engines import TransactionRoute
from causeway.mempool import MempoolLimits, SharedMempool
from causeway.node import runtime
from causeway.node.peer_admission import PEER_ADMISSIONS_QUEUED_MAX, PeerAdmission
from causeway.node.runtime import Node
from causeway.types import DecodedTransaction
from causeway.types.v1 import types_pb2

WAIT_S = 5.0


class Network:
    def __init__(self) -> None:
        self.gossiped: list[list[types_pb2.Transaction]] = []
        self.recipients: list[str | None] = []

    def gossip_transactions(
        self, transactions: Sequence[types_pb2.Transaction], *, to: str | None = None
    ) -> None:
        self.gossiped.append(list(transactions))
        self.recipients.append(to)


def bare_node(consensus: str, role: str | None, route: TransactionRoute | None = None) -> Any:
    """A Node with only what the methods under test use; its engine routes transactions by
    `route` (else as raft does for `role`, with no leader known)."""
    node: Any = object.__new__(Node)
    node.consensus = consensus
    if route is None:
        route = TransactionRoute(gossip=role != "leader")
    engine = SimpleNamespace(route=lambda: route)
    node.driver = None if role is None else SimpleNamespace(role=role, engine=engine)
    node.network = Network()
    node._stopping = asyncio.Event()
    node._background = set()
    node.mempool = SharedMempool(
        MempoolLimits(transactions_max=100, bytes_max=1 << 20),
        committed=lambda ids: [False] * len(ids),
    )
    return node


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


async def test_peers_batches_are_admitted_beside_the_stream_up_to_a_bound() -> None:
    release = threading.Event()
    admitted: list[int] = []

    def slow_admit(items: Sequence[types_pb2.Transaction], now_ms: int) -> list[object]:
        assert release.wait(WAIT_S)
        admitted.append(len(items))
        return []

    admission = PeerAdmission(slow_admit, asyncio.Event(), beside_stream=True)
    batch = [types_pb2.Transaction(body=b"x")]
    # Each call returns at once (the stream reads on) while the admissions wait...
    for _ in range(PEER_ADMISSIONS_QUEUED_MAX):
        await asyncio.wait_for(admission("org2/node2", batch), 1.0)
    # ...up to the bound, where the stream waits for one to finish.
    blocked = asyncio.create_task(admission("org2/node2", batch))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    release.set()
    await asyncio.wait_for(blocked, WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while len(admitted) < PEER_ADMISSIONS_QUEUED_MAX + 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert admission.queued == 0


async def test_without_beside_stream_a_batch_is_admitted_before_the_stream_reads_on() -> None:
    admitted: list[int] = []
    admission = PeerAdmission(
        lambda items, now_ms: admitted.append(len(items)), asyncio.Event(), beside_stream=False
    )
    await admission("org2/node2", [types_pb2.Transaction(body=b"x")] * 3)
    assert admitted == [3]
    assert admission.queued == 0
    stopping = asyncio.Event()
    stopping.set()
    stopped = PeerAdmission(lambda items, now_ms: admitted.append(0), stopping, beside_stream=True)
    await stopped("org2/node2", [types_pb2.Transaction(body=b"x")])
    assert admitted == [3]  # nothing admitted while the node stops


def test_a_node_sends_its_clients_transactions_where_its_engine_routes_them() -> None:
    follower = bare_node("raft", "follower", TransactionRoute(gossip=True, to="org2/node2"))
    assert follower._raft_leader() == "org2/node2"
    assert not follower._raft_leading()
    everyone = bare_node("raft", "follower", TransactionRoute(gossip=True))
    assert everyone._raft_leader() is None
    assert not everyone._raft_leading()
    keeper = bare_node("raft", "leader", TransactionRoute(gossip=False))
    assert keeper._raft_leading()
    assert not bare_node("raft", None)._raft_leading()  # no engine yet


def test_a_follower_sends_what_its_clients_had_admitted_to_the_leader() -> None:
    node = bare_node("raft", "follower", TransactionRoute(gossip=True, to="org3/node3"))
    node.config = SimpleNamespace(member_id="org1/node1", admission_batch_max=10)
    node.metrics = SimpleNamespace(mempool_transactions=SimpleNamespace(set=lambda value: None))
    node._route_admitted([])  # nothing accepted: nothing sent
    node._route_admitted([pending(7).transaction])
    assert node.network.recipients == ["org3/node3"]
    assert node.network.gossiped == [[pending(7).transaction]]
    leader = bare_node("raft", "leader")
    leader.metrics = node.metrics
    leader._route_admitted([pending(7).transaction])
    assert leader.network.gossiped == []  # a leader keeps its clients' transactions


async def test_a_follower_forwards_what_it_holds_to_a_new_leader_only() -> None:
    node = bare_node("raft", "follower")
    for index in range(3):
        node.mempool.add(pending(index), 0)
    node._forward_pending_transactions("org3/node3")
    await asyncio.gather(*node._background)
    assert node.network.recipients == ["org3/node3"]
    assert [[t.body for t in batch] for batch in node.network.gossiped] == [
        [pending(index).transaction.body for index in range(3)]
    ]


async def test_a_leader_that_stops_leading_forwards_what_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "FORWARD_SLICE_TRANSACTIONS", 2)
    node = bare_node("raft", "follower")
    for index in range(5):
        node.mempool.add(pending(index), 0)
    node._forward_pending_transactions()
    await asyncio.gather(*node._background)
    assert [[t.body for t in batch] for batch in node.network.gossiped] == [
        [pending(index).transaction.body for index in indexes] for indexes in ((0, 1), (2, 3), (4,))
    ]
    assert len(node.mempool) == 5  # still pending here until committed
    empty = bare_node("raft", "follower")
    empty._forward_pending_transactions()
    assert not empty._background
    assert empty.network.gossiped == []
