"""Drives a replicated consensus core (tbft, raft): the runtime side of ADR 0002.

One asyncio task owns the core. Every call into it (start, tick, step) runs in a worker thread
because the core calls the Application, which executes blocks; calls never overlap. Each Output
is carried out in the order the contract prescribes: its records are made durable (one synced
LMDB write), then its messages leave, then its commits are written.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from causeway.consensus import Commit, ConsensusCore, Output
from causeway.consensus.raft import RaftCore, RaftRole
from causeway.consensus.tbft import TbftCore, TbftStep
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import PrivateKey, PublicKey, load_public_key
from causeway.errors import ConfigurationError, CryptoError
from causeway.node.application import ExecutionApplication
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
    ) -> None:
        """governed_voters (raft): the voters the committed validator schedule names for the
        next height; a leader whose log disagrees proposes the one-voter change that follows it."""
        self._governed_voters = governed_voters
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

    def _tick(self) -> Output:
        now_ms = _now_ms()
        if isinstance(self.core, RaftCore):
            output = self._follow_governed_voters(self.core, now_ms)
            output.extend(self.core.tick(now_ms, transactions_waiting=self._transactions_waiting()))
            return output
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
        wanted = tuple(sorted(self._governed_voters()))
        if wanted == tuple(sorted(core.voters)) or wanted == self._membership_refused:
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
            await asyncio.to_thread(self._store.put_meta_records, output.persist)
        for recipient, message in output.send:
            if recipient is None:
                self._transport.broadcast_consensus(message)
            else:
                self._transport.send_consensus(recipient, message)
        for commit in output.commits:
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
