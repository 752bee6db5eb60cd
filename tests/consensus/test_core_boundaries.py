"""What every consensus core hands its driver (consensus/core.py): an Output that is empty only
when all its parts are, a block to validate that is a proposal unless said otherwise, and work
items that cannot be changed. The tests a cosmic-ray run over it showed missing
(docs/testing.md)."""

from __future__ import annotations

import dataclasses

import pytest

from causeway.consensus import BuildBlock, Commit, Output, ValidateBlock
from causeway.consensus.v1 import consensus_pb2
from causeway.types.v1 import types_pb2


def one_part_each() -> list[Output]:
    commit = Commit(1, types_pb2.Block(), types_pb2.CommitCertificate())
    return [
        Output(persist=[("record", b"")]),
        Output(send=[(None, consensus_pb2.ConsensusMessage())]),
        Output(commits=[commit]),
        Output(evidence=[consensus_pb2.DuplicateVoteEvidence()]),
        Output(build=[BuildBlock(1, 0, 0, "v1")]),
        Output(validate=[ValidateBlock(types_pb2.Block(), b"hash")]),
    ]


def test_an_output_is_empty_only_when_every_part_is() -> None:
    assert not Output()
    for output in one_part_each():
        assert output, output


def test_a_block_to_validate_is_a_proposal_unless_said_committed() -> None:
    """A proposal is held to this validator's clock; only raft's committed blocks are not."""
    assert ValidateBlock(types_pb2.Block(), b"hash").committed is False


def test_work_items_cannot_be_changed() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BuildBlock(1, 0, 0, "v1").height = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ValidateBlock(types_pb2.Block(), b"hash").committed = True  # type: ignore[misc]
