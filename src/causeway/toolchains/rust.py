"""Rust contracts: a new project from a template, and its build into a module and an interface.

The toolchain is Debian's (rustc 1.63, cargo, libstd-rust-dev-wasm32, lld), because no crate
registry is reachable: a contract depends only on the SDK crate `causeway-contract`
(``rust/sdk/``), which `new_project` copies into the project's ``vendor/`` folder so that the
project builds offline on its own. Debian's programs are called by their paths
(``/usr/bin/cargo``, ``/usr/bin/rustc``, or ``CAUSEWAY_CARGO`` and ``CAUSEWAY_RUSTC``), never
looked up on PATH: a rustup toolchain found first there usually lacks the wasm32 target.

`build` passes every setting the module depends on explicitly (target, release profile, stack
size, the one unstable attribute the SDK needs), so that the project's ``.cargo/config.toml``
only matters to a developer running cargo by hand. Its output is ``build/NAME.wasm`` and
``build/NAME.interface.json``, NAME being the interface's name.

Errors: an unknown template, a bad name or a project folder that is not a contract project is
the caller's (``RequestError`` and its children, nothing written); a missing toolchain, a
compiler's refusal or a module that does not match its interface is a ``ToolchainError`` whose
message says what to install or holds the compiler's own message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from causeway.errors import InvariantError, NotFoundError, RequestError, ToolchainError
from causeway.types.interface import INTERFACE_BYTES_MAX, parse_interface

__all__ = [
    "DEBIAN_PACKAGES",
    "TEMPLATES",
    "Toolchain",
    "build",
    "find_toolchain",
    "new_project",
]

TEMPLATES: tuple[str, ...] = ("counter", "token", "registry")
DEBIAN_PACKAGES: tuple[str, ...] = ("rustc", "cargo", "libstd-rust-dev-wasm32", "lld")

TARGET = "wasm32-unknown-unknown"
# 64 KiB of stack instead of rustc's 1 MiB: the module's initial memory is then 2 pages, within
# the chain's bound, instead of 17.
STACK_BYTES = 65_536
SDK_CRATE = "causeway-contract"
# The SDK's one unstable attribute (`#[alloc_error_handler]`, needed by a no_std crate using
# `alloc` before Rust 1.68) is allowed for the SDK crate alone.
UNSTABLE_ALLOWED_CRATE = "causeway_contract"
ABI_VERSION_EXPORT = "causeway_abi_v1"

BUILD_TIMEOUT_S = 600
COMPILER_MESSAGE_CHARACTERS_MAX = 20_000

DEFAULT_CARGO = Path("/usr/bin/cargo")
DEFAULT_RUSTC = Path("/usr/bin/rustc")
CARGO_ENVIRONMENT = "CAUSEWAY_CARGO"
RUSTC_ENVIRONMENT = "CAUSEWAY_RUSTC"

VENDOR_FOLDER = Path("vendor") / SDK_CRATE
BUILD_FOLDER = "build"
INTERFACE_FILE = "interface.json"

_RUST_FOLDER = Path(__file__).resolve().parent / "rust"
_SDK_FOLDER = _RUST_FOLDER / "sdk"
_TEMPLATES_FOLDER = _RUST_FOLDER / "templates"
# Builds made in place, editors' leftovers and Python's caches beside a template's tests (an
# installed package compiles them) are not part of a template.
_NOT_COPIED = shutil.ignore_patterns(
    "target", "Cargo.lock", BUILD_FOLDER, "__pycache__", ".pytest_cache"
)

# A project name becomes a cargo package, a crate, a file name and the contract's name: both a
# deployed contract's name (execution's code contract) and an interface's name
# (types/interface.py) must accept it.
_PROJECT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Names cargo refuses for a package, or that would shadow a crate the contract links.
_RESERVED_NAMES = frozenset({"alloc", "core", "std", "test", "proc_macro", "causeway_contract"})
_PACKAGE_NAME_LINE = re.compile(r'^name = "[^"\n]*"$', re.MULTILINE)
_SDK_DEPENDENCY_LINE = re.compile(r'^causeway-contract = \{ path = "[^"\n]*" \}$', re.MULTILINE)
# The interface's own name: the templates write it on the second line, indented by two spaces.
_INTERFACE_NAME_LINE = re.compile(r'^  "name": "[^"\n]*",$', re.MULTILINE)
_INSTALL_HINT = (
    f"install Debian's packages with `apt-get install -y {' '.join(DEBIAN_PACKAGES)}` "
    "(scripts/toolchain-rust.sh does it)"
)


@dataclass(frozen=True, slots=True)
class Toolchain:
    cargo: Path
    rustc: Path


def find_toolchain(environment: Mapping[str, str] | None = None) -> Toolchain:
    """Debian's cargo and rustc with the wasm32 standard library and the linker, or a
    ToolchainError naming what to install."""
    environment = os.environ if environment is None else environment
    cargo = Path(environment.get(CARGO_ENVIRONMENT) or DEFAULT_CARGO)
    rustc = Path(environment.get(RUSTC_ENVIRONMENT) or DEFAULT_RUSTC)
    for program, variable in ((cargo, CARGO_ENVIRONMENT), (rustc, RUSTC_ENVIRONMENT)):
        if not (program.is_file() and os.access(program, os.X_OK)):
            raise ToolchainError(
                f"the Rust toolchain is missing: {program} is not an executable file; "
                f"{_INSTALL_HINT}, or set {variable}"
            )
    sysroot = _run_for_output([str(rustc), "--print", "sysroot"])
    standard_library = Path(sysroot) / "lib" / "rustlib" / TARGET / "lib"
    if not any(standard_library.glob("libcore-*.rlib")):
        raise ToolchainError(
            f"{rustc} has no standard library for {TARGET} (looked in {standard_library}); "
            f"{_INSTALL_HINT}"
        )
    # rustc links wasm32 with rust-lld, which Debian's rustc finds beside itself.
    linker = rustc.parent / "rust-lld"
    if not linker.exists():
        raise ToolchainError(
            f"the linker {linker} is missing (Debian's package lld provides it); {_INSTALL_HINT}"
        )
    return Toolchain(cargo=cargo, rustc=rustc)


def new_project(template: str, name: str, destination: Path) -> Path:
    """Writes a contract project named `name` at `destination` (a folder that must not exist)
    from `template`, with the SDK crate under ``vendor/causeway-contract``: the project builds
    on its own. Returns `destination`. Nothing is written when anything is refused."""
    if template not in TEMPLATES:
        raise NotFoundError(
            f"no Rust contract template {template!r}; the templates are {', '.join(TEMPLATES)}"
        )
    if not _PROJECT_NAME.fullmatch(name) or name.replace("-", "_") in _RESERVED_NAMES:
        raise RequestError(
            f"bad project name {name!r}: 1 to 64 characters of lowercase letters, digits and "
            "'_', starting with a letter, and not a name Rust reserves"
        )
    destination = Path(destination)
    if destination.exists() or destination.is_symlink():
        raise RequestError(f"{destination} already exists; choose a new folder for the project")
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the destination and renamed at the end, so that a failure leaves nothing.
    partial = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        project = partial / "project"
        shutil.copytree(_TEMPLATES_FOLDER / template, project, ignore=_NOT_COPIED)
        shutil.copytree(_SDK_FOLDER, project / VENDOR_FOLDER, ignore=_NOT_COPIED)
        _rewrite_manifest(project / "Cargo.toml", name)
        _rewrite_interface_name(project / INTERFACE_FILE, name)
        project.rename(destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return destination


def build(project_dir: Path, toolchain: Toolchain | None = None) -> tuple[Path, Path]:
    """Compiles the project with Debian's cargo, offline, and writes ``build/NAME.wasm`` and
    ``build/NAME.interface.json``; returns their paths. The interface is checked first, and the
    module must export `causeway_abi_v1` and every method the interface lists."""
    # Absolute: cargo runs inside the project, where a relative path would mean something else.
    project_dir = Path(project_dir).resolve()
    manifest_path = project_dir / "Cargo.toml"
    if not manifest_path.is_file():
        raise NotFoundError(f"{project_dir} is not a Rust contract project: it has no Cargo.toml")
    interface_path = project_dir / INTERFACE_FILE
    if not interface_path.is_file():
        raise NotFoundError(
            f"{project_dir} has no {INTERFACE_FILE}: a contract needs its interface "
            "(docs/contract-abi.md)"
        )
    interface_text = _read_interface(interface_path)
    contract_name, method_names = _check_interface(interface_text, interface_path)
    library_name = _library_name(manifest_path)
    toolchain = find_toolchain() if toolchain is None else toolchain

    target_folder = project_dir / "target"
    _run_cargo(toolchain, project_dir, target_folder)
    compiled = target_folder / TARGET / "release" / f"{library_name}.wasm"
    if not compiled.is_file():
        raise ToolchainError(
            f"cargo succeeded but wrote no {compiled}: is the crate a cdylib "
            '(`[lib] crate-type = ["cdylib"]`)?'
        )
    module_bytes = compiled.read_bytes()
    _check_exports(module_bytes, method_names, interface_path)

    output_folder = project_dir / BUILD_FOLDER
    output_folder.mkdir(exist_ok=True)
    wasm_path = output_folder / f"{contract_name}.wasm"
    output_interface_path = output_folder / f"{contract_name}.interface.json"
    wasm_path.write_bytes(module_bytes)
    output_interface_path.write_text(interface_text, encoding="utf-8")
    return wasm_path, output_interface_path


def _rewrite_manifest(manifest_path: Path, name: str) -> None:
    text = manifest_path.read_text(encoding="utf-8")
    # The first `name = ` line is the package's: the templates open with [package].
    text, renamed = _PACKAGE_NAME_LINE.subn(f'name = "{name}"', text, count=1)
    vendor_path = VENDOR_FOLDER.as_posix()
    text, repointed = _SDK_DEPENDENCY_LINE.subn(f'{SDK_CRATE} = {{ path = "{vendor_path}" }}', text)
    if renamed != 1 or repointed != 1:
        raise InvariantError(
            f"template manifest {manifest_path.name} lacks its package name or SDK dependency line"
        )
    manifest = tomllib.loads(text)
    if (
        manifest["package"]["name"] != name
        or manifest["dependencies"][SDK_CRATE]["path"] != vendor_path
    ):
        raise InvariantError(f"rewriting the template manifest did not give package {name!r}")
    manifest_path.write_text(text, encoding="utf-8")


def _rewrite_interface_name(interface_path: Path, name: str) -> None:
    # A line replaced rather than the JSON dumped again: the template's layout stays readable.
    text, renamed = _INTERFACE_NAME_LINE.subn(
        f'  "name": "{name}",', interface_path.read_text(encoding="utf-8"), count=1
    )
    if renamed != 1 or json.loads(text).get("name") != name:
        raise InvariantError(f"template interface {interface_path.name} lacks its name line")
    interface_path.write_text(text, encoding="utf-8")


def _read_interface(interface_path: Path) -> str:
    if interface_path.stat().st_size > INTERFACE_BYTES_MAX:
        raise RequestError(f"{interface_path} is larger than {INTERFACE_BYTES_MAX} bytes")
    try:
        return interface_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(f"{interface_path} is not UTF-8: {error}") from error


def _check_interface(text: str, interface_path: Path) -> tuple[str, list[str]]:
    """The contract's name and the methods' names, checked as the chain checks them at
    deployment (types/interface.py)."""
    try:
        interface = parse_interface(text)
    except RequestError as error:
        raise RequestError(
            f"{interface_path}: {error.message} (see docs/contract-abi.md)"
        ) from None
    if not _PROJECT_NAME.fullmatch(interface.name):
        raise RequestError(
            f"{interface_path}: the name {interface.name!r} is not a contract name "
            f"({_PROJECT_NAME.pattern})"
        )
    return interface.name, list(interface.methods)


def _library_name(manifest_path: Path) -> str:
    """The crate's library name, which names cargo's .wasm output."""
    try:
        manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RequestError(f"{manifest_path} is not valid TOML: {error}") from error
    library = manifest.get("lib", {})
    package = manifest.get("package", {})
    name = library.get("name") if isinstance(library, dict) else None
    if name is None and isinstance(package, dict):
        name = package.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"{manifest_path} names no package")
    return name.replace("-", "_")


def _run_cargo(toolchain: Toolchain, project_dir: Path, target_folder: Path) -> None:
    command = [
        str(toolchain.cargo),
        "build",
        "--offline",
        "--release",
        "--target",
        TARGET,
        "--manifest-path",
        str(project_dir / "Cargo.toml"),
    ]
    environment = dict(os.environ)
    environment.update(
        {
            "RUSTC": str(toolchain.rustc),
            # Above RUSTFLAGS and every config file: the module does not depend on them.
            "CARGO_ENCODED_RUSTFLAGS": f"-Clink-arg=-zstack-size={STACK_BYTES}",
            "RUSTC_BOOTSTRAP": UNSTABLE_ALLOWED_CRATE,
            "CARGO_TARGET_DIR": str(target_folder),
            "CARGO_TERM_COLOR": "never",
            # rustc's own folder first, so that its rust-lld is the linker found.
            "PATH": os.pathsep.join([str(toolchain.rustc.parent), environment.get("PATH", "")]),
        }
    )
    try:
        completed = subprocess.run(
            command,
            cwd=project_dir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ToolchainError(
            f"cargo build of {project_dir} took more than {BUILD_TIMEOUT_S} s"
        ) from error
    except OSError as error:
        raise ToolchainError(f"cannot run {toolchain.cargo}: {error}; {_INSTALL_HINT}") from error
    if completed.returncode != 0:
        message = completed.stderr.strip()[-COMPILER_MESSAGE_CHARACTERS_MAX:]
        raise ToolchainError(f"cargo build of {project_dir} failed:\n{message}")


def _check_exports(module_bytes: bytes, method_names: list[str], interface_path: Path) -> None:
    try:
        module = wasmtime.Module(wasmtime.Engine(), module_bytes)
    except wasmtime.WasmtimeError as error:
        raise ToolchainError(f"the compiled module is not valid WebAssembly: {error}") from error
    # Every entry point of ABI v1 is a function taking and returning nothing.
    entry_points = {
        export.name
        for export in module.exports
        if isinstance(export.type, wasmtime.FuncType)
        and not export.type.params
        and not export.type.results
    }
    missing = [name for name in [ABI_VERSION_EXPORT, *method_names] if name not in entry_points]
    if missing:
        raise ToolchainError(
            f"the module does not export {', '.join(missing)} as a function () -> (), as "
            f'{interface_path.name} requires (export each method as #[no_mangle] pub extern "C" '
            "fn NAME(), and write causeway_contract::abi_v1!(); once)"
        )


def _run_for_output(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolchainError(f"cannot run {command[0]}: {error}; {_INSTALL_HINT}") from error
    if completed.returncode != 0:
        raise ToolchainError(f"{' '.join(command)} failed: {completed.stderr.strip()}")
    return completed.stdout.strip()
