"""The nodes contract: endpoints, TLS CAs and revocations, each only by governance."""

from __future__ import annotations

import pytest
from execution_chain import Chain, ChainKit, status_name
from google.protobuf.message import Message
from validator_chain import validator_chain

from causeway.contracts.v1 import contracts_pb2, nodes_pb2
from causeway.crypto import PrivateKey, issue_ca_certificate
from causeway.execution.keys import (
    NODES_NAMESPACE,
    member_key,
    node_endpoint_key,
    node_revocation_key,
    node_tls_authority_key,
)
from causeway.types import decode, encode

GOVERNANCE: dict[str, object] = {"endorsers": ["org2/admin"]}


def call(chain: Chain, method: str, arguments: Message, **options: object) -> str:
    options = options or GOVERNANCE
    result = chain.run("org1/admin", "nodes", method, arguments, **options)
    return status_name(result) + (f": {result.error}" if result.error else "")


def endpoint(member_id: str, name: str, address: str) -> nodes_pb2.NodesSetEndpointArguments:
    return nodes_pb2.NodesSetEndpointArguments(
        endpoint=nodes_pb2.NodeEndpoint(member_id=member_id, name=name, address=address)
    )


def listed(chain: Chain) -> nodes_pb2.NodesListResult:
    result = chain.run("org1/alice", "nodes", "list", nodes_pb2.NodesListArguments())
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return decode(nodes_pb2.NodesListResult, result.return_value, bytes_max=1 << 20)


def nodes_state(chain: Chain) -> dict[bytes, bytes]:
    return {key: value for key, value in chain.state.items() if key.startswith(NODES_NAMESPACE)}


def test_set_and_remove_an_endpoint(chain: Chain) -> None:
    assert call(chain, "set_endpoint", endpoint("org1/alice", "alice", "10.0.0.5:7150")) == (
        "RESULT_STATUS_OK"
    )
    record = nodes_pb2.NodeEndpoint(member_id="org1/alice", name="alice", address="10.0.0.5:7150")
    assert chain.state[node_endpoint_key("org1/alice")] == encode(record)
    assert list(listed(chain).endpoints) == [record]
    # Replacing its own endpoint (a new address) is allowed.
    assert call(chain, "set_endpoint", endpoint("org1/alice", "alice", "10.0.0.6:7150")) == (
        "RESULT_STATUS_OK"
    )
    assert listed(chain).endpoints[0].address == "10.0.0.6:7150"
    removed = call(
        chain, "remove_endpoint", nodes_pb2.NodesRemoveEndpointArguments(member_id="org1/alice")
    )
    assert removed == "RESULT_STATUS_OK"
    assert node_endpoint_key("org1/alice") not in chain.state


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (endpoint("org1/alice", "alice", "no-port"), "INVALID_ARGUMENT: address 'no-port'"),
        (endpoint("org1/alice", "alice", "host:0"), "INVALID_ARGUMENT: address"),
        (endpoint("org1/alice", "alice", "bad host:7150"), "INVALID_ARGUMENT: address"),
        (endpoint("org1/alice", "Alice", "10.0.0.5:7150"), "INVALID_ARGUMENT: node name"),
        (endpoint("org9/nobody", "nobody", "10.0.0.5:7150"), "NOT_FOUND: member 'org9/nobody'"),
        (endpoint("", "x", "10.0.0.5:7150"), "NOT_FOUND"),
    ],
)
def test_bad_endpoints_are_refused_and_change_nothing(
    chain: Chain, arguments: Message, expected: str
) -> None:
    before = dict(chain.state)
    assert expected in call(chain, "set_endpoint", arguments)
    assert chain.state == before


def test_a_node_name_belongs_to_one_member(chain: Chain) -> None:
    assert call(chain, "set_endpoint", endpoint("org1/alice", "shared", "10.0.0.5:7150")) == (
        "RESULT_STATUS_OK"
    )
    refused = call(chain, "set_endpoint", endpoint("org2/bob", "shared", "10.0.0.6:7150"))
    assert "CONFLICT: node name 'shared' is org1/alice's" in refused


def test_removing_an_unknown_endpoint(chain: Chain) -> None:
    refused = call(
        chain, "remove_endpoint", nodes_pb2.NodesRemoveEndpointArguments(member_id="org1/alice")
    )
    assert "NOT_FOUND" in refused


def test_tls_authority_of_an_organisation(chain: Chain, kit: ChainKit) -> None:
    certificate = kit.organisations["org1"].ca_certificate
    arguments = nodes_pb2.NodesSetTlsAuthorityArguments(
        authority=nodes_pb2.TlsAuthority(organisation="org1", certificate=certificate)
    )
    assert call(chain, "set_tls_authority", arguments) == "RESULT_STATUS_OK"
    assert nodes_pb2.TlsAuthority.FromString(chain.state[node_tls_authority_key("org1")]) == (
        arguments.authority
    )
    assert [a.organisation for a in listed(chain).authorities] == ["org1"]


def _authority(organisation: str, certificate: bytes) -> nodes_pb2.NodesSetTlsAuthorityArguments:
    return nodes_pb2.NodesSetTlsAuthorityArguments(
        authority=nodes_pb2.TlsAuthority(organisation=organisation, certificate=certificate)
    )


def test_bad_tls_authorities_are_refused(chain: Chain, kit: ChainKit) -> None:
    before = dict(chain.state)
    org1 = kit.organisations["org1"].ca_certificate
    assert "NOT_FOUND: organisation 'org9'" in call(
        chain, "set_tls_authority", _authority("org9", org1)
    )
    assert "does not name organisation 'org2'" in call(
        chain, "set_tls_authority", _authority("org2", org1)
    )
    assert "INVALID_ARGUMENT: TLS CA certificate" in call(
        chain, "set_tls_authority", _authority("org1", b"not der")
    )
    assert "1 to" in call(chain, "set_tls_authority", _authority("org1", b""))
    member_certificate = kit.identities["org1/alice"].member.certificate
    assert "INVALID_ARGUMENT" in call(
        chain, "set_tls_authority", _authority("org1", member_certificate)
    )
    assert chain.state == before


def test_another_organisations_ca_is_not_its_tls_authority(chain: Chain) -> None:
    key = PrivateKey.generate("ecdsa-p256")
    other = issue_ca_certificate("org3", key, 30)
    assert "does not name organisation 'org1'" in call(
        chain, "set_tls_authority", _authority("org1", other)
    )


def test_revoke_removes_the_member_and_records_it(chain: Chain, kit: ChainKit) -> None:
    assert call(chain, "set_endpoint", endpoint("org1/alice", "alice", "10.0.0.5:7150")) == (
        "RESULT_STATUS_OK"
    )
    revoke = nodes_pb2.NodesRevokeArguments(member_id="org1/alice", reason="key leaked")
    assert call(chain, "revoke", revoke) == "RESULT_STATUS_OK"
    assert member_key("org1/alice") not in chain.state
    assert node_endpoint_key("org1/alice") not in chain.state
    revocation = nodes_pb2.Revocation.FromString(chain.state[node_revocation_key("org1/alice")])
    assert revocation.member_id == "org1/alice" and revocation.reason == "key leaked"
    assert revocation.certificate_hash == kit.profile.hash(
        kit.identities["org1/alice"].member.certificate
    )
    # Its transactions are refused from now on (the verifier finds no member) ...
    refused = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"a", value=b"1")
    )
    assert status_name(refused) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "not a member" in refused.error
    # ... and no endpoint can be recorded for it again.
    assert "CONFLICT: org1/alice is revoked" in call(
        chain, "set_endpoint", endpoint("org1/alice", "alice", "10.0.0.5:7150")
    )


def test_revocation_takes_effect_within_the_block(chain: Chain) -> None:
    block = [
        chain.transaction(
            "org1/admin",
            "nodes",
            "revoke",
            nodes_pb2.NodesRevokeArguments(member_id="org1/alice"),
            endorsers=["org2/admin"],
        ),
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"a", value=b"1")
        ),
    ]
    results = chain.commit(block).results
    assert [status_name(r) for r in results] == [
        "RESULT_STATUS_OK",
        "RESULT_STATUS_PERMISSION_DENIED",
    ]


def test_revoke_refusals(chain: Chain) -> None:
    before = dict(chain.state)
    assert "NOT_FOUND" in call(
        chain, "revoke", nodes_pb2.NodesRevokeArguments(member_id="org1/nobody")
    )
    assert "last admin" in call(
        chain, "revoke", nodes_pb2.NodesRevokeArguments(member_id="org2/admin")
    )
    assert "reason" in call(
        chain, "revoke", nodes_pb2.NodesRevokeArguments(member_id="org1/alice", reason="x" * 300)
    )
    assert chain.state == before


@pytest.mark.parametrize(
    ("method", "arguments"),
    [
        ("set_endpoint", endpoint("org1/alice", "alice", "10.0.0.5:7150")),
        ("remove_endpoint", nodes_pb2.NodesRemoveEndpointArguments(member_id="org1/alice")),
        ("set_tls_authority", _authority("org1", b"x")),
        ("revoke", nodes_pb2.NodesRevokeArguments(member_id="org1/alice")),
    ],
)
def test_changes_need_governance(chain: Chain, method: str, arguments: Message) -> None:
    before = dict(chain.state)
    result = chain.run("org1/admin", "nodes", method, arguments)
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert chain.state == before
    assert not nodes_state(chain)


def test_a_validator_is_not_revoked_until_it_leaves_the_set(validator_kit: ChainKit) -> None:
    tbft = validator_chain(validator_kit, "tbft")
    before = dict(tbft.state)
    refused = call(tbft, "revoke", nodes_pb2.NodesRevokeArguments(member_id="org2/node2"))
    assert "CONFLICT" in refused and "remove it from the validator set first" in refused
    assert tbft.state == before
    # org2/node4 holds CONSENSUS but does not validate: revoked at once.
    assert call(tbft, "revoke", nodes_pb2.NodesRevokeArguments(member_id="org2/node4")) == (
        "RESULT_STATUS_OK"
    )
    assert member_key("org2/node4") not in tbft.state
