"""Builds the HTML reference of Causeway's public Python API and of the `causeway` command.

The Python reference is pdoc's (the SDK with each of its public submodules, the light client,
the contract toolchains and the data directory's package); the command reference is cli.html,
every command of `causeway` with its help and its options, read from the Typer app itself. Any
warning while building (a docstring pdoc cannot read, a module that fails to import) fails the
build, so that a broken reference is caught by tests/docs/test_reference.py, not by a reader.

    .venv/bin/python scripts/reference.py [OUTPUT_FOLDER]    # default: build/reference
    make reference
"""

from __future__ import annotations

import argparse
import html
import pkgutil
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import pdoc
import pdoc.render
import typer
import typer.main

OUTPUT_DEFAULT = Path("build/reference")
# Packages documented with every public submodule: pdoc follows a package's __all__, which names
# the SDK's classes and functions but none of the modules that hold the rest of its API.
PACKAGES_WITH_SUBMODULES = ("causeway.sdk",)
# Packages documented as pdoc finds them (their __all__ decides which submodules appear).
PACKAGES = ("causeway.light", "causeway.toolchains", "causeway.apps.directory")
CLI_PAGE = "cli.html"
ROOT_COMMAND = "causeway"


@dataclass(frozen=True)
class OptionEntry:
    """One option or argument as `--help` shows it: its names with metavar, and its help."""

    names: str
    help: str


@dataclass(frozen=True)
class CommandEntry:
    """One command of the CLI, by its full path (``causeway tx send``)."""

    path: str
    help: str
    options: tuple[OptionEntry, ...]
    is_group: bool


def public_submodules(package_name: str) -> list[str]:
    """The package and its submodules whose names have no leading underscore, recursively."""
    package = import_module(package_name)
    names = [package_name]
    for module in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
        if not any(part.startswith("_") for part in module.name.split(".")):
            names.append(module.name)
    return names


def documented_modules() -> list[str]:
    """Every module name given to pdoc, in the order of the reference's index."""
    names: list[str] = []
    for package_name in PACKAGES_WITH_SUBMODULES:
        names.extend(public_submodules(package_name))
    names.extend(PACKAGES)
    return names


def build_api_reference(output: Path) -> None:
    """pdoc's HTML pages of the documented modules, index.html and search.js into ``output``."""
    # The docstrings are reStructuredText-flavoured (``code``, literal blocks), pdoc's default.
    pdoc.render.configure(
        docformat="restructuredtext",
        footer_text=f"The causeway command: {CLI_PAGE}",
        show_source=True,
    )
    pdoc.pdoc(*documented_modules(), output_directory=output)


def subcommands(command: Any) -> dict[str, Any]:
    """A group's visible subcommands by name; nothing for a plain command. Duck-typed: Typer
    0.29 builds on its own copy of click, whose classes are not click's."""
    children = getattr(command, "commands", None) or {}
    return {name: child for name, child in sorted(children.items()) if not child.hidden}


def option_entries(command: Any, context: typer.Context) -> tuple[OptionEntry, ...]:
    """The options and arguments of ``command`` as its --help lists them (names with metavar,
    help with default, environment variable and range)."""
    entries = []
    for parameter in command.params:
        if getattr(parameter, "hidden", False):
            continue
        record = parameter.get_help_record(context)
        if record is None:
            entries.append(OptionEntry(names=parameter.human_readable_name, help=""))
        else:
            entries.append(OptionEntry(names=record[0], help=record[1]))
    return tuple(entries)


def walk_commands(
    command: Any, path: str, parent: typer.Context | None = None
) -> Iterator[CommandEntry]:
    """``command`` and every visible command under it, depth first, by name."""
    context = typer.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
    children = subcommands(command)
    yield CommandEntry(
        path=path,
        help=command.help or "",
        options=option_entries(command, context),
        is_group=bool(children),
    )
    for name, child in children.items():
        yield from walk_commands(child, f"{path} {name}", context)


def cli_commands() -> list[CommandEntry]:
    """Every command of the `causeway` CLI, from the Typer app the entry point runs."""
    from causeway.cli.main import app  # noqa: PLC0415 (after pdoc: its import is the slow part)

    return list(walk_commands(typer.main.get_command(app), ROOT_COMMAND))


def help_html(text: str) -> str:
    """A command's help as HTML: indented paragraphs (the examples) as code, others as text.
    Click's ``\\b`` lines (keep this paragraph's line breaks) carry no meaning on a page."""
    paragraphs = [part for part in text.replace("\b\n", "").split("\n\n") if part.strip()]
    parts = []
    for paragraph in paragraphs:
        lines = paragraph.splitlines()
        if all(line.startswith("    ") or not line.strip() for line in lines):
            code = textwrap.dedent(paragraph).strip("\n")
            parts.append(f"<pre><code>{html.escape(code)}</code></pre>")
        else:
            parts.append(f"<p>{html.escape(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(parts)


def command_anchor(path: str) -> str:
    return path.replace(" ", "-")


def command_html(command: CommandEntry) -> str:
    """One command's section: its path as a heading, its help, then a table of its options."""
    anchor = command_anchor(command.path)
    parts = [f'<section id="{anchor}">', f"<h2><code>{html.escape(command.path)}</code></h2>"]
    parts.append(help_html(command.help))
    if command.options:
        parts.append("<table>\n<tr><th>Option</th><th>Description</th></tr>")
        for option in command.options:
            parts.append(
                f"<tr><td><code>{html.escape(option.names)}</code></td>"
                f"<td>{html.escape(option.help)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts)


def cli_page(commands: Sequence[CommandEntry]) -> str:
    """The whole CLI reference page: a table of contents, then every command's section."""
    contents = "\n".join(
        f'<li><a href="#{command_anchor(command.path)}"><code>{html.escape(command.path)}'
        f"</code></a></li>"
        for command in commands
    )
    sections = "\n".join(command_html(command) for command in commands)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>causeway: command reference</title>
<style>
body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }}
pre {{ background: #f4f4f4; padding: 0.5rem; overflow-x: auto; }}
section {{ border-top: 1px solid #ddd; margin-top: 1.5rem; }}
</style>
</head>
<body>
<h1>The <code>causeway</code> command</h1>
<p>Every command, its help and its options, as <code>causeway ... --help</code> shows them.
The Python API: <a href="index.html">index.html</a>.</p>
<ul>
{contents}
</ul>
{sections}
</body>
</html>
"""


def build_reference(output: Path) -> list[str]:
    """Writes the whole reference into ``output``; answers the warnings raised meanwhile (an
    empty list when the reference is sound)."""
    output.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        # "always": a warning seen once before in this process (a test run) is still reported.
        warnings.simplefilter("always")
        build_api_reference(output)
        (output / CLI_PAGE).write_text(cli_page(cli_commands()), encoding="utf-8")
    return [
        f"{warning.filename}:{warning.lineno}: {warning.category.__name__}: {warning.message}"
        for warning in caught
    ]


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=OUTPUT_DEFAULT)
    options = parser.parse_args(arguments)
    problems = build_reference(options.output)
    if problems:
        print(f"the reference has {len(problems)} warning(s):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"reference written to {options.output}/index.html and {options.output}/{CLI_PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
