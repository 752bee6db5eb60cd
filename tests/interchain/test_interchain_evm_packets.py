"""Packets between the hub and an EVM chain, on vectors recorded from anvil: a transfer from the
EVM chain received on a receipt proof of its PacketSent log and credited; transfers to the EVM
chain acknowledged on a receipt proof of AcknowledgementWritten and timed out on a storage proof
of received[packetHash] absent; every proof that does not show exactly that is refused, with
nothing changed. The hub's registry lists the EVM chain with its committee trust."""

from __future__ import annotations

import pytest
from evm_hub import (
    EVM_CHAIN,
    EVM_CLIENT,
    EVM_GENESIS_HASH,
    GOLD_ISSUED,
    LATER_BLOCK,
    PACKETS_BLOCK,
    EvmHub,
    build_evm_hub,
    committee,
    header_of,
    status,
)
from evm_vectors import (
    log_index,
    nodes,
    packet,
    receipt_proof,
    receipts,
    storage_proof,
    transaction_index,
    vectors,
)
from interchain_chain import check_ok

from causeway.cli.interchain_commands import member_data
from causeway.interchain import bank, evm, hub
from causeway.interchain.v1 import interchain_pb2
from causeway.types.v1 import types_pb2

VOUCHER = f"transfer/{EVM_CLIENT}/erc20/0x" + "cd" * 20
RECEIVER = evm.decode_transfer_data(packet("evm_to_hub").payload.value).receiver
ESCROW = bank.escrow_account("transfer", EVM_CLIENT)


@pytest.fixture
def evm_hub() -> EvmHub:
    built = build_evm_hub()
    built.attest_by(3, header_of(PACKETS_BLOCK))
    return built


def _balance(evm_hub: EvmHub, account: str, denom: str) -> int:
    result = check_ok(
        evm_hub.hub.query(
            "bank", "balance", interchain_pb2.BankBalanceArguments(account=account, denom=denom)
        )
    )
    return interchain_pb2.BankBalanceResult.FromString(result.return_value).amount


def _receipt_proof(label: str, **fields: object) -> interchain_pb2.EvmReceiptProof:
    proof = interchain_pb2.EvmReceiptProof(
        height=PACKETS_BLOCK,
        transaction_index=transaction_index(label),
        nodes=receipt_proof(label),
        log_index=log_index(label),
    )
    for name, value in fields.items():
        if name == "nodes":
            del proof.nodes[:]
            proof.nodes.extend(value)  # type: ignore[arg-type]
        else:
            setattr(proof, name, value)
    return proof


def _receive(
    evm_hub: EvmHub, sent: interchain_pb2.Packet, proof: interchain_pb2.EvmReceiptProof
) -> types_pb2.TransactionResult:
    return evm_hub.hub.run(
        "org1/relayer",
        "packets",
        "receive",
        interchain_pb2.PacketsReceiveArguments(packet=sent, evm_proof=proof),
    )


def _received(evm_hub: EvmHub, sequence: int) -> interchain_pb2.ReceiptRecord | None:
    result = check_ok(
        evm_hub.hub.query(
            "packets",
            "get",
            interchain_pb2.PacketsGetArguments(
                client_id=EVM_CLIENT, side="received", sequence=sequence
            ),
        )
    )
    found = interchain_pb2.PacketsGetResult.FromString(result.return_value)
    return found.received if found.HasField("received") else None


def _sent(evm_hub: EvmHub, sequence: int) -> interchain_pb2.PacketRecord:
    result = check_ok(
        evm_hub.hub.query(
            "packets",
            "get",
            interchain_pb2.PacketsGetArguments(
                client_id=EVM_CLIENT, side="sent", sequence=sequence
            ),
        )
    )
    return interchain_pb2.PacketsGetResult.FromString(result.return_value).sent


def _state(evm_hub: EvmHub) -> dict[bytes, bytes]:
    return {
        key: value
        for key, value in evm_hub.hub.state.items()
        if key.startswith((b"sys/packets/", b"bank/", b"transfer/"))
    }


# -- from the EVM chain -------------------------------------------------------------------------


def test_a_transfer_from_the_evm_chain_is_received_and_credited(evm_hub: EvmHub) -> None:
    sent = packet("evm_to_hub")
    result = check_ok(_receive(evm_hub, sent, _receipt_proof("evm_to_hub")))
    assert interchain_pb2.PacketsRelayResult.FromString(result.return_value).outcomes == ["done"]
    assert _balance(evm_hub, RECEIVER, VOUCHER) == 500
    record = _received(evm_hub, sent.sequence)
    assert record is not None
    assert record.acknowledgement.success
    # A second delivery is a no-op.
    again = check_ok(_receive(evm_hub, sent, _receipt_proof("evm_to_hub")))
    assert interchain_pb2.PacketsRelayResult.FromString(again.return_value).outcomes == ["noop"]
    assert _balance(evm_hub, RECEIVER, VOUCHER) == 500


def test_a_packet_sent_as_a_later_log_is_received_at_its_log_index(evm_hub: EvmHub) -> None:
    sent = packet("evm_to_hub_second_log")
    check_ok(_receive(evm_hub, sent, _receipt_proof("evm_to_hub_second_log", log_index=1)))
    assert _balance(evm_hub, RECEIVER, VOUCHER) == 7


def test_an_amount_above_uint64_is_acknowledged_as_an_error(evm_hub: EvmHub) -> None:
    sent = packet("evm_to_hub_too_large")
    check_ok(_receive(evm_hub, sent, _receipt_proof("evm_to_hub_too_large")))
    record = _received(evm_hub, sent.sequence)
    assert record is not None
    assert not record.acknowledgement.success
    assert "does not fit in 64 bits" in record.acknowledgement.error
    assert _balance(evm_hub, RECEIVER, VOUCHER) == 0


def _tampered_nodes(label: str) -> list[bytes]:
    proof = receipt_proof(label)
    last = bytearray(proof[-1])
    last[-7] ^= 1
    return [*proof[:-1], bytes(last)]


def _other_amount(label: str) -> interchain_pb2.Packet:
    changed = interchain_pb2.Packet()
    changed.CopyFrom(packet(label))
    data = evm.decode_transfer_data(changed.payload.value)
    data.amount = 5_000_000
    changed.payload.value = evm.encode_transfer_data(data)
    return changed


@pytest.mark.parametrize(
    ("label", "sent", "fields", "fragment"),
    [
        ("evm_to_hub", None, {"nodes": "tampered"}, "does not lead from the root"),
        # The later block holds no transaction: its receipts trie is empty.
        ("evm_to_hub", None, {"height": LATER_BLOCK}, "absent receipt proves nothing"),
        ("evm_to_hub", None, {"height": 2}, "no consensus state at height 2"),
        ("evm_to_hub", None, {"log_index": 1}, "no log 1"),
        ("evm_to_hub", None, {"transaction_index": 0}, "does not lead from the root"),
        ("evm_to_hub_second_log", None, {"log_index": 0}, "not the endpoint"),
        ("hub_to_evm_received", "evm_to_hub", {"log_index": 0}, "not the event expected"),
        ("evm_to_hub_failed", None, {}, "status 0"),
        ("evm_to_hub_impostor", None, {}, "not the endpoint"),
        ("evm_to_hub", "evm_to_hub_second_log", {}, "is of another packet"),
        ("evm_to_hub", "other amount", {}, "is of another packet"),
        ("hub_to_evm_received", "evm_to_hub", {}, "not the event expected"),
    ],
)
def test_a_receipt_proof_that_does_not_show_the_packet_is_refused(
    evm_hub: EvmHub, label: str, sent: str | None, fields: dict[str, object], fragment: str
) -> None:
    if fields.get("nodes") == "tampered":
        fields = {**fields, "nodes": _tampered_nodes(label)}
    if sent is None:
        delivered = packet(label)
    elif sent == "other amount":
        delivered = _other_amount(label)
    else:
        delivered = packet(sent)
    before = _state(evm_hub)
    result = _receive(evm_hub, delivered, _receipt_proof(label, **fields))
    assert status(result) in {"INVALID_ARGUMENT", "NOT_FOUND"}, result.error
    assert fragment in result.error
    assert _state(evm_hub) == before


def test_an_absent_receipt_proves_no_packet(evm_hub: EvmHub) -> None:
    absent = len(receipts(0)) + 2
    proof = _receipt_proof(
        "evm_to_hub",
        transaction_index=absent,
        nodes=evm.build_receipt_proof(receipts(0), absent),
    )
    result = _receive(evm_hub, packet("evm_to_hub"), proof)
    assert "absent receipt proves nothing" in result.error


def test_a_packet_from_the_evm_chain_needs_an_evm_proof(evm_hub: EvmHub) -> None:
    result = evm_hub.hub.run(
        "org1/relayer",
        "packets",
        "receive",
        interchain_pb2.PacketsReceiveArguments(packet=packet("evm_to_hub"), proof_height=3),
    )
    assert status(result) == "INVALID_ARGUMENT"
    assert "needs an EVM proof" in result.error


# -- to the EVM chain ---------------------------------------------------------------------------


def _send(evm_hub: EvmHub, label: str, **overrides: object) -> types_pb2.TransactionResult:
    recorded = packet(label)
    data = evm.decode_transfer_data(recorded.payload.value)
    arguments = interchain_pb2.TransferSendArguments(
        source_client=EVM_CLIENT,
        denom=data.denom,
        amount=data.amount,
        receiver=data.receiver,
        timeout_ms=recorded.timeout_ms,
    )
    for name, value in overrides.items():
        setattr(arguments, name, value)
    return evm_hub.hub.run("org1/alice", "transfer", "send", arguments)


def _sent_both(evm_hub: EvmHub) -> None:
    """The hub sends the two packets the vectors recorded on the EVM side, byte for byte."""
    for sequence, label in ((1, "hub_to_evm_received"), (2, "hub_to_evm_timed_out")):
        check_ok(_send(evm_hub, label))
        record = _sent(evm_hub, sequence)
        assert record.packet == packet(label)
        assert record.packet.payload.encoding == evm.SOLIDITY_ABI_ENCODING
    assert _balance(evm_hub, "org1/alice", "gold") == GOLD_ISSUED - 200
    assert _balance(evm_hub, ESCROW, "gold") == 200


def _acknowledge(
    evm_hub: EvmHub,
    label: str,
    acknowledgement: interchain_pb2.Acknowledgement,
    proof: interchain_pb2.EvmReceiptProof,
) -> types_pb2.TransactionResult:
    return evm_hub.hub.run(
        "org1/relayer",
        "packets",
        "acknowledge",
        interchain_pb2.PacketsAcknowledgeArguments(
            packet=packet(label), acknowledgement=acknowledgement, evm_proof=proof
        ),
    )


RECORDED_ACKNOWLEDGEMENT = interchain_pb2.Acknowledgement(success=True, result=b"\x01")


def test_a_packet_to_the_evm_chain_is_acknowledged_by_a_receipt_proof(evm_hub: EvmHub) -> None:
    _sent_both(evm_hub)
    proof = _receipt_proof("hub_to_evm_received")
    result = check_ok(_acknowledge(evm_hub, "hub_to_evm_received", RECORDED_ACKNOWLEDGEMENT, proof))
    assert interchain_pb2.PacketsRelayResult.FromString(result.return_value).outcomes == ["done"]
    record = _sent(evm_hub, 1)
    assert record.state == "acknowledged"
    assert record.acknowledgement == RECORDED_ACKNOWLEDGEMENT
    # Success: the tokens stay in escrow (the EVM chain holds vouchers for them).
    assert _balance(evm_hub, ESCROW, "gold") == 200
    again = check_ok(_acknowledge(evm_hub, "hub_to_evm_received", RECORDED_ACKNOWLEDGEMENT, proof))
    assert interchain_pb2.PacketsRelayResult.FromString(again.return_value).outcomes == ["noop"]


@pytest.mark.parametrize(
    ("acknowledgement", "fields", "fragment"),
    [
        (
            interchain_pb2.Acknowledgement(success=False, error="refused"),
            {},
            "is not the one delivered",
        ),
        (RECORDED_ACKNOWLEDGEMENT, {"label": "evm_to_hub"}, "not the event expected"),
        # A committee signature that did not reach the threshold: only an Attested log.
        (
            RECORDED_ACKNOWLEDGEMENT,
            {"label": "hub_to_evm_received_signature_1"},
            "not the event expected",
        ),
        (RECORDED_ACKNOWLEDGEMENT, {"nodes": "tampered"}, "does not lead from the root"),
    ],
)
def test_an_acknowledgement_proof_that_does_not_show_it_is_refused(
    evm_hub: EvmHub,
    acknowledgement: interchain_pb2.Acknowledgement,
    fields: dict[str, object],
    fragment: str,
) -> None:
    _sent_both(evm_hub)
    label = str(fields.pop("label", "hub_to_evm_received"))
    if fields.get("nodes") == "tampered":
        fields["nodes"] = _tampered_nodes(label)
    before = _state(evm_hub)
    result = _acknowledge(
        evm_hub, "hub_to_evm_received", acknowledgement, _receipt_proof(label, **fields)
    )
    assert status(result) == "INVALID_ARGUMENT"
    assert fragment in result.error
    assert _state(evm_hub) == before


def test_an_acknowledgement_of_another_packet_is_refused(evm_hub: EvmHub) -> None:
    _sent_both(evm_hub)
    # The AcknowledgementWritten log of packet 1 offered for packet 2.
    before = _state(evm_hub)
    result = _acknowledge(
        evm_hub,
        "hub_to_evm_timed_out",
        RECORDED_ACKNOWLEDGEMENT,
        _receipt_proof("hub_to_evm_received"),
    )
    assert "is of another packet" in result.error
    assert _state(evm_hub) == before


def test_an_error_acknowledgement_from_the_evm_chain_refunds(evm_hub: EvmHub) -> None:
    _sent_both(evm_hub)
    check_ok(_send(evm_hub, "hub_to_evm_refused"))
    assert _sent(evm_hub, 3).packet == packet("hub_to_evm_refused")
    assert _balance(evm_hub, "org1/alice", "gold") == GOLD_ISSUED - 300
    refusal = evm.decode_acknowledgement(evm.hex_bytes(vectors()["refusal"]))
    assert not refusal.success
    # The success the relayer might claim instead is not what the log holds.
    claimed = _acknowledge(
        evm_hub,
        "hub_to_evm_refused",
        RECORDED_ACKNOWLEDGEMENT,
        _receipt_proof("hub_to_evm_refused"),
    )
    assert "is not the one delivered" in claimed.error
    check_ok(
        _acknowledge(evm_hub, "hub_to_evm_refused", refusal, _receipt_proof("hub_to_evm_refused"))
    )
    record = _sent(evm_hub, 3)
    assert record.state == "acknowledged"
    assert record.acknowledgement == refusal
    assert _balance(evm_hub, "org1/alice", "gold") == GOLD_ISSUED - 200
    assert _balance(evm_hub, ESCROW, "gold") == 200


def _timeout(
    evm_hub: EvmHub, label: str, proof_of: str, height: int = LATER_BLOCK
) -> types_pb2.TransactionResult:
    recorded = storage_proof(proof_of)
    return evm_hub.hub.run(
        "org1/relayer",
        "packets",
        "timeout",
        interchain_pb2.PacketsTimeoutArguments(
            packet=packet(label),
            evm_proof=interchain_pb2.EvmStorageProof(
                height=height,
                account_nodes=nodes(recorded["account_proof"]),
                storage_nodes=nodes(recorded["storage_proof"]),
            ),
        ),
    )


def test_a_packet_to_the_evm_chain_times_out_on_a_storage_proof_and_refunds(
    evm_hub: EvmHub,
) -> None:
    _sent_both(evm_hub)
    result = check_ok(_timeout(evm_hub, "hub_to_evm_timed_out", "hub_to_evm_timed_out"))
    assert interchain_pb2.PacketsRelayResult.FromString(result.return_value).outcomes == ["done"]
    assert _sent(evm_hub, 2).state == "timed_out"
    assert _balance(evm_hub, "org1/alice", "gold") == GOLD_ISSUED - 100
    assert _balance(evm_hub, ESCROW, "gold") == 100
    again = check_ok(_timeout(evm_hub, "hub_to_evm_timed_out", "hub_to_evm_timed_out"))
    assert interchain_pb2.PacketsRelayResult.FromString(again.return_value).outcomes == ["noop"]


def test_a_received_packet_never_times_out(evm_hub: EvmHub) -> None:
    _sent_both(evm_hub)
    before = _state(evm_hub)
    result = _timeout(evm_hub, "hub_to_evm_received", "hub_to_evm_received")
    assert status(result) == "INVALID_ARGUMENT"
    assert "not absent" in result.error
    assert _state(evm_hub) == before


def test_a_timeout_before_the_timeout_time_or_with_a_bad_proof_is_refused(
    evm_hub: EvmHub,
) -> None:
    _sent_both(evm_hub)
    before = _state(evm_hub)
    # The proof made at the later block, offered for the packets block (whose time, 20 s, is
    # before packet 2's timeout): refused either way.
    early = _timeout(evm_hub, "hub_to_evm_timed_out", "hub_to_evm_timed_out", PACKETS_BLOCK)
    assert status(early) == "INVALID_ARGUMENT"
    assert "does not lead from the root" in early.error or "times out at" in early.error
    missing = _timeout(evm_hub, "hub_to_evm_timed_out", "hub_to_evm_timed_out", 2)
    assert "no consensus state at height 2" in missing.error
    recorded = storage_proof("hub_to_evm_timed_out")
    tampered = bytearray(evm.hex_bytes(recorded["account_proof"][-1]))
    tampered[-4] ^= 1
    result = evm_hub.hub.run(
        "org1/relayer",
        "packets",
        "timeout",
        interchain_pb2.PacketsTimeoutArguments(
            packet=packet("hub_to_evm_timed_out"),
            evm_proof=interchain_pb2.EvmStorageProof(
                height=LATER_BLOCK,
                account_nodes=[*nodes(recorded["account_proof"])[:-1], bytes(tampered)],
                storage_nodes=nodes(recorded["storage_proof"]),
            ),
        ),
    )
    assert "does not lead from the root" in result.error
    assert _state(evm_hub) == before


def test_a_send_to_the_evm_chain_needs_an_address_receiver(evm_hub: EvmHub) -> None:
    before = _state(evm_hub)
    result = _send(evm_hub, "hub_to_evm_received", receiver="org2/bob")
    assert status(result) == "INVALID_ARGUMENT"
    assert "must be an address" in result.error
    assert _state(evm_hub) == before


# -- the hub's registry -------------------------------------------------------------------------


def _member(**fields: object) -> interchain_pb2.MemberChain:
    member = interchain_pb2.MemberChain(
        chain_id=EVM_CHAIN,
        genesis_hash=EVM_GENESIS_HASH,
        crypto_profile="evm",
        consensus="evm-committee",
        endpoints=["127.0.0.1:8545"],
        client_id=EVM_CLIENT,
    )
    for name, value in fields.items():
        if isinstance(value, interchain_pb2.EvmCommittee | types_pb2.ValidatorSet):
            getattr(member, name).CopyFrom(value)
        else:
            setattr(member, name, value)
    return member


def test_an_evm_chain_registers_on_the_hub_with_its_committee_trust(evm_hub: EvmHub) -> None:
    check_ok(
        evm_hub.governance("hub", "register", interchain_pb2.HubRegisterArguments(member=_member()))
    )
    result = check_ok(
        evm_hub.hub.query("hub", "get", interchain_pb2.HubGetArguments(chain_id=EVM_CHAIN))
    )
    member = interchain_pb2.MemberChain.FromString(result.return_value)
    assert member.evm == committee()
    assert hub.member_trust(member) == (
        "gateway committee: 3 of 4 operators (weaker: trusts the operators)"
    )
    shown = member_data(member)
    assert shown["trust"] == hub.member_trust(member)
    assert shown["committee"]["threshold"] == 3
    assert len(shown["committee"]["operators"]) == 4


def test_a_causeway_member_states_light_client_trust() -> None:
    validators = types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(member_id=f"org{n}/node", voting_power=10) for n in range(1, 5)
        ]
    )
    member = interchain_pb2.MemberChain(consensus="tbft", validator_set=validators)
    assert hub.member_trust(member) == "light client: >2/3 of 4 validators"
    assert member_data(member)["committee"] is None


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"crypto_profile": "intl"}, "has crypto profile 'evm'"),
        (
            {
                "validator_set": types_pb2.ValidatorSet(
                    validators=[types_pb2.Validator(member_id="org1/node", voting_power=1)]
                )
            },
            "has no validator set",
        ),
        (
            {"evm": interchain_pb2.EvmCommittee(evm_chain_id=1, threshold=1)},
            "not the one client client-0 holds",
        ),
        ({"genesis_hash": b"\x09" * 32}, "genesis hash"),
        ({"consensus": "tbft"}, "crypto profile 'evm' is not one of"),
    ],
)
def test_an_evm_member_that_does_not_match_its_client_is_refused(
    evm_hub: EvmHub, fields: dict[str, object], fragment: str
) -> None:
    result = evm_hub.governance(
        "hub", "register", interchain_pb2.HubRegisterArguments(member=_member(**fields))
    )
    assert status(result) == "INVALID_ARGUMENT", result.error
    assert fragment in result.error


def test_vectors_name_the_clients_the_hub_uses() -> None:
    assert vectors()["hub_client"] == EVM_CLIENT
    assert packet("hub_to_evm_received").source_client == EVM_CLIENT


def test_a_packet_past_its_timeout_on_the_hub_is_not_received(evm_hub: EvmHub) -> None:
    sent = packet("evm_to_hub")
    evm_hub.hub.advance(1, interval_ms=sent.timeout_ms - evm_hub.hub.time_ms)
    before = _state(evm_hub)
    result = _receive(evm_hub, sent, _receipt_proof("evm_to_hub"))
    assert status(result) == "INVALID_ARGUMENT"
    assert "timed out" in result.error
    assert _state(evm_hub) == before


def test_a_relay_batch_carries_evm_proofs_each_in_its_own_savepoint(evm_hub: EvmHub) -> None:
    batch = interchain_pb2.PacketsRelayArguments(
        receives=[
            interchain_pb2.PacketsReceiveArguments(
                packet=packet("evm_to_hub"), evm_proof=_receipt_proof("evm_to_hub")
            ),
            interchain_pb2.PacketsReceiveArguments(
                packet=packet("evm_to_hub_failed"), evm_proof=_receipt_proof("evm_to_hub_failed")
            ),
        ]
    )
    result = check_ok(evm_hub.hub.run("org1/relayer", "packets", "relay", batch))
    outcomes = interchain_pb2.PacketsRelayResult.FromString(result.return_value).outcomes
    assert outcomes[0] == "done"
    assert outcomes[1].startswith("failed:")
    assert "status 0" in outcomes[1]
    assert _balance(evm_hub, RECEIVER, VOUCHER) == 500


def test_a_receipt_proof_is_charged_by_its_bytes(evm_hub: EvmHub) -> None:
    proof = _receipt_proof("evm_to_hub")
    result = check_ok(_receive(evm_hub, packet("evm_to_hub"), proof))
    assert result.cost.gas_used >= evm.proof_bytes(proof.nodes)
