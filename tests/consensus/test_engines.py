"""The engine adapters (consensus.engines): what the drivers ask of each engine."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import replace

from causeway.consensus import BuildBlock, Output
from causeway.consensus.engines import (
    EngineContext,
    EngineProgress,
    RaftEngine,
    RaftKind,
    SoloKind,
    TbftEngine,
    TbftKind,
    TransactionRoute,
)
from causeway.consensus.raft import RaftRole, RaftTimeouts, log_record_name
from causeway.consensus.tbft import TbftTimeouts
from causeway.consensus.v1 import consensus_pb2
from causeway.light import CertificateQuorum
from causeway.types import encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "engines-test-chain"


class Signer:
    def __init__(self, validator_id: str) -> None:
        self.validator_id = validator_id

    def sign(self, document: bytes) -> bytes:
        return hashlib.sha256(self.validator_id.encode() + document).digest()


class Verifier:
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        return Signer(validator_id).sign(document) == signature


class Hasher:
    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


def context(
    me: str = "a", records: dict[str, bytes] | None = None, height: int = 0
) -> EngineContext:
    return EngineContext(
        chain_id=CHAIN_ID,
        validator_id=me,
        validators=[("a", 1), ("b", 1), ("c", 1)],
        signer=Signer(me),
        verifier=Verifier(),
        hasher=Hasher(),
        random=random.Random(1),
        last_committed_height=height,
        records=records or {},
    )


RAFT_TIMEOUTS = RaftTimeouts(election_min_ms=150, election_max_ms=300, heartbeat_ms=50)


def test_each_kind_names_its_records_block_sync_and_quorum() -> None:
    assert (TbftKind().record_prefix, TbftKind().block_sync, TbftKind().sync_quorum) == (
        "tbft/",
        True,
        CertificateQuorum.MORE_THAN_TWO_THIRDS,
    )
    assert (RaftKind().record_prefix, RaftKind().block_sync, RaftKind().sync_quorum) == (
        "raft/",
        False,
        CertificateQuorum.ANY_VALIDATOR,
    )
    assert not SoloKind().replicated and TbftKind().replicated and RaftKind().replicated
    # Raft completes its certificates after commit from a majority of the voters.
    assert RaftKind().gathers_certificates
    assert not TbftKind().gathers_certificates and not SoloKind().gathers_certificates


def test_raft_routes_transactions_to_its_leader_and_a_leader_keeps_them() -> None:
    follower = RaftKind(timeouts=RAFT_TIMEOUTS).create(context("a"))
    follower.core.start(0)
    assert follower.role == "follower"
    # No leader known (an election): to every node.
    assert follower.route() == TransactionRoute(gossip=True, to=None)
    heartbeat = consensus_pb2.RaftAppendEntries(term=1, leader="b")
    follower.core.step("b", consensus_pb2.ConsensusMessage(raft_append_entries=heartbeat), 5)
    assert follower.leader == "b"
    assert follower.route() == TransactionRoute(gossip=True, to="b")

    leader = RaftKind(timeouts=RAFT_TIMEOUTS).create(context("a"))
    leader.core.start(0)
    deadline = leader.core.next_deadline_ms()
    assert deadline is not None
    leader.tick(deadline, transactions_waiting=False)
    vote = consensus_pb2.RaftVoteResponse(term=1, voter="b", granted=True)
    leader.core.step("b", consensus_pb2.ConsensusMessage(raft_vote_response=vote), deadline)
    assert (leader.role, leader.leader, leader.leading) == ("leader", "a", True)
    assert not follower.leading
    assert leader.route() == TransactionRoute(gossip=False)


def test_raft_holds_back_only_appends_that_bring_entries() -> None:
    engine = RaftKind().create(context())
    entry = consensus_pb2.RaftEntry(term=1, index=1, data=b"x")
    assert engine.holds_back(
        consensus_pb2.ConsensusMessage(
            raft_append_entries=consensus_pb2.RaftAppendEntries(term=1, entries=[entry])
        )
    )
    assert not engine.holds_back(
        consensus_pb2.ConsensusMessage(raft_append_entries=consensus_pb2.RaftAppendEntries(term=1))
    )
    assert not engine.holds_back(
        consensus_pb2.ConsensusMessage(raft_vote_response=consensus_pb2.RaftVoteResponse(term=1))
    )


def test_raft_restores_from_its_records() -> None:
    first = RaftKind(timeouts=RAFT_TIMEOUTS).create(context("b"))
    first.core.start(0)
    block = types_pb2.Block(header=types_pb2.BlockHeader(chain_id=CHAIN_ID, height=1))
    entry = consensus_pb2.RaftEntry(term=1, index=1, data=encode(block))
    append = consensus_pb2.RaftAppendEntries(term=1, leader="a", entries=[entry])
    output = first.core.step("a", consensus_pb2.ConsensusMessage(raft_append_entries=append), 5)
    records = dict(output.persist)
    assert log_record_name(1) in records
    restored = RaftKind(timeouts=RAFT_TIMEOUTS).create(context("b", records))
    assert isinstance(restored, RaftEngine)
    assert restored.raft.last_log_index == 1
    assert restored.raft.term == 1


class FakeLeaderCore:
    """What the raft engine's membership following uses of a leader; records each change."""

    def __init__(self, voters: tuple[str, ...]) -> None:
        self.role = RaftRole.LEADER
        self.voters = voters
        self.membership_change_pending = False
        self.committed_height = 0
        self.proposed: list[tuple[str, ...]] = []

    def propose_membership_change(self, voters: Sequence[str], now_ms: int) -> Output:
        self.proposed.append(tuple(voters))
        self.voters = tuple(voters)
        return Output()

    def tick(self, now_ms: int) -> Output:
        return Output()


def test_the_voters_follow_the_governed_set_one_change_at_a_time() -> None:
    """Two or more governed changes the log has not followed yet are caught up with one voter
    added or removed per proposal (raft refuses anything else), additions first."""
    governed = ["a", "d", "e"]
    core = FakeLeaderCore(("a", "b", "c"))
    engine = RaftEngine(core, lambda: governed)  # type: ignore[arg-type]
    for _ in range(6):
        engine.tick(0, transactions_waiting=False)
    assert core.proposed == [
        ("a", "b", "c", "d"),
        ("a", "b", "c", "d", "e"),
        ("a", "c", "d", "e"),
        ("a", "d", "e"),
    ]


TBFT_TIMEOUTS = TbftTimeouts(
    propose_ms=1_000, prevote_ms=500, precommit_ms=500, delta_ms=250, commit_ms=100
)


def decided_alone(idle_ms: int | None) -> tuple[TbftEngine, int]:
    """A one-validator tbft engine that has just decided height 1 at time 10."""
    alone = replace(context("a"), validators=[("a", 1)])
    engine = TbftKind(timeouts=TBFT_TIMEOUTS, idle_block_interval_ms=idle_ms).create(alone)
    asked = engine.core.start(0)
    assert asked.build == [BuildBlock(1, 0, 0, "a")]
    block = types_pb2.Block(header=types_pb2.BlockHeader(chain_id=CHAIN_ID, height=1))
    decided = engine.core.block_built(block, 10)
    assert [commit.height for commit in decided.commits] == [1]
    return engine, 10


def test_tbft_holds_an_idle_height_until_transactions_wait_or_the_interval_passes() -> None:
    engine, decided_ms = decided_alone(idle_ms=5_000)
    after_commit_pause = decided_ms + TBFT_TIMEOUTS.commit_ms
    assert engine.tick(after_commit_pause, transactions_waiting=False) == Output()
    assert engine.tbft.height == 1
    assert engine.tick(decided_ms + 4_999, transactions_waiting=False) == Output()
    # One millisecond later the interval has passed: the next height starts (and asks for
    # its block).
    moved = engine.tick(decided_ms + 5_000, transactions_waiting=False)
    assert engine.tbft.height == 2
    assert moved.build == [BuildBlock(2, 0, decided_ms + 5_000, "a")]

    waiting, decided_ms = decided_alone(idle_ms=5_000)
    waiting.tick(decided_ms + TBFT_TIMEOUTS.commit_ms, transactions_waiting=True)
    assert waiting.tbft.height == 2
    # Without an idle interval the core's own commit pause is all.
    plain, decided_ms = decided_alone(idle_ms=None)
    plain.tick(decided_ms + TBFT_TIMEOUTS.commit_ms, transactions_waiting=False)
    assert plain.tbft.height == 2


def test_tbft_reports_validator_or_observer_and_gossips_transactions() -> None:
    engine = TbftKind(timeouts=TBFT_TIMEOUTS).create(context("a"))
    assert engine.role == "validator"
    assert engine.route() == TransactionRoute(gossip=True)
    assert engine.leader is None
    assert not engine.leading
    assert not engine.holds_back(consensus_pb2.ConsensusMessage())
    assert TbftKind(timeouts=TBFT_TIMEOUTS).create(context("z")).role == "observer"


def test_solo_and_raft_kinds_give_their_cores_the_idle_block_interval() -> None:
    """The engines tick their cores: an idle solo engine, and an idle raft leader, ask for a
    heartbeat block once the interval has passed; without an interval, never."""
    solo = SoloKind(block_interval_ms=100, idle_block_interval_ms=5_000).create(context("a"))
    solo.core.start(0)
    assert solo.tick(4_999, transactions_waiting=False) == Output()
    assert solo.tick(5_000, transactions_waiting=False).build == [BuildBlock(1, 0, 5_000, "a")]
    plain = SoloKind(block_interval_ms=100).create(context("a"))
    plain.core.start(0)
    assert plain.tick(60_000, transactions_waiting=False) == Output()

    alone = replace(context("a"), validators=[("a", 1)])
    raft = RaftKind(timeouts=RAFT_TIMEOUTS, idle_block_interval_ms=5_000).create(alone)
    raft.core.start(0)
    assert raft.leading
    assert raft.tick(4_999, transactions_waiting=False).build == []
    (asked,) = raft.tick(5_000, transactions_waiting=False).build
    assert (asked.height, asked.time_ms, asked.proposer) == (1, 5_000, "a")
    quiet = RaftKind(timeouts=RAFT_TIMEOUTS).create(alone)
    quiet.core.start(0)
    assert quiet.tick(60_000, transactions_waiting=False).build == []


def test_solo_keeps_its_clients_transactions_and_has_no_peers() -> None:
    engine = SoloKind(block_interval_ms=100).create(context("a", height=7))
    assert engine.route() == TransactionRoute(gossip=False)
    assert (engine.role, engine.leader, engine.commits_pending) == ("solo", None, 0)
    assert not engine.leading
    assert engine.core.propose(1_000).build == [BuildBlock(8, 0, 1_000, "a")]


def test_each_engine_reports_its_progress_and_counters() -> None:
    """What the node's metrics read after each call: height, round (raft: term) and step."""
    tbft = TbftKind(timeouts=TBFT_TIMEOUTS).create(context("a", height=4))
    assert tbft.progress == EngineProgress(5, 0, "propose")
    assert tbft.counters["received"] == 0
    engine, _ = decided_alone(idle_ms=None)
    assert engine.progress == EngineProgress(1, 0, "commit")
    assert engine.counters["signed"] > 0

    raft = RaftKind(timeouts=RAFT_TIMEOUTS).create(context("a", height=2))
    raft.core.start(0)
    assert raft.progress == EngineProgress(3, 0, "follower")
    deadline = raft.core.next_deadline_ms()
    assert deadline is not None
    raft.tick(deadline, transactions_waiting=False)  # an election: a new term
    assert raft.progress == EngineProgress(3, 1, "candidate")
    assert raft.counters["elections_started"] == 1

    solo = SoloKind(block_interval_ms=100).create(context("a", height=7))
    assert solo.progress == EngineProgress(8, 0, "propose")
    assert solo.counters == {"blocks_discarded": 0, "messages_dropped": 0}
