"""User contracts through the SDK (blocking and asyncio) and the CLI against one real node (two
organisations, governance MAJORITY: a change needs org1's and org2's admins): deploy with and
without enough endorsements, calls and queries through the interface with their events decoded,
a revert's message, freeze, unfreeze, upgrade (version 2, state kept), revoke, list and show,
`tx send` and `query` encoding --args through the interface, and bad arguments refused before
anything is sent. Each test deploys under names of its own, so they share the node in any order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from node_harness import NodeProcess
from tally_contract import REVERT_MESSAGE, tally_interface, tally_wasm, write_tally
from typer.testing import CliRunner, Result

from causeway.cli.main import app
from causeway.errors import NotFoundError, RequestError, TransactionFailedError
from causeway.provisioning import member_directory
from causeway.sdk import AsyncClient, Client, Identity

pytestmark = pytest.mark.e2e

ADMIN = "org1/admin"
ENDORSER = "org2/admin"
CLIENT = "org1/client"
OTHER_CLIENT = "org2/client"
RUNNER = CliRunner()


def _member(node: NodeProcess, member_id: str) -> Path:
    return member_directory(node.network.directory, member_id)


def _identity(node: NodeProcess, member_id: str) -> Identity:
    return node.network.identity(member_id)


@pytest.fixture
def admin(shared_node: NodeProcess) -> Iterator[Client]:
    with shared_node.client(_identity(shared_node, ADMIN)) as client:
        yield client


@pytest.fixture
def user(shared_node: NodeProcess) -> Iterator[Client]:
    with shared_node.client(_identity(shared_node, CLIENT)) as client:
        yield client


def _deploy(node: NodeProcess, admin: Client, name: str, start: int = 0) -> None:
    change = admin.contracts.deploy(
        name,
        tally_wasm(),
        tally_interface(),
        init_arguments={"start": start},
        endorsers=[_identity(node, ENDORSER)],
    )
    assert change.contract.version == 1 and change.contract.status == "active"


def cli(node: NodeProcess, *arguments: str) -> Result:
    return RUNNER.invoke(
        app,
        list(arguments),
        env={
            "CAUSEWAY_NODE": node.grpc_address,
            "CAUSEWAY_IDENTITY": None,
            "CAUSEWAY_DEBUG": None,
            "COLUMNS": "200",
        },
    )


def _one_error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    return lines[0]


def _line(pattern: str, stdout: str) -> re.Match[str]:
    text = "\n".join(line.rstrip() for line in stdout.splitlines())
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{stdout}"
    return found


# ---------------------------------------------------------------------------------------- SDK


def test_a_deployment_without_the_policy_is_refused_and_stores_nothing(
    shared_node: NodeProcess, admin: Client
) -> None:
    with pytest.raises(TransactionFailedError) as refused:
        admin.contracts.deploy("tally-unendorsed", tally_wasm(), tally_interface())
    assert "ENDORSEMENT_POLICY_NOT_SATISFIED" in refused.value.message
    assert "code.deploy needs endorsements" in refused.value.message
    with pytest.raises(NotFoundError, match="tally-unendorsed"):
        admin.contracts.get_contract("tally-unendorsed")


def test_calls_and_queries_go_through_the_interface_and_events_are_decoded(
    shared_node: NodeProcess, admin: Client, user: Client
) -> None:
    _deploy(shared_node, admin, "tally-calls", start=10)
    tally = user.contracts.contract("tally-calls")
    added = tally.call(None, "add", amount=300)
    assert added.values == {"total": 310} and added["total"] == 310
    assert added.height >= 1 and len(added.transaction_id) == 32
    (event,) = added.events
    assert (event.contract, event.name) == ("tally-calls", "added")
    assert event.values == {"by": CLIENT, "amount": 300, "total": 310}
    assert tally.decode_event(added.result.events[0]) == event
    # Signed by another member than the client's own.
    other = tally.call(_identity(shared_node, OTHER_CLIENT), "add", amount=1)
    assert other.events[0].values == {"by": OTHER_CLIENT, "amount": 1, "total": 311}
    total = tally.query("total")
    assert total.values == {"total": 311} and total.height == 0 and total.events == ()
    echoed = {"text": "héllo", "flag": True, "blob": b"\x00\xff", "offset": -5}
    assert tally.call(None, "echo", **echoed).values == echoed
    assert tally.query("echo", text="x").values == {
        "text": "x",
        "flag": False,
        "blob": b"",
        "offset": 0,
    }


def test_a_revert_raises_with_the_contract_message(
    shared_node: NodeProcess, admin: Client, user: Client
) -> None:
    _deploy(shared_node, admin, "tally-revert")
    tally = user.contracts.contract("tally-revert")
    with pytest.raises(TransactionFailedError) as reverted:
        tally.call(None, "fail")
    assert "CONTRACT_REVERTED" in reverted.value.message
    assert REVERT_MESSAGE in reverted.value.message
    with pytest.raises(TransactionFailedError, match=REVERT_MESSAGE):
        tally.query("fail")


def test_bad_calls_are_refused_before_anything_is_sent(
    shared_node: NodeProcess, admin: Client, user: Client
) -> None:
    _deploy(shared_node, admin, "tally-refusals", start=4)
    tally = user.contracts.contract("tally-refusals")
    with pytest.raises(RequestError, match=r"no method 'subtract'.*add, echo, fail, total"):
        tally.call(None, "subtract", amount=1)
    with pytest.raises(RequestError, match="unknown fields: amout"):
        tally.call(None, "add", amout=1)
    with pytest.raises(RequestError, match="field amount must be an integer, not 'five'"):
        tally.call(None, "add", amount="five")
    with pytest.raises(RequestError, match="runs only at deployment or upgrade"):
        tally.call(None, "init", start=1)
    assert tally.query("total").values == {"total": 4}


def test_freeze_unfreeze_upgrade_and_revoke(
    shared_node: NodeProcess, admin: Client, user: Client
) -> None:
    endorsers = [_identity(shared_node, ENDORSER)]
    _deploy(shared_node, admin, "tally-life", start=1)
    tally = user.contracts.contract("tally-life")
    tally.call(None, "add", amount=2)
    frozen = admin.contracts.freeze("tally-life", endorsers=endorsers)
    assert frozen.contract.status == "frozen" and frozen.height >= 1
    with pytest.raises(TransactionFailedError, match="CONTRACT_FROZEN"):
        tally.call(None, "add", amount=1)
    assert admin.contracts.unfreeze("tally-life", endorsers=endorsers).contract.status == "active"
    assert tally.call(None, "add", amount=1)["total"] == 4
    upgraded = admin.contracts.upgrade(
        "tally-life",
        tally_wasm(2),
        tally_interface(2),
        migrate_arguments={"bonus": 100},
        endorsers=endorsers,
    )
    assert upgraded.contract.version == 2
    assert "version" in upgraded.contract.interface.methods
    second = user.contracts.contract("tally-life")
    assert second.query("version")["version"] == 2
    assert second.query("total")["total"] == 104  # the state stayed, and migrate ran
    revoked = admin.contracts.revoke("tally-life", endorsers=endorsers)
    assert revoked.contract.status == "revoked"
    with pytest.raises(TransactionFailedError, match="CONTRACT_REVOKED"):
        second.call(None, "add", amount=1)
    with pytest.raises(TransactionFailedError, match="upgrade needs endorsements"):
        admin.contracts.upgrade("tally-life", tally_wasm(2), tally_interface(2))


def test_records_are_read_with_proofs_and_listed_in_pages(
    shared_node: NodeProcess, admin: Client, user: Client
) -> None:
    for name in ("tally-list-a", "tally-list-b"):
        _deploy(shared_node, admin, name)
    with shared_node.client() as anonymous:
        info = anonymous.contracts.get_contract("tally-list-a")
    assert info.name == "tally-list-a" and info.version == 1 and info.status == "active"
    assert len(info.code_hash) == 32
    assert set(info.interface.methods) == {"init", "add", "total", "fail", "echo"}
    names = [found.name for found in user.contracts.list_contracts()]
    assert names == sorted(names) and {"tally-list-a", "tally-list-b"} <= set(names)
    (first,) = user.contracts.list_contracts(start_after="tally-list-", limit=1)
    assert first.name == "tally-list-a"
    after = user.contracts.list_contracts(start_after="tally-list-a", limit=1)
    assert [found.name for found in after] == ["tally-list-b"]


async def test_the_asyncio_client_does_the_same(shared_node: NodeProcess) -> None:
    endorsers = [_identity(shared_node, ENDORSER)]
    address = shared_node.grpc_address
    async with AsyncClient(address, _identity(shared_node, ADMIN)) as admin:
        change = await admin.contracts.deploy(
            "tally-async",
            tally_wasm(),
            tally_interface(),
            init_arguments={"start": 7},
            endorsers=endorsers,
        )
        assert change.contract.name == "tally-async"
        tally = await admin.contracts.contract("tally-async")
        added = await tally.call(None, "add", amount=3)
        assert added["total"] == 10
        assert added.events[0].values == {"by": ADMIN, "amount": 3, "total": 10}
        assert (await tally.query("total"))["total"] == 10
        with pytest.raises(TransactionFailedError, match=REVERT_MESSAGE):
            await tally.call(None, "fail")
        with pytest.raises(RequestError, match="unknown fields: amout"):
            await tally.call(None, "add", amout=1)
        frozen = await admin.contracts.freeze("tally-async", endorsers=endorsers)
        assert frozen.contract.status == "frozen"
        assert (await admin.contracts.get_contract("tally-async")).status == "frozen"
        listed = await admin.contracts.list_contracts(start_after="tally-async", limit=1)
        assert all(found.name > "tally-async" for found in listed)


# ---------------------------------------------------------------------------------------- CLI


def _governance_options(node: NodeProcess) -> list[str]:
    return ["-i", str(_member(node, ADMIN)), "-e", str(_member(node, ENDORSER))]


def _client_option(node: NodeProcess) -> list[str]:
    return ["-i", str(_member(node, CLIENT))]


def test_cli_deploy_needs_the_endorsements(shared_node: NodeProcess, tmp_path: Path) -> None:
    wasm = write_tally(tmp_path / "build")
    result = cli(
        shared_node,
        "contract",
        "deploy",
        str(wasm),
        "--name",
        "tally-cli-unendorsed",
        "-i",
        str(_member(shared_node, ADMIN)),
    )
    assert result.exit_code == 3, result.output
    line = _one_error_line(result)
    assert "ENDORSEMENT_POLICY_NOT_SATISFIED" in line and "--endorser" in line
    shown = cli(shared_node, "contract", "show", "tally-cli-unendorsed")
    assert shown.exit_code == 1
    assert "no user contract 'tally-cli-unendorsed'" in _one_error_line(shown)


def test_cli_deploy_call_query_and_show(shared_node: NodeProcess, tmp_path: Path) -> None:
    wasm = write_tally(tmp_path / "build")
    deployed = cli(
        shared_node,
        "contract",
        "deploy",
        str(wasm),
        "--name",
        "tally-cli",
        *_governance_options(shared_node),
        "--init-args",
        '{"start": 10}',
    )
    assert deployed.exit_code == 0, deployed.output
    _line(r"^Deployed tally-cli at height \d+$", deployed.stdout)
    _line(r"^version\s+1$", deployed.stdout)
    _line(r"^status\s+active$", deployed.stdout)

    sent = cli(
        shared_node,
        "tx",
        "send",
        *_client_option(shared_node),
        "-c",
        "tally-cli",
        "-m",
        "add",
        "--args",
        '{"amount": 5}',
    )
    assert sent.exit_code == 0, sent.output
    _line(r"^status\s+OK$", sent.stdout)
    _line(r'^return value\s+\{"total": 15\}$', sent.stdout)
    _line(r"^event\s+tally-cli\.added by=org1/client amount=5 total=15$", sent.stdout)

    as_json = cli(
        shared_node,
        "tx",
        "send",
        "--json",
        *_client_option(shared_node),
        "-c",
        "tally-cli",
        "-m",
        "echo",
        "--args",
        '{"text": "hi", "flag": true, "blob": {"hex": "00ff"}, "offset": -3}',
    )
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["status"] == "OK" and document["committed"] is True
    assert document["return_value"] == {"text": "hi", "flag": True, "blob": "00ff", "offset": -3}

    added = cli(
        shared_node,
        "tx",
        "send",
        "--json",
        *_client_option(shared_node),
        "-c",
        "tally-cli",
        "-m",
        "add",
        "--args",
        '{"amount": 1}',
    )
    (event,) = json.loads(added.stdout)["events"]
    assert event["values"] == {"by": CLIENT, "amount": 1, "total": 16}
    assert (event["contract"], event["name"], event["attributes"]) == ("tally-cli", "added", {})

    queried = cli(
        shared_node, "query", *_client_option(shared_node), "-c", "tally-cli", "-m", "total"
    )
    assert queried.exit_code == 0, queried.output
    _line(r'^return value\s+\{"total": 16\}$', queried.stdout)
    queried_json = cli(
        shared_node,
        "query",
        "--json",
        *_client_option(shared_node),
        "-c",
        "tally-cli",
        "-m",
        "total",
    )
    assert json.loads(queried_json.stdout)["return_value"] == {"total": 16}

    shown = cli(shared_node, "contract", "show", "tally-cli")
    assert shown.exit_code == 0, shown.output
    _line(r"^Contract tally-cli$", shown.stdout)
    _line(r"^code hash\s+[0-9a-f]{64}$", shown.stdout)
    _line(r"add\(amount: uint64\) -> \(total: uint64\)\s+│ transaction", shown.stdout)
    _line(r"total\(\) -> \(total: uint64\)\s+│ read-only", shown.stdout)
    _line(r"init\(start: uint64\)\s+│ at deployment", shown.stdout)
    _line(r"added\s+│ by: string, amount: uint64, total: uint64", shown.stdout)
    shown_json = json.loads(cli(shared_node, "contract", "show", "tally-cli", "--json").stdout)
    assert shown_json["name"] == "tally-cli" and shown_json["version"] == 1
    assert shown_json["status"] == "active" and len(shown_json["code_hash"]) == 64
    add = next(method for method in shown_json["methods"] if method["name"] == "add")
    assert add["arguments"] == [{"name": "amount", "type": "uint64"}]
    assert add["returns"] == [{"name": "total", "type": "uint64"}]
    assert shown_json["events"][0]["name"] == "added"
    assert shown_json["deployed_height"] <= shown_json["changed_height"]

    listed = cli(shared_node, "contract", "list", *_client_option(shared_node))
    assert listed.exit_code == 0, listed.output
    _line(r"tally-cli\s+│ 1\s+│ active\s+│ [0-9a-f]{64}", listed.stdout)
    listed_json = json.loads(
        cli(shared_node, "contract", "list", "--json", *_client_option(shared_node)).stdout
    )
    assert "tally-cli" in [item["name"] for item in listed_json["contracts"]]


def _total(node: NodeProcess, name: str) -> Any:
    result = cli(node, "query", "--json", *_client_option(node), "-c", name, "-m", "total")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["return_value"]["total"]


@pytest.mark.parametrize(
    ("method", "args", "says"),
    [
        ("add", '{"amout": 1}', "tally-cli-bad.add has no argument 'amout' in its interface"),
        ("add", '{"amount": "five"}', "field amount must be an integer, not 'five'"),
        ("add", '{"amount": -1}', "field amount must be 0 to 18446744073709551615, not -1"),
        ("add", '{"amount": 1.5}', "field amount must be an integer, not 1.5"),
        ("add", "[1]", "--args for tally-cli-bad.add must be a JSON object"),
        ("echo", '{"flag": "yes"}', "field flag must be true or false, not 'yes'"),
        ("echo", '{"blob": {"hex": "zz"}}', "'zz' is not hex"),
        ("echo", '{"blob": "@@"}', "'@@' is not base64"),
        ("subtract", "{}", "contract tally-cli-bad has no method 'subtract'"),
        ("init", '{"start": 1}', "tally-cli-bad.init runs only at deployment or upgrade"),
    ],
)
def test_cli_bad_arguments_are_refused_before_sending(
    shared_node: NodeProcess, admin: Client, method: str, args: str, says: str
) -> None:
    try:
        admin.contracts.get_contract("tally-cli-bad")
    except NotFoundError:
        _deploy(shared_node, admin, "tally-cli-bad", start=3)
    for command in ("tx", "query"):
        prefix = ["tx", "send"] if command == "tx" else ["query"]
        result = cli(
            shared_node,
            *prefix,
            *_client_option(shared_node),
            "-c",
            "tally-cli-bad",
            "-m",
            method,
            "--args",
            args,
        )
        assert result.exit_code == 1, result.output
        assert says in _one_error_line(result)
        assert result.stdout == ""  # no transaction id: nothing was signed or sent
    assert _total(shared_node, "tally-cli-bad") == 3


def test_cli_an_unknown_contract_is_named(shared_node: NodeProcess) -> None:
    result = cli(
        shared_node, "tx", "send", *_client_option(shared_node), "-c", "nobody", "-m", "put"
    )
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "unknown contract 'nobody'" in line and "kv, ledger" in line


def test_cli_lifecycle(shared_node: NodeProcess, tmp_path: Path) -> None:
    governance = _governance_options(shared_node)
    first = write_tally(tmp_path / "v1" / "build")
    deployed = cli(
        shared_node, "contract", "deploy", str(first), "--name", "tally-cli-life", *governance
    )
    assert deployed.exit_code == 0, deployed.output

    frozen = cli(shared_node, "contract", "freeze", "tally-cli-life", *governance, "--json")
    assert frozen.exit_code == 0, frozen.output
    assert json.loads(frozen.stdout)["contract"]["status"] == "frozen"
    refused = cli(
        shared_node,
        "tx",
        "send",
        *_client_option(shared_node),
        "-c",
        "tally-cli-life",
        "-m",
        "add",
        "--args",
        '{"amount": 1}',
    )
    assert refused.exit_code == 3, refused.output
    _line(r"^status\s+CONTRACT_FROZEN$", refused.stdout)
    unfrozen = cli(shared_node, "contract", "unfreeze", "tally-cli-life", *governance)
    assert unfrozen.exit_code == 0, unfrozen.output
    _line(r"^status\s+active$", unfrozen.stdout)

    reverted = cli(
        shared_node,
        "tx",
        "send",
        *_client_option(shared_node),
        "-c",
        "tally-cli-life",
        "-m",
        "fail",
    )
    assert reverted.exit_code == 3, reverted.output
    _line(r"^status\s+CONTRACT_REVERTED$", reverted.stdout)
    _line(rf"^error\s+tally-cli-life\.fail: {REVERT_MESSAGE}$", reverted.stdout)

    # Version 2 in a project's layout: the interface found as build/STEM.interface.json.
    project = tmp_path / "v2"
    write_tally(project / "build", version=2)
    (project / "tally.wasm").write_bytes((project / "build" / "tally.wasm").read_bytes())
    upgraded = cli(
        shared_node,
        "contract",
        "upgrade",
        str(project / "tally.wasm"),
        "--name",
        "tally-cli-life",
        *governance,
        "--migrate-args",
        '{"bonus": 50}',
        "--json",
    )
    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(upgraded.stdout)["contract"]["version"] == 2
    assert _total(shared_node, "tally-cli-life") == 50
    version = cli(
        shared_node, "query", *_client_option(shared_node), "-c", "tally-cli-life", "-m", "version"
    )
    _line(r'^return value\s+\{"version": 2\}$', version.stdout)

    revoked = cli(shared_node, "contract", "revoke", "tally-cli-life", *governance)
    assert revoked.exit_code == 0, revoked.output
    _line(r"^status\s+revoked$", revoked.stdout)
    again = cli(shared_node, "contract", "unfreeze", "tally-cli-life", *governance)
    assert again.exit_code == 3
    assert "revoked: it cannot be unfrozen" in _one_error_line(again)


def test_cli_native_contracts_are_unchanged(shared_node: NodeProcess) -> None:
    result = cli(
        shared_node,
        "tx",
        "send",
        "--json",
        *_client_option(shared_node),
        "-c",
        "kv",
        "-m",
        "put",
        "--args",
        '{"key": "contracts-colour", "value": "blue"}',
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "OK" and document["return_value"] is None
    assert all("values" not in event for event in document["events"])
    got = cli(
        shared_node,
        "query",
        "--json",
        *_client_option(shared_node),
        "-c",
        "kv",
        "-m",
        "get",
        "--args",
        '{"key": "contracts-colour"}',
    )
    assert json.loads(got.stdout)["return_value"] == {"found": True, "value": "626c7565"}
