"""The gateway's rounds between an in-process hub (real contracts) and the session's anvil, with
the 2-of-3 test committee: a transfer hub -> EVM (voucher minted) and back, acknowledgements on
both sides, timeouts both ways; one gateway alone does nothing but attest and sign (k = 2); a
gateway restarted from scratch, and all three running, do no harm."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from gateway_support import (
    COMMITTEE_KEYS,
    OUTSIDER_KEY,
    Gateway,
    advance_time,
    deploy_test_gateway,
    events,
    latest_time_ms,
    transact,
    transfer_packet,
)
from google.protobuf.message import Message
from hub_support import HUB_CLIENT, Network, build_network
from web3 import Web3

from causeway.interchain import evm as evm_codec
from causeway.interchain.gateways import contracts
from causeway.interchain.gateways.evm_side import EvmSide
from causeway.interchain.gateways.gateway import RELAY_DELIVERIES_PER_TRANSACTION
from causeway.interchain.gateways.gateway import Gateway as GatewayRounds
from causeway.interchain.keys import PACKETS_NAMESPACE, received_key
from causeway.interchain.v1 import interchain_pb2
from causeway.sim.chain import Endpoint, check_ok
from causeway.types.v1 import types_pb2

ROUNDS_MAX = 30
EVM_RECEIVER_INDEX = 2


@pytest.fixture
def gateway(web3: Web3) -> Gateway:
    """The endpoint of this file: it names the in-process hub's client of it (client-0)."""
    return deploy_test_gateway(web3, HUB_CLIENT)


@pytest.fixture
def network(web3: Web3, gateway: Gateway) -> Network:
    return build_network(web3, gateway)


def balance(network: Network, account: str, denom: str) -> int:
    result = check_ok(
        network.hub.query(
            "bank", "balance", interchain_pb2.BankBalanceArguments(account=account, denom=denom)
        )
    )
    return interchain_pb2.BankBalanceResult.FromString(result.return_value).amount


def send_from_hub(network: Network, amount: int, receiver: str, timeout_ms: int) -> int:
    result = check_ok(
        network.hub.run(
            "org1/alice",
            "transfer",
            "send",
            interchain_pb2.TransferSendArguments(
                source_client=HUB_CLIENT,
                denom="gold",
                amount=amount,
                receiver=receiver,
                timeout_ms=timeout_ms,
            ),
        )
    )
    return interchain_pb2.TransferSendResult.FromString(result.return_value).sequence


def hub_packet_state(network: Network, sequence: int) -> str:
    result = check_ok(
        network.hub.query(
            "packets",
            "get",
            interchain_pb2.PacketsGetArguments(
                side="sent", client_id=HUB_CLIENT, sequence=sequence
            ),
        )
    )
    return interchain_pb2.PacketsGetResult.FromString(result.return_value).sent.state


def until(network: Network, done: object, gateways: list[GatewayRounds] | None = None) -> None:
    reports = []
    for _ in range(ROUNDS_MAX):
        if done():  # type: ignore[operator]
            return
        reports = network.rounds(gateways)
        for report in reports:
            assert not [f for f in report.failures if "refused" in f], report.failures
    raise AssertionError(f"the gateways did not finish within the rounds allowed: {reports}")


def test_a_transfer_to_the_evm_chain_and_back(network: Network, gateway: Gateway) -> None:
    receiver = gateway.web3.eth.accounts[EVM_RECEIVER_INDEX]
    sequence = send_from_hub(network, 300, receiver, int(time.time() * 1000) + 600_000)
    assert balance(network, "org1/alice", "gold") == 700
    voucher_path = f"transfer/{HUB_CLIENT}/gold"

    until(network, lambda: hub_packet_state(network, sequence) == "acknowledged")
    voucher = gateway.voucher(voucher_path)
    assert voucher.functions.balanceOf(receiver).call() == 300

    # Back: the receiver sends 120 home to alice; the hub receives, the EVM side is acknowledged.
    receipt = transact(
        gateway,
        gateway.transfer.functions.sendTransfer(
            voucher_path, 120, "org1/alice", latest_time_ms(gateway.web3) + 600_000, b""
        ),
        receiver,
    )
    assert receipt["status"] == 1
    until(network, lambda: balance(network, "org1/alice", "gold") == 820)
    until(network, lambda: not network.gateways[0].sent)
    assert voucher.functions.balanceOf(receiver).call() == 180
    assert voucher.functions.totalSupply().call() == 180


def test_one_gateway_below_the_threshold_only_attests_and_signs(
    network: Network, gateway: Gateway
) -> None:
    receiver = gateway.web3.eth.accounts[EVM_RECEIVER_INDEX]
    sequence = send_from_hub(network, 50, receiver, int(time.time() * 1000) + 600_000)
    lone = network.gateways[:1]
    for _ in range(6):
        network.rounds(lone)
    assert hub_packet_state(network, sequence) == "in_flight"
    assert gateway.transfer.functions.voucherOf(f"transfer/{HUB_CLIENT}/gold").call() == (
        "0x" + "00" * 20
    )
    # A second member joins: k = 2 reached, the transfer completes.
    until(
        network, lambda: hub_packet_state(network, sequence) == "acknowledged", network.gateways[:2]
    )


def test_a_restarted_gateway_and_duplicates_do_no_harm(network: Network, gateway: Gateway) -> None:
    receiver = gateway.web3.eth.accounts[EVM_RECEIVER_INDEX]
    sequence = send_from_hub(network, 10, receiver, int(time.time() * 1000) + 600_000)
    network.rounds()
    # Gateway 0 restarts: a new object, nothing remembered, scanning from the start again.
    old = network.gateways[0]
    network.gateways[0] = GatewayRounds(
        Endpoint(network.hub),
        EvmSide(old.evm.rpc_url, old.evm.chain_id, old.evm.endpoint.address, COMMITTEE_KEYS[0]),
        old.settings,
    )
    until(network, lambda: hub_packet_state(network, sequence) == "acknowledged")
    for _ in range(3):
        network.rounds()
    voucher = gateway.voucher(f"transfer/{HUB_CLIENT}/gold")
    assert voucher.functions.balanceOf(receiver).call() == 10
    assert balance(network, "org1/alice", "gold") == 990


def test_a_hub_packet_that_times_out_is_refunded_on_the_hub(
    network: Network, gateway: Gateway
) -> None:
    receiver = gateway.web3.eth.accounts[EVM_RECEIVER_INDEX]
    timeout_ms = latest_time_ms(gateway.web3) + 2_000
    sequence = send_from_hub(network, 40, receiver, timeout_ms)
    assert balance(network, "org1/alice", "gold") == 960
    # The EVM chain's time passes the timeout before any gateway signs.
    advance_time(gateway.web3, 30)
    network.mine(6)
    until(network, lambda: hub_packet_state(network, sequence) == "timed_out")
    assert balance(network, "org1/alice", "gold") == 1000


def test_an_evm_packet_the_hub_never_receives_is_refunded_on_the_evm_side(
    network: Network, gateway: Gateway
) -> None:
    receiver = gateway.web3.eth.accounts[EVM_RECEIVER_INDEX]
    sequence = send_from_hub(network, 60, receiver, int(time.time() * 1000) + 600_000)
    until(network, lambda: hub_packet_state(network, sequence) == "acknowledged")
    voucher_path = f"transfer/{HUB_CLIENT}/gold"
    timeout_ms = latest_time_ms(gateway.web3) + 5_000
    transact(
        gateway,
        gateway.transfer.functions.sendTransfer(voucher_path, 25, "org1/alice", timeout_ms, b""),
        receiver,
    )
    voucher = gateway.voucher(voucher_path)
    assert voucher.functions.balanceOf(receiver).call() == 35
    # The hub's time passes the timeout before any gateway carries the packet.
    network.hub.advance(1, interval_ms=timeout_ms - network.hub.time_ms + 1_000)
    until(network, lambda: voucher.functions.balanceOf(receiver).call() == 60)
    assert balance(network, "org1/alice", "gold") == 940
    for _ in range(2):
        network.rounds()
    assert voucher.functions.balanceOf(receiver).call() == 60


def test_a_forged_attestation_is_refused_by_the_hub(network: Network, gateway: Gateway) -> None:
    honest = network.gateways[0]
    forger = GatewayRounds(
        Endpoint(network.hub),
        EvmSide(honest.evm.rpc_url, honest.evm.chain_id, honest.evm.endpoint.address, OUTSIDER_KEY),
        honest.settings,
    )
    network.mine(honest.settings.checkpoint_blocks + 2)
    before = network.hub.state.copy()
    (report,) = network.rounds([forger])
    assert report.attestations == 0
    assert any("not a committee member" in failure for failure in report.failures)
    clients_state = {k: v for k, v in network.hub.state.items() if k.startswith(b"sys/clients/")}
    assert clients_state == {k: v for k, v in before.items() if k.startswith(b"sys/clients/")}


def test_an_evm_native_erc20_goes_to_the_hub_by_escrow_and_comes_back(
    network: Network, gateway: Gateway
) -> None:
    web3 = gateway.web3
    owner = gateway.user
    token = contracts.deploy(web3, contracts.TEST_TOKEN_CONTRACT, owner, "Native", "NAT", 500)
    denom = f"erc20/{token.address.lower()}"
    transact(gateway, token.functions.approve(gateway.transfer.address, 200), owner)
    transact(
        gateway,
        gateway.transfer.functions.sendTransfer(
            denom, 200, "org2/bob", latest_time_ms(web3) + 600_000, b""
        ),
        owner,
    )
    hub_denom = f"transfer/{HUB_CLIENT}/{denom}"
    until(network, lambda: balance(network, "org2/bob", hub_denom) == 200)
    until(network, lambda: not network.gateways[0].sent)
    assert token.functions.balanceOf(gateway.transfer.address).call() == 200

    # Home again: bob sends 50 back to an EVM account; the app releases them from escrow.
    receiver = web3.eth.accounts[EVM_RECEIVER_INDEX]
    result = check_ok(
        network.hub.run(
            "org2/bob",
            "transfer",
            "send",
            interchain_pb2.TransferSendArguments(
                source_client=HUB_CLIENT,
                denom=hub_denom,
                amount=50,
                receiver=receiver,
                timeout_ms=int(time.time() * 1000) + 600_000,
            ),
        )
    )
    sequence = interchain_pb2.TransferSendResult.FromString(result.return_value).sequence
    until(network, lambda: hub_packet_state(network, sequence) == "acknowledged")
    assert token.functions.balanceOf(receiver).call() == 50
    assert gateway.transfer.functions.escrowed(token.address).call() == 150
    assert balance(network, "org2/bob", hub_denom) == 150


class LyingHub(Endpoint):
    """A hub node that lists a packet the hub never sent (an unproven query can say anything):
    the gateway must prove the commitment before it signs."""

    def __init__(self, hub: Endpoint, forged: interchain_pb2.Packet) -> None:
        super().__init__(hub.chain)
        self.forged = forged

    def query(self, contract: str, method: str, arguments: Message) -> bytes:
        data = super().query(contract, method, arguments)
        if (contract, method) != ("packets", "list"):
            return data
        result = interchain_pb2.PacketsListResult.FromString(data)
        result.sent.append(interchain_pb2.PacketRecord(packet=self.forged, state="in_flight"))
        return result.SerializeToString()


def test_a_packet_the_hub_did_not_commit_is_never_signed(
    network: Network, gateway: Gateway
) -> None:
    forged = transfer_packet(
        gateway.web3,
        receiver=gateway.web3.eth.accounts[EVM_RECEIVER_INDEX],
        source_client=HUB_CLIENT,
        sequence=77,
        amount=10**6,
    )
    honest = network.gateways[0]
    fooled = GatewayRounds(LyingHub(Endpoint(network.hub), forged), honest.evm, honest.settings)
    report = fooled.run_round()
    assert report.evm_receives == 0
    assert any("commitment is not proven" in failure for failure in report.failures)
    digest = honest.evm.receive_digest(evm_codec.packet_hash(forged))
    assert gateway.endpoint.functions.signatureCount(digest).call() == 0


class ForgedAcknowledgementHub(Endpoint):
    """A hub node that answers, for the receipt of an EVM packet, a failed acknowledgement the
    hub never wrote (so that the EVM side would refund tokens the hub credited)."""

    def __init__(self, hub: Endpoint, packet: interchain_pb2.Packet) -> None:
        super().__init__(hub.chain)
        self.packet = packet

    def prove(
        self, keys: Sequence[bytes], height: int
    ) -> list[tuple[bytes | None, types_pb2.StateProof]]:
        answers = super().prove(keys, height)
        record_key = PACKETS_NAMESPACE + received_key(HUB_CLIENT, self.packet.sequence)
        forged = interchain_pb2.ReceiptRecord(
            packet=self.packet,
            acknowledgement=interchain_pb2.Acknowledgement(success=False, error="forged"),
        ).SerializeToString()
        return [
            (forged if key == record_key else value, proof)
            for key, (value, proof) in zip(keys, answers, strict=True)
        ]


def test_an_acknowledgement_the_hub_did_not_write_is_never_signed(
    network: Network, gateway: Gateway
) -> None:
    receiver = gateway.web3.eth.accounts[EVM_RECEIVER_INDEX]
    sequence = send_from_hub(network, 30, receiver, int(time.time() * 1000) + 600_000)
    until(network, lambda: hub_packet_state(network, sequence) == "acknowledged")
    voucher_path = f"transfer/{HUB_CLIENT}/gold"
    receipt = transact(
        gateway,
        gateway.transfer.functions.sendTransfer(
            voucher_path, 30, "org1/alice", latest_time_ms(gateway.web3) + 600_000, b""
        ),
        receiver,
    )
    (sent,) = events(gateway.endpoint, "PacketSent", receipt)
    packet = evm_codec.decode_packet(sent["args"]["packet"])
    honest = network.gateways[0]
    fooled = GatewayRounds(
        ForgedAcknowledgementHub(Endpoint(network.hub), packet), honest.evm, honest.settings
    )
    for _ in range(3):
        report = fooled.run_round()
        network.mine()
    assert report.evm_acknowledgements == 0
    assert any("not proven" in failure for failure in report.failures), report.failures
    forged_ack = evm_codec.encode_acknowledgement(
        interchain_pb2.Acknowledgement(success=False, error="forged")
    )
    digest = honest.evm.acknowledge_digest(evm_codec.packet_hash(packet), forged_ack)
    assert gateway.endpoint.functions.signatureCount(digest).call() == 0
    assert gateway.voucher(voucher_path).functions.balanceOf(receiver).call() == 0


def test_more_deliveries_than_one_relay_transaction_holds(
    network: Network, gateway: Gateway
) -> None:
    web3 = gateway.web3
    owner = gateway.user
    count = RELAY_DELIVERIES_PER_TRANSACTION + 3
    token = contracts.deploy(web3, contracts.TEST_TOKEN_CONTRACT, owner, "Many", "MNY", count)
    denom = f"erc20/{token.address.lower()}"
    transact(gateway, token.functions.approve(gateway.transfer.address, count), owner)
    timeout_ms = latest_time_ms(web3) + 600_000
    # All in one block: one attestation covers them, one round carries them all.
    web3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        for _ in range(count):
            gateway.transfer.functions.sendTransfer(denom, 1, "org2/bob", timeout_ms, b"").transact(
                {"from": owner}
            )
        network.mine()
    finally:
        web3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    hub_denom = f"transfer/{HUB_CLIENT}/{denom}"
    until(network, lambda: balance(network, "org2/bob", hub_denom) == count)
    until(network, lambda: not network.gateways[0].sent)
    assert gateway.transfer.functions.escrowed(token.address).call() == count
