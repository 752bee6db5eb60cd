"""The consensus driver's raft loop: blocks are built and written beside the core, so that the
core keeps handling messages and heartbeats while a large block executes or is written."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from waiting import wait_until_async

from causeway.consensus import Commit, Output
from causeway.consensus.raft import RaftCore, RaftRole, RaftTimeouts
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import InvariantError
from causeway.node import consensus_driver
from causeway.node.consensus_driver import (
    RAFT_COMMITS_PENDING_MAX,
    RAFT_STALL_WAITS_MAX,
    ConsensusDriver,
)
from causeway.types import encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "driver-test-chain"
TIMEOUTS = RaftTimeouts(election_min_ms=200, election_max_ms=300, heartbeat_ms=10)
WAIT_S = 5.0


class Signer:
    validator_id = "a"

    def sign(self, document: bytes) -> bytes:
        return hashlib.sha256(document).digest()


class Application:
    """Blocks are built by the driver (build_block below); the core only hashes them."""

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        raise AssertionError("the core must not build blocks itself under the driver")

    def validate_block(self, block: types_pb2.Block) -> bool:
        return True

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


def make_block(height: int, time_ms: int) -> types_pb2.Block:
    header = types_pb2.BlockHeader(version=1, chain_id=CHAIN_ID, height=height, time_ms=time_ms)
    return types_pb2.Block(header=header)


class Store:
    def __init__(self) -> None:
        self.height = 0
        self.records: dict[str, bytes] = {}

    def put_meta_records(self, records: Sequence[tuple[str, bytes]]) -> None:
        self.records.update(records)

    def latest_height(self) -> int:
        return self.height


class Transport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, consensus_pb2.ConsensusMessage]] = []

    def broadcast_consensus(self, message: consensus_pb2.ConsensusMessage) -> None:
        raise AssertionError("raft addresses every message")

    def send_consensus(self, member_id: str, message: consensus_pb2.ConsensusMessage) -> bool:
        self.sent.append((member_id, message))
        return True

    def appends_to(self, peer: str) -> list[consensus_pb2.RaftAppendEntries]:
        return [
            message.raft_append_entries
            for recipient, message in self.sent
            if recipient == peer and message.WhichOneof("body") == "raft_append_entries"
        ]


class Builder:
    """build_block for the driver: blocks in a worker thread until released."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls: list[tuple[int, int]] = []  # (height, latest written height then)

    def __call__(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        self.calls.append((height, self._store.height))
        self.started.set()
        assert self.release.wait(WAIT_S)
        return make_block(height, time_ms)


class Harness:
    def __init__(
        self,
        *,
        on_leadership_lost: Callable[[], None] | None = None,
        on_leader_changed: Callable[[str], None] | None = None,
        build: bool = True,
    ) -> None:
        self.store = Store()
        self.transport = Transport()
        self.builder = Builder(self.store)
        self.written: list[int] = []
        self.write_gate = asyncio.Event()
        self.write_gate.set()
        self.write_error: BaseException | None = None
        self.waiting = True
        self.core = RaftCore(
            CHAIN_ID, "a", ["a", "b", "c"], Signer(), Application(), random.Random(1), TIMEOUTS
        )
        self.driver = ConsensusDriver(
            core=self.core,
            store=self.store,  # type: ignore[arg-type]
            transport=self.transport,
            apply_commit=self.apply_commit,
            transactions_waiting=lambda: self.waiting,
            on_evidence=lambda evidence: None,
            build_block=self.builder if build else None,
            on_leadership_lost=on_leadership_lost,
            on_leader_changed=on_leader_changed,
        )
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def apply_commit(self, commit: Commit) -> None:
        await self.write_gate.wait()
        if self.write_error is not None:
            raise self.write_error
        assert commit.height == self.store.height + 1
        self.store.height = commit.height
        self.written.append(commit.height)

    def start(self) -> None:
        self.task = asyncio.create_task(self.driver.run(self.stopping))

    async def stop(self) -> None:
        self.stopping.set()
        self.builder.release.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, WAIT_S)

    async def lead(self) -> None:
        await until(lambda: self.core.role is RaftRole.CANDIDATE)
        vote = consensus_pb2.RaftVoteResponse(term=self.core.term, voter="b", granted=True)
        self.driver.deliver("b", consensus_pb2.ConsensusMessage(raft_vote_response=vote))
        await until(lambda: self.core.role is RaftRole.LEADER)

    def acknowledge(self, peer: str, match_index: int) -> None:
        response = consensus_pb2.RaftAppendResponse(
            term=self.core.term, follower=peer, success=True, match_index=match_index
        )
        self.driver.deliver(peer, consensus_pb2.ConsensusMessage(raft_append_response=response))


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_the_leader_keeps_sending_heartbeats_while_a_block_is_built() -> None:
    harness = Harness()
    harness.start()
    try:
        await harness.lead()
        harness.acknowledge("b", 1)  # the leader's no-op entry
        assert await asyncio.to_thread(harness.builder.started.wait, WAIT_S)
        assert harness.builder.calls == [(1, 0)]
        before = len(harness.transport.appends_to("b"))
        # The build is still running; the core goes on sending heartbeats meanwhile.
        await wait_until_async(
            lambda: len(harness.transport.appends_to("b")) >= before + 3,
            what="three heartbeats while the block is built",
        )
        assert not harness.builder.release.is_set()
        harness.builder.release.set()
        await until(lambda: harness.core.last_log_index == 2)
        assert [entry.index for entry in harness.transport.appends_to("b")[-1].entries] == [2]
        harness.acknowledge("b", 2)
        await until(lambda: harness.written == [1])
    finally:
        await harness.stop()


async def test_commits_are_written_in_order_and_the_next_block_waits_for_them() -> None:
    harness = Harness()
    harness.start()
    try:
        await harness.lead()
        harness.acknowledge("b", 1)
        harness.builder.release.set()
        await until(lambda: harness.core.last_log_index == 2)
        harness.write_gate.clear()
        harness.acknowledge("b", 2)
        await until(lambda: harness.core.commit_index == 2)
        await asyncio.sleep(5 * TIMEOUTS.heartbeat_ms / 1000)
        # Block 1 is committed but not yet written: nothing is built on the state before it.
        assert harness.builder.calls == [(1, 0)]
        assert harness.written == []
        harness.write_gate.set()
        await until(lambda: len(harness.builder.calls) == 2)
        assert harness.written == [1]
        assert harness.builder.calls[1] == (2, 1)
    finally:
        await harness.stop()


async def test_a_failed_write_stops_the_driver() -> None:
    harness = Harness()
    harness.write_error = InvariantError("the block does not execute to its header")
    harness.start()
    await harness.lead()
    harness.acknowledge("b", 1)
    harness.builder.release.set()
    await until(lambda: harness.core.last_log_index == 2)
    harness.acknowledge("b", 2)
    assert harness.task is not None
    with pytest.raises(InvariantError, match="does not execute"):
        await asyncio.wait_for(harness.task, WAIT_S)


async def test_losing_the_leadership_is_reported_once() -> None:
    lost: list[RaftRole] = []
    harness = Harness(on_leadership_lost=lambda: lost.append(harness.core.role))
    harness.waiting = False
    harness.start()
    try:
        await harness.lead()
        assert lost == []
        newer = consensus_pb2.RaftAppendEntries(term=harness.core.term + 1, leader="c")
        harness.driver.deliver("c", consensus_pb2.ConsensusMessage(raft_append_entries=newer))
        await until(lambda: harness.core.role is RaftRole.FOLLOWER)
        await wait_until_async(lambda: lost != [], what="the loss of leadership reported")
        # ...and not again in the heartbeats that follow.
        await asyncio.sleep(5 * TIMEOUTS.heartbeat_ms / 1000)
        assert lost == [RaftRole.FOLLOWER]
    finally:
        await harness.stop()


async def test_a_message_waiting_is_handled_before_a_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness = Harness()
    heartbeat = consensus_pb2.ConsensusMessage(
        raft_append_entries=consensus_pb2.RaftAppendEntries(term=1, leader="b")
    )

    async def late_wait_for(awaitable: asyncio.Future[object], timeout: float) -> object:
        # A loaded event loop: the wait times out although a message arrived meanwhile.
        del timeout
        asyncio.ensure_future(awaitable).cancel()
        harness.driver.deliver("b", heartbeat)
        raise TimeoutError

    monkeypatch.setattr(consensus_driver.asyncio, "wait_for", late_wait_for)
    assert await harness.driver._next_message() == ("b", heartbeat)
    harness.driver.deliver("c", heartbeat)
    assert await harness.driver._next_message() == ("c", heartbeat)


async def test_a_follower_behind_with_its_writes_holds_new_entries_but_answers_heartbeats() -> None:
    harness = Harness(build=False)
    harness.write_gate.clear()
    harness.start()
    try:
        count = RAFT_COMMITS_PENDING_MAX

        def entries(first: int, last: int) -> list[consensus_pb2.RaftEntry]:
            return [
                consensus_pb2.RaftEntry(term=1, index=index, data=encode(make_block(index, 0)))
                for index in range(first, last + 1)
            ]

        def append(
            previous: int, new: list[consensus_pb2.RaftEntry]
        ) -> consensus_pb2.ConsensusMessage:
            request = consensus_pb2.RaftAppendEntries(
                term=1,
                leader="b",
                previous_log_index=previous,
                previous_log_term=1 if previous else 0,
                entries=new,
                leader_commit=count,
            )
            return consensus_pb2.ConsensusMessage(raft_append_entries=request)

        harness.driver.deliver("b", append(0, entries(1, count)))
        await until(lambda: harness.core.commit_index == count)
        # count committed blocks wait to be written: a block more is held back...
        harness.driver.deliver("b", append(count, entries(count + 1, count + 1)))
        # ...while a heartbeat is answered (and keeps this follower from campaigning).
        answered = len(harness.transport.sent)
        harness.driver.deliver("b", append(count, []))
        await until(lambda: len(harness.transport.sent) > answered)
        await asyncio.sleep(0.05)
        assert harness.core.last_log_index == count
        assert harness.core.role is RaftRole.FOLLOWER
        harness.write_gate.set()
        await until(lambda: harness.core.last_log_index == count + 1)
        await until(lambda: harness.written == list(range(1, count + 1)))
    finally:
        await harness.stop()


async def test_after_a_stall_of_the_event_loop_the_tick_waits_for_messages_in_transit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness = Harness()
    heartbeat = consensus_pb2.ConsensusMessage(
        raft_append_entries=consensus_pb2.RaftAppendEntries(term=1, leader="b")
    )
    clock = [0.0]
    waits: list[float] = []

    def monotonic() -> float:
        return clock[0]

    async def stalled_wait_for(awaitable: asyncio.Future[object], timeout: float) -> object:
        asyncio.ensure_future(awaitable).cancel()
        waits.append(timeout)
        clock[0] += 10 * timeout  # the loop came back late
        if len(waits) == 2:
            harness.driver.deliver("b", heartbeat)  # read off the network meanwhile
        raise TimeoutError

    monkeypatch.setattr(consensus_driver.time, "monotonic", monotonic)
    monkeypatch.setattr(consensus_driver.asyncio, "wait_for", stalled_wait_for)
    assert await harness.driver._next_message() == ("b", heartbeat)
    assert len(waits) == 2
    # A loop that keeps stalling still ticks, after RAFT_STALL_WAITS_MAX extra waits.
    waits.clear()
    assert await Harness().driver._next_message() is None
    assert len(waits) == RAFT_STALL_WAITS_MAX + 1


async def test_a_new_leader_followed_is_reported_once_per_change() -> None:
    followed: list[str] = []
    harness = Harness(on_leader_changed=followed.append)
    harness.waiting = False
    harness.start()
    try:
        for term, leader in ((5, "b"), (5, "b"), (6, "c")):
            append = consensus_pb2.RaftAppendEntries(term=term, leader=leader)
            harness.driver.deliver(
                leader, consensus_pb2.ConsensusMessage(raft_append_entries=append)
            )
            await until(lambda leader=leader: harness.core.leader == leader)  # type: ignore[misc]
            await wait_until_async(
                lambda leader=leader: followed[-1:] == [leader],  # type: ignore[misc]
                what=f"following {leader} reported",
            )
            # ...and not again in the heartbeats that follow.
            await asyncio.sleep(5 * TIMEOUTS.heartbeat_ms / 1000)
        assert followed == ["b", "c"]
    finally:
        await harness.stop()


class FakeLeaderCore:
    """What _follow_governed_voters uses of a raft leader; records each change proposed."""

    def __init__(self, voters: tuple[str, ...]) -> None:
        self.role = RaftRole.LEADER
        self.voters = voters
        self.membership_change_pending = False
        self.proposed: list[tuple[str, ...]] = []

    def propose_membership_change(self, voters: Sequence[str], now_ms: int) -> Output:
        self.proposed.append(tuple(voters))
        self.voters = tuple(voters)
        return Output()


def test_the_voters_follow_the_governed_set_one_change_at_a_time() -> None:
    """Two or more governed changes the log has not followed yet are caught up with one voter
    added or removed per proposal (raft refuses anything else), additions first."""
    governed = ["a", "d", "e"]
    driver = ConsensusDriver(
        core=FakeLeaderCore(("a", "b", "c")),  # type: ignore[arg-type]
        store=Store(),  # type: ignore[arg-type]
        transport=Transport(),
        apply_commit=lambda commit: asyncio.sleep(0),
        transactions_waiting=lambda: False,
        on_evidence=lambda evidence: None,
        governed_voters=lambda: governed,
    )
    core = driver.core
    assert isinstance(core, FakeLeaderCore)
    for _ in range(6):
        driver._follow_governed_voters(core, 0)  # type: ignore[arg-type]
    assert core.proposed == [
        ("a", "b", "c", "d"),
        ("a", "b", "c", "d", "e"),
        ("a", "c", "d", "e"),
        ("a", "d", "e"),
    ]
