"""Atomic cross-chain transactions: ``xtx`` (submit, sign, status, settle, list) and ``atomic``
(register-hub, port bind: governance). docs/atomic-transactions.md tells the protocol.

``--dir DEVNET`` takes the nodes and the members from a devnet's network.json: the hub (the
transaction file's ``hub``, or ``--chain``) is asked as its first organisation's client, each
participant is read as its own first organisation's client, and a leg whose owner's member
folder the devnet holds is signed with it. Without ``--dir``, ``--node`` and ``--identity`` name
the hub's node and the submitter, and the participants are reached at the endpoints the hub's
registry lists for them; their records are read with proofs, which need no identity (a node
that requires access tokens needs a member of its chain: ``--reader CHAIN=MEMBER_DIR``).

Exit status of ``xtx submit`` (and ``xtx status`` of an ended transaction): 0 for COMMIT with
every leg confirmed, 3 for ABORT with every leg ended (nothing applied), 1 for an error, or a
timeout while waiting. Every check of the input (the file, the signature files, the options)
runs before anything is sent.
"""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli.arguments import display_bytes, node_address_option
from causeway.cli.interchain_targets import (
    DevnetChain,
    DevnetMember,
    check_client_id,
    resolve_target,
)
from causeway.cli.output import EXIT_TRANSACTION_FAILED, console, key_value_table, print_json
from causeway.errors import ConfigurationError, RequestError

if TYPE_CHECKING:
    from causeway.interchain.v1 import atomic_pb2
    from causeway.sdk import Client
    from causeway.sdk.atomic import AtomicNetwork, AtomicReport, SignatureFile

TRANSACTION_ID_HEX_DIGITS = 64
WAIT_S_DEFAULT = 120.0
LIST_LIMIT_MAX = 100
SIGNATURES_SUFFIX = ".signatures.json"
CLIENT_ROLE = "CLIENT"
ADMIN_ROLE = "ADMIN"

# ---- options ----------------------------------------------------------------------------------

NodeOption = Annotated[
    str | None,
    typer.Option(
        "--node",
        "-n",
        metavar="ADDRESS",
        envvar="CAUSEWAY_NODE",
        help="gRPC address of a node of the chain (host:port); default with --dir: the chain's "
        "first node.",
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
        help="Member folder that signs the transaction or the reads; default with --dir: the "
        "chain's org1 client (org1 admin for governance).",
    ),
]
EndorserOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--endorser",
        "-e",
        metavar="MEMBER_DIR",
        help="Member folder of an endorser (another organisation's admin); repeatable; default "
        "with --dir: the other organisations' admins.",
    ),
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "-d",
        metavar="DEVNET",
        envvar="CAUSEWAY_DEVNET_DIR",
        help="A devnet folder (with network.json, from devnet up --manifest): nodes and members "
        "come from it.",
    ),
]
HubChainOption = Annotated[
    str | None,
    typer.Option(
        "--chain",
        metavar="HUB",
        help="The hub, by its chain id in the devnet (default: the file's hub, else the "
        "devnet's hub).",
    ),
]
ChainOption = Annotated[
    str | None,
    typer.Option("--chain", metavar="CHAIN", help="The chain of the devnet this command talks to."),
]
ReaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--reader",
        metavar="CHAIN=MEMBER_DIR",
        help="A member of a participant chain whose key signs the access tokens of the reads of "
        "its leg records, where its node requires them (default: the devnet's member, else "
        "none); repeatable.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout-s", min=0.1, help="How long to wait for a transaction's commit."),
]

xtx_app = typer.Typer(
    name="xtx",
    help="Atomic cross-chain transactions through the hub: every leg applied, or none.\n\n"
    "Example:\n\n    causeway xtx submit pay-and-register.toml --dir ./chains",
    no_args_is_help=True,
)
atomic_app = typer.Typer(
    name="atomic",
    help="Set a chain up for atomic transactions (governance).\n\nExample:\n\n"
    "    causeway atomic register-hub hub client-0 --dir ./chains --chain chain-a",
    no_args_is_help=True,
)
atomic_port_app = typer.Typer(
    name="port",
    help="Atomic ports: what a port_call leg may call.\n\nExample:\n\n"
    "    causeway atomic port bind test --dir ./chains --chain chain-a",
    no_args_is_help=True,
)
atomic_app.add_typer(atomic_port_app)


# ---- pure helpers (tested without a node) -----------------------------------------------------


def parse_transaction_id(text: str) -> bytes:
    """A transaction id given on the command line: 64 hex digits."""
    cleaned = text.strip().removeprefix("0x")
    if len(cleaned) != TRANSACTION_ID_HEX_DIGITS or any(
        character not in "0123456789abcdefABCDEF" for character in cleaned
    ):
        raise RequestError(
            f"{text!r} is not an atomic transaction id (64 hex digits, as xtx submit prints)",
            reason="invalid_argument",
        )
    return bytes.fromhex(cleaned)


def parse_readers(entries: Sequence[str]) -> dict[str, Path]:
    """``CHAIN=MEMBER_DIR`` pairs, each chain once."""
    readers: dict[str, Path] = {}
    for entry in entries:
        chain, separator, directory = entry.partition("=")
        if not separator or not chain.strip() or not directory.strip():
            raise RequestError(
                f"--reader {entry!r} is not CHAIN=MEMBER_DIR", reason="invalid_argument"
            )
        if chain in readers:
            raise RequestError(f"--reader names chain {chain!r} twice", reason="invalid_argument")
        readers[chain] = Path(directory)
    return readers


def devnet_chains(directory: Path | None) -> list[DevnetChain] | None:
    """The devnet's chains as the target resolution reads them (None without --dir)."""
    if directory is None:
        return None
    from causeway.provisioning import load_devnet_description

    description = load_devnet_description(directory)
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
            )
        )
    return chains


def devnet_chain(devnet: Sequence[DevnetChain], chain_id: str, what: str) -> DevnetChain:
    for chain in devnet:
        if chain.chain_id == chain_id:
            return chain
    names = ", ".join(chain.chain_id for chain in devnet) or "none"
    raise ConfigurationError(f"{what}: no chain {chain_id!r} in the devnet (chains: {names})")


def owner_folder(devnet: Sequence[DevnetChain] | None, chain_id: str, owner: str) -> Path | None:
    """The devnet's member folder of ``owner`` on ``chain_id``, if it holds one."""
    for chain in devnet or ():
        if chain.chain_id == chain_id:
            for member in chain.members:
                if member.member_id == owner:
                    return Path(member.directory)
    return None


def hub_of(
    file_hub: str | None, chain: str | None, devnet: Sequence[DevnetChain] | None
) -> str | None:
    """The hub a command talks to: --chain, else the file's hub, else the devnet's hub."""
    if chain is not None and file_hub is not None and chain != file_hub:
        raise RequestError(
            f"--chain {chain} is not the transaction's hub {file_hub!r}", reason="invalid_argument"
        )
    if chain is not None:
        return chain
    if file_hub is not None:
        return file_hub
    for entry in devnet or ():
        if entry.hub:
            return entry.chain_id
    return None


def same_transaction(file_body: atomic_pb2.AtomicTransactionBody, signed: SignatureFile) -> None:
    """RequestError unless the signature file's body is the transaction file's, resolved (its
    deadline and nonce fixed): same hub, legs and memo; same nonce and absolute deadline when
    the file names them."""
    body = signed.body
    differences = []
    if body.hub_chain_id != file_body.hub_chain_id:
        differences.append(f"hub {body.hub_chain_id!r}, not {file_body.hub_chain_id!r}")
    if list(body.legs) != list(file_body.legs):
        differences.append("other legs")
    if body.memo != file_body.memo:
        differences.append("another memo")
    if file_body.nonce and body.nonce != file_body.nonce:
        differences.append(f"nonce {body.nonce.hex()}, not {file_body.nonce.hex()}")
    if file_body.deadline_ms and body.deadline_ms != file_body.deadline_ms:
        differences.append(f"deadline {body.deadline_ms}, not {file_body.deadline_ms}")
    if differences:
        raise RequestError(
            f"the signature file (transaction {signed.transaction_id.hex()}) signs another "
            f"transaction than the file: {'; '.join(differences)}",
            reason="invalid_argument",
        )


def signed_body(signature_files: Sequence[SignatureFile]) -> SignatureFile | None:
    """The one transaction that every signature file signs (None without any)."""
    if not signature_files:
        return None
    first = signature_files[0]
    for other in signature_files[1:]:
        if other.transaction_id != first.transaction_id:
            raise RequestError(
                f"the signature files sign different transactions ({first.transaction_id.hex()} "
                f"and {other.transaction_id.hex()}): every owner must sign the same resolved "
                "file (xtx sign writes it)",
                reason="invalid_argument",
            )
    return first


@dataclass(frozen=True, slots=True)
class SignPlan:
    """Who signs each leg at submit: a signature file, or a devnet member folder."""

    from_files: frozenset[int]
    by_folder: dict[int, Path]


def sign_plan(
    body: atomic_pb2.AtomicTransactionBody,
    signature_files: Sequence[SignatureFile],
    devnet: Sequence[DevnetChain] | None,
) -> SignPlan:
    """Every leg signed once: RequestError naming each leg nobody can sign."""
    from_files = frozenset(
        entry.leg_index for signed in signature_files for entry in signed.authorisations
    )
    by_folder: dict[int, Path] = {}
    unsigned: list[str] = []
    for leg in body.legs:
        if leg.index in from_files:
            continue
        folder = owner_folder(devnet, leg.chain_id, leg.owner)
        if folder is None:
            unsigned.append(f"leg {leg.index} ({leg.owner} on {leg.chain_id})")
        else:
            by_folder[leg.index] = folder
    if unsigned:
        raise RequestError(
            f"no signature for {', '.join(unsigned)}: give --signature FILE (from causeway xtx "
            "sign by that owner), or --dir with a devnet that holds the owner's member folder",
            reason="invalid_argument",
        )
    return SignPlan(from_files=from_files, by_folder=by_folder)


def time_text(time_ms: int) -> str:
    if time_ms <= 0:
        return "-"
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def action_text(leg: atomic_pb2.AtomicLeg) -> str:
    kind = leg.WhichOneof("action")
    if kind == "bank_transfer":
        move = leg.bank_transfer
        return f"bank_transfer {move.amount} {move.denom} {move.from_account} -> {move.to_account}"
    if kind == "ledger_transfer":
        ledger = leg.ledger_transfer
        return f"ledger_transfer {ledger.amount} {ledger.from_account} -> {ledger.to_account}"
    if kind == "kv_write":
        write = leg.kv_write
        what = "delete" if write.delete else f"= {display_bytes(write.value)}"
        condition = ""
        if write.expect_absent:
            condition = " (if absent)"
        elif write.expected_value_hash:
            condition = f" (if its hash is {write.expected_value_hash.hex()[:16]}...)"
        return f"kv_write {display_bytes(write.key)} {what}{condition}"
    if kind == "port_call":
        call = leg.port_call
        return f"port_call {call.port}.{call.method} ({len(call.arguments)} bytes)"
    return "(no action)"


def leg_data(
    leg: atomic_pb2.AtomicLeg,
    hub_leg: atomic_pb2.AtomicHubLeg | None,
    participant: atomic_pb2.AtomicLegResult | None,
) -> dict[str, Any]:
    from causeway.sdk.atomic import state_name, vote_name

    data: dict[str, Any] = {
        "index": leg.index,
        "chain_id": leg.chain_id,
        "owner": leg.owner,
        "kind": leg.WhichOneof("action"),
        "action": action_text(leg),
        "vote": vote_name(hub_leg.vote) if hub_leg is not None else "-",
        "vote_reason": hub_leg.vote_reason if hub_leg is not None else "",
        "final_state_at_hub": state_name(hub_leg.final_state) if hub_leg is not None else "-",
    }
    if participant is not None:
        record = participant.record
        data["participant"] = {
            "state": state_name(record.state),
            "reason": record.reason,
            "cancel_marker": participant.cancel_marker,
            "locked_keys": [display_bytes(key) for key in record.locked_keys],
            "reserve_account": record.reserve_account,
            "prepared_height": record.prepared_height,
            "ended_height": record.ended_height,
        }
    return data


def report_data(report: AtomicReport, *, legs_read: bool) -> dict[str, Any]:
    from causeway.sdk.atomic import outcome_name

    record = report.record
    body = record.body
    hub_legs = {entry.index: entry for entry in record.legs}
    decision = report.decision
    return {
        "transaction_id": report.transaction_id.hex(),
        "hub": body.hub_chain_id,
        "memo": body.memo,
        "deadline_ms": body.deadline_ms,
        "submitter": record.submitter,
        "begun_height": record.begun_height,
        "decision": outcome_name(report.outcome),
        "decision_reason": decision.reason if decision is not None else "",
        "decided_height": decision.decided_height if decision is not None else 0,
        "decided_time_ms": decision.decided_time_ms if decision is not None else 0,
        "legs": [
            leg_data(
                leg,
                hub_legs.get(leg.index),
                report.legs[leg.index] if legs_read and leg.index < len(report.legs) else None,
            )
            for leg in body.legs
        ],
    }


def print_report(data: dict[str, Any]) -> None:
    decision = data["decision"]
    if data["decision_reason"]:
        decision += f" ({data['decision_reason']})"
    console.print(
        key_value_table(
            f"Atomic transaction {data['transaction_id']}",
            [
                ("hub", data["hub"]),
                ("memo", data["memo"] or "-"),
                ("deadline", time_text(data["deadline_ms"])),
                ("submitter", data["submitter"] or "-"),
                ("begun at height", data["begun_height"] or "-"),
                ("decision", decision),
                ("decided at height", data["decided_height"] or "-"),
            ],
        )
    )
    for leg in data["legs"]:
        line = (
            f"leg {leg['index']} {leg['chain_id']} {leg['owner']}: {leg['action']}; "
            f"vote {leg['vote']}"
        )
        if leg["vote_reason"]:
            line += f" ({leg['vote_reason']})"
        participant = leg.get("participant")
        if participant is not None:
            line += f"; {participant['state']}"
            if participant["reason"]:
                line += f" ({participant['reason']})"
            if participant["cancel_marker"]:
                line += ", cancel marker"
            if participant["locked_keys"] and participant["state"] == "prepared":
                line += f", locks {', '.join(participant['locked_keys'])}"
            if participant["reserve_account"] and participant["state"] == "prepared":
                line += f", reserve {participant['reserve_account']}"
        else:
            line += f"; {leg['final_state_at_hub']} (as the hub heard)"
        console.print(line, markup=False, soft_wrap=True)


def exit_code_of(report: AtomicReport) -> int:
    """0 for COMMIT with every leg confirmed, 3 for ABORT with every leg ended, else 1."""
    if report.committed:
        return 0
    if report.aborted:
        return EXIT_TRANSACTION_FAILED
    return 1


# ---- connections ------------------------------------------------------------------------------


def _open(address: str, identity: Path | None) -> Client:
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    return open_client(address, Identity.load(identity) if identity is not None else None)


@dataclass(frozen=True, slots=True)
class HubTarget:
    address: str
    identity: Path | None


def hub_target(
    *,
    hub: str | None,
    node: str | None,
    identity: Path | None,
    devnet: Sequence[DevnetChain] | None,
) -> HubTarget:
    """The hub's node and the member that speaks to it (module notes)."""
    if devnet is None:
        if node is None:
            raise ConfigurationError(
                "which hub? give --dir DEVNET (the file's hub in it) or --node ADDRESS of the hub"
            )
        return HubTarget(node, identity)
    if hub is None:
        raise ConfigurationError("the devnet has no hub: name it with --chain")
    target = resolve_target(
        node=node, identity=identity, endorsers=(), chain=hub, devnet=devnet, governance=False
    )
    return HubTarget(target.address, target.identity)


@contextmanager
def atomic_network(
    hub: HubTarget,
    chain_ids: Sequence[str],
    *,
    devnet: Sequence[DevnetChain] | None,
    readers: dict[str, Path],
) -> Iterator[AtomicNetwork]:
    """Clients of the hub and of every chain in ``chain_ids``, closed on the way out."""
    from causeway.sdk.atomic import AtomicNetwork

    with ExitStack() as stack:
        hub_client = stack.enter_context(_open(hub.address, hub.identity))
        chains: dict[str, Any] = {}
        for chain_id in dict.fromkeys(chain_ids):
            reader = readers.get(chain_id)
            if devnet is not None:
                entry = devnet_chain(devnet, chain_id, "a leg")
                if not entry.addresses:
                    raise ConfigurationError(f"the devnet lists no node of {chain_id}")
                if reader is None:
                    member = entry.member_with_role(CLIENT_ROLE)
                    reader = Path(member.directory) if member is not None else None
                address = entry.addresses[0]
            else:
                endpoints = list(hub_client.interchain.hub_member(chain_id).endpoints)
                if not endpoints:
                    raise ConfigurationError(
                        f"the hub's registry lists no endpoint of {chain_id}: use --dir"
                    )
                # No identity of another chain: a client takes its chain's crypto profile from
                # its identity, and the hub's would check this chain's proofs with the wrong
                # hash. Records are read with proofs, which need none.
                address = endpoints[0]
            chains[chain_id] = stack.enter_context(_open(address, reader))
        yield AtomicNetwork(hub=hub_client, chains=chains)


# ---- xtx --------------------------------------------------------------------------------------


def _load_signature_files(paths: Sequence[Path]) -> list[SignatureFile]:
    from causeway.sdk.atomic import load_signature_file

    return [load_signature_file(path) for path in paths]


@xtx_app.command("submit")
def xtx_submit(
    *,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The transaction file (TOML).")],
    signatures: Annotated[
        list[Path] | None,
        typer.Option(
            "--signature",
            "-s",
            metavar="FILE",
            help="A signature file from causeway xtx sign (its body is the one submitted); "
            "repeatable.",
        ),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Print the id once begun; do not wait for the end.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            metavar="SECONDS",
            help="How long to wait for the decision and every leg's end.",
        ),
    ] = WAIT_S_DEFAULT,
    directory: DirOption = None,
    chain: HubChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    readers: ReaderOption = None,
    json_output: JsonOption = False,
) -> None:
    """Submit an atomic transaction to its hub and wait until every leg ended; prints the
    decision and each leg's final state. Exits 0 for COMMIT (every leg confirmed), 3 for ABORT
    (every leg ended, nothing applied), 1 for an error or a timeout.

    A file without a nonce is submitted only when every leg is signed here (the owners'
    member folders in --dir); otherwise each owner signs with causeway xtx sign and the
    signature files are given with --signature.

    Example:

        causeway xtx submit pay-and-register.toml --dir ./chains

        causeway xtx submit pay.toml --node 127.0.0.1:7200 -i hub/org1/client \\
            --signature pay.signatures.json
    """
    from causeway.sdk import Identity
    from causeway.sdk.atomic import (
        NONCE_BYTES_DEFAULT,
        load_transaction_file,
        resolve_body,
        submit_and_wait,
        transaction_id,
    )

    transaction_file = load_transaction_file(file)
    signature_files = _load_signature_files(signatures or [])
    reader_folders = parse_readers(readers or [])
    devnet = devnet_chains(directory)
    hub = hub_of(transaction_file.body.hub_chain_id, chain, devnet)
    signed = signed_body(signature_files)
    if signed is not None:
        same_transaction(transaction_file.body, signed)
    plan = sign_plan(
        signed.body if signed is not None else transaction_file.body, signature_files, devnet
    )
    target = hub_target(hub=hub, node=node, identity=identity, devnet=devnet)
    if target.identity is None:
        raise ConfigurationError(
            "atomic.begin is signed: give --identity MEMBER_DIR (a member of the hub) or --dir"
        )
    signers = {index: Identity.load(folder) for index, folder in plan.by_folder.items()}
    chain_ids = [leg.chain_id for leg in transaction_file.body.legs]
    with atomic_network(target, chain_ids, devnet=devnet, readers=reader_folders) as network:
        status = network.hub.status()
        if status.chain_id != transaction_file.body.hub_chain_id:
            raise ConfigurationError(
                f"the node {target.address} serves chain {status.chain_id!r}, not the "
                f"transaction's hub {transaction_file.body.hub_chain_id!r}"
            )
        if signed is not None:
            if signed.hub_crypto_profile != status.crypto_profile:
                raise RequestError(
                    f"the signature files computed the id under {signed.hub_crypto_profile}; "
                    f"the hub's profile is {status.crypto_profile}",
                    reason="invalid_argument",
                )
            body = signed.body
        else:
            hub_time_ms = network.hub.get_header(0).block.header.time_ms
            body = resolve_body(
                transaction_file,
                hub_time_ms=hub_time_ms,
                nonce=b"" if transaction_file.has_nonce else os.urandom(NONCE_BYTES_DEFAULT),
            )
        identifier = transaction_id(body, status.crypto_profile)
        if not json_output:
            console.print(
                f"atomic transaction {identifier.hex()}: {len(body.legs)} legs, deadline "
                f"{time_text(body.deadline_ms)} (hub time), submitted to {status.chain_id}",
                markup=False,
            )
        _, report = submit_and_wait(
            network,
            body,
            signers,
            authorisations=[
                entry
                for signature_file in signature_files
                for entry in signature_file.authorisations
            ],
            wait=not no_wait,
            timeout_s=timeout,
        )
    if report is None:
        if json_output:
            print_json({"transaction_id": identifier.hex(), "decision": "pending"})
        else:
            console.print(
                f"check it with: causeway xtx status {identifier.hex()} --legs", markup=False
            )
        return
    data = report_data(report, legs_read=True)
    if json_output:
        print_json(data)
    else:
        print_report(data)
    code = exit_code_of(report)
    if code:
        raise typer.Exit(code)


@xtx_app.command("sign")
def xtx_sign(
    *,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The transaction file (TOML), or a signature file another owner wrote.",
        ),
    ],
    leg: Annotated[int, typer.Option("--leg", min=0, metavar="INDEX", help="The leg to sign.")],
    member: Annotated[
        Path, typer.Option("--member", metavar="DIR", help="The leg owner's member folder.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Where the signature file goes (default: FILE's name with .signatures.json; "
            "a signature file given as FILE gains the signature in place).",
        ),
    ] = None,
    directory: DirOption = None,
    chain: HubChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    json_output: JsonOption = False,
) -> None:
    """Sign one leg as its owner. From a transaction file, the hub is asked for its time (to
    fix a relative deadline) and its crypto profile (which makes the id); the file must name a
    nonce. The signature file holds the resolved transaction: the next owner signs that file,
    and the submitter gives it to causeway xtx submit --signature.

    Example:

        causeway xtx sign pay.toml --leg 0 --member a/organisations/org1/members/client \\
            --node 127.0.0.1:7200
    """
    from causeway.sdk import Identity
    from causeway.sdk.atomic import (
        SignatureFile,
        load_signature_file,
        load_transaction_file,
        merge_authorisations,
        resolve_body,
        sign_leg,
        signature_file_text,
        transaction_id,
    )

    is_signature_file = file.suffix.lower() == ".json"
    signer = Identity.load(member)
    if is_signature_file:
        existing = load_signature_file(file)
        body, profile = existing.body, existing.hub_crypto_profile
        earlier = list(existing.authorisations)
    else:
        transaction_file = load_transaction_file(file)
        if not transaction_file.has_nonce:
            raise RequestError(
                f"{file} names no nonce: every owner must sign the same transaction, so the "
                'file needs nonce = "<32 hex digits>" (e.g. from: openssl rand -hex 16)',
                reason="invalid_argument",
            )
        devnet = devnet_chains(directory)
        hub = hub_of(transaction_file.body.hub_chain_id, chain, devnet)
        target = hub_target(hub=hub, node=node, identity=identity, devnet=devnet)
        with _open(target.address, target.identity) as hub_client:
            status = hub_client.status()
            if status.chain_id != transaction_file.body.hub_chain_id:
                raise ConfigurationError(
                    f"the node {target.address} serves chain {status.chain_id!r}, not the "
                    f"transaction's hub {transaction_file.body.hub_chain_id!r}"
                )
            hub_time_ms = hub_client.get_header(0).block.header.time_ms
        body = resolve_body(transaction_file, hub_time_ms=hub_time_ms)
        profile = status.crypto_profile
        earlier = []
    authorisation = sign_leg(signer, body, leg, hub_profile=profile)
    for entry in earlier:
        if entry.leg_index == leg and entry.signature != authorisation.signature:
            earlier.remove(entry)  # signed again: the new signature replaces the old
            break
    kept = [entry for entry in earlier if entry.leg_index != leg] + [authorisation]
    identifier = transaction_id(body, profile)
    signed = SignatureFile(
        body=body, hub_crypto_profile=profile, transaction_id=identifier, authorisations=tuple(kept)
    )
    destination = out or (file if is_signature_file else file.with_suffix(SIGNATURES_SUFFIX))
    destination.write_text(signature_file_text(signed), encoding="utf-8")
    try:
        merge_authorisations(body, [kept])
        missing: list[int] = []
    except RequestError:
        signed_legs = {entry.leg_index for entry in kept}
        missing = [index for index in range(len(body.legs)) if index not in signed_legs]
    if json_output:
        print_json(
            {
                "transaction_id": identifier.hex(),
                "leg": leg,
                "file": str(destination),
                "unsigned_legs": missing,
            }
        )
        return
    console.print(
        f"leg {leg} of atomic transaction {identifier.hex()} signed by {signer.member_id}: "
        f"{destination}",
        markup=False,
    )
    if missing:
        console.print(
            f"still to sign: {', '.join(f'leg {index}' for index in missing)}", markup=False
        )


@xtx_app.command("status")
def xtx_status(
    *,
    transaction: Annotated[
        str, typer.Argument(metavar="ID", help="The transaction id (64 hex digits).")
    ],
    legs: Annotated[
        bool,
        typer.Option("--legs", help="Also read each participant's leg record, locks and marker."),
    ] = False,
    directory: DirOption = None,
    chain: HubChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    readers: ReaderOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show an atomic transaction: the hub's record and decision, each leg's vote and, with
    --legs, each participant's record of its leg (prepared, confirmed, cancelled or refused),
    its locks and its cancel marker. Exits 3 for an ABORT whose legs all ended.

    Example:

        causeway xtx status 5f0c...e1 --legs --dir ./chains
    """
    from causeway.sdk.atomic import report

    identifier = parse_transaction_id(transaction)
    reader_folders = parse_readers(readers or [])
    devnet = devnet_chains(directory)
    target = hub_target(
        hub=hub_of(None, chain, devnet), node=node, identity=identity, devnet=devnet
    )
    with _open(target.address, target.identity) as hub_client:
        record, _ = hub_client.atomic.get(identifier)
    chain_ids = [leg.chain_id for leg in record.body.legs] if legs else []
    with atomic_network(target, chain_ids, devnet=devnet, readers=reader_folders) as network:
        found = report(network, identifier, read_legs=legs)
    data = report_data(found, legs_read=legs)
    if json_output:
        print_json(data)
    else:
        print_report(data)
    if legs and found.aborted:
        raise typer.Exit(EXIT_TRANSACTION_FAILED)


@xtx_app.command("settle")
def xtx_settle(
    *,
    transaction: Annotated[
        str, typer.Argument(metavar="ID", help="The transaction id (64 hex digits).")
    ],
    leg: Annotated[int, typer.Option("--leg", min=0, metavar="INDEX", help="The leg to settle.")],
    hub: Annotated[
        str | None,
        typer.Option("--hub", metavar="HUB", help="The hub (default: the devnet's hub)."),
    ] = None,
    hub_node: Annotated[
        str | None,
        typer.Option(
            "--hub-node",
            metavar="ADDRESS",
            help="A node of the hub, without --dir.",
            callback=node_address_option,
        ),
    ] = None,
    directory: DirOption = None,
    chain: ChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Deliver the hub's decision to one leg by proof (the manual path; relayers do it too):
    updates the participant's client of the hub, reads the decision with its proof and sends
    atomic.settle to the leg's chain. A leg that already ended is left as it is.

    Example:

        causeway xtx settle 5f0c...e1 --leg 1 --dir ./chains
    """
    from causeway.sdk.atomic import state_name

    identifier = parse_transaction_id(transaction)
    devnet = devnet_chains(directory)
    if devnet is None and hub_node is None:
        raise ConfigurationError("which hub? give --dir DEVNET or --hub-node ADDRESS")
    hub_address = hub_node
    # The hub is only read (with proofs): never with --identity, a member of the leg's chain,
    # whose crypto profile the client would take for the hub's.
    hub_identity: Path | None = None
    if devnet is not None and hub_node is None:
        found = hub_target(hub=hub_of(None, hub, devnet), node=None, identity=None, devnet=devnet)
        hub_address, hub_identity = found.address, found.identity
    assert hub_address is not None
    with _open(hub_address, hub_identity) as hub_client:
        record, decision = hub_client.atomic.get(identifier)
        if leg >= len(record.body.legs):
            raise RequestError(
                f"--leg {leg}: the transaction has {len(record.body.legs)} legs",
                reason="invalid_argument",
            )
        if decision is None:
            raise RequestError(
                f"the hub has not decided {identifier.hex()} yet: nothing to settle (once its "
                "deadline passed, a relayer asks it to)",
                reason="invalid_argument",
            )
        leg_chain = record.body.legs[leg].chain_id
        if chain is not None and chain != leg_chain:
            raise RequestError(
                f"--chain {chain}: leg {leg} runs on {leg_chain}", reason="invalid_argument"
            )
        if devnet is not None:
            target = resolve_target(
                node=node,
                identity=identity,
                endorsers=(),
                chain=leg_chain,
                devnet=devnet,
                governance=False,
            )
            address, member = target.address, target.identity
        else:
            if node is None:
                raise ConfigurationError(f"give --node ADDRESS of {leg_chain} (or --dir)")
            address, member = node, identity
        if member is None:
            raise ConfigurationError("atomic.settle is signed: give --identity MEMBER_DIR")
        with _open(address, member) as participant:
            result = participant.atomic.settle(hub_client, identifier, leg, timeout_s=timeout_s)
    state = state_name(result.record.state)
    if json_output:
        print_json(
            {
                "transaction_id": identifier.hex(),
                "leg": leg,
                "chain_id": leg_chain,
                "state": state,
                "cancel_marker": result.cancel_marker,
            }
        )
        return
    console.print(
        f"leg {leg} of {identifier.hex()} on {leg_chain}: {state}"
        + (" (cancel marker)" if result.cancel_marker else ""),
        markup=False,
    )


@xtx_app.command("list")
def xtx_list(
    *,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only the undecided transactions, by deadline.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=0, max=LIST_LIMIT_MAX, help="At most this many.")
    ] = 0,
    directory: DirOption = None,
    chain: HubChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the hub's atomic transactions (--open: those still undecided).

    Example:

        causeway xtx list --open --dir ./chains
    """
    from causeway.sdk.atomic import outcome_name

    devnet = devnet_chains(directory)
    target = hub_target(
        hub=hub_of(None, chain, devnet), node=node, identity=identity, devnet=devnet
    )
    with _open(target.address, target.identity) as hub_client:
        result = hub_client.atomic.list(open_only=open_only, limit=limit)
    rows: list[dict[str, Any]] = [
        {
            "transaction_id": record.transaction_id.hex(),
            "legs": len(record.body.legs),
            "chains": sorted({leg.chain_id for leg in record.body.legs}),
            "deadline_ms": record.body.deadline_ms,
            "decision": outcome_name(record.outcome),
            "memo": record.body.memo,
        }
        for record in result.records
    ]
    if json_output:
        print_json({"transactions": rows, "next": result.next.hex()})
        return
    if not rows:
        console.print("no open atomic transactions" if open_only else "no atomic transactions")
        return
    for row in rows:
        console.print(
            f"{row['transaction_id']}  {row['decision']:<7}  {row['legs']} legs on "
            f"{', '.join(row['chains'])}  deadline {time_text(row['deadline_ms'])}"
            + (f"  {row['memo']}" if row["memo"] else ""),
            markup=False,
        )


# ---- atomic (governance) ----------------------------------------------------------------------


def _governance_target(
    *,
    node: str | None,
    identity: Path | None,
    endorsers: list[Path] | None,
    directory: Path | None,
    chain: str | None,
) -> tuple[str, Path, list[Path]]:
    target = resolve_target(
        node=node,
        identity=identity,
        endorsers=endorsers or [],
        chain=chain,
        devnet=devnet_chains(directory),
        governance=True,
    )
    if target.identity is None:
        raise ConfigurationError(
            "governance is signed: give --identity MEMBER_DIR (an admin), or --dir and --chain"
        )
    return target.address, target.identity, list(target.endorsers)


@atomic_app.command("register-hub")
def atomic_register_hub(
    *,
    hub_chain: Annotated[
        str, typer.Argument(metavar="HUB_CHAIN_ID", help="The hub whose atomic legs to take.")
    ],
    client_id: Annotated[
        str, typer.Argument(metavar="CLIENT_ID", help="This chain's light client of the hub.")
    ],
    directory: DirOption = None,
    chain: ChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Let this chain take atomic legs from HUB_CHAIN_ID, whose packets and decisions it
    proves with its client CLIENT_ID of that hub (governance; devnet up does it on every
    member chain).

    Example:

        causeway atomic register-hub hub client-0 --dir ./chains --chain chain-a
    """
    from causeway.sdk import Identity

    check_client_id(client_id, "CLIENT_ID")
    if not hub_chain.strip():
        raise RequestError("HUB_CHAIN_ID is empty", reason="invalid_argument")
    address, admin, endorser_folders = _governance_target(
        node=node, identity=identity, endorsers=endorsers, directory=directory, chain=chain
    )
    with _open(address, admin) as own:
        own.atomic.register_hub(
            hub_chain,
            client_id,
            endorsers=[Identity.load(folder) for folder in endorser_folders],
            timeout_s=timeout_s,
        )
        chain_id = own.chain_id()
    if json_output:
        print_json({"chain_id": chain_id, "hub": hub_chain, "client_id": client_id})
        return
    console.print(
        f"{chain_id} takes atomic legs from hub {hub_chain} through its client {client_id}",
        markup=False,
    )


@atomic_port_app.command("bind")
def atomic_port_bind(
    *,
    port: Annotated[str, typer.Argument(metavar="PORT", help="The atomic port, by its name.")],
    directory: DirOption = None,
    chain: ChainOption = None,
    node: NodeOption = None,
    identity: IdentityOption = None,
    endorsers: EndorserOption = None,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Let port_call legs call the atomic port PORT, registered in code (governance; a system
    contract is never bindable).

    Example:

        causeway atomic port bind test --dir ./chains --chain chain-a
    """
    from causeway.sdk import Identity

    if not port.strip():
        raise RequestError("PORT is empty", reason="invalid_argument")
    address, admin, endorser_folders = _governance_target(
        node=node, identity=identity, endorsers=endorsers, directory=directory, chain=chain
    )
    with _open(address, admin) as own:
        own.atomic.bind_port(
            port,
            endorsers=[Identity.load(folder) for folder in endorser_folders],
            timeout_s=timeout_s,
        )
        chain_id = own.chain_id()
    if json_output:
        print_json({"chain_id": chain_id, "port": port, "bound": True})
        return
    console.print(f"atomic port {port} bound on {chain_id}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(xtx_app)
    app.add_typer(atomic_app)
