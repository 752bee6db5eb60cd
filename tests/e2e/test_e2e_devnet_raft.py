"""Raft devnets of three validator processes: losing the leader under load, and a follower that
was down while the leadership changed catching up by log replication.

In the first test the leader (the node `causeway devnet status` reports with role "leader") is
SIGKILLed while two load threads submit kv puts and ledger transfers to rotating nodes; the two
others elect a new leader and go on; the old one is restarted with `causeway devnet restart` and
catches up. Afterwards all three hold the same chain, each acknowledged transaction is in it
exactly once at its acknowledged height, and no node's height ever went back.

Both guard against a bug found here (CATCH_UP_BUG): a node whose catch-up commits two or more
blocks in one step stopped itself; the second test triggered it every time, the first by timing.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
from devnet_harness import (
    Acknowledged,
    Devnet,
    HeightMonitor,
    LoadGenerator,
    NodeExitedError,
    assert_acknowledged_exactly_once,
    assert_same_chain,
    fund,
    running,
    wait_for_more_acknowledged,
    wait_until,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import SignatureError
from causeway.execution.keys import kv_key
from causeway.light import certificate_quorum, verify_header
from causeway.sdk import Client

pytestmark = pytest.mark.e2e

SENDERS = ("org1/client", "org2/client")
STEP_TIMEOUT_S = 60.0
ACKNOWLEDGED_STEP = 10
CONVERGE_TIMEOUT_S = 60.0
BLOCKS_WHILE_DOWN = 4

CATCH_UP_CRASH = "the application refuses the committed block"
CATCH_UP_BUG = (
    "fixed bug: a raft node lacking two or more committed blocks stopped with InvariantError ('the "
    "application refuses the committed block') when one AppendEntries commits them: "
    "RaftCore._commit_to validates every newly committed block before the runtime applies the "
    "first, but ExecutionApplication.validate_block requires header.height == "
    "store.latest_height() + 1 and executes on the latest stored state (docs/consensus-raft.md: "
    "validate_block must not depend on applied state)"
)


class RestartedNodeCrashedError(AssertionError):
    """The restarted validator stopped itself while catching up (CATCH_UP_BUG)."""


def _leaders_by_cli(devnet: Devnet) -> list[str]:
    """The leaders as `causeway devnet status --json` reports them."""
    return [
        row["name"]
        for row in devnet.status()
        if row.get("answering") and row.get("role") == "leader"
    ]


def _leaders(devnet: Devnet, among: list[str] | None = None) -> list[str]:
    """The same, asked of the nodes directly (faster than a CLI process)."""
    names = among if among is not None else devnet.names
    return [name for name in names if devnet.role(name) == "leader"]


def _wait_for_one_leader(devnet: Devnet, among: list[str]) -> str:
    wait_until(
        lambda: len(_leaders(devnet, among)) == 1,
        STEP_TIMEOUT_S,
        lambda: f"no single leader among {among}: {[devnet.role(n) for n in among]}",
    )
    (leader,) = _leaders(devnet, among)
    return leader


def _wait_for_catch_up(devnet: Devnet, name: str, height: int) -> None:
    """Waits until the restarted node has ``height``; RestartedNodeCrashedError if it stopped
    itself on the known bug (any other exit stays a plain failure)."""
    try:
        devnet.wait_for_heights(height, [name], timeout_s=CONVERGE_TIMEOUT_S)
    except NodeExitedError as error:
        if CATCH_UP_CRASH in error.log:
            raise RestartedNodeCrashedError(str(error)) from error
        raise


def test_raft_devnet_survives_losing_its_leader_under_load(tmp_path: Path) -> None:
    rng = random.Random()
    with Devnet(tmp_path, validators=3, consensus="raft") as devnet:
        names = devnet.names
        _wait_for_one_leader(devnet, names)
        fund(devnet, names[0], SENDERS)
        loads = [
            LoadGenerator(devnet, names, SENDERS[0], SENDERS[1], seed=rng.randrange(1 << 32)),
            LoadGenerator(devnet, names, SENDERS[1], SENDERS[0], seed=rng.randrange(1 << 32)),
        ]
        monitor = HeightMonitor(devnet)
        with running(*loads, monitor):
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, "before the kill")
            leaders = _leaders_by_cli(devnet)
            assert len(leaders) == 1, f"leaders: {leaders}"
            leader = leaders[0]
            survivors = [name for name in names if name != leader]
            print(f"SIGKILL the leader {leader}")
            devnet.send_signal(leader, signal.SIGKILL)
            devnet.wait_for_exit(leader)
            new_leader = _wait_for_one_leader(devnet, survivors)
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, f"with the leader {leader} killed")

            # The two survivors hold one chain with everything acknowledged so far.
            so_far = [item for load in loads for item in load.acknowledged]
            reached = max(item.height for item in so_far)
            devnet.wait_for_heights(reached, survivors)
            chain = assert_same_chain(devnet, reached, survivors)
            assert_acknowledged_exactly_once(devnet, chain, so_far, survivors)

            by_leader = sum(load.acknowledged_by(leader) for load in loads)
            behind = max(height or 0 for height in devnet.heights().values())
            devnet.restart(leader)
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, f"after {leader} was restarted")
            _wait_for_catch_up(devnet, leader, behind)
            wait_until(
                lambda: sum(load.acknowledged_by(leader) for load in loads) > by_leader,
                STEP_TIMEOUT_S,
                lambda: f"{leader} acknowledged nothing after its restart",
            )
            for load in loads:
                load.finish()
            monitor.finish()

        for load in loads:
            assert not load.refusals, f"transactions refused: {load.refusals[:3]}"
        acknowledged = [item for load in loads for item in load.acknowledged]
        target = max(height or 0 for height in devnet.heights().values())
        devnet.wait_for_heights(target, timeout_s=CONVERGE_TIMEOUT_S)
        chain = assert_same_chain(devnet, target)
        assert_acknowledged_exactly_once(devnet, chain, acknowledged)
        assert not monitor.went_back, f"heights went back: {monitor.went_back}"
        assert _leaders_by_cli(devnet) == _leaders(devnet)
        assert len(_leaders(devnet)) == 1
        print(
            f"{len(acknowledged)} acknowledged, {target} blocks identical on {len(names)} nodes, "
            f"{sum(len(load.errors) for load in loads)} failed batches; {new_leader} led after "
            f"{leader}"
        )


def test_raft_follower_down_while_the_leader_changed_catches_up_by_replication(
    tmp_path: Path,
) -> None:
    """A follower is down while blocks commit and the leader changes; on its restart the new
    leader (which never queued anything for it) replicates the missing entries in one
    AppendEntries, committing several blocks at once (what CATCH_UP_BUG was about)."""
    with Devnet(tmp_path, validators=3, consensus="raft") as devnet:
        names = devnet.names
        first_leader = _wait_for_one_leader(devnet, names)
        late, other = (name for name in names if name != first_leader)
        client = devnet.client(other, SENDERS[0])
        acknowledged: list[Acknowledged] = []

        def put(key: str) -> None:
            result = client.invoke(
                "kv", "put", contracts_pb2.KvPutArguments(key=key.encode(), value=b"v")
            )
            assert result.succeeded, result
            acknowledged.append(Acknowledged(result.transaction_id, result.height, other))

        put("before")
        devnet.wait_for_heights(acknowledged[-1].height)
        left_at = devnet.height(late)
        assert left_at is not None
        devnet.send_signal(late, signal.SIGKILL)
        devnet.wait_for_exit(late)
        for serial in range(BLOCKS_WHILE_DOWN):
            put(f"while-down/{serial}")
        assert acknowledged[-1].height - left_at >= BLOCKS_WHILE_DOWN

        # The leader goes too; the restarted follower and the remaining node elect a new one
        # (the remaining node: its log is the longer), which replicates what the follower lacks.
        devnet.send_signal(first_leader, signal.SIGKILL)
        devnet.wait_for_exit(first_leader)
        devnet.restart(late)
        _wait_for_catch_up(devnet, late, acknowledged[-1].height)
        assert _wait_for_one_leader(devnet, [late, other]) == other
        put("after")

        devnet.restart(first_leader)
        devnet.wait_for_heights(acknowledged[-1].height, timeout_s=CONVERGE_TIMEOUT_S)
        chain = assert_same_chain(devnet, acknowledged[-1].height)
        assert_acknowledged_exactly_once(devnet, chain, acknowledged)

        # A light client checks a raft header: the certificate gathered after commit holds the
        # signatures of a majority of the height's validator set (docs/light-client.md).
        _wait_for_majority_certificate(client, acknowledged[0].height)
        # Many proven state entries at one height in one call, from a real node.
        keys = [kv_key(b"before"), kv_key(b"after"), kv_key(b"never written")]
        states = client.get_states(keys, height=acknowledged[-1].height)
        assert [entry.found for entry in states.entries] == [True, True, False]


def _wait_for_majority_certificate(client: Client, height: int) -> None:
    problems: list[str] = []

    def certified() -> bool:
        answer = client.get_block(height)
        validators = client.get_validator_set(height).validator_set
        try:
            verify_header(
                answer.block.header,
                answer.certificate,
                chain_id=answer.block.header.chain_id,
                validators=validators,
                profile=client.profile(),
                quorum=certificate_quorum("raft"),
            )
        except SignatureError as error:
            problems.append(error.message)
            return False
        return True

    wait_until(
        certified,
        STEP_TIMEOUT_S,
        lambda: f"no majority certificate at height {height}: {problems[-1:]}",
    )
