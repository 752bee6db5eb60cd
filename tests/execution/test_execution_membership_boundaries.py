"""Membership at its edges: the organisation bound written as a number, the admin counts, a member
id that names another organisation or name on either side, and system methods seen by the
transactions after them in the same block. The tests a cosmic-ray run over
execution/contracts/membership.py showed missing (docs/testing.md)."""

from __future__ import annotations

import pytest
from execution_chain import (
    ADMIN,
    BLOCK_TIME_MS,
    CLIENT,
    Chain,
    ChainKit,
    default_config,
    status_name,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import InvariantError
from causeway.execution.keys import CONFIG_KEY, admin_count_key, member_key, organisation_key
from causeway.types import encode
from causeway.types.v1 import types_pb2

ORGANISATIONS_MAX = 256
GOVERNANCE: dict[str, object] = {"endorsers": ["org2/admin"]}


def add_member(chain: Chain, member: types_pb2.Member) -> types_pb2.TransactionResult:
    arguments = contracts_pb2.MembershipAddMemberArguments(member=member)
    return chain.run("org1/admin", "membership", "add_member", arguments, **GOVERNANCE)


def add_organisation(
    chain: Chain, organisation: types_pb2.Organisation
) -> types_pb2.TransactionResult:
    arguments = contracts_pb2.MembershipAddOrganisationArguments(organisation=organisation)
    return chain.run("org1/admin", "membership", "add_organisation", arguments, **GOVERNANCE)


@pytest.mark.parametrize(
    ("field", "value"),
    [("organisation", "org0"), ("organisation", "org2"), ("name", "carok"), ("name", "carom")],
)
def test_a_member_record_must_repeat_its_id_exactly(
    chain: Chain, kit: ChainKit, field: str, value: str
) -> None:
    """Values sorting below and above the id's own part are both refused."""
    member = types_pb2.Member()
    member.CopyFrom(kit.new_identity("org1/carol", [CLIENT]).member)
    setattr(member, field, value)
    result = add_member(chain, member)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "does not match its organisation and name" in result.error
    assert member_key("org1/carol") not in chain.state


def test_the_first_admin_of_a_new_organisation_is_counted_and_is_its_last(
    chain: Chain, kit: ChainKit
) -> None:
    assert status_name(add_organisation(chain, kit.new_organisation("org3"))) == "RESULT_STATUS_OK"
    assert admin_count_key("org3") not in chain.state
    admin = kit.new_identity("org3/admin", [ADMIN])
    assert status_name(add_member(chain, admin.member)) == "RESULT_STATUS_OK"
    assert chain.state[admin_count_key("org3")] == (1).to_bytes(8, "big")
    before = dict(chain.state)
    arguments = contracts_pb2.MembershipRemoveMemberArguments(member_id="org3/admin")
    result = chain.run("org1/admin", "membership", "remove_member", arguments, **GOVERNANCE)
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert "last admin of org3" in result.error
    assert chain.state == before


@pytest.mark.parametrize("length", [7, 9])
def test_a_stored_admin_count_of_other_than_8_bytes_stops_loudly(
    chain: Chain, kit: ChainKit, length: int
) -> None:
    chain.state[admin_count_key("org1")] = b"\x01" * length
    with pytest.raises(InvariantError, match="is not an 8-byte count"):
        add_member(chain, kit.new_identity("org1/second", [ADMIN]).member)


def test_the_chain_may_hold_256_organisations_and_no_more(chain: Chain, kit: ChainKit) -> None:
    # Organisation records written straight into state (only their count matters here), and a
    # governance policy that does not need the admins those organisations do not have.
    for index in range(ORGANISATIONS_MAX - 3):
        chain.state[organisation_key(f"filler{index:03d}")] = encode(
            types_pb2.Organisation(id=f"filler{index:03d}")
        )
    config = default_config()
    config.governance_policy.CopyFrom(
        types_pb2.EndorsementPolicy(
            kind=types_pb2.POLICY_KIND_K_OF_N, k=2, organisations=["org1", "org2"]
        )
    )
    chain.state[CONFIG_KEY] = encode(config)
    assert status_name(add_organisation(chain, kit.new_organisation("org3"))) == "RESULT_STATUS_OK"
    before = dict(chain.state)
    result = add_organisation(chain, kit.new_organisation("org4"))
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert "already has 256 organisations" in result.error
    assert chain.state == before


# System methods: the transactions after one in the same block see what it changed (members,
# organisations and keys are cached within a block until a system method commits).


def test_a_member_added_earlier_in_the_block_may_transact(chain: Chain, kit: ChainKit) -> None:
    carol = kit.new_identity("org1/carol", [CLIENT])
    put = contracts_pb2.KvPutArguments(key=b"k", value=b"v")
    block = [
        chain.transaction(carol, "kv", "put", put),
        chain.transaction(
            "org1/admin",
            "membership",
            "add_member",
            contracts_pb2.MembershipAddMemberArguments(member=carol.member),
            **GOVERNANCE,  # type: ignore[arg-type]
        ),
        chain.transaction(carol, "kv", "put", put),
    ]
    assert [status_name(result) for result in chain.commit(block).results] == [
        "RESULT_STATUS_PERMISSION_DENIED",
        "RESULT_STATUS_OK",
        "RESULT_STATUS_OK",
    ]


def test_an_organisation_added_earlier_in_the_block_may_be_named_in_a_policy(
    chain: Chain, kit: ChainKit
) -> None:
    config = default_config()
    config.ledger_issue_policy.CopyFrom(
        types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ALL, organisations=["org3"])
    )
    block = [
        chain.transaction(
            "org1/admin",
            "membership",
            "add_organisation",
            contracts_pb2.MembershipAddOrganisationArguments(
                organisation=kit.new_organisation("org3")
            ),
            **GOVERNANCE,  # type: ignore[arg-type]
        ),
        chain.transaction(
            "org1/admin",
            "config",
            "update",
            contracts_pb2.ConfigUpdateArguments(config=config),
            **GOVERNANCE,  # type: ignore[arg-type]
        ),
    ]
    results = chain.commit(block).results
    assert [status_name(result) for result in results] == ["RESULT_STATUS_OK"] * 2, results[1].error
    assert chain.state[CONFIG_KEY] == encode(config)


def test_a_key_renewed_earlier_in_the_block_is_the_one_that_endorses(
    chain: Chain, kit: ChainKit
) -> None:
    renewed = kit.new_identity("org2/admin", [ADMIN, CLIENT], now_ms=BLOCK_TIME_MS)
    carol = kit.new_identity("org1/carol", [CLIENT])
    block = [
        chain.transaction(
            "org1/admin",
            "membership",
            "update_certificate",
            contracts_pb2.MembershipUpdateCertificateArguments(
                member_id="org2/admin",
                public_key=renewed.member.public_key,
                certificate=renewed.member.certificate,
            ),
            **GOVERNANCE,  # type: ignore[arg-type]
        ),
        chain.transaction(
            "org1/admin",
            "membership",
            "add_member",
            contracts_pb2.MembershipAddMemberArguments(member=carol.member),
            endorsers=[renewed],
        ),
    ]
    results = chain.commit(block).results
    assert [status_name(result) for result in results] == ["RESULT_STATUS_OK"] * 2, results[1].error
    assert member_key("org1/carol") in chain.state
