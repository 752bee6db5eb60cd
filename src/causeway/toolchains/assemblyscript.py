"""The AssemblyScript toolchain of user contracts: install the compiler once, write a contract
project from a template, build a project into its module and interface file.

A project (written by ``new_project``; self-contained, no ``node_modules``)::

    NAME/
      interface.json       methods, their arguments and returns, events (docs/contract-abi.md)
      assembly/index.ts    the contract
      assembly/causeway/   the contract SDK, copied in so that the project builds on its own
      build/               NAME.wasm and NAME.interface.json, written by ``build``

The compiler is npm's ``assemblyscript``, pinned exactly, with integrity hashes, by the
package-lock.json committed beside this module. ``install`` runs ``npm ci`` once into a shared
folder, ``$CAUSEWAY_TOOLCHAINS/assemblyscript-VERSION`` (default ``~/.cache/causeway/toolchains``);
``build`` runs the compiler there with ``node`` and fixed flags, so a build reaches no network
and no project can change how it is compiled.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from causeway.errors import RequestError, ToolchainError
from causeway.types.interface import ContractInterface, parse_interface

VERSION = "0.28.20"
TEMPLATES: tuple[str, ...] = ("counter", "registry", "token")
TOOLCHAINS_VARIABLE = "CAUSEWAY_TOOLCHAINS"
DEFAULT_TOOLCHAINS_FOLDER = Path("~/.cache/causeway/toolchains")
# The compiler's package declares `engines: node >= 20`, but Debian 12's nodejs 18.20.4 builds
# the templates byte for byte alike (checked by hand), and 18 is what `apt-get install nodejs`
# gives there.
NODE_MAJOR_VERSION_MIN = 18

INTERFACE_FILE_NAME = "interface.json"
ENTRY_FILE = "assembly/index.ts"
SDK_FOLDER = "assembly/causeway"
BUILD_FOLDER = "build"
# AssemblyScript's abort (a failed assert, an index out of range) becomes a revert with its
# message (sdk/revert.ts) instead of an import of `env.abort`, which the chain refuses.
ABORT_HANDLER = "assembly/causeway/revert/abort"
# `stub`: a bump allocator that never frees, the smallest runtime, enough for an instance that
# lives one call. Only the compiler's default features (mutable globals, sign extension,
# non-trapping float to int, bulk memory): threads, SIMD and reference types stay off.
COMPILER_FLAGS: tuple[str, ...] = (
    "-O3",
    "--runtime",
    "stub",
    "--use",
    f"abort={ABORT_HANDLER}",
    "--noColors",
)
INSTALL_TIMEOUT_SECONDS = 600
BUILD_TIMEOUT_SECONDS = 300
# How much of a failed tool's output an error carries (its end, where the cause usually is).
TOOL_OUTPUT_CHARACTERS_MAX = 8000

_FILES = Path(__file__).resolve().parent / "assemblyscript"
_PACKAGE_FILES = ("package.json", "package-lock.json")
# Python's caches beside a template's tests (an installed package compiles them) are not part
# of it.
_NOT_COPIED = shutil.ignore_patterns("__pycache__", ".pytest_cache")
# Written into the shared folder last: its presence, with the committed lock's hash, is what
# "installed" means, so an interrupted install is never taken for a finished one.
_STAMP_FILE_NAME = "causeway-installed"


@dataclass(frozen=True, slots=True)
class Toolchain:
    """An installed compiler: the shared folder and the ``node`` that runs it."""

    folder: Path
    node: Path

    @property
    def compiler(self) -> Path:
        return self.folder / "node_modules" / "assemblyscript" / "bin" / "asc.js"


def toolchains_folder() -> Path:
    """The shared folder of every toolchain: ``$CAUSEWAY_TOOLCHAINS`` or the default."""
    configured = os.environ.get(TOOLCHAINS_VARIABLE)
    folder = Path(configured) if configured else DEFAULT_TOOLCHAINS_FOLDER
    return folder.expanduser()


def toolchain_folder(root: Path | None = None) -> Path:
    """Where this version of the compiler is installed, below ``root`` or the shared folder."""
    return (root if root is not None else toolchains_folder()) / f"assemblyscript-{VERSION}"


def install(root: Path | None = None) -> Toolchain:
    """The compiler, installed with ``npm ci`` from the committed lock file if it is not yet.

    Safe to call from several processes at once (a file lock); an install is staged beside the
    folder and moved into place when complete. Raises ToolchainError when node or npm is missing
    or too old, or npm fails."""
    folder = toolchain_folder(root)
    node = _program("node")
    _check_node_version(node)
    if _installed(folder):
        return Toolchain(folder, node)
    npm = _program("npm")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder.parent / f"{folder.name}.lock"):
        if _installed(folder):
            return Toolchain(folder, node)
        staging = folder.parent / f"{folder.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in _PACKAGE_FILES:
            shutil.copyfile(_FILES / "toolchain" / name, staging / name)
        run_tool(
            [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            staging,
            INSTALL_TIMEOUT_SECONDS,
            f"npm ci could not install AssemblyScript {VERSION} into {staging}",
        )
        (staging / _STAMP_FILE_NAME).write_text(_lock_hash() + "\n", encoding="utf-8")
        # Whatever is there was installed from another lock file (or half removed): replace it.
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return Toolchain(folder, node)


def new_project(template: str, name: str, destination: Path) -> Path:
    """Writes a contract project named ``name`` from a template into ``destination`` (a new or
    empty folder), with a copy of the SDK. Returns ``destination``. Nothing is written when a
    check fails."""
    if template not in TEMPLATES:
        raise RequestError(
            f"no AssemblyScript template {template!r}: choose one of {', '.join(TEMPLATES)}"
        )
    try:
        # The name goes into the interface file: the chain's rules for it apply.
        parse_interface(json.dumps({"abi": 1, "name": name}))
    except RequestError as error:
        raise RequestError(f"contract name {name!r}: {error.message}") from None
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise RequestError(f"{destination} exists and is not an empty folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the destination and moved into place, so that a failure leaves nothing.
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".new-contract-") as staging:
        project = Path(staging) / "project"
        shutil.copytree(_FILES / "templates" / template, project, ignore=_NOT_COPIED)
        shutil.copytree(_FILES / "sdk", project / SDK_FOLDER)
        interface_path = project / INTERFACE_FILE_NAME
        interface = json.loads(interface_path.read_text(encoding="utf-8"))
        interface["name"] = name
        interface_path.write_text(json.dumps(interface, indent=2) + "\n", encoding="utf-8")
        if destination.exists():
            destination.rmdir()  # empty, checked above
        project.rename(destination)
    return destination


def build(project: Path, toolchain: Toolchain | None = None) -> tuple[Path, Path]:
    """Compiles a project into ``build/NAME.wasm`` and copies its interface file to
    ``build/NAME.interface.json``; returns both paths. Installs the compiler first when no
    toolchain is given and it is missing.

    Raises RequestError when the project has no interface file or entry file, or a malformed
    interface; ToolchainError, with the compiler's message, when the source does not compile.
    A failed build leaves the previous build's files as they were."""
    if not project.is_dir():
        raise RequestError(f"{project} is not a contract project (not a folder)")
    interface_path = project / INTERFACE_FILE_NAME
    if not interface_path.is_file():
        raise RequestError(
            f"{project} has no {INTERFACE_FILE_NAME}: a contract needs its interface file "
            "(docs/contract-abi.md)"
        )
    name = read_interface(interface_path).name
    if not (project / ENTRY_FILE).is_file():
        raise RequestError(f"{project} has no {ENTRY_FILE}: the contract's source goes there")
    toolchain = toolchain if toolchain is not None else install()
    output_folder = project / BUILD_FOLDER
    output_folder.mkdir(exist_ok=True)
    module_path = output_folder / f"{name}.wasm"
    # The compiler picks its output format by the extension: the partial file ends in .wasm.
    partial_path = output_folder / f"{name}.partial.wasm"
    partial_path.unlink(missing_ok=True)
    run_tool(
        [
            str(toolchain.node),
            str(toolchain.compiler),
            ENTRY_FILE,
            *COMPILER_FLAGS,
            # Flags come from here only: pointing --config at this empty file keeps a
            # project's own asconfig.json from changing them.
            "--config",
            str(_FILES / "toolchain" / "asconfig.json"),
            "--outFile",
            str(partial_path.relative_to(project)),
        ],
        project,
        BUILD_TIMEOUT_SECONDS,
        f"{project}: the AssemblyScript compiler failed",
        reason="build_failed",
    )
    if not partial_path.is_file():
        raise ToolchainError(
            f"{project}: the AssemblyScript compiler wrote no module", reason="build_failed"
        )
    interface_copy = output_folder / f"{name}.interface.json"
    shutil.copyfile(interface_path, interface_copy)
    partial_path.replace(module_path)
    return module_path, interface_copy


def read_interface(path: Path) -> ContractInterface:
    """A contract's interface file, checked by the chain's own rules (causeway.types.interface);
    RequestError naming the file and what is wrong otherwise."""
    try:
        return parse_interface(path.read_bytes())
    except OSError as error:
        raise RequestError(f"{path} cannot be read: {error}") from error
    except RequestError as error:
        raise RequestError(f"{path}: {error.message}") from None


def _installed(folder: Path) -> bool:
    try:
        stamp = (folder / _STAMP_FILE_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return stamp == _lock_hash() and Toolchain(folder, Path()).compiler.is_file()


def _lock_hash() -> str:
    return hashlib.sha256((_FILES / "toolchain" / "package-lock.json").read_bytes()).hexdigest()


def _program(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise ToolchainError(
            f"{name} is not installed: the AssemblyScript toolchain needs Node.js "
            f"{NODE_MAJOR_VERSION_MIN} or later with npm "
            "(scripts/toolchain-assemblyscript.sh installs them)"
        )
    return Path(found)


def _check_node_version(node: Path) -> None:
    output = run_tool([str(node), "--version"], Path.cwd(), 60, f"{node} --version failed")
    match = re.fullmatch(r"v(\d+)\.\d+\.\d+\S*", output.strip())
    if match is None or int(match.group(1)) < NODE_MAJOR_VERSION_MIN:
        raise ToolchainError(
            f"{node} is Node.js {output.strip()!r}; AssemblyScript {VERSION} needs "
            f"{NODE_MAJOR_VERSION_MIN} or later"
        )


def run_tool(
    command: Sequence[str],
    folder: Path,
    timeout_seconds: int,
    failure: str,
    *,
    reason: str | None = None,
) -> str:
    """Runs a tool in ``folder``; its standard output, or ToolchainError with its output."""
    try:
        completed = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ToolchainError(
            f"{failure}: no answer within {timeout_seconds} s", reason=reason
        ) from error
    except OSError as error:
        raise ToolchainError(f"{failure}: {error}", reason=reason) from error
    if completed.returncode != 0:
        output = (completed.stderr + completed.stdout).strip()[-TOOL_OUTPUT_CHARACTERS_MAX:]
        raise ToolchainError(
            f"{failure} (exit status {completed.returncode}):\n{output}", reason=reason
        )
    return completed.stdout


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
