"""Choosing the node, the signers and the source client of an interchain command, without a node:
each way in, and a clear refusal for each bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway.cli.interchain_targets import (
    DEFAULT_NODE,
    DEVNET_ENDORSERS_MAX,
    ClientView,
    DevnetChain,
    DevnetMember,
    check_client_id,
    hub_to_route_through,
    resolve_counterparty,
    resolve_source_client,
    resolve_target,
)
from causeway.errors import ConfigurationError, RequestError

BETA_GENESIS = bytes([2]) * 32


def _chain(chain_id: str, organisations: int = 3, genesis: bytes = bytes([1]) * 32) -> DevnetChain:
    members = [
        DevnetMember(f"org{number}/{name}", (role,), f"/devnet/{chain_id}/org{number}/{name}")
        for number in range(1, organisations + 1)
        for name, role in (("admin", "ADMIN"), ("client", "CLIENT"))
    ]
    members.append(DevnetMember("org1/node1", ("VALIDATOR",), f"/devnet/{chain_id}/org1/node1"))
    return DevnetChain(chain_id, genesis, (f"127.0.0.1:{7000 + organisations}",), tuple(members))


DEVNET = [_chain("alpha"), _chain("beta", 2, BETA_GENESIS)]


def _view(
    client_id: str, chain_id: str = "beta", status: str = "active", genesis: bytes = BETA_GENESIS
) -> ClientView:
    return ClientView(client_id, chain_id, genesis, status, "client-9")


# ---- resolve_target ---------------------------------------------------------------------------


def test_options_alone_are_used_as_given_and_default_to_the_local_node() -> None:
    target = resolve_target(
        node=None, identity=None, endorsers=[], chain=None, devnet=None, governance=True
    )
    assert target.address == DEFAULT_NODE
    assert target.identity is None
    assert target.endorsers == ()
    given = resolve_target(
        node="10.0.0.1:7050",
        identity=Path("me"),
        endorsers=[Path("other")],
        chain=None,
        devnet=None,
        governance=True,
    )
    assert (given.address, given.identity, given.endorsers) == (
        "10.0.0.1:7050",
        Path("me"),
        (Path("other"),),
    )


def test_a_devnet_chain_gives_its_node_its_admin_and_the_other_admins_for_governance() -> None:
    target = resolve_target(
        node=None, identity=None, endorsers=[], chain="alpha", devnet=DEVNET, governance=True
    )
    assert target.address == "127.0.0.1:7003"
    assert target.chain_id == "alpha"
    assert target.identity == Path("/devnet/alpha/org1/admin")
    assert target.endorsers == (Path("/devnet/alpha/org2/admin"), Path("/devnet/alpha/org3/admin"))


def test_a_devnet_chain_gives_its_client_and_no_endorsers_for_other_commands() -> None:
    target = resolve_target(
        node=None, identity=None, endorsers=[], chain="beta", devnet=DEVNET, governance=False
    )
    assert target.identity == Path("/devnet/beta/org1/client")
    assert target.endorsers == ()


def test_options_given_win_over_the_devnets() -> None:
    target = resolve_target(
        node="10.0.0.9:7050",
        identity=Path("me"),
        endorsers=[Path("them")],
        chain="alpha",
        devnet=DEVNET,
        governance=True,
    )
    assert (target.address, target.identity, target.endorsers) == (
        "10.0.0.9:7050",
        Path("me"),
        (Path("them"),),
    )


def test_endorsers_from_a_devnet_are_bounded() -> None:
    many = _chain("many", DEVNET_ENDORSERS_MAX + 5)
    target = resolve_target(
        node=None, identity=None, endorsers=[], chain="many", devnet=[many], governance=True
    )
    assert len(target.endorsers) == DEVNET_ENDORSERS_MAX


def test_a_chain_without_a_devnet_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="--chain alpha names a chain of a devnet"):
        resolve_target(
            node=None, identity=None, endorsers=[], chain="alpha", devnet=None, governance=False
        )


def test_a_devnet_without_a_chain_or_node_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"several chains \(alpha, beta\).*--chain"):
        resolve_target(
            node=None, identity=None, endorsers=[], chain=None, devnet=DEVNET, governance=False
        )


def test_a_chain_the_devnet_does_not_have_is_refused_with_the_chains_it_has() -> None:
    with pytest.raises(ConfigurationError, match=r"--chain: no chain 'gamma'.*alpha, beta"):
        resolve_target(
            node=None, identity=None, endorsers=[], chain="gamma", devnet=DEVNET, governance=False
        )


# ---- resolve_counterparty ----------------------------------------------------------------------


def test_the_other_chain_by_devnet_id_or_by_node() -> None:
    assert resolve_counterparty(of_chain="beta", of_node=None, devnet=DEVNET) == "127.0.0.1:7002"
    assert resolve_counterparty(of_chain=None, of_node="10.0.0.2:7050", devnet=None) == (
        "10.0.0.2:7050"
    )


def test_the_other_chain_given_twice_or_not_at_all_is_refused() -> None:
    with pytest.raises(RequestError, match="not both"):
        resolve_counterparty(of_chain="beta", of_node="10.0.0.2:7050", devnet=DEVNET)
    with pytest.raises(RequestError, match="which chain"):
        resolve_counterparty(of_chain=None, of_node=None, devnet=DEVNET)


def test_the_other_chain_by_id_needs_a_devnet_that_has_it() -> None:
    with pytest.raises(ConfigurationError, match="--of beta names a chain of a devnet"):
        resolve_counterparty(of_chain="beta", of_node=None, devnet=None)
    with pytest.raises(ConfigurationError, match="--of: no chain 'gamma'"):
        resolve_counterparty(of_chain="gamma", of_node=None, devnet=DEVNET)


# ---- resolve_source_client ---------------------------------------------------------------------


def _source(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "sending_chain": "alpha",
        "to_chain": "beta",
        "explicit_client": None,
        "hub_member_client": None,
        "clients": [],
        "expected_genesis": None,
    }
    arguments.update(overrides)
    return resolve_source_client(**arguments)  # type: ignore[arg-type]


def test_an_explicit_client_wins_and_is_checked() -> None:
    assert _source(explicit_client="client-4", clients=[_view("client-1")]) == "client-4"
    with pytest.raises(RequestError, match="--client 'client-04' is not a client id"):
        _source(explicit_client="client-04")


def test_the_hub_registry_names_the_client_of_a_member() -> None:
    assert _source(hub_member_client="client-7", clients=[_view("client-1")]) == "client-7"


def test_the_one_active_client_of_the_chain_is_chosen() -> None:
    clients = [
        _view("client-0", chain_id="gamma"),
        _view("client-1", status="frozen"),
        _view("client-2"),
    ]
    assert _source(clients=clients) == "client-2"


def test_a_client_of_another_genesis_than_the_devnets_is_not_chosen() -> None:
    clients = [_view("client-1", genesis=bytes([9]) * 32), _view("client-2")]
    assert _source(clients=clients, expected_genesis=BETA_GENESIS) == "client-2"
    with pytest.raises(RequestError, match=r"\(client-1\) follow a chain of another genesis"):
        _source(clients=clients[:1], expected_genesis=BETA_GENESIS)


def test_several_active_clients_of_the_chain_ask_for_client() -> None:
    with pytest.raises(
        RequestError, match=r"2 active clients of chain 'beta' \(client-1, client-2\)"
    ):
        _source(clients=[_view("client-1"), _view("client-2")])


def test_only_inactive_clients_of_the_chain_say_so() -> None:
    with pytest.raises(RequestError, match=r"client-1 is expired.*client recover"):
        _source(clients=[_view("client-1", status="expired")])


def test_no_client_of_the_chain_says_how_to_make_one() -> None:
    with pytest.raises(RequestError, match="no client of chain 'beta': create one") as raised:
        _source(clients=[_view("client-1", chain_id="gamma")])
    assert raised.value.reason == "not_found"


@pytest.mark.parametrize(
    "text", ["client-", "client-01", "client--1", "Client-1", "client-1 ", "0"]
)
def test_malformed_client_ids_are_refused(text: str) -> None:
    with pytest.raises(RequestError, match="is not a client id"):
        check_client_id(text)


def test_the_longest_client_id_passes_and_one_digit_more_is_refused() -> None:
    assert check_client_id("client-" + "9" * 20) == "client-" + "9" * 20
    with pytest.raises(RequestError):
        check_client_id("client-" + "9" * 21)


# ---- hub_to_route_through ----------------------------------------------------------------------


def test_a_transfer_goes_through_via_or_the_devnets_hub_when_that_is_neither_end() -> None:
    hub = DevnetChain("hub", bytes([3]) * 32, ("127.0.0.1:7200",), hub=True)
    devnet = [*DEVNET, hub]
    assert (
        hub_to_route_through(via="h2", sending_chain="alpha", to_chain="beta", devnet=None) == "h2"
    )
    assert (
        hub_to_route_through(via=None, sending_chain="alpha", to_chain="beta", devnet=devnet)
        == "hub"
    )
    assert (
        hub_to_route_through(via=None, sending_chain="hub", to_chain="beta", devnet=devnet) is None
    )
    assert (
        hub_to_route_through(via=None, sending_chain="alpha", to_chain="hub", devnet=devnet) is None
    )
    assert (
        hub_to_route_through(via=None, sending_chain="alpha", to_chain="beta", devnet=DEVNET)
        is None
    )


def test_via_an_end_of_the_transfer_is_refused() -> None:
    for via in ("alpha", "beta"):
        with pytest.raises(RequestError, match=f"--via {via} is an end of the transfer"):
            hub_to_route_through(via=via, sending_chain="alpha", to_chain="beta", devnet=None)


def test_the_devnets_link_names_the_client_unless_one_is_given() -> None:
    assert _source(described_client="client-5", clients=[_view("client-1")]) == "client-5"
    assert _source(described_client="client-5", hub_member_client="client-7") == "client-5"
    assert _source(described_client="client-5", explicit_client="client-2") == "client-2"


def test_a_devnet_chain_knows_its_clients_by_the_chain_they_follow() -> None:
    chain = DevnetChain(
        "alpha", bytes(32), (), clients_of=(("beta", "client-3"), ("hub", "client-0"))
    )
    assert chain.client_of("hub") == "client-0"
    assert chain.client_of("beta") == "client-3"
    assert chain.client_of("gamma") is None
