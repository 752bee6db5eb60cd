"""Decode and verify once: a transaction's bytes from the client to storage, counted.

The client sends canonical bytes; the node decodes them once at admission (decoding re-encodes
once to prove the form canonical) and verifies the signature once; building a block, checking
its own block, a peer checking a block of transactions it already admitted by gossip, and
writing the block encode and verify nothing again.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import BatchVerifier, PublicKey, VerifiedTransactionCache, get_profile
from causeway.execution import ExecutionApplication, Executor, LatestStateReader, genesis_state
from causeway.mempool import Admission, MempoolLimits, SharedMempool
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
    return build_network(2, "intl", "solo", now_ms=NOW_MS - 1000)


class CountingVerifier:
    """A BatchVerifier that counts the signatures it is asked to verify."""

    def __init__(self, inner: BatchVerifier) -> None:
        self.inner = inner
        self.verified = 0

    def verify_many(self, items: Sequence[tuple[PublicKey, bytes, bytes]]) -> list[bool]:
        self.verified += len(items)
        return self.inner.verify_many(items)


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


def client_bytes(network: NetworkDescription) -> list[bytes]:
    """What the SDK sends: each transaction's canonical encoding (SubmitRequest's
    encoded_transaction)."""
    member = network.member("org1/client")
    identity = Identity(member.member_id, member.key)
    return [
        encode(
            build_transaction(
                identity,
                network.genesis.chain_id,
                "kv",
                "put",
                contracts_pb2.KvPutArguments(key=b"k%d" % index, value=b"v"),
                # The test's own clock, not the wall clock: the suite may reach this test
                # minutes after NOW_MS was read.
                timestamp_ms=NOW_MS,
            )
        )
        for index in range(TRANSACTIONS)
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

    # The proposer's block: built, checked by itself and executed with nothing encoded or
    # verified again.
    encodes.clear()
    verifier.verified = 0
    block = proposer.application.build_block(1, 0, NOW_MS, "org1/node1")
    assert block.header.transaction_count == TRANSACTIONS
    assert proposer.application.validate_block(block)
    executed = proposer.application.executed(block)
    assert executed is not None
    assert (transaction_encodes(encodes), verifier.verified) == ((0, 0), 0)

    # A validator that admitted them by gossip checks the block as it arrives (parsed from the
    # wire): nothing decoded, encoded or verified again.
    arrived = types_pb2.Block.FromString(encode(block))
    encodes.clear()
    assert validator.application.validate_block(arrived)
    validated = validator.application.executed(arrived)
    assert validated is not None
    assert [t.encoded for t in validated.transactions] == sent
    assert (transaction_encodes(encodes), verifier.verified) == ((0, 0), 0)

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


@pytest.mark.parametrize("change", ["unknown field", "endorsement", "signature"])
def test_a_block_transaction_that_differs_from_the_held_one_is_decoded_on_its_own(
    network: NetworkDescription,
    pair: tuple[Replica, Replica],
    verifier: CountingVerifier,
    change: str,
) -> None:
    """Only a message that is, field for field and in size, the held transaction stands for
    it; anything else is judged from its own bytes (and here refused)."""
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


def test_the_held_comparison_covers_every_field_of_a_transaction() -> None:
    """_held_copy compares body, signature and endorsements (endorser, signature): a new field
    must be added there too, or a block could pass as a held transaction it is not."""
    assert [f.name for f in types_pb2.Transaction.DESCRIPTOR.fields] == [
        "body",
        "signature",
        "endorsements",
    ]
    assert [f.name for f in types_pb2.Endorsement.DESCRIPTOR.fields] == ["endorser", "signature"]


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
