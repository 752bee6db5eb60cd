"""The generated reference (scripts/reference.py, `make reference`) builds without a warning and
holds what a reader looks for: the SDK's client methods and the CLI's commands with their options.

Built once per module into a temporary folder (about 10 s: pdoc renders every page)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reference.py"


def load_script() -> ModuleType:
    """scripts/reference.py as a module: scripts/ is not a package."""
    specification = importlib.util.spec_from_file_location("causeway_reference_script", SCRIPT)
    assert specification is not None and specification.loader is not None
    module = importlib.util.module_from_spec(specification)
    # Registered before it runs: its dataclasses look their module up by name.
    sys.modules[specification.name] = module
    specification.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("reference")
    problems = load_script().build_reference(output)
    assert problems == []
    return output


def test_the_reference_has_an_index_and_the_sdk_page(reference: Path) -> None:
    assert (reference / "index.html").is_file()
    assert (reference / "causeway" / "sdk.html").is_file()
    assert (reference / "causeway" / "sdk" / "client.html").is_file()
    assert (reference / "causeway" / "light.html").is_file()
    assert (reference / "causeway" / "toolchains.html").is_file()


def test_the_sdk_page_documents_the_client_methods(reference: Path) -> None:
    page = (reference / "causeway" / "sdk.html").read_text(encoding="utf-8")
    for anchor in ("Client.invoke", "Client.follow_events", "AsyncClient.invoke"):
        assert f'id="{anchor}"' in page, anchor
    # The examples of the docstrings (tests/sdk/test_sdk_docstrings.py) are rendered as code.
    assert "<pre>" in page


def test_the_cli_page_lists_commands_with_their_options(reference: Path) -> None:
    page = (reference / "cli.html").read_text(encoding="utf-8")
    for path, options in (
        ("causeway learn check", ("--workspace", "--language", "--json")),
        ("causeway devnet stop", ("--node",)),
        ("causeway tx send", ("--identity", "--contract", "--method", "--args", "--no-wait")),
    ):
        anchor = path.replace(" ", "-")
        start = page.index(f'<section id="{anchor}">')
        section = page[start : page.index("</section>", start)]
        assert f"<code>{path}</code>" in section
        for option in options:
            assert option in section, (path, option)
