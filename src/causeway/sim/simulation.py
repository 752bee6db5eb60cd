"""One network in one process: pure consensus cores over a seeded clock, network and disks.

The clock is an integer of milliseconds that jumps to the next event. Events are message
deliveries, core deadlines (``next_deadline_ms``, which the driver turns into ``tick`` calls),
partition changes, crashes and restarts, and client operations; they are ordered by (time,
sequence), so a run is a function of its seed and configuration alone.

Each instance has a driver that does what the node runtime does with an ``Output``, in the order
``causeway.consensus.ordering.ordered_steps`` gives (the node's driver walks the same list): write
``persist`` to its disk and sync it, then send; then, as the node does beside its core, the
application's work goes to the instance's execution lane, one job at a time and in order: apply
a commit (append it to the block store and execute it on the key-value store), build a block
(``Output.build``, answered with ``block_built``) or validate one (``Output.validate``, answered
with ``block_validated``). Each job takes a seeded time (``SimulationConfig.execution_ms``)
during which the core goes on handling messages and timeouts. Crash points can interrupt that
sequence anywhere; a crash empties the lane (what it held was in memory).
"""

from __future__ import annotations

import os
import shlex
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from causeway.consensus import (
    ApplicationStep,
    ApplyCommit,
    BuildBlock,
    Commit,
    ConsensusCore,
    Output,
    Persist,
    ReportEvidence,
    Send,
    ValidateBlock,
    ordered_steps,
)
from causeway.consensus.engines import COMMITS_BEHIND_MAX, HELD_MESSAGES_MAX
from causeway.consensus.engines import Engine as RunningEngine
from causeway.consensus.v1 import consensus_pb2
from causeway.sim.application import CommittedBlock, KvOperation, SimApplication
from causeway.sim.config import ClientWorkload, CrashPoint, SimulationConfig
from causeway.sim.crypto import HmacSigner, HmacVerifier, validator_secret
from causeway.sim.disk import SimulatedDisk
from causeway.sim.engines import NodeContext
from causeway.sim.events import EventQueue
from causeway.sim.history import HistoryOperation
from causeway.sim.ledger import SignatureLedger
from causeway.sim.network import (
    LinkState,
    Partition,
    RoundPartition,
    generate_partitions,
    generate_round_partitions,
    message_scope,
)
from causeway.sim.randomness import RandomSource
from causeway.sim.trace import Trace
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

MESSAGE_BYTES_MAX = 4 * 1024 * 1024
SYNC_BLOCKS_MAX = 16
CLIENT_RETRY_MS = 50
TWIN_SUFFIX = ".twin"


class SimulationFailure(AssertionError):  # noqa: N818 (pytest shows it as a failed check)
    """A check failed; the message names the seed and the command that replays it."""


def replay_command(seed: int, scenario: str | None = None) -> str:
    """The command that replays one seed: the current pytest test when run under pytest."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if current:
        node_id = current.rsplit(" ", 1)[0]
        return f"CAUSEWAY_SIM_SEED={seed} .venv/bin/pytest -W error {shlex.quote(node_id)}"
    if scenario:
        return f".venv/bin/python -m causeway.sim replay {scenario} --seed {seed}"
    return f"Simulation(seed={seed}, config).run()"


# --- events ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Deliver:
    receiver: str
    sender: str
    sender_validator: str
    data: bytes


@dataclass(slots=True)
class Tick:
    instance: str
    token: int


@dataclass(slots=True)
class CrashNow:
    instance: str
    restart_at_ms: int | None
    reason: str


@dataclass(slots=True)
class RestartNow:
    instance: str


@dataclass(slots=True)
class PartitionStart:
    partition: Partition


@dataclass(slots=True)
class PartitionEnd:
    partition: Partition


@dataclass(slots=True)
class Heal:
    pass


@dataclass(slots=True)
class RandomCrash:
    pass


@dataclass(slots=True)
class ClientStep:
    client: int


@dataclass(slots=True)
class ClientTimeout:
    client: int
    operation_id: str


@dataclass(slots=True)
class GossipArrive:
    receiver: str
    operation: KvOperation


@dataclass(slots=True)
class SyncRequest:
    instance: str


@dataclass(slots=True)
class SyncServe:
    server: str
    requester: str
    from_height: int


@dataclass(slots=True)
class SyncArrive:
    requester: str
    server: str
    blocks: tuple[tuple[bytes, bytes], ...]


@dataclass(slots=True)
class LaneDone:
    """The job at the head of an instance's execution lane is done."""

    instance: str
    token: int


@dataclass(slots=True)
class Hook:
    action: Callable[[Simulation], None]


Event = (
    Deliver
    | Tick
    | CrashNow
    | RestartNow
    | PartitionStart
    | PartitionEnd
    | Heal
    | RandomCrash
    | ClientStep
    | ClientTimeout
    | GossipArrive
    | SyncRequest
    | SyncServe
    | SyncArrive
    | LaneDone
    | Hook
)


# --- instances and results --------------------------------------------------------------------


@dataclass(slots=True)
class Instance:
    """One process: a core, its driver's disk and its application. A twin is two of these with
    one validator id."""

    name: str
    validator_id: str
    honest: bool
    disk: SimulatedDisk
    app: SimApplication
    verifier: HmacVerifier
    core: ConsensusCore | None = None
    # The adapter of the engine (consensus.engines) that holds `core`, as the node's driver has.
    engine: RunningEngine | None = None
    context: NodeContext | None = None
    incarnation: int = 0
    tick_token: int = 0
    tick_due_ms: int | None = None
    committed_this_life: set[int] = field(default_factory=set)
    crashes: int = 0
    # The application's work, done one job at a time beside the core (the node's writer).
    lane: deque[ApplicationStep] = field(default_factory=deque)
    lane_busy: bool = False
    lane_token: int = 0
    # Messages held back while the instance is behind with its writes (the node's driver does
    # the same): (sender instance, sender validator, encoded message).
    held: deque[tuple[str, str, bytes]] = field(default_factory=deque)

    @property
    def up(self) -> bool:
        return self.core is not None


@dataclass(slots=True)
class Statistics:
    events: int = 0
    messages_sent: int = 0
    messages_delivered: int = 0
    messages_dropped: int = 0
    messages_blocked: int = 0
    messages_duplicated: int = 0
    messages_to_down_instances: int = 0
    ticks: int = 0
    commits: int = 0
    recommits: int = 0
    crashes: int = 0
    crash_points: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    evidence: int = 0
    synced_blocks: int = 0
    sync_refused: int = 0
    blocks_built: int = 0
    blocks_validated: int = 0
    messages_held: int = 0


@dataclass(slots=True)
class CommitRecord:
    time_ms: int
    instance: str
    incarnation: int
    height: int
    block_hash: bytes


@dataclass(slots=True)
class ClientState:
    name: str
    issued: int = 0
    issued_after_heal: int = 0
    current: HistoryOperation | None = None
    done: bool = False


@dataclass(slots=True)
class SimulationResult:
    seed: int
    config: SimulationConfig
    trace_hash: str
    end_ms: int
    stopped_early: bool
    validators: tuple[str, ...]
    byzantine_validators: tuple[str, ...]
    instances: dict[str, Instance]
    commits: list[CommitRecord]
    anomalies: list[tuple[str, str]]
    evidence: list[tuple[int, str, consensus_pb2.DuplicateVoteEvidence]]
    ledger: SignatureLedger
    history: list[HistoryOperation]
    statistics: Statistics
    partitions: list[Partition]
    round_partitions: list[RoundPartition]

    @property
    def honest_instances(self) -> list[str]:
        return [name for name, instance in self.instances.items() if instance.honest]

    def chain(self, instance: str) -> list[CommittedBlock]:
        return self.instances[instance].app.chain

    def replay(self) -> str:
        return replay_command(self.seed, self.config.scenario)

    def fail(self, problem: str) -> SimulationFailure:
        return SimulationFailure(
            f"{problem}\n  seed: {self.seed}"
            f"{f' (scenario {self.config.scenario})' if self.config.scenario else ''}\n"
            f"  replay: {self.replay()}"
        )


class Simulation:
    """Runs one configuration under one seed: ``Simulation(seed, config).run()``."""

    def __init__(self, seed: int, config: SimulationConfig) -> None:
        self.seed = seed
        self.config = config
        self.random = RandomSource(seed)
        self._network_random = self.random.derive("network")
        self._fault_random = self.random.derive("faults")
        self._client_random = self.random.derive("clients")
        self._sync_random = self.random.derive("block-sync")
        self._lane_random = self.random.derive("execution")
        self.now_ms = 0
        self.trace = Trace()
        self.statistics = Statistics()
        self.queue: EventQueue[Event] = EventQueue()
        self.validators = tuple(f"v{index}" for index in range(config.validators))
        if config.twin_validators is not None:
            self.byzantine_validators = tuple(
                v for v in self.validators if v in config.twin_validators
            )
        else:
            twinned = sorted(
                self.random.derive("twins").sample(range(config.validators), config.twins)
            )
            self.byzantine_validators = tuple(self.validators[index] for index in twinned)
        self.twin_pairs: list[tuple[str, str]] = [
            (validator, validator + TWIN_SUFFIX) for validator in self.byzantine_validators
        ]
        key_material = self.random.derive_bytes("keys")
        secrets = {v: validator_secret(key_material, v) for v in self.validators}
        self._secrets = secrets
        self.instances: dict[str, Instance] = {}
        names: list[tuple[str, str]] = []
        for validator in self.validators:
            names.append((validator, validator))
            if validator in self.byzantine_validators:
                names.append((validator + TWIN_SUFFIX, validator))
        for name, validator in names:
            self.instances[name] = Instance(
                name=name,
                validator_id=validator,
                honest=validator not in self.byzantine_validators,
                disk=SimulatedDisk(),
                app=SimApplication(
                    name,
                    config.chain_id,
                    self.validators,
                    block_operations_max=config.block_operations_max,
                ),
                verifier=HmacVerifier(secrets),
            )
        self.instance_names = tuple(self.instances)
        self._instances_of: dict[str, list[Instance]] = {}
        for instance in self.instances.values():
            self._instances_of.setdefault(instance.validator_id, []).append(instance)
        self.links = LinkState(self.instance_names)
        self.healed = False
        self.partitions: list[Partition] = list(config.partitions)
        if config.random_partitions is not None:
            self.partitions += generate_partitions(
                self.random.derive("partitions"),
                config.random_partitions,
                self.instance_names,
                self.twin_pairs,
            )
        self.round_partitions: list[RoundPartition] = list(config.round_partitions)
        if config.random_round_partitions is not None:
            self.round_partitions += generate_round_partitions(
                self.random.derive("round-partitions"),
                config.random_round_partitions,
                self.instance_names,
                self.twin_pairs,
            )
        self._round_blocks: dict[
            tuple[int | None, int | None], list[tuple[RoundPartition, frozenset[tuple[str, str]]]]
        ] = {}
        for round_partition in self.round_partitions:
            self._round_blocks.setdefault(
                (round_partition.height, round_partition.round), []
            ).append((round_partition, round_partition.blocked_pairs(self.instance_names)))
        self.ledger = SignatureLedger(self.instances[self.instance_names[0]].app.block_hash)
        self.commits: list[CommitRecord] = []
        self.anomalies: list[tuple[str, str]] = []
        self.evidence: list[tuple[int, str, consensus_pb2.DuplicateVoteEvidence]] = []
        self.history: list[HistoryOperation] = []
        self._pending_operations: dict[str, tuple[int, HistoryOperation]] = {}
        self.clients: list[ClientState] = []
        if config.clients is not None:
            self.clients = [ClientState(f"c{index}") for index in range(config.clients.clients)]
        honest = [name for name, instance in self.instances.items() if instance.honest]
        self.progress_instances = (
            tuple(config.progress_instances)
            if config.progress_instances is not None
            else tuple(honest)
        )
        self._stopped = False
        self._started = False
        # The highest height any honest instance had committed when the network healed.
        self.height_at_heal = 0

    # --- public control ---------------------------------------------------------------------

    def schedule(self, at_ms: int, action: Callable[[Simulation], None]) -> None:
        """Runs ``action(simulation)`` at ``at_ms`` (a test's own fault or probe)."""
        self.queue.push(at_ms, Hook(action))

    def crash(self, instance: str, restart_at_ms: int | None = None, reason: str = "crash") -> None:
        """Crashes an instance now: the core's memory and the disk's unsynced writes are lost."""
        self._crash(self.instances[instance], reason)
        if restart_at_ms is not None:
            self.queue.push(max(restart_at_ms, self.now_ms), RestartNow(instance))

    def restart(self, instance: str) -> None:
        """Restarts a crashed instance from its durable records."""
        self._restart(self.instances[instance])

    def stop(self) -> None:
        self._stopped = True

    def run(self) -> SimulationResult:
        if self._started:
            raise RuntimeError("a Simulation runs once")
        self._started = True
        config = self.config
        for partition in sorted(self.partitions, key=lambda p: p.start_ms):
            if partition.start_ms <= 0:
                # In force before the first core starts, so its first messages obey it too.
                self.links.active.append(partition)
                self.trace.record("partition-start", 0, partition.describe())
            else:
                self.queue.push(partition.start_ms, PartitionStart(partition))
            if partition.end_ms is not None:
                self.queue.push(partition.end_ms, PartitionEnd(partition))
        self.links.recompute()
        for crash in config.crashes:
            self.queue.push(crash.at_ms, CrashNow(crash.instance, crash.restart_at_ms, "scheduled"))
        if config.random_crashes is not None:
            self._schedule_random_crash()
        if config.heal_ms is not None:
            self.queue.push(config.heal_ms, Heal())
        if config.clients is not None:
            for index in range(len(self.clients)):
                self.queue.push(
                    config.clients.start_ms + self._think_ms(config.clients), ClientStep(index)
                )
        for instance in self.instances.values():
            self._start_fresh(instance)
        for name in self.instance_names:
            self._schedule_sync(name, first=True)
        stopped_early = False
        while self.queue and not self._stopped:
            time_ms = self.queue.peek_time_ms()
            assert time_ms is not None
            if time_ms > config.duration_ms:
                break
            if self.statistics.events >= config.events_max:
                raise self._failure(
                    f"the run did not end within {config.events_max} events (a livelocked core?)"
                )
            time_ms, event = self.queue.pop()
            self.now_ms = time_ms
            self.statistics.events += 1
            self._dispatch(event)
            if self._progress_done():
                stopped_early = True
                break
        if self._stopped:
            stopped_early = True
        if not stopped_early:
            self.now_ms = max(self.now_ms, config.duration_ms)
        self.trace.record("end", self.now_ms)
        return SimulationResult(
            seed=self.seed,
            config=config,
            trace_hash=self.trace.digest,
            end_ms=self.now_ms,
            stopped_early=stopped_early,
            validators=self.validators,
            byzantine_validators=self.byzantine_validators,
            instances=self.instances,
            commits=self.commits,
            anomalies=self.anomalies,
            evidence=self.evidence,
            ledger=self.ledger,
            history=self.history,
            statistics=self.statistics,
            partitions=self.partitions,
            round_partitions=self.round_partitions,
        )

    # --- the event loop ---------------------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Deliver):
            self._deliver(event)
        elif isinstance(event, Tick):
            self._tick(event)
        elif isinstance(event, CrashNow):
            self._crash_event(event)
        elif isinstance(event, RestartNow):
            self._restart(self.instances[event.instance])
        elif isinstance(event, PartitionStart):
            if not self.healed or event.partition.survives_heal:
                self.trace.record("partition-start", self.now_ms, event.partition.describe())
                self.links.active.append(event.partition)
                self.links.recompute()
        elif isinstance(event, PartitionEnd):
            if event.partition in self.links.active:
                self.trace.record("partition-end", self.now_ms, event.partition.describe())
                self.links.active.remove(event.partition)
                self.links.recompute()
        elif isinstance(event, Heal):
            self._heal()
        elif isinstance(event, RandomCrash):
            self._random_crash()
        elif isinstance(event, ClientStep):
            self._client_step(event.client)
        elif isinstance(event, ClientTimeout):
            self._client_timeout(event)
        elif isinstance(event, GossipArrive):
            self._gossip_arrive(event)
        elif isinstance(event, SyncRequest):
            self._sync_request(event)
        elif isinstance(event, SyncServe):
            self._sync_serve(event)
        elif isinstance(event, SyncArrive):
            self._sync_arrive(event)
        elif isinstance(event, LaneDone):
            self._lane_done(event)
        else:
            event.action(self)

    def _failure(self, problem: str) -> SimulationFailure:
        return SimulationFailure(
            f"{problem}\n  at {self.now_ms}ms\n  seed: {self.seed}\n"
            f"  replay: {replay_command(self.seed, self.config.scenario)}"
        )

    def _progress_done(self) -> bool:
        config = self.config
        if config.target_height is None and config.heal_ms is None and not self.clients:
            return False
        if config.heal_ms is not None and not self.healed:
            return False
        for name in self.progress_instances:
            app = self.instances[name].app
            if config.target_height is not None and app.height < config.target_height:
                return False
            if config.heal_ms is not None and app.height <= self.height_at_heal:
                return False
        return all(client.done for client in self.clients)

    # --- cores ------------------------------------------------------------------------------

    def _context(self, instance: Instance) -> NodeContext:
        chain = instance.app.chain
        lifetime = f"{instance.name}:{instance.incarnation}"
        return NodeContext(
            chain_id=self.config.chain_id,
            instance=instance.name,
            validator_id=instance.validator_id,
            validators=self.validators,
            signer=HmacSigner(
                instance.validator_id,
                self._secrets[instance.validator_id],
                self.random.derive("nonces:" + lifetime),
                randomised=self.config.randomised_signatures,
            ),
            verifier=instance.verifier,
            application=instance.app,
            random=self.random.derive("core:" + lifetime),
            last_committed_height=len(chain),
            last_committed_hash=chain[-1].block_hash if chain else b"",
            now_ms=self.now_ms,
        )

    def _core_call(self, instance: Instance, what: str, call: Callable[[], Output]) -> None:
        instance.app.set_clock(self.now_ms)
        core = instance.core
        try:
            output = call()
            if what != "propose" and core is not None:
                # As the node's driver: whenever transactions wait, the core may ask for a block.
                waiting = instance.app.transactions_waiting()
                if waiting:
                    output.extend(core.propose(self.now_ms, waiting))
        except SimulationFailure:
            raise
        except Exception as error:
            raise self._failure(
                f"the core of {instance.name} raised {error!r} in {what}"
            ) from error
        self._perform(instance, output)
        self._reschedule(instance, after_tick=what == "tick")

    def _start_fresh(self, instance: Instance) -> None:
        context = self._context(instance)
        instance.context = context
        engine = self.config.engine.create(context)
        instance.engine = engine
        instance.core = core = engine.core
        self.trace.record("start", self.now_ms, instance.name)
        self._core_call(instance, "start", lambda: core.start(self.now_ms))

    def _restart(self, instance: Instance) -> None:
        if instance.up:
            return
        context = self._context(instance)
        instance.context = context
        try:
            engine = self.config.engine.restore(context, instance.disk.records())
        except Exception as error:
            raise self._failure(
                f"restoring {instance.name} from its {len(instance.disk.durable)} durable "
                f"records raised {error!r}"
            ) from error
        instance.engine = engine
        instance.core = core = engine.core
        instance.committed_this_life = set()
        self.statistics.restarts += 1
        self.trace.record("restart", self.now_ms, instance.name, instance.incarnation)
        self._core_call(instance, "start", lambda: core.start(self.now_ms))

    def _reschedule(self, instance: Instance, *, after_tick: bool) -> None:
        core = instance.core
        if core is None:
            return
        deadline = core.next_deadline_ms()
        if deadline is None:
            if instance.tick_due_ms is not None:
                instance.tick_token += 1
                instance.tick_due_ms = None
            return
        due = max(deadline, self.now_ms + 1 if after_tick else self.now_ms)
        if due != instance.tick_due_ms:
            instance.tick_token += 1
            instance.tick_due_ms = due
            self.queue.push(due, Tick(instance.name, instance.tick_token))

    def _tick(self, event: Tick) -> None:
        instance = self.instances[event.instance]
        engine = instance.engine
        if instance.core is None or engine is None or event.token != instance.tick_token:
            return
        instance.tick_due_ms = None
        self.statistics.ticks += 1
        waiting = instance.app.transactions_waiting() > 0
        self._core_call(instance, "tick", lambda: engine.tick(self.now_ms, waiting))

    def _deliver(self, event: Deliver) -> None:
        instance = self.instances[event.receiver]
        core = instance.core
        if core is None:
            self.statistics.messages_to_down_instances += 1
            return
        self.statistics.messages_delivered += 1
        self.trace.record_delivery(self.now_ms, event.receiver, event.sender, event.data)
        message = decode(consensus_pb2.ConsensusMessage, event.data, bytes_max=MESSAGE_BYTES_MAX)
        engine = instance.engine
        assert engine is not None
        if self._commits_behind(instance) >= COMMITS_BEHIND_MAX and engine.holds_back(message):
            # As the node's driver: behind with its writes, it takes no new blocks for now.
            instance.held.append((event.sender, event.sender_validator, event.data))
            self.statistics.messages_held += 1
            if len(instance.held) > HELD_MESSAGES_MAX:
                instance.held.popleft()
                self.statistics.messages_dropped += 1
            return
        self._core_call(
            instance, "step", lambda: core.step(event.sender_validator, message, self.now_ms)
        )

    def _commits_behind(self, instance: Instance) -> int:
        engine = instance.engine
        unwritten = sum(1 for job in instance.lane if isinstance(job, ApplyCommit))
        return unwritten + (engine.commits_pending if engine is not None else 0)

    def _release_held(self, instance: Instance) -> None:
        while (
            instance.held and instance.up and (self._commits_behind(instance) < COMMITS_BEHIND_MAX)
        ):
            sender, sender_validator, data = instance.held.popleft()
            self._deliver(Deliver(instance.name, sender, sender_validator, data))

    # --- the runtime's order: persist, sync, send, apply ----------------------------------------

    def _perform(self, instance: Instance, output: Output) -> None:
        """Carries out an Output step by step as ordered_steps gives them, with the crash point
        chosen for it (if any) striking between two steps."""
        if not output:
            return
        deliveries = self._deliveries(instance, output)
        point = self._choose_crash_point(instance, output, len(deliveries))
        unsafe = self.config.unsafe_send_before_sync
        cut = (
            self._fault_random.randrange(1, len(deliveries))
            if point is CrashPoint.MID_SEND
            else None
        )
        sent_early = unsafe and bool(output.persist)
        sent = 0
        send_index = -1
        applying = False
        for step in ordered_steps(output):
            if isinstance(step, Persist):
                if point is CrashPoint.BEFORE_PERSIST:
                    self._crash_at_point(instance, point)
                    return
                for name, data in step.records:
                    instance.disk.write(name, data)
                if sent_early:
                    # Breaks the contract on purpose: the messages leave before the records
                    # are durable.
                    self._send(instance, output, deliveries)
                if point is CrashPoint.BEFORE_SYNC:
                    self._crash_at_point(instance, point)
                    return
                instance.disk.sync()
            elif isinstance(step, Send):
                send_index += 1
                if sent_early:
                    continue  # sent with the records above
                if point is CrashPoint.BEFORE_SEND:
                    self._crash_at_point(instance, point)
                    return
                for delivery in [d for d in deliveries if d[0] == send_index]:
                    if sent == cut:
                        assert point is not None
                        self._crash_at_point(instance, point)
                        return
                    self._send(instance, output, [delivery])
                    sent += 1
            elif isinstance(step, ApplyCommit):
                if point is CrashPoint.BEFORE_APPLY and not applying:
                    self._crash_at_point(instance, point)
                    return
                applying = True
                instance.lane.append(step)
            elif isinstance(step, ReportEvidence):
                self.statistics.evidence += 1
                self.evidence.append((self.now_ms, instance.name, step.evidence))
            else:
                instance.lane.append(step)
        self._run_lane(instance)

    # --- the execution lane: the application's work beside the core ---------------------------

    def _run_lane(self, instance: Instance) -> None:
        if instance.lane_busy or not instance.lane or not instance.up:
            return
        instance.lane_busy = True
        job = instance.lane[0]
        low, high = self.config.execution_ms
        duration = 0 if isinstance(job, ApplyCommit) else self._lane_random.randint(low, high)
        self.queue.push(self.now_ms + duration, LaneDone(instance.name, instance.lane_token))

    def _lane_done(self, event: LaneDone) -> None:
        instance = self.instances[event.instance]
        core = instance.core
        if core is None or event.token != instance.lane_token:
            return
        job = instance.lane.popleft()
        instance.lane_busy = False
        instance.app.set_clock(self.now_ms)
        if isinstance(job, ApplyCommit):
            self._apply_commit(instance, job.commit)
        elif isinstance(job, BuildBlock):
            block = instance.app.build_block(
                job.height, job.round_number, job.time_ms, job.proposer
            )
            self.statistics.blocks_built += 1
            self._core_call(instance, "block_built", lambda: core.block_built(block, self.now_ms))
        else:
            assert isinstance(job, ValidateBlock)
            app = instance.app
            validate = app.validate_committed_block if job.committed else app.validate_block
            valid = validate(job.block)
            self.statistics.blocks_validated += 1
            self._core_call(
                instance,
                "block_validated",
                lambda: core.block_validated(job.block_hash, valid, self.now_ms),
            )
        self._release_held(instance)
        self._run_lane(instance)

    def _deliveries(self, instance: Instance, output: Output) -> list[tuple[int, str]]:
        """(index into output.send, receiving instance) for every copy the Output sends."""
        deliveries: list[tuple[int, str]] = []
        for index, (target, _message) in enumerate(output.send):
            if target is None:
                receivers = [
                    other.name
                    for other in self.instances.values()
                    if other.validator_id != instance.validator_id
                ]
            else:
                receivers = [
                    other.name
                    for other in self._instances_of.get(target, [])
                    if other.validator_id != instance.validator_id
                ]
                if not receivers and target not in self._instances_of:
                    self.anomalies.append(
                        (instance.name, f"{self.now_ms}ms: sent to unknown validator {target!r}")
                    )
            deliveries.extend((index, receiver) for receiver in receivers)
        return deliveries

    def _send(self, instance: Instance, output: Output, deliveries: list[tuple[int, str]]) -> None:
        encoded: dict[int, bytes] = {}
        for index, receiver in deliveries:
            data = encoded.get(index)
            target, message = output.send[index]
            if data is None:
                data = encode(message)
                encoded[index] = data
                self.ledger.observe(
                    message,
                    instance=instance.name,
                    validator_id=instance.validator_id,
                    incarnation=instance.incarnation,
                    time_ms=self.now_ms,
                    target=target,
                )
            self._transmit(instance, receiver, data, message)

    def _link_blocked(
        self, sender: str, receiver: str, message: consensus_pb2.ConsensusMessage | None
    ) -> bool:
        if (sender, receiver) in self.links.blocked:
            return True
        if message is None or not self._round_blocks or self.healed:
            return False
        scope = message_scope(message)
        if scope is None:
            return False
        height, round_number, kind = scope
        for key in ((height, round_number), (None, round_number), (height, None), (None, None)):
            for partition, pairs in self._round_blocks.get(key, ()):
                if (sender, receiver) in pairs and (
                    not partition.message_types or kind in partition.message_types
                ):
                    return True
        return False

    def _transmit(
        self,
        instance: Instance,
        receiver: str,
        data: bytes,
        message: consensus_pb2.ConsensusMessage,
    ) -> None:
        self.statistics.messages_sent += 1
        if self._link_blocked(instance.name, receiver, message):
            self.statistics.messages_blocked += 1
            return
        network = self.config.network
        rng = self._network_random
        if not self.healed and network.drop_probability and rng.random() < network.drop_probability:
            self.statistics.messages_dropped += 1
            return
        event = Deliver(receiver, instance.name, instance.validator_id, data)
        self.queue.push(
            self.now_ms + rng.randint(network.delay_min_ms, network.delay_max_ms), event
        )
        if (
            not self.healed
            and network.duplicate_probability
            and rng.random() < network.duplicate_probability
        ):
            self.statistics.messages_duplicated += 1
            self.queue.push(
                self.now_ms + rng.randint(network.delay_min_ms, network.delay_max_ms), event
            )

    def _apply_commit(self, instance: Instance, commit: Commit) -> None:
        app = instance.app
        height = commit.height
        block_hash = app.block_hash(commit.block)
        self.statistics.commits += 1
        self.trace.record("c", self.now_ms, instance.name, height, block_hash)
        self.commits.append(
            CommitRecord(self.now_ms, instance.name, instance.incarnation, height, block_hash)
        )
        where = f"{self.now_ms}ms, incarnation {instance.incarnation}"
        if height in instance.committed_this_life:
            self.anomalies.append(
                (instance.name, f"{where}: height {height} committed twice by one core lifetime")
            )
        instance.committed_this_life.add(height)
        if commit.block.header.height != height:
            self.anomalies.append(
                (
                    instance.name,
                    f"{where}: Commit.height {height} carries a block of height "
                    f"{commit.block.header.height}",
                )
            )
        if not app.is_valid(commit.block):
            self.anomalies.append(
                (instance.name, f"{where}: committed an invalid block at {height}")
            )
        assert instance.context is not None
        problem = self.config.engine.certificate_problem(commit, block_hash, instance.context)
        if problem is not None:
            self.anomalies.append(
                (instance.name, f"{where}: bad certificate at height {height}: {problem}")
            )
        if height <= app.height:
            stored = app.chain[height - 1]
            if stored.block_hash != block_hash:
                self.anomalies.append(
                    (
                        instance.name,
                        f"{where}: committed {block_hash.hex()[:16]} at height {height}, where "
                        f"its block store has {stored.block_hash.hex()[:16]}",
                    )
                )
            else:
                self.statistics.recommits += 1
            return
        if height != app.height + 1:
            self.anomalies.append(
                (
                    instance.name,
                    f"{where}: committed height {height} but its block store ends at "
                    f"{app.height} (a committed block was skipped or lost)",
                )
            )
            return
        self._store(
            instance,
            CommittedBlock(
                height,
                block_hash,
                commit.block,
                commit.certificate,
                self.now_ms,
                instance.incarnation,
                "core",
            ),
        )

    def _store(self, instance: Instance, committed: CommittedBlock) -> None:
        """Writes a committed block to the instance's block store and executes it."""
        executed = instance.app.apply(committed)
        for operation, result in executed:
            pending = self._pending_operations.get(operation.operation_id)
            if pending is None:
                continue
            client, record = pending
            if record.instance != instance.name:
                continue
            record.complete_ms = self.now_ms
            record.result = result
            del self._pending_operations[operation.operation_id]
            self.clients[client].current = None
            self._schedule_client(client)

    # --- block sync (the runtime's, for engines that use it) --------------------------------

    def _schedule_sync(self, instance: str, first: bool = False) -> None:
        interval = self.config.block_sync_interval_ms
        if interval is None or not self.config.engine.block_sync:
            return
        low = 0 if first else interval // 2
        delay = self._sync_random.randint(low, interval + interval // 2)
        self.queue.push(self.now_ms + max(1, delay), SyncRequest(instance))

    def _network_passes(self, sender: str, receiver: str) -> bool:
        if (sender, receiver) in self.links.blocked:
            return False
        network = self.config.network
        return (
            self.healed
            or not network.drop_probability
            or self._sync_random.random() >= network.drop_probability
        )

    def _network_delay(self) -> int:
        network = self.config.network
        return self._sync_random.randint(network.delay_min_ms, network.delay_max_ms)

    def _sync_request(self, event: SyncRequest) -> None:
        self._schedule_sync(event.instance)
        instance = self.instances[event.instance]
        if not instance.up:
            return
        peers = [name for name in self.instance_names if name != instance.name]
        peer = self._sync_random.choice(peers)
        if self._network_passes(instance.name, peer):
            self.queue.push(
                self.now_ms + self._network_delay(),
                SyncServe(peer, instance.name, instance.app.height + 1),
            )

    def _sync_serve(self, event: SyncServe) -> None:
        server = self.instances[event.server]
        if not server.up or server.app.height < event.from_height:
            return
        start = event.from_height - 1
        blocks = [
            (encode(block.block), encode(block.certificate))
            for block in server.app.chain[start : start + SYNC_BLOCKS_MAX]
        ]
        if blocks and self._network_passes(server.name, event.requester):
            self.queue.push(
                self.now_ms + self._network_delay(),
                SyncArrive(event.requester, event.server, tuple(blocks)),
            )

    def _sync_arrive(self, event: SyncArrive) -> None:
        instance = self.instances[event.requester]
        core = instance.core
        if core is None or instance.context is None:
            return
        app = instance.app
        applied = 0
        for block_bytes, certificate_bytes in event.blocks:
            block = decode(types_pb2.Block, block_bytes, bytes_max=MESSAGE_BYTES_MAX)
            certificate = decode(
                types_pb2.CommitCertificate, certificate_bytes, bytes_max=MESSAGE_BYTES_MAX
            )
            height = block.header.height
            if height <= app.height:
                continue
            if height != app.height + 1:
                break
            block_hash = app.block_hash(block)
            commit = Commit(height, block, certificate)
            problem = self.config.engine.certificate_problem(commit, block_hash, instance.context)
            if problem is not None or not app.is_valid(block):
                self.statistics.sync_refused += 1
                break
            self.trace.record("sync", self.now_ms, instance.name, event.server, height, block_hash)
            self.commits.append(
                CommitRecord(self.now_ms, instance.name, instance.incarnation, height, block_hash)
            )
            self._store(
                instance,
                CommittedBlock(
                    height,
                    block_hash,
                    block,
                    certificate,
                    self.now_ms,
                    instance.incarnation,
                    "sync",
                ),
            )
            applied += 1
        if applied:
            self.statistics.synced_blocks += applied
            engine = instance.engine
            assert engine is not None
            height = app.height + 1
            self._core_call(instance, "advance_to", lambda: engine.advance_to(height, self.now_ms))

    # --- faults -----------------------------------------------------------------------------

    def _choose_crash_point(
        self, instance: Instance, output: Output, deliveries: int
    ) -> CrashPoint | None:
        hook = self.config.crash_hook
        if hook is not None and not self.healed:
            chosen = hook(instance.name, self.now_ms, output)
            if chosen is not None and _applies(chosen, output, deliveries):
                return chosen
        injection = self.config.crash_points
        if injection is None or self.healed or not instance.honest:
            return None
        if injection.until_ms is not None and self.now_ms >= injection.until_ms:
            return None
        if injection.signing_outputs_only and not (output.persist and output.send):
            return None
        if self._down_honest() >= injection.down_max:
            return None
        rng = self._fault_random
        if rng.random() >= injection.probability:
            return None
        allowed = [point for point in injection.points if _applies(point, output, deliveries)]
        if self.config.unsafe_send_before_sync:
            allowed = [point for point in allowed if point is CrashPoint.BEFORE_SYNC]
        if not allowed:
            return None
        return rng.choice(allowed)

    def _crash_at_point(self, instance: Instance, point: CrashPoint) -> None:
        counts = self.statistics.crash_points
        counts[point.value] = counts.get(point.value, 0) + 1
        self._crash(instance, point.value)
        injection = self.config.crash_points
        if self.config.crash_hook is not None:
            downtime = self.config.crash_hook_downtime_ms
        else:
            assert injection is not None
            downtime = self._fault_random.randint(
                injection.downtime_min_ms, injection.downtime_max_ms
            )
        self.queue.push(self.now_ms + downtime, RestartNow(instance.name))

    def _down_honest(self) -> int:
        return sum(1 for i in self.instances.values() if i.honest and not i.up)

    def _crash(self, instance: Instance, reason: str) -> None:
        if not instance.up:
            return
        self.trace.record("crash", self.now_ms, instance.name, reason)
        instance.core = None
        instance.engine = None
        instance.held.clear()
        instance.lane.clear()
        instance.lane_busy = False
        instance.lane_token += 1
        instance.disk.crash()
        instance.app.crash()
        instance.incarnation += 1
        instance.crashes += 1
        instance.tick_token += 1
        instance.tick_due_ms = None
        self.statistics.crashes += 1

    def _crash_event(self, event: CrashNow) -> None:
        if self.healed:
            return
        self.crash(event.instance, event.restart_at_ms, event.reason)

    def _schedule_random_crash(self) -> None:
        spec = self.config.random_crashes
        assert spec is not None
        gap = max(1, round(self._fault_random.expovariate(1.0 / spec.mean_interval_ms)))
        if self.now_ms + gap < spec.until_ms:
            self.queue.push(self.now_ms + gap, RandomCrash())

    def _random_crash(self) -> None:
        spec = self.config.random_crashes
        assert spec is not None
        if self.healed:
            return
        rng = self._fault_random
        candidates = [i for i in self.instances.values() if i.honest and i.up]
        if candidates and self._down_honest() < spec.down_max:
            victim = rng.choice(candidates)
            downtime = rng.randint(spec.downtime_min_ms, spec.downtime_max_ms)
            self.crash(victim.name, self.now_ms + downtime, "random")
        self._schedule_random_crash()

    def _heal(self) -> None:
        self.healed = True
        self.height_at_heal = max(
            (i.app.height for i in self.instances.values() if i.honest), default=0
        )
        self.trace.record("heal", self.now_ms)
        self.links.active = [p for p in self.links.active if p.survives_heal]
        self.links.recompute()
        for instance in self.instances.values():
            if not instance.up:
                self._restart(instance)

    # --- clients ----------------------------------------------------------------------------

    def _think_ms(self, workload: ClientWorkload) -> int:
        return self._client_random.randint(workload.think_min_ms, workload.think_max_ms)

    def _schedule_client(self, client: int) -> None:
        workload = self.config.clients
        assert workload is not None
        self.queue.push(self.now_ms + self._think_ms(workload), ClientStep(client))

    def _client_step(self, client_index: int) -> None:
        workload = self.config.clients
        assert workload is not None
        client = self.clients[client_index]
        if client.current is not None or client.done:
            return
        heal_ms = self.config.heal_ms
        after_heal_needed = heal_ms is not None and (
            not self.healed or client.issued_after_heal < workload.operations_after_heal
        )
        if client.issued >= workload.operations_per_client and not after_heal_needed:
            client.done = True
            return
        if client.issued >= workload.operations_per_client and not self.healed:
            assert heal_ms is not None
            self.queue.push(heal_ms, ClientStep(client_index))
            return
        rng = self._client_random
        up = [
            i
            for i in self.instances.values()
            if i.honest and i.up and (workload.instances is None or i.name in workload.instances)
        ]
        if not up:
            self.queue.push(self.now_ms + CLIENT_RETRY_MS, ClientStep(client_index))
            return
        instance = rng.choice(up)
        number = client.issued
        client.issued += 1
        if self.healed:
            client.issued_after_heal += 1
        key = rng.choice(workload.keys)
        operation_id = f"{client.name}.{number}"
        if rng.random() < workload.put_probability:
            operation = KvOperation(operation_id, client.name, "put", key, operation_id)
        else:
            operation = KvOperation(operation_id, client.name, "get", key)
        record = HistoryOperation(operation, instance.name, self.now_ms)
        self.history.append(record)
        if workload.unsafe_local_reads and operation.kind == "get":
            record.complete_ms = self.now_ms
            record.result = instance.app.kv.get(key)
            self.trace.record("local-read", self.now_ms, instance.name, operation_id)
            self._schedule_client(client_index)
            return
        client.current = record
        self._pending_operations[operation_id] = (client_index, record)
        self.queue.push(
            self.now_ms + workload.timeout_ms, ClientTimeout(client_index, operation_id)
        )
        self.trace.record("invoke", self.now_ms, instance.name, operation_id)
        self._admit(instance, operation)
        for other in self.instance_names:
            if other == instance.name:
                continue
            if (instance.name, other) in self.links.blocked:
                continue
            network = self.config.network
            if (
                not self.healed
                and network.drop_probability
                and self._network_random.random() < network.drop_probability
            ):
                continue
            delay = self._network_random.randint(network.delay_min_ms, network.delay_max_ms)
            self.queue.push(self.now_ms + delay, GossipArrive(other, operation))

    def _admit(self, instance: Instance, operation: KvOperation) -> None:
        core = instance.core
        if core is None or not instance.app.add_operation(operation):
            return
        waiting = instance.app.transactions_waiting()
        self._core_call(instance, "propose", lambda: core.propose(self.now_ms, waiting))

    def _gossip_arrive(self, event: GossipArrive) -> None:
        self._admit(self.instances[event.receiver], event.operation)

    def _client_timeout(self, event: ClientTimeout) -> None:
        pending = self._pending_operations.pop(event.operation_id, None)
        if pending is None:
            return
        self.trace.record("timeout", self.now_ms, event.operation_id)
        self.clients[event.client].current = None
        self._schedule_client(event.client)


def _applies(point: CrashPoint, output: Output, deliveries: int) -> bool:
    if point in (CrashPoint.BEFORE_PERSIST, CrashPoint.BEFORE_SYNC):
        return bool(output.persist)
    if point is CrashPoint.BEFORE_SEND:
        return deliveries >= 1
    if point is CrashPoint.MID_SEND:
        return deliveries >= 2
    return bool(output.commits)
