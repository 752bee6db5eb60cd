"""The interchain commands without a node: every bad input is one line on stderr naming what is
wrong, with exit status 2 (a usage mistake typer catches) or 1, before anything is sent; and the
records render as the tables and JSON show them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.interchain_commands import client_data, packet_data, received_data, sent_data
from causeway.cli.main import app
from causeway.interchain.transfer import TRANSFER_MEMO_BYTES_MAX
from causeway.interchain.v1 import interchain_pb2
from causeway.provisioning.interchain_devnet import provision_devnet
from causeway.provisioning.manifest import load_manifest
from causeway.types import encode

runner = CliRunner()

TWO_CHAINS = """\
port_base = 9400

[[chains]]
id = "alpha"
consensus = "solo"
crypto = "intl"

[[chains]]
id = "beta"
consensus = "solo"
crypto = "gm"
"""
# Nothing listens here: a command that got as far as connecting would fail on it, not hang.
NOWHERE = "127.0.0.1:1"
SEND = ["transfer", "send", "--to-chain", "beta", "--receiver", "org1/client", "--denom", "stake"]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A devnet's folder with its network.json; no node runs."""
    root = tmp_path_factory.mktemp("interchain-cli")
    manifest = root / "two.toml"
    manifest.write_text(TWO_CHAINS, encoding="utf-8")
    directory = root / "devnet"
    provision_devnet(load_manifest(manifest), TWO_CHAINS, directory, now_ms=1)
    return directory


def error_line(arguments: list[str], code: int = 1) -> str:
    result = runner.invoke(app, arguments)
    assert result.exit_code == code, (result.output, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# ---- usage mistakes (exit 2) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ([*SEND, "--amount", "0"], "--amount"),
        ([*SEND, "--amount", "ten"], "--amount"),
        ([*SEND, "--amount", "1", "--timeout-after-s", "0"], "--timeout-after-s"),
        (
            [*SEND, "--amount", "1", "--timeout-after-s", str(30 * 24 * 3600 + 1)],
            "--timeout-after-s",
        ),
        (["transfer", "send", "--receiver", "r", "--denom", "d", "--amount", "1"], "--to-chain"),
        (["packet", "status", "--client", "client-0", "--sequence", "0"], "--sequence"),
        (["packet", "status", "--client", "client-0"], "--sequence"),
        (["packet", "list", "--client", "client-0", "--side", "both"], "--side"),
        (["packet", "list", "--client", "client-0", "--limit", "1001"], "--limit"),
        (["bank", "issue", "--account", "a", "--denom", "d", "--amount", "0"], "--amount"),
        (["interchain", "client", "create", "--trusting-period-s", "0"], "--trusting-period-s"),
        (
            ["interchain", "client", "create", "--trusting-period-s", str(365 * 24 * 3600 + 1)],
            "--trusting-period-s",
        ),
        (["interchain", "client", "create", "--clock-drift-s", "3601"], "--clock-drift-s"),
        (["interchain", "client", "create", "--of-node", "127.0.0.1:99999"], "--of-node"),
        (["interchain", "client", "update"], "CLIENT_ID"),
        (["hub", "register", "--client", "client-0", "--member-node", "nowhere"], "--member-node"),
        (["hub", "members", "--node", "127.0.0.1"], "--node"),
    ],
)
def test_usage_mistakes_exit_2_naming_the_option(arguments: list[str], fragment: str) -> None:
    assert fragment in error_line(arguments, 2)


def test_the_limits_themselves_are_accepted_by_the_parser() -> None:
    # One past each limit is a usage mistake above; the limit gets as far as the devnet check.
    for arguments in (
        [*SEND, "--amount", "1", "--timeout-after-s", str(30 * 24 * 3600), "--chain", "x"],
        ["interchain", "client", "create", "--clock-drift-s", "3600", "--chain", "x", "--of", "y"],
        ["packet", "list", "--client", "client-0", "--limit", "1000", "--chain", "x"],
    ):
        assert "names a chain of a devnet" in error_line(arguments, 1)


# ---- refusals before anything is sent (exit 1) -------------------------------------------------


def test_a_memo_at_the_limit_passes_the_check_and_one_byte_more_is_refused() -> None:
    at_limit = [*SEND, "--amount", "1", "--memo", "m" * TRANSFER_MEMO_BYTES_MAX, "--node", NOWHERE]
    assert "is signed" in error_line(at_limit)
    line = error_line([*SEND, "--amount", "1", "--memo", "m" * (TRANSFER_MEMO_BYTES_MAX + 1)])
    assert f"--memo is {TRANSFER_MEMO_BYTES_MAX + 1} bytes, above the limit" in line


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (
            [
                "transfer",
                "send",
                "--to-chain",
                "beta",
                "--receiver",
                "r",
                "--denom",
                " ",
                "--amount",
                "1",
            ],
            "--denom is empty",
        ),
        (
            [
                "transfer",
                "send",
                "--to-chain",
                "beta",
                "--receiver",
                "",
                "--denom",
                "d",
                "--amount",
                "1",
            ],
            "--receiver is empty",
        ),
        ([*SEND, "--amount", "1", "--node", NOWHERE], "a transfer is signed: give --identity"),
        (["bank", "balance", " "], "the account is empty"),
        (["bank", "issue", "--account", "", "--denom", "d", "--amount", "1"], "--account is empty"),
        (["bank", "balance", "org1/client", "--node", NOWHERE], "listing balances is signed"),
        (["interchain", "client", "status", "--node", NOWHERE], "listing clients is signed"),
        (["hub", "members", "--node", NOWHERE], "listing the hub's members is signed"),
        (
            ["packet", "list", "--client", "client-0", "--node", NOWHERE],
            "listing packets is signed",
        ),
        (
            ["interchain", "client", "update", "client-x", "--of-node", NOWHERE],
            "'client-x' is not a client id",
        ),
        (["interchain", "client", "status", "client-01"], "'client-01' is not a client id"),
        (
            ["interchain", "client", "counterparty", "client-0", "c1"],
            "counterparty client 'c1' is not a client id",
        ),
        (
            ["interchain", "client", "create", "--counterparty-client", "x", "--of-node", NOWHERE],
            "--counterparty-client 'x'",
        ),
        (
            ["packet", "status", "--client", "zero", "--sequence", "1"],
            "--client 'zero' is not a client id",
        ),
        (
            ["packet", "list", "--client", "client-0", "--side", "received", "--in-flight"],
            "--in-flight lists packets this chain sent",
        ),
        (
            ["hub", "register", "--client", "hub-client", "--member-node", NOWHERE],
            "--client 'hub-client'",
        ),
        (
            [
                "hub",
                "register",
                "--client",
                "client-0",
                "--member-node",
                NOWHERE,
                "--endpoint",
                "nowhere",
            ],
            "node address 'nowhere' has no port",
        ),
        (["interchain", "client", "create", "--node", NOWHERE], "which chain? give --of CHAIN"),
        (
            ["interchain", "client", "recover", "client-0", "--of", "beta", "--of-node", NOWHERE],
            "not both",
        ),
        (["interchain", "client", "create", "--of", "beta"], "--of beta names a chain of a devnet"),
        (
            ["interchain", "client", "status", "client-0", "--chain", "alpha"],
            "--chain alpha names a chain of a devnet: give the devnet's folder with --dir",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(arguments: list[str], fragment: str) -> None:
    assert fragment in error_line(arguments)


def test_a_devnet_needs_a_chain_that_it_has(devnet: Path) -> None:
    base = ["interchain", "client", "status", "client-0", "--dir", str(devnet)]
    assert "several chains (alpha, beta)" in error_line(base)
    assert "no chain 'gamma' in the devnet (chains: alpha, beta)" in error_line(
        [*base, "--chain", "gamma"]
    )
    create = ["interchain", "client", "create", "--dir", str(devnet), "--chain", "alpha"]
    assert "--of: no chain 'gamma'" in error_line([*create, "--of", "gamma"])


def test_a_folder_without_a_devnet_says_how_to_make_one(tmp_path: Path) -> None:
    line = error_line(
        [
            "packet",
            "status",
            "--client",
            "client-0",
            "--sequence",
            "1",
            "--dir",
            str(tmp_path),
            "--chain",
            "alpha",
        ]
    )
    assert "no devnet from a manifest" in line
    assert "devnet up --manifest" in line


def test_a_node_that_does_not_answer_is_one_line() -> None:
    line = error_line(["interchain", "client", "status", "client-0", "--node", NOWHERE])
    assert NOWHERE in line or "unavailable" in line.lower() or "connect" in line.lower()


# ---- rendering ---------------------------------------------------------------------------------


def _transfer_packet() -> interchain_pb2.Packet:
    data = interchain_pb2.TransferPacketData(
        denom="stake", amount=5, sender="org1/client", receiver="org2/client", memo=b"hi"
    )
    return interchain_pb2.Packet(
        source_client="client-0",
        destination_client="client-3",
        sequence=4,
        timeout_ms=1_700_000_000_000,
        payload=interchain_pb2.Payload(
            source_port="transfer",
            destination_port="transfer",
            version="ics20-1",
            encoding="application/x-protobuf",
            value=encode(data),
        ),
    )


def test_a_transfer_packet_shows_what_it_moves() -> None:
    data = packet_data(_transfer_packet())
    assert data["transfer"] == {
        "denom": "stake",
        "amount": 5,
        "sender": "org1/client",
        "receiver": "org2/client",
        "memo": b"hi".hex(),
    }
    assert (data["source_client"], data["destination_client"], data["sequence"]) == (
        "client-0",
        "client-3",
        4,
    )


def test_other_packets_show_their_data_in_hex_only() -> None:
    packet = interchain_pb2.Packet(
        source_client="client-0",
        destination_client="client-1",
        sequence=1,
        timeout_ms=1,
        payload=interchain_pb2.Payload(source_port="app", destination_port="app", value=b"\x01"),
    )
    data = packet_data(packet)
    assert data["transfer"] is None
    assert data["value"] == "01"


def test_records_of_both_sides_show_their_state_and_acknowledgement() -> None:
    acknowledgement = interchain_pb2.Acknowledgement(success=False, error="no such account")
    sent = sent_data(
        interchain_pb2.PacketRecord(
            packet=_transfer_packet(),
            sent_height=9,
            state="acknowledged",
            acknowledgement=acknowledgement,
        )
    )
    assert sent["state"] == "acknowledged"
    assert sent["acknowledgement"] == {"success": False, "result": "", "error": "no such account"}
    waiting = received_data(interchain_pb2.ReceiptRecord(packet=_transfer_packet()))
    assert waiting["state"] == "received"
    assert waiting["acknowledgement"] is None


def test_a_client_shows_its_chain_status_and_latest_state() -> None:
    entry = interchain_pb2.ClientsGetResult(
        client=interchain_pb2.ClientState(
            client_id="client-2", chain_id="beta", latest_height=7, genesis_hash=b"\x01" * 32
        ),
        status="frozen",
        latest=interchain_pb2.ConsensusState(height=7, time_ms=5, state_root=b"\x02" * 32),
    )
    data = client_data(entry)
    assert (data["client_id"], data["chain_id"], data["status"], data["latest_height"]) == (
        "client-2",
        "beta",
        "frozen",
        7,
    )
    assert data["genesis_hash"] == "01" * 32
    assert data["latest_state_root"] == "02" * 32
