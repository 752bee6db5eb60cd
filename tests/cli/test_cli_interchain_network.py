"""The interchain commands against two real chains (alpha: solo intl, beta: solo gm; one devnet
for the module, tests/e2e/interchain_harness.py), everything done through the CLI with --dir and
--chain: clients created both ways, named, updated, shown; ports bound; tokens issued, sent with
--wait while a relayer runs in process, and shown on both sides; a timeout that refunds; and the
refusals a user meets (exit 3 for what a contract refused, 1 for what the CLI refused)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

from interchain_harness import (  # noqa: E402
    ALPHA,
    BETA,
    CLIENT,
    Link,
    TwoChains,
    commit_a_block,
    relaying,
    two_chains,
)
from waiting import wait_until  # noqa: E402

from causeway.cli.main import app  # noqa: E402
from causeway.cli.output import EXIT_TRANSACTION_FAILED  # noqa: E402

pytestmark = pytest.mark.e2e

runner = CliRunner()
DENOM = "stake"
SUPPLY = 1_000
WAIT_S = "90"
# Long enough that the send commits before it even on a busy machine.
TIMEOUT_AFTER_S = 3


def run(*arguments: str, code: int = 0) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == code, (arguments, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return result.stdout if code == 0 or not result.stderr else result.stderr


def run_json(*arguments: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == code, (arguments, result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoChains]:
    with two_chains(tmp_path_factory.mktemp("cli-interchain")) as running:
        yield running


def on(network: TwoChains, chain: str) -> list[str]:
    return ["--dir", str(network.directory), "--chain", chain]


@pytest.fixture(scope="module")
def link(network: TwoChains) -> Link:
    for chain in (ALPHA, BETA):
        commit_a_block(network.client(chain))
    alpha_client = run_json(
        "interchain", "client", "create", *on(network, ALPHA), "--of", BETA, "--single-signer"
    )["client_id"]
    created = run_json(
        "interchain",
        "client",
        "create",
        *on(network, BETA),
        "--of",
        ALPHA,
        "--single-signer",
        "--counterparty-client",
        alpha_client,
    )
    beta_client = created["client_id"]
    assert created["counterparty_client_id"] == alpha_client
    named = run_json(
        "interchain", "client", "counterparty", alpha_client, beta_client, *on(network, ALPHA)
    )
    assert named["counterparty_client_id"] == beta_client
    for chain in (ALPHA, BETA):
        assert run_json("interchain", "port", "bind", "transfer", *on(network, chain)) == {
            "port": "transfer",
            "contract": "transfer",
            "bound": True,
        }
    issued = run_json(
        "bank",
        "issue",
        *on(network, ALPHA),
        "--account",
        CLIENT,
        "--denom",
        DENOM,
        "--amount",
        str(SUPPLY),
    )
    assert issued == {"account": CLIENT, "denom": DENOM, "issued": SUPPLY, "balance": SUPPLY}
    return Link(alpha_client, beta_client)


def test_client_status_shows_one_client_or_all(network: TwoChains, link: Link) -> None:
    table = run("interchain", "client", "status", link.alpha_client, *on(network, ALPHA))
    assert f"Client {link.alpha_client}" in table
    assert "beta" in table
    assert "active" in table
    assert "solo, gm" in table
    listed = run_json("interchain", "client", "status", *on(network, BETA))["clients"]
    assert [(item["client_id"], item["chain_id"], item["status"]) for item in listed] == [
        (link.beta_client, ALPHA, "active")
    ]
    assert listed[0]["counterparty_client_id"] == link.alpha_client
    rows = run("interchain", "client", "status", *on(network, BETA))
    assert link.beta_client in rows
    assert "intl" in rows


def test_client_update_moves_to_the_other_chains_newest_height(
    network: TwoChains, link: Link
) -> None:
    before = run_json("interchain", "client", "status", link.alpha_client, *on(network, ALPHA))
    newest = commit_a_block(network.client(BETA))
    after = run_json(
        "interchain", "client", "update", link.alpha_client, *on(network, ALPHA), "--of", BETA
    )
    assert after["latest_height"] >= newest > before["latest_height"]
    assert "Updated" in run(
        "interchain",
        "client",
        "update",
        link.alpha_client,
        *on(network, ALPHA),
        "--of-node",
        network.address(BETA),
    )


def test_an_expired_client_refuses_updates_until_governance_recovers_it(
    network: TwoChains, link: Link
) -> None:
    # A client of its own with a short trusting period: the link's clients stay as they are.
    # Its first header must be younger than the period when alpha's block takes it: a fresh
    # block of beta's, and a period a loaded machine's few seconds of CLI work cannot outlast.
    commit_a_block(network.client(BETA))
    short = run_json(
        "interchain",
        "client",
        "create",
        *on(network, ALPHA),
        "--of",
        BETA,
        "--single-signer",
        "--trusting-period-s",
        "4",
    )["client_id"]
    trusted = run_json("interchain", "client", "status", short, *on(network, ALPHA))
    assert trusted["status"] == "active"

    # Expiry is measured in the host chain's time: a block of alpha's past the period.
    def expired() -> bool:
        commit_a_block(network.client(ALPHA))
        status = run_json("interchain", "client", "status", short, *on(network, ALPHA))
        return bool(status["status"] == "expired")

    wait_until(expired, 30, "the client never expired")
    commit_a_block(network.client(BETA))
    refused = run(
        "interchain",
        "client",
        "update",
        short,
        *on(network, ALPHA),
        "--of",
        BETA,
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "expired" in refused
    recovered = run_json(
        "interchain", "client", "recover", short, *on(network, ALPHA), "--of", BETA
    )
    assert recovered["status"] == "active"
    assert recovered["latest_height"] > trusted["latest_height"]
    after = run_json("interchain", "client", "status", short, *on(network, ALPHA))
    assert (after["status"], after["latest_height"]) == ("active", recovered["latest_height"])
    # Leave alpha with one active client of beta, as the tests after this one expect (a transfer
    # names no client when there is one): the short one expires again.
    wait_until(expired, 30, "the recovered client never expired again")


def test_what_a_contract_refuses_exits_3_with_its_reason(network: TwoChains, link: Link) -> None:
    line = run(
        "interchain",
        "client",
        "recover",
        link.alpha_client,
        *on(network, ALPHA),
        "--of",
        BETA,
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "is active: only a frozen or expired client is recovered" in line
    line = run(
        "interchain",
        "client",
        "counterparty",
        link.alpha_client,
        "client-9",
        *on(network, ALPHA),
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "it is set once" in line
    line = run(
        "interchain",
        "port",
        "bind",
        "transfer",
        *on(network, ALPHA),
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "bound to transfer already" in line
    line = run(
        "interchain",
        "port",
        "bind",
        "validators",
        *on(network, ALPHA),
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "no application 'validators' is registered for port 'validators'" in line


def test_the_hub_registry_refuses_a_one_organisation_chain_and_lists_none(
    network: TwoChains, link: Link
) -> None:
    line = run(
        "hub",
        "register",
        *on(network, ALPHA),
        "--member",
        BETA,
        "--client",
        link.alpha_client,
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "a third or more" in line
    assert "no member chains registered" in run("hub", "members", *on(network, ALPHA))
    assert run_json("hub", "members", *on(network, ALPHA)) == {"members": []}
    assert "'beta' as a hub member is not on chain alpha" in run(
        "hub", "members", BETA, *on(network, ALPHA), code=1
    )


def test_a_transfer_sent_with_wait_ends_acknowledged_and_shows_on_both_chains(
    network: TwoChains, link: Link
) -> None:
    voucher = f"transfer/{link.beta_client}/{DENOM}"
    with relaying(network, link):
        sent = run_json(
            "transfer",
            "send",
            *on(network, ALPHA),
            "--to-chain",
            BETA,
            "--receiver",
            "org2/client",
            "--denom",
            DENOM,
            "--amount",
            "25",
            "--wait",
            "--wait-s",
            WAIT_S,
        )
    assert sent["source_client"] == link.alpha_client
    assert sent["to_chain"] == BETA
    packet = sent["packet"]
    assert packet["transfer"]["amount"] == 25
    assert packet["transfer"]["receiver"] == "org2/client"
    assert sent["end"]["state"] == "acknowledged"
    assert sent["end"]["acknowledgement"]["success"] is True
    sequence = str(packet["sequence"])

    balances = run_json("bank", "balance", "org2/client", *on(network, BETA))["balances"]
    assert {"denom": voucher, "amount": 25} in balances
    one = run_json("bank", "balance", "org2/client", "--denom", voucher, *on(network, BETA))
    assert one == {"account": "org2/client", "balances": [{"denom": voucher, "amount": 25}]}
    assert voucher in run("bank", "balance", "org2/client", *on(network, BETA))

    status = run(
        "packet",
        "status",
        "--client",
        link.alpha_client,
        "--sequence",
        sequence,
        *on(network, ALPHA),
    )
    assert "acknowledged" in status
    assert "25 stake from org1/client to org2/client" in status
    received = run_json(
        "packet",
        "status",
        "--client",
        link.beta_client,
        "--sequence",
        sequence,
        "--side",
        "received",
        *on(network, BETA),
    )
    assert received["state"] == "acknowledged"
    assert received["packet"]["source_client"] == link.alpha_client
    listed = run_json("packet", "list", "--client", link.alpha_client, *on(network, ALPHA))
    assert int(sequence) in [item["packet"]["sequence"] for item in listed["packets"]]
    assert "Packets sent on" in run(
        "packet", "list", "--client", link.alpha_client, *on(network, ALPHA)
    )


def test_a_transfer_without_wait_stays_in_flight_and_names_how_to_follow_it(
    network: TwoChains, link: Link
) -> None:
    # By node and identity, no devnet: the source client comes from alpha's own clients.
    output = run(
        "transfer",
        "send",
        "--node",
        network.address(ALPHA),
        "--identity",
        str(network.member_directory(ALPHA, CLIENT)),
        "--to-chain",
        BETA,
        "--receiver",
        "org1/client",
        "--denom",
        DENOM,
        "--amount",
        "3",
    )
    assert f"sent packet {link.alpha_client}/" in output
    assert "causeway packet status --client" in output
    in_flight = run_json(
        "packet", "list", "--client", link.alpha_client, "--in-flight", *on(network, ALPHA)
    )["packets"]
    assert in_flight
    assert all(item["state"] == "in_flight" for item in in_flight)


def test_a_transfer_that_times_out_exits_3_and_is_refunded(network: TwoChains, link: Link) -> None:
    before = run_json("bank", "balance", CLIENT, "--denom", DENOM, *on(network, ALPHA))
    # The relayer starts only after the timeout: beta's next block is past it, and the packet
    # can only time out.
    with relaying(network, link, start_after_s=TIMEOUT_AFTER_S + 1.5):
        sent = run_json(
            "transfer",
            "send",
            *on(network, ALPHA),
            "--to-chain",
            BETA,
            "--receiver",
            "org1/client",
            "--denom",
            DENOM,
            "--amount",
            "11",
            "--timeout-after-s",
            str(TIMEOUT_AFTER_S),
            "--wait",
            "--wait-s",
            WAIT_S,
            code=EXIT_TRANSACTION_FAILED,
        )
    assert sent["end"]["state"] == "timed_out"
    # Refunded (the packets other tests left in flight took their tokens before `before`).
    assert run_json("bank", "balance", CLIENT, "--denom", DENOM, *on(network, ALPHA)) == before


def test_to_chain_that_cannot_be_resolved_is_refused(network: TwoChains, link: Link) -> None:
    send = [
        "transfer",
        "send",
        *on(network, ALPHA),
        "--receiver",
        "r/x",
        "--denom",
        DENOM,
        "--amount",
        "1",
    ]
    assert "chain alpha has no client of chain 'gamma': create one" in run(
        *send, "--to-chain", "gamma", code=1
    )
    assert "--to-chain alpha is the chain the transfer is sent from" in run(
        *send, "--to-chain", ALPHA, code=1
    )
    assert f"--client {link.alpha_client} follows chain 'beta', not --to-chain 'gamma'" in run(
        *send, "--to-chain", "gamma", "--client", link.alpha_client, code=1
    )
    assert "there is no client 'client-99'" in run(
        *send, "--to-chain", BETA, "--client", "client-99", code=1
    )


def test_a_missing_packet_is_not_found(network: TwoChains, link: Link) -> None:
    line = run(
        "packet",
        "status",
        "--client",
        link.alpha_client,
        "--sequence",
        "999999",
        *on(network, ALPHA),
        code=1,
    )
    assert f"packet {link.alpha_client}/999999 (sent) is not on chain alpha" in line


def test_a_transfer_through_a_hub_that_cannot_forward_comes_back_refused_and_refunded(
    network: TwoChains, link: Link
) -> None:
    # beta stands in for a hub: it has no member gamma, so it refuses to forward, and its error
    # acknowledgement refunds the sender on alpha.
    before = run_json("bank", "balance", CLIENT, "--denom", DENOM, *on(network, ALPHA))
    with relaying(network, link):
        sent = run_json(
            "transfer",
            "send",
            *on(network, ALPHA),
            "--to-chain",
            "gamma",
            "--via",
            BETA,
            "--receiver",
            "org1/client",
            "--denom",
            DENOM,
            "--amount",
            "4",
            "--wait",
            "--wait-s",
            WAIT_S,
            code=EXIT_TRANSACTION_FAILED,
        )
    assert sent["via"] == BETA
    assert sent["source_client"] == link.alpha_client
    assert sent["packet"]["transfer"]["memo"].startswith(b"forward:".hex())
    end = sent["end"]
    assert end["state"] == "acknowledged"
    assert end["acknowledgement"]["success"] is False
    assert "'gamma' is not a member of this hub" in end["acknowledgement"]["error"]
    assert run_json("bank", "balance", CLIENT, "--denom", DENOM, *on(network, ALPHA)) == before


def test_routing_mistakes_are_refused(network: TwoChains, link: Link) -> None:
    send = [
        "transfer",
        "send",
        *on(network, ALPHA),
        "--receiver",
        "r/x",
        "--denom",
        DENOM,
        "--amount",
        "1",
    ]
    assert "--via alpha is an end of the transfer" in run(
        *send, "--to-chain", "gamma", "--via", ALPHA, code=1
    )
    assert "--memo cannot go through hub beta" in run(
        *send, "--to-chain", "gamma", "--via", BETA, "--memo", "hello", code=1
    )
    assert "or send through a hub with --via HUB_CHAIN_ID" in run(
        *send, "--to-chain", "gamma", code=1
    )
