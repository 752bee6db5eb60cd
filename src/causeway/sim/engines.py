"""How the simulator builds, restores and drives one kind of consensus core.

Cores differ in their constructors, restore and block sync; the driving (start, tick, step,
propose, block_built, block_validated) is the ConsensusCore protocol. An Engine hides the
differences; the adapters for the real engines live in ``causeway.sim.cores``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from causeway.consensus import Application, Commit, Signer, Verifier
from causeway.consensus.engines import Engine as RunningEngine


@dataclass(frozen=True, slots=True)
class NodeContext:
    """Everything one core instance is built from."""

    chain_id: str
    instance: str
    validator_id: str
    validators: tuple[str, ...]
    signer: Signer
    verifier: Verifier
    application: Application
    random: random.Random
    # The height of the last block in the instance's durable block store.
    last_committed_height: int
    # The hash of that block (empty when the store is empty).
    last_committed_hash: bytes
    now_ms: int


class Engine(Protocol):
    """One consensus engine as the simulator sees it."""

    @property
    def name(self) -> str: ...

    def fault_tolerance(self, validators: int) -> int:
        """How many faulty validators (Byzantine for tbft, crashed for raft) it tolerates."""
        ...

    def create(self, context: NodeContext) -> RunningEngine: ...

    def restore(self, context: NodeContext, records: Mapping[str, bytes]) -> RunningEngine: ...

    @property
    def block_sync(self) -> bool:
        """Whether the runtime's block sync applies (tbft); raft catches up through its log."""
        ...

    def certificate_problem(
        self, commit: Commit, block_hash: bytes, context: NodeContext
    ) -> str | None:
        """Why the commit's certificate does not prove the block final; None when it does."""
        ...
