"""The hub's evm-committee client: governance creates it with a valid committee only, k distinct
members' attestations store a header, a forged or foreign signature changes nothing, a repeat is
a no-op, two attested hashes at one height freeze it, it expires like any client, and gas is
charged for the work."""

from __future__ import annotations

import pytest
import rlp  # type: ignore[import-untyped]
from clients_support import contract_context, create_client
from eth_hash.auto import keccak
from evm_hub import (
    CLOCK_DRIFT_MS,
    EVM_CLIENT,
    LATER_BLOCK,
    PACKETS_BLOCK,
    TRUSTING_PERIOD_MS,
    EvmHub,
    build_evm_hub,
    committee,
    create_arguments,
    header_of,
    status,
)
from evm_vectors import COMMITTEE_KEYS, OUTSIDER_KEY, header_rlp
from interchain_chain import InterchainChain, check_ok

from causeway.errors import RequestError
from causeway.interchain import CHAIN_CONTRACTS, clients, evm
from causeway.interchain.v1 import interchain_pb2
from causeway.types.v1.types_pb2 import StateProof


@pytest.fixture
def evm_hub() -> EvmHub:
    return build_evm_hub()


def test_a_created_client_holds_the_committee_and_the_first_header(evm_hub: EvmHub) -> None:
    described = evm_hub.client()
    assert described.status == "active"
    assert described.client.consensus == "evm-committee"
    assert described.client.evm == committee()
    assert described.client.latest_height == LATER_BLOCK
    header = evm.decode_header(header_rlp(1))
    assert described.latest.block_hash == header.block_hash
    assert described.latest.state_root == header.state_root
    assert described.latest.receipts_root == header.receipts_root
    assert described.latest.time_ms == header.timestamp * 1000


def _fresh_hub() -> EvmHub:
    hub = InterchainChain("hub", "intl", contracts=CHAIN_CONTRACTS)
    hub.advance(1)
    return EvmHub(hub)


def _committee(**fields: object) -> interchain_pb2.EvmCommittee:
    base = committee()
    for name, value in fields.items():
        if name == "committee":
            del base.committee[:]
            base.committee.extend(value)  # type: ignore[arg-type]
        else:
            setattr(base, name, value)
    return base


ADDRESSES = [evm.address_of(key) for key in COMMITTEE_KEYS]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"evm": _committee(committee=[])}, "has 0 members, not 1 to 16"),
        (
            {"evm": _committee(committee=[bytes([n]) * 20 for n in range(1, 18)], threshold=9)},
            "has 17 members",
        ),
        ({"evm": _committee(committee=[ADDRESSES[0], ADDRESSES[0]])}, "names a member twice"),
        ({"evm": _committee(threshold=2)}, "threshold 2 of 4 members"),
        ({"evm": _committee(threshold=5)}, "threshold 5 of 4 members"),
        ({"evm": _committee(threshold=0)}, "threshold 0 of 4 members"),
        ({"evm": _committee(committee=[b"\x01" * 19])}, "not a non-zero 20-byte address"),
        ({"evm": _committee(committee=[bytes(20)])}, "not a non-zero 20-byte address"),
        ({"evm": _committee(endpoint_address=bytes(20))}, "endpoint address"),
        ({"evm": _committee(evm_chain_id=0)}, "EVM chain id is 0"),
        ({"crypto_profile": "intl"}, "has crypto profile 'evm'"),
        ({"evm_header": b""}, "needs its first EVM header"),
        ({"evm_header": header_rlp(1)[:-2]}, "the first header"),
        ({"single_signer_accepted": True}, "means nothing"),
    ],
)
def test_create_refuses_a_bad_committee_or_header(fields: dict[str, object], fragment: str) -> None:
    evm_hub = _fresh_hub()
    before = evm_hub.clients_state()
    result = evm_hub.governance("clients", "create", create_arguments(**fields))
    assert status(result) == "INVALID_ARGUMENT", result.error
    assert fragment in result.error
    assert evm_hub.clients_state() == before


def test_create_needs_governance() -> None:
    evm_hub = _fresh_hub()
    result = evm_hub.hub.run("org1/alice", "clients", "create", create_arguments())
    assert status(result) != "OK"
    assert evm_hub.clients_state() == {}


def test_a_committee_of_one_with_threshold_one_is_accepted() -> None:
    evm_hub = _fresh_hub()
    arguments = create_arguments(evm=_committee(committee=ADDRESSES[:1], threshold=1))
    check_ok(evm_hub.governance("clients", "create", arguments))


def test_k_distinct_attestations_store_the_header(evm_hub: EvmHub) -> None:
    header = header_of(PACKETS_BLOCK)
    first = check_ok(evm_hub.attest(COMMITTEE_KEYS[0], header))
    assert interchain_pb2.ClientsAttestResult.FromString(first.return_value).attestations == 1
    assert not evm_hub.has_state(PACKETS_BLOCK)
    # The same member again: a no-op, still one attestation.
    again = check_ok(evm_hub.attest(COMMITTEE_KEYS[0], header))
    assert interchain_pb2.ClientsAttestResult.FromString(again.return_value).attestations == 1
    second = interchain_pb2.ClientsAttestResult.FromString(
        check_ok(evm_hub.attest(COMMITTEE_KEYS[1], header)).return_value
    )
    assert (second.attestations, second.stored) == (2, False)
    assert not evm_hub.has_state(PACKETS_BLOCK)
    third = interchain_pb2.ClientsAttestResult.FromString(
        check_ok(evm_hub.attest(COMMITTEE_KEYS[2], header)).return_value
    )
    assert (third.attestations, third.stored) == (3, True)
    assert evm_hub.has_state(PACKETS_BLOCK)
    # The latest height stays the higher block the client started from.
    assert evm_hub.client().client.latest_height == LATER_BLOCK
    before = evm_hub.clients_state()
    late = check_ok(evm_hub.attest(COMMITTEE_KEYS[3], header))
    assert interchain_pb2.ClientsAttestResult.FromString(late.return_value).stored
    assert evm_hub.clients_state() == before


def test_an_outsider_or_a_forged_signature_changes_nothing(evm_hub: EvmHub) -> None:
    header = header_of(PACKETS_BLOCK)
    check_ok(evm_hub.attest(COMMITTEE_KEYS[0], header))
    before = evm_hub.clients_state()
    outsider = evm_hub.attest(OUTSIDER_KEY, header)
    assert status(outsider) == "PERMISSION_DENIED"
    assert "is not a committee member" in outsider.error
    # A member's signature over another chain's digest recovers someone else.
    other_chain = evm_hub.attest(COMMITTEE_KEYS[1], header, chain_id=1)
    assert status(other_chain) == "PERMISSION_DENIED"
    # A member's signature of another header, replayed for this one.
    replayed = evm.sign_digest(
        COMMITTEE_KEYS[1], evm.header_digest(31337, keccak(header_of(LATER_BLOCK)))
    )
    assert status(evm_hub.attest(COMMITTEE_KEYS[1], header, signature=replayed)) == (
        "PERMISSION_DENIED"
    )
    # Bytes that are no signature at all, and a malleable one.
    garbage = evm_hub.attest(COMMITTEE_KEYS[1], header, signature=b"\x01" * 65)
    assert status(garbage) in {"INVALID_ARGUMENT", "PERMISSION_DENIED"}
    good = evm.sign_digest(COMMITTEE_KEYS[1], evm.header_digest(31337, keccak(header)))
    high_s = (evm.signatures.SECP256K1_ORDER - int.from_bytes(good[32:64], "big")).to_bytes(
        32, "big"
    )
    malleable = evm_hub.attest(
        COMMITTEE_KEYS[1], header, signature=good[:32] + high_s + bytes([55 - good[64]])
    )
    assert status(malleable) == "INVALID_ARGUMENT"
    assert "malleable" in malleable.error
    short = evm_hub.attest(COMMITTEE_KEYS[1], header, signature=good[:64])
    assert "64 bytes, not 65" in short.error
    assert evm_hub.clients_state() == before
    assert not evm_hub.has_state(PACKETS_BLOCK)


def test_a_header_that_does_not_decode_is_refused(evm_hub: EvmHub) -> None:
    before = evm_hub.clients_state()
    fields = rlp.decode(header_of(PACKETS_BLOCK))
    for header, fragment in (
        (header_of(PACKETS_BLOCK)[:-1], "not valid RLP"),
        (rlp.encode(fields[:15]), "fields, not 16 to 21"),
        (rlp.encode([*fields[:3], bytes(32), *fields[4:]]), "zero state root"),
    ):
        result = evm_hub.attest(COMMITTEE_KEYS[0], header)
        assert status(result) == "INVALID_ARGUMENT"
        assert fragment in result.error
    assert evm_hub.clients_state() == before


def _conflicting_header() -> bytes:
    """The packets block with other extra data: the same height, another hash."""
    fields = rlp.decode(header_of(PACKETS_BLOCK))
    fields[12] = b"a fork"
    encoded: bytes = rlp.encode(fields)
    return encoded


def test_two_hashes_attested_at_one_height_freeze_the_client(evm_hub: EvmHub) -> None:
    evm_hub.attest_by(3, header_of(PACKETS_BLOCK))
    fork = _conflicting_header()
    results = evm_hub.attest_by(2, fork)
    assert not evm_hub.client().client.frozen_height, "k-1 attestations of a fork change nothing"
    assert [result.stored for result in results] == [False, False]
    frozen = check_ok(evm_hub.attest(COMMITTEE_KEYS[2], fork))
    assert "client_frozen" in [event.name for event in frozen.events]
    described = evm_hub.client()
    assert described.status == "frozen"
    assert described.client.frozen_height == PACKETS_BLOCK
    refused = evm_hub.attest(COMMITTEE_KEYS[3], header_of(PACKETS_BLOCK))
    assert status(refused) == "CONFLICT"
    assert "frozen" in refused.error


def test_a_fork_of_the_created_height_freezes_too(evm_hub: EvmHub) -> None:
    fields = rlp.decode(header_of(LATER_BLOCK))
    fields[12] = b"another later block"
    evm_hub.attest_by(3, rlp.encode(fields))
    assert evm_hub.client().client.frozen_height == LATER_BLOCK


def test_an_attested_time_out_of_order_freezes(evm_hub: EvmHub) -> None:
    fields = rlp.decode(header_of(PACKETS_BLOCK))
    # The packets block dated after the later block: no EVM chain makes that.
    fields[11] = (evm.decode_header(header_of(LATER_BLOCK)).timestamp + 1).to_bytes(4, "big")
    evm_hub.attest_by(3, rlp.encode(fields))
    described = evm_hub.client()
    assert described.client.frozen_height == PACKETS_BLOCK
    assert not evm_hub.has_state(PACKETS_BLOCK)


def test_a_causeway_update_or_recovery_of_an_evm_client_is_refused(evm_hub: EvmHub) -> None:
    update = evm_hub.hub.run(
        "org1/relayer",
        "clients",
        "update",
        interchain_pb2.ClientsUpdateArguments(client_id=EVM_CLIENT),
    )
    assert "is of an EVM chain" in update.error
    recovered = evm_hub.governance(
        "clients", "recover", interchain_pb2.ClientsRecoverArguments(client_id=EVM_CLIENT)
    )
    assert "committee is fixed" in recovered.error


def test_an_attestation_for_a_causeway_client_is_refused() -> None:
    home = InterchainChain("home", "intl", contracts=CHAIN_CONTRACTS)
    remote = InterchainChain("remote")
    remote.advance(2)
    client_id = create_client(home, remote, 2)
    result = home.run(
        "org1/relayer",
        "clients",
        "attest",
        interchain_pb2.ClientsAttestArguments(
            client_id=client_id, header_rlp=header_of(PACKETS_BLOCK), signature=b"\x00" * 65
        ),
    )
    assert status(result) == "INVALID_ARGUMENT"
    assert "not attestations" in result.error


def test_the_client_expires_after_its_trusting_period(evm_hub: EvmHub) -> None:
    latest_ms = evm_hub.client().latest.time_ms
    evm_hub.hub.advance(1, interval_ms=latest_ms + TRUSTING_PERIOD_MS - evm_hub.hub.time_ms)
    assert evm_hub.client().status == "expired"
    result = evm_hub.attest(COMMITTEE_KEYS[0], header_of(PACKETS_BLOCK))
    assert status(result) == "CONFLICT"
    assert "expired" in result.error


def test_a_header_beyond_the_clock_drift_is_refused() -> None:
    evm_hub = _fresh_hub()
    arguments = create_arguments(clock_drift_ms=CLOCK_DRIFT_MS // 10)
    result = evm_hub.governance("clients", "create", arguments)
    assert status(result) == "INVALID_ARGUMENT"
    assert "more than the clock drift" in result.error


def test_attesting_is_charged_for_the_recovery_and_the_hashing(evm_hub: EvmHub) -> None:
    header = header_of(PACKETS_BLOCK)
    result = check_ok(evm_hub.attest(COMMITTEE_KEYS[0], header))
    assert result.cost.gas_used >= clients.EVM_SIGNER_RECOVERY_GAS + len(header)


@pytest.mark.parametrize(
    ("members", "threshold"),
    [(16, 9), (16, 16), (3, 2), (2, 2), (1, 1)],
)
def test_committees_at_the_bounds_are_accepted(members: int, threshold: int) -> None:
    evm_hub = _fresh_hub()
    addresses = [bytes([number]) * 20 for number in range(1, members + 1)]
    arguments = create_arguments(evm=_committee(committee=addresses, threshold=threshold))
    check_ok(evm_hub.governance("clients", "create", arguments))


def test_an_evm_proof_for_a_causeway_client_is_refused() -> None:
    home = InterchainChain("home", "intl", contracts=CHAIN_CONTRACTS)
    remote = InterchainChain("remote")
    remote.advance(2)
    client_id = create_client(home, remote, 2)
    check_ok(
        home.governance(
            "clients",
            "register_counterparty",
            interchain_pb2.ClientsRegisterCounterpartyArguments(
                client_id=client_id, counterparty_client_id="client-0"
            ),
        )
    )
    sent = interchain_pb2.Packet(
        source_client="client-0",
        destination_client=client_id,
        sequence=1,
        timeout_ms=home.time_ms + 600_000,
        payload=interchain_pb2.Payload(source_port="transfer", destination_port="transfer"),
    )
    result = home.run(
        "org1/relayer",
        "packets",
        "receive",
        interchain_pb2.PacketsReceiveArguments(
            packet=sent, evm_proof=interchain_pb2.EvmReceiptProof(height=2)
        ),
    )
    assert status(result) == "INVALID_ARGUMENT"
    assert "is of a Causeway chain, not an EVM one" in result.error


def test_a_causeway_state_proof_against_an_evm_client_is_refused(evm_hub: EvmHub) -> None:
    context = contract_context(evm_hub.hub)
    with pytest.raises(RequestError, match="EVM storage proofs, not Causeway state proofs"):
        clients.verify_state(context, EVM_CLIENT, LATER_BLOCK, b"key", None, StateProof())
