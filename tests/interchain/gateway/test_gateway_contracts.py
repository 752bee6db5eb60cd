"""The gateway's Solidity contracts on a real anvil: the endpoint's k-of-n committee (per-signer
accumulation, forged, non-member and malformed signatures, replay), its packet checks (client
ids, timeouts), the event data equal to evm-client's ABI codecs, and the transfer app's vouchers,
escrow, release and refunds."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from gateway_support import (
    ANVIL_CHAIN_ID,
    COMMITTEE,
    COMMITTEE_KEYS,
    HUB_CLIENT_ID,
    LOCAL_CLIENT_ID,
    OUTSIDER_KEY,
    Gateway,
    acknowledge_signature,
    advance_time,
    deploy_test_gateway,
    events,
    latest_time_ms,
    receive,
    receive_signature,
    timeout_signature,
    transact,
    transfer_packet,
)
from web3 import Web3
from web3.exceptions import ContractLogicError

from causeway.errors import RequestError
from causeway.interchain import evm as evm_codec
from causeway.interchain.gateways import contracts
from causeway.interchain.v1 import interchain_pb2

VOUCHER_PATH = f"transfer/{LOCAL_CLIENT_ID}/token"


def reverts(call: object, reason: str) -> None:
    with pytest.raises(ContractLogicError, match=reason):
        call.call()  # type: ignore[attr-defined]


# --- the committee -------------------------------------------------------------------------


def test_deployment_records_the_committee_and_the_clients(gateway: Gateway) -> None:
    endpoint = gateway.endpoint.functions
    assert endpoint.committeeMembers().call() == list(COMMITTEE)
    assert endpoint.threshold().call() == 2
    assert endpoint.localClientId().call() == LOCAL_CLIENT_ID
    assert endpoint.hubClientId().call() == HUB_CLIENT_ID
    assert endpoint.appOf("transfer").call() == gateway.transfer.address


@pytest.mark.parametrize(
    ("committee", "threshold", "reason"),
    [
        (COMMITTEE, 1, "more than half"),
        (COMMITTEE, 4, "at most all"),
        ((COMMITTEE[0], COMMITTEE[0], COMMITTEE[1]), 2, "distinct"),
        ((), 1, "1 to 16"),
    ],
)
def test_a_bad_committee_is_refused_before_deployment(
    web3: Web3, committee: tuple[str, ...], threshold: int, reason: str
) -> None:
    with pytest.raises(RequestError, match=reason):
        contracts.deploy_gateway(
            web3,
            web3.eth.accounts[0],
            local_client_id=LOCAL_CLIENT_ID,
            hub_client_id=HUB_CLIENT_ID,
            committee=committee,
            threshold=threshold,
        )


def test_the_endpoint_itself_refuses_a_bad_threshold(web3: Web3) -> None:
    compiled = contracts.compiled_contracts()[contracts.ENDPOINT_CONTRACT]
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    with pytest.raises(ContractLogicError, match="more than half"):
        factory.constructor(LOCAL_CLIENT_ID, HUB_CLIENT_ID, list(COMMITTEE), 1).estimate_gas(
            {"from": web3.eth.accounts[0]}
        )


def test_k_minus_one_signatures_do_nothing_the_kth_executes_later_ones_are_no_ops(
    gateway: Gateway,
) -> None:
    packet = transfer_packet(gateway.web3, receiver=gateway.user)
    packet_hash = evm_codec.packet_hash(packet)
    first = receive(gateway, packet, COMMITTEE_KEYS[0])
    assert events(gateway.endpoint, "AcknowledgementWritten", first) == []
    assert [event["args"]["signer"] for event in events(gateway.endpoint, "Attested", first)] == [
        COMMITTEE[0]
    ]
    assert gateway.endpoint.functions.received(packet_hash).call() is False
    # The same member again: still one signature.
    again = receive(gateway, packet, COMMITTEE_KEYS[0])
    assert events(gateway.endpoint, "Attested", again) == []
    assert gateway.endpoint.functions.received(packet_hash).call() is False

    second = receive(gateway, packet, COMMITTEE_KEYS[1])
    written = events(gateway.endpoint, "AcknowledgementWritten", second)
    assert len(written) == 1
    assert gateway.endpoint.functions.received(packet_hash).call() is True
    assert gateway.voucher(VOUCHER_PATH).functions.balanceOf(gateway.user).call() == 100

    # The third member's signature, and a replay of the second: no-ops, nothing minted again.
    for key in (COMMITTEE_KEYS[2], COMMITTEE_KEYS[1]):
        late = receive(gateway, packet, key)
        assert events(gateway.endpoint, "AcknowledgementWritten", late) == []
        assert events(gateway.endpoint, "Attested", late) == []
    assert gateway.voucher(VOUCHER_PATH).functions.balanceOf(gateway.user).call() == 100


def test_forged_non_member_and_malformed_signatures_revert(gateway: Gateway) -> None:
    packet = transfer_packet(gateway.web3, receiver=gateway.user)
    encoded = evm_codec.encode_packet(packet)
    valid = receive_signature(gateway, packet, COMMITTEE_KEYS[0])
    other_digest = evm_codec.sign_digest(COMMITTEE_KEYS[0], keccak(b"another digest"))
    r, s, v = valid[:32], int.from_bytes(valid[32:64], "big"), valid[64]
    high_s = r + (evm_codec.signatures.SECP256K1_ORDER - s).to_bytes(32, "big") + bytes([v ^ 1])
    bad = {
        "outsider": receive_signature(gateway, packet, OUTSIDER_KEY),
        "signature over another digest": other_digest,
        "tampered s": valid[:40] + bytes([valid[40] ^ 1]) + valid[41:],
        "short": valid[:64],
        "v is 0": valid[:64] + b"\x00",
        "malleable high s": high_s,
        "empty": b"",
    }
    for signature in bad.values():
        reverts(
            gateway.endpoint.functions.receivePacket(encoded, signature), "not a committee member"
        )
    # A member's valid signature passes the same call.
    gateway.endpoint.functions.receivePacket(encoded, valid).call()


def test_a_signature_for_another_endpoint_or_chain_counts_for_nothing(
    gateway: Gateway, web3: Web3
) -> None:
    other = deploy_test_gateway(web3)
    packet = transfer_packet(web3, receiver=gateway.user)
    signature = receive_signature(other, packet, COMMITTEE_KEYS[0])
    reverts(
        gateway.endpoint.functions.receivePacket(evm_codec.encode_packet(packet), signature),
        "not a committee member",
    )
    wrong_chain = evm_codec.sign_digest(
        COMMITTEE_KEYS[0],
        evm_codec.receive_digest(
            ANVIL_CHAIN_ID + 1, gateway.endpoint_address, evm_codec.packet_hash(packet)
        ),
    )
    reverts(
        gateway.endpoint.functions.receivePacket(evm_codec.encode_packet(packet), wrong_chain),
        "not a committee member",
    )


# --- packet checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"destination_client": "client-9"}, "not for this endpoint"),
        ({"source_client": "client-9"}, "not from the hub's client"),
    ],
)
def test_a_packet_for_another_client_is_refused(
    gateway: Gateway, fields: dict[str, str], reason: str
) -> None:
    packet = transfer_packet(gateway.web3, receiver=gateway.user, **fields)  # type: ignore[arg-type]
    call = gateway.endpoint.functions.receivePacket(
        evm_codec.encode_packet(packet), receive_signature(gateway, packet, COMMITTEE_KEYS[0])
    )
    reverts(call, reason)


def test_a_timed_out_packet_is_never_received(gateway: Gateway) -> None:
    web3 = gateway.web3
    packet = transfer_packet(web3, receiver=gateway.user, timeout_ms=latest_time_ms(web3) + 5_000)
    receive(gateway, packet, COMMITTEE_KEYS[0])
    advance_time(web3, 10)
    call = gateway.endpoint.functions.receivePacket(
        evm_codec.encode_packet(packet), receive_signature(gateway, packet, COMMITTEE_KEYS[1])
    )
    reverts(call, "packet timed out")
    assert gateway.endpoint.functions.received(evm_codec.packet_hash(packet)).call() is False


def test_a_malformed_packet_reverts(gateway: Gateway) -> None:
    garbage = b"\x01" * 40
    signature = evm_codec.sign_digest(
        COMMITTEE_KEYS[0],
        evm_codec.receive_digest(ANVIL_CHAIN_ID, gateway.endpoint_address, keccak(garbage)),
    )
    with pytest.raises(ContractLogicError):
        gateway.endpoint.functions.receivePacket(garbage, signature).call()


# --- events equal the interface's encodings --------------------------------------------------


def test_acknowledgement_written_carries_the_interface_encodings(gateway: Gateway) -> None:
    packet = transfer_packet(gateway.web3, receiver=gateway.user)
    receive(gateway, packet, COMMITTEE_KEYS[0])
    receipt = receive(gateway, packet, COMMITTEE_KEYS[2])
    (log,) = [
        log
        for log in receipt["logs"]
        if log["topics"][0] == evm_codec.ACKNOWLEDGEMENT_WRITTEN_TOPIC
    ]
    assert bytes(log["topics"][1]) == evm_codec.packet_hash(packet)
    written_packet, acknowledgement = evm_codec.decode_acknowledgement_written(bytes(log["data"]))
    assert written_packet == evm_codec.encode_packet(packet)
    assert acknowledgement == evm_codec.encode_acknowledgement(
        interchain_pb2.Acknowledgement(success=True, result=b"\x01")
    )


def test_an_app_failure_becomes_an_error_acknowledgement_and_changes_nothing(
    gateway: Gateway,
) -> None:
    packet = transfer_packet(gateway.web3, receiver="not-an-address")
    receive(gateway, packet, COMMITTEE_KEYS[0])
    receipt = receive(gateway, packet, COMMITTEE_KEYS[1])
    (written,) = events(gateway.endpoint, "AcknowledgementWritten", receipt)
    acknowledgement = evm_codec.decode_acknowledgement(written["args"]["acknowledgement"])
    assert acknowledgement.success is False
    assert "not an address" in acknowledgement.error
    assert gateway.transfer.functions.voucherOf(VOUCHER_PATH).call() == "0x" + "00" * 20


def test_a_packet_for_an_unbound_port_gets_an_error_acknowledgement(gateway: Gateway) -> None:
    packet = transfer_packet(gateway.web3, receiver=gateway.user, destination_port="nothing")
    receive(gateway, packet, COMMITTEE_KEYS[0])
    (written,) = events(
        gateway.endpoint, "AcknowledgementWritten", receive(gateway, packet, COMMITTEE_KEYS[1])
    )
    assert evm_codec.decode_acknowledgement(written["args"]["acknowledgement"]).error == (
        "no application bound to the port"
    )


def send_home(
    gateway: Gateway, amount: int, timeout_ms: int | None = None
) -> tuple[interchain_pb2.Packet, object]:
    timeout = timeout_ms if timeout_ms is not None else latest_time_ms(gateway.web3) + 3_600_000
    receipt = transact(
        gateway,
        gateway.transfer.functions.sendTransfer(
            VOUCHER_PATH, amount, "causeway-receiver", timeout, b""
        ),
        gateway.user,
    )
    (sent,) = events(gateway.endpoint, "PacketSent", receipt)
    return evm_codec.decode_packet(sent["args"]["packet"]), receipt


def test_packet_sent_carries_the_interface_encodings_and_burns_the_voucher(
    gateway: Gateway,
) -> None:
    incoming = transfer_packet(gateway.web3, receiver=gateway.user)
    receive(gateway, incoming, COMMITTEE_KEYS[0])
    receive(gateway, incoming, COMMITTEE_KEYS[1])
    packet, receipt = send_home(gateway, 30)
    (log,) = [log for log in receipt["logs"] if log["topics"][0] == evm_codec.PACKET_SENT_TOPIC]  # type: ignore[index]
    assert bytes(log["data"]) == evm_codec.packet_sent_data(packet)
    assert bytes(log["topics"][1]) == evm_codec.packet_hash(packet)
    assert (packet.source_client, packet.destination_client, packet.sequence) == (
        LOCAL_CLIENT_ID,
        HUB_CLIENT_ID,
        1,
    )
    assert packet.payload.encoding == evm_codec.SOLIDITY_ABI_ENCODING
    data = evm_codec.decode_transfer_data(packet.payload.value)
    assert (data.denom, data.amount, data.sender, data.receiver) == (
        VOUCHER_PATH,
        30,
        gateway.user.lower(),
        "causeway-receiver",
    )
    assert packet.payload.value == abi_encode(
        ["string", "uint256", "string", "string", "bytes"],
        [VOUCHER_PATH, 30, gateway.user.lower(), "causeway-receiver", b""],
    )
    assert gateway.voucher(VOUCHER_PATH).functions.balanceOf(gateway.user).call() == 70
    assert gateway.endpoint.functions.commitments(evm_codec.packet_hash(packet)).call() is True
    second, _ = send_home(gateway, 1)
    assert second.sequence == 2


def test_sending_more_than_held_or_an_unknown_denomination_reverts(gateway: Gateway) -> None:
    timeout = latest_time_ms(gateway.web3) + 60_000
    functions = gateway.transfer.functions
    reverts(functions.sendTransfer(VOUCHER_PATH, 1, "r", timeout, b""), "no voucher")
    reverts(functions.sendTransfer("gold", 1, "r", timeout, b""), "unknown denomination")
    reverts(functions.sendTransfer(VOUCHER_PATH, 0, "r", timeout, b""), "positive")
    reverts(functions.sendTransfer(VOUCHER_PATH, 2**64, "r", timeout, b""), "64 bits")


# --- acknowledgements, refunds, timeouts --------------------------------------------------------


def acknowledge(
    gateway: Gateway, packet: interchain_pb2.Packet, success: bool, key: bytes
) -> object:
    acknowledgement = evm_codec.encode_acknowledgement(
        interchain_pb2.Acknowledgement(
            success=success, result=b"\x01" if success else b"", error="" if success else "refused"
        )
    )
    return transact(
        gateway,
        gateway.endpoint.functions.acknowledgePacket(
            evm_codec.encode_packet(packet),
            acknowledgement,
            acknowledge_signature(gateway, packet, acknowledgement, key),
        ),
    )


def with_vouchers(gateway: Gateway, amount: int = 100) -> None:
    incoming = transfer_packet(gateway.web3, receiver=gateway.user, amount=amount)
    receive(gateway, incoming, COMMITTEE_KEYS[0])
    receive(gateway, incoming, COMMITTEE_KEYS[1])


def test_a_success_acknowledgement_ends_the_packet_without_refund(gateway: Gateway) -> None:
    with_vouchers(gateway)
    packet, _ = send_home(gateway, 40)
    acknowledge(gateway, packet, True, COMMITTEE_KEYS[0])
    assert gateway.endpoint.functions.commitments(evm_codec.packet_hash(packet)).call() is True
    receipt = acknowledge(gateway, packet, True, COMMITTEE_KEYS[1])
    assert len(events(gateway.endpoint, "PacketAcknowledged", receipt)) == 1
    assert gateway.endpoint.functions.commitments(evm_codec.packet_hash(packet)).call() is False
    assert gateway.voucher(VOUCHER_PATH).functions.balanceOf(gateway.user).call() == 60
    # Late signatures are no-ops.
    assert (
        events(
            gateway.endpoint,
            "PacketAcknowledged",
            acknowledge(gateway, packet, True, COMMITTEE_KEYS[2]),
        )
        == []
    )


def test_an_error_acknowledgement_refunds_the_voucher(gateway: Gateway) -> None:
    with_vouchers(gateway)
    packet, _ = send_home(gateway, 40)
    acknowledge(gateway, packet, False, COMMITTEE_KEYS[0])
    acknowledge(gateway, packet, False, COMMITTEE_KEYS[2])
    assert gateway.voucher(VOUCHER_PATH).functions.balanceOf(gateway.user).call() == 100


def test_a_timeout_refunds_and_a_later_acknowledgement_is_refused(gateway: Gateway) -> None:
    with_vouchers(gateway)
    packet, _ = send_home(gateway, 25)
    encoded = evm_codec.encode_packet(packet)
    for key in COMMITTEE_KEYS[:2]:
        receipt = transact(
            gateway,
            gateway.endpoint.functions.timeoutPacket(
                encoded, timeout_signature(gateway, packet, key)
            ),
        )
    assert len(events(gateway.endpoint, "PacketTimedOut", receipt)) == 1
    assert gateway.voucher(VOUCHER_PATH).functions.balanceOf(gateway.user).call() == 100
    acknowledgement = evm_codec.encode_acknowledgement(interchain_pb2.Acknowledgement(success=True))
    reverts(
        gateway.endpoint.functions.acknowledgePacket(
            encoded,
            acknowledgement,
            acknowledge_signature(gateway, packet, acknowledgement, COMMITTEE_KEYS[0]),
        ),
        "not in flight",
    )


def test_an_acknowledgement_of_a_packet_never_sent_is_refused(gateway: Gateway) -> None:
    packet = transfer_packet(gateway.web3, receiver=gateway.user)
    acknowledgement = evm_codec.encode_acknowledgement(interchain_pb2.Acknowledgement(success=True))
    reverts(
        gateway.endpoint.functions.acknowledgePacket(
            evm_codec.encode_packet(packet),
            acknowledgement,
            acknowledge_signature(gateway, packet, acknowledgement, COMMITTEE_KEYS[0]),
        ),
        "not in flight",
    )
    reverts(
        gateway.endpoint.functions.timeoutPacket(
            evm_codec.encode_packet(packet), timeout_signature(gateway, packet, COMMITTEE_KEYS[0])
        ),
        "not in flight",
    )


def test_the_apps_callbacks_answer_only_the_endpoint(gateway: Gateway) -> None:
    packet = evm_codec.encode_packet(transfer_packet(gateway.web3, receiver=gateway.user))
    reverts(gateway.transfer.functions.onReceive(packet), "only the endpoint")
    reverts(gateway.transfer.functions.onTimeout(packet), "only the endpoint")


def test_only_a_bound_app_sends_packets(gateway: Gateway) -> None:
    reverts(
        gateway.endpoint.functions.sendPacket(
            "transfer", "v", "e", b"", latest_time_ms(gateway.web3) + 60_000
        ),
        "not bound to a port",
    )


# --- EVM-native ERC-20: escrow and release -------------------------------------------------------


def test_an_erc20_goes_out_by_escrow_comes_back_by_release_and_refunds_on_timeout(
    gateway: Gateway,
) -> None:
    web3 = gateway.web3
    token = contracts.deploy(web3, contracts.TEST_TOKEN_CONTRACT, gateway.user, "Test", "TST", 1000)
    denom = f"erc20/{token.address.lower()}"
    transact(gateway, token.functions.approve(gateway.transfer.address, 2**256 - 1), gateway.user)
    timeout = latest_time_ms(web3) + 3_600_000
    reverts(
        gateway.transfer.functions.sendTransfer(f"erc20/{token.address}", 1, "r", timeout, b""),
        "lower-case",
    )
    receipt = transact(
        gateway,
        gateway.transfer.functions.sendTransfer(denom, 300, "receiver", timeout, b""),
        gateway.user,
    )
    (sent,) = events(gateway.endpoint, "PacketSent", receipt)
    packet = evm_codec.decode_packet(sent["args"]["packet"])
    assert token.functions.balanceOf(gateway.transfer.address).call() == 300
    assert gateway.transfer.functions.escrowed(token.address).call() == 300

    # The hub sends 100 of it back (its voucher path starts with the hub's own prefix).
    home = transfer_packet(
        web3, denom=f"transfer/{HUB_CLIENT_ID}/{denom}", amount=100, receiver=gateway.sender
    )
    receive(gateway, home, COMMITTEE_KEYS[1])
    receive(gateway, home, COMMITTEE_KEYS[2])
    assert token.functions.balanceOf(gateway.sender).call() == 100
    assert gateway.transfer.functions.escrowed(token.address).call() == 200

    # More than escrowed: an error acknowledgement, nothing released.
    greedy = transfer_packet(
        web3,
        denom=f"transfer/{HUB_CLIENT_ID}/{denom}",
        amount=500,
        receiver=gateway.sender,
        sequence=2,
    )
    receive(gateway, greedy, COMMITTEE_KEYS[1])
    (written,) = events(
        gateway.endpoint, "AcknowledgementWritten", receive(gateway, greedy, COMMITTEE_KEYS[2])
    )
    assert (
        "more than escrowed"
        in evm_codec.decode_acknowledgement(written["args"]["acknowledgement"]).error
    )

    # The first send was received on the hub (acknowledged); a second one times out: refunded.
    acknowledge(gateway, packet, True, COMMITTEE_KEYS[0])
    acknowledge(gateway, packet, True, COMMITTEE_KEYS[1])
    receipt = transact(
        gateway,
        gateway.transfer.functions.sendTransfer(denom, 50, "receiver", timeout, b""),
        gateway.user,
    )
    (sent,) = events(gateway.endpoint, "PacketSent", receipt)
    late = evm_codec.decode_packet(sent["args"]["packet"])
    assert token.functions.balanceOf(gateway.user).call() == 650
    for key in COMMITTEE_KEYS[:2]:
        transact(
            gateway,
            gateway.endpoint.functions.timeoutPacket(
                evm_codec.encode_packet(late), timeout_signature(gateway, late, key)
            ),
        )
    assert token.functions.balanceOf(gateway.user).call() == 700
    assert gateway.transfer.functions.escrowed(token.address).call() == 200


def test_the_kth_signature_with_too_little_gas_for_the_app_reverts(gateway: Gateway) -> None:
    """Otherwise whoever sends the k-th signature could starve the app and have the packet
    acknowledged as failed."""
    packet = transfer_packet(gateway.web3, receiver=gateway.user)
    receive(gateway, packet, COMMITTEE_KEYS[0])
    call = gateway.endpoint.functions.receivePacket(
        evm_codec.encode_packet(packet), receive_signature(gateway, packet, COMMITTEE_KEYS[1])
    )
    with pytest.raises(ContractLogicError, match="not enough gas for the application"):
        call.call({"gas": 1_000_000})
    assert gateway.endpoint.functions.received(evm_codec.packet_hash(packet)).call() is False
    call.call({"gas": 5_000_000})
