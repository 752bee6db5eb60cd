"""`causeway contract new | build | test` (causeway.cli.contract_project_commands), and the tests
every template ships, run against its built module in both languages as `causeway contract
test` runs them.

The commands are mounted here on a `contract` group under the CLI's own root group (which turns
errors into one line and an exit status), as the `causeway` command mounts them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import typer
from toolchain_support import Built
from typer.testing import CliRunner

from causeway import toolchains
from causeway.cli import contract_project_commands
from causeway.cli.main import CausewayGroup
from causeway.errors import RequestError
from causeway.toolchains import assemblyscript, rust

TEMPLATE_FOLDERS = {
    "assemblyscript": Path(assemblyscript.__file__).resolve().parent / "assemblyscript",
    "rust": Path(rust.__file__).resolve().parent / "rust",
}


def _application() -> typer.Typer:
    root = typer.Typer(cls=CausewayGroup, name="causeway", add_completion=False)

    @root.callback()
    def _root() -> None:
        """The root group, as in causeway.cli.main."""

    group = typer.Typer(name="contract", no_args_is_help=True)
    contract_project_commands.register(group)
    root.add_typer(group)
    return root


APPLICATION = _application()


def invoke(*arguments: str, environment: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(APPLICATION, ["contract", *arguments], env=environment)
    return result.exit_code, result.stdout, result.stderr


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def summary(output: str) -> str:
    """pytest's closing line, without its time."""
    lines = [line for line in output.splitlines() if line.strip()]
    return re.sub(r" in [\d.]+s", "", lines[-1]).strip("= ")


# -- new ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", toolchains.LANGUAGES)
def test_new_writes_a_project_with_its_tests(tmp_path: Path, language: str) -> None:
    code, output, _ = invoke(
        "new", "my_token", "--lang", language, "--template", "token", "--dir", str(tmp_path)
    )
    assert code == 0
    project = tmp_path / "my_token"
    assert f"created {project} ({language}, from the token template)" in output
    assert "causeway contract test" in output
    assert (project / "tests" / "conftest.py").is_file()
    assert (project / "tests" / "test_token.py").read_bytes() == (
        TEMPLATE_FOLDERS[language] / "templates" / "token" / "tests" / "test_token.py"
    ).read_bytes()
    assert toolchains.project_language(project) == language


def test_new_takes_the_counter_and_the_current_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = invoke("new", "tally", "--lang", "rust")
    assert code == 0
    assert (tmp_path / "tally" / "tests" / "test_counter.py").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["Token", "--lang", "rust"], "bad contract name 'Token'"),
        (["my-token", "--lang", "assemblyscript"], "bad contract name 'my-token'"),
        (["9lives", "--lang", "assemblyscript"], "bad contract name '9lives'"),
        (["token", "--lang", "cobol"], "unknown language 'cobol': one of assemblyscript, rust"),
        (["token", "--lang", "rust", "--template", "bank"], "no Rust contract template 'bank'"),
        (
            ["token", "--lang", "assemblyscript", "--template", "bank"],
            "no AssemblyScript template 'bank'",
        ),
    ],
)
def test_new_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    code, output, error = invoke("new", *arguments, "--dir", str(tmp_path))
    assert code == 1
    assert message in error
    assert error.startswith("error: ")
    assert listing(tmp_path) == []
    assert output == ""


@pytest.mark.parametrize(
    ("language", "message"),
    [("rust", "already exists"), ("assemblyscript", "exists and is not an empty folder")],
)
def test_new_refuses_an_existing_project_folder(
    tmp_path: Path, language: str, message: str
) -> None:
    (tmp_path / "token").mkdir()
    (tmp_path / "token" / "notes.txt").write_text("mine")
    code, _, error = invoke("new", "token", "--lang", language, "--dir", str(tmp_path))
    assert code == 1
    assert message in error
    assert listing(tmp_path) == ["token", "token/notes.txt"]


def test_new_needs_a_language(tmp_path: Path) -> None:
    code, _, error = invoke("new", "token", "--dir", str(tmp_path))
    assert code == 2
    assert "--lang" in error
    assert listing(tmp_path) == []


@pytest.mark.parametrize("language", toolchains.LANGUAGES)
def test_new_project_copies_no_python_cache_from_a_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    # An installed package byte-compiles the templates' tests beside them.
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATE_FOLDERS[language], copy)
    cache = copy / "templates" / "counter" / "tests" / "__pycache__"
    cache.mkdir(exist_ok=True)  # the checkout's own, when its modules were compiled
    (cache / "test_counter.cpython-311.pyc").write_bytes(b"compiled")
    if language == "rust":
        monkeypatch.setattr(rust, "_TEMPLATES_FOLDER", copy / "templates")
        monkeypatch.setattr(rust, "_SDK_FOLDER", copy / "sdk")
    else:
        monkeypatch.setattr(assemblyscript, "_FILES", copy)
    project = toolchains.new_project(language, "counter", "counter", tmp_path / "counter")
    assert (project / "tests" / "test_counter.py").is_file()
    assert not list(project.rglob("__pycache__"))


def test_both_languages_ship_the_same_template_tests() -> None:
    for template in toolchains.TEMPLATES:
        folders = [
            TEMPLATE_FOLDERS[language] / "templates" / template / "tests"
            for language in toolchains.LANGUAGES
        ]
        # Bytecode beside them is not shipped (new_project leaves it out; the test above).
        shipped = [
            [name for name in listing(folder) if "__pycache__" not in name] for folder in folders
        ]
        assert shipped == [["conftest.py", f"test_{template}.py"]] * 2
        for name in ("conftest.py", f"test_{template}.py"):
            assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes()


# -- build -------------------------------------------------------------------------------------


def test_build_refuses_a_missing_folder_and_a_folder_that_is_no_project(tmp_path: Path) -> None:
    code, _, error = invoke("build", str(tmp_path / "nothing"))
    assert (code, error) == (
        1,
        f"error: there is no contract project at {tmp_path}/nothing: no such folder\n",
    )
    code, _, error = invoke("build", str(tmp_path))
    assert code == 1
    assert f"{tmp_path} is not a contract project" in error


def test_build_without_the_rust_toolchain_names_what_to_install(tmp_path: Path) -> None:
    project = toolchains.new_project("rust", "counter", "counter", tmp_path / "counter")
    code, _, error = invoke(
        "build", str(project), environment={"CAUSEWAY_CARGO": str(tmp_path / "no-cargo")}
    )
    assert code == 1
    assert "the Rust toolchain is missing" in error
    assert "apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld" in error
    assert not (project / "build").exists()


def test_build_without_node_names_what_to_install(tmp_path: Path) -> None:
    project = toolchains.new_project("assemblyscript", "counter", "counter", tmp_path / "counter")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    code, _, error = invoke("build", str(project), environment={"PATH": str(empty)})
    assert code == 1
    assert "node is not installed" in error
    assert "Node.js 18 or later with npm" in error


def test_build_prints_the_module_its_size_and_methods_and_a_failure_the_compilers_message(
    tmp_path: Path,
) -> None:
    project = toolchains.new_project("rust", "token", "my_token", tmp_path / "my_token")
    code, output, _ = invoke("build", str(project))
    assert code == 0
    module = project / "build" / "my_token.wasm"
    assert str(module) in output
    assert f"({module.stat().st_size:,} bytes)" in output
    assert "transfer(to: string, amount: uint64)" in output
    assert "balance(owner: string) -> (amount: uint64) [read-only]" in output

    source = project / "src" / "lib.rs"
    source.write_text(source.read_text() + '\nfn broken() -> u64 { "not a number" }\n')
    code, output, error = invoke("build", str(project))
    assert code == 1
    first, *rest = error.splitlines()
    assert first.startswith("error: cargo build of")
    # The compiler's own lines, kept as lines: where and what.
    assert any("mismatched types" in line for line in rest)
    assert any("src/lib.rs" in line for line in rest)
    assert module.is_file()  # the last good build stays


def test_build_json_for_scripts(rust_built: dict[str, Built]) -> None:
    project = rust_built["counter"].project
    code, output, _ = invoke("build", str(project), "--json")
    assert code == 0
    document = json.loads(output)
    assert document["contract"] == "counter"
    assert document["language"] == "rust"
    assert document["module"] == str(project / "build" / "counter.wasm")
    assert document["module_bytes"] == (project / "build" / "counter.wasm").stat().st_size
    assert document["methods"] == [
        "init(start: uint64)",
        "increment() -> (value: uint64)",
        "get() -> (value: uint64) [read-only]",
    ]


# -- test --------------------------------------------------------------------------------------


def test_test_refuses_a_project_without_tests_and_a_missing_pytest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = toolchains.new_project("rust", "counter", "counter", tmp_path / "counter")
    shutil.rmtree(project / "tests")
    code, _, error = invoke("test", str(project))
    assert code == 1
    assert f"{project} has no tests/ folder" in error
    assert not (project / "build").exists()
    code, _, error = invoke("test", str(tmp_path / "nothing"))
    assert code == 1
    assert "no such folder" in error

    monkeypatch.setattr(contract_project_commands, "_pytest_installed", lambda: False)
    code, _, error = invoke("test", str(project))
    assert code == 1
    assert "pytest is not installed" in error
    assert "-m pip install pytest" in error


@pytest.mark.parametrize(
    ("language", "template"), [("assemblyscript", "token"), ("rust", "registry")]
)
def test_new_build_test_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str, template: str
) -> None:
    # As a person types it: relative paths, from the folder the project goes in.
    monkeypatch.chdir(tmp_path)
    name = f"my_{template}"
    assert invoke("new", name, "--lang", language, "--template", template)[0] == 0
    assert invoke("build", name)[0] == 0
    code, output, _ = invoke("test", name)
    assert code == 0, output
    assert f"built {tmp_path / name / 'build' / name}.wasm" in output
    assert summary(output) == "6 passed"
    if language == "rust":
        # From inside the project; what follows -- is pytest's; the exit status is pytest's.
        monkeypatch.chdir(tmp_path / name)
        code, output, _ = invoke("test", "--", "-k", "list", "--chain-profile", "gm")
        assert code == 0, output
        assert summary(output) == "1 passed, 5 deselected"
        test_file = tmp_path / name / "tests" / f"test_{template}.py"
        test_file.write_text(
            test_file.read_text().replace('"get: air is not registered"', '"something else"')
        )
        code, output, _ = invoke("test", ".", "--", "-q")
        assert code == 1
        assert summary(output) == "1 failed, 5 passed"
        assert "something else" in output


# -- the templates' own tests ------------------------------------------------------------------


def _run_template_tests(contract: Built) -> str:
    command, environment = toolchains.project_tests_command(
        contract.project, contract.module, ["-p", "no:cacheprovider"]
    )
    completed = subprocess.run(
        command,
        cwd=contract.project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return summary(completed.stdout)


EXPECTED_PASSES = {"counter": 5, "token": 6, "registry": 6}


@pytest.mark.parametrize("template", toolchains.TEMPLATES)
def test_the_assemblyscript_templates_pass_their_tests(
    built: dict[str, Built], template: str
) -> None:
    assert _run_template_tests(built[template]) == f"{EXPECTED_PASSES[template]} passed"


@pytest.mark.parametrize("template", toolchains.TEMPLATES)
def test_the_rust_templates_pass_their_tests(rust_built: dict[str, Built], template: str) -> None:
    assert _run_template_tests(rust_built[template]) == f"{EXPECTED_PASSES[template]} passed"


def test_project_tests_command_names_the_module_and_the_plugin(tmp_path: Path) -> None:
    command, environment = toolchains.project_tests_command(
        tmp_path, tmp_path / "build" / "x.wasm", ["-k", "transfer"]
    )
    assert command[1:] == [
        "-m",
        "pytest",
        "-p",
        "causeway.toolchains.pytest_plugin",
        "--rootdir",
        str(tmp_path),
        str(tmp_path / "tests"),
        "-k",
        "transfer",
    ]
    assert environment["CAUSEWAY_CONTRACT_MODULE"] == str(tmp_path / "build" / "x.wasm")


def test_a_name_is_checked_alike_in_both_languages(tmp_path: Path) -> None:
    for language in toolchains.LANGUAGES:
        with pytest.raises(RequestError, match="bad contract name 'Counter'"):
            toolchains.new_project(language, "counter", "Counter", tmp_path / "Counter")
    assert listing(tmp_path) == []
