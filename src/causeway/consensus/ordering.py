"""The ordering rules of ADR 0002 as one pure function: what a driver does with an Output, in order.

Both drivers (the node's `ConsensusDriver` and the simulator) carry out an Output by walking
`ordered_steps(output)` and doing each step before the next:

1. ``Persist``: the records, made durable (synced) as one write, BEFORE anything is sent. A
   validator's last signed step and its signed messages are in the records of the Output that
   sends them, so a crash can never let it sign two conflicting messages.
2. ``Send``: each message, in the order the core produced them.
3. ``ApplyCommit``: each commit, in height order (the block written, its state applied).
4. ``ReportEvidence``: each piece of evidence.
5. ``BuildBlock``, then ``ValidateBlock``: work for the application, on the state the commits
   before it leave. Its result goes back to the core (`block_built`, `block_validated`). A
   driver may carry these out beside the core (the core goes on handling messages meanwhile),
   but in this order, and after the commits of this and every earlier Output are applied.

Nothing else in a driver decides an order.
"""

from __future__ import annotations

from dataclasses import dataclass

from causeway.consensus.core import BuildBlock, Commit, Output, ValidateBlock
from causeway.consensus.v1 import consensus_pb2


@dataclass(frozen=True, slots=True)
class Persist:
    """Write these records and sync them (empty bytes delete a record)."""

    records: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Send:
    """Send one message: to one validator, or (recipient None) to every other validator."""

    recipient: str | None
    message: consensus_pb2.ConsensusMessage


@dataclass(frozen=True, slots=True)
class ApplyCommit:
    commit: Commit


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    evidence: consensus_pb2.DuplicateVoteEvidence


Step = Persist | Send | ApplyCommit | ReportEvidence | BuildBlock | ValidateBlock
# The steps whose result the core waits for, or that change the application's state: a driver
# may run these beside the core, one at a time and in order.
ApplicationStep = ApplyCommit | BuildBlock | ValidateBlock


def ordered_steps(output: Output) -> list[Step]:
    """The steps that carry out `output`, in the order they must be done."""
    steps: list[Step] = []
    if output.persist:
        steps.append(Persist(tuple(output.persist)))
    steps.extend(Send(recipient, message) for recipient, message in output.send)
    steps.extend(ApplyCommit(commit) for commit in output.commits)
    steps.extend(ReportEvidence(evidence) for evidence in output.evidence)
    steps.extend(output.build)
    steps.extend(output.validate)
    return steps
