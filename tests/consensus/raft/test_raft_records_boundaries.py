"""The raft meta record at its size bound on both sides, and frozen once read: the tests a
cosmic-ray run over consensus/raft/records.py showed missing (docs/testing.md)."""

from __future__ import annotations

import dataclasses

import pytest

from causeway.consensus.raft.records import Meta, decode_meta, encode_meta
from causeway.errors import StorageCorruptionError

META_BYTES_MAX = 4096


def meta_of_size(size: int) -> bytes:
    """An encoded meta record of exactly `size` bytes (its voted_for padded)."""
    for padding in range(size):
        encoded = encode_meta(Meta(term=1, voted_for="v" * padding, log_end=0))
        if len(encoded) == size:
            return encoded
    raise AssertionError(f"no meta record of {size} bytes")


def test_a_meta_record_of_4096_bytes_is_read_and_4097_refused() -> None:
    assert decode_meta(meta_of_size(META_BYTES_MAX)).term == 1
    with pytest.raises(StorageCorruptionError, match="is not a valid record"):
        decode_meta(meta_of_size(META_BYTES_MAX + 1))


def test_a_meta_read_back_cannot_be_changed() -> None:
    meta = decode_meta(encode_meta(Meta(term=3, voted_for="b", log_end=2)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.term = 4  # type: ignore[misc]
