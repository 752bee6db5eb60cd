"""The raft engine as the drivers see it (see causeway.consensus.engines.base)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from causeway.consensus.core import ConsensusCore, Output
from causeway.consensus.engines.base import (
    EngineContext,
    EngineProgress,
    TransactionRoute,
    validator_ids,
)
from causeway.consensus.raft import (
    PIPELINE_BLOCKS_MAX,
    RECORD_PREFIX,
    RaftCore,
    RaftRole,
    RaftTimeouts,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError
from causeway.light import CertificateQuorum

log = logging.getLogger("causeway.consensus")


@dataclass(frozen=True, slots=True)
class RaftKind:
    """raft. ``idle_block_interval_ms``: with nothing to order, the leader still makes a block
    (an idle heartbeat) this often; None: none without transactions."""

    timeouts: RaftTimeouts = field(default_factory=RaftTimeouts)
    pipeline_blocks_max: int = PIPELINE_BLOCKS_MAX
    idle_block_interval_ms: int | None = None

    @property
    def name(self) -> str:
        return "raft"

    @property
    def record_prefix(self) -> str:
        return RECORD_PREFIX

    @property
    def replicated(self) -> bool:
        return True

    @property
    def block_sync(self) -> bool:
        return False  # a node behind catches up through the leader's log

    @property
    def sync_quorum(self) -> CertificateQuorum:
        return CertificateQuorum.ANY_VALIDATOR

    @property
    def gathers_certificates(self) -> bool:
        return True

    def create(self, context: EngineContext) -> RaftEngine:
        # Raft's own log carries its membership changes (one voter at a time); the log starts
        # from the voters of genesis.
        core = RaftCore(
            context.chain_id,
            context.validator_id,
            validator_ids(context.validators),
            context.signer,
            context.hasher,
            context.random,
            self.timeouts,
            dict(context.records) or None,
            context.last_committed_height,
            pipeline_blocks_max=self.pipeline_blocks_max,
            idle_block_interval_ms=self.idle_block_interval_ms,
        )
        return RaftEngine(core, context.governed_voters)


class RaftEngine:
    def __init__(self, core: RaftCore, governed_voters: Callable[[], Sequence[str]] | None) -> None:
        self.raft = core
        self._governed_voters = governed_voters
        # The change the core refused last, and the height committed then: not proposed again
        # until another block commits (e.g. a leader that has not committed an entry of its
        # term yet).
        self._refused: tuple[tuple[str, ...], int] | None = None

    @property
    def core(self) -> ConsensusCore:
        return self.raft

    @property
    def role(self) -> str:
        return str(self.raft.role.value)

    @property
    def leader(self) -> str | None:
        return self.raft.leader

    @property
    def leading(self) -> bool:
        return self.raft.role is RaftRole.LEADER

    @property
    def commits_pending(self) -> int:
        return self.raft.commits_pending

    @property
    def progress(self) -> EngineProgress:
        # A term is raft's round: a new one means an election (a view change).
        return EngineProgress(
            self.raft.committed_height + 1, self.raft.term, str(self.raft.role.value)
        )

    @property
    def counters(self) -> Mapping[str, int]:
        return self.raft.statistics.as_dict()

    def tick(self, now_ms: int, transactions_waiting: bool) -> Output:
        output = self._follow_governed_voters(now_ms)
        output.extend(self.raft.tick(now_ms))
        return output

    def advance_to(self, height: int, now_ms: int) -> Output:
        return Output()  # raft has no block sync

    def route(self) -> TransactionRoute:
        """A raft leader keeps its clients' transactions: it alone builds blocks, and the
        followers receive them in its blocks (checked there, in one batch per block). Gossiping
        them too made each follower decode, check and pool every transaction twice over: on a
        3-node devnet the followers spent a third less CPU without it (see
        docs/performance.md). A follower sends its clients' transactions to the leader it
        knows, else (during an election) to every node."""
        if self.raft.role is RaftRole.LEADER:
            return TransactionRoute(gossip=False)
        leader = self.raft.leader
        return TransactionRoute(gossip=True, to=leader if leader != self.raft.node_id else None)

    def holds_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        # Entries new to the log; every other message, heartbeats included, is handled, so that
        # nobody starts an election meanwhile.
        return (
            message.WhichOneof("body") == "raft_append_entries"
            and len(message.raft_append_entries.entries) > 0
        )

    def _follow_governed_voters(self, now_ms: int) -> Output:
        core = self.raft
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
        if self._refused == (wanted, core.committed_height):
            return Output()
        try:
            output = core.propose_membership_change(wanted, now_ms)
        except ConfigurationError as error:
            # (Said once per target and committed height; the next commit retries.)
            log.info("raft membership change not proposed yet", extra={"reason": error.message})
            self._refused = (wanted, core.committed_height)
            return Output()
        log.info("raft membership change proposed", extra={"voters": list(wanted)})
        return output
