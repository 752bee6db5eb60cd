"""Blocks sized by time as well as count: a proposer takes as many transactions as it can build
in about block_build_target_ms at the speed of its recent blocks, never fewer than
BLOCK_TRANSACTIONS_BY_TIME_MIN, never more than the chain's count limit."""

from __future__ import annotations

import time

import pytest
from replica_support import Replica
from test_node_application import signed_puts

from causeway.execution import (
    BLOCK_BUILD_TARGET_MS_DEFAULT,
    BLOCK_TRANSACTIONS_BY_TIME_MIN,
    transactions_for_time,
)
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(2, "intl", "solo", now_ms=int(time.time() * 1000))


@pytest.mark.parametrize(
    ("target_ms", "seconds_per_transaction", "transactions_max", "expected"),
    [
        (250, None, 10_000, 10_000),  # not measured yet: the count limit
        (250, 0.0001, 10_000, 2_500),  # 100 us a transaction: 2,500 in 250 ms
        (250, 0.00001, 10_000, 10_000),  # faster than the count limit needs
        (250, 0.01, 10_000, BLOCK_TRANSACTIONS_BY_TIME_MIN),  # never below the floor
        (250, 0.01, 50, 50),  # nor above the count limit
        (1_000, 0.0005, 10_000, 2_000),
    ],
)
def test_transactions_for_time(
    target_ms: int, seconds_per_transaction: float | None, transactions_max: int, expected: int
) -> None:
    assert transactions_for_time(target_ms, seconds_per_transaction, transactions_max) == expected


def test_a_proposer_measures_its_speed_and_sizes_its_next_block_by_it(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    replica = replicas[0]
    application = replica.application
    assert application.seconds_per_transaction is None
    puts = signed_puts(network, BLOCK_TRANSACTIONS_BY_TIME_MIN + 60)
    replica.pending.extend(puts[:60])
    first = application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    assert first.header.transaction_count == 60
    measured = application.seconds_per_transaction
    assert measured is not None and measured > 0
    # As if this node took 10 ms a transaction: the time bound, at its floor, cuts the block.
    application.seconds_per_transaction = 0.01
    assert BLOCK_BUILD_TARGET_MS_DEFAULT / 1000 / 0.01 < BLOCK_TRANSACTIONS_BY_TIME_MIN
    replica.pending[:] = puts[60:] + signed_puts(network, 40)
    # (Height 1 again, a later round: the first block was not committed.)
    second = application.build_block(1, 1, int(time.time() * 1000), "org1/node1")
    assert second.header.transaction_count == BLOCK_TRANSACTIONS_BY_TIME_MIN
