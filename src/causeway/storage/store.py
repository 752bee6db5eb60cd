"""The LMDB store: blocks, results, indices, versioned state and state tree nodes.

One environment, one named sub-database per record kind (layout in schema.py). Every block is
written in exactly one LMDB write transaction, and the environment syncs data and meta pages on
commit, so commit_block returns only once the whole block is durable, and a crash leaves either
all of it or none of it.

Thread safety: the LMDB environment is opened with locking; every public method opens its own
short transaction, so methods may be called from several threads at once. Writers are serialised
by LMDB's writer lock (also across processes). close() must not race with other calls.
"""

from __future__ import annotations

import heapq
import threading
from array import array
from collections import ChainMap
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar

import lmdb
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from rbloom import Bloom

from causeway.errors import (
    ConfigurationError,
    HeightUnavailableError,
    InvariantError,
    NotFoundError,
    StorageCorruptionError,
)
from causeway.state import TreeUpdate
from causeway.storage import schema
from causeway.storage.index_filter import FALSE_POSITIVE_RATE, IndexFilter
from causeway.storage.latest_values import (
    ENTRY_OVERHEAD_BYTES,
    LATEST_VALUES_BYTES_MAX,
    LatestValues,
)
from causeway.storage.schema import (
    ALL_DATABASES,
    DB_BLOCK_ENTRIES,
    DB_BLOCK_HASHES,
    DB_CERTIFICATES,
    DB_EVENT_INDEX,
    DB_HEADERS,
    DB_HEIGHTS_BY_HASH,
    DB_META,
    DB_RECENT_TRANSACTION_IDS,
    DB_STALE_NODES,
    DB_STATE_DELETED,
    DB_STATE_HISTORY,
    DB_STATE_LATEST,
    DB_STATE_NODES,
    DB_STATE_WRITES,
    DB_TRANSACTION_INDEX_V2,
    DB_TRANSACTION_RUNS,
    DB_VALIDATOR_SETS,
    decode_record,
    encode_height,
    encode_record,
    encode_records,
)
from causeway.types import encode
from causeway.types.v1.types_pb2 import (
    Block,
    BlockHeader,
    CommitCertificate,
    EventRecord,
    Transaction,
    TransactionResult,
    ValidatorSet,
)

MessageT = TypeVar("MessageT", bound=Message)

if TYPE_CHECKING:
    # Transactions are opened with buffers=False: keys and values come back as bytes.
    _Txn: TypeAlias = lmdb.Transaction[bytes]

DEFAULT_MAP_SIZE_BYTES = 8 << 30
# Events gathered per read transaction by iterate_events: keeps read transactions short (a long
# reader stops LMDB from reusing pages) while amortising the cost of opening one.
EVENTS_PER_READ = 512
# Results scanned per read transaction when following all events (most may carry none).
RESULTS_PER_READ = 2048
# Records checked per read transaction by verify_integrity.
RECORDS_PER_VERIFY_READ = 20_000
# History entries plus tree nodes deleted per write transaction by prune_state, so that pruning
# a long backlog never holds the writer lock for long against block commits.
PRUNE_RECORDS_PER_WRITE = 100_000
# Transaction ids wait in recent_transaction_ids (one record per block, appended) until there are
# at least this many; then they move into transaction_runs as one sorted run under the last
# height they come from (in slices, below), appended after every run before it and never
# rewritten. Inserting them into one id-ordered index instead rewrote its pages at every move,
# more of them as the chain grew: a moved id was rewritten some four times over (docs/storage.md,
# "The transaction index in runs"). The size bounds the waiting ids' memory (some 7 MB) and makes
# the runs some 20 at a million ids.
RECENT_TRANSACTION_IDS_MIN = 50_000
# A move goes over this many commits, one slice of the ids' first byte each, so that no one
# block's write carries the whole move. Slices go in id order, so each one's keys follow the
# last one's and every write of the run is an append. Ids that arrive during a move wait for
# the next one, so the slices bound the waiting ids too: under a steady load some two moves'
# commits' worth. With 64 slices (which an index rewritten at each move needed, so that no
# slice rewrote much of it), 380,000 ids waited under load, and their decoded copy grew the
# node's heap by some 70 MB and its CPU time a transfer by a fifth as the chain grew; with 8,
# at most 75,000 waited, and both stayed flat (docs/performance.md, twelfth sitting).
TRANSACTION_INDEX_MERGE_SLICES = 8
# A store opened as its sole writer reads back into its latest values the keys written by at
# most this many of the newest blocks (and at most as many keys as the values' bound holds).
LATEST_VALUES_WARM_VERSIONS_MAX = 1_000
# How many corrupt records verify_integrity names in its error.
CORRUPT_RECORDS_REPORTED = 20
# How many problems scan_integrity names in its report (it counts them all).
INTEGRITY_PROBLEMS_KEPT_MAX = 1000

# LMDB's data file inside a store's folder (the other is lock.mdb).
DATA_FILE_NAME = "data.mdb"

_BLOCK_HEADER_TAG = b"\x0a"  # Block.header: field 1, length-delimited
_BLOCK_TRANSACTION_TAG = b"\x12"  # Block.transactions: field 2, length-delimited


@dataclass
class BlockRecord:
    """Everything one block commits, written in one durable transaction."""

    block: Block
    block_hash: bytes
    certificate: CommitCertificate
    results: list[TransactionResult]
    transaction_ids: list[bytes]
    state_changes: Mapping[bytes, bytes | None]
    tree_update: TreeUpdate
    # The validator set that signs this block (its header's validator_set_hash); written to the
    # validator-set index when it differs from the set before. None writes nothing.
    validator_set: ValidatorSet | None = None
    # The transactions' canonical encodings as the node holds them (kept from admission), written
    # as they are; empty: encoded here from the block.
    encoded_transactions: Sequence[bytes] = ()


@dataclass
class SnapshotBase:
    """What a store restored from a snapshot starts with (Store.restore_base): the chain at
    one height without the blocks before it. Verified by the caller (storage.snapshots)."""

    genesis_bytes: bytes
    header: BlockHeader
    block_hash: bytes
    certificate: CommitCertificate
    # The whole state at header.height, and its tree built at that version.
    state: Mapping[bytes, bytes]
    tree_update: TreeUpdate
    # (from height, set) of every validator set up to header.height, oldest first.
    validator_sets: Sequence[tuple[int, ValidatorSet]]
    # (transaction id, height, index) of the transactions a replay must still be refused for.
    transaction_positions: Sequence[tuple[bytes, int, int]]


def _lmdb_reason(error: lmdb.Error) -> str:
    """LMDB's own words, without the name of the C function that failed."""
    return str(error).partition(": ")[2] or str(error)


def _parse(message_type: type[MessageT], database: bytes, key: bytes, payload: bytes) -> MessageT:
    try:
        return message_type.FromString(payload)
    except (ProtobufDecodeError, RuntimeError, ValueError) as error:
        raise schema.corrupt(
            database, key, f"not a valid {message_type.DESCRIPTOR.name}: {error}"
        ) from None


def _check_key(kind: str, key: bytes, bytes_max: int) -> None:
    if not key or len(key) > bytes_max:
        raise InvariantError(f"{kind} of {len(key)} bytes: must be 1 to {bytes_max} bytes")


def _check_key_lengths(kind: str, keys: Iterable[bytes], bytes_max: int) -> None:
    """LMDB refuses empty and overlong keys; refuse them before anything is written."""
    lengths = list(map(len, keys))
    if lengths and (min(lengths) == 0 or max(lengths) > bytes_max):
        bad = next(length for length in lengths if length == 0 or length > bytes_max)
        raise InvariantError(f"{kind} of {bad} bytes: must be 1 to {bytes_max} bytes")


class Store:
    """The node's persistent store; also the state tree's NodeReader."""

    def __init__(
        self,
        path: Path,
        *,
        map_size_bytes: int = DEFAULT_MAP_SIZE_BYTES,
        create: bool = True,
        read_only: bool = False,
        sole_writer: bool = False,
        latest_values_bytes_max: int = LATEST_VALUES_BYTES_MAX,
    ) -> None:
        """Opens (create=True: creates if missing) the store in the folder `path`.

        create=False opens only a store that exists and holds every sub-database and its schema
        version, and writes nothing while opening: a store that lost its databases (a damaged
        LMDB meta page makes it look empty) raises StorageCorruptionError instead of being
        silently made new. read_only=True (implies create=False) opens LMDB read-only, for
        scans beside a running node. sole_writer=True says that no other process writes the
        store while this one has it open (a node's own store): look-ups by id then go through
        an index filter in memory (index_filter.py), which another process's commits would
        leave behind, so any other writable store reads the index itself. latest_values_bytes_max
        bounds the latest values kept in memory (latest_values.py); a read-only store keeps
        none, since another process writes.
        """
        self._path = Path(path)
        self._close_lock = threading.Lock()
        # Decoded recent_transaction_ids records: each block's ids by height, and every waiting
        # id's (height, index) in one dictionary, so that a lookup costs one probe however many
        # blocks wait. A record never changes while it exists, so a decoded copy stays right.
        # It holds a run of consecutive blocks (see _recent): commits and reads add newer blocks,
        # and the commit that moves ids into transaction_runs drops the blocks it moved.
        self._recent_ids: dict[int, list[bytes]] = {}
        self._recent_positions: dict[bytes, int] = {}
        # The highest height whose ids this store saw moved: no block at or below it is kept
        # again (a reader older than the move still finds them in its own snapshot's records).
        self._recent_floor = 0
        self._recent_ids_lock = threading.Lock()
        # The move in progress, split by slice: (the height it moves through, each slice's
        # (id, height, index) triples), taken at its first commit. That commit's block is in it
        # too, so a failed commit drops it (commit_block); kept by the writer alone.
        self._merge_slices: tuple[int, list[list[tuple[bytes, int, int]]]] | None = None
        # The next move's split, made as its blocks commit (_remember_recent_locked), so that
        # the move's first commit does not split some 50,000 ids at once: None when this store
        # does not know it whole (after an open, or a failed commit), and then the first commit
        # splits the move itself.
        self._next_split: _SliceSplit | None = None
        # The ids transaction_runs may hold, for the store's sole writer (index_filter.py says
        # why): a look-up reads LMDB only when this filter says "maybe", and then only the runs
        # whose own filter says "maybe" too. Each run's filter (its height's key prefix and a
        # Bloom filter over its ids) is made whole before any of the run is written, and never
        # changed after: readers probe it while the writer works.
        self._index_filter: IndexFilter | None = None
        self._run_filters: tuple[tuple[bytes, Bloom], ...] = ()
        if read_only and sole_writer:
            raise ConfigurationError(f"a read-only store cannot be the sole writer of {path}")
        create = create and not read_only
        data_file = self._path / DATA_FILE_NAME
        if not create:
            if not data_file.is_file():
                raise StorageCorruptionError(f"the store {data_file} does not exist")
            if data_file.stat().st_size == 0:
                # LMDB would take an empty data file for a new one and write meta pages into it.
                raise StorageCorruptionError(f"the store {data_file} is empty (0 bytes)")
        try:
            if create:
                self._path.mkdir(parents=True, exist_ok=True)
            self._env: lmdb.Environment | None = lmdb.open(
                str(self._path),
                map_size=map_size_bytes,
                # And the sub-database a migration replaces (_migrate).
                max_dbs=len(ALL_DATABASES) + 1,
                max_readers=1024,
                subdir=True,
                create=create,
                readonly=read_only,
                lock=True,
                # sync + metasync: a commit returns only after data and meta pages are on disk.
                sync=True,
                metasync=True,
                map_async=False,
                # writemap=False: a stray write through a pointer cannot reach the file.
                writemap=False,
                readahead=False,
            )
        except lmdb.InvalidError as error:
            if create:
                raise ConfigurationError(
                    f"cannot open the store at {self._path}: {error}"
                ) from None
            # Both meta pages are damaged (their magic or version): not a store that is new.
            raise StorageCorruptionError(
                f"the store {data_file} is not an LMDB data file (LMDB: {_lmdb_reason(error)})"
            ) from None
        except (OSError, lmdb.Error) as error:
            raise ConfigurationError(f"cannot open the store at {self._path}: {error}") from None
        try:
            # Reader slots of processes that died (a crash, a SIGKILL) are freed here.
            self._env.reader_check()
            self._check_schema_names()
            self._migrate(sole_writer=sole_writer)
            if create:
                self._open_databases()
                self._check_schema_version()
            else:
                self._open_existing_databases()
                self._check_existing_schema_version()
            with self._read() as txn:
                latest = self._get_meta_int(txn, schema.META_LATEST_HEIGHT)
            self._latest_values = LatestValues(
                -1 if latest is None else latest, 0 if read_only else latest_values_bytes_max
            )
            if sole_writer:
                self._build_index_filters()
                self._warm_latest_values()
        except BaseException:
            self._env.close()
            self._env = None
            raise

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._close_lock:
            if self._env is not None:
                self._env.close()
                self._env = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._path

    def _check_schema_names(self) -> None:
        env = self._require_env()
        try:
            with env.begin() as txn:
                names = [bytes(key) for key in txn.cursor().iternext(keys=True, values=False)]
        except lmdb.Error as error:
            # The main database (LMDB's list of sub-databases) is unreadable: its root pointer
            # in the meta page, or a page it points to, is damaged.
            raise StorageCorruptionError(
                f"the store {self._path / DATA_FILE_NAME} cannot list its databases "
                f"(LMDB: {_lmdb_reason(error)})"
            ) from None
        known = {*ALL_DATABASES, DB_TRANSACTION_INDEX_V2}
        foreign = sorted(
            {
                name.split(b"/")[1]
                for name in names
                if name.startswith(b"causeway/") and name not in known and name.count(b"/") >= 2
            }
        )
        if foreign:
            raise ConfigurationError(
                f"the store at {self._path} uses schema {b', '.join(foreign).decode()}; this "
                f"build reads schema v{schema.SCHEMA_VERSION}"
            )

    def _migrate(self, *, sole_writer: bool) -> None:
        """Brings a store of schema v2 to v3 in one write transaction: v2's id-ordered index is
        written as one run under height 0 (its ids sorted, so appended) and dropped, and the
        meta version becomes 3, which a v2 build refuses (as it refuses the new name). A move in
        progress goes on after it: its later slices go into the run at its own height, and a
        look-up finds an id in either run. A crash leaves the store all v2 or all v3. A store
        of another version is left to the version checks, which name it.

        Only the store's sole writer (the node's own open) migrates: any other open may run
        beside a node of the older build (a backup, an archive, a scan started with the new
        build before the node is restarted), which would go on writing into the dropped index.
        Those are refused until the node has been started once with this build."""
        env = self._require_env()
        try:
            meta = env.open_db(DB_META, create=False)
        except lmdb.Error:
            return  # new, or lost its databases: the checks after this say which
        with env.begin() as txn:
            stored = self._get_payload(txn, meta, DB_META, schema.META_SCHEMA_VERSION)
        if stored != encode_height(schema.SCHEMA_VERSION_MIGRATED_FROM):
            return
        if not sole_writer:
            raise ConfigurationError(
                f"the store at {self._path} has schema version "
                f"{schema.SCHEMA_VERSION_MIGRATED_FROM}; the node's own start (causeway node "
                f"start) migrates it to {schema.SCHEMA_VERSION}, no other open does"
            )
        prefix = encode_height(0)
        with env.begin(write=True) as txn:
            try:
                index = env.open_db(DB_TRANSACTION_INDEX_V2, txn=txn, create=False)
            except lmdb.NotFoundError:
                raise StorageCorruptionError(
                    f"the store {self._path / DATA_FILE_NAME} of schema version "
                    f"{schema.SCHEMA_VERSION_MIGRATED_FROM} has lost its "
                    f"{DB_TRANSACTION_INDEX_V2.decode()}"
                ) from None
            runs = env.open_db(DB_TRANSACTION_RUNS, txn=txn, create=True)

            def run_items() -> Iterator[tuple[bytes, bytes]]:
                # Streamed, not listed: an index of many millions of ids is copied in one pass.
                for key, value in txn.cursor(index).iternext(keys=True, values=True):
                    if len(key) > schema.TRANSACTION_ID_BYTES_MAX:
                        # Raised inside the write transaction, which then writes nothing.
                        raise ConfigurationError(
                            f"the store at {self._path} holds a transaction id of {len(key)} "
                            f"bytes: schema version {schema.SCHEMA_VERSION} keeps ids of at "
                            f"most {schema.TRANSACTION_ID_BYTES_MAX} bytes, so it cannot be "
                            "migrated"
                        )
                    yield prefix + key, value

            txn.cursor(runs).putmulti(run_items(), append=True)
            txn.drop(index, delete=True)
            txn.put(
                schema.META_SCHEMA_VERSION,
                encode_record(encode_height(schema.SCHEMA_VERSION)),
                db=meta,
            )

    def _open_databases(self) -> None:
        env = self._require_env()
        with env.begin(write=True) as txn:
            handles = {name: env.open_db(name, txn=txn, create=True) for name in ALL_DATABASES}
        self._keep_handles(handles)

    def _open_existing_databases(self) -> None:
        """Opens every sub-database, creating none of them. Each is opened in its own
        transaction (py-lmdb keeps a handle opened without one; a read-only environment uses a
        read transaction), which writes nothing when no database is created."""
        env = self._require_env()
        handles: dict[bytes, Any] = {}
        missing: list[bytes] = []
        try:
            for name in ALL_DATABASES:
                try:
                    handles[name] = env.open_db(name, create=False)
                except lmdb.NotFoundError:
                    missing.append(name)
        except lmdb.Error as error:
            raise StorageCorruptionError(
                f"the store {self._path / DATA_FILE_NAME} cannot open its databases "
                f"(LMDB: {_lmdb_reason(error)})"
            ) from None
        if missing:
            raise StorageCorruptionError(
                f"the store {self._path / DATA_FILE_NAME} has lost its databases: "
                f"{len(missing)} of {len(ALL_DATABASES)} are missing, "
                f"{missing[0].decode(errors='replace')} first"
            )
        self._keep_handles(handles)

    def _build_index_filters(self) -> None:
        """The filters over the ids transaction_runs holds, one over all of them and one a run,
        read in one pass before the store is shared (no commit can add one meanwhile), holding
        one run's ids at a time. The run of a move in progress also gets the ids still waiting
        to go into it, as its first commit gave them."""
        run_filters: list[tuple[bytes, Bloom]] = []
        moving_prefix: bytes | None = None
        moving: list[bytes] = []
        with self._read() as txn:
            count = txn.stat(self._transaction_runs)["entries"]
            through = self._get_meta_int(txn, schema.META_INDEX_MERGE_THROUGH)
            if through is not None:
                moving_prefix = encode_height(through)
                for height, ids in self._recent(txn).blocks:
                    if height <= through:
                        moving.extend(ids)

            def keep_run(prefix: bytes, run_ids: list[bytes]) -> None:
                whole = run_ids + moving if prefix == moving_prefix else run_ids
                run_filters.append((prefix, _run_filter(whole)))

            def every_id() -> Iterator[bytes]:
                # Each run's keys are consecutive: its filter is made when the next run begins.
                prefix: bytes | None = None
                run_ids: list[bytes] = []
                cursor = txn.cursor(self._transaction_runs)
                for key in cursor.iternext(keys=True, values=False):
                    if key[: schema.HEIGHT_BYTES] != prefix:
                        if prefix is not None:
                            keep_run(prefix, run_ids)
                        prefix, run_ids = key[: schema.HEIGHT_BYTES], []
                    transaction_id = key[schema.HEIGHT_BYTES :]
                    run_ids.append(transaction_id)
                    yield transaction_id
                if prefix is not None:
                    keep_run(prefix, run_ids)

            self._index_filter = IndexFilter.of(every_id(), count)
        if moving_prefix is not None and all(prefix != moving_prefix for prefix, _ in run_filters):
            keep_run(moving_prefix, [])  # the move's first slices held none of its ids
        self._run_filters = tuple(run_filters)

    def _publish_run_filter(self, run: int, transaction_ids: list[bytes]) -> None:
        """Makes the filter of the run at height `run` (all its ids) and lets readers probe it;
        before any of the run is written. A filter left by a failed first commit of the same
        run is replaced: none of its ids was written."""
        if self._index_filter is None:
            return
        prefix = encode_height(run)
        kept = tuple(entry for entry in self._run_filters if entry[0] != prefix)
        self._run_filters = (*kept, (prefix, _run_filter(transaction_ids)))

    def _warm_latest_values(self) -> int:
        """Reads the latest values of the keys the newest blocks wrote into memory, the newest
        touched last (so dropped last). Returns how many keys it read.

        Why: the blocks a node builds after a restart under load would each read their keys from
        LMDB, handing off the GIL at every read, until the values were learned again; measured at
        500,000 transfers, the batch after a restart had a p99 of 1.25-1.81 s, and 0.86-1.22 s
        with the values read back first (docs/performance.md, eleventh sitting). The keys a chain
        wrote last are the ones its next blocks most likely touch. A damaged record warms nothing
        and fails nothing here: a later read of its keys meets it as any read does."""
        latest_values = self._latest_values
        keys_max = latest_values.bytes_max // ENTRY_OVERHEAD_BYTES
        if keys_max == 0:
            return 0
        # Newest version first; each key at its newest write.
        chosen: dict[bytes, None] = {}
        with self._read() as txn:
            version = self._get_meta_int(txn, schema.META_LATEST_HEIGHT)
            if version is None:
                return 0
            cursor = txn.cursor(self._state_writes)
            walked = 0
            found = cursor.last()
            while found and walked < LATEST_VALUES_WARM_VERSIONS_MAX and len(chosen) < keys_max:
                version_key = cursor.key()
                try:
                    written = schema.decode_key_list(
                        DB_STATE_WRITES,
                        version_key,
                        decode_record(DB_STATE_WRITES, version_key, cursor.value()),
                    )
                except StorageCorruptionError:
                    written = []
                for key in written:
                    chosen.setdefault(key)
                walked += 1
                found = cursor.prev()
            view = LatestStateView(txn, self._state_latest, latest_values, version)
            for key in reversed(list(chosen)[:keys_max]):
                try:
                    view.get(key)
                except StorageCorruptionError:
                    continue
        return len(chosen)

    def _filter_before_indexing(self, transaction_ids: list[bytes]) -> None:
        """Adds ids about to be written into transaction_runs to the filter over all of them:
        before their commit, so that no reader sees an indexed id the filter lacks."""
        if self._index_filter is not None:
            self._index_filter.add(transaction_ids)

    def _index_lookup(self, txn: _Txn) -> Callable[[bytes], tuple[bytes, bytes] | None]:
        """A look-up of ids in transaction_runs as `txn` sees them: the key and stored position
        record (framed) of an id, or None. With filters (the sole writer), LMDB is read only for the
        runs whose filter says "maybe", and none when the filter over all ids says no; without,
        each run is read, found by one seek a run."""
        get = txn.get
        db = self._transaction_runs
        index_filter = self._index_filter
        runs: Sequence[tuple[bytes, Container[bytes]]]
        if index_filter is None:
            may_hold: Callable[[bytes], bool] = _ANY_ID.__contains__
            runs = [(prefix, _ANY_ID) for prefix in self._run_prefixes(txn)]
        else:
            may_hold = index_filter.may_hold
            # A run published after this snapshot began only costs a read that finds nothing.
            runs = self._run_filters

        def look_up(transaction_id: bytes) -> tuple[bytes, bytes] | None:
            if not may_hold(transaction_id):
                return None
            for prefix, run_filter in runs:
                if transaction_id in run_filter:
                    key = prefix + transaction_id
                    value = get(key, db=db)
                    if value is not None:
                        return key, value
            return None

        return look_up

    def _run_prefixes(self, txn: _Txn) -> list[bytes]:
        """The key prefix (height) of every run in transaction_runs, in height order."""
        cursor = txn.cursor(self._transaction_runs)
        prefixes: list[bytes] = []
        found = cursor.first()
        while found:
            key = cursor.key()
            if len(key) <= schema.HEIGHT_BYTES:
                # A key with no id (only a damaged store holds one): the next key on is a run's.
                found = cursor.next()
                continue
            run = schema.decode_height(key[: schema.HEIGHT_BYTES])
            prefixes.append(key[: schema.HEIGHT_BYTES])
            if run >= (1 << 64) - 1:
                break
            found = cursor.set_range(encode_height(run + 1))
        return prefixes

    def _keep_handles(self, handles: dict[bytes, Any]) -> None:
        self._meta = handles[DB_META]
        self._headers = handles[DB_HEADERS]
        self._block_hashes = handles[DB_BLOCK_HASHES]
        self._heights_by_hash = handles[DB_HEIGHTS_BY_HASH]
        self._certificates = handles[DB_CERTIFICATES]
        self._block_entries = handles[DB_BLOCK_ENTRIES]
        self._transaction_runs = handles[DB_TRANSACTION_RUNS]
        self._recent_transaction_ids = handles[DB_RECENT_TRANSACTION_IDS]
        self._event_index = handles[DB_EVENT_INDEX]
        self._state_latest = handles[DB_STATE_LATEST]
        self._state_deleted = handles[DB_STATE_DELETED]
        self._state_history = handles[DB_STATE_HISTORY]
        self._state_writes = handles[DB_STATE_WRITES]
        self._state_nodes = handles[DB_STATE_NODES]
        self._stale_nodes = handles[DB_STALE_NODES]
        self._validator_sets = handles[DB_VALIDATOR_SETS]
        self._handles = handles

    def _check_schema_version(self) -> None:
        expected = encode_height(schema.SCHEMA_VERSION)
        with self._write() as txn:
            stored = self._get_payload(txn, self._meta, DB_META, schema.META_SCHEMA_VERSION)
            if stored is None:
                txn.put(schema.META_SCHEMA_VERSION, encode_record(expected), db=self._meta)
            elif stored != expected:
                raise ConfigurationError(
                    f"the store at {self._path} has schema version "
                    f"{schema.decode_height(stored)}; this build reads {schema.SCHEMA_VERSION}"
                )

    def _check_existing_schema_version(self) -> None:
        with self._read() as txn:
            stored = self._get_payload(txn, self._meta, DB_META, schema.META_SCHEMA_VERSION)
        if stored is None:
            raise StorageCorruptionError(
                f"the store {self._path / DATA_FILE_NAME} has no schema version record"
            )
        if stored != encode_height(schema.SCHEMA_VERSION):
            raise ConfigurationError(
                f"the store at {self._path} has schema version "
                f"{schema.decode_height(stored)}; this build reads {schema.SCHEMA_VERSION}"
            )

    # -- transactions ---------------------------------------------------------------------------

    def _require_env(self) -> lmdb.Environment:
        env = self._env
        if env is None:
            raise InvariantError(f"the store at {self._path} is closed")
        return env

    @contextmanager
    def _read(self) -> Iterator[_Txn]:
        env = self._require_env()
        try:
            with env.begin(write=False) as txn:
                yield txn
        except lmdb.CorruptedError as error:
            raise StorageCorruptionError(
                f"LMDB reports corruption in {self._path}: {error}"
            ) from None
        except lmdb.Error as error:
            raise InvariantError(f"storage read failed in {self._path}: {error}") from None

    @contextmanager
    def _write(self) -> Iterator[_Txn]:
        env = self._require_env()
        try:
            with env.begin(write=True) as txn:
                yield txn
        except lmdb.MapFullError:
            raise InvariantError(
                f"the store at {self._path} is full ({env.info()['map_size']} bytes): raise "
                "map_size_bytes"
            ) from None
        except lmdb.CorruptedError as error:
            raise StorageCorruptionError(
                f"LMDB reports corruption in {self._path}: {error}"
            ) from None
        except lmdb.Error as error:
            raise InvariantError(f"storage write failed in {self._path}: {error}") from None

    @staticmethod
    def _get_payload(txn: _Txn, db: Any, database: bytes, key: bytes) -> bytes | None:
        value = txn.get(key, db=db)
        if value is None:
            return None
        return decode_record(database, key, value)

    def _get_meta_int(self, txn: _Txn, key: bytes) -> int | None:
        payload = self._get_payload(txn, self._meta, DB_META, key)
        if payload is None:
            return None
        if len(payload) != 8:
            raise schema.corrupt(DB_META, key, f"{len(payload)} bytes, expected 8")
        return schema.decode_height(payload)

    def _latest_height(self, txn: _Txn) -> int:
        return self._get_meta_int(txn, schema.META_LATEST_HEIGHT) or 0

    def _has_genesis(self, txn: _Txn) -> bool:
        return txn.get(schema.META_GENESIS, db=self._meta) is not None

    def _base_height(self, txn: _Txn) -> int:
        return self._get_meta_int(txn, schema.META_BASE_HEIGHT) or 0

    def _bodies_from_height(self, txn: _Txn) -> int:
        return self._get_meta_int(txn, schema.META_BODIES_FROM_HEIGHT) or 1

    # -- genesis --------------------------------------------------------------------------------

    def save_genesis(
        self, genesis_bytes: bytes, state: Mapping[bytes, bytes], tree_update: TreeUpdate
    ) -> None:
        """Writes the genesis, the version-0 state and its tree nodes; only once per store."""
        if tree_update.version != 0:
            raise InvariantError(f"genesis tree update has version {tree_update.version}, not 0")
        if any(value is None for value in state.values()):
            raise InvariantError("genesis state values must not be None")
        _check_key_lengths("state key", state, schema.STATE_KEY_BYTES_MAX)
        _check_key_lengths("state node key", tree_update.new_nodes, schema.LMDB_KEY_BYTES_MAX)
        _check_key_lengths(
            "stale state node key", tree_update.stale_node_keys, schema.LMDB_KEY_BYTES_MAX
        )
        latest, _, history = schema.encode_state_records(0, state, {})
        nodes = encode_records(tree_update.new_nodes.items())
        version_key = encode_height(0)
        with self._write() as txn:
            if self._has_genesis(txn):
                raise InvariantError(f"the store at {self._path} already has a genesis")
            txn.put(schema.META_GENESIS, encode_record(genesis_bytes), db=self._meta)
            txn.cursor(self._state_latest).putmulti(latest)
            txn.cursor(self._state_history).putmulti(history)
            if state:
                txn.put(
                    version_key,
                    encode_record(schema.encode_key_list(list(state))),
                    db=self._state_writes,
                )
            txn.cursor(self._state_nodes).putmulti(nodes)
            if tree_update.stale_node_keys:
                txn.put(
                    version_key,
                    encode_record(schema.encode_key_list(tree_update.stale_node_keys)),
                    db=self._stale_nodes,
                )
            txn.put(schema.META_LATEST_HEIGHT, encode_record(encode_height(0)), db=self._meta)
            txn.put(
                schema.META_EARLIEST_STATE_VERSION,
                encode_record(encode_height(0)),
                db=self._meta,
            )
            # No reader has used the cache yet (no snapshot held a latest height): start empty.
            self._latest_values.clear(recorded=0)

    def restore_base(self, base: SnapshotBase) -> None:
        """Writes a store that starts at base.header.height instead of genesis, in one
        transaction and only into a store that holds nothing yet: the genesis bytes, the
        header, hash and certificate of that height, its state (every entry written at that
        version, the oldest retained one) and tree, the validator-set index and the
        transaction ids whose replays must be refused. Blocks below the height are not held
        (HeightUnavailableError), nor the body of the base block itself; commit_block
        continues at the next height. InvariantError, nothing written, for parts that
        disagree."""
        header = base.header
        height = header.height
        if height < 1:
            raise InvariantError(f"a snapshot base at height {height}: heights start at 1")
        certificate = base.certificate
        if certificate.height != height or certificate.block_hash != base.block_hash:
            raise InvariantError(
                f"snapshot base {height}: the certificate is for height {certificate.height} "
                f"and another block"
            )
        update = base.tree_update
        if update.version != height or update.root_hash != header.state_root:
            raise InvariantError(
                f"snapshot base {height}: the tree is for version {update.version} with another "
                "root than the header's state root"
            )
        if any(from_height > height for from_height, _ in base.validator_sets):
            raise InvariantError(f"snapshot base {height}: a validator set from above it")
        if any(position_height > height for _, position_height, _ in base.transaction_positions):
            raise InvariantError(f"snapshot base {height}: a transaction id from above it")
        _check_key("block hash", base.block_hash, schema.LMDB_KEY_BYTES_MAX)
        _check_key_lengths("state key", base.state, schema.STATE_KEY_BYTES_MAX)
        _check_key_lengths("state node key", update.new_nodes, schema.LMDB_KEY_BYTES_MAX)
        transaction_ids = [transaction_id for transaction_id, _, _ in base.transaction_positions]
        _check_key_lengths("transaction id", transaction_ids, schema.TRANSACTION_ID_BYTES_MAX)
        latest, _, history = schema.encode_state_records(height, base.state, {})
        nodes = encode_records(update.new_nodes.items())
        height_key = encode_height(height)
        height_record = encode_record(height_key)
        validator_sets = encode_records(
            sorted(
                (encode_height(from_height), encode(validator_set))
                for from_height, validator_set in base.validator_sets
            )
        )
        # The ids as one run under the base height, below every run a later move writes.
        transaction_run = schema.encode_transaction_run_records(height, base.transaction_positions)
        self._publish_run_filter(height, transaction_ids)
        self._filter_before_indexing(transaction_ids)
        with self._write() as txn:
            if self._has_genesis(txn) or self._latest_height(txn):
                raise InvariantError(f"the store at {self._path} is not empty: cannot restore")
            txn.put(schema.META_GENESIS, encode_record(base.genesis_bytes), db=self._meta)
            txn.put(height_key, encode_record(encode(header)), db=self._headers)
            txn.put(height_key, encode_record(base.block_hash), db=self._block_hashes)
            txn.put(base.block_hash, height_record, db=self._heights_by_hash)
            txn.put(height_key, encode_record(encode(certificate)), db=self._certificates)
            txn.cursor(self._validator_sets).putmulti(validator_sets)
            self._put_new(txn, self._transaction_runs, transaction_run, "transaction id")
            txn.cursor(self._state_latest).putmulti(latest)
            txn.cursor(self._state_history).putmulti(history)
            if base.state:
                txn.put(
                    height_key,
                    encode_record(schema.encode_key_list(list(base.state))),
                    db=self._state_writes,
                )
            txn.cursor(self._state_nodes).putmulti(nodes)
            for name, value in (
                (schema.META_LATEST_HEIGHT, height),
                (schema.META_EARLIEST_STATE_VERSION, height),
                (schema.META_BASE_HEIGHT, height),
                (schema.META_BODIES_FROM_HEIGHT, height + 1),
            ):
                txn.put(name, encode_record(encode_height(value)), db=self._meta)
            self._latest_values.clear(recorded=height)

    def load_genesis(self) -> bytes | None:
        with self._read() as txn:
            return self._get_payload(txn, self._meta, DB_META, schema.META_GENESIS)

    # -- blocks ---------------------------------------------------------------------------------

    def latest_height(self) -> int:
        """Height of the last committed block; 0 when only genesis (or nothing) is stored."""
        with self._read() as txn:
            return self._latest_height(txn)

    def copy_to(self, folder: Path) -> None:
        """Copies the store into the empty folder ``folder``, compacted (free pages left out),
        as of one committed transaction: LMDB copies inside a read transaction, so the store
        may be written meanwhile (by this process or the node's). ConfigurationError when it
        cannot be written."""
        env = self._require_env()
        try:
            env.copy(str(folder), compact=True)
        except lmdb.Error as error:
            raise ConfigurationError(f"cannot copy the store to {folder}: {error}") from None

    def base_height(self) -> int:
        """The lowest height whose header this store holds: 0 for a store that starts at
        genesis, the snapshot's height for one restored from a snapshot (restore_base)."""
        with self._read() as txn:
            return self._base_height(txn)

    def bodies_from_height(self) -> int:
        """The lowest height whose transactions and results this store holds (1 from genesis;
        above the base height after a restore, above the archived blocks after archiving)."""
        with self._read() as txn:
            return self._bodies_from_height(txn)

    def earliest_state_version(self) -> int:
        """The oldest state version still readable (raised by prune_state)."""
        with self._read() as txn:
            return self._get_meta_int(txn, schema.META_EARLIEST_STATE_VERSION) or 0

    def commit_block(self, record: BlockRecord) -> None:
        """Writes everything the block commits in one transaction, synced before returning.

        Refuses (InvariantError, nothing written) a block that is not latest_height() + 1, or a
        record whose parts disagree with each other.
        """
        header = record.block.header
        height = header.height
        self._check_block_record(record)

        # Encoding happens before the write transaction so the writer lock is held only for
        # the LMDB work itself.
        results = record.results
        height_key = encode_height(height)
        height_record = encode_record(height_key)
        entry_items = schema.encode_block_entry_records(
            height,
            list(record.encoded_transactions)
            or [encode(transaction) for transaction in record.block.transactions],
            [encode(result) for result in results],
        )
        transaction_ids = list(record.transaction_ids)
        recent_ids_record = encode_record(schema.encode_key_list(transaction_ids))
        event_items = self._event_index_items(height, results)
        changes = record.state_changes
        written_keys = encode_record(schema.encode_key_list(list(changes)))
        node_items = encode_records(record.tree_update.new_nodes.items())
        stale_keys = record.tree_update.stale_node_keys
        stale_list = encode_record(schema.encode_key_list(stale_keys))
        validator_set = None if record.validator_set is None else encode(record.validator_set)

        merged_through: int | None = None
        try:
            with self._write() as txn:
                if not self._has_genesis(txn):
                    raise InvariantError(f"cannot commit block {height}: no genesis saved")
                latest = self._latest_height(txn)
                if height != latest + 1:
                    raise InvariantError(
                        f"cannot commit block {height}: the latest committed height is {latest}"
                    )
                self._put_new(
                    txn,
                    self._headers,
                    [(height_key, encode_record(encode(header)))],
                    "block header",
                    append=True,
                )
                self._put_new(
                    txn,
                    self._block_hashes,
                    [(height_key, encode_record(record.block_hash))],
                    "block hash",
                    append=True,
                )
                self._put_new(
                    txn, self._heights_by_hash, [(record.block_hash, height_record)], "block hash"
                )
                self._put_new(
                    txn,
                    self._certificates,
                    [(height_key, encode_record(encode(record.certificate)))],
                    "certificate",
                    append=True,
                )
                self._put_new(txn, self._block_entries, entry_items, "transaction", append=True)
                if transaction_ids:
                    merged_through = self._index_transaction_ids(
                        txn, height, height_key, transaction_ids, recent_ids_record
                    )
                self._put_new(txn, self._event_index, event_items, "event index")
                if changes:
                    self._write_state_changes(txn, height, height_key, changes)
                    self._put_new(
                        txn,
                        self._state_writes,
                        [(height_key, written_keys)],
                        "state write list",
                        append=True,
                    )
                if node_items:
                    txn.cursor(self._state_nodes).putmulti(node_items)
                if stale_keys:
                    self._put_new(
                        txn,
                        self._stale_nodes,
                        [(height_key, stale_list)],
                        "stale node list",
                        append=True,
                    )
                if validator_set is not None:
                    self._index_validator_set(txn, height_key, validator_set)
                txn.put(schema.META_LATEST_HEIGHT, height_record, db=self._meta)
                self._latest_values.changing(height, changes)
        except BaseException:
            # Its changes may be in the latest-values cache without having been committed, and
            # its ids in the split of a move that it started (which took the next move's split).
            self._latest_values.clear()
            self._merge_slices = None
            self._next_split = None
            raise
        if transaction_ids:
            self._remember_recent(height, transaction_ids)
        if merged_through is not None:
            self._forget_recent(merged_through)

    def _index_transaction_ids(
        self,
        txn: _Txn,
        height: int,
        height_key: bytes,
        transaction_ids: list[bytes],
        record: bytes,
    ) -> int | None:
        """Refuses ids already committed (a replay) or repeated in the block, appends the
        block's ids to recent_transaction_ids and, when enough are waiting there, moves them
        into a new run of transaction_runs, one slice of the id space a commit
        (TRANSACTION_INDEX_MERGE_SLICES). Returns the height through which the waiting records
        left recent_transaction_ids (the last slice moved), else None."""
        indexed = self._index_lookup(txn)
        recent = self._recent(txn)
        positions = recent.positions
        repeated = len(transaction_ids) - len(set(transaction_ids))
        for transaction_id in transaction_ids:
            if transaction_id in positions or indexed(transaction_id) is not None:
                repeated += 1
        if repeated:
            raise InvariantError(
                f"{repeated} transaction id record(s) of this block already exist in the store"
            )
        self._put_new(
            txn,
            self._recent_transaction_ids,
            [(height_key, record)],
            "recent transaction id list",
            append=True,
        )
        meta = self._meta
        waiting = len(transaction_ids) + (
            self._get_meta_int(txn, schema.META_RECENT_TRANSACTION_IDS) or 0
        )
        through = self._get_meta_int(txn, schema.META_INDEX_MERGE_THROUGH)
        if through is None:
            if not recent.blocks and self._next_split is None:
                # No id waits and no move is under way: the next move's split is known whole
                # from this block on.
                with self._recent_ids_lock:
                    self._next_split = _SliceSplit(after=height - 1)
            if waiting < RECENT_TRANSACTION_IDS_MIN:
                txn.put(
                    schema.META_RECENT_TRANSACTION_IDS,
                    encode_record(encode_height(waiting)),
                    db=meta,
                )
                return None
            # A merge starts: the ids of every block up to this one, a slice a commit.
            through, next_slice = height, 0
        else:
            next_slice = self._get_meta_int(txn, schema.META_INDEX_MERGE_SLICE) or 0
        slices = TRANSACTION_INDEX_MERGE_SLICES
        if not 0 <= next_slice < slices or through > height:
            raise schema.corrupt(
                DB_META,
                schema.META_INDEX_MERGE_SLICE,
                f"a merge through height {through} at slice {next_slice} of {slices}",
            )
        merged = [
            (block_height, ids) for block_height, ids in recent.blocks if block_height <= through
        ]
        if through == height:
            # The move's first commit takes this block too. The run's filter gets every id of
            # the move now, before any of them is written, and the move's split by slice is
            # taken for all its commits.
            merged.append((height, transaction_ids))
            self._publish_run_filter(
                through, [transaction_id for _, ids in merged for transaction_id in ids]
            )
            self._merge_slices = (through, self._take_next_split(merged))
        slice_positions = self._merge_slice(through, merged, next_slice)
        self._filter_before_indexing([transaction_id for transaction_id, _, _ in slice_positions])
        self._put_new(
            txn,
            self._transaction_runs,
            schema.encode_transaction_run_records(through, slice_positions),
            "transaction id",
            append=True,
        )
        next_slice += 1
        if next_slice < slices:
            txn.put(
                schema.META_RECENT_TRANSACTION_IDS, encode_record(encode_height(waiting)), db=meta
            )
            txn.put(schema.META_INDEX_MERGE_THROUGH, encode_record(encode_height(through)), db=meta)
            txn.put(
                schema.META_INDEX_MERGE_SLICE, encode_record(encode_height(next_slice)), db=meta
            )
            return None
        # Every slice moved: the merged blocks' records leave recent_transaction_ids.
        cursor = txn.cursor(self._recent_transaction_ids)
        through_key = encode_height(through)
        while cursor.first() and cursor.key() <= through_key:
            cursor.delete()
        moved = sum(len(ids) for _, ids in merged)
        txn.put(
            schema.META_RECENT_TRANSACTION_IDS,
            encode_record(encode_height(waiting - moved)),
            db=meta,
        )
        txn.delete(schema.META_INDEX_MERGE_THROUGH, db=meta)
        txn.delete(schema.META_INDEX_MERGE_SLICE, db=meta)
        self._merge_slices = None
        return through

    def _merge_slice(
        self, through: int, merged: list[tuple[int, list[bytes]]], slice_number: int
    ) -> list[tuple[bytes, int, int]]:
        """One slice's (id, height, index) triples of the move through `through`, whose
        blocks are `merged`: split by slice once per move (taken at its first commit, or made
        at the first after a restart), not filtered again at each of its commits."""
        if self._merge_slices is None or self._merge_slices[0] != through:
            self._merge_slices = (through, _SliceSplit.of(merged).slices)
        return self._merge_slices[1][slice_number]

    def _take_next_split(
        self, merged: list[tuple[int, list[bytes]]]
    ) -> list[list[tuple[bytes, int, int]]]:
        """The split by slice of a move that starts now (its blocks `merged`, the last one
        being committed): the one made as its blocks committed if it holds exactly them, else
        made here. The next move's split starts empty, after this move's blocks."""
        *waiting, (height, transaction_ids) = merged
        with self._recent_ids_lock:
            made, self._next_split = self._next_split, _SliceSplit(after=height)
        if (
            made is None
            or made.heights != [block_height for block_height, _ in waiting]
            or len(made.slices) != TRANSACTION_INDEX_MERGE_SLICES
        ):
            made = _SliceSplit.of(waiting)
        made.add(height, transaction_ids)
        return made.slices

    def _remember_recent(self, height: int, transaction_ids: list[bytes]) -> None:
        """Adds one block's waiting ids to the decoded copy, if the block is newer than every
        block there (so that the copy stays a run of consecutive blocks); the caller holds no
        lock."""
        with self._recent_ids_lock:
            self._remember_recent_locked(height, transaction_ids)

    def _remember_recent_locked(self, height: int, transaction_ids: list[bytes]) -> None:
        known = self._recent_ids
        if height <= self._recent_floor or (known and height <= next(reversed(known))):
            return  # already kept, or older than the run (a stale reader's, kept by it alone)
        known[height] = transaction_ids
        if self._next_split is not None:
            self._next_split.add(height, transaction_ids)
        # One C-level update for the block: its ids' packed positions are consecutive.
        first = _packed_position(height, 0)
        self._recent_positions.update(
            zip(transaction_ids, range(first, first + len(transaction_ids)), strict=True)
        )

    def _recent(self, txn: _Txn) -> _RecentView:
        """The blocks whose ids wait in recent_transaction_ids as this transaction sees them,
        and the (height, index) of every waiting id: records are decoded once and kept.

        The positions may also hold ids of blocks committed after this transaction began (they
        are committed all the same), never an id that is not committed.

        The decoded copy (_recent_ids) always holds every block with transactions from its
        lowest height to its highest, in height order: commits add the next block, a move's
        last commit drops a prefix, and a reader adds only blocks newer than the copy's. So two
        reads (the lowest and highest waiting height) tell whether this transaction's blocks
        are all in it, which is the usual case; walking every waiting block's record is left to
        the first read after start, a reader between a commit and its _remember_recent, and a
        reader older than a move's last commit. py-lmdb lets go of the GIL on every cursor step,
        so a walk over a hundred waiting blocks cost each lookup a hundred waits under load."""
        cursor = txn.cursor(self._recent_transaction_ids)
        if not cursor.first():
            return _RecentView([], self._recent_positions)
        first = schema.decode_height(cursor.key())
        cursor.last()
        last = schema.decode_height(cursor.key())
        with self._recent_ids_lock:
            known = self._recent_ids
            if known and next(iter(known)) <= first and last <= next(reversed(known)):
                blocks = [(height, ids) for height, ids in known.items() if first <= height <= last]
                # _forget_recent replaces this dictionary rather than emptying it, so the
                # caller may keep using it after the lock is let go.
                return _RecentView(blocks, self._recent_positions)
            kept = dict(known)
        blocks = []
        decoded: list[tuple[int, list[bytes]]] = []
        cursor.first()
        for key in cursor.iternext(keys=True, values=False):
            height = schema.decode_height(key)
            ids = kept.get(height)
            if ids is None:
                payload = decode_record(DB_RECENT_TRANSACTION_IDS, key, cursor.value())
                ids = schema.decode_key_list(DB_RECENT_TRANSACTION_IDS, key, payload)
                decoded.append((height, ids))
            blocks.append((height, ids))
        with self._recent_ids_lock:
            for height, ids in decoded:
                self._remember_recent_locked(height, ids)
            # The blocks the copy does not hold now: older than it (this transaction began
            # before a move's last commit, and its index lacks them), kept for this read only.
            known = self._recent_ids
            older = {
                transaction_id: _packed_position(height, index)
                for height, ids in blocks
                if height not in known
                for index, transaction_id in enumerate(ids)
            }
            positions = self._recent_positions
        if older:
            return _RecentView(blocks, ChainMap(older, positions))
        return _RecentView(blocks, positions)

    def _forget_recent(self, through_height: int) -> None:
        """Drops the decoded ids of every block up to through_height (moved into the index).

        The positions are copied without them, not removed in place: a reader that took the
        old dictionary under an older snapshot (whose index lacks the moved ids) still finds
        them there."""
        with self._recent_ids_lock:
            known = self._recent_ids
            for height in [height for height in known if height <= through_height]:
                del known[height]
            self._recent_floor = max(self._recent_floor, through_height)
            # Packed positions order as (height, index): one comparison keeps the later blocks'.
            kept_from = _packed_position(through_height + 1, 0)
            self._recent_positions = {
                transaction_id: position
                for transaction_id, position in self._recent_positions.items()
                if position >= kept_from
            }

    def _write_state_changes(
        self, txn: _Txn, version: int, version_key: bytes, changes: Mapping[bytes, bytes | None]
    ) -> None:
        """Latest values, deletion marks and history entries of one version's changes.

        Each history entry records the version of the key's entry before it (read here, inside
        the write transaction, from state_latest or state_deleted), so that a read at an older
        version walks back from the newest entry; entries are keyed version first and so are
        appended, not scattered over the whole history (docs/storage.md, "State")."""
        get = txn.get
        state_latest = self._state_latest
        state_deleted = self._state_deleted
        any_deleted = txn.stat(state_deleted)["entries"] > 0
        previous_versions: dict[bytes, int] = {}
        cached_version = self._latest_values.previous_version
        for key in changes:
            cached = cached_version(key)
            if cached is not None:
                previous_versions[key] = cached
                continue
            stored = get(key, db=state_latest)
            if stored is not None:
                payload = decode_record(DB_STATE_LATEST, key, stored)
                previous_versions[key] = schema.decode_latest_value(DB_STATE_LATEST, key, payload)[
                    0
                ]
            elif any_deleted:
                stored = get(key, db=state_deleted)
                if stored is not None:
                    payload = decode_record(DB_STATE_DELETED, key, stored)
                    previous_versions[key] = schema.decode_version(DB_STATE_DELETED, key, payload)
        latest_items, latest_deletes, history_items = schema.encode_state_records(
            version, changes, previous_versions
        )
        if latest_items:
            txn.cursor(state_latest).putmulti(latest_items)
            if any_deleted:
                delete = txn.delete
                for key, _ in latest_items:
                    delete(key, db=state_deleted)
        if latest_deletes:
            delete = txn.delete
            deleted_record = encode_record(version_key)
            for key in latest_deletes:
                delete(key, db=state_latest)
            txn.cursor(state_deleted).putmulti([(key, deleted_record) for key in latest_deletes])
        self._put_new(txn, self._state_history, history_items, "state history", append=True)

    def _index_validator_set(self, txn: _Txn, height_key: bytes, validator_set: bytes) -> None:
        cursor = txn.cursor(self._validator_sets)
        if (
            cursor.last()
            and decode_record(DB_VALIDATOR_SETS, cursor.key(), cursor.value()) == validator_set
        ):
            return  # the set that signed the block before signs this one too
        self._put_new(
            txn,
            self._validator_sets,
            [(height_key, encode_record(validator_set))],
            "validator set",
            append=True,
        )

    @staticmethod
    def _put_new(
        txn: _Txn,
        db: Any,
        items: list[tuple[bytes, bytes]],
        kind: str,
        *,
        append: bool = False,
    ) -> None:
        """Inserts records that must not exist yet; aborts the whole commit if one does."""
        if not items:
            return
        consumed, added = txn.cursor(db).putmulti(items, overwrite=False, append=append)
        if added != consumed:
            raise InvariantError(
                f"{consumed - added} {kind} record(s) of this block already exist in the store"
            )

    @staticmethod
    def _check_block_record(record: BlockRecord) -> None:
        header = record.block.header
        height = header.height
        if height < 1:
            raise InvariantError(f"block height {height}: heights start at 1")
        _check_key("block hash", record.block_hash, schema.LMDB_KEY_BYTES_MAX)
        certificate = record.certificate
        if certificate.height != height or certificate.block_hash != record.block_hash:
            raise InvariantError(
                f"block {height}: the certificate is for height {certificate.height} and block "
                f"{certificate.block_hash.hex()}, not {record.block_hash.hex()}"
            )
        count = len(record.block.transactions)
        if not (
            count == len(record.results) == len(record.transaction_ids) == header.transaction_count
        ):
            raise InvariantError(
                f"block {height}: {count} transactions, {len(record.results)} results, "
                f"{len(record.transaction_ids)} transaction ids, header count "
                f"{header.transaction_count}"
            )
        if record.encoded_transactions and len(record.encoded_transactions) != count:
            raise InvariantError(
                f"block {height}: {count} transactions, "
                f"{len(record.encoded_transactions)} encoded transactions"
            )
        result_ids = [result.transaction_id for result in record.results]
        if result_ids != list(record.transaction_ids):
            index = next(
                index
                for index, (result_id, transaction_id) in enumerate(
                    zip(result_ids, record.transaction_ids, strict=True)
                )
                if result_id != transaction_id
            )
            raise InvariantError(
                f"block {height}: result {index} is for transaction {result_ids[index].hex()}, "
                f"expected {record.transaction_ids[index].hex()}"
            )
        _check_key_lengths("transaction id", result_ids, schema.TRANSACTION_ID_BYTES_MAX)
        update = record.tree_update
        if update.version != height:
            raise InvariantError(f"block {height}: tree update is for version {update.version}")
        if update.root_hash != header.state_root:
            raise InvariantError(
                f"block {height}: header state root {header.state_root.hex()} differs from the "
                f"tree root {update.root_hash.hex()}"
            )
        _check_key_lengths("state key", record.state_changes, schema.STATE_KEY_BYTES_MAX)
        _check_key_lengths("state node key", update.new_nodes, schema.LMDB_KEY_BYTES_MAX)
        _check_key_lengths(
            "stale state node key", update.stale_node_keys, schema.LMDB_KEY_BYTES_MAX
        )

    @staticmethod
    def _event_index_items(
        height: int, results: Sequence[TransactionResult]
    ) -> list[tuple[bytes, bytes]]:
        """One index record per topic (a contract, or a contract and event name) in this block,
        listing the positions of its events in order."""
        by_event: dict[tuple[str, str], list[int]] = {}
        by_contract: dict[str, list[int]] = {}
        for transaction_index, result in enumerate(results):
            events = result.events
            if not events:
                continue
            for event_index, event in enumerate(events):
                contract = event.contract
                pair = (contract, event.name)
                positions = by_event.get(pair)
                if positions is None:
                    positions = by_event[pair] = []
                positions += (transaction_index, event_index)
                positions = by_contract.get(contract)
                if positions is None:
                    positions = by_contract[contract] = []
                positions += (transaction_index, event_index)
        payloads = [
            (schema.event_index_key(schema.event_topic(*pair), height), positions)
            for pair, positions in by_event.items()
        ]
        payloads += [
            (schema.event_index_key(schema.contract_topic(contract), height), positions)
            for contract, positions in by_contract.items()
        ]
        payloads.sort()
        return encode_records(
            (key, schema.encode_event_positions(positions)) for key, positions in payloads
        )

    def _require_height(self, txn: _Txn, height: int) -> bytes:
        latest = self._latest_height(txn)
        if height < 1 or height > latest:
            raise NotFoundError(f"no block at height {height} (latest is {latest})")
        base = self._base_height(txn)
        if height < base:
            raise HeightUnavailableError(
                f"block {height} is not held here: this store starts at height {base} "
                "(restored from a snapshot)"
            )
        return encode_height(height)

    def _require_body(self, txn: _Txn, height: int) -> bytes:
        """The key of a block whose transactions and results this store holds."""
        key = self._require_height(txn, height)
        bodies_from = self._bodies_from_height(txn)
        if height < bodies_from:
            raise HeightUnavailableError(
                f"the transactions and results of block {height} are not held here: this "
                f"store holds them from height {bodies_from} (restored from a snapshot, or "
                "older blocks archived)"
            )
        return key

    def _get_required(self, txn: _Txn, db: Any, database: bytes, key: bytes) -> bytes:
        payload = self._get_payload(txn, db, database, key)
        if payload is None:
            raise schema.corrupt(database, key, "missing below the latest height")
        return payload

    def get_header(self, height: int) -> BlockHeader:
        with self._read() as txn:
            key = self._require_height(txn, height)
            payload = self._get_required(txn, self._headers, DB_HEADERS, key)
        return _parse(BlockHeader, DB_HEADERS, key, payload)

    def get_block_hash(self, height: int) -> bytes:
        with self._read() as txn:
            key = self._require_height(txn, height)
            return self._get_required(txn, self._block_hashes, DB_BLOCK_HASHES, key)

    def find_block_height(self, block_hash: bytes) -> int | None:
        """Height of the block with this hash, or None if no committed block has it."""
        if not block_hash or len(block_hash) > schema.LMDB_KEY_BYTES_MAX:
            return None
        with self._read() as txn:
            payload = self._get_payload(txn, self._heights_by_hash, DB_HEIGHTS_BY_HASH, block_hash)
        if payload is None:
            return None
        if len(payload) != 8:
            raise schema.corrupt(DB_HEIGHTS_BY_HASH, block_hash, "malformed height")
        return schema.decode_height(payload)

    def get_certificate(self, height: int) -> CommitCertificate:
        with self._read() as txn:
            key = self._require_height(txn, height)
            payload = self._get_required(txn, self._certificates, DB_CERTIFICATES, key)
        return _parse(CommitCertificate, DB_CERTIFICATES, key, payload)

    def replace_certificate(self, certificate: CommitCertificate) -> None:
        """Stores ``certificate`` in place of the committed block's at its height: the same
        height and block hash, other signatures (raft completes its certificates after
        commit). NotFoundError for a height not committed, InvariantError for a certificate of
        another block; synced before returning."""
        height = certificate.height
        encoded = encode_record(encode(certificate))
        with self._write() as txn:
            key = self._require_height(txn, height)
            block_hash = self._get_required(txn, self._block_hashes, DB_BLOCK_HASHES, key)
            if certificate.block_hash != block_hash:
                raise InvariantError(
                    f"the certificate of height {height} is for block "
                    f"{certificate.block_hash.hex()}, not the stored {block_hash.hex()}"
                )
            txn.put(key, encoded, db=self._certificates)

    def get_validator_set(self, height: int) -> tuple[int, ValidatorSet] | None:
        """(from height, set) of the validator set that signed the committed block at
        ``height``; None when the index starts above it (a store written before the index
        existed). NotFoundError for a height that is not committed."""
        with self._read() as txn:
            self._require_height(txn, height)
            cursor = txn.cursor(self._validator_sets)
            # The entry with the greatest from height <= height.
            above = cursor.set_range(encode_height(height + 1))
            found = cursor.prev() if above else cursor.last()
            if not found:
                return None
            key, value = cursor.key(), cursor.value()
        payload = decode_record(DB_VALIDATOR_SETS, key, value)
        return schema.decode_height(key), _parse(ValidatorSet, DB_VALIDATOR_SETS, key, payload)

    def _scan_block_entries(
        self, txn: _Txn, height: int, expected: int
    ) -> list[tuple[bytes, bytes]]:
        """(transaction, result) bytes of every transaction of a block, checked to be all there."""
        entries: list[tuple[bytes, bytes]] = []
        cursor = txn.cursor(self._block_entries)
        prefix = encode_height(height)
        if cursor.set_range(prefix):
            for key, value in cursor:
                if not key.startswith(prefix):
                    break
                if key != schema.encode_position(height, len(entries)):
                    raise schema.corrupt(DB_BLOCK_ENTRIES, key, f"expected index {len(entries)}")
                payload = decode_record(DB_BLOCK_ENTRIES, key, value)
                entries.append(schema.decode_block_entry(DB_BLOCK_ENTRIES, key, payload))
        if len(entries) != expected:
            raise schema.corrupt(
                DB_BLOCK_ENTRIES,
                schema.encode_position(height, len(entries)),
                f"block {height} has {len(entries)} of {expected} transactions",
            )
        return entries

    def _read_header(self, txn: _Txn, height: int) -> tuple[bytes, bytes, BlockHeader]:
        key = self._require_body(txn, height)
        header_bytes = self._get_required(txn, self._headers, DB_HEADERS, key)
        return key, header_bytes, _parse(BlockHeader, DB_HEADERS, key, header_bytes)

    def get_block(self, height: int) -> Block:
        with self._read() as txn:
            key, header_bytes, header = self._read_header(txn, height)
            entries = self._scan_block_entries(txn, height, header.transaction_count)
        # Assembling the encoded Block and parsing it once is far cheaper than adding thousands
        # of transactions one by one; the result is the same message.
        varint = schema.encode_varint
        parts = [_BLOCK_HEADER_TAG, varint(len(header_bytes)), header_bytes]
        for transaction, _ in entries:
            parts += (_BLOCK_TRANSACTION_TAG, varint(len(transaction)), transaction)
        return _parse(Block, DB_BLOCK_ENTRIES, key, b"".join(parts))

    def get_block_entries(self, height: int) -> list[tuple[bytes, bytes]]:
        """The (transaction, result) canonical bytes of every transaction of a block, as
        committed (archiving writes them out unparsed)."""
        with self._read() as txn:
            _, _, header = self._read_header(txn, height)
            return self._scan_block_entries(txn, height, header.transaction_count)

    def drop_bodies_below(self, height: int) -> int:
        """Deletes the transactions, results and event-index records of every block below
        ``height`` (once archived: storage.archive) and raises the bodies height to it, in one
        synced transaction; headers, certificates and the transaction index stay, so proofs
        against the headers and the refusal of replays still work. Returns how many entries
        were deleted. InvariantError for a height above the latest; nothing to do at or below
        the bodies height."""
        with self._write() as txn:
            latest = self._latest_height(txn)
            if height > latest:
                raise InvariantError(
                    f"cannot drop the bodies below {height}: the latest height is {latest}"
                )
            bodies_from = self._bodies_from_height(txn)
            if height <= bodies_from:
                return 0
            deleted = 0
            end = encode_height(height)
            cursor = txn.cursor(self._block_entries)
            if cursor.set_range(encode_height(bodies_from)):
                while cursor.key() and cursor.key() < end:
                    if not cursor.delete():
                        break
                    deleted += 1
            # The event index is keyed by topic first: every record is looked at once.
            cursor = txn.cursor(self._event_index)
            if cursor.first():
                while cursor.key():
                    key = cursor.key()
                    event_height = schema.decode_height(key[schema.TOPIC_DIGEST_BYTES :])
                    if event_height < height:
                        if not cursor.delete():
                            break
                    elif not cursor.next():
                        break
            txn.put(
                schema.META_BODIES_FROM_HEIGHT,
                encode_record(encode_height(height)),
                db=self._meta,
            )
        return deleted

    def get_results(self, height: int) -> list[TransactionResult]:
        with self._read() as txn:
            _, _, header = self._read_header(txn, height)
            entries = self._scan_block_entries(txn, height, header.transaction_count)
        return [
            _parse(
                TransactionResult, DB_BLOCK_ENTRIES, schema.encode_position(height, index), result
            )
            for index, (_, result) in enumerate(entries)
        ]

    def _get_block_entry(self, height: int, index: int) -> tuple[bytes, bytes, bytes]:
        with self._read() as txn:
            self._require_body(txn, height)
            if index < 0:
                raise NotFoundError(f"no transaction {index} in block {height}")
            key = schema.encode_position(height, index)
            payload = self._get_payload(txn, self._block_entries, DB_BLOCK_ENTRIES, key)
        if payload is None:
            raise NotFoundError(f"no transaction {index} in block {height}")
        return (key, *schema.decode_block_entry(DB_BLOCK_ENTRIES, key, payload))

    def get_transaction(self, height: int, index: int) -> Transaction:
        """One transaction of a committed block, by position (see find_transaction)."""
        key, transaction, _ = self._get_block_entry(height, index)
        return _parse(Transaction, DB_BLOCK_ENTRIES, key, transaction)

    def get_result(self, height: int, index: int) -> TransactionResult:
        """One transaction's result, by position (see find_transaction)."""
        key, _, result = self._get_block_entry(height, index)
        return _parse(TransactionResult, DB_BLOCK_ENTRIES, key, result)

    # -- transaction index ----------------------------------------------------------------------

    def find_transaction(self, transaction_id: bytes) -> tuple[int, int] | None:
        """(height, index) of a committed transaction, or None."""
        if not transaction_id or len(transaction_id) > schema.TRANSACTION_ID_BYTES_MAX:
            return None
        with self._read() as txn:
            position = self._recent(txn).positions.get(transaction_id)
            if position is not None:
                return _unpacked_position(position)
            found = self._index_lookup(txn)(transaction_id)
        if found is None:
            return None
        key, value = found
        payload = decode_record(DB_TRANSACTION_RUNS, key, value)
        if len(payload) != schema.POSITION_BYTES:
            raise schema.corrupt(DB_TRANSACTION_RUNS, key, "malformed position")
        return schema.decode_position(payload)

    def has_transactions(self, ids: Sequence[bytes]) -> list[bool]:
        """For each id, whether a committed block holds it; one read transaction for the batch."""
        key_max = schema.TRANSACTION_ID_BYTES_MAX
        with self._read() as txn:
            indexed = self._index_lookup(txn)
            recent = self._recent(txn).positions
            return [
                bool(transaction_id)
                and len(transaction_id) <= key_max
                and (transaction_id in recent or indexed(transaction_id) is not None)
                for transaction_id in ids
            ]

    # -- state ----------------------------------------------------------------------------------

    def get_state(self, key: bytes, version: int | None = None) -> bytes | None:
        """The value of key after block `version` (None: the latest), or None if absent.

        HeightUnavailableError for a version that is pruned or not committed yet.
        """
        storable = bool(key) and len(key) <= schema.STATE_KEY_BYTES_MAX
        with self._read() as txn:
            if version is None:
                if not storable:
                    return None
                return self._latest_value(txn, key)
            earliest = self._check_version(txn, version)
            if not storable:
                return None
            return self._value_at(txn, key, version, earliest)

    def _latest_value(self, txn: _Txn, key: bytes) -> bytes | None:
        stored = txn.get(key, db=self._state_latest)
        if stored is None:
            return None
        payload = decode_record(DB_STATE_LATEST, key, stored)
        return schema.decode_latest_value(DB_STATE_LATEST, key, payload)[1]

    def _value_at(self, txn: _Txn, key: bytes, version: int, earliest: int) -> bytes | None:
        """The value of key at a retained version: the latest entry when it is old enough,
        else a walk back along the history entries' previous versions (one point read per
        change of that key after `version`)."""
        try:
            stored = txn.get(key, db=self._state_latest)
            if stored is not None:
                payload = decode_record(DB_STATE_LATEST, key, stored)
                written = schema.decode_latest_value(DB_STATE_LATEST, key, payload)[0]
            else:
                stored = txn.get(key, db=self._state_deleted)
                if stored is None:
                    return None  # never written, or deleted before every retained version
                payload = decode_record(DB_STATE_DELETED, key, stored)
                written = schema.decode_version(DB_STATE_DELETED, key, payload)
        except StorageCorruptionError:
            # The history is a second copy: serve it, found the slow way.
            return self._value_at_by_scan(txn, key, version)
        history = self._state_history
        if written <= version:
            entry_key = schema.encode_history_key(written, key)
            stored = txn.get(entry_key, db=history)
            if stored is None:
                if written <= earliest:
                    return None  # a deletion at or before the oldest retained version, pruned
                raise schema.corrupt(DB_STATE_HISTORY, entry_key, "missing in the retained history")
            payload = decode_record(DB_STATE_HISTORY, entry_key, stored)
            return schema.decode_history_value(DB_STATE_HISTORY, entry_key, payload)[0]
        entry_version = written
        while True:
            # entry_version > version >= earliest: pruning never removes this entry.
            entry_key = schema.encode_history_key(entry_version, key)
            stored = txn.get(entry_key, db=history)
            if stored is None:
                raise schema.corrupt(DB_STATE_HISTORY, entry_key, "missing in the retained history")
            payload = decode_record(DB_STATE_HISTORY, entry_key, stored)
            previous = schema.decode_history_value(DB_STATE_HISTORY, entry_key, payload)[1]
            if previous is None:
                return None  # the key did not exist before this entry
            if previous >= entry_version:
                raise schema.corrupt(
                    DB_STATE_HISTORY, entry_key, f"points back to version {previous}"
                )
            entry_version = previous
            if entry_version <= version:
                break
        entry_key = schema.encode_history_key(entry_version, key)
        stored = txn.get(entry_key, db=history)
        if stored is None:
            if entry_version <= earliest:
                return None  # a deletion at or before the oldest retained version, pruned
            raise schema.corrupt(DB_STATE_HISTORY, entry_key, "missing in the retained history")
        payload = decode_record(DB_STATE_HISTORY, entry_key, stored)
        return schema.decode_history_value(DB_STATE_HISTORY, entry_key, payload)[0]

    def _value_at_by_scan(self, txn: _Txn, key: bytes, version: int) -> bytes | None:
        """The value of key at version from the history alone: its newest entry at or before
        version, found by walking the history back from there (every entry of every key, so
        used only when the key's latest or deleted record is damaged)."""
        cursor = txn.cursor(self._state_history)
        if cursor.set_range(schema.encode_history_key(version + 1, b"")):
            found = cursor.prev()
        else:
            found = cursor.last()
        while found:
            entry_key = cursor.key()
            if entry_key[schema.VERSION_BYTES :] == key:
                payload = decode_record(DB_STATE_HISTORY, entry_key, cursor.value())
                return schema.decode_history_value(DB_STATE_HISTORY, entry_key, payload)[0]
            found = cursor.prev()
        return None

    def iterate_state(self, version: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of the state at a retained ``version``, in key order, read in one
        read transaction held until the iteration ends: a consistent state however many blocks
        the node commits meanwhile (LMDB keeps the pages a reader sees). Snapshots use it; a long
        iteration keeps LMDB from reusing pages, so the caller consumes it without pausing.
        HeightUnavailableError for a version not retained."""
        with self._read() as txn:
            earliest = self._check_version(txn, version)
            latest_keys = txn.cursor(self._state_latest).iternext(keys=True, values=False)
            deleted_keys = txn.cursor(self._state_deleted).iternext(keys=True, values=False)
            # A key absent now may have had a value at `version` (deleted since): the two
            # sub-databases hold every key that has a value at some retained version.
            for key in heapq.merge(latest_keys, deleted_keys):
                value = self._value_at(txn, key, version, earliest)
                if value is not None:
                    yield key, value

    def _check_version(self, txn: _Txn, version: int) -> int:
        """HeightUnavailableError unless `version` is retained; returns the earliest retained."""
        if not self._has_genesis(txn):
            raise HeightUnavailableError(f"state version {version}: the store has no genesis")
        latest = self._latest_height(txn)
        if version > latest:
            raise HeightUnavailableError(
                f"state version {version} is not committed yet (latest is {latest})"
            )
        earliest = self._get_meta_int(txn, schema.META_EARLIEST_STATE_VERSION) or 0
        if version < earliest:
            raise HeightUnavailableError(
                f"state version {version} is pruned (earliest retained is {earliest})"
            )
        return earliest

    @contextmanager
    def latest_state(self) -> Iterator[LatestStateView]:
        """One consistent view of the latest state, in a single read transaction.

        Executing a block reads thousands of keys; opening a transaction for each read cost more
        than the reads themselves. Use the view only in the thread that opened it (LMDB rule).
        """
        with self._read() as txn:
            # None before a genesis or base is written: the cache's versions start there.
            version = self._get_meta_int(txn, schema.META_LATEST_HEIGHT)
            yield LatestStateView(txn, self._state_latest, self._latest_values, version)

    def range_state(
        self, prefix: bytes, start_after: bytes, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """Latest entries whose key starts with prefix and sorts after start_after, in key order,
        at most limit of them (an empty start_after starts at the prefix)."""
        with self.latest_state() as view:
            return view.range(prefix, start_after, limit)

    def get_state_node(self, node_key: bytes) -> bytes | None:
        if not node_key or len(node_key) > schema.LMDB_KEY_BYTES_MAX:
            return None
        with self._read() as txn:
            return self._get_payload(txn, self._state_nodes, DB_STATE_NODES, node_key)

    def prune_state(self, oldest_retained_version: int) -> int:
        """Deletes state history and tree nodes no version >= oldest_retained_version needs.

        For each key, the newest history entry at or before the oldest retained version is kept
        (it is that key's value there) unless it is a deletion; everything older goes, and so do
        tree nodes made stale at or before that version. Returns the number of history entries
        and tree nodes deleted. Work is split into bounded write transactions, each of which
        leaves a consistent store (earliest_state_version rises with each).
        """
        deleted = 0
        while True:
            with self._write() as txn:
                if not self._has_genesis(txn):
                    raise InvariantError("cannot prune a store without genesis")
                latest = self._latest_height(txn)
                if oldest_retained_version > latest:
                    raise InvariantError(
                        f"cannot prune to version {oldest_retained_version}: the latest is {latest}"
                    )
                earliest = self._get_meta_int(txn, schema.META_EARLIEST_STATE_VERSION) or 0
                if oldest_retained_version <= earliest:
                    return deleted
                deleted += self._prune_step(txn, oldest_retained_version)

    def _prune_step(self, txn: _Txn, target: int) -> int:
        """Prunes towards target, stopping early at a version boundary when the step is big."""
        writes_cursor = txn.cursor(self._state_writes)
        write_lists: list[tuple[bytes, list[bytes]]] = []
        budget = 0
        reached = target
        if writes_cursor.first():
            for version_key, value in writes_cursor:
                version = schema.decode_height(version_key)
                if version > target:
                    break
                payload = decode_record(DB_STATE_WRITES, version_key, value)
                written = schema.decode_key_list(DB_STATE_WRITES, version_key, payload)
                write_lists.append((version_key, written))
                budget += len(written)
                if budget >= PRUNE_RECORDS_PER_WRITE and version < target:
                    reached = version
                    break

        deleted = 0
        history = self._state_history
        state_deleted = self._state_deleted
        get = txn.get
        delete = txn.delete
        for version_key, written in write_lists:
            for key in written:
                entry_key = version_key + key
                stored = get(entry_key, db=history)
                if stored is None:
                    continue  # a deletion already pruned
                payload = decode_record(DB_STATE_HISTORY, entry_key, stored)
                entry_value, previous = schema.decode_history_value(
                    DB_STATE_HISTORY, entry_key, payload
                )
                # The entry before this one is superseded at a version <= target: no retained
                # version reads it.
                if previous is not None and delete(
                    schema.encode_history_key(previous, key), db=history
                ):
                    deleted += 1
                if entry_value is None:
                    # A deletion at or before the oldest retained version: reads find nothing
                    # there without it (Store._value_at).
                    delete(entry_key, db=history)
                    deleted += 1
                    marked = get(key, db=state_deleted)
                    if marked is not None and marked[schema.RECORD_HEADER_BYTES :] == version_key:
                        delete(key, db=state_deleted)
            delete(version_key, db=self._state_writes)

        stale_cursor = txn.cursor(self._stale_nodes)
        stale_versions: list[bytes] = []
        if stale_cursor.first():
            for version_key, value in stale_cursor:
                if schema.decode_height(version_key) > reached:
                    break
                payload = decode_record(DB_STALE_NODES, version_key, value)
                for node_key in schema.decode_key_list(DB_STALE_NODES, version_key, payload):
                    if txn.delete(node_key, db=self._state_nodes):
                        deleted += 1
                stale_versions.append(version_key)
        for version_key in stale_versions:
            txn.delete(version_key, db=self._stale_nodes)

        txn.put(
            schema.META_EARLIEST_STATE_VERSION,
            encode_record(encode_height(reached)),
            db=self._meta,
        )
        return deleted

    # -- events ---------------------------------------------------------------------------------

    def iterate_events(
        self, from_position: tuple[int, int, int], contract: str = "", name: str = ""
    ) -> Iterator[EventRecord]:
        """Committed events at or after from_position = (height, transaction_index, event_index),
        in position order. An empty contract or name matches every contract or name.

        Reads in short batches (never holding a read transaction while the caller works), up to
        the latest block committed when each batch is read.
        """
        height, transaction_index, event_index = from_position
        if min(from_position) < 0:
            raise InvariantError(f"event position {from_position} is negative")
        if contract:
            topic = schema.event_topic(contract, name) if name else schema.contract_topic(contract)
            return self._iterate_indexed_events(
                topic, (height, transaction_index, event_index), contract, name
            )
        return self._iterate_all_events((height, transaction_index, event_index), name)

    def _iterate_indexed_events(
        self, topic: bytes, position: tuple[int, int, int], contract: str, name: str
    ) -> Iterator[EventRecord]:
        resume = position
        while True:
            batch: list[EventRecord] = []
            with self._read() as txn:
                cursor = txn.cursor(self._event_index)
                if cursor.set_range(schema.event_index_key(topic, resume[0])):
                    for key, value in cursor:
                        if not key.startswith(topic):
                            break
                        height = schema.decode_height(key[schema.TOPIC_DIGEST_BYTES :])
                        payload = decode_record(DB_EVENT_INDEX, key, value)
                        positions = schema.decode_event_positions(DB_EVENT_INDEX, key, payload)
                        results: dict[int, TransactionResult] = {}
                        for transaction_index, event_index in positions:
                            if (height, transaction_index, event_index) < resume:
                                continue
                            result = results.get(transaction_index)
                            if result is None:
                                result = self._read_result(txn, height, transaction_index, key)
                                results[transaction_index] = result
                            if event_index >= len(result.events):
                                raise schema.corrupt(DB_EVENT_INDEX, key, "lists a missing event")
                            event = result.events[event_index]
                            if event.contract != contract or (name and event.name != name):
                                raise schema.corrupt(DB_EVENT_INDEX, key, "lists another event")
                            batch.append(
                                _event_record(height, transaction_index, event_index, result)
                            )
                            if len(batch) >= EVENTS_PER_READ:
                                break
                        if len(batch) >= EVENTS_PER_READ:
                            break
            yield from batch
            if len(batch) < EVENTS_PER_READ:
                return
            last = batch[-1]
            resume = (last.height, last.transaction_index, last.event_index + 1)

    def _read_result(
        self, txn: _Txn, height: int, transaction_index: int, index_key: bytes
    ) -> TransactionResult:
        key = schema.encode_position(height, transaction_index)
        payload = self._get_payload(txn, self._block_entries, DB_BLOCK_ENTRIES, key)
        if payload is None:
            raise schema.corrupt(
                DB_EVENT_INDEX, index_key, f"transaction {transaction_index} is missing"
            )
        _, result = schema.decode_block_entry(DB_BLOCK_ENTRIES, key, payload)
        return _parse(TransactionResult, DB_BLOCK_ENTRIES, key, result)

    def _iterate_all_events(
        self, position: tuple[int, int, int], name: str
    ) -> Iterator[EventRecord]:
        """Every event, by walking the results in order (no index needed)."""
        height, transaction_index, first_event = position
        start = schema.encode_position(height, transaction_index)
        while True:
            batch: list[EventRecord] = []
            scanned = 0
            last_key = b""
            with self._read() as txn:
                cursor = txn.cursor(self._block_entries)
                if cursor.set_range(start):
                    for key, value in cursor:
                        last_key = key
                        scanned += 1
                        payload = decode_record(DB_BLOCK_ENTRIES, key, value)
                        _, result_bytes = schema.decode_block_entry(DB_BLOCK_ENTRIES, key, payload)
                        result = _parse(TransactionResult, DB_BLOCK_ENTRIES, key, result_bytes)
                        events = result.events
                        if events:
                            result_height, result_index = schema.decode_position(key)
                            skip = first_event if key == start else 0
                            for event_index in range(skip, len(events)):
                                if name and events[event_index].name != name:
                                    continue
                                batch.append(
                                    _event_record(result_height, result_index, event_index, result)
                                )
                        if len(batch) >= EVENTS_PER_READ or scanned >= RESULTS_PER_READ:
                            break
            yield from batch
            if not last_key or (len(batch) < EVENTS_PER_READ and scanned < RESULTS_PER_READ):
                return
            # Resume at the result after the last one scanned (whole results per batch).
            start = last_key + b"\x00"
            first_event = 0

    # -- meta -----------------------------------------------------------------------------------

    def put_meta(self, name: str, value: bytes) -> None:
        """Durably stores a named blob (consensus state, checkpoints); synced before returning."""
        key = self._meta_key(name)
        with self._write() as txn:
            txn.put(key, encode_record(bytes(value)), db=self._meta)

    def put_meta_records(self, records: Sequence[tuple[str, bytes]]) -> None:
        """Durably stores several named blobs in one synced transaction, in order; an empty value
        deletes the record (consensus cores use this to truncate logs)."""
        keys = [(self._meta_key(name), value) for name, value in records]
        with self._write() as txn:
            for key, value in keys:
                if value:
                    txn.put(key, encode_record(bytes(value)), db=self._meta)
                else:
                    txn.delete(key, db=self._meta)

    def meta_records(self, prefix: str) -> dict[str, bytes]:
        """Every named blob whose name starts with prefix (a consensus core's records)."""
        start = schema.encode_meta_name(prefix)
        records: dict[str, bytes] = {}
        with self._read() as txn:
            cursor = txn.cursor(self._meta)
            if not cursor.set_range(start):
                return records
            for key, value in cursor:
                if not key.startswith(start):
                    break
                name = key[len(schema.META_NAMED_PREFIX) :].decode()
                records[name] = decode_record(DB_META, key, value)
        return records

    def get_meta(self, name: str) -> bytes | None:
        key = self._meta_key(name)
        with self._read() as txn:
            return self._get_payload(txn, self._meta, DB_META, key)

    @staticmethod
    def _meta_key(name: str) -> bytes:
        key = schema.encode_meta_name(name)
        if not name or len(key) > schema.META_NAME_BYTES_MAX:
            raise InvariantError(
                f"meta name {name!r}: must be 1 to "
                f"{schema.META_NAME_BYTES_MAX - len(schema.META_NAMED_PREFIX)} bytes"
            )
        return key

    # -- integrity ------------------------------------------------------------------------------

    def verify_integrity(self) -> int:
        """Checks every record's format version, checksum and structure, and that every block
        up to the latest height is complete (header, hash, certificate, all its transactions).
        Returns how many records were checked; raises StorageCorruptionError naming the bad
        records (the first few, and how many in all).

        Reads in bounded read transactions, so it can run while the node commits blocks: it
        checks completeness up to the latest height when it started.
        """
        report = self.scan_integrity()
        problems = report.problems
        if report.problem_count:
            shown = "; ".join(problems[:CORRUPT_RECORDS_REPORTED])
            more = report.problem_count - CORRUPT_RECORDS_REPORTED
            suffix = f"; and {more} more" if more > 0 else ""
            raise StorageCorruptionError(
                f"{report.problem_count} problem(s) in the store at {self._path}: {shown}{suffix}"
            )
        return report.records_checked

    def scan_integrity(self) -> IntegrityReport:
        """What verify_integrity checks, as a report instead of an error: how many records were
        checked and every problem found (the first INTEGRITY_PROBLEMS_KEPT_MAX named)."""
        with self._read() as txn:
            latest = self._latest_height(txn)
            has_genesis = self._has_genesis(txn)
            base = self._base_height(txn)
            bodies_from = self._bodies_from_height(txn)
        problems = _BoundedProblems()
        if latest and not has_genesis:
            problems.append(str(schema.corrupt(DB_META, schema.META_GENESIS, "missing")))
        blocks = _BlockCompleteness(latest, problems, base=base, bodies_from=bodies_from)
        checked = 0
        for database in ALL_DATABASES:
            checked += self._verify_database(database, problems, blocks)
        blocks.finish()
        return IntegrityReport(
            latest_height=latest,
            records_checked=checked,
            problems=problems.kept,
            problem_count=problems.total,
        )

    def highest_stored_heights(self) -> dict[str, int]:
        """The greatest height that each per-height sub-database holds (0: none), by name; the
        start-up check compares them with the latest height."""
        heights: dict[str, int] = {}
        with self._read() as txn:
            for database in (DB_HEADERS, DB_BLOCK_HASHES, DB_CERTIFICATES, DB_BLOCK_ENTRIES):
                cursor = txn.cursor(self._handles[database])
                key = cursor.key() if cursor.last() else b""
                height = schema.decode_height(key[: schema.HEIGHT_BYTES]) if key else 0
                heights[database.decode()] = height
        return heights

    def _verify_database(
        self, database: bytes, problems: _BoundedProblems, blocks: _BlockCompleteness
    ) -> int:
        db = self._handles[database]
        check = _RECORD_CHECKS.get(database)
        observe = blocks.observer(database)
        checked = 0
        resume: bytes | None = None
        while True:
            count = 0
            with self._read() as txn:
                cursor = txn.cursor(db)
                positioned = cursor.set_range(resume) if resume is not None else cursor.first()
                if not positioned:
                    return checked
                for key, value in cursor:
                    count += 1
                    payload: bytes | None
                    try:
                        payload = decode_record(database, key, value)
                        if check is not None:
                            check(database, key, payload)
                    except StorageCorruptionError as error:
                        problems.append(str(error))
                        payload = None
                    if observe is not None:
                        observe(key, payload)
                    if count >= RECORDS_PER_VERIFY_READ:
                        resume = key + b"\x00"
                        break
            checked += count
            if count < RECORDS_PER_VERIFY_READ:
                return checked


class _AnyId:
    """The filter of a store that keeps none: "maybe" for every id, so each run is read."""

    def __contains__(self, transaction_id: object) -> bool:
        return True


_ANY_ID = _AnyId()


def _run_filter(transaction_ids: list[bytes]) -> Bloom:
    """A Bloom filter over one run's ids, made whole before readers can probe it."""
    bloom = Bloom(max(1, len(transaction_ids)), FALSE_POSITIVE_RATE)
    bloom.update(transaction_ids)
    return bloom


class _SliceSplit:
    """The (id, height, index) triples of consecutive blocks' ids, split by slice of a move
    (TRANSACTION_INDEX_MERGE_SLICES as it is when the split is made): slice n holds the ids
    whose first byte is from 256 * n // slices up to (not including) 256 * (n + 1) // slices,
    in id order, so that each slice's run keys follow the one before's and every write appends.
    A block at or below `after`, or not above the last one added, is left out: a reader may add
    a block the writer already gave to a move, or one twice."""

    __slots__ = ("_slice_of_first_byte", "after", "heights", "slices")

    def __init__(self, after: int) -> None:
        slices = TRANSACTION_INDEX_MERGE_SLICES
        self.after = after
        self.heights: list[int] = []
        self.slices: list[list[tuple[bytes, int, int]]] = [[] for _ in range(slices)]
        self._slice_of_first_byte = [
            number
            for number in range(slices)
            for _ in range(256 * number // slices, 256 * (number + 1) // slices)
        ]

    @classmethod
    def of(cls, blocks: list[tuple[int, list[bytes]]]) -> _SliceSplit:
        """The split of `blocks` ((height, ids), in height order), made at once."""
        split = cls(after=0)
        for height, transaction_ids in blocks:
            split.add(height, transaction_ids)
        return split

    def add(self, height: int, transaction_ids: list[bytes]) -> None:
        if height <= self.after or (self.heights and height <= self.heights[-1]):
            return
        self.heights.append(height)
        slices, slice_of_first_byte = self.slices, self._slice_of_first_byte
        for index, transaction_id in enumerate(transaction_ids):
            slices[slice_of_first_byte[transaction_id[0]]].append((transaction_id, height, index))


def _packed_position(height: int, index: int) -> int:
    """A waiting id's (height, index) as one integer, as the decoded positions keep it: a tuple
    and its two integers took some 50 bytes more an id, each a tuple the collector tracks, and
    consecutive integers let a block's ids be added in one update."""
    return height << 32 | index


def _unpacked_position(packed: int) -> tuple[int, int]:
    return packed >> 32, packed & 0xFFFFFFFF


class _RecentView(NamedTuple):
    """What _recent returns: the waiting blocks' (height, ids) in height order, and every
    waiting id's position (_packed_position)."""

    blocks: list[tuple[int, list[bytes]]]
    positions: Mapping[bytes, int]


@dataclass(frozen=True)
class IntegrityReport:
    """The outcome of Store.scan_integrity."""

    latest_height: int
    records_checked: int
    # Human names of the problems found, the first INTEGRITY_PROBLEMS_KEPT_MAX of them.
    problems: list[str]
    problem_count: int


class _BoundedProblems:
    """Keeps the first INTEGRITY_PROBLEMS_KEPT_MAX problems and counts them all, so that
    scanning a badly damaged store cannot use memory without bound."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.total = 0

    def append(self, problem: str) -> None:
        self.total += 1
        if len(self.kept) < INTEGRITY_PROBLEMS_KEPT_MAX:
            self.kept.append(problem)


class LatestStateView:
    """The latest state inside one read transaction (see Store.latest_state)."""

    def __init__(
        self, txn: _Txn, database: Any, latest_values: LatestValues, version: int | None
    ) -> None:
        self._txn = txn
        self._database = database
        self._latest_values = latest_values
        # The newest version this transaction's snapshot holds (None: no state yet).
        self._version = version

    def get(self, key: bytes) -> bytes | None:
        if not key or len(key) > schema.STATE_KEY_BYTES_MAX:
            return None
        version = self._version
        if version is None:
            return self._read(key)[1]
        cached = self._latest_values.value_at(key, version)
        if cached is not None:
            return cached[1]
        entry = self._read(key)
        self._latest_values.learned(version, key, entry)
        return entry[1]

    def _read(self, key: bytes) -> tuple[int, bytes | None]:
        """The key's (version, value) in this snapshot; absent: (the snapshot's version,
        None), which is all a reader at that version or later needs to know."""
        value = self._txn.get(key, db=self._database)
        if value is None:
            return (-1 if self._version is None else self._version), None
        payload = decode_record(DB_STATE_LATEST, key, value)
        return schema.decode_latest_value(DB_STATE_LATEST, key, payload)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        entries: list[tuple[bytes, bytes]] = []
        if limit <= 0 or len(prefix) > schema.STATE_KEY_BYTES_MAX:
            return entries
        seek = max(prefix, start_after[: schema.LMDB_KEY_BYTES_MAX])
        cursor = self._txn.cursor(self._database)
        if not (cursor.set_range(seek) if seek else cursor.first()):
            return entries
        for key, value in cursor:
            if not key.startswith(prefix):
                break
            if key <= start_after:
                continue
            payload = decode_record(DB_STATE_LATEST, key, value)
            entries.append((key, schema.decode_latest_value(DB_STATE_LATEST, key, payload)[1]))
            if len(entries) >= limit:
                break
        return entries


class _BlockCompleteness:
    """Streams over the per-height sub-databases (in key order, so in height order) and checks
    that heights first..latest are all there (first: 1, or the base height of a store restored
    from a snapshot) and that each block from bodies_from has all its transactions, keeping
    one 4-byte counter per height."""

    def __init__(
        self, latest: int, problems: _BoundedProblems, *, base: int = 0, bodies_from: int = 1
    ) -> None:
        self._latest = latest
        self._problems = problems
        self._first = max(base, 1)
        self._bodies_from = max(bodies_from, self._first)
        self._next_height: dict[bytes, int] = {}
        # Transaction counts of heights first, first + 1, ... from their headers.
        self._transaction_counts = array("I")
        self._entry_height = 0
        self._entry_count = 0

    def observer(self, database: bytes) -> Callable[[bytes, bytes | None], None] | None:
        if database in (DB_HEADERS, DB_BLOCK_HASHES, DB_CERTIFICATES):
            self._next_height[database] = self._first

            def observe_height(key: bytes, payload: bytes | None) -> None:
                self._observe_height(database, key, payload)

            return observe_height
        if database == DB_BLOCK_ENTRIES:
            return self._observe_entry
        return None

    def _problem(self, database: bytes, key: bytes, problem: str) -> None:
        self._problems.append(str(schema.corrupt(database, key, problem)))

    def _observe_height(self, database: bytes, key: bytes, payload: bytes | None) -> None:
        height = schema.decode_height(key) if len(key) == schema.HEIGHT_BYTES else -1
        if height > self._latest:
            return  # committed after the check began
        expected = self._next_height[database]
        if height != expected:
            self._problem(database, key, f"found where height {expected} was expected")
            return
        self._next_height[database] = expected + 1
        if database == DB_HEADERS:
            count = 0
            if payload is not None:
                count = _parse(BlockHeader, database, key, payload).transaction_count
            self._transaction_counts.append(count)

    def _observe_entry(self, key: bytes, payload: bytes | None) -> None:
        if len(key) != schema.POSITION_BYTES:
            self._problem(DB_BLOCK_ENTRIES, key, "malformed key")
            return
        height, index = schema.decode_position(key)
        if height > self._latest:
            return
        if height < self._bodies_from:
            self._problem(
                DB_BLOCK_ENTRIES, key, f"held below the bodies height {self._bodies_from}"
            )
            return
        if height != self._entry_height:
            self._close_entries(height)
        if index != self._entry_count:
            self._problem(
                DB_BLOCK_ENTRIES,
                key,
                f"transactions {self._entry_count} to {index - 1} of block {height} are missing",
            )
        self._entry_count = index + 1

    def _close_entries(self, next_height: int) -> None:
        """Checks the block just scanned, and that the blocks skipped on the way are empty."""
        counts = self._transaction_counts
        first = self._first
        for height in range(max(self._entry_height, self._bodies_from), next_height):
            found = self._entry_count if height == self._entry_height else 0
            if height - first < len(counts) and found != counts[height - first]:
                self._problem(
                    DB_BLOCK_ENTRIES,
                    schema.encode_position(height, found),
                    f"block {height} has {found} of its {counts[height - first]} transactions",
                )
        self._entry_height = next_height
        self._entry_count = 0

    def finish(self) -> None:
        self._close_entries(self._latest + 1)
        for database, next_height in self._next_height.items():
            if next_height != self._latest + 1:
                self._problem(
                    database,
                    encode_height(next_height),
                    f"missing: the latest height is {self._latest}",
                )


def _event_record(
    height: int, transaction_index: int, event_index: int, result: TransactionResult
) -> EventRecord:
    record = EventRecord(
        height=height,
        transaction_index=transaction_index,
        event_index=event_index,
        transaction_id=result.transaction_id,
    )
    record.event.CopyFrom(result.events[event_index])
    return record


def _check_message(message_type: type[Message]) -> Callable[[bytes, bytes, bytes], None]:
    def check(database: bytes, key: bytes, payload: bytes) -> None:
        _parse(message_type, database, key, payload)

    return check


def _check_key_list(database: bytes, key: bytes, payload: bytes) -> None:
    schema.decode_key_list(database, key, payload)


def _check_history(database: bytes, key: bytes, payload: bytes) -> None:
    version, _ = schema.decode_history_key(key)
    previous = schema.decode_history_value(database, key, payload)[1]
    if previous is not None and previous >= version:
        raise schema.corrupt(database, key, f"points back to version {previous}")


def _check_latest(database: bytes, key: bytes, payload: bytes) -> None:
    schema.decode_latest_value(database, key, payload)


def _check_deleted(database: bytes, key: bytes, payload: bytes) -> None:
    schema.decode_version(database, key, payload)


def _check_block_entry(database: bytes, key: bytes, payload: bytes) -> None:
    transaction, result = schema.decode_block_entry(database, key, payload)
    _parse(Transaction, database, key, transaction)
    _parse(TransactionResult, database, key, result)


def _check_event_positions(database: bytes, key: bytes, payload: bytes) -> None:
    schema.decode_event_positions(database, key, payload)


def _check_run_entry(database: bytes, key: bytes, payload: bytes) -> None:
    if len(key) <= schema.HEIGHT_BYTES:
        raise schema.corrupt(database, key, "a run's key without a transaction id")
    if len(payload) != schema.POSITION_BYTES:
        raise schema.corrupt(database, key, "malformed position")
    run = schema.decode_height(key[: schema.HEIGHT_BYTES])
    height = schema.decode_position(payload)[0]
    if height > run and run != 0:
        # A run holds the ids of blocks at or below its height; run 0, what a schema v2 store's
        # index held when it was migrated (Store._migrate), may hold any.
        raise schema.corrupt(database, key, f"a transaction at height {height} in run {run}")


_RECORD_CHECKS: dict[bytes, Callable[[bytes, bytes, bytes], None]] = {
    DB_HEADERS: _check_message(BlockHeader),
    DB_CERTIFICATES: _check_message(CommitCertificate),
    DB_BLOCK_ENTRIES: _check_block_entry,
    DB_EVENT_INDEX: _check_event_positions,
    DB_STATE_HISTORY: _check_history,
    DB_STATE_LATEST: _check_latest,
    DB_STATE_DELETED: _check_deleted,
    DB_STATE_WRITES: _check_key_list,
    DB_STALE_NODES: _check_key_list,
    DB_TRANSACTION_RUNS: _check_run_entry,
    DB_RECENT_TRANSACTION_IDS: _check_key_list,
    DB_VALIDATOR_SETS: _check_message(ValidatorSet),
}
