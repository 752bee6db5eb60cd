"""The tbft records: a rule a cosmic-ray sample over consensus/tbft/records.py showed no test
holding (docs/testing.md). A decoded lock or state is a value no one can change afterwards. (The
name leaves out "records" so that scripts/mutation.sh keeps testing records.py against the whole
tests/consensus/tbft folder.)"""

from __future__ import annotations

import dataclasses

import pytest

from causeway.consensus.tbft.records import (
    PersistedLock,
    PersistedState,
    decode_lock,
    decode_state,
    encode_lock,
    encode_state,
)

HASH = bytes(range(32))


def test_a_decoded_lock_and_state_cannot_be_changed() -> None:
    """Both records decode to frozen values: what the core restored stays what was stored."""
    lock = decode_lock(encode_lock(PersistedLock(blocks=(), polka=())))
    with pytest.raises(dataclasses.FrozenInstanceError):
        lock.blocks = ()  # type: ignore[misc]
    state = decode_state(
        encode_state(
            PersistedState(
                height=4,
                round=1,
                step=2,
                locked_round=0,
                locked_hash=HASH,
                valid_round=1,
                valid_hash=HASH,
                signed_height=4,
                signed_round=1,
                signed_step=2,
                signed_messages=(),
            )
        )
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.height = 5  # type: ignore[misc]
