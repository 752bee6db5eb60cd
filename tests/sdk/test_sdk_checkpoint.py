from __future__ import annotations

import os
from pathlib import Path

import pytest

from causeway.errors import ConfigurationError
from causeway.sdk import EventPosition, FileCheckpoint, MemoryCheckpoint


def test_round_trip_and_empty_start(tmp_path: Path) -> None:
    checkpoint = FileCheckpoint(tmp_path / "consumer.json")
    assert checkpoint.load() == EventPosition(0, 0, 0)
    checkpoint.save(EventPosition(12, 3, 1))
    assert FileCheckpoint(tmp_path / "consumer.json").load() == (12, 3, 1)
    checkpoint.save(EventPosition(13, 0, 0))
    assert checkpoint.load() == EventPosition(13, 0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["consumer.json"]


def test_a_failed_save_leaves_the_previous_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = FileCheckpoint(tmp_path / "consumer.json")
    checkpoint.save(EventPosition(5, 0, 1))

    def crash(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ConfigurationError, match="No space left"):
        checkpoint.save(EventPosition(6, 0, 0))
    monkeypatch.undo()
    assert checkpoint.load() == EventPosition(5, 0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["consumer.json"]


def test_save_writes_through_a_synced_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        steps.append("fsync")
        real_fsync(descriptor)

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        assert Path(source).read_bytes()  # complete before it becomes the checkpoint
        steps.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    FileCheckpoint(tmp_path / "c.json").save(EventPosition(1, 2, 3))
    # the file before the rename, the folder after it
    assert steps == ["fsync", "replace", "fsync"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[1, 2, 3]",
        b'{"height": 1}',
        b'{"height": -1, "transaction_index": 0, "event_index": 0}',
        b'{"height": true, "transaction_index": 0, "event_index": 0}',
    ],
)
def test_corrupt_checkpoints_are_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError):
        FileCheckpoint(path).load()


def test_positions_are_checked_on_save(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        FileCheckpoint(tmp_path / "c.json").save(EventPosition(-1, 0, 0))
    with pytest.raises(ConfigurationError):
        MemoryCheckpoint().save(EventPosition(1, 0, -2))
    memory = MemoryCheckpoint((3, 1, 0))
    assert memory.load() == EventPosition(3, 1, 0)
