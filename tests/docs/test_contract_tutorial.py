"""The source that docs/contracts.md's tutorial shows is the templates' own: each ``ts`` and
``rust`` block is a run of consecutive lines of the template it quotes, and the ``json`` block is
an entry of the counter's interface file. (Its commands run in test_documented_commands.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from markdown_commands import fenced_blocks

REPOSITORY = Path(__file__).resolve().parents[2]
TUTORIAL = REPOSITORY / "docs" / "contracts.md"
TEMPLATES = REPOSITORY / "src" / "causeway" / "toolchains"
SOURCES = {
    "ts": [
        TEMPLATES / "assemblyscript" / "templates" / "counter" / "assembly" / "index.ts",
        TEMPLATES / "assemblyscript" / "templates" / "token" / "assembly" / "index.ts",
    ],
    "rust": [TEMPLATES / "rust" / "templates" / "token" / "src" / "lib.rs"],
}


def blocks(tag: str) -> list[tuple[str, ...]]:
    markdown = TUTORIAL.read_text(encoding="utf-8")
    found = fenced_blocks("docs/contracts.md", markdown)
    return [block.lines for block in found if block.tag == tag]


def quoted_from(lines: tuple[str, ...], source: Path) -> bool:
    source_lines = source.read_text(encoding="utf-8").splitlines()
    width = len(lines)
    return any(
        tuple(source_lines[start : start + width]) == lines
        for start in range(len(source_lines) - width + 1)
    )


def test_the_source_shown_is_the_templates() -> None:
    shown = {tag: blocks(tag) for tag in SOURCES}
    assert len(shown["ts"]) == 2 and len(shown["rust"]) == 1, shown
    for tag, quoted in shown.items():
        for lines in quoted:
            assert any(quoted_from(lines, source) for source in SOURCES[tag]), "\n".join(lines)


def test_a_block_changed_by_one_line_is_not_a_quote() -> None:
    (first, _) = blocks("ts")
    changed = (*first[:-1], first[-1] + " // changed")
    assert not any(quoted_from(changed, source) for source in SOURCES["ts"])


def test_the_interface_entry_shown_is_the_counters() -> None:
    (entry,) = blocks("json")
    interface_path = TEMPLATES / "assemblyscript" / "templates" / "counter" / "interface.json"
    interface = json.loads(interface_path.read_text(encoding="utf-8"))
    assert json.loads("\n".join(entry)) in interface["methods"]
