"""The node's side of raft certificates: its signature goes out after it writes a block, peers'
signatures come in, and a completed certificate replaces the stored one."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from causeway.consensus.raft import CertificateGatherer
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import HeightUnavailableError
from causeway.light import CertificateQuorum, commit_sign_bytes, verify_certificate
from causeway.node.raft_certificates import RaftCertificates
from causeway.storage import Store
from causeway.types.v1 import types_pb2

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from storage import _builders as build  # noqa: E402

CHAIN_ID = build.CHAIN_ID
INTL = get_profile("intl")
WAIT_S = 10.0
KEYS = [PrivateKey.generate("ecdsa-p256") for _ in range(3)]
VALIDATORS = types_pb2.ValidatorSet(
    validators=[
        types_pb2.Validator(
            member_id=f"org{index}/node",
            algorithm=key.algorithm,
            public_key=key.public_key().raw,
            voting_power=1,
        )
        for index, key in enumerate(KEYS)
    ]
)


def _signature(index: int, block_hash: bytes) -> types_pb2.CommitSignature:
    document = commit_sign_bytes(CHAIN_ID, 1, 0, block_hash)
    return types_pb2.CommitSignature(
        validator=f"org{index}/node", signature=KEYS[index].sign(document)
    )


def _validator_set(height: int) -> types_pb2.ValidatorSet:
    if height > 3:
        raise HeightUnavailableError(f"the validator set of height {height} is not fixed yet")
    return VALIDATORS


async def test_a_completed_certificate_replaces_the_stored_one(tmp_path: Path) -> None:
    sent: list[consensus_pb2.ConsensusMessage] = []
    stored = asyncio.Event()
    with Store(tmp_path / "store", map_size_bytes=64 << 20) as store:
        store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
        record = build.record(1)
        own = types_pb2.CommitCertificate(
            height=1, block_hash=record.block_hash, signatures=[_signature(0, record.block_hash)]
        )
        record.certificate = own
        store.commit_block(record)
        certificates = RaftCertificates(
            CertificateGatherer(CHAIN_ID, "org0/node", INTL),
            store=store,
            validator_set=_validator_set,
            broadcast=sent.append,
            on_stored=lambda certificate: stored.set(),
        )
        certificates.committed(own)
        assert [message.raft_commit_signature.validator for message in sent] == ["org0/node"]
        # A signature of a height whose set is not known yet is dropped, not an error.
        ahead = consensus_pb2.ConsensusMessage(
            raft_commit_signature=consensus_pb2.RaftCommitSignature(height=4, validator="org1/node")
        )
        assert RaftCertificates.handles(ahead)
        certificates.received("org1/node", ahead)
        assert certificates.gatherer.statistics.signatures_dropped == 1
        peer = _signature(2, record.block_hash)
        certificates.received(
            "org2/node",
            consensus_pb2.ConsensusMessage(
                raft_commit_signature=consensus_pb2.RaftCommitSignature(
                    height=1,
                    round=0,
                    block_hash=record.block_hash,
                    validator=peer.validator,
                    signature=peer.signature,
                )
            ),
        )
        await asyncio.wait_for(stored.wait(), WAIT_S)
        completed = store.get_certificate(1)
        assert [entry.validator for entry in completed.signatures] == ["org0/node", "org2/node"]
        verify_certificate(
            completed,
            chain_id=CHAIN_ID,
            height=1,
            block_hash=record.block_hash,
            validators=VALIDATORS,
            profile=INTL,
            quorum=CertificateQuorum.MORE_THAN_HALF,
        )
