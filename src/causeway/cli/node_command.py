"""`causeway node start`: run a node in the foreground."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from causeway.errors import ConfigurationError

node_app = typer.Typer(
    name="node",
    help="Run a node.\n\nExample:\n\n    causeway node start --home ./net/nodes/node1",
    no_args_is_help=True,
)


@node_app.command("start")
def start(
    *,
    home: Annotated[
        Path,
        typer.Option(
            "--home",
            metavar="DIR",
            envvar="CAUSEWAY_NODE_HOME",
            help="The node's home folder (with config.toml), e.g. NET/nodes/node1.",
        ),
    ],
) -> None:
    """Start the node in HOME and run it until Ctrl-C or SIGTERM.

    The node reads HOME/config.toml, its key and the genesis file, and keeps its data in
    HOME/data. Logs go to stderr.

    Example:

        causeway node start --home ./net/nodes/node1
    """
    if not (home / "config.toml").is_file():
        raise ConfigurationError(
            f"no config.toml in {home}: is this a node home made by causeway init?"
        )
    from causeway.node import run_node

    run_node(home)


def register(app: typer.Typer) -> None:
    app.add_typer(node_app)
