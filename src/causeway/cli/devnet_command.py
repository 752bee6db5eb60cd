"""`causeway devnet`: a local network of node processes on loopback ports."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli.output import console, print_json, rows_table
from causeway.errors import CausewayError, ConfigurationError

if TYPE_CHECKING:
    from causeway.provisioning import NodeSettings
    from causeway.provisioning.devnet import DevnetNode
    from causeway.provisioning.interchain_devnet import DevnetDescription, LinkEntry

STATUS_TIMEOUT_S = 5.0

DEFAULT_DIRECTORY = Path("devnet")

devnet_app = typer.Typer(
    name="devnet",
    help="Run a local network of validators (or of several chains) as separate processes."
    "\n\nExample:\n\n"
    "    causeway devnet up --validators 4 --consensus tbft\n\n"
    "    causeway devnet up --manifest examples/devnet-three-chains.toml\n\n"
    "    causeway devnet status",
    no_args_is_help=True,
)

# The options that describe the one chain of `devnet up` without a manifest.
SINGLE_CHAIN_OPTIONS = ("validators", "consensus", "crypto", "organisations")

DirectoryOption = Annotated[
    Path,
    typer.Option("--dir", "-d", metavar="DIR", help="The devnet's folder (default ./devnet)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _status_client_options(home: Path | None) -> dict[str, Any]:
    """How the devnet reads the status of the node in `home`: plaintext, or, where its config
    secures the API (`devnet up --secure-api`), over TLS trusting the network's CAs and with
    access tokens the node's own member key signs (GetStatus needs a member, any member; the
    devnet's operator holds that key anyway)."""
    if home is None:
        return {}
    from causeway.node import load_node_config

    try:
        secured = load_node_config(home).api_tls is not None
    except CausewayError:
        # A folder that no longer loads: status says the node does not answer, as it did.
        return {}
    if not secured:
        return {}
    from causeway.provisioning.secure_api import client_ca_file
    from causeway.sdk import Identity

    return {"tls_ca_file": client_ca_file(home), "token_identity": Identity.load(home)}


def _node_status(
    address: str, chain_id: str = "", member_id: str = "", home: Path | None = None
) -> dict[str, Any]:
    """What the node at `address` says of itself; "answering" only if it is the node expected:
    of chain `chain_id` and member `member_id` where they are given. `home`: the node's folder,
    whose config says whether its API is secured (_status_client_options)."""
    from causeway.sdk import Client

    try:
        with Client(address, timeout_s=2.0, **_status_client_options(home)) as client:
            response = client.status()
    except CausewayError as error:
        return {"answering": False, "error": error.message}
    if chain_id and response.chain_id != chain_id:
        # Another devnet (or anything else) listens where this chain's node should.
        return {
            "answering": False,
            "error": f"chain {response.chain_id!r} answers at {address}, not {chain_id!r}",
        }
    if member_id and response.node_id != member_id:
        return {
            "answering": False,
            "error": f"node {response.node_id!r} answers at {address}, not {member_id!r}",
        }
    return {
        "answering": True,
        "height": response.height,
        "role": response.role,
        "peers": response.peers_connected,
        "chain_id": response.chain_id,
    }


def _expected(node: DevnetNode) -> dict[str, Any]:
    """The chain id a devnet node must answer with: the genesis's, else (an older devnet.json)
    the manifest's chain name; its member id where known; its folder (how to reach it)."""
    return {
        "chain_id": node.chain_id or node.chain,
        "member_id": node.member_id,
        "home": Path(node.home),
    }


def _wait_until_answering(node: DevnetNode, timeout_s: float) -> None:
    """Waits until the devnet's own node answers at its address. A node that cannot bind its
    port exits; a foreign process on that port does not count as the node (_node_status)."""
    from causeway.provisioning.devnet import is_running

    address = node.grpc_address
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if not is_running(node.pid):
            raise ConfigurationError(
                f"{node.label} (PID {node.pid}) exited during start-up; see {node.home}/node.log"
            )
        last = _node_status(address, **_expected(node))
        # Answering and still running: a node that lost its bind exits right after.
        if last["answering"] and is_running(node.pid):
            return
        time.sleep(0.2)
    detail = f": {last['error']}" if last.get("error") else ""
    raise ConfigurationError(
        f"{node.label} did not answer at {address} within {timeout_s:.0f} s{detail}"
    )


@devnet_app.command("up")
def up(
    context: typer.Context,
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
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="FILE",
            help="Start every chain a manifest describes (TOML, or YAML with PyYAML installed; "
            "docs/manifest.md). --port-base then moves the chains that have no port_base.",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Delete the stopped devnet in DIR, its chains' data included, and make a new "
            "one (without it, up refuses a folder that holds a devnet).",
        ),
    ] = False,
    secure_api: Annotated[
        bool,
        typer.Option(
            "--secure-api",
            help="Serve every node's client API over TLS and require access tokens, as "
            "`causeway init --secure-api` does; clients use --tls-ca "
            "DIR/nodes/node1/tls/ca-bundle.pem and --identity.",
        ),
    ] = False,
    directory: DirectoryOption = DEFAULT_DIRECTORY,
    json_output: JsonOption = False,
) -> None:
    """Create a network in DIR and start every validator as its own process.

    Each node listens on its own loopback ports and logs to DIR/nodes/NAME/node.log; the process
    ids are kept in DIR/devnet.json. A folder that already holds a devnet is refused: start a
    stopped one again with `causeway devnet start`, or pass --fresh to delete it and its chains
    and make a new one. Ports already in use are refused before any node starts.

    With --manifest, every chain of the manifest gets its own folder DIR/chains/ID (a network as
    causeway init writes it, on ports of its own) and DIR/network.json describes them all:
    chains, node addresses, links and relayers. Relayers are not started yet.

    Example:

        causeway devnet up --validators 4 --consensus tbft

        causeway devnet up --validators 3 --consensus raft --crypto gm --dir ./gm-devnet

        causeway devnet up --manifest examples/devnet-three-chains.toml --dir ./chains

        causeway devnet up --validators 1 --consensus solo --secure-api
    """
    from causeway.provisioning import init_network, node_name, node_settings
    from causeway.provisioning.devnet import (
        check_addresses_free,
        describe_node,
        devnet_file,
        holds_devnet,
        is_running,
        load_devnet,
        node_homes,
        save_devnet,
        start_node_process,
        stop_processes,
    )
    from causeway.provisioning.interchain_devnet import clear_devnet, is_manifest_devnet

    if devnet_file(directory).exists():
        running = [node.label for node in load_devnet(directory) if is_running(node.pid)]
        if running:
            raise ConfigurationError(
                f"a devnet is running in {directory} ({', '.join(running)}): "
                f"stop it with causeway devnet down --dir {directory}"
            )
    if holds_devnet(directory) and not fresh:
        raise ConfigurationError(
            f"{directory} holds a stopped devnet and its chains' data: start it again with "
            f"causeway devnet start --dir {directory}, or make a new one over it with "
            f"causeway devnet up --fresh (which deletes that data)"
        )
    if manifest is not None and secure_api:
        # A manifest's chains are provisioned, linked and relayed in ways that do not carry the
        # access settings yet; refused rather than half secured.
        raise typer.BadParameter(
            "--secure-api is for a devnet of one chain, not with --manifest",
            param_hint="--secure-api",
        )
    if manifest is not None:
        given = [name for name in SINGLE_CHAIN_OPTIONS if _given_on_the_command_line(context, name)]
        if given:
            options = ", ".join(
                "--" + ("orgs" if name == "organisations" else name) for name in given
            )
            raise typer.BadParameter(
                f"{options} describe one chain; with --manifest, the manifest describes every "
                "chain",
                param_hint="--manifest",
            )
        _up_from_manifest(manifest, directory, port_base or None)
        _print_nodes(directory, json_output)
        return
    check_addresses_free(
        [
            (f"{node_name(index)}'s {what}", address)
            for index in range(1, validators + 1)
            for what, address in _settings_addresses(node_settings(index, port_base or None))
            if what != "peer port" or validators > 1
        ]
    )
    if is_manifest_devnet(directory):
        clear_devnet(directory)
    init_network(
        directory,
        organisations or validators,
        crypto,
        consensus,
        validators=validators,
        force=True,
        port_base=port_base or None,
    )
    if secure_api:
        from causeway.provisioning.secure_api import enable_secure_api

        for home in node_homes(directory):
            enable_secure_api(home)
    nodes = []
    try:
        for home in node_homes(directory):
            nodes.append(describe_node(home, start_node_process(home)))
            save_devnet(directory, nodes)
        for node in nodes:
            _wait_until_answering(node, 60.0)
    except BaseException:
        stop_processes([node.pid for node in nodes])
        raise
    _print_nodes(directory, json_output)


def _settings_addresses(settings: NodeSettings) -> list[tuple[str, str]]:
    return [
        ("gRPC port", settings.grpc_address),
        ("HTTP port", settings.http_address),
        ("peer port", settings.peer_address),
    ]


def _given_on_the_command_line(context: typer.Context, name: str) -> bool:
    source = context.get_parameter_source(name)
    # By name: typer may carry its own copy of click's ParameterSource.
    return source is not None and source.name != "DEFAULT"


def _up_from_manifest(path: Path, directory: Path, port_base: int | None) -> None:
    """Provisions every chain of the manifest and starts all their nodes; on any failure, stops
    every node it started."""
    from causeway.provisioning.description import LISTEN_HOST
    from causeway.provisioning.devnet import (
        check_addresses_free,
        describe_node,
        save_devnet,
        start_node_process,
        stop_processes,
    )
    from causeway.provisioning.interchain_devnet import provision_devnet
    from causeway.provisioning.manifest import (
        manifest_document,
        parse_manifest,
        read_manifest_text,
    )

    text = read_manifest_text(path)
    document = dict(manifest_document(text, str(path)))
    if port_base is not None:
        document["port_base"] = port_base
    manifest = parse_manifest(document, str(path))
    check_addresses_free(
        [
            (f"a port of chain {chain.id}", f"{LISTEN_HOST}:{port}")
            for chain in manifest.chains
            for port in chain.ports
        ]
    )
    description = provision_devnet(manifest, text, directory, now_ms=time.time_ns() // 1_000_000)
    nodes = []
    try:
        for chain in description.chains:
            for node in chain.nodes:
                home = Path(node.home)
                nodes.append(describe_node(home, start_node_process(home), chain=chain.id))
                save_devnet(directory, nodes)
        for entry in nodes:
            _wait_until_answering(entry, 60.0)
    except BaseException:
        stop_processes([entry.pid for entry in nodes])
        raise
    if description.links:
        _connect_and_relay(directory, description)
    if manifest.evm_chains:
        from causeway.provisioning.evm_devnet import start_evm_chains

        start_evm_chains(directory, description, manifest, console.print)


def _connect_and_relay(directory: Path, description: DevnetDescription) -> None:
    """Joins the chains of every link (clients, counterparties, ports, the hub's registry) and
    starts the manifest's relayers. The nodes keep running if this fails: run `devnet up` again
    to retry, or look at the chains with `devnet status`."""
    from causeway.provisioning.devnet import (
        DevnetRelayer,
        save_relayers,
        start_relayer_process,
    )
    from causeway.provisioning.links import (
        connect_devnet,
        relayer_metrics_port,
        write_relayer_configs,
    )

    description = connect_devnet(directory, description, progress=console.print)
    relayers = []
    for index, config in enumerate(write_relayer_configs(directory, description)):
        port = relayer_metrics_port(description, index)
        pid = start_relayer_process(config, "127.0.0.1", port)
        relayers.append(
            DevnetRelayer(
                name=config.stem, config=str(config), pid=pid, metrics_address=f"127.0.0.1:{port}"
            )
        )
        save_relayers(directory, relayers)
        console.print(f"relayer {config.stem} started (PID {pid}, metrics on 127.0.0.1:{port})")


@devnet_app.command("status")
def status(
    *, directory: DirectoryOption = DEFAULT_DIRECTORY, json_output: JsonOption = False
) -> None:
    """Show each node's name, home, process, height, peers and role.

    In a devnet from a manifest: every chain's height (the highest its nodes report), every
    node, and the links with their relayers.

    Example:

        causeway devnet status

        causeway devnet status --json
    """
    _print_nodes(directory, json_output)


def _node_rows(directory: Path) -> list[dict[str, Any]]:
    from causeway.provisioning.devnet import is_running, load_devnet

    rows = []
    for node in load_devnet(directory):
        running = is_running(node.pid)
        state = (
            _node_status(node.grpc_address, **_expected(node)) if running else {"answering": False}
        )
        row = {"chain": node.chain} if node.chain else {}
        rows.append(
            {
                **row,
                "name": node.name,
                "home": node.home,
                "pid": node.pid,
                "running": running,
                "grpc_address": node.grpc_address,
                "http_address": node.http_address,
                **state,
            }
        )
    return rows


def _print_nodes(directory: Path, json_output: bool) -> None:
    from causeway.provisioning.interchain_devnet import is_manifest_devnet

    if is_manifest_devnet(directory):
        _print_chains(directory, json_output)
        return
    rows = _node_rows(directory)
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


def _print_chains(directory: Path, json_output: bool) -> None:
    """`devnet status` of a devnet from a manifest: chains, nodes, links."""
    from causeway.provisioning.interchain_devnet import (
        load_devnet_description,
    )

    description = load_devnet_description(directory)
    rows = _node_rows(directory)
    chains: list[dict[str, Any]] = []
    for chain in description.chains:
        own = [row for row in rows if row.get("chain") == chain.id]
        heights = [row["height"] for row in own if row.get("answering")]
        chains.append(
            {
                "id": chain.id,
                "hub": chain.hub,
                "consensus": chain.consensus,
                "crypto_profile": chain.crypto_profile,
                "validators": chain.validators,
                "nodes_running": sum(1 for row in own if row["running"]),
                "nodes_answering": len(heights),
                # The highest committed height a node reports; None when none answers.
                "height": max(heights) if heights else None,
                "port_base": chain.port_base,
                "directory": chain.directory,
                "genesis_hash": chain.genesis_hash,
            }
        )
    links = [_link_row(description, link) for link in description.links]
    from causeway.provisioning.devnet import is_running, load_relayers, load_services

    services = [
        {
            "name": service.name,
            "running": bool(service.pid) and is_running(service.pid),
            "pid": service.pid or None,
            "url": service.url or None,
            "log": service.log,
        }
        for service in load_services(directory)
    ]
    processes = {relayer.name: relayer for relayer in load_relayers(directory)}
    relayers: list[dict[str, Any]] = []
    for relayer in description.relayers:
        process = processes.get(relayer.name)
        relayers.append(
            {
                "name": relayer.name,
                "links": [list(pair) for pair in relayer.links],
                "running": process is not None and is_running(process.pid),
                "pid": process.pid if process is not None else None,
                "metrics_address": process.metrics_address if process is not None else None,
            }
        )
    from causeway.provisioning.evm_devnet import evm_chain_status, load_evm_chains

    evm_chains = [evm_chain_status(state) for state in load_evm_chains(directory)]
    if json_output:
        print_json(
            {
                "directory": str(directory),
                "manifest_file": description.manifest_file,
                "hub": description.hub.id if description.hub is not None else None,
                "chains": chains,
                "links": links,
                "relayers": relayers,
                "services": services,
                "evm_chains": evm_chains,
                "nodes": rows,
            }
        )
        return
    console.print(
        rows_table(
            f"Chains of the devnet in {directory}",
            ["chain", "consensus", "crypto", "nodes answering", "height", "folder"],
            [
                [
                    chain["id"] + (" (hub)" if chain["hub"] else ""),
                    chain["consensus"],
                    chain["crypto_profile"],
                    f"{chain['nodes_answering']}/{chain['validators']}",
                    chain["height"],
                    chain["directory"],
                ]
                for chain in chains
            ],
        )
    )
    console.print(
        rows_table(
            "Nodes",
            ["chain", "node", "pid", "gRPC", "height", "peers", "role"],
            [
                [
                    row["chain"],
                    row["name"],
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
    if links:
        console.print(
            rows_table(
                "Links",
                ["link", "clients", "client heights", "pending packets", "relayers"],
                [
                    [
                        " <-> ".join(link["chains"]),
                        " / ".join(end["client"] or "-" for end in link["ends"]),
                        " / ".join(_client_cell(end) for end in link["ends"]),
                        " / ".join(
                            "-" if end["pending_packets"] is None else str(end["pending_packets"])
                            for end in link["ends"]
                        ),
                        ", ".join(link["relayers"]) or "none",
                    ]
                    for link in links
                ],
            )
        )
    if evm_chains:
        console.print(
            rows_table(
                "EVM chains (joined to the hub by a gateway committee)",
                ["chain", "rpc", "block", "hub client", "committee", "gateways running"],
                [
                    [
                        chain["id"],
                        chain["rpc_url"],
                        chain["block"]
                        if chain["block"] is not None
                        else ("not answering" if chain["anvil_running"] else "anvil stopped"),
                        chain["hub_client"],
                        f"{chain['threshold']} of {chain['committee']}",
                        f"{chain['gateways_running']}/{chain['committee']}",
                    ]
                    for chain in evm_chains
                ],
            )
        )
    if relayers:
        console.print(
            rows_table(
                "Relayers",
                ["relayer", "links", "pid", "metrics"],
                [
                    [
                        relayer["name"],
                        ", ".join("-".join(pair) for pair in relayer["links"]),
                        (relayer["pid"] if relayer["running"] else "not running"),
                        relayer["metrics_address"] or "-",
                    ]
                    for relayer in relayers
                ],
            )
        )
    if services:
        console.print(
            rows_table(
                "Services",
                ["service", "pid", "serves", "log"],
                [
                    [
                        service["name"],
                        (service["pid"] if service["running"] else "not running"),
                        service["url"] or "-",
                        service["log"],
                    ]
                    for service in services
                ],
            )
        )


def _client_cell(end: dict[str, Any]) -> str:
    if end["latest_height"] is None:
        return "-"
    return f"{end['latest_height']} ({end['status']})"


def _link_row(description: DevnetDescription, link: LinkEntry) -> dict[str, Any]:
    """A link as status shows it: at each end, its client of the other (latest height and
    status, read from the chain) and how many packets it sent that are still in flight."""
    from causeway.sdk import Client, Identity

    ends = []
    for chain_id, client_id in zip(link.chains, link.clients, strict=True):
        end: dict[str, Any] = {
            "chain": chain_id,
            "client": client_id,
            "latest_height": None,
            "status": None,
            "pending_packets": None,
        }
        if client_id:
            chain = description.chain(chain_id)
            # Reads are signed calls: as the first organisation's client member.
            reader = next(
                (Identity.load(Path(m.directory)) for m in chain.members if "CLIENT" in m.roles),
                None,
            )
            for node in chain.nodes:
                try:
                    with Client(node.grpc_address, reader, timeout_s=STATUS_TIMEOUT_S) as client:
                        state = client.interchain.client_status(client_id)
                        end["latest_height"] = state.client.latest_height
                        end["status"] = state.status
                        end["pending_packets"] = len(
                            client.interchain.packets(client_id, in_flight_only=True).sent
                        )
                    break
                except CausewayError:
                    continue
        ends.append(end)
    return {"chains": list(link.chains), "relayers": list(link.relayers), "ends": ends}


@devnet_app.command("start")
def start(
    *, directory: DirectoryOption = DEFAULT_DIRECTORY, json_output: JsonOption = False
) -> None:
    """Start the stopped nodes (and relayers) of an existing devnet again, on its data.

    Nothing is created or deleted: every node goes on from the blocks it has. Nodes that are
    running are left alone; a port another process holds is refused before any node starts.

    Example:

        causeway devnet down --dir ./devnet

        causeway devnet start --dir ./devnet
    """
    from causeway.provisioning.devnet import (
        check_addresses_free,
        is_running,
        load_devnet,
        load_relayers,
        node_listen_addresses,
        save_devnet,
        save_relayers,
        start_node_process,
        start_relayer_process,
        stop_processes,
    )

    nodes = load_devnet(directory)
    stopped = [node for node in nodes if not is_running(node.pid)]
    check_addresses_free(
        [address for node in stopped for address in node_listen_addresses(Path(node.home))]
    )
    started = []
    try:
        for node in stopped:
            node.pid = start_node_process(Path(node.home))
            started.append(node.pid)
            save_devnet(directory, nodes)
        for node in stopped:
            _wait_until_answering(node, 60.0)
    except BaseException:
        stop_processes(started)
        raise
    relayers = load_relayers(directory)
    for relayer in relayers:
        if not is_running(relayer.pid):
            host, _, port = relayer.metrics_address.rpartition(":")
            relayer.pid = start_relayer_process(Path(relayer.config), host, int(port))
            save_relayers(directory, relayers)
    _print_nodes(directory, json_output)


@devnet_app.command("restart")
def restart(
    *,
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            metavar="NAME",
            help="The node, e.g. node2; in a devnet of several chains CHAIN/NAME, e.g. hub/node2.",
        ),
    ] = None,
    relayer: Annotated[
        str | None,
        typer.Option(
            "--relayer",
            metavar="NAME",
            help="A relayer of a devnet from a manifest, by its name in the manifest.",
        ),
    ] = None,
    directory: DirectoryOption = DEFAULT_DIRECTORY,
) -> None:
    """Stop one node or relayer (SIGTERM, then SIGKILL after 20 s) and start it again.

    Example:

        causeway devnet restart --node node2

        causeway devnet restart --node hub/node2

        causeway devnet restart --relayer relayer-1
    """
    if (node is None) == (relayer is None):
        raise typer.BadParameter("name one node (--node) or one relayer (--relayer)")
    if relayer is not None:
        _restart_relayer(directory, relayer)
        return
    assert node is not None
    from causeway.provisioning.devnet import (
        load_devnet,
        save_devnet,
        start_node_process,
        stop_process,
    )

    nodes = load_devnet(directory)
    entry = _named_node(nodes, node)
    stop_process(entry.pid)
    entry.pid = start_node_process(Path(entry.home))
    save_devnet(directory, nodes)
    _wait_until_answering(entry, 60.0)
    console.print(f"{entry.label} restarted (PID {entry.pid})")


def _named_node(nodes: list[DevnetNode], node: str) -> DevnetNode:
    """The node named ``node`` (NAME, or CHAIN/NAME where names repeat across chains)."""
    matches = [entry for entry in nodes if entry.label == node]
    if not matches:
        matches = [entry for entry in nodes if entry.name == node]
    names = ", ".join(entry.label for entry in nodes)
    if not matches:
        raise ConfigurationError(f"no node {node!r} in the devnet (nodes: {names})")
    if len(matches) > 1:
        choices = ", ".join(entry.label for entry in matches)
        raise ConfigurationError(f"{node!r} is a node of several chains; name one of {choices}")
    return matches[0]


@devnet_app.command("stop")
def stop(
    *,
    node: Annotated[
        str,
        typer.Option(
            "--node",
            metavar="NAME",
            help="The node, e.g. node4; in a devnet of several chains CHAIN/NAME, e.g. hub/node2.",
        ),
    ],
    directory: DirectoryOption = DEFAULT_DIRECTORY,
) -> None:
    """Stop one node (SIGTERM, then SIGKILL after 20 s); its data stays, and `devnet start`
    starts it again on it. `devnet down` stops them all.

    Example:

        causeway devnet stop --node node4

        causeway devnet start
    """
    from causeway.provisioning.devnet import is_running, load_devnet, stop_process

    entry = _named_node(load_devnet(directory), node)
    if not is_running(entry.pid):
        console.print(f"{entry.label} is not running")
        return
    stop_process(entry.pid)
    console.print(f"{entry.label} stopped (PID {entry.pid}); causeway devnet start starts it again")


def _restart_relayer(directory: Path, name: str) -> None:
    from causeway.provisioning.devnet import (
        load_relayers,
        save_relayers,
        start_relayer_process,
        stop_process,
    )

    relayers = load_relayers(directory)
    matches = [entry for entry in relayers if entry.name == name]
    if not matches:
        names = ", ".join(entry.name for entry in relayers) or "none"
        raise ConfigurationError(f"no relayer {name!r} in the devnet (relayers: {names})")
    entry = matches[0]
    stop_process(entry.pid)
    host, _, port = entry.metrics_address.rpartition(":")
    entry.pid = start_relayer_process(Path(entry.config), host, int(port))
    save_relayers(directory, relayers)
    console.print(f"relayer {entry.name} restarted (PID {entry.pid})")


@devnet_app.command("down")
def down(*, directory: DirectoryOption = DEFAULT_DIRECTORY) -> None:
    """Stop every node of the devnet, of every chain (SIGTERM to all at once, then SIGKILL to
    any still running after 20 s). Data stays in DIR.

    Example:

        causeway devnet down
    """
    from causeway.provisioning.devnet import (
        load_devnet,
        load_relayers,
        load_services,
        save_devnet,
        save_relayers,
        save_services,
        stop_processes,
    )
    from causeway.provisioning.evm_devnet import stop_evm_chains

    # The applications' processes first: they talk to the chains, not the other way round.
    services = load_services(directory)
    for service in services:
        if service.pid:
            stopped = stop_processes([service.pid])
            suffix = " (killed after the timeout)" if stopped else ""
            console.print(f"service {service.name} stopped{suffix}")
        service.pid = 0
    if services:
        save_services(directory, services)
    stop_evm_chains(directory, console.print)
    relayers = load_relayers(directory)
    for relayer in relayers:
        stopped = stop_processes([relayer.pid])
        suffix = " (killed after the timeout)" if stopped else ""
        console.print(f"relayer {relayer.name} stopped{suffix}")
        relayer.pid = 0
    if relayers:
        save_relayers(directory, relayers)
    nodes = load_devnet(directory)
    killed = stop_processes([entry.pid for entry in nodes])
    for entry in nodes:
        suffix = " (killed after the timeout)" if entry.pid in killed else ""
        console.print(f"{entry.label} stopped{suffix}")
        entry.pid = 0
    save_devnet(directory, nodes)


def register(app: typer.Typer) -> None:
    app.add_typer(devnet_app)
