"""Contract toolchains: the compilers that turn a user contract's source into a WebAssembly
module for the chain's `vm`, with the contract SDK of each language and project templates.

One module per language (``assemblyscript``: the compiler from npm, pinned by a lock file;
``rust``: Debian's rustc and cargo, offline), each with ``new_project(template, name,
destination)`` and ``build(project)``; ``new_project`` and ``build`` here pick the language by
name or by the project's files. ``LocalChain`` (``causeway.toolchains.testing``) is the chain in
one process that a contract's tests run against; ``causeway.toolchains.pytest_plugin`` gives
those tests their fixtures.
"""

import os
import re
import sys
from collections.abc import Sequence
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
# A project's name is its contract's name on the chain (the code contract's rule), its
# interface's name and, in Rust, its crate's: the names all three accept.
PROJECT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# A project's tests: PROJECT/tests, run by pytest with the plugin that gives them their fixtures,
# the built module named in this variable.
TESTS_FOLDER = "tests"
PLUGIN_MODULE = "causeway.toolchains.pytest_plugin"
MODULE_VARIABLE = "CAUSEWAY_CONTRACT_MODULE"


def new_project(language: str, template: str, name: str, destination: Path) -> Path:
    """A new contract project from a template, in `language`; the project's folder."""
    if language not in LANGUAGES:
        raise RequestError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")
    if not PROJECT_NAME.fullmatch(name):
        raise RequestError(
            f"bad contract name {name!r}: 1 to 64 of lowercase letters, digits and '_', "
            "starting with a letter (it names the contract on the chain)"
        )
    if language == "assemblyscript":
        return assemblyscript.new_project(template, name, destination)
    return rust.new_project(template, name, destination)


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


def project_tests_command(
    project: Path, module: Path, pytest_arguments: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run a project's tests (PROJECT/tests) against its
    built module, with this Python's pytest and the fixtures of ``PLUGIN_MODULE``. Its paths are
    absolute: it runs in the project's folder."""
    project = project.resolve()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        PLUGIN_MODULE,
        "--rootdir",
        str(project),
        str(project / TESTS_FOLDER),
        *pytest_arguments,
    ]
    environment = dict(os.environ)
    environment[MODULE_VARIABLE] = str(module.resolve())
    return command, environment


__all__ = [
    "BLOCK_INTERVAL_MS",
    "GENESIS_TIME_MS",
    "LANGUAGES",
    "LOCAL_CHAIN_ID",
    "MODULE_VARIABLE",
    "PLUGIN_MODULE",
    "PROFILES",
    "PROJECT_NAME",
    "TEMPLATES",
    "TESTS_FOLDER",
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
    "project_tests_command",
    "rust",
]
