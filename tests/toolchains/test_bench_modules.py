"""The modules the wasm benchmark workloads deploy are the templates' builds, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from toolchain_support import Built

from causeway import toolchains
from causeway.bench.contract_modules import MODULES, interface_path, load_module, module_path
from causeway.errors import ConfigurationError
from causeway.types.interface import parse_interface


def _canonical(path: Path) -> str:
    return parse_interface(path.read_text()).canonical_json()


def test_the_kept_assemblyscript_modules_are_the_templates_builds(built: dict[str, Built]) -> None:
    for template, language in MODULES:
        if language != "assemblyscript":
            continue
        assert module_path(template, language).read_bytes() == built[template].module.read_bytes()
        assert _canonical(interface_path(template)) == _canonical(built[template].interface)


def test_the_kept_rust_token_is_the_templates_build(tmp_path: Path) -> None:
    project = toolchains.new_project("rust", "token", "token", tmp_path / "token")
    module, interface = toolchains.build(project)
    assert module_path("token", "rust").read_bytes() == module.read_bytes()
    assert _canonical(interface_path("token")) == _canonical(interface)


def test_a_module_that_is_not_kept_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no registry contract in rust is kept"):
        load_module("registry", "rust")
