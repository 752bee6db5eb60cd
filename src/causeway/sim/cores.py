"""Engines for the real cores: how the simulator builds, restores and drives them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from causeway.consensus import Commit, ConsensusCore, Output
from causeway.consensus.raft import RECORD_PREFIX as RAFT_RECORD_PREFIX
from causeway.consensus.raft import RaftCore, RaftTimeouts
from causeway.consensus.tbft import TbftCore, TbftTimeouts, ValidatorSchedule
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

    def _core(self, context: NodeContext, records: Mapping[str, bytes] | None) -> RaftCore:
        return RaftCore(
            context.chain_id,
            context.validator_id,
            context.validators,
            context.signer,
            context.application,
            context.random,
            self.timeouts,
            records,
            context.last_committed_height,
            pipeline_blocks_max=self.pipeline_blocks_max,
        )

    def create(self, context: NodeContext) -> ConsensusCore:
        return self._core(context, None)

    def restore(self, context: NodeContext, records: Mapping[str, bytes]) -> ConsensusCore:
        raft_records = {
            name: data for name, data in records.items() if name.startswith(RAFT_RECORD_PREFIX)
        }
        return self._core(context, raft_records)

    @property
    def block_sync(self) -> bool:
        return False

    def advance_to(self, core: ConsensusCore, height: int, now_ms: int) -> Output:
        return Output()

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

    def _core(self, context: NodeContext, records: Mapping[str, bytes] | None) -> TbftCore:
        return TbftCore(
            context.chain_id,
            [(validator, 1) for validator in context.validators],
            context.signer,
            context.verifier,
            context.application,
            context.last_committed_height + 1,
            self.timeouts,
            records,
            validator_schedule=self._schedule(context) if self.validator_sets else None,
            unsafe_disable_locking_for_tests=self.unsafe_disable_locking_for_tests,
        )

    def _schedule(self, context: NodeContext) -> ValidatorSchedule:
        def schedule(height: int) -> tuple[int, list[tuple[str, int]]]:
            from_height, validators = self.validators_at(context, height)
            return from_height, [(validator, 1) for validator in validators]

        return schedule

    def create(self, context: NodeContext) -> ConsensusCore:
        return self._core(context, None)

    def restore(self, context: NodeContext, records: Mapping[str, bytes]) -> ConsensusCore:
        return self._core(context, records)

    @property
    def block_sync(self) -> bool:
        return True

    def advance_to(self, core: ConsensusCore, height: int, now_ms: int) -> Output:
        assert isinstance(core, TbftCore)
        return core.advance_to(height, now_ms)

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
