"""The pure EVM helpers (causeway.interchain.evm) on vectors recorded from anvil: headers and
receipts decode and hash as the EVM chain does, good proofs verify, and every tampering or wrong
expectation is refused with a clear error."""

from __future__ import annotations

import pytest
import rlp  # type: ignore[import-untyped]
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak
from evm_vectors import (
    COMMITTEE_KEYS,
    block,
    endpoint,
    header_rlp,
    log_index,
    nodes,
    packet,
    receipt_proof,
    receipts,
    storage_proof,
    transaction_index,
    vectors,
)

from causeway.errors import DecodeError, ProofError, SignatureError
from causeway.interchain import evm, packets
from causeway.interchain.v1 import interchain_pb2

# -- headers and receipts ---------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1])
def test_header_rlp_from_json_hashes_to_the_block_hash(index: int) -> None:
    recorded = block(index)
    encoded = evm.header_rlp_from_json(recorded["block_json"])
    assert encoded == header_rlp(index)
    header = evm.decode_header(encoded)
    assert header.block_hash == evm.hex_bytes(recorded["hash"])
    assert header.number == recorded["number"]
    assert header.timestamp == int(recorded["block_json"]["timestamp"], 16)
    assert header.state_root == evm.hex_bytes(recorded["block_json"]["stateRoot"])
    assert header.receipts_root == evm.hex_bytes(recorded["block_json"]["receiptsRoot"])
    assert header.parent_hash == evm.hex_bytes(recorded["block_json"]["parentHash"])


def test_receipts_from_json_make_the_receipts_root_for_legacy_and_typed() -> None:
    recorded = block(0)
    encoded = [evm.receipt_from_json(receipt) for receipt in recorded["receipts_json"]]
    assert encoded == receipts(0)
    assert evm.receipts_root(encoded) == evm.decode_header(header_rlp(0)).receipts_root
    types = {evm.decode_receipt(receipt).transaction_type for receipt in encoded}
    assert types == {0, 2}


def test_a_header_that_is_not_london_to_prague_is_refused() -> None:
    fields = rlp.decode(header_rlp(0))
    with pytest.raises(DecodeError, match="fields, not 16 to 21"):
        evm.decode_header(rlp.encode(fields[:15]))
    with pytest.raises(DecodeError, match="fields, not 16 to 21"):
        evm.decode_header(rlp.encode([*fields, bytes(32)] + [bytes(32)] * (22 - len(fields))))
    with pytest.raises(DecodeError, match="stateRoot is 31 bytes"):
        evm.decode_header(rlp.encode([*fields[:3], bytes(31), *fields[4:]]))
    with pytest.raises(DecodeError, match="not valid RLP"):
        evm.decode_header(header_rlp(0)[:-1])
    with pytest.raises(DecodeError, match="leading zero"):
        evm.decode_header(rlp.encode([*fields[:8], b"\x00\x03", *fields[9:]]))
    with pytest.raises(DecodeError, match="above the limit"):
        evm.decode_header(b"\x00" * (evm.HEADER_BYTES_MAX + 1))


def test_a_receipt_that_is_not_post_byzantium_is_refused() -> None:
    with pytest.raises(DecodeError, match="empty"):
        evm.decode_receipt(b"")
    with pytest.raises(DecodeError, match="type 9"):
        evm.decode_receipt(b"\x09" + rlp.encode([b"\x01", b"", bytes(256), []]))
    with pytest.raises(DecodeError, match="no status"):
        evm.decode_receipt(rlp.encode([bytes(32), b"", bytes(256), []]))


# -- receipt proofs ---------------------------------------------------------------------------


def _verify(label: str, **overrides: object) -> evm.EvmLog:
    arguments: dict[str, object] = {
        "receipts_root": evm.decode_header(header_rlp(0)).receipts_root,
        "transaction_index": transaction_index(label),
        "nodes": receipt_proof(label),
        "log_index": log_index(label),
        "address": endpoint(),
        "topic0": evm.PACKET_SENT_TOPIC,
    }
    arguments.update(overrides)
    return evm.verify_receipt_log(**arguments)  # type: ignore[arg-type]


def test_a_packet_sent_log_is_proven_and_carries_the_packet() -> None:
    sent = packet("evm_to_hub")
    log = _verify("evm_to_hub")
    assert log.topics[1] == evm.packet_hash(sent)
    assert log.data == evm.packet_sent_data(sent)
    assert evm.hex_bytes(vectors()["packets"]["evm_to_hub"]["abi"]) == evm.encode_packet(sent)


def test_a_log_that_is_not_the_first_is_proven_at_its_index() -> None:
    log = _verify("evm_to_hub_second_log", log_index=1)
    assert log.data == evm.packet_sent_data(packet("evm_to_hub_second_log"))


def test_an_acknowledgement_written_log_is_proven() -> None:
    log = _verify("hub_to_evm_received", topic0=evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC)
    packet_bytes, acknowledgement = evm.decode_acknowledgement_written(log.data)
    assert packet_bytes == evm.encode_packet(packet("hub_to_evm_received"))
    assert evm.decode_acknowledgement(acknowledgement) == interchain_pb2.Acknowledgement(
        success=True, result=b"\x01"
    )


def test_a_tampered_node_is_refused() -> None:
    proof = receipt_proof("evm_to_hub")
    last = bytearray(proof[-1])
    last[-5] ^= 1
    with pytest.raises(ProofError, match="does not lead from the root"):
        _verify("evm_to_hub", nodes=[*proof[:-1], bytes(last)])


def test_a_node_that_is_not_rlp_is_refused() -> None:
    with pytest.raises(ProofError, match="not RLP"):
        _verify("evm_to_hub", nodes=[b"\xff\xff"])


def test_a_wrong_root_is_refused() -> None:
    with pytest.raises(ProofError, match="does not lead from the root"):
        _verify("evm_to_hub", receipts_root=keccak(b"another root"))
    with pytest.raises(ProofError, match="non-zero"):
        _verify("evm_to_hub", receipts_root=bytes(32))


def test_a_proof_of_another_index_is_refused() -> None:
    with pytest.raises(ProofError, match="does not lead from the root"):
        _verify("evm_to_hub", nodes=receipt_proof("plain_transfer"))


def test_a_wrong_log_index_is_refused() -> None:
    with pytest.raises(ProofError, match="has 1 logs, no log 1"):
        _verify("evm_to_hub", log_index=1)
    # Log 0 of that transaction is the app's own event.
    with pytest.raises(ProofError, match="not the endpoint"):
        _verify("evm_to_hub_second_log", log_index=0)
    # Log 0 of the receive that executed is the endpoint's Attested event.
    with pytest.raises(ProofError, match="not the event expected"):
        _verify("hub_to_evm_received", log_index=0, topic0=evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC)


def test_a_log_of_another_contract_is_refused() -> None:
    with pytest.raises(ProofError, match="not the endpoint"):
        _verify("evm_to_hub_impostor")
    with pytest.raises(ProofError, match="not the endpoint"):
        _verify("evm_to_hub", address=evm.hex_bytes(vectors()["impostor"]))


def test_a_wrong_topic_is_refused() -> None:
    with pytest.raises(ProofError, match="not the event expected"):
        _verify("evm_to_hub", topic0=evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC)


def test_a_failed_transaction_proves_nothing() -> None:
    with pytest.raises(ProofError, match="status 0"):
        _verify("evm_to_hub_failed")


def test_an_absent_index_proves_nothing() -> None:
    absent = len(receipts(0)) + 3
    proof = evm.build_receipt_proof(receipts(0), absent)
    with pytest.raises(ProofError, match="absent receipt proves nothing"):
        _verify("evm_to_hub", transaction_index=absent, nodes=proof)


def test_proof_bounds_are_enforced() -> None:
    with pytest.raises(ProofError, match="no nodes"):
        _verify("evm_to_hub", nodes=[])
    with pytest.raises(ProofError, match="above the limit"):
        _verify("evm_to_hub", nodes=[b"\xc0"] * (evm.PROOF_NODES_MAX + 1))


# -- storage proofs ---------------------------------------------------------------------------


def _storage(label: str) -> tuple[bytes, bytes, list[bytes], list[bytes]]:
    recorded = storage_proof(label)
    state_root = evm.decode_header(header_rlp(1)).state_root
    slot = evm.received_slot(evm.packet_hash(packet(label)))
    assert slot == evm.hex_bytes(recorded["slot"])
    return state_root, slot, nodes(recorded["account_proof"]), nodes(recorded["storage_proof"])


def test_a_received_packet_is_proven_present_and_never_absent() -> None:
    state_root, slot, account, storage = _storage("hub_to_evm_received")
    evm.verify_storage_value(state_root, endpoint(), slot, account, storage, b"\x01")
    with pytest.raises(ProofError, match="not absent"):
        evm.verify_storage_absent(state_root, endpoint(), slot, account, storage)


def test_a_packet_never_received_is_proven_absent_and_never_present() -> None:
    state_root, slot, account, storage = _storage("hub_to_evm_timed_out")
    evm.verify_storage_absent(state_root, endpoint(), slot, account, storage)
    with pytest.raises(ProofError, match="holds nothing"):
        evm.verify_storage_value(state_root, endpoint(), slot, account, storage, b"\x01")


def test_a_storage_proof_for_another_slot_or_account_is_refused() -> None:
    state_root, slot, account, storage = _storage("hub_to_evm_timed_out")
    _, other_slot, _, _ = _storage("hub_to_evm_received")
    # The endpoint's storage trie holds one slot, so one leaf proves both: the received slot's
    # value, and the absence of the other. It never shows the received slot absent.
    with pytest.raises(ProofError):
        evm.verify_storage_absent(state_root, endpoint(), other_slot, account, storage)
    with pytest.raises(ProofError, match="does not lead from the root"):
        evm.verify_storage_absent(
            state_root, evm.hex_bytes(vectors()["impostor"]), slot, account, storage
        )
    with pytest.raises(ProofError, match="does not lead from the root"):
        evm.verify_storage_absent(keccak(b"other"), endpoint(), slot, account, storage)
    tampered = bytearray(account[-1])
    tampered[-3] ^= 1
    with pytest.raises(ProofError, match="does not lead from the root"):
        evm.verify_storage_absent(
            state_root, endpoint(), slot, [*account[:-1], bytes(tampered)], storage
        )


# -- ABI codecs -------------------------------------------------------------------------------


def test_packet_abi_round_trips_and_refuses_non_canonical_bytes() -> None:
    sent = packet("evm_to_hub")
    encoded = evm.encode_packet(sent)
    assert evm.decode_packet(encoded) == sent
    with pytest.raises(DecodeError, match="not ABI-encoded"):
        evm.decode_packet(encoded[:-1])
    with pytest.raises(DecodeError, match="canonical"):
        evm.decode_packet(encoded + bytes(32))


def test_transfer_data_round_trips_and_refuses_amounts_above_uint64() -> None:
    data = interchain_pb2.TransferPacketData(
        denom="gold", amount=evm.UINT64_MAX, sender="org1/alice", receiver="0x" + "ab" * 20
    )
    assert evm.decode_transfer_data(evm.encode_transfer_data(data)) == data
    too_large = packet("evm_to_hub_too_large").payload.value
    with pytest.raises(DecodeError, match="does not fit in 64 bits"):
        evm.decode_transfer_data(too_large)
    with pytest.raises(DecodeError):
        evm.decode_transfer_data(abi_encode(["string"], ["gold"]))


def test_acknowledgement_abi_round_trips() -> None:
    refused = interchain_pb2.Acknowledgement(success=False, error="no")
    assert evm.decode_acknowledgement(evm.encode_acknowledgement(refused)) == refused
    assert evm.encode_acknowledgement(refused) == abi_encode(
        ["bool", "bytes", "string"], [False, b"", "no"]
    )


# -- digests and signatures -------------------------------------------------------------------


def test_digests_are_the_solidity_abi_encodings_the_endpoint_hashes() -> None:
    address, packet_hash = endpoint(), evm.packet_hash(packet("evm_to_hub"))
    acknowledgement = evm.hex_bytes(vectors()["acknowledgement"])
    assert evm.header_digest(31337, packet_hash) == keccak(
        abi_encode(["string", "uint256", "bytes32"], ["causeway-evm-header-v1", 31337, packet_hash])
    )
    for digest, domain in (
        (evm.receive_digest(31337, address, packet_hash), "causeway-evm-receive-v1"),
        (evm.timeout_digest(31337, address, packet_hash), "causeway-evm-timeout-v1"),
    ):
        assert digest == keccak(
            abi_encode(
                ["string", "uint256", "address", "bytes32"], [domain, 31337, address, packet_hash]
            )
        )
    assert evm.acknowledge_digest(31337, address, packet_hash, acknowledgement) == keccak(
        abi_encode(
            ["string", "uint256", "address", "bytes32", "bytes32"],
            [
                "causeway-evm-acknowledge-v1",
                31337,
                address,
                packet_hash,
                keccak(acknowledgement),
            ],
        )
    )
    assert len({evm.header_digest(1, packet_hash), evm.header_digest(2, packet_hash)}) == 2


def test_signer_recovery_agrees_with_eth_account() -> None:
    digest = evm.header_digest(31337, keccak(b"block"))
    for key in COMMITTEE_KEYS:
        signed = Account.unsafe_sign_hash(digest, key)
        assert evm.recover_signer(digest, bytes(signed.signature)) == evm.address_of(key)
        assert evm.sign_digest(key, digest) == bytes(signed.signature)


def test_malformed_and_malleable_signatures_are_refused() -> None:
    digest = evm.header_digest(31337, keccak(b"block"))
    signature = evm.sign_digest(COMMITTEE_KEYS[0], digest)
    with pytest.raises(SignatureError, match="64 bytes, not 65"):
        evm.recover_signer(digest, signature[:64])
    with pytest.raises(SignatureError, match="v is 1"):
        evm.recover_signer(digest, signature[:64] + b"\x01")
    s = int.from_bytes(signature[32:64], "big")
    high = (evm.signatures.SECP256K1_ORDER - s).to_bytes(32, "big")
    flipped = bytes([55 - signature[64]])
    with pytest.raises(SignatureError, match="malleable"):
        evm.recover_signer(digest, signature[:32] + high + flipped)
    with pytest.raises(SignatureError, match="r is outside"):
        evm.recover_signer(digest, bytes(32) + signature[32:])
    with pytest.raises(SignatureError, match="digest is 31 bytes"):
        evm.recover_signer(digest[:31], signature)
    # A signature over another digest recovers another address, never the signer's.
    other = evm.header_digest(31337, keccak(b"other block"))
    assert evm.recover_signer(other, signature) != evm.address_of(COMMITTEE_KEYS[0])


def test_the_vectors_committee_is_the_test_keys() -> None:
    assert vectors()["committee"] == ["0x" + evm.address_of(key).hex() for key in COMMITTEE_KEYS]
    assert "CausewayEndpoint" in vectors()["contracts"]


def test_a_failure_without_a_reason_or_with_a_long_one_is_made_acceptable() -> None:
    assert evm.ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX == packets.ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX
    silent = evm.decode_acknowledgement(abi_encode(["bool", "bytes", "string"], [False, b"", ""]))
    assert silent == interchain_pb2.Acknowledgement(success=False, error=evm.EMPTY_FAILURE_REASON)
    packets.check_acknowledgement(silent)
    long = evm.decode_acknowledgement(
        abi_encode(["bool", "bytes", "string"], [False, b"", "x" * 5_000])
    )
    assert long.error == "x" * evm.ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX
    packets.check_acknowledgement(long)
    # A success keeps what it said.
    assert evm.decode_acknowledgement(
        abi_encode(["bool", "bytes", "string"], [True, b"\x01", ""])
    ) == interchain_pb2.Acknowledgement(success=True, result=b"\x01")


@pytest.mark.parametrize(
    ("label", "topic0"),
    [
        ("evm_to_hub", evm.PACKET_SENT_TOPIC),
        ("evm_to_hub_second_log", evm.PACKET_SENT_TOPIC),
        ("hub_to_evm_received", evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC),
        ("hub_to_evm_refused", evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC),
    ],
)
def test_a_gateway_finds_the_log_to_prove(label: str, topic0: bytes) -> None:
    receipt = receipts(0)[transaction_index(label)]
    found = evm.find_log_index(receipt, endpoint(), topic0, evm.packet_hash(packet(label)))
    assert found == log_index(label)


def test_finding_a_log_refuses_a_failed_or_foreign_receipt() -> None:
    failed = receipts(0)[transaction_index("evm_to_hub_failed")]
    with pytest.raises(ProofError, match="failed transaction"):
        evm.find_log_index(failed, endpoint(), evm.PACKET_SENT_TOPIC, bytes(32))
    sent = receipts(0)[transaction_index("evm_to_hub")]
    with pytest.raises(ProofError, match="holds no log"):
        evm.find_log_index(
            sent, endpoint(), evm.PACKET_SENT_TOPIC, evm.packet_hash(packet("evm_to_hub_forward"))
        )
