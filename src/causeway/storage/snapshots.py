"""State snapshots: made from a store at one height, verified against a header, restored into
a store that starts at that height (docs/storage.md, "Snapshots").

A snapshot is a manifest (proto/causeway/storage/v1/snapshot.proto) and chunks of state
entries. Nothing in it is trusted for being there:

* the header at the snapshot's height is trusted once its certificate holds the quorum of the
  validator set in effect at that height, walked from the genesis validator set through every
  change the manifest lists (each new set named by the certified header before it, as a light
  client follows them); an operator may also give the block hash it trusts at that height, which
  must match (the walk from genesis alone trusts that validators who left never sign for an old
  set again; a hash taken from a node the operator runs does not);
* every chunk's bytes hash to the manifest's entry for it, the entries are in strictly ascending
  key order across chunks, and the state root recomputed from all of them is the header's;
* the recent blocks' transaction ids (kept so that replays are still refused) hash to their
  headers' transactions_root, and those headers are linked by hash to the snapshot's header.

A restore verifies all of that before it writes anything; then the store is written into a
scratch folder renamed into place (storage.chain_folder.restore_chain_store).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from causeway.crypto import CryptoProfile
from causeway.errors import (
    ConfigurationError,
    DecodeError,
    InvariantError,
    LimitExceededError,
    ProofError,
    RequestError,
    WrongChainError,
)
from causeway.light import (
    CertificateQuorum,
    check_header_shape,
    verify_header,
    verify_next_validator_set,
)
from causeway.state import StateTree, compute_root, root_node_key
from causeway.storage.store import SnapshotBase, Store
from causeway.storage.v1 import snapshot_pb2
from causeway.types import block_hash, decode, encode, merkle_root
from causeway.types.v1 import types_pb2

SNAPSHOT_FORMAT_VERSION: Final = 1
# The first bytes of a snapshot file: what it is and the version of its framing.
SNAPSHOT_MAGIC: Final = b"CAUSEWAY-SNAPSHOT\x00\x01"
# A chunk is closed once its entries pass this many bytes (a state value is at most a few MB,
# so one chunk may exceed it by one entry); no chunk may be larger than CHUNK_BYTES_MAX.
CHUNK_BYTES_TARGET: Final = 1 << 20
CHUNK_BYTES_MAX: Final = 16 << 20
# The manifest holds the recent blocks' transaction ids: bounded, and refused above it.
MANIFEST_BYTES_MAX: Final = 256 << 20
CHUNKS_MAX: Final = 1 << 20
# Named blob, in a restored store, holding the manifest it was restored from (without its chunk
# list): the validator sets from genesis and the recent blocks' ids, whose headers and bodies
# are below the base, which a snapshot made from that store needs again.
BASE_MANIFEST_META: Final = "snapshot/base_manifest"

_FRAME_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class SnapshotTrust:
    """What the restoring node trusts, all from its own genesis file (and its operator)."""

    chain_id: str
    genesis_hash: bytes
    genesis_bytes: bytes
    genesis_validators: types_pb2.ValidatorSet
    profile: CryptoProfile
    quorum: CertificateQuorum
    # The block hash at the snapshot's height the operator trusts (None: the walk from genesis).
    trusted_block_hash: bytes | None = None
    # The state entries at the snapshot's height -> how far back (ms before the header's time)
    # transactions may still be replayed: the chain's transaction_expiry_max_ms then.
    replay_window_ms: Callable[[Mapping[bytes, bytes]], int] = lambda state: 0


@dataclass(frozen=True)
class Snapshot:
    """A manifest and its chunks' bytes, in order (as read from a file or a peer)."""

    manifest: snapshot_pb2.SnapshotManifest
    chunks: Sequence[bytes]


@dataclass(frozen=True)
class VerifiedSnapshot:
    """A snapshot whose every part checked out: what restore_base writes."""

    manifest: snapshot_pb2.SnapshotManifest
    state: dict[bytes, bytes]
    transaction_positions: list[tuple[bytes, int, int]]


# ---------------------------------------------------------------------------------------------
# Making a snapshot


def create_snapshot(
    store: Store,
    *,
    chain_id: str,
    genesis_hash: bytes,
    profile: CryptoProfile,
    height: int | None = None,
    replay_window_ms: Callable[[Mapping[bytes, bytes]], int],
    chunk_bytes_target: int = CHUNK_BYTES_TARGET,
) -> Snapshot:
    """The snapshot of ``store`` at ``height`` (None: the latest), read from consistent LMDB
    snapshots, so the node may keep committing meanwhile. RequestError when the height is not
    held, its state is pruned, or the replay window reaches below the blocks the store holds."""
    latest = store.latest_height()
    height = latest if height is None else height
    if height < 1 or height > latest:
        raise RequestError(f"no snapshot at height {height}: the store holds 1 to {latest}")
    header = store.get_header(height)
    certificate = store.get_certificate(height)
    hash_of_block = store.get_block_hash(height)
    chunks: list[bytes] = []
    descriptions: list[snapshot_pb2.ChunkDescription] = []
    state: dict[bytes, bytes] = {}
    pending: list[snapshot_pb2.StateEntry] = []
    pending_bytes = 0

    def close_chunk() -> None:
        nonlocal pending, pending_bytes
        chunk = encode(snapshot_pb2.SnapshotChunk(index=len(chunks), entries=pending))
        chunks.append(chunk)
        descriptions.append(
            snapshot_pb2.ChunkDescription(
                hash=profile.hash(chunk), bytes=len(chunk), entries=len(pending)
            )
        )
        pending, pending_bytes = [], 0

    for key, value in store.iterate_state(height):
        state[key] = value
        pending.append(snapshot_pb2.StateEntry(key=key, value=value))
        pending_bytes += len(key) + len(value) + 8
        if pending_bytes >= chunk_bytes_target:
            close_chunk()
    if pending or not chunks:
        close_chunk()
    if compute_root(state, profile.hash) != header.state_root:
        raise InvariantError(
            f"the state read at height {height} does not hash to its header's state root"
        )
    manifest = snapshot_pb2.SnapshotManifest(
        version=SNAPSHOT_FORMAT_VERSION,
        chain_id=chain_id,
        genesis_hash=genesis_hash,
        height=height,
        header=snapshot_pb2.CertifiedHeader(header=header, certificate=certificate),
        block_hash=hash_of_block,
        validator_sets=_validator_set_entries(store, height),
        recent_blocks=_recent_blocks(store, header, replay_window_ms(state)),
        chunks=descriptions,
        state_entries=len(state),
    )
    return Snapshot(manifest=manifest, chunks=chunks)


def _validator_set_entries(store: Store, height: int) -> list[snapshot_pb2.ValidatorSetEntry]:
    """Every validator set from genesis to ``height``, each with the certified header before
    its first height (which names it), from the store's index; those below a restored store's
    base come from the history its snapshot brought."""
    base = store.base_height()
    entries = [entry for entry in _base_manifest(store).validator_sets if entry.from_height <= base]
    known = {entry.from_height for entry in entries}
    from_height = height
    found: list[snapshot_pb2.ValidatorSetEntry] = []
    while from_height >= max(base, 1):
        indexed = store.get_validator_set(from_height)
        if indexed is None:
            break
        from_height, validator_set = indexed
        if from_height in known:
            break
        entry = snapshot_pb2.ValidatorSetEntry(from_height=from_height, validator_set=validator_set)
        if from_height > 1:
            named_by = from_height - 1
            entry.named_by.CopyFrom(
                snapshot_pb2.CertifiedHeader(
                    header=store.get_header(named_by), certificate=store.get_certificate(named_by)
                )
            )
        found.append(entry)
        from_height -= 1
    return entries + found[::-1]


def _base_manifest(store: Store) -> snapshot_pb2.SnapshotManifest:
    """The manifest a restored store was restored from (an empty one for other stores)."""
    stored = store.get_meta(BASE_MANIFEST_META)
    if stored is None:
        return snapshot_pb2.SnapshotManifest()
    return decode(snapshot_pb2.SnapshotManifest, stored, bytes_max=MANIFEST_BYTES_MAX)


def _recent_blocks(
    store: Store, header: types_pb2.BlockHeader, window_ms: int
) -> list[snapshot_pb2.RecentBlock]:
    """The blocks back from ``header`` until one older than the replay window (or block 1),
    with their transaction ids: a transaction in any of them could still be submitted again."""
    cutoff = header.time_ms - window_ms
    bodies_from = store.bodies_from_height()
    inherited = {block.header.height: block for block in _base_manifest(store).recent_blocks}
    blocks: list[snapshot_pb2.RecentBlock] = []
    height = header.height
    while height >= 1:
        if height in inherited and height < bodies_from:
            # Below a restored store's bodies: the ids its snapshot brought (verified then).
            blocks.append(inherited[height])
            if inherited[height].header.time_ms < cutoff:
                break
            height -= 1
            continue
        if height < bodies_from:
            raise RequestError(
                f"the replay window of {window_ms} ms before height {header.height} reaches "
                f"block {height}, whose transactions this store does not hold: make the "
                "snapshot at a later height"
            )
        block_header = header if height == header.height else store.get_header(height)
        ids = [result.transaction_id for result in store.get_results(height)]
        blocks.append(snapshot_pb2.RecentBlock(header=block_header, transaction_ids=ids))
        if block_header.time_ms < cutoff:
            break
        height -= 1
    return blocks[::-1]


# ---------------------------------------------------------------------------------------------
# Files: magic, then frames (u32 length, payload): the manifest, then each chunk


def write_snapshot_file(path: Path, snapshot: Snapshot) -> None:
    """Writes the snapshot to ``path`` atomically (a synced temporary file renamed)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(SNAPSHOT_MAGIC)
        for payload in (encode(snapshot.manifest), *snapshot.chunks):
            file.write(_FRAME_LENGTH.pack(len(payload)))
            file.write(payload)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


def read_snapshot_file(path: Path) -> Snapshot:
    """The manifest and chunks of a snapshot file, framed as written (DecodeError for a file
    that is not one, or is cut short); their contents are checked by verify_snapshot."""
    try:
        with Path(path).open("rb") as file:
            return _read_snapshot(file, str(path))
    except OSError as error:
        raise ConfigurationError(f"cannot read the snapshot {path}: {error}") from None


def _read_snapshot(file: BinaryIO, name: str) -> Snapshot:
    if file.read(len(SNAPSHOT_MAGIC)) != SNAPSHOT_MAGIC:
        raise DecodeError(f"{name} is not a Causeway snapshot (format {SNAPSHOT_FORMAT_VERSION})")
    manifest = decode_manifest(_read_frame(file, name, "the manifest", MANIFEST_BYTES_MAX))
    chunks = [
        _read_frame(file, name, f"chunk {index}", CHUNK_BYTES_MAX)
        for index in range(len(manifest.chunks))
    ]
    if file.read(1):
        raise DecodeError(f"{name} has bytes after its last chunk")
    return Snapshot(manifest=manifest, chunks=chunks)


def _read_frame(file: BinaryIO, name: str, what: str, bytes_max: int) -> bytes:
    head = file.read(_FRAME_LENGTH.size)
    if len(head) != _FRAME_LENGTH.size:
        raise DecodeError(f"{name} is cut short: {what} is missing")
    (length,) = _FRAME_LENGTH.unpack(head)
    if length > bytes_max:
        raise LimitExceededError(f"{name}: {what} is {length} bytes, above {bytes_max}")
    payload = file.read(length)
    if len(payload) != length:
        raise DecodeError(f"{name} is cut short inside {what}")
    return payload


def decode_manifest(data: bytes) -> snapshot_pb2.SnapshotManifest:
    manifest = decode(snapshot_pb2.SnapshotManifest, data, bytes_max=MANIFEST_BYTES_MAX)
    if manifest.version != SNAPSHOT_FORMAT_VERSION:
        raise DecodeError(
            f"snapshot format {manifest.version}: this build reads {SNAPSHOT_FORMAT_VERSION}"
        )
    if len(manifest.chunks) > CHUNKS_MAX:
        raise LimitExceededError(f"a snapshot of {len(manifest.chunks)} chunks, above {CHUNKS_MAX}")
    return manifest


# ---------------------------------------------------------------------------------------------
# Verifying


def verify_snapshot(snapshot: Snapshot, trust: SnapshotTrust) -> VerifiedSnapshot:
    """Checks every part of ``snapshot`` (module docstring) and returns its state; raises
    WrongChainError, ProofError, SignatureError or DecodeError naming the first thing that
    does not hold."""
    manifest = snapshot.manifest
    hash_of_block = verify_manifest(manifest, trust)
    state = _verified_state(snapshot, trust.profile)
    if compute_root(state, trust.profile.hash) != manifest.header.header.state_root:
        raise ProofError(
            f"the snapshot's state does not hash to the state root of height {manifest.height}"
        )
    positions = _verified_recent_ids(manifest, hash_of_block, trust, state)
    return VerifiedSnapshot(manifest=manifest, state=state, transaction_positions=positions)


def verify_manifest(manifest: snapshot_pb2.SnapshotManifest, trust: SnapshotTrust) -> bytes:
    """The block hash at the manifest's height once its header is proven by its certificate
    and the validator sets walked from genesis (and matches the trusted hash, if given)."""
    if manifest.chain_id != trust.chain_id:
        raise WrongChainError(
            f"the snapshot is of chain {manifest.chain_id!r}, not {trust.chain_id!r}"
        )
    if manifest.genesis_hash != trust.genesis_hash:
        raise WrongChainError("the snapshot is of another genesis of this chain id")
    header = manifest.header.header
    check_header_shape(header, chain_id=trust.chain_id)
    if header.height != manifest.height:
        raise ProofError(
            f"the snapshot says height {manifest.height}; its header is of {header.height}"
        )
    if header.genesis_hash != trust.genesis_hash:
        raise WrongChainError("the snapshot's header names another genesis")
    validators = _walk_validator_sets(manifest, trust)
    hash_of_block = verify_header(
        header,
        manifest.header.certificate,
        chain_id=trust.chain_id,
        validators=validators,
        profile=trust.profile,
        quorum=trust.quorum,
    )
    if manifest.block_hash != hash_of_block:
        raise ProofError("the snapshot's block hash is not its header's")
    if trust.trusted_block_hash is not None and hash_of_block != trust.trusted_block_hash:
        raise ProofError(
            f"the block hash at height {header.height} is {hash_of_block.hex()}, not the "
            f"trusted {trust.trusted_block_hash.hex()}"
        )
    return hash_of_block


def _walk_validator_sets(
    manifest: snapshot_pb2.SnapshotManifest, trust: SnapshotTrust
) -> types_pb2.ValidatorSet:
    """The validator set in effect at the manifest's height, trusted step by step from the
    genesis set: each change is named by a header certified by the set before it."""
    entries = manifest.validator_sets
    if not entries or entries[0].from_height != 1:
        raise ProofError("the snapshot's validator sets do not start at height 1")
    if encode(entries[0].validator_set) != encode(trust.genesis_validators):
        raise ProofError("the snapshot's first validator set is not the genesis set")
    trusted = entries[0].validator_set
    previous_from = 1
    for entry in entries[1:]:
        from_height = entry.from_height
        if from_height <= previous_from or from_height > manifest.height:
            raise ProofError(f"the snapshot's validator set from {from_height} is out of order")
        named_by = entry.named_by
        if named_by.header.height != from_height - 1:
            raise ProofError(
                f"the validator set from {from_height} is named by a header of height "
                f"{named_by.header.height}, not {from_height - 1}"
            )
        verify_header(
            named_by.header,
            named_by.certificate,
            chain_id=trust.chain_id,
            validators=trusted,
            profile=trust.profile,
            quorum=trust.quorum,
        )
        verify_next_validator_set(named_by.header, entry.validator_set, trust.profile)
        trusted = entry.validator_set
        previous_from = from_height
    return trusted


def _verified_state(snapshot: Snapshot, profile: CryptoProfile) -> dict[bytes, bytes]:
    manifest = snapshot.manifest
    if len(snapshot.chunks) != len(manifest.chunks):
        raise ProofError(
            f"the snapshot has {len(snapshot.chunks)} chunks; its manifest lists "
            f"{len(manifest.chunks)}"
        )
    state: dict[bytes, bytes] = {}
    last_key: bytes | None = None
    for index, (data, description) in enumerate(zip(snapshot.chunks, manifest.chunks, strict=True)):
        if len(data) != description.bytes or profile.hash(data) != description.hash:
            raise ProofError(f"chunk {index} of the snapshot is not the one its manifest lists")
        chunk = decode(snapshot_pb2.SnapshotChunk, data, bytes_max=CHUNK_BYTES_MAX)
        if chunk.index != index or len(chunk.entries) != description.entries:
            raise ProofError(f"chunk {index} of the snapshot says index {chunk.index}")
        for entry in chunk.entries:
            if last_key is not None and entry.key <= last_key:
                raise ProofError(f"chunk {index}: state keys out of order or repeated")
            if not entry.key:
                raise ProofError(f"chunk {index}: an empty state key")
            state[entry.key] = entry.value
            last_key = entry.key
    if len(state) != manifest.state_entries:
        raise ProofError(
            f"the snapshot holds {len(state)} state entries; its manifest says "
            f"{manifest.state_entries}"
        )
    return state


def _verified_recent_ids(
    manifest: snapshot_pb2.SnapshotManifest,
    hash_of_block: bytes,
    trust: SnapshotTrust,
    state: Mapping[bytes, bytes],
) -> list[tuple[bytes, int, int]]:
    """The recent blocks' (id, height, index), once each block's ids hash to its header's
    transactions root, the headers link by hash back from the snapshot's, and they reach back
    past the replay window (or to block 1)."""
    blocks = manifest.recent_blocks
    if not blocks:
        raise ProofError("the snapshot lists no recent blocks")
    hash_function = trust.profile.hash
    expected_hash = hash_of_block
    expected_height = manifest.height
    positions: list[tuple[bytes, int, int]] = []
    for block in reversed(blocks):
        header = block.header
        if header.height != expected_height or block_hash(header, hash_function) != expected_hash:
            raise ProofError(
                f"the snapshot's recent block {header.height} does not link to the block after it"
            )
        ids = list(block.transaction_ids)
        if len(ids) != header.transaction_count or (
            merkle_root(ids, hash_function) != header.transactions_root
        ):
            raise ProofError(
                f"the transaction ids of recent block {header.height} do not match its header"
            )
        positions += [(transaction_id, header.height, i) for i, transaction_id in enumerate(ids)]
        expected_hash = header.previous_hash
        expected_height -= 1
    oldest = blocks[0].header
    cutoff = manifest.header.header.time_ms - trust.replay_window_ms(state)
    if oldest.height > 1 and oldest.time_ms >= cutoff:
        raise ProofError(
            f"the snapshot's recent blocks start at height {oldest.height}, inside the replay "
            "window: replays of older transactions could not be refused"
        )
    return positions


# ---------------------------------------------------------------------------------------------
# Restoring


def snapshot_base(verified: VerifiedSnapshot, trust: SnapshotTrust) -> SnapshotBase:
    """What Store.restore_base writes for a verified snapshot, its state tree built at the
    snapshot's height from nothing (the tree's roots depend on the entries only)."""
    manifest = verified.manifest
    height = manifest.height
    tree = StateTree(trust.profile.hash, _EmptyBefore(height))
    update = tree.apply(height, verified.state)
    # The tree was built on an empty version height - 1 that no store holds: nothing to retire.
    update.stale_node_keys.clear()
    return SnapshotBase(
        genesis_bytes=trust.genesis_bytes,
        header=manifest.header.header,
        block_hash=manifest.block_hash,
        certificate=manifest.header.certificate,
        state=verified.state,
        tree_update=update,
        validator_sets=[
            (entry.from_height, entry.validator_set) for entry in manifest.validator_sets
        ],
        transaction_positions=verified.transaction_positions,
    )


def base_manifest(manifest: snapshot_pb2.SnapshotManifest) -> bytes:
    """The named blob a restored store keeps (BASE_MANIFEST_META): the manifest without its
    chunk list."""
    kept = snapshot_pb2.SnapshotManifest()
    kept.CopyFrom(manifest)
    del kept.chunks[:]
    return encode(kept)


class _EmptyBefore:
    """A node reader in which version ``height - 1`` is the empty tree and nothing else is."""

    _EMPTY_ROOT = b"\x00"

    def __init__(self, height: int) -> None:
        self._root_key = root_node_key(height - 1)

    def get_state_node(self, node_key: bytes) -> bytes | None:
        return self._EMPTY_ROOT if node_key == self._root_key else None


def chunk_entries(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """The entries of chunks already verified (for tools that list a snapshot's state)."""
    for data in chunks:
        for entry in decode(snapshot_pb2.SnapshotChunk, data, bytes_max=CHUNK_BYTES_MAX).entries:
            yield entry.key, entry.value
