"""Output for people (rich tables) and for scripts (JSON on stdout), and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

# Piped output gets a wide console so that 64-digit hashes stay on one line.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TRANSACTION_FAILED = 3
EXIT_INTERRUPTED = 130


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colours, no wrapping), so that scripts can parse it."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    """One line on stderr: the message with newlines folded, never wrapped."""
    line = " ".join(str(message).split())
    sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


def key_value_table(title: str | None, rows: Iterable[tuple[str, Any]]) -> Group:
    """A borderless two-column table under a bold title line."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, _cell(value))
    if title is None:
        return Group(table)
    return Group(Text(title, style="bold underline"), table)


def rows_table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> Text:
    # Text, not str: values come from the chain and must never be read as rich markup.
    if value is None:
        return Text("-")
    if isinstance(value, Text):
        return value
    if isinstance(value, Mapping | list):
        return Text(json.dumps(value, indent=None, ensure_ascii=False))
    return Text(str(value))
