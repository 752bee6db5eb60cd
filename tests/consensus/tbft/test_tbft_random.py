"""Seeded random schedules: partitions, loss and crashes, then healing. Safety always, liveness
after the network heals."""

from __future__ import annotations

import random

import pytest
from tbft_harness import Network, signed_step_of

from causeway.consensus.tbft import TbftTimeouts

GOSSIP = TbftTimeouts(
    propose_ms=1_000,
    prevote_ms=500,
    precommit_ms=500,
    delta_ms=250,
    commit_ms=200,
    rebroadcast_ms=300,
)


def assert_safe(network: Network) -> None:
    decided: dict[int, bytes] = {}
    for node in network.nodes.values():
        assert [commit.height for commit in node.commits] == list(
            range(1, len(node.commits) + 1)
        )
        for commit in node.commits:
            block_hash = commit.certificate.block_hash
            assert decided.setdefault(commit.height, block_hash) == block_hash
    signed: dict[tuple[str, int, int, int], bytes] = {}
    for sender, message in network.sent:
        key = signed_step_of(message)
        if key[0] != sender:
            continue
        signature = (
            message.vote.signature if message.HasField("vote") else message.proposal.signature
        )
        assert signed.setdefault(key, signature) == signature, key


def run_schedule(seed: int, validators: list[tuple[str, int]]) -> Network:
    rng = random.Random(seed)
    network = Network(validators, seed=seed, drop_probability=0.15, timeouts=GOSSIP)
    names = [name for name, _ in validators]
    cut: set[frozenset[str]] = set()
    network.drop_rules.append(lambda s, r, _m: frozenset((s, r)) in cut)
    network.start()
    for _ in range(12):
        cut.clear()
        if rng.random() < 0.7:
            side = set(rng.sample(names, rng.randint(1, len(names) - 1)))
            cut.update(frozenset((a, b)) for a in side for b in names if b not in side)
        end = network.now_ms + rng.randint(500, 3_000)
        while network.now_ms < end and network.advance_clock():
            network.deliver_all()
            network.block_sync()
        if rng.random() < 0.3:
            network.crash_and_restart(rng.choice(names))
        assert_safe(network)
    cut.clear()
    network.drop_probability = 0.0
    target = max(len(node.commits) for node in network.nodes.values()) + 3
    network.run_until(network.all_committed(target), time_limit_ms=network.now_ms + 120_000)
    assert_safe(network)
    return network


@pytest.mark.parametrize("seed", range(6))
def test_random_schedules_are_safe_and_live_after_healing(seed: int) -> None:
    run_schedule(seed, [("v1", 1), ("v2", 1), ("v3", 1), ("v4", 1)])


@pytest.mark.parametrize("seed", range(3))
def test_random_schedules_with_weighted_validators(seed: int) -> None:
    run_schedule(100 + seed, [("a", 3), ("b", 1), ("c", 1), ("d", 2), ("e", 2)])
