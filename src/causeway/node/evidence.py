"""Evidence reporting: a validator seen signing conflicting votes is reported on chain, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from causeway.api.v1 import api_pb2
from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.errors import CausewayError
from causeway.types import build_transaction
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")

EVIDENCE_CONTRACT = "evidence"
# Equivocations this node remembers having reported (it reports each once).
EVIDENCE_REPORTED_MAX = 1024

Submit = Callable[
    [Sequence[types_pb2.Transaction], bool, int], Awaitable[list[api_pb2.SubmitResponse]]
]


@dataclass(frozen=True, slots=True)
class _NodeSigner:
    member_id: str
    key: PrivateKey


class EvidenceReporter:
    """Turns the consensus driver's evidence into evidence.submit transactions signed with the
    node's key, admitted here and gossiped like a client's (any validator that saw both votes
    does this; the contract records an equivocation once)."""

    def __init__(
        self,
        *,
        chain_id: str,
        member_id: str,
        key: PrivateKey,
        submit: Submit,
        on_evidence: Callable[[], None],
        stopping: asyncio.Event,
    ) -> None:
        """submit is the client service's submit_many; on_evidence counts each piece seen."""
        self._chain_id = chain_id
        self._signer = _NodeSigner(member_id, key)
        self._submit = submit
        self._on_evidence = on_evidence
        self._stopping = stopping
        self._reported: set[tuple[str, int, int, int]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, evidence: consensus_pb2.DuplicateVoteEvidence) -> None:
        vote = evidence.first
        log.warning(
            "validator signed conflicting votes",
            extra={"validator": vote.validator, "height": vote.height, "round": vote.round},
        )
        self._on_evidence()
        identity = (vote.validator, vote.height, vote.round, int(vote.type))
        if identity in self._reported or self._stopping.is_set():
            return
        if len(self._reported) >= EVIDENCE_REPORTED_MAX:
            self._reported.clear()
        self._reported.add(identity)
        task = asyncio.create_task(self.report(evidence))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def report(self, evidence: consensus_pb2.DuplicateVoteEvidence) -> None:
        """Puts the evidence on chain; a refusal is logged (another validator may have won)."""
        transaction = build_transaction(
            self._signer,
            self._chain_id,
            EVIDENCE_CONTRACT,
            "submit",
            contracts_pb2.EvidenceSubmitArguments(evidence=evidence),
        )
        try:
            (response,) = await self._submit([transaction], False, 0)
        except CausewayError as error:
            log.error("evidence not submitted", extra={"error": error.message})
            return
        if not response.accepted:
            log.error(
                "evidence refused by admission",
                extra={"reason": response.rejection.reason, "error": response.rejection.message},
            )
