"""The contract between consensus cores and whatever drives them (the node runtime, the simulator).

See docs/adr/0002-consensus-cores-and-simulation.md. Cores are pure: they return an Output and the
driver does the I/O in the order the Output prescribes: persist (durably), then send, then apply
the commits.
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


@dataclass(slots=True)
class Output:
    # (record name, bytes): must be durable before any message of `send` leaves the process.
    persist: list[tuple[str, bytes]] = field(default_factory=list)
    # (validator id, message); None as the id means every other validator.
    send: list[tuple[str | None, consensus_pb2.ConsensusMessage]] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    evidence: list[consensus_pb2.DuplicateVoteEvidence] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        self.persist.extend(other.persist)
        self.send.extend(other.send)
        self.commits.extend(other.commits)
        self.evidence.extend(other.evidence)

    def __bool__(self) -> bool:
        return bool(self.persist or self.send or self.commits or self.evidence)


class Application(Protocol):
    """What consensus needs from execution: build, check and identify blocks."""

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block: ...

    def validate_block(self, block: types_pb2.Block) -> bool: ...

    def block_hash(self, block: types_pb2.Block) -> bytes: ...


class Signer(Protocol):
    validator_id: str

    def sign(self, document: bytes) -> bytes: ...


class Verifier(Protocol):
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool: ...


class ConsensusCore(Protocol):
    def start(self, now_ms: int) -> Output: ...

    def tick(self, now_ms: int) -> Output: ...

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output: ...

    def next_deadline_ms(self) -> int | None: ...
