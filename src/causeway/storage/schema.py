"""The on-disk layout of a Causeway store: every sub-database, key and value format, in one place.

Nothing outside this module builds or parses a storage key or a stored value. docs/storage.md
describes the same layout for operators; change both together, and bump SCHEMA_VERSION for any
change an older build could misread. Every sub-database name carries the schema version that
introduced its layout, so a store of a newer schema (a name this build does not know) is refused
by name, and a migration (Store._migrate) replaces only the sub-databases whose layout changed.

Value format, for every value in every sub-database::

    +----------------+---------------------------+-----------------+
    | format version | CRC32 of payload (4, big) | payload         |
    | 1 byte (= 1)   | zlib.crc32                | record-specific |
    +----------------+---------------------------+-----------------+

The frame is the one checksum of a value: a payload carries none of its own. Named values in the
meta sub-database (``named/`` + name, written with ``Store.put_meta``/``put_meta_records``) hold
the records of other parts of the node; the consensus cores' records there are canonical
protobuf messages of proto/causeway/consensus/v1 (``tbft/state`` TbftStateRecord, ``tbft/lock``
TbftLockRecord, ``raft/meta`` RaftMetaRecord, ``raft/log/<index>`` RaftEntry), so a flipped bit in
one is caught by this frame and a malformed one by its decoder.

Integers in keys are big-endian and unsigned so that byte order is numeric order.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from causeway.errors import StorageCorruptionError

SCHEMA_VERSION: Final = 3
# Stores of this version are migrated when opened writable (Store._migrate); older ones are
# refused.
SCHEMA_VERSION_MIGRATED_FROM: Final = 2
RECORD_FORMAT_VERSION: Final = 1
RECORD_HEADER_BYTES: Final = 5

# LMDB refuses keys above 511 bytes (its compile-time default) and empty keys. The history key
# puts 8 bytes (the version) before a state key; the margin keeps room for that.
STATE_KEY_BYTES_MAX: Final = 480
META_NAME_BYTES_MAX: Final = 200
# Node keys are used as LMDB keys unchanged.
LMDB_KEY_BYTES_MAX: Final = 511

HEIGHT_BYTES: Final = 8
# A transaction id follows a run's height (8 bytes) in transaction_runs' keys.
TRANSACTION_ID_BYTES_MAX: Final = LMDB_KEY_BYTES_MAX - HEIGHT_BYTES
POSITION_BYTES: Final = 12  # height (8) + transaction index (4)
TOPIC_DIGEST_BYTES: Final = 16

# First payload byte of a state history entry: bit flags. HISTORY_HAS_VALUE: a value follows
# (clear: the key was deleted at that version); HISTORY_HAS_PREVIOUS: the version of the key's
# previous entry (u64) comes first. Any other bit set is corruption.
HISTORY_HAS_VALUE: Final = 0x01
HISTORY_HAS_PREVIOUS: Final = 0x02
VERSION_BYTES: Final = 8


def _name(short: str, introduced: int = 2) -> bytes:
    """A sub-database's name: the schema version that introduced its layout, and what it holds."""
    return f"causeway/v{introduced}/{short}".encode()


# Sub-database names. Each holds one kind of record; see docs/storage.md for the table.
DB_META: Final = _name("meta")
DB_HEADERS: Final = _name("headers")
DB_BLOCK_HASHES: Final = _name("block_hashes")
DB_HEIGHTS_BY_HASH: Final = _name("heights_by_hash")
DB_CERTIFICATES: Final = _name("certificates")
DB_BLOCK_ENTRIES: Final = _name("block_entries")
# (run height u64, transaction id) -> position (height u64, index u32): the committed
# transactions' ids, in runs. Ids wait per block in recent_transaction_ids; a move writes the
# waiting ids as one run, sorted, under the last height it moves (above every key written
# before it, so every page it writes is appended), and no run is rewritten (docs/storage.md).
DB_TRANSACTION_RUNS: Final = _name("transaction_runs", introduced=3)
# height -> key list of the ids of that block's transactions, in block order: the transactions
# not yet moved into a run of transaction_runs. A block appends one record here instead of
# scattering its ids over an index; they move in sorted runs (docs/storage.md, "Blocks").
DB_RECENT_TRANSACTION_IDS: Final = _name("recent_transaction_ids")
DB_EVENT_INDEX: Final = _name("event_index")
DB_STATE_LATEST: Final = _name("state_latest")
# state key -> the version that deleted it, for keys whose latest change is a deletion: where
# a historical read of a deleted key starts its walk back (state_latest holds the others').
DB_STATE_DELETED: Final = _name("state_deleted")
DB_STATE_HISTORY: Final = _name("state_history")
DB_STATE_WRITES: Final = _name("state_writes")
DB_STATE_NODES: Final = _name("state_nodes")
DB_STALE_NODES: Final = _name("stale_nodes")
# from height -> encoded ValidatorSet in effect from that height on, written with the block at
# which a set first signs: every committed height's set stays answerable (GetValidatorSet),
# unlike the validator schedule in state, which prunes old sets.
DB_VALIDATOR_SETS: Final = _name("validator_sets")

# Schema v2's id -> position index, rewritten at each move: migrated into transaction_runs as
# one run under height 0 and dropped (Store._migrate).
DB_TRANSACTION_INDEX_V2: Final = _name("transaction_index")

ALL_DATABASES: Final = (
    DB_META,
    DB_HEADERS,
    DB_BLOCK_HASHES,
    DB_HEIGHTS_BY_HASH,
    DB_CERTIFICATES,
    DB_BLOCK_ENTRIES,
    DB_TRANSACTION_RUNS,
    DB_RECENT_TRANSACTION_IDS,
    DB_EVENT_INDEX,
    DB_STATE_LATEST,
    DB_STATE_DELETED,
    DB_STATE_HISTORY,
    DB_STATE_WRITES,
    DB_STATE_NODES,
    DB_STALE_NODES,
    DB_VALIDATOR_SETS,
)

# Keys of the meta sub-database. Store-owned keys and put_meta names live in separate prefixes so
# that no caller-chosen name can overwrite the latest height.
META_SCHEMA_VERSION: Final = b"store/schema_version"
META_GENESIS: Final = b"store/genesis"
META_LATEST_HEIGHT: Final = b"store/latest_height"
META_EARLIEST_STATE_VERSION: Final = b"store/earliest_state_version"
# How many transaction ids recent_transaction_ids holds (u64): when to move them.
META_RECENT_TRANSACTION_IDS: Final = b"store/recent_transaction_ids"
# A move of waiting ids into a run of transaction_runs in progress (Store._index_transaction_ids):
# the last height whose ids it moves (u64: the run's height) and the next slice of the id space
# to move (u64); both absent when none is.
META_INDEX_MERGE_THROUGH: Final = b"store/index_merge_through"
META_INDEX_MERGE_SLICE: Final = b"store/index_merge_slice"
# A store restored from a snapshot holds no block below its base height (u64; absent: 0, the
# store starts at genesis) and no block body (transactions, results, events) below its bodies
# height (u64; absent: 1): the base block's header and certificate are held, its body is not;
# archiving moves old bodies out and raises the bodies height.
META_BASE_HEIGHT: Final = b"store/base_height"
META_BODIES_FROM_HEIGHT: Final = b"store/bodies_from_height"
META_NAMED_PREFIX: Final = b"named/"

_RECORD_HEADER = struct.Struct(">BI")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_pack_header = _RECORD_HEADER.pack
_crc32 = zlib.crc32


# ---------------------------------------------------------------------------------------------
# Values


def encode_record(payload: bytes) -> bytes:
    return _pack_header(RECORD_FORMAT_VERSION, _crc32(payload)) + payload


def encode_records(items: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Frames many (key, payload) pairs; the hot path of a block commit, kept to one loop."""
    pack = _pack_header
    crc = _crc32
    version = RECORD_FORMAT_VERSION
    return [(key, pack(version, crc(payload)) + payload) for key, payload in items]


def decode_record(database: bytes, key: bytes, value: bytes) -> bytes:
    """Returns the payload, or raises StorageCorruptionError naming the record."""
    if len(value) < RECORD_HEADER_BYTES:
        raise StorageCorruptionError(
            f"corrupt record {describe_key(database, key)}: {len(value)} bytes, shorter than the "
            "record header"
        )
    version, checksum = _RECORD_HEADER.unpack_from(value)
    if version != RECORD_FORMAT_VERSION:
        raise StorageCorruptionError(
            f"corrupt record {describe_key(database, key)}: unknown format version {version}"
        )
    payload = value[RECORD_HEADER_BYTES:]
    if _crc32(payload) != checksum:
        raise StorageCorruptionError(
            f"corrupt record {describe_key(database, key)}: checksum mismatch"
        )
    return payload


def corrupt(database: bytes, key: bytes, problem: str) -> StorageCorruptionError:
    return StorageCorruptionError(f"corrupt record {describe_key(database, key)}: {problem}")


def describe_key(database: bytes, key: bytes) -> str:
    """A human name for a record, used in every corruption report."""
    name = database.decode(errors="replace")
    try:
        if (
            database
            in (
                DB_HEADERS,
                DB_BLOCK_HASHES,
                DB_CERTIFICATES,
                DB_VALIDATOR_SETS,
                DB_RECENT_TRANSACTION_IDS,
            )
            and len(key) == 8
        ):
            return f"{name}[height={decode_height(key)}]"
        if database == DB_TRANSACTION_RUNS and len(key) > HEIGHT_BYTES:
            run, transaction_id = decode_run_key(key)
            return f"{name}[run={run}, id={transaction_id.hex()}]"
        if database == DB_BLOCK_ENTRIES and len(key) == POSITION_BYTES:
            height, index = decode_position(key)
            return f"{name}[height={height}, index={index}]"
        if database in (DB_STATE_WRITES, DB_STALE_NODES) and len(key) == 8:
            return f"{name}[version={decode_height(key)}]"
        if database == DB_STATE_HISTORY:
            version, state_key = decode_history_key(key)
            return f"{name}[version={version}, key={state_key.hex()}]"
        if database == DB_EVENT_INDEX and len(key) == TOPIC_DIGEST_BYTES + HEIGHT_BYTES:
            height = decode_height(key[TOPIC_DIGEST_BYTES:])
            return f"{name}[topic={key[:TOPIC_DIGEST_BYTES].hex()}, height={height}]"
        if database == DB_META:
            return f"{name}[{key.decode(errors='replace')}]"
    except StorageCorruptionError:
        pass
    return f"{name}[{key.hex()}]"


# ---------------------------------------------------------------------------------------------
# Keys


def encode_height(height: int) -> bytes:
    """Block heights and state versions: 8 bytes big-endian."""
    return height.to_bytes(8, "big")


def decode_height(key: bytes) -> int:
    return int.from_bytes(key, "big")


def encode_position(height: int, transaction_index: int) -> bytes:
    return height.to_bytes(8, "big") + transaction_index.to_bytes(4, "big")


def decode_position(data: bytes) -> tuple[int, int]:
    if len(data) != POSITION_BYTES:
        raise StorageCorruptionError(f"transaction position of {len(data)} bytes")
    return int.from_bytes(data[:8], "big"), int.from_bytes(data[8:], "big")


_EVENT_POSITION = struct.Struct(">II")


def encode_event_positions(positions: list[int]) -> bytes:
    """Payload of an event index record: (transaction index, event index) pairs, flattened."""
    return struct.pack(f">{len(positions)}I", *positions)


def decode_event_positions(database: bytes, key: bytes, payload: bytes) -> list[tuple[int, int]]:
    if len(payload) % _EVENT_POSITION.size:
        raise corrupt(database, key, f"event position list of {len(payload)} bytes")
    return list(_EVENT_POSITION.iter_unpack(payload))


def event_index_key(topic: bytes, height: int) -> bytes:
    return topic + height.to_bytes(8, "big")


def encode_block_entry(transaction: bytes, result: bytes) -> bytes:
    """One transaction of a block and its result: u32 transaction length, transaction, result."""
    return len(transaction).to_bytes(4, "big") + transaction + result


def decode_block_entry(database: bytes, key: bytes, payload: bytes) -> tuple[bytes, bytes]:
    if len(payload) < 4:
        raise corrupt(database, key, "truncated block entry")
    end = 4 + int.from_bytes(payload[:4], "big")
    if end > len(payload):
        raise corrupt(database, key, "truncated block entry")
    return payload[4:end], payload[end:]


def contract_topic(contract: str) -> bytes:
    """Index prefix of every event of one contract."""
    return hashlib.blake2b(
        b"contract\x00" + contract.encode(), digest_size=TOPIC_DIGEST_BYTES
    ).digest()


def event_topic(contract: str, name: str) -> bytes:
    """Index prefix of the events of one contract with one name.

    A fixed-size digest keeps keys short whatever the names' lengths; the reader re-checks the
    event's contract and name, so a collision could never return a wrong event.
    """
    encoded_contract = contract.encode()
    return hashlib.blake2b(
        b"event\x00" + len(encoded_contract).to_bytes(4, "big") + encoded_contract + name.encode(),
        digest_size=TOPIC_DIGEST_BYTES,
    ).digest()


def encode_history_key(version: int, state_key: bytes) -> bytes:
    """Version first: a block's history entries are appended after every earlier block's, so a
    commit writes a few new pages instead of dirtying a page per changed key (docs/storage.md)."""
    return version.to_bytes(8, "big") + state_key


def decode_history_key(key: bytes) -> tuple[int, bytes]:
    if len(key) <= VERSION_BYTES:
        raise StorageCorruptionError(f"malformed state history key {key.hex()}")
    return int.from_bytes(key[:VERSION_BYTES], "big"), key[VERSION_BYTES:]


def encode_history_value(value: bytes | None, previous: int | None) -> bytes:
    """Payload of a history entry: flags, the previous entry's version if any, the value."""
    flags = (0 if value is None else HISTORY_HAS_VALUE) | (
        0 if previous is None else HISTORY_HAS_PREVIOUS
    )
    head = _FLAGS[flags] + (b"" if previous is None else previous.to_bytes(8, "big"))
    return head if value is None else head + value


def decode_history_value(
    database: bytes, key: bytes, payload: bytes
) -> tuple[bytes | None, int | None]:
    """(value, or None for a deletion; version of the key's previous entry, or None)."""
    if not payload or payload[0] & ~(HISTORY_HAS_VALUE | HISTORY_HAS_PREVIOUS):
        raise corrupt(database, key, "unknown state history flags")
    flags = payload[0]
    offset = 1
    previous = None
    if flags & HISTORY_HAS_PREVIOUS:
        offset += VERSION_BYTES
        if len(payload) < offset:
            raise corrupt(database, key, "truncated state history entry")
        previous = int.from_bytes(payload[1:offset], "big")
    if flags & HISTORY_HAS_VALUE:
        return payload[offset:], previous
    if len(payload) != offset:
        raise corrupt(database, key, "a deletion carries a value")
    return None, previous


def decode_latest_value(database: bytes, key: bytes, payload: bytes) -> tuple[int, bytes]:
    """(version that wrote it, value) of a state_latest payload."""
    if len(payload) < VERSION_BYTES:
        raise corrupt(database, key, "truncated latest state entry")
    return int.from_bytes(payload[:VERSION_BYTES], "big"), payload[VERSION_BYTES:]


def decode_version(database: bytes, key: bytes, payload: bytes) -> int:
    if len(payload) != VERSION_BYTES:
        raise corrupt(database, key, f"{len(payload)} bytes, expected a version of 8")
    return int.from_bytes(payload, "big")


def encode_meta_name(name: str) -> bytes:
    return META_NAMED_PREFIX + name.encode()


# ---------------------------------------------------------------------------------------------
# Payloads of the bookkeeping records


def encode_key_list(keys: Sequence[bytes]) -> bytes:
    """A list of keys (state keys written at a version, or stale tree nodes):
    u32 count, then each key's length as u16, then the keys back to back."""
    return struct.pack(f">I{len(keys)}H", len(keys), *map(len, keys)) + b"".join(keys)


def decode_key_list(database: bytes, key: bytes, payload: bytes) -> list[bytes]:
    if len(payload) < 4:
        raise corrupt(database, key, "truncated key list")
    count = int.from_bytes(payload[:4], "big")
    offset = 4 + 2 * count
    if offset > len(payload):
        raise corrupt(database, key, "truncated key list")
    keys: list[bytes] = []
    for length in struct.unpack_from(f">{count}H", payload, 4):
        keys.append(payload[offset : offset + length])
        offset += length
    if offset != len(payload):
        raise corrupt(database, key, "key list lengths do not match its size")
    return keys


# ---------------------------------------------------------------------------------------------
# Whole-block encoders: the hot path of a commit, one tight loop per record kind.


def encode_block_entry_records(
    height: int, transactions: Sequence[bytes], results: Sequence[bytes]
) -> list[tuple[bytes, bytes]]:
    """(position key, record) for each transaction of a block; see encode_block_entry."""
    prefix = encode_height(height)
    pack_u32 = _U32.pack
    pack = _pack_header
    crc = _crc32
    version = RECORD_FORMAT_VERSION
    items: list[tuple[bytes, bytes]] = []
    append = items.append
    for index, (transaction, result) in enumerate(zip(transactions, results, strict=True)):
        payload = pack_u32(len(transaction)) + transaction + result
        append((prefix + pack_u32(index), pack(version, crc(payload)) + payload))
    return items


_FLAGS = [bytes((flags,)) for flags in range(4)]


def encode_state_records(
    version: int,
    changes: Mapping[bytes, bytes | None],
    previous_versions: Mapping[bytes, int],
) -> tuple[list[tuple[bytes, bytes]], list[bytes], list[tuple[bytes, bytes]]]:
    """Latest-value records to put, latest keys to delete, and history records for a version.

    ``previous_versions`` holds, for each changed key that has an entry already, the version of
    that entry (state_latest's or state_deleted's). A latest payload is the version then the
    value; a history payload is encode_history_value's. History records come out in key order
    (version first, then the state key), ready to append."""
    version_bytes = encode_height(version)
    pack = _pack_header
    crc = _crc32
    record_version = RECORD_FORMAT_VERSION
    flags = _FLAGS
    latest: list[tuple[bytes, bytes]] = []
    deletes: list[bytes] = []
    history: list[tuple[bytes, bytes]] = []
    for key in sorted(changes):
        value = changes[key]
        previous = previous_versions.get(key)
        if previous is None:
            head = flags[0 if value is None else HISTORY_HAS_VALUE]
        else:
            head = flags[
                HISTORY_HAS_PREVIOUS if value is None else HISTORY_HAS_PREVIOUS | HISTORY_HAS_VALUE
            ] + previous.to_bytes(8, "big")
        if value is None:
            deletes.append(key)
            history.append((version_bytes + key, pack(record_version, crc(head)) + head))
        else:
            latest_payload = version_bytes + value
            latest.append((key, pack(record_version, crc(latest_payload)) + latest_payload))
            payload = head + value
            history.append((version_bytes + key, pack(record_version, crc(payload)) + payload))
    return latest, deletes, history


def encode_run_key(run: int, transaction_id: bytes) -> bytes:
    return run.to_bytes(8, "big") + transaction_id


def decode_run_key(key: bytes) -> tuple[int, bytes]:
    """(run height, transaction id) of a transaction_runs key (at least 9 bytes)."""
    return int.from_bytes(key[:HEIGHT_BYTES], "big"), key[HEIGHT_BYTES:]


def encode_transaction_run_records(
    run: int, positions: Iterable[tuple[bytes, int, int]]
) -> list[tuple[bytes, bytes]]:
    """(run key, record of its position) for (id, height, index) triples, in key order: what a
    move (or a part of one) of waiting ids into the run at height `run` writes."""
    prefix = run.to_bytes(8, "big")
    return encode_records(
        (prefix + transaction_id, encode_position(height, index))
        for transaction_id, height, index in sorted(positions)
    )


def encode_varint(value: int) -> bytes:
    """Protobuf base-128 varint, for assembling a Block from stored transactions."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
