"""`causeway proposal create|show|vote|execute|withdraw|close|list`: governance voted on chain.

Each organisation's admin runs these from its own machine with its own identity folder; no
machine ever holds another organisation's key. See causeway.execution.contracts.proposals for the
rules and docs/operations.md (section 3) for the walk-through.
"""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import base64
import datetime
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from causeway.cli.arguments import (
    arguments_from_json,
    find_method,
    load_json_argument,
    message_to_data,
)
from causeway.cli.chain_commands import (
    DEFAULT_NODE,
    IdentityOption,
    JsonOption,
    NodeOption,
)
from causeway.cli.output import (
    EXIT_TRANSACTION_FAILED,
    console,
    key_value_table,
    print_json,
    rows_table,
)
from causeway.errors import RequestError

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from causeway.contracts.v1 import proposals_pb2
    from causeway.sdk import Client
    from causeway.types.proposal_draft import ProposalDraft

DEADLINE_DAYS_DEFAULT = 7.0

proposal_app = typer.Typer(
    name="proposal",
    help="Governance proposals voted on chain: each organisation's admin votes from its own "
    "machine.\n\nExample:\n\n"
    "    causeway proposal create -i org1/members/admin --calls-file add-org4.json --vote-yes\n\n"
    "    causeway proposal vote 1 --yes -i org2/members/admin\n\n"
    "    causeway proposal execute 1 -i org3/members/admin\n\n"
    "    causeway proposal withdraw 2 -i org1/members/admin\n\n"
    "    causeway proposal close 3 -i org3/members/admin",
    no_args_is_help=True,
)

IdArgument = Annotated[int, typer.Argument(metavar="ID", min=1, help="The proposal's id.")]


def _open_client(node: str, identity: Path) -> Client:
    """A client signing with the admin's (or member's) own identity, over TLS with tokens where
    the global --tls-ca says so (causeway.cli.connection)."""
    from causeway.cli.connection import open_client
    from causeway.sdk import Identity

    return open_client(node, Identity.load(identity))


def _code_arguments(method: str) -> type[Message] | None:
    """The code contract's governance arguments (the `tx send` table lists no code method:
    `causeway contract` sends those)."""
    from causeway.contracts.v1 import contracts_pb2

    return {
        "deploy": contracts_pb2.CodeDeployArguments,
        "upgrade": contracts_pb2.CodeUpgradeArguments,
        "freeze": contracts_pb2.CodeNameArguments,
        "unfreeze": contracts_pb2.CodeNameArguments,
        "revoke": contracts_pb2.CodeNameArguments,
    }.get(method)


def call_arguments(contract: str, method: str, args: str) -> bytes:
    """The canonical arguments of one call from `--args` JSON, as `tx send` makes them (the code
    contract's take protobuf JSON: bytes as base64)."""
    from google.protobuf import json_format

    from causeway.types import encode

    value = load_json_argument(args)
    if contract == "code":
        message_type = _code_arguments(method)
        if message_type is None:
            raise RequestError(
                f"code.{method} is not a governance method (deploy, upgrade, freeze, unfreeze, "
                "revoke)",
                reason="invalid_argument",
            )
        if not isinstance(value, dict):
            raise RequestError(f"--args for code.{method} must be a JSON object")
        message = message_type()
        try:
            json_format.ParseDict(value, message)
        except json_format.ParseError as error:
            raise RequestError(
                f"--args do not fit {message.DESCRIPTOR.name}: {error}", reason="invalid_argument"
            ) from None
        return encode(message)
    return encode(arguments_from_json(contract, method, value))


def _draft(
    *,
    calls_file: Path | None,
    contract: str | None,
    method: str | None,
    args: str,
    title: str | None,
    description: str | None,
) -> ProposalDraft:
    from causeway.sdk.proposals import load_proposal_draft
    from causeway.types.proposal_draft import DraftCall, ProposalDraft

    if calls_file is not None:
        if contract is not None or method is not None:
            raise RequestError("give either --calls-file or --contract/--method, not both")
        draft = load_proposal_draft(calls_file)
        return ProposalDraft(
            title=draft.title if title is None else title,
            description=draft.description if description is None else description,
            calls=draft.calls,
        )
    if contract is None or method is None:
        raise RequestError("give --calls-file F, or --contract and --method (with --args)")
    if title is None:
        raise RequestError("give --title (a draft file carries its own)")
    call = DraftCall(contract, method, call_arguments(contract, method, args))
    return ProposalDraft(title=title, description=description or "", calls=(call,))


def _time_text(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _call_data(call: proposals_pb2.ProposalCall) -> dict[str, Any]:
    """A call as data: its arguments decoded where the CLI knows the method, else base64."""
    data: dict[str, Any] = {"contract": call.contract, "method": call.method}
    try:
        message_type = (
            _code_arguments(call.method)
            if call.contract == "code"
            else find_method(call.contract, call.method).arguments
        )
        if message_type is None:
            raise RequestError("unknown")
        data["arguments"] = message_to_data(message_type.FromString(call.arguments), readable=False)
    except (RequestError, ValueError):
        data["arguments"] = base64.b64encode(call.arguments).decode("ascii")
    return data


def proposal_data(
    answer: proposals_pb2.ProposalsGetResult | proposals_pb2.Proposal,
) -> dict[str, Any]:
    from causeway.contracts.v1 import proposals_pb2
    from causeway.sdk.proposals import status_name
    from causeway.types.v1 import types_pb2

    proposal = answer.proposal if isinstance(answer, proposals_pb2.ProposalsGetResult) else answer
    data: dict[str, Any] = {
        "id": proposal.id,
        "title": proposal.title,
        "description": proposal.description,
        "status": status_name(proposal.status),
        "creator": proposal.creator,
        "creator_organisation": proposal.creator_organisation,
        "created_height": proposal.created_height,
        "deadline_ms": proposal.deadline_ms,
        "deadline": _time_text(proposal.deadline_ms),
        "votes": [
            {
                "organisation": vote.organisation,
                "vote": "yes" if vote.yes else "no",
                "voter": vote.voter,
                "height": vote.height,
            }
            for vote in proposal.votes
        ],
        "calls": [_call_data(call) for call in proposal.calls],
    }
    if proposal.status in (
        proposals_pb2.PROPOSAL_STATUS_EXECUTED,
        proposals_pb2.PROPOSAL_STATUS_FAILED,
    ):
        data["executed_height"] = proposal.executed_height
        data["executor"] = proposal.executor
    if proposal.status in (
        proposals_pb2.PROPOSAL_STATUS_WITHDRAWN,
        proposals_pb2.PROPOSAL_STATUS_REJECTED,
    ):
        data["ended_height"] = proposal.executed_height
        data["ended_by"] = proposal.executor
    if proposal.status == proposals_pb2.PROPOSAL_STATUS_FAILED:
        data["failed_call"] = proposal.failed_call
        data["failure"] = proposal.failure
        data["failure_status"] = types_pb2.ResultStatus.Name(proposal.failure_status).removeprefix(  # type: ignore[arg-type]
            "RESULT_STATUS_"
        )
    if isinstance(answer, proposals_pb2.ProposalsGetResult):
        data["policy"] = answer.policy
        data["counted_yes"] = list(answer.counted_yes)
        data["policy_met"] = answer.policy_met
        data["rejectable"] = answer.rejectable
    return data


def _print_proposal(data: dict[str, Any]) -> None:
    rows: list[tuple[str, Any]] = [
        ("id", data["id"]),
        ("title", data["title"]),
        ("description", data["description"] or None),
        ("status", data["status"]),
        ("creator", f"{data['creator']} at height {data['created_height']}"),
        ("deadline", data["deadline"]),
    ]
    for index, call in enumerate(data["calls"]):
        arguments = json.dumps(call["arguments"], sort_keys=True)
        rows.append((f"call {index}", f"{call['contract']}.{call['method']} {arguments}"))
    for vote in data["votes"]:
        rows.append(
            (
                f"vote {vote['organisation']}",
                f"{vote['vote']} by {vote['voter']} at height {vote['height']}",
            )
        )
    if "policy" in data:
        rows.append(("policy", data["policy"]))
        rows.append(("counted yes", ", ".join(data["counted_yes"]) or "none"))
        rows.append(("policy met now", "yes" if data["policy_met"] else "no"))
        if data["rejectable"]:
            rows.append(("rejectable now", "yes: the no votes leave too few (proposal close)"))
    if "executor" in data:
        rows.append(("executed", f"by {data['executor']} at height {data['executed_height']}"))
    if "ended_by" in data:
        rows.append((data["status"], f"by {data['ended_by']} at height {data['ended_height']}"))
    if "failure" in data:
        rows.append(("failure", f"{data['failure_status']}: {data['failure']}"))
    console.print(key_value_table(f"Proposal {data['id']}", rows))


@proposal_app.command("create")
def proposal_create(
    *,
    identity: IdentityOption,
    calls_file: Annotated[
        Path | None,
        typer.Option(
            "--calls-file", metavar="FILE", help="A PROPOSAL DRAFT file (JSON) with the calls."
        ),
    ] = None,
    contract: Annotated[
        str | None, typer.Option("--contract", "-c", help="One call's contract, e.g. config.")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", "-m", help="One call's method, e.g. update.")
    ] = None,
    args: Annotated[
        str,
        typer.Option(
            "--args",
            "-a",
            metavar="JSON",
            help="One call's arguments as JSON (or @FILE), as `tx send` takes them.",
        ),
    ] = "{}",
    title: Annotated[
        str | None, typer.Option("--title", help="One line; a draft file carries its own.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="Free text.")] = None,
    deadline_days: Annotated[
        float,
        typer.Option(
            "--deadline-days",
            metavar="DAYS",
            help="Votes and execution close this many days from now (an hour to 90 days).",
        ),
    ] = DEADLINE_DAYS_DEFAULT,
    vote_yes: Annotated[
        bool, typer.Option("--vote-yes", help="Your organisation votes yes at once.")
    ] = False,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Create a proposal (as an organisation's admin) and print its id.

    Example:

        causeway proposal create -i org1/members/admin --calls-file add-org4.json --vote-yes

        causeway proposal create -i org1/members/admin --title "Larger blocks" \\
            -c config -m update --args @new-config.json --deadline-days 14
    """
    from causeway.sdk.proposals import create_arguments, deadline_ms_after

    draft = _draft(
        calls_file=calls_file,
        contract=contract,
        method=method,
        args=args,
        title=title,
        description=description,
    )
    # Checked here as well as on chain: a mistake costs no transaction.
    create_arguments(
        draft, deadline_ms_after(deadline_days, time.time_ns() // 1_000_000), vote_yes=vote_yes
    )
    with _open_client(node, identity) as client:
        proposal_id = client.proposals.create_from_draft(
            draft, deadline_days=deadline_days, vote_yes=vote_yes
        )
    if json_output:
        print_json({"id": proposal_id, "vote_yes": vote_yes})
    else:
        console.print(
            f"proposal {proposal_id} created" + (" with your yes vote" if vote_yes else "")
        )


@proposal_app.command("show")
def proposal_show(
    *,
    proposal_id: IdArgument,
    identity: IdentityOption,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Show a proposal: its calls, its votes, and whether the policy is met now.

    Example:

        causeway proposal show 1 -i org2/members/admin
    """
    with _open_client(node, identity) as client:
        data = proposal_data(client.proposals.get(proposal_id))
    if json_output:
        print_json(data)
    else:
        _print_proposal(data)


@proposal_app.command("vote")
def proposal_vote(
    *,
    proposal_id: IdArgument,
    identity: IdentityOption,
    yes: Annotated[
        bool | None,
        typer.Option("--yes/--no", help="Your organisation's vote (a later vote replaces it)."),
    ] = None,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Vote for your organisation (as its admin).

    Example:

        causeway proposal vote 1 --yes -i org2/members/admin
    """
    if yes is None:
        raise RequestError("say --yes or --no")
    with _open_client(node, identity) as client:
        outcome = client.proposals.vote(proposal_id, yes)
    vote = "yes" if yes else "no"
    if json_output:
        print_json({"id": proposal_id, "vote": vote, "height": outcome.height})
    else:
        console.print(f"voted {vote} on proposal {proposal_id} at height {outcome.height}")


@proposal_app.command("execute")
def proposal_execute(
    *,
    proposal_id: IdArgument,
    identity: IdentityOption,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Execute a proposal whose yes votes meet the policy (any member may).

    Exits 3 when a call failed: the chain records the failure and the proposal cannot run
    again.

    Example:

        causeway proposal execute 1 -i org3/members/admin
    """
    with _open_client(node, identity) as client:
        execution = client.proposals.execute(proposal_id)
    data = {
        "id": proposal_id,
        "status": "executed" if execution.executed else "failed",
        "height": execution.height,
        "transaction_id": execution.transaction_id.hex(),
    }
    if not execution.executed:
        data["failed_call"] = execution.failed_call
        data["failure"] = execution.failure
    if json_output:
        print_json(data)
    elif execution.executed:
        console.print(f"proposal {proposal_id} executed at height {execution.height}")
    else:
        console.print(
            f"proposal {proposal_id} failed at height {execution.height}: {execution.failure} "
            "(recorded on chain; nothing of its calls was kept)"
        )
    if not execution.executed:
        raise typer.Exit(EXIT_TRANSACTION_FAILED)


@proposal_app.command("withdraw")
def proposal_withdraw(
    *,
    proposal_id: IdArgument,
    identity: IdentityOption,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Withdraw an open proposal your organisation created (as its admin).

    It ends WITHDRAWN: no more votes, never executed, and it frees its place under the bounds
    on open proposals.

    Example:

        causeway proposal withdraw 2 -i org1/members/admin
    """
    with _open_client(node, identity) as client:
        outcome = client.proposals.withdraw(proposal_id)
    if json_output:
        print_json({"id": proposal_id, "status": "withdrawn", "height": outcome.height})
    else:
        console.print(f"proposal {proposal_id} withdrawn at height {outcome.height}")


@proposal_app.command("close")
def proposal_close(
    *,
    proposal_id: IdArgument,
    identity: IdentityOption,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """Close a proposal as rejected (any member may), once the organisations that voted no
    leave too few others to meet the governance policy (`show` says "rejectable now").

    Example:

        causeway proposal close 3 -i org3/members/admin
    """
    with _open_client(node, identity) as client:
        outcome = client.proposals.close(proposal_id)
    if json_output:
        print_json({"id": proposal_id, "status": "rejected", "height": outcome.height})
    else:
        console.print(f"proposal {proposal_id} closed as rejected at height {outcome.height}")


@proposal_app.command("list")
def proposal_list(
    *,
    identity: IdentityOption,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="open, executed, failed, expired, withdrawn or rejected (default: all).",
        ),
    ] = None,
    start_after: Annotated[
        int, typer.Option("--start-after", min=0, metavar="ID", help="List ids after this one.")
    ] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    node: NodeOption = DEFAULT_NODE,
    json_output: JsonOption = False,
) -> None:
    """List proposals by id.

    Example:

        causeway proposal list --status open -i org1/members/admin
    """
    from causeway.sdk.proposals import parse_status

    parse_status(status)  # an unknown status is refused before connecting
    with _open_client(node, identity) as client:
        proposals = client.proposals.list(status, start_after=start_after, limit=limit)
    items = [proposal_data(proposal) for proposal in proposals]
    if json_output:
        print_json(items)
        return
    console.print(
        rows_table(
            "Proposals",
            ("id", "status", "title", "votes", "deadline"),
            [
                (
                    item["id"],
                    item["status"],
                    item["title"],
                    " ".join(f"{v['organisation']}={v['vote']}" for v in item["votes"]) or "-",
                    item["deadline"],
                )
                for item in items
            ],
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(proposal_app)
