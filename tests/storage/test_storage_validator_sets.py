"""The validator-set index (every committed height's set) and certificates replaced after commit."""

from __future__ import annotations

import dataclasses

import pytest

from causeway.errors import InvariantError, NotFoundError
from causeway.storage import Store
from causeway.storage.schema import DB_VALIDATOR_SETS, describe_key
from causeway.types.v1 import types_pb2

from . import _builders as build


def validators(*members: str) -> types_pb2.ValidatorSet:
    return types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(member_id=member, algorithm="ed25519", voting_power=1)
            for member in members
        ]
    )


FIRST = validators("org1/a", "org2/b", "org3/c")
SECOND = validators("org1/a", "org2/b", "org3/c", "org4/d")


def test_every_committed_height_answers_its_set(store: Store) -> None:
    signing = {1: FIRST, 2: FIRST, 3: SECOND, 4: SECOND, 5: FIRST, 6: None}
    for height, validator_set in signing.items():
        store.commit_block(dataclasses.replace(build.record(height), validator_set=validator_set))
    assert store.get_validator_set(1) == (1, FIRST)
    assert store.get_validator_set(2) == (1, FIRST)
    assert store.get_validator_set(3) == (3, SECOND)
    assert store.get_validator_set(4) == (3, SECOND)
    assert store.get_validator_set(5) == (5, FIRST)
    # A block committed without a set keeps the one before in effect.
    assert store.get_validator_set(6) == (5, FIRST)
    for height in (0, 7):
        with pytest.raises(NotFoundError, match=f"no block at height {height} \\(latest is 6\\)"):
            store.get_validator_set(height)
    # Three entries: a set is written only where it changes.
    assert store.verify_integrity() > 0
    with store._read() as txn:
        assert txn.stat(store._validator_sets)["entries"] == 3
    assert describe_key(DB_VALIDATOR_SETS, (3).to_bytes(8, "big")).endswith(
        "validator_sets[height=3]"
    )


def test_a_store_without_the_index_below_a_height_says_so(store: Store) -> None:
    store.commit_block(build.record(1))
    store.commit_block(dataclasses.replace(build.record(2), validator_set=SECOND))
    assert store.get_validator_set(1) is None
    assert store.get_validator_set(2) == (2, SECOND)


def test_replace_certificate(store: Store) -> None:
    record = build.record(1)
    store.commit_block(record)
    completed = types_pb2.CommitCertificate()
    completed.CopyFrom(record.certificate)
    completed.signatures.append(
        types_pb2.CommitSignature(validator="org2/validator", signature=b"second")
    )
    store.replace_certificate(completed)
    assert store.get_certificate(1) == completed
    assert store.verify_integrity() > 0
    other = types_pb2.CommitCertificate()
    other.CopyFrom(completed)
    other.block_hash = bytes(32)
    with pytest.raises(InvariantError, match="the certificate of height 1 is for block 0000"):
        store.replace_certificate(other)
    other.CopyFrom(completed)
    other.height = 2
    with pytest.raises(NotFoundError, match="no block at height 2"):
        store.replace_certificate(other)
    assert store.get_certificate(1) == completed
