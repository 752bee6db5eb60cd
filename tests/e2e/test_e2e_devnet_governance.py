"""A tbft devnet whose validator equivocates and is then voted out and back in, all on chain.

1. node4 is killed and an impostor holding node4's key and TLS identity (what a compromised
   validator looks like) sends two conflicting prevotes to the others. They detect it, submit
   evidence transactions, and the evidence contract records the equivocation once, naming node4.
2. Governance (a majority of organisations' admins) removes node4: the header after the change
   announces the new set in its next-validator-set hash, the one after that is validated by it,
   and the three remaining validators carry on.
3. node4 restarts outside the set and follows as an observer, catching up by block sync; governance
   adds it back and it votes again: with node1 then stopped, blocks still commit, which needs
   node4's vote (three of four).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from devnet_harness import RoguePeer, fund, wait_until

from causeway.consensus.tbft import vote_sign_bytes
from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.net import PeerAddress
from causeway.node.config import load_node_config
from causeway.sdk import SubmitResult
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

from devnet_harness import ADMIN, Devnet  # isort: skip

pytestmark = pytest.mark.e2e

EQUIVOCATOR = "node4"
ENDORSERS = ("org2/admin", "org3/admin")
STEP_TIMEOUT_S = 90.0


def _update(devnet: Devnet, member_id: str, voting_power: int, via: str = "node1") -> SubmitResult:
    admin = devnet.client(via, ADMIN)
    result = admin.invoke(
        "validators",
        "update",
        contracts_pb2.ValidatorsUpdateArguments(
            updates=[
                contracts_pb2.ValidatorPowerUpdate(member_id=member_id, voting_power=voting_power)
            ]
        ),
        endorsers=[devnet.identity(endorser) for endorser in ENDORSERS],
        timeout_s=STEP_TIMEOUT_S,
    )
    assert result.succeeded, result
    return result


def _evidence_of(devnet: Devnet, name: str, member_id: str) -> list[contracts_pb2.EvidenceRecord]:
    result = devnet.client(name, ADMIN).evaluate(
        "evidence", "list", contracts_pb2.EvidenceListArguments(validator=member_id)
    )
    assert result.status == types_pb2.RESULT_STATUS_OK, result.error
    return list(
        decode(contracts_pb2.EvidenceListResult, result.return_value, bytes_max=1 << 20).records
    )


def _prevote(
    chain_id: str, key: PrivateKey, member_id: str, height: int, block_hash: bytes
) -> consensus_pb2.ConsensusMessage:
    kind = consensus_pb2.VOTE_TYPE_PREVOTE
    return consensus_pb2.ConsensusMessage(
        vote=consensus_pb2.Vote(
            type=kind,
            height=height,
            round=0,
            block_hash=block_hash,
            validator=member_id,
            signature=key.sign(vote_sign_bytes(chain_id, kind, height, 0, block_hash)),
        )
    )


def _set_hash(devnet: Devnet, validators: list[types_pb2.Validator]) -> bytes:
    return devnet.hash(encode(types_pb2.ValidatorSet(validators=validators)))


def test_equivocation_is_recorded_and_governance_changes_the_validator_set(
    tmp_path: Path,
) -> None:
    with Devnet(tmp_path, validators=4, consensus="tbft") as devnet:
        honest = [name for name in devnet.names if name != EQUIVOCATOR]
        equivocator = devnet.node(EQUIVOCATOR)
        member_id = equivocator.member_id
        chain_id = devnet.chain_id()
        fund(devnet, "node1", ["org1/client"])

        # 1. Equivocation, committed as evidence.
        devnet.send_signal(EQUIVOCATOR, signal.SIGKILL)
        devnet.wait_for_exit(EQUIVOCATOR)
        config = load_node_config(equivocator.home)
        key = PrivateKey.from_pem(config.key_file.read_bytes())
        rogue = RoguePeer(
            chain_id=chain_id,
            home=equivocator.home,
            listen_port=int(equivocator.peer_address.rsplit(":", 1)[1]),
            peers=[
                PeerAddress(name, devnet.node(name).member_id, devnet.node(name).peer_address)
                for name in honest
            ],
        )
        with rogue:
            wait_until(
                lambda: len(rogue.connected_to()) == len(honest),
                STEP_TIMEOUT_S,
                lambda: f"the impostor reached only {rogue.connected_to()}",
            )
            deadline = time.monotonic() + STEP_TIMEOUT_S
            while not _evidence_of(devnet, "node1", member_id):
                assert time.monotonic() < deadline, "no evidence was committed"
                height = (devnet.height("node1") or 0) + 1
                for block_hash in (b"\x01" * 32, b"\x02" * 32):
                    rogue.broadcast(_prevote(chain_id, key, member_id, height, block_hash))
                time.sleep(1.0)
        records = _evidence_of(devnet, "node2", member_id)
        # Several validators report each equivocation; each is recorded once.
        keys = [
            (r.evidence.first.height, r.evidence.first.round, r.evidence.first.type)
            for r in records
        ]
        assert records and len(set(keys)) == len(keys)
        for record in records:
            first, second = record.evidence.first, record.evidence.second
            assert first.validator == second.validator == member_id
            assert (first.height, first.round, first.type) == (
                second.height,
                second.round,
                second.type,
            )
            assert first.block_hash != second.block_hash
            assert record.reporter in {devnet.node(name).member_id for name in honest}
            assert record.committed_height >= first.height

        # 2. Governance removes the equivocator.
        removed = _update(devnet, member_id, 0)
        change = removed.height
        devnet.wait_for_heights(change + 3, honest, timeout_s=STEP_TIMEOUT_S)
        client = devnet.client("node2")
        genesis_validators = list(devnet.genesis().validators.validators)
        remaining = sorted(
            (v for v in genesis_validators if v.member_id != member_id),
            key=lambda v: v.member_id,
        )
        before, after = _set_hash(devnet, genesis_validators), _set_hash(devnet, remaining)
        headers = {h: client.get_block(h).block.header for h in (change, change + 1, change + 2)}
        assert headers[change].next_validator_set_hash == before
        assert headers[change + 1].validator_set_hash == before
        assert headers[change + 1].next_validator_set_hash == after
        assert headers[change + 2].validator_set_hash == after
        current = devnet.client("node1", ADMIN).evaluate(
            "validators", "get", contracts_pb2.ValidatorsGetArguments()
        )
        got = decode(contracts_pb2.ValidatorsGetResult, current.return_value, bytes_max=1 << 20)
        assert [v.member_id for v in got.validators.validators] == [v.member_id for v in remaining]

        # 3. Restarted outside the set, it follows as an observer (catching up by block sync
        # across the change); governance adds it back and its vote is needed again.
        devnet.restart(EQUIVOCATOR)
        devnet.wait_for_heights(change + 3, timeout_s=STEP_TIMEOUT_S)
        assert devnet.role(EQUIVOCATOR) == "observer"
        added = _update(devnet, member_id, 1)
        devnet.wait_for_heights(added.height + 3, timeout_s=STEP_TIMEOUT_S)
        assert devnet.role(EQUIVOCATOR) == "validator"
        devnet.send_signal("node1", signal.SIGKILL)
        devnet.wait_for_exit("node1")
        others = [name for name in devnet.names if name != "node1"]
        start = max(devnet.wait_for_heights(added.height + 3, others).values())
        issued = devnet.client("node2", ADMIN).invoke(
            "ledger",
            "issue",
            contracts_pb2.LedgerIssueArguments(account="org2/client", amount=1),
            timeout_s=STEP_TIMEOUT_S,
        )
        assert issued.succeeded and issued.height > start
        certificate = devnet.client("node2").get_block(issued.height).certificate
        assert member_id in {signature.validator for signature in certificate.signatures}


# Blocks the leader may commit before a removed raft voter must have fallen behind.
ISSUES_TO_FALL_BEHIND_MAX = 40


def _issue(devnet: Devnet, via: str) -> int:
    issued = devnet.client(via, ADMIN).invoke(
        "ledger",
        "issue",
        contracts_pb2.LedgerIssueArguments(account="org1/client", amount=1),
        timeout_s=STEP_TIMEOUT_S,
    )
    assert issued.succeeded, issued
    return issued.height


def test_raft_voters_follow_the_governed_validator_set_one_at_a_time(tmp_path: Path) -> None:
    with Devnet(tmp_path, validators=3, consensus="raft") as devnet:
        wait_until(
            lambda: any(devnet.role(name) == "leader" for name in devnet.names),
            STEP_TIMEOUT_S,
            lambda: "no raft leader",
        )
        leader = next(name for name in devnet.names if devnet.role(name) == "leader")
        removed = next(name for name in devnet.names if name != leader)
        member_id = devnet.node(removed).member_id
        _update(devnet, member_id, 0, via=leader)
        # Two heights later the removal is in effect and the leader then takes the node out of
        # its voters (one change in its log, which a loaded machine may take a few blocks to
        # reach): from then on it replicates to the other voter only, and the removed node,
        # still running, is left behind while blocks go on. A node still replicated to stays
        # within a block or two, so no number of blocks would leave it this far behind.
        for _ in range(ISSUES_TO_FALL_BEHIND_MAX):
            latest = _issue(devnet, leader)
            behind = devnet.height(removed)
            if behind is not None and behind < latest - 3:
                break
        assert behind is not None and behind < latest - 3, (behind, latest)
        assert devnet.is_running(removed)

        # Added back (one voter again), it is replicated to and catches up.
        added = _update(devnet, member_id, 1, via=leader).height
        latest = max(_issue(devnet, leader) for _ in range(3))
        devnet.wait_for_heights(max(latest, added + 2), timeout_s=STEP_TIMEOUT_S)
