"""The multi-chain simulator (causeway.sim.interchain): seed sweeps of every scenario, each fault
shown to do what it must, the checker canary, a hub with 20 members, determinism, bounds.

Seeds: ``--sim-seeds N`` / ``CAUSEWAY_SIM_SEEDS=N`` runs N per sweep, ``CAUSEWAY_SIM_SEED=S``
replays one (what a failure prints); offline: ``python -m causeway.sim interchain --seeds N``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
from sim_support import FAILING_SEEDS_SHOWN, SeedPlan, assert_interchain_sweep_passes

from causeway.consensus.engines import IDLE_BLOCK_INTERVAL_MS
from causeway.errors import RequestError
from causeway.interchain.keys import CLIENTS_NAMESPACE
from causeway.interchain.v1 import interchain_pb2
from causeway.sim import SimulationFailure
from causeway.sim.interchain import (
    ANSWERS_KEPT_MAX,
    CHAIN_BLOCKS_MAX,
    CHAINS_MAX,
    CLOCK_DRIFT_MS,
    HUB_MEMBERS,
    INTERCHAIN_SCENARIOS,
    PACKETS_MAX,
    SKEW_MAX_MS,
    SOLO_SHARE,
    TRUSTING_PERIOD_MS,
    ChainSpec,
    InterchainConfig,
    InterchainFaults,
    InterchainResult,
    InterchainSimulation,
    hub_costs,
    solo_spec,
)
from causeway.sim.interchain_checkers import check_interchain, ending_problems
from causeway.types.v1 import types_pb2

MIXED_SEEDS = 500
TWIN_FORK_SEEDS = 16
PARTITION_SEEDS = 8
BYZANTINE_SEEDS = 16
CANARY_SEEDS = 12
WORKERS_ENVIRONMENT = "CAUSEWAY_SIM_WORKERS"


def _sweep(name: str, seeds: list[int]) -> list[InterchainResult]:
    """Runs and checks every seed; fails with the first failure (its seed and replay command)
    and the other failing seeds."""
    scenario = INTERCHAIN_SCENARIOS[name]
    results: list[InterchainResult] = []
    failures: list[tuple[int, SimulationFailure]] = []
    for seed in seeds:
        result = scenario.run(seed)
        try:
            check_interchain(result)
        except SimulationFailure as failure:
            failures.append((seed, failure))
        results.append(result)
    if failures:
        others = [seed for seed, _ in failures[1 : FAILING_SEEDS_SHOWN + 1]]
        more = f"\nother failing seeds: {others}" if others else ""
        raise AssertionError(
            f"interchain {name}: {len(failures)} of {len(seeds)} seeds fail\n{failures[0][1]}{more}"
        ) from failures[0][1]
    return results


def _events(result: InterchainResult, name: str) -> Iterator[tuple[str, dict[str, str]]]:
    for chain_id, chain in result.chains.items():
        for committed in chain.blocks.values():
            for transaction_result in committed.results:
                for event in transaction_result.events:
                    if event.name == name:
                        yield chain_id, {a.key: a.value for a in event.attributes}


def _workers() -> int:
    """Worker processes for the long sweep: CAUSEWAY_SIM_WORKERS, else up to two cores."""
    configured = os.environ.get(WORKERS_ENVIRONMENT, "").strip()
    return int(configured) if configured else min(2, os.cpu_count() or 1)


# About 30 s on two free cores; a loaded shared machine may take several times that.
@pytest.mark.timeout(900)
def test_every_packet_ends_exactly_once_under_mixed_faults(seed_plan: SeedPlan) -> None:
    """The CI sweep: two chains (intl, one seed in five gm; tbft, raft or, one seed in eight,
    solo) with every fault drawn from the seed; every checker passes on every seed (run over up
    to two processes)."""
    seeds = seed_plan.seeds(MIXED_SEEDS)
    assert_interchain_sweep_passes("mixed", seeds, _workers())
    if len(seeds) >= 100:
        # The sweep's seeds draw every fault, and gm chains.
        configs = [INTERCHAIN_SCENARIOS["mixed"].config(seed) for seed in seeds]
        for fault in (
            "halt",
            "skew",
            "validator_change",
            "byzantine_relayer",
            "twin_fork",
            "partition",
        ):
            assert any(getattr(config.faults, fault) for config in configs), fault
        assert any(config.faults.crash_probability for config in configs)
        assert any(config.faults.duplicate_probability for config in configs)
        assert any(config.faults.delay_probability for config in configs)
        assert any(config.faults.relayers_per_link > 1 for config in configs)
        assert any(spec.profile == "gm" for config in configs for spec in config.chains)
        solo = sum(config.chains[1].consensus == "solo" for config in configs)
        assert SOLO_SHARE / 2 < solo / len(configs) < SOLO_SHARE * 2, solo


def _solo_seed() -> int:
    """The first seed of the mixed scenario whose second chain is solo and whose relayers are
    never cut off (a partition may leave no packet to deliver)."""
    scenario = INTERCHAIN_SCENARIOS["mixed"]
    return next(
        seed
        for seed in range(1_000)
        if scenario.config(seed).chains[1].consensus == "solo"
        and not scenario.config(seed).faults.partition
    )


def test_a_solo_chain_seed_runs_clean_with_packets_relayed_both_ways() -> None:
    """A mixed seed whose second chain is solo: every checker passes, packets are received and
    acknowledged on both chains, the tbft chain's client of the solo chain accepts its single
    signer, and every solo block carries one transaction or more, or is an idle heartbeat (a
    solo node makes an empty block only when it has made none for IDLE_BLOCK_INTERVAL_MS),
    certified by its one validator."""
    seed = _solo_seed()
    result = _sweep("mixed", [seed])[0]
    solo = result.chains["chain-b"]
    assert solo.consensus == "solo"
    for name in ("receive_packet", "acknowledge_packet"):
        chains = Counter(chain_id for chain_id, _ in _events(result, name))
        assert chains["chain-a"] > 0 and chains["chain-b"] > 0, (seed, name, chains)
    link = result.links[0]
    client = interchain_pb2.ClientsGetResult.FromString(
        result.chains["chain-a"]
        .query("clients", "get", interchain_pb2.ClientsGetArguments(client_id=link.a_client))
        .return_value
    )
    assert (client.client.consensus, client.client.single_signer_accepted) == ("solo", True)
    # The setup's first block (empty, on every chain at once) is the simulator's, not solo's.
    heartbeats = [
        height
        for height, committed in solo.blocks.items()
        if height > 1 and not committed.header.transaction_count
    ]
    assert all(
        solo.blocks[height].header.time_ms - solo.blocks[height - 1].header.time_ms
        >= IDLE_BLOCK_INTERVAL_MS
        for height in heartbeats
    ), heartbeats
    assert all(
        [entry.validator for entry in solo.certificate(height).signatures] == ["org1/node1"]
        for height in solo.blocks
    )


def test_a_client_of_a_solo_chain_without_a_single_signer_accepted_is_refused() -> None:
    """Governance creating a client of a solo chain without accepting its single signer: the
    creation fails with the reason, and the chain holds no client."""
    config = InterchainConfig(
        chains=(ChainSpec("chain-a"), solo_spec("chain-b")),
        links=((0, 1),),
        solo_single_signer_accepted=False,
    )
    simulation = InterchainSimulation(0, config)
    with pytest.raises(
        RequestError,
        match=r"INVALID_ARGUMENT: chain chain-b runs solo consensus, whose one validator signs "
        r"alone: governance must accept a single signer \(single_signer_accepted\)",
    ):
        simulation.run()
    home = simulation.chains["chain-a"]
    assert home.height == 2  # the setup's empty block, then the refused creation
    assert [key for key in home.state if key.startswith(CLIENTS_NAMESPACE)] == []
    listed = interchain_pb2.ClientsListResult.FromString(
        home.query("clients", "list", interchain_pb2.ClientsListArguments()).return_value
    )
    assert list(listed.clients) == []


def test_a_link_to_an_idle_solo_chain_stays_alive_past_the_trusting_period() -> None:
    """docs/interchain.md: a relayer refreshes a client on a quiet link so that it never
    expires. It holds against a tbft chain, and against an idle solo chain too: with no
    transaction in three trusting periods, its idle heartbeat blocks (one every
    IDLE_BLOCK_INTERVAL_MS) give the relayer newer headers to refresh the client with."""
    for second in (ChainSpec("chain-b"), solo_spec("chain-b")):
        config = InterchainConfig(
            chains=(ChainSpec("chain-a"), second),
            links=((0, 1),),
            packets=0,
            send_window_ms=3 * TRUSTING_PERIOD_MS,
        )
        simulation = InterchainSimulation(0, config)
        result = simulation.run()
        assert result.end_ms >= 3 * TRUSTING_PERIOD_MS
        status = simulation.latest_client(result.chains["chain-a"], result.links[0].a_client)
        assert status.status == "active", (second.consensus, status.status)
        if second.consensus == "solo":
            chain = result.chains["chain-b"]
            # Not vacuous: the solo chain had nothing but heartbeats and the relayer's updates
            # of its client of chain-a to commit, and made blocks throughout.
            assert chain.height >= 3 * TRUSTING_PERIOD_MS // IDLE_BLOCK_INTERVAL_MS // 2
            assert any(
                committed.header.transaction_count == 0
                for height, committed in chain.blocks.items()
                if height > 1
            )


def test_twins_signing_a_fork_freeze_the_client_until_governance_recovers_it(
    seed_plan: SeedPlan,
) -> None:
    for result in _sweep("twin-fork", seed_plan.seeds(TWIN_FORK_SEEDS)):
        frozen = list(_events(result, "client_frozen"))
        assert frozen, f"seed {result.seed}: no client froze"
        assert all(a["reason"] == "two headers for one height" for _, a in frozen)
        assert list(_events(result, "recover_client")), f"seed {result.seed}: never recovered"


def test_a_partition_past_the_trusting_period_expires_clients_and_governance_recovers_them(
    seed_plan: SeedPlan,
) -> None:
    for result in _sweep("partition", seed_plan.seeds(PARTITION_SEEDS)):
        assert result.statistics["unreachable_rounds"] > 0
        recovered = {
            (chain_id, a["client_id"]) for chain_id, a in _events(result, "recover_client")
        }
        # Both ends of the link expired: both were recovered, and packets flowed after.
        assert len(recovered) == 2, (result.seed, recovered)
        assert list(_events(result, "acknowledge_packet")) or list(
            _events(result, "timeout_packet")
        )


def test_forged_headers_proofs_and_packet_data_are_refused(seed_plan: SeedPlan) -> None:
    outcomes: Counter[str] = Counter()
    for result in _sweep("byzantine", seed_plan.seeds(BYZANTINE_SEEDS)):
        for record in result.blocks:
            for transaction_result, origin in zip(record.results, record.origins, strict=True):
                if not origin.startswith("byzantine:"):
                    continue
                if transaction_result.status != types_pb2.RESULT_STATUS_OK:
                    outcomes[f"{origin} refused"] += 1
                    continue
                relayed = interchain_pb2.PacketsRelayResult.FromString(
                    transaction_result.return_value
                )
                for outcome in relayed.outcomes:
                    outcomes[f"{origin} {outcome.split(':')[0]}"] += 1
    if seed_plan.only is None:
        # Each kind was tried and refused at least once (a forged delivery fails inside its
        # relay transaction, which succeeds with the genuine update it carries).
        for kind in ("header-foreign-keys", "header-minority-resigned"):
            assert outcomes[f"byzantine:{kind} refused"] > 0, outcomes
        for kind in ("proof-of-another-key", "proof-of-another-height", "changed-payload"):
            assert outcomes[f"byzantine:{kind} failed"] > 0, outcomes


def test_checker_canary_a_skipped_receipt_check_is_caught_with_its_seed(
    seed_plan: SeedPlan,
) -> None:
    """The packets contract with its receipt rule broken (unsafe_skip_receipt_check) under
    racing, duplicating relayers: the checkers must report double receives, naming the seed and
    the command that replays it."""
    scenario = INTERCHAIN_SCENARIOS["canary"]
    seeds = seed_plan.seeds(CANARY_SEEDS)
    caught = 0
    for seed in seeds:
        result = scenario.run(seed)
        assert result.config.unsafe_skip_receipt_check
        try:
            check_interchain(result)
        except SimulationFailure as failure:
            caught += 1
            message = str(failure)
            assert "received more than once" in message
            assert f"seed: {seed} (scenario canary)" in message
            assert "replay: " in message
            assert f"CAUSEWAY_SIM_SEED={seed}" in message  # under pytest: this test, that seed
    assert caught * 2 > len(seeds), f"the canary was caught in only {caught} of {len(seeds)}"


def test_the_receipt_rule_is_never_broken_by_default() -> None:
    assert not InterchainConfig(
        chains=(ChainSpec("a"), ChainSpec("b")), links=((0, 1),)
    ).unsafe_skip_receipt_check
    for name, scenario in INTERCHAIN_SCENARIOS.items():
        assert scenario.config(0).unsafe_skip_receipt_check == (name == "canary")


def test_twenty_chains_behind_one_hub() -> None:
    """The scale run: a hub and 20 members linked to it directly (routing between members
    through the hub has not landed), registered in the hub's registry; every check passes and
    the hub's costs per packet and per client update are measured."""
    result = _sweep("hub-20", [0])[0]
    assert len(result.chains) == HUB_MEMBERS + 1 == 21
    hub = result.chains["hub"]
    listed = interchain_pb2.HubListResult.FromString(
        hub.query("hub", "list", interchain_pb2.HubListArguments(limit=100)).return_value
    )
    assert len(listed.members) == HUB_MEMBERS
    costs = hub_costs(result, "hub")
    assert costs.receives > 0 and costs.acknowledgements > 0 and costs.updates > 0
    # Gas is deterministic; wall time is measured too, but is no test's business (benchmarks).
    assert costs.gas_per_update > costs.gas_per_receive > 0


def test_same_seed_same_trace_in_other_processes() -> None:
    seeds = (0, 5)
    here = [INTERCHAIN_SCENARIOS["mixed"].run(seed).trace_hash for seed in seeds]
    assert here == [INTERCHAIN_SCENARIOS["mixed"].run(seed).trace_hash for seed in seeds]
    assert here[0] != here[1]
    program = (
        "from causeway.sim.interchain import INTERCHAIN_SCENARIOS as S\n"
        f"print(' '.join(S['mixed'].run(seed).trace_hash for seed in {seeds!r}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", program],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    ).stdout.split()
    assert output == here


def test_a_run_that_cannot_settle_stops_at_the_block_bound_and_names_the_stuck_packets() -> None:
    """No relayer: nothing is delivered, the run stops when a chain reaches CHAIN_BLOCKS_MAX
    (no block past it), and the liveness check names every packet still in flight."""
    config = InterchainConfig(
        chains=(ChainSpec("chain-a"), ChainSpec("chain-b")),
        links=((0, 1),),
        faults=InterchainFaults(relayers_per_link=0),
        packets=2,
        transfer_share=0.0,
        timeout_after_ms=(600_000, 600_000),
    )
    result = InterchainSimulation(1, config).run()
    assert max(chain.height for chain in result.chains.values()) == CHAIN_BLOCKS_MAX
    problems = ending_problems(result)
    assert len(problems) == 2
    assert all("never ended" in problem for problem in problems)


def test_a_run_holds_at_most_chains_max_chains() -> None:
    specs = tuple(ChainSpec(f"c{index}") for index in range(CHAINS_MAX + 1))
    InterchainConfig(chains=specs[:CHAINS_MAX], links=((0, 1),))
    with pytest.raises(ValueError, match=f"2 to {CHAINS_MAX} chains, not {CHAINS_MAX + 1}"):
        InterchainConfig(chains=specs, links=((0, 1),))


def test_a_run_sends_at_most_packets_max_packets() -> None:
    chains = (ChainSpec("a"), ChainSpec("b"))
    InterchainConfig(chains=chains, links=((0, 1),), packets=PACKETS_MAX)
    with pytest.raises(ValueError, match=f"0 to {PACKETS_MAX} packets, not {PACKETS_MAX + 1}"):
        InterchainConfig(chains=chains, links=((0, 1),), packets=PACKETS_MAX + 1)


def test_chain_clocks_stay_within_the_skew_bound_and_the_clients_drift() -> None:
    assert 2 * SKEW_MAX_MS < CLOCK_DRIFT_MS
    seen: list[int] = []
    for seed in range(6):
        simulation = InterchainSimulation(seed, INTERCHAIN_SCENARIOS["partition"].config(seed))
        simulation.run()
        seen.extend(simulation.skew_ms.values())
    assert all(-SKEW_MAX_MS <= skew <= SKEW_MAX_MS for skew in seen)
    assert any(skew != 0 for skew in seen)


def test_query_answers_are_kept_up_to_the_bound_then_started_again() -> None:
    config = InterchainConfig(
        chains=(ChainSpec("chain-a"), ChainSpec("chain-b")), links=((0, 1),), packets=0
    )
    simulation = InterchainSimulation(0, config)
    simulation.run()
    chain = simulation.chains["chain-a"]
    arguments = interchain_pb2.ClientsGetArguments(client_id=simulation.links[0].a_client)
    simulation._answers.clear()
    for number in range(ANSWERS_KEPT_MAX - 1):
        simulation._answers[("filler", number, "", "", b"")] = b""
    simulation.query(chain, "clients", "get", arguments)
    assert len(simulation._answers) == ANSWERS_KEPT_MAX
    other = interchain_pb2.ClientsGetArguments(client_id=simulation.links[0].a_client + "0")
    with pytest.raises(RequestError):
        simulation.query(chain, "clients", "get", other)  # no such client: nothing kept
    simulation.query(chain, "clients", "list", interchain_pb2.ClientsListArguments())
    assert len(simulation._answers) == 1
