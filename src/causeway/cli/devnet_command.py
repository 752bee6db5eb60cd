"""`causeway devnet`: a local network of node processes on loopback ports."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from causeway.cli.output import console, print_json, rows_table
from causeway.errors import CausewayError, ConfigurationError

DEFAULT_DIRECTORY = Path("devnet")

devnet_app = typer.Typer(
    name="devnet",
    help="Run a local network of validators as separate processes.\n\nExample:\n\n"
    "    causeway devnet up --validators 4 --consensus tbft\n\n    causeway devnet status",
    no_args_is_help=True,
)

DirectoryOption = Annotated[
    Path,
    typer.Option("--dir", "-d", metavar="DIR", help="The devnet's folder (default ./devnet)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _node_status(address: str) -> dict[str, Any]:
    from causeway.sdk import Client

    try:
        with Client(address, timeout_s=2.0) as client:
            response = client.status()
    except CausewayError as error:
        return {"answering": False, "error": error.message}
    return {
        "answering": True,
        "height": response.height,
        "role": response.role,
        "peers": response.peers_connected,
        "chain_id": response.chain_id,
    }


def _wait_until_answering(address: str, pid: int, timeout_s: float) -> None:
    from causeway.provisioning.devnet import is_running

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_running(pid):
            raise ConfigurationError(f"the node at {address} exited during start-up; see its log")
        if _node_status(address)["answering"]:
            return
        time.sleep(0.2)
    raise ConfigurationError(f"the node at {address} did not answer within {timeout_s:.0f} s")


@devnet_app.command("up")
def up(
    *,
    validators: Annotated[
        int, typer.Option("--validators", "-v", min=1, max=64, help="How many validators.")
    ] = 4,
    consensus: Annotated[
        str, typer.Option("--consensus", help="tbft, raft or solo (solo needs 1 validator).")
    ] = "tbft",
    crypto: Annotated[str, typer.Option("--crypto", help="intl or gm.")] = "intl",
    organisations: Annotated[
        int, typer.Option("--orgs", min=0, help="Organisations (0: one per validator).")
    ] = 0,
    port_base: Annotated[
        int,
        typer.Option(
            "--port-base",
            min=0,
            max=65000,
            help="Listen on consecutive loopback ports from here (0: the init defaults).",
        ),
    ] = 0,
    directory: DirectoryOption = DEFAULT_DIRECTORY,
    json_output: JsonOption = False,
) -> None:
    """Create a network in DIR and start every validator as its own process.

    Each node listens on its own loopback ports and logs to DIR/nodes/NAME/node.log; the process
    ids are kept in DIR/devnet.json. An existing devnet in DIR must be stopped first.

    Example:

        causeway devnet up --validators 4 --consensus tbft

        causeway devnet up --validators 3 --consensus raft --crypto gm --dir ./gm-devnet
    """
    from causeway.provisioning import init_network
    from causeway.provisioning.devnet import (
        describe_node,
        devnet_file,
        is_running,
        load_devnet,
        node_homes,
        save_devnet,
        start_node_process,
        stop_process,
    )

    if devnet_file(directory).exists():
        running = [node.name for node in load_devnet(directory) if is_running(node.pid)]
        if running:
            raise ConfigurationError(
                f"a devnet is running in {directory} ({', '.join(running)}): "
                f"stop it with causeway devnet down --dir {directory}"
            )
    init_network(
        directory,
        organisations or validators,
        crypto,
        consensus,
        validators=validators,
        force=True,
        port_base=port_base or None,
    )
    nodes = []
    try:
        for home in node_homes(directory):
            nodes.append(describe_node(home, start_node_process(home)))
            save_devnet(directory, nodes)
        for node in nodes:
            _wait_until_answering(node.grpc_address, node.pid, 60.0)
    except BaseException:
        for node in nodes:
            stop_process(node.pid)
        raise
    _print_nodes(directory, json_output)


@devnet_app.command("status")
def status(
    *, directory: DirectoryOption = DEFAULT_DIRECTORY, json_output: JsonOption = False
) -> None:
    """Show each node's name, home, process, height, peers and role.

    Example:

        causeway devnet status

        causeway devnet status --json
    """
    _print_nodes(directory, json_output)


def _print_nodes(directory: Path, json_output: bool) -> None:
    from causeway.provisioning.devnet import is_running, load_devnet

    rows = []
    for node in load_devnet(directory):
        running = is_running(node.pid)
        state = _node_status(node.grpc_address) if running else {"answering": False}
        rows.append(
            {
                "name": node.name,
                "home": node.home,
                "pid": node.pid,
                "running": running,
                "grpc_address": node.grpc_address,
                "http_address": node.http_address,
                **state,
            }
        )
    if json_output:
        print_json({"directory": str(directory), "nodes": rows})
        return
    console.print(
        rows_table(
            f"Devnet in {directory}",
            ["node", "home", "pid", "gRPC", "height", "peers", "role"],
            [
                [
                    row["name"],
                    row["home"],
                    row["pid"] if row["running"] else f"{row['pid']} (stopped)",
                    row["grpc_address"],
                    row.get("height", "-"),
                    row.get("peers", "-"),
                    row.get("role", "-") if row["answering"] else "not answering",
                ]
                for row in rows
            ],
        )
    )


@devnet_app.command("restart")
def restart(
    *,
    node: Annotated[str, typer.Option("--node", metavar="NAME", help="The node, e.g. node2.")],
    directory: DirectoryOption = DEFAULT_DIRECTORY,
) -> None:
    """Stop one node (SIGTERM, then SIGKILL after 20 s) and start it again.

    Example:

        causeway devnet restart --node node2
    """
    from causeway.provisioning.devnet import (
        load_devnet,
        save_devnet,
        start_node_process,
        stop_process,
    )

    nodes = load_devnet(directory)
    matches = [entry for entry in nodes if entry.name == node]
    if not matches:
        names = ", ".join(entry.name for entry in nodes)
        raise ConfigurationError(f"no node {node!r} in the devnet (nodes: {names})")
    entry = matches[0]
    stop_process(entry.pid)
    entry.pid = start_node_process(Path(entry.home))
    save_devnet(directory, nodes)
    _wait_until_answering(entry.grpc_address, entry.pid, 60.0)
    console.print(f"{node} restarted (PID {entry.pid})")


@devnet_app.command("down")
def down(*, directory: DirectoryOption = DEFAULT_DIRECTORY) -> None:
    """Stop every node of the devnet (SIGTERM, then SIGKILL after 20 s). Data stays in DIR.

    Example:

        causeway devnet down
    """
    from causeway.provisioning.devnet import load_devnet, save_devnet, stop_process

    nodes = load_devnet(directory)
    for entry in nodes:
        killed = stop_process(entry.pid)
        suffix = " (killed after the timeout)" if killed else ""
        console.print(f"{entry.name} stopped{suffix}")
        entry.pid = 0
    save_devnet(directory, nodes)


def register(app: typer.Typer) -> None:
    app.add_typer(devnet_app)
