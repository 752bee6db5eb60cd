"""Contract toolchains: the compilers that turn a user contract's source into a WebAssembly
module for the chain's `vm`, with the contract SDK of each language and project templates.

One module per language (``assemblyscript``: the compiler from npm, pinned by a lock file;
``rust``: Debian's rustc and cargo, offline), each with ``new_project(template, name,
destination)`` and ``build(project)``; ``new_project`` and ``build`` here pick the language by
name or by the project's files. ``LocalChain`` (``causeway.toolchains.testing``) is the chain in
one process that a contract's tests run against; ``causeway.toolchains.pytest_plugin`` gives
those tests their fixtures.
"""

from pathlib import Path

from causeway.errors import RequestError
from causeway.toolchains import assemblyscript, rust
from causeway.toolchains.testing import (
    BLOCK_INTERVAL_MS,
    GENESIS_TIME_MS,
    LOCAL_CHAIN_ID,
    PROFILES,
    CallResult,
    ContractEvent,
    DeployedContract,
    DeploymentError,
    ExpectationError,
    LocalChain,
)

LANGUAGES: tuple[str, ...] = ("assemblyscript", "rust")
TEMPLATES: tuple[str, ...] = ("counter", "registry", "token")


def new_project(language: str, template: str, name: str, destination: Path) -> Path:
    """A new contract project from a template, in `language`; the project's folder."""
    if language == "assemblyscript":
        return assemblyscript.new_project(template, name, destination)
    if language == "rust":
        return rust.new_project(template, name, destination)
    raise RequestError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")


def project_language(project: Path) -> str:
    """The language of a project folder, by its files (Cargo.toml: rust; assembly/:
    assemblyscript)."""
    if (project / "Cargo.toml").is_file():
        return "rust"
    if (project / "assembly").is_dir():
        return "assemblyscript"
    raise RequestError(
        f"{project} is not a contract project: it has neither Cargo.toml (rust) nor an "
        "assembly/ folder (assemblyscript)"
    )


def build(project: Path) -> tuple[Path, Path]:
    """Compiles a project of either language: (module path, interface path) under build/."""
    if project_language(project) == "rust":
        return rust.build(project)
    return assemblyscript.build(project)


__all__ = [
    "BLOCK_INTERVAL_MS",
    "GENESIS_TIME_MS",
    "LANGUAGES",
    "LOCAL_CHAIN_ID",
    "PROFILES",
    "TEMPLATES",
    "CallResult",
    "ContractEvent",
    "DeployedContract",
    "DeploymentError",
    "ExpectationError",
    "LocalChain",
    "assemblyscript",
    "build",
    "new_project",
    "project_language",
    "rust",
]
