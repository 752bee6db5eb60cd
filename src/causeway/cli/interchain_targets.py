"""Which node, which identities and which client an interchain command uses: from the options
given, or from a devnet's description (network.json), or from the sending chain's own state.

Pure functions over what the command read; nothing here talks to a node, so every refusal is
tested without one.

* ``resolve_target``: ``--node``/``--identity``/``--endorser`` as given; with ``--dir DEVNET
  --chain ID`` the chain's first node, its first organisation's admin (governance) or client
  (everything else), and the other organisations' admins as endorsers (governance).
* ``resolve_counterparty``: the other chain's node (``--of-node ADDRESS`` or ``--of CHAIN`` of the
  devnet).
* ``resolve_source_client``: the sending chain's client of ``--to-chain``: ``--client`` when
  given; else the client of the devnet's link between the two (network.json, written when
  `devnet up` connected it); else the hub's registry when the sending chain is a hub with that
  member; else the one active client of that chain id on the sending chain (whose genesis hash,
  when the devnet describes the chain, must be the devnet's).
* ``hub_to_route_through``: when the sending chain has no client of ``--to-chain``, the hub to
  send through instead: ``--via`` when given, else the devnet's hub (when it is neither end).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from causeway.errors import ConfigurationError, RequestError

DEFAULT_NODE = "127.0.0.1:7050"
ADMIN_ROLE = "ADMIN"
CLIENT_ROLE = "CLIENT"
# "client-<n>", as the clients contract names them (causeway.interchain.clients).
CLIENT_ID_PATTERN = re.compile(r"client-(0|[1-9][0-9]{0,19})")
# Endorsers taken from a devnet: every other organisation's admin, at most this many (the
# default chain configuration's endorsements_max is 16, the signer's own organisation aside).
DEVNET_ENDORSERS_MAX = 15
STATUS_ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Target:
    """The node a command talks to and who signs."""

    address: str
    identity: Path | None
    endorsers: tuple[Path, ...] = ()
    chain_id: str = ""


@dataclass(frozen=True, slots=True)
class DevnetMember:
    member_id: str
    roles: tuple[str, ...]
    directory: str


@dataclass(frozen=True, slots=True)
class DevnetChain:
    """What a command needs of one chain of a devnet description."""

    chain_id: str
    genesis_hash: bytes
    addresses: tuple[str, ...]
    members: tuple[DevnetMember, ...] = field(default=())
    hub: bool = False
    # The devnet's connected links from this chain: (the other chain, this chain's client of it).
    clients_of: tuple[tuple[str, str], ...] = ()

    def client_of(self, chain_id: str) -> str | None:
        for other, client_id in self.clients_of:
            if other == chain_id:
                return client_id
        return None

    def member_with_role(self, role: str) -> DevnetMember | None:
        for member in self.members:
            if role in member.roles and member.member_id.startswith(self.first_organisation()):
                return member
        return None

    def first_organisation(self) -> str:
        for member in self.members:
            if ADMIN_ROLE in member.roles:
                return member.member_id.partition("/")[0] + "/"
        return ""

    def other_admins(self) -> tuple[DevnetMember, ...]:
        first = self.first_organisation()
        return tuple(
            member
            for member in self.members
            if ADMIN_ROLE in member.roles and not member.member_id.startswith(first)
        )[:DEVNET_ENDORSERS_MAX]


@dataclass(frozen=True, slots=True)
class ClientView:
    """What choosing a client needs of one entry of the sending chain's clients."""

    client_id: str
    chain_id: str
    genesis_hash: bytes
    status: str
    counterparty_client_id: str


def check_client_id(text: str, option: str = "client") -> str:
    if CLIENT_ID_PATTERN.fullmatch(text) is None:
        raise RequestError(
            f"{option} {text!r} is not a client id (client-<n>, e.g. client-0)",
            reason="invalid_argument",
        )
    return text


def _devnet_chain(chains: Sequence[DevnetChain], chain_id: str, option: str) -> DevnetChain:
    for chain in chains:
        if chain.chain_id == chain_id:
            return chain
    names = ", ".join(chain.chain_id for chain in chains) or "none"
    raise ConfigurationError(f"{option}: no chain {chain_id!r} in the devnet (chains: {names})")


def resolve_target(
    *,
    node: str | None,
    identity: Path | None,
    endorsers: Sequence[Path],
    chain: str | None,
    devnet: Sequence[DevnetChain] | None,
    governance: bool,
) -> Target:
    """The node and signers of a command (see the module notes)."""
    if chain is not None and devnet is None:
        raise ConfigurationError(
            f"--chain {chain} names a chain of a devnet: give the devnet's folder with --dir"
        )
    if chain is None:
        if devnet is not None and node is None:
            names = ", ".join(entry.chain_id for entry in devnet)
            raise ConfigurationError(
                f"--dir names a devnet of several chains ({names}): say which one this command "
                "talks to with --chain, or give --node"
            )
        return Target(node or DEFAULT_NODE, identity, tuple(endorsers))
    assert devnet is not None
    entry = _devnet_chain(devnet, chain, "--chain")
    if not entry.addresses:
        raise ConfigurationError(f"--chain {chain}: the devnet lists no node of it")
    if identity is None:
        member = entry.member_with_role(ADMIN_ROLE if governance else CLIENT_ROLE)
        identity = Path(member.directory) if member is not None else None
    if not endorsers and governance:
        endorsers = [Path(member.directory) for member in entry.other_admins()]
    return Target(node or entry.addresses[0], identity, tuple(endorsers), entry.chain_id)


def resolve_counterparty(
    *, of_chain: str | None, of_node: str | None, devnet: Sequence[DevnetChain] | None
) -> str:
    """The address of a node of the other chain."""
    if of_chain is not None and of_node is not None:
        raise RequestError(
            "give the other chain once: --of CHAIN (of the devnet) or --of-node ADDRESS, not both",
            reason="invalid_argument",
        )
    if of_node is not None:
        return of_node
    if of_chain is None:
        raise RequestError(
            "which chain? give --of CHAIN (a chain of the devnet in --dir) or --of-node ADDRESS "
            "(a node of that chain)",
            reason="invalid_argument",
        )
    if devnet is None:
        raise ConfigurationError(
            f"--of {of_chain} names a chain of a devnet: give the devnet's folder with --dir, "
            "or use --of-node ADDRESS"
        )
    entry = _devnet_chain(devnet, of_chain, "--of")
    if not entry.addresses:
        raise ConfigurationError(f"--of {of_chain}: the devnet lists no node of it")
    return entry.addresses[0]


def resolve_source_client(
    *,
    sending_chain: str,
    to_chain: str,
    explicit_client: str | None,
    hub_member_client: str | None,
    clients: Sequence[ClientView],
    expected_genesis: bytes | None,
    described_client: str | None = None,
) -> str:
    """The sending chain's client of ``to_chain`` (see the module notes)."""
    if explicit_client is not None:
        return check_client_id(explicit_client, "--client")
    if described_client is not None:
        return described_client
    if hub_member_client is not None:
        return hub_member_client
    of_chain = [entry for entry in clients if entry.chain_id == to_chain]
    if expected_genesis is not None:
        other_genesis = [entry for entry in of_chain if entry.genesis_hash != expected_genesis]
        of_chain = [entry for entry in of_chain if entry.genesis_hash == expected_genesis]
    else:
        other_genesis = []
    active = [entry for entry in of_chain if entry.status == STATUS_ACTIVE]
    if len(active) == 1:
        return active[0].client_id
    if len(active) > 1:
        names = ", ".join(entry.client_id for entry in active)
        raise RequestError(
            f"chain {sending_chain} has {len(active)} active clients of chain {to_chain!r} "
            f"({names}): say which with --client",
            reason="invalid_argument",
        )
    if of_chain:
        states = ", ".join(f"{entry.client_id} is {entry.status}" for entry in of_chain)
        raise RequestError(
            f"chain {sending_chain} has no active client of chain {to_chain!r} ({states}): "
            "recover it with causeway interchain client recover",
            reason="invalid_argument",
        )
    if other_genesis:
        names = ", ".join(entry.client_id for entry in other_genesis)
        raise RequestError(
            f"chain {sending_chain}'s clients of {to_chain!r} ({names}) follow a chain of another "
            "genesis than the devnet's: not the chain the devnet describes",
            reason="invalid_argument",
        )
    raise RequestError(
        f"chain {sending_chain} has no client of chain {to_chain!r}: create one with causeway "
        "interchain client create, or name the client with --client",
        reason="not_found",
    )


def hub_to_route_through(
    *,
    via: str | None,
    sending_chain: str,
    to_chain: str,
    devnet: Sequence[DevnetChain] | None,
) -> str | None:
    """The hub a transfer with no direct client goes through (module notes), or None."""
    if via is not None:
        if via in (sending_chain, to_chain):
            raise RequestError(
                f"--via {via} is an end of the transfer, not a hub between "
                f"{sending_chain} and {to_chain}",
                reason="invalid_argument",
            )
        return via
    for chain in devnet or ():
        if chain.hub and chain.chain_id not in (sending_chain, to_chain):
            return chain.chain_id
    return None
