"""A lesson's steps, as a learner runs them: the command lines of its ``sh`` blocks, the code
of its ``python`` blocks, the files it has the learner save (a ``toml`` or ``python`` block
whose first line is ``# FILE NAME``) and the code it has the learner add to a file (a ``ts``
block whose first line is ``// append to FILE NAME``), in document order. Pure: text in, steps
out."""

from __future__ import annotations

import dataclasses

from markdown_commands import RUN_TAGS, block_commands, fenced_blocks

PYTHON_TAG = "python"
FILE_TAGS = frozenset({"toml", "python"})
APPEND_TAGS = frozenset({"ts"})
APPEND_MARK = "// append to "


@dataclasses.dataclass(frozen=True)
class Step:
    document: str
    line: int
    kind: str  # "sh", "python", "file" or "append"
    text: str
    file_name: str = ""  # a "file" or "append" step's: the file the learner writes

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


def lesson_steps(document: str, markdown: str) -> list[Step]:
    steps: list[Step] = []
    for block in fenced_blocks(document, markdown):
        if block.tag in RUN_TAGS:
            steps += [
                Step(document, command.line, "sh", command.text)
                for command in block_commands(block)
            ]
        elif block.tag in FILE_TAGS and saved_as(block.lines):
            text = "\n".join(block.lines) + "\n"
            steps.append(Step(document, block.line, "file", text, saved_as(block.lines)))
        elif block.tag == PYTHON_TAG:
            steps.append(Step(document, block.line, "python", "\n".join(block.lines) + "\n"))
        elif block.tag in APPEND_TAGS and block.lines and block.lines[0].startswith(APPEND_MARK):
            name = block.lines[0].removeprefix(APPEND_MARK).strip()
            text = "\n".join(block.lines) + "\n"
            steps.append(Step(document, block.line, "append", text, name))
    return steps


def saved_as(lines: tuple[str, ...]) -> str:
    """The file a block is saved as: its first line ``# NAME`` when NAME is one word ending in
    a file extension (a first comment of code to run is a sentence)."""
    if not lines or not lines[0].startswith("# "):
        return ""
    name = lines[0].removeprefix("# ").strip()
    return name if " " not in name and "." in name.rsplit("/", 1)[-1] else ""
