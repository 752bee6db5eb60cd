"""Named records in one durable write, read back by prefix (how consensus cores persist)."""

from __future__ import annotations

from pathlib import Path

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
