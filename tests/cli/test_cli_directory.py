"""`causeway directory`: its commands and options, the shape of --json, and bad input refused
before anything is sent (the commands are pointed at a port where nothing listens: a refusal that
names the input shows that nothing was tried); then the whole path on a real node: a solo node of
a two-organisation network in its own process (as tests/cli/test_node_reload.py starts one), the
directory contract deployed on it by governance through DirectoryClient, and the catalogue and a
sharing request driven through the CLI, every record read back through it.

org1 administers the directory and acts for department MZ (the requester); org2 acts for GA
(the provider)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from causeway.apps.directory.client import DirectoryClient
from causeway.apps.directory.contract import build_contract
from causeway.apps.directory.v1 import directory_pb2 as pb
from causeway.cli.directory_commands import REQUEST_STATES, enum_word, time_text
from causeway.cli.main import app
from causeway.provisioning import (
    NodeSettings,
    init_network,
    node_directory,
    render_node_config,
)
from causeway.sdk import Client, Identity

NODE_SUPPORT = Path(__file__).resolve().parents[1] / "node"
if str(NODE_SUPPORT) not in sys.path:
    sys.path.insert(0, str(NODE_SUPPORT))

from operated_node import free_ports  # noqa: E402

runner = CliRunner()
UNREACHABLE = ["--node", "127.0.0.1:1"]
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
BLOCK_INTERVAL_MS = 50
MAP_SIZE_BYTES = 1 << 30
COMMANDS = (
    "register",
    "revise",
    "withdraw",
    "show",
    "history",
    "list",
    "request",
    "approve",
    "refuse",
    "revoke",
    "cancel",
    "escalate",
    "usage",
    "requests",
    "request-show",
    "info",
)

METADATA = """\
category = "10101"
name = "常住人口基本信息"
name_en = "Resident population"
abstract = "公安局户籍管理中产生的常住人口基本信息。"
format = "database"
sharing_type = "conditional"
sharing_conditions = "仅限政务核验"
update_cycle = "daily"
publish_date = 2024-02-29
duties = ["户籍管理"]

[[data_item]]
name = "姓名"
type = "string"
length = 50

[[distribution]]
name = "人口.csv"
format = "CSV"
url = "https://data.example.gov.cn/ga/1"
file = "population.csv"
"""


def invoke(*arguments: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(arguments))
    return result.exit_code, result.stdout, result.stderr


def member(network: Path, organisation: str, name: str) -> str:
    return str(network / "organisations" / organisation / "members" / name)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two organisations, one solo validator, its config on free loopback ports."""
    directory = tmp_path_factory.mktemp("directory-cli") / "net"
    description = init_network(directory, 2, "intl", "solo", chain_id="directory-cli")
    nodes = []
    for node in description.nodes:
        grpc_port, http_port, peer_port = free_ports(3)
        settings = NodeSettings(
            grpc_address=f"{LOOPBACK}:{grpc_port}",
            http_address=f"{LOOPBACK}:{http_port}",
            peer_address=f"{LOOPBACK}:{peer_port}",
            block_interval_ms=BLOCK_INTERVAL_MS,
            map_size_bytes=MAP_SIZE_BYTES,
        )
        nodes.append(dataclasses.replace(node, settings=settings))
    for node in nodes:
        text = render_node_config(node, nodes)
        text = text.replace("[mempool]\n", "[mempool]\nverify_processes = 1\n", 1)
        (node_directory(directory, node.name) / "config.toml").write_text(text, encoding="utf-8")
    return directory


def write_metadata(folder: Path, text: str = METADATA) -> Path:
    (folder / "population.csv").write_bytes(b"name,born\n")
    path = folder / "population.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ without a node


def test_the_group_lists_its_commands_and_each_shows_an_example() -> None:
    code, output, _ = invoke("directory", "--help")
    assert code == 0
    for command in (*COMMANDS, "category", "department"):
        assert command in output
    for command in COMMANDS:
        code, output, _ = invoke("directory", command, "--help")
        assert code == 0 and "Example" in output and f"causeway directory {command}" in output
    for group in ("category", "department"):
        code, output, _ = invoke("directory", group, "set", "--help")
        assert code == 0 and f"causeway directory {group} set" in output


def test_bad_input_is_refused_before_anything_is_sent(network: Path, tmp_path: Path) -> None:
    client = ["-i", member(network, "org2", "client"), *UNREACHABLE]
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("name = [", encoding="utf-8")
    unknown_key = write_metadata(tmp_path, 'colour = "red"\n' + METADATA)
    cases: list[tuple[list[str], str]] = [
        (["register", str(tmp_path / "missing.toml")], "missing.toml: cannot read it"),
        (["register", str(bad_toml)], "not valid TOML"),
        (["register", str(unknown_key)], "population.toml: colour: no such key"),
        (["revise", "GA-1", str(unknown_key), "--version", "1"], "resource code 'GA-1'"),
        (["show", "10101-ga-000001"], "is not one (e.g. 10101-GA-000001)"),
        (["history", "x"], "resource code 'x'"),
        (["withdraw", "1-GA-000001", "--version", "1", "--reason", "r"], "resource code"),
        (["request", "10101-GA-1", "--purpose", "p"], "resource code"),
        (["approve", "R1"], "request id 'R1'"),
        (["refuse", "1", "--reason", "r"], "request id"),
        (["revoke", "R00000000011", "--reason", "r"], "request id"),
        (["cancel", "x"], "request id"),
        (["escalate", "x"], "request id"),
        (["request-show", "x"], "request id"),
        (["usage", "R0000000001", "--purpose", "p", "--digest-of", "gone.csv"], "gone.csv"),
        (["category", "set", "1a", "名"], "category code '1a'"),
        (["department", "set", "ga", "org2", "公安局"], "department code 'ga'"),
        (["show", "10101-GA-000001", "--contract", ""], "--contract must name"),
    ]
    for arguments, says in cases:
        code, output, error = invoke("directory", *arguments, *client)
        assert code == 1, (arguments, output, error)
        assert error.count("\n") == 1 and says in error, (arguments, error)
        assert "node answered" not in error and "UNAVAILABLE" not in error
    # Who signs is asked for before connecting.
    code, _, error = invoke("directory", "info", *UNREACHABLE)
    assert code == 1 and "give --identity MEMBER_DIR" in error
    code, _, error = invoke("directory", "info", "--chain", "city", *client)
    assert code == 1 and "--chain city names a chain of a devnet" in error
    # Usage mistakes are exit status 2.
    code, _, error = invoke("directory", "usage", "R0000000001", "--records", "-1", *client)
    assert code == 2 and "--records" in error
    code, _, error = invoke("directory", "withdraw", "10101-GA-000001", "--version", "1", *client)
    assert code == 2 and "--reason" in error
    code, _, error = invoke("directory", "requests", "--state", "overdue", *client)
    assert code == 2 and "'overdue' is not one of pending" in error


def test_an_unreachable_node_is_one_line(network: Path) -> None:
    arguments = ["-i", member(network, "org1", "client"), *UNREACHABLE]
    code, _, error = invoke("directory", "info", *arguments)
    assert code == 1 and error.count("\n") == 1 and error.startswith("error: ")


def test_enums_read_as_words_and_times_in_utc() -> None:
    metadata = pb.ResourceMetadata(
        sharing_type=pb.SHARING_TYPE_NOT_SHARED, update_cycle=pb.UPDATE_CYCLE_REAL_TIME
    )
    assert enum_word(metadata, "sharing_type") == "not-shared"
    assert enum_word(metadata, "update_cycle") == "real-time"
    assert enum_word(metadata, "openness") == "unspecified"
    request = pb.SharingRequest(state=pb.REQUEST_STATE_CONDITIONALLY_APPROVED)
    assert enum_word(request, "state") == "conditionally-approved"
    assert time_text(0) == "-"
    assert time_text(1_767_225_600_000) == "2026-01-01T00:00:00Z"
    # --state takes what the listing prints.
    assert (
        tuple(
            enum_word(pb.SharingRequest(state=value), "state")
            for value in pb.RequestState.values()
            if value != pb.REQUEST_STATE_UNSPECIFIED
        )
        == REQUEST_STATES
    )


# ------------------------------------------------------------------------------ on a real node


@contextlib.contextmanager
def node_process(home: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`causeway node start` for `home`, stopped (SIGTERM, then SIGKILL) whatever happens."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "causeway.cli", "node", "start", "--home", str(home)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(http_address: str, log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://{http_address}/healthz").status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the node did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@dataclasses.dataclass(frozen=True)
class Running:
    network: Path
    address: str

    def run(self, organisation: str, name: str, *arguments: str) -> tuple[int, str, str]:
        return invoke(
            "directory",
            *arguments,
            "-i",
            member(self.network, organisation, name),
            "--node",
            self.address,
        )

    def json(self, organisation: str, name: str, *arguments: str) -> Any:
        code, output, error = self.run(organisation, name, *arguments, "--json")
        assert code == 0, (arguments, error)
        return json.loads(output)


@pytest.fixture(scope="module")
def running(network: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The node serving, with the directory contract deployed (org1 administers)."""
    home = node_directory(network, "node1")
    config = (home / "config.toml").read_text()
    grpc_address = config.split('grpc_address = "', 1)[1].split('"', 1)[0]
    http_address = config.split('http_address = "', 1)[1].split('"', 1)[0]
    log = tmp_path_factory.mktemp("directory-node") / "node.log"
    module, interface = build_contract()
    with node_process(home, log) as process:
        wait_until_serving(http_address, log, process)
        admin = Identity.load(member(network, "org1", "admin"))
        endorser = Identity.load(member(network, "org2", "admin"))
        with Client(grpc_address, admin) as client:
            record = DirectoryClient(client).deploy(
                module.read_bytes(),
                interface.read_text(encoding="utf-8"),
                pb.DirectoryInitArguments(
                    directory_id="beijing",
                    level=pb.DIRECTORY_LEVEL_CITY,
                    name="北京市政务信息资源目录",
                    administrator_organisations=["org1"],
                ),
                endorsers=[endorser],
            )
        assert record.name == "directory"
        yield Running(network, grpc_address)


def test_register_show_history_request_approve_through_the_cli(
    running: Running, tmp_path: Path
) -> None:
    # The administrators' scheme and departments.
    for category_code, name in (("1", "基础信息资源"), ("101", "人口信息")):
        assert running.run("org1", "admin", "category", "set", category_code, name)[0] == 0
    category = running.json(
        "org1", "admin", "category", "set", "10101", "户籍人口", "--name-en", "Residents"
    )
    assert category == {
        "code": "10101",
        "name": "户籍人口",
        "name_en": "Residents",
        "level": 3,
        "parent_code": "101",
    }
    department = running.json(
        "org1", "admin", "department", "set", "GA", "org2", "公安局", "--duty", "户籍管理"
    )
    assert (department["organisation"], department["duties"]) == ("org2", ["户籍管理"])
    code, output, _ = running.run("org1", "admin", "department", "set", "MZ", "org1", "民政局")
    assert code == 0 and "Department MZ" in output

    # The provider registers from a file, and revises.
    registered = running.json("org2", "client", "register", str(write_metadata(tmp_path)))
    resource = registered["code"]
    assert (resource, registered["version"], registered["status"]) == (
        "10101-GA-000001",
        1,
        "RESOURCE_STATUS_ACTIVE",
    )
    distribution = registered["metadata"]["distributions"][0]
    assert distribution["hash"] == hashlib.sha256(b"name,born\n").hexdigest()
    assert (distribution["hash_algorithm"], distribution["byte_size"]) == ("SHA-256", 10)
    assert registered["metadata"]["sharing_type"] == "SHARING_TYPE_CONDITIONAL"
    assert registered["author"] == "org2/client" and len(registered["transaction_id"]) == 64
    code, output, _ = running.run("org1", "client", "show", resource)
    assert code == 0 and resource in output and "常住人口基本信息" in output
    assert "conditional" in output and "SHA-256" in output
    revised_file = write_metadata(tmp_path, METADATA.replace("daily", "weekly"))
    revised = running.json(
        "org2", "client", "revise", resource, str(revised_file), "--version", "1", "--note", "周更"
    )
    assert (revised["version"], revised["reason"]) == (2, "周更")
    first = running.json("org1", "client", "show", resource, "--version", "1")
    assert first == registered
    history = running.json("org1", "client", "history", resource)
    assert [entry["version"] for entry in history["versions"]] == [1, 2]
    assert history["versions"][0] == registered
    code, output, _ = running.run("org1", "client", "history", resource)
    assert code == 0 and "周更" in output
    listed = running.json("org1", "client", "list")
    assert listed == {
        "resources": [
            {
                "code": resource,
                "latest_version": 2,
                "status": "RESOURCE_STATUS_ACTIVE",
                "provider_code": "GA",
            }
        ]
    }

    # The requester asks; the provider approves on terms; the requester records a use.
    created = running.json(
        "org1", "client", "request", resource, "--purpose", "婚姻登记核验", "--data-item", "姓名"
    )
    request_id = created["id"]
    assert (request_id, created["state"], created["data_items"]) == (
        "R0000000001",
        "REQUEST_STATE_PENDING",
        ["姓名"],
    )
    # A conditionally shared resource is approved with terms only: the contract says so, exit 3.
    code, _, error = running.run("org2", "client", "approve", request_id)
    assert code == 3 and error.count("\n") == 1
    assert "directory.approve failed (CONTRACT_REVERTED)" in error and "with terms" in error
    approved = running.json("org2", "client", "approve", request_id, "--terms", "仅用于核验")
    assert (approved["state"], approved["terms"]) == (
        "REQUEST_STATE_CONDITIONALLY_APPROVED",
        "仅用于核验",
    )
    received = tmp_path / "received.csv"
    received.write_bytes(b"received")
    receipt = running.json(
        "org1",
        "client",
        "usage",
        request_id,
        "--purpose",
        "核验",
        "--records",
        "5",
        "--digest-of",
        str(received),
    )
    assert (receipt["sequence"], receipt["records"], receipt["digest"]) == (
        1,
        5,
        hashlib.sha256(b"received").hexdigest(),
    )
    shown = running.json("org1", "client", "request-show", request_id)
    assert shown["receipts"] == 1 and shown["usage_receipts"] == [receipt]
    code, output, _ = running.run("org1", "client", "request-show", request_id)
    assert code == 0 and "conditionally-approved" in output and "Usage receipts" in output
    assert [entry["id"] for entry in running.json("org1", "client", "requests")["requests"]] == [
        request_id
    ]
    info = running.json("org1", "client", "info")
    assert (info["resources"], info["requests"]) == (1, 1)
    assert info["settings"]["administrator_organisations"] == ["org1"]

    # Further transitions, and the contract's refusals as one line with exit status 3.
    code, _, error = running.run("org2", "client", "refuse", request_id, "--reason", "迟了")
    assert code == 3 and "is CONDITIONALLY_APPROVED, not PENDING or ESCALATED" in error
    revoked = running.json("org2", "client", "revoke", request_id, "--reason", "用途超出范围")
    assert revoked["state"] == "REQUEST_STATE_REVOKED"
    second = running.json("org1", "client", "request", resource, "--purpose", "统计")["id"]
    assert running.json("org1", "client", "cancel", second)["state"] == "REQUEST_STATE_CANCELLED"
    third = running.json("org1", "client", "request", resource, "--purpose", "再次")["id"]
    refused = running.json("org2", "client", "refuse", third, "--reason", "已有渠道")
    assert (refused["state"], refused["reason"]) == ("REQUEST_STATE_REFUSED", "已有渠道")
    fourth = running.json("org1", "client", "request", resource, "--purpose", "迟迟")["id"]
    code, _, error = running.run("org1", "client", "escalate", fourth)
    assert code == 3 and "may be answered until" in error

    def listed(*options: str) -> list[str]:
        found = running.json("org1", "admin", "requests", *options)["requests"]
        return [entry["id"] for entry in found]

    assert listed("--state", "refused") == [third]
    assert listed("--state", "pending") == [fourth]
    assert listed("--state", "escalated") == []
    assert listed() == [request_id, second, third, fourth]
    withdrawn = running.json(
        "org2", "client", "withdraw", resource, "--version", "2", "--reason", "停用"
    )
    assert (withdrawn["version"], withdrawn["status"]) == (3, "RESOURCE_STATUS_WITHDRAWN")
    code, _, error = running.run("org1", "client", "show", "10101-GA-000099")
    assert code == 3 and 'resource "10101-GA-000099" does not exist' in error
