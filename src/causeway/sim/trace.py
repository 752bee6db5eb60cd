"""A running SHA-256 over everything that happened in a run, in order.

Each field is tagged with its type and length, so different sequences of records cannot hash
alike by moving bytes from one record into the next. Two runs of one seed end with the same
``digest``.
"""

from __future__ import annotations

import hashlib


class Trace:
    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.records = 0

    def record(self, *fields: str | int | bytes) -> None:
        parts: list[bytes] = []
        for value in fields:
            if isinstance(value, bytes):
                parts.append(b"b%d:" % len(value))
                parts.append(value)
            elif isinstance(value, int):
                parts.append(b"i%d;" % value)
            else:
                encoded = value.encode()
                parts.append(b"s%d:" % len(encoded))
                parts.append(encoded)
        parts.append(b"\n")
        self._hash.update(b"".join(parts))
        self.records += 1

    def record_delivery(self, time_ms: int, receiver: str, sender: str, data: bytes) -> None:
        """The same as ``record("d", time_ms, receiver, sender, data)``, faster (the hot path)."""
        receiver_bytes = receiver.encode()
        sender_bytes = sender.encode()
        self._hash.update(
            b"s1:di%d;s%d:%ss%d:%sb%d:"
            % (
                time_ms,
                len(receiver_bytes),
                receiver_bytes,
                len(sender_bytes),
                sender_bytes,
                len(data),
            )
        )
        self._hash.update(data)
        self._hash.update(b"\n")
        self.records += 1

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()
