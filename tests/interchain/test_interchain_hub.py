"""The hub's registry of member chains: governance registers a chain with the hub's client of it;
the record must match the client, and no organisation may hold too much of the chain's power."""

from __future__ import annotations

import pytest
from interchain_chain import Clock, InterchainChain, check_ok
from link_support import LINK_CONTRACTS, create_client_of

from causeway.interchain.hub import ENDPOINTS_MAX, concentrated
from causeway.interchain.v1 import interchain_pb2
from causeway.types.v1 import types_pb2


def status(result: types_pb2.TransactionResult) -> str:
    return types_pb2.ResultStatus.Name(result.status).removeprefix("RESULT_STATUS_")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> InterchainChain:
    return InterchainChain("hub", contracts=LINK_CONTRACTS, clock=clock)


def member_chain(clock: Clock, chain_id: str = "chain-a", **options: object) -> InterchainChain:
    chain = InterchainChain(chain_id, contracts=LINK_CONTRACTS, clock=clock, **options)  # type: ignore[arg-type]
    chain.advance(1)
    return chain


def member_record(
    hub: InterchainChain, chain: InterchainChain, client_id: str | None = None
) -> interchain_pb2.MemberChain:
    if client_id is None:
        client_id = create_client_of(hub, chain, single_signer_accepted=chain.validators == 1)
    return interchain_pb2.MemberChain(
        chain_id=chain.chain_id,
        genesis_hash=chain.genesis_hash,
        crypto_profile=chain.profile_name,
        consensus=chain.consensus,
        validator_set=chain.blocks[chain.height].validator_set,
        endpoints=["127.0.0.1:7101", "127.0.0.1:7102"],
        client_id=client_id,
    )


def register(
    hub: InterchainChain, member: interchain_pb2.MemberChain
) -> types_pb2.TransactionResult:
    return hub.governance("hub", "register", interchain_pb2.HubRegisterArguments(member=member))


def test_governance_registers_a_member_chain_with_its_client(
    hub: InterchainChain, clock: Clock
) -> None:
    chain = member_chain(clock)
    member = member_record(hub, chain)
    result = register(hub, member)
    assert status(result) == "OK", result.error
    stored = interchain_pb2.MemberChain.FromString(
        check_ok(
            hub.query("hub", "get", interchain_pb2.HubGetArguments(chain_id="chain-a"))
        ).return_value
    )
    assert stored.client_id == member.client_id
    assert stored.registered_time_ms == hub.time_ms
    listed = interchain_pb2.HubListResult.FromString(
        check_ok(hub.query("hub", "list", interchain_pb2.HubListArguments())).return_value
    )
    assert [m.chain_id for m in listed.members] == ["chain-a"]


def test_a_member_is_registered_once(hub: InterchainChain, clock: Clock) -> None:
    chain = member_chain(clock)
    member = member_record(hub, chain)
    check_ok(register(hub, member))
    again = register(hub, member)
    assert status(again) == "CONFLICT"
    assert "chain chain-a is registered already" in again.error
    # The same client under another chain id is refused too.
    other = interchain_pb2.MemberChain()
    other.CopyFrom(member)
    other.chain_id = "chain-x"
    result = register(hub, other)
    assert status(result) == "INVALID_ARGUMENT"
    assert "its chain id differ" in result.error


def test_only_governance_registers(hub: InterchainChain, clock: Clock) -> None:
    member = member_record(hub, member_chain(clock))
    result = hub.run(
        "org1/admin", "hub", "register", interchain_pb2.HubRegisterArguments(member=member)
    )
    assert status(result) == "ENDORSEMENT_POLICY_NOT_SATISFIED"


def test_a_record_that_does_not_match_its_client_is_refused(
    hub: InterchainChain, clock: Clock
) -> None:
    chain = member_chain(clock)
    member = member_record(hub, chain)
    for field, value, fragment in (
        ("genesis_hash", b"\x01" * 32, "genesis hash differ"),
        ("crypto_profile", "gm", "crypto profile differ"),
        ("consensus", "raft", "consensus differ"),
    ):
        changed = interchain_pb2.MemberChain()
        changed.CopyFrom(member)
        setattr(changed, field, value)
        result = register(hub, changed)
        assert status(result) == "INVALID_ARGUMENT", field
        assert fragment in result.error


def test_a_validator_set_the_client_does_not_trust_is_refused(
    hub: InterchainChain, clock: Clock
) -> None:
    chain = member_chain(clock)
    member = member_record(hub, chain)
    member.validator_set.validators[0].voting_power += 1
    result = register(hub, member)
    assert status(result) == "INVALID_ARGUMENT"
    assert f"is not the one client {member.client_id} trusts" in result.error


def test_a_member_without_a_client_is_refused(hub: InterchainChain, clock: Clock) -> None:
    member = member_record(hub, member_chain(clock), client_id="client-7")
    result = register(hub, member)
    assert status(result) != "OK"
    assert "client-7" in result.error


@pytest.mark.parametrize(
    ("consensus", "validators", "organisations"),
    [("tbft", 4, 2), ("tbft", 3, 3), ("tbft", 6, 3), ("raft", 3, 2)],
)
def test_ronin_a_chain_where_one_organisation_holds_too_much_power_is_refused(
    hub: InterchainChain, clock: Clock, consensus: str, validators: int, organisations: int
) -> None:
    chain = member_chain(
        clock, consensus=consensus, validators=validators, organisations=organisations
    )
    result = register(hub, member_record(hub, chain))
    assert status(result) == "INVALID_ARGUMENT"
    assert "org1 holds" in result.error
    assert "one organisation must not be able to stop or forge the chain" in result.error


@pytest.mark.parametrize(
    ("consensus", "validators", "organisations"),
    [("tbft", 4, 4), ("raft", 3, 3), ("tbft", 7, 4)],
)
def test_a_chain_with_power_spread_over_organisations_is_accepted(
    hub: InterchainChain, clock: Clock, consensus: str, validators: int, organisations: int
) -> None:
    chain = member_chain(
        clock, consensus=consensus, validators=validators, organisations=organisations
    )
    result = register(hub, member_record(hub, chain))
    assert status(result) == "OK", result.error


@pytest.mark.parametrize(
    ("consensus", "power", "total", "refused"),
    [
        ("tbft", 1, 3, True),  # exactly a third stops a BFT chain
        ("tbft", 33, 100, False),
        ("tbft", 34, 100, True),
        ("raft", 1, 3, False),  # a third of raft voters cannot stop it nor forge a certificate
        ("raft", 34, 100, True),
        ("solo", 1, 1, True),
    ],
)
def test_how_much_power_is_too_much(consensus: str, power: int, total: int, refused: bool) -> None:
    assert concentrated(consensus, power, total) is refused


def test_endpoints_are_bounded_and_must_be_host_and_port(
    hub: InterchainChain, clock: Clock
) -> None:
    chain = member_chain(clock)
    member = member_record(hub, chain)
    del member.endpoints[:]
    member.endpoints.extend(f"node{n}.example:7100" for n in range(ENDPOINTS_MAX + 1))
    result = register(hub, member)
    assert status(result) == "INVALID_ARGUMENT"
    assert f"above the limit of {ENDPOINTS_MAX}" in result.error
    for endpoint in ("127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":7100", "host:port"):
        del member.endpoints[:]
        member.endpoints.append(endpoint)
        result = register(hub, member)
        assert status(result) == "INVALID_ARGUMENT", endpoint
        assert "is not host:port" in result.error
    del member.endpoints[:]
    member.endpoints.extend(f"node{n}.example:65535" for n in range(ENDPOINTS_MAX))
    assert status(register(hub, member)) == "OK"


def test_nomad_a_zero_genesis_hash_is_refused(hub: InterchainChain, clock: Clock) -> None:
    member = member_record(hub, member_chain(clock))
    member.genesis_hash = bytes(32)
    result = register(hub, member)
    assert status(result) == "INVALID_ARGUMENT"
    assert "the genesis hash must be 32 bytes and not all zero" in result.error
