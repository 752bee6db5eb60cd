"""The learner's progress: which lessons' checks passed, kept in the workspace
(``.causeway-learn.json``) so that ``causeway learn`` shows it from any shell there."""

from __future__ import annotations

import json
from pathlib import Path

from causeway.errors import ConfigurationError

PROGRESS_FILE = ".causeway-learn.json"
PROGRESS_FILE_BYTES_MAX = 64 * 1024


def load_progress(folder: Path) -> dict[int, bool]:
    """Lesson number -> whether a check of it passed; empty when nothing was checked yet."""
    path = folder / PROGRESS_FILE
    try:
        with path.open("rb") as handle:
            data = handle.read(PROGRESS_FILE_BYTES_MAX + 1)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    try:
        if len(data) > PROGRESS_FILE_BYTES_MAX:
            raise ValueError(f"larger than {PROGRESS_FILE_BYTES_MAX} bytes")
        document = json.loads(data)
        return {int(number): bool(passed) for number, passed in document["lessons"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigurationError(
            f"{path} is not a progress file ({error}): delete it, and check the lessons again"
        ) from None


def record_progress(folder: Path, number: int, passed: bool) -> None:
    """Notes a check's result. A lesson once passed stays done: lessons 3 and 9 end by stopping
    the networks their checks look at, and the learner did the work all the same."""
    progress = load_progress(folder)
    progress[number] = progress.get(number, False) or passed
    document = {"lessons": {str(key): value for key, value in sorted(progress.items())}}
    (folder / PROGRESS_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
