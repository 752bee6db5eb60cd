"""The records a tbft core persists, and their one byte form.

Two records, each overwritten in place:

``tbft/state`` (small, written whenever it changes, at most once per call into the core)::

    version u8 = 1
    height u64, round u32, step u8                      where the core is
    locked_round i64, locked_hash (u16 length + bytes)  -1 and empty when not locked
    valid_round i64, valid_hash (u16 length + bytes)    -1 and empty when no valid block
    signed_height u64, signed_round u32, signed_step u8 the last signed (height, round, step);
                                                        step 0 means nothing was ever signed
    count u8, count x (u32 length + bytes)              the encoded ConsensusMessages signed in
                                                        that height and round, oldest first; a
                                                        proposal only while it is the last one
    crc32 u32                                           over everything before it

``tbft/lock`` (written only when the locked or valid block or the valid round changes)::

    version u8 = 1
    count u8, count x (u32 length + encoded Block)      the locked and the valid block
    count u16, count x (u32 length + encoded Vote)      the prevotes of the polka for the valid
                                                        block in the valid round
    crc32 u32

All integers are big-endian. The lock record is kept apart because blocks can be large and the
state record is rewritten for every signature. The polka is kept because a restarted validator
must still be able to prove its valid block to the others (and to itself): without it nobody
could prevote a re-proposal of that block (line 28 of Algorithm 1) once every holder of the
polka had restarted.
"""

from __future__ import annotations

import struct
import zlib
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

_STATE_HEAD = struct.Struct(">BQIB")
_ROUND = struct.Struct(">q")
_SIGNED = struct.Struct(">QIB")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_RECORD_BYTES_MAX = 1 << 31

MessageT = TypeVar("MessageT", bound=Message)


@dataclass(frozen=True, slots=True)
class PersistedState:
    height: int
    round: int
    step: int
    locked_round: int
    locked_hash: bytes
    valid_round: int
    valid_hash: bytes
    signed_height: int
    signed_round: int
    signed_step: int
    signed_messages: tuple[consensus_pb2.ConsensusMessage, ...]


def encode_state(state: PersistedState) -> bytes:
    messages: list[bytes] = []
    for message in state.signed_messages:
        encoded = encode(message)
        messages.append(_U32.pack(len(encoded)))
        messages.append(encoded)
    body = b"".join(
        [
            _STATE_HEAD.pack(RECORD_VERSION, state.height, state.round, state.step),
            _ROUND.pack(state.locked_round),
            _U16.pack(len(state.locked_hash)),
            state.locked_hash,
            _ROUND.pack(state.valid_round),
            _U16.pack(len(state.valid_hash)),
            state.valid_hash,
            _SIGNED.pack(state.signed_height, state.signed_round, state.signed_step),
            _U8.pack(len(state.signed_messages)),
            *messages,
        ]
    )
    return body + _U32.pack(zlib.crc32(body))


def decode_state(data: bytes) -> PersistedState:
    reader = _Reader(_checked_body(STATE_RECORD, data))
    version, height, round_number, step = reader.unpack(_STATE_HEAD)
    if version != RECORD_VERSION:
        raise StorageCorruptionError(f"{STATE_RECORD} has unknown version {version}")
    (locked_round,) = reader.unpack(_ROUND)
    locked_hash = reader.take(reader.unpack(_U16)[0])
    (valid_round,) = reader.unpack(_ROUND)
    valid_hash = reader.take(reader.unpack(_U16)[0])
    signed_height, signed_round, signed_step = reader.unpack(_SIGNED)
    (count,) = reader.unpack(_U8)
    messages = tuple(
        _decode_record_message(
            consensus_pb2.ConsensusMessage, reader.take(reader.unpack(_U32)[0]), STATE_RECORD
        )
        for _ in range(count)
    )
    reader.finish()
    return PersistedState(
        height=height,
        round=round_number,
        step=step,
        locked_round=locked_round,
        locked_hash=locked_hash,
        valid_round=valid_round,
        valid_hash=valid_hash,
        signed_height=signed_height,
        signed_round=signed_round,
        signed_step=signed_step,
        signed_messages=messages,
    )


@dataclass(frozen=True, slots=True)
class PersistedLock:
    blocks: tuple[types_pb2.Block, ...]
    polka: tuple[consensus_pb2.Vote, ...]


def encode_lock(lock: PersistedLock) -> bytes:
    parts = [_U8.pack(RECORD_VERSION), _U8.pack(len(lock.blocks))]
    for block in lock.blocks:
        encoded = encode(block)
        parts.append(_U32.pack(len(encoded)))
        parts.append(encoded)
    parts.append(_U16.pack(len(lock.polka)))
    for vote in lock.polka:
        encoded = encode(vote)
        parts.append(_U32.pack(len(encoded)))
        parts.append(encoded)
    body = b"".join(parts)
    return body + _U32.pack(zlib.crc32(body))


def decode_lock(data: bytes) -> PersistedLock:
    reader = _Reader(_checked_body(LOCK_RECORD, data))
    (version,) = reader.unpack(_U8)
    if version != RECORD_VERSION:
        raise StorageCorruptionError(f"{LOCK_RECORD} has unknown version {version}")
    (block_count,) = reader.unpack(_U8)
    blocks = tuple(
        _decode_record_message(types_pb2.Block, reader.take(reader.unpack(_U32)[0]), LOCK_RECORD)
        for _ in range(block_count)
    )
    (vote_count,) = reader.unpack(_U16)
    polka = tuple(
        _decode_record_message(consensus_pb2.Vote, reader.take(reader.unpack(_U32)[0]), LOCK_RECORD)
        for _ in range(vote_count)
    )
    reader.finish()
    return PersistedLock(blocks=blocks, polka=polka)


def _checked_body(name: str, data: bytes) -> bytes:
    if len(data) < _U32.size:
        raise StorageCorruptionError(f"{name} is truncated")
    body, (checksum,) = data[: -_U32.size], _U32.unpack(data[-_U32.size :])
    if zlib.crc32(body) != checksum:
        raise StorageCorruptionError(f"{name} fails its checksum")
    return body


def _decode_record_message(message_type: type[MessageT], data: bytes, name: str) -> MessageT:
    try:
        return decode(message_type, data, bytes_max=_RECORD_BYTES_MAX)
    except CausewayError as error:
        raise StorageCorruptionError(f"{name} holds a bad message: {error.message}") from None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def take(self, length: int) -> bytes:
        end = self._offset + length
        if end > len(self._data):
            raise StorageCorruptionError("a tbft record is truncated")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def unpack(self, layout: struct.Struct) -> tuple[int, ...]:
        values: tuple[int, ...] = layout.unpack(self.take(layout.size))
        return values

    def finish(self) -> None:
        if self._offset != len(self._data):
            raise StorageCorruptionError("a tbft record has trailing bytes")
