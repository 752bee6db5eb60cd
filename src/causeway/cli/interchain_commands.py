"""Interchain commands: hub, interchain (clients, ports), transfer, bank, packet.

Every command talks to one chain: ``--node ADDRESS`` with ``--identity MEMBER_DIR`` (and
``--endorser MEMBER_DIR`` for governance), or ``--dir DEVNET --chain ID``, which takes the node
and the members from the devnet's network.json (its first organisation's admin signs governance,
endorsed by the other organisations' admins; its client signs the rest). Options given win over
the devnet's. Every command prints a table, or JSON with ``--json``; bytes are hex in JSON.
"""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import datetime
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli.arguments import display_bytes, node_address_option, parse_node_address
from causeway.cli.interchain_targets import (
    ClientView,
    DevnetChain,
    DevnetMember,
    Target,
    check_client_id,
    hub_to_route_through,
    resolve_counterparty,
    resolve_source_client,
    resolve_target,
)
from causeway.cli.output import (
    EXIT_TRANSACTION_FAILED,
    console,
    key_value_table,
    print_json,
    rows_table,
)
from causeway.errors import ConfigurationError, RequestError

if TYPE_CHECKING:
    from causeway.interchain.v1 import interchain_pb2
    from causeway.sdk import Client

TRUSTING_PERIOD_S_DEFAULT = 14 * 24 * 3600
CLOCK_DRIFT_S_DEFAULT = 10
TRANSFER_TIMEOUT_S_DEFAULT = 600
PACKET_WAIT_S_DEFAULT = 120.0
# The bounds of the clients contract (causeway.interchain.clients), in the options' seconds.
TRUSTING_PERIOD_S_MAX = 365 * 24 * 3600
CLOCK_DRIFT_S_MAX = 3600
# packets.TIMEOUT_AHEAD_MAX_MS, in seconds.
TRANSFER_TIMEOUT_S_MAX = 30 * 24 * 3600
LIST_LIMIT_MAX = 1000


# ---- options ----------------------------------------------------------------------------------

NodeOption = Annotated[
    str | None,
    typer.Option(
        "--node",
        "-n",
        metavar="ADDRESS",
        envvar="CAUSEWAY_NODE",
        help="gRPC address of a node of the chain (host:port); default: --chain's node, else "
        "127.0.0.1:7050.",
        callback=node_address_option,
    ),
]
IdentityOption = Annotated[
    Path | None,
    typer.Option(
        "--identity",
        "-i",
        metavar="MEMBER_DIR",
        envvar="CAUSEWAY_IDENTITY",
        help="Member folder to sign with; default with --dir/--chain: the chain's org1 admin "
        "(governance) or client.",
    ),
]
EndorserOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--endorser",
        "-e",
        metavar="MEMBER_DIR",
        help="Member folder of an endorser (another organisation's admin); repeatable; default "
        "with --dir/--chain: the other organisations' admins.",
    ),
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "-d",
        metavar="DEVNET",
        envvar="CAUSEWAY_DEVNET_DIR",
        help="A devnet folder (with network.json, from devnet up --manifest): nodes, members and "
        "genesis hashes come from it.",
    ),
]
ChainOption = Annotated[
    str | None,
    typer.Option("--chain", metavar="ID", help="The chain of the devnet this command talks to."),
]
OfOption = Annotated[
    str | None,
    typer.Option("--of", metavar="CHAIN", help="The other chain, by its id in the devnet (--dir)."),
]
OfNodeOption = Annotated[
    str | None,
    typer.Option(
        "--of-node",
        metavar="ADDRESS",
        help="A node of the other chain (host:port).",
        callback=node_address_option,
    ),
]
OfIdentityOption = Annotated[
    Path | None,
    typer.Option(
        "--of-identity",
        metavar="MEMBER_DIR",
        help="A member of the other chain whose key signs the access tokens of the reads of "
        "its node, where that node requires them (default: the global --identity).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout-s", min=0.1, help="How long to wait for the transaction's commit."),
]


class Side(StrEnum):
    sent = "sent"
    received = "received"


# ---- plumbing ---------------------------------------------------------------------------------


def _devnet(directory: Path | None) -> list[DevnetChain] | None:
    if directory is None:
        return None
    from causeway.provisioning import load_devnet_description

    description = load_devnet_description(directory)
    clients_of: dict[str, list[tuple[str, str]]] = {}
    for link in description.links:
        if link.connected:
            for end, other, client_id in zip(
                link.chains, reversed(link.chains), link.clients, strict=True
            ):
                clients_of.setdefault(end, []).append((other, client_id))
    chains: list[DevnetChain] = []
    for chain in description.chains:
        try:
            genesis = bytes.fromhex(chain.genesis_hash)
        except ValueError:
            raise ConfigurationError(
                f"{directory}/network.json: chain {chain.id}'s genesis hash is not hex"
            ) from None
        chains.append(
            DevnetChain(
                chain_id=chain.chain_id,
                genesis_hash=genesis,
                addresses=tuple(node.grpc_address for node in chain.nodes),
                members=tuple(
                    DevnetMember(member.member_id, tuple(member.roles), member.directory)
                    for member in chain.members
                ),
                hub=chain.hub,
                clients_of=tuple(clients_of.get(chain.chain_id, ())),
            )
        )
    return chains


def _target(
    *,
    node: str | None,
    identity: Path | None,
    endorsers: list[Path] | None,
    directory: Path | None,
    chain: str | None,
    governance: bool,
) -> tuple[Target, list[DevnetChain] | None]:
    devnet = _devnet(directory)
    target = resolve_target(
        node=node,
        identity=identity,
        endorsers=endorsers or [],
        chain=chain,
        devnet=devnet,
        governance=governance,
    )
    return target, devnet


def _open(target: Target, *, signed: str | None) -> Client:
    """A client of the target's node, connected as the global options say (TLS, tokens made by
    the command's identity); ``signed`` names what needs an identity, if anything."""
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    if signed is not None and target.identity is None:
        raise ConfigurationError(
            f"{signed} is signed: give --identity MEMBER_DIR (or --dir DEVNET --chain ID)"
        )
    identity = Identity.load(target.identity) if target.identity is not None else None
    return open_client(target.address, identity)


def _open_other(address: str, identity: Path | None) -> Client:
    """A client of the other chain's node, which is only read (headers, validator sets, state):
    connected as the global options say, its tokens signed by ``identity`` (--of-identity, a
    member of that chain), else by the global --identity."""
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    return open_client(address, Identity.load(identity) if identity is not None else None)


def _endorsers(target: Target) -> list[Any]:
    from causeway.sdk import Identity

    return [Identity.load(path) for path in target.endorsers]


def _time_text(time_ms: int) -> str:
    if time_ms <= 0:
        return "-"
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _duration_text(milliseconds: int) -> str:
    seconds = milliseconds // 1000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    text = "".join(parts) + (f"{seconds}s" if seconds or not any(parts) else "")
    return text


# ---- rendering --------------------------------------------------------------------------------


def client_data(entry: interchain_pb2.ClientsGetResult) -> dict[str, Any]:
    client = entry.client
    return {
        "client_id": client.client_id,
        "chain_id": client.chain_id,
        "status": entry.status,
        "genesis_hash": client.genesis_hash.hex(),
        "consensus": client.consensus,
        "crypto_profile": client.crypto_profile,
        "latest_height": client.latest_height,
        "latest_time_ms": entry.latest.time_ms,
        "latest_state_root": entry.latest.state_root.hex(),
        "frozen_height": client.frozen_height,
        "counterparty_client_id": client.counterparty_client_id,
        "trusting_period_ms": client.trusting_period_ms,
        "clock_drift_ms": client.clock_drift_ms,
        "single_signer_accepted": client.single_signer_accepted,
        "created_time_ms": client.created_time_ms,
    }


def _print_client(title: str, data: dict[str, Any]) -> None:
    console.print(
        key_value_table(
            title,
            [
                ("client", data["client_id"]),
                ("of chain", data["chain_id"]),
                ("status", data["status"]),
                ("consensus", f"{data['consensus']}, {data['crypto_profile']}"),
                ("genesis hash", data["genesis_hash"]),
                ("latest height", data["latest_height"]),
                ("latest time", _time_text(data["latest_time_ms"])),
                ("state root", data["latest_state_root"]),
                ("frozen at", data["frozen_height"] or "-"),
                ("counterparty client", data["counterparty_client_id"] or "(not registered)"),
                ("trusting period", _duration_text(data["trusting_period_ms"])),
                ("clock drift", _duration_text(data["clock_drift_ms"])),
                ("single signer", "accepted" if data["single_signer_accepted"] else "refused"),
            ],
        )
    )


def _transfer_data(payload: interchain_pb2.Payload) -> dict[str, Any] | None:
    from google.protobuf.message import DecodeError as ProtobufDecodeError

    from causeway.interchain.v1 import interchain_pb2

    if payload.source_port != "transfer" and payload.destination_port != "transfer":
        return None
    try:
        data = interchain_pb2.TransferPacketData.FromString(payload.value)
    except (ProtobufDecodeError, RuntimeError, ValueError):
        return None
    return {
        "denom": data.denom,
        "amount": data.amount,
        "sender": data.sender,
        "receiver": data.receiver,
        "memo": data.memo.hex(),
    }


def packet_data(packet: interchain_pb2.Packet) -> dict[str, Any]:
    payload = packet.payload
    return {
        "source_client": packet.source_client,
        "destination_client": packet.destination_client,
        "sequence": packet.sequence,
        "timeout_ms": packet.timeout_ms,
        "source_port": payload.source_port,
        "destination_port": payload.destination_port,
        "version": payload.version,
        "encoding": payload.encoding,
        "value": payload.value.hex(),
        "transfer": _transfer_data(payload),
    }


def _acknowledgement_data(
    holder: interchain_pb2.PacketRecord | interchain_pb2.ReceiptRecord,
) -> dict[str, Any] | None:
    if not holder.HasField("acknowledgement"):
        return None
    acknowledgement = holder.acknowledgement
    return {
        "success": acknowledgement.success,
        "result": acknowledgement.result.hex(),
        "error": acknowledgement.error,
    }


def sent_data(record: interchain_pb2.PacketRecord) -> dict[str, Any]:
    return {
        "side": "sent",
        "state": record.state,
        "sent_height": record.sent_height,
        "sent_time_ms": record.sent_time_ms,
        "packet": packet_data(record.packet),
        "acknowledgement": _acknowledgement_data(record),
    }


def received_data(record: interchain_pb2.ReceiptRecord) -> dict[str, Any]:
    return {
        "side": "received",
        "state": "acknowledged" if record.HasField("acknowledgement") else "received",
        "received_height": record.received_height,
        "packet": packet_data(record.packet),
        "acknowledgement": _acknowledgement_data(record),
    }


def _acknowledgement_text(data: dict[str, Any] | None) -> str:
    if data is None:
        return "-"
    if data["success"]:
        result = display_bytes(bytes.fromhex(data["result"]))
        return "success" + (f" ({result})" if result else "")
    return f"error: {data['error']}"


def _transfer_text(data: dict[str, Any] | None) -> str:
    if data is None:
        return "-"
    return f"{data['amount']} {data['denom']} from {data['sender']} to {data['receiver']}"


def _print_packet(title: str, data: dict[str, Any]) -> None:
    packet = data["packet"]
    rows: list[tuple[str, Any]] = [
        ("packet", f"{packet['source_client']}/{packet['sequence']}"),
        ("path", f"{packet['source_client']} -> {packet['destination_client']}"),
        ("ports", f"{packet['source_port']} -> {packet['destination_port']}"),
        ("state", data["state"]),
    ]
    if data["side"] == "sent":
        rows.append(("sent", f"height {data['sent_height']}, {_time_text(data['sent_time_ms'])}"))
    else:
        rows.append(("received at height", data["received_height"]))
    rows.extend(
        [
            ("times out", _time_text(packet["timeout_ms"])),
            ("transfer", _transfer_text(packet["transfer"])),
            ("acknowledgement", _acknowledgement_text(data["acknowledgement"])),
        ]
    )
    if packet["transfer"] is None:
        rows.append(("data", "0x" + packet["value"] if packet["value"] else "-"))
    console.print(key_value_table(title, rows))


def member_data(member: interchain_pb2.MemberChain) -> dict[str, Any]:
    from causeway.interchain.hub import member_trust

    return {
        "chain_id": member.chain_id,
        "genesis_hash": member.genesis_hash.hex(),
        "crypto_profile": member.crypto_profile,
        "consensus": member.consensus,
        "validators": [
            {"member_id": validator.member_id, "voting_power": validator.voting_power}
            for validator in member.validator_set.validators
        ],
        "endpoints": list(member.endpoints),
        "client_id": member.client_id,
        "registered_time_ms": member.registered_time_ms,
        # What the hub's proofs of this member rest on: its validators (a light client), or an
        # EVM chain's gateway committee (weaker).
        "trust": member_trust(member),
        "committee": {
            "evm_chain_id": member.evm.evm_chain_id,
            "threshold": member.evm.threshold,
            "operators": ["0x" + address.hex() for address in member.evm.committee],
            "endpoint_address": "0x" + member.evm.endpoint_address.hex(),
        }
        if member.HasField("evm")
        else None,
    }


def _print_members(members: Sequence[dict[str, Any]]) -> None:
    if not members:
        console.print("no member chains registered")
        return
    console.print(
        rows_table(
            "Hub members",
            [
                "chain",
                "profile",
                "consensus",
                "trust",
                "validators",
                "client",
                "endpoints",
                "registered",
            ],
            [
                [
                    member["chain_id"],
                    member["crypto_profile"],
                    member["consensus"],
                    member["trust"],
                    len(member["validators"]),
                    member["client_id"],
                    ", ".join(member["endpoints"]) or "-",
                    _time_text(member["registered_time_ms"]),
                ]
                for member in members
            ],
        )
    )


# ---- hub --------------------------------------------------------------------------------------

hub_app = typer.Typer(
    name="hub",
    help="The hub's registry of member chains.\n\nExample:\n\n"
    "    causeway hub members --dir ./chains --chain hub",
    no_args_is_help=True,
)


@hub_app.command("register")
def hub_register(
    *,
    client: Annotated[
        str, typer.Option("--client", metavar="CLIENT_ID", help="The hub's client of the member.")
    ],
    member: Annotated[
        str | None,
        typer.Option("--member", metavar="CHAIN", help="The member chain, by its devnet id."),
    ] = None,
    member_node: Annotated[
        str | None,
        typer.Option(
            "--member-node",
            metavar="ADDRESS",
            help="A node of the member chain (host:port).",
            callback=node_address_option,
        ),
    ] = None,
    of_identity: OfIdentityOption = None,
    endpoints: Annotated[
        list[str] | None,
        typer.Option(
            "--endpoint",
            metavar="HOST:PORT",
            help="Where the member's nodes serve clients; repeatable; default: the node read "
            "(--member-node) or the devnet's nodes of --member.",
        ),
    ] = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Register a member chain on the hub (governance): its chain id, genesis hash, profile,
    consensus and validator set as its node states them, checked by the hub against its light
    client of the chain. The hub refuses a chain where one organisation holds a third or more of
    the voting power.

    Example:

        causeway hub register --dir ./chains --chain hub --member chain-a --client client-0

        causeway hub register --node 127.0.0.1:7050 -i hub/organisations/org1/members/admin \\
            -e hub/organisations/org2/members/admin --member-node 10.0.0.5:7050 \\
            --client client-0 --endpoint 10.0.0.5:7050
    """

    check_client_id(client, "--client")
    target, devnet = _target(
        node=node,
        identity=identity,
        endorsers=endorsers,
        directory=directory,
        chain=chain,
        governance=True,
    )
    member_address = resolve_counterparty(of_chain=member, of_node=member_node, devnet=devnet)
    checked = [parse_node_address(endpoint) for endpoint in endpoints or []]
    if not checked:
        if member is not None and devnet is not None:
            checked = [
                address
                for entry in devnet
                if entry.chain_id == member
                for address in entry.addresses
            ]
        else:
            checked = [member_address]
    with (
        _open(target, signed="hub register") as hub,
        _open_other(member_address, of_identity) as member_client,
    ):
        record = hub.interchain.hub_register(
            member_client,
            client,
            endpoints=checked,
            endorsers=_endorsers(target),
            timeout_s=timeout_s,
        )
    data = member_data(record)
    if json_output:
        print_json(data)
        return
    console.print(f"registered chain {record.chain_id} with client {record.client_id}")
    _print_members([data])


@hub_app.command("members")
def hub_members(
    *,
    member: Annotated[
        str | None,
        typer.Argument(metavar="[CHAIN]", help="One member chain (read with its proof)."),
    ] = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the hub's member chains, or show one.

    Example:

        causeway hub members --dir ./chains --chain hub

        causeway hub members chain-b --node 127.0.0.1:7050 --json
    """
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    with _open(target, signed=None if member else "listing the hub's members") as hub:
        if member is not None:
            members = [hub.interchain.hub_member(member)]
        else:
            members = hub.interchain.hub_members(limit=LIST_LIMIT_MAX)
    data = [member_data(entry) for entry in members]
    if json_output:
        print_json(data[0] if member is not None else {"members": data})
        return
    _print_members(data)


# ---- interchain client, port ------------------------------------------------------------------

interchain_app = typer.Typer(
    name="interchain",
    help="Light clients of other chains and the ports packets reach.\n\nExample:\n\n"
    "    causeway interchain client create --dir ./chains --chain chain-a --of hub",
    no_args_is_help=True,
)
client_app = typer.Typer(
    name="client",
    help="Light clients of other chains.\n\nExample:\n\n"
    "    causeway interchain client status --dir ./chains --chain chain-a",
    no_args_is_help=True,
)
port_app = typer.Typer(
    name="port",
    help="Ports: which application a packet reaches.\n\nExample:\n\n"
    "    causeway interchain port bind transfer --dir ./chains --chain chain-a",
    no_args_is_help=True,
)
interchain_app.add_typer(client_app)
interchain_app.add_typer(port_app)

ClientArgument = Annotated[
    str, typer.Argument(metavar="CLIENT_ID", help="A client, e.g. client-0.")
]


@client_app.command("create")
def client_create(
    *,
    of_chain: OfOption = None,
    of_node: OfNodeOption = None,
    of_identity: OfIdentityOption = None,
    trusting_period_s: Annotated[
        int,
        typer.Option(
            "--trusting-period-s",
            min=1,
            max=TRUSTING_PERIOD_S_MAX,
            help="How long a verified header vouches for the next one.",
        ),
    ] = TRUSTING_PERIOD_S_DEFAULT,
    clock_drift_s: Annotated[
        int,
        typer.Option(
            "--clock-drift-s",
            min=0,
            max=CLOCK_DRIFT_S_MAX,
            help="How far ahead of this chain's time a header may be dated.",
        ),
    ] = CLOCK_DRIFT_S_DEFAULT,
    single_signer: Annotated[
        bool,
        typer.Option(
            "--single-signer",
            help="Accept a chain whose headers one validator signs alone (a solo chain).",
        ),
    ] = False,
    counterparty_client: Annotated[
        str | None,
        typer.Option(
            "--counterparty-client",
            metavar="CLIENT_ID",
            help="The other chain's client of this chain, when it exists already.",
        ),
    ] = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Create a light client of another chain (governance), from that chain's newest header
    whose certificate holds more than two thirds of its validators, read from its node with its
    chain id, genesis hash, consensus and crypto profile.

    Example:

        causeway interchain client create --dir ./chains --chain chain-a --of hub

        causeway interchain client create --node 127.0.0.1:7050 \\
            -i a/organisations/org1/members/admin -e a/organisations/org2/members/admin \\
            --of-node 127.0.0.1:7150 --single-signer
    """

    if counterparty_client is not None:
        check_client_id(counterparty_client, "--counterparty-client")
    target, devnet = _target(
        node=node,
        identity=identity,
        endorsers=endorsers,
        directory=directory,
        chain=chain,
        governance=True,
    )
    other_address = resolve_counterparty(of_chain=of_chain, of_node=of_node, devnet=devnet)
    with (
        _open(target, signed="creating a client") as own,
        _open_other(other_address, of_identity) as other,
    ):
        client_id = own.interchain.create_client(
            other,
            trusting_period_ms=trusting_period_s * 1000,
            clock_drift_ms=clock_drift_s * 1000,
            single_signer_accepted=single_signer,
            counterparty_client_id=counterparty_client or "",
            endorsers=_endorsers(target),
            timeout_s=timeout_s,
        )
        created = own.interchain.client_status(client_id)
    data = client_data(created)
    if json_output:
        print_json(data)
        return
    _print_client(f"Created {client_id}", data)


@client_app.command("update")
def client_update(
    *,
    client_id: ClientArgument,
    of_chain: OfOption = None,
    of_node: OfNodeOption = None,
    of_identity: OfIdentityOption = None,
    height: Annotated[
        int,
        typer.Option("--height", min=0, help="Update to this height (0: the newest certified)."),
    ] = 0,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Bring a client up to the other chain's newest certified header (anyone may; relayers do
    it on their own).

    Example:

        causeway interchain client update client-0 --dir ./chains --chain chain-a --of hub

        causeway interchain client update client-0 -i a/organisations/org1/members/client \\
            --of-node 127.0.0.1:7150 --json
    """

    check_client_id(client_id)
    target, devnet = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    other_address = resolve_counterparty(of_chain=of_chain, of_node=of_node, devnet=devnet)
    with (
        _open(target, signed="updating a client") as own,
        _open_other(other_address, of_identity) as other,
    ):
        own.interchain.update_client(client_id, other, height=height, timeout_s=timeout_s)
        updated = own.interchain.client_status(client_id)
    data = client_data(updated)
    if json_output:
        print_json(data)
        return
    _print_client(f"Updated {client_id}", data)


@client_app.command("status")
def client_status(
    *,
    client_id: Annotated[
        str | None,
        typer.Argument(metavar="[CLIENT_ID]", help="One client (read with its proof); none: all."),
    ] = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a client (its chain, status, latest verified height), or list every client.

    Example:

        causeway interchain client status client-0 --dir ./chains --chain chain-a

        causeway interchain client status --node 127.0.0.1:7050 \\
            -i a/organisations/org1/members/client --json
    """
    if client_id is not None:
        check_client_id(client_id)
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    with _open(target, signed=None if client_id else "listing clients") as own:
        if client_id is not None:
            entries = [own.interchain.client_status(client_id)]
        else:
            entries = own.interchain.clients()
    data = [client_data(entry) for entry in entries]
    if json_output:
        print_json(data[0] if client_id is not None else {"clients": data})
        return
    if client_id is not None:
        _print_client(f"Client {client_id}", data[0])
        return
    if not data:
        console.print("no clients")
        return
    console.print(
        rows_table(
            "Clients",
            [
                "client",
                "of chain",
                "status",
                "profile",
                "latest height",
                "latest time",
                "counterparty",
            ],
            [
                [
                    item["client_id"],
                    item["chain_id"],
                    item["status"],
                    f"{item['consensus']}, {item['crypto_profile']}",
                    item["latest_height"],
                    _time_text(item["latest_time_ms"]),
                    item["counterparty_client_id"] or "-",
                ]
                for item in data
            ],
        )
    )


@client_app.command("recover")
def client_recover(
    *,
    client_id: ClientArgument,
    of_chain: OfOption = None,
    of_node: OfNodeOption = None,
    of_identity: OfIdentityOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Recover a frozen or expired client (governance) from the other chain's newest certified
    header; it keeps its id, and what it stored before no longer counts.

    Example:

        causeway interchain client recover client-0 --dir ./chains --chain chain-a --of hub
    """

    check_client_id(client_id)
    target, devnet = _target(
        node=node,
        identity=identity,
        endorsers=endorsers,
        directory=directory,
        chain=chain,
        governance=True,
    )
    other_address = resolve_counterparty(of_chain=of_chain, of_node=of_node, devnet=devnet)
    with (
        _open(target, signed="recovering a client") as own,
        _open_other(other_address, of_identity) as other,
    ):
        recovered = own.interchain.recover_client(
            client_id, other, endorsers=_endorsers(target), timeout_s=timeout_s
        )
    data = client_data(recovered)
    if json_output:
        print_json(data)
        return
    _print_client(f"Recovered {client_id}", data)


@client_app.command("counterparty")
def client_counterparty(
    *,
    client_id: ClientArgument,
    counterparty_client: Annotated[
        str,
        typer.Argument(
            metavar="COUNTERPARTY_CLIENT_ID", help="The other chain's client of this chain."
        ),
    ],
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Name the other chain's client of this chain (governance; set once): packets travel only
    between two clients that name each other.

    Example:

        causeway interchain client counterparty client-0 client-3 --dir ./chains --chain chain-a
    """
    check_client_id(client_id)
    check_client_id(counterparty_client, "counterparty client")
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=endorsers,
        directory=directory,
        chain=chain,
        governance=True,
    )
    with _open(target, signed="registering a counterparty") as own:
        own.interchain.register_counterparty(
            client_id, counterparty_client, endorsers=_endorsers(target), timeout_s=timeout_s
        )
        updated = own.interchain.client_status(client_id)
    data = client_data(updated)
    if json_output:
        print_json(data)
        return
    _print_client(f"Client {client_id} names {counterparty_client}", data)


@port_app.command("bind")
def port_bind(
    *,
    port: Annotated[str, typer.Argument(metavar="PORT", help="The port, e.g. transfer.")],
    contract: Annotated[
        str | None,
        typer.Option("--contract", help="The application's contract (default: the port's name)."),
    ] = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Let packets for PORT reach its application (governance; once per port). Only an
    application registered for the port can be bound, never a system contract.

    Example:

        causeway interchain port bind transfer --dir ./chains --chain chain-a
    """
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=endorsers,
        directory=directory,
        chain=chain,
        governance=True,
    )
    application = contract or port
    with _open(target, signed="binding a port") as own:
        own.interchain.bind_port(
            port, application, endorsers=_endorsers(target), timeout_s=timeout_s
        )
    if json_output:
        print_json({"port": port, "contract": application, "bound": True})
        return
    console.print(f"port {port} bound to {application}")


# ---- transfer ---------------------------------------------------------------------------------

transfer_app = typer.Typer(
    name="transfer",
    help="Move tokens to another chain.\n\nExample:\n\n"
    "    causeway transfer send --dir ./chains --chain chain-a --to-chain chain-b "
    "--receiver org1/client --denom stake --amount 10 --wait",
    no_args_is_help=True,
)


def source_client_for(
    own: Client, to_chain: str, explicit: str | None, devnet: Sequence[DevnetChain] | None
) -> str:
    """The sending chain's client of ``to_chain`` (interchain_targets.resolve_source_client)."""
    from causeway.errors import NotFoundError

    sending_chain = own.chain_id()
    if to_chain == sending_chain:
        raise RequestError(
            f"--to-chain {to_chain} is the chain the transfer is sent from",
            reason="invalid_argument",
        )
    if explicit is not None:
        check_client_id(explicit, "--client")
        followed = own.interchain.client_status(explicit).client.chain_id
        if followed != to_chain:
            raise RequestError(
                f"--client {explicit} follows chain {followed!r}, not --to-chain {to_chain!r}",
                reason="invalid_argument",
            )
        return explicit
    described: str | None = None
    expected = None
    for entry in devnet or ():
        if entry.chain_id == to_chain:
            expected = entry.genesis_hash
        if entry.chain_id == sending_chain:
            described = entry.client_of(to_chain)
    hub_client: str | None = None
    if described is None:
        try:
            hub_client = own.interchain.hub_member(to_chain).client_id
        except NotFoundError:
            hub_client = None
    views = [
        ClientView(
            client_id=entry.client.client_id,
            chain_id=entry.client.chain_id,
            genesis_hash=entry.client.genesis_hash,
            status=entry.status,
            counterparty_client_id=entry.client.counterparty_client_id,
        )
        for entry in (
            [] if hub_client is not None or described is not None else own.interchain.clients()
        )
    ]
    return resolve_source_client(
        sending_chain=sending_chain,
        to_chain=to_chain,
        explicit_client=None,
        hub_member_client=hub_client,
        clients=views,
        expected_genesis=expected,
        described_client=described,
    )


def route_for(
    own: Client,
    to_chain: str,
    *,
    explicit: str | None,
    via: str | None,
    devnet: Sequence[DevnetChain] | None,
) -> tuple[str, str | None]:
    """The client to send on and the hub that forwards (None: a direct transfer)."""
    sending_chain = own.chain_id()
    if via is not None:
        hub = hub_to_route_through(
            via=via, sending_chain=sending_chain, to_chain=to_chain, devnet=devnet
        )
        assert hub is not None
        return source_client_for(own, hub, explicit, devnet), hub
    try:
        return source_client_for(own, to_chain, explicit, devnet), None
    except RequestError as error:
        if error.reason != "not_found" or explicit is not None:
            raise
        hub = hub_to_route_through(
            via=None, sending_chain=sending_chain, to_chain=to_chain, devnet=devnet
        )
        if hub is None:
            raise RequestError(
                f"{error.message}; or send through a hub with --via HUB_CHAIN_ID",
                reason=error.reason,
            ) from None
        return source_client_for(own, hub, None, devnet), hub


@transfer_app.command("send")
def transfer_send(
    *,
    to_chain: Annotated[
        str, typer.Option("--to-chain", metavar="CHAIN_ID", help="The receiving chain.")
    ],
    receiver: Annotated[
        str,
        typer.Option("--receiver", metavar="ACCOUNT", help="The account on the receiving chain."),
    ],
    denom: Annotated[str, typer.Option("--denom", help="The denomination to send.")],
    amount: Annotated[int, typer.Option("--amount", min=1, help="How much to send.")],
    client: Annotated[
        str | None,
        typer.Option(
            "--client",
            metavar="CLIENT_ID",
            help="This chain's client of the receiving chain (default: found from the hub "
            "registry or this chain's clients).",
        ),
    ] = None,
    timeout_after_s: Annotated[
        int,
        typer.Option(
            "--timeout-after-s",
            min=1,
            max=TRANSFER_TIMEOUT_S_MAX,
            help="The packet times out this long after this chain's newest block (in the "
            "receiving chain's time); the tokens then come back.",
        ),
    ] = TRANSFER_TIMEOUT_S_DEFAULT,
    memo: Annotated[str, typer.Option("--memo", help="Free text carried with the tokens.")] = "",
    via: Annotated[
        str | None,
        typer.Option(
            "--via",
            metavar="HUB_CHAIN_ID",
            help="Send through this hub, which forwards to its member --to-chain (default, "
            "when this chain has no client of --to-chain: the devnet's hub).",
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait until the packet is acknowledged or timed out."),
    ] = False,
    wait_s: Annotated[
        float, typer.Option("--wait-s", min=0.1, help="How long --wait waits.")
    ] = PACKET_WAIT_S_DEFAULT,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Send tokens to an account on another chain; prints the packet (its sequence names it).
    With --wait, waits for its end and exits 3 when it came back refused (an error
    acknowledgement) or timed out: the tokens were then refunded.

    The source client comes from --client, else the devnet's link between the two chains (--dir),
    else the hub's registry (when this chain is the hub and the receiving chain a member), else
    this chain's one active client of the receiving chain (with --dir, its genesis hash must be
    the devnet's). With no such client, the tokens
    go through a hub (--via, or the devnet's hub): sent to this chain's client of the hub, with
    a memo asking the hub to forward them; --wait then waits for the far end's answer.

    Example:

        causeway transfer send --dir ./chains --chain chain-a --to-chain chain-b \\
            --receiver org1/client --denom stake --amount 10 --wait

        causeway transfer send -i a/organisations/org1/members/client --to-chain chain-b \\
            --client client-0 --receiver org1/client --denom stake --amount 10 --json
    """
    from causeway.interchain.transfer import TRANSFER_MEMO_BYTES_MAX

    memo_bytes = memo.encode("utf-8")
    if len(memo_bytes) > TRANSFER_MEMO_BYTES_MAX:
        raise RequestError(
            f"--memo is {len(memo_bytes)} bytes, above the limit of {TRANSFER_MEMO_BYTES_MAX}",
            reason="invalid_argument",
        )
    if not denom.strip():
        raise RequestError("--denom is empty", reason="invalid_argument")
    if not receiver.strip():
        raise RequestError("--receiver is empty", reason="invalid_argument")
    target, devnet = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    with _open(target, signed="a transfer") as own:
        source_client, hub = route_for(own, to_chain, explicit=client, via=via, devnet=devnet)
        if hub is None:
            packet = own.interchain.send_transfer(
                source_client,
                denom=denom,
                amount=amount,
                receiver=receiver,
                timeout_after_ms=timeout_after_s * 1000,
                memo=memo_bytes,
                timeout_s=timeout_s,
            )
        elif memo_bytes:
            raise RequestError(
                f"--memo cannot go through hub {hub}: the hub reads the memo to forward the "
                "tokens; send directly or drop --memo",
                reason="invalid_argument",
            )
        else:
            packet = own.interchain.send_transfer_through_hub(
                source_client,
                to_chain=to_chain,
                denom=denom,
                amount=amount,
                receiver=receiver,
                timeout_after_ms=timeout_after_s * 1000,
                timeout_s=timeout_s,
            )
        if not json_output:
            through = f" (through {hub})" if hub is not None else ""
            console.print(
                f"sent packet {packet.source_client}/{packet.sequence}: {amount} {denom} to "
                f"{receiver} on {to_chain}{through}"
            )
        record = None
        if wait:
            record = own.interchain.wait_for_packet(
                packet.source_client, packet.sequence, timeout_s=wait_s
            )
    data: dict[str, Any] = {
        "chain_id": own.chain_id(),
        "to_chain": to_chain,
        "via": hub,
        "source_client": source_client,
        "packet": packet_data(packet),
        "end": sent_data(record) if record is not None else None,
    }
    if json_output:
        print_json(data)
    elif record is not None:
        _print_packet(f"Packet {packet.source_client}/{packet.sequence}", data["end"])
    else:
        console.print(
            f"check its progress with: causeway packet status --client {packet.source_client} "
            f"--sequence {packet.sequence}"
        )
    if record is not None and not (
        record.state == "acknowledged" and record.acknowledgement.success
    ):
        raise typer.Exit(EXIT_TRANSACTION_FAILED)


# ---- bank -------------------------------------------------------------------------------------

bank_app = typer.Typer(
    name="bank",
    help="Balances of every denomination.\n\nExample:\n\n"
    "    causeway bank balance org1/client --dir ./chains --chain chain-a",
    no_args_is_help=True,
)


@bank_app.command("balance")
def bank_balance(
    *,
    account: Annotated[
        str, typer.Argument(metavar="ACCOUNT", help="The account, e.g. org1/client.")
    ],
    denom: Annotated[
        str | None,
        typer.Option("--denom", help="One denomination (read with its proof); none: all."),
    ] = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show an account's balance of one denomination, or all of its balances.

    Example:

        causeway bank balance org1/client --dir ./chains --chain chain-b

        causeway bank balance org1/client --denom stake --node 127.0.0.1:7050 --json
    """
    if not account.strip():
        raise RequestError("the account is empty", reason="invalid_argument")
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    with _open(target, signed=None if denom else "listing balances") as own:
        if denom is not None:
            coins = [(denom, own.interchain.balance(account, denom))]
        else:
            coins = [(coin.denom, coin.amount) for coin in own.interchain.balances(account)]
    data = {"account": account, "balances": [{"denom": d, "amount": a} for d, a in coins]}
    if json_output:
        print_json(data)
        return
    if not coins:
        console.print(f"{account} holds nothing")
        return
    console.print(rows_table(f"Balances of {account}", ["denom", "amount"], coins))


@bank_app.command("issue")
def bank_issue(
    *,
    account: Annotated[str, typer.Option("--account", metavar="ACCOUNT", help="Who receives.")],
    denom: Annotated[str, typer.Option("--denom", help="A native denomination of this chain.")],
    amount: Annotated[int, typer.Option("--amount", min=1, help="How much to issue.")],
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Issue tokens of a native denomination (as the chain's ledger issue policy allows).

    Example:

        causeway bank issue --dir ./chains --chain chain-a --account org1/client \\
            --denom stake --amount 1000
    """
    if not account.strip():
        raise RequestError("--account is empty", reason="invalid_argument")
    if not denom.strip():
        raise RequestError("--denom is empty", reason="invalid_argument")
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=endorsers,
        directory=directory,
        chain=chain,
        governance=True,
    )
    with _open(target, signed="issuing") as own:
        balance = own.interchain.issue(
            account, denom, amount, endorsers=_endorsers(target), timeout_s=timeout_s
        )
    data = {"account": account, "denom": denom, "issued": amount, "balance": balance}
    if json_output:
        print_json(data)
        return
    console.print(f"issued {amount} {denom} to {account}; balance now {balance}")


# ---- packet -----------------------------------------------------------------------------------

packet_app = typer.Typer(
    name="packet",
    help="Packets sent and received.\n\nExample:\n\n"
    "    causeway packet list --client client-0 --dir ./chains --chain chain-a",
    no_args_is_help=True,
)
PacketClientOption = Annotated[
    str,
    typer.Option(
        "--client",
        metavar="CLIENT_ID",
        help="Sent: this chain's client of the receiver; received: its client of the sender.",
    ),
]
SideOption = Annotated[Side, typer.Option("--side", help="Packets this chain sent, or received.")]


@packet_app.command("status")
def packet_status(
    *,
    client: PacketClientOption,
    sequence: Annotated[int, typer.Option("--sequence", min=1, help="The packet's sequence.")],
    side: SideOption = Side.sent,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one packet, read with its proof: in flight, acknowledged (with the
    acknowledgement) or timed out on the sending chain; received on the receiving chain.

    Example:

        causeway packet status --client client-0 --sequence 1 --dir ./chains --chain chain-a

        causeway packet status --client client-2 --sequence 1 --side received \\
            --node 127.0.0.1:7150 --json
    """
    check_client_id(client, "--client")
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    with _open(target, signed=None) as own:
        found = own.interchain.packet(client, sequence, side=side.value)
    data = sent_data(found.sent) if side is Side.sent else received_data(found.received)
    if json_output:
        print_json(data)
        return
    _print_packet(f"Packet {client}/{sequence} ({side.value})", data)


@packet_app.command("list")
def packet_list(
    *,
    client: PacketClientOption,
    side: SideOption = Side.sent,
    in_flight: Annotated[
        bool, typer.Option("--in-flight", help="Only packets not ended yet (sent side).")
    ] = False,
    start_after: Annotated[
        int, typer.Option("--start-after", min=0, help="List sequences after this one.")
    ] = 0,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=LIST_LIMIT_MAX, help="At most this many.")
    ] = 100,
    node: NodeOption = None,
    identity: IdentityOption = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    json_output: JsonOption = False,
) -> None:
    """List a client's packets in sequence order.

    Example:

        causeway packet list --client client-0 --dir ./chains --chain chain-a --in-flight

        causeway packet list --client client-2 --side received --node 127.0.0.1:7150 \\
            -i b/organisations/org1/members/client --json
    """
    check_client_id(client, "--client")
    if in_flight and side is Side.received:
        raise RequestError(
            "--in-flight lists packets this chain sent: drop it or use --side sent",
            reason="invalid_argument",
        )
    target, _ = _target(
        node=node,
        identity=identity,
        endorsers=None,
        directory=directory,
        chain=chain,
        governance=False,
    )
    with _open(target, signed="listing packets") as own:
        found = own.interchain.packets(
            client,
            side=side.value,
            start_after=start_after,
            limit=limit,
            in_flight_only=in_flight,
        )
    items = (
        [sent_data(record) for record in found.sent]
        if side is Side.sent
        else [received_data(record) for record in found.received]
    )
    if json_output:
        print_json({"client_id": client, "side": side.value, "packets": items})
        return
    if not items:
        console.print(f"no packets {side.value} on {client}")
        return
    console.print(
        rows_table(
            f"Packets {side.value} on {client}",
            ["sequence", "state", "transfer", "times out", "acknowledgement"],
            [
                [
                    item["packet"]["sequence"],
                    item["state"],
                    _transfer_text(item["packet"]["transfer"]),
                    _time_text(item["packet"]["timeout_ms"]),
                    _acknowledgement_text(item["acknowledgement"]),
                ]
                for item in items
            ],
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(hub_app)
    app.add_typer(interchain_app)
    app.add_typer(transfer_app)
    app.add_typer(bank_app)
    app.add_typer(packet_app)
