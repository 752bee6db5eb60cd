"""The records a Raft core persists, and how they are read back.

* ``raft/meta``: current term, the vote cast in it, and ``log_end``, the index of the last valid
  log entry (the truncation point). JSON with sorted keys, so equal state gives equal bytes.
* ``raft/log/<index, 20 digits>``: one encoded RaftEntry per log index, written once when the
  entry is appended (and again only if a conflicting entry replaces it).

A record written with empty bytes is deleted: the runtime (and the simulator's disk) removes it,
or keeps it and treats it as absent; both read back the same. Entries above ``log_end`` are
ignored on restore, so stale records left behind by a lost deletion are harmless.

Write order makes any prefix of one Output's records safe to restore, should a runtime persist
them one by one: when a conflicting suffix is replaced, the meta record first shrinks ``log_end``
to the truncation point, then the new entries are written, then the surplus old records are
deleted, then the meta record names the new end. Appends write entries first and meta last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from causeway.errors import StorageCorruptionError

RECORD_PREFIX = "raft/"
META_RECORD = "raft/meta"
LOG_RECORD_PREFIX = "raft/log/"
META_VERSION = 1


def log_record_name(index: int) -> str:
    return f"{LOG_RECORD_PREFIX}{index:020d}"


@dataclass(frozen=True, slots=True)
class Meta:
    term: int
    voted_for: str | None
    log_end: int


def encode_meta(meta: Meta) -> bytes:
    document = {
        "log_end": meta.log_end,
        "term": meta.term,
        "version": META_VERSION,
        "voted_for": meta.voted_for,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def decode_meta(data: bytes) -> Meta:
    try:
        document = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError):
        raise StorageCorruptionError(f"{META_RECORD} is not JSON") from None
    if not isinstance(document, dict) or document.get("version") != META_VERSION:
        raise StorageCorruptionError(f"{META_RECORD} has no known version")
    term = document.get("term")
    log_end = document.get("log_end")
    voted_for = document.get("voted_for")
    if not isinstance(term, int) or isinstance(term, bool) or term < 0:
        raise StorageCorruptionError(f"{META_RECORD} has a malformed term")
    if not isinstance(log_end, int) or isinstance(log_end, bool) or log_end < 0:
        raise StorageCorruptionError(f"{META_RECORD} has a malformed log end")
    if voted_for is not None and (not isinstance(voted_for, str) or not voted_for):
        raise StorageCorruptionError(f"{META_RECORD} has a malformed vote")
    return Meta(term=term, voted_for=voted_for, log_end=log_end)


def read_meta(records: Mapping[str, bytes]) -> Meta | None:
    """The meta record, or None for a node that never persisted anything (or deleted it)."""
    data = records.get(META_RECORD)
    if not data:
        return None
    return decode_meta(data)
