"""The pending transactions: bounded, de-duplicated, handed out in arrival order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from causeway.errors import DuplicateError, ExpiredError, InvariantError, MempoolFullError
from causeway.types import DecodedTransaction


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    transactions_max: int
    bytes_max: int

    def __post_init__(self) -> None:
        if self.transactions_max <= 0 or self.bytes_max <= 0:
            raise InvariantError(f"mempool limits must be positive, got {self}")


class Mempool:
    """Transactions admitted but not yet committed, in first-come first-served order.

    `take` hands out the oldest transactions first and leaves them in the pool: they leave it
    through `remove` once committed (or by expiring), so a block that fails to commit loses
    nothing. Not thread-safe: the node shares it through SharedMempool, which holds the lock.
    """

    __slots__ = ("_bytes_total", "_limits", "_transactions")

    def __init__(self, limits: MempoolLimits) -> None:
        self._limits = limits
        # Insertion-ordered: iteration order is arrival order, and removal is O(1).
        self._transactions: dict[bytes, DecodedTransaction] = {}
        self._bytes_total = 0

    @property
    def limits(self) -> MempoolLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: MempoolLimits) -> None:
        """New bounds (a configuration reload). A pool above lower new bounds keeps what it
        holds and admits nothing until blocks take it below them."""
        self._limits = limits

    @property
    def bytes_total(self) -> int:
        return self._bytes_total

    def __len__(self) -> int:
        return len(self._transactions)

    def __contains__(self, transaction_id: object) -> bool:
        return transaction_id in self._transactions

    def get(self, transaction_id: bytes) -> DecodedTransaction | None:
        return self._transactions.get(transaction_id)

    def add(self, transaction: DecodedTransaction, now_ms: int) -> None:
        """Adds the transaction at the end of the queue.

        DuplicateError when it is already pending, ExpiredError when its expiry has passed,
        MempoolFullError when either bound would be exceeded.
        """
        if transaction.id in self._transactions:
            raise DuplicateError(f"transaction {transaction.id.hex()} is already pending")
        if transaction.body.expiry_ms < now_ms:
            raise ExpiredError(
                f"transaction {transaction.id.hex()} expired at {transaction.body.expiry_ms} ms,"
                f" now is {now_ms} ms"
            )
        limits = self._limits
        if len(self._transactions) >= limits.transactions_max:
            raise MempoolFullError(
                f"the mempool holds {limits.transactions_max} transactions, its limit; retry later"
            )
        size = len(transaction.encoded)
        if self._bytes_total + size > limits.bytes_max:
            raise MempoolFullError(
                f"the mempool holds {self._bytes_total} bytes; {size} more would pass its limit "
                f"of {limits.bytes_max}; retry later"
            )
        self._transactions[transaction.id] = transaction
        self._bytes_total += size

    def take(self, transactions_max: int, bytes_max: int, now_ms: int) -> list[DecodedTransaction]:
        """The oldest pending transactions, at most transactions_max of them and bytes_max bytes.

        Stops at the first transaction that does not fit rather than skipping it, so that a large
        transaction is not overtaken indefinitely by smaller ones. Expired transactions met on the
        way are dropped from the pool.
        """
        taken: list[DecodedTransaction] = []
        expired: list[bytes] = []
        taken_bytes = 0
        if transactions_max > 0:
            for transaction_id, transaction in self._transactions.items():
                if transaction.body.expiry_ms < now_ms:
                    expired.append(transaction_id)
                    continue
                size = len(transaction.encoded)
                if taken_bytes + size > bytes_max:
                    break
                taken.append(transaction)
                taken_bytes += size
                if len(taken) >= transactions_max:
                    break
        self.remove(expired)
        return taken

    def remove(self, ids: Iterable[bytes]) -> None:
        """Drops the transactions with these ids; ids not in the pool are ignored."""
        transactions = self._transactions
        for transaction_id in ids:
            transaction = transactions.pop(transaction_id, None)
            if transaction is not None:
                self._bytes_total -= len(transaction.encoded)

    def prune_expired(self, now_ms: int) -> int:
        """Drops every expired transaction; returns how many."""
        expired = [
            transaction_id
            for transaction_id, transaction in self._transactions.items()
            if transaction.body.expiry_ms < now_ms
        ]
        self.remove(expired)
        return len(expired)
