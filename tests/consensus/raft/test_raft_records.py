"""The raft meta record: its one byte form and what a damaged one is refused for."""

from __future__ import annotations

import pytest

from causeway.consensus.raft.records import (
    META_BYTES_MAX,
    META_RECORD,
    Meta,
    decode_meta,
    encode_meta,
    read_meta,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import StorageCorruptionError
from causeway.types import encode


def test_meta_round_trips_with_and_without_a_vote() -> None:
    for meta in (Meta(term=3, voted_for="b", log_end=9), Meta(term=0, voted_for=None, log_end=0)):
        encoded = encode_meta(meta)
        assert decode_meta(encoded) == meta
        assert encode_meta(decode_meta(encoded)) == encoded
    # No vote is the empty string on disk, which is the field left out.
    assert encode_meta(Meta(term=1, voted_for=None, log_end=0)) == encode(
        consensus_pb2.RaftMetaRecord(version=1, term=1)
    )


def test_meta_of_another_version_or_form_is_refused() -> None:
    encoded = encode_meta(Meta(term=3, voted_for="b", log_end=9))
    with pytest.raises(StorageCorruptionError, match="unknown version 2"):
        decode_meta(encode(consensus_pb2.RaftMetaRecord(version=2, term=3)))
    with pytest.raises(StorageCorruptionError, match="not canonically encoded"):
        decode_meta(encoded + b"\x28\x01")  # an unknown field 5
    with pytest.raises(StorageCorruptionError, match="not a valid record"):
        decode_meta(encoded[:-1])
    with pytest.raises(StorageCorruptionError, match="unknown version 0"):
        decode_meta(b"")


def test_meta_size_bound() -> None:
    at_limit = encode(consensus_pb2.RaftMetaRecord(version=1, voted_for="x" * (META_BYTES_MAX - 5)))
    assert len(at_limit) == META_BYTES_MAX
    assert decode_meta(at_limit).voted_for == "x" * (META_BYTES_MAX - 5)
    above = encode(consensus_pb2.RaftMetaRecord(version=1, voted_for="x" * (META_BYTES_MAX - 4)))
    with pytest.raises(StorageCorruptionError, match=f"above the limit of {META_BYTES_MAX}"):
        decode_meta(above)


def test_absent_or_deleted_meta_reads_as_a_fresh_node() -> None:
    assert read_meta({}) is None
    assert read_meta({META_RECORD: b""}) is None
