"""The solo core: the ConsensusCore of a chain with one validator."""

from __future__ import annotations

import hashlib

import pytest

from causeway.consensus import BuildBlock, Output
from causeway.consensus.solo import SoloCore
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

CHAIN_ID = "solo-test-chain"


class Signer:
    validator_id = "org1/node1"

    def sign(self, document: bytes) -> bytes:
        return hashlib.sha256(b"key" + document).digest()


class Hasher:
    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


IDLE_MS = 5_000


def make_core(last_height: int = 0, interval_ms: int = 100, idle_ms: int | None = None) -> SoloCore:
    return SoloCore(
        CHAIN_ID, Signer(), Hasher(), last_height, interval_ms, idle_block_interval_ms=idle_ms
    )


def block(height: int, transactions: int = 1) -> types_pb2.Block:
    return types_pb2.Block(
        header=types_pb2.BlockHeader(chain_id=CHAIN_ID, height=height),
        transactions=[types_pb2.Transaction(body=bytes([index])) for index in range(transactions)],
    )


def test_the_first_block_is_asked_for_at_once_then_the_interval_applies() -> None:
    core = make_core(last_height=7)
    assert core.start(0) == Output()
    assert core.propose(1_000).build == [BuildBlock(8, 0, 1_000, "org1/node1")]
    assert core.propose(1_500) == Output()  # one block at a time
    (commit,) = core.block_built(block(8), 1_510).commits
    assert core.committed_height == 8
    # The interval counts from the start of the previous block: 1_000 + 100.
    assert core.propose(1_099) == Output()
    assert core.propose(1_100).build == [BuildBlock(9, 0, 1_100, "org1/node1")]
    vote = types_pb2.CommitVote(height=8, round=0, block_hash=Hasher().block_hash(block(8)))
    expected = Signer().sign(sign_bytes(DOMAIN_COMMIT, CHAIN_ID, encode(vote)))
    assert [(s.validator, s.signature) for s in commit.certificate.signatures] == [
        ("org1/node1", expected)
    ]


def test_an_empty_block_is_dropped_and_the_next_may_start_at_once() -> None:
    core = make_core()
    core.propose(0)
    assert core.block_built(block(1, transactions=0), 5) == Output()
    assert core.committed_height == 0
    assert core.propose(6).build == [BuildBlock(1, 0, 6, "org1/node1")]


def test_a_block_not_asked_for_changes_nothing() -> None:
    core = make_core()
    assert core.block_built(block(1), 0) == Output()
    core.propose(0)
    assert core.block_built(block(2), 1) == Output()
    assert core.building == 1
    assert core.blocks_discarded == 2


def test_peers_messages_and_validations_are_ignored() -> None:
    core = make_core()
    assert core.step("org2/node2", consensus_pb2.ConsensusMessage(), 0) == Output()
    assert core.messages_dropped == 1
    assert core.block_validated(b"hash", True, 0) == Output()
    assert core.tick(10) == Output()
    assert core.next_deadline_ms() is None


def test_an_idle_core_asks_for_a_heartbeat_after_the_idle_interval_and_not_before() -> None:
    core = make_core(last_height=3, idle_ms=IDLE_MS)
    assert core.start(1_000) == Output()
    assert core.next_deadline_ms() == 1_000 + IDLE_MS
    assert core.tick(1_000 + IDLE_MS - 1) == Output()
    assert core.tick(1_000 + IDLE_MS).build == [BuildBlock(4, 0, 6_000, "org1/node1")]
    assert core.next_deadline_ms() is None  # nothing more while it is being built
    assert core.tick(20_000) == Output()
    # The heartbeat comes back empty (nothing was waiting): it is committed all the same.
    (commit,) = core.block_built(block(4, transactions=0), 6_020).commits
    assert (commit.height, core.committed_height, core.blocks_discarded) == (4, 4, 0)
    assert [entry.validator for entry in commit.certificate.signatures] == ["org1/node1"]
    # The next heartbeat counts from that commit.
    assert core.next_deadline_ms() == 6_020 + IDLE_MS
    assert core.tick(6_020 + IDLE_MS - 1) == Output()
    assert core.tick(6_020 + IDLE_MS).build == [BuildBlock(5, 0, 11_020, "org1/node1")]


def test_an_idle_interval_counts_from_the_first_tick_without_a_start() -> None:
    core = make_core(idle_ms=IDLE_MS)
    assert core.tick(500) == Output()
    assert core.tick(500 + IDLE_MS).build == [BuildBlock(1, 0, 5_500, "org1/node1")]


def test_blocks_with_transactions_put_the_heartbeat_off() -> None:
    core = make_core(idle_ms=IDLE_MS)
    core.start(0)
    assert core.propose(4_000).build == [BuildBlock(1, 0, 4_000, "org1/node1")]
    assert core.tick(IDLE_MS) == Output()  # being built: no heartbeat beside it
    assert core.block_built(block(1), 4_100).commits
    assert core.tick(4_100 + IDLE_MS - 1) == Output()
    assert core.tick(4_100 + IDLE_MS).build == [BuildBlock(2, 0, 9_100, "org1/node1")]


def test_a_block_emptied_by_invalid_transactions_is_still_dropped_with_a_heartbeat_set() -> None:
    core = make_core(idle_ms=IDLE_MS)
    core.start(0)
    assert core.propose(1_000).build
    assert core.block_built(block(1, transactions=0), 1_005) == Output()
    assert (core.committed_height, core.blocks_discarded) == (0, 1)
    assert core.propose(1_006).build == [BuildBlock(1, 0, 1_006, "org1/node1")]
    assert core.block_built(block(1, transactions=0), 1_010) == Output()
    # The dropped blocks put nothing off: the heartbeat is due an idle interval after the
    # start, since nothing was committed.
    assert core.next_deadline_ms() == IDLE_MS
    assert core.tick(IDLE_MS).build == [BuildBlock(1, 0, IDLE_MS, "org1/node1")]
    # That one is a heartbeat: committed, empty.
    assert [c.height for c in core.block_built(block(1, transactions=0), IDLE_MS + 5).commits] == [
        1
    ]
    # A block asked for with transactions waiting and emptied again is dropped again.
    assert core.propose(IDLE_MS + 200).build
    assert core.block_built(block(2, transactions=0), IDLE_MS + 205) == Output()
    assert (core.committed_height, core.blocks_discarded) == (1, 3)


def test_a_heartbeat_keeps_the_block_interval_pace() -> None:
    # An interval longer than the idle one: the heartbeat never starts a block sooner.
    core = make_core(interval_ms=8_000, idle_ms=IDLE_MS)
    core.start(0)
    assert core.propose(0).build
    assert core.block_built(block(1), 10).commits
    assert core.next_deadline_ms() == 8_000
    assert core.tick(7_999) == Output()
    assert core.tick(8_000).build == [BuildBlock(2, 0, 8_000, "org1/node1")]


def test_the_interval_must_be_at_least_one_millisecond() -> None:
    assert make_core(interval_ms=1).block_interval_ms == 1
    with pytest.raises(ConfigurationError, match="block_interval_ms must be positive, not 0"):
        make_core(interval_ms=0)
    with pytest.raises(ConfigurationError, match="must not be negative"):
        make_core(last_height=-1)
    assert make_core(idle_ms=1).idle_block_interval_ms == 1
    with pytest.raises(
        ConfigurationError, match="solo idle_block_interval_ms must be positive, not 0"
    ):
        make_core(idle_ms=0)


def loaded_core(carried: int = 40) -> SoloCore:
    """A core (interval 100 ms) whose blocks 1-3 were started on the pace and carried
    `carried` transactions each: blocks 2 and 3 are counted as carried under load."""
    core = make_core()
    for height, started in ((1, 0), (2, 100), (3, 200)):
        assert core.propose(started, carried).build == [
            BuildBlock(height, 0, started, "org1/node1")
        ]
        assert core.block_built(block(height, carried), started + 10).commits
    assert core.loaded_block_transactions == carried
    return core


def burst_start(core: SoloCore, carried: int, at_ms: int = 10_000) -> None:
    """After an idle spell, the burst's first block starts at once and carries `carried`."""
    height = core.committed_height + 1
    assert core.propose(at_ms, 1).build == [BuildBlock(height, 0, at_ms, "org1/node1")]
    assert core.block_built(block(height, carried), at_ms + 5).commits


def test_after_a_burst_s_first_block_the_next_starts_once_a_loaded_block_s_worth_waits() -> None:
    core = loaded_core(carried=40)
    burst_start(core, carried=1)
    # The first block after an idle spell is not counted as carried under load.
    assert core.loaded_block_transactions == 40
    # Within the interval: one short of a loaded block's worth waits, the pace holds ...
    assert core.propose(10_050, 39) == Output()
    # ... a loaded block's worth starts the next block without waiting out the interval.
    assert core.propose(10_050, 40).build == [BuildBlock(5, 0, 10_050, "org1/node1")]
    assert core.block_built(block(5, 40), 10_060).commits
    # That block carried a loaded block's worth: the interval paces the next one again.
    assert core.propose(10_149, 1_000) == Output()
    assert core.propose(10_150, 1).build == [BuildBlock(6, 0, 10_150, "org1/node1")]


def test_under_steady_load_the_interval_alone_sets_the_pace() -> None:
    core = loaded_core(carried=40)
    # The last block carried a loaded block's worth: however many wait, the interval holds.
    assert core.propose(250, 10_000) == Output()
    assert core.propose(299, 10_000) == Output()
    assert core.propose(300, 10_000).build == [BuildBlock(4, 0, 300, "org1/node1")]


@pytest.mark.parametrize(("carried", "early"), [(19, True), (20, False)])
def test_a_block_starts_early_only_after_one_that_carried_less_than_half(
    carried: int, early: bool
) -> None:
    core = loaded_core(carried=40)
    burst_start(core, carried=carried)
    expected = [BuildBlock(5, 0, 10_050, "org1/node1")] if early else []
    assert core.propose(10_050, 40).build == expected


def test_an_idle_heartbeat_does_not_hold_back_a_burst() -> None:
    core = make_core(idle_ms=IDLE_MS)
    core.start(0)
    for height, started in ((1, 0), (2, 100), (3, 200)):
        assert core.propose(started, 40).build
        assert core.block_built(block(height, 40), started + 10).commits
    assert core.tick(210 + IDLE_MS).build == [BuildBlock(4, 0, 5_210, "org1/node1")]
    assert core.block_built(block(4, transactions=0), 5_215).commits
    assert core.propose(5_220, 39) == Output()
    assert core.propose(5_220, 40).build == [BuildBlock(5, 0, 5_220, "org1/node1")]


def test_without_a_count_or_a_loaded_block_the_interval_holds() -> None:
    core = loaded_core(carried=40)
    burst_start(core, carried=1)
    assert core.propose(10_050) == Output()  # how many wait was not said
    fresh = make_core()
    assert fresh.propose(0, 1).build
    assert fresh.block_built(block(1, 1), 5).commits
    # Nothing was counted under load yet (block 1 had no block before it).
    assert fresh.loaded_block_transactions is None
    assert fresh.propose(50, 10_000) == Output()


@pytest.mark.parametrize(("gap_ms", "counted"), [(200, True), (201, False)])
def test_only_blocks_started_within_two_intervals_of_the_one_before_count_as_loaded(
    gap_ms: int, counted: bool
) -> None:
    core = loaded_core(carried=40)
    started = 200 + gap_ms
    assert core.propose(started, 100).build == [BuildBlock(4, 0, started, "org1/node1")]
    assert core.block_built(block(4, 100), started + 10).commits
    # A running average: the newest block weighs 0.3.
    assert core.loaded_block_transactions == pytest.approx(58.0 if counted else 40.0)


def test_a_block_emptied_by_invalid_transactions_is_not_counted_as_loaded() -> None:
    core = loaded_core(carried=40)
    assert core.propose(300, 40).build
    assert core.block_built(block(4, transactions=0), 305) == Output()
    assert core.loaded_block_transactions == 40
