"""The layers of DESIGN.md section 1, held by reading the import graph of src/causeway with `ast`.

Layers, lowest first; a module imports only from its own layer or below:
`errors, types` → `crypto, identity, state, light` → `storage, execution, vm, mempool, consensus`
→ `net, interchain (contracts)` → `node, api, sim` → `sdk, provisioning, interchain (relayer,
gateways), apps, bench, toolchains` → `cli`. Within a layer, the contracts (execution) do not
import a consensus engine. A package's generated wire module (`causeway.<area>.v1`) belongs to
its area: storage may not read the API's wire package any more than its Python modules.
Imports under `if TYPE_CHECKING:` count too: a type is a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "causeway"

# Area (the module path below causeway, longest match wins) -> layer number, lowest first.
LAYERS: Mapping[str, int] = {
    "errors": 0,
    "types": 0,
    "crypto": 1,
    "identity": 1,
    "state": 1,
    "light": 1,
    "storage": 2,
    "execution": 2,
    "vm": 2,
    "mempool": 2,
    "consensus": 2,
    # The native contracts' wire package (their arguments and records).
    "contracts": 2,
    "net": 3,
    "interchain": 3,
    "node": 4,
    "api": 4,
    # The explorer's pages and their server: the node's HTTP gateway mounts them.
    "explorer": 4,
    "sim": 4,
    "sdk": 5,
    "provisioning": 5,
    "interchain.relayer": 5,
    "interchain.gateways": 5,
    "apps": 5,
    # The harness behind `causeway bench` drives nodes through the SDK.
    "bench": 5,
    # Contract compilers, their SDKs and templates (run by the CLI).
    "toolchains": 5,
    "cli": 6,
}
# Areas of one layer kept apart: (importer, imported). The contracts check votes with the sign
# bytes of types/, not with a consensus engine's code; the engines' wire package (v1) is allowed.
APART: frozenset[tuple[str, str]] = frozenset({("execution", "consensus")})
WIRE_PACKAGE = "v1"


@dataclass(frozen=True, slots=True)
class Breach:
    importer: str
    imported: str
    importer_layer: int
    imported_layer: int

    def __str__(self) -> str:
        return (
            f"{self.importer} (layer {self.importer_layer}) imports {self.imported} "
            f"(layer {self.imported_layer})"
        )


def layer_of(module: str) -> int | None:
    """The layer of a causeway module; None for the package itself (causeway/__init__.py)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module} is not a module of {PACKAGE}")
    if len(parts) == 1:
        return None
    for length in range(len(parts) - 1, 0, -1):
        area = ".".join(parts[1 : 1 + length])
        if area in LAYERS:
            return LAYERS[area]
    raise AssertionError(
        f"{module} is in no layer: add its package to LAYERS (and to DESIGN.md section 1)"
    )


def module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, source: str, *, is_package: bool) -> set[str]:
    """The causeway modules a module's source imports (absolute, relative resolved)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                # A package's own __init__ is its level-1 base; a module's is its parent.
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            imported.add(target)
            if target == PACKAGE:
                # `from causeway import node` names the module causeway.node.
                imported.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in imported if name == PACKAGE or name.startswith(PACKAGE + ".")}


def import_graph(root: Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue  # generated: protoc's imports follow the .proto files' own
        module = module_name(path, root)
        source = path.read_text(encoding="utf-8")
        graph[module] = imports_of(module, source, is_package=path.name == "__init__.py")
    return graph


def kept_apart(importer: str, imported: str) -> bool:
    importer_parts = importer.split(".")
    imported_parts = imported.split(".")
    if len(importer_parts) < 2 or len(imported_parts) < 2:
        return False
    if (importer_parts[1], imported_parts[1]) not in APART:
        return False
    return imported_parts[2:3] != [WIRE_PACKAGE]


def breaches(graph: Mapping[str, Iterable[str]]) -> list[Breach]:
    """Every import of a module from a higher layer than the importer's own, and every import
    between two areas of one layer that are kept apart."""
    found: list[Breach] = []
    for importer, imported_modules in sorted(graph.items()):
        importer_layer = layer_of(importer)
        if importer_layer is None:
            continue  # causeway/__init__.py stands above every layer
        for imported in sorted(imported_modules):
            imported_layer = layer_of(imported)
            if imported_layer is None:
                continue
            if imported_layer > importer_layer or kept_apart(importer, imported):
                found.append(Breach(importer, imported, importer_layer, imported_layer))
    return found


def test_no_module_imports_from_a_higher_layer() -> None:
    graph = import_graph(SOURCE_ROOT)
    assert len(graph) > 100  # the walk found the source tree
    found = breaches(graph)
    assert not found, "imports against the layers of DESIGN.md:\n" + "\n".join(map(str, found))


def test_every_package_has_a_layer() -> None:
    for module in import_graph(SOURCE_ROOT):
        layer_of(module)  # raises for a package missing from LAYERS


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        # Today's breaches, now fixed: each is reported by the checker.
        (
            "causeway.storage.store",
            "from causeway.api.v1.api_pb2 import EventRecord",
            ["causeway.storage.store (layer 2) imports causeway.api.v1.api_pb2 (layer 4)"],
        ),
        (
            "causeway.node.runtime",
            "from causeway.sdk import Identity, build_transaction",
            ["causeway.node.runtime (layer 4) imports causeway.sdk (layer 5)"],
        ),
        (
            "causeway.execution.contracts.evidence",
            "from causeway.consensus.tbft import vote_sign_bytes",
            [
                "causeway.execution.contracts.evidence (layer 2) imports "
                "causeway.consensus.tbft (layer 2)"
            ],
        ),
        (
            "causeway.execution.contracts.evidence",
            "from causeway.consensus.v1 import consensus_pb2",
            [],
        ),
        (
            "causeway.execution.contracts.evidence",
            "import causeway.net.sync",
            ["causeway.execution.contracts.evidence (layer 2) imports causeway.net.sync (layer 3)"],
        ),
        # Relative imports resolve to their absolute module before the check.
        (
            "causeway.types.encoding",
            "from ..crypto import keys",
            ["causeway.types.encoding (layer 0) imports causeway.crypto (layer 1)"],
        ),
        # Under TYPE_CHECKING an import is still a dependency.
        (
            "causeway.mempool.pool",
            "if TYPE_CHECKING:\n    from causeway.node import Node",
            ["causeway.mempool.pool (layer 2) imports causeway.node (layer 4)"],
        ),
        # Allowed: the same layer and any layer below; outside packages are not checked.
        ("causeway.execution.application", "from causeway.storage import Store", []),
        ("causeway.cli.main", "from causeway.sdk import Client\nimport grpc", []),
        ("causeway.interchain.relayer.run", "from causeway.sdk import Client", []),
        ("causeway.cli.main", "from causeway import node", []),
        (
            "causeway.state.tree",
            "from causeway import storage",
            ["causeway.state.tree (layer 1) imports causeway.storage (layer 2)"],
        ),
    ],
)
def test_the_checker_reports_a_bad_import_and_passes_a_good_one(
    importer: str, source: str, expected: list[str]
) -> None:
    graph = {importer: imports_of(importer, source, is_package=False)}
    assert [str(breach) for breach in breaches(graph)] == expected


def test_a_module_outside_every_layer_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"causeway\.newthing\.x is in no layer"):
        breaches({"causeway.cli.main": {"causeway.newthing.x"}})
