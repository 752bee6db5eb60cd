"""A validator refuses a proposed block dated before its parent or too far ahead of its clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from replica_support import Replica, make_replica

from causeway.crypto import BatchVerifier
from causeway.execution.application import BLOCK_TIME_DRIFT_MS_DEFAULT, block_time_problem
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.storage import BlockRecord
from causeway.types.v1 import types_pb2

NOW_MS = 1_800_000_000_000
DRIFT_MS = BLOCK_TIME_DRIFT_MS_DEFAULT


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(2, "intl", "solo", now_ms=int(time.time() * 1000))


@pytest.fixture
def builder_and_checker(
    network: NetworkDescription, tmp_path: Path
) -> Iterator[tuple[Replica, Replica]]:
    """The checker's clock stands at NOW_MS; the builder dates blocks as it is told."""
    with BatchVerifier(threads=1) as verifier:
        builder = make_replica(network, tmp_path / "builder", verifier)
        checker = make_replica(network, tmp_path / "checker", verifier, clock_ms=lambda: NOW_MS)
        try:
            yield builder, checker
        finally:
            builder.store.close()
            checker.store.close()


def test_the_rule_at_its_edges() -> None:
    parent = NOW_MS - 5_000
    assert block_time_problem(parent, parent, NOW_MS, DRIFT_MS) is None
    assert block_time_problem(parent - 1, parent, NOW_MS, DRIFT_MS) == (
        f"the block is dated {parent - 1}, before its parent ({parent})"
    )
    assert block_time_problem(NOW_MS + DRIFT_MS, parent, NOW_MS, DRIFT_MS) is None
    assert block_time_problem(NOW_MS + DRIFT_MS + 1, parent, NOW_MS, DRIFT_MS) == (
        f"the block is dated {NOW_MS + DRIFT_MS + 1}, more than {DRIFT_MS} ms ahead of this "
        f"validator's clock ({NOW_MS})"
    )


@pytest.mark.parametrize(("ahead_ms", "accepted"), [(DRIFT_MS, True), (DRIFT_MS + 1, False)])
def test_a_block_from_the_future(
    builder_and_checker: tuple[Replica, Replica], ahead_ms: int, accepted: bool
) -> None:
    builder, checker = builder_and_checker
    block = builder.application.build_block(1, 0, NOW_MS + ahead_ms, "org1/node1")
    assert block.header.time_ms == NOW_MS + ahead_ms
    assert checker.application.validate_block(block) is accepted
    # Once committed, the block is checked (raft) and written whatever this node's clock says.
    assert checker.application.validate_committed_block(block)
    assert checker.application.executed(block) is not None


def _commit(replica: Replica, block: types_pb2.Block) -> None:
    executed = replica.application.executed(block)
    assert executed is not None
    height = block.header.height
    replica.store.commit_block(
        BlockRecord(
            block=executed.block,
            block_hash=executed.block_hash,
            certificate=types_pb2.CommitCertificate(height=height, block_hash=executed.block_hash),
            results=executed.results,
            transaction_ids=[t.id for t in executed.transactions],
            state_changes=executed.changes,
            tree_update=executed.tree_update,
        )
    )
    replica.application.tree.committed(executed.tree_update)
    replica.application.forget_below(height)


@pytest.mark.parametrize(("behind_ms", "accepted"), [(0, True), (1, False)])
def test_a_block_dated_before_its_parent(
    builder_and_checker: tuple[Replica, Replica], behind_ms: int, accepted: bool
) -> None:
    builder, checker = builder_and_checker
    parent_ms = NOW_MS - 1_000
    first = builder.application.build_block(1, 0, parent_ms, "org1/node1")
    for replica in (builder, checker):
        _commit(replica, first)
    # A builder dates a block no earlier than its parent; a proposer that does not is refused.
    # (The block is empty: its roots do not depend on its time, only the time is wrong.)
    second = builder.application.build_block(2, 0, parent_ms, "org1/node1")
    assert second.header.transaction_count == 0
    second.header.time_ms = parent_ms - behind_ms
    assert checker.application.validate_block(second) is accepted
