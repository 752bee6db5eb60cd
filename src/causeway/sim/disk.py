"""A disk that loses what was written but not yet synced when its machine crashes."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class SimulatedDisk:
    """Named records, the last write to a name winning; writing empty bytes deletes a record.

    ``write`` puts a record in the page cache (the unsynced buffer); ``sync`` makes every buffered
    write durable in write order, like fsync of the file and of its directory; ``crash`` throws the
    buffer away. Reads after a restart see only ``durable``.
    """

    def __init__(self) -> None:
        self._durable: dict[str, bytes] = {}
        self._unsynced: list[tuple[str, bytes]] = []
        self.writes = 0
        self.syncs = 0
        self.lost_writes = 0

    def write(self, name: str, data: bytes) -> None:
        self._unsynced.append((name, bytes(data)))
        self.writes += 1

    def sync(self) -> None:
        for name, data in self._unsynced:
            if data:
                self._durable[name] = data
            else:
                self._durable.pop(name, None)
        self._unsynced.clear()
        self.syncs += 1

    def crash(self) -> None:
        self.lost_writes += len(self._unsynced)
        self._unsynced.clear()

    @property
    def unsynced(self) -> int:
        return len(self._unsynced)

    @property
    def durable(self) -> Mapping[str, bytes]:
        return MappingProxyType(self._durable)

    def records(self) -> dict[str, bytes]:
        """A copy of the durable records, as a restarted process would read them."""
        return dict(self._durable)
