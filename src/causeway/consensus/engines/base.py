"""What a driver (the node's, the simulator's) asks of a running engine, whichever it is.

An ``EngineKind`` builds one node's engine from an ``EngineContext`` (new, or restored from the
records it persisted); the ``Engine`` it returns holds the core (driven through the
ConsensusCore protocol) and answers everything else a driver needs: the tick policy, block sync,
where a client's transactions go, how far behind with its writes the node may fall, and the role
it reports. No driver asks which engine it is talking to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from causeway.consensus.core import BlockHasher, ConsensusCore, Output, Signer, Verifier
from causeway.consensus.tbft import ValidatorPairs, ValidatorSchedule
from causeway.consensus.v1 import consensus_pb2
from causeway.light import CertificateQuorum
from causeway.types.v1 import types_pb2

# With nothing to order, every engine the node runs still commits a block this often (an idle
# heartbeat; the node's driver passes it to tbft, raft and solo alike). It shows the validators
# are alive, and it is what another chain's light client of this chain is refreshed with: a
# relayer refreshes a client with a newer certified header, a third of the way into its trusting
# period, and a chain that made no block while idle (solo, raft before this) gave it none, so
# the client expired though the chain was alive. Five seconds is far below any trusting period
# (days) and costs one small block per interval; with transactions waiting, blocks follow each
# other at the engine's own pace and no heartbeat is needed.
IDLE_BLOCK_INTERVAL_MS = 5_000


@dataclass(frozen=True, slots=True)
class EngineContext:
    """Everything one node's engine is built from."""

    chain_id: str
    validator_id: str
    # The validators of genesis: (id, voting power) pairs or the genesis ValidatorSet.
    validators: ValidatorPairs
    signer: Signer
    verifier: Verifier
    hasher: BlockHasher
    # Seeded: the engine's only source of randomness (raft's election timeouts).
    random: random.Random
    # The last height in the node's durable block store.
    last_committed_height: int
    # Every record the engine persisted (names under its record prefix); empty for a new node.
    records: Mapping[str, bytes] = field(default_factory=dict)
    # Each height's validator set, for a chain whose set changes by governance (tbft).
    validator_schedule: ValidatorSchedule | None = None
    # Raft: the voters the committed schedule names for the next height; the leader follows
    # them one voter at a time. None: the log's own configuration only.
    governed_voters: Callable[[], Sequence[str]] | None = None


@dataclass(frozen=True, slots=True)
class EngineProgress:
    """Where an engine stands, as the node's metrics and readiness report it: the height it is
    deciding, its round (tbft's round at that height, raft's term, 0 for solo) and its step
    (tbft's step, raft's role, "propose" for solo). Read after each call into the core, in the
    driver: the core itself knows no clock and reports nothing."""

    height: int
    round_number: int
    step: str


@dataclass(frozen=True, slots=True)
class TransactionRoute:
    """Where a client's transactions admitted here go: nowhere (this node builds the blocks
    they go into), to one node (`to`), or to every other node (`to` None)."""

    gossip: bool
    to: str | None = None


class Engine(Protocol):
    """One node's running engine."""

    @property
    def core(self) -> ConsensusCore: ...

    @property
    def role(self) -> str:
        """What the node reports as its role ("leader", "follower", "validator", ...)."""
        ...

    @property
    def leader(self) -> str | None:
        """The node that builds the blocks, when one does for a while (raft's leader)."""
        ...

    @property
    def leading(self) -> bool:
        """Whether this node is that leader."""
        ...

    @property
    def commits_pending(self) -> int:
        """Blocks the core has committed but not yet emitted (waiting for validation)."""
        ...

    @property
    def progress(self) -> EngineProgress:
        """Where the core stands now (see EngineProgress)."""
        ...

    @property
    def counters(self) -> Mapping[str, int]:
        """The core's own monotonic counters by name (raft's elections, tbft's dropped
        messages, ...), for the node's metrics; a copy."""
        ...

    def tick(self, now_ms: int, transactions_waiting: bool) -> Output:
        """The driver's periodic call: the core's timeouts and the engine's own policy."""
        ...

    def advance_to(self, height: int, now_ms: int) -> Output:
        """Block sync wrote every block below `height`: move the core on."""
        ...

    def route(self) -> TransactionRoute: ...

    def holds_back(self, message: consensus_pb2.ConsensusMessage) -> bool:
        """Whether a driver that is behind with its writes keeps this message for later
        (raft: entries new to the log), instead of handing it to the core now."""
        ...


class EngineKind(Protocol):
    """One consensus engine: how to build a node's Engine, and its constants."""

    @property
    def name(self) -> str: ...

    @property
    def record_prefix(self) -> str:
        """The names of its persisted records start with this."""
        ...

    @property
    def replicated(self) -> bool:
        """Whether its validators talk over the peer network (solo's one does not)."""
        ...

    @property
    def block_sync(self) -> bool:
        """Whether a node behind fetches certified blocks from its peers (tbft)."""
        ...

    @property
    def sync_quorum(self) -> CertificateQuorum:
        """What a certificate must hold for block sync between the chain's own nodes."""
        ...

    @property
    def gathers_certificates(self) -> bool:
        """Whether a committed block's certificate is completed after commit from the other
        validators' signatures (raft: a majority of the voters; see consensus.raft)."""
        ...

    def create(self, context: EngineContext) -> Engine: ...


def validator_ids(validators: ValidatorPairs) -> list[str]:
    if isinstance(validators, types_pb2.ValidatorSet):
        return [validator.member_id for validator in validators.validators]
    return [validator for validator, _ in validators]
