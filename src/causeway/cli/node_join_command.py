"""`causeway node join`: prepare a node folder that joins a running chain."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from causeway.cli.output import console, key_value_table, print_json


def join(
    *,
    home: Annotated[
        Path, typer.Option("--home", metavar="DIR", help="The new node folder (new or empty).")
    ],
    genesis: Annotated[
        Path, typer.Option("--genesis", metavar="FILE", help="The chain's genesis.json.")
    ],
    identity: Annotated[
        Path,
        typer.Option(
            "--identity",
            metavar="DIR",
            help="The node's identity folder: key.pem, member.json, tls/node.key, tls/node.crt"
            " (what `causeway init` writes as nodes/<node>, or `causeway org init` for a node).",
        ),
    ],
    peer: Annotated[
        list[str],
        typer.Option(
            "--peer",
            metavar="[NAME=]MEMBER@HOST:PORT",
            help="A bootstrap peer to dial and sync from (repeat for several), e.g."
            " org1/node1@10.0.0.1:7150.",
        ),
    ],
    tls_ca_bundle: Annotated[
        list[Path] | None,
        typer.Option(
            "--tls-ca-bundle",
            metavar="FILE",
            help="PEM TLS CA certificates of the bootstrap peers' organisations (repeatable).",
        ),
    ] = None,
    listen_address: Annotated[
        str, typer.Option("--listen-address", help="Where peers dial this node.")
    ] = "127.0.0.1:7150",
    grpc_address: Annotated[
        str, typer.Option("--grpc-address", help="The client gRPC API address.")
    ] = "127.0.0.1:7050",
    http_address: Annotated[
        str, typer.Option("--http-address", help="The HTTP/JSON API address.")
    ] = "127.0.0.1:8050",
    snapshot_from: Annotated[
        str | None,
        typer.Option(
            "--snapshot-from",
            metavar="HOST:PORT",
            help="The HTTP address of a node serving snapshots: the new node starts from the "
            "newest one, verified against a header signed by the validators that the chain's "
            "genesis leads to, instead of replaying every block since genesis.",
        ),
    ] = None,
    trusted_hash: Annotated[
        str | None,
        typer.Option(
            "--trusted-hash",
            metavar="HEX",
            help="With --snapshot-from: the block hash the snapshot's header must have (from "
            "a source the operator trusts; recommended, see docs/operations.md).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Prepare a node folder that joins a running chain; start it with `causeway node start`.

    The node catches up by block sync from its bootstrap peers (from the snapshot's height with
    --snapshot-from) and follows as an observer until governance makes it a validator
    (validators.update). Governance must first record it
    (nodes.set_endpoint) and its organisation's TLS CA (nodes.set_tls_authority): the running
    nodes then dial it and accept it without a restart. Nothing is written unless every file
    checks; an existing non-empty DIR is refused.

    Example:

        causeway node join --home ./node5 --genesis genesis.json --identity ./org5/nodes/node5
        --tls-ca-bundle consortium-tls.pem --peer org1/node1@10.0.0.1:7150
        --listen-address 0.0.0.0:7150
    """
    from causeway.provisioning.join import SnapshotRestorer, join_node, parse_peer

    restore: SnapshotRestorer | None = None
    if trusted_hash is not None and snapshot_from is None:
        raise typer.BadParameter("needs --snapshot-from", param_hint="--trusted-hash")
    if snapshot_from is not None:
        from causeway.node.snapshots import fetch_snapshot

        trusted = _block_hash(trusted_hash) if trusted_hash is not None else None
        source = snapshot_from

        def restore(staging: Path, peers: object) -> None:
            del peers  # the snapshot comes from the node named, over its HTTP gateway
            fetch_snapshot(source, staging, trusted_block_hash=trusted)

    joined = join_node(
        home,
        genesis_file=genesis,
        identity=identity,
        peers=[parse_peer(text) for text in peer],
        tls_ca_bundles=tls_ca_bundle or [],
        listen_address=listen_address,
        grpc_address=grpc_address,
        http_address=http_address,
        restore_snapshot=restore,
    )
    if json_output:
        print_json(
            {
                "home": str(joined.home),
                "name": joined.name,
                "member_id": joined.member_id,
                "chain_id": joined.chain_id,
                "peers": [f"{p.member_id}@{p.address}" for p in joined.peers],
            }
        )
        return
    console.print(
        key_value_table(
            "Node prepared",
            [
                ("home", joined.home),
                ("member", joined.member_id),
                ("chain", joined.chain_id),
                ("bootstrap peers", ", ".join(p.address for p in joined.peers)),
                ("start it", f"causeway node start --home {joined.home}"),
            ],
        )
    )


def _block_hash(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise typer.BadParameter("not hexadecimal", param_hint="--trusted-hash") from None
    if len(value) != 32:
        raise typer.BadParameter("a block hash is 32 bytes", param_hint="--trusted-hash")
    return value
