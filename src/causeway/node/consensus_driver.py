"""Drives a node's consensus engine (solo, tbft, raft): the runtime side of ADR 0002.

One asyncio task owns the core; its calls (start, tick, step, propose, block_built,
block_validated) are short and never overlap. Each Output is carried out by walking
`causeway.consensus.ordered_steps` (the simulator walks the same list): its records are made
durable (one synced LMDB write), then its messages leave, then the application's work (write a
commit, build a block, validate a block) goes to one execution lane, a task that does one job at
a time, in order, beside the core. A block of 10,000 transactions takes 0.5-2 s to execute on a
loaded machine, longer than an election timeout: executed inside the core's calls it stopped a
raft leader's heartbeats (measured on a 3-node devnet). The results of builds and validations
come back to the core as inputs, in one queue with the peers' messages, in arrival order.

Writes are pipelined: a committed block that this node executed is handed to `pipeline_commit`
(the application makes it the state the next block builds on) and written in the background,
in height order, at most WRITES_IN_FLIGHT_MAX at a time, while the lane goes on to the next
build or validation. To the core and the simulator this is the same order as before: a build or
validation after a commit sees that commit's state; only its durability comes later (and a
client hears of a block only once it is durable, as before).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from causeway.consensus import (
    Application,
    ApplicationStep,
    ApplyCommit,
    BuildBlock,
    Commit,
    ConsensusCore,
    Output,
    Persist,
    ReportEvidence,
    Send,
    ordered_steps,
)
from causeway.consensus.engines import (
    COMMITS_BEHIND_MAX,
    HELD_MESSAGES_MAX,
    IDLE_BLOCK_INTERVAL_MS,
    Engine,
    EngineContext,
    EngineKind,
    EngineProgress,
    RaftKind,
    SoloKind,
    TbftKind,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import PrivateKey, PublicKey, load_public_key
from causeway.errors import ConfigurationError, CryptoError, InvariantError
from causeway.execution import ExecutionApplication
from causeway.node.config import ConsensusSettings
from causeway.storage import Store
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.consensus")

TICK_MS = 10
# Messages from peers waiting for the core; beyond this new ones are dropped (and counted): the
# cores resend what matters.
INBOX_MESSAGES_MAX = 10_000
# Raft: waits of TICK_MS added before a tick that follows a stall of the event loop.
RAFT_STALL_WAITS_MAX = 3
# Committed blocks being written in the background while the lane goes on (module docstring).
WRITES_IN_FLIGHT_MAX = 2

_Result = TypeVar("_Result")


class NodeSigner:
    """The validator's key as a consensus.Signer."""

    def __init__(self, validator_id: str, key: PrivateKey) -> None:
        self.validator_id = validator_id
        self._key = key

    def sign(self, document: bytes) -> bytes:
        return self._key.sign(document)


class ValidatorVerifier:
    """Checks signatures of the chain's validators with the keys of the sets near the latest
    committed height (the one committed, the next two), as the validator schedule gives them."""

    def __init__(
        self, validator_sets: Callable[[], Sequence[tuple[int, types_pb2.ValidatorSet]]]
    ) -> None:
        """validator_sets: (from height, set) pairs; a from height names one set for good."""
        self._validator_sets = validator_sets
        self._keys: dict[str, PublicKey] = {}
        self._loaded: list[int] = []
        self._load(strict=True)

    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        self._load(strict=False)
        key = self._keys.get(validator_id)
        return key is not None and key.verify(document, signature)

    def _load(self, *, strict: bool) -> None:
        sets = self._validator_sets()
        loaded = [from_height for from_height, _ in sets]
        if loaded == self._loaded:
            return
        keys: dict[str, PublicKey] = {}
        for _, validators in sets:
            for validator in validators.validators:
                try:
                    keys[validator.member_id] = load_public_key(
                        validator.algorithm, validator.public_key
                    )
                except CryptoError as error:
                    if strict:
                        raise ConfigurationError(
                            f"validator {validator.member_id} has an unusable key: {error.message}"
                        ) from None
                    log.error(
                        "validator with an unusable key",
                        extra={"validator": validator.member_id, "error": error.message},
                    )
        self._keys = keys
        self._loaded = loaded


def engine_kind(consensus: str, settings: ConsensusSettings, block_interval_ms: int) -> EngineKind:
    """The engine genesis names (its `consensus` field), with the node's settings."""
    # Every kind gets the same idle heartbeat (IDLE_BLOCK_INTERVAL_MS): an idle chain of any
    # kind shows it is alive, and the light clients of it can be refreshed.
    kinds: dict[str, EngineKind] = {
        "solo": SoloKind(
            block_interval_ms=block_interval_ms, idle_block_interval_ms=IDLE_BLOCK_INTERVAL_MS
        ),
        "tbft": TbftKind(
            timeouts=settings.tbft_timeouts, idle_block_interval_ms=IDLE_BLOCK_INTERVAL_MS
        ),
        "raft": RaftKind(
            timeouts=settings.raft_timeouts, idle_block_interval_ms=IDLE_BLOCK_INTERVAL_MS
        ),
    }
    kind = kinds.get(consensus)
    if kind is None:
        raise ConfigurationError(f"unknown consensus {consensus!r} in genesis")
    return kind


def make_engine(
    *,
    kind: EngineKind,
    genesis: types_pb2.Genesis,
    member_id: str,
    key: PrivateKey,
    application: ExecutionApplication,
    store: Store,
) -> Engine:
    """The node's engine, restored from the records it persisted before a restart."""
    latest = store.latest_height()
    # Election timeouts are random by design; seeding from the node's identity keeps runs
    # reproducible without making two nodes draw the same timeouts.
    seed = int.from_bytes(key.public_key().raw[-8:], "big") ^ time.time_ns()
    context = EngineContext(
        chain_id=genesis.chain_id,
        validator_id=member_id,
        validators=genesis.validators,
        signer=NodeSigner(member_id, key),
        verifier=ValidatorVerifier(lambda: _sets_near_latest(application, store)),
        hasher=application,
        random=random.Random(seed),
        last_committed_height=latest,
        records=store.meta_records(kind.record_prefix),
        validator_schedule=application.validator_set,
        governed_voters=lambda: _governed_voters(application, store),
    )
    return kind.create(context)


def _governed_voters(application: ExecutionApplication, store: Store) -> list[str]:
    """The voters the committed validator schedule names for the next height (raft's leader
    follows them one voter at a time)."""
    validators = application.validator_set(store.latest_height() + 1)[1]
    return [validator.member_id for validator in validators.validators]


def _sets_near_latest(
    application: ExecutionApplication, store: Store
) -> list[tuple[int, types_pb2.ValidatorSet]]:
    latest = store.latest_height()
    return [application.validator_set(height) for height in range(max(1, latest), latest + 3)]


class Transport(Protocol):
    def broadcast_consensus(self, message: consensus_pb2.ConsensusMessage) -> None: ...

    def send_consensus(self, member_id: str, message: consensus_pb2.ConsensusMessage) -> bool: ...


class NoPeers:
    """The transport of an engine without peers (solo): it never sends."""

    def broadcast_consensus(self, message: consensus_pb2.ConsensusMessage) -> None:
        raise InvariantError("an engine without peers sent a consensus message")

    def send_consensus(self, member_id: str, message: consensus_pb2.ConsensusMessage) -> bool:
        raise InvariantError("an engine without peers sent a consensus message")


@dataclass(frozen=True, slots=True)
class _Built:
    block: types_pb2.Block


@dataclass(frozen=True, slots=True)
class _Validated:
    block_hash: bytes
    valid: bool


_Event = tuple[str, consensus_pb2.ConsensusMessage] | _Built | _Validated


class ConsensusDriver:
    def __init__(
        self,
        *,
        engine: Engine,
        store: Store,
        transport: Transport,
        application: Application,
        apply_commit: Callable[[Commit], Awaitable[None]],
        transactions_waiting: Callable[[], int],
        on_evidence: Callable[[consensus_pb2.DuplicateVoteEvidence], None],
        on_leadership_lost: Callable[[], None] | None = None,
        on_leader_changed: Callable[[str], None] | None = None,
        pipeline_commit: Callable[[types_pb2.Block], bool] | None = None,
        on_progress: Callable[[EngineProgress], None] | None = None,
    ) -> None:
        """application: builds and validates blocks for Output.build and Output.validate.
        transactions_waiting: how many transactions wait for a block (the mempool's).
        pipeline_commit: told of each committed block before it is written; True when the
        application builds and checks the next blocks on its state from now on, so the write
        may go on in the background (None, or False for a block: the lane waits for the write).
        on_leadership_lost: called on the event loop when this node stops being the engine's
        leader (Engine.leader; raft).
        on_leader_changed: called on the event loop with the new leader's id when another node
        becomes the leader this node follows.
        on_progress: called on the event loop after every call into the core with where the
        engine stands (height, round, step), for the metrics; it must not block."""
        self._on_progress = on_progress
        self._on_leadership_lost = on_leadership_lost
        self._on_leader_changed = on_leader_changed
        self._application = application
        # The execution lane: the application's work, one job at a time, in order.
        self._lane: asyncio.Queue[ApplicationStep | None] = asyncio.Queue()
        self._commits_unwritten = 0
        self._pipeline_commit = pipeline_commit
        # Background writes of committed blocks, oldest first; a failed one stops the lane.
        self._writes: collections.deque[asyncio.Task[None]] = collections.deque()
        self._write_failure: BaseException | None = None
        # Its own threads for the core's calls, persisting and the lane, so that they never
        # queue behind the admissions that fill the event loop's default executor.
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self.engine = engine
        self.core: ConsensusCore = engine.core
        self._store = store
        self._transport = transport
        self._apply_commit = apply_commit
        self._transactions_waiting = transactions_waiting
        self._on_evidence = on_evidence
        # Peers' messages and the lane's results, in arrival order.
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._messages_queued = 0
        self.messages_dropped = 0

    def deliver(self, sender: str, message: consensus_pb2.ConsensusMessage) -> None:
        """From the network: queue a peer's message for the core (never blocks)."""
        if self._messages_queued >= INBOX_MESSAGES_MAX:
            self.messages_dropped += 1
            return
        self._messages_queued += 1
        self._events.put_nowait((sender, message))

    async def run(self, stopping: asyncio.Event) -> None:
        self._threads = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="consensus")
        lane = asyncio.create_task(self._run_lane())
        leading = False
        followed: str | None = None
        held: collections.deque[tuple[str, consensus_pb2.ConsensusMessage]] = collections.deque()
        try:
            await self._carry_out(await self._call(self.core.start, _now_ms()))
            while not stopping.is_set():
                if self._on_progress is not None:
                    self._on_progress(self.engine.progress)
                leading, followed = self._report_leader(leading, followed)
                if lane.done():
                    lane.result()  # raises what stopped it
                    raise InvariantError("the execution lane stopped")
                event: _Event | None
                if held and self._commits_behind() < COMMITS_BEHIND_MAX:
                    event = held.popleft()
                else:
                    event = await self._next_event()
                    if isinstance(event, tuple) and self._hold_back(event[1]):
                        held.append(event)
                        if len(held) > HELD_MESSAGES_MAX:
                            held.popleft()
                            self.messages_dropped += 1
                        continue
                if event is None:
                    output = await self._call(self._tick)
                elif isinstance(event, _Built):
                    output = await self._call(self.core.block_built, event.block, _now_ms())
                elif isinstance(event, _Validated):
                    output = await self._call(
                        self.core.block_validated, event.block_hash, event.valid, _now_ms()
                    )
                else:
                    sender, message = event
                    output = await self._call(self.core.step, sender, message, _now_ms())
                await self._carry_out(output)
        finally:
            lane.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lane
            # A block consensus committed is written before the driver stops (a crash instead
            # loses it, as any unwritten commit: the peers or the log still have it).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.gather(*self._writes, return_exceptions=True)
            self._threads.shutdown(wait=False)
            self._threads = None

    async def advance_to(self, height: int) -> None:
        """After block sync wrote blocks up to height-1, move the core on to `height`."""
        await self._carry_out(await self._call(self.engine.advance_to, height, _now_ms()))

    def _report_leader(self, leading: bool, followed: str | None) -> tuple[bool, str | None]:
        """Calls on_leadership_lost and on_leader_changed on a change; (leading, followed)."""
        leader = self.engine.leader
        leading_now = self.engine.leading
        if leading and not leading_now and self._on_leadership_lost:
            self._on_leadership_lost()
        if (
            leader != followed
            and leader is not None
            and not leading_now
            and self._on_leader_changed
        ):
            self._on_leader_changed(leader)
        return leading_now, leader

    async def _call(self, function: Callable[..., Output], *arguments: Any) -> Output:
        """One call into the core in the driver's thread, and, when transactions wait, the
        core's chance to ask for a block."""

        def call() -> Output:
            output = function(*arguments)
            waiting = self._transactions_waiting()
            if waiting:
                output.extend(self.core.propose(_now_ms(), waiting))
            return output

        return await self._in_thread(call)

    async def _in_thread(self, function: Callable[..., _Result], *arguments: Any) -> _Result:
        if self._threads is None:
            return await asyncio.to_thread(function, *arguments)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, function, *arguments)

    async def _next_event(self) -> _Event | None:
        """The next message or result of the lane, or None after TICK_MS without one.

        Never None while one waits, nor right after the event loop stalled. On a loaded machine
        the loop lags by hundreds of milliseconds; the wait's timeout then fires while messages
        are queued, or still being read off the network in the same loop turn, and a tick would
        find an election timeout (a follower) or the check-quorum window (a leader) passed with
        the peers' messages unread (measured: elections with four messages waiting). So a wait
        that overran by more than TICK_MS waits once more, up to RAFT_STALL_WAITS_MAX times in
        a row, before the tick; a message that arrives meanwhile is handled first.
        """
        stalls = 0
        while True:
            if not self._events.empty():
                return self._taken(self._events.get_nowait())
            started = time.monotonic()
            try:
                return self._taken(await asyncio.wait_for(self._events.get(), TICK_MS / 1000))
            except TimeoutError:
                if not self._events.empty():
                    continue
                stalled = time.monotonic() - started > 2 * TICK_MS / 1000
                if not stalled or stalls >= RAFT_STALL_WAITS_MAX:
                    return None
                stalls += 1

    def _taken(self, event: _Event) -> _Event:
        if isinstance(event, tuple):
            self._messages_queued -= 1
        return event

    def _commits_behind(self) -> int:
        """Committed blocks not yet written: in the lane, and still in the core."""
        return self._commits_unwritten + self.engine.commits_pending

    def _hold_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        return self._commits_behind() >= COMMITS_BEHIND_MAX and self.engine.holds_back(message)

    async def _run_lane(self) -> None:
        application = self._application
        while True:
            job = await self._lane.get()
            if self._write_failure is not None:
                raise self._write_failure
            if job is None:
                continue  # woken to see a write's failure
            if isinstance(job, ApplyCommit):
                await self._wait_for_writes(WRITES_IN_FLIGHT_MAX - 1)
                if self._pipeline_commit is not None and self._pipeline_commit(job.commit.block):
                    self._write_in_background(job.commit)
                else:
                    await self._wait_for_writes(0)
                    await self._apply_commit(job.commit)
                    self._commits_unwritten -= 1
            elif isinstance(job, BuildBlock):
                block = await self._in_thread(
                    application.build_block,
                    job.height,
                    job.round_number,
                    _now_ms(),
                    job.proposer,
                )
                self._events.put_nowait(_Built(block))
            else:
                validate = (
                    application.validate_committed_block
                    if job.committed
                    else application.validate_block
                )
                valid = await self._in_thread(validate, job.block)
                self._events.put_nowait(_Validated(job.block_hash, valid))

    async def _wait_for_writes(self, left: int) -> None:
        """Until at most `left` background writes remain; raises a failed write's error."""
        while len(self._writes) > left:
            # Shielded: stopping the lane does not stop a write half way.
            await asyncio.shield(self._writes[0])
            # A write that was done already returns at once, before its done callback (which
            # removes it) ran: let it run.
            await asyncio.sleep(0)

    def _write_in_background(self, commit: Commit) -> None:
        """Writes `commit` after the writes before it, beside the lane."""
        previous = self._writes[-1] if self._writes else None

        async def write() -> None:
            if previous is not None:
                await asyncio.shield(previous)
            await self._apply_commit(commit)
            self._commits_unwritten -= 1

        def done(task: asyncio.Task[None]) -> None:
            self._writes.remove(task)
            if not task.cancelled() and task.exception() is not None:
                self._write_failure = task.exception()
                self._lane.put_nowait(None)  # wake the lane to stop on it

        task = asyncio.create_task(write())
        task.add_done_callback(done)
        self._writes.append(task)

    def _tick(self) -> Output:
        return self.engine.tick(_now_ms(), self._transactions_waiting() > 0)

    async def _carry_out(self, output: Output) -> None:
        for step in ordered_steps(output):
            if isinstance(step, Persist):
                # Durable before anything of this output leaves: this is what keeps a
                # validator from ever signing two conflicting votes across a crash.
                await self._in_thread(self._store.put_meta_records, list(step.records))
            elif isinstance(step, Send):
                if step.recipient is None:
                    self._transport.broadcast_consensus(step.message)
                else:
                    self._transport.send_consensus(step.recipient, step.message)
            elif isinstance(step, ReportEvidence):
                self._on_evidence(step.evidence)
            else:
                if isinstance(step, ApplyCommit):
                    self._commits_unwritten += 1
                self._lane.put_nowait(step)

    @property
    def role(self) -> str:
        return self.engine.role

    def statistics(self) -> Mapping[str, int]:
        return {"messages_dropped": self.messages_dropped}

    def counters(self) -> Mapping[str, int]:
        """The engine's counters and the driver's own (messages dropped at its inbox)."""
        counters = dict(self.engine.counters)
        counters["driver_messages_dropped"] = self.messages_dropped
        return counters


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
