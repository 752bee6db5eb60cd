"""The tbft engine as the drivers see it (see causeway.consensus.engines.base)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from causeway.consensus.core import ConsensusCore, Output
from causeway.consensus.engines.base import (
    EngineContext,
    EngineProgress,
    TransactionRoute,
)
from causeway.consensus.tbft import TbftCore, TbftTimeouts
from causeway.consensus.v1 import consensus_pb2
from causeway.light import CertificateQuorum


@dataclass(frozen=True, slots=True)
class TbftKind:
    """tbft. ``idle_block_interval_ms``: with nothing to order, the next height waits this long
    after a decision (an idle heartbeat that shows the validators are alive, instead of a
    stream of empty blocks); None starts it after ``timeouts.commit_ms`` as the core does.
    ``unsafe_disable_locking_for_tests`` exists only to show that the simulator's safety
    checker catches violations."""

    timeouts: TbftTimeouts = field(default_factory=TbftTimeouts)
    idle_block_interval_ms: int | None = None
    unsafe_disable_locking_for_tests: bool = False

    @property
    def name(self) -> str:
        return "tbft-unsafe-no-locking" if self.unsafe_disable_locking_for_tests else "tbft"

    @property
    def record_prefix(self) -> str:
        return "tbft/"

    @property
    def replicated(self) -> bool:
        return True

    @property
    def block_sync(self) -> bool:
        return True

    @property
    def sync_quorum(self) -> CertificateQuorum:
        return CertificateQuorum.MORE_THAN_TWO_THIRDS

    @property
    def gathers_certificates(self) -> bool:
        return False

    def create(self, context: EngineContext) -> TbftEngine:
        core = TbftCore(
            context.chain_id,
            context.validators,
            context.signer,
            context.verifier,
            context.hasher,
            context.last_committed_height + 1,
            self.timeouts,
            dict(context.records) or None,
            validator_schedule=context.validator_schedule,
            unsafe_disable_locking_for_tests=self.unsafe_disable_locking_for_tests,
        )
        return TbftEngine(core, self.idle_block_interval_ms)


class TbftEngine:
    def __init__(self, core: TbftCore, idle_block_interval_ms: int | None) -> None:
        self.tbft = core
        self._idle_block_interval_ms = idle_block_interval_ms

    @property
    def core(self) -> ConsensusCore:
        return self.tbft

    @property
    def role(self) -> str:
        # Outside the current height's set (not yet added, or removed) it only follows.
        return "validator" if self.tbft.validator_id in self.tbft.validators else "observer"

    @property
    def leader(self) -> str | None:
        return None  # the proposer changes every round

    @property
    def leading(self) -> bool:
        return False

    @property
    def commits_pending(self) -> int:
        return 0  # a decision is emitted at once

    @property
    def progress(self) -> EngineProgress:
        return EngineProgress(
            self.tbft.height, self.tbft.round, self.tbft.current_step.name.lower()
        )

    @property
    def counters(self) -> Mapping[str, int]:
        return dict(self.tbft.statistics)

    def tick(self, now_ms: int, transactions_waiting: bool) -> Output:
        decided_at_ms = self.tbft.decided_at_ms
        if (
            self._idle_block_interval_ms is not None
            and decided_at_ms is not None
            and now_ms - decided_at_ms < self._idle_block_interval_ms
            and not transactions_waiting
        ):
            # Hold the next height until there is something to order; messages from peers are
            # still handled, so a validator that has transactions moves the others on.
            return Output()
        return self.tbft.tick(now_ms)

    def advance_to(self, height: int, now_ms: int) -> Output:
        return self.tbft.advance_to(height, now_ms)

    def route(self) -> TransactionRoute:
        # Any validator may propose next: every one of them needs the transactions.
        return TransactionRoute(gossip=True)

    def holds_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        return False
