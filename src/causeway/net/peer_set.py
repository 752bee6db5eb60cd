"""Which peers to dial, as a pure function of what the configuration and the chain say.

A node's peers are its configuration's ``[[peers.peer]]`` (the bootstrap peers) and the node
endpoints of the chain's ``nodes`` contract, less revoked members and itself. After a block that
changes those records the runtime computes the new set and the transport applies the difference
(``PeerNetwork.update_peers``): it dials the peers added, drops those removed, and redials those
whose address or name changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from causeway.net.config import PeerAddress


@dataclass(frozen=True, slots=True)
class PeerSetChange:
    """What changes between two peer sets, each as sorted member ids."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    """Same member, another address or name: dropped and dialled again."""

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def diff_peers(
    current: Mapping[str, PeerAddress], wanted: Mapping[str, PeerAddress]
) -> PeerSetChange:
    """The change from ``current`` to ``wanted`` (both by member id)."""
    return PeerSetChange(
        added=tuple(sorted(set(wanted) - set(current))),
        removed=tuple(sorted(set(current) - set(wanted))),
        changed=tuple(
            sorted(
                member_id
                for member_id in set(current) & set(wanted)
                if current[member_id] != wanted[member_id]
            )
        ),
    )


def merge_peers(
    configured: Iterable[PeerAddress],
    chain_endpoints: Iterable[PeerAddress],
    *,
    revoked: Iterable[str] = (),
    own_member_id: str = "",
) -> dict[str, PeerAddress]:
    """The peers to dial, by member id: the configured ones, then the chain's endpoints of
    members not configured (a configured address wins: the operator knows how this machine
    reaches that peer, e.g. across NAT), never a revoked member, never ourselves."""
    excluded = set(revoked) | {own_member_id}
    peers: dict[str, PeerAddress] = {}
    for peer in configured:
        if peer.member_id not in excluded:
            peers[peer.member_id] = peer
    for peer in chain_endpoints:
        if peer.member_id not in excluded and peer.member_id not in peers:
            peers[peer.member_id] = peer
    return peers
