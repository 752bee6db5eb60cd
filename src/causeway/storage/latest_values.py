"""The latest values of recently read or written state keys, kept in memory beside the store.

Why: executing a block reads its keys' latest values (two balances per transfer), and
py-lmdb releases the GIL around every read. Taking it back from a busy thread costs far more
than the read: in a solo node at 7,000 transfers/s those reads were a third of the block
builder's wall time (docs/performance.md). A hit here is a dictionary probe.

An entry is ``key -> (version, value)``: the key has held ``value`` (None: absent) since
``version``, and still does in the newest committed state. Three rules keep entries right for
any reader whose LMDB snapshot holds version S:

1. A commit records its changes here before LMDB commits them (``changing``, inside the write
   transaction), and a commit that fails drops everything (``clear``). So by the time a
   snapshot holds version S, every change at a version <= S is here, or its entry was dropped.
2. A reader at S uses an entry only if its version <= S; a newer entry belongs to a commit its
   snapshot does not hold, and it reads LMDB instead.
3. A value a reader at S read from LMDB is added (``learned``) only if no commit after S has
   been recorded, under the lock ``changing`` takes. Otherwise the key may have changed after S
   and its newer entry been dropped since, and the older value would hide the change.

Dropping entries (the size bound, a value too large to keep, ``clear``) is always safe: a miss
reads LMDB. The rules assume that this process's Store is the only writer, as the state tree's
node cache does; a store opened read-only beside a node keeps no entries (its bound is 0 bytes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from causeway.errors import ConfigurationError

# What the entries may take, counted as key + value + ENTRY_OVERHEAD_BYTES each (measured: about
# 295 bytes for a 27-byte key and a short value, so some 220,000 such entries).
LATEST_VALUES_BYTES_MAX = 64 << 20
ENTRY_OVERHEAD_BYTES = 240
# Larger values are read from LMDB each time: one would push out hundreds of small, hot ones, and
# its read is cheap beside its size.
VALUE_BYTES_KEPT_MAX = 1024

Entry = tuple[int, bytes | None]


def _size(key: bytes, value: bytes | None) -> int:
    return len(key) + (0 if value is None else len(value)) + ENTRY_OVERHEAD_BYTES


class LatestValues:
    """Latest values by key, bounded in bytes, oldest-touched dropped first (module
    docstring)."""

    __slots__ = ("_bytes", "_bytes_max", "_entries", "_lock", "_recorded")

    def __init__(self, recorded: int, bytes_max: int = LATEST_VALUES_BYTES_MAX) -> None:
        """`recorded`: the store's newest committed version (-1 when it holds no state yet)."""
        if bytes_max < 0:
            raise ConfigurationError(
                f"latest values: the bound must not be negative, not {bytes_max} bytes"
            )
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._bytes = 0
        self._bytes_max = bytes_max
        self._lock = threading.Lock()
        # The newest version whose changes were recorded (rule 3).
        self._recorded = recorded

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes_max(self) -> int:
        """The bound on what the entries take (0: nothing is kept)."""
        return self._bytes_max

    @property
    def size_bytes(self) -> int:
        """What the entries take, as the bound counts it."""
        return self._bytes

    def value_at(self, key: bytes, version: int) -> Entry | None:
        """The entry of `key` if a reader whose snapshot holds `version` may use it (rule 2).
        Lock-free: a dictionary read is atomic and an entry is an immutable pair."""
        entry = self._entries.get(key)
        if entry is None or entry[0] > version:
            return None
        return entry

    def previous_version(self, key: bytes) -> int | None:
        """For the writer, inside its write transaction: the version of the key's present value
        in the newest committed state, or None when that is not known here (absent, deleted,
        or not kept); absence and deletion marks are LMDB's to answer."""
        entry = self._entries.get(key)
        if entry is None or entry[1] is None:
            return None
        return entry[0]

    def learned(self, snapshot: int, key: bytes, entry: Entry) -> None:
        """Adds what a reader whose snapshot holds `snapshot` read from LMDB (rule 3)."""
        value = entry[1]
        if self._bytes_max == 0 or (value is not None and len(value) > VALUE_BYTES_KEPT_MAX):
            return
        with self._lock:
            if self._recorded > snapshot:
                return
            self._put(key, entry)
            self._shrink()

    def changing(self, version: int, changes: Mapping[bytes, bytes | None]) -> None:
        """Records the changes of `version` before its commit (rule 1); a value too large to
        keep drops the key's entry instead."""
        with self._lock:
            self._recorded = max(self._recorded, version)
            if self._bytes_max == 0:
                return
            for key, value in changes.items():
                if value is not None and len(value) > VALUE_BYTES_KEPT_MAX:
                    self._drop(key)
                else:
                    self._put(key, (version, value))
            self._shrink()

    def clear(self, recorded: int | None = None) -> None:
        """Drops every entry: after a commit that failed (its version stays recorded, so no
        older read is learned), or around a write that replaces the state (`recorded`: its
        version)."""
        with self._lock:
            if recorded is not None:
                self._recorded = max(self._recorded, recorded)
            self._entries.clear()
            self._bytes = 0

    # -- with the lock held -----------------------------------------------------------------

    def _put(self, key: bytes, entry: Entry) -> None:
        entries = self._entries
        old = entries.pop(key, None)
        if old is not None:
            self._bytes -= _size(key, old[1])
        entries[key] = entry
        self._bytes += _size(key, entry[1])

    def _drop(self, key: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= _size(key, old[1])

    def _shrink(self) -> None:
        entries = self._entries
        while self._bytes > self._bytes_max:
            key, entry = entries.popitem(last=False)
            self._bytes -= _size(key, entry[1])
