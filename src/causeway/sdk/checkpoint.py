"""Where an event consumer records how far it got, so that a restart resumes exactly there."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import NamedTuple, Protocol

from causeway.errors import ConfigurationError

CHECKPOINT_FILE_BYTES_MAX = 4096


class EventPosition(NamedTuple):
    """The unique, ordered position of a contract event; (0, 0, 0) is before every event.

    Example:

        position = EventPosition(height=12, transaction_index=0, event_index=1)
        assert position > EventPosition(0, 0, 0)
    """

    height: int
    transaction_index: int
    event_index: int


START = EventPosition(0, 0, 0)


class Checkpoint(Protocol):
    """The last delivered event position of one consumer.

    Example:

        checkpoint: Checkpoint = FileCheckpoint("kv-events.json")
        for record in client.follow_events(checkpoint, "kv", "put"):
            print(record.height, record.event.name)
    """

    def load(self) -> EventPosition:
        """The saved position, or ``START`` when nothing was saved yet.

        Example:

            position = checkpoint.load()
            print(position.height, position.transaction_index, position.event_index)
        """
        ...

    def save(self, position: EventPosition) -> None:
        """Records ``position`` durably; after a crash, load returns it or the one before.

        Example:

            checkpoint.save(EventPosition(12, 0, 1))
        """
        ...


def _check_position(position: tuple[int, int, int]) -> EventPosition:
    if len(position) != 3 or not all(
        isinstance(part, int) and not isinstance(part, bool) and part >= 0 for part in position
    ):
        raise ConfigurationError(f"an event position is three non-negative integers: {position}")
    return EventPosition(*position)


class MemoryCheckpoint:
    """A checkpoint that lives only as long as the process: for tests and one-shot readers.

    Example:

        checkpoint = MemoryCheckpoint((12, 0, 1))  # delivers the events after this one
        for record in client.follow_events(checkpoint, "kv"):
            print(record.height, record.event.name)
    """

    def __init__(self, position: tuple[int, int, int] = START) -> None:
        self._position = _check_position(position)

    def load(self) -> EventPosition:
        """The position last saved, or the one it was made with.

        Example:

            assert MemoryCheckpoint().load() == EventPosition(0, 0, 0)
        """
        return self._position

    def save(self, position: EventPosition) -> None:
        """Keeps ``position`` (three non-negative integers) for as long as the process runs.

        Example:

            checkpoint = MemoryCheckpoint()
            checkpoint.save(EventPosition(12, 0, 1))
        """
        self._position = _check_position(position)


class FileCheckpoint:
    """A checkpoint in a small JSON file, replaced atomically on every save.

    A save writes a temporary file next to the target, fsyncs it, renames it over the target and
    fsyncs the folder: a crash at any point leaves either the old or the new position, never a
    mixture or an empty file.

    Example:

        checkpoint = FileCheckpoint("kv-events.json")
        for record in client.follow_events(checkpoint, "kv", "put"):
            print(record.height, record.event.name)
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> EventPosition:
        """The position in the file, or ``START`` when there is no file yet; ConfigurationError
        when it cannot be read or holds no position.

        Example:

            position = FileCheckpoint("kv-events.json").load()
        """
        try:
            with self.path.open("rb") as file:
                data = file.read(CHECKPOINT_FILE_BYTES_MAX + 1)
        except FileNotFoundError:
            return START
        except OSError as error:
            raise ConfigurationError(f"cannot read checkpoint {self.path}: {error}") from None
        if len(data) > CHECKPOINT_FILE_BYTES_MAX:
            raise ConfigurationError(f"checkpoint {self.path} is too large to be one")
        try:
            content = json.loads(data)
            position = (
                content["height"],
                content["transaction_index"],
                content["event_index"],
            )
        except (ValueError, TypeError, KeyError):
            raise ConfigurationError(f"checkpoint {self.path} is not a saved position") from None
        return _check_position(position)

    def save(self, position: EventPosition) -> None:
        """Writes ``position`` to the file atomically (see the class); ConfigurationError when it
        cannot.

        Example:

            FileCheckpoint("kv-events.json").save(EventPosition(12, 0, 1))
        """
        checked = _check_position(position)
        content = json.dumps(
            {
                "height": checked.height,
                "transaction_index": checked.transaction_index,
                "event_index": checked.event_index,
            }
        ).encode()
        directory = self.path.parent
        temporary = directory / f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with self._lock:
            try:
                with temporary.open("wb") as file:
                    file.write(content)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
                _fsync_directory(directory)
            except OSError as error:
                temporary.unlink(missing_ok=True)
                raise ConfigurationError(
                    f"cannot save checkpoint {self.path}: {error.strerror or error}"
                ) from None


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
