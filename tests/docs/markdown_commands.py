"""The command lines of a Markdown document's fenced blocks, as a reader would type them.

A fenced block tagged ``sh`` (or ``bash``, ``shell``, ``console``) holds commands to run: a
backslash at the end of a line continues it on the next, ``#`` outside quotes starts a comment,
and a line left empty is no command. A block tagged ``text`` holds synopses (``causeway init DIR
[--orgs N]``), which are not run; only their options are checked. Pure: text in, lines out.
"""

from __future__ import annotations

import dataclasses
import re

RUN_TAGS = frozenset({"sh", "bash", "shell", "console"})
SYNOPSIS_TAG = "text"
_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")


@dataclasses.dataclass(frozen=True)
class FencedBlock:
    document: str
    line: int  # 1-based line of the opening fence
    tag: str  # the info string's first word, "" when there is none
    lines: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class DocumentedCommand:
    """One command line: its text without comment and continuations, and where it stands."""

    document: str
    line: int  # 1-based line where the command starts
    block_line: int  # the opening fence of its block: commands of one block belong together
    tag: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


def fenced_blocks(document: str, markdown: str) -> list[FencedBlock]:
    blocks: list[FencedBlock] = []
    opening: tuple[int, str, str] | None = None  # fence, tag, line number
    body: list[str] = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence = _FENCE.match(line)
        if opening is None:
            if fence:
                opening = (number, fence.group(1), fence.group(2))
                body = []
        elif fence and fence.group(1) == opening[1] and not fence.group(2):
            blocks.append(FencedBlock(document, opening[0], opening[2], tuple(body)))
            opening = None
        else:
            body.append(line)
    return blocks


def strip_comment(line: str) -> str:
    """The line without a ``#`` comment (a ``#`` inside quotes or inside a word is kept)."""
    quote = ""
    for index, character in enumerate(line):
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def block_commands(block: FencedBlock) -> list[DocumentedCommand]:
    commands: list[DocumentedCommand] = []
    pending = ""
    start = 0
    for offset, raw in enumerate(block.lines, start=1):
        number = block.line + offset
        text = strip_comment(raw) if block.tag != SYNOPSIS_TAG else raw.rstrip()
        continued = text.endswith("\\")
        if continued:
            text = text[:-1].rstrip()
        if not pending:
            start = number
            pending = text.strip()
        else:
            pending = f"{pending} {text.strip()}"
        if not continued:
            if pending:
                commands.append(
                    DocumentedCommand(block.document, start, block.line, block.tag, pending)
                )
            pending = ""
    if pending:
        commands.append(DocumentedCommand(block.document, start, block.line, block.tag, pending))
    return commands


def documented_commands(document: str, markdown: str) -> list[DocumentedCommand]:
    """Every line of the document's ``sh`` and ``text`` blocks, in order."""
    return [
        command
        for block in fenced_blocks(document, markdown)
        if block.tag in RUN_TAGS or block.tag == SYNOPSIS_TAG
        for command in block_commands(block)
    ]


def untagged_causeway_blocks(document: str, markdown: str) -> list[FencedBlock]:
    """Blocks without a tag that show a ``causeway`` line: neither run nor checked, so refused."""
    return [
        block
        for block in fenced_blocks(document, markdown)
        if not block.tag and any(line.lstrip().startswith("causeway ") for line in block.lines)
    ]
