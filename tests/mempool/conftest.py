from __future__ import annotations

from collections.abc import Iterator

import pytest
from mempool_chain import Members, make_members

from causeway.crypto import BatchVerifier
from causeway.types.v1 import types_pb2


@pytest.fixture(scope="session")
def session_members() -> Members:
    return make_members()


@pytest.fixture
def members(session_members: Members) -> Members:
    # Fresh committed-lookup state per test, the same (slow to make) keys.
    records = {}
    for member_id, record in session_members.records.items():
        records[member_id] = types_pb2.Member()
        records[member_id].CopyFrom(record)
    return Members(keys=session_members.keys, records=records)


@pytest.fixture(scope="session")
def verifier() -> Iterator[BatchVerifier]:
    with BatchVerifier(threads=2) as batch_verifier:
        yield batch_verifier
