"""Reading a node's configuration does not import the runtime, and a node does not import the
Ethereum libraries until an EVM helper is used: the CLI's commands that only read a node's
folder (`causeway devnet status`, `node verify`) and every node's start stay fast.

Each check runs in a fresh interpreter, where nothing else has imported the modules yet."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from causeway import node


def _loaded_after(program: str, names: list[str]) -> list[str]:
    """The names of ``names`` in sys.modules after running ``program`` in a new interpreter."""
    report = f"print(json.dumps([n for n in {names!r} if n in sys.modules]))"
    script = f"import json, sys\n{program}\n{report}"
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    loaded = json.loads(output.splitlines()[-1])
    assert isinstance(loaded, list)
    return loaded


RUNTIME_PARTS = ["causeway.node.runtime", "causeway.node.startup", "causeway.interchain", "fastapi"]
ETHEREUM_LIBRARIES = ["eth_abi", "eth_keys", "eth_utils", "trie", "rlp"]


def test_reading_a_node_configuration_loads_no_runtime() -> None:
    assert _loaded_after("import causeway.node", RUNTIME_PARTS) == []
    assert _loaded_after("from causeway.node import load_node_config", RUNTIME_PARTS) == []


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("Node", "causeway.node.runtime"),
        ("run_node", "causeway.node.runtime"),
        ("load_genesis", "causeway.node.startup"),
        ("verify_node_store", "causeway.node.startup"),
    ],
)
def test_a_runtime_name_asked_for_brings_its_module(name: str, module: str) -> None:
    program = f"import causeway.node as node\nassert node.{name}.__module__ == {module!r}"
    assert _loaded_after(program, [module]) == [module]


def test_an_unknown_name_of_the_node_package_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nod'"):
        node.Nod  # noqa: B018 (the attribute access is what is tested)


def test_a_node_runtime_loads_no_ethereum_library_until_an_evm_helper_is_used() -> None:
    assert _loaded_after("import causeway.node.runtime", ETHEREUM_LIBRARIES) == []
    program = "import causeway.node.runtime\nfrom causeway.interchain import evm\nevm.decode_header"
    assert sorted(_loaded_after(program, ETHEREUM_LIBRARIES)) == sorted(ETHEREUM_LIBRARIES)
