"""PeerNetwork: the gRPC transport between the nodes of a chain (docs/peer-protocol.md).

Every node listens with mutual TLS and dials every configured peer. Each pair of nodes therefore
has two ``Connect`` streams, one each way, and a node only ever *writes* to the streams it
dialled and only ever *reads* from the streams dialled into it. The dialling side owns the send
queue, the reconnection and the backoff; the listening side identifies the caller by its client
certificate and delivers what it reads to the runtime's handlers, one envelope at a time: a
handler that is slow holds the stream, HTTP/2 flow control holds the sender's writes, and the
sender's bounded queue decides what to drop.

Peers are untrusted even when authenticated: every envelope is bounded, parsed here (not by
gRPC, so that garbage is counted instead of ending the stream) and checked for chain and sender
before a handler sees it; a handler's exception is logged and counted and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from cryptography import x509
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from causeway.consensus.v1 import consensus_pb2
from causeway.errors import (
    CertificateError,
    ConfigurationError,
    DecodeError,
    NodeUnavailableError,
    NotFoundError,
)
from causeway.net import statistics as counters
from causeway.net.backoff import Backoff
from causeway.net.config import PeerAddress, PeerSettings
from causeway.net.peer_set import PeerSetChange, diff_peers
from causeway.net.queues import PeerSendQueue
from causeway.net.statistics import UNIDENTIFIED_PEER, NetworkStatistics
from causeway.net.sync import BlockSource
from causeway.net.tls import PeerIdentity, TlsIdentity
from causeway.net.v1 import peer_pb2

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

logger = logging.getLogger("causeway.net")

SERVICE_NAME = "causeway.net.v1.Peer"
CONNECT_METHOD = f"/{SERVICE_NAME}/Connect"
GET_BLOCKS_METHOD = f"/{SERVICE_NAME}/GetBlocks"
# Binary metadata (the "-bin" suffix), so that any member id travels as it is.
MEMBER_METADATA_KEY = "causeway-member-id-bin"
CHAIN_METADATA_KEY = "causeway-chain-id-bin"
PROTOCOL_METADATA_KEY = "causeway-peer-protocol-bin"
# The peer protocol this node speaks (peer.proto); the callee names it in its Connect answer and a
# caller of another version does not connect. 2: transactions travel as their canonical bytes.
PEER_PROTOCOL_VERSION = 2
AUTH_CERTIFICATE_KEY = "x509_pem_cert"
# Longest latest_hash a status may carry (hashes are 32 bytes; room for a longer profile).
STATUS_HASH_BYTES_MAX = 64
# Incoming Connect streams never end by themselves, so a stop always waits this long when peers
# are connected: it is for the GetBlocks answers in flight, which a peer can ask elsewhere.
STOP_GRACE_S = 0.25
LOOPBACK_HOST = "127.0.0.1"
# What a stream read returns at the end; grpc-stubs does not declare it.
_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]

ConsensusHandler = Callable[[str, consensus_pb2.ConsensusMessage], Awaitable[None]]
# A batch's entries as they came: each should be the canonical bytes of one Transaction, unchecked.
TransactionsHandler = Callable[[str, list[bytes]], Awaitable[None]]
StatusHandler = Callable[[str, int, bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PeerHandlers:
    """Where received envelopes go; each is called with the sender's member id, as its TLS
    certificate names it. They must not raise on peer input (an exception is logged, counted
    as ``handler_errors`` and the envelope dropped)."""

    on_consensus: ConsensusHandler
    on_transactions: TransactionsHandler
    on_status: StatusHandler


@dataclass(frozen=True, slots=True)
class PeerState:
    """What this node knows of one configured peer."""

    name: str
    member_id: str
    address: str
    connected: bool
    """Whether our stream to it is up (it accepted us)."""
    height: int
    """Its latest announced height (0 before any announcement)."""
    latest_hash: bytes
    queued: int
    """Envelopes waiting in our send queue to it."""


def normalise_address(address: str) -> str:
    """``"7150"`` and ``":7150"`` mean the loopback interface; anything else is used as given."""
    address = address.strip()
    if address.isdigit():
        return f"{LOOPBACK_HOST}:{address}"
    if address.startswith(":"):
        return f"{LOOPBACK_HOST}{address}"
    return address


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _encode(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


class _PeerLink:
    """Our side of one peer: the send queue and the task that dials and writes."""

    def __init__(self, peer: PeerAddress, queue: PeerSendQueue, backoff: Backoff) -> None:
        self.peer = peer
        self.queue = queue
        self.backoff = backoff
        self.connected = asyncio.Event()
        # Set when the peer dialled us while we were waiting out a backoff: it is up again.
        self.woken = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class PeerNetwork:
    """The peer transport of one node. ``start`` listens and dials; ``stop`` ends both.

    The send methods never block and never raise on account of a peer: they encode once, queue
    for every peer concerned, and count what the bounds make them drop.
    """

    def __init__(
        self,
        *,
        chain_id: str,
        settings: PeerSettings,
        tls: TlsIdentity,
        handlers: PeerHandlers,
        block_source: BlockSource | None = None,
        peer_filter: Callable[[str], bool] | None = None,
        random_source: random.Random | None = None,
        statistics: NetworkStatistics | None = None,
        member_id: str | None = None,
    ) -> None:
        """``tls`` names this node (its certificate's CN is our member id; ``member_id``, when
        given, must be the same). ``peer_filter``, when given, is asked for every caller on top
        of the configured peer list (the runtime can refuse members that the chain's
        configuration no longer holds)."""
        settings.check()
        if member_id is not None and member_id != tls.member_id:
            raise ConfigurationError(
                f"the node's TLS certificate names {tls.member_id!r}, not the node's member"
                f" {member_id!r}"
            )
        self.chain_id = chain_id
        self.member_id = tls.member_id
        self.settings = settings
        self.statistics = statistics if statistics is not None else NetworkStatistics()
        self._tls = tls
        # The bundle file's trust, which what the chain records replaces per organisation
        # (update_peers); the server's TLS configuration follows _tls_generation.
        self._bootstrap_tls = tls
        self._tls_generation = 0
        self._served_tls_generation = 0
        self._revoked: frozenset[str] = frozenset()
        # Incoming Connect streams by member, and those we closed ourselves (a removed or
        # revoked peer), whose cancellation ends the call with PERMISSION_DENIED.
        self._incoming_tasks_by_member: dict[str, set[asyncio.Task[Any]]] = {}
        self._closed_streams: set[asyncio.Task[Any]] = set()
        # Dialling tasks of peers removed while running, cancelled and awaited by stop().
        self._retired_tasks: set[asyncio.Task[None]] = set()
        self._handlers = handlers
        self._block_source = block_source
        self._peer_filter = peer_filter
        self._random = random_source if random_source is not None else random.Random()
        self._peers: dict[str, PeerAddress] = {
            peer.member_id: peer for peer in settings.peers if peer.member_id != self.member_id
        }
        for peer in self._peers.values():
            # Fails now, not at the first dial, when the bundle lacks a peer's organisation.
            tls.authority_pem(peer.organisation)
        self._links: dict[str, _PeerLink] = {
            member_id: self._new_link(peer) for member_id, peer in self._peers.items()
        }
        self._peer_status: dict[str, tuple[int, bytes]] = {}
        self._incoming: dict[str, int] = {}
        # The handlers of the peers' streams to us, which stop() ends itself (see there).
        self._incoming_tasks: set[asyncio.Task[Any]] = set()
        self._status_envelope: bytes | None = None
        self._server: grpc.aio.Server | None = None
        self._port: int | None = None
        self._stopping = asyncio.Event()

    def _new_link(self, peer: PeerAddress) -> _PeerLink:
        limits = self.settings.limits
        return _PeerLink(
            peer,
            PeerSendQueue(limits.consensus_queue_max, limits.transaction_queue_max),
            Backoff(self.settings.backoff, self._random),
        )

    def _start_link(self, link: _PeerLink) -> None:
        link.task = asyncio.create_task(
            self._run_link(link), name=f"causeway-peer-{link.peer.name}"
        )

    # -- life cycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port we listen on (useful with port 0); ConfigurationError before start."""
        if self._port is None:
            raise ConfigurationError("the peer network is not started")
        return self._port

    async def start(self) -> None:
        """Listens on ``settings.listen_address`` and starts dialling every peer."""
        if self._server is not None:
            raise ConfigurationError("the peer network is already started")
        limits = self.settings.limits
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limits.message_bytes_max),
                ("grpc.max_send_message_length", limits.message_bytes_max),
                # A second server on the same port must fail, not share the port silently.
                ("grpc.so_reuseport", 0),
                ("grpc.keepalive_time_ms", self.settings.keepalive_ms),
                ("grpc.keepalive_timeout_ms", self.settings.keepalive_timeout_ms),
                ("grpc.keepalive_permit_without_calls", 1),
                # Peers ping as their own keepalive_ms says; never send them GOAWAY for it.
                ("grpc.http2.max_ping_strikes", 0),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
            ],
            maximum_concurrent_rpcs=limits.concurrent_rpcs_max,
        )
        handlers = {
            "Connect": grpc.stream_stream_rpc_method_handler(self._connect),
            "GetBlocks": grpc.unary_stream_rpc_method_handler(self._get_blocks),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),)
        )
        address = normalise_address(self.settings.listen_address)
        try:
            port = server.add_secure_port(
                address,
                grpc.dynamic_ssl_server_credentials(
                    self._tls.server_certificate_configuration(),
                    # gRPC takes None as "no change" (its documentation); the stubs say otherwise.
                    self._fetch_server_configuration,  # type: ignore[arg-type]
                    require_client_authentication=True,
                ),
            )
        except RuntimeError as error:
            raise ConfigurationError(f"cannot listen for peers on {address}: {error}") from None
        await server.start()
        self._server = server
        self._port = port
        self._stopping.clear()
        for link in self._links.values():
            self._start_link(link)
        logger.info(
            "listening for peers on %s; dialling %s",
            address,
            ", ".join(f"{peer.name}@{peer.address}" for peer in self._peers.values()) or "nobody",
        )

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stops dialling, then listening (calls in flight get ``grace_s``, then are cancelled);
        what is still queued is dropped. Stopping twice is harmless."""
        self._stopping.set()
        tasks = [link.task for link in self._links.values() if link.task is not None]
        tasks.extend(self._retired_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for link in self._links.values():
            link.task = None
        # A peer's stream to us never ends on its own. Left open, gRPC cancels it when the grace
        # runs out and logs each one at ERROR with a CancelledError traceback from its own
        # frames; ended here first (the handler returns normally once stopping), every call is
        # over before the server stops.
        incoming = list(self._incoming_tasks)
        for task in incoming:
            task.cancel()
        await asyncio.gather(*incoming, return_exceptions=True)
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace_s)

    async def __aenter__(self) -> PeerNetwork:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- peers that change while running (docs/peer-protocol.md, section 11) ----------------

    def _fetch_server_configuration(self) -> grpc.ServerCertificateConfiguration | None:
        """gRPC asks before each new handshake (from its own thread): a configuration when the
        trusted CAs changed since it last asked, None to keep the one it has."""
        generation = self._tls_generation
        if generation == self._served_tls_generation:
            return None
        self._served_tls_generation = generation
        return self._tls.server_certificate_configuration()

    def update_peers(
        self,
        peers: Mapping[str, PeerAddress],
        *,
        authorities: Mapping[str, Sequence[x509.Certificate]] | None = None,
        revoked: Iterable[str] = (),
    ) -> PeerSetChange:
        """Makes ``peers`` (by member id) the peers of this node, without a restart.

        ``authorities`` (when given) replaces, per organisation, the TLS CAs trusted for peers,
        for new handshakes both ways (existing connections stay up, as their certificates were
        checked when they were made). Peers added are dialled at once; peers removed, and any
        member of ``revoked``, lose their connections at once, both ways, and are refused when
        they dial again (``refused_peers``). A peer whose organisation has no trusted TLS CA
        cannot be dialled: it is left out, with a warning. Returns what changed."""
        if authorities is not None:
            self._tls = self._bootstrap_tls.with_authorities(authorities)
            self._tls_generation += 1
        self._revoked = frozenset(revoked)
        wanted: dict[str, PeerAddress] = {}
        for member_id, peer in peers.items():
            if member_id == self.member_id or member_id in self._revoked:
                continue
            if not self._tls.authorities.get(peer.organisation):
                logger.warning(
                    "not dialling %s (%s): no TLS CA of organisation %r is trusted",
                    peer.name,
                    member_id,
                    peer.organisation,
                )
                continue
            wanted[member_id] = peer
        change = diff_peers(self._peers, wanted)
        self._peers = wanted
        for member_id in (*change.removed, *change.changed):
            link = self._links.pop(member_id)
            if link.task is not None:
                link.task.cancel()
                self._retired_tasks.add(link.task)
                link.task.add_done_callback(self._retired_tasks.discard)
            self._close_incoming(member_id)
        for member_id in self._revoked:
            self._close_incoming(member_id)
        for member_id in (*change.added, *change.changed):
            link = self._links[member_id] = self._new_link(wanted[member_id])
            if self._status_envelope is not None:
                link.queue.put_status(self._status_envelope)
            if self._server is not None and not self._stopping.is_set():
                self._start_link(link)
        if change:
            logger.info(
                "peers changed: added %s, removed %s, changed %s",
                ", ".join(change.added) or "none",
                ", ".join(change.removed) or "none",
                ", ".join(change.changed) or "none",
            )
        return change

    def _close_incoming(self, member_id: str) -> None:
        for task in self._incoming_tasks_by_member.get(member_id, ()):
            self._closed_streams.add(task)
            task.cancel()

    # -- what the runtime sends -------------------------------------------------------------

    def _envelope(self, envelope: peer_pb2.PeerEnvelope) -> bytes | None:
        envelope.chain_id = self.chain_id
        envelope.sender = self.member_id
        data = _encode(envelope)
        if len(data) > self.settings.limits.envelope_bytes_max:
            self.statistics.increment(counters.SEND_REFUSED_OVERSIZED)
            logger.warning(
                "not sending a %s envelope of %d bytes, above envelope_bytes_max %d",
                envelope.WhichOneof("body"),
                len(data),
                self.settings.limits.envelope_bytes_max,
            )
            return None
        return data

    def _queue_consensus(self, link: _PeerLink, data: bytes) -> None:
        if not link.queue.put_consensus(data):
            self.statistics.increment(counters.SEND_DROPPED_CONSENSUS, link.peer.member_id)

    def broadcast_consensus(self, message: consensus_pb2.ConsensusMessage) -> None:
        """Queues ``message`` for every peer."""
        data = self._envelope(peer_pb2.PeerEnvelope(consensus=message))
        if data is None:
            return
        for link in self._links.values():
            self._queue_consensus(link, data)

    def send_consensus(self, member_id: str, message: consensus_pb2.ConsensusMessage) -> bool:
        """Queues ``message`` for one peer; False (and counted) when it is not a configured
        peer or the message is above the bound."""
        link = self._links.get(member_id)
        if link is None:
            self.statistics.increment(counters.SEND_UNKNOWN_PEER, member_id)
            logger.warning("no configured peer %r to send a consensus message to", member_id)
            return False
        data = self._envelope(peer_pb2.PeerEnvelope(consensus=message))
        if data is None:
            return False
        self._queue_consensus(link, data)
        return True

    def gossip_transactions(
        self, encoded_transactions: Sequence[bytes], *, to: str | None = None
    ) -> None:
        """Queues transactions, each as the canonical bytes this node admitted it as (a
        DecodedTransaction's ``encoded``), for every peer (or only for the peer ``to``, when it
        is one of ours), in batches within the batch bounds. The bytes go out as they are: no
        transaction is encoded again."""
        if not self._links:
            return
        limits = self.settings.limits
        batch: list[bytes] = []
        batch_bytes = 0
        for encoded in encoded_transactions:
            size = len(encoded)
            # Exactly what the transaction adds to TransactionBatch: tag, length, bytes.
            entry_bytes = 1 + _varint_size(size) + size
            if entry_bytes > limits.transaction_batch_bytes_max:
                self.statistics.increment(counters.SEND_REFUSED_OVERSIZED)
                continue
            if batch and (
                len(batch) >= limits.transaction_batch_transactions_max
                or batch_bytes + entry_bytes > limits.transaction_batch_bytes_max
            ):
                self._queue_transactions(batch, to)
                batch, batch_bytes = [], 0
            batch.append(encoded)
            batch_bytes += entry_bytes
        if batch:
            self._queue_transactions(batch, to)

    def _queue_transactions(self, batch: list[bytes], to: str | None) -> None:
        data = self._envelope(
            peer_pb2.PeerEnvelope(
                transactions=peer_pb2.TransactionBatch(encoded_transactions=batch)
            )
        )
        if data is None:
            return
        only = self._links.get(to) if to is not None else None
        for link in [only] if only is not None else self._links.values():
            if not link.queue.put_transactions(data):
                self.statistics.increment(
                    counters.SEND_DROPPED_TRANSACTIONS, link.peer.member_id, len(batch)
                )

    def announce_status(self, height: int, latest_hash: bytes) -> None:
        """Tells every peer our latest committed height; repeated to each peer on reconnect."""
        data = self._envelope(
            peer_pb2.PeerEnvelope(
                status=peer_pb2.PeerStatus(height=height, latest_hash=latest_hash)
            )
        )
        if data is None:
            return
        self._status_envelope = data
        for link in self._links.values():
            link.queue.put_status(data)

    # -- what the runtime asks --------------------------------------------------------------

    def peer_heights(self) -> dict[str, int]:
        """The latest height each peer announced (peers that announced nothing are absent)."""
        return {member_id: height for member_id, (height, _) in self._peer_status.items()}

    def peers(self) -> list[PeerState]:
        states: list[PeerState] = []
        for member_id, link in self._links.items():
            height, latest_hash = self._peer_status.get(member_id, (0, b""))
            states.append(
                PeerState(
                    name=link.peer.name,
                    member_id=member_id,
                    address=link.peer.address,
                    connected=link.connected.is_set(),
                    height=height,
                    latest_hash=latest_hash,
                    queued=len(link.queue),
                )
            )
        return states

    def connected_peers(self) -> list[str]:
        return sorted(
            member_id for member_id, link in self._links.items() if link.connected.is_set()
        )

    def configured_peers(self) -> list[str]:
        """The member ids of every peer this node dials."""
        return sorted(self._links)

    def add_peers(self, peers: Iterable[PeerAddress]) -> list[str]:
        """Dials these peers too from now on (and accepts their calls); returns the member ids
        added (a peer already known, or this node, is skipped). All or nothing: raises
        ConfigurationError, adding none, when the CA bundle holds no authority for one's
        organisation."""
        new = [
            peer
            for peer in {peer.member_id: peer for peer in peers}.values()
            if peer.member_id != self.member_id and peer.member_id not in self._links
        ]
        for peer in new:
            self._tls.authority_pem(peer.organisation)
        limits = self.settings.limits
        for peer in new:
            link = _PeerLink(
                peer,
                PeerSendQueue(limits.consensus_queue_max, limits.transaction_queue_max),
                Backoff(self.settings.backoff, self._random),
            )
            self._peers[peer.member_id] = peer
            self._links[peer.member_id] = link
            if self._server is not None and not self._stopping.is_set():
                link.task = asyncio.create_task(
                    self._run_link(link), name=f"causeway-peer-{peer.name}"
                )
            logger.info("added peer %s@%s", peer.name, peer.address)
        return [peer.member_id for peer in new]

    async def wait_until_connected(
        self, timeout_s: float, member_ids: Iterable[str] | None = None
    ) -> bool:
        """Whether our streams to ``member_ids`` (default: every peer) are up within timeout_s."""
        wanted = list(self._links) if member_ids is None else list(member_ids)
        links = [self._links[member_id] for member_id in wanted if member_id in self._links]
        if len(links) != len(wanted):
            return False
        try:
            async with asyncio.timeout(timeout_s):
                for link in links:
                    await link.connected.wait()
        except TimeoutError:
            return False
        return True

    # -- dialling ---------------------------------------------------------------------------

    def _channel(self, peer: PeerAddress) -> grpc.aio.Channel:
        limits = self.settings.limits
        return grpc.aio.secure_channel(
            peer.address,
            self._tls.channel_credentials(peer.organisation),
            options=[
                # The peer's certificate must name its node, wherever it is reached.
                ("grpc.ssl_target_name_override", peer.name),
                ("grpc.default_authority", peer.name),
                ("grpc.max_send_message_length", limits.message_bytes_max),
                ("grpc.max_receive_message_length", limits.message_bytes_max),
                ("grpc.keepalive_time_ms", self.settings.keepalive_ms),
                ("grpc.keepalive_timeout_ms", self.settings.keepalive_timeout_ms),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
                # Our backoff decides when to dial again, not state shared with other channels.
                ("grpc.use_local_subchannel_pool", 1),
                ("grpc.enable_retries", 0),
            ],
        )

    async def _run_link(self, link: _PeerLink) -> None:
        peer = link.peer
        while not self._stopping.is_set():
            channel = self._channel(peer)
            try:
                await self._stream_to(link, channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.debug("stream to %s ended: %r", peer.name, error)
            finally:
                if link.connected.is_set():
                    link.connected.clear()
                    self.statistics.increment(counters.DISCONNECTS, peer.member_id)
                await channel.close(grace=None)
            if self._stopping.is_set():
                return
            delay_s = link.backoff.next_delay_s()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped_or_woken(link), delay_s)
            link.woken.clear()

    async def _stopped_or_woken(self, link: _PeerLink) -> None:
        waits = {
            asyncio.ensure_future(self._stopping.wait()),
            asyncio.ensure_future(link.woken.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _stream_to(self, link: _PeerLink, channel: grpc.aio.Channel) -> None:
        peer = link.peer
        connect: Any = channel.stream_stream(CONNECT_METHOD, None, None)  # raw bytes
        call: Any = connect()
        try:
            try:
                async with asyncio.timeout(self.settings.connect_timeout_ms / 1000):
                    metadata = await call.initial_metadata()
            except TimeoutError:
                self._connect_failed(link, "no answer within connect_timeout_ms")
                return
            if call.done():
                code = await call.code()
                details = await call.details()
                self._connect_failed(link, f"{code.name}: {details}")
                return
            answered = {key: value for key, value in (metadata or ())}
            member = answered.get(MEMBER_METADATA_KEY, b"").decode("utf-8", "replace")
            chain = answered.get(CHAIN_METADATA_KEY, b"").decode("utf-8", "replace")
            # Version 1 named no version.
            version = answered.get(PROTOCOL_METADATA_KEY, b"1").decode("utf-8", "replace")
            if member != peer.member_id or chain != self.chain_id:
                self._connect_failed(
                    link,
                    f"it answers as {member!r} of chain {chain!r}, not {peer.member_id!r} of"
                    f" {self.chain_id!r}: check its address",
                    level=logging.ERROR,
                )
                return
            if version != str(PEER_PROTOCOL_VERSION):
                self._connect_failed(
                    link,
                    f"it speaks peer protocol version {version!r}, this node version"
                    f" {PEER_PROTOCOL_VERSION}: upgrade the older node",
                    level=logging.ERROR,
                )
                return
            link.backoff.reset()
            link.connected.set()
            self.statistics.increment(counters.CONNECTIONS_OPENED, peer.member_id)
            logger.info("connected to peer %s (%s) at %s", peer.name, peer.member_id, peer.address)
            if self._status_envelope is not None:
                link.queue.put_status(self._status_envelope)
            reader = asyncio.create_task(self._read_until_end(call))
            writer = asyncio.create_task(self._write_queue(link, call))
            try:
                done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, writer):
                    task.cancel()
                await asyncio.gather(reader, writer, return_exceptions=True)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    logger.info("stream to peer %s ended: %s", peer.name, task.exception())
        finally:
            call.cancel()

    def _connect_failed(self, link: _PeerLink, reason: str, level: int = logging.INFO) -> None:
        self.statistics.increment(counters.CONNECT_FAILURES, link.peer.member_id)
        # The first failure in a row is worth a line; the retries after it are not.
        if link.backoff.attempts == 0 or level > logging.INFO:
            logger.log(
                level,
                "cannot connect to peer %s at %s: %s",
                link.peer.name,
                link.peer.address,
                reason,
            )
        else:
            logger.debug("cannot connect to peer %s: %s", link.peer.name, reason)

    async def _read_until_end(self, call: Any) -> None:
        # Version 1 peers send nothing back; reading tells us when the stream ends.
        while True:
            message = await call.read()
            if message is _EOF:
                return

    async def _write_queue(self, link: _PeerLink, call: Any) -> None:
        while True:
            data = await link.queue.get()
            try:
                await call.write(data)
            except BaseException:
                self.statistics.increment(counters.SEND_FAILED, link.peer.member_id)
                raise
            self.statistics.increment(counters.SENT_ENVELOPES, link.peer.member_id)
            self.statistics.increment(counters.SENT_BYTES, link.peer.member_id, len(data))

    # -- listening --------------------------------------------------------------------------

    async def _refuse(
        self, context: Context, code: grpc.StatusCode, counter: str, peer: str, reason: str
    ) -> NoReturn:
        self.statistics.increment(counter, peer)
        logger.warning("refused peer %s: %s", peer or "(unidentified)", reason)
        await context.abort(code, reason)
        raise AssertionError("context.abort returned")  # pragma: no cover

    async def _authenticate(self, context: Context) -> PeerIdentity:
        certificates = list(context.auth_context().get(AUTH_CERTIFICATE_KEY) or ())
        if not certificates:
            await self._refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                counters.REFUSED_PEERS,
                UNIDENTIFIED_PEER,
                "no client certificate",
            )
        try:
            identity = self._tls.identify_peer(certificates[0])
        except CertificateError as error:
            await self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                counters.REFUSED_PEERS,
                UNIDENTIFIED_PEER,
                error.message,
            )
        if identity.member_id in self._revoked:
            await self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                counters.REFUSED_PEERS,
                identity.member_id,
                f"{identity.member_id!r} is revoked",
            )
        peer = self._peers.get(identity.member_id)
        if peer is None:
            await self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                counters.REFUSED_PEERS,
                identity.member_id,
                f"{identity.member_id!r} is not a configured peer",
            )
        if self._peer_filter is not None and not self._peer_filter(identity.member_id):
            await self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                counters.REFUSED_PEERS,
                identity.member_id,
                f"{identity.member_id!r} is not a node of the chain's configuration",
            )
        return identity

    async def _connect(self, requests: AsyncIterator[bytes], context: Context) -> None:
        if self._stopping.is_set():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the node is stopping")
        task = asyncio.current_task()
        assert task is not None
        self._incoming_tasks.add(task)
        try:
            await self._serve_stream(requests, context)
        except asyncio.CancelledError:
            # Stopping cancels the streams still open; that is their normal end, not an error
            # for gRPC to report. Any other cancellation goes on up.
            if not self._stopping.is_set():
                raise
        finally:
            self._incoming_tasks.discard(task)

    async def _serve_stream(self, requests: AsyncIterator[bytes], context: Context) -> None:
        identity = await self._authenticate(context)
        member_id = identity.member_id
        if self._incoming.get(member_id, 0) >= self.settings.limits.incoming_streams_per_peer_max:
            await self._refuse(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                counters.REFUSED_STREAMS,
                member_id,
                f"{member_id!r} already has incoming_streams_per_peer_max streams",
            )
        self._incoming[member_id] = self._incoming.get(member_id, 0) + 1
        task = asyncio.current_task()
        assert task is not None
        self._incoming_tasks_by_member.setdefault(member_id, set()).add(task)
        closed = False
        link = self._links.get(member_id)
        if link is not None and not link.connected.is_set():
            # A peer that restarted dials us first: dial it back now, not after our backoff
            # (up to reconnect_max_ms) runs out.
            link.backoff.reset()
            link.woken.set()
        try:
            await context.send_initial_metadata(
                (
                    (MEMBER_METADATA_KEY, self.member_id.encode()),
                    (CHAIN_METADATA_KEY, self.chain_id.encode()),
                    (PROTOCOL_METADATA_KEY, str(PEER_PROTOCOL_VERSION).encode()),
                )
            )
            async for data in requests:
                await self._receive(member_id, data)
        except asyncio.CancelledError:
            # Stopping cancels the streams still open; that is their normal end, not an error
            # for gRPC to report. Any other cancellation goes on up.
            if task in self._closed_streams:
                # Ours (update_peers): answered below, as a refusal the caller can read.
                task.uncancel()
                closed = True
            elif not self._stopping.is_set():
                raise
        finally:
            self._incoming[member_id] -= 1
            self._incoming_tasks_by_member[member_id].discard(task)
            if not self._incoming_tasks_by_member[member_id]:
                del self._incoming_tasks_by_member[member_id]
        if closed:
            self._closed_streams.discard(task)
            await self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                counters.REFUSED_PEERS,
                member_id,
                f"{member_id!r} is no longer a peer of this node (removed or revoked)",
            )

    async def _receive(self, member_id: str, data: bytes) -> None:
        limits = self.settings.limits
        statistics = self.statistics
        statistics.increment(counters.RECEIVED_BYTES, member_id, len(data))
        if len(data) > limits.envelope_bytes_max:
            statistics.increment(counters.DROPPED_OVERSIZED, member_id)
            return
        envelope = peer_pb2.PeerEnvelope()
        try:
            envelope.ParseFromString(data)
        except (ProtobufDecodeError, RuntimeError, ValueError):
            statistics.increment(counters.DROPPED_MALFORMED, member_id)
            return
        if envelope.chain_id != self.chain_id:
            statistics.increment(counters.DROPPED_WRONG_CHAIN, member_id)
            return
        if envelope.sender != member_id:
            statistics.increment(counters.DROPPED_WRONG_SENDER, member_id)
            return
        kind = envelope.WhichOneof("body")
        try:
            if kind == "consensus":
                if envelope.consensus.WhichOneof("body") is None:
                    statistics.increment(counters.DROPPED_MALFORMED, member_id)
                    return
                statistics.increment(counters.RECEIVED_CONSENSUS, member_id)
                await self._handlers.on_consensus(member_id, envelope.consensus)
            elif kind == "transactions":
                # Each entry is left as the bytes that came: the handler decodes it once.
                entries = envelope.transactions.encoded_transactions
                if not entries:
                    statistics.increment(counters.DROPPED_MALFORMED, member_id)
                    return
                if len(entries) > limits.transaction_batch_transactions_max:
                    statistics.increment(counters.DROPPED_BATCHES_TOO_MANY, member_id)
                    return
                # The batch's size counted from its entries (ByteSize would serialise it).
                batch_bytes = sum(1 + _varint_size(len(entry)) + len(entry) for entry in entries)
                if batch_bytes > limits.transaction_batch_bytes_max:
                    statistics.increment(counters.DROPPED_BATCHES_TOO_LARGE, member_id)
                    return
                statistics.increment(counters.RECEIVED_TRANSACTIONS, member_id, len(entries))
                await self._handlers.on_transactions(member_id, list(entries))
            elif kind == "status":
                status = envelope.status
                if len(status.latest_hash) > STATUS_HASH_BYTES_MAX:
                    statistics.increment(counters.DROPPED_MALFORMED, member_id)
                    return
                self._peer_status[member_id] = (status.height, status.latest_hash)
                statistics.increment(counters.RECEIVED_STATUS, member_id)
                await self._handlers.on_status(member_id, status.height, status.latest_hash)
            else:
                statistics.increment(counters.DROPPED_MALFORMED, member_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            statistics.increment(counters.HANDLER_ERRORS, member_id)
            logger.exception("the %s handler failed on an envelope from %s", kind, member_id)

    async def _get_blocks(self, data: bytes, context: Context) -> AsyncIterator[bytes]:
        identity = await self._authenticate(context)
        member_id = identity.member_id
        request = peer_pb2.BlockRangeRequest()
        try:
            request.ParseFromString(data)
        except (ProtobufDecodeError, RuntimeError, ValueError):
            await self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                counters.BLOCK_REQUESTS_REFUSED,
                member_id,
                "malformed: not a BlockRangeRequest",
            )
        if request.chain_id != self.chain_id:
            await self._refuse(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                counters.BLOCK_REQUESTS_REFUSED,
                member_id,
                f"wrong_chain: this node is of chain {self.chain_id!r}",
            )
        if request.from_height < 1 or request.to_height < request.from_height:
            await self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                counters.BLOCK_REQUESTS_REFUSED,
                member_id,
                f"bad_request: no heights {request.from_height}..{request.to_height}",
            )
        source = self._block_source
        if source is None:
            await self._refuse(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                counters.BLOCK_REQUESTS_REFUSED,
                member_id,
                "this node serves no blocks",
            )
        self.statistics.increment(counters.BLOCK_REQUESTS_SERVED, member_id)
        last = min(
            request.to_height,
            request.from_height + self.settings.limits.blocks_per_request_max - 1,
            source.latest_height(),
        )
        for height in range(request.from_height, last + 1):
            try:
                block, certificate = source.get_block(height)
            except NotFoundError:
                return
            except Exception:
                logger.exception("cannot read block %d for peer %s", height, member_id)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            yield _encode(peer_pb2.BlockWithCertificate(block=block, certificate=certificate))
            self.statistics.increment(counters.BLOCKS_SERVED, member_id)

    # -- block sync client ------------------------------------------------------------------

    async def fetch_blocks(
        self, member_id: str, from_height: int, to_height: int
    ) -> AsyncGenerator[peer_pb2.BlockWithCertificate, None]:
        """Blocks from_height..to_height (or fewer) from one peer, unverified: BlockSyncer
        verifies. NodeUnavailableError when the peer cannot be asked, DecodeError for garbage."""
        peer = self._peers.get(member_id)
        if peer is None:
            raise NodeUnavailableError(f"{member_id!r} is not a configured peer")
        request = peer_pb2.BlockRangeRequest(
            chain_id=self.chain_id, from_height=from_height, to_height=to_height
        )
        channel = self._channel(peer)
        try:
            get_blocks: Any = channel.unary_stream(GET_BLOCKS_METHOD, None, None)  # raw bytes
            call: Any = get_blocks(
                _encode(request), timeout=self.settings.sync_request_timeout_ms / 1000
            )
            while True:
                try:
                    data = await call.read()
                except grpc.aio.AioRpcError as error:
                    raise NodeUnavailableError(
                        f"GetBlocks from {peer.name}: {error.code().name}: {error.details()}"
                    ) from None
                if data is _EOF:
                    return
                item = peer_pb2.BlockWithCertificate()
                try:
                    item.ParseFromString(data)
                except (ProtobufDecodeError, RuntimeError, ValueError):
                    raise DecodeError(
                        f"{peer.name} sent something that is not a BlockWithCertificate"
                    ) from None
                yield item
        finally:
            await channel.close(grace=None)
