"""The ordering rules of ADR 0002, as the one function both drivers walk."""

from __future__ import annotations

from causeway.consensus import (
    ApplyCommit,
    BuildBlock,
    Commit,
    Output,
    Persist,
    ReportEvidence,
    Send,
    ValidateBlock,
    ordered_steps,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.types.v1 import types_pb2


def message(height: int) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(vote=consensus_pb2.Vote(height=height))


def test_persist_then_send_then_apply_then_evidence_then_build_then_validate() -> None:
    block = types_pb2.Block(header=types_pb2.BlockHeader(height=3))
    first = Commit(1, types_pb2.Block(), types_pb2.CommitCertificate(height=1))
    second = Commit(2, types_pb2.Block(), types_pb2.CommitCertificate(height=2))
    evidence = consensus_pb2.DuplicateVoteEvidence()
    build = BuildBlock(height=3, round_number=0, time_ms=5, proposer="a")
    validate = ValidateBlock(block, b"hash")
    # Filled in the reverse order, to show that the order comes from the function.
    output = Output(
        validate=[validate],
        build=[build],
        evidence=[evidence],
        commits=[first, second],
        send=[("b", message(1)), (None, message(2))],
        persist=[("x", b"1"), ("y", b"")],
    )
    assert ordered_steps(output) == [
        Persist((("x", b"1"), ("y", b""))),
        Send("b", message(1)),
        Send(None, message(2)),
        ApplyCommit(first),
        ApplyCommit(second),
        ReportEvidence(evidence),
        build,
        validate,
    ]


def test_nothing_to_persist_is_no_step() -> None:
    assert ordered_steps(Output()) == []
    assert ordered_steps(Output(send=[("b", message(1))])) == [Send("b", message(1))]
