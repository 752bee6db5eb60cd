from __future__ import annotations

import pytest
from mempool_chain import NOW_MS, Members, decoded

from causeway.errors import DuplicateError, ExpiredError, InvariantError, MempoolFullError
from causeway.mempool import Mempool, MempoolLimits
from causeway.types import DecodedTransaction


def transactions(members: Members, count: int, **options: object) -> list[DecodedTransaction]:
    return [decoded(members.signed(**options)) for _ in range(count)]  # type: ignore[arg-type]


def test_take_is_fifo_and_leaves_transactions_in_the_pool(members: Members) -> None:
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=1 << 20))
    batch = transactions(members, 5)
    for transaction in batch:
        pool.add(transaction, NOW_MS)
    assert len(pool) == 5
    assert pool.bytes_total == sum(t.size for t in batch)
    assert pool.take(3, 1 << 20, NOW_MS) == batch[:3]
    assert pool.take(10, 1 << 20, NOW_MS) == batch
    assert batch[0].id in pool


def test_remove(members: Members) -> None:
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=1 << 20))
    batch = transactions(members, 4)
    for transaction in batch:
        pool.add(transaction, NOW_MS)
    pool.remove([batch[0].id, batch[2].id, b"unknown"])
    assert pool.take(10, 1 << 20, NOW_MS) == [batch[1], batch[3]]
    assert pool.bytes_total == batch[1].size + batch[3].size
    pool.remove([batch[1].id, batch[3].id])
    assert len(pool) == 0
    assert pool.bytes_total == 0


def test_take_respects_bytes_and_stops_at_the_first_that_does_not_fit(members: Members) -> None:
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=1 << 20))
    small = decoded(members.signed())
    large = decoded(members.signed(arguments=b"x" * 1000))
    later = decoded(members.signed())
    for transaction in (small, large, later):
        pool.add(transaction, NOW_MS)
    assert pool.take(10, small.size + 10, NOW_MS) == [small]
    assert pool.take(10, small.size + large.size, NOW_MS) == [small, large]
    assert pool.take(0, 1 << 20, NOW_MS) == []
    assert pool.take(10, 0, NOW_MS) == []


def test_duplicates_are_refused(members: Members) -> None:
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=1 << 20))
    transaction = decoded(members.signed())
    pool.add(transaction, NOW_MS)
    with pytest.raises(DuplicateError, match="already pending"):
        pool.add(transaction, NOW_MS)
    assert len(pool) == 1


def test_count_bound(members: Members) -> None:
    pool = Mempool(MempoolLimits(transactions_max=2, bytes_max=1 << 20))
    first, second, third = transactions(members, 3)
    pool.add(first, NOW_MS)
    pool.add(second, NOW_MS)
    with pytest.raises(MempoolFullError, match="2 transactions") as raised:
        pool.add(third, NOW_MS)
    assert raised.value.reason == "mempool_full"
    pool.remove([first.id])
    pool.add(third, NOW_MS)


def test_bytes_bound(members: Members) -> None:
    first, second = transactions(members, 2)
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=first.size + second.size - 1))
    pool.add(first, NOW_MS)
    with pytest.raises(MempoolFullError, match="bytes"):
        pool.add(second, NOW_MS)
    assert pool.bytes_total == first.size


def test_expired_transactions_are_refused_and_dropped(members: Members) -> None:
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=1 << 20))
    with pytest.raises(ExpiredError):
        pool.add(decoded(members.signed(expiry_ms=NOW_MS - 1)), NOW_MS)
    soon = decoded(members.signed(expiry_ms=NOW_MS + 10))
    later = decoded(members.signed(expiry_ms=NOW_MS + 1000))
    pool.add(soon, NOW_MS)
    pool.add(later, NOW_MS)
    assert pool.take(10, 1 << 20, NOW_MS + 10) == [soon, later]
    assert pool.take(10, 1 << 20, NOW_MS + 11) == [later]
    assert len(pool) == 1
    assert pool.bytes_total == later.size
    assert pool.prune_expired(NOW_MS + 1001) == 1
    assert len(pool) == 0


def test_limits_must_be_positive() -> None:
    with pytest.raises(InvariantError):
        MempoolLimits(transactions_max=0, bytes_max=1)
    with pytest.raises(InvariantError):
        MempoolLimits(transactions_max=1, bytes_max=0)
