"""Joining the chains of a devnet: what `devnet up --manifest` does once every node answers.

For each link of the manifest, through the chains' own nodes and with the admins the devnet holds
(governance on each chain: its first organisation's admin sending, as many other admins
endorsing as the MAJORITY policy needs):

1. every chain binds the port "transfer" to the transfer contract;
2. each end creates a light client of the other (from the other's newest header with a
   certificate of more than two thirds; a solo chain is accepted as a single signer, as a devnet
   of one validator is), and names the other's client as its counterparty;
3. a link with the hub registers the other chain in the hub's registry;
4. every chain binds the port "atomic" to the atomic contract, and every member chain of the hub
   registers the hub for atomic transactions (atomic.register_hub) with its client of the hub.

The client ids are written into network.json, and one configuration file per relayer
(DIR/relayers/<name>.toml, the format of `causeway relayer start`) names its links and, on every
chain, the chain's nodes and the first organisation's client member as its identity. Each step
that is done already (a port bound, a link with clients) is skipped, so running it again after an
interruption finishes the job.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from causeway.errors import ConfigurationError, NotFoundError, RequestError
from causeway.node.startup import load_genesis
from causeway.provisioning.interchain_devnet import (
    ChainEntry,
    DevnetDescription,
    LinkEntry,
    save_devnet_description,
)
from causeway.sdk import Client, Identity

TRANSFER_PORT = "transfer"
TRANSFER_CONTRACT = "transfer"
ATOMIC_PORT = "atomic"
ATOMIC_CONTRACT = "atomic"
RELAYERS_FOLDER = "relayers"
RELAYER_ROUND_INTERVAL_MS = 1_000
RELAYER_BATCH_DELIVERIES_MAX = 256
# A devnet's clients trust a header for a day: ample for a network left running on a laptop,
# and a relayer refreshes them after a third of it.
TRUSTING_PERIOD_MS = 24 * 3_600_000
CLOCK_DRIFT_MS = 10_000
STEP_TIMEOUT_S = 60.0
# What the SDK says when no recent header of a chain has a certificate of more than two thirds.
CERTIFICATE_PENDING = "has a certificate of more than two thirds"
CERTIFICATE_POLL_S = 0.5
PORT_MAX = 65_535

Progress = Callable[[str], None]


def _member(chain: ChainEntry, role: str, organisation: str | None = None) -> Path:
    for member in chain.members:
        if role.upper() in member.roles and (
            organisation is None or member.member_id.startswith(organisation + "/")
        ):
            return Path(member.directory)
    raise ConfigurationError(f"chain {chain.id} has no member with the {role} role")


def _organisation_order(name: str) -> tuple[int, str]:
    """org2 before org10."""
    digits = name.removeprefix("org")
    return (int(digits), name) if digits.isdigit() else (0, name)


def governing_admins(chain: ChainEntry) -> list[Path]:
    """The admin member folders of the organisations that govern the chain (its genesis
    governance policy's, or every organisation when the policy names none), one per
    organisation, in organisation order (org1, org2, ..., org10)."""
    policy = load_genesis(Path(chain.directory) / "genesis.json").config.governance_policy
    governing = set(policy.organisations)
    seen: dict[str, Path] = {}
    for member in chain.members:
        organisation = member.member_id.split("/")[0]
        if governing and organisation not in governing:
            continue
        if "ADMIN" in member.roles and organisation not in seen:
            seen[organisation] = Path(member.directory)
    if not seen:
        raise ConfigurationError(f"chain {chain.id} has no admin member that governs it")
    return [seen[organisation] for organisation in sorted(seen, key=_organisation_order)]


class _Governance:
    """An admin's client of one chain and the endorsers a MAJORITY of organisations needs."""

    def __init__(self, chain: ChainEntry, stack: ExitStack) -> None:
        admins = governing_admins(chain)
        self.chain = chain
        self.client = stack.enter_context(
            Client(chain.nodes[0].grpc_address, Identity.load(admins[0]))
        )
        needed = len(admins) // 2 + 1
        self.endorsers = [Identity.load(path) for path in admins[1:needed]]


def _bind_transfer_port(governance: _Governance, progress: Progress) -> None:
    try:
        governance.client.interchain.bind_port(
            TRANSFER_PORT,
            TRANSFER_CONTRACT,
            endorsers=governance.endorsers,
            timeout_s=STEP_TIMEOUT_S,
        )
    except RequestError as error:
        if error.reason != "duplicate" and "bound to" not in error.message:
            raise
        return
    progress(f"{governance.chain.id}: port {TRANSFER_PORT} bound to the transfer contract")


def _bind_atomic_port(governance: _Governance, progress: Progress) -> None:
    try:
        governance.client.interchain.bind_port(
            ATOMIC_PORT, ATOMIC_CONTRACT, endorsers=governance.endorsers, timeout_s=STEP_TIMEOUT_S
        )
    except RequestError as error:
        if error.reason != "duplicate" and "bound to" not in error.message:
            raise
        return
    progress(f"{governance.chain.id}: port {ATOMIC_PORT} bound to the atomic contract")


def _register_atomic_hub(
    governance: _Governance, hub: str, client_id: str, progress: Progress
) -> None:
    """The member chain takes atomic legs from the hub, proven through ``client_id``."""
    try:
        if governance.client.atomic.hub_client(hub):
            return  # registered by an earlier run
    except NotFoundError:
        pass
    governance.client.atomic.register_hub(
        hub, client_id, endorsers=governance.endorsers, timeout_s=STEP_TIMEOUT_S
    )
    progress(f"{governance.chain.id}: takes atomic legs from {hub} through {client_id}")


def _create_client(home: _Governance, remote: _Governance, progress: Progress) -> str:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        try:
            client_id = home.client.interchain.create_client(
                remote.client,
                trusting_period_ms=TRUSTING_PERIOD_MS,
                clock_drift_ms=CLOCK_DRIFT_MS,
                single_signer_accepted=(
                    remote.chain.consensus == "solo" or remote.chain.validators == 1
                ),
                endorsers=home.endorsers,
                timeout_s=STEP_TIMEOUT_S,
            )
            break
        except RequestError as error:
            # A raft chain's nodes gather the signatures of a block a moment after committing
            # it: its newest blocks may not have a certificate a light client takes yet.
            if CERTIFICATE_PENDING not in error.message or time.monotonic() > deadline:
                raise
            time.sleep(CERTIFICATE_POLL_S)
    progress(f"{home.chain.id}: light client {client_id} of {remote.chain.id}")
    return client_id


def connect_link(
    first: _Governance, second: _Governance, hub: str | None, progress: Progress
) -> tuple[str, str]:
    """Clients at both ends naming each other; the non-hub end registered at the hub."""
    first_client = _create_client(first, second, progress)
    second_client = _create_client(second, first, progress)
    first.client.interchain.register_counterparty(
        first_client, second_client, endorsers=first.endorsers, timeout_s=STEP_TIMEOUT_S
    )
    second.client.interchain.register_counterparty(
        second_client, first_client, endorsers=second.endorsers, timeout_s=STEP_TIMEOUT_S
    )
    progress(
        f"{first.chain.id} {first_client} <-> {second.chain.id} {second_client}: counterparties"
    )
    for governance, member, client_id in (
        (first, second, first_client),
        (second, first, second_client),
    ):
        if governance.chain.id == hub:
            try:
                governance.client.interchain.hub_register(
                    member.client,
                    client_id,
                    endpoints=[node.grpc_address for node in member.chain.nodes],
                    endorsers=governance.endorsers,
                    timeout_s=STEP_TIMEOUT_S,
                )
            except RequestError as error:
                # A devnet may hold chains no real hub would take (one validator, one
                # organisation): the link works, only forwarding through the hub does not.
                progress(
                    f"{hub}: {member.chain.id} not registered as a member chain, so the hub "
                    f"will not forward to it ({error.message}); the link itself works"
                )
            else:
                progress(f"{hub}: {member.chain.id} registered as a member chain")
    return first_client, second_client


def connect_devnet(
    directory: Path, description: DevnetDescription, progress: Progress = lambda line: None
) -> DevnetDescription:
    """Binds ports, creates the clients of every link and registers members at the hub; writes
    the client ids into network.json and returns the description with them."""
    hub = description.hub.id if description.hub is not None else None
    chains = {chain.id: chain for chain in description.chains}
    with ExitStack() as stack:
        governance = {chain.id: _Governance(chain, stack) for chain in description.chains}
        linked = {chain for link in description.links for chain in link.chains}
        for chain_id in sorted(linked):
            _bind_transfer_port(governance[chain_id], progress)
        links: list[LinkEntry] = []
        for link in description.links:
            if link.connected:
                links.append(link)
                continue
            first, second = link.chains
            if first not in chains or second not in chains:
                raise ConfigurationError(f"link {first}-{second} names a chain not in the devnet")
            clients = connect_link(governance[first], governance[second], hub, progress)
            links.append(dataclasses.replace(link, clients=clients))
            updated = dataclasses.replace(
                description, links=(*links, *description.links[len(links) :])
            )
            save_devnet_description(directory, updated)
        result = dataclasses.replace(description, links=tuple(links))
        save_devnet_description(directory, result)
        for chain_id in sorted(linked):
            _bind_atomic_port(governance[chain_id], progress)
        for link in links:
            if hub is None or hub not in link.chains:
                continue
            member_end = 1 if link.chains[0] == hub else 0
            _register_atomic_hub(
                governance[link.chains[member_end]], hub, link.clients[member_end], progress
            )
    return result


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def relayer_config_text(description: DevnetDescription, relayer_name: str) -> str:
    """The `causeway relayer start` configuration of one relayer of the devnet."""
    relayer = next((r for r in description.relayers if r.name == relayer_name), None)
    if relayer is None:
        raise ConfigurationError(f"the devnet has no relayer {relayer_name!r}")
    chains = {chain.id: chain for chain in description.chains}
    by_pair = {frozenset(link.chains): link for link in description.links}
    lines = [
        f"# Relayer {relayer_name} of the devnet in {description.directory}: written by",
        '# `causeway devnet up --manifest`; see docs/cli.md ("Relayer").',
        "",
        "[relayer]",
        f"round_interval_ms = {RELAYER_ROUND_INTERVAL_MS}",
        f"batch_deliveries_max = {RELAYER_BATCH_DELIVERIES_MAX}",
        "",
    ]
    used = sorted({chain for pair in relayer.links for chain in pair})
    for chain_id in used:
        chain = chains[chain_id]
        nodes = ", ".join(_toml_string(node.grpc_address) for node in chain.nodes)
        lines += [
            f"[chains.{_toml_string(chain_id)}]",
            f"nodes = [{nodes}]",
            f"identity = {_toml_string(str(_member(chain, 'CLIENT', 'org1')))}",
            "",
        ]
    for first, second in relayer.links:
        link = by_pair.get(frozenset((first, second)))
        if link is None or not link.connected:
            raise ConfigurationError(f"link {first}-{second} has no clients yet")
        # The link's clients are kept in the order of its chains.
        clients = dict(zip(link.chains, link.clients, strict=True))
        lines += [
            "[[links]]",
            f"name = {_toml_string(f'{first}-{second}')}",
            f"first_chain = {_toml_string(first)}",
            f"first_client = {_toml_string(clients[first])}",
            f"second_chain = {_toml_string(second)}",
            f"second_client = {_toml_string(clients[second])}",
            "",
        ]
    return "\n".join(lines)


def write_relayer_configs(directory: Path, description: DevnetDescription) -> list[Path]:
    """DIR/relayers/<name>.toml for every relayer of the devnet."""
    folder = directory / RELAYERS_FOLDER
    folder.mkdir(exist_ok=True)
    written = []
    for relayer in description.relayers:
        path = folder / f"{relayer.name}.toml"
        path.write_text(relayer_config_text(description, relayer.name), encoding="utf-8")
        written.append(path)
    return written


def relayer_metrics_port(description: DevnetDescription, index: int) -> int:
    """The metrics port of the devnet's relayer number ``index``: the ports after the highest
    one its chains use, so that a devnet's ports stay one block."""
    highest = max(
        int(address.rpartition(":")[2])
        for chain in description.chains
        for node in chain.nodes
        for address in (node.grpc_address, node.http_address, node.peer_address)
    )
    port = highest + 1 + index
    if port > PORT_MAX:
        raise ConfigurationError(
            f"relayer {index + 1} would serve metrics on port {port}, above {PORT_MAX}: lower "
            "the manifest's port_base"
        )
    return port


def relayer_config_path(directory: Path, relayer_name: str) -> Path:
    return directory / RELAYERS_FOLDER / f"{relayer_name}.toml"


def chains_of(description: DevnetDescription, names: Sequence[str]) -> list[ChainEntry]:
    chains = {chain.id: chain for chain in description.chains}
    return [chains[name] for name in names]
