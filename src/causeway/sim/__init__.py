"""Deterministic whole-network simulation: pure consensus cores, one seeded process.

See docs/simulation.md. ``Simulation(seed, config).run()`` gives a ``SimulationResult``; the
checkers in ``causeway.sim.checkers`` raise ``SimulationFailure`` naming the seed and the command
that replays it.

Several chains and their relayers: ``causeway.sim.interchain`` (real chains from
``causeway.sim.chain``, seeded faults) and its checkers in ``causeway.sim.interchain_checkers``;
atomic transactions through a hub in ``causeway.sim.interchain_atomic``, their checkers in
``causeway.sim.atomic_checkers``; imported from there, not here, so that the consensus simulation
does not load the executor.
"""

from causeway.sim.application import CommittedBlock, KvOperation, SimApplication
from causeway.sim.checkers import (
    check_all,
    check_evidence,
    check_linearizable,
    check_liveness,
    check_safety,
    check_signatures,
    evidence_problems,
    linearizability_problems,
    liveness_problems,
    progress_latency_ms,
    safety_problems,
    signature_problems,
)
from causeway.sim.config import (
    SIGN_PERSIST_SEND_POINTS,
    ClientWorkload,
    CrashHook,
    CrashPoint,
    CrashPointInjection,
    RandomCrashes,
    ScheduledCrash,
    SimulationConfig,
)
from causeway.sim.cores import RaftEngine, TbftEngine
from causeway.sim.crypto import HmacSigner, HmacVerifier
from causeway.sim.disk import SimulatedDisk
from causeway.sim.engines import Engine, NodeContext
from causeway.sim.history import HistoryOperation
from causeway.sim.linearizability import linearize_register
from causeway.sim.network import (
    NetworkConfig,
    Partition,
    RandomPartitions,
    RandomRoundPartitions,
    RoundPartition,
)
from causeway.sim.simulation import (
    TWIN_SUFFIX,
    Simulation,
    SimulationFailure,
    SimulationResult,
    replay_command,
)
from causeway.sim.twins import StepCut, TwinsRound, TwinsScenario, twins_config, twins_scenarios

__all__ = [
    "SIGN_PERSIST_SEND_POINTS",
    "TWIN_SUFFIX",
    "ClientWorkload",
    "CommittedBlock",
    "CrashHook",
    "CrashPoint",
    "CrashPointInjection",
    "Engine",
    "HistoryOperation",
    "HmacSigner",
    "HmacVerifier",
    "KvOperation",
    "NetworkConfig",
    "NodeContext",
    "Partition",
    "RaftEngine",
    "RandomCrashes",
    "RandomPartitions",
    "RandomRoundPartitions",
    "RoundPartition",
    "ScheduledCrash",
    "SimApplication",
    "SimulatedDisk",
    "Simulation",
    "SimulationConfig",
    "SimulationFailure",
    "SimulationResult",
    "StepCut",
    "TbftEngine",
    "TwinsRound",
    "TwinsScenario",
    "check_all",
    "check_evidence",
    "check_linearizable",
    "check_liveness",
    "check_safety",
    "check_signatures",
    "evidence_problems",
    "linearizability_problems",
    "linearize_register",
    "liveness_problems",
    "progress_latency_ms",
    "replay_command",
    "safety_problems",
    "signature_problems",
    "twins_config",
    "twins_scenarios",
]
