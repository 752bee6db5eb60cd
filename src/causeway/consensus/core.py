"""The contract between consensus cores and whatever drives them (the node runtime, the simulator).

See docs/adr/0002-consensus-cores-and-simulation.md. Cores are pure: they return an Output and the
driver carries it out in the order `causeway.consensus.ordering.ordered_steps` gives: persist
(durably), then send, then apply the commits, then build and validate blocks. A core never calls
the application: building or validating a block is an output (`Output.build`, `Output.validate`)
whose result the driver hands back as an input (`block_built`, `block_validated`), as in etcd's
raft. A block may take seconds to execute; the core meanwhile goes on handling messages and
timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from causeway.consensus.v1 import consensus_pb2
from causeway.types.v1 import types_pb2


@dataclass(slots=True)
class Commit:
    """A final block, emitted in height order and exactly once per core lifetime."""

    height: int
    block: types_pb2.Block
    certificate: types_pb2.CommitCertificate


@dataclass(frozen=True, slots=True)
class BuildBlock:
    """Build (execute) the block at `height` from waiting transactions, on the state that the
    commits emitted so far leave, and hand it back with `block_built`."""

    height: int
    round_number: int
    time_ms: int
    proposer: str


@dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Re-execute `block` on the state that the commits emitted so far leave, compare its roots,
    and hand the verdict back with `block_validated(block_hash, valid)`. `committed`: the block
    is final already (raft checks each committed block before its Commit), so it is not held to
    this validator's clock (Application.validate_committed_block); otherwise it is a proposal."""

    block: types_pb2.Block
    block_hash: bytes
    committed: bool = False


@dataclass(slots=True)
class Output:
    # (record name, bytes): must be durable before any message of `send` leaves the process.
    persist: list[tuple[str, bytes]] = field(default_factory=list)
    # (validator id, message); None as the id means every other validator.
    send: list[tuple[str | None, consensus_pb2.ConsensusMessage]] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    evidence: list[consensus_pb2.DuplicateVoteEvidence] = field(default_factory=list)
    # Work for the application, carried out after the commits above are applied.
    build: list[BuildBlock] = field(default_factory=list)
    validate: list[ValidateBlock] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        self.persist.extend(other.persist)
        self.send.extend(other.send)
        self.commits.extend(other.commits)
        self.evidence.extend(other.evidence)
        self.build.extend(other.build)
        self.validate.extend(other.validate)

    def __bool__(self) -> bool:
        return bool(
            self.persist
            or self.send
            or self.commits
            or self.evidence
            or self.build
            or self.validate
        )


class BlockHasher(Protocol):
    """The one thing a core asks of execution synchronously: a block's hash (pure, cheap)."""

    def block_hash(self, block: types_pb2.Block) -> bytes: ...


class Application(BlockHasher, Protocol):
    """What a driver needs from execution to carry out `Output.build` and `Output.validate`."""

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block: ...

    def validate_block(self, block: types_pb2.Block) -> bool:
        """A proposed block: every check, its time against this validator's clock included."""
        ...

    def validate_committed_block(self, block: types_pb2.Block) -> bool:
        """A committed block: every check but the clock (the validators certified it)."""
        ...


class Signer(Protocol):
    validator_id: str

    def sign(self, document: bytes) -> bytes: ...


class Verifier(Protocol):
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool: ...


class ConsensusCore(Protocol):
    def start(self, now_ms: int) -> Output: ...

    def tick(self, now_ms: int) -> Output: ...

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output: ...

    def propose(self, now_ms: int, transactions_waiting: int | None = None) -> Output:
        """Transactions wait: build a block when the engine's rules allow (asks `Output.build`);
        nothing when they do not, or when the engine proposes on its own schedule.
        transactions_waiting: how many (None: some, not counted); solo paces its blocks by it."""
        ...

    def block_built(self, block: types_pb2.Block, now_ms: int) -> Output:
        """The result of an `Output.build`; a block that no longer fits is dropped."""
        ...

    def block_validated(self, block_hash: bytes, valid: bool, now_ms: int) -> Output:
        """The result of an `Output.validate`; one no longer awaited is ignored."""
        ...

    def next_deadline_ms(self) -> int | None: ...
