"""The AssemblyScript toolchain, installed once (npm ci into the shared folder, a no-op when it
is there) and each template, and the SDK's probe contract, built once per session: a build
takes 6 to 10 seconds. Each Rust template too, built once per session (2 to 3 seconds each)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from causeway.toolchains import assemblyscript, rust

# The helpers next to this file, and the runtime's dict-backed Host (tests/vm/vm_support.py)
# that runs the built contracts, importable under any pytest import mode.
_HERE = Path(__file__).resolve().parent
for _folder in (str(_HERE), str(_HERE.parent)):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

from toolchain_support import Built  # noqa: E402

PROBE_SOURCE = _HERE / "probe"


@pytest.fixture(scope="session")
def toolchain() -> assemblyscript.Toolchain:
    return assemblyscript.install()


@pytest.fixture(scope="session")
def built(
    toolchain: assemblyscript.Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Built]:
    """Every template, built as a new project of the same name, and the probe as "probe"."""
    root = tmp_path_factory.mktemp("contracts")
    projects = {
        template: assemblyscript.new_project(template, template, root / template)
        for template in assemblyscript.TEMPLATES
    }
    # The probe starts as a counter project (for the SDK) and takes its own source.
    probe = assemblyscript.new_project("counter", "probe", root / "probe")
    shutil.copyfile(PROBE_SOURCE / "assembly" / "index.ts", probe / "assembly" / "index.ts")
    shutil.copyfile(PROBE_SOURCE / "interface.json", probe / "interface.json")
    shutil.copyfile(PROBE_SOURCE / "asconfig.json", probe / "asconfig.json")
    projects["probe"] = probe
    result: dict[str, Built] = {}
    for name, project in projects.items():
        module, interface = assemblyscript.build(project, toolchain)
        result[name] = Built(project, module, interface)
    return result


@pytest.fixture(scope="session")
def rust_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every Rust template, built as a new project of the same name."""
    root = tmp_path_factory.mktemp("rust-contracts")
    result: dict[str, Built] = {}
    for template in rust.TEMPLATES:
        project = rust.new_project(template, template, root / template)
        module, interface = rust.build(project)
        result[template] = Built(project, module, interface)
    return result
