"""The node's peers as the chain records them (the ``nodes`` contract), applied to the transport.

After start and after every written block that changed a record under ``sys/nodes/`` the node
reads the endpoints, the organisations' TLS CAs and the revocations from its latest state and
hands the transport the peer set they make with its configured (bootstrap) peers
(``causeway.net.merge_peers``): new peers are dialled, removed and revoked ones dropped at once,
and the TLS CAs trusted for peers follow what the chain records, all without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509

from causeway.contracts.v1 import nodes_pb2
from causeway.execution import StateReader
from causeway.execution.contracts.nodes import (
    ENDPOINTS_MAX,
    REVOCATIONS_MAX,
    TLS_AUTHORITIES_MAX,
)
from causeway.execution.keys import (
    MEMBER_PREFIX,
    NODE_ENDPOINT_PREFIX,
    NODE_REVOCATION_PREFIX,
    NODE_TLS_AUTHORITY_PREFIX,
    NODES_NAMESPACE,
    member_key,
)
from causeway.net import PeerAddress, PeerNetwork, PeerSetChange, merge_peers


@dataclass(frozen=True, slots=True)
class ChainPeers:
    """What the chain's state says about peers."""

    endpoints: tuple[PeerAddress, ...] = ()
    authorities: dict[str, tuple[x509.Certificate, ...]] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()


def changes_peers(changed_keys: Sequence[bytes]) -> bool:
    """Whether a block that changed ``changed_keys`` changed what ChainPeers reads (the nodes
    contract's records, and member records: a removed member's endpoint is no peer)."""
    return any(key.startswith((NODES_NAMESPACE, MEMBER_PREFIX)) for key in changed_keys)


def read_chain_peers(reader: StateReader) -> ChainPeers:
    """The records of the nodes contract in ``reader``'s state. A TLS CA that does not parse
    (the contract checked it; this is the node's own store) is an invariant broken: raised."""
    endpoints = tuple(
        PeerAddress(record.name, record.member_id, record.address)
        for record in (
            nodes_pb2.NodeEndpoint.FromString(value)
            for _, value in reader.range(NODE_ENDPOINT_PREFIX, b"", ENDPOINTS_MAX)
        )
        # membership.remove_member leaves the endpoint; a node that is no member is no peer.
        if reader.get(member_key(record.member_id)) is not None
    )
    authorities: dict[str, tuple[x509.Certificate, ...]] = {}
    for _, value in reader.range(NODE_TLS_AUTHORITY_PREFIX, b"", TLS_AUTHORITIES_MAX):
        authority = nodes_pb2.TlsAuthority.FromString(value)
        authorities[authority.organisation] = (
            x509.load_der_x509_certificate(authority.certificate),
        )
    revoked = frozenset(
        nodes_pb2.Revocation.FromString(value).member_id
        for _, value in reader.range(NODE_REVOCATION_PREFIX, b"", REVOCATIONS_MAX)
    )
    return ChainPeers(endpoints=endpoints, authorities=authorities, revoked=revoked)


def apply_chain_peers(
    network: PeerNetwork,
    configured: Sequence[PeerAddress],
    chain: ChainPeers,
    own_member_id: str,
) -> PeerSetChange:
    """Makes the transport's peers those of the configuration and the chain."""
    peers = merge_peers(
        configured, chain.endpoints, revoked=chain.revoked, own_member_id=own_member_id
    )
    return network.update_peers(peers, authorities=chain.authorities, revoked=chain.revoked)
