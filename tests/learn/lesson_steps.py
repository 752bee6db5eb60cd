"""A lesson's steps, as a learner runs them: the command lines of its ``sh`` blocks, the code
of its ``python`` blocks, and the files it has the learner save (a ``toml`` block whose first
line is ``# FILE NAME``), in document order. Pure: text in, steps out."""

from __future__ import annotations

import dataclasses

from markdown_commands import RUN_TAGS, block_commands, fenced_blocks

PYTHON_TAG = "python"
FILE_TAGS = frozenset({"toml"})


@dataclasses.dataclass(frozen=True)
class Step:
    document: str
    line: int
    kind: str  # "sh", "python" or "file"
    text: str
    file_name: str = ""  # a "file" step's: where the learner saves it

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
        elif block.tag == PYTHON_TAG:
            steps.append(Step(document, block.line, "python", "\n".join(block.lines) + "\n"))
        elif block.tag in FILE_TAGS and block.lines and block.lines[0].startswith("# "):
            name = block.lines[0].removeprefix("# ").strip()
            text = "\n".join(block.lines) + "\n"
            steps.append(Step(document, block.line, "file", text, name))
    return steps
