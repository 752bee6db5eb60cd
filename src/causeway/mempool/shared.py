"""The node's mempool behind its own lock: admitted from worker threads, drained by the loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from causeway.errors import DuplicateError, InvariantError, RequestError
from causeway.mempool.admission import Admission, AdmissionOutcome
from causeway.mempool.pool import Mempool, MempoolLimits
from causeway.types import DecodedTransaction
from causeway.types.v1 import types_pb2

# Store lookups of a batch's ids after admission's own (SharedMempool.admit).
STORE_LOOKUPS_MAX = 3


class SharedMempool:
    """A Mempool, the transactions taken into a block not yet written ("in flight") and the
    moment each transaction was admitted, guarded by one lock.

    Admission runs in worker threads (signature checks take long) while the event loop takes
    transactions into blocks and removes committed ones; every read or change of the pool, of
    the in-flight set and of the admission times happens under the lock, here and nowhere else.
    A transaction in flight counts as a duplicate, so that a resubmission while its block is
    being written is refused rather than admitted twice.

    `admission` is replaced when the chain's configuration changes (its limits come from it);
    the node gives it the VerifiedTransactionCache, which records every signature it verifies.
    `committed` answers, for transaction ids, whether the store holds them.
    """

    def __init__(
        self,
        limits: MempoolLimits,
        *,
        committed: Callable[[Sequence[bytes]], list[bool]],
    ) -> None:
        self._pool = Mempool(limits)
        self._committed = committed
        self._lock = threading.Lock()
        self._in_flight: set[bytes] = set()
        self._admitted_at: dict[bytes, float] = {}
        # Calls of remove() so far: admit() looks the store up again only when a block was
        # written (and removed) while its batch was being checked (admit's comment).
        self._removals = 0
        self.admission: Admission | None = None

    def __len__(self) -> int:
        return len(self._pool)

    @property
    def limits(self) -> MempoolLimits:
        return self._pool.limits

    def set_limits(self, limits: MempoolLimits) -> None:
        """New bounds, from now on (see Mempool.limits)."""
        with self._lock:
            self._pool.limits = limits

    @property
    def bytes_total(self) -> int:
        return self._pool.bytes_total

    def get(self, transaction_id: bytes) -> DecodedTransaction | None:
        """The pending transaction with this id, decoded, with the bytes it was admitted as."""
        with self._lock:
            return self._pool.get(transaction_id)

    def committed_or_in_flight(self, ids: Sequence[bytes]) -> list[bool]:
        """Admission's duplicate lookup: committed in the store, or in a block being written."""
        committed = self._committed(ids)
        with self._lock:
            in_flight = self._in_flight
            return [done or i in in_flight for done, i in zip(committed, ids, strict=True)]

    def admit(
        self, items: Sequence[bytes | types_pb2.Transaction], now_ms: int
    ) -> list[AdmissionOutcome]:
        """Runs in a worker thread: checks a batch and adds what passes to the pool, in input
        order each item's DecodedTransaction or the RequestError that refused it."""
        admission = self.admission
        if admission is None:
            raise InvariantError("the shared mempool was given no admission")
        with self._lock:
            removals = self._removals
        checked = admission.check(items, now_ms)
        ids = [c.id for c in checked if isinstance(c, DecodedTransaction)]
        # A block written while the batch was being checked may hold some of it. Every written
        # block leaves the pool through remove(), after its store write. If no remove() came
        # between a store lookup's start (check()'s own, first) and the batch's entry into the
        # pool under the lock, that lookup saw every block whose remove() came before, and a
        # block written since has its remove() still to come, which takes the batch's copies
        # back out. Only after a remove() is the store asked again: under load, each id looked
        # up there waits for the GIL, which py-lmdb releases on every read.
        already: set[bytes] = set()
        for _ in range(STORE_LOOKUPS_MAX):
            with self._lock:
                if not ids or self._removals == removals:
                    return self._enter(checked, already, now_ms)
                removals = self._removals
            committed = self._committed(ids)
            already = {i for i, done in zip(ids, committed, strict=True) if done}
        # Blocks written through every lookup: entered as the last lookup left them (block
        # building checks the store again).
        with self._lock:
            return self._enter(checked, already, now_ms)

    def _enter(
        self, checked: Sequence[AdmissionOutcome], already: set[bytes], now_ms: int
    ) -> list[AdmissionOutcome]:
        """With the lock held: the checked batch into the pool, but for duplicates."""
        outcomes: list[AdmissionOutcome] = []
        now = time.monotonic()
        for item in checked:
            if isinstance(item, RequestError):
                outcomes.append(item)
                continue
            # The transaction may have been taken into a block or committed while the
            # signatures were being verified.
            if item.id in already or item.id in self._in_flight:
                outcomes.append(DuplicateError("transaction was already committed"))
                continue
            try:
                self._pool.add(item, now_ms)
            except RequestError as error:
                outcomes.append(error)
                continue
            self._admitted_at[item.id] = now
            outcomes.append(item)
        return outcomes

    def add(self, transaction: DecodedTransaction, now_ms: int) -> None:
        """Adds one transaction already checked by admission's rules, signature included: block
        building judges the pool's transactions again only on what may change
        (TransactionVerifier.verify_admitted). Mempool.add's errors."""
        with self._lock:
            self._pool.add(transaction, now_ms)

    def take(
        self, transactions_max: int, bytes_max: int, now_ms: int, *, in_flight: bool = False
    ) -> list[DecodedTransaction]:
        """The oldest pending transactions (Mempool.take). With in_flight, they also leave the
        pool and count as in flight until `remove` (a block that always commits: solo)."""
        with self._lock:
            transactions = self._pool.take(transactions_max, bytes_max, now_ms)
            if in_flight:
                ids = [t.id for t in transactions]
                self._pool.remove(ids)
                self._in_flight.update(ids)
        return transactions

    def mark_in_flight(self, ids: Sequence[bytes]) -> None:
        """These transactions are in a block committed and not yet written: they leave the pool
        (the next block must not take them again) and count as in flight until `remove`."""
        with self._lock:
            self._pool.remove(ids)
            self._in_flight.update(ids)

    def take_all(self, now_ms: int) -> list[DecodedTransaction]:
        """Every pending transaction, oldest first, left in the pool."""
        with self._lock:
            pool = self._pool
            return pool.take(len(pool), pool.bytes_total, now_ms)

    def admitted_at(self, ids: Sequence[bytes]) -> list[float]:
        """When each transaction was admitted here (time.monotonic(); 0.0 when it was not, as
        for one that came in a peer's block), forgetting it."""
        with self._lock:
            return [self._admitted_at.pop(i, 0.0) for i in ids]

    def remove(self, ids: Sequence[bytes]) -> None:
        """These transactions leave the pool and the in-flight set: they are written, or were
        left out of a block because the transaction verifier refuses them now."""
        with self._lock:
            self._pool.remove(ids)
            self._in_flight.difference_update(ids)
            self._removals += 1
