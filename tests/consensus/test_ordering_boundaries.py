"""The steps ordered_steps hands to a driver cannot be changed by it: the tests a cosmic-ray run
over consensus/ordering.py showed missing (docs/testing.md)."""

from __future__ import annotations

import dataclasses

import pytest

from causeway.consensus import ApplyCommit, Commit, Persist, ReportEvidence, Send
from causeway.consensus.v1 import consensus_pb2
from causeway.types.v1 import types_pb2


def test_every_step_is_frozen() -> None:
    """Both drivers walk the same steps in the same order: one that changed a step in place
    (another recipient, other records) would carry out something else than the core asked."""
    commit = Commit(1, types_pb2.Block(), types_pb2.CommitCertificate())
    steps: list[tuple[object, str, object]] = [
        (Persist(records=(("key", b"value"),)), "records", ()),
        (Send(recipient="v1", message=consensus_pb2.ConsensusMessage()), "recipient", None),
        (ApplyCommit(commit=commit), "commit", None),
        (ReportEvidence(evidence=consensus_pb2.DuplicateVoteEvidence()), "evidence", None),
    ]
    for step, field, value in steps:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(step, field, value)
