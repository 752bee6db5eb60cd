"""The solo engine as the drivers see it (see causeway.consensus.engines.base)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from causeway.consensus.core import ConsensusCore, Output
from causeway.consensus.engines.base import (
    EngineContext,
    EngineProgress,
    TransactionRoute,
)
from causeway.consensus.solo import BLOCK_INTERVAL_MS_DEFAULT, SoloCore
from causeway.consensus.v1 import consensus_pb2
from causeway.light import CertificateQuorum


@dataclass(frozen=True, slots=True)
class SoloKind:
    """solo. ``idle_block_interval_ms``: with nothing to order, a block (an idle heartbeat,
    committed even when empty) is still made this often; None: none without transactions."""

    block_interval_ms: int = BLOCK_INTERVAL_MS_DEFAULT
    idle_block_interval_ms: int | None = None

    @property
    def name(self) -> str:
        return "solo"

    @property
    def record_prefix(self) -> str:
        return "solo/"

    @property
    def replicated(self) -> bool:
        return False

    @property
    def block_sync(self) -> bool:
        return False

    @property
    def sync_quorum(self) -> CertificateQuorum:
        # Its one validator holds all the power.
        return CertificateQuorum.MORE_THAN_TWO_THIRDS

    @property
    def gathers_certificates(self) -> bool:
        return False

    def create(self, context: EngineContext) -> SoloEngine:
        core = SoloCore(
            context.chain_id,
            context.signer,
            context.hasher,
            context.last_committed_height,
            self.block_interval_ms,
            idle_block_interval_ms=self.idle_block_interval_ms,
        )
        return SoloEngine(core)


class SoloEngine:
    def __init__(self, core: SoloCore) -> None:
        self.solo = core

    @property
    def core(self) -> ConsensusCore:
        return self.solo

    @property
    def role(self) -> str:
        return "solo"

    @property
    def leader(self) -> str | None:
        return None

    @property
    def leading(self) -> bool:
        return False

    @property
    def commits_pending(self) -> int:
        return 0

    @property
    def progress(self) -> EngineProgress:
        return EngineProgress(self.solo.committed_height + 1, 0, "propose")

    @property
    def counters(self) -> Mapping[str, int]:
        return {
            "blocks_discarded": self.solo.blocks_discarded,
            "messages_dropped": self.solo.messages_dropped,
        }

    def tick(self, now_ms: int, transactions_waiting: bool) -> Output:
        return self.solo.tick(now_ms)

    def advance_to(self, height: int, now_ms: int) -> Output:
        return Output()

    def route(self) -> TransactionRoute:
        return TransactionRoute(gossip=False)  # no peers: this node builds every block

    def holds_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        return False
