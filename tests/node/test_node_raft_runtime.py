"""The raft-specific transaction flow of a node: peers' batches are admitted beside their
streams, a leader keeps its clients' transactions, and forwards them when it stops leading."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from causeway.mempool import MempoolLimits, SharedMempool
from causeway.node import runtime
from causeway.node.peer_admission import PEER_ADMISSIONS_QUEUED_MAX, PeerAdmission
from causeway.node.runtime import Node
from causeway.types import DecodedTransaction
from causeway.types.v1 import types_pb2

WAIT_S = 5.0


class Network:
    def __init__(self) -> None:
        self.gossiped: list[list[bytes]] = []
        self.recipients: list[str | None] = []

    def gossip_transactions(
        self, encoded_transactions: Sequence[bytes], *, to: str | None = None
    ) -> None:
        self.gossiped.append(list(encoded_transactions))
        self.recipients.append(to)


def bare_node(consensus: str, role: str | None) -> Any:
    """A Node with only what the methods under test use."""
    node: Any = object.__new__(Node)
    node.consensus = consensus
    node.driver = None if role is None else SimpleNamespace(role=role)
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

    def slow_admit(items: Sequence[bytes], now_ms: int) -> list[object]:
        assert release.wait(WAIT_S)
        admitted.append(len(items))
        return []

    admission = PeerAdmission(slow_admit, asyncio.Event(), beside_stream=True)
    batch = [b"x"]
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

    def admit(items: Sequence[bytes], now_ms: int) -> list[object]:
        admitted.append(len(items))
        return []

    admission = PeerAdmission(admit, asyncio.Event(), beside_stream=False)
    await admission("org2/node2", [b"x"] * 3)
    assert admitted == [3]
    assert admission.queued == 0
    stopping = asyncio.Event()
    stopping.set()
    stopped = PeerAdmission(admit, stopping, beside_stream=True)
    await stopped("org2/node2", [b"x"])
    assert admitted == [3]  # nothing admitted while the node stops


def test_a_raft_follower_sends_its_clients_transactions_to_the_leader_only() -> None:
    follower = bare_node("raft", "follower")
    follower.config = SimpleNamespace(member_id="org1/node1")
    follower.driver.core = SimpleNamespace(leader="org2/node2")
    assert follower._raft_leader() == "org2/node2"
    follower.driver.core = SimpleNamespace(leader=None)  # during an election: everyone
    assert follower._raft_leader() is None
    follower.driver.core = SimpleNamespace(leader="org1/node1")
    assert follower._raft_leader() is None
    tbft = bare_node("tbft", "validator")
    tbft.config = SimpleNamespace(member_id="org1/node1")
    tbft.driver.core = SimpleNamespace(leader="org2/node2")
    assert tbft._raft_leader() is None


def test_a_follower_sends_what_its_clients_had_admitted_to_the_leader() -> None:
    node = bare_node("raft", "follower")
    node.config = SimpleNamespace(member_id="org1/node1", admission_batch_max=10)
    node.driver.core = SimpleNamespace(leader="org3/node3")
    node.metrics = SimpleNamespace(mempool_transactions=SimpleNamespace(set=lambda value: None))
    node._route_admitted([])  # nothing accepted: nothing sent
    admitted = pending(7)
    node._route_admitted([admitted])
    assert node.network.recipients == ["org3/node3"]
    # The bytes kept since admission, the very object: nothing was encoded to send them.
    assert node.network.gossiped == [[admitted.encoded]]
    assert node.network.gossiped[0][0] is admitted.encoded
    leader = bare_node("raft", "leader")
    leader.metrics = node.metrics
    leader._route_admitted([pending(7)])
    assert leader.network.gossiped == []  # a leader keeps its clients' transactions


async def test_a_follower_forwards_what_it_holds_to_a_new_leader_only() -> None:
    node = bare_node("raft", "follower")
    for index in range(3):
        node.mempool.add(pending(index), 0)
    node._forward_pending_transactions("org3/node3")
    await asyncio.gather(*node._background)
    assert node.network.recipients == ["org3/node3"]
    assert node.network.gossiped == [[pending(index).encoded for index in range(3)]]


def test_a_raft_leader_keeps_its_clients_transactions() -> None:
    assert bare_node("raft", "leader")._raft_leading()
    assert not bare_node("raft", "follower")._raft_leading()
    assert not bare_node("raft", None)._raft_leading()
    assert not bare_node("tbft", "validator")._raft_leading()


async def test_a_leader_that_stops_leading_forwards_what_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "FORWARD_SLICE_TRANSACTIONS", 2)
    node = bare_node("raft", "follower")
    for index in range(5):
        node.mempool.add(pending(index), 0)
    node._forward_pending_transactions()
    await asyncio.gather(*node._background)
    assert node.network.gossiped == [
        [pending(index).encoded for index in indexes] for indexes in ((0, 1), (2, 3), (4,))
    ]
    assert len(node.mempool) == 5  # still pending here until committed
    empty = bare_node("raft", "follower")
    empty._forward_pending_transactions()
    assert not empty._background
    assert empty.network.gossiped == []
