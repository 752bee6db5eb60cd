"""The SDK's interchain operations against two real chains (alpha: solo intl, beta: solo gm; one
devnet for the whole module, tests/e2e/interchain_harness.py): light clients created, updated,
read with proofs and refused where the chain refuses; counterparties; the hub's registry refusing
a one-organisation member; and the asyncio client doing the same with the same names."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

from interchain_harness import (  # noqa: E402
    ADMIN,
    ALPHA,
    BETA,
    CLIENT,
    Link,
    TwoChains,
    join,
    relaying,
    two_chains,
)

from causeway.contracts.v1 import contracts_pb2  # noqa: E402
from causeway.errors import (  # noqa: E402
    ConfigurationError,
    NotFoundError,
    RequestError,
    TransactionFailedError,
)
from causeway.interchain.bank import escrow_account  # noqa: E402
from causeway.sdk import AsyncClient, Client  # noqa: E402
from causeway.sdk.transactions import now_ms  # noqa: E402
from causeway.types.v1 import types_pb2  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoChains]:
    with two_chains(tmp_path_factory.mktemp("sdk-interchain")) as running:
        yield running


@pytest.fixture(scope="module")
def link(network: TwoChains) -> Link:
    linked = join(network)
    issuer = network.client(ALPHA, ADMIN)
    assert issuer.interchain.issue(CLIENT, DENOM, SUPPLY) == SUPPLY
    return linked


DENOM = "stake"
SUPPLY = 1_000
WAIT_S = 90.0


def test_clients_both_ways_follow_each_chain_and_name_each_other(
    network: TwoChains, link: Link
) -> None:
    alpha = network.client(ALPHA)
    beta = network.client(BETA, None)
    of_beta = alpha.interchain.client_status(link.alpha_client)
    assert of_beta.status == "active"
    assert of_beta.client.chain_id == BETA
    assert of_beta.client.crypto_profile == "gm"
    assert of_beta.client.consensus == "solo"
    assert of_beta.client.single_signer_accepted
    assert of_beta.client.genesis_hash == beta.status().genesis_hash
    assert of_beta.client.counterparty_client_id == link.beta_client
    assert of_beta.latest.height == of_beta.client.latest_height >= 1
    of_alpha = beta.interchain.client_status(link.beta_client)
    assert of_alpha.client.chain_id == ALPHA
    assert of_alpha.client.crypto_profile == "intl"
    assert of_alpha.client.counterparty_client_id == link.alpha_client
    listed = {entry.client.client_id: entry.status for entry in alpha.interchain.clients()}
    assert listed[link.alpha_client] == "active"


def test_an_update_moves_the_client_to_the_counterpartys_newer_height(
    network: TwoChains, link: Link
) -> None:
    alpha = network.client(ALPHA)
    beta = network.client(BETA, ADMIN)
    before = alpha.interchain.client_status(link.alpha_client).client.latest_height
    # beta commits at least one more block (naming the counterparty again changes nothing).
    beta.interchain.register_counterparty(
        link.beta_client, link.alpha_client, endorsers=network.endorsers(BETA)
    )
    stored = alpha.interchain.update_client(link.alpha_client, beta)
    assert stored.height > before
    assert len(stored.state_root) == 32
    after = alpha.interchain.client_status(link.alpha_client)
    assert after.client.latest_height == stored.height
    assert after.latest == stored
    # Already there: nothing to send, the stored state answered.
    assert alpha.interchain.update_client(link.alpha_client, beta, height=stored.height) == stored


def test_updating_from_a_node_of_another_chain_is_refused_before_anything_is_sent(
    network: TwoChains, link: Link
) -> None:
    alpha = network.client(ALPHA)
    with pytest.raises(ConfigurationError, match=r"follows chain 'beta'.*serves chain 'alpha'"):
        alpha.interchain.update_client(link.alpha_client, network.client(ALPHA, None))


def test_governance_without_its_endorsements_fails_with_the_policys_reason(
    network: TwoChains,
) -> None:
    alpha = network.client(ALPHA, ADMIN)
    with pytest.raises(TransactionFailedError, match=r"clients\.create failed") as raised:
        alpha.interchain.create_client(network.client(BETA, None), single_signer_accepted=True)
    result = raised.value.result
    assert isinstance(result, types_pb2.TransactionResult)
    assert result.status == types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED


def test_a_solo_chain_without_single_signer_acceptance_is_refused(network: TwoChains) -> None:
    alpha = network.client(ALPHA, ADMIN)
    with pytest.raises(TransactionFailedError, match="single_signer_accepted"):
        alpha.interchain.create_client(
            network.client(BETA, None), endorsers=network.endorsers(ALPHA)
        )


def test_a_counterparty_is_named_once(network: TwoChains, link: Link) -> None:
    alpha = network.client(ALPHA, ADMIN)
    with pytest.raises(TransactionFailedError, match="it is set once"):
        alpha.interchain.register_counterparty(
            link.alpha_client, "client-99", endorsers=network.endorsers(ALPHA)
        )


def test_recovering_an_active_client_is_refused(network: TwoChains, link: Link) -> None:
    alpha = network.client(ALPHA, ADMIN)
    with pytest.raises(TransactionFailedError, match="is active"):
        alpha.interchain.recover_client(
            link.alpha_client, network.client(BETA, None), endorsers=network.endorsers(ALPHA)
        )


def test_missing_records_are_not_found(network: TwoChains, link: Link) -> None:
    alpha = network.client(ALPHA)
    with pytest.raises(NotFoundError, match="no client 'client-99'"):
        alpha.interchain.client_status("client-99")
    with pytest.raises(NotFoundError, match=f"packet {link.alpha_client}/7 \\(sent\\)"):
        alpha.interchain.packet(link.alpha_client, 7)
    with pytest.raises(NotFoundError, match="'gamma' as a hub member"):
        alpha.interchain.hub_member("gamma")
    assert alpha.interchain.hub_members() == []
    assert alpha.interchain.balance("org1/client", "nothing") == 0
    assert list(alpha.interchain.packets(link.alpha_client).sent) == []


def test_bad_packet_reads_are_refused_before_any_call(network: TwoChains, link: Link) -> None:
    alpha = network.client(ALPHA, None)
    with pytest.raises(RequestError, match="side 'both' is not 'sent' or 'received'"):
        alpha.interchain.packet(link.alpha_client, 1, side="both")
    with pytest.raises(RequestError, match="sequence 0 is not positive"):
        alpha.interchain.packet(link.alpha_client, 0)
    with pytest.raises(ConfigurationError, match="timeout_s must be positive"):
        alpha.interchain.wait_for_packet(link.alpha_client, 1, timeout_s=0)


def test_the_hub_refuses_a_member_run_by_one_organisation(network: TwoChains, link: Link) -> None:
    # beta's one validator belongs to one organisation: it alone could stop or forge the chain.
    alpha = network.client(ALPHA, ADMIN)
    with pytest.raises(TransactionFailedError, match="a third or more"):
        alpha.interchain.hub_register(
            network.client(BETA, None),
            link.alpha_client,
            endpoints=[network.address(BETA)],
            endorsers=network.endorsers(ALPHA),
        )
    assert alpha.interchain.hub_members() == []


async def test_the_asyncio_client_has_the_same_operations(network: TwoChains, link: Link) -> None:
    async with (
        AsyncClient(network.address(ALPHA), network.identity(ALPHA, ADMIN)) as alpha,
        AsyncClient(network.address(BETA)) as beta,
    ):
        status = await alpha.interchain.client_status(link.alpha_client)
        assert status.client.chain_id == BETA
        stored = await alpha.interchain.update_client(link.alpha_client, beta)
        assert stored.height >= status.client.latest_height
        listed = [entry.client.client_id for entry in await alpha.interchain.clients()]
        assert link.alpha_client in listed
        with pytest.raises(NotFoundError):
            await alpha.interchain.packet(link.alpha_client, 7)
        assert await alpha.interchain.hub_members() == []
        with pytest.raises(TransactionFailedError, match="it is set once"):
            await alpha.interchain.register_counterparty(
                link.alpha_client, "client-99", endorsers=network.endorsers(ALPHA)
            )


async def test_headers_and_block_times_are_read_without_blocks_bodies(
    network: TwoChains, link: Link, monkeypatch: pytest.MonkeyPatch
) -> None:
    def whole_block(client: object, height: int = 0, *, verify: bool = True) -> NoReturn:
        raise AssertionError(f"block {height} was read whole for its header")

    monkeypatch.setattr(Client, "get_block", whole_block)
    monkeypatch.setattr(AsyncClient, "get_block", whole_block)
    alpha = network.client(ALPHA)
    stored = alpha.interchain.update_client(link.alpha_client, network.client(BETA, None))
    assert stored.height >= 1
    # The timeout is reckoned from the newest block's time before the transfer is refused.
    with pytest.raises(TransactionFailedError):
        alpha.interchain.send_transfer(
            link.alpha_client, denom=DENOM, amount=SUPPLY * 1_000, receiver="org2/client"
        )
    async with (
        AsyncClient(network.address(ALPHA), network.identity(ALPHA, ADMIN)) as asynchronous,
        AsyncClient(network.address(BETA)) as beta,
    ):
        updated = await asynchronous.interchain.update_client(link.alpha_client, beta)
        assert updated.height >= stored.height


def test_a_transfer_arrives_as_a_voucher_and_its_acknowledgement_comes_back(
    network: TwoChains, link: Link
) -> None:
    alpha = network.client(ALPHA)
    beta = network.client(BETA)
    escrow = escrow_account("transfer", link.alpha_client)
    voucher = f"transfer/{link.beta_client}/{DENOM}"
    before = alpha.interchain.balance(CLIENT, DENOM)
    escrowed = alpha.interchain.balance(escrow, DENOM)
    held = beta.interchain.balance("org2/client", voucher)
    packet = alpha.interchain.send_transfer(
        link.alpha_client, denom=DENOM, amount=100, receiver="org2/client"
    )
    assert packet.source_client == link.alpha_client
    assert packet.destination_client == link.beta_client
    assert packet.sequence >= 1
    assert packet.payload.source_port == packet.payload.destination_port == "transfer"
    sent = alpha.interchain.packet(link.alpha_client, packet.sequence).sent
    assert sent.state == "in_flight"
    assert sent.packet == packet
    in_flight = alpha.interchain.packets(link.alpha_client, in_flight_only=True).sent
    assert packet.sequence in [record.packet.sequence for record in in_flight]
    # Escrowed at once, before anything is relayed.
    assert alpha.interchain.balance(CLIENT, DENOM) == before - 100
    assert alpha.interchain.balance(escrow, DENOM) == escrowed + 100
    with relaying(network, link):
        record = alpha.interchain.wait_for_packet(
            link.alpha_client, packet.sequence, timeout_s=WAIT_S, poll_interval_s=0.2
        )
    assert record.state == "acknowledged"
    assert record.acknowledgement.success, record.acknowledgement.error
    received = beta.interchain.packet(link.beta_client, packet.sequence, side="received")
    assert received.received.packet == packet
    assert received.received.acknowledgement == record.acknowledgement
    assert beta.interchain.balance("org2/client", voucher) == held + 100
    assert {coin.denom: coin.amount for coin in beta.interchain.balances("org2/client")}[
        voucher
    ] == held + 100
    assert alpha.interchain.balance(escrow, DENOM) == escrowed + 100
    listed = beta.interchain.packets(link.beta_client, side="received").received
    assert packet.sequence in [receipt.packet.sequence for receipt in listed]


def test_a_packet_not_relayed_before_its_timeout_times_out_and_refunds_the_sender(
    network: TwoChains, link: Link
) -> None:
    alpha = network.client(ALPHA)
    beta = network.client(BETA)
    before = alpha.interchain.balance(CLIENT, DENOM)
    packet = alpha.interchain.send_transfer(
        link.alpha_client,
        denom=DENOM,
        amount=7,
        receiver="org1/client",
        timeout_ms=now_ms() + 1_500,
    )
    assert alpha.interchain.balance(CLIENT, DENOM) == before - 7
    with pytest.raises(RequestError, match=r"did not end within 0\.5 s \(still in_flight\)"):
        alpha.interchain.wait_for_packet(link.alpha_client, packet.sequence, timeout_s=0.5)
    # beta's time must pass the timeout in a block of its own before the timeout can be proven.
    deadline = packet.timeout_ms
    while True:
        committed = beta.invoke("kv", "put", contracts_pb2.KvPutArguments(key=b"t", value=b"1"))
        assert committed.succeeded, committed
        if beta.get_block(committed.height).block.header.time_ms >= deadline:
            break
    with relaying(network, link):
        record = alpha.interchain.wait_for_packet(
            link.alpha_client, packet.sequence, timeout_s=WAIT_S, poll_interval_s=0.2
        )
    assert record.state == "timed_out"
    assert not record.HasField("acknowledgement")
    assert alpha.interchain.balance(CLIENT, DENOM) == before
    with pytest.raises(NotFoundError):
        beta.interchain.packet(link.beta_client, packet.sequence, side="received")


async def test_the_asyncio_client_sends_and_waits_for_a_transfer(
    network: TwoChains, link: Link
) -> None:
    async with (
        AsyncClient(network.address(ALPHA), network.identity(ALPHA, CLIENT)) as alpha,
        AsyncClient(network.address(BETA)) as beta,
    ):
        voucher = f"transfer/{link.beta_client}/{DENOM}"
        held = await beta.interchain.balance("org1/client", voucher)
        packet = await alpha.interchain.send_transfer(
            link.alpha_client, denom=DENOM, amount=5, receiver="org1/client"
        )
        with relaying(network, link):
            record = await alpha.interchain.wait_for_packet(
                link.alpha_client, packet.sequence, timeout_s=WAIT_S, poll_interval_s=0.2
            )
        assert record.state == "acknowledged"
        assert record.acknowledgement.success
        assert (await alpha.interchain.packet(link.alpha_client, packet.sequence)).sent == record
        assert await beta.interchain.balance("org1/client", voucher) == held + 5
