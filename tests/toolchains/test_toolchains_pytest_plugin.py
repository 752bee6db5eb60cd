"""causeway.toolchains.pytest_plugin run by hand, as a contract's author runs `pytest` in the
project: the plugin finds the project and builds it, or says what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from toolchain_support import Built

from causeway.toolchains import MODULE_VARIABLE, PLUGIN_MODULE


def run_pytest(folder: Path, *arguments: str, module: str | None = None) -> tuple[int, str]:
    environment = {key: value for key, value in os.environ.items() if key != MODULE_VARIABLE}
    if module is not None:
        environment[MODULE_VARIABLE] = module
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr


def test_plain_pytest_in_a_project_builds_it_and_runs_its_tests(
    rust_built: dict[str, Built], tmp_path: Path
) -> None:
    project = tmp_path / "counter"
    shutil.copytree(rust_built["counter"].project, project)
    shutil.rmtree(project / "build")
    # The project's tests/conftest.py loads the plugin; the gm profile is the plugin's option.
    code, output = run_pytest(project, "-q", "tests", "--chain-profile", "gm")
    assert code == 0, output
    assert "5 passed" in output
    assert (project / "build" / "counter.wasm").is_file()


def test_tests_outside_a_project_are_told_what_is_missing(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_alone.py").write_text(
        "from pathlib import Path\n\n\n"
        "def test_module(contract_module: Path) -> None:\n"
        "    assert contract_module.is_file()\n"
    )
    code, output = run_pytest(tmp_path, "-p", PLUGIN_MODULE, "-q", "tests")
    assert code == 1
    assert "no contract project holds" in output
    assert f"set {MODULE_VARIABLE} to a built module" in output
    code, output = run_pytest(
        tmp_path, "-p", PLUGIN_MODULE, "-q", "tests", module=str(tmp_path / "gone.wasm")
    )
    assert code == 1
    assert f"{MODULE_VARIABLE} names {tmp_path / 'gone.wasm'}, which is not a file" in output
