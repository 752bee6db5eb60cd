"""State snapshots of a real chain (executed blocks, certificates signed by the validators' keys,
a governed validator-set change): made from one store, verified against what a new node trusts,
restored into an empty store that then continues the chain; and every bad snapshot refused
before anything is written."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from replica_support import Replica, make_replica

from causeway.api.http_server import HttpServer
from causeway.api.snapshot_routes import add_snapshot_routes
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import BatchVerifier, VerifiedTransactionCache, get_profile
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DecodeError,
    HeightUnavailableError,
    InvariantError,
    LimitExceededError,
    NotFoundError,
    ProofError,
    RequestError,
    SignatureError,
    StorageCorruptionError,
    WrongChainError,
)
from causeway.execution import ExecutionApplication, Executor
from causeway.light import certificate_quorum
from causeway.node.block_sync import StoreBlockSource
from causeway.node.snapshots import download_snapshot, replay_window_ms, snapshot_trust
from causeway.node.startup import chain_identity
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.sdk import Identity, build_transaction
from causeway.state import StateTree
from causeway.storage import (
    BlockRecord,
    ChainIdentity,
    Store,
    check_recent_blocks,
    restore_chain_store,
    scan_chain,
    store_folder,
)
from causeway.storage.archive import (
    archive_blocks,
    archive_path,
    check_archived_block,
    read_archived_block,
)
from causeway.storage.snapshots import (
    BASE_MANIFEST_META,
    Snapshot,
    SnapshotTrust,
    base_manifest,
    create_snapshot,
    read_snapshot_file,
    snapshot_base,
    verify_snapshot,
    write_snapshot_file,
)
from causeway.storage.v1 import snapshot_pb2
from causeway.types import (
    DOMAIN_COMMIT,
    DecodedTransaction,
    HashFunction,
    decode_transaction,
    encode,
    genesis_hash,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

REMOVED = "org3/node3"
BLOCKS_BEFORE_CHANGE = 3
BLOCKS_AFTER_CHANGE = 4
PUTS_PER_BLOCK = 5


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(3, "intl", "tbft", now_ms=int(time.time() * 1000), validators=3)


def identity(network: NetworkDescription, member_id: str) -> Identity:
    member = network.member(member_id)
    return Identity(member.member_id, member.key)


def decoded(network: NetworkDescription, transaction: types_pb2.Transaction) -> DecodedTransaction:
    profile = get_profile(network.genesis.crypto_profile)
    return decode_transaction(transaction, hash_function=profile.hash, bytes_max=1 << 16)


def put(network: NetworkDescription, key: bytes, value: bytes) -> DecodedTransaction:
    transaction = build_transaction(
        identity(network, "org1/client"),
        network.genesis.chain_id,
        "kv",
        "put",
        contracts_pb2.KvPutArguments(key=key, value=value),
    )
    return decoded(network, transaction)


def removal(network: NetworkDescription) -> DecodedTransaction:
    transaction = build_transaction(
        identity(network, "org1/admin"),
        network.genesis.chain_id,
        "validators",
        "update",
        contracts_pb2.ValidatorsUpdateArguments(
            updates=[contracts_pb2.ValidatorPowerUpdate(member_id=REMOVED, voting_power=0)]
        ),
        endorsers=[identity(network, "org2/admin")],
    )
    return decoded(network, transaction)


def certificate(
    network: NetworkDescription, height: int, block_hash: bytes, signers: list[str]
) -> types_pb2.CommitCertificate:
    document = sign_bytes(
        DOMAIN_COMMIT,
        network.genesis.chain_id,
        encode(types_pb2.CommitVote(height=height, round=0, block_hash=block_hash)),
    )
    return types_pb2.CommitCertificate(
        height=height,
        round=0,
        block_hash=block_hash,
        signatures=[
            types_pb2.CommitSignature(
                validator=member_id, signature=network.member(member_id).key.sign(document)
            )
            for member_id in signers
        ],
    )


def commit_next(
    network: NetworkDescription, builder: Replica, others: list[Replica], time_ms: int
) -> types_pb2.BlockHeader:
    """Builds the next block on `builder` and writes it, certified by every validator of its
    height, on `builder` and each of `others`."""
    height = builder.store.latest_height() + 1
    block = builder.application.build_block(height, 0, time_ms, "org1/node1")
    builder.pending.clear()
    _, validators = builder.application.validator_set(height)
    signers = [validator.member_id for validator in validators.validators]
    for replica in (builder, *others):
        executed = replica.application.executed(block)
        assert executed is not None
        replica.store.commit_block(
            BlockRecord(
                block=executed.block,
                block_hash=executed.block_hash,
                certificate=certificate(network, height, executed.block_hash, signers),
                results=executed.results,
                transaction_ids=[t.id for t in executed.transactions],
                state_changes=executed.changes,
                tree_update=executed.tree_update,
                validator_set=executed.validator_set,
            )
        )
        replica.application.tree.committed(executed.tree_update)
        replica.application.forget_below(height)
    return block.header


@dataclasses.dataclass
class Chain:
    network: NetworkDescription
    replica: Replica
    # Transactions committed, in order (a replay of any must be refused after a restore).
    transactions: list[DecodedTransaction]
    snapshot: Snapshot


def trust_of(network: NetworkDescription, **changes: object) -> SnapshotTrust:
    profile = get_profile(network.genesis.crypto_profile)
    trust = snapshot_trust(network.genesis, profile)
    return dataclasses.replace(trust, **changes)  # type: ignore[arg-type]


def make_snapshot(chain_replica: Replica, network: NetworkDescription, **options: int) -> Snapshot:
    profile = get_profile(network.genesis.crypto_profile)
    return create_snapshot(
        chain_replica.store,
        chain_id=network.genesis.chain_id,
        genesis_hash=genesis_hash(network.genesis, profile.hash),
        profile=profile,
        replay_window_ms=replay_window_ms,
        **options,
    )


@pytest.fixture
def chain(network: NetworkDescription, tmp_path: Path) -> Iterator[Chain]:
    with BatchVerifier(threads=1) as verifier:
        replica = make_replica(network, tmp_path / "source", verifier)
        try:
            committed: list[DecodedTransaction] = []
            now = int(time.time() * 1000)
            for height in range(1, BLOCKS_BEFORE_CHANGE + BLOCKS_AFTER_CHANGE + 1):
                batch = [
                    put(network, b"snapshot/%d/%d" % (height, index), b"value %d" % height)
                    for index in range(PUTS_PER_BLOCK)
                ]
                if height == BLOCKS_BEFORE_CHANGE:
                    batch.append(removal(network))
                replica.pending.extend(batch)
                committed.extend(batch)
                commit_next(network, replica, [], now + height)
            # Small chunks, so that the snapshot has several.
            snapshot = make_snapshot(replica, network, chunk_bytes_target=512)
            yield Chain(network, replica, committed, snapshot)
        finally:
            replica.store.close()


def store_identity(network: NetworkDescription) -> ChainIdentity:
    return chain_identity(network.genesis, get_profile(network.genesis.crypto_profile))


def restore(chain: Chain, folder: Path, snapshot: Snapshot | None = None) -> Store:
    trust = trust_of(chain.network)
    verified = verify_snapshot(snapshot or chain.snapshot, trust)
    # The sole writer, as a node's own store: its index filter must take the restored ids.
    store = Store(folder, map_size_bytes=64 << 20, sole_writer=True)
    store.restore_base(snapshot_base(verified, trust))
    return store


def follower(network: NetworkDescription, store: Store, verifier: BatchVerifier) -> Replica:
    """A replica over an existing (restored) store."""
    profile = get_profile(network.genesis.crypto_profile)
    pending: list[DecodedTransaction] = []
    application = ExecutionApplication(
        chain_id=network.genesis.chain_id,
        profile=profile,
        genesis_hash=genesis_hash(network.genesis, profile.hash),
        store=store,
        tree=StateTree(profile.hash, store),
        executor=Executor(network.genesis, profile),
        verifier=verifier,
        verified=VerifiedTransactionCache(),
        take_transactions=lambda count, size, now: pending[:count],
        block_limits=lambda: (1000, 1 << 20),
    )
    return Replica(store, application, pending)


# ------------------------------------------------------------------------------------ restore


def test_a_restored_store_starts_at_the_snapshot_and_continues_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    source = chain.replica.store
    height = source.latest_height()
    manifest = chain.snapshot.manifest
    assert manifest.height == height and len(manifest.chunks) > 1
    # The set changed once (two heights after the block that removed org3's node).
    assert [entry.from_height for entry in manifest.validator_sets] == [
        1,
        BLOCKS_BEFORE_CHANGE + 2,
    ]
    with restore(chain, tmp_path / "restored") as restored:
        assert restored.latest_height() == height
        assert restored.base_height() == height
        assert restored.bodies_from_height() == height + 1
        assert restored.get_block_hash(height) == source.get_block_hash(height)
        assert list(restored.iterate_state(height)) == list(source.iterate_state(height))
        # Below the base: a clear answer, not a missing-record error.
        with pytest.raises(HeightUnavailableError, match="not held here"):
            restored.get_header(height - 1)
        with pytest.raises(HeightUnavailableError, match="from height"):
            restored.get_block(height)
        with pytest.raises(HeightUnavailableError, match="pruned"):
            restored.get_state(b"anything", height - 1)
        # A peer asking block sync for a block below the base is told it is not served here.
        with pytest.raises(NotFoundError, match="not held here"):
            StoreBlockSource(restored).get_block(height)
        # Every committed transaction is still known: its replay is refused.
        ids = [transaction.id for transaction in chain.transactions]
        assert restored.has_transactions(ids) == [True] * len(ids)
        assert restored.find_transaction(ids[0]) == source.find_transaction(ids[0])
        # The validator set of the base height answers from the index the snapshot brought.
        assert restored.get_validator_set(height) == source.get_validator_set(height)
        # Store and chain checks accept a store that starts at a snapshot.
        assert restored.verify_integrity() > 0
        identity = store_identity(chain.network)
        assert check_recent_blocks(restored, identity) == height
        report = scan_chain(restored, identity)
        assert report.problems == []
        assert report.blocks_checked == 1

        # It continues the chain: the next block, built by the source, executes and commits
        # here to the same header, and the store checks still pass above the base.
        with BatchVerifier(threads=1) as verifier:
            follower_replica = follower(chain.network, restored, verifier)
            chain.replica.pending.append(put(chain.network, b"after", b"restore"))
            header = commit_next(
                chain.network, chain.replica, [follower_replica], int(time.time() * 1000)
            )
        assert restored.get_header(height + 1) == header
        assert restored.get_state(b"kv/after") == source.get_state(b"kv/after")
        assert scan_chain(restored, identity).problems == []
        restored.verify_integrity()


def test_a_snapshot_of_a_restored_store_is_restored_again(chain: Chain, tmp_path: Path) -> None:
    with restore(chain, tmp_path / "first") as restored:
        restored.put_meta(BASE_MANIFEST_META, base_manifest(chain.snapshot.manifest))
        again = make_snapshot(Replica(restored, chain.replica.application, []), chain.network)
        assert again.manifest.validator_sets == chain.snapshot.manifest.validator_sets
        assert again.manifest.recent_blocks == chain.snapshot.manifest.recent_blocks
        with restore(chain, tmp_path / "second", again) as second:
            assert second.latest_height() == restored.latest_height()


def test_a_snapshot_at_an_older_height_holds_that_state(chain: Chain, tmp_path: Path) -> None:
    older = make_snapshot(chain.replica, chain.network, height=2)
    assert older.manifest.height == 2
    with restore(chain, tmp_path / "older", older) as restored:
        assert restored.get_state(b"kv/snapshot/2/0") == b"value 2"
        assert restored.get_state(b"kv/snapshot/3/0") is None
        assert [entry.from_height for entry in older.manifest.validator_sets] == [1]


def test_a_snapshot_file_reads_back_as_written(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "chain.snapshot"
    write_snapshot_file(path, chain.snapshot)
    read = read_snapshot_file(path)
    assert read.manifest == chain.snapshot.manifest
    assert list(read.chunks) == list(chain.snapshot.chunks)


def test_the_replay_window_decides_how_far_back_the_recent_ids_go(
    network: NetworkDescription, tmp_path: Path
) -> None:
    window = network.genesis.config.transaction_expiry_max_ms
    with BatchVerifier(threads=1) as verifier:
        replica = make_replica(network, tmp_path / "spread", verifier)
        try:
            now = int(time.time() * 1000)
            for height, time_ms in enumerate((now, now + 1, now + window + 10, now + window + 20)):
                del height
                commit_next(network, replica, [], time_ms)
            snapshot = make_snapshot(replica, network)
        finally:
            replica.store.close()
    # Blocks 3 and 4 are inside the window, block 2 is the first one outside it.
    assert [block.header.height for block in snapshot.manifest.recent_blocks] == [2, 3, 4]
    verify_snapshot(snapshot, trust_of(network))
    cut = Snapshot(manifest=snapshot_pb2.SnapshotManifest(), chunks=snapshot.chunks)
    cut.manifest.CopyFrom(snapshot.manifest)
    del cut.manifest.recent_blocks[0]
    with pytest.raises(ProofError, match="inside the replay window"):
        verify_snapshot(cut, trust_of(network))


# ------------------------------------------------------------------------------------ refusals


def altered(snapshot: Snapshot) -> Snapshot:
    manifest = snapshot_pb2.SnapshotManifest()
    manifest.CopyFrom(snapshot.manifest)
    return Snapshot(manifest=manifest, chunks=list(snapshot.chunks))


def tamper_chunk(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    chunks = list(changed.chunks)
    data = bytearray(chunks[1])
    data[-1] ^= 0x01
    chunks[1] = bytes(data)
    return Snapshot(manifest=changed.manifest, chunks=chunks)


def wrong_root(snapshot: Snapshot) -> Snapshot:
    """A chunk with another value, and the manifest updated to match it: only the state root
    can tell."""
    changed = altered(snapshot)
    chunk = snapshot_pb2.SnapshotChunk.FromString(changed.chunks[0])
    chunk.entries[0].value = b"forged"
    data = encode(chunk)
    chunks = [data, *changed.chunks[1:]]
    profile_hash = get_profile("intl").hash
    changed.manifest.chunks[0].hash = profile_hash(data)
    changed.manifest.chunks[0].bytes = len(data)
    return Snapshot(manifest=changed.manifest, chunks=chunks)


def wrong_height(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    changed.manifest.height -= 1
    return changed


def missing_chunk(snapshot: Snapshot) -> Snapshot:
    return Snapshot(manifest=snapshot.manifest, chunks=list(snapshot.chunks)[:-1])


def chunks_swapped(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    chunks = list(changed.chunks)
    chunks[0], chunks[1] = chunks[1], chunks[0]
    descriptions = list(changed.manifest.chunks)
    first, second = descriptions[0], descriptions[1]
    del changed.manifest.chunks[:]
    changed.manifest.chunks.extend([second, first, *descriptions[2:]])
    return Snapshot(manifest=changed.manifest, chunks=chunks)


def weak_certificate(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    del changed.manifest.header.certificate.signatures[1:]
    return changed


def change_left_out(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    del changed.manifest.validator_sets[1:]
    return changed


def forged_set(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    changed.manifest.validator_sets[1].validator_set.validators[0].voting_power += 1
    return changed


def missing_recent_id(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    del changed.manifest.recent_blocks[-1].transaction_ids[0]
    return changed


def unlinked_recent_block(snapshot: Snapshot) -> Snapshot:
    changed = altered(snapshot)
    changed.manifest.recent_blocks[0].header.time_ms += 1
    return changed


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (tamper_chunk, ProofError, "chunk 1 of the snapshot is not the one its manifest lists"),
        (wrong_root, ProofError, "does not hash to the state root"),
        (wrong_height, ProofError, "its header is of"),
        (missing_chunk, ProofError, "chunks; its manifest lists"),
        (chunks_swapped, ProofError, "says index"),
        (weak_certificate, SignatureError, ""),
        (change_left_out, ProofError, "validator set"),
        (forged_set, ProofError, "validator set"),
        (missing_recent_id, ProofError, "do not match its header"),
        (unlinked_recent_block, ProofError, "does not link"),
    ],
)
def test_a_bad_snapshot_is_refused_and_nothing_is_written(
    chain: Chain,
    tmp_path: Path,
    change: object,
    error: type[CausewayError],
    message: str,
) -> None:
    assert callable(change)
    bad = change(chain.snapshot)
    with pytest.raises((error, ProofError, SignatureError)) as raised:
        restore_into_folder(chain, tmp_path / "data", bad)
    assert isinstance(raised.value, error), raised.value
    assert message in raised.value.message
    assert not (tmp_path / "data").exists()


def restore_into_folder(chain: Chain, data_dir: Path, snapshot: Snapshot) -> None:
    """What the node's restore does: verify, then write through restore_chain_store."""
    trust = trust_of(chain.network)
    verified = verify_snapshot(snapshot, trust)
    base = snapshot_base(verified, trust)
    restore_chain_store(
        data_dir,
        store_identity(chain.network),
        lambda store: store.restore_base(base),
        map_size_bytes=64 << 20,
    )


def test_a_snapshot_of_another_chain_is_refused(chain: Chain, tmp_path: Path) -> None:
    with pytest.raises(WrongChainError, match="of chain"):
        verify_snapshot(chain.snapshot, trust_of(chain.network, chain_id="another-chain"))
    with pytest.raises(WrongChainError, match="another genesis"):
        verify_snapshot(chain.snapshot, trust_of(chain.network, genesis_hash=b"\x01" * 32))


def test_a_trusted_hash_must_match(chain: Chain) -> None:
    manifest = chain.snapshot.manifest
    verify_snapshot(chain.snapshot, trust_of(chain.network, trusted_block_hash=manifest.block_hash))
    with pytest.raises(ProofError, match="not the trusted"):
        verify_snapshot(chain.snapshot, trust_of(chain.network, trusted_block_hash=b"\x02" * 32))


def test_a_raft_quorum_is_asked_of_a_raft_chain(network: NetworkDescription) -> None:
    assert trust_of(network).quorum == certificate_quorum("tbft")


def test_a_truncated_or_foreign_file_is_refused(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "chain.snapshot"
    write_snapshot_file(path, chain.snapshot)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 1):
        truncated = tmp_path / f"cut-{cut}.snapshot"
        truncated.write_bytes(data[:cut])
        with pytest.raises(DecodeError):
            read_snapshot_file(truncated)
    trailing = tmp_path / "trailing.snapshot"
    trailing.write_bytes(data + b"\x00")
    with pytest.raises(DecodeError, match="after its last chunk"):
        read_snapshot_file(trailing)
    foreign = tmp_path / "foreign.snapshot"
    foreign.write_bytes(b"not a snapshot at all")
    with pytest.raises(DecodeError, match="not a Causeway snapshot"):
        read_snapshot_file(foreign)
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_snapshot_file(tmp_path / "missing.snapshot")


def test_a_restore_into_a_folder_that_holds_a_chain_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    restore_into_folder(chain, data_dir, chain.snapshot)
    before = (store_folder(data_dir) / "data.mdb").read_bytes()
    with pytest.raises(ConfigurationError, match="already holds a chain"):
        restore_into_folder(chain, data_dir, chain.snapshot)
    assert (store_folder(data_dir) / "data.mdb").read_bytes() == before


def test_restore_base_refuses_a_store_that_is_not_empty_and_parts_that_disagree(
    chain: Chain, tmp_path: Path
) -> None:
    trust = trust_of(chain.network)
    base = snapshot_base(verify_snapshot(chain.snapshot, trust), trust)
    with Store(tmp_path / "store", map_size_bytes=64 << 20) as store:
        for bad in (
            dataclasses.replace(base, block_hash=b"\x03" * 32),
            dataclasses.replace(
                base, validator_sets=[(base.header.height + 1, types_pb2.ValidatorSet())]
            ),
            dataclasses.replace(base, transaction_positions=[(b"id", base.header.height + 1, 0)]),
        ):
            with pytest.raises(InvariantError):
                store.restore_base(bad)
            assert store.load_genesis() is None
        store.restore_base(base)
        with pytest.raises(InvariantError, match="not empty"):
            store.restore_base(base)


def test_a_snapshot_above_the_latest_height_or_of_pruned_state_is_refused(chain: Chain) -> None:
    latest = chain.replica.store.latest_height()
    with pytest.raises(RequestError, match="no snapshot at height"):
        make_snapshot(chain.replica, chain.network, height=latest + 1)
    chain.replica.store.prune_state(latest)
    with pytest.raises(HeightUnavailableError, match="pruned"):
        make_snapshot(chain.replica, chain.network, height=latest - 1)


# ------------------------------------------------------------------------------------ archive


def test_archived_blocks_leave_the_store_and_are_read_back_from_their_files(
    chain: Chain, tmp_path: Path
) -> None:
    store = chain.replica.store
    latest = store.latest_height()
    below = latest - 2
    expected = {height: store.get_block_entries(height) for height in range(1, below)}
    headers = {height: store.get_header(height) for height in range(1, latest + 1)}
    events_before = list(store.iterate_events((below, 0, 0), "kv"))
    folder = tmp_path / "archive"

    report = archive_blocks(store, below, folder)

    assert (report.first_height, report.below_height, report.blocks) == (1, below, below - 1)
    assert report.entries_dropped == sum(len(entries) for entries in expected.values())
    assert store.bodies_from_height() == below
    for height in range(1, below):
        with pytest.raises(HeightUnavailableError, match="archived"):
            store.get_block(height)
        assert store.get_header(height) == headers[height]
        archived = read_archived_block(folder, height)
        assert check_archived_block(archived, sha256_of(chain)) == headers[height]
        assert list(zip(archived.transactions, archived.results, strict=True)) == expected[height]
    # Replays are still refused; the blocks kept serve as before, events included.
    ids = [transaction.id for transaction in chain.transactions]
    assert store.has_transactions(ids) == [True] * len(ids)
    assert store.get_block(below).header == headers[below]
    assert list(store.iterate_events((below, 0, 0), "kv")) == events_before
    assert list(store.iterate_events((0, 0, 0), "kv")) == events_before
    # The checks accept a store whose old bodies are archived.
    store.verify_integrity()
    identity = store_identity(chain.network)
    assert check_recent_blocks(store, identity) == latest
    assert scan_chain(store, identity).problems == []
    # Archiving again below the same height does nothing; above the latest is refused.
    assert archive_blocks(store, below, folder).blocks == 0
    with pytest.raises(ConfigurationError, match="latest height"):
        archive_blocks(store, latest + 1, folder)
    # A snapshot whose replay window reaches the archived blocks is refused, clearly.
    with pytest.raises(RequestError, match="does not hold"):
        make_snapshot(chain.replica, chain.network)


def sha256_of(chain: Chain) -> HashFunction:
    return get_profile(chain.network.genesis.crypto_profile).hash


def test_a_damaged_or_missing_archive_file_is_refused(chain: Chain, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    archive_blocks(chain.replica.store, 3, folder)
    path = archive_path(folder, 1)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    with pytest.raises(StorageCorruptionError, match="checksum mismatch"):
        read_archived_block(folder, 1)
    path.write_bytes(b"something else")
    with pytest.raises(StorageCorruptionError, match="not an archived block"):
        read_archived_block(folder, 1)
    with pytest.raises(NotFoundError, match="not in the archive"):
        read_archived_block(folder, 7)
    # A file of another height (renamed) is refused too.
    archive_path(folder, 2).rename(archive_path(folder, 1))
    with pytest.raises(StorageCorruptionError, match="parts disagree"):
        read_archived_block(folder, 1)


# ------------------------------------------------------------------------------------ serving


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[httpx.Client]:
    """The snapshot routes of ``folder`` on a real HTTP server on loopback, in a thread, and a
    client of it; stopped on the way out, whatever happens."""
    app = FastAPI()
    add_snapshot_routes(app, folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = HttpServer(app, f"127.0.0.1:{port}")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            for _ in range(200):
                try:
                    client.get("/v1/snapshots")
                    break
                except httpx.TransportError:
                    time.sleep(0.02)
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        loop.close()


@pytest.fixture
def served(chain: Chain, tmp_path: Path) -> Iterator[httpx.Client]:
    folder = tmp_path / "served"
    folder.mkdir()
    height = chain.snapshot.manifest.height
    write_snapshot_file(folder / f"{height}.snapshot", chain.snapshot)
    (folder / "7.snapshot.tmp").write_bytes(b"being written")
    (folder / "3.snapshot").write_bytes(b"not a snapshot")
    with serving(folder) as client:
        yield client


def test_a_node_serves_its_snapshot_files_and_a_joining_node_downloads_one(
    chain: Chain, served: httpx.Client
) -> None:
    height = chain.snapshot.manifest.height
    listing = served.get("/v1/snapshots").json()
    assert listing == {
        "snapshots": [
            {
                "height": str(height),
                "block_hash": chain.snapshot.manifest.block_hash.hex(),
                "chunks": len(chain.snapshot.chunks),
                "bytes": str(sum(len(chunk) for chunk in chain.snapshot.chunks)),
            }
        ]
    }
    assert served.get(f"/v1/snapshots/{height}/chunks/1").content == chain.snapshot.chunks[1]
    downloaded = download_snapshot(served, trust_of(chain.network))
    assert downloaded.manifest == chain.snapshot.manifest
    assert list(downloaded.chunks) == list(chain.snapshot.chunks)
    assert download_snapshot(served, trust_of(chain.network), height=height).manifest.height == (
        height
    )


def test_what_is_not_served_is_a_clear_404(chain: Chain, served: httpx.Client) -> None:
    height = chain.snapshot.manifest.height
    for path in (
        f"/v1/snapshots/{height + 1}/manifest",
        f"/v1/snapshots/{height}/chunks/{len(chain.snapshot.chunks)}",
        "/v1/snapshots/0/manifest",
    ):
        response = served.get(path)
        assert response.status_code == 404, path
        assert response.json()["reason"] == "NotFoundError"
    with pytest.raises(NotFoundError):
        download_snapshot(served, trust_of(chain.network), height=height + 1)


def test_a_download_refuses_a_snapshot_of_another_chain_before_any_chunk(
    chain: Chain, served: httpx.Client
) -> None:
    asked: list[str] = []
    served.event_hooks["request"].append(lambda request: asked.append(request.url.path))
    with pytest.raises(WrongChainError):
        download_snapshot(served, trust_of(chain.network, chain_id="another-chain"))
    assert not any("/chunks/" in path for path in asked), asked


def test_a_download_refuses_a_chunk_longer_than_its_manifest_says(
    chain: Chain, tmp_path: Path
) -> None:
    bad = altered(chain.snapshot)
    chunks = list(bad.chunks)
    chunks[0] = chunks[0] + b"\x00" * 10
    folder = tmp_path / "bad"
    folder.mkdir()
    height = bad.manifest.height
    # The file frames the longer chunk; its manifest still says the true length.
    path = folder / f"{height}.snapshot"
    write_snapshot_file(path, Snapshot(manifest=bad.manifest, chunks=chunks))
    with serving(folder) as client, pytest.raises(LimitExceededError):
        download_snapshot(client, trust_of(chain.network))


def test_a_node_without_snapshots_serves_an_empty_list(tmp_path: Path) -> None:
    with serving(tmp_path / "none") as client:
        assert client.get("/v1/snapshots").json() == {"snapshots": []}
        with pytest.raises(NotFoundError, match="serves no snapshot"):
            download_snapshot(client, SnapshotTrust.__new__(SnapshotTrust))
