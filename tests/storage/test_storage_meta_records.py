"""Named records in one durable write, read back by prefix (how consensus cores persist)."""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway.consensus.raft.records import META_RECORD, Meta, decode_meta, encode_meta
from causeway.errors import StorageCorruptionError
from causeway.storage import Store


def test_records_are_written_together_and_listed_by_prefix(tmp_path: Path) -> None:
    with Store(tmp_path / "store", map_size_bytes=16 << 20) as store:
        store.put_meta_records(
            [("raft/log/1", b"a"), ("raft/log/2", b"b"), ("raft/meta", b"m"), ("tbft/x", b"t")]
        )
        assert store.meta_records("raft/") == {
            "raft/log/1": b"a",
            "raft/log/2": b"b",
            "raft/meta": b"m",
        }
        store.put_meta_records([("raft/log/2", b""), ("raft/log/3", b"c")])
        assert store.meta_records("raft/log/") == {"raft/log/1": b"a", "raft/log/3": b"c"}
        assert store.meta_records("none/") == {}
    with Store(tmp_path / "store", map_size_bytes=16 << 20) as reopened:
        assert reopened.meta_records("tbft/") == {"tbft/x": b"t"}
        assert reopened.get_meta("raft/log/1") == b"a"


def test_a_flipped_bit_in_a_consensus_record_is_caught_by_the_one_frame(tmp_path: Path) -> None:
    # Consensus records carry no checksum of their own: storage's frame is the one check.
    marker = b"MARKER-51c0-MARKER"
    record = encode_meta(Meta(term=4, voted_for=marker.decode(), log_end=2))
    with Store(tmp_path / "store", map_size_bytes=16 << 20) as store:
        store.put_meta_records([(META_RECORD, record)])
        assert decode_meta(store.meta_records("raft/")[META_RECORD]).voted_for == marker.decode()
    data_file = tmp_path / "store" / "data.mdb"
    data = bytearray(data_file.read_bytes())
    position = data.find(marker)
    assert position >= 0 and data.find(marker, position + 1) == -1
    data[position + len(marker) // 2] ^= 0x01
    data_file.write_bytes(bytes(data))
    reopened = Store(tmp_path / "store", map_size_bytes=16 << 20)
    with reopened, pytest.raises(StorageCorruptionError, match=r"raft/meta\]: checksum mismatch"):
        reopened.meta_records("raft/")
