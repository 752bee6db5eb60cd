"""`causeway node snapshot create|restore`, `causeway node backup`, `causeway node archive`:
copies of a node's chain, made without stopping it (docs/operations.md, section 5)."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from causeway.cli.output import console, print_json
from causeway.errors import ConfigurationError

snapshot_app = typer.Typer(
    name="snapshot",
    help="Make a state snapshot of a node, or start a new node's store from one.\n\nExample:\n\n"
    "    causeway node snapshot create --home ./net/nodes/node1 --out node1.snapshot",
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


def _trusted_hash(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        decoded = bytes.fromhex(value)
    except ValueError:
        decoded = b""
    if len(decoded) != 32:
        raise ConfigurationError(f"--trusted-hash {value!r}: expected 64 hexadecimal digits")
    return decoded


@snapshot_app.command("create")
def create(
    *,
    home: HomeOption,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="The snapshot file (default: DATA_DIR/snapshots/HEIGHT.snapshot, served to "
            "joining nodes).",
        ),
    ] = None,
    height: Annotated[
        int | None,
        typer.Option("--height", min=1, help="The height (default: the latest committed)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write a snapshot of the node in HOME at a height to FILE; the node may be running.

    The snapshot holds the state at that height in checksummed chunks, the header and its
    certificate, the validator sets from genesis, and the recent blocks' transaction ids. A
    node serves the snapshots in DATA_DIR/snapshots to joining nodes.

    Example:

        causeway node snapshot create --home ./net/nodes/node1 --out node1.snapshot
    """
    _require_home(home)
    from causeway.node.snapshots import create_node_snapshot

    snapshot, written = create_node_snapshot(home, out, height=height)
    manifest = snapshot.manifest
    summary = {
        "file": str(written),
        "height": manifest.height,
        "block_hash": manifest.block_hash.hex(),
        "state_entries": manifest.state_entries,
        "chunks": len(manifest.chunks),
        "bytes": written.stat().st_size,
    }
    if json_output:
        print_json(summary)
    else:
        console.print(
            f"snapshot of height {manifest.height} ({manifest.state_entries} state entries, "
            f"{len(manifest.chunks)} chunks) written to {written}\nblock hash "
            f"{manifest.block_hash.hex()}",
            markup=False,
            soft_wrap=True,
        )


@snapshot_app.command("restore")
def restore(
    *,
    home: HomeOption,
    source: Annotated[
        Path, typer.Option("--from", metavar="FILE", help="The snapshot file to restore.")
    ],
    trusted_hash: Annotated[
        str | None,
        typer.Option(
            "--trusted-hash",
            metavar="HEX",
            help="The block hash at the snapshot's height, as a node you trust shows it.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Start the store of the node in HOME from a snapshot, verified first.

    The header's certificate is checked against the validator sets walked from the node's
    genesis (and against --trusted-hash when given), every chunk against the manifest, and the
    state root recomputed and compared with the header's. Nothing is written when anything
    fails, and a data folder that already holds a chain is refused. Start the node afterwards:
    it catches up from the snapshot's height by block sync.

    Example:

        causeway node snapshot restore --home ./new-node --from node1.snapshot
    """
    _require_home(home)
    from causeway.node.snapshots import restore_snapshot_file

    restored = restore_snapshot_file(home, source, trusted_block_hash=_trusted_hash(trusted_hash))
    if json_output:
        print_json(
            {
                "height": restored.height,
                "block_hash": restored.block_hash.hex(),
                "state_entries": restored.state_entries,
            }
        )
    else:
        console.print(
            f"restored height {restored.height} ({restored.state_entries} state entries), block "
            f"hash {restored.block_hash.hex()}",
            markup=False,
            soft_wrap=True,
        )


@snapshot_app.command("fetch")
def fetch(
    *,
    home: HomeOption,
    address: Annotated[
        str,
        typer.Option(
            "--from", metavar="HOST:PORT", help="The HTTP address of a node that serves snapshots."
        ),
    ],
    height: Annotated[
        int | None,
        typer.Option("--height", min=1, help="That snapshot (default: the newest served)."),
    ] = None,
    trusted_hash: Annotated[
        str | None,
        typer.Option(
            "--trusted-hash",
            metavar="HEX",
            help="The block hash at the snapshot's height, as a node you trust shows it.",
        ),
    ] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option(
            "--tls-ca",
            metavar="FILE",
            help="A secured node: trust its TLS certificate from these CAs (PEM); --from "
            "HOST:PORT then means https (default: the global --tls-ca).",
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            metavar="MEMBER_DIR",
            help="A member of the chain whose key signs the access tokens of a node that "
            "requires them (default: the global --identity).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Fetch a snapshot from a running node and restore it into the new node in HOME.

    The manifest is verified against HOME's genesis before any chunk is fetched, and every
    chunk against the manifest; then it is restored as `snapshot restore` does.

    Example:

        causeway node snapshot fetch --home ./new-node --from 10.0.0.1:8050

        causeway node snapshot fetch --home ./new-node --from 10.0.0.1:8050 \\
            --tls-ca ca-bundle.pem --identity ./org1/members/client
    """
    _require_home(home)
    from causeway.cli.connection import http_read_access
    from causeway.node.snapshots import fetch_snapshot

    tls_ca_file, access_token = http_read_access(tls_ca, identity)
    restored = fetch_snapshot(
        address,
        home,
        height=height,
        trusted_block_hash=_trusted_hash(trusted_hash),
        tls_ca_file=tls_ca_file,
        access_token=access_token,
    )
    if json_output:
        print_json(
            {
                "height": restored.height,
                "block_hash": restored.block_hash.hex(),
                "state_entries": restored.state_entries,
            }
        )
    else:
        console.print(
            f"fetched and restored height {restored.height} ({restored.state_entries} state "
            f"entries), block hash {restored.block_hash.hex()}",
            markup=False,
            soft_wrap=True,
        )


def backup(
    *,
    home: HomeOption,
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="A new data folder for the copy.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Copy the store of the node in HOME, running or not, into the data folder DIR.

    The copy is LMDB's own, compacted, made inside one read transaction: it holds one committed
    height however many blocks the node commits meanwhile. DIR gets chain/ and the marker; a
    node whose config.toml says data_dir = DIR starts from it, and `causeway node verify`
    checks it.

    Example:

        causeway node backup --home ./net/nodes/node1 --out /backups/node1-data
    """
    _require_home(home)
    from causeway.node.snapshots import backup_node

    height = backup_node(home, out)
    if json_output:
        print_json({"folder": str(out), "height": height})
    else:
        console.print(f"backup of height {height} written to {out}", markup=False)


def archive(
    *,
    home: HomeOption,
    below: Annotated[
        int, typer.Option("--below", metavar="HEIGHT", min=2, help="Archive the blocks below it.")
    ],
    to: Annotated[Path, typer.Option("--to", metavar="DIR", help="The archive folder.")],
    json_output: JsonOption = False,
) -> None:
    """Move the transactions and results of the blocks below HEIGHT to files in DIR.

    Each block becomes one checksummed file (DIR/<height>.block); the store keeps every header,
    certificate and transaction id, so replays are still refused and proofs of archived
    transactions are made from the files (`causeway node archive-proof`) and checked against
    the headers (`causeway proof verify`). The node may be running; it no longer serves the
    archived blocks to peers (a new node starts from a snapshot instead).

    Example:

        causeway node archive --home ./net/nodes/node1 --below 100000 --to /archive/node1
    """
    _require_home(home)
    from causeway.node.snapshots import archive_node

    report = archive_node(home, below, to)
    if json_output:
        print_json(
            {
                "folder": str(to),
                "first_height": report.first_height,
                "below_height": report.below_height,
                "blocks": report.blocks,
                "entries_dropped": report.entries_dropped,
            }
        )
    else:
        console.print(
            f"archived {report.blocks} blocks ({report.first_height} to "
            f"{report.below_height - 1}) to {to}",
            markup=False,
        )


def archive_proof(
    *,
    home: HomeOption,
    archive_folder: Annotated[
        Path, typer.Option("--archive", metavar="DIR", help="The archive folder.")
    ],
    height: Annotated[int, typer.Option("--height", min=1, help="The archived block.")],
    index: Annotated[int, typer.Option("--index", min=0, help="The transaction's position.")],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The proof file to write.")],
) -> None:
    """Write the proof file of an archived transaction, made from the archive alone.

    The file is what `causeway tx get --proof --out` writes: check it with `causeway proof
    verify FILE` (and `--genesis` to check its header's certificate against the chain's).

    Example:

        causeway node archive-proof --home ./net/nodes/node1 --archive /archive/node1 \
            --height 12 --index 0 --out tx-proof.json
    """
    _require_home(home)
    from causeway.cli.proofs import transaction_proof_document, write_proof_document
    from causeway.node import load_genesis, load_node_config
    from causeway.node.snapshots import archived_transaction

    response = archived_transaction(home, archive_folder, height, index)
    genesis = load_genesis(load_node_config(home).genesis_file)
    write_proof_document(out, transaction_proof_document(response, genesis.crypto_profile))
    console.print(
        f"proof of transaction {response.result.transaction_id.hex()} (block {height}, index "
        f"{index}) written to {out}",
        markup=False,
        soft_wrap=True,
    )


def register(node_app: typer.Typer) -> None:
    node_app.add_typer(snapshot_app)
    node_app.command("backup")(backup)
    node_app.command("archive")(archive)
    node_app.command("archive-proof")(archive_proof)
