"""The node's peers from the nodes contract's records: read from state, merged, applied."""

from __future__ import annotations

from typing import Any, cast

from cryptography import x509

from causeway.contracts.v1 import nodes_pb2
from causeway.crypto import PrivateKey, issue_ca_certificate
from causeway.execution.keys import (
    member_key,
    node_endpoint_key,
    node_revocation_key,
    node_tls_authority_key,
)
from causeway.net import PeerAddress, PeerNetwork, PeerSetChange
from causeway.node.chain_peers import apply_chain_peers, changes_peers, read_chain_peers
from causeway.types import encode


class StateDict:
    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(k for k in self.state if k.startswith(prefix) and k > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]


class RecordingNetwork:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def update_peers(self, peers: dict[str, PeerAddress], **options: Any) -> PeerSetChange:
        self.calls.append({"peers": peers, **options})
        return PeerSetChange(added=tuple(sorted(peers)))


def _endpoint(member_id: str, name: str, address: str) -> bytes:
    return encode(nodes_pb2.NodeEndpoint(member_id=member_id, name=name, address=address))


def test_only_the_nodes_records_change_the_peers() -> None:
    assert changes_peers([node_endpoint_key("org5/node5")])
    assert changes_peers([b"sys/config", node_revocation_key("org1/alice")])
    assert changes_peers([member_key("org1/alice")])  # a removed member is no peer
    assert not changes_peers([b"sys/config", b"sys/validator_schedule", b"kv/x"])
    assert not changes_peers([])


def test_the_chain_records_merge_with_the_configured_peers() -> None:
    certificate = issue_ca_certificate("org5", PrivateKey.generate("ecdsa-p256"), 30)
    state = StateDict(
        {
            node_endpoint_key("org1/node1"): _endpoint("org1/node1", "node1", "10.0.0.1:7150"),
            node_endpoint_key("org2/node2"): _endpoint("org2/node2", "node2", "10.0.0.2:7150"),
            node_endpoint_key("org5/node5"): _endpoint("org5/node5", "node5", "10.0.0.5:7150"),
            node_tls_authority_key("org5"): encode(
                nodes_pb2.TlsAuthority(organisation="org5", certificate=certificate)
            ),
            node_revocation_key("org3/node3"): encode(
                nodes_pb2.Revocation(member_id="org3/node3", height=7)
            ),
            node_endpoint_key("org6/gone"): _endpoint("org6/gone", "gone", "10.0.0.6:7150"),
            **{
                member_key(member_id): b"a member record"
                for member_id in ("org1/node1", "org2/node2", "org5/node5")
            },
        }
    )
    chain = read_chain_peers(state)
    # org6/gone's member record was removed (membership.remove_member): it is no peer.
    assert [peer.member_id for peer in chain.endpoints] == [
        "org1/node1",
        "org2/node2",
        "org5/node5",
    ]
    assert chain.authorities == {"org5": (x509.load_der_x509_certificate(certificate),)}
    assert chain.revoked == frozenset({"org3/node3"})

    configured = [
        PeerAddress("node2", "org2/node2", "192.168.1.2:7150"),  # how this machine reaches it
        PeerAddress("node3", "org3/node3", "192.168.1.3:7150"),  # revoked: dropped
    ]
    network = RecordingNetwork()
    apply_chain_peers(cast(PeerNetwork, network), configured, chain, "org1/node1")
    (call,) = network.calls
    assert call["peers"] == {
        "org2/node2": configured[0],
        "org5/node5": PeerAddress("node5", "org5/node5", "10.0.0.5:7150"),
    }
    assert call["authorities"] == chain.authorities
    assert call["revoked"] == frozenset({"org3/node3"})


def test_a_chain_without_records_leaves_the_configured_peers() -> None:
    chain = read_chain_peers(StateDict({}))
    assert (chain.endpoints, chain.authorities, chain.revoked) == ((), {}, frozenset())
    network = RecordingNetwork()
    configured = [PeerAddress("node2", "org2/node2", "127.0.0.1:7151")]
    apply_chain_peers(cast(PeerNetwork, network), configured, chain, "org1/node1")
    assert network.calls[0]["peers"] == {"org2/node2": configured[0]}
