"""Which transaction ids `transaction_runs` may hold, kept in memory, so that a look-up by id
reads LMDB only when the answer is "maybe".

Why: py-lmdb lets go of the GIL around every read and must then win it back from whichever
thread took it meanwhile. Beside a thread running Python (the block builder), a read of a
million-id index took 628 µs of wall time against 1.06 µs alone, and the wait grows with the
index, since a longer read is more often overtaken (`bench/lookup_contention.py`,
docs/performance.md). Most ids looked up are not there (a new transaction is not a replay: the
admission's look-up, the block builder's and the commit's replay check), and a Bloom filter
answers "not there" without letting go of the GIL.

The rule that keeps look-ups exact: every id that `transaction_runs` holds, in any snapshot a
reader of this process sees, is in the filter. The store adds ids before the write transaction
that inserts them commits (a commit that then fails leaves ids that only cost a read: false
positives), and removes none. The filter is built from the index when the store opens, and
only a store opened as its sole writer keeps one (Store's sole_writer: a node's own store):
another process's commits would leave it behind, so a store opened beside a running node (a
read-only scan, an archive) reads LMDB.

The rule that keeps them apart: a look-up may run while the writer adds, and rbloom's objects
refuse a second borrow while one is in use ("Already mutably borrowed"). Inside a method of a
filter that readers can reach, nothing may let another thread, a finaliser or a collector's
callback run: so ids are added to such a filter one `add` at a time (hashing bytes with
Python's own `hash`, in C, allocates nothing, so no collection can start there), never with
`update`, whose iterator is an allocation at which a collection, and any code it runs, can
start. `update` is kept for a filter no reader can see yet.

rbloom's filters have a fixed capacity (past it, more false positives): a filter that cannot
take a batch is kept, and a new one of at least twice its capacity takes the batch and the
ids after it. A look-up probes each: capacities double, so there are few, and each new filter
is made with half the false-positive rate of the one before, so that together they stay
within twice the first's. Python's `hash` is keyed per process, which is why the filters are
never written down.

Behind this filter, each run of `transaction_runs` has a plain Bloom filter of its own (the
store's, built with the run): on a "maybe" here, a look-up reads only the runs whose filter says
"maybe" too. A run's filter is made whole, over every id the run will hold, before the first of
them is written, and never changed after, so readers may probe it while the writer works.
"""

from __future__ import annotations

from collections.abc import Iterable

from rbloom import Bloom

# Look-ups that say "maybe" for an id the index does not hold, at most, in the first filter;
# each later one has half the rate of the one before, so all of them stay within twice this.
FALSE_POSITIVE_RATE = 0.01
# The smallest capacity a filter is made with: some 1.2 MB at the rate above.
CAPACITY_MIN = 1 << 20


class IndexFilter:
    """Bloom filters over the ids of `transaction_runs`: `may_hold` is False only for an id
    never added."""

    def __init__(self, capacity: int = CAPACITY_MIN) -> None:
        if capacity < 1:
            raise ValueError(f"an index filter's capacity must be positive, not {capacity}")
        self._rate = FALSE_POSITIVE_RATE
        self._filters: tuple[Bloom, ...] = (Bloom(capacity, self._rate),)
        self._capacity = capacity
        self._count = 0

    @classmethod
    def of(cls, transaction_ids: Iterable[bytes], count: int) -> IndexFilter:
        """A filter holding `transaction_ids` (about `count` of them) with room for as many
        again."""
        index_filter = cls(max(CAPACITY_MIN, 2 * count))
        # No reader can see this filter yet: one update, whatever the iteration runs meanwhile.
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
            self._rate /= 2
            bloom = Bloom(self._capacity, self._rate)
            bloom.update(transaction_ids)  # no reader can see it yet
            # Published whole: a reader iterating the old tuple meanwhile lacks only ids whose
            # commit has not happened yet.
            self._filters = (*self._filters, bloom)
            self._count = len(transaction_ids)
            return
        # One id at a time: readers can reach this filter (the module's docstring says why).
        add = self._filters[-1].add
        for transaction_id in transaction_ids:
            add(transaction_id)
        self._count += len(transaction_ids)

    @property
    def filters(self) -> int:
        """How many filters a look-up probes."""
        return len(self._filters)

    @property
    def bytes_used(self) -> int:
        return sum(bloom.size_in_bits for bloom in self._filters) // 8
