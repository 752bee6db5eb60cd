"""`causeway node start`: run a node in the foreground; `causeway node verify`: check its store;
`causeway node reload`: have a running node re-read its configuration; `causeway node stop`: stop
the node a home folder runs (snapshots, backups and archives: snapshot_commands)."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from causeway.cli import node_join_command, snapshot_commands
from causeway.cli.output import EXIT_ERROR, console, key_value_table, print_json
from causeway.errors import ConfigurationError

node_app = typer.Typer(
    name="node",
    help="Run a node, or check its store.\n\nExample:\n\n    causeway node start --home "
    "./net/nodes/node1",
    no_args_is_help=True,
)

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home",
        metavar="DIR",
        envvar="CAUSEWAY_NODE_HOME",
        help="The node's home folder (with config.toml), e.g. NET/nodes/node1.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _require_home(home: Path) -> None:
    if not (home / "config.toml").is_file():
        raise ConfigurationError(
            f"no config.toml in {home}: is this a node home made by causeway init?"
        )


@node_app.command("start")
def start(*, home: HomeOption) -> None:
    """Start the node in HOME and run it until Ctrl-C or SIGTERM.

    The node reads HOME/config.toml, its key and the genesis file, and keeps its data in
    HOME/data. Logs go to stderr. It refuses to start, with one line naming the file, on a store
    that is not new but lost its databases or its genesis, or whose newest blocks or state do not
    match: it never starts a new chain over an old one.

    Example:

        causeway node start --home ./net/nodes/node1
    """
    _require_home(home)
    from causeway.node import run_node

    run_node(home)


@node_app.command("verify")
def verify(*, home: HomeOption, json_output: JsonOption = False) -> None:
    """Check the whole store of the node in HOME and print a report.

    Reads every record (format, checksum, structure), checks that every block is complete and
    linked by hash to its parent, recomputes the state root from the latest state and compares
    it with the newest header, and checks the marker. It only reads, so it may run beside the
    node. Exit status 1 when anything is wrong.

    Example:

        causeway node verify --home ./net/nodes/node1 --json
    """
    _require_home(home)
    from causeway.crypto import get_profile
    from causeway.node import load_genesis, load_node_config, verify_node_store

    config = load_node_config(home)
    genesis = load_genesis(config.genesis_file)
    report = verify_node_store(config, genesis, get_profile(genesis.crypto_profile))
    if json_output:
        print_json(
            {
                "ok": report.ok,
                "store": report.store,
                "marker": report.marker,
                "latest_height": report.latest_height,
                "records_checked": report.records_checked,
                "blocks_checked": report.blocks_checked,
                "state_entries_checked": report.state_entries_checked,
                "problem_count": report.problem_count,
                "problems": report.problems,
            }
        )
    else:
        console.print(
            key_value_table(
                "Store verification",
                [
                    ("store", report.store),
                    ("marker", report.marker),
                    ("latest height", report.latest_height),
                    ("records checked", report.records_checked),
                    ("blocks checked", report.blocks_checked),
                    ("state entries checked", report.state_entries_checked),
                    ("problems", report.problem_count),
                ],
            )
        )
        for problem in report.problems:
            console.print(f"problem: {problem}", markup=False, soft_wrap=True)
        if report.ok:
            console.print("the store is sound", markup=False)
        else:
            shown = len(report.problems)
            more = f" ({shown} shown)" if shown < report.problem_count else ""
            console.print(f"{report.problem_count} problem(s) found{more}", markup=False)
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@node_app.command("reload")
def reload(*, home: HomeOption) -> None:
    """Have the node running in HOME re-read HOME/config.toml without a restart.

    Sends SIGHUP to the process whose id HOME/node.pid holds. The node applies what is safe
    to change while it runs (log level and format, mempool bounds, [health] bounds, peers
    added) and logs, without applying them, the changes that need a restart (addresses, keys,
    the data folder, ...). A file it cannot read or check changes nothing: the node logs why.
    Exit status 1 when no node runs there.

    Example:

        causeway node reload --home ./net/nodes/node1
    """
    _require_home(home)
    from causeway.cli.node_signals import signal_running_node

    pid = signal_running_node(home)
    console.print(
        f"asked the node in {home} (PID {pid}) to reload its configuration; its log says "
        "what was applied",
        markup=False,
        soft_wrap=True,
    )


StopTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.1,
        help="How long the node may take to finish its block and close its store.",
    ),
]


@node_app.command("stop")
def stop(*, home: HomeOption, timeout: StopTimeoutOption = 20.0) -> None:
    """Stop the node running in HOME and wait until it has exited.

    Sends SIGTERM to the process whose id HOME/node.pid holds, as Ctrl-C does to a node in the
    foreground: it stops taking work, finishes the block it is writing and closes its store.
    One still running after --timeout seconds is killed (SIGKILL): its store stays consistent
    (every block is written in one transaction), as after a power cut. Exit status 1 when no
    node runs there.

    Example:

        causeway node stop --home ./org5-node1
    """
    _require_home(home)
    from causeway.cli.node_signals import running_node_pid
    from causeway.provisioning.devnet import stop_process

    pid = running_node_pid(home)
    killed = stop_process(pid, timeout)
    how = f"killed after {timeout:g} s" if killed else "stopped"
    console.print(f"the node in {home} (PID {pid}) {how}", markup=False, soft_wrap=True)


node_app.command("join")(node_join_command.join)
snapshot_commands.register(node_app)


def register(app: typer.Typer) -> None:
    app.add_typer(node_app)
