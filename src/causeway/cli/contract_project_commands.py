"""`causeway contract new | build | test`: a contract project from a template, its module, and its
tests run against a chain in this process (causeway.toolchains; no node needed).

``register(app)`` adds the three commands to a typer group (the ``causeway contract`` group).
``test`` builds the project, then runs pytest on ``PROJECT/tests`` in a child process with the
fixtures of ``causeway.toolchains.pytest_plugin`` and the built module's path in
``CAUSEWAY_CONTRACT_MODULE``; what follows ``--`` goes to pytest as it is, and the command ends
with pytest's exit status (0 passed, 1 some failed, 5 no test, ...).
"""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.text import Text
from typer.core import TyperCommand

from causeway.cli.output import EXIT_ERROR, console, key_value_table, print_error, print_json
from causeway.errors import InvariantError, RequestError, ToolchainError

if TYPE_CHECKING:
    from causeway.types.interface import ContractInterface, Field, MethodInterface

DEFAULT_TEMPLATE = "counter"
# Where the command keeps what follows `--` on its command line, for pytest.
_PYTEST_ARGUMENTS = "causeway.pytest_arguments"


class PytestArgumentsCommand(TyperCommand):
    """A command whose arguments after ``--`` are pytest's, kept apart before typer parses the
    rest: ``test -- -k transfer`` must not take ``-k`` for the PROJECT argument."""

    # `ctx` is typer's click Context, whose class moved between typer versions.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            separator = args.index("--")
            ctx.meta[_PYTEST_ARGUMENTS] = args[separator + 1 :]
            args = args[:separator]
        return super().parse_args(ctx, args)


def new_project(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The contract's name (1 to 64 of a-z, 0-9 and '_', starting with a letter); "
            "also the project folder's.",
        ),
    ],
    language: Annotated[
        str,
        typer.Option("--lang", metavar="LANGUAGE", help="assemblyscript or rust."),
    ],
    template: Annotated[
        str,
        typer.Option(
            "--template", metavar="TEMPLATE", help="counter, token or registry (default: counter)."
        ),
    ] = DEFAULT_TEMPLATE,
    parent: Annotated[
        Path,
        typer.Option(
            "--dir", metavar="PARENT", help="Folder to write the project NAME in (default: here)."
        ),
    ] = Path(),
) -> None:
    """Write a new contract project from a template.

    Example:

        causeway contract new my_token --lang rust --template token
    """
    from causeway import toolchains

    project = toolchains.new_project(language, template, name, parent / name)
    console.print(Text(f"created {project} ({language}, from the {template} template)"))
    console.print(
        Text(
            f"next: causeway contract build {project}   (writes build/{name}.wasm)\n"
            f"      causeway contract test {project}    (runs tests/ against a chain in process)"
        )
    )


def build_project(
    project: Annotated[
        Path,
        typer.Argument(metavar="PROJECT", help="The project's folder (default: here)."),
    ] = Path(),
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Compile a contract project into build/NAME.wasm and build/NAME.interface.json.

    Example:

        causeway contract build my_token --json
    """
    from causeway.toolchains import project_language
    from causeway.types.interface import parse_interface

    # Absolute, so that what is printed names the files wherever it is read.
    project = project.resolve()
    module, interface_path = _build(project)
    interface = parse_interface(interface_path.read_bytes())
    size = module.stat().st_size
    if json_output:
        print_json(
            {
                "contract": interface.name,
                "language": project_language(project),
                "module": str(module),
                "module_bytes": size,
                "interface": str(interface_path),
                "methods": [_signature(method) for method in interface.methods.values()],
            }
        )
        return
    console.print(_built_table(interface, module, interface_path, size))


def run_tests(
    context: typer.Context,
    project: Annotated[
        Path,
        typer.Argument(metavar="PROJECT", help="The project's folder (default: here)."),
    ] = Path(),
) -> None:
    """Build a contract project and run its tests (PROJECT/tests) against a chain in this process.

    Arguments after -- go to pytest. The exit status is pytest's.

    Example:

        causeway contract test my_token -- -k transfer --chain-profile gm
    """
    from causeway.toolchains import TESTS_FOLDER, project_tests_command

    if not _pytest_installed():
        raise ToolchainError(
            "pytest is not installed: `causeway contract test` runs a project's tests with it "
            f"(install it with `{Path(sys.executable).name} -m pip install pytest`)"
        )
    project = project.resolve()
    tests = project / TESTS_FOLDER
    _check_project(project)
    if not tests.is_dir():
        raise RequestError(
            f"{project} has no {TESTS_FOLDER}/ folder: a contract's tests go there "
            "(`causeway contract new` writes some)"
        )
    module, _interface = _build(project)
    console.print(Text(f"built {module} ({module.stat().st_size:,} bytes); testing {tests}"))
    command, environment = project_tests_command(
        project, module, context.meta.get(_PYTEST_ARGUMENTS, [])
    )
    raise typer.Exit(_relay(command, environment, project))


def register(app: typer.Typer) -> None:
    """Adds `new`, `build` and `test` to `app` (the `causeway contract` group)."""
    app.command("new")(new_project)
    app.command("build")(build_project)
    app.command("test", cls=PytestArgumentsCommand)(run_tests)


def _pytest_installed() -> bool:
    return importlib.util.find_spec("pytest") is not None


def _check_project(project: Path) -> None:
    from causeway.toolchains import project_language

    if not project.is_dir():
        raise RequestError(f"there is no contract project at {project}: no such folder")
    project_language(project)


def _build(project: Path) -> tuple[Path, Path]:
    """The project built; a failed build ends the command with the compiler's message, its
    lines kept (one folded line would hide where the error is)."""
    from causeway import toolchains

    _check_project(project)
    try:
        return toolchains.build(project)
    except ToolchainError as error:
        first, _, rest = error.message.partition("\n")
        print_error(first)
        if rest:
            sys.stderr.write(rest.rstrip() + "\n")
            sys.stderr.flush()
        raise typer.Exit(EXIT_ERROR) from None


def _relay(command: list[str], environment: dict[str, str], folder: Path) -> int:
    """Runs pytest, passing its output on line by line; its exit status. The child is stopped
    if this process is interrupted."""
    with subprocess.Popen(
        command,
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            if process.stdout is None:
                raise InvariantError("pytest's output is not piped")
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
            return process.wait()
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _fields(fields: tuple[Field, ...]) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in fields)


def _signature(method: MethodInterface) -> str:
    text = f"{method.name}({_fields(method.arguments)})"
    if method.returns:
        text += f" -> ({_fields(method.returns)})"
    if method.read_only:
        text += " [read-only]"
    return text


def _built_table(
    interface: ContractInterface, module: Path, interface_path: Path, size: int
) -> Group:
    return key_value_table(
        f"built {interface.name}",
        [
            ("module", f"{module} ({size:,} bytes)"),
            ("interface", str(interface_path)),
            ("methods", "\n".join(_signature(method) for method in interface.methods.values())),
        ],
    )
