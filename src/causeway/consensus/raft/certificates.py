"""Raft certificates a light client can check: voters' commit signatures gathered after commit.

A raft block is committed by the log (a majority of the voters stored it), not by signatures, so
the certificate a node stores at commit holds only its own signature. To give a light client
something to check, every node signs the commit sign bytes of each block it commits (the core
already does, for its own certificate) and sends that signature to the others
(``RaftCommitSignature``). ``CertificateGatherer`` collects them per height, and once the
signatures of validators of that height's set hold more than half of its voting power (raft's
quorum: a majority, each raft validator having power 1) it returns the completed certificate,
which the node stores in place of its own. It keeps gathering that height, and returns a second,
stronger certificate once the signatures hold more than two thirds: what the light clients of
other chains require of every counterparty (docs/interchain.md), so that a raft chain can be
one. The thresholds and what they mean for a light client: docs/consensus-raft.md
("Certificates") and docs/light-client.md.

Pure: no clock, disk or network. The caller passes the validator set of each height (the set the
block's header names) and this node's latest committed height; each signature is verified once,
when it arrives, and a signature that is not by a validator of its height, does not verify, or
is for another block than this node committed is dropped (and counted). Bounded: at most
``CERTIFICATE_HEIGHTS_MAX`` heights are gathered at once (the oldest is given up first) and
signatures are taken only for heights up to ``SIGNATURE_HEIGHTS_AHEAD_MAX`` above the latest
committed one. A height whose signatures were lost keeps the certificate its node stored.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import CryptoProfile
from causeway.errors import CausewayError
from causeway.light import (
    CertificateQuorum,
    commit_sign_bytes,
    total_voting_power,
    validator_key,
    validators_by_member,
)
from causeway.types.v1 import types_pb2

# Heights whose signatures are being gathered at once; beyond, the oldest is given up.
CERTIFICATE_HEIGHTS_MAX = 64
# How far above this node's latest committed height a peer's signature may be (a peer commits
# a little ahead of us); the validator set is known up to two heights above it anyway.
SIGNATURE_HEIGHTS_AHEAD_MAX = 2
QUORUM = CertificateQuorum.MORE_THAN_HALF
# The second certificate of a height: the quorum an interchain light client asks of any chain.
INTERCHAIN_QUORUM = CertificateQuorum.MORE_THAN_TWO_THIRDS

_Vote = tuple[int, bytes]  # (round, block hash)


@dataclass
class GathererStatistics:
    signatures_accepted: int = 0
    signatures_dropped: int = 0
    certificates_completed: int = 0
    # Heights whose signatures went on to hold more than two thirds (a second certificate).
    certificates_for_light_clients: int = 0
    heights_given_up: int = 0


@dataclass
class _Height:
    validators: types_pb2.ValidatorSet
    # The vote this node committed; None until it commits the height.
    committed: _Vote | None = None
    # Verified signatures by vote, then by validator.
    signatures: dict[_Vote, dict[str, bytes]] = field(default_factory=dict)
    # The majority certificate was returned; the height stays open for more than two thirds.
    completed: bool = False


class CertificateGatherer:
    def __init__(self, chain_id: str, node_id: str, profile: CryptoProfile) -> None:
        self.chain_id = chain_id
        self.node_id = node_id
        self.profile = profile
        self.statistics = GathererStatistics()
        self._heights: OrderedDict[int, _Height] = OrderedDict()
        # Heights completed (or given up) recently: late signatures for them are dropped.
        self._closed: OrderedDict[int, None] = OrderedDict()
        self._latest = 0

    @property
    def heights_pending(self) -> tuple[int, ...]:
        return tuple(sorted(self._heights))

    def signature_of(
        self, certificate: types_pb2.CommitCertificate
    ) -> consensus_pb2.ConsensusMessage | None:
        """The message that sends this node's signature of ``certificate`` to the others (None
        when the certificate holds none by this node)."""
        own = next(
            (entry for entry in certificate.signatures if entry.validator == self.node_id), None
        )
        if own is None:
            return None
        return consensus_pb2.ConsensusMessage(
            raft_commit_signature=consensus_pb2.RaftCommitSignature(
                height=certificate.height,
                round=certificate.round,
                block_hash=certificate.block_hash,
                validator=self.node_id,
                signature=own.signature,
            )
        )

    def committed(
        self, certificate: types_pb2.CommitCertificate, validators: types_pb2.ValidatorSet
    ) -> types_pb2.CommitCertificate | None:
        """This node committed ``certificate.height`` (the certificate it stored, with its own
        signature; ``validators``: the height's set). The completed certificate if the
        signatures gathered already hold the quorum."""
        height = certificate.height
        self._latest = max(self._latest, height)
        if height in self._closed:
            return None
        entry = self._open(height, validators)
        vote = (certificate.round, certificate.block_hash)
        entry.committed = vote
        # Signatures for another block than the one committed here prove nothing about it.
        entry.signatures = {vote: entry.signatures.get(vote, {})}
        members = validators_by_member(validators, self.profile)
        for signature in certificate.signatures:
            if signature.validator in members:
                entry.signatures[vote].setdefault(signature.validator, signature.signature)
        return self._complete_if_enough(height)

    def add(
        self,
        sender: str,
        message: consensus_pb2.RaftCommitSignature,
        validators: types_pb2.ValidatorSet | None,
    ) -> types_pb2.CommitCertificate | None:
        """A peer's signature (``sender``: who the transport says sent it; ``validators``: the
        set of the message's height, None when unknown). The completed certificate if this
        signature completes it; None otherwise, also when it is dropped."""
        height = message.height
        if (
            message.validator != sender
            or validators is None
            or height < 1
            or height > self._latest + SIGNATURE_HEIGHTS_AHEAD_MAX
            or height + CERTIFICATE_HEIGHTS_MAX <= self._latest
            or height in self._closed
        ):
            self.statistics.signatures_dropped += 1
            return None
        try:
            members = validators_by_member(validators, self.profile)
        except CausewayError:
            self.statistics.signatures_dropped += 1
            return None
        validator = members.get(sender)
        entry = self._heights.get(height)
        vote = (message.round, message.block_hash)
        if (
            validator is None
            or (entry is not None and entry.committed is not None and entry.committed != vote)
            or not self._verifies(validator, height, message)
        ):
            self.statistics.signatures_dropped += 1
            return None
        entry = self._open(height, validators)
        entry.signatures.setdefault(vote, {})[sender] = message.signature
        self.statistics.signatures_accepted += 1
        return self._complete_if_enough(height)

    # ------------------------------------------------------------------ internals

    def _verifies(
        self,
        validator: types_pb2.Validator,
        height: int,
        message: consensus_pb2.RaftCommitSignature,
    ) -> bool:
        document = commit_sign_bytes(self.chain_id, height, message.round, message.block_hash)
        try:
            return validator_key(validator).verify(document, message.signature)
        except CausewayError:
            return False

    def _open(self, height: int, validators: types_pb2.ValidatorSet) -> _Height:
        entry = self._heights.get(height)
        if entry is None:
            entry = self._heights[height] = _Height(validators=validators)
            while len(self._heights) > CERTIFICATE_HEIGHTS_MAX:
                oldest = min(self._heights)
                given_up = self._heights.pop(oldest)
                self._close(oldest)
                # A height with its majority certificate lost only the stronger one.
                if not given_up.completed:
                    self.statistics.heights_given_up += 1
        return entry

    def _close(self, height: int) -> None:
        self._closed[height] = None
        while len(self._closed) > CERTIFICATE_HEIGHTS_MAX:
            self._closed.popitem(last=False)

    def _complete_if_enough(self, height: int) -> types_pb2.CommitCertificate | None:
        """The certificate to store when the signatures just reached a majority (the first) or
        more than two thirds (the second, which closes the height); None otherwise."""
        entry = self._heights[height]
        if entry.committed is None:
            return None
        signed = entry.signatures.get(entry.committed, {})
        members = validators_by_member(entry.validators, self.profile)
        power = sum(members[member].voting_power for member in signed)
        total = total_voting_power(entry.validators)
        strong = INTERCHAIN_QUORUM.is_reached(power, total)
        if strong:
            del self._heights[height]
            self._close(height)
            self.statistics.certificates_for_light_clients += 1
            if not entry.completed:
                self.statistics.certificates_completed += 1
        elif entry.completed or not QUORUM.is_reached(power, total):
            return None
        else:
            entry.completed = True
            self.statistics.certificates_completed += 1
        round_number, block_hash = entry.committed
        return types_pb2.CommitCertificate(
            height=height,
            round=round_number,
            block_hash=block_hash,
            # In the set's order: one certificate, one byte form, whoever gathered it.
            signatures=[
                types_pb2.CommitSignature(
                    validator=member.member_id, signature=signed[member.member_id]
                )
                for member in entry.validators.validators
                if member.member_id in signed
            ],
        )
