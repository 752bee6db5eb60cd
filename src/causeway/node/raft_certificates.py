"""The node's side of raft certificate gathering: sending, receiving and storing (the I/O).

The pure part is ``causeway.consensus.raft.CertificateGatherer``. Here, after this node writes a
committed block, its signature (from the certificate the core made) goes to every other node;
peers' signatures are handed to the gatherer with the validator set of their height; and a
completed certificate is written over the stored one in a worker thread
(``Store.replace_certificate``), off the event loop that also carries the leader's messages. All
calls come from the event loop. The runtime wires it with three lines (see runtime.py, "raft
certificates"); it is independent of how the consensus driver runs the core.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from causeway.consensus.raft import CertificateGatherer
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import CausewayError
from causeway.storage import Store
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.consensus")


class RaftCertificates:
    def __init__(
        self,
        gatherer: CertificateGatherer,
        *,
        store: Store,
        validator_set: Callable[[int], types_pb2.ValidatorSet],
        broadcast: Callable[[consensus_pb2.ConsensusMessage], None],
        on_stored: Callable[[types_pb2.CommitCertificate], object],
    ) -> None:
        """validator_set(height): the set of a height (HeightUnavailableError when not known);
        on_stored: called on the event loop once a completed certificate is durable."""
        self.gatherer = gatherer
        self._store = store
        self._validator_set = validator_set
        self._broadcast = broadcast
        self._on_stored = on_stored
        self._writes: set[asyncio.Task[None]] = set()

    @staticmethod
    def handles(message: consensus_pb2.ConsensusMessage) -> bool:
        return message.WhichOneof("body") == "raft_commit_signature"

    def committed(self, certificate: types_pb2.CommitCertificate) -> None:
        """After this node wrote the block ``certificate`` certifies (with its own signature)."""
        validators = self._set_of(certificate.height)
        if validators is None:
            return
        message = self.gatherer.signature_of(certificate)
        if message is not None:
            self._broadcast(message)
        self._store_if_completed(self.gatherer.committed(certificate, validators))

    def received(self, sender: str, message: consensus_pb2.ConsensusMessage) -> None:
        signature = message.raft_commit_signature
        completed = self.gatherer.add(sender, signature, self._set_of(signature.height))
        self._store_if_completed(completed)

    def _set_of(self, height: int) -> types_pb2.ValidatorSet | None:
        try:
            return self._validator_set(height)
        except CausewayError:
            return None

    def _store_if_completed(self, certificate: types_pb2.CommitCertificate | None) -> None:
        if certificate is None:
            return
        task = asyncio.create_task(self._write(certificate))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, certificate: types_pb2.CommitCertificate) -> None:
        try:
            await asyncio.to_thread(self._store.replace_certificate, certificate)
        except CausewayError as error:
            # A store closing under a late write, or a height not written yet: the block keeps
            # the certificate it has, which proves as much as before.
            log.warning(
                "raft certificate not stored",
                extra={"height": certificate.height, "error": error.message},
            )
            return
        self._on_stored(certificate)
