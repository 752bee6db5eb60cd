"""Commands that talk to a running node: tx, query, block, state, proof, status."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli.arguments import (
    NATIVE_CONTRACTS,
    arguments_from_json,
    decode_return_value,
    display_bytes,
    find_method,
    interface_values_from_json,
    is_native_contract,
    load_json_argument,
    message_to_data,
    node_address_option,
    parse_key,
    parse_transaction_id,
    status_name,
    values_to_data,
)
from causeway.cli.output import (
    EXIT_TRANSACTION_FAILED,
    console,
    key_value_table,
    print_json,
    rows_table,
)
from causeway.errors import CausewayError, NotFoundError, RequestError
from causeway.types.v1 import types_pb2

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from causeway.api.v1 import api_pb2
    from causeway.sdk import Client
    from causeway.types.interface import ContractInterface

DEFAULT_NODE = "127.0.0.1:7050"

NodeOption = Annotated[
    str,
    typer.Option(
        "--node",
        "-n",
        metavar="ADDRESS",
        envvar="CAUSEWAY_NODE",
        help="gRPC address of the node (host:port).",
        callback=node_address_option,
    ),
]
IdentityOption = Annotated[
    Path,
    typer.Option(
        "--identity",
        "--home",
        "-i",
        metavar="MEMBER_DIR",
        envvar="CAUSEWAY_IDENTITY",
        help="Member folder to sign with (with member.json and key.pem), "
        "e.g. NET/organisations/org1/members/client.",
    ),
]
OptionalIdentityOption = Annotated[
    Path | None,
    typer.Option(
        "--identity",
        "--home",
        "-i",
        metavar="MEMBER_DIR",
        envvar="CAUSEWAY_IDENTITY",
        help="Member folder; only used to learn the chain's crypto profile without asking.",
    ),
]
EndorserOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--endorser",
        "-e",
        metavar="MEMBER_DIR",
        help="Member folder of an endorser (an admin of another organisation); repeatable.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ContractOption = Annotated[str, typer.Option("--contract", "-c", help="Contract name, e.g. kv.")]
MethodOption = Annotated[str, typer.Option("--method", "-m", help="Method name, e.g. put.")]
ArgsOption = Annotated[
    str,
    typer.Option(
        "--args",
        "-a",
        metavar="JSON",
        help="Arguments as JSON (or @FILE). kv bytes fields take plain text; elsewhere bytes "
        'are base64, or {"hex": ...} / {"text": ...} anywhere. A user contract takes the '
        "arguments its interface lists.",
    ),
]


def _open_client(node: str, identity: Path | None) -> Client:
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    return open_client(node, Identity.load(identity) if identity is not None else None)


def _time_text(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _events_data(
    events: Sequence[types_pb2.Event],
    readable: bool,
    user_contract: tuple[str, ContractInterface] | None = None,
) -> list[dict[str, Any]]:
    """Events as data; with a user contract's name and interface, each also carries "values":
    its data decoded by the interface (null for an event the interface does not list)."""
    data: list[dict[str, Any]] = []
    for event in events:
        item: dict[str, Any] = {
            "contract": event.contract,
            "name": event.name,
            "attributes": {attribute.key: attribute.value for attribute in event.attributes},
            "data": (display_bytes(event.data) if readable else event.data.hex()),
        }
        if user_contract is not None:
            from causeway.sdk.contracts import decode_event

            decoded = decode_event(user_contract[0], user_contract[1], event).values
            item["values"] = (
                values_to_data(decoded, readable=readable) if decoded is not None else None
            )
        data.append(item)
    return data


def _user_return_value(
    result: types_pb2.TransactionResult, interface: ContractInterface, method: str, readable: bool
) -> dict[str, Any] | None:
    from causeway.sdk.contracts import decode_return_values

    if result.status != types_pb2.RESULT_STATUS_OK:
        return None
    try:
        values = decode_return_values(interface, method, result.return_value)
    except CausewayError:
        return None  # shown as hex: return_value_hex
    return values_to_data(values, readable=readable)


def result_data(
    result: types_pb2.TransactionResult,
    contract: str,
    method: str,
    *,
    readable: bool,
    interface: ContractInterface | None = None,
) -> dict[str, Any]:
    """A transaction result as data: status, decoded return value, events and cost. A user
    contract's (``interface`` given) return values and events are decoded by its interface."""
    if interface is None:
        decoded = decode_return_value(contract, method, result.return_value)
        return_value = message_to_data(decoded, readable=readable) if decoded is not None else None
        events = _events_data(result.events, readable)
    else:
        return_value = _user_return_value(result, interface, method, readable)
        events = _events_data(result.events, readable, (contract, interface))
    return {
        "transaction_id": result.transaction_id.hex(),
        "status": status_name(result.status),
        "error": result.error,
        "return_value": return_value,
        "return_value_hex": result.return_value.hex(),
        "events": events,
        "cost": message_to_data(result.cost),
    }


def user_contract_call(
    client: Client, contract: str, method: str, value: Any
) -> tuple[ContractInterface, bytes]:
    """The interface of user contract ``contract`` (read from the chain with its proof) and the
    input of ``method`` with the parsed ``--args`` ``value`` encoded through it; RequestError
    naming an unknown contract, method or argument, or a value of the wrong type."""
    from causeway.sdk.contracts import callable_method, encode_call

    try:
        info = client.contracts.get_contract(contract)
    except NotFoundError:
        raise RequestError(
            f"unknown contract {contract!r}: it is not a native contract the CLI knows "
            f"({', '.join(sorted(NATIVE_CONTRACTS))}) and the chain has no user contract of "
            "that name",
            reason="unknown_method",
        ) from None
    entry = callable_method(contract, info.interface, method)
    values = interface_values_from_json(entry.arguments, value, f"{contract}.{method}")
    return info.interface, encode_call(contract, info.interface, method, values)


def _print_result(title: str, data: dict[str, Any], extra: Sequence[tuple[str, Any]] = ()) -> None:
    cost = data["cost"]
    rows: list[tuple[str, Any]] = [*extra, ("status", data["status"])]
    if data["error"]:
        rows.append(("error", data["error"]))
    if data["return_value"] is not None:
        rows.append(("return value", data["return_value"]))
    elif data["return_value_hex"]:
        rows.append(("return value", "0x" + data["return_value_hex"]))
    for event in data["events"]:
        fields = event.get("values") or event["attributes"]
        attributes = " ".join(f"{key}={value}" for key, value in fields.items())
        rows.append(("event", f"{event['contract']}.{event['name']} {attributes}".rstrip()))
    rows.append(
        (
            "cost",
            f"gas {cost.get('gas_used', 0)}, reads {cost.get('reads', 0)}, "
            f"writes {cost.get('writes', 0)}, bytes read {cost.get('bytes_read', 0)}, "
            f"bytes written {cost.get('bytes_written', 0)}",
        )
    )
    console.print(key_value_table(title, rows))


def _body_data(transaction: types_pb2.Transaction, *, readable: bool) -> dict[str, Any]:
    body = types_pb2.TransactionBody.FromString(transaction.body)
    arguments: Any = body.arguments.hex()
    try:
        entry = find_method(body.contract, body.method)
        arguments = message_to_data(entry.arguments.FromString(body.arguments), readable=readable)
    except (RequestError, ValueError):
        pass
    return {
        "chain_id": body.chain_id,
        "sender": body.sender,
        "contract": body.contract,
        "method": body.method,
        "arguments": arguments,
        "timestamp_ms": body.timestamp_ms,
        "expiry_ms": body.expiry_ms,
        "nonce": body.nonce.hex(),
        "endorsers": [endorsement.endorser for endorsement in transaction.endorsements],
    }


# ---- tx ---------------------------------------------------------------------------------------

tx_app = typer.Typer(
    name="tx",
    help="Send and look up transactions.\n\nExample:\n\n"
    "    causeway tx send -i NET/organisations/org1/members/client -c kv -m put "
    '--args \'{"key": "colour", "value": "blue"}\'',
    no_args_is_help=True,
)


@tx_app.command("send")
def tx_send(
    *,
    identity: IdentityOption,
    contract: ContractOption,
    method: MethodOption,
    args: ArgsOption = "{}",
    node: NodeOption = DEFAULT_NODE,
    endorsers: EndorserOption = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once the node accepted it.")
    ] = False,
    timeout_s: Annotated[
        float, typer.Option("--timeout-s", min=0.1, help="How long to wait for the commit.")
    ] = 30.0,
    expiry_s: Annotated[
        float, typer.Option("--expiry-s", min=1, help="Seconds until the transaction expires.")
    ] = 60.0,
    json_output: JsonOption = False,
) -> None:
    """Sign a transaction, send it, wait for its commit and print the result.

    --args is the JSON form of the method's argument message (causeway.contracts.v1). In the kv
    contract, bytes fields take plain text (UTF-8); use {"hex": "..."} for binary. A user
    contract's arguments are those its interface lists (read from the chain), and its return
    values and events are decoded by it. Exits 3 when the transaction committed with a failed
    status.

    Example:

        causeway tx send --identity net/organisations/org1/members/client \\
            --contract kv --method put --args '{"key": "colour", "value": "blue"}'

        causeway tx send -i net/organisations/org1/members/admin -c ledger -m issue \\
            --args '{"account": "org1/client", "amount": 100}'

        causeway tx send -i net/organisations/org1/members/client -c tally -m add \\
            --args '{"amount": 5}'
    """
    from causeway.sdk import Identity

    value = load_json_argument(args)
    native = is_native_contract(contract)
    message: Message | bytes = arguments_from_json(contract, method, value) if native else b""
    interface: ContractInterface | None = None
    endorser_identities = [Identity.load(path) for path in endorsers or []]
    with _open_client(node, identity) as client:
        if not native:
            interface, message = user_contract_call(client, contract, method, value)
        transaction = client.transaction(
            contract, method, message, expiry_s=expiry_s, endorsers=endorser_identities
        )
        identifier = client.transaction_id(transaction).hex()
        if not json_output:
            console.print(f"transaction {identifier}")
        outcome = client.submit(transaction, wait=not no_wait, timeout_s=timeout_s)
    if no_wait:
        if json_output:
            print_json({"transaction_id": identifier, "accepted": True, "committed": False})
        else:
            console.print("accepted; not waiting for the commit")
        return
    if not outcome.committed or outcome.result is None:
        raise RequestError(
            f"transaction {identifier} was accepted but not committed within {timeout_s:g} s; "
            f"check later with: causeway tx get {identifier}",
            reason="timeout",
        )
    data = result_data(
        outcome.result, contract, method, readable=not json_output, interface=interface
    )
    data = {"transaction_id": identifier, "committed": True, "height": outcome.height, **data}
    if json_output:
        print_json(data)
    else:
        _print_result(f"Committed at height {outcome.height}", data, [("transaction", identifier)])
    if outcome.result.status != types_pb2.RESULT_STATUS_OK:
        raise typer.Exit(EXIT_TRANSACTION_FAILED)


@tx_app.command("get")
def tx_get(
    *,
    transaction_id: Annotated[str, typer.Argument(metavar="ID", help="Transaction id (hex).")],
    node: NodeOption = DEFAULT_NODE,
    identity: OptionalIdentityOption = None,
    wait_s: Annotated[
        float, typer.Option("--wait-s", min=0, help="Wait this long for it to commit.")
    ] = 0.0,
    proof: Annotated[
        bool, typer.Option("--proof", help="Show the Merkle proofs against the block header.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write a proof file for `proof verify`."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Look up a committed transaction, its result and where it is, checked against the header.

    Example:

        causeway tx get 6f1c...e2 --node 127.0.0.1:7050

        causeway tx get 6f1c...e2 --proof --out tx-proof.json
    """
    from causeway.cli.proofs import transaction_proof_document, write_proof_document
    from causeway.crypto import get_profile
    from causeway.types import block_hash

    identifier = parse_transaction_id(transaction_id)
    with _open_client(node, identity) as client:
        response = client.get_transaction(identifier, wait_s)
        crypto_profile = client.status().crypto_profile
    body = _body_data(response.transaction, readable=not json_output)
    data = result_data(response.result, body["contract"], body["method"], readable=not json_output)
    header_hash = block_hash(response.header, get_profile(crypto_profile).hash).hex()
    document = transaction_proof_document(response, crypto_profile)
    if out is not None:
        write_proof_document(out, document)
    summary: dict[str, Any] = {
        "transaction_id": identifier.hex(),
        "height": response.height,
        "index": response.index,
        "block_hash": header_hash,
        "transaction": body,
        "result": data,
        "proof_verified": True,
    }
    if proof:
        summary["transaction_proof"] = document["transaction_proof"]
        summary["result_proof"] = document["result_proof"]
    if out is not None:
        summary["proof_file"] = str(out)
    if json_output:
        print_json(summary)
        return
    rows: list[tuple[str, Any]] = [
        ("transaction", identifier.hex()),
        ("height", response.height),
        ("index", response.index),
        ("block hash", header_hash),
        ("sender", body["sender"]),
        ("call", f"{body['contract']}.{body['method']}"),
        ("arguments", body["arguments"]),
        ("endorsers", ", ".join(body["endorsers"]) or None),
        ("time", _time_text(body["timestamp_ms"])),
        ("proof", "verified against the header's transactions and results roots"),
    ]
    _print_result("Transaction", data, rows)
    if proof:
        _print_merkle_proof("transaction proof", response.transaction_proof)
        _print_merkle_proof("result proof", response.result_proof)
    if out is not None:
        console.print(f"proof written to {out}")


def _print_merkle_proof(title: str, proof: types_pb2.MerkleProof) -> None:
    rows: list[tuple[str, Any]] = [("index", proof.index), ("total", proof.total)]
    rows.extend(
        (f"sibling {number}", sibling.hex()) for number, sibling in enumerate(proof.siblings)
    )
    console.print(key_value_table(title, rows))


# ---- query ------------------------------------------------------------------------------------


def query(
    *,
    identity: IdentityOption,
    contract: ContractOption,
    method: MethodOption,
    args: ArgsOption = "{}",
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Evaluate a read-only call against the latest state; nothing is committed.

    Example:

        causeway query -i net/organisations/org1/members/client -c kv -m get \\
            --args '{"key": "colour"}'

        causeway query -i net/organisations/org1/members/client -c ledger -m balance \\
            --args '{"account": "org1/client"}'

        causeway query -i net/organisations/org1/members/client -c tally -m total
    """
    value = load_json_argument(args)
    native = is_native_contract(contract)
    message: Message | bytes = arguments_from_json(contract, method, value) if native else b""
    interface: ContractInterface | None = None
    with _open_client(node, identity) as client:
        if not native:
            interface, message = user_contract_call(client, contract, method, value)
        result = client.evaluate(contract, method, message)
    data = result_data(result, contract, method, readable=not json_output, interface=interface)
    if json_output:
        print_json(data)
    else:
        _print_result(f"{contract}.{method}", data)
    if result.status != types_pb2.RESULT_STATUS_OK:
        raise typer.Exit(EXIT_TRANSACTION_FAILED)


# ---- block ------------------------------------------------------------------------------------

block_app = typer.Typer(
    name="block",
    help="Read blocks.\n\nExample:\n\n    causeway block get latest",
    no_args_is_help=True,
)


def _parse_height(text: str) -> int:
    if text == "latest":
        return 0
    try:
        height = int(text)
    except ValueError:
        raise RequestError(f"height must be a positive number or 'latest', not {text!r}") from None
    if height < 1:
        raise RequestError(f"height must be a positive number or 'latest', not {text!r}")
    return height


@block_app.command("get")
def block_get(
    *,
    height: Annotated[
        str, typer.Argument(metavar="HEIGHT", help="A height, or 'latest'.")
    ] = "latest",
    node: NodeOption = DEFAULT_NODE,
    identity: OptionalIdentityOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a block: its header, its transactions and their results (checked against the header).

    Example:

        causeway block get latest

        causeway block get 12 --json --node 127.0.0.1:7050
    """
    from causeway.types import block_hash

    wanted = _parse_height(height)
    with _open_client(node, identity) as client:
        response = client.get_block(wanted)
        hash_function = client.hash_function()
    header = response.block.header
    results = list(response.results)
    transactions: list[dict[str, Any]] = []
    for index, transaction in enumerate(response.block.transactions):
        body = types_pb2.TransactionBody.FromString(transaction.body)
        result = results[index] if index < len(results) else types_pb2.TransactionResult()
        transactions.append(
            {
                "index": index,
                "transaction_id": result.transaction_id.hex(),
                "sender": body.sender,
                "contract": body.contract,
                "method": body.method,
                "status": status_name(result.status),
                "error": result.error,
            }
        )
    data = {
        "height": header.height,
        "block_hash": block_hash(header, hash_function).hex(),
        "header": message_to_data(header),
        "certificate": message_to_data(response.certificate),
        "transactions": transactions,
    }
    if json_output:
        print_json(data)
        return
    console.print(
        key_value_table(
            f"Block {header.height}",
            [
                ("block hash", data["block_hash"]),
                ("previous hash", header.previous_hash.hex()),
                ("time", _time_text(header.time_ms)),
                ("proposer", header.proposer),
                ("transactions", header.transaction_count),
                ("transactions root", header.transactions_root.hex()),
                ("results root", header.results_root.hex()),
                ("state root", header.state_root.hex()),
                ("chain", header.chain_id),
                (
                    "signed by",
                    ", ".join(signature.validator for signature in response.certificate.signatures),
                ),
            ],
        )
    )
    if transactions:
        console.print(
            rows_table(
                None,
                ["#", "transaction", "sender", "call", "status"],
                [
                    [
                        item["index"],
                        item["transaction_id"],
                        item["sender"],
                        f"{item['contract']}.{item['method']}",
                        item["status"] + (f": {item['error']}" if item["error"] else ""),
                    ]
                    for item in transactions
                ],
            )
        )


# ---- state ------------------------------------------------------------------------------------

state_app = typer.Typer(
    name="state",
    help="Read the authenticated state.\n\nExample:\n\n    causeway state get --kv colour --proof",
    no_args_is_help=True,
)


def kv_state_key(key: bytes) -> bytes:
    """The raw state key of a kv contract key (the kv namespace comes from causeway.execution)."""
    from causeway.execution import keys

    return keys.kv_key(key)


@state_app.command("get")
def state_get(
    *,
    key: Annotated[str, typer.Argument(metavar="KEY", help="State key: text, or hex with --hex.")],
    node: NodeOption = DEFAULT_NODE,
    identity: OptionalIdentityOption = None,
    hex_key: Annotated[bool, typer.Option("--hex", help="KEY is hex.")] = False,
    kv: Annotated[
        bool, typer.Option("--kv", help="KEY is a key of the kv contract (adds its namespace).")
    ] = False,
    height: Annotated[
        int, typer.Option("--height", min=0, help="Read at this height (0: the latest).")
    ] = 0,
    proof: Annotated[bool, typer.Option("--proof", help="Show the state proof.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write a proof file for `proof verify`."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Read one state key with its proof against the block header's state root.

    KEY is a raw state key ("kv/colour", "ledger/balance/org1/client"); --kv adds the kv
    contract's namespace for you. The proof is always checked; --proof shows it and --out writes
    a self-contained proof file that `causeway proof verify` checks offline.

    Example:

        causeway state get --kv colour --proof

        causeway state get 6b762f636f6c6f7572 --hex --height 12 --out proof.json
    """
    from causeway.cli.proofs import state_proof_document, write_proof_document

    raw_key = parse_key(key, hex_key=hex_key)
    if kv:
        raw_key = kv_state_key(raw_key)
    with _open_client(node, identity) as client:
        response = client.get_state(raw_key, height)
        crypto_profile = client.status().crypto_profile
    document = state_proof_document(response, raw_key, crypto_profile)
    if out is not None:
        write_proof_document(out, document)
    value = response.value if response.found else None
    text: str | None = None
    if value is not None:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    data: dict[str, Any] = {
        "key": raw_key.hex(),
        "found": response.found,
        "value": value.hex() if value is not None else None,
        "value_text": text,
        "height": response.height,
        "state_root": response.header.state_root.hex(),
        "block_hash": document["block_hash"],
        "proof_verified": True,
    }
    if proof:
        data["proof"] = document["proof"]
    if out is not None:
        data["proof_file"] = str(out)
    if json_output:
        print_json(data)
        return
    console.print(
        key_value_table(
            "State",
            [
                ("key", display_bytes(raw_key)),
                ("value", display_bytes(value) if value is not None else "(absent)"),
                ("height", response.height),
                ("state root", data["state_root"]),
                ("block hash", data["block_hash"]),
                ("proof", "verified" + ("" if response.found else " (proves absence)")),
            ],
        )
    )
    if proof:
        state_proof = response.proof
        rows: list[tuple[str, Any]] = [
            ("leaf key hash", state_proof.leaf_key_hash.hex() or None),
            ("leaf value hash", state_proof.leaf_value_hash.hex() or None),
        ]
        rows.extend(
            (f"sibling {number}", sibling.hex())
            for number, sibling in enumerate(state_proof.siblings)
        )
        console.print(key_value_table("State proof", rows))
    if out is not None:
        console.print(f"proof written to {out}")


# ---- proof ------------------------------------------------------------------------------------

proof_app = typer.Typer(
    name="proof",
    help="Check proofs offline.\n\nExample:\n\n    causeway proof verify proof.json",
    no_args_is_help=True,
)


@proof_app.command("verify")
def proof_verify(
    *,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A proof file.")],
    genesis: Annotated[
        Path | None,
        typer.Option(
            "--genesis",
            metavar="FILE",
            help="Also check that the header belongs to the chain of this genesis.json.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check a proof file written by `state get --out` or `tx get --out`, without a node.

    It proves the value (or absence) of a state key, or a transaction and its result, against
    the block header in the file. Compare the printed block hash with one you trust.

    Example:

        causeway proof verify proof.json

        causeway proof verify tx-proof.json --genesis net/genesis.json
    """
    from causeway.cli.proofs import (
        load_genesis_file,
        load_proof_document,
        verify_proof_document,
    )

    genesis_message = load_genesis_file(genesis) if genesis is not None else None
    verified = verify_proof_document(load_proof_document(file), genesis=genesis_message)
    data = {
        "valid": True,
        "kind": verified.kind,
        "chain_id": verified.chain_id,
        "crypto_profile": verified.crypto_profile,
        "height": verified.height,
        "block_hash": verified.block_hash.hex(),
        "state_root": verified.state_root.hex(),
        **verified.claim,
    }
    if json_output:
        print_json(data)
        return
    rows: list[tuple[str, Any]] = [("result", "VALID")]
    claim = verified.claim
    if "key" in claim:
        key = bytes.fromhex(claim["key"])
        value = claim["value"]
        rows.append(("key", display_bytes(key)))
        rows.append(
            ("value", display_bytes(bytes.fromhex(value)) if value is not None else "(absent)")
        )
    else:
        rows.append(("transaction", claim["transaction_id"]))
        rows.append(("index", claim["index"]))
        rows.append(("status", claim["status"]))
    rows.extend(
        [
            ("chain", verified.chain_id),
            ("height", verified.height),
            ("block hash", verified.block_hash.hex()),
            ("state root", verified.state_root.hex()),
            ("genesis", "matches" if genesis is not None else "not checked (use --genesis)"),
        ]
    )
    console.print(key_value_table(f"Proof {file}", rows))


# ---- status -----------------------------------------------------------------------------------


def status(
    *,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Show the node's chain, height, latest block, role, peers and mempool.

    Example:

        causeway status --node 127.0.0.1:7050

        causeway status --json
    """
    from causeway.cli.connection import open_client

    with open_client(node) as client:
        response: api_pb2.GetStatusResponse = client.status()
    data = message_to_data(response)
    if json_output:
        print_json(data)
        return
    console.print(
        key_value_table(
            f"Node {response.node_id} at {node}",
            [
                ("chain", response.chain_id),
                ("height", response.height),
                ("latest block", response.latest_block_hash.hex()),
                ("crypto profile", response.crypto_profile),
                ("consensus", response.consensus),
                ("role", response.role),
                ("peers", response.peers_connected),
                ("mempool", f"{response.mempool_size} transactions"),
                ("genesis hash", response.genesis_hash.hex()),
                ("earliest state height", response.earliest_state_height),
            ],
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(tx_app)
    app.command("query")(query)
    app.add_typer(block_app)
    app.add_typer(state_app)
    app.add_typer(proof_app)
    app.command("status")(status)
