"""Pipelined execution: once consensus commits a block this node executed, the next block is
built and checked on its state while it is being written. The blocks, roots and stored chain
are those of building each block after the previous one was written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from replica_support import Replica, make_replica
from test_node_application import signed_puts

from causeway.crypto import BatchVerifier
from causeway.execution import ExecutedBlock
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.types.v1 import types_pb2


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(2, "intl", "solo", now_ms=int(time.time() * 1000))


def write(replica: Replica, block: types_pb2.Block) -> ExecutedBlock:
    """What the block writer does with a committed block: one durable write, then the tree and
    the application are told."""
    application = replica.application
    executed = application.executed(block)
    assert executed is not None
    certificate = types_pb2.CommitCertificate(
        height=block.header.height, block_hash=executed.block_hash
    )
    replica.store.commit_block(executed.record(certificate))
    application.tree.committed(executed.tree_update)
    application.forget_below(block.header.height)
    return executed


def now_ms() -> int:
    return int(time.time() * 1000)


def test_the_next_block_is_built_on_a_committed_block_not_yet_written(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    pipelined, in_turn = replicas
    puts = signed_puts(network, 12)
    first_puts, second_puts = puts[:6], puts[6:]
    pipelined.pending.extend(first_puts)
    first = pipelined.application.build_block(1, 0, now_ms(), "org1/node1")
    assert pipelined.application.block_committed(first)
    # The first block's transactions are still offered (the test's pool keeps them): the second
    # block leaves them out, as they are in a committed block, written or not.
    pipelined.pending.extend(second_puts)
    second = pipelined.application.build_block(2, 0, now_ms(), "org1/node1")
    assert pipelined.store.latest_height() == 0  # built before the first block was written
    assert [t.body for t in second.transactions] == [t.transaction.body for t in second_puts]
    assert second.header.previous_hash == pipelined.application.block_hash(first)

    # A replica that checks each block after writing the previous one accepts both.
    assert in_turn.application.validate_block(first)
    write(in_turn, first)
    assert in_turn.application.validate_block(second)
    write(in_turn, second)

    write(pipelined, first)
    write(pipelined, second)
    assert pipelined.store.latest_height() == 2
    for height in (1, 2):
        assert pipelined.store.get_header(height) == in_turn.store.get_header(height)
    assert pipelined.store.has_transactions([t.id for t in puts]) == [True] * len(puts)


def test_a_validator_checks_the_next_block_on_a_committed_block_not_yet_written(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    proposer, validator = replicas
    puts = signed_puts(network, 8)
    proposer.pending.extend(puts[:4])
    first = proposer.application.build_block(1, 0, now_ms(), "org1/node1")
    write(proposer, first)
    proposer.pending[:] = puts[4:]
    second = proposer.application.build_block(2, 0, now_ms(), "org1/node1")
    write(proposer, second)

    assert validator.application.validate_block(first)
    assert validator.application.block_committed(first)
    # A second block that repeats a transaction of the unwritten first one is a duplicate.
    repeating = types_pb2.Block()
    repeating.CopyFrom(second)
    repeating.transactions[0].CopyFrom(first.transactions[0])
    refusal = validator.application.block_refusal(repeating, now_ms=now_ms())
    assert refusal is not None
    assert refusal.message == "block 2 holds a committed transaction"
    # Checked on the unwritten first block's state: the header's roots match.
    assert validator.store.latest_height() == 0
    assert validator.application.validate_block(second)
    write(validator, first)
    write(validator, second)
    assert validator.store.get_header(2) == proposer.store.get_header(2)


def test_a_block_this_node_did_not_execute_or_not_next_is_not_pipelined(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    puts = signed_puts(network, 4)
    first.pending.extend(puts[:2])
    block_one = first.application.build_block(1, 0, now_ms(), "org1/node1")
    # Never executed by the second replica: it must be written before the next block is built.
    assert not second.application.block_committed(block_one)
    assert first.application.block_committed(block_one)
    # Already the tip: committing it again does not stack it twice.
    assert not first.application.block_committed(block_one)
    write(first, block_one)
    # Written: no longer the next height.
    assert not first.application.block_committed(block_one)


def test_committing_hands_the_block_transactions_to_the_mempool(
    network: NetworkDescription, tmp_path: Path
) -> None:
    handed: list[list[bytes]] = []
    with BatchVerifier(threads=1) as verifier:
        replica = make_replica(
            network, tmp_path / "replica", verifier, committing_transactions=handed.append
        )
        try:
            puts = signed_puts(network, 3)
            replica.pending.extend(puts)
            block = replica.application.build_block(1, 0, now_ms(), "org1/node1")
            assert handed == []
            assert replica.application.block_committed(block)
            assert [sorted(ids) for ids in handed] == [sorted(t.id for t in puts)]
        finally:
            replica.store.close()
