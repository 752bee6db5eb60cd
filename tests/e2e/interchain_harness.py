"""Two real chains joined by light clients, for the SDK's and the CLI's interchain tests.

``two_chains(root)`` starts, with `causeway devnet up --manifest` (manifest_devnets.py: a
random free block of ports below the ephemeral range, tried again on another block and in another
folder when the start failed), two solo chains of two
organisations each: "alpha" (intl) and "beta" (gm), with no link in the manifest, so that
`devnet up` joins nothing: the tests do, through the SDK or the CLI they test.
``manifest_devnet`` starts any manifest. Whatever happens, every node process the devnet
recorded is stopped on the way out (`devnet down`, then SIGKILL for any left).

``join(network)`` makes the link through the SDK: a client of each chain on the other (solo:
single_signer_accepted), each naming the other as counterparty, and port "transfer" bound on
both. ``InProcessRelayer`` is causeway.interchain.relaying.Relayer over the relayer package's
SdkEndpoint, one round at a time; ``relaying(network, link)`` runs its rounds on a thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import manifest_devnets

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import CausewayError, TransactionFailedError
from causeway.interchain.relayer import SdkEndpoint
from causeway.interchain.relaying import LinkEnd, Relayer, RoundReport
from causeway.provisioning import load_devnet_description
from causeway.provisioning.interchain_devnet import ChainEntry, DevnetDescription
from causeway.sdk import Client, Identity

REQUEST_TIMEOUT_S = 30.0
# Two chains of one solo validator: three ports each (gRPC, HTTP, peers).
PORTS = 6
ALPHA = "alpha"
BETA = "beta"
ADMIN = "org1/admin"
CLIENT = "org1/client"
RELAY_INTERVAL_S = 0.3
RELAY_STOP_TIMEOUT_S = 60.0

MANIFEST = """\
port_base = {port_base}

[[chains]]
id = "alpha"
consensus = "solo"
crypto = "intl"
organisations = 2

[[chains]]
id = "beta"
consensus = "solo"
crypto = "gm"
organisations = 2
"""


@dataclasses.dataclass
class TwoChains:
    """The running devnet: its folder and network.json, clients by chain and member."""

    directory: Path
    description: DevnetDescription
    _clients: list[Client] = dataclasses.field(default_factory=list)

    def chain(self, chain_id: str) -> ChainEntry:
        return self.description.chain(chain_id)

    def address(self, chain_id: str) -> str:
        return self.chain(chain_id).nodes[0].grpc_address

    def addresses(self, chain_id: str) -> tuple[str, ...]:
        return tuple(node.grpc_address for node in self.chain(chain_id).nodes)

    def member_directory(self, chain_id: str, member_id: str) -> Path:
        (member,) = (m for m in self.chain(chain_id).members if m.member_id == member_id)
        return Path(member.directory)

    def identity(self, chain_id: str, member_id: str) -> Identity:
        return Identity.load(self.member_directory(chain_id, member_id))

    def client(self, chain_id: str, member_id: str | None = CLIENT) -> Client:
        identity = None if member_id is None else self.identity(chain_id, member_id)
        client = Client(self.address(chain_id), identity, timeout_s=REQUEST_TIMEOUT_S)
        self._clients.append(client)
        return client

    def endorsers(self, chain_id: str) -> list[Identity]:
        """Every other organisation's admin: enough for the MAJORITY governance policy."""
        return [
            Identity.load(member.directory)
            for member in self.chain(chain_id).members
            if member.member_id.endswith("/admin") and member.member_id != ADMIN
        ]

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@contextlib.contextmanager
def manifest_devnet(root: Path, manifest_template: str, ports: int) -> Iterator[TwoChains]:
    """The devnet of ``manifest_template`` (its ``{port_base}`` a free block of ``ports``)."""
    with manifest_devnets.manifest_devnet(root, manifest_template, ports) as directory:
        network = TwoChains(directory, load_devnet_description(directory))
        try:
            yield network
        finally:
            network.close_clients()


@contextlib.contextmanager
def two_chains(root: Path) -> Iterator[TwoChains]:
    with manifest_devnet(root, MANIFEST, PORTS) as network:
        yield network


@dataclasses.dataclass(frozen=True)
class Link:
    """Two chains that keep clients of each other: the first's client of the second, and the
    second's of the first (alpha and beta by default)."""

    alpha_client: str
    beta_client: str
    first_chain: str = ALPHA
    second_chain: str = BETA


def commit_a_block(client: Client) -> int:
    """A kv transaction, committed; its height (a solo chain makes blocks for transactions)."""
    committed = client.invoke("kv", "put", contracts_pb2.KvPutArguments(key=b"tick", value=b"1"))
    assert committed.succeeded, committed
    return committed.height


def join(network: TwoChains, first: str = ALPHA, second: str = BETA) -> Link:
    """Clients both ways, counterparties named, port transfer bound on both chains (a chain
    that bound it already is left as it is)."""
    one = network.client(first, ADMIN)
    other = network.client(second, ADMIN)
    # A solo chain commits blocks only for transactions: one each, so that each has a header.
    for client in (one, other):
        commit_a_block(client)
    first_client = one.interchain.create_client(
        other,
        single_signer_accepted=network.chain(second).consensus == "solo",
        endorsers=network.endorsers(first),
    )
    second_client = other.interchain.create_client(
        one,
        single_signer_accepted=network.chain(first).consensus == "solo",
        counterparty_client_id=first_client,
        endorsers=network.endorsers(second),
    )
    one.interchain.register_counterparty(
        first_client, second_client, endorsers=network.endorsers(first)
    )
    for client, chain_id in ((one, first), (other, second)):
        try:
            client.interchain.bind_port(
                "transfer", "transfer", endorsers=network.endorsers(chain_id)
            )
        except TransactionFailedError as error:
            assert "bound to transfer already" in error.message, error.message
    return Link(first_client, second_client, first, second)


class InProcessRelayer:
    """causeway.interchain.relaying.Relayer over the relayer package's SdkEndpoint, one round
    at a time, signing as org1/client on each chain."""

    def __init__(self, network: TwoChains, link: Link) -> None:
        self.first = SdkEndpoint(
            link.first_chain,
            list(network.addresses(link.first_chain)),
            network.identity(link.first_chain, CLIENT),
        )
        self.second = SdkEndpoint(
            link.second_chain,
            list(network.addresses(link.second_chain)),
            network.identity(link.second_chain, CLIENT),
        )
        self.link = link
        self.relayer = Relayer()

    def round(self) -> RoundReport:
        self.first.begin_round()
        self.second.begin_round()
        return self.relayer.relay_round(
            LinkEnd(self.first, self.link.alpha_client),
            LinkEnd(self.second, self.link.beta_client),
        )

    def close(self) -> None:
        self.first.close()
        self.second.close()


@contextlib.contextmanager
def relaying(
    network: TwoChains, *links: Link, start_after_s: float = 0.0
) -> Iterator[list[InProcessRelayer]]:
    """Relay rounds on each link, on a thread, every RELAY_INTERVAL_S (the first after
    ``start_after_s``), until the block ends; a round that fails (a node busy) is logged and the
    next one tries again, as the relayer process does."""
    relayers = [InProcessRelayer(network, link) for link in links]
    stop = threading.Event()
    failures: list[str] = []

    def run() -> None:
        stop.wait(start_after_s)
        while not stop.is_set():
            for relayer in relayers:
                try:
                    relayer.round()
                except CausewayError as error:
                    failures.append(error.message)
            stop.wait(RELAY_INTERVAL_S)

    thread = threading.Thread(target=run, name="relayer", daemon=True)
    thread.start()
    try:
        yield relayers
    finally:
        stop.set()
        thread.join(RELAY_STOP_TIMEOUT_S)
        for relayer in relayers:
            relayer.close()
        if failures:
            print(f"relay rounds that failed: {failures[-5:]}")
