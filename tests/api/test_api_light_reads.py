"""causeway.api's light reads over a real store: the validator-set index, and the schedule for
heights below it (a store written before the index existed)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from causeway.api import validator_set_response
from causeway.api.v1 import api_pb2
from causeway.errors import HeightUnavailableError, NotFoundError
from causeway.storage import Store
from causeway.types.v1 import types_pb2

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from storage import _builders as build  # noqa: E402

INDEXED = types_pb2.ValidatorSet(
    validators=[types_pb2.Validator(member_id="org1/a", algorithm="ed25519", voting_power=1)]
)
SCHEDULED = types_pb2.ValidatorSet(
    validators=[types_pb2.Validator(member_id="org2/b", algorithm="ed25519", voting_power=1)]
)


def _schedule(height: int) -> tuple[int, types_pb2.ValidatorSet]:
    if height < 2:
        raise HeightUnavailableError(f"no validator set is known for height {height}")
    return 2, SCHEDULED


def test_index_first_then_schedule(tmp_path: Path) -> None:
    with Store(tmp_path / "store", map_size_bytes=64 << 20) as store:
        store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
        with pytest.raises(NotFoundError, match="no block has been committed yet"):
            validator_set_response(store, api_pb2.GetValidatorSetRequest(), _schedule)
        for height in (1, 2, 3):
            store.commit_block(build.record(height))
        store.commit_block(dataclasses.replace(build.record(4), validator_set=INDEXED))

        def ask(height: int) -> api_pb2.GetValidatorSetResponse:
            request = api_pb2.GetValidatorSetRequest(height=height)
            return validator_set_response(store, request, _schedule)

        latest = ask(0)
        assert (latest.height, latest.from_height, latest.validator_set) == (4, 4, INDEXED)
        assert latest.header == store.get_header(4)
        below = ask(3)
        assert (below.height, below.from_height, below.validator_set) == (3, 2, SCHEDULED)
        with pytest.raises(HeightUnavailableError, match="no validator set is known for height 1"):
            ask(1)
        with pytest.raises(NotFoundError, match="height 5 is not committed yet \\(latest is 4\\)"):
            ask(5)
