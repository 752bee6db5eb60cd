from __future__ import annotations

import pytest
from execution_chain import (
    ADMIN,
    BLOCK_TIME_MS,
    CLIENT,
    GENESIS_TIME_MS,
    Chain,
    ChainKit,
    Identity,
    new_chain,
    status_name,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.execution import ORGANISATIONS_MAX
from causeway.execution.keys import admin_count_key, member_key, organisation_key
from causeway.types import encode
from causeway.types.v1 import types_pb2

GOVERNANCE: dict[str, object] = {"endorsers": ["org2/admin"]}
DAY_MS = 86_400_000


def add_member(
    chain: Chain, member: types_pb2.Member, **options: object
) -> types_pb2.TransactionResult:
    options = options or GOVERNANCE
    return chain.run(
        "org1/admin",
        "membership",
        "add_member",
        contracts_pb2.MembershipAddMemberArguments(member=member),
        **options,
    )


def add_organisation(
    chain: Chain, organisation: types_pb2.Organisation, **options: object
) -> types_pb2.TransactionResult:
    options = options or GOVERNANCE
    return chain.run(
        "org1/admin",
        "membership",
        "add_organisation",
        contracts_pb2.MembershipAddOrganisationArguments(organisation=organisation),
        **options,
    )


def remove_member(chain: Chain, member_id: str, **options: object) -> types_pb2.TransactionResult:
    options = options or GOVERNANCE
    return chain.run(
        "org1/admin",
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id=member_id),
        **options,
    )


def put(chain: Chain, sender: str | Identity) -> types_pb2.TransactionResult:
    return chain.run(sender, "kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"v"))


def test_add_member_then_it_may_transact(chain: Chain, kit: ChainKit) -> None:
    carol = kit.new_identity("org1/carol", [CLIENT])
    assert status_name(put(chain, carol)) == "RESULT_STATUS_PERMISSION_DENIED"
    result = add_member(chain, carol.member)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [(e.name, e.attributes[0].value) for e in result.events] == [
        ("add_member", "org1/carol")
    ]
    assert chain.state[member_key("org1/carol")] == encode(carol.member)
    assert chain.executor.get_member(chain.reader, "org1/carol") == carol.member
    assert status_name(put(chain, carol)) == "RESULT_STATUS_OK"


def test_remove_member_then_its_transactions_fail(chain: Chain) -> None:
    assert status_name(put(chain, "org1/alice")) == "RESULT_STATUS_OK"
    result = remove_member(chain, "org1/alice")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [e.name for e in result.events] == ["remove_member"]
    assert member_key("org1/alice") not in chain.state
    assert chain.executor.get_member(chain.reader, "org1/alice") is None
    denied = put(chain, "org1/alice")
    assert status_name(denied) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "not a member" in denied.error


def test_removal_takes_effect_within_the_block(chain: Chain) -> None:
    block = [
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"a", value=b"1")
        ),
        chain.transaction(
            "org1/admin",
            "membership",
            "remove_member",
            contracts_pb2.MembershipRemoveMemberArguments(member_id="org1/alice"),
            endorsers=["org2/admin"],
        ),
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"b", value=b"2")
        ),
    ]
    results = chain.commit(block).results
    assert [status_name(r) for r in results] == [
        "RESULT_STATUS_OK",
        "RESULT_STATUS_OK",
        "RESULT_STATUS_PERMISSION_DENIED",
    ]


def test_a_removed_admin_no_longer_endorses(chain: Chain, kit: ChainKit) -> None:
    second_admin = kit.new_identity("org2/second", [ADMIN, CLIENT])
    assert status_name(add_member(chain, second_admin.member)) == "RESULT_STATUS_OK"
    assert chain.state[admin_count_key("org2")] == (2).to_bytes(8, "big")
    assert (
        status_name(remove_member(chain, "org2/admin", endorsers=[second_admin]))
        == "RESULT_STATUS_OK"
    )
    assert chain.state[admin_count_key("org2")] == (1).to_bytes(8, "big")
    result = add_member(
        chain, kit.new_identity("org1/dave", [CLIENT]).member, endorsers=["org2/admin"]
    )
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "not a member" in result.error


def test_the_last_admin_of_an_organisation_cannot_be_removed(chain: Chain) -> None:
    before = dict(chain.state)
    result = remove_member(chain, "org2/admin")
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert "last admin" in result.error
    assert chain.state == before


def test_remove_unknown_member(chain: Chain) -> None:
    assert status_name(remove_member(chain, "org1/nobody")) == "RESULT_STATUS_NOT_FOUND"


@pytest.mark.parametrize(
    "method", ["add_member", "remove_member", "add_organisation", "update_certificate"]
)
def test_mutating_methods_need_governance(chain: Chain, kit: ChainKit, method: str) -> None:
    arguments = {
        "add_member": contracts_pb2.MembershipAddMemberArguments(
            member=kit.identities["org1/alice"].member
        ),
        "remove_member": contracts_pb2.MembershipRemoveMemberArguments(member_id="org1/alice"),
        "add_organisation": contracts_pb2.MembershipAddOrganisationArguments(),
        "update_certificate": contracts_pb2.MembershipUpdateCertificateArguments(
            member_id="org1/alice"
        ),
    }[method]
    before = dict(chain.state)
    result = chain.run("org1/admin", "membership", method, arguments)
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert chain.state == before


def test_add_member_refusals(chain: Chain, kit: ChainKit) -> None:
    carol = kit.new_identity("org1/carol", [CLIENT])

    def refused(member: types_pb2.Member, status: str, message: str) -> None:
        result = add_member(chain, member)
        assert status_name(result) == status, result.error
        assert message in result.error
        assert member_key(member.id) not in chain.state or member.id == "org1/alice"

    existing = kit.identities["org1/alice"].member
    refused(existing, "RESULT_STATUS_CONFLICT", "already exists")
    mismatched = types_pb2.Member()
    mismatched.CopyFrom(carol.member)
    mismatched.name = "someone"
    refused(mismatched, "RESULT_STATUS_INVALID_ARGUMENT", "does not match")
    no_roles = types_pb2.Member()
    no_roles.CopyFrom(carol.member)
    del no_roles.roles[:]
    refused(no_roles, "RESULT_STATUS_INVALID_ARGUMENT", "role")
    bad_id = types_pb2.Member()
    bad_id.CopyFrom(carol.member)
    bad_id.id = "carol"
    refused(bad_id, "RESULT_STATUS_INVALID_ARGUMENT", "organisation/name")
    unknown_org = types_pb2.Member(
        id="org9/x", organisation="org9", name="x", roles=[CLIENT], algorithm="ecdsa-p256"
    )
    refused(unknown_org, "RESULT_STATUS_NOT_FOUND", "org9")
    # A certificate from the other organisation's CA.
    forged = kit.new_identity("org1/mallory", [CLIENT], issuer="org2")
    refused(forged.member, "RESULT_STATUS_INVALID_ARGUMENT", "certificate")
    # The certificate grants CLIENT only; the record claims ADMIN too.
    promoted = types_pb2.Member()
    promoted.CopyFrom(carol.member)
    promoted.roles.append(ADMIN)
    refused(promoted, "RESULT_STATUS_INVALID_ARGUMENT", "does not grant")
    # A key that is not the certificate's.
    swapped = types_pb2.Member()
    swapped.CopyFrom(carol.member)
    swapped.public_key = PrivateKey.generate("ecdsa-p256").public_key().raw
    refused(swapped, "RESULT_STATUS_INVALID_ARGUMENT", "certificate")
    garbage_key = types_pb2.Member()
    garbage_key.CopyFrom(carol.member)
    garbage_key.public_key = b"\x04" + b"\x01" * 10
    refused(garbage_key, "RESULT_STATUS_INVALID_ARGUMENT", "public key")
    wrong_profile = types_pb2.Member()
    wrong_profile.CopyFrom(carol.member)
    wrong_profile.algorithm = "sm2"
    refused(wrong_profile, "RESULT_STATUS_INVALID_ARGUMENT", "not allowed by the intl profile")


def test_add_member_checks_the_certificate_at_block_time(chain: Chain, kit: ChainKit) -> None:
    short_lived = kit.new_identity(
        "org1/brief", [CLIENT], now_ms=GENESIS_TIME_MS - 2 * DAY_MS, valid_days=1
    )
    assert short_lived.member.certificate
    result = add_member(chain, short_lived.member)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "expired" in result.error


def test_ed25519_members_on_an_intl_chain(chain: Chain, kit: ChainKit) -> None:
    erin = kit.new_identity("org2/erin", [CLIENT], algorithm="ed25519")
    assert status_name(add_member(chain, erin.member)) == "RESULT_STATUS_OK"
    assert status_name(put(chain, erin)) == "RESULT_STATUS_OK"


def test_add_organisation_then_its_members(chain: Chain, kit: ChainKit) -> None:
    organisation = kit.new_organisation("org3")
    result = add_organisation(chain, organisation)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [(e.name, e.attributes[0].value) for e in result.events] == [
        ("add_organisation", "org3")
    ]
    assert chain.state[organisation_key("org3")] == encode(organisation)
    admin = kit.new_identity("org3/admin", [ADMIN])
    # Governance is MAJORITY of all organisations: now two of three.
    assert status_name(add_member(chain, admin.member)) == "RESULT_STATUS_OK"
    assert status_name(add_organisation(chain, organisation)) == "RESULT_STATUS_CONFLICT"
    # org3's admin now counts towards governance.
    dave = kit.new_identity("org3/dave", [CLIENT])
    result = chain.run(
        admin,
        "membership",
        "add_member",
        contracts_pb2.MembershipAddMemberArguments(member=dave.member),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def test_add_organisation_refusals(chain: Chain, kit: ChainKit) -> None:
    organisation = kit.new_organisation("org4")

    def refused(changed: types_pb2.Organisation, message: str) -> None:
        result = add_organisation(chain, changed)
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT", result.error
        assert message in result.error

    for bad_id in ("", "a/b", "x" * 65, "-x"):
        changed = types_pb2.Organisation()
        changed.CopyFrom(organisation)
        changed.id = bad_id
        refused(changed, "organisation id")
    changed = types_pb2.Organisation()
    changed.CopyFrom(organisation)
    changed.ca_algorithm = "rsa"
    refused(changed, "not allowed")
    changed = types_pb2.Organisation()
    changed.CopyFrom(organisation)
    changed.ca_public_key = b"junk"
    refused(changed, "public key")
    changed = types_pb2.Organisation()
    changed.CopyFrom(organisation)
    changed.ca_certificate = b""
    refused(changed, "certificate is missing")
    assert organisation_key("org4") not in chain.state


def test_organisation_count_is_bounded() -> None:
    assert ORGANISATIONS_MAX >= 2


def test_update_certificate(chain: Chain, kit: ChainKit) -> None:
    renewed = kit.new_identity("org2/admin", [ADMIN, CLIENT], now_ms=BLOCK_TIME_MS)
    arguments = contracts_pb2.MembershipUpdateCertificateArguments(
        member_id="org2/admin",
        public_key=renewed.member.public_key,
        certificate=renewed.member.certificate,
    )
    result = chain.run(
        "org1/admin", "membership", "update_certificate", arguments, endorsers=["org2/admin"]
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [e.name for e in result.events] == ["update_certificate"]
    stored = chain.executor.get_member(chain.reader, "org2/admin")
    assert stored is not None
    assert stored.public_key == renewed.member.public_key
    assert list(stored.roles) == [ADMIN, CLIENT]
    # Endorsements must now be made with the new key.
    carol = kit.new_identity("org1/carol", [CLIENT])
    old_key = add_member(chain, carol.member, endorsers=["org2/admin"])
    assert status_name(old_key) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "signature does not verify" in old_key.error
    assert status_name(add_member(chain, carol.member, endorsers=[renewed])) == "RESULT_STATUS_OK"


def test_update_certificate_refusals(chain: Chain, kit: ChainKit) -> None:
    other = kit.new_identity("org2/bob", [CLIENT], issuer="org1")
    for member_id, public_key, certificate, status in (
        ("org2/nobody", b"", b"", "RESULT_STATUS_NOT_FOUND"),
        (
            "org2/bob",
            other.member.public_key,
            other.member.certificate,
            "RESULT_STATUS_INVALID_ARGUMENT",
        ),
        ("org2/bob", b"junk", b"junk", "RESULT_STATUS_INVALID_ARGUMENT"),
    ):
        arguments = contracts_pb2.MembershipUpdateCertificateArguments(
            member_id=member_id, public_key=public_key, certificate=certificate
        )
        result = chain.run(
            "org1/admin", "membership", "update_certificate", arguments, endorsers=["org2/admin"]
        )
        assert status_name(result) == status, result.error
    assert chain.executor.get_member(chain.reader, "org2/bob") == kit.identities["org2/bob"].member


def test_get_member(chain: Chain, kit: ChainKit) -> None:
    result = chain.run(
        "org2/bob",
        "membership",
        "get_member",
        contracts_pb2.MembershipGetMemberArguments(member_id="org1/alice"),
    )
    assert status_name(result) == "RESULT_STATUS_OK"
    assert types_pb2.Member.FromString(result.return_value) == kit.identities["org1/alice"].member
    missing = chain.run(
        "org2/bob",
        "membership",
        "get_member",
        contracts_pb2.MembershipGetMemberArguments(member_id="org1/nobody"),
    )
    assert status_name(missing) == "RESULT_STATUS_NOT_FOUND"
    empty = chain.run(
        "org2/bob", "membership", "get_member", contracts_pb2.MembershipGetMemberArguments()
    )
    assert status_name(empty) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_gm_chain_membership(gm_kit: ChainKit) -> None:
    chain = new_chain(gm_kit)
    carol = gm_kit.new_identity("org1/carol", [CLIENT])
    assert carol.member.algorithm == "sm2"
    assert status_name(add_member(chain, carol.member)) == "RESULT_STATUS_OK"
    assert status_name(put(chain, carol)) == "RESULT_STATUS_OK"
    forged = gm_kit.new_identity("org1/mallory", [CLIENT], issuer="org2")
    assert status_name(add_member(chain, forged.member)) == "RESULT_STATUS_INVALID_ARGUMENT"
    not_gm = types_pb2.Member()
    not_gm.CopyFrom(carol.member)
    not_gm.id, not_gm.name, not_gm.algorithm = "org1/erin", "erin", "ed25519"
    assert status_name(add_member(chain, not_gm)) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_gm_organisation_comes_with_its_sm2_ca_certificate(gm_kit: ChainKit) -> None:
    chain = new_chain(gm_kit)
    organisation = gm_kit.new_organisation("org3")
    without_certificate = types_pb2.Organisation()
    without_certificate.CopyFrom(organisation)
    without_certificate.ca_certificate = b""
    result = add_organisation(chain, without_certificate)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "certificate is missing" in result.error
    assert organisation_key("org3") not in chain.state
    result = add_organisation(chain, organisation)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    # Its members' SM2 certificates are checked against that CA certificate.
    admin = gm_kit.new_identity("org3/admin", [ADMIN])
    assert status_name(add_member(chain, admin.member)) == "RESULT_STATUS_OK"
