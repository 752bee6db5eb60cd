"""The records a tbft core persists, and their one byte form.

Two records, each overwritten in place, each a protobuf message of
proto/causeway/consensus/v1/consensus.proto encoded canonically (`causeway.types.encode`):

* ``tbft/state`` (`TbftStateRecord`): where the core is (height, round, step), its lock and valid
  block (by hash), the last signed (height, round, step) and the messages signed in that height
  and round. Small, and rewritten whenever it changes (at most once per call into the core).
* ``tbft/lock`` (`TbftLockRecord`): the locked and the valid block and the prevotes of the polka
  for the valid block in the valid round. Written only when the locked or valid block or the valid
  round changes, and kept apart because blocks can be large.

A record carries no checksum of its own: storage frames and checksums every value once
(docs/storage.md), so a flipped bit is caught there; decoding here refuses bytes that are not the
canonical encoding of a well-formed record. The polka is kept because a restarted validator must
still be able to prove its valid block to the others (and to itself): without it nobody could
prevote a re-proposal of that block (line 28 of Algorithm 1) once every holder of the polka had
restarted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message

from causeway.consensus.v1 import consensus_pb2
from causeway.errors import CausewayError, StorageCorruptionError
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

STATE_RECORD = "tbft/state"
LOCK_RECORD = "tbft/lock"
RECORD_VERSION = 1

# Steps a state record may hold: 1 propose, 2 prevote, 3 precommit (TbftStep); the signed step
# may also be 0, nothing signed yet.
STEP_MAX = 3
# Blocks in a lock record: the locked and the valid block.
LOCK_BLOCKS_MAX = 2
_RECORD_BYTES_MAX = 1 << 31

MessageT = TypeVar("MessageT", bound=Message)


@dataclass(frozen=True, slots=True)
class PersistedState:
    height: int
    round: int
    step: int
    # -1 and empty when not locked (or when there is no valid block).
    locked_round: int
    locked_hash: bytes
    valid_round: int
    valid_hash: bytes
    signed_height: int
    signed_round: int
    signed_step: int
    signed_messages: tuple[consensus_pb2.ConsensusMessage, ...]


def encode_state(state: PersistedState) -> bytes:
    return encode(
        consensus_pb2.TbftStateRecord(
            version=RECORD_VERSION,
            height=state.height,
            round=state.round,
            step=state.step,
            locked_round_plus_one=state.locked_round + 1,
            locked_hash=state.locked_hash,
            valid_round_plus_one=state.valid_round + 1,
            valid_hash=state.valid_hash,
            signed_height=state.signed_height,
            signed_round=state.signed_round,
            signed_step=state.signed_step,
            signed_messages=state.signed_messages,
        )
    )


def decode_state(data: bytes) -> PersistedState:
    record = _decode_record(consensus_pb2.TbftStateRecord, data, STATE_RECORD)
    _check_version(STATE_RECORD, record.version)
    if not 1 <= record.step <= STEP_MAX:
        raise StorageCorruptionError(f"{STATE_RECORD} holds step {record.step}")
    if record.signed_step > STEP_MAX:
        raise StorageCorruptionError(f"{STATE_RECORD} holds signed step {record.signed_step}")
    _check_round_and_hash("locked", record.locked_round_plus_one, record.locked_hash, record.round)
    _check_round_and_hash("valid", record.valid_round_plus_one, record.valid_hash, record.round)
    return PersistedState(
        height=record.height,
        round=record.round,
        step=record.step,
        locked_round=record.locked_round_plus_one - 1,
        locked_hash=record.locked_hash,
        valid_round=record.valid_round_plus_one - 1,
        valid_hash=record.valid_hash,
        signed_height=record.signed_height,
        signed_round=record.signed_round,
        signed_step=record.signed_step,
        signed_messages=tuple(record.signed_messages),
    )


@dataclass(frozen=True, slots=True)
class PersistedLock:
    blocks: tuple[types_pb2.Block, ...]
    polka: tuple[consensus_pb2.Vote, ...]


def encode_lock(lock: PersistedLock) -> bytes:
    return encode(
        consensus_pb2.TbftLockRecord(version=RECORD_VERSION, blocks=lock.blocks, polka=lock.polka)
    )


def decode_lock(data: bytes) -> PersistedLock:
    record = _decode_record(consensus_pb2.TbftLockRecord, data, LOCK_RECORD)
    _check_version(LOCK_RECORD, record.version)
    if len(record.blocks) > LOCK_BLOCKS_MAX:
        raise StorageCorruptionError(
            f"{LOCK_RECORD} holds {len(record.blocks)} blocks, above {LOCK_BLOCKS_MAX}"
        )
    return PersistedLock(blocks=tuple(record.blocks), polka=tuple(record.polka))


def _decode_record(message_type: type[MessageT], data: bytes, name: str) -> MessageT:
    try:
        return decode(message_type, data, bytes_max=_RECORD_BYTES_MAX)
    except CausewayError as error:
        raise StorageCorruptionError(f"{name} is not a valid record: {error.message}") from None


def _check_version(name: str, version: int) -> None:
    if version != RECORD_VERSION:
        raise StorageCorruptionError(f"{name} has unknown version {version}")


def _check_round_and_hash(what: str, round_plus_one: int, block_hash: bytes, round: int) -> None:
    # A lock or valid block is set with its round and cleared with it; one without the other, or
    # a round above the current one, is no state the core ever wrote.
    if (round_plus_one == 0) != (not block_hash):
        raise StorageCorruptionError(f"{STATE_RECORD} holds a {what} round without its block")
    if round_plus_one > round + 1:
        raise StorageCorruptionError(
            f"{STATE_RECORD} holds {what} round {round_plus_one - 1} above round {round}"
        )
