"""The Bloom filters over transaction_index's ids: never "not there" for an id added, rarely
"maybe" for one never added, and safe to read while the store's writer adds."""

from __future__ import annotations

import gc
import math
import threading

import pytest

from causeway.crypto.hashing import sha256
from causeway.storage import index_filter as index_filter_module
from causeway.storage.index_filter import CAPACITY_MIN, FALSE_POSITIVE_RATE, IndexFilter


def ids(label: str, count: int, start: int = 0) -> list[bytes]:
    return [sha256(f"{label}/{number}".encode()) for number in range(start, start + count)]


def test_every_added_id_may_be_held_as_new_filters_take_over() -> None:
    index_filter = IndexFilter(capacity=100)
    added: list[bytes] = []
    for batch in range(50):
        new = ids("added", 37, start=37 * batch)
        index_filter.add(new)
        added.extend(new)
        assert all(index_filter.may_hold(transaction_id) for transaction_id in added)
    # Capacities double from 100, so 1,850 ids need a handful of filters, not one per batch.
    assert 2 <= index_filter.filters <= math.ceil(math.log2(len(added) / 100)) + 2


def test_ids_never_added_are_seldom_taken_for_held_ones() -> None:
    index_filter = IndexFilter(capacity=10_000)
    index_filter.add(ids("added", 10_000))
    absent = ids("absent", 10_000)
    false_positives = sum(index_filter.may_hold(transaction_id) for transaction_id in absent)
    # About 1% expected (100, a standard deviation of 10); three times that is far outside.
    assert false_positives < 3 * FALSE_POSITIVE_RATE * len(absent)


def test_many_filters_together_stay_within_twice_the_first_rate() -> None:
    """Each new filter has half the rate of the one before: six of them together say "maybe"
    for at most about 2% of absent ids, where six at 1% each would for about 6%."""
    index_filter = IndexFilter(capacity=100)
    for batch in range(63):
        index_filter.add(ids("added", 100, start=100 * batch))
    assert index_filter.filters == 6  # capacities 100, 200, 400, 800, 1,600 and 3,200
    absent = ids("absent", 20_000)
    false_positives = sum(index_filter.may_hold(transaction_id) for transaction_id in absent)
    # At most 2% expected (400; a standard deviation of 20); 3% is far outside, 6% farther.
    assert false_positives < 1.5 * 2 * FALSE_POSITIVE_RATE * len(absent)


def test_a_batch_past_twice_the_capacity_gets_a_filter_twice_its_size() -> None:
    index_filter = IndexFilter(capacity=10)
    batch = ids("added", 100)
    index_filter.add(batch)
    assert index_filter.filters == 2
    assert all(index_filter.may_hold(transaction_id) for transaction_id in batch)
    index_filter.add(ids("more", 100))  # room left in the batch's filter: no third one
    assert index_filter.filters == 2
    index_filter.add(ids("last", 1))  # one past its 200
    assert index_filter.filters == 3


def test_a_batch_that_fits_stays_in_the_filter() -> None:
    index_filter = IndexFilter(capacity=10)
    index_filter.add(ids("added", 10))  # at the capacity
    assert index_filter.filters == 1
    index_filter.add(ids("more", 1))  # one past it
    assert index_filter.filters == 2


@pytest.mark.parametrize("capacity", [0, -1])
def test_a_capacity_must_be_positive(capacity: int) -> None:
    with pytest.raises(ValueError, match=f"capacity must be positive, not {capacity}"):
        IndexFilter(capacity=capacity)


def test_the_smallest_capacity_is_enough() -> None:
    index_filter = IndexFilter(capacity=1)
    index_filter.add(ids("added", 1))
    assert index_filter.may_hold(ids("added", 1)[0])


def test_a_filter_made_of_an_index_holds_it_with_room_for_as_many_again() -> None:
    held = ids("indexed", 5_000)
    index_filter = IndexFilter.of(iter(held), len(held))
    assert all(index_filter.may_hold(transaction_id) for transaction_id in held)
    index_filter.add(ids("moved", 5_000))
    assert index_filter.filters == 1
    # The smallest filter's memory: about 1.2 bytes an id of its capacity at a 1% rate.
    assert 1.0 * CAPACITY_MIN < index_filter.bytes_used < 1.4 * CAPACITY_MIN


def test_a_filter_made_of_an_index_counts_what_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for as many again as the index held, and not one more: past it, a new filter."""
    monkeypatch.setattr(index_filter_module, "CAPACITY_MIN", 16)
    index_filter = IndexFilter.of(iter(ids("indexed", 10)), 10)
    index_filter.add(ids("moved", 10))  # at the capacity of 20
    assert index_filter.filters == 1
    index_filter.add(ids("last", 1))
    assert index_filter.filters == 2


def test_a_collection_during_an_add_may_look_up() -> None:
    """A garbage collection can start at any allocation and run code (a finaliser, a callback)
    that looks up an id, on this thread or, once the GIL is let go, on another: while an add
    holds a filter, such a look-up must not find the filter taken (rbloom refuses a second
    borrow while one is in use). Here every collection looks up, and collections are made to
    start at each allocation an add makes in turn."""
    index_filter = IndexFilter(capacity=1_000)
    batches = [ids("added", 10, start=10 * batch) for batch in range(40)]
    looked_up: list[bool] = []
    failures: list[BaseException] = []

    def look_up(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            try:
                looked_up.append(index_filter.may_hold(b"absent"))
            except BaseException as error:  # a callback's error would be lost otherwise
                failures.append(error)

    threshold = gc.get_threshold()
    gc.callbacks.append(look_up)
    try:
        # The test session's objects out of the collections' way (each whole collection
        # walked them all: 20 s of CI), not out of the test.
        gc.freeze()
        for number, batch in enumerate(batches):
            gc.collect()
            kept: list[object] = []  # so that the count of young objects is not 0
            # The next collection starts at the add's first allocation, or its second, ...
            gc.set_threshold(gc.get_count()[0] + number % 4)
            index_filter.add(batch)
            gc.set_threshold(*threshold)
            del kept
    finally:
        gc.unfreeze()
        gc.callbacks.remove(look_up)
        gc.set_threshold(*threshold)
    assert failures == []
    assert looked_up
    assert all(
        index_filter.may_hold(transaction_id) for batch in batches for transaction_id in batch
    )


def test_readers_beside_the_writer_never_miss_an_added_id_nor_fail() -> None:
    """The store's one writer adds while look-ups run on other threads: no look-up may miss an
    id added before it began, and none may fail (rbloom refuses a second borrow while one is
    in use, which a thread switch inside a filter's method would cause)."""
    index_filter = IndexFilter(capacity=64)
    added: list[bytes] = []
    failures: list[BaseException] = []
    misses: list[bytes] = []
    done = threading.Event()

    def write() -> None:
        try:
            for batch in range(300):
                new = ids("added", 50, start=50 * batch)
                index_filter.add(new)
                added.extend(new)
        except BaseException as error:  # reported by the test's thread
            failures.append(error)
        finally:
            done.set()

    def read(seed: int) -> None:
        try:
            probe = 0
            while not done.is_set() or probe < 2_000:
                known = len(added)
                if known:
                    transaction_id = added[(seed * 7_919 + probe * 104_729) % known]
                    if not index_filter.may_hold(transaction_id):
                        misses.append(transaction_id)
                index_filter.may_hold(sha256(f"absent/{seed}/{probe}".encode()))
                probe += 1
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    readers = [threading.Thread(target=read, args=(seed,)) for seed in range(3)]
    writer = threading.Thread(target=write)
    for thread in (*readers, writer):
        thread.start()
    for thread in (writer, *readers):
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert failures == []
    assert misses == []
    assert len(added) == 15_000
    assert index_filter.filters > 1
