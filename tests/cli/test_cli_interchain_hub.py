"""The hub commands and routing through a hub, on real chains: a solo hub, a solo chain alpha and
a raft chain gamma of three validators of three organisations (the smallest set a hub accepts as
a member), one devnet for the module. `devnet up` joins hub-alpha (the manifest's link); the test
joins hub-gamma and registers gamma with `hub register`; `hub members` lists it; a transfer from
the hub to gamma finds its client in the registry; a transfer from alpha to gamma, which alpha
has no client of, goes through the devnet's hub over the client network.json names, and is
acknowledged only when gamma answered, arriving as a voucher whose path names both links."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

from interchain_harness import (  # noqa: E402
    ADMIN,
    CLIENT,
    Link,
    TwoChains,
    join,
    manifest_devnet,
    relaying,
)

from causeway.cli.main import app  # noqa: E402
from causeway.cli.output import EXIT_TRANSACTION_FAILED  # noqa: E402
from causeway.errors import RequestError  # noqa: E402

pytestmark = pytest.mark.e2e

runner = CliRunner()
HUB = "hub"
ALPHA = "alpha"
GAMMA = "gamma"
DENOM = "stake"
WAIT_S = "120"
# A raft chain completes a height's certificate a moment after its block: creating a client of
# it right after its first block may find none holding more than two thirds yet.
JOIN_ATTEMPTS_MAX = 10
JOIN_RETRY_S = 1.0
# hub and alpha: one solo validator each, three ports; gamma: three raft validators.
PORTS = 15

MANIFEST = """\
port_base = {port_base}

[[chains]]
id = "hub"
hub = true
consensus = "solo"
crypto = "intl"
organisations = 2

[[chains]]
id = "alpha"
consensus = "solo"
crypto = "intl"
organisations = 2

[[chains]]
id = "gamma"
consensus = "raft"
crypto = "gm"
validators = 3
organisations = 3

[[links]]
chains = ["hub", "alpha"]
"""


def run_json(*arguments: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == code, (arguments, result.stdout, result.stderr)
    return json.loads(result.stdout)


def run(*arguments: str, code: int = 0) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == code, (arguments, result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


def on(network: TwoChains, chain: str) -> list[str]:
    return ["--dir", str(network.directory), "--chain", chain]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoChains]:
    with manifest_devnet(tmp_path_factory.mktemp("cli-hub"), MANIFEST, PORTS) as running:
        yield running


def join_when_certified(network: TwoChains, first: str, second: str) -> Link:
    for attempt in range(1, JOIN_ATTEMPTS_MAX + 1):
        try:
            return join(network, first, second)
        except RequestError as error:
            if "no header among heights" not in error.message or attempt == JOIN_ATTEMPTS_MAX:
                raise
            time.sleep(JOIN_RETRY_S)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def links(network: TwoChains) -> tuple[Link, Link]:
    """hub-alpha, which `devnet up` joined (its clients in network.json), and hub-gamma, joined
    here (the hub first in both); gamma registered on the hub by `hub register`."""
    (described,) = network.description.links
    assert described.chains == (HUB, ALPHA)
    assert described.connected
    to_alpha = Link(described.clients[0], described.clients[1], HUB, ALPHA)
    to_gamma = join_when_certified(network, HUB, GAMMA)
    registered = run_json(
        "hub", "register", *on(network, HUB), "--member", GAMMA, "--client", to_gamma.alpha_client
    )
    assert registered["chain_id"] == GAMMA
    assert registered["client_id"] == to_gamma.alpha_client
    assert registered["consensus"] == "raft"
    assert registered["crypto_profile"] == "gm"
    assert len(registered["validators"]) == 3
    assert registered["endpoints"] == list(network.addresses(GAMMA))
    for chain in (HUB, ALPHA):
        run_json(
            "bank",
            "issue",
            *on(network, chain),
            "--account",
            CLIENT,
            "--denom",
            DENOM,
            "--amount",
            "1000",
        )
    return to_alpha, to_gamma


def test_hub_members_lists_the_registered_chain(
    network: TwoChains, links: tuple[Link, Link]
) -> None:
    _, to_gamma = links
    members = run_json("hub", "members", *on(network, HUB))["members"]
    assert [(member["chain_id"], member["client_id"]) for member in members] == [
        (GAMMA, to_gamma.alpha_client)
    ]
    one = run_json("hub", "members", GAMMA, *on(network, HUB))
    assert one == members[0]
    table = run("hub", "members", *on(network, HUB))
    assert GAMMA in table
    assert "raft" in table
    hub = network.client(HUB)
    assert [member.chain_id for member in hub.interchain.hub_members()] == [GAMMA]
    assert hub.interchain.hub_member(GAMMA).client_id == to_gamma.alpha_client


def test_a_chain_is_registered_once(network: TwoChains, links: tuple[Link, Link]) -> None:
    _, to_gamma = links
    line = run(
        "hub",
        "register",
        *on(network, HUB),
        "--member",
        GAMMA,
        "--client",
        to_gamma.alpha_client,
        code=EXIT_TRANSACTION_FAILED,
    )
    assert "chain gamma is registered already" in line


def test_the_hub_sends_to_a_member_over_the_client_its_registry_names(
    network: TwoChains, links: tuple[Link, Link]
) -> None:
    to_alpha, to_gamma = links
    with relaying(network, to_alpha, to_gamma):
        sent = run_json(
            "transfer",
            "send",
            *on(network, HUB),
            "--to-chain",
            GAMMA,
            "--receiver",
            "org2/client",
            "--denom",
            DENOM,
            "--amount",
            "6",
            "--wait",
            "--wait-s",
            WAIT_S,
        )
    assert sent["source_client"] == to_gamma.alpha_client
    assert sent["via"] is None
    assert sent["end"]["state"] == "acknowledged"
    assert sent["end"]["acknowledgement"]["success"] is True
    voucher = f"transfer/{to_gamma.beta_client}/{DENOM}"
    balance = run_json("bank", "balance", "org2/client", "--denom", voucher, *on(network, GAMMA))
    assert balance["balances"] == [{"denom": voucher, "amount": 6}]


def test_a_transfer_to_a_chain_without_a_direct_client_goes_through_the_hub(
    network: TwoChains, links: tuple[Link, Link]
) -> None:
    to_alpha, to_gamma = links
    with relaying(network, to_alpha, to_gamma):
        sent = run_json(
            "transfer",
            "send",
            *on(network, ALPHA),
            "--to-chain",
            GAMMA,
            "--receiver",
            "org1/client",
            "--denom",
            DENOM,
            "--amount",
            "10",
            "--wait",
            "--wait-s",
            WAIT_S,
        )
    # Sent on alpha's client of the hub; acknowledged once gamma answered the forwarded packet.
    assert sent["via"] == HUB
    assert sent["source_client"] == to_alpha.beta_client
    assert sent["end"]["state"] == "acknowledged"
    assert sent["end"]["acknowledgement"]["success"] is True, sent["end"]
    voucher = f"transfer/{to_gamma.beta_client}/transfer/{to_alpha.alpha_client}/{DENOM}"
    balance = run_json("bank", "balance", "org1/client", "--denom", voucher, *on(network, GAMMA))
    assert balance["balances"] == [{"denom": voucher, "amount": 10}]
    alpha = network.client(ALPHA, ADMIN)
    assert alpha.interchain.balance(CLIENT, DENOM) == 990
