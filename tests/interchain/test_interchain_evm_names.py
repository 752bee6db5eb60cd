"""causeway.interchain.evm loads its helpers on first use: every public name resolves to the object
of the module its (type-checking) import names, and nothing else is offered."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from causeway.interchain import evm


def _declared_names() -> dict[str, str]:
    """Public name -> the module it is imported from, as the package's source declares it."""
    source = Path(evm.__file__).read_text(encoding="utf-8")
    declared: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(evm.__name__):
            for alias in node.names:
                declared[alias.asname or alias.name] = str(node.module)
    return declared


def test_every_public_name_is_declared_once_and_resolves_to_its_module_object() -> None:
    declared = _declared_names()
    assert sorted(declared) == sorted(evm.__all__)
    for name, module_name in declared.items():
        assert getattr(evm, name) is getattr(importlib.import_module(module_name), name), name


def test_a_name_outside_the_public_list_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'decode_headers'"):
        evm.decode_headers  # noqa: B018 (the attribute access is what is tested)
    with pytest.raises(AttributeError, match="has no attribute 'keccak'"):
        evm.keccak  # noqa: B018 (a submodule's own import is not offered)
