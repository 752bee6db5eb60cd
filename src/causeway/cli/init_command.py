"""`causeway init`: a new network in a folder."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from causeway.cli.output import console, key_value_table, print_json, rows_table
from causeway.types.v1 import types_pb2


class CryptoChoice(enum.StrEnum):
    intl = "intl"
    gm = "gm"


class ConsensusChoice(enum.StrEnum):
    solo = "solo"
    tbft = "tbft"
    raft = "raft"


class AlgorithmChoice(enum.StrEnum):
    ecdsa_p256 = "ecdsa-p256"
    ed25519 = "ed25519"
    sm2 = "sm2"


def _role_names(member: types_pb2.Member) -> str:
    return ", ".join(types_pb2.Role.Name(role).removeprefix("ROLE_") for role in member.roles)


def init(
    *,
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Folder to create the network in.")
    ],
    orgs: Annotated[
        int, typer.Option("--orgs", min=1, max=64, help="Number of organisations.")
    ] = 1,
    crypto: Annotated[
        CryptoChoice,
        typer.Option(
            "--crypto", help="Crypto profile: intl (ECDSA/Ed25519, SHA-256) or gm (SM2, SM3)."
        ),
    ] = CryptoChoice.intl,
    consensus: Annotated[
        ConsensusChoice, typer.Option("--consensus", help="Consensus engine.")
    ] = ConsensusChoice.solo,
    chain_id: Annotated[
        str | None,
        typer.Option(
            "--chain-id",
            help="Chain id every signature is bound to (default: causeway-local- and 8 random "
            "hex digits, so that two networks never share one).",
        ),
    ] = None,
    algorithm: Annotated[
        AlgorithmChoice | None,
        typer.Option(
            "--algorithm",
            help="Signature algorithm of every key (default: the profile's, ecdsa-p256 or sm2).",
        ),
    ] = None,
    validators: Annotated[
        int,
        typer.Option(
            "--validators",
            min=1,
            max=64,
            help="Number of validator nodes (solo: 1; tbft: 4 or more to survive a fault, "
            "raft: 3 or more).",
        ),
    ] = 1,
    port_base: Annotated[
        int | None,
        typer.Option(
            "--port-base",
            metavar="PORT",
            help="Listen on consecutive loopback ports from PORT: node I on PORT+3(I-1) (gRPC), "
            "+1 (HTTP), +2 (peers); give each network on one host its own base. "
            "Default: gRPC 7050, HTTP 8050, peers 7150, up by one per node.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the network in a non-empty DIR (deletes its genesis.json, "
            "organisations/ and nodes/, node data included).",
        ),
    ] = False,
    secure_api: Annotated[
        bool,
        typer.Option(
            "--secure-api",
            help="Serve the client API over TLS (the node's TLS certificate) and require access "
            "tokens, with a per-client rate limit; clients use --tls-ca "
            "NODE_HOME/tls/ca-bundle.pem and --identity.",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Create a new network: CA and member keys, certificates, genesis and node folders.

    Every organisation orgK gets a CA and the members admin (ADMIN) and client (CLIENT); node1
    is a member of org1 with the CONSENSUS role. Private keys are written with mode 0600.
    A non-empty DIR is refused unless --force. Networks that run side by side on one host need
    different --port-base values, at least 3 ports per node apart.

    Example:

        causeway init ./net --orgs 2 --crypto intl --consensus solo

        causeway init ./second-net --port-base 9100

        causeway init ./gm-net --orgs 1 --crypto gm --chain-id city-dept

        causeway init ./secured-net --secure-api
    """
    from causeway.crypto import get_profile
    from causeway.provisioning import init_network, member_directory, node_directory
    from causeway.types import genesis_hash

    network = init_network(
        directory,
        orgs,
        crypto.value,
        consensus.value,
        chain_id=chain_id,
        algorithm=algorithm.value if algorithm is not None else None,
        validators=validators,
        force=force,
        port_base=port_base,
    )
    if secure_api:
        from causeway.provisioning.secure_api import enable_secure_api

        for node in network.nodes:
            enable_secure_api(node_directory(directory, node.name))
    identifier = genesis_hash(network.genesis, get_profile(network.crypto_profile).hash).hex()
    members = [
        {
            "member_id": member.member_id,
            "roles": _role_names(member.member),
            "directory": str(member_directory(directory, member.member_id)),
        }
        for member in network.members
    ]
    nodes = [
        {
            "name": node.name,
            "member_id": node.member.member_id,
            "home": str(node_directory(directory, node.name)),
            "grpc_address": node.settings.grpc_address,
            "http_address": node.settings.http_address,
            "peer_address": node.settings.peer_address,
        }
        for node in network.nodes
    ]
    if json_output:
        print_json(
            {
                "directory": str(directory),
                "chain_id": network.chain_id,
                "crypto_profile": network.crypto_profile,
                "algorithm": network.algorithm,
                "consensus": network.consensus,
                "genesis_hash": identifier,
                "members": members,
                "nodes": nodes,
            }
        )
        return
    console.print(
        key_value_table(
            f"Network created in {directory}",
            [
                ("chain id", network.chain_id),
                ("crypto profile", f"{network.crypto_profile} ({network.algorithm})"),
                ("consensus", network.consensus),
                ("genesis hash", identifier),
            ],
        )
    )
    console.print(
        rows_table(
            "Members",
            ["member", "roles", "folder"],
            [[m["member_id"], m["roles"], m["directory"]] for m in members],
        )
    )
    console.print(
        rows_table(
            "Nodes",
            ["node", "home", "gRPC", "HTTP"],
            [[n["name"], n["home"], n["grpc_address"], n["http_address"]] for n in nodes],
        )
    )
    first = nodes[0]
    console.print(
        Text("Start it with:  ", style="bold") + Text(f"causeway node start --home {first['home']}")
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
