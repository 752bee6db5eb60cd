"""Layered state: the committed reader, the block's changes so far, one transaction's writes
(with nested savepoints)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Protocol

from causeway.errors import InvariantError


class StateReader(Protocol):
    """Read access to the committed state (the store at the latest version, or a dict in tests)."""

    def get(self, key: bytes) -> bytes | None: ...

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Entries whose key starts with prefix and sorts after start_after, ascending, at most
        limit of them."""
        ...


MISSING = object()


class BlockOverlay:
    """The committed state plus the changes of the block's transactions committed so far."""

    __slots__ = ("_keys_dirty", "_sorted_keys", "changes", "reader")

    def __init__(self, reader: StateReader) -> None:
        self.reader = reader
        self.changes: dict[bytes, bytes | None] = {}
        # Every key of `changes`, sorted lazily: new keys are appended, and the list is re-sorted
        # only when a range needs it (timsort merges the sorted run and the new tail in linear
        # time).
        self._sorted_keys: list[bytes] = []
        self._keys_dirty = False

    def get(self, key: bytes) -> bytes | None:
        value = self.changes.get(key, MISSING)
        if value is MISSING:
            return self.reader.get(key)
        return value  # type: ignore[return-value]

    def apply(self, writes: dict[bytes, bytes | None]) -> None:
        changes = self.changes
        for key, value in writes.items():
            if key not in changes:
                self._sorted_keys.append(key)
                self._keys_dirty = True
            changes[key] = value

    def range(
        self,
        prefix: bytes,
        start_after: bytes,
        limit: int,
        writes: dict[bytes, bytes | None],
    ) -> list[tuple[bytes, bytes]]:
        """The first `limit` entries of the merged view (reader < block changes < writes)."""
        if limit <= 0:
            return []
        changes = self.changes
        if self._keys_dirty:
            self._sorted_keys.sort()
            self._keys_dirty = False
        keys = self._sorted_keys
        if start_after >= prefix:
            index = bisect_right(keys, start_after)
        else:
            index = bisect_left(keys, prefix)
        transaction_keys = sorted(
            key for key in writes if key.startswith(prefix) and key > start_after
        )
        # Walk the overlay keys (block and transaction, transaction winning) in order until `limit`
        # live values are seen: no key after that point can be among the first `limit` entries.
        overlay: dict[bytes, bytes | None] = {}
        live = 0
        deleted = 0
        position = 0
        count = len(keys)
        while live < limit:
            block_key = keys[index] if index < count else None
            if block_key is not None and not block_key.startswith(prefix):
                block_key = None
            transaction_key = (
                transaction_keys[position] if position < len(transaction_keys) else None
            )
            if block_key is None and transaction_key is None:
                break
            if transaction_key is not None and (block_key is None or transaction_key <= block_key):
                key = transaction_key
                value = writes[key]
                position += 1
                if block_key == transaction_key:
                    index += 1
            else:
                assert block_key is not None
                key = block_key
                value = changes[key]
                index += 1
            overlay[key] = value
            if value is None:
                deleted += 1
            else:
                live += 1
        # Deletions can hide at most `deleted` of the committed entries, so fetching that many more
        # is enough to fill `limit` entries.
        merged = dict(self.reader.range(prefix, start_after, limit + deleted))
        for key, value in overlay.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return sorted(merged.items())[:limit]


class UnwrittenBlocksReader:
    """The committed state plus the changes of blocks committed and not written yet (oldest
    first), as a StateReader: what the next block executes on while the previous one is being
    written. Reading the store's latest state beneath is safe while a block is written: the
    store only moves forward by the changes layered here, which take precedence."""

    __slots__ = ("_overlay",)

    def __init__(self, reader: StateReader, changes: Sequence[dict[bytes, bytes | None]]) -> None:
        overlay = BlockOverlay(reader)
        for layer in changes:
            overlay.apply(layer)
        self._overlay = overlay

    def get(self, key: bytes) -> bytes | None:
        return self._overlay.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        return self._overlay.range(prefix, start_after, limit, {})


class Savepoint:
    """A point in one transaction's writes (and events) that it can roll back to.

    Opaque to contracts: they get one from ``savepoint()`` and hand it back once, to
    ``rollback_to`` or ``release``."""

    __slots__ = ("depth", "events_length", "journal_length")

    def __init__(self, depth: int, journal_length: int, events_length: int) -> None:
        # 1 for the outermost savepoint open.
        self.depth = depth
        self.journal_length = journal_length
        self.events_length = events_length


class TransactionWrites:
    """One transaction's writes (None deletes) over the block overlay, with nested savepoints.

    While a savepoint is open, every write first records the value it replaces (in ``values``,
    or MISSING) in a journal; rolling back to a savepoint replays the journal backwards to its
    length when the savepoint was taken. Releasing a savepoint keeps its writes, which then belong
    to the enclosing savepoint (or to the transaction), so rolling back an outer savepoint undoes
    the writes of inner ones released before. Ending a savepoint ends every savepoint opened
    inside it. With no savepoint open, writes cost one dict store and no journal is kept.
    """

    __slots__ = ("journal", "savepoints", "values")

    def __init__(self) -> None:
        self.values: dict[bytes, bytes | None] = {}
        self.journal: list[tuple[bytes, object]] = []
        self.savepoints: list[Savepoint] = []

    def set(self, key: bytes, value: bytes | None) -> None:
        if self.savepoints:
            self.journal.append((key, self.values.get(key, MISSING)))
        self.values[key] = value

    def savepoint(self, events_length: int) -> Savepoint:
        savepoint = Savepoint(len(self.savepoints) + 1, len(self.journal), events_length)
        self.savepoints.append(savepoint)
        return savepoint

    def _close(self, savepoint: Savepoint, action: str) -> None:
        savepoints = self.savepoints
        depth = savepoint.depth
        if len(savepoints) < depth or savepoints[depth - 1] is not savepoint:
            # A contract bug, not a caller's: the executor's own call paths pair every savepoint.
            raise InvariantError(
                f"cannot {action} a savepoint that is not open (already released or rolled back, "
                "or taken in another transaction)"
            )
        del savepoints[depth - 1 :]

    def rollback_to(self, savepoint: Savepoint) -> None:
        """Undoes every write since `savepoint` was taken, and ends it."""
        self._close(savepoint, "roll back to")
        journal = self.journal
        values = self.values
        while len(journal) > savepoint.journal_length:
            key, previous = journal.pop()
            if previous is MISSING:
                del values[key]
            else:
                values[key] = previous  # type: ignore[assignment]

    def release(self, savepoint: Savepoint) -> None:
        """Keeps the writes since `savepoint` was taken, and ends it."""
        self._close(savepoint, "release")
        if not self.savepoints:
            self.journal.clear()
