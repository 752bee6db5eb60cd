"""Rules of the engine adapters that a mutation run over consensus/engines found no test held
(docs/testing.md): restore through the kind, a voter the governance adds, the kinds' constants
and the context that every engine of a node is built from."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from test_engines import TBFT_TIMEOUTS, FakeLeaderCore, context, decided_alone

from causeway.consensus import Output
from causeway.consensus.engines import (
    EngineContext,
    EngineProgress,
    RaftEngine,
    RaftKind,
    SoloKind,
    TbftKind,
    TransactionRoute,
)
from causeway.consensus.solo import BLOCK_INTERVAL_MS_DEFAULT
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError
from causeway.light import CertificateQuorum


def test_a_tbft_engine_built_from_its_records_resumes_where_it_signed() -> None:
    """The kind hands the persisted records to the core: a validator that prevoted before a
    crash comes back at that round and sends again the very vote it signed, signing nothing,
    instead of starting the height afresh with nothing signed."""
    first = TbftKind(timeouts=TBFT_TIMEOUTS).create(context("b"))
    first.core.start(0)
    deadline = first.core.next_deadline_ms()
    assert deadline is not None
    timed_out = first.tick(deadline, transactions_waiting=False)  # no proposal: prevote nil
    records = dict(timed_out.persist)
    signed = {message.vote.SerializeToString() for _, message in timed_out.send}
    assert records and len(signed) == 1 and first.progress.step == "prevote"

    restored = TbftKind(timeouts=TBFT_TIMEOUTS).create(context("b", records))
    resent = restored.core.start(deadline + 1)
    assert [message.vote.SerializeToString() for _, message in resent.send] == list(signed)
    assert (restored.counters["signed"], restored.counters["resent_identical"]) == (0, 1)
    assert restored.progress.round_number == 0


def test_a_governed_voter_added_to_the_set_is_proposed() -> None:
    """Governance that only adds a voter (the governed set a strict superset of the log's) is a
    change to propose, not the "nothing to do" of equal sets."""
    core = FakeLeaderCore(("a", "b", "c"))
    engine = RaftEngine(core, lambda: ["a", "b", "c", "d"])  # type: ignore[arg-type]
    engine.tick(0, transactions_waiting=False)
    engine.tick(0, transactions_waiting=False)
    assert core.proposed == [("a", "b", "c", "d")]


class PendingLeaderCore(FakeLeaderCore):
    """A leader whose log holds a membership change not yet committed."""

    def __init__(self, voters: tuple[str, ...]) -> None:
        super().__init__(voters)
        self.membership_change_pending = True


def test_no_second_change_is_proposed_while_one_is_pending() -> None:
    """Raft commits one configuration change at a time: while one is pending, a leader whose
    voters differ from the governed set waits, and proposes the next once it committed."""
    core = PendingLeaderCore(("a", "b", "c"))
    engine = RaftEngine(core, lambda: ["a", "b", "c", "d"])  # type: ignore[arg-type]
    engine.tick(0, transactions_waiting=False)
    assert core.proposed == []
    core.membership_change_pending = False
    engine.tick(1, transactions_waiting=False)
    assert core.proposed == [("a", "b", "c", "d")]


class RefusingLeaderCore(FakeLeaderCore):
    """A leader that refuses the change (raft's own rules: say, a voter set it cannot reach)."""

    def __init__(self, voters: tuple[str, ...]) -> None:
        super().__init__(voters)
        self.asked = 0

    def propose_membership_change(self, voters: Sequence[str], now_ms: int) -> Output:
        self.asked += 1
        raise ConfigurationError(f"cannot change to {list(voters)} now")


def test_a_refused_change_is_not_fatal_and_is_retried_after_the_next_commit() -> None:
    """The core's refusal is the engine's to absorb (the node keeps running), asked again only
    once the committed height moved, not at every tick."""
    core = RefusingLeaderCore(("a", "b", "c"))
    engine = RaftEngine(core, lambda: ["a", "b", "c", "d"])  # type: ignore[arg-type]
    assert engine.tick(0, transactions_waiting=False) == Output()
    assert engine.tick(1, transactions_waiting=False) == Output()
    assert core.asked == 1
    core.committed_height = 1
    engine.tick(2, transactions_waiting=False)
    assert core.asked == 2


def test_tbft_moves_on_at_any_tick_past_the_idle_interval() -> None:
    """Not only at the very millisecond the interval ends: a tick that comes later (the node's
    timer is coarse) starts the next height too."""
    engine, decided_ms = decided_alone(idle_ms=5_000)
    moved = engine.tick(decided_ms + 5_250, transactions_waiting=False)
    assert engine.tbft.height == 2
    assert [asked.height for asked in moved.build] == [2]


def test_a_tbft_engine_has_no_commits_pending() -> None:
    """tbft emits a decision at once, so the driver never counts it behind."""
    engine, _ = decided_alone(idle_ms=None)
    assert engine.commits_pending == 0


@pytest.mark.parametrize(
    "value",
    [
        TbftKind(timeouts=TBFT_TIMEOUTS),
        RaftKind(),
        SoloKind(),
        EngineProgress(1, 0, "propose"),
        TransactionRoute(gossip=True),
    ],
    ids=lambda value: type(value).__name__,
)
def test_kinds_and_what_engines_report_are_values(value: object) -> None:
    """A kind is shared by every engine it creates and what an engine reports is kept by the
    node's metrics: none can be changed after it is made."""
    (first_field, *_) = dataclasses.fields(value)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, first_field.name, None)


def test_solo_kind_constants_and_its_default_pace() -> None:
    """Solo's constants as the driver reads them, and its default block pace is the one the
    node's configuration documents (one default, in causeway.consensus.solo)."""
    solo = SoloKind()
    assert (solo.name, solo.record_prefix, solo.replicated, solo.block_sync) == (
        "solo",
        "solo/",
        False,
        False,
    )
    assert solo.sync_quorum is CertificateQuorum.MORE_THAN_TWO_THIRDS
    assert not solo.gathers_certificates
    assert solo.block_interval_ms == BLOCK_INTERVAL_MS_DEFAULT
    engine = solo.create(context("a"))
    engine.core.start(0)
    first = engine.core.propose(1_000)
    assert [asked.height for asked in first.build] == [1]
    # A second block may not start within the interval of the first.
    assert engine.core.propose(1_000 + BLOCK_INTERVAL_MS_DEFAULT - 1) == Output()
    # Nothing it could receive is ever held back for later (it has no peers to pace).
    append = consensus_pb2.RaftAppendEntries(term=1, entries=[consensus_pb2.RaftEntry(index=1)])
    assert not engine.holds_back(consensus_pb2.ConsensusMessage(raft_append_entries=append))


def test_the_engine_context_cannot_be_changed_once_built() -> None:
    """One node's engines are built from one context; none may change it for the others."""
    built: EngineContext = context("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.validator_id = "b"  # type: ignore[misc]
