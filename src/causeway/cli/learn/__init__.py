"""The learning path (docs/learn/): the lessons, their exercise checkers and the learner's
progress, behind ``causeway learn``."""

from causeway.cli.learn.checks import (
    CHECKERS,
    CheckReport,
    Finding,
    Workspace,
    check,
)
from causeway.cli.learn.lessons import (
    LANGUAGES,
    LESSONS,
    Lesson,
    Text,
    language_of,
    lesson,
)
from causeway.cli.learn.progress import PROGRESS_FILE, load_progress, record_progress

__all__ = [
    "CHECKERS",
    "LANGUAGES",
    "LESSONS",
    "PROGRESS_FILE",
    "CheckReport",
    "Finding",
    "Lesson",
    "Text",
    "Workspace",
    "check",
    "language_of",
    "lesson",
    "load_progress",
    "record_progress",
]
