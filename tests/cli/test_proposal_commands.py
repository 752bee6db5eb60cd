"""`causeway proposal` without a node: bad input refused before any connection (the commands are
pointed at a port where nothing listens, so a refusal that names the input shows nothing was
tried), arguments made as `tx send` makes them, proposals rendered. tests/e2e/test_e2e_proposals.py
runs the commands against a devnet."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

_TESTS = Path(__file__).resolve().parent.parent
for _directory in (_TESTS / "execution", _TESTS / "sdk"):
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))

from execution_chain import build_kit, new_chain  # noqa: E402
from test_sdk_proposals import ExecutorNode, config_change  # noqa: E402
from test_sdk_proposals import admin as admin_identity  # noqa: E402

from causeway.cli import proposal_commands  # noqa: E402
from causeway.cli.main import app  # noqa: E402
from causeway.cli.proposal_commands import call_arguments, proposal_data  # noqa: E402
from causeway.contracts.v1 import contracts_pb2, proposals_pb2  # noqa: E402
from causeway.errors import RequestError  # noqa: E402
from causeway.provisioning import init_network  # noqa: E402
from causeway.sdk.proposals import Proposals  # noqa: E402
from causeway.types import encode  # noqa: E402
from causeway.types.proposal_draft import (  # noqa: E402
    DraftCall,
    ProposalDraft,
    proposal_draft_text,
)
from causeway.types.v1 import types_pb2  # noqa: E402

UNREACHABLE = ["--node", "127.0.0.1:1"]
runner = CliRunner()


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("proposal-cli") / "net"
    init_network(directory, 1, "intl", "solo")
    return directory / "organisations/org1/members/admin"


def _run(*arguments: str) -> tuple[int, str]:
    result = runner.invoke(app, [*arguments, *UNREACHABLE], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _draft(tmp_path: Path) -> Path:
    path = tmp_path / "draft.json"
    call = DraftCall("config", "update", encode(contracts_pb2.ConfigUpdateArguments()))
    path.write_text(proposal_draft_text(ProposalDraft("A title", "", (call,))))
    return path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--title", "t"], "give --calls-file F, or --contract and --method"),
        (["-c", "config", "-m", "update"], "give --title"),
        (["-c", "kv", "-m", "nothing", "--title", "t"], "unknown method kv.nothing"),
        (["-c", "code", "-m", "get", "--title", "t"], "code.get is not a governance method"),
        (
            ["-c", "config", "-m", "update", "--title", "t", "--args", '{"nope": 1}'],
            "--args do not fit ConfigUpdateArguments",
        ),
        (
            ["-c", "config", "-m", "update", "--title", "t", "--deadline-days", "0.01"],
            "must be an hour",
        ),
        (
            ["-c", "config", "-m", "update", "--title", "t", "--deadline-days", "91"],
            "90 days away",
        ),
        (["-c", "config", "-m", "update", "--title", "two\nlines"], "one line"),
    ],
)
def test_create_refuses_bad_input_before_connecting(
    admin: Path, arguments: list[str], message: str
) -> None:
    code, output = _run("proposal", "create", "-i", str(admin), *arguments)
    assert code == 1, output
    assert message in output
    assert "UNAVAILABLE" not in output


def test_create_refuses_a_malformed_draft_and_both_kinds_of_call(
    admin: Path, tmp_path: Path
) -> None:
    draft = _draft(tmp_path)
    code, output = _run(
        "proposal", "create", "-i", str(admin), "--calls-file", str(draft), "-c", "config"
    )
    assert code == 1 and "not both" in output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "title": "t", "description": "", "calls": []}))
    code, output = _run("proposal", "create", "-i", str(admin), "--calls-file", str(bad))
    assert code == 1 and "at least one call" in output
    code, output = _run(
        "proposal", "create", "-i", str(admin), "--calls-file", str(tmp_path / "absent.json")
    )
    assert code == 1 and "cannot read" in output


def test_a_good_draft_gets_as_far_as_the_node(admin: Path, tmp_path: Path) -> None:
    code, output = _run(
        "proposal", "create", "-i", str(admin), "--calls-file", str(_draft(tmp_path))
    )
    assert code == 1
    assert "UNAVAILABLE" in output or "connect" in output.lower()


def test_vote_list_and_ids_are_checked_before_connecting(admin: Path) -> None:
    code, output = _run("proposal", "vote", "1", "-i", str(admin))
    assert code == 1 and "say --yes or --no" in output
    code, output = _run("proposal", "list", "-i", str(admin), "--status", "done")
    assert code == 1 and "unknown proposal status 'done'" in output
    code, output = _run("proposal", "show", "0", "-i", str(admin))
    assert code == 2, output


def test_call_arguments_are_tx_send_s_and_code_s_protobuf_json() -> None:
    assert call_arguments("config", "update", "{}") == b""
    freeze = call_arguments("code", "freeze", '{"name": "tally"}')
    assert contracts_pb2.CodeNameArguments.FromString(freeze).name == "tally"
    deploy = call_arguments("code", "deploy", '{"name": "t", "code": "AGFzbQ=="}')
    assert contracts_pb2.CodeDeployArguments.FromString(deploy).code == b"\0asm"
    with pytest.raises(RequestError, match="must be a JSON object"):
        call_arguments("code", "freeze", "[]")


def test_a_proposal_is_rendered_with_its_calls_decoded() -> None:
    config_update = encode(
        contracts_pb2.ConfigUpdateArguments(config=types_pb2.ChainConfig(endorsements_max=4))
    )
    proposal = proposals_pb2.Proposal(
        id=3,
        title="t",
        status=proposals_pb2.PROPOSAL_STATUS_FAILED,
        calls=[
            proposals_pb2.ProposalCall(contract="config", method="update", arguments=config_update),
            proposals_pb2.ProposalCall(contract="hub", method="register", arguments=b"\x01"),
        ],
        votes=[proposals_pb2.ProposalVote(organisation="org1", yes=True, voter="org1/admin")],
        failed_call=1,
        failure="call 1 (hub.register): no",
        failure_status=types_pb2.RESULT_STATUS_NOT_FOUND,
    )
    data = proposal_data(
        proposals_pb2.ProposalsGetResult(
            proposal=proposal, counted_yes=["org1"], policy="ANY of all organisations"
        )
    )
    assert data["status"] == "failed" and data["failure_status"] == "NOT_FOUND"
    assert data["calls"][0]["arguments"]["config"]["endorsements_max"] == 4
    assert data["calls"][1]["arguments"] == base64.b64encode(b"\x01").decode()
    assert data["votes"] == [
        {"organisation": "org1", "vote": "yes", "voter": "org1/admin", "height": 0}
    ]
    assert data["policy_met"] is False and data["counted_yes"] == ["org1"]


# ---- withdraw and close, run against the executor behind the SDK's node double ----


class _ExecutorClient:
    """What the commands use of a Client: its proposals, signed by the node's identity."""

    def __init__(self, node: ExecutorNode) -> None:
        self.proposals = Proposals(node)


@pytest.fixture
def executor_node(monkeypatch: pytest.MonkeyPatch) -> ExecutorNode:
    node = ExecutorNode(new_chain(build_kit("intl")))

    @contextmanager
    def open_client(_node: str, identity: Path) -> Iterator[_ExecutorClient]:
        # The identity folder's name picks the test chain's member: org1/admin and so on.
        node.identity = admin_identity(node, f"{identity.parent.parent.name}/{identity.name}")
        yield _ExecutorClient(node)

    monkeypatch.setattr(proposal_commands, "_open_client", open_client)
    return node


def _as(member: str, *arguments: str) -> tuple[int, str]:
    organisation, name = member.split("/")
    folder = f"net/organisations/{organisation}/members/{name}"
    return _run(*arguments, "-i", folder)


def test_withdraw_ends_the_creating_organisation_s_proposal(executor_node: ExecutorNode) -> None:
    proposals = Proposals(executor_node)
    executor_node.identity = admin_identity(executor_node, "org1/admin")
    proposal_id = proposals.create("t", [config_change(5)])
    code, output = _as("org2/admin", "proposal", "withdraw", str(proposal_id))
    assert code == 3 and "only an admin of the organisation that created it" in output
    code, output = _as("org1/admin", "proposal", "withdraw", str(proposal_id), "--json")
    assert code == 0, output
    assert json.loads(output) == {"id": proposal_id, "status": "withdrawn", "height": 3}
    code, output = _as("org2/bob", "proposal", "show", str(proposal_id), "--json")
    shown = json.loads(output)
    assert shown["status"] == "withdrawn" and shown["ended_by"] == "org1/admin"
    assert shown["creator_organisation"] == "org1"
    code, output = _as("org2/bob", "proposal", "list", "--status", "withdrawn", "--json")
    assert [item["id"] for item in json.loads(output)] == [proposal_id]


def test_close_rejects_once_the_no_votes_decide(executor_node: ExecutorNode) -> None:
    proposals = Proposals(executor_node)
    executor_node.identity = admin_identity(executor_node, "org1/admin")
    proposal_id = proposals.create("t", [config_change(5)], vote_yes=True)
    code, output = _as("org2/bob", "proposal", "close", str(proposal_id))
    assert code == 3 and "cannot be closed as rejected" in output
    code, output = _as("org2/admin", "proposal", "vote", str(proposal_id), "--no")
    assert code == 0, output
    code, output = _as("org2/bob", "proposal", "show", str(proposal_id))
    assert "rejectable now" in output
    code, output = _as("org2/bob", "proposal", "close", str(proposal_id))
    assert code == 0, output
    assert f"proposal {proposal_id} closed as rejected at height" in output
    code, output = _as("org2/bob", "proposal", "show", str(proposal_id))
    assert "rejected" in output and "by org2/bob at height" in output


def test_withdraw_and_close_check_the_id_before_connecting(admin: Path) -> None:
    for command in ("withdraw", "close"):
        code, output = _run("proposal", command, "0", "-i", str(admin))
        assert code == 2, output
