"""The language-agnostic entry points of causeway.toolchains."""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway import toolchains
from causeway.errors import RequestError


def test_every_language_offers_the_same_templates() -> None:
    assert set(toolchains.assemblyscript.TEMPLATES) == set(toolchains.TEMPLATES)
    assert set(toolchains.rust.TEMPLATES) == set(toolchains.TEMPLATES)


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RequestError, match="unknown language 'cobol': one of assemblyscript, rust"):
        toolchains.new_project("cobol", "token", "token", tmp_path / "token")
    assert not (tmp_path / "token").exists()


def test_the_language_of_a_project_is_read_from_its_files(tmp_path: Path) -> None:
    rust_project = tmp_path / "r"
    rust_project.mkdir()
    (rust_project / "Cargo.toml").write_text("[package]\n")
    script_project = tmp_path / "a"
    (script_project / "assembly").mkdir(parents=True)
    assert toolchains.project_language(rust_project) == "rust"
    assert toolchains.project_language(script_project) == "assemblyscript"
    with pytest.raises(RequestError, match="is not a contract project"):
        toolchains.project_language(tmp_path)
