"""`causeway directory`: the government data directory's contract from the command line
(docs/directory.md, docs/cli.md): register, revise, withdraw, show and list resources; request,
approve, refuse, revoke, cancel and escalate sharing requests; record usage; and the
administrators' `category set` and `department set`.

Every command signs with `--identity` (reads too: they are signed read-only calls) and talks to
`--node`; with `--dir DEVNET` both default to the devnet's (`--chain` picks a chain of a devnet of
several; its org1 client signs). `--contract` names the directory contract on the chain
("directory" unless it was deployed under another name). `--json` prints the contract's records
as JSON (every field, enums by name, bytes as hex) for scripts.

Bad input (a missing or malformed metadata file, a code or request id of the wrong form, a digest
file that cannot be read) is refused with one line and exit status 1 before anything is sent; a
call the contract refuses exits 3 with the contract's message (causeway.cli.main).
"""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli import directory_service_commands
from causeway.cli.arguments import message_to_data
from causeway.cli.atomic_commands import (
    ChainOption,
    DirOption,
    IdentityOption,
    JsonOption,
    NodeOption,
    devnet_chains,
)
from causeway.cli.interchain_targets import resolve_target
from causeway.cli.output import console, key_value_table, print_json, rows_table
from causeway.errors import ConfigurationError

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from causeway.apps.directory.client import DirectoryClient
    from causeway.apps.directory.v1 import directory_pb2

DEFAULT_CONTRACT = "directory"
# `list` and `requests` without --limit read every page, up to this many entries.
LIST_ALL_MAX = 100_000

ContractOption = Annotated[
    str,
    typer.Option(
        "--contract",
        "-c",
        metavar="NAME",
        envvar="CAUSEWAY_DIRECTORY_CONTRACT",
        help="The directory contract's name on the chain.",
    ),
]
ResourceCodeArgument = Annotated[
    str, typer.Argument(metavar="CODE", help="A resource code, e.g. 10101-GA-000001.")
]
RequestIdArgument = Annotated[
    str, typer.Argument(metavar="ID", help="A sharing request's id, e.g. R0000000001.")
]
MetadataArgument = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        help="The resource's metadata: a TOML file (or .json); see docs/cli.md.",
    ),
]
VersionOption = Annotated[
    int,
    typer.Option(
        "--version",
        metavar="N",
        min=1,
        help="The resource's latest version, as you last saw it (a stale one is refused).",
    ),
]
StartAfterOption = Annotated[
    str, typer.Option("--start-after", metavar="KEY", help="List the entries after this one.")
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=1, max=LIST_ALL_MAX, help="At most this many (default: all)."),
]

# The request states as the commands print them (enum_word of RequestState; a test holds the
# two together); the module does not load the directory's messages until a command runs.
REQUEST_STATES = (
    "pending",
    "approved",
    "conditionally-approved",
    "refused",
    "escalated",
    "revoked",
    "cancelled",
)
StateOption = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="STATE",
        help="Only the requests in this state: " + ", ".join(REQUEST_STATES) + " (the"
        " administrators' inbox: escalated).",
    ),
]

directory_app = typer.Typer(
    name="directory",
    help="The government data directory: resources, sharing requests, usage receipts."
    "\n\nExample:\n\n"
    "    causeway directory register population.toml -i NET/organisations/org2/members/client"
    "\n\n    causeway directory show 10101-GA-000001 --json",
    no_args_is_help=True,
)
category_app = typer.Typer(
    name="category",
    help="The classification scheme (administrators).\n\nExample:\n\n"
    "    causeway directory category set 101 人口信息 --name-en Population -i ADMIN_DIR",
    no_args_is_help=True,
)
department_app = typer.Typer(
    name="department",
    help="The departments and the organisations that act for them (administrators).\n\n"
    "Example:\n\n    causeway directory department set GA org2 公安局 --duty 户籍管理 -i ADMIN_DIR",
    no_args_is_help=True,
)
directory_app.add_typer(category_app)
directory_app.add_typer(department_app)


# ---- connection -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connection:
    """The node, the signer and the contract a command uses, from its options."""

    node: str | None
    identity: Path | None
    devnet: Path | None
    chain: str | None
    contract: str


def resolve(connection: Connection) -> tuple[str, Path]:
    """The node's address and the member folder that signs (module notes)."""
    chains = devnet_chains(connection.devnet)
    chain = connection.chain
    if chains is not None and chain is None and connection.node is None and len(chains) == 1:
        chain = chains[0].chain_id
    target = resolve_target(
        node=connection.node,
        identity=connection.identity,
        endorsers=(),
        chain=chain,
        devnet=chains,
        governance=False,
    )
    if target.identity is None:
        raise ConfigurationError(
            "who signs? give --identity MEMBER_DIR (a member of the department you act for), "
            "or --dir DEVNET"
        )
    return target.address, target.identity


@contextmanager
def directory_client(connection: Connection) -> Iterator[DirectoryClient]:
    """A DirectoryClient over a Client of the node, closed on the way out. Opening it sends
    nothing: the channel connects on the first call."""
    from causeway.apps.directory.client import DirectoryClient
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    if not connection.contract:
        raise ConfigurationError("--contract must name the directory contract")
    address, member = resolve(connection)
    identity = Identity.load(member)
    with open_client(address, identity) as client:
        yield DirectoryClient(client, connection.contract)


def _connection(
    node: str | None, identity: Path | None, devnet: Path | None, chain: str | None, contract: str
) -> Connection:
    return Connection(node, identity, devnet, chain, contract)


# ---- rendering --------------------------------------------------------------------------------


def time_text(time_ms: int) -> str:
    if time_ms <= 0:
        return "-"
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def enum_word(message: Message, field: str) -> str:
    """An enum field's value as a short word: SHARING_TYPE_NOT_SHARED -> not-shared."""
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    value = getattr(message, field)
    assert descriptor.enum_type is not None
    entry = descriptor.enum_type.values_by_number.get(value)
    if entry is None:
        return str(value)
    prefix = descriptor.enum_type.values[0].name.removesuffix("UNSPECIFIED")
    return entry.name.removeprefix(prefix).lower().replace("_", "-")


def version_rows(version: directory_pb2.ResourceVersion) -> list[tuple[str, Any]]:
    metadata = version.metadata
    rows: list[tuple[str, Any]] = [
        ("code", version.code),
        ("version", version.version),
        ("status", enum_word(version, "status")),
        ("name", metadata.name),
        ("name (en)", metadata.name_en or None),
        ("category", metadata.category_code),
        ("provider", f"{version.provider_code} ({version.provider_organisation})"),
        ("abstract", metadata.abstract or None),
        ("format", metadata.format or None),
        ("sharing", enum_word(metadata, "sharing_type")),
        ("conditions", metadata.sharing_conditions or None),
        ("sharing method", metadata.sharing_method or None),
        ("openness", enum_word(metadata, "openness")),
        ("update cycle", enum_word(metadata, "update_cycle")),
        ("published", metadata.publish_date),
        (
            "data items",
            ", ".join(f"{item.name} ({item.type})" for item in metadata.data_items) or None,
        ),
        ("keywords", ", ".join(metadata.keywords) or None),
        ("duties", ", ".join(metadata.duties) or None),
        ("related", ", ".join(metadata.related_resources) or None),
    ]
    for distribution in metadata.distributions:
        digest = (
            f"{distribution.hash_algorithm} {distribution.hash.hex()}" if distribution.hash else ""
        )
        parts = [distribution.format, distribution.access_url, digest]
        if distribution.byte_size:
            parts.append(f"{distribution.byte_size} bytes")
        described = "; ".join(part for part in parts if part)
        rows.append(("distribution", f"{distribution.name}: {described}"))
    rows += [
        ("author", version.author),
        ("height", version.height),
        ("time", time_text(version.time_ms)),
        ("transaction", version.transaction_id.hex()),
        ("note" if enum_word(version, "status") == "active" else "reason", version.reason or None),
    ]
    return rows


def request_rows(request: directory_pb2.SharingRequest) -> list[tuple[str, Any]]:
    return [
        ("id", request.id),
        ("state", enum_word(request, "state")),
        ("resource", f"{request.resource_code} version {request.resource_version}"),
        ("provider", request.provider_code),
        ("requester", f"{request.requester_code} ({request.requester_member})"),
        ("purpose", request.purpose),
        ("data items", ", ".join(request.data_items) or "all"),
        ("legal basis", request.legal_basis or None),
        ("created", time_text(request.created_ms)),
        ("answer by", time_text(request.answer_by_ms)),
        ("answered by", request.answered_by or None),
        ("answered", time_text(request.answered_ms)),
        ("terms", request.terms or None),
        ("reason", request.reason or None),
        ("receipts", request.receipts),
        ("height", request.height),
        ("transaction", request.transaction_id.hex()),
    ]


def receipt_rows(receipt: directory_pb2.UsageReceipt) -> list[tuple[str, Any]]:
    return [
        ("request", receipt.request_id),
        ("sequence", receipt.sequence),
        ("accessed by", receipt.accessed_by),
        ("time", time_text(receipt.time_ms)),
        ("purpose", receipt.purpose or None),
        ("records", receipt.records),
        ("digest", receipt.digest.hex() or None),
    ]


def show_message(
    message: Message, title: str, rows: list[tuple[str, Any]], json_output: bool
) -> None:
    if json_output:
        print_json(message_to_data(message))
        return
    console.print(key_value_table(title, rows))


def show_version(version: directory_pb2.ResourceVersion, verb: str, json_output: bool) -> None:
    title = f"{verb} {version.code} version {version.version} at height {version.height}"
    show_message(version, title, version_rows(version), json_output)


def show_request(request: directory_pb2.SharingRequest, title: str, json_output: bool) -> None:
    show_message(request, title, request_rows(request), json_output)


# ---- the catalogue ------------------------------------------------------------------------------


@directory_app.command("register")
def register_resource(
    *,
    file: MetadataArgument,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Register a resource of your department from a metadata file; prints its new code.

    Distribution files named in the metadata are hashed with the chain's hash (SM3 on gm).

    Example:

        causeway directory register population.toml -i NET/organisations/org2/members/client
    """
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        metadata = directory.load_metadata(file)
        version = directory.register_resource(metadata)
    show_version(version, "Registered", json_output)


@directory_app.command("revise")
def revise_resource(
    *,
    code: ResourceCodeArgument,
    file: MetadataArgument,
    version: VersionOption,
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="What changed, kept with the version.")
    ] = "",
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Revise resource CODE from a metadata file: a new version (the old ones stay).

    Example:

        causeway directory revise 10101-GA-000001 population.toml --version 1 \\
            --note "daily updates" -i NET/organisations/org2/members/client
    """
    from causeway.apps.directory.client import check_resource_code

    check_resource_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        metadata = directory.load_metadata(file)
        revised = directory.revise_resource(code, version, metadata, note)
    show_version(revised, "Revised", json_output)


@directory_app.command("withdraw")
def withdraw_resource(
    *,
    code: ResourceCodeArgument,
    version: VersionOption,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why it is withdrawn (required).")
    ],
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Withdraw resource CODE: it stays, with its history, but can no longer be requested.

    Example:

        causeway directory withdraw 10101-GA-000001 --version 2 --reason "replaced" \\
            -i NET/organisations/org2/members/client
    """
    from causeway.apps.directory.client import check_resource_code

    check_resource_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        withdrawn = directory.withdraw_resource(code, version, reason)
    show_version(withdrawn, "Withdrew", json_output)


@directory_app.command("show")
def show_resource(
    *,
    code: ResourceCodeArgument,
    version: Annotated[
        int, typer.Option("--version", metavar="N", min=0, help="A version (default: the latest).")
    ] = 0,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Show resource CODE: its metadata and provenance.

    Example:

        causeway directory show 10101-GA-000001 --version 1 -i NET/organisations/org1/members/client
    """
    from causeway.apps.directory.client import check_resource_code

    check_resource_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        found = directory.get_resource(code, version)
    show_message(
        found, f"Resource {found.code} version {found.version}", version_rows(found), json_output
    )


@directory_app.command("history")
def resource_history(
    *,
    code: ResourceCodeArgument,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """List every version of resource CODE, oldest first.

    Example:

        causeway directory history 10101-GA-000001 -i NET/organisations/org1/members/client
    """
    from causeway.apps.directory.client import check_resource_code

    check_resource_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        versions = directory.resource_history(code)
    if json_output:
        print_json({"code": code, "versions": [message_to_data(entry) for entry in versions]})
        return
    console.print(
        rows_table(
            f"Resource {code}",
            ["version", "status", "name", "author", "height", "time", "note or reason"],
            [
                [
                    entry.version,
                    enum_word(entry, "status"),
                    entry.metadata.name,
                    entry.author,
                    entry.height,
                    time_text(entry.time_ms),
                    entry.reason or None,
                ]
                for entry in versions
            ],
        )
    )


def _collect(pages: Iterator[Any], limit: int | None) -> list[Any]:
    found: list[Any] = []
    for entry in pages:
        found.append(entry)
        if len(found) >= (limit or LIST_ALL_MAX):
            break
    return found


@directory_app.command("list")
def list_resources(
    *,
    start_after: StartAfterOption = "",
    limit: LimitOption = None,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """List the resources in code order: latest version, status, provider.

    Example:

        causeway directory list --limit 50 -i NET/organisations/org1/members/client
    """
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        heads = _collect(directory.iter_resources(start_after), limit)
    if json_output:
        print_json({"resources": [message_to_data(head) for head in heads]})
        return
    if not heads:
        console.print("no resources")
        return
    console.print(
        rows_table(
            None,
            ["code", "version", "status", "provider"],
            [
                [head.code, head.latest_version, enum_word(head, "status"), head.provider_code]
                for head in heads
            ],
        )
    )


# ---- sharing ----------------------------------------------------------------------------------


@directory_app.command("request")
def request_sharing(
    *,
    code: ResourceCodeArgument,
    purpose: Annotated[
        str, typer.Option("--purpose", metavar="TEXT", help="What the data is needed for.")
    ],
    data_items: Annotated[
        list[str] | None,
        typer.Option(
            "--data-item",
            metavar="NAME",
            help="A data item of the resource to receive; repeatable (default: all).",
        ),
    ] = None,
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", metavar="TEXT", help="The basis of the request.")
    ] = "",
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Ask for resource CODE for your department: a new PENDING request; prints its id.

    Example:

        causeway directory request 10101-GA-000001 --purpose "婚姻登记核验" \\
            --data-item 姓名 -i NET/organisations/org1/members/client
    """
    from causeway.apps.directory.client import check_resource_code

    check_resource_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        created = directory.request_sharing(
            code, purpose, data_items=data_items or (), legal_basis=legal_basis
        )
    show_request(created, f"Requested {code}: request {created.id}", json_output)


def _answer(
    verb: str,
    request_id: str,
    connection: Connection,
    json_output: bool,
    call: Any,
) -> None:
    from causeway.apps.directory.client import check_request_id

    check_request_id(request_id)
    with directory_client(connection) as directory:
        answered = call(directory)
    title = f"{verb} request {answered.id}: {enum_word(answered, 'state').upper()}"
    show_request(answered, title, json_output)


@directory_app.command("approve")
def approve(
    *,
    request_id: RequestIdArgument,
    terms: Annotated[
        str,
        typer.Option(
            "--terms",
            metavar="TEXT",
            help="Approve on these conditions (required for a conditionally shared resource).",
        ),
    ] = "",
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Approve request ID (as the provider, or the administrators once it is escalated).

    Example:

        causeway directory approve R0000000001 --terms "仅用于核验" \\
            -i NET/organisations/org2/members/client
    """
    _answer(
        "Approved",
        request_id,
        _connection(node, identity, devnet, chain, contract),
        json_output,
        lambda directory: directory.approve(request_id, terms),
    )


ReasonOption = Annotated[
    str, typer.Option("--reason", metavar="TEXT", help="The reason, kept on the request.")
]


@directory_app.command("refuse")
def refuse(
    *,
    request_id: RequestIdArgument,
    reason: ReasonOption,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Refuse request ID, with the reason (its legal or policy basis).

    Example:

        causeway directory refuse R0000000001 --reason "涉及个人隐私" \\
            -i NET/organisations/org2/members/client
    """
    _answer(
        "Refused",
        request_id,
        _connection(node, identity, devnet, chain, contract),
        json_output,
        lambda directory: directory.refuse(request_id, reason),
    )


@directory_app.command("revoke")
def revoke(
    *,
    request_id: RequestIdArgument,
    reason: ReasonOption,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Revoke the approval of request ID (the provider or the administrators).

    Example:

        causeway directory revoke R0000000001 --reason "用途超出范围" \\
            -i NET/organisations/org2/members/client
    """
    _answer(
        "Revoked",
        request_id,
        _connection(node, identity, devnet, chain, contract),
        json_output,
        lambda directory: directory.revoke(request_id, reason),
    )


@directory_app.command("cancel")
def cancel(
    *,
    request_id: RequestIdArgument,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (optional).")] = "",
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Cancel your department's request ID before it is answered.

    Example:

        causeway directory cancel R0000000001 -i NET/organisations/org1/members/client
    """
    _answer(
        "Cancelled",
        request_id,
        _connection(node, identity, devnet, chain, contract),
        json_output,
        lambda directory: directory.cancel(request_id, reason),
    )


@directory_app.command("escalate")
def escalate(
    *,
    request_id: RequestIdArgument,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Hand request ID to the administrators once its answer time has passed (anyone may).

    Example:

        causeway directory escalate R0000000001 -i NET/organisations/org1/members/client
    """
    _answer(
        "Escalated",
        request_id,
        _connection(node, identity, devnet, chain, contract),
        json_output,
        lambda directory: directory.escalate(request_id),
    )


@directory_app.command("usage")
def record_usage(
    *,
    request_id: RequestIdArgument,
    purpose: Annotated[
        str, typer.Option("--purpose", metavar="TEXT", help="What this access was for.")
    ],
    records: Annotated[
        int, typer.Option("--records", metavar="N", min=0, help="How many records were read.")
    ] = 0,
    digest_of: Annotated[
        Path | None,
        typer.Option(
            "--digest-of",
            metavar="FILE",
            help="The data received: its hash (the chain's: SM3 on gm) goes into the receipt.",
        ),
    ] = None,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Record a use of the data of approved request ID (a usage receipt).

    Example:

        causeway directory usage R0000000001 --purpose "核验" --records 120 \\
            --digest-of received.csv -i NET/organisations/org1/members/client
    """
    from causeway.apps.directory.client import (
        DISTRIBUTION_FILE_BYTES_MAX,
        check_request_id,
        read_bounded_file,
    )

    check_request_id(request_id)
    data = None
    if digest_of is not None:
        data = read_bounded_file(digest_of, DISTRIBUTION_FILE_BYTES_MAX, "--digest-of")
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        digest = directory.client.hash_function()(data) if data is not None else b""
        receipt = directory.record_usage(request_id, purpose, records=records, digest=digest)
    show_message(
        receipt,
        f"Recorded usage {receipt.sequence} of request {receipt.request_id}",
        receipt_rows(receipt),
        json_output,
    )


@directory_app.command("requests")
def list_requests(
    *,
    start_after: StartAfterOption = "",
    limit: LimitOption = None,
    state: StateOption = None,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """List the sharing requests in id order (with --state, only those in that state).

    Example:

        causeway directory requests --json -i NET/organisations/org1/members/client

        causeway directory requests --state escalated -i NET/organisations/org1/members/admin
    """
    if state is not None and state not in REQUEST_STATES:
        raise typer.BadParameter(
            f"{state[:40]!r} is not one of {', '.join(REQUEST_STATES)}", param_hint="--state"
        )
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        wanted = None
        if state is not None:
            from causeway.apps.directory.v1 import directory_pb2

            name = "REQUEST_STATE_" + state.upper().replace("-", "_")
            wanted = directory_pb2.RequestState.Value(name)
        found = _collect(directory.iter_requests(start_after, state=wanted), limit)
    if json_output:
        print_json({"requests": [message_to_data(entry) for entry in found]})
        return
    if not found:
        console.print("no requests")
        return
    console.print(
        rows_table(
            None,
            ["id", "resource", "requester", "provider", "state", "created", "receipts"],
            [
                [
                    entry.id,
                    entry.resource_code,
                    entry.requester_code,
                    entry.provider_code,
                    enum_word(entry, "state"),
                    time_text(entry.created_ms),
                    entry.receipts,
                ]
                for entry in found
            ],
        )
    )


@directory_app.command("request-show")
def show_sharing_request(
    *,
    request_id: RequestIdArgument,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Show request ID and its usage receipts.

    Example:

        causeway directory request-show R0000000001 -i NET/organisations/org1/members/client
    """
    from causeway.apps.directory.client import check_request_id

    check_request_id(request_id)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        found = directory.get_request(request_id)
        receipts = _collect(directory.iter_receipts(request_id), None)
    if json_output:
        data = message_to_data(found)
        data["usage_receipts"] = [message_to_data(receipt) for receipt in receipts]
        print_json(data)
        return
    console.print(key_value_table(f"Request {found.id}", request_rows(found)))
    if receipts:
        console.print(
            rows_table(
                "Usage receipts",
                ["sequence", "accessed by", "time", "purpose", "records", "digest"],
                [
                    [
                        receipt.sequence,
                        receipt.accessed_by,
                        time_text(receipt.time_ms),
                        receipt.purpose or None,
                        receipt.records,
                        receipt.digest.hex() or None,
                    ]
                    for receipt in receipts
                ],
            )
        )


@directory_app.command("info")
def info(
    *,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Show the directory: its id, level, administrators and counts.

    Example:

        causeway directory info -i NET/organisations/org1/members/client
    """
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        found = directory.info()
    settings = found.settings
    show_message(
        found,
        f"Directory {settings.directory_id}",
        [
            ("name", settings.name),
            ("level", enum_word(settings, "level")),
            ("administrators", ", ".join(settings.administrator_organisations)),
            ("parent", settings.parent_directory_id or None),
            ("answer days", settings.answer_days),
            ("resources", found.resources),
            ("requests", found.requests),
        ],
        json_output,
    )


# ---- the administrators' commands --------------------------------------------------------------


@category_app.command("set")
def set_category(
    *,
    code: Annotated[
        str,
        typer.Argument(
            metavar="CODE", help="1-2 digits, each level below adding 2: 1, 101, 10101."
        ),
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name (Chinese).")],
    name_en: Annotated[
        str, typer.Option("--name-en", metavar="TEXT", help="The English name.")
    ] = "",
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Record a node of the classification scheme (administrators; its parent must exist).

    Example:

        causeway directory category set 10101 户籍人口 --name-en "Registered residents" \\
            -i NET/organisations/org1/members/admin
    """
    from causeway.apps.directory.client import check_category_code

    check_category_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        category = directory.set_category(code, name, name_en)
    show_message(
        category,
        f"Category {category.code}",
        [
            ("name", category.name),
            ("name (en)", category.name_en or None),
            ("level", category.level),
            ("parent", category.parent_code or None),
        ],
        json_output,
    )


@department_app.command("set")
def set_department(
    *,
    code: Annotated[str, typer.Argument(metavar="CODE", help="2 to 32 of A-Z and 0-9, e.g. GA.")],
    organisation: Annotated[
        str, typer.Argument(metavar="ORG", help="The organisation whose members act for it.")
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name (Chinese).")],
    name_en: Annotated[
        str, typer.Option("--name-en", metavar="TEXT", help="The English name.")
    ] = "",
    district: Annotated[
        str, typer.Option("--district", metavar="TEXT", help="A district's department: which.")
    ] = "",
    duties: Annotated[
        list[str] | None,
        typer.Option("--duty", metavar="TEXT", help="A duty (职责) of the department; repeatable."),
    ] = None,
    identity: IdentityOption = None,
    node: NodeOption = None,
    devnet: DirOption = None,
    chain: ChainOption = None,
    contract: ContractOption = DEFAULT_CONTRACT,
    json_output: JsonOption = False,
) -> None:
    """Record department CODE and organisation ORG whose members act for it (administrators).

    Example:

        causeway directory department set GA org2 公安局 --name-en "Public Security Bureau" \\
            --duty 户籍管理 --duty 治安管理 -i NET/organisations/org1/members/admin
    """
    from causeway.apps.directory.client import check_department_code

    check_department_code(code)
    with directory_client(_connection(node, identity, devnet, chain, contract)) as directory:
        department = directory.set_department(
            code, organisation, name, name_en=name_en, district=district, duties=duties or ()
        )
    show_message(
        department,
        f"Department {department.code}",
        [
            ("organisation", department.organisation),
            ("name", department.name),
            ("name (en)", department.name_en or None),
            ("district", department.district or None),
            ("duties", ", ".join(department.duties) or None),
        ],
        json_output,
    )


def register(app: typer.Typer) -> None:
    directory_service_commands.register(directory_app)
    app.add_typer(directory_app)
