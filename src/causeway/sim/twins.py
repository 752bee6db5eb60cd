"""Twins scenarios, enumerated rather than drawn at random.

Twins (Bano, Sonnino, Chursin, Perelman, Li, Sun, Malkhi: "Twins: BFT systems made robust",
OPODIS 2021) tests a BFT protocol by running each Byzantine validator as two honest instances
that share its key, and by enumerating, round by round, which validator leads and how the
network is partitioned, instead of hoping that random faults hit the few schedules that matter.
This module is that generator for tbft: one height, two rounds, f twins.

* **Leaders**: every ordered pair of distinct validators (as roles: a twin or an honest one)
  leading rounds 0 and 1. The proposer schedule is fixed by the validator set, so the roles are
  mapped onto ids such that the chosen leaders are the scheduled proposers of those rounds (a
  relabelling: which ids are twinned follows from the leaders chosen).
* **Partitions, per round and step.** Tendermint broadcasts its votes, so a partition into
  groups that each hear themselves cannot make one group member learn what another does not:
  the honest members of a group that decides hold f+1 votes, and the rest cannot form a quorum
  without them (no such scenario breaks even a lock-ignoring tbft). The partitions are therefore
  directed cuts, one set per step of round 0:
    - proposal: the next round's leader misses the block (else it would propose it again); with
      an honest leader, alone or together with either instance of the first twin; a twinned
      leader shows its two faces, one block to everyone but the next leader and another to the
      next leader alone;
    - prevote: everyone hears everyone, or each twin's second face shows its prevote to the next
      leader only and its first face to everyone else;
    - precommit: f honest validators other than the next leader (each such set in turn) hear
      every precommit while theirs reach no one, so that they alone can decide;
  and in round 1 no partition, but a twinned leader's second face is silent (it shows one
  block).

Every combination is one scenario; scenarios that give the same run (honest roles are
interchangeable, some cuts coincide) are kept once, numbered in a fixed order: 19 for 4
validators with 1 twin, 88 for 7 with 2. Run with locking disabled
(``unsafe_disable_locking_for_tests``), a validator that precommitted the deciders' block in
round 0 prevotes the new leader's block in round 1, and the safety checker finds two blocks at
height 1 in 15 of the 19 and in all 88 (tests/sim/test_sim_twins.py); with locking on, in none.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from causeway.consensus.tbft import ProposerSelection
from causeway.sim.config import SimulationConfig
from causeway.sim.cores import TbftEngine
from causeway.sim.network import NetworkConfig, RoundPartition
from causeway.sim.simulation import TWIN_SUFFIX as _TWIN_SUFFIX

TWINS_HEIGHT = 1
TWINS_ROUNDS = 2


@dataclass(frozen=True, slots=True)
class StepCut:
    """Links cut for one kind of message of one round: directed (sender, receiver) pairs of
    instances. ``name`` says what the cut does, in the scenario's roles."""

    message_type: str
    name: str
    blocked: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TwinsRound:
    round: int
    leader: str
    cuts: tuple[StepCut, ...]


@dataclass(frozen=True, slots=True)
class TwinsScenario:
    """One enumerated scenario: the twinned validators and, per round, leader and cuts."""

    index: int
    validators: tuple[str, ...]
    twins: tuple[str, ...]
    rounds: tuple[TwinsRound, ...]

    def round_partitions(self) -> tuple[RoundPartition, ...]:
        return tuple(
            RoundPartition(
                TWINS_HEIGHT,
                twins_round.round,
                blocked=cut.blocked,
                message_types=(cut.message_type,),
            )
            for twins_round in self.rounds
            for cut in twins_round.cuts
            if cut.blocked
        )

    def describe(self) -> str:
        parts = [f"twins {','.join(self.twins)}"]
        for twins_round in self.rounds:
            cuts = "; ".join(f"{cut.message_type}: {cut.name}" for cut in twins_round.cuts)
            parts.append(
                f"round {twins_round.round} led by {twins_round.leader}"
                + (f" ({cuts})" if cuts else "")
            )
        return "; ".join(parts)


def _instances_of(validator: str, twins: Sequence[str]) -> tuple[str, ...]:
    return (validator, validator + _TWIN_SUFFIX) if validator in twins else (validator,)


def _relabel(
    roles: Sequence[str], leaders: Sequence[str], validators: Sequence[str]
) -> dict[str, str]:
    """Roles onto validator ids such that leaders[r] is the scheduled proposer of round r."""
    selection = ProposerSelection([(validator, 1) for validator in validators])
    scheduled = [selection.proposer(TWINS_HEIGHT, number) for number in range(len(leaders))]
    mapping = dict(zip(leaders, scheduled, strict=True))
    free = [validator for validator in validators if validator not in scheduled]
    for role in roles:
        if role not in mapping:
            mapping[role] = free.pop(0)
    return mapping


def _cut(message_type: str, name: str, pairs: set[tuple[str, str]]) -> StepCut:
    return StepCut(message_type, name, tuple(sorted(pairs)))


def _deaf(receivers: Sequence[str], instances: Sequence[str]) -> set[tuple[str, str]]:
    """Every link into `receivers` (from anyone: other validators relay proposals too)."""
    return {(s, r) for r in receivers for s in instances if s != r}


def _mute(sender: str, instances: Sequence[str], but: Sequence[str] = ()) -> set[tuple[str, str]]:
    """Every link out of `sender`, except those into `but`."""
    return {(sender, r) for r in instances if r != sender and r not in but}


def _proposal_cuts(
    leader: str, next_leader: str, twinned: Sequence[str], instances: Sequence[str]
) -> list[StepCut]:
    """Round 0's proposal: the next leader must not learn the block (or it re-proposes it)."""
    next_instances = _instances_of(next_leader, twinned)
    if leader in twinned:
        # The Byzantine leader's two faces: one block for everyone but the next leader, another
        # for the next leader alone.
        second_face = leader + _TWIN_SUFFIX
        faces = _deaf(next_instances, instances) - {(second_face, r) for r in next_instances}
        faces |= _mute(second_face, instances, but=next_instances)
        return [_cut("proposal", f"{leader} shows {next_leader} another block", faces)]
    cuts = [_cut("proposal", f"{next_leader} misses it", _deaf(next_instances, instances))]
    if next_leader not in twinned:
        for twin_instance in (twinned[0] + _TWIN_SUFFIX, twinned[0]):
            cuts.append(
                _cut(
                    "proposal",
                    f"{next_leader} and {twin_instance} miss it",
                    _deaf([next_leader, twin_instance], instances),
                )
            )
    return cuts


def _prevote_cuts(
    next_leader: str, twinned: Sequence[str], instances: Sequence[str]
) -> list[StepCut]:
    """Round 0's prevotes: all heard, or each twin's second face shows only the next leader its
    prevote while the first face shows everyone else."""
    next_instances = _instances_of(next_leader, twinned)
    split: set[tuple[str, str]] = set()
    for twin in twinned:
        if twin != next_leader:
            split |= {(twin, r) for r in next_instances}
            split |= _mute(twin + _TWIN_SUFFIX, instances, but=next_instances)
    cuts = [_cut("prevote", "everyone hears everyone", set())]
    if split:
        cuts.append(
            _cut("prevote", f"the twins' second faces' prevotes reach only {next_leader}", split)
        )
    return cuts


def _round_one_cuts(
    next_leader: str, twinned: Sequence[str], instances: Sequence[str]
) -> tuple[StepCut, ...]:
    """Round 1: no partition; a Byzantine leader shows one block (its second face is silent)."""
    if next_leader not in twinned:
        return ()
    silent = next_leader + _TWIN_SUFFIX
    return tuple(
        _cut(message_type, f"{silent} is silent", _mute(silent, instances))
        for message_type in ("proposal", "prevote", "precommit")
    )


@cache
def twins_scenarios(validators: int, twins: int) -> tuple[TwinsScenario, ...]:
    """Every scenario for `validators` validators of which `twins` are twinned, numbered in a
    fixed order: leaders, then the proposal cut, the prevote cut and the deciders."""
    if not 0 < twins <= (validators - 1) // 3:
        raise ValueError("twins must be between 1 and f = (validators - 1) // 3")
    ids = tuple(f"v{index}" for index in range(validators))
    twin_roles = [f"byzantine{index}" for index in range(twins)]
    honest_roles = [f"honest{index}" for index in range(validators - twins)]
    roles = [*twin_roles, *honest_roles]
    scenarios: list[TwinsScenario] = []
    seen: set[tuple[tuple[str, ...], tuple[RoundPartition, ...]]] = set()
    for leaders in itertools.permutations(roles, TWINS_ROUNDS):
        mapping = _relabel(roles, leaders, ids)
        twinned = tuple(sorted(mapping[role] for role in twin_roles))
        instances = [name for validator in ids for name in _instances_of(validator, twinned)]
        leader, next_leader = mapping[leaders[0]], mapping[leaders[1]]
        round_one = TwinsRound(1, next_leader, _round_one_cuts(next_leader, twinned, instances))
        candidates = [mapping[role] for role in honest_roles if mapping[role] != next_leader]
        for proposal_cut, prevote_cut, deciders in itertools.product(
            _proposal_cuts(leader, next_leader, twinned, instances),
            _prevote_cuts(next_leader, twinned, instances),
            itertools.combinations(candidates, twins),
        ):
            # The deciders hear every precommit, and theirs reach no one: f of them, so that
            # the others lack a quorum of precommits without them.
            muted: set[tuple[str, str]] = set()
            for decider in deciders:
                muted |= _mute(decider, instances)
            precommit_cut = _cut(
                "precommit",
                f"{','.join(deciders)} decide{'s' if len(deciders) == 1 else ''} alone",
                muted,
            )
            round_zero = TwinsRound(0, leader, (proposal_cut, prevote_cut, precommit_cut))
            candidate = TwinsScenario(len(scenarios), ids, twinned, (round_zero, round_one))
            # Honest roles are interchangeable, and some cuts coincide: keep one scenario per
            # run (twins and blocked links).
            key = (twinned, candidate.round_partitions())
            if key in seen:
                continue
            seen.add(key)
            scenarios.append(candidate)
    return tuple(scenarios)


TWINS_HEAL_MS = 1200


def twins_config(
    seed: int, validators: int, twins: int, *, locking: bool, scenario: str | None = None
) -> SimulationConfig:
    """The run of scenario number ``seed % count``: seeds beyond the count replay the same
    scenarios with other message delays. No drops, and no block sync (which would hand the
    deciders' block to the others before round 1); the network heals after TWINS_HEAL_MS."""
    enumerated = twins_scenarios(validators, twins)
    chosen = enumerated[seed % len(enumerated)]
    return SimulationConfig(
        engine=TbftEngine(unsafe_disable_locking_for_tests=not locking),
        validators=validators,
        twin_validators=chosen.twins,
        network=NetworkConfig(delay_min_ms=1, delay_max_ms=20),
        round_partitions=chosen.round_partitions(),
        heal_ms=TWINS_HEAL_MS,
        block_sync_interval_ms=None,
        target_height=2,
        duration_ms=TWINS_HEAL_MS + 3000,
        scenario=scenario,
    )
