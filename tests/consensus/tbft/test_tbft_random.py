"""Seeded random schedules: partitions, loss and crashes, then healing. Safety always, liveness
after the network heals."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import pytest
from tbft_harness import Network, key_of, signed_step_of

from causeway.consensus.tbft import TbftTimeouts

GOSSIP = TbftTimeouts(
    propose_ms=1_000,
    prevote_ms=500,
    precommit_ms=500,
    delta_ms=250,
    commit_ms=200,
    rebroadcast_ms=300,
)


def assert_safe(network: Network, byzantine_keys: Iterable[str] = ()) -> None:
    byzantine = set(byzantine_keys)
    honest = [name for name in network.nodes if key_of(name) not in byzantine]
    decided: dict[int, bytes] = {}
    for node in (network.nodes[name] for name in honest):
        assert [commit.height for commit in node.commits] == list(range(1, len(node.commits) + 1))
        for commit in node.commits:
            block_hash = commit.certificate.block_hash
            assert decided.setdefault(commit.height, block_hash) == block_hash
    signed: dict[tuple[str, int, int, int], bytes] = {}
    for sender, message in network.sent:
        key = signed_step_of(message)
        if key[0] != sender or key[0] in byzantine:
            continue
        signature = (
            message.vote.signature if message.HasField("vote") else message.proposal.signature
        )
        assert signed.setdefault(key, signature) == signature, key


def run_schedule(
    seed: int,
    validators: list[tuple[str, int]],
    *,
    drop_probability: float = 0.15,
    crash_probability: float = 0.3,
    twins: Sequence[str] = (),
    unsafe: bool = False,
    heal: bool = True,
) -> Network:
    rng = random.Random(seed)
    network = Network(
        validators,
        seed=seed,
        drop_probability=drop_probability,
        timeouts=GOSSIP,
        twins=twins,
        unsafe_disable_locking_for_tests=unsafe,
    )
    names = list(network.nodes)
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
        if rng.random() < crash_probability:
            network.crash_and_restart(rng.choice(names))
        assert_safe(network, twins)
    if not heal:
        return network
    cut.clear()
    network.drop_probability = 0.0
    honest = [name for name in network.nodes if key_of(name) not in twins]
    target = max(len(network.nodes[name].commits) for name in honest) + 3
    network.run_until(network.all_committed(target, honest), time_limit_ms=network.now_ms + 120_000)
    assert_safe(network, twins)
    return network


@pytest.mark.parametrize("seed", range(6))
def test_random_schedules_are_safe_and_live_after_healing(seed: int) -> None:
    run_schedule(seed, [("v1", 1), ("v2", 1), ("v3", 1), ("v4", 1)])


@pytest.mark.parametrize("seed", range(3))
def test_random_schedules_with_weighted_validators(seed: int) -> None:
    run_schedule(100 + seed, [("a", 3), ("b", 1), ("c", 1), ("d", 2), ("e", 2)])


@pytest.mark.parametrize("seed", range(3))
def test_random_schedules_with_a_byzantine_twin(seed: int) -> None:
    run_schedule(200 + seed, [("v1", 1), ("v2", 1), ("v3", 1), ("v4", 1)], twins=["v4"])
