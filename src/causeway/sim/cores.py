"""Engines for the real cores: the simulator's view of causeway.consensus.engines (the adapters
the node's driver uses), with timeouts scaled for short simulated runs and certificate checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from causeway.consensus import Commit
from causeway.consensus.engines import Engine, EngineContext, RaftKind, TbftKind
from causeway.consensus.raft import RaftTimeouts
from causeway.consensus.tbft import TbftTimeouts, ValidatorSchedule
from causeway.sim.engines import NodeContext
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2


def commit_document(chain_id: str, height: int, round_number: int, block_hash: bytes) -> bytes:
    vote = types_pb2.CommitVote(height=height, round=round_number, block_hash=block_hash)
    return sign_bytes(DOMAIN_COMMIT, chain_id, encode(vote))


def certificate_shape_problem(commit: Commit, block_hash: bytes) -> str | None:
    certificate = commit.certificate
    if certificate.height != commit.height:
        return f"the certificate is for height {certificate.height}"
    if certificate.block_hash != block_hash:
        return "the certificate names another block hash"
    return None


def valid_signers(commit: Commit, context: NodeContext) -> set[str]:
    certificate = commit.certificate
    document = commit_document(
        context.chain_id, certificate.height, certificate.round, certificate.block_hash
    )
    signers: set[str] = set()
    for signature in certificate.signatures:
        if signature.validator in context.validators and context.verifier.verify(
            signature.validator, document, signature.signature
        ):
            signers.add(signature.validator)
    return signers


def engine_context(context: NodeContext, records: Mapping[str, bytes]) -> EngineContext:
    return EngineContext(
        chain_id=context.chain_id,
        validator_id=context.validator_id,
        validators=[(validator, 1) for validator in context.validators],
        signer=context.signer,
        verifier=context.verifier,
        hasher=context.application,
        random=context.random,
        last_committed_height=context.last_committed_height,
        records=records,
    )


@dataclass(frozen=True, slots=True)
class RaftEngine:
    """Raft (causeway.consensus.raft) with timeouts scaled for short simulated runs."""

    timeouts: RaftTimeouts = field(
        default_factory=lambda: RaftTimeouts(
            election_min_ms=150, election_max_ms=300, heartbeat_ms=50
        )
    )
    pipeline_blocks_max: int = 1

    @property
    def name(self) -> str:
        return "raft"

    def fault_tolerance(self, validators: int) -> int:
        return (validators - 1) // 2

    @property
    def kind(self) -> RaftKind:
        return RaftKind(timeouts=self.timeouts, pipeline_blocks_max=self.pipeline_blocks_max)

    def create(self, context: NodeContext) -> Engine:
        return self.kind.create(engine_context(context, {}))

    def restore(self, context: NodeContext, records: Mapping[str, bytes]) -> Engine:
        kind = self.kind
        own = {name: data for name, data in records.items() if name.startswith(kind.record_prefix)}
        return kind.create(engine_context(context, own))

    @property
    def block_sync(self) -> bool:
        return self.kind.block_sync

    def certificate_problem(
        self, commit: Commit, block_hash: bytes, context: NodeContext
    ) -> str | None:
        problem = certificate_shape_problem(commit, block_hash)
        if problem is not None:
            return problem
        if not valid_signers(commit, context):
            return "no valid validator signature over the CommitVote"
        return None


def _scaled_tbft_timeouts() -> TbftTimeouts:
    return TbftTimeouts(
        propose_ms=300,
        prevote_ms=100,
        precommit_ms=100,
        delta_ms=50,
        commit_ms=20,
        rebroadcast_ms=200,
    )


@dataclass(frozen=True, slots=True)
class TbftEngine:
    """tbft (causeway.consensus.tbft), every validator with voting power 1, timeouts scaled
    for short simulated runs. ``unsafe_disable_locking_for_tests`` only exists to show that
    the safety checker catches violations."""

    timeouts: TbftTimeouts = field(default_factory=_scaled_tbft_timeouts)
    unsafe_disable_locking_for_tests: bool = False
    # (from height, validator ids): the validator set changes at those heights (as governance
    # changes it on a chain). Empty: every simulated validator, from height 1 on.
    validator_sets: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def validators_at(self, context: NodeContext, height: int) -> tuple[int, tuple[str, ...]]:
        if not self.validator_sets:
            return 1, context.validators
        return max(
            (entry for entry in self.validator_sets if entry[0] <= height),
            key=lambda entry: entry[0],
        )

    @property
    def name(self) -> str:
        return "tbft-unsafe-no-locking" if self.unsafe_disable_locking_for_tests else "tbft"

    def fault_tolerance(self, validators: int) -> int:
        return (validators - 1) // 3

    @property
    def kind(self) -> TbftKind:
        return TbftKind(
            timeouts=self.timeouts,
            unsafe_disable_locking_for_tests=self.unsafe_disable_locking_for_tests,
        )

    def _context(self, context: NodeContext, records: Mapping[str, bytes]) -> EngineContext:
        schedule = self._schedule(context) if self.validator_sets else None
        return replace(engine_context(context, records), validator_schedule=schedule)

    def _schedule(self, context: NodeContext) -> ValidatorSchedule:
        def schedule(height: int) -> tuple[int, list[tuple[str, int]]]:
            from_height, validators = self.validators_at(context, height)
            return from_height, [(validator, 1) for validator in validators]

        return schedule

    def create(self, context: NodeContext) -> Engine:
        return self.kind.create(self._context(context, {}))

    def restore(self, context: NodeContext, records: Mapping[str, bytes]) -> Engine:
        return self.kind.create(self._context(context, records))

    @property
    def block_sync(self) -> bool:
        return self.kind.block_sync

    def certificate_problem(
        self, commit: Commit, block_hash: bytes, context: NodeContext
    ) -> str | None:
        problem = certificate_shape_problem(commit, block_hash)
        if problem is not None:
            return problem
        _, validators = self.validators_at(context, commit.height)
        signers = valid_signers(commit, context) & set(validators)
        if not signers or 3 * len(signers) <= 2 * len(validators):
            return (
                f"{len(signers)} valid precommit signatures of the {len(validators)} validators "
                f"of height {commit.height}: not more than two thirds"
            )
        return None
