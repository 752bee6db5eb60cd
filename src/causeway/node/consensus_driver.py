"""Drives a replicated consensus core (tbft, raft): the runtime side of ADR 0002.

One asyncio task owns the core. Every call into it (start, tick, step) runs in a worker thread
because the core calls the Application, which executes blocks; calls never overlap. Each Output
is carried out in the order the contract prescribes: its records are made durable (one synced
LMDB write), then its messages leave, then its commits are written.
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
from typing import Any, Protocol, TypeVar

from causeway.consensus import Commit, ConsensusCore, Output
from causeway.consensus.raft import RaftCore, RaftRole
from causeway.consensus.tbft import TbftCore, TbftStep
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import PrivateKey, PublicKey, load_public_key
from causeway.errors import ConfigurationError, CryptoError, InvariantError
from causeway.execution import ExecutionApplication
from causeway.node.config import ConsensusSettings
from causeway.storage import Store
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.consensus")

TICK_MS = 10
# With nothing to order, a tbft chain still commits a block this often (an idle heartbeat that
# shows the validators are alive); with transactions waiting, heights follow each other at once.
IDLE_BLOCK_INTERVAL_MS = 5_000
# Messages from peers waiting for the core; beyond this the oldest are dropped (and counted).
INBOX_MESSAGES_MAX = 10_000
# Raft: committed blocks waiting to be checked and written. At this many the driver holds
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


class ConsensusDriver:
    def __init__(
        self,
        *,
        core: ConsensusCore,
        store: Store,
        transport: Transport,
        apply_commit: Callable[[Commit], Awaitable[None]],
        transactions_waiting: Callable[[], bool],
        on_evidence: Callable[[consensus_pb2.DuplicateVoteEvidence], None],
        governed_voters: Callable[[], Sequence[str]] | None = None,
        build_block: Callable[[int, int, int, str], types_pb2.Block] | None = None,
        on_leadership_lost: Callable[[], None] | None = None,
        on_leader_changed: Callable[[str], None] | None = None,
    ) -> None:
        """governed_voters (raft): the voters the committed validator schedule names for the
        next height; a leader whose log disagrees proposes the one-voter change that follows it.
        build_block (raft): Application.build_block, called beside the core (see _run_raft);
        without it the core builds blocks inside its own calls.
        on_leadership_lost (raft): called on the event loop when this node stops leading.
        on_leader_changed (raft): called on the event loop with the new leader's id when another
        node becomes the leader this node follows."""
        self._on_leadership_lost = on_leadership_lost
        self._on_leader_changed = on_leader_changed
        self._governed_voters = governed_voters
        self._build_block = build_block
        # Raft: commits handed to the writer task and not yet written (queued or being written).
        self._raft_commits: asyncio.Queue[Commit] = asyncio.Queue()
        self._raft_commits_unwritten = 0
        self._raft_writer: asyncio.Task[None] | None = None
        # Held while a block is written or built: both use the state tree and the latest state.
        self._raft_work = asyncio.Lock()
        # Raft: its own threads for the core's calls, persisting and building, so that they
        # never queue behind the admissions that fill the event loop's default executor.
        self._raft_threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._membership_refused: tuple[str, ...] = ()
        self.core = core
        self._store = store
        self._transport = transport
        self._apply_commit = apply_commit
        self._transactions_waiting = transactions_waiting
        self._on_evidence = on_evidence
        self._inbox: asyncio.Queue[tuple[str, consensus_pb2.ConsensusMessage]] = asyncio.Queue()
        self.messages_dropped = 0
        self._last_commit_ms = 0

    def deliver(self, sender: str, message: consensus_pb2.ConsensusMessage) -> None:
        """From the network: queue a peer's message for the core (never blocks)."""
        if self._inbox.qsize() >= INBOX_MESSAGES_MAX:
            self._inbox.get_nowait()
            self.messages_dropped += 1
        self._inbox.put_nowait((sender, message))

    async def run(self, stopping: asyncio.Event) -> None:
        if isinstance(self.core, RaftCore):
            await self._run_raft(self.core, stopping)
            return
        await self._carry_out(await asyncio.to_thread(self.core.start, _now_ms()))
        while not stopping.is_set():
            try:
                sender, message = await asyncio.wait_for(self._inbox.get(), TICK_MS / 1000)
            except TimeoutError:
                output = await asyncio.to_thread(self._tick)
            else:
                output = await asyncio.to_thread(self.core.step, sender, message, _now_ms())
            await self._carry_out(output)

    async def advance_to(self, height: int) -> None:
        """After block sync wrote blocks up to height-1, move the core on to `height`."""
        advance = getattr(self.core, "advance_to", None)
        if advance is not None:
            await self._carry_out(await asyncio.to_thread(advance, height, _now_ms()))

    async def _run_raft(self, core: RaftCore, stopping: asyncio.Event) -> None:
        """Raft: every core call is short; blocks are built and written beside it.

        A block of 10,000 transactions takes 0.5-2 s to execute on a loaded machine, longer than
        an election timeout. Executed inside the core's calls, it stopped the leader's
        heartbeats and the followers' acknowledgements, and the followers elected a new leader
        after nearly every block (measured on a 3-node devnet). Here the core only orders: the
        leader builds the next block in a worker thread (build_block, for the height the core
        names) and offers it to the core when done; committed blocks go, in height order, to a
        writer task that checks (Application.executed) and writes them. Meanwhile the core
        handles messages and timeouts. A lock keeps a build and a write from running together
        (both execute on the latest state and update the state tree), and a block is built
        only once every committed block is written, on the state it extends.
        """
        self._raft_threads = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="raft")
        writer = asyncio.create_task(self._write_raft_commits())
        self._raft_writer = writer
        build: asyncio.Task[types_pb2.Block] | None = None
        leading = False
        followed: str | None = None
        held: collections.deque[tuple[str, consensus_pb2.ConsensusMessage]] = collections.deque()
        try:
            await self._carry_out(await self._in_raft_thread(core.start, _now_ms()))
            while not stopping.is_set():
                if leading and core.role is not RaftRole.LEADER and self._on_leadership_lost:
                    self._on_leadership_lost()
                leading = core.role is RaftRole.LEADER
                leader = core.leader
                if leader != followed:
                    followed = leader
                    if leader is not None and leader != core.node_id and self._on_leader_changed:
                        self._on_leader_changed(leader)
                if writer.done():
                    writer.result()  # raises what stopped it
                    raise InvariantError("the raft block writer stopped")
                if held and self._raft_commits_unwritten < RAFT_COMMITS_PENDING_MAX:
                    received: tuple[str, consensus_pb2.ConsensusMessage] | None = held.popleft()
                else:
                    received = await self._next_message()
                    if received is not None and self._hold_back(received[1]):
                        held.append(received)
                        if len(held) > RAFT_APPENDS_HELD_MAX:
                            held.popleft()
                            self.messages_dropped += 1
                        continue
                if received is None:
                    idle = self._raft_commits_unwritten == 0 and build is None
                    output = await self._in_raft_thread(self._tick_raft, core, idle)
                else:
                    sender, message = received
                    output = await self._in_raft_thread(core.step, sender, message, _now_ms())
                await self._carry_out(output)
                if build is not None and build.done():
                    block = build.result()  # raises what the build raised
                    build = None
                    offered = await self._in_raft_thread(core.propose_built_block, block, _now_ms())
                    await self._carry_out(offered)
                if build is None and self._build_block is not None:
                    height = self._raft_height_to_build(core)
                    if height is not None:
                        build = asyncio.create_task(self._build_raft_block(core, height))
        finally:
            for task in (writer, build):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            self._raft_writer = None
            self._raft_threads.shutdown(wait=False)
            self._raft_threads = None

    async def _in_raft_thread(self, function: Callable[..., _Result], *arguments: Any) -> _Result:
        assert self._raft_threads is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._raft_threads, function, *arguments)

    async def _next_message(self) -> tuple[str, consensus_pb2.ConsensusMessage] | None:
        """The next message, or None after TICK_MS without one.

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
            if not self._inbox.empty():
                return self._inbox.get_nowait()
            started = time.monotonic()
            try:
                return await asyncio.wait_for(self._inbox.get(), TICK_MS / 1000)
            except TimeoutError:
                if not self._inbox.empty():
                    continue
                stalled = time.monotonic() - started > 2 * TICK_MS / 1000
                if not stalled or stalls >= RAFT_STALL_WAITS_MAX:
                    return None
                stalls += 1

    def _raft_height_to_build(self, core: RaftCore) -> int | None:
        if self._raft_commits_unwritten or not self._transactions_waiting():
            return None
        height = core.height_to_build()
        # Built on the latest written state, which must be the block's parent.
        if height is None or height != self._store.latest_height() + 1:
            return None
        return height

    async def _build_raft_block(self, core: RaftCore, height: int) -> types_pb2.Block:
        assert self._build_block is not None
        async with self._raft_work:
            return await self._in_raft_thread(
                self._build_block, height, core.term, _now_ms(), core.node_id
            )

    def _tick_raft(self, core: RaftCore, idle: bool) -> Output:
        """idle: nothing is being built or written, so the committed state can be read whole."""
        now_ms = _now_ms()
        # The schedule is one read of committed state: safe beside a build or a write.
        output = self._follow_governed_voters(core, now_ms)
        waiting = self._build_block is None and idle and self._transactions_waiting()
        output.extend(core.tick(now_ms, transactions_waiting=waiting))
        return output

    def _hold_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        return (
            self._raft_commits_unwritten >= RAFT_COMMITS_PENDING_MAX
            and message.WhichOneof("body") == "raft_append_entries"
            and len(message.raft_append_entries.entries) > 0
        )

    def _queue_raft_commit(self, commit: Commit) -> None:
        self._raft_commits_unwritten += 1
        self._raft_commits.put_nowait(commit)

    async def _write_raft_commits(self) -> None:
        while True:
            commit = await self._raft_commits.get()
            async with self._raft_work:
                await self._apply_commit(commit)
            self._raft_commits_unwritten -= 1
            self._last_commit_ms = _now_ms()
            self._membership_refused = ()

    def _tick(self) -> Output:
        now_ms = _now_ms()
        if (
            isinstance(self.core, TbftCore)
            and self.core.current_step == TbftStep.COMMIT
            and now_ms - self._last_commit_ms < IDLE_BLOCK_INTERVAL_MS
            and not self._transactions_waiting()
        ):
            # Hold the next height until there is something to order (no stream of empty
            # blocks); messages from peers are still handled, so a validator that has
            # transactions moves the others on.
            return Output()
        return self.core.tick(now_ms)

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
        if output.persist:
            # Durable before anything of this output leaves: this is what keeps a validator
            # from ever signing two conflicting votes across a crash.
            if self._raft_threads is not None:
                await self._in_raft_thread(self._store.put_meta_records, output.persist)
            else:
                await asyncio.to_thread(self._store.put_meta_records, output.persist)
        for recipient, message in output.send:
            if recipient is None:
                self._transport.broadcast_consensus(message)
            else:
                self._transport.send_consensus(recipient, message)
        for commit in output.commits:
            if self._raft_writer is not None:
                self._queue_raft_commit(commit)
                continue
            await self._apply_commit(commit)
            self._last_commit_ms = _now_ms()
            self._membership_refused = ()
        for evidence in output.evidence:
            self._on_evidence(evidence)

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
