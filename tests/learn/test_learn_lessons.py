"""The learning path's documents and registry (pure, no network): each lesson's English and
Chinese documents teach the same steps, carry the registry's title and link each other; the
index lists every lesson; the learner's language and progress file. The lessons themselves run
in test_learn_run.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lesson_steps import lesson_steps
from markdown_commands import fenced_blocks
from test_contract_tutorial import SOURCES, quoted_from

from causeway.cli.learn import (
    LANGUAGES,
    LESSONS,
    PROGRESS_FILE,
    Lesson,
    language_of,
    lesson,
    load_progress,
    record_progress,
)
from causeway.errors import ConfigurationError, RequestError

REPOSITORY = Path(__file__).resolve().parents[2]
INDEX = REPOSITORY / "docs" / "learn" / "README.md"


def read(document: str) -> str:
    return (REPOSITORY / document).read_text(encoding="utf-8")


@pytest.mark.parametrize("taught", LESSONS, ids=lambda item: item.slug)
def test_both_languages_teach_the_same_steps(taught: Lesson) -> None:
    """What runs in one language is what the other shows: the same commands and code, in the
    same order (so running one document's steps runs both)."""
    english, chinese = (
        [(step.kind, step.text) for step in lesson_steps(document, read(document))]
        for document in (taught.document("en"), taught.document("zh"))
    )
    assert english, "a lesson without steps"
    assert english == chinese


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_document_has_the_registrys_title_and_links_its_other_language(
    language: str,
) -> None:
    other = "zh" if language == "en" else "en"
    for taught in LESSONS:
        text = read(taught.document(language))
        assert text.splitlines()[0] == f"# {taught.title(language)}", taught.document(language)
        assert f"../{other}/{taught.document(other).rsplit('/', 1)[1]}" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_contract_source_shown_is_the_templates(language: str) -> None:
    """A lesson's AssemblyScript is quoted from a template, line for line (what the learner
    finds in the project `causeway contract new` makes), except what it has the learner add."""
    for taught in LESSONS:
        document = taught.document(language)
        for block in fenced_blocks(document, read(document)):
            # What the learner writes (a block to append) is theirs; the rest quotes a template.
            if block.tag == "ts" and not block.lines[0].startswith("// append to "):
                assert any(quoted_from(block.lines, source) for source in SOURCES["ts"]), (
                    f"{document}:{block.line} is not a template's source"
                )


def test_the_index_links_every_lesson_in_both_languages() -> None:
    index = INDEX.read_text(encoding="utf-8")
    linked = re.findall(r"\]\(((?:en|zh)/[^)]+\.md)\)", index)
    expected = [
        taught.document(language).removeprefix("docs/learn/")
        for taught in LESSONS
        for language in ("en", "zh")
    ]
    assert linked == expected
    for path in linked:
        assert (INDEX.parent / path).exists()


def test_a_lesson_that_does_not_exist_is_named() -> None:
    assert lesson(1).slug == "first-chain"
    with pytest.raises(RequestError, match=f"the lessons are 1 to {len(LESSONS)}"):
        lesson(len(LESSONS) + 1)


@pytest.mark.parametrize(
    ("environment", "chosen", "expected"),
    [
        ({}, None, "en"),
        ({"LANG": "zh_CN.UTF-8"}, None, "zh"),
        ({"LANG": "en_GB.UTF-8", "LC_ALL": "zh_TW.UTF-8"}, None, "zh"),
        ({"LANG": "zh_CN.UTF-8", "CAUSEWAY_LANGUAGE": "en"}, None, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "en", "en"),
        ({"CAUSEWAY_LANGUAGE": "fr", "LANG": "de_DE"}, None, "en"),
    ],
)
def test_the_learners_language(
    environment: dict[str, str], chosen: str | None, expected: str
) -> None:
    assert language_of(environment, chosen) == expected


def test_a_language_there_is_not_is_refused() -> None:
    with pytest.raises(RequestError, match="not one of zh, en"):
        language_of({}, "fr")


def test_progress_is_kept_in_the_workspace(tmp_path: Path) -> None:
    assert load_progress(tmp_path) == {}
    record_progress(tmp_path, 2, True)
    record_progress(tmp_path, 1, False)
    record_progress(tmp_path, 1, True)
    # A lesson once passed stays done: its network may be stopped since.
    record_progress(tmp_path, 2, False)
    record_progress(tmp_path, 3, False)
    assert load_progress(tmp_path) == {1: True, 2: True, 3: False}
    document = json.loads((tmp_path / PROGRESS_FILE).read_text(encoding="utf-8"))
    assert document == {"lessons": {"1": True, "2": True, "3": False}}


@pytest.mark.parametrize("content", ["{", '{"lessons": 3}', '{"lessons": {"x": true}}', "[]"])
def test_a_damaged_progress_file_is_named_and_left_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / PROGRESS_FILE
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="is not a progress file"):
        load_progress(tmp_path)
    with pytest.raises(ConfigurationError):
        record_progress(tmp_path, 1, True)
    assert path.read_text(encoding="utf-8") == content
