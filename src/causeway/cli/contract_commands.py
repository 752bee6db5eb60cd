"""`causeway contract`: user contracts (WebAssembly) on a running chain: deploy, upgrade,
freeze, unfreeze, revoke (governance transactions to the `code` contract, endorsed as the
chain's contract policy needs), list and show.

The group is ``contract_app``; commands that work on a contract project (new, build, test) are
added to it from their own module (``@contract_app.command("new")``). Calls of a deployed
contract's methods are `causeway tx send` and `causeway query` (chain_commands), which read its
interface from the chain.
"""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli import contract_project_commands
from causeway.cli.arguments import (
    interface_values_from_json,
    load_json_argument,
    read_bounded_text,
)
from causeway.cli.chain_commands import (
    DEFAULT_NODE,
    EndorserOption,
    IdentityOption,
    JsonOption,
    NodeOption,
    OptionalIdentityOption,
)
from causeway.cli.output import console, key_value_table, print_json, rows_table
from causeway.errors import LimitExceededError, RequestError, TransactionFailedError
from causeway.types.v1 import types_pb2

if TYPE_CHECKING:
    from causeway.sdk import Client, ContractChange, ContractInfo
    from causeway.types.interface import ContractInterface, Field, MethodInterface

# A bound on the module file read (the chain's own limit, causeway.vm's code_bytes_max, is
# lower: it refuses what is above it with a clear reason).
WASM_FILE_BYTES_MAX = 8 * 1024 * 1024
# causeway.types.interface.INTERFACE_BYTES_MAX (the file may carry more white space than that).
INTERFACE_FILE_BYTES_MAX = 1024 * 1024
INTERFACE_SUFFIX = ".interface.json"
LIST_LIMIT_MAX = 100_000
ENTRIES = ("init", "migrate")

contract_app = typer.Typer(
    name="contract",
    help="User contracts (WebAssembly): new, build, test a contract project; deploy, upgrade, "
    "freeze, unfreeze, revoke, list, show on a chain."
    "\n\nExample:\n\n"
    "    causeway contract deploy build/tally.wasm --name tally "
    "-i NET/organisations/org1/members/admin -e NET/organisations/org2/members/admin",
    no_args_is_help=True,
)

NameOption = Annotated[
    str,
    typer.Option(
        "--name", metavar="NAME", help="The contract's name on the chain (a-z, 0-9, '_', '-')."
    ),
]
NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The contract's name.")]
WasmArgument = Annotated[
    Path, typer.Argument(metavar="FILE.wasm", help="The compiled contract (WebAssembly).")
]
InterfaceOption = Annotated[
    Path | None,
    typer.Option(
        "--interface",
        metavar="FILE",
        help="The interface file; default: FILE.wasm's sibling STEM.interface.json (or "
        "NAME.interface.json), else build/STEM.interface.json beside it.",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout-s", min=0.1, help="How long to wait for the commit.")
]


# ---- files ------------------------------------------------------------------------------------


def interface_candidates(wasm: Path, name: str) -> list[Path]:
    """Where the interface of ``wasm`` is looked for, in order, when --interface is not given:
    beside it as the toolchain writes it (build/STEM.wasm, build/STEM.interface.json), under the
    contract's name, and in a build folder beside it."""
    folder = wasm.parent
    candidates = [
        folder / f"{wasm.stem}{INTERFACE_SUFFIX}",
        folder / f"{name}{INTERFACE_SUFFIX}",
        folder / "build" / f"{wasm.stem}{INTERFACE_SUFFIX}",
    ]
    return list(dict.fromkeys(candidates))


def find_interface(wasm: Path, name: str, given: Path | None) -> Path:
    if given is not None:
        return given
    candidates = interface_candidates(wasm, name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RequestError(
        f"no interface file for {wasm}: looked for {', '.join(str(path) for path in candidates)}"
        "; give one with --interface FILE"
    )


def read_wasm(path: Path) -> bytes:
    """The module's bytes; at most WASM_FILE_BYTES_MAX + 1 bytes are ever read."""
    try:
        with path.open("rb") as handle:
            data = handle.read(WASM_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise RequestError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > WASM_FILE_BYTES_MAX:
        raise LimitExceededError(f"{path} is larger than the limit of {WASM_FILE_BYTES_MAX} bytes")
    if not data.startswith(b"\0asm"):
        raise RequestError(f"{path} is not a WebAssembly module (it does not start with \\0asm)")
    return data


def load_interface(path: Path) -> ContractInterface:
    from causeway.types.interface import parse_interface

    text = read_bounded_text(path, INTERFACE_FILE_BYTES_MAX)
    try:
        return parse_interface(text)
    except RequestError as error:
        raise RequestError(f"{path}: {error.message}") from None


def entry_values(
    interface: ContractInterface, entry: str, text: str | None, option: str
) -> dict[str, object] | None:
    """The --init-args or --migrate-args values, through the interface's entry of that name."""
    if text is None:
        return None
    value = load_json_argument(text, option)
    method = interface.methods.get(entry)
    if method is None:
        if value:
            raise RequestError(
                f"{option} is given, but the interface of {interface.name} has no {entry} entry"
            )
        return None
    return interface_values_from_json(method.arguments, value, f"{interface.name}.{entry}")


# ---- rendering --------------------------------------------------------------------------------


def _fields_text(fields: Sequence[Field]) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in fields)


def signature_text(method: MethodInterface) -> str:
    """``add(amount: uint64) -> (total: uint64)``."""
    text = f"{method.name}({_fields_text(method.arguments)})"
    if method.returns:
        text += f" -> ({_fields_text(method.returns)})"
    return text


def _fields_data(fields: Sequence[Field]) -> list[dict[str, str]]:
    return [{"name": field.name, "type": field.type} for field in fields]


def method_kind(method: MethodInterface) -> str:
    if method.name in ENTRIES:
        return "at deployment" if method.name == "init" else "at upgrade"
    return "read-only" if method.read_only else "transaction"


def contract_data(info: ContractInfo) -> dict[str, Any]:
    """A contract's record and interface as data for JSON (bytes as hex)."""
    record = info.record
    return {
        "name": record.name,
        "status": info.status,
        "version": record.version,
        "code_hash": record.code_hash.hex(),
        "code_bytes": record.code_bytes,
        "deployed_height": record.deployed_height,
        "changed_height": record.changed_height,
        "interface_name": info.interface.name,
        "methods": [
            {
                "name": method.name,
                "read_only": method.read_only,
                "kind": method_kind(method),
                "arguments": _fields_data(method.arguments),
                "returns": _fields_data(method.returns),
            }
            for method in info.interface.methods.values()
        ],
        "events": [
            {"name": event.name, "fields": _fields_data(event.fields)}
            for event in info.interface.events.values()
        ],
        "exported_methods": list(record.methods),
    }


def print_contract(
    title: str,
    info: ContractInfo,
    extra: Sequence[tuple[str, Any]] = (),
    *,
    with_interface: bool = True,
) -> None:
    record = info.record
    console.print(
        key_value_table(
            title,
            [
                *extra,
                ("name", record.name),
                ("status", info.status),
                ("version", record.version),
                ("code hash", record.code_hash.hex()),
                ("code bytes", record.code_bytes),
                ("deployed at height", record.deployed_height),
                ("changed at height", record.changed_height),
                ("interface", info.interface.name),
            ],
        )
    )
    if not with_interface:
        return
    methods = list(info.interface.methods.values())
    if methods:
        console.print(
            rows_table(
                None,
                ["method", "kind"],
                [[signature_text(method), method_kind(method)] for method in methods],
            )
        )
    events = list(info.interface.events.values())
    if events:
        console.print(
            rows_table(
                None,
                ["event", "fields"],
                [[event.name, _fields_text(event.fields) or "-"] for event in events],
            )
        )


# ---- plumbing ---------------------------------------------------------------------------------


def _open_client(node: str, identity: Path | None) -> Client:
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    return open_client(node, Identity.load(identity) if identity is not None else None)


def _endorsers(paths: list[Path] | None) -> list[Any]:
    from causeway.sdk import Identity

    return [Identity.load(path) for path in paths or []]


def _with_hint(error: TransactionFailedError) -> TransactionFailedError:
    """A refusal for missing endorsements, with what to add."""
    result = error.result
    status = getattr(result, "status", None)
    if status != types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED:
        return error
    return TransactionFailedError(
        f"{error.message} (add --endorser MEMBER_DIR, an admin of each further organisation the "
        "policy needs)",
        result=result,
    )


def _report_change(verb: str, change: ContractChange, json_output: bool) -> None:
    """The record after the change; its methods and events too when the code changed."""
    identifier = change.transaction_id.hex()
    if json_output:
        print_json(
            {
                "transaction_id": identifier,
                "height": change.height,
                "contract": contract_data(change.contract),
            }
        )
        return
    print_contract(
        f"{verb} {change.contract.name} at height {change.height}",
        change.contract,
        [("transaction", identifier)],
        with_interface=verb in ("Deployed", "Upgraded"),
    )


def _governance(
    verb: str,
    change: Any,
    *,
    node: str,
    identity: Path,
    endorsers: list[Path] | None,
    json_output: bool,
) -> None:
    """Runs ``change(client.contracts, endorsers)`` and prints what it did."""
    endorser_identities = _endorsers(endorsers)
    with _open_client(node, identity) as client:
        try:
            done = change(client.contracts, endorser_identities)
        except TransactionFailedError as error:
            raise _with_hint(error) from None
    _report_change(verb, done, json_output)


# ---- commands ---------------------------------------------------------------------------------


@contract_app.command("deploy")
def deploy(
    *,
    file: WasmArgument,
    name: NameOption,
    identity: IdentityOption,
    interface: InterfaceOption = None,
    init_args: Annotated[
        str | None,
        typer.Option(
            "--init-args",
            metavar="JSON",
            help="Arguments of the contract's init entry, as its interface lists them (or @FILE).",
        ),
    ] = None,
    endorsers: EndorserOption = None,
    node: NodeOption = DEFAULT_NODE,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Deploy a compiled contract under NAME, with its interface file (governance).

    The transaction is signed by --identity (an admin) and endorsed by each --endorser, as the
    chain's contract policy needs. Bad files and arguments are refused before anything is sent;
    a deployment the chain refuses exits 3 with its reason.

    Example:

        causeway contract deploy build/tally.wasm --name tally \\
            -i net/organisations/org1/members/admin -e net/organisations/org2/members/admin \\
            --init-args '{"start": 10}'
    """
    code = read_wasm(file)
    parsed = load_interface(find_interface(file, name, interface))
    values = entry_values(parsed, "init", init_args, "--init-args")
    _governance(
        "Deployed",
        lambda contracts, endorsed: contracts.deploy(
            name,
            code,
            parsed,
            init_arguments=values,
            endorsers=endorsed,
            timeout_s=timeout_s,
        ),
        node=node,
        identity=identity,
        endorsers=endorsers,
        json_output=json_output,
    )


@contract_app.command("upgrade")
def upgrade(
    *,
    file: WasmArgument,
    name: NameOption,
    identity: IdentityOption,
    interface: InterfaceOption = None,
    migrate_args: Annotated[
        str | None,
        typer.Option(
            "--migrate-args",
            metavar="JSON",
            help="Arguments of the new code's migrate entry, as its interface lists them "
            "(or @FILE).",
        ),
    ] = None,
    endorsers: EndorserOption = None,
    node: NodeOption = DEFAULT_NODE,
    timeout_s: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Replace the code of contract NAME (governance); its state stays, its version goes up.

    The new code's migrate entry, if it has one, runs once with --migrate-args.

    Example:

        causeway contract upgrade build/tally.wasm --name tally \\
            -i net/organisations/org1/members/admin -e net/organisations/org2/members/admin
    """
    code = read_wasm(file)
    parsed = load_interface(find_interface(file, name, interface))
    values = entry_values(parsed, "migrate", migrate_args, "--migrate-args")
    _governance(
        "Upgraded",
        lambda contracts, endorsed: contracts.upgrade(
            name,
            code,
            parsed,
            migrate_arguments=values,
            endorsers=endorsed,
            timeout_s=timeout_s,
        ),
        node=node,
        identity=identity,
        endorsers=endorsers,
        json_output=json_output,
    )


def _status_command(method: str, verb: str, summary: str) -> None:
    def command(
        *,
        name: NameArgument,
        identity: IdentityOption,
        endorsers: EndorserOption = None,
        node: NodeOption = DEFAULT_NODE,
        timeout_s: TimeoutOption = 30.0,
        json_output: JsonOption = False,
    ) -> None:
        _governance(
            verb,
            lambda contracts, endorsed: getattr(contracts, method)(
                name, endorsers=endorsed, timeout_s=timeout_s
            ),
            node=node,
            identity=identity,
            endorsers=endorsers,
            json_output=json_output,
        )

    command.__doc__ = f"""{summary}

    Example:

        causeway contract {method} tally \\
            -i net/organisations/org1/members/admin -e net/organisations/org2/members/admin
    """
    contract_app.command(method)(command)


_status_command(
    "freeze",
    "Froze",
    "Freeze contract NAME (governance): its methods fail with CONTRACT_FROZEN until unfrozen.",
)
_status_command(
    "unfreeze", "Unfroze", "Unfreeze contract NAME (governance): its methods run again."
)
_status_command(
    "revoke",
    "Revoked",
    "Revoke contract NAME for good (governance): its methods fail with CONTRACT_REVOKED and "
    "its name is never used again.",
)


@contract_app.command("list")
def list_contracts(
    *,
    identity: IdentityOption,
    node: NodeOption = DEFAULT_NODE,
    start_after: Annotated[
        str, typer.Option("--start-after", metavar="NAME", help="List the names after this one.")
    ] = "",
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, max=LIST_LIMIT_MAX, help="At most this many (default: all)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List the chain's user contracts in name order: version, status, code hash, methods.

    A signed read-only call: it needs an identity.

    Example:

        causeway contract list -i net/organisations/org1/members/client

        causeway contract list -i net/organisations/org1/members/client --json
    """
    with _open_client(node, identity) as client:
        found = client.contracts.list_contracts(start_after=start_after, limit=limit)
    if json_output:
        print_json({"contracts": [contract_data(info) for info in found]})
        return
    if not found:
        console.print("no user contracts")
        return
    console.print(
        rows_table(
            None,
            ["name", "version", "status", "code hash", "methods", "changed at height"],
            [
                [
                    info.name,
                    info.version,
                    info.status,
                    info.code_hash.hex(),
                    ", ".join(info.record.methods),
                    info.record.changed_height,
                ]
                for info in found
            ],
        )
    )


@contract_app.command("show")
def show(
    *,
    name: NameArgument,
    node: NodeOption = DEFAULT_NODE,
    identity: OptionalIdentityOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show contract NAME: its status, version, code hash, heights, methods and events.

    The record is read with its state proof, checked against the block header; the methods are
    shown with their argument and return types, as the interface deployed with the code says.

    Example:

        causeway contract show tally

        causeway contract show tally --json
    """
    with _open_client(node, identity) as client:
        info = client.contracts.get_contract(name)
    if json_output:
        print_json(contract_data(info))
        return
    print_contract(f"Contract {info.name}", info)


def register(app: typer.Typer) -> None:
    # The project commands (new, build, test) join the same group.
    contract_project_commands.register(contract_app)
    app.add_typer(contract_app)
