"""causeway.net over real gRPC and TLS on loopback: messages, identities, bounds, reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import grpc
import pytest
from net_support import (
    CHAIN_ID,
    WAIT_S,
    Inbox,
    connect_call,
    envelope_bytes,
    final_code,
    init_test_network,
    prepare_nodes,
    raw_channel,
    raw_channel_as,
    start_node,
    transaction,
    vote,
)
from waiting import wait_until_async

from causeway.consensus.v1 import consensus_pb2
from causeway.net import PeerAddress, PeerLimits, PeerNetwork, ReconnectBackoff
from causeway.net.peer import CHAIN_METADATA_KEY, MEMBER_METADATA_KEY
from causeway.net.v1 import peer_pb2
from causeway.provisioning import issue_node_tls_certificate

SMALL_LIMITS = PeerLimits(
    message_bytes_max=1 << 20,
    envelope_bytes_max=64 << 10,
    transaction_batch_transactions_max=10,
    transaction_batch_bytes_max=32 << 10,
    consensus_queue_max=4,
    transaction_queue_max=2,
)


async def _until(condition: object, timeout_s: float = WAIT_S) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("crypto_profile", "algorithm"),
    [("intl", "ecdsa-p256"), ("intl", "ed25519"), ("gm", "sm2")],
)
async def test_two_peers_exchange_consensus_and_transactions(
    tmp_path: Path, crypto_profile: str, algorithm: str
) -> None:
    description = init_test_network(
        tmp_path, validators=2, crypto_profile=crypto_profile, algorithm=algorithm
    )
    nodes = prepare_nodes(tmp_path, description)
    first, second = nodes["node1"], nodes["node2"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        two = await start_node(stack, second)
        assert await one.wait_until_connected(WAIT_S)
        assert await two.wait_until_connected(WAIT_S)
        one.broadcast_consensus(vote(1))
        assert two.send_consensus(first.member_id, vote(2, second.member_id))
        one.gossip_transactions([transaction(index) for index in range(5)])
        await second.inbox.wait_for(
            lambda: bool(second.inbox.consensus and second.inbox.transactions)
        )
        await first.inbox.wait_for(lambda: bool(first.inbox.consensus))
        assert second.inbox.consensus == [(first.member_id, vote(1))]
        assert first.inbox.consensus == [(second.member_id, vote(2, second.member_id))]
        ((sender, received),) = second.inbox.transactions
        assert sender == first.member_id
        assert received == [transaction(index) for index in range(5)]
        assert two.statistics.get("received_transactions", first.member_id) == 5
        assert one.connected_peers() == [second.member_id]


async def test_three_peers_broadcast_send_gossip_and_status(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=3)
    nodes = prepare_nodes(tmp_path, description)
    members = {node.member_id for node in nodes.values()}
    async with AsyncExitStack() as stack:
        for node in nodes.values():
            await start_node(stack, node)
        for node in nodes.values():
            assert await node.peer_network.wait_until_connected(WAIT_S)
        for height, node in enumerate(nodes.values(), start=1):
            node.peer_network.broadcast_consensus(vote(height, node.member_id))
        for node in nodes.values():
            await node.inbox.wait_for_consensus(2)
            assert {sender for sender, _ in node.inbox.consensus} == members - {node.member_id}
            for sender, message in node.inbox.consensus:
                assert message.vote.validator == sender

        one, two, three = nodes["node1"], nodes["node2"], nodes["node3"]
        # Only node3 gets the direct message; node2 sees node1's next broadcast and nothing else.
        assert one.peer_network.send_consensus(three.member_id, vote(9))
        one.peer_network.broadcast_consensus(vote(10))
        await three.inbox.wait_for(lambda: len(three.inbox.consensus) == 4)
        await two.inbox.wait_for(lambda: len(two.inbox.consensus) == 3)
        assert [m.vote.height for s, m in three.inbox.consensus if s == one.member_id] == [1, 9, 10]
        assert [m.vote.height for s, m in two.inbox.consensus if s == one.member_id] == [1, 10]
        assert not one.peer_network.send_consensus("org9/node9", vote(11))
        assert one.peer_network.statistics.get("send_unknown_peer") == 1

        two.peer_network.gossip_transactions([transaction(index) for index in range(25)])
        for node in (one, three):
            await node.inbox.wait_for_transactions(25)
            # Batches of at most transaction_batch_transactions_max (1000 by default): one.
            assert [len(batch) for _, batch in node.inbox.transactions] == [25]

        three.peer_network.announce_status(7, b"\x07" * 32)
        for node in (one, two):
            await node.inbox.wait_for_status(1)
            assert node.inbox.status == [(three.member_id, 7, b"\x07" * 32)]
            assert node.peer_network.peer_heights() == {three.member_id: 7}
        (state,) = [s for s in one.peer_network.peers() if s.member_id == three.member_id]
        assert (state.name, state.connected, state.height) == ("node3", True, 7)


async def test_gossip_splits_batches_at_the_bounds(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    limits = dataclasses.replace(SMALL_LIMITS, transaction_queue_max=16)
    nodes = prepare_nodes(tmp_path, description, limits=limits)
    first, second = nodes["node1"], nodes["node2"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        await start_node(stack, second)
        assert await one.wait_until_connected(WAIT_S)
        # 10 per batch by count; 3 KiB each puts 10 in 32 KiB too.
        one.gossip_transactions([transaction(index, 3000) for index in range(23)])
        # Above the batch byte bound on its own: never sent.
        one.gossip_transactions([transaction(99, 40_000)])
        await second.inbox.wait_for(
            lambda: sum(len(batch) for _, batch in second.inbox.transactions) == 23
        )
        assert [len(batch) for _, batch in second.inbox.transactions] == [10, 10, 3]
        assert one.statistics.get("send_refused_oversized") == 1
        one.broadcast_consensus(
            consensus_pb2.ConsensusMessage(vote=consensus_pb2.Vote(signature=bytes(70_000)))
        )
        assert one.statistics.get("send_refused_oversized") == 2


async def test_a_peer_whose_certificate_comes_from_an_unknown_ca_is_refused(
    tmp_path: Path,
) -> None:
    ours = init_test_network(tmp_path / "ours", validators=2)
    theirs = init_test_network(tmp_path / "theirs", validators=2)
    our_nodes = prepare_nodes(tmp_path / "ours", ours)
    their_nodes = prepare_nodes(tmp_path / "theirs", theirs)
    target = our_nodes["node1"]
    intruder = their_nodes["node2"]
    async with AsyncExitStack() as stack:
        await start_node(stack, target)
        # Same member id as our node2, certificate from another org2 CA; it trusts our CAs.
        channel = raw_channel(
            target.peer_network.port,
            key_pem=intruder.tls.key_pem,
            certificate_pem=intruder.tls.certificate_pem,
            root_pem=target.tls.bundle_pem(),
            server_name=target.name,
        )
        stack.push_async_callback(channel.close, None)
        call = connect_call(channel)
        with contextlib.suppress(grpc.aio.AioRpcError):
            # The handshake may fail before or after this write gets out.
            await call.write(envelope_bytes(intruder.member_id, consensus=vote(1)))
        assert await final_code(call) == grpc.StatusCode.UNAVAILABLE
        assert target.inbox.consensus == []

        # And the other way: a PeerNetwork of the other network dialling ours never connects.
        intruder.settings = dataclasses.replace(
            intruder.settings,
            peers=(PeerAddress("node1", "org1/node1", f"127.0.0.1:{target.peer_network.port}"),),
        )
        network = await start_node(stack, intruder)
        assert not await network.wait_until_connected(1.0)
        assert network.statistics.get("connect_failures") >= 1
        assert target.inbox.consensus == []


async def test_a_valid_peer_that_is_not_configured_is_refused(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=3)
    # node1 knows node2 only; node3 knows both and dials node1 anyway.
    nodes = prepare_nodes(
        tmp_path,
        description,
        peers_of=lambda name: ["node2"] if name == "node1" else ["node1", "node2", "node3"],
    )
    one, two, three = nodes["node1"], nodes["node2"], nodes["node3"]
    async with AsyncExitStack() as stack:
        for node in nodes.values():
            await start_node(stack, node)
        assert await three.peer_network.wait_until_connected(WAIT_S, [two.member_id])
        await _until(lambda: one.peer_network.statistics.get("refused_peers", three.member_id) >= 1)
        assert three.member_id not in three.peer_network.connected_peers()
        assert one.member_id not in three.peer_network.connected_peers()
        # The refusal reaches node3 a moment after node1 counted it.
        await _until(
            lambda: three.peer_network.statistics.get("connect_failures", one.member_id) >= 1
        )
        three.peer_network.broadcast_consensus(vote(5, three.member_id))
        await two.inbox.wait_for(lambda: bool(two.inbox.consensus))
        assert one.inbox.consensus == []

        # A raw call as node3 gets PERMISSION_DENIED; so does GetBlocks.
        channel = raw_channel_as(three, one)
        stack.push_async_callback(channel.close, None)
        assert await final_code(connect_call(channel)) == grpc.StatusCode.PERMISSION_DENIED
        get_blocks = channel.unary_stream("/causeway.net.v1.Peer/GetBlocks", None, None)
        request = peer_pb2.BlockRangeRequest(chain_id=CHAIN_ID, from_height=1, to_height=1)
        call = get_blocks(request.SerializeToString())
        assert await final_code(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_certificate_from_another_organisations_ca_is_refused(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    one, two = nodes["node1"], nodes["node2"]
    # org2's CA (trusted for org2's nodes) issues a certificate that claims to be org1/node1.
    org2_authority = description.organisations[1].tls_authority
    forged = issue_node_tls_certificate(
        dataclasses.replace(org2_authority, organisation="org1"), "node1", "org1/node1", 1
    )
    async with AsyncExitStack() as stack:
        await start_node(stack, two)
        channel = raw_channel(
            two.peer_network.port,
            key_pem=forged.key_pem(),
            certificate_pem=forged.certificate_pem(),
            root_pem=one.tls.bundle_pem(),
            server_name=two.name,
        )
        stack.push_async_callback(channel.close, None)
        assert await final_code(connect_call(channel)) == grpc.StatusCode.PERMISSION_DENIED
        assert two.peer_network.statistics.get("refused_peers", "") == 1
        assert two.inbox.consensus == []


async def test_bad_envelopes_are_dropped_and_counted_and_the_stream_goes_on(
    tmp_path: Path,
) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description, limits=SMALL_LIMITS)
    one, two = nodes["node1"], nodes["node2"]
    sender = one.member_id
    async with AsyncExitStack() as stack:
        network = await start_node(stack, two)
        channel = raw_channel_as(one, two)
        stack.push_async_callback(channel.close, None)
        call = connect_call(channel)
        big_vote = consensus_pb2.ConsensusMessage(vote=consensus_pb2.Vote(signature=bytes(100_000)))
        for data in (
            b"\xff\xff\xff\xff",  # malformed
            envelope_bytes(sender, consensus=big_vote),  # above envelope_bytes_max
            envelope_bytes(sender, chain_id="other-chain", consensus=vote(1)),
            envelope_bytes("org2/node2", consensus=vote(1)),  # not who the certificate says
            envelope_bytes(sender),  # no body
            envelope_bytes(sender, consensus=consensus_pb2.ConsensusMessage()),  # empty
            envelope_bytes(
                sender,
                transactions=peer_pb2.TransactionBatch(
                    encoded_transactions=[transaction(index) for index in range(11)]
                ),
            ),  # above transaction_batch_transactions_max
            envelope_bytes(sender, status=peer_pb2.PeerStatus(height=1, latest_hash=bytes(65))),
            envelope_bytes(sender, consensus=vote(42)),
        ):
            await call.write(data)
        await two.inbox.wait_for(lambda: bool(two.inbox.consensus))
        assert two.inbox.consensus == [(sender, vote(42))]
        statistics = network.statistics
        assert statistics.get("dropped_malformed_envelopes", sender) == 4
        assert statistics.get("dropped_oversized_envelopes", sender) == 1
        assert statistics.get("dropped_transaction_batches_too_many", sender) == 1
        assert statistics.get("dropped_wrong_chain_envelopes", sender) == 1
        assert statistics.get("dropped_wrong_sender_envelopes", sender) == 1
        assert statistics.snapshot()["received_consensus_messages"] == 1

        # Above gRPC's own bound the stream ends; the node takes the next one as usual.
        await call.write(envelope_bytes(sender, consensus=vote(43)) + bytes(2 << 20))
        assert await final_code(call) == grpc.StatusCode.RESOURCE_EXHAUSTED
        call = connect_call(channel)
        await call.write(envelope_bytes(sender, consensus=vote(44)))
        await two.inbox.wait_for(lambda: len(two.inbox.consensus) == 2)
        assert two.inbox.consensus[-1] == (sender, vote(44))
        await call.done_writing()


async def test_a_handler_error_is_counted_and_the_stream_goes_on(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    one, two = nodes["node1"], nodes["node2"]
    failures = 0

    async def failing_once(sender: str, encoded_transactions: list[bytes]) -> None:
        nonlocal failures
        failures += 1
        if failures == 1:
            raise RuntimeError("runtime bug")

    async with AsyncExitStack() as stack:
        handlers = dataclasses.replace(two.inbox.handlers(), on_transactions=failing_once)
        network = PeerNetwork(
            chain_id=CHAIN_ID, settings=two.settings, tls=two.tls, handlers=handlers
        )
        await network.start()
        stack.push_async_callback(network.stop)
        sender = await start_node(stack, one)
        assert await sender.wait_until_connected(WAIT_S)
        sender.gossip_transactions([transaction(1)])
        sender.gossip_transactions([transaction(2)])
        sender.broadcast_consensus(vote(3))
        # Consensus goes first, so this arrives before (or between) the batches.
        await two.inbox.wait_for(lambda: bool(two.inbox.consensus))
        await _until(lambda: failures == 2)
        assert network.statistics.get("handler_errors", one.member_id) == 1


async def test_a_peer_that_restarts_is_reconnected(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    first, second = nodes["node1"], nodes["node2"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        two = await start_node(stack, second)
        assert await one.wait_until_connected(WAIT_S)
        one.announce_status(3, b"\x03" * 32)
        one.broadcast_consensus(vote(1))
        await second.inbox.wait_for(lambda: bool(second.inbox.consensus))

        await two.stop()
        await _until(lambda: one.connected_peers() == [])
        # Queued while the peer is away, delivered when it is back.
        one.broadcast_consensus(vote(2))
        await wait_until_async(
            lambda: one.statistics.get("connect_failures", second.member_id) >= 1,
            what="a failed attempt to reach the stopped peer",
        )

        second.inbox = Inbox()
        await start_node(stack, second, seed=2)
        assert await one.wait_until_connected(WAIT_S)
        await second.inbox.wait_for(lambda: bool(second.inbox.consensus and second.inbox.status))
        assert second.inbox.consensus == [(first.member_id, vote(2))]
        # The status is repeated to a peer that comes back.
        assert second.inbox.status == [(first.member_id, 3, b"\x03" * 32)]
        assert one.statistics.get("connections_opened", second.member_id) == 2
        assert one.statistics.get("disconnects", second.member_id) == 1


async def test_transactions_gossiped_to_one_peer_reach_only_that_peer(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=3)
    nodes = prepare_nodes(tmp_path, description)
    first, second, third = nodes["node1"], nodes["node2"], nodes["node3"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        await start_node(stack, second)
        await start_node(stack, third)
        await _until(lambda: len(one.connected_peers()) == 2)
        one.gossip_transactions([transaction(1)], to=third.member_id)
        # An id that is no peer of ours means every peer.
        one.gossip_transactions([transaction(2)], to="org9/nobody")
        await third.inbox.wait_for(lambda: len(third.inbox.transactions) == 2)
        await second.inbox.wait_for(lambda: len(second.inbox.transactions) == 1)
        assert [batch for _, batch in third.inbox.transactions] == [
            [transaction(1)],
            [transaction(2)],
        ]
        assert [batch for _, batch in second.inbox.transactions] == [[transaction(2)]]


async def test_a_peer_that_dials_in_is_dialled_back_without_waiting_out_the_backoff(
    tmp_path: Path,
) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    first, second = nodes["node1"], nodes["node2"]
    # node1 waits a minute between attempts: without the wake-up it would not dial node2 again
    # within this test.
    first.settings = dataclasses.replace(
        first.settings, backoff=ReconnectBackoff(initial_ms=60_000, max_ms=60_000, jitter=0.0)
    )
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        await _until(lambda: one.statistics.get("connect_failures", second.member_id) >= 1)
        assert one.connected_peers() == []
        await start_node(stack, second)
        assert await one.wait_until_connected(WAIT_S)
        assert one.connected_peers() == [second.member_id]
        assert one.statistics.get("connect_failures", second.member_id) == 1


async def test_a_slow_peer_makes_the_queues_drop_by_their_policy(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    limits = dataclasses.replace(
        SMALL_LIMITS, message_bytes_max=2 << 20, envelope_bytes_max=1 << 20
    )
    nodes = prepare_nodes(tmp_path, description, limits=limits)
    first, second = nodes["node1"], nodes["node2"]
    release = asyncio.Event()
    second.inbox.hold = release
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        await start_node(stack, second)
        assert await one.wait_until_connected(WAIT_S)
        # 50 MB of votes: far more than the slow peer's stream, the HTTP/2 windows and the
        # socket buffers hold (a few MB), so the writes stall and the queue (4) overflows.
        payload = bytes(500_000)
        count = 100
        for height in range(count):
            one.broadcast_consensus(
                consensus_pb2.ConsensusMessage(
                    vote=consensus_pb2.Vote(height=height, signature=payload)
                )
            )
            await asyncio.sleep(0.002)
        for batch in range(10):
            one.gossip_transactions([transaction(batch * 10 + index) for index in range(10)])
        dropped_consensus = one.statistics.get("send_dropped_consensus_messages")
        dropped_transactions = one.statistics.get("send_dropped_transactions")
        assert dropped_consensus > 0
        # Two batches fit the queue; the newest are dropped.
        assert dropped_transactions == 80

        release.set()
        await second.inbox.wait_for(
            lambda: (
                bool(second.inbox.consensus)
                and second.inbox.consensus[-1][1].vote.height == count - 1
                and len(second.inbox.transactions) == 2
            )
        )
        heights = [message.vote.height for _, message in second.inbox.consensus]
        assert heights == sorted(heights)
        assert len(heights) == count - dropped_consensus
        # Drop-oldest: the newest consensus messages all arrived.
        assert heights[-4:] == list(range(count - 4, count))
        # Drop-newest: the first two batches arrived.
        received = [tx for _, batch in second.inbox.transactions for tx in batch]
        assert received == [transaction(index) for index in range(20)]


async def test_a_batch_at_its_bounds_is_delivered_as_bytes_and_one_past_is_dropped(
    tmp_path: Path,
) -> None:
    """Entries reach the handler as the bytes that were sent, unparsed; a batch at
    transaction_batch_transactions_max or transaction_batch_bytes_max goes through, one entry or
    one byte more is dropped whole and counted by its reason; a version 1 batch (transactions as
    messages, field 1) carries no entry of version 2 and is dropped as malformed."""
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description, limits=SMALL_LIMITS)
    one, two = nodes["node1"], nodes["node2"]
    sender = one.member_id
    # One entry of 32,764 bytes takes 1 (tag) + 3 (length) + 32,764 = 32 KiB: the byte bound.
    at_bytes = b"\x01" * 32_764
    version_1 = peer_pb2.TransactionBatch.FromString(b"\x0a\x02\x0a\x00")  # field 1: a message

    def batch(*entries: bytes) -> bytes:
        return envelope_bytes(
            sender, transactions=peer_pb2.TransactionBatch(encoded_transactions=entries)
        )

    async with AsyncExitStack() as stack:
        network = await start_node(stack, two)
        channel = raw_channel_as(one, two)
        stack.push_async_callback(channel.close, None)
        call = connect_call(channel)
        for data in (
            batch(*[transaction(index) for index in range(11)]),  # one past the count
            batch(at_bytes + b"\x01"),  # one byte past the bytes
            envelope_bytes(sender, transactions=version_1),
            batch(*[transaction(index) for index in range(10)]),  # at the count
            batch(at_bytes),  # at the bytes
            batch(b"not a transaction"),  # the transport does not look inside
        ):
            await call.write(data)
        await two.inbox.wait_for_transactions(12)
        assert two.inbox.transactions == [
            (sender, [transaction(index) for index in range(10)]),
            (sender, [at_bytes]),
            (sender, [b"not a transaction"]),
        ]
        statistics = network.statistics
        assert statistics.get("dropped_transaction_batches_too_many", sender) == 1
        assert statistics.get("dropped_transaction_batches_too_large", sender) == 1
        assert statistics.get("dropped_malformed_envelopes", sender) == 1
        assert statistics.get("received_transactions", sender) == 12
        await call.done_writing()


async def test_a_peer_of_another_protocol_version_is_not_connected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A callee that names no version (version 1) or another one is refused by the caller with
    one line that says so, instead of exchanging batches neither side can read."""
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    first, second = nodes["node1"], nodes["node2"]
    answered = asyncio.Event()

    async def old_connect(requests: object, context: Any) -> None:
        await context.send_initial_metadata(
            (
                (MEMBER_METADATA_KEY, second.member_id.encode()),
                (CHAIN_METADATA_KEY, CHAIN_ID.encode()),
            )
        )
        answered.set()
        await asyncio.sleep(WAIT_S)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "causeway.net.v1.Peer",
                {"Connect": grpc.stream_stream_rpc_method_handler(old_connect)},
            ),
        )
    )
    port = server.add_secure_port("127.0.0.1:0", second.tls.server_credentials())
    await server.start()
    first.settings = dataclasses.replace(
        first.settings,
        peers=(PeerAddress("node2", second.member_id, f"127.0.0.1:{port}"),),
    )
    try:
        async with AsyncExitStack() as stack:
            one = await start_node(stack, first)
            await asyncio.wait_for(answered.wait(), WAIT_S)
            await _until(lambda: one.statistics.get("connect_failures", second.member_id) >= 1)
            assert one.connected_peers() == []
            assert one.statistics.get("connections_opened") == 0
            assert any(
                "speaks peer protocol version '1', this node version 2" in record.getMessage()
                for record in caplog.records
            )
    finally:
        await server.stop(None)


async def test_stopping_ends_the_peers_streams_before_grpc_cancels_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A node that stops while a peer still streams to it ends that stream itself: gRPC, left to
    cancel the calls still open once the grace runs out, logged each at ERROR with a
    CancelledError traceback ("Exception not handled by _handle_exceptions"), in every node.log
    of a devnet brought down (issue 12)."""
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    first, second = nodes["node1"], nodes["node2"]
    async with AsyncExitStack() as stack:
        one = await start_node(stack, first)
        two = await start_node(stack, second)
        assert await one.wait_until_connected(WAIT_S)
        assert await two.wait_until_connected(WAIT_S)
        caplog.set_level(logging.DEBUG)
        # node1 goes on running and streaming to node2, which stops with hardly any grace.
        await two.stop(grace_s=0.01)
        await asyncio.sleep(0.2)
    errors = [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and not _grpc_poller_on_a_closed_loop(record)
    ]
    assert not errors, [record.getMessage() for record in errors]


def _grpc_poller_on_a_closed_loop(record: logging.LogRecord) -> bool:
    """gRPC's asyncio poller, woken for a loop an earlier test of this process closed, logs
    "Event loop is closed" through asyncio: the tests run many loops in one process, a node one
    (CI saw it once, in no node.log). Not what this test is about, so not counted; any other
    error still is."""
    error = record.exc_info[1] if record.exc_info else None
    return (
        record.name == "asyncio"
        and "PollerCompletionQueue._handle_events" in record.getMessage()
        and isinstance(error, RuntimeError)
        and str(error) == "Event loop is closed"
    )
