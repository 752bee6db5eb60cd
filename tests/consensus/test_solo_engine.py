import pytest

from causeway.consensus import ProposeBlock
from causeway.consensus.solo import SoloEngine
from causeway.errors import InvariantError


def make_engine(last_height: int = 0) -> SoloEngine:
    return SoloEngine("org1/node1", last_height, block_interval_ms=100, block_transactions_max=10)


def test_no_block_without_transactions() -> None:
    engine = make_engine()
    assert engine.tick(1_000, 0) == []
    assert engine.tick(10_000, 0) == []


def test_first_block_is_proposed_at_once_then_interval_applies() -> None:
    engine = make_engine(last_height=7)
    assert engine.tick(1_000, 1) == [ProposeBlock(8)]
    # While a proposal is in progress nothing else is proposed.
    assert engine.tick(1_500, 5) == []
    engine.block_committed(8)
    assert engine.tick(1_050, 3) == []
    assert engine.tick(1_110, 3) == [ProposeBlock(9)]


def test_full_block_is_cut_before_the_interval() -> None:
    engine = make_engine()
    engine.tick(0, 1)
    engine.block_committed(1)
    assert engine.tick(10, 9) == []
    assert engine.tick(10, 10) == [ProposeBlock(2)]


def test_abandoned_proposal_can_be_retried() -> None:
    engine = make_engine()
    assert engine.tick(0, 1) == [ProposeBlock(1)]
    engine.proposal_abandoned()
    assert engine.tick(1, 1) == [ProposeBlock(1)]


def test_committing_out_of_order_is_an_invariant_violation() -> None:
    engine = make_engine(last_height=3)
    with pytest.raises(InvariantError):
        engine.block_committed(5)


def test_bounds_must_be_positive() -> None:
    with pytest.raises(InvariantError):
        SoloEngine("org1/node1", 0, block_interval_ms=0, block_transactions_max=10)


def test_interval_counts_from_the_start_of_the_previous_block() -> None:
    engine = make_engine()
    assert engine.tick(1_000, 5) == [ProposeBlock(1)]
    # The block took longer than the interval to commit: the next one starts at once.
    engine.block_committed(1)
    assert engine.tick(1_250, 5) == [ProposeBlock(2)]
