"""Helpers of the causeway.net tests: networks from `causeway init`, nodes on free ports."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import tomllib
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import grpc

from causeway.consensus.v1 import consensus_pb2
from causeway.net import (
    PeerAddress,
    PeerHandlers,
    PeerLimits,
    PeerNetwork,
    PeerSettings,
    ReconnectBackoff,
    TlsIdentity,
    load_peer_settings,
)
from causeway.net.peer import CONNECT_METHOD
from causeway.net.sync import BlockSource
from causeway.net.v1 import peer_pb2
from causeway.provisioning import NetworkDescription, init_network, node_directory
from causeway.provisioning import description as description_module
from causeway.types import encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "net-test"
WAIT_S = 10.0
FAST_BACKOFF = ReconnectBackoff(initial_ms=20, max_ms=200, multiplier=2.0, jitter=0.2)


def init_test_network(
    directory: Path,
    *,
    validators: int,
    organisations: int | None = None,
    crypto_profile: str = "intl",
    algorithm: str | None = None,
    chain_id: str = CHAIN_ID,
) -> NetworkDescription:
    """`causeway init` with several validators. Until a multi-validator engine is in
    CONSENSUS_KINDS, "tbft" is let through here: the transport does not look at it."""
    kinds = description_module.CONSENSUS_KINDS
    extended = kinds if "tbft" in kinds else (*kinds, "tbft")
    with mock.patch.object(description_module, "CONSENSUS_KINDS", extended):
        return init_network(
            directory,
            organisations if organisations is not None else validators,
            crypto_profile,
            "tbft",
            validators=validators,
            algorithm=algorithm,
            chain_id=chain_id,
        )


def free_port() -> int:
    """A loopback port free now, at random below the kernel's ephemeral range: a port the kernel
    hands out for binding to 0 may meanwhile become the local port of an outgoing connection
    (a test run failed to listen on one that way)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        ephemeral_low = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32_768
    chooser = random.SystemRandom()
    for _ in range(200):
        port = chooser.randrange(20_000, max(21_000, ephemeral_low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("found no free loopback port below the ephemeral range")


class Inbox:
    """Records what a node's handlers receive; tests wait on it."""

    def __init__(self, delay: asyncio.Event | None = None) -> None:
        self.consensus: list[tuple[str, consensus_pb2.ConsensusMessage]] = []
        self.transactions: list[tuple[str, list[bytes]]] = []
        self.status: list[tuple[str, int, bytes]] = []
        self._changed = asyncio.Event()
        # While set to an unset Event, consensus handling blocks: a slow node.
        self.hold = delay

    def handlers(self) -> PeerHandlers:
        return PeerHandlers(
            on_consensus=self._on_consensus,
            on_transactions=self._on_transactions,
            on_status=self._on_status,
        )

    async def _on_consensus(self, sender: str, message: consensus_pb2.ConsensusMessage) -> None:
        if self.hold is not None:
            await self.hold.wait()
        self.consensus.append((sender, message))
        self._changed.set()

    async def _on_transactions(self, sender: str, encoded_transactions: list[bytes]) -> None:
        self.transactions.append((sender, encoded_transactions))
        self._changed.set()

    async def _on_status(self, sender: str, height: int, latest_hash: bytes) -> None:
        self.status.append((sender, height, latest_hash))
        self._changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_consensus(self, count: int) -> None:
        await self.wait_for(lambda: len(self.consensus) >= count)

    async def wait_for_transactions(self, count: int) -> None:
        await self.wait_for(lambda: sum(len(batch) for _, batch in self.transactions) >= count)

    async def wait_for_status(self, count: int) -> None:
        await self.wait_for(lambda: len(self.status) >= count)


def vote(height: int, validator: str = "org1/node1") -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(
        vote=consensus_pb2.Vote(
            type=consensus_pb2.VOTE_TYPE_PREVOTE,
            height=height,
            validator=validator,
            block_hash=bytes(32),
            signature=b"s",
        )
    )


def transaction(index: int, size: int = 16) -> bytes:
    """What gossip carries: a transaction's canonical bytes (the transport never looks inside)."""
    return encode(
        types_pb2.Transaction(body=index.to_bytes(4, "big") + bytes(size), signature=b"sig")
    )


@dataclasses.dataclass
class PeerNode:
    name: str
    home: Path
    settings: PeerSettings
    tls: TlsIdentity
    inbox: Inbox
    network: PeerNetwork | None = None

    @property
    def member_id(self) -> str:
        return self.tls.member_id

    @property
    def peer_network(self) -> PeerNetwork:
        assert self.network is not None
        return self.network


def node_settings(home: Path) -> PeerSettings:
    document = tomllib.loads((home / "config.toml").read_text())
    return load_peer_settings(document, home)


def prepare_nodes(
    directory: Path,
    description: NetworkDescription,
    *,
    limits: PeerLimits | None = None,
    peers_of: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, PeerNode]:
    """Every node of the network on free loopback ports, dialling each other (or, with
    ``peers_of(name)``, only the nodes named), with fast reconnection."""
    ports = {node.name: free_port() for node in description.nodes}
    prepared: dict[str, PeerNode] = {}
    for node in description.nodes:
        home = node_directory(directory, node.name)
        loaded = node_settings(home)
        wanted = peers_of(node.name) if peers_of is not None else None
        peers = tuple(
            PeerAddress(peer.name, peer.member_id, f"127.0.0.1:{ports[peer.name]}")
            for peer in loaded.peers
            if wanted is None or peer.name in wanted
        )
        settings = dataclasses.replace(
            loaded,
            listen_address=f"127.0.0.1:{ports[node.name]}",
            peers=peers,
            backoff=FAST_BACKOFF,
            limits=limits if limits is not None else loaded.limits,
            connect_timeout_ms=2000,
        )
        tls = TlsIdentity.load(
            settings.tls_key_file, settings.tls_certificate_file, settings.tls_ca_bundle_file
        )
        prepared[node.name] = PeerNode(
            name=node.name, home=home, settings=settings, tls=tls, inbox=Inbox()
        )
    return prepared


async def start_node(
    stack: AsyncExitStack,
    node: PeerNode,
    *,
    block_source: BlockSource | None = None,
    seed: int = 1,
) -> PeerNetwork:
    """Starts the node's PeerNetwork; the stack stops it."""
    network = PeerNetwork(
        chain_id=CHAIN_ID,
        settings=node.settings,
        tls=node.tls,
        handlers=node.inbox.handlers(),
        block_source=block_source,
        random_source=random.Random(seed),
    )
    await network.start()
    stack.push_async_callback(network.stop)
    node.network = network
    return network


def raw_channel(
    port: int,
    *,
    key_pem: bytes,
    certificate_pem: bytes,
    root_pem: bytes,
    server_name: str,
    message_bytes_max: int = 64 << 20,
) -> grpc.aio.Channel:
    """A bare channel with any TLS material, for callers that misbehave on purpose."""
    return grpc.aio.secure_channel(
        f"127.0.0.1:{port}",
        grpc.ssl_channel_credentials(root_pem, key_pem, certificate_pem),
        options=[
            ("grpc.ssl_target_name_override", server_name),
            ("grpc.max_send_message_length", message_bytes_max),
            ("grpc.use_local_subchannel_pool", 1),
        ],
    )


def raw_channel_as(node: PeerNode, target: PeerNode) -> grpc.aio.Channel:
    """A bare channel carrying ``node``'s own certificate to ``target``."""
    return raw_channel(
        target.peer_network.port,
        key_pem=node.tls.key_pem,
        certificate_pem=node.tls.certificate_pem,
        root_pem=node.tls.bundle_pem(),
        server_name=target.name,
    )


def connect_call(channel: grpc.aio.Channel) -> Any:
    method: Any = channel.stream_stream(CONNECT_METHOD, None, None)
    return method()


async def final_code(call: Any) -> grpc.StatusCode:
    async with asyncio.timeout(WAIT_S):
        code: grpc.StatusCode = await call.code()
        return code


def envelope_bytes(sender: str, *, chain_id: str = CHAIN_ID, **body: Any) -> bytes:
    return peer_pb2.PeerEnvelope(chain_id=chain_id, sender=sender, **body).SerializeToString()
