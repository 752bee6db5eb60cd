"""The records a Raft core persists, and how they are read back.

* ``raft/meta``: current term, the vote cast in it, and ``log_end``, the index of the last valid
  log entry (the truncation point). An encoded `RaftMetaRecord`.
* ``raft/log/<index, 20 digits>``: one encoded `RaftEntry` per log index, written once when the
  entry is appended (and again only if a conflicting entry replaces it).

Both are protobuf messages of proto/causeway/consensus/v1/consensus.proto in their canonical
encoding (`causeway.types.encode`), with no checksum of their own: storage frames and checksums
every value once (docs/storage.md).

A record written with empty bytes is deleted: the runtime (and the simulator's disk) removes it,
or keeps it and treats it as absent; both read back the same. Entries above ``log_end`` are
ignored on restore, so stale records left behind by a lost deletion are harmless.

Write order makes any prefix of one Output's records safe to restore, should a runtime persist
them one by one: when a conflicting suffix is replaced, the meta record first shrinks ``log_end``
to the truncation point, then the new entries are written, then the surplus old records are
deleted, then the meta record names the new end. Appends write entries first and meta last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from causeway.consensus.v1 import consensus_pb2
from causeway.errors import CausewayError, StorageCorruptionError
from causeway.types import decode, encode

RECORD_PREFIX = "raft/"
META_RECORD = "raft/meta"
LOG_RECORD_PREFIX = "raft/log/"
META_VERSION = 1
# A meta record is a few dozen bytes; the bound only keeps a damaged one from being parsed.
META_BYTES_MAX = 4096


def log_record_name(index: int) -> str:
    return f"{LOG_RECORD_PREFIX}{index:020d}"


@dataclass(frozen=True, slots=True)
class Meta:
    term: int
    voted_for: str | None
    log_end: int


def encode_meta(meta: Meta) -> bytes:
    return encode(
        consensus_pb2.RaftMetaRecord(
            version=META_VERSION,
            term=meta.term,
            voted_for=meta.voted_for or "",
            log_end=meta.log_end,
        )
    )


def decode_meta(data: bytes) -> Meta:
    try:
        record = decode(consensus_pb2.RaftMetaRecord, data, bytes_max=META_BYTES_MAX)
    except CausewayError as error:
        raise StorageCorruptionError(
            f"{META_RECORD} is not a valid record: {error.message}"
        ) from None
    if record.version != META_VERSION:
        raise StorageCorruptionError(f"{META_RECORD} has unknown version {record.version}")
    return Meta(term=record.term, voted_for=record.voted_for or None, log_end=record.log_end)


def read_meta(records: Mapping[str, bytes]) -> Meta | None:
    """The meta record, or None for a node that never persisted anything (or deleted it)."""
    data = records.get(META_RECORD)
    if not data:
        return None
    return decode_meta(data)
