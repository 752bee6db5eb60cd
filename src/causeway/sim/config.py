"""What a simulation run looks like: network, faults, workload and when to stop."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from causeway.consensus import Output
from causeway.sim.engines import Engine
from causeway.sim.network import (
    NetworkConfig,
    Partition,
    RandomPartitions,
    RandomRoundPartitions,
    RoundPartition,
)


class CrashPoint(enum.Enum):
    """Where, in the runtime's handling of one Output, a crash strikes."""

    BEFORE_PERSIST = "before-persist"
    BEFORE_SYNC = "after-persist-before-sync"
    BEFORE_SEND = "after-sync-before-send"
    MID_SEND = "mid-send"
    BEFORE_APPLY = "after-send-before-apply"


SIGN_PERSIST_SEND_POINTS = (
    CrashPoint.BEFORE_PERSIST,
    CrashPoint.BEFORE_SYNC,
    CrashPoint.BEFORE_SEND,
    CrashPoint.MID_SEND,
)


# (instance, now_ms, the Output its core just returned) -> where to crash in handling it, or None.
CrashHook = Callable[[str, int, Output], "CrashPoint | None"]


@dataclass(frozen=True, slots=True)
class ScheduledCrash:
    instance: str
    at_ms: int
    restart_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RandomCrashes:
    """Crashes of honest instances at random times until ``until_ms``, each followed by a
    restart; at most ``down_max`` instances are down at once."""

    until_ms: int
    mean_interval_ms: int = 500
    downtime_min_ms: int = 20
    downtime_max_ms: int = 600
    down_max: int = 1


@dataclass(frozen=True, slots=True)
class CrashPointInjection:
    """Crashes inside the handling of an Output: with ``probability`` per eligible Output (one
    with something to persist, send or apply) until ``until_ms``, at one of ``points`` that the
    Output allows, then a restart after a random downtime."""

    probability: float = 0.05
    points: tuple[CrashPoint, ...] = tuple(CrashPoint)
    until_ms: int | None = None
    downtime_min_ms: int = 0
    downtime_max_ms: int = 300
    down_max: int = 1
    # Only Outputs that carry something to persist and something to send.
    signing_outputs_only: bool = True


@dataclass(frozen=True, slots=True)
class ClientWorkload:
    """Sequential clients issuing put/get on a few keys; each operation goes to one up instance,
    whose mempool gossips it, and completes when that instance applies it."""

    clients: int = 3
    keys: tuple[str, ...] = ("x", "y")
    operations_per_client: int = 6
    start_ms: int = 50
    think_min_ms: int = 0
    think_max_ms: int = 150
    timeout_ms: int = 1500
    put_probability: float = 0.5
    # With a heal, each client also issues this many operations after it (so that raft, which
    # builds blocks only for waiting transactions, has something to commit after the heal).
    operations_after_heal: int = 1
    # Exists only to show that the linearizability checker catches stale reads: a get is
    # answered at once from the receiving node's own store instead of through the log.
    unsafe_local_reads: bool = False
    # The instances clients send to; None: any honest instance that is up.
    instances: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    engine: Engine
    validators: int = 4
    # How many validators run as Byzantine twins (two instances sharing one key).
    twins: int = 0
    # Which validators are twinned ("v0", ...); None: `twins` of them chosen from the seed. A
    # twin's second instance is named "<validator>.twin".
    twin_validators: tuple[str, ...] | None = None
    chain_id: str = "sim-chain"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    partitions: tuple[Partition, ...] = ()
    round_partitions: tuple[RoundPartition, ...] = ()
    random_partitions: RandomPartitions | None = None
    random_round_partitions: RandomRoundPartitions | None = None
    # From this time the network is synchronous: partitions (except those that survive the
    # heal) end, nothing is dropped or duplicated, crashed instances restart, faults stop.
    heal_ms: int | None = None
    crashes: tuple[ScheduledCrash, ...] = ()
    random_crashes: RandomCrashes | None = None
    crash_points: CrashPointInjection | None = None
    # A test's own crash decisions, asked for every Output of every instance (before the heal);
    # a crashed instance restarts `crash_hook_downtime_ms` later.
    crash_hook: CrashHook | None = None
    crash_hook_downtime_ms: int = 100
    clients: ClientWorkload | None = None
    # The run ends at duration_ms, or earlier once every instance in `progress_instances` (all
    # honest ones when None) has committed `target_height` and, with a heal, one block after
    # the heal, and the client workload is done.
    duration_ms: int = 10_000
    target_height: int | None = 3
    progress_instances: tuple[str, ...] | None = None
    randomised_signatures: bool = True
    # How often each instance asks a random peer for committed blocks it lacks (the runtime's
    # block sync; used by engines whose ``block_sync`` is true). None turns it off.
    block_sync_interval_ms: int | None = 400
    block_operations_max: int = 8
    # How long building or validating one block takes, in milliseconds (seeded, uniform): the
    # core handles messages and timeouts meanwhile, as the node's does beside its writer.
    execution_ms: tuple[int, int] = (0, 0)
    # Exists only to show that the crash checks catch a runtime that breaks the contract: send
    # an Output's messages before its records are synced (crash points then strike between).
    unsafe_send_before_sync: bool = False
    # A bound on processed events, so that a livelocked core ends the run instead of hanging it.
    events_max: int = 3_000_000
    # The name of a scenario (causeway.sim.scenarios) for the replay command in failures.
    scenario: str | None = None
