"""Double-sign protection, restore after a crash, and the persisted record formats."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest
from tbft_harness import (
    CHAIN_ID,
    FOUR,
    HASH_B,
    HASH_C,
    TIMEOUTS,
    B,
    C,
    HmacSigner,
    HmacVerifier,
    InlineTbftCore,
    ToyApplication,
    make_block,
    precommit,
    prevote,
    signed_proposal,
)

from causeway.consensus import Output
from causeway.consensus.tbft import LOCK_RECORD, STATE_RECORD, TbftCore, TbftStep
from causeway.consensus.tbft.records import (
    PersistedLock,
    PersistedState,
    decode_lock,
    decode_state,
    encode_lock,
    encode_state,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import StorageCorruptionError
from causeway.types import encode


class Disk:
    """The records as the runtime keeps them: the latest bytes per name."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def keep(self, output: Output) -> Output:
        for name, data in output.persist:
            self.records[name] = data
        return output


def new_core(
    records: Mapping[str, bytes] | None = None, *, height: int = 1, me: str = "v4"
) -> tuple[TbftCore, HmacSigner]:
    signer = HmacSigner(me)
    core = InlineTbftCore(
        CHAIN_ID, FOUR, signer, HmacVerifier(), ToyApplication(), height, TIMEOUTS, records
    )
    return core, signer


def votes_of(output: Output) -> list[consensus_pb2.Vote]:
    return [message.vote for _, message in output.send if message.HasField("vote")]


def step(core: TbftCore, disk: Disk, *messages: consensus_pb2.ConsensusMessage) -> Output:
    output = Output()
    for message in messages:
        body = message.WhichOneof("body")
        sender = message.proposal.proposer if body == "proposal" else message.vote.validator
        output.extend(disk.keep(core.step(sender, message, 0)))
    return output


def test_signed_vote_is_persisted_in_the_output_that_sends_it() -> None:
    core, _ = new_core()
    disk = Disk()
    disk.keep(core.start(0))
    output = step(core, disk, signed_proposal("v1", 1, 0, B))
    [(destination, message)] = output.send
    assert destination is None
    names = [name for name, _ in output.persist]
    assert names == [STATE_RECORD]
    state = decode_state(output.persist[0][1])
    assert (state.signed_height, state.signed_round, state.signed_step) == (1, 0, 2)
    assert state.signed_messages == (message,)


def test_restored_core_resends_the_identical_vote_and_signs_nothing_new() -> None:
    core, _ = new_core()
    disk = Disk()
    disk.keep(core.start(0))
    sent = step(core, disk, signed_proposal("v1", 1, 0, B)).send[0][1]

    restored, signer = new_core(disk.records)
    output = disk.keep(restored.start(10))
    assert [message for _, message in output.send] == [sent]
    assert output.send[0][1].SerializeToString() == sent.SerializeToString()
    assert signer.calls == 0
    assert (restored.round, restored.current_step) == (0, TbftStep.PREVOTE)
    # The same proposal again changes nothing: the prevote step of round 0 is done.
    assert step(restored, disk, signed_proposal("v1", 1, 0, B)).send == []
    assert signer.calls == 0


def test_guard_refuses_a_conflicting_signature_for_a_signed_step() -> None:
    core, _ = new_core()
    disk = Disk()
    disk.keep(core.start(0))
    sent = step(core, disk, signed_proposal("v1", 1, 0, B)).send[0][1]
    # A state record that says "still proposing" but also "prevoted B in round 0" (as after a
    # crash between two writes of an older layout): the guard alone must prevent a second vote.
    state = decode_state(disk.records[STATE_RECORD])
    rewound = PersistedState(
        height=state.height,
        round=state.round,
        step=int(TbftStep.PROPOSE),
        locked_round=state.locked_round,
        locked_hash=state.locked_hash,
        valid_round=state.valid_round,
        valid_hash=state.valid_hash,
        signed_height=state.signed_height,
        signed_round=state.signed_round,
        signed_step=state.signed_step,
        signed_messages=state.signed_messages,
    )
    records = {STATE_RECORD: encode_state(rewound)}

    restored, signer = new_core(records)
    restored.start(0)
    output = restored.step("v1", signed_proposal("v1", 1, 0, C), 0)
    assert output.send == []
    assert signer.calls == 0
    assert restored.statistics["sign_refused"] == 1

    again, signer = new_core(records)
    again_output = again.start(0)
    assert [message for _, message in again_output.send] == [sent]
    assert again.step("v1", signed_proposal("v1", 1, 0, B), 0).send == [(None, sent)]
    assert signer.calls == 0
    assert again.statistics["resent_identical"] == 2


def test_lock_survives_a_restart() -> None:
    core, _ = new_core()
    disk = Disk()
    disk.keep(core.start(0))
    step(core, disk, signed_proposal("v1", 1, 0, B))
    step(core, disk, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    assert core.locked_round == 0
    assert set(disk.records) == {STATE_RECORD, LOCK_RECORD}

    restored, signer = new_core(disk.records)
    output = disk.keep(restored.start(0))
    assert [message.vote.type for _, message in output.send] == [
        consensus_pb2.VOTE_TYPE_PREVOTE,
        consensus_pb2.VOTE_TYPE_PRECOMMIT,
    ]
    assert (restored.locked_round, restored.locked_block_hash) == (0, HASH_B)
    assert (restored.valid_round, restored.valid_block_hash) == (0, HASH_B)
    step(restored, disk, precommit("v1", 1, 0, b""), precommit("v2", 1, 0, b""))
    disk.keep(restored.tick(restored.next_deadline_ms() or 0))
    assert restored.round == 1
    output = step(restored, disk, signed_proposal("v2", 1, 1, C))
    assert [message.vote.block_hash for _, message in output.send] == [b""]

    # Proposer of round 3 after another restart: re-proposes the valid block from the records.
    third, signer = new_core(disk.records)
    disk.keep(third.start(0))
    assert third.proposer(1, 3) == "v4"
    output = step(third, disk, prevote("v1", 1, 3, b""), prevote("v2", 1, 3, b""))
    proposals = [message.proposal for _, message in output.send if message.HasField("proposal")]
    assert len(proposals) == 1
    assert proposals[0].block == B
    assert proposals[0].valid_round_plus_one == 1
    # The polka of round 0 was persisted with the lock: the proposer prevotes its re-proposal.
    assert [vote.block_hash for vote in votes_of(output)] == [HASH_B]
    assert signer.calls == 2


def test_state_for_a_later_height_keeps_the_core_from_signing_below_it() -> None:
    core, _ = new_core(height=3)
    disk = Disk()
    disk.keep(core.start(0))
    block = make_block(3, "X")
    assert core.proposer(3, 0) == "v3"
    step(core, disk, signed_proposal("v3", 3, 0, block))
    records = dict(disk.records)

    # The runtime (wrongly) believes height 1 is next: nothing may be signed until height 3.
    behind, signer = new_core(records, height=1)
    output = behind.start(0)
    assert output.send == [] and output.persist == []
    output = behind.step("v1", signed_proposal("v1", 1, 0, B), 0)
    output.extend(behind.step("v2", precommit("v2", 1, 0, HASH_B), 0))
    output.extend(behind.step("v3", precommit("v3", 1, 0, HASH_B), 0))
    output.extend(behind.step("v1", precommit("v1", 1, 0, HASH_B), 0))
    assert output.send == [] and output.persist == []
    assert [commit.height for commit in output.commits] == [1]
    assert signer.calls == 0
    assert behind.statistics["sign_refused"] >= 1
    # At height 3 the restored state applies: the prevote of round 0 is re-sent, not re-signed.
    output = behind.advance_to(3, 0)
    assert [message.vote.height for _, message in output.send] == [3]
    assert signer.calls == 0


def test_records_round_trip_and_corruption_is_detected() -> None:
    state = PersistedState(
        height=7,
        round=2,
        step=3,
        locked_round=1,
        locked_hash=HASH_B,
        valid_round=2,
        valid_hash=HASH_C,
        signed_height=7,
        signed_round=2,
        signed_step=3,
        signed_messages=(prevote("v1", 7, 2, HASH_C), precommit("v1", 7, 2, HASH_C)),
    )
    encoded = encode_state(state)
    assert decode_state(encoded) == state
    assert encode_state(decode_state(encoded)) == encoded
    lock = PersistedLock(blocks=(B, C), polka=(prevote("v2", 7, 2, HASH_C).vote,))
    blocks = encode_lock(lock)
    assert decode_lock(blocks) == lock
    # A flipped bit inside a value is storage's frame to catch (tests/storage); here every byte
    # string that is not the canonical encoding of a well-formed record is refused.
    for bad, reason in (
        (encoded[:-1], "not a valid record"),
        (encoded + b"\x68\x01", "not canonically encoded"),  # an unknown field 13
        (b"", "unknown version 0"),
    ):
        with pytest.raises(StorageCorruptionError, match=reason):
            decode_state(bad)
    with pytest.raises(StorageCorruptionError, match="not a valid record"):
        decode_lock(blocks[:-2])
    with pytest.raises(StorageCorruptionError, match="not a valid record"):
        new_core({STATE_RECORD: encoded[:-1]})


def state_with(**changes: object) -> PersistedState:
    fields: dict[str, object] = {
        "height": 7,
        "round": 2,
        "step": 3,
        "locked_round": 1,
        "locked_hash": HASH_B,
        "valid_round": 2,
        "valid_hash": HASH_C,
        "signed_height": 7,
        "signed_round": 2,
        "signed_step": 3,
        "signed_messages": (),
    }
    fields.update(changes)
    return PersistedState(**fields)  # type: ignore[arg-type]


def test_a_decoded_lock_and_state_cannot_be_changed() -> None:
    """Both records decode to frozen values: what the core restored stays what was stored."""
    lock = decode_lock(encode_lock(PersistedLock(blocks=(B,), polka=())))
    with pytest.raises(dataclasses.FrozenInstanceError):
        lock.blocks = ()  # type: ignore[misc]
    state = decode_state(encode_state(state_with()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.height = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"step": 0}, "holds step 0"),
        ({"step": 4}, "holds step 4"),
        ({"signed_step": 4}, "holds signed step 4"),
        ({"locked_hash": b""}, "locked round without its block"),
        ({"valid_round": -1}, "valid round without its block"),
        ({"locked_round": 3}, "locked round 3 above round 2"),
        ({"valid_round": 3}, "valid round 3 above round 2"),
    ],
)
def test_state_records_no_core_writes_are_refused(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(StorageCorruptionError, match=reason):
        decode_state(encode_state(state_with(**changes)))


def test_state_record_bounds_are_accepted_at_the_limit() -> None:
    for changes in ({"step": 1}, {"signed_step": 3}, {"signed_step": 0}, {"locked_round": 2}):
        state = state_with(**changes)
        assert decode_state(encode_state(state)) == state
    unlocked = state_with(locked_round=-1, locked_hash=b"", valid_round=-1, valid_hash=b"")
    assert decode_state(encode_state(unlocked)) == unlocked


def test_lock_record_holds_at_most_two_blocks() -> None:
    two = PersistedLock(blocks=(B, C), polka=())
    assert decode_lock(encode_lock(two)) == two
    with pytest.raises(StorageCorruptionError, match="3 blocks, above 2"):
        decode_lock(encode_lock(PersistedLock(blocks=(B, C, B), polka=())))
    with pytest.raises(StorageCorruptionError, match="unknown version 2"):
        decode_lock(encode(consensus_pb2.TbftLockRecord(version=2)))


def test_nothing_is_persisted_when_nothing_changed() -> None:
    core, _ = new_core()
    disk = Disk()
    assert [name for name, _ in disk.keep(core.start(0)).persist] == [STATE_RECORD]
    assert core.step("v2", prevote("v2", 1, 0, b""), 0).persist == []
    assert core.tick(1).persist == []
