"""The consensus driver with a raft core: blocks are built, validated and written in the execution
lane beside the core, so that the core keeps handling messages and heartbeats while a large block
executes or is written."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from waiting import wait_until_async

from causeway.consensus import Commit
from causeway.consensus.engines import (
    COMMITS_BEHIND_MAX,
    EngineContext,
    EngineKind,
    RaftEngine,
    SoloKind,
    TbftKind,
)
from causeway.consensus.raft import RaftCore, RaftRole, RaftTimeouts
from causeway.consensus.tbft import TbftTimeouts
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import InvariantError
from causeway.node import consensus_driver
from causeway.node.consensus_driver import (
    INBOX_MESSAGES_MAX,
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
    """The driver's application: builds with `builder`, validates every block (recording the
    written height at each validation); the core only hashes blocks."""

    def __init__(
        self,
        builder: Callable[[int, int, int, str], types_pb2.Block],
        store: Store | None = None,
    ) -> None:
        self.builder = builder
        self.store = store
        # (height validated, height written then)
        self.validated: list[tuple[int, int]] = []

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        return self.builder(height, round_number, time_ms, proposer)

    def validate_block(self, block: types_pb2.Block) -> bool:
        written = self.store.height if self.store is not None else -1
        self.validated.append((block.header.height, written))
        return True

    def validate_committed_block(self, block: types_pb2.Block) -> bool:
        return self.validate_block(block)

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


def make_block_for_driver(
    height: int, round_number: int, time_ms: int, proposer: str
) -> types_pb2.Block:
    return make_block(height, time_ms)


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
    ) -> None:
        self.store = Store()
        self.transport = Transport()
        self.builder = Builder(self.store)
        self.written: list[int] = []
        self.write_gate = asyncio.Event()
        self.write_gate.set()
        self.write_error: BaseException | None = None
        self.waiting = True
        self.application = Application(self.builder, self.store)
        self.core = RaftCore(
            CHAIN_ID, "a", ["a", "b", "c"], Signer(), self.application, random.Random(1), TIMEOUTS
        )
        self.driver = ConsensusDriver(
            engine=RaftEngine(self.core, None),
            store=self.store,  # type: ignore[arg-type]
            transport=self.transport,
            application=self.application,
            apply_commit=self.apply_commit,
            transactions_waiting=lambda: self.waiting,
            on_evidence=lambda evidence: None,
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
    assert await harness.driver._next_event() == ("b", heartbeat)
    harness.driver.deliver("c", heartbeat)
    assert await harness.driver._next_event() == ("c", heartbeat)


async def test_a_follower_behind_with_its_writes_holds_new_entries_but_answers_heartbeats() -> None:
    harness = Harness()
    harness.waiting = False
    harness.write_gate.clear()
    harness.start()
    try:
        count = COMMITS_BEHIND_MAX

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
    assert await harness.driver._next_event() == ("b", heartbeat)
    assert len(waits) == 2
    # A loop that keeps stalling still ticks, after RAFT_STALL_WAITS_MAX extra waits.
    waits.clear()
    assert await Harness().driver._next_event() is None
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


async def test_a_committed_block_is_validated_on_its_parents_written_state() -> None:
    harness = Harness()
    harness.waiting = False
    harness.write_gate.clear()
    harness.start()
    try:
        entries = [
            consensus_pb2.RaftEntry(term=1, index=index, data=encode(make_block(index, 0)))
            for index in (1, 2, 3)
        ]
        request = consensus_pb2.RaftAppendEntries(
            term=1, leader="b", entries=entries, leader_commit=3
        )
        harness.driver.deliver("b", consensus_pb2.ConsensusMessage(raft_append_entries=request))
        await until(lambda: harness.core.commit_index == 3)
        await until(lambda: harness.application.validated == [(1, 0)])
        await asyncio.sleep(0.05)
        # Block 1 waits to be written: block 2 is not validated on the state before it.
        assert harness.application.validated == [(1, 0)]
        assert harness.core.commits_pending == 2
        harness.write_gate.set()
        await until(lambda: harness.written == [1, 2, 3])
        assert harness.application.validated == [(1, 0), (2, 1), (3, 2)]
        assert harness.core.commits_pending == 0
    finally:
        await harness.stop()


async def test_the_inbox_takes_its_bound_and_drops_one_past_it() -> None:
    harness = Harness()
    heartbeat = consensus_pb2.ConsensusMessage(
        raft_append_entries=consensus_pb2.RaftAppendEntries(term=1, leader="b")
    )
    for _ in range(INBOX_MESSAGES_MAX):
        harness.driver.deliver("b", heartbeat)
    assert harness.driver.messages_dropped == 0
    harness.driver.deliver("b", heartbeat)
    assert harness.driver.messages_dropped == 1
    assert harness.driver.statistics() == {"messages_dropped": 1}
    # A message taken makes room for one more.
    assert await harness.driver._next_event() == ("b", heartbeat)
    harness.driver.deliver("c", heartbeat)
    assert harness.driver.messages_dropped == 1


class SigningKey:
    """A NodeSigner-like signer for the tbft and solo engines below."""

    def __init__(self, validator_id: str) -> None:
        self.validator_id = validator_id

    def sign(self, document: bytes) -> bytes:
        return hashlib.sha256(self.validator_id.encode() + document).digest()


class AnyTransport:
    """Takes broadcasts too (tbft's messages go to every validator)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, consensus_pb2.ConsensusMessage]] = []

    def broadcast_consensus(self, message: consensus_pb2.ConsensusMessage) -> None:
        self.sent.append((None, message))

    def send_consensus(self, member_id: str, message: consensus_pb2.ConsensusMessage) -> bool:
        self.sent.append((member_id, message))
        return True


class AnyVerifier:
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        return SigningKey(validator_id).sign(document) == signature


def engine_driver(kind: EngineKind, waiting: Callable[[], bool]) -> tuple[ConsensusDriver, Store]:
    """A one-validator engine of `kind` under the driver; blocks carry one transaction."""
    store = Store()

    def build(height: int, round_number: int, time_ms: int, proposer: str) -> types_pb2.Block:
        block = make_block(height, time_ms)
        block.transactions.append(types_pb2.Transaction(body=b"t%d" % height))
        return block

    application = Application(build, store)
    engine = kind.create(
        EngineContext(
            chain_id=CHAIN_ID,
            validator_id="a",
            validators=[("a", 1)],
            signer=SigningKey("a"),
            verifier=AnyVerifier(),
            hasher=application,
            random=random.Random(1),
            last_committed_height=0,
        )
    )

    async def apply_commit(commit: Commit) -> None:
        assert commit.height == store.height + 1
        store.height = commit.height

    driver = ConsensusDriver(
        engine=engine,
        store=store,  # type: ignore[arg-type]
        transport=AnyTransport(),
        application=application,
        apply_commit=apply_commit,
        transactions_waiting=waiting,
        on_evidence=lambda evidence: None,
    )
    return driver, store


@pytest.mark.parametrize(
    "kind",
    [
        SoloKind(block_interval_ms=1),
        TbftKind(
            timeouts=TbftTimeouts(
                propose_ms=500, prevote_ms=200, precommit_ms=200, delta_ms=100, commit_ms=1
            ),
            idle_block_interval_ms=60_000,
        ),
    ],
    ids=["solo", "tbft"],
)
async def test_every_engine_runs_through_the_one_driver(kind: EngineKind) -> None:
    """Solo and tbft under the same driver as raft: blocks asked for are built in the lane and
    their commits written in order; with nothing waiting no further block is made."""
    waiting = [True]
    driver, store = engine_driver(kind, lambda: waiting[0])
    stopping = asyncio.Event()
    task = asyncio.create_task(driver.run(stopping))
    try:
        await until(lambda: store.height >= 3)
        waiting[0] = False
        await asyncio.sleep(0.05)
        settled = store.height
        await asyncio.sleep(0.1)
        assert store.height == settled
        assert driver.role in ("solo", "validator")
    finally:
        stopping.set()
        await asyncio.wait_for(task, WAIT_S)
