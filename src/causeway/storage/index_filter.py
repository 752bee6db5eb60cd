"""Which transaction ids `transaction_index` may hold, kept in memory, so that a look-up by id
reads LMDB only when the answer is "maybe".

Why: py-lmdb lets go of the GIL around every read and must then win it back from whichever
thread took it meanwhile. Beside a thread running Python (the block builder), a read of a
million-id index took 628 µs of wall time against 1.06 µs alone, and the wait grows with the
index, since a longer read is more often overtaken (`bench/lookup_contention.py`,
docs/performance.md). Most ids looked up are not there (a new transaction is not a replay: the
admission's look-up, the block builder's and the commit's replay check), and a Bloom filter
answers "not there" without letting go of the GIL.

The rule that keeps look-ups exact: every id that `transaction_index` holds, in any snapshot a
reader of this process sees, is in the filter. The store adds ids before the write transaction
that inserts them commits (a commit that then fails leaves ids that only cost a read: false
positives), and removes none. A writable store builds the filter from the index when it opens;
a read-only store (another process writes the index) keeps none and reads LMDB.

rbloom's filters have a fixed capacity (past it, more false positives): a filter that cannot
take a batch is kept, and a new one of at least twice its capacity takes the batch and the
ids after it. A look-up probes each; capacities double, so there are few. Python's own `hash`
(keyed per process, computed in C) hashes the ids: the filter is never written down, and no
Python code runs inside the filter's methods, so that no other thread can run in the middle of
one (rbloom's objects refuse a second borrow while one is in use).
"""

from __future__ import annotations

from collections.abc import Iterable

from rbloom import Bloom

# Look-ups that say "maybe" for an id the index does not hold, at most, in each filter.
FALSE_POSITIVE_RATE = 0.01
# The smallest capacity a filter is made with: some 1.2 MB at the rate above.
CAPACITY_MIN = 1 << 20


class IndexFilter:
    """Bloom filters over the ids of `transaction_index`: `may_hold` is False only for an id
    never added."""

    def __init__(self, capacity: int = CAPACITY_MIN) -> None:
        if capacity < 1:
            raise ValueError(f"an index filter's capacity must be positive, not {capacity}")
        self._filters: tuple[Bloom, ...] = (Bloom(capacity, FALSE_POSITIVE_RATE),)
        self._capacity = capacity
        self._count = 0

    @classmethod
    def of(cls, transaction_ids: Iterable[bytes], count: int) -> IndexFilter:
        """A filter holding `transaction_ids` (about `count` of them) with room for as many
        again."""
        index_filter = cls(max(CAPACITY_MIN, 2 * count))
        index_filter._filters[0].update(transaction_ids)
        index_filter._count = count
        return index_filter

    def may_hold(self, transaction_id: bytes) -> bool:
        # A loop rather than any() over a generator: this runs on every look-up by id.
        for bloom in self._filters:  # noqa: SIM110
            if transaction_id in bloom:
                return True
        return False

    def add(self, transaction_ids: list[bytes]) -> None:
        """Adds ids (the caller is the store's one writer)."""
        if self._count + len(transaction_ids) > self._capacity:
            # Twice the batch, too: a batch larger than the filter leaves room for the next.
            self._capacity = max(2 * self._capacity, 2 * len(transaction_ids))
            bloom = Bloom(self._capacity, FALSE_POSITIVE_RATE)
            bloom.update(transaction_ids)
            # Published whole: a reader iterating the old tuple meanwhile lacks only ids whose
            # commit has not happened yet.
            self._filters = (*self._filters, bloom)
            self._count = len(transaction_ids)
            return
        self._filters[-1].update(transaction_ids)
        self._count += len(transaction_ids)

    @property
    def filters(self) -> int:
        """How many filters a look-up probes."""
        return len(self._filters)

    @property
    def bytes_used(self) -> int:
        return sum(bloom.size_in_bits for bloom in self._filters) // 8
