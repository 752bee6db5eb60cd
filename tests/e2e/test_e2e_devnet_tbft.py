"""A tbft devnet of four validator processes under faults: killed, paused, restarted, left behind.

The first test is the acceptance test of replicated consensus: load on rotating nodes while one
validator is SIGKILLed, another SIGSTOPped for a few seconds, and the killed one restarted with
`causeway devnet restart`; afterwards every node holds the same chain (headers, block hashes,
state roots), every acknowledged transaction is in it exactly once at its acknowledged height,
and no node's height ever went back. The second leaves a validator down for more blocks than one
block-sync request carries and checks that it catches up and then votes again.

The seed is printed; CAUSEWAY_E2E_SEED=<seed> replays the same choices (timings still vary).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from devnet_harness import (
    Acknowledged,
    Devnet,
    HeightMonitor,
    LoadGenerator,
    assert_acknowledged_exactly_once,
    assert_same_chain,
    fund,
    running,
    wait_for_more_acknowledged,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.execution.keys import KV_PREFIX

pytestmark = pytest.mark.e2e

SEED_ENVIRONMENT_VARIABLE = "CAUSEWAY_E2E_SEED"
SENDERS = ("org1/client", "org2/client")
# With two of four validators out, no quorum (three) is left: nothing may commit.
PAUSE_S = 4.0
PAUSE_SETTLE_S = 1.5
ACKNOWLEDGED_STEP = 10
STEP_TIMEOUT_S = 60.0
CONVERGE_TIMEOUT_S = 60.0
# Blocks committed while a validator is down (a quarter of them wait out a propose timeout).
BLOCKS_WHILE_DOWN = 8
BATCH_WHILE_DOWN = 8


def _seed() -> int:
    configured = os.environ.get(SEED_ENVIRONMENT_VARIABLE, "")
    return int(configured) if configured else random.SystemRandom().randrange(1 << 32)


def _acknowledged(loads: list[LoadGenerator]) -> list[Acknowledged]:
    return [item for load in loads for item in load.acknowledged]


def test_tbft_devnet_keeps_one_chain_through_kill_pause_and_restart(tmp_path: Path) -> None:
    seed = _seed()
    print(f"devnet test seed: {seed} (set {SEED_ENVIRONMENT_VARIABLE}={seed} to replay)")
    rng = random.Random(seed)
    with Devnet(tmp_path, validators=4, consensus="tbft") as devnet:
        names = devnet.names
        assert len(names) == 4
        killed, paused = rng.sample(names, 2)
        print(f"SIGKILL {killed}, SIGSTOP {paused}")
        fund(devnet, names[0], SENDERS)
        loads = [
            LoadGenerator(devnet, names, SENDERS[0], SENDERS[1], seed=rng.randrange(1 << 32)),
            LoadGenerator(devnet, names, SENDERS[1], SENDERS[0], seed=rng.randrange(1 << 32)),
        ]
        monitor = HeightMonitor(devnet)
        started = time.monotonic()
        with running(*loads, monitor):
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, "before the faults")

            devnet.send_signal(killed, signal.SIGKILL)
            devnet.wait_for_exit(killed)
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, f"with {killed} killed")

            live = [name for name in names if name not in (killed, paused)]
            devnet.send_signal(paused, signal.SIGSTOP)
            try:
                # Votes sent before the pause may still complete a height; after that, nothing.
                time.sleep(PAUSE_SETTLE_S)
                heights_paused = {name: devnet.height(name) for name in live}
                time.sleep(PAUSE_S - PAUSE_SETTLE_S)
                heights_later = {name: devnet.height(name) for name in live}
            finally:
                devnet.send_signal(paused, signal.SIGCONT)
            # Safety without a quorum: two validators of four commit no new height (one of them
            # may still catch up to the other).
            highest_paused = max(height or 0 for height in heights_paused.values())
            highest_later = max(height or 0 for height in heights_later.values())
            assert highest_later == highest_paused, (
                f"blocks committed with only {live} running: {heights_paused} -> {heights_later}"
            )
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, f"after {paused} was continued")

            by_killed = sum(load.acknowledged_by(killed) for load in loads)
            devnet.restart(killed)
            wait_for_more_acknowledged(loads, ACKNOWLEDGED_STEP, f"after {killed} was restarted")
            # The restarted node serves again: it acknowledges commits itself.
            deadline = time.monotonic() + STEP_TIMEOUT_S
            while sum(load.acknowledged_by(killed) for load in loads) <= by_killed:
                assert time.monotonic() < deadline, f"{killed} acknowledged nothing after restart"
                time.sleep(0.1)
            for load in loads:
                load.finish()
            monitor.finish()
        load_seconds = time.monotonic() - started

        for load in loads:
            assert not load.refusals, f"transactions refused: {load.refusals[:3]}"
        acknowledged = _acknowledged(loads)
        heights = devnet.heights()
        target = max(height or 0 for height in heights.values())
        devnet.wait_for_heights(target, timeout_s=CONVERGE_TIMEOUT_S)
        chain = assert_same_chain(devnet, target)
        assert_acknowledged_exactly_once(devnet, chain, acknowledged)
        assert not monitor.went_back, f"heights went back: {monitor.went_back}"
        assert monitor.samples > 0
        submitted = set().union(*(load.submitted for load in loads))
        committed = {item for view in chain for item in view.transaction_ids}
        print(
            f"{load_seconds:.1f} s of load: {len(acknowledged)} acknowledged, "
            f"{len(submitted & committed)} of {len(submitted)} submitted committed, "
            f"{sum(len(load.errors) for load in loads)} failed batches; "
            f"{target} blocks identical on {len(names)} nodes"
        )


def test_tbft_validator_down_for_a_while_catches_up_and_votes_again(tmp_path: Path) -> None:
    with Devnet(tmp_path, validators=4, consensus="tbft") as devnet:
        names = devnet.names
        late, live = names[-1], names[:-1]
        fund(devnet, names[0], [SENDERS[0]])
        left_at = devnet.height(late)
        assert left_at is not None
        devnet.send_signal(late, signal.SIGTERM)
        devnet.wait_for_exit(late)

        # One block per batch: each waits for its commit before the next is sent. Every fourth
        # height has the stopped validator as its first proposer and waits out its timeout.
        acknowledged: list[Acknowledged] = []
        clients = {name: devnet.client(name, SENDERS[0]) for name in live}
        for serial in range(BLOCKS_WHILE_DOWN):
            name = live[serial % len(live)]
            client = clients[name]
            batch = [
                client.transaction(
                    "kv",
                    "put",
                    contracts_pb2.KvPutArguments(
                        key=f"behind/{serial}/{index}".encode(), value=b"v"
                    ),
                )
                for index in range(BATCH_WHILE_DOWN)
            ]
            for result in client.submit_batch(batch, wait=True, timeout_s=30.0):
                assert result.succeeded, result
                acknowledged.append(Acknowledged(result.transaction_id, result.height, name))
        target = max(item.height for item in acknowledged)
        assert target - left_at >= BLOCKS_WHILE_DOWN

        devnet.restart(late)
        devnet.wait_for_heights(target, [late], timeout_s=CONVERGE_TIMEOUT_S)
        chain = assert_same_chain(devnet, target)
        assert_acknowledged_exactly_once(devnet, chain, acknowledged)
        late_log = devnet.node(late).log_path.read_text(encoding="utf-8", errors="replace")
        assert "caught up by block sync" in late_log, devnet.log_tail(late)
        # It serves what it missed, with proofs against the headers every node has.
        written = devnet.client(late).get_state(KV_PREFIX + b"behind/0/0", target)
        assert written.found and written.value == b"v", written
        assert written.header.state_root == chain[-1].state_root

        # It votes again: with another validator stopped, nothing commits without it.
        gone = live[0]
        devnet.send_signal(gone, signal.SIGKILL)
        devnet.wait_for_exit(gone)
        result = devnet.client(late, SENDERS[0]).invoke(
            "kv", "put", contracts_pb2.KvPutArguments(key=b"after", value=b"1"), timeout_s=60.0
        )
        assert result.committed and result.succeeded, result
        remaining = [name for name in names if name != gone]
        devnet.wait_for_heights(result.height, remaining)
        chain = assert_same_chain(devnet, result.height, remaining)
        assert_acknowledged_exactly_once(
            devnet, chain, [Acknowledged(result.transaction_id, result.height, late)], remaining
        )
        certificate = devnet.client(remaining[0]).get_block(result.height).certificate
        signers = {signature.validator for signature in certificate.signatures}
        assert devnet.node(late).member_id in signers, signers
