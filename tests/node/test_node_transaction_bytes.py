"""Decode and verify once: a transaction's bytes from the client to storage, counted.

The client sends canonical bytes; the node decodes them once at admission (decoding re-encodes
once to prove the form canonical) and verifies the signature once; building a block, checking
its own block, a peer checking a block of transactions it already admitted by gossip, and
writing the block encode and verify nothing again. Gossip (over the real peer transport) sends
the bytes kept since admission, encoding nothing; the receiving node decodes each entry once from
those bytes and verifies only what it has not verified before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import BatchVerifier, PublicKey, VerifiedTransactionCache, get_profile
from causeway.execution import ExecutionApplication, Executor, LatestStateReader, genesis_state
from causeway.mempool import Admission, MempoolLimits, SharedMempool
from causeway.net import (
    NetworkStatistics,
    PeerAddress,
    PeerHandlers,
    PeerLimits,
    PeerNetwork,
    PeerSettings,
    ReconnectBackoff,
    TlsIdentity,
)
from causeway.node.peer_admission import PeerAdmission
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.sdk import Identity, build_transaction
from causeway.state import StateTree
from causeway.storage import Store
from causeway.types import DecodedTransaction, encode, encoding, genesis_hash
from causeway.types.v1 import types_pb2

TRANSACTIONS = 5
NOW_MS = int(time.time() * 1000)


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    # Two validators: the gossip tests connect node1's peer transport to node2's.
    return build_network(2, "intl", "tbft", validators=2, now_ms=NOW_MS - 1000)


class CountingVerifier:
    """A BatchVerifier that counts the signatures it is asked to verify."""

    def __init__(self, inner: BatchVerifier) -> None:
        self.inner = inner
        self.verified = 0

    def verify_many(self, items: Sequence[tuple[PublicKey, bytes, bytes]]) -> list[bool]:
        self.verified += len(items)
        return self.inner.verify_many(items)

    def verify_signed(
        self,
        domain: str,
        chain_id: str,
        items: Sequence[tuple[PublicKey, bytes, bytes]],
        *,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        self.verified += len(items)
        return self.inner.verify_signed(domain, chain_id, items, meanwhile=meanwhile)


class Replica:
    """A store, an ExecutionApplication and a SharedMempool with admission, wired as the node
    wires them (one VerifiedTransactionCache; the mempool's transactions held for blocks)."""

    def __init__(self, network: NetworkDescription, path: Path, verifier: CountingVerifier) -> None:
        genesis = network.genesis
        profile = get_profile(genesis.crypto_profile)
        self.store = Store(path, map_size_bytes=64 << 20)
        tree = StateTree(profile.hash, self.store)
        state = genesis_state(genesis)
        update = tree.apply(0, state)
        self.store.save_genesis(encode(genesis), state, update)
        tree.committed(update)
        executor = Executor(genesis, profile)
        verified = VerifiedTransactionCache()
        self.pool = SharedMempool(
            MempoolLimits(transactions_max=100, bytes_max=1 << 20),
            committed=self.store.has_transactions,
        )
        reader = LatestStateReader(self.store)
        config = executor.get_config(reader)
        self.transaction_bytes_max = config.transaction_bytes_max
        self.pool.admission = Admission(
            genesis.chain_id,
            profile,
            verifier,  # type: ignore[arg-type]
            lambda member_id: executor.get_member(reader, member_id),
            self.pool.committed_or_in_flight,
            config.transaction_bytes_max,
            config.transaction_expiry_max_ms,
            verified=verified,
        )
        self.application = ExecutionApplication(
            chain_id=genesis.chain_id,
            profile=profile,
            genesis_hash=genesis_hash(genesis, profile.hash),
            store=self.store,
            tree=tree,
            executor=executor,
            verifier=verifier,  # type: ignore[arg-type]
            verified=verified,
            take_transactions=self.pool.take,
            block_limits=lambda: (1000, 1 << 20),
            drop_transactions=self.pool.remove,
            held_transaction=self.pool.get,
        )


@pytest.fixture
def verifier() -> Iterator[CountingVerifier]:
    with BatchVerifier(threads=1) as inner:
        yield CountingVerifier(inner)


@pytest.fixture
def pair(
    network: NetworkDescription, tmp_path: Path, verifier: CountingVerifier
) -> Iterator[tuple[Replica, Replica]]:
    proposer = Replica(network, tmp_path / "proposer", verifier)
    validator = Replica(network, tmp_path / "validator", verifier)
    try:
        yield proposer, validator
    finally:
        proposer.store.close()
        validator.store.close()


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every canonical encoding done through causeway.types.encode, by message type."""
    original = encoding.encode
    counts: Counter[str] = Counter()

    def counting(message: object) -> bytes:
        counts[type(message).__name__] += 1
        return original(message)  # type: ignore[arg-type]

    for name, module in list(sys.modules.items()):
        if name.startswith("causeway") and getattr(module, "encode", None) is original:
            monkeypatch.setattr(module, "encode", counting)
    return counts


def client_bytes(
    network: NetworkDescription,
    count: int = TRANSACTIONS,
    *,
    timestamp_ms: int = NOW_MS,
    value: bytes = b"v",
    first: int = 0,
) -> list[bytes]:
    """What the SDK sends: each transaction's canonical encoding (SubmitRequest's
    encoded_transaction). The timestamp is the test's own clock by default, not the wall clock:
    the suite may reach a test minutes after NOW_MS was read."""
    member = network.member("org1/client")
    identity = Identity(member.member_id, member.key)
    return [
        encode(
            build_transaction(
                identity,
                network.genesis.chain_id,
                "kv",
                "put",
                contracts_pb2.KvPutArguments(key=b"k%d" % index, value=value),
                timestamp_ms=timestamp_ms,
            )
        )
        for index in range(first, first + count)
    ]


def transaction_encodes(counts: Counter[str]) -> tuple[int, int]:
    return counts["Transaction"], counts["TransactionBody"]


def test_a_transaction_is_decoded_and_verified_once_from_client_to_storage(
    network: NetworkDescription,
    pair: tuple[Replica, Replica],
    verifier: CountingVerifier,
    encodes: Counter[str],
) -> None:
    proposer, validator = pair
    sent = client_bytes(network)
    encodes.clear()

    # Admission: one decode (its canonical check encodes once) and one verification each.
    admitted = proposer.pool.admit(sent, NOW_MS)
    assert all(isinstance(outcome, DecodedTransaction) for outcome in admitted), admitted
    assert [outcome.encoded for outcome in admitted] == sent  # type: ignore[union-attr]
    assert all(o.encoded is b for o, b in zip(admitted, sent, strict=True))  # type: ignore[union-attr]
    assert (transaction_encodes(encodes), verifier.verified) == (
        (TRANSACTIONS, TRANSACTIONS),
        TRANSACTIONS,
    )

    # Gossip: the validator admits them too (a peer's message: its bytes, then the check).
    gossiped = [types_pb2.Transaction.FromString(data) for data in sent]
    encodes.clear()
    verifier.verified = 0
    assert all(isinstance(o, DecodedTransaction) for o in validator.pool.admit(gossiped, NOW_MS))
    assert verifier.verified == TRANSACTIONS  # each node verifies a signature once
    assert len(proposer.application.verified) == len(validator.application.verified) == TRANSACTIONS

    # The proposer's block: built, checked by itself and executed with nothing encoded or
    # verified again. Building it used up the admission's cache entries.
    encodes.clear()
    verifier.verified = 0
    block = proposer.application.build_block(1, 0, NOW_MS, "org1/node1")
    assert block.header.transaction_count == TRANSACTIONS
    assert proposer.application.validate_block(block)
    executed = proposer.application.executed(block)
    assert executed is not None
    assert (transaction_encodes(encodes), verifier.verified) == ((0, 0), 0)
    assert len(proposer.application.verified) == 0

    # A validator that admitted them by gossip checks the block as it arrives (parsed from the
    # wire): nothing decoded, encoded or verified again.
    arrived = types_pb2.Block.FromString(encode(block))
    encodes.clear()
    assert validator.application.validate_block(arrived)
    validated = validator.application.executed(arrived)
    assert validated is not None
    assert [t.encoded for t in validated.transactions] == sent
    assert (transaction_encodes(encodes), verifier.verified) == ((0, 0), 0)
    assert len(validator.application.verified) == 0  # checking the block used them up

    # Storage writes the bytes held since admission.
    certificate = types_pb2.CommitCertificate(
        height=1, round=0, block_hash=executed.block_hash, signatures=[]
    )
    encodes.clear()
    proposer.store.commit_block(executed.record(certificate))
    validator.store.commit_block(validated.record(certificate))
    assert transaction_encodes(encodes) == (0, 0)
    for store in (proposer.store, validator.store):
        assert [encode(t) for t in store.get_block(1).transactions] == sent


@pytest.mark.parametrize(
    "case",
    [("proposal", True), ("proposal", False), ("certified", True), ("certified", False)],
    ids=["proposal-held", "proposal-not-held", "certified-held", "certified-not-held"],
)
def test_a_peers_block_decodes_and_verifies_only_what_this_node_does_not_hold(
    network: NetworkDescription,
    pair: tuple[Replica, Replica],
    verifier: CountingVerifier,
    encodes: Counter[str],
    case: tuple[str, bool],
) -> None:
    """A peer's block, as it arrives (parsed from the wire), checked as a proposal
    (validate_block, then executed) or taken as certified (block sync: executed alone). A
    transaction this node holds is the held one: nothing decoded, encoded or verified (one
    serialization of the message, compared with the held bytes and kept nowhere, is not
    counted as an encode). One it
    does not hold comes as a message inside the block (types.v1.Block carries messages, see
    docs/peer-protocol.md, "Blocks"): it is decoded once, as at admission (one encode of the
    transaction, which gives its bytes and is its canonical check, one of its body), and its
    signature verified."""
    path, held = case
    proposer, validator = pair
    sent = client_bytes(network)
    proposer.pool.admit(sent, NOW_MS)
    if held:
        validator.pool.admit(sent, NOW_MS)
    block = proposer.application.build_block(1, 0, NOW_MS, "org1/node1")
    arrived = types_pb2.Block.FromString(encode(block))
    encodes.clear()
    verifier.verified = 0
    if path == "proposal":
        assert validator.application.validate_block(arrived)
    executed = validator.application.executed(arrived)
    assert executed is not None
    assert [t.encoded for t in executed.transactions] == sent
    expected = ((0, 0), 0) if held else ((TRANSACTIONS, TRANSACTIONS), TRANSACTIONS)
    assert (transaction_encodes(encodes), verifier.verified) == expected
    # The block used up what admission remembered, and remembered nothing of its own.
    assert len(validator.application.verified) == 0


@pytest.mark.parametrize("change", ["unknown field", "endorsement", "signature"])
def test_a_block_transaction_that_differs_from_the_held_one_is_decoded_on_its_own(
    network: NetworkDescription,
    pair: tuple[Replica, Replica],
    verifier: CountingVerifier,
    change: str,
) -> None:
    """Only a message that serializes to the held transaction's bytes stands for it; anything
    else is judged from its own bytes (and here refused)."""
    proposer, validator = pair
    sent = client_bytes(network)
    proposer.pool.admit(sent, NOW_MS)
    validator.pool.admit(sent, NOW_MS)
    block = proposer.application.build_block(1, 0, NOW_MS, "org1/node1")
    transaction = block.transactions[0]
    if change == "unknown field":
        transaction.MergeFromString(b"\xf8\x07\x01")  # field 127: unknown to Transaction
        expected = ("malformed", "Transaction is not canonically encoded")
    elif change == "endorsement":
        transaction.endorsements.add(endorser="org1/admin", signature=b"x")
        expected = None  # a valid envelope: the executor judges endorsements
    else:
        transaction.signature = transaction.signature[:-1] + bytes([transaction.signature[-1] ^ 1])
        expected = ("bad_signature", "the signature of transaction")
    refusal = validator.application.block_refusal(types_pb2.Block.FromString(encode(block)))
    assert refusal is not None
    if expected is None:
        # Not the held transaction: decoded from its own bytes, it passes the verifier, and the
        # block is refused only because its roots were computed without the endorsement.
        assert refusal.message == "block 1 does not execute to its header here"
    else:
        assert refusal.reason == expected[0]
        assert refusal.message.startswith(f"transaction 0 of block 1: {expected[1]}")


def test_a_block_leaves_out_what_the_verifier_refuses_at_its_time(
    network: NetworkDescription, pair: tuple[Replica, Replica], caplog: pytest.LogCaptureFixture
) -> None:
    """A transaction good at admission may not be at the block's time (here: the proposer's
    clock went back more than the allowed skew): the block leaves it out, the mempool lets it
    go, and the other replica accepts the block."""
    caplog.set_level(logging.INFO, logger="causeway.execution")
    proposer, validator = pair
    sent = client_bytes(network)
    proposer.pool.admit(sent, NOW_MS)
    signed_at = max(
        types_pb2.TransactionBody.FromString(
            types_pb2.Transaction.FromString(data).body
        ).timestamp_ms
        for data in sent
    )
    at_skew = proposer.application.build_block(1, 0, signed_at - 60_000, "org1/node1")
    assert at_skew.header.transaction_count == TRANSACTIONS  # at the allowed skew: all in
    block = proposer.application.build_block(1, 0, signed_at - 60_001, "org1/node1")
    assert block.header.transaction_count < TRANSACTIONS
    assert "transactions left out of a block" in [r.getMessage() for r in caplog.records]
    assert len(proposer.pool) == block.header.transaction_count
    assert validator.application.validate_block(types_pb2.Block.FromString(encode(block)))


@pytest.mark.parametrize("change", ["removed", "roles taken away"])
def test_a_block_leaves_out_a_sender_changed_since_admission_and_verifies_nothing(
    network: NetworkDescription,
    pair: tuple[Replica, Replica],
    verifier: CountingVerifier,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    """Building a block judges this node's own pooled transactions again only on what may have
    changed since admission (here the sender's member record), with no signature verified."""
    proposer, _ = pair
    proposer.pool.admit(client_bytes(network), NOW_MS)
    executor = proposer.application.executor
    get_member = executor.get_member

    def changed(reader: object, member_id: str) -> types_pb2.Member | None:
        member = get_member(reader, member_id)  # type: ignore[arg-type]
        if member_id != "org1/client" or member is None:
            return member
        if change == "removed":
            return None
        del member.roles[:]  # a fresh record each lookup: the state is untouched
        return member

    monkeypatch.setattr(executor, "get_member", changed)
    verifier.verified = 0
    block = proposer.application.build_block(1, 0, NOW_MS, "org1/node1")
    assert block.header.transaction_count == 0
    assert len(proposer.pool) == 0  # the mempool let them go
    assert verifier.verified == 0


# -- gossip, over the real peer transport ---------------------------------------------------------

WAIT_S = 10.0


def _wall_clock_ms() -> int:
    # Gossip is admitted at the receiver's clock: transactions signed now, not at NOW_MS.
    return time.time_ns() // 1_000_000


def _tls(network: NetworkDescription, index: int) -> TlsIdentity:
    node = network.nodes[index]
    return TlsIdentity.from_pem(
        node.tls.key_pem(), node.tls.certificate_pem(), network.tls_ca_bundle()
    )


def _settings(peer: PeerAddress, limits: PeerLimits) -> PeerSettings:
    unused = Path("unused")  # the identity is given as TlsIdentity, not read from files
    return PeerSettings(
        listen_address="127.0.0.1:0",
        tls_key_file=unused,
        tls_certificate_file=unused,
        tls_ca_bundle_file=unused,
        peers=(peer,),
        limits=limits,
        backoff=ReconnectBackoff(initial_ms=20, max_ms=200),
        connect_timeout_ms=2000,
    )


async def _ignore(*arguments: object) -> None:
    del arguments


@contextlib.asynccontextmanager
async def gossip_link(
    network: NetworkDescription, receiver: Replica, receiver_limits: PeerLimits | None = None
) -> AsyncIterator[tuple[PeerNetwork, NetworkStatistics, list[list[bytes]]]]:
    """node1's PeerNetwork connected to node2's, whose gossiped transactions go, as in the
    node, through PeerAdmission into ``receiver``'s mempool; yields node1's network, node2's
    statistics and the batches node2's handler got (as bytes)."""
    sender_node, receiver_node = network.nodes[0], network.nodes[1]
    statistics = NetworkStatistics()
    arrived: list[list[bytes]] = []
    admission = PeerAdmission(
        receiver.pool.admit, asyncio.Event(), beside_stream=False, statistics=statistics
    )

    async def on_transactions(sender: str, entries: list[bytes]) -> None:
        arrived.append(entries)
        await admission(sender, entries)

    listening = PeerNetwork(
        chain_id=network.chain_id,
        # It never needs to reach node1 here: an address nobody listens on.
        settings=_settings(
            PeerAddress(sender_node.name, sender_node.member.member_id, "127.0.0.1:1"),
            receiver_limits or PeerLimits(),
        ),
        tls=_tls(network, 1),
        handlers=PeerHandlers(
            on_consensus=_ignore, on_transactions=on_transactions, on_status=_ignore
        ),
        statistics=statistics,
    )
    await listening.start()
    sending = PeerNetwork(
        chain_id=network.chain_id,
        settings=_settings(
            PeerAddress(
                receiver_node.name,
                receiver_node.member.member_id,
                f"127.0.0.1:{listening.port}",
            ),
            PeerLimits(),
        ),
        tls=_tls(network, 0),
        handlers=PeerHandlers(on_consensus=_ignore, on_transactions=_ignore, on_status=_ignore),
    )
    await sending.start()
    try:
        assert await sending.wait_until_connected(WAIT_S)
        yield sending, statistics, arrived
    finally:
        await sending.stop()
        await listening.stop()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("verified_before", [False, True])
async def test_a_gossiped_transaction_is_sent_as_its_kept_bytes_and_decoded_once_by_the_peer(
    network: NetworkDescription,
    pair: tuple[Replica, Replica],
    verifier: CountingVerifier,
    encodes: Counter[str],
    verified_before: bool,
) -> None:
    """node1 sends the bytes it admitted, encoding nothing; node2 decodes each once from them
    (the canonical check's encode, as at admission) and verifies a signature only if it has
    not verified it before (here: admitted earlier, then dropped from its pool)."""
    proposer, validator = pair
    now_ms = _wall_clock_ms()
    sent = client_bytes(network, timestamp_ms=now_ms)
    admitted = [o for o in proposer.pool.admit(sent, now_ms) if isinstance(o, DecodedTransaction)]
    assert len(admitted) == TRANSACTIONS
    ids = [t.id for t in admitted]
    if verified_before:
        validator.pool.admit(sent, now_ms)
        validator.pool.remove(ids)
        assert len(validator.pool) == 0
    async with gossip_link(network, validator) as (sending, statistics, arrived):
        encodes.clear()
        verifier.verified = 0
        sending.gossip_transactions([t.encoded for t in admitted])
        # The envelope is built and queued in this call: no transaction was encoded for it.
        assert transaction_encodes(encodes) == (0, 0)
        await _until(lambda: statistics.get("admitted_transactions") == TRANSACTIONS)
    assert arrived == [sent]
    # node2's one decode of each: its canonical check re-encodes the transaction and its body.
    assert transaction_encodes(encodes) == (TRANSACTIONS, TRANSACTIONS)
    assert verifier.verified == (0 if verified_before else TRANSACTIONS)
    held = [validator.pool.get(transaction_id) for transaction_id in ids]
    assert [t.encoded for t in held if t is not None] == sent
    assert statistics.get("received_transactions") == TRANSACTIONS


def _signed_of_size(network: NetworkDescription, size: int, now_ms: int, index: int) -> bytes:
    """A valid transaction whose encoding is exactly ``size`` bytes (signatures vary in length,
    so the value is adjusted until it fits)."""
    value_bytes = size - 300
    for _ in range(50):
        (data,) = client_bytes(
            network, 1, timestamp_ms=now_ms, value=bytes(value_bytes), first=index
        )
        if len(data) == size:
            return data
        value_bytes += size - len(data)
    raise AssertionError(f"no transaction of exactly {size} bytes")


async def test_bad_entries_of_a_gossiped_batch_are_refused_each_for_its_reason(
    network: NetworkDescription, pair: tuple[Replica, Replica]
) -> None:
    """Each bad entry is refused on its own and counted by its reason, admits nothing, and the
    batch's good entries go in; a batch one entry past the receiver's bound is dropped whole."""
    _, validator = pair
    hash_function = get_profile(network.genesis.crypto_profile).hash
    now_ms = _wall_clock_ms()
    good = client_bytes(network, 3, timestamp_ms=now_ms)
    limit = validator.transaction_bytes_max
    at_limit = _signed_of_size(network, limit, now_ms, 10)
    past_limit = _signed_of_size(network, limit + 1, now_ms, 11)
    parsed = types_pb2.Transaction.FromString(good[2])
    body_not_canonical = encode(
        types_pb2.Transaction(body=parsed.body + b"\xf8\x07\x01", signature=parsed.signature)
    )
    batch = [
        good[0],
        b"\xff\xff\xff\xff",  # not a Transaction
        good[1] + b"\xf8\x07\x01",  # good[1] with field 127, unknown to Transaction
        body_not_canonical,
        at_limit,
        past_limit,
        good[2],
        good[0],  # again in the same batch
        *client_bytes(network, 1, timestamp_ms=now_ms - 120_000, first=9),  # expired
    ]
    too_many = client_bytes(network, len(batch) + 1, timestamp_ms=now_ms, first=20)
    limits = PeerLimits(transaction_batch_transactions_max=len(batch))
    async with gossip_link(network, validator, limits) as (sending, statistics, arrived):
        sending.gossip_transactions(batch)  # at the receiver's bound
        sending.gossip_transactions(too_many)  # one past it (node1's own bound is 1000)
        await _until(
            lambda: (
                statistics.get("dropped_transaction_batches_too_many") == 1
                and statistics.get("received_transactions") == len(batch)
                and len(validator.pool) == 3
                and statistics.get("refused_transactions_too_large") == 1
            )
        )
    assert arrived == [batch]
    counted = {
        name: statistics.get(name, network.nodes[0].member.member_id)
        for name in (
            "admitted_transactions",
            "refused_transactions_malformed",
            "refused_transactions_not_canonical",
            "refused_transactions_too_large",
            "refused_transactions_duplicate",
            "refused_transactions_other",
            "dropped_transaction_batches_too_many",
        )
    }
    assert counted == {
        "admitted_transactions": 3,
        "refused_transactions_malformed": 1,
        "refused_transactions_not_canonical": 2,
        "refused_transactions_too_large": 1,
        "refused_transactions_duplicate": 1,
        "refused_transactions_other": 1,
        "dropped_transaction_batches_too_many": 1,
    }

    def held(data: bytes) -> bytes | None:
        """The bytes the pool holds for the transaction ``data`` is a copy of, if any."""
        kept = validator.pool.get(hash_function(types_pb2.Transaction.FromString(data).body))
        return None if kept is None else kept.encoded

    # Exactly the good entries (the one at transaction_bytes_max among them), as they came.
    assert [held(data) for data in (good[0], at_limit, good[2])] == [good[0], at_limit, good[2]]
    # Nothing from a bad entry: not good[1] (whose non-canonical copy came), not the one past
    # the bound, nothing of the batch past the count.
    assert [held(data) for data in (good[1], past_limit, *too_many)] == [None] * (2 + len(too_many))
    assert len(validator.pool) == 3
