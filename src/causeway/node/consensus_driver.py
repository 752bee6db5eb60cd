"""Drives a replicated consensus core (tbft, raft): the runtime side of ADR 0002.

One asyncio task owns the core; its calls (start, tick, step, propose, block_built,
block_validated) are short and never overlap. Each Output is carried out by walking
`causeway.consensus.ordered_steps` (the simulator walks the same list): its records are made
durable (one synced LMDB write), then its messages leave, then the application's work (write a
commit, build a block, validate a block) goes to one execution lane, a task that does one job at
a time, in order, beside the core. A block of 10,000 transactions takes 0.5-2 s to execute on a
loaded machine, longer than an election timeout: executed inside the core's calls it stopped a
raft leader's heartbeats (measured on a 3-node devnet). The results of builds and validations
come back to the core as inputs, before any waiting message.
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
from causeway.consensus.raft import RaftCore, RaftRole
from causeway.consensus.tbft import TbftCore, TbftStep
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import PrivateKey, PublicKey, load_public_key
from causeway.errors import ConfigurationError, CryptoError, InvariantError
from causeway.node.application import ExecutionApplication
from causeway.node.config import ConsensusSettings
from causeway.storage import Store
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.consensus")

TICK_MS = 10
# With nothing to order, a tbft chain still commits a block this often (an idle heartbeat that
# shows the validators are alive); with transactions waiting, heights follow each other at once.
IDLE_BLOCK_INTERVAL_MS = 5_000
# Messages from peers waiting for the core; beyond this new ones are dropped (and counted): the
# cores resend what matters.
INBOX_MESSAGES_MAX = 10_000
# Raft: committed blocks waiting to be validated and written. At this many the driver holds
# back AppendEntries that bring new entries (a replica that executes slower than the leader
# commits stops taking blocks instead of queueing them without end) but goes on handling every
# other message, heartbeats included, so that nobody starts an election meanwhile. The blocks
# waiting never exceed it by more than one AppendEntries' worth of entries.
RAFT_COMMITS_PENDING_MAX = 8
# Raft: AppendEntries held back so; beyond this the oldest is dropped (the leader resends).
RAFT_APPENDS_HELD_MAX = 64
# Raft: waits of TICK_MS added before a tick that follows a stall of the event loop.
RAFT_STALL_WAITS_MAX = 3

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


def record_prefix(consensus: str) -> str:
    return f"{consensus}/"


def make_core(
    *,
    consensus: str,
    genesis: types_pb2.Genesis,
    member_id: str,
    key: PrivateKey,
    application: ExecutionApplication,
    store: Store,
    settings: ConsensusSettings,
) -> ConsensusCore:
    """The engine named in genesis, restored from the records it persisted before a restart."""
    records = store.meta_records(record_prefix(consensus))
    signer = NodeSigner(member_id, key)
    latest = store.latest_height()
    if consensus == "tbft":
        return TbftCore(
            genesis.chain_id,
            genesis.validators,
            signer,
            ValidatorVerifier(lambda: _sets_near_latest(application, store)),
            application,
            latest + 1,
            settings.tbft_timeouts,
            records or None,
            validator_schedule=application.validator_set,
        )
    if consensus == "raft":
        # Raft's own log carries its membership changes (one voter at a time, see the driver);
        # the log starts from the voters of genesis.
        voters = [validator.member_id for validator in genesis.validators.validators]
        # Election timeouts are random by design; seeding from the node's identity keeps runs
        # reproducible without making two nodes draw the same timeouts.
        seed = int.from_bytes(key.public_key().raw[-8:], "big") ^ time.time_ns()
        return RaftCore(
            genesis.chain_id,
            member_id,
            voters,
            signer,
            application,
            random.Random(seed),
            settings.raft_timeouts,
            records or None,
            latest,
        )
    raise ConfigurationError(f"unknown consensus {consensus!r}")


def _sets_near_latest(
    application: ExecutionApplication, store: Store
) -> list[tuple[int, types_pb2.ValidatorSet]]:
    latest = store.latest_height()
    return [application.validator_set(height) for height in range(max(1, latest), latest + 3)]


class Transport(Protocol):
    def broadcast_consensus(self, message: consensus_pb2.ConsensusMessage) -> None: ...

    def send_consensus(self, member_id: str, message: consensus_pb2.ConsensusMessage) -> bool: ...


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
        core: ConsensusCore,
        store: Store,
        transport: Transport,
        application: Application,
        apply_commit: Callable[[Commit], Awaitable[None]],
        transactions_waiting: Callable[[], bool],
        on_evidence: Callable[[consensus_pb2.DuplicateVoteEvidence], None],
        governed_voters: Callable[[], Sequence[str]] | None = None,
        on_leadership_lost: Callable[[], None] | None = None,
        on_leader_changed: Callable[[str], None] | None = None,
    ) -> None:
        """application: builds and validates blocks for Output.build and Output.validate.
        governed_voters (raft): the voters the committed validator schedule names for the
        next height; a leader whose log disagrees proposes the one-voter change that follows it.
        on_leadership_lost (raft): called on the event loop when this node stops leading.
        on_leader_changed (raft): called on the event loop with the new leader's id when another
        node becomes the leader this node follows."""
        self._on_leadership_lost = on_leadership_lost
        self._on_leader_changed = on_leader_changed
        self._governed_voters = governed_voters
        self._application = application
        # The execution lane: the application's work, one job at a time, in order.
        self._lane: asyncio.Queue[ApplicationStep] = asyncio.Queue()
        self._commits_unwritten = 0
        # Its own threads for the core's calls, persisting and the lane, so that they never
        # queue behind the admissions that fill the event loop's default executor.
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._membership_refused: tuple[str, ...] = ()
        self.core = core
        self._store = store
        self._transport = transport
        self._apply_commit = apply_commit
        self._transactions_waiting = transactions_waiting
        self._on_evidence = on_evidence
        # Peers' messages and the lane's results, in arrival order.
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._messages_queued = 0
        self.messages_dropped = 0
        self._last_commit_ms = 0

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
                if isinstance(self.core, RaftCore):
                    core = self.core
                    if leading and core.role is not RaftRole.LEADER and self._on_leadership_lost:
                        self._on_leadership_lost()
                    leading = core.role is RaftRole.LEADER
                    leader = core.leader
                    if leader != followed:
                        followed = leader
                        if (
                            leader is not None
                            and leader != core.node_id
                            and self._on_leader_changed
                        ):
                            self._on_leader_changed(leader)
                if lane.done():
                    lane.result()  # raises what stopped it
                    raise InvariantError("the execution lane stopped")
                event: _Event | None
                if held and self._commits_behind() < RAFT_COMMITS_PENDING_MAX:
                    event = held.popleft()
                else:
                    event = await self._next_event()
                    if isinstance(event, tuple) and self._hold_back(event[1]):
                        held.append(event)
                        if len(held) > RAFT_APPENDS_HELD_MAX:
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
            self._threads.shutdown(wait=False)
            self._threads = None

    async def advance_to(self, height: int) -> None:
        """After block sync wrote blocks up to height-1, move the core on to `height`."""
        advance = getattr(self.core, "advance_to", None)
        if advance is not None:
            await self._carry_out(await self._call(advance, height, _now_ms()))

    async def _call(self, function: Callable[..., Output], *arguments: Any) -> Output:
        """One call into the core in the driver's thread, and, when transactions wait, the
        core's chance to ask for a block."""

        def call() -> Output:
            output = function(*arguments)
            if self._transactions_waiting():
                output.extend(self.core.propose(_now_ms()))
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
        """Committed blocks not yet written: in the lane, and (raft) still in the core."""
        pending = self.core.commits_pending if isinstance(self.core, RaftCore) else 0
        return self._commits_unwritten + pending

    def _hold_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        return (
            self._commits_behind() >= RAFT_COMMITS_PENDING_MAX
            and message.WhichOneof("body") == "raft_append_entries"
            and len(message.raft_append_entries.entries) > 0
        )

    async def _run_lane(self) -> None:
        application = self._application
        while True:
            job = await self._lane.get()
            if isinstance(job, ApplyCommit):
                await self._apply_commit(job.commit)
                self._commits_unwritten -= 1
                self._last_commit_ms = _now_ms()
                self._membership_refused = ()
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
                valid = await self._in_thread(application.validate_block, job.block)
                self._events.put_nowait(_Validated(job.block_hash, valid))

    def _tick(self) -> Output:
        now_ms = _now_ms()
        output = Output()
        if isinstance(self.core, RaftCore):
            # The schedule is one read of committed state: safe beside the lane's work.
            output.extend(self._follow_governed_voters(self.core, now_ms))
        if (
            isinstance(self.core, TbftCore)
            and self.core.current_step == TbftStep.COMMIT
            and now_ms - self._last_commit_ms < IDLE_BLOCK_INTERVAL_MS
            and not self._transactions_waiting()
        ):
            # Hold the next height until there is something to order (no stream of empty
            # blocks); messages from peers are still handled, so a validator that has
            # transactions moves the others on.
            return output
        output.extend(self.core.tick(now_ms))
        return output

    def _follow_governed_voters(self, core: RaftCore, now_ms: int) -> Output:
        if (
            self._governed_voters is None
            or core.role is not RaftRole.LEADER
            or core.membership_change_pending
        ):
            return Output()
        governed = set(self._governed_voters())
        current = set(core.voters)
        if governed == current:
            return Output()
        # One voter at a time towards the governed set: the log may be more than one change
        # behind (governance went on while a change waited for an idle moment or an election).
        missing, extra = sorted(governed - current), sorted(current - governed)
        step = current | {missing[0]} if missing else current - {extra[0]}
        wanted = tuple(sorted(step))
        if wanted == self._membership_refused:
            return Output()
        try:
            output = core.propose_membership_change(wanted, now_ms)
        except ConfigurationError as error:
            # (Say so once per target; e.g. a leader has not committed an entry of its term yet,
            # which the next tick after that commit retries: the refusal is forgotten then.)
            log.info("raft membership change not proposed yet", extra={"reason": error.message})
            self._membership_refused = wanted
            return Output()
        log.info("raft membership change proposed", extra={"voters": list(wanted)})
        return output

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
        if isinstance(self.core, RaftCore):
            return str(self.core.role.value)
        if isinstance(self.core, TbftCore):
            # Outside the current height's set (not yet added, or removed) it only follows.
            return "validator" if self.core.validator_id in self.core.validators else "observer"
        return "unknown"

    def statistics(self) -> Mapping[str, int]:
        return {"messages_dropped": self.messages_dropped}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
