"""Several real chains and relayers in one process, on one seeded clock (docs/simulation.md,
"The multi-chain simulator").

Each chain is a ``causeway.sim.chain.InterchainChain``: the real executor with the interchain
contracts, a real state tree, headers signed by real validator keys. Consensus is not simulated
here (``causeway.sim.Simulation`` does that for one chain): a chain produces a final block at its
own pace (``ChainSpec.block_interval_ms`` plus seeded jitter) with every transaction its mempool
holds, dated by the shared clock plus the chain's seeded skew (within the clients' clock drift).
A solo chain (one validator) keeps a solo node's pace: a block at most every
``SOLO_BLOCK_INTERVAL_MS`` when transactions wait, and otherwise only an idle heartbeat once
``IDLE_BLOCK_INTERVAL_MS`` has passed (in the chain's time) since its last block, as a solo node's
core asks for one; the clients of it are created with ``single_signer_accepted``, as governance
must. (tbft and raft chains here make a block at their pace whether or not transactions wait.)

Relayers are ``causeway.interchain.relaying.Relayer`` over a ``SimulatedEndpoint``: reads from
the chain's committed state, submissions signed by the relayer's member and queued in the mempool
(the relayer does not wait: what it submitted shows in the chain's next block). Faults, each drawn
from the seed (``InterchainFaults``): relayers that crash and restart with nothing remembered
(a new ``Relayer``, its unsent transactions lost), several relayers racing on one link, relayer
transactions delayed, duplicated and reordered; a Byzantine relayer that submits forged headers
(signed by keys that are not the validators', or a real header with another state root re-signed
by a minority), forged proofs (of another key, of another height) and forged packet data; a chain
that halts and resumes; a validator-set change in the middle of the packet stream; twin
validators that sign a second header at a height (same keys, other state root), which a relayer
submits with the real one: the client must freeze; a partition between relayers and one chain
longer than the clients' trusting period: the clients expire, and governance recovers them
(``clients.recover``) once it heals; governance also recovers a client frozen by a fork.

Everything random comes from ``RandomSource(seed)`` (one stream per purpose); a run is a function
of its seed and configuration: the same seed gives the same ``trace_hash`` (a digest of every
block's time, results and events, leaving out the hashes, which depend on the keys: those are
generated afresh in each process, and signatures carry random nonces). The
checkers (``causeway.sim.interchain_checkers``) read only what the chains committed.
"""

from __future__ import annotations

import hashlib
import heapq
import random as random_module
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from google.protobuf.message import Message

from causeway.consensus.engines import IDLE_BLOCK_INTERVAL_MS
from causeway.consensus.solo import BLOCK_INTERVAL_MS_DEFAULT as SOLO_BLOCK_INTERVAL_MS
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.errors import CausewayError
from causeway.execution import (
    Contract,
    Method,
    TransactionContext,
    decode_arguments,
    failure,
)
from causeway.interchain import LinkEnd, Port, Relayer, chain_contracts, transfer
from causeway.interchain.atomic import ATOMIC_TEST_PORTS, ENCODING_TRY
from causeway.interchain.keys import PACKETS_NAMESPACE, commitment_path, receipt_key
from causeway.interchain.packets import send_packet
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.light import commit_sign_bytes
from causeway.sim.chain import BLOCK_INTERVAL_MS, GENESIS_TIME_MS, InterchainChain, check_ok
from causeway.sim.interchain_atomic import AtomicActors, AtomicWorkload, PlannedTransaction
from causeway.sim.randomness import RandomSource
from causeway.types import block_hash, encode
from causeway.types.v1 import types_pb2

# -- bounds ------------------------------------------------------------------------------------

# The most blocks one chain produces in a run: a run that has not settled by then stops, and
# the liveness check names the packets still in flight.
CHAIN_BLOCKS_MAX = 150
# The most chains one run holds (the scale run uses 21: a hub and 20 members).
CHAINS_MAX = 64
# The most packets a run's applications send.
PACKETS_MAX = 2_000
# Query answers kept (until their chain's next block); past this the memo starts again.
ANSWERS_KEPT_MAX = 10_000
# How many times (every 500 ms) the twins try to sign their fork, waiting for the client to be
# active and behind the chain.
TWIN_FORK_ATTEMPTS_MAX = 20

ECHO_PORT = "echo"
ECHO_CONTRACT = "echo"
REFUSED_VALUE = b"refuse"
TRUSTING_PERIOD_MS = 20_000
CLOCK_DRIFT_MS = 10_000
# A chain's clock is off the shared one by at most this much, either way: two chains then differ
# by at most twice as much, within the clients' drift with room for a block's delay.
SKEW_MAX_MS = 2_000
# The simulator's relayer and governance members on every chain.
RELAYER_MEMBER = "org1/relayer"
BYZANTINE_MEMBER = "org2/bob"
SENDER_MEMBER = "org1/alice"
# What governance issues to the sender on every chain, in the chain's native denomination
# (``native_denom``), for the transfers.
ISSUED_AMOUNT = 1_000_000
TRANSFER_AMOUNT_MAX = 1_000
# The share of the mixed scenario's seeds whose second chain is solo.
SOLO_SHARE = 1 / 8


def native_denom(chain_id: str) -> str:
    return "coin-" + chain_id


# -- the application: an echo port -----------------------------------------------------------


class EchoHandler:
    """Stores what it receives and acknowledges with it; refuses ``REFUSED_VALUE`` (an error
    acknowledgement); records acknowledgements and timeouts."""

    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement | None:
        value = packet.payload.value
        context.put(b"received/" + f"{packet.sequence:020d}".encode(), value)
        if value == REFUSED_VALUE:
            raise failure(types_pb2.RESULT_STATUS_INVALID_ARGUMENT, "echo refuses this value")
        return interchain_pb2.Acknowledgement(success=True, result=b"echo:" + value)

    def on_acknowledge(
        self,
        context: TransactionContext,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
    ) -> None:
        context.put(b"acknowledged/" + f"{packet.sequence:020d}".encode(), encode(acknowledgement))

    def on_timeout(self, context: TransactionContext, packet: interchain_pb2.Packet) -> None:
        context.put(b"timed_out/" + f"{packet.sequence:020d}".encode(), packet.payload.value)


def _echo_send(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.TransferSendArguments, arguments)
    packet = send_packet(
        context,
        source_client=request.source_client,
        timeout_ms=request.timeout_ms,
        payload=interchain_pb2.Payload(
            source_port=ECHO_PORT,
            destination_port=ECHO_PORT,
            version="echo-1",
            encoding="raw",
            value=request.memo,
        ),
    )
    return encode(packet)


ECHO = Contract(name=ECHO_CONTRACT, methods={"send": Method(_echo_send)}, namespace=b"echo/")
PORTS: Mapping[str, Port] = {ECHO_PORT: Port(contract=ECHO, handler=EchoHandler())}


def _forgetting_receipts(contract: Contract) -> Contract:
    """The checker canary: the packets contract with its receipt rule broken. Before each
    receive it deletes the packet's receipt, so a second delivery runs again (the application
    receives twice) instead of being a no-op. Selected only by ``unsafe_skip_receipt_check``."""

    def forget(context: TransactionContext, packets: Sequence[interchain_pb2.Packet]) -> None:
        for packet in packets:
            context.delete(receipt_key(packet.destination_client, packet.sequence))

    receive_method = contract.methods["receive"]
    relay_method = contract.methods["relay"]

    def receive(context: TransactionContext, arguments: bytes) -> bytes:
        request = interchain_pb2.PacketsReceiveArguments.FromString(arguments)
        forget(context, [request.packet])
        return receive_method.handler(context, arguments)

    def relay(context: TransactionContext, arguments: bytes) -> bytes:
        request = interchain_pb2.PacketsRelayArguments.FromString(arguments)
        forget(context, [item.packet for item in request.receives])
        return relay_method.handler(context, arguments)

    methods = dict(contract.methods)
    methods["receive"] = replace(receive_method, handler=receive)
    methods["relay"] = replace(relay_method, handler=relay)
    return replace(contract, methods=methods)


def simulation_contracts(
    *, unsafe_skip_receipt_check: bool = False, unsafe_ignore_cancel_marker: bool = False
) -> dict[str, Contract]:
    """What every simulated chain runs: the node's contracts, packets delivering to the echo
    port, the transfer port (ICS-20) and the atomic port, the echo application, and the atomic
    contract with the test counter port (with the canaries' broken packets or atomic contract
    when asked)."""
    contracts = chain_contracts(
        ports=PORTS,
        atomic_ports=ATOMIC_TEST_PORTS,
        unsafe_ignore_cancel_marker=unsafe_ignore_cancel_marker,
    )
    if unsafe_skip_receipt_check:
        contracts["packets"] = _forgetting_receipts(contracts["packets"])
    return contracts


# -- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainSpec:
    chain_id: str
    profile: str = "intl"
    consensus: str = "tbft"
    validators: int = 4
    organisations: int = 4
    block_interval_ms: int = 1_000


@dataclass(frozen=True, slots=True)
class InterchainFaults:
    """Which faults a run may draw, and how hard (each drawn from the seed)."""

    relayers_per_link: int = 1
    # Per relayer round: the chance the relayer crashes (before or in the middle of its round's
    # submissions), and how long it stays down.
    crash_probability: float = 0.0
    downtime_ms: tuple[int, int] = (500, 4_000)
    # Per relayer transaction: held back (which also reorders), sent twice.
    delay_probability: float = 0.0
    delay_max_ms: int = 3_000
    duplicate_probability: float = 0.0
    # A chain halts once, for a time drawn from this range (shorter than a third of the
    # trusting period, so that the clients of it are refreshed in time after it resumes).
    halt: bool = False
    halt_ms: tuple[int, int] = (1_000, 5_000)
    skew: bool = False
    validator_change: bool = False
    byzantine_relayer: bool = False
    twin_fork: bool = False
    # Relayers cannot reach one chain for longer than the trusting period.
    partition: bool = False


@dataclass(frozen=True, slots=True)
class InterchainConfig:
    chains: tuple[ChainSpec, ...]
    # Pairs of indices into ``chains``: a client on each side, counterparties, the echo port.
    links: tuple[tuple[int, int], ...]
    faults: InterchainFaults = InterchainFaults()
    packets: int = 6
    # The share of the packets that are token transfers (ICS-20); the others go to the echo port.
    transfer_share: float = 0.5
    # The share of the transfers a member (the second chain of a link whose first is the hub)
    # sends to another member through the hub (transfer's forwarding, a memo the hub reads).
    forward_share: float = 0.0
    # Packets are sent over this window, starting when the links are up.
    send_window_ms: int = 8_000
    # A packet's timeout: this long after its send (short ones time out when relaying lags).
    timeout_after_ms: tuple[int, int] = (2_000, 30_000)
    # How often a relayer runs a round (plus up to half as much, drawn).
    relayer_period_ms: int = 1_000
    # How often governance looks for frozen or expired clients, and how long it waits after a
    # freeze before recovering (it investigates first).
    governance_period_ms: int = 2_000
    recover_delay_ms: int = 3_000
    trusting_period_ms: int = TRUSTING_PERIOD_MS
    clock_drift_ms: int = CLOCK_DRIFT_MS
    # The hub's registry: the first chain registers the others as members (contract "hub").
    hub_registry: bool = False
    # Governance accepts a single signer when it creates a client of a solo chain (the one
    # validator is trusted outright, docs/interchain.md); without it the creation is refused.
    solo_single_signer_accepted: bool = True
    # Atomic transactions coordinated by the first chain, the hub (causeway.sim.interchain_atomic):
    # every other chain must be linked to it, and hub_registry set.
    atomic: AtomicWorkload | None = None
    unsafe_skip_receipt_check: bool = False
    # The atomic canary: participants ignore their cancel markers (a TRY after its ABORT
    # prepares).
    unsafe_ignore_cancel_marker: bool = False

    def __post_init__(self) -> None:
        if not 2 <= len(self.chains) <= CHAINS_MAX:
            raise ValueError(f"a run has 2 to {CHAINS_MAX} chains, not {len(self.chains)}")
        if not 0 <= self.packets <= PACKETS_MAX:
            raise ValueError(f"a run sends 0 to {PACKETS_MAX} packets, not {self.packets}")
        if self.atomic is not None:
            linked = {pair for pair in self.links if pair[0] == 0}
            if not self.hub_registry or len(linked) != len(self.chains) - 1:
                raise ValueError(
                    "atomic transactions need the hub's registry and every member linked to "
                    "the first chain, the hub"
                )


# -- what happened --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkState:
    """Two chains joined: ``a_client`` is a's client of b, ``b_client`` b's client of a."""

    a: str
    b: str
    a_client: str
    b_client: str

    def ends(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """(chain id, its client of the other chain), for both chains."""
        return ((self.a, self.a_client), (self.b, self.b_client))


@dataclass(slots=True)
class BlockRecord:
    chain_id: str
    height: int
    time_ms: int
    results: list[types_pb2.TransactionResult]
    # Who submitted each transaction: "relayer:<name>", "byzantine:<kind>", "twin:<variant>",
    # "governance:<what>", "user:send".
    origins: list[str]
    execution_seconds: float


@dataclass(slots=True)
class InterchainResult:
    seed: int
    scenario: str
    config: InterchainConfig
    chains: dict[str, InterchainChain]
    links: list[LinkState]
    blocks: list[BlockRecord]
    # The faults drawn for this seed, described.
    faults: list[str]
    trace_hash: str
    end_ms: int
    # Clients a fault must have frozen or expired (chain id, client id, "frozen" | "expired").
    expected: list[tuple[str, str, str]]
    statistics: dict[str, int] = field(default_factory=dict)
    # Each chain's clock skew (its time = the shared clock + skew), and when (shared clock) the
    # last fault that stops progress ended: a halt, a partition, a late relayer's start.
    skew_ms: dict[str, int] = field(default_factory=dict)
    faults_end_ms: int = 0
    # The atomic transactions submitted to the hub (the first chain), in order.
    atomic: list[PlannedTransaction] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"seed {self.seed} ({self.scenario}): trace {self.trace_hash}, ended at "
            f"+{self.end_ms}ms",
            f"faults: {'; '.join(self.faults) or 'none'}",
            f"statistics: {self.statistics}",
        ]
        for link in self.links:
            lines.append(f"link {link.a}/{link.a_client} <-> {link.b}/{link.b_client}")
        for record in self.blocks:
            for result, origin in zip(record.results, record.origins, strict=True):
                status = types_pb2.ResultStatus.Name(result.status)
                events = ", ".join(
                    event.name
                    + "("
                    + " ".join(f"{a.key}={a.value}" for a in event.attributes if a.key != "port")
                    + ")"
                    for event in result.events
                )
                error = f" {result.error[:120]}" if result.error else ""
                lines.append(
                    f"  {record.chain_id}@{record.height} {origin}: {status}{error} {events}"
                )
        return "\n".join(lines)


# -- the relayer's view of a chain ------------------------------------------------------------


class UnreachableError(CausewayError):
    """A relayer cannot reach the chain's nodes (a partition)."""


_PENDING_RESULT = types_pb2.TransactionResult(status=types_pb2.RESULT_STATUS_OK)


class SimulatedEndpoint:
    """``ChainEndpoint`` over a simulated chain, for one relayer: reads the committed state;
    ``submit_all`` signs each transaction and hands it to the simulation, which (with the
    relayer's faults) puts it in the chain's mempool; the relayer does not wait for its block."""

    def __init__(
        self, simulation: InterchainSimulation, chain: InterchainChain, relayer: RelayerProcess
    ) -> None:
        self.simulation = simulation
        self.chain = chain
        self.relayer = relayer

    def _reach(self) -> None:
        if self.chain.chain_id in self.simulation.unreachable:
            raise UnreachableError(f"{self.chain.chain_id} is cut off from the relayers")

    @property
    def chain_id(self) -> str:
        return self.chain.chain_id

    def latest_height(self) -> int:
        self._reach()
        return self.chain.height

    def signed_header(
        self, height: int
    ) -> tuple[types_pb2.BlockHeader, types_pb2.CommitCertificate]:
        self._reach()
        return self.chain.blocks[height].header, self.chain.certificate(height)

    def validator_set(self, height: int) -> types_pb2.ValidatorSet:
        self._reach()
        if height in self.chain.blocks:
            return self.chain.blocks[height].validator_set
        return self.chain.blocks[height - 1].next_validator_set

    def prove(
        self, keys: Sequence[bytes], height: int
    ) -> list[tuple[bytes | None, types_pb2.StateProof]]:
        self._reach()
        return [(self.chain.value_at(key, height), self.chain.prove(key, height)) for key in keys]

    def query(self, contract: str, method: str, arguments: Message) -> bytes:
        self._reach()
        return self.simulation.query(self.chain, contract, method, arguments)

    def submit(self, contract: str, method: str, arguments: Message) -> types_pb2.TransactionResult:
        self._reach()
        self.relayer.send(self.chain, contract, method, arguments)
        return _PENDING_RESULT

    def submit_all(
        self, contract: str, method: str, arguments: Sequence[Message]
    ) -> list[types_pb2.TransactionResult]:
        # One by one: a relayer that crashes in the middle has sent only the first few.
        return [self.submit(contract, method, each) for each in arguments]


class RelayerProcess:
    """One relayer on one link: rounds at its pace; crashes drop it and everything it has not
    yet sent; a restart is a new ``Relayer`` with new endpoints (nothing remembered)."""

    def __init__(
        self, simulation: InterchainSimulation, name: str, link: LinkState, random_name: str
    ) -> None:
        self.simulation = simulation
        self.name = name
        self.link = link
        self.random = simulation.randomness.derive(random_name)
        self.up = True
        self.lifetime = 0
        self.crashes = 0
        self.rounds = 0
        self.failed_rounds = 0
        self._start()

    def _start(self) -> None:
        self.relayer = Relayer()
        chains = self.simulation.chains
        self.a_end = LinkEnd(
            SimulatedEndpoint(self.simulation, chains[self.link.a], self), self.link.a_client
        )
        self.b_end = LinkEnd(
            SimulatedEndpoint(self.simulation, chains[self.link.b], self), self.link.b_client
        )

    def round(self) -> None:
        faults = self.simulation.config.faults
        if not self.up:
            return
        self.rounds += 1
        # A crash may come in the middle of the round: after some of its submissions.
        self.crash_after_sends: int | None = None
        if self.random.random() < faults.crash_probability:
            self.crash_after_sends = self.random.randrange(3)
        self.sends_this_round = 0
        try:
            self.relayer.relay_round(self.a_end, self.b_end)
        except UnreachableError:
            self.failed_rounds += 1
        except _Crashed:
            pass
        if self.up and self.crash_after_sends is not None:
            self._crash()

    def _crash(self) -> None:
        faults = self.simulation.config.faults
        self.up = False
        self.crashes += 1
        self.lifetime += 1
        downtime = self.random.randint(*faults.downtime_ms)
        self.simulation.schedule(downtime, self._restart, f"restart {self.name}")

    def _restart(self) -> None:
        self.up = True
        self._start()

    def send(self, chain: InterchainChain, contract: str, method: str, arguments: Message) -> None:
        if self.crash_after_sends is not None and self.sends_this_round >= self.crash_after_sends:
            self._crash()
            raise _Crashed
        self.sends_this_round += 1
        faults = self.simulation.config.faults
        lifetime = self.lifetime
        copies = 2 if self.random.random() < faults.duplicate_probability else 1
        for _ in range(copies):
            delay = 0
            if self.random.random() < faults.delay_probability:
                delay = self.random.randint(1, faults.delay_max_ms)
            self.simulation.schedule(
                delay,
                partial(self._deliver, lifetime, chain, contract, method, arguments),
                f"{self.name} submits {method} to {chain.chain_id}",
            )

    def _deliver(
        self,
        lifetime: int,
        chain: InterchainChain,
        contract: str,
        method: str,
        arguments: Message,
    ) -> None:
        # A transaction still held by a relayer that crashed since is lost with it.
        if lifetime != self.lifetime or not self.up:
            return
        self.simulation.submit(
            chain, RELAYER_MEMBER, contract, method, arguments, f"relayer:{self.name}"
        )


class _Crashed(Exception):  # noqa: N818 (control flow: the relayer stops mid-round)
    pass


# -- the simulation ---------------------------------------------------------------------------


@dataclass(order=True, slots=True)
class _Event:
    time_ms: int
    sequence: int
    action: Callable[[], None] = field(compare=False)
    label: str = field(compare=False)


class InterchainSimulation:
    def __init__(self, seed: int, config: InterchainConfig, *, scenario: str = "custom") -> None:
        self.seed = seed
        self.config = config
        self.scenario = scenario
        self.randomness = RandomSource(seed)
        self.chains: dict[str, InterchainChain] = {}
        self.links: list[LinkState] = []
        self.blocks: list[BlockRecord] = []
        self.faults: list[str] = []
        self.expected: list[tuple[str, str, str]] = []
        self.unreachable: set[str] = set()
        self.halted_until: dict[str, int] = {}
        self.skew_ms: dict[str, int] = {}
        self.now_ms = 0
        self._queue: list[_Event] = []
        self._sequence = 0
        self._origins: dict[bytes, str] = {}
        self._trace = hashlib.sha256()
        self._answers: dict[tuple[str, int, str, str, bytes], bytes] = {}
        self.sent = 0
        # Clients governance may recover, by (chain id, client id), from this time on.
        self.recoverable_from: dict[tuple[str, str], int] = {}
        # A member's client of the hub (atomic runs), and the atomic workload's actors.
        self.client_of_hub: dict[str, str] = {}
        self.atomic = (
            None
            if config.atomic is None
            else AtomicActors(self, config.atomic, [spec.chain_id for spec in config.chains])
        )
        self.faults_end_ms = 0
        self.statistics: dict[str, int] = {
            "blocks": 0,
            "transactions": 0,
            "failed_transactions": 0,
            "relayer_crashes": 0,
            "relayer_rounds": 0,
            "unreachable_rounds": 0,
            "packets_sent": 0,
            "recoveries_submitted": 0,
            "atomic_submitted": 0,
            "settler_settles": 0,
        }

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self, delay_ms: int, action: Callable[[], None], label: str) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, _Event(self.now_ms + delay_ms, self._sequence, action, label))

    def submit(  # noqa: PLR0917 (the transaction's parts, in the order chain.transaction takes)
        self,
        chain: InterchainChain,
        sender: str,
        contract: str,
        method: str,
        arguments: Message,
        origin: str,
        *,
        endorsers: Sequence[str] = (),
    ) -> None:
        transaction = chain.transaction(sender, contract, method, arguments, endorsers=endorsers)
        self._origins[transaction.id] = origin
        chain.submit(transaction)

    def query(
        self, chain: InterchainChain, contract: str, method: str, arguments: Message
    ) -> bytes:
        """A read-only call at the chain's latest state (RequestError when it fails). Answers are
        kept until the chain's next block: the state and time they read do not change before."""
        key = (chain.chain_id, chain.height, contract, method, encode(arguments))
        answer = self._answers.get(key)
        if answer is None:
            answer = check_ok(chain.query(contract, method, arguments)).return_value
            if len(self._answers) >= ANSWERS_KEPT_MAX:
                self._answers.clear()
            self._answers[key] = answer
        return answer

    # -- setup --------------------------------------------------------------------------------

    def _governance_block(
        self, chain: InterchainChain, calls: Sequence[tuple[str, str, Message]], time_ms: int
    ) -> list[types_pb2.TransactionResult]:
        transactions = [
            chain.transaction(
                "org1/admin", contract, method, arguments, endorsers=chain.governance_endorsers()
            )
            for contract, method, arguments in calls
        ]
        results = chain.commit(transactions, time_ms=time_ms).results
        for result in results:
            check_ok(result)
        return results

    def _setup(self) -> None:
        config = self.config
        contracts = simulation_contracts(
            unsafe_skip_receipt_check=config.unsafe_skip_receipt_check,
            unsafe_ignore_cancel_marker=config.unsafe_ignore_cancel_marker,
        )
        # Setup in three steps, every chain's block of a step at the same time: a genesis-like
        # empty block, the clients, then counterparties and ports (and the hub's registry).
        step_ms = [GENESIS_TIME_MS + number * BLOCK_INTERVAL_MS for number in (1, 2, 3)]
        for spec in config.chains:
            self.chains[spec.chain_id] = InterchainChain(
                spec.chain_id,
                spec.profile,
                consensus=spec.consensus,
                validators=spec.validators,
                organisations=spec.organisations,
                contracts=contracts,
                reuse_keys=True,
            )
        for chain in self.chains.values():
            chain.commit([], time_ms=step_ms[0])
        # One block of client creations per chain, then one of counterparties and ports.
        created: dict[tuple[str, str], str] = {}
        by_home: dict[str, list[str]] = {chain_id: [] for chain_id in self.chains}
        for first, second in config.links:
            a, b = config.chains[first].chain_id, config.chains[second].chain_id
            by_home[a].append(b)
            by_home[b].append(a)
        for home_id, remotes in by_home.items():
            home = self.chains[home_id]
            calls: list[tuple[str, str, Message]] = []
            for remote_id in remotes:
                remote = self.chains[remote_id]
                calls.append(
                    (
                        "clients",
                        "create",
                        interchain_pb2.ClientsCreateArguments(
                            chain_id=remote.chain_id,
                            genesis_hash=remote.genesis_hash,
                            consensus=remote.consensus,
                            crypto_profile=remote.profile_name,
                            trusting_period_ms=config.trusting_period_ms,
                            clock_drift_ms=config.clock_drift_ms,
                            header=remote.client_header(),
                            single_signer_accepted=(
                                remote.consensus == "solo" and config.solo_single_signer_accepted
                            ),
                        ),
                    )
                )
            for remote_id, result in zip(
                remotes, self._governance_block(home, calls, step_ms[1]), strict=True
            ):
                client_id = interchain_pb2.ClientsCreateResult.FromString(
                    result.return_value
                ).client_id
                created[(home_id, remote_id)] = client_id
        for first, second in config.links:
            a, b = config.chains[first].chain_id, config.chains[second].chain_id
            self.links.append(LinkState(a, b, created[(a, b)], created[(b, a)]))
        hub_id = config.chains[0].chain_id
        for home_id, remotes in by_home.items():
            home = self.chains[home_id]
            calls = [
                (
                    "clients",
                    "register_counterparty",
                    interchain_pb2.ClientsRegisterCounterpartyArguments(
                        client_id=created[(home_id, remote_id)],
                        counterparty_client_id=created[(remote_id, home_id)],
                    ),
                )
                for remote_id in remotes
            ]
            calls.append(
                (
                    "packets",
                    "bind_port",
                    interchain_pb2.PacketsBindPortArguments(port=ECHO_PORT, contract=ECHO_CONTRACT),
                )
            )
            calls.append(
                (
                    "packets",
                    "bind_port",
                    interchain_pb2.PacketsBindPortArguments(
                        port=transfer.PORT, contract=transfer.CONTRACT
                    ),
                )
            )
            calls.append(
                (
                    "bank",
                    "issue",
                    interchain_pb2.BankIssueArguments(
                        denom=native_denom(home_id), account=SENDER_MEMBER, amount=ISSUED_AMOUNT
                    ),
                )
            )
            if config.hub_registry and home_id == hub_id:
                for remote_id in remotes:
                    remote = self.chains[remote_id]
                    calls.append(
                        (
                            "hub",
                            "register",
                            interchain_pb2.HubRegisterArguments(
                                member=interchain_pb2.MemberChain(
                                    chain_id=remote.chain_id,
                                    genesis_hash=remote.genesis_hash,
                                    crypto_profile=remote.profile_name,
                                    consensus=remote.consensus,
                                    validator_set=remote.blocks[remote.height].next_validator_set,
                                    client_id=created[(home_id, remote_id)],
                                )
                            ),
                        )
                    )
            if self.atomic is not None:
                client_of_hub = created.get((home_id, hub_id))
                if client_of_hub is not None and home_id != hub_id:
                    self.client_of_hub[home_id] = client_of_hub
                calls.extend(self.atomic.setup_calls(home_id, client_of_hub))
            self._governance_block(home, calls, step_ms[2])
        self.start_ms = step_ms[2]
        self.now_ms = step_ms[2]

    # -- the plan: what happens when ----------------------------------------------------------

    def _plan(self) -> None:
        config = self.config
        faults = config.faults
        random = self.randomness.derive("plan")
        chain_ids = list(self.chains)
        for spec in config.chains:
            jitter = self.randomness.derive(f"chain:{spec.chain_id}")
            self.skew_ms[spec.chain_id] = (
                jitter.randint(-SKEW_MAX_MS, SKEW_MAX_MS) if faults.skew else 0
            )
            self.schedule(
                jitter.randint(1, spec.block_interval_ms),
                self._block_action(spec, jitter),
                f"block {spec.chain_id}",
            )
        if faults.skew:
            self.faults.append(
                "skew " + ", ".join(f"{c} {s:+d}ms" for c, s in self.skew_ms.items())
            )
        # The packets: random links and directions, at random times in the window.
        send_random = self.randomness.derive("sends")
        for number in range(config.packets):
            link = send_random.choice(self.links)
            from_a = send_random.random() < 0.5
            at = send_random.randint(0, config.send_window_ms)
            timeout_after = send_random.randint(*config.timeout_after_ms)
            if send_random.random() < config.transfer_share:
                amount = send_random.randint(1, TRANSFER_AMOUNT_MAX)
                # Sometimes the other chain's voucher going home, late in the window, when the
                # sender may hold some (refused when it does not).
                kind = send_random.choice(("native", "native", "voucher"))
                if kind == "voucher":
                    at = config.send_window_ms // 2 + at // 2
                forward_to = ""
                if not from_a and send_random.random() < config.forward_share:
                    others = [other.b for other in self.links if other.b != link.b]
                    kind, forward_to = "native", send_random.choice(others)
                self.schedule(
                    at,
                    self._transfer_action(link, from_a, timeout_after, amount, kind, forward_to),
                    "transfer",
                )
                continue
            value = REFUSED_VALUE if send_random.random() < 0.1 else b"v%d" % number
            self.schedule(at, self._send_action(link, from_a, timeout_after, value), "send")
        # Relayers, several per link when they race; those of a late link start late.
        late_links = dict(config.atomic.late_links) if config.atomic is not None else {}
        for index, link in enumerate(self.links):
            late_ms = late_links.get(index, 0)
            if late_ms:
                self.faults.append(f"relayers of {link.a}-{link.b} start at +{late_ms}ms")
                self.faults_end_ms = max(self.faults_end_ms, self.now_ms + late_ms)
            for copy in range(faults.relayers_per_link):
                process = RelayerProcess(self, f"r{index}.{copy}", link, f"relayer:{index}:{copy}")
                self.relayers.append(process)
                self.schedule(
                    late_ms + process.random.randint(0, config.relayer_period_ms),
                    self._relayer_action(process),
                    f"round {process.name}",
                )
        self.schedule(config.governance_period_ms, self._governance_action, "governance")
        window = config.send_window_ms
        if faults.halt:
            chain_id = random.choice(chain_ids)
            at = random.randint(0, window)
            length = random.randint(*faults.halt_ms)
            self.faults.append(f"{chain_id} halts at +{at}ms for {length}ms")
            self.faults_end_ms = max(self.faults_end_ms, self.now_ms + at + length)
            self.schedule(at, partial(self._halt, chain_id, length), f"halt {chain_id}")
        if faults.validator_change:
            # Never a solo chain: its one validator cannot leave (the validators contract refuses
            # any change of a solo chain's set).
            candidates = [s for s in config.chains if s.consensus == "tbft" and s.validators >= 4]
            if candidates:
                spec = random.choice(candidates)
                at = random.randint(0, window)
                self.faults.append(f"{spec.chain_id} removes a validator at +{at}ms")
                self.schedule(at, partial(self._change_validators, spec), "validator change")
        if faults.byzantine_relayer:
            kinds = list(_FORGERIES)
            for _ in range(random.randint(2, 5)):
                kind = random.choice(kinds)
                link = random.choice(self.links)
                toward_b = random.random() < 0.5
                at = random.randint(0, window + 2_000)
                self.faults.append(f"byzantine {kind} at +{at}ms")
                self.schedule(
                    at, self._forgery_action(kind, link, toward_b, random), f"forge {kind}"
                )
        if faults.twin_fork:
            link = random.choice(self.links)
            toward_b = random.random() < 0.5
            # Twins are a second node run with a validator's keys, breaking consensus from
            # inside; a solo chain has no consensus to break, and its one validator signing two
            # blocks is the single signer governance chose to trust outright. The fork is then
            # signed by the other end's twins (the draw above is kept: the stream stays as it
            # was for the seeds without a solo chain).
            if self.chains[link.a if toward_b else link.b].consensus == "solo":
                toward_b = not toward_b
            variant = random.choice(("forged-first", "real-first", "misbehaviour"))
            at = random.randint(1_000, window)
            self.faults.append(
                f"twins of {link.a if toward_b else link.b} sign a fork at +{at}ms ({variant})"
            )
            self.schedule(at, partial(self._twin_fork, link, toward_b, variant, 0), "twin fork")
        if faults.partition:
            chain_id = random.choice(chain_ids)
            at = random.randint(0, window // 2)
            # Longer than the trusting period even when the two chains' clocks are skewed apart.
            length = config.trusting_period_ms + 2 * SKEW_MAX_MS + random.randint(2_000, 6_000)
            self.faults.append(f"relayers cut off from {chain_id} at +{at}ms for {length}ms")
            self.faults_end_ms = max(self.faults_end_ms, self.now_ms + at + length)
            self.schedule(at, partial(self._partition, chain_id, length), f"partition {chain_id}")

    # -- actions ------------------------------------------------------------------------------

    def _block_action(self, spec: ChainSpec, jitter: random_module.Random) -> Callable[[], None]:
        # A solo node proposes when transactions wait, and otherwise only an idle heartbeat once
        # IDLE_BLOCK_INTERVAL_MS has passed since its last block (SoloCore.tick).
        waits_for_transactions = spec.consensus == "solo"

        def produce() -> None:
            chain = self.chains[spec.chain_id]
            chain_now_ms = self.now_ms + self.skew_ms.get(spec.chain_id, 0)
            idle = (
                waits_for_transactions
                and not chain.mempool
                and chain_now_ms - chain.time_ms < IDLE_BLOCK_INTERVAL_MS
            )
            if chain.height < CHAIN_BLOCKS_MAX and not chain.halted and not idle:
                self._produce(chain)
            interval = spec.block_interval_ms
            self.schedule(jitter.randint(interval * 7 // 10, interval * 13 // 10), produce, "block")

        return produce

    def _produce(self, chain: InterchainChain) -> None:
        # CPU time of this process, not wall time: the figure should not depend on what else
        # the machine runs.
        started = time.process_time()
        time_ms = self.now_ms + self.skew_ms.get(chain.chain_id, 0)
        transactions = list(chain.mempool)
        committed = chain.produce_block(time_ms)
        seconds = time.process_time() - started
        origins = [self._origins.pop(t.id, "unknown") for t in transactions]
        record = BlockRecord(
            chain.chain_id,
            committed.header.height,
            committed.header.time_ms,
            list(committed.results),
            origins,
            seconds,
        )
        self.blocks.append(record)
        self.statistics["blocks"] += 1
        self.statistics["transactions"] += len(transactions)
        trace = [chain.chain_id, str(record.height), str(record.time_ms - self.start_ms)]
        for result, origin in zip(committed.results, origins, strict=True):
            if result.status != types_pb2.RESULT_STATUS_OK:
                self.statistics["failed_transactions"] += 1
            trace.append(f"{origin}:{result.status}:{len(result.events)}")
            for event in result.events:
                trace.append(event.name)
                # Hashes depend on the keys (fresh in every process), the rest on the seed.
                trace.extend(
                    f"{a.key}={a.value}" for a in event.attributes if not a.key.endswith("_hash")
                )
                trace.append(_traced_data(event))
        data = "\x00".join(trace).encode()
        self._trace.update(len(data).to_bytes(4, "big") + data)

    def _send_action(
        self, link: LinkState, from_a: bool, timeout_after_ms: int, value: bytes
    ) -> Callable[[], None]:
        def send() -> None:
            chain_id, client_id = (link.a, link.a_client) if from_a else (link.b, link.b_client)
            chain = self.chains[chain_id]
            self.statistics["packets_sent"] += 1
            self.submit(
                chain,
                SENDER_MEMBER,
                ECHO_CONTRACT,
                "send",
                interchain_pb2.TransferSendArguments(
                    source_client=client_id,
                    timeout_ms=self.now_ms + self.skew_ms.get(chain_id, 0) + timeout_after_ms,
                    memo=value,
                ),
                "user:send",
            )

        return send

    def _transfer_action(  # noqa: PLR0917 (one transfer's parts, drawn together)
        self,
        link: LinkState,
        from_a: bool,
        timeout_after_ms: int,
        amount: int,
        kind: str,
        forward_to: str,
    ) -> Callable[[], None]:
        def send() -> None:
            chain_id, client_id = (link.a, link.a_client) if from_a else (link.b, link.b_client)
            other_id = link.b if from_a else link.a
            chain = self.chains[chain_id]
            denom = native_denom(chain_id)
            if kind == "voucher":
                denom = f"{transfer.PORT}/{client_id}/{native_denom(other_id)}"
            self.statistics["packets_sent"] += 1
            timeout_ms = self.now_ms + self.skew_ms.get(chain_id, 0) + timeout_after_ms
            memo = b""
            if forward_to:
                # The forwarded packet times out first, so that its end comes back in time.
                memo = transfer.forward_memo(
                    forward_to, SENDER_MEMBER, timeout_ms - timeout_after_ms // 3
                )
            self.submit(
                chain,
                SENDER_MEMBER,
                transfer.CONTRACT,
                "send",
                interchain_pb2.TransferSendArguments(
                    source_client=client_id,
                    denom=denom,
                    amount=amount,
                    receiver=SENDER_MEMBER,
                    timeout_ms=timeout_ms,
                    memo=memo,
                ),
                "user:transfer",
            )

        return send

    def _relayer_action(self, process: RelayerProcess) -> Callable[[], None]:
        period = self.config.relayer_period_ms

        def round_action() -> None:
            crashes, failed = process.crashes, process.failed_rounds
            process.round()
            self.statistics["relayer_rounds"] += 1
            self.statistics["relayer_crashes"] += process.crashes - crashes
            self.statistics["unreachable_rounds"] += process.failed_rounds - failed
            self.schedule(process.random.randint(period, period * 3 // 2), round_action, "round")

        return round_action

    def _halt(self, chain_id: str, length_ms: int) -> None:
        chain = self.chains[chain_id]
        chain.halted = True
        self.halted_until[chain_id] = self.now_ms + length_ms

        def resume() -> None:
            chain.halted = False

        self.schedule(length_ms, resume, f"resume {chain_id}")

    def _partition(self, chain_id: str, length_ms: int) -> None:
        self.unreachable.add(chain_id)
        for link in self.links:
            if chain_id in (link.a, link.b):
                # Both clients on the link go without updates for longer than they trust.
                self.expected.append((link.a, link.a_client, "expired"))
                self.expected.append((link.b, link.b_client, "expired"))
                for end in ((link.a, link.a_client), (link.b, link.b_client)):
                    self.recoverable_from[end] = self.now_ms + length_ms

        def heal() -> None:
            self.unreachable.discard(chain_id)

        self.schedule(length_ms, heal, f"heal {chain_id}")

    def _change_validators(self, spec: ChainSpec) -> None:
        chain = self.chains[spec.chain_id]
        current = chain.blocks[chain.height].next_validator_set.validators
        leaving = current[-1].member_id
        self.submit(
            chain,
            "org1/admin",
            "validators",
            "update",
            contracts_pb2.ValidatorsUpdateArguments(
                updates=[contracts_pb2.ValidatorPowerUpdate(member_id=leaving, voting_power=0)]
            ),
            "governance:validators",
            endorsers=chain.governance_endorsers(),
        )

    def _governance_action(self) -> None:
        """Governance on each chain recovers its clients that a fault froze or expired, once
        the fault is over (a frozen one after ``recover_delay_ms``: it investigates first)."""
        for link in self.links:
            for home_id, client_id, remote_id in (
                (link.a, link.a_client, link.b),
                (link.b, link.b_client, link.a),
            ):
                if self.now_ms < self.recoverable_from.get((home_id, client_id), 0):
                    continue
                home, remote = self.chains[home_id], self.chains[remote_id]
                if remote_id in self.unreachable or home_id in self.unreachable:
                    continue
                described = self.latest_client(home, client_id)
                if described.status == "active":
                    continue
                if described.status == "frozen" and (home_id, client_id) not in (
                    self.recoverable_from
                ):
                    self.recoverable_from[(home_id, client_id)] = (
                        self.now_ms + self.config.recover_delay_ms
                    )
                    continue
                if remote.height <= described.client.latest_height:
                    continue
                self.statistics["recoveries_submitted"] += 1
                self.submit(
                    home,
                    "org1/admin",
                    "clients",
                    "recover",
                    interchain_pb2.ClientsRecoverArguments(
                        client_id=client_id, header=remote.client_header(remote.height)
                    ),
                    "governance:recover",
                    endorsers=home.governance_endorsers(),
                )
        self.schedule(self.config.governance_period_ms, self._governance_action, "governance")

    # -- Byzantine actors -----------------------------------------------------------------------

    def _client_of(
        self, link: LinkState, toward_b: bool
    ) -> tuple[InterchainChain, str, InterchainChain]:
        """(home, home's client of remote, remote): toward_b means b verifies a's data."""
        if toward_b:
            return self.chains[link.b], link.b_client, self.chains[link.a]
        return self.chains[link.a], link.a_client, self.chains[link.b]

    def latest_client(
        self, home: InterchainChain, client_id: str
    ) -> interchain_pb2.ClientsGetResult:
        arguments = interchain_pb2.ClientsGetArguments(client_id=client_id)
        data = self.query(home, "clients", "get", arguments)
        return interchain_pb2.ClientsGetResult.FromString(data)

    def signed_certificate(
        self,
        remote: InterchainChain,
        header: types_pb2.BlockHeader,
        keys: Mapping[str, PrivateKey],
    ) -> types_pb2.CommitCertificate:
        own_hash = block_hash(header, remote.profile.hash)
        document = commit_sign_bytes(remote.chain_id, header.height, 0, own_hash)
        return types_pb2.CommitCertificate(
            height=header.height,
            round=0,
            block_hash=own_hash,
            signatures=[
                types_pb2.CommitSignature(validator=member_id, signature=key.sign(document))
                for member_id, key in keys.items()
            ],
        )

    def client_header_for(
        self,
        remote: InterchainChain,
        header: types_pb2.BlockHeader,
        certificate: types_pb2.CommitCertificate,
        trusted_height: int,
    ) -> interchain_pb2.ClientHeader:
        return interchain_pb2.ClientHeader(
            header=header,
            certificate=certificate,
            validator_set=remote.blocks[header.height].validator_set,
            trusted_height=trusted_height,
            trusted_validator_set=remote.blocks[trusted_height].next_validator_set,
        )

    def _forgery_action(
        self, kind: str, link: LinkState, toward_b: bool, random: random_module.Random
    ) -> Callable[[], None]:
        draw = random.random()

        def forge() -> None:
            if link.a in self.unreachable or link.b in self.unreachable:
                return  # a Byzantine relayer is cut off like any other
            home, client_id, remote = self._client_of(link, toward_b)
            described = self.latest_client(home, client_id)
            if described.status != "active":
                return
            trusted = described.client.latest_height
            arguments = _FORGERIES[kind](
                ForgeryTarget(self, home, client_id, remote, trusted, draw)
            )
            if arguments is None:
                return
            contract, method, message = arguments
            self.submit(home, BYZANTINE_MEMBER, contract, method, message, f"byzantine:{kind}")

        return forge

    def _twin_fork(self, link: LinkState, toward_b: bool, variant: str, attempts: int) -> None:
        home, client_id, remote = self._client_of(link, toward_b)
        described = self.latest_client(home, client_id)
        trusted = described.client.latest_height
        height = remote.height
        cut_off = link.a in self.unreachable or link.b in self.unreachable
        if cut_off or described.status != "active" or height <= trusted:
            if attempts < TWIN_FORK_ATTEMPTS_MAX:
                self.schedule(
                    500, partial(self._twin_fork, link, toward_b, variant, attempts + 1), "twin"
                )
            return
        real = remote.blocks[height].header
        forged = types_pb2.BlockHeader()
        forged.CopyFrom(real)
        forged.state_root = hashlib.sha256(b"twin fork" + real.state_root).digest()
        keys = {
            v.member_id: remote.identities[v.member_id].key
            for v in remote.blocks[height].validator_set.validators
        }
        real_header = self.client_header_for(remote, real, remote.certificate(height), trusted)
        forged_certificate = self.signed_certificate(remote, forged, keys)
        forged_header = self.client_header_for(remote, forged, forged_certificate, trusted)
        self.expected.append((home.chain_id, client_id, "frozen"))
        if variant == "misbehaviour":
            message: Message = interchain_pb2.ClientsMisbehaviourArguments(
                client_id=client_id, first=real_header, second=forged_header
            )
            self.submit(
                home,
                BYZANTINE_MEMBER,
                "clients",
                "submit_misbehaviour",
                message,
                f"twin:{variant}",
            )
            return
        # Two transactions, in the variant's order: an update that freezes the client succeeds
        # (the freeze is written), and one that follows in the same transaction would fail it.
        order = [real_header, forged_header]
        if variant == "forged-first":
            order.reverse()
        for header in order:
            self.submit(
                home,
                BYZANTINE_MEMBER,
                "clients",
                "update",
                interchain_pb2.ClientsUpdateArguments(client_id=client_id, header=header),
                f"twin:{variant}",
            )

    # -- running --------------------------------------------------------------------------------

    def _settled(self) -> bool:
        if self.statistics["packets_sent"] < self.config.packets:
            return False
        if self.atomic is not None and not self.atomic.settled():
            return False
        if self.unreachable or any(chain.halted or chain.mempool for chain in self.chains.values()):
            return False
        for chain in self.chains.values():
            for link in self.links:
                for home_id, client_id in ((link.a, link.a_client), (link.b, link.b_client)):
                    if home_id != chain.chain_id:
                        continue
                    data = self.query(
                        chain,
                        "packets",
                        "list",
                        interchain_pb2.PacketsListArguments(
                            side="sent", client_id=client_id, in_flight_only=True, limit=1
                        ),
                    )
                    if interchain_pb2.PacketsListResult.FromString(data).sent:
                        return False
        # Expected freezes and expiries must have happened and been recovered.
        for home_id, client_id, _ in self.expected:
            described = self.latest_client(self.chains[home_id], client_id)
            if described.status != "active":
                return False
        return not any(
            (home_id, client_id) not in self._recovered for home_id, client_id, _ in self.expected
        )

    def run(self) -> InterchainResult:
        self._setup()
        self.relayers: list[RelayerProcess] = []
        self._recovered: set[tuple[str, str]] = set()
        self._plan()
        if self.atomic is not None:
            self.atomic.plan(native_denom)
        blocks_cap = CHAIN_BLOCKS_MAX
        check_every_ms = 1_000
        next_check = self.now_ms + self.config.send_window_ms
        while self._queue:
            event = heapq.heappop(self._queue)
            self.now_ms = event.time_ms
            event.action()
            if any(chain.height >= blocks_cap for chain in self.chains.values()):
                break
            if self.now_ms >= next_check:
                next_check = self.now_ms + check_every_ms
                self._note_recoveries()
                if self._settled():
                    break
        return InterchainResult(
            seed=self.seed,
            scenario=self.scenario,
            config=self.config,
            chains=self.chains,
            links=self.links,
            blocks=self.blocks,
            faults=self.faults,
            trace_hash=self._trace.hexdigest(),
            end_ms=self.now_ms - self.start_ms,
            expected=self.expected,
            statistics=dict(self.statistics),
            skew_ms=dict(self.skew_ms),
            faults_end_ms=self.faults_end_ms,
            atomic=[] if self.atomic is None else list(self.atomic.planned),
        )

    def _note_recoveries(self) -> None:
        for record in self.blocks[-4 * len(self.chains) :]:
            for result in record.results:
                for event in result.events:
                    if event.name == "recover_client":
                        attributes = {a.key: a.value for a in event.attributes}
                        self._recovered.add((record.chain_id, attributes["client_id"]))


def _traced_data(event: types_pb2.Event) -> str:
    """An event's data as the trace records it: a TRY packet without its owner's signature,
    which depends on the keys (generated afresh in each process) and a random nonce."""
    if event.name == "send_packet":
        packet = interchain_pb2.Packet.FromString(event.data)
        if packet.payload.encoding == ENCODING_TRY:
            data = atomic_pb2.AtomicTryPacketData.FromString(packet.payload.value)
            data.ClearField("owner_signature")
            packet.payload.value = encode(data)
            return encode(packet).hex()
    return event.data.hex()


# -- forgeries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForgeryTarget:
    """Where a Byzantine relayer aims: ``home``'s client ``client_id`` of ``remote``, whose
    latest height is ``trusted``; ``draw`` is the forgery's own random number."""

    simulation: InterchainSimulation
    home: InterchainChain
    client_id: str
    remote: InterchainChain
    trusted: int
    draw: float


Forgery = Callable[[ForgeryTarget], tuple[str, str, Message] | None]


def _update_arguments(
    client_id: str, header: interchain_pb2.ClientHeader
) -> tuple[str, str, Message]:
    return (
        "clients",
        "update",
        interchain_pb2.ClientsUpdateArguments(client_id=client_id, header=header),
    )


def _foreign_keys(target: ForgeryTarget) -> tuple[str, str, Message] | None:
    """A real header signed by keys that are not the validators', under their names."""
    height = target.remote.height
    if height <= target.trusted:
        return None
    header = target.remote.blocks[height].header
    if target.draw < 0.5:
        changed = types_pb2.BlockHeader()
        changed.CopyFrom(header)
        changed.state_root = hashlib.sha256(b"forged" + header.state_root).digest()
        header = changed
    keys = {
        v.member_id: PrivateKey.generate(target.remote.profile.default_algorithm)
        for v in target.remote.blocks[height].validator_set.validators
    }
    certificate = target.simulation.signed_certificate(target.remote, header, keys)
    return _update_arguments(
        target.client_id,
        target.simulation.client_header_for(target.remote, header, certificate, target.trusted),
    )


def _minority_resigned(target: ForgeryTarget) -> tuple[str, str, Message] | None:
    """A real header with another state root, re-signed by a minority of the real validators."""
    height = target.remote.height
    if height <= target.trusted:
        return None
    changed = types_pb2.BlockHeader()
    changed.CopyFrom(target.remote.blocks[height].header)
    changed.state_root = hashlib.sha256(b"minority" + changed.state_root).digest()
    validators = list(target.remote.blocks[height].validator_set.validators)
    # At most a third of the power (a minority that cannot certify alone).
    total = sum(v.voting_power for v in validators)
    chosen: dict[str, PrivateKey] = {}
    power = 0
    for validator in validators:
        if 3 * (power + validator.voting_power) > total:
            break
        power += validator.voting_power
        chosen[validator.member_id] = target.remote.identities[validator.member_id].key
    if not chosen and len(validators) > 1:
        chosen[validators[0].member_id] = target.remote.identities[validators[0].member_id].key
    # A solo chain's one validator is no minority: the minority is nobody, a certificate with
    # no signature.
    certificate = target.simulation.signed_certificate(target.remote, changed, chosen)
    return _update_arguments(
        target.client_id,
        target.simulation.client_header_for(target.remote, changed, certificate, target.trusted),
    )


def _in_flight_packet(
    target: ForgeryTarget, proof_height: int
) -> interchain_pb2.PacketRecord | None:
    """A packet the remote chain sent toward the target client, committed by ``proof_height``
    and not yet received (a delivery of a received one is a no-op before any proof is read)."""
    remote, home, client_id = target.remote, target.home, target.client_id
    simulation = target.simulation
    counterparty = simulation.latest_client(home, client_id).client.counterparty_client_id
    listed = simulation.query(
        remote,
        "packets",
        "list",
        interchain_pb2.PacketsListArguments(
            side="sent", client_id=counterparty, in_flight_only=True, limit=20
        ),
    )
    candidates = [
        record
        for record in interchain_pb2.PacketsListResult.FromString(listed).sent
        if record.sent_height <= proof_height
        and home.value_at(
            PACKETS_NAMESPACE
            + receipt_key(record.packet.destination_client, record.packet.sequence),
            home.height,
        )
        is None
    ]
    if not candidates:
        return None
    return candidates[int(target.draw * len(candidates))]


def _forged_receive(
    target: ForgeryTarget,
    forge: Callable[
        [interchain_pb2.PacketRecord, int], tuple[interchain_pb2.Packet, types_pb2.StateProof]
    ],
) -> tuple[str, str, Message] | None:
    """A relay transaction as an honest relayer would send it (a genuine update of the client to
    the remote's latest height, when its set has not changed since the trusted height) but
    carrying a forged receive, proven at that height."""
    remote, trusted = target.remote, target.trusted
    height = remote.height
    updates: list[interchain_pb2.ClientsUpdateArguments] = []
    trusted_next = remote.blocks[trusted].header.next_validator_set_hash
    if height > trusted and remote.blocks[height].header.validator_set_hash == trusted_next:
        header = target.simulation.client_header_for(
            remote, remote.blocks[height].header, remote.certificate(height), trusted
        )
        updates.append(
            interchain_pb2.ClientsUpdateArguments(client_id=target.client_id, header=header)
        )
    else:
        height = trusted
    record = _in_flight_packet(target, height)
    if record is None:
        return None
    packet, proof = forge(record, height)
    return (
        "packets",
        "relay",
        interchain_pb2.PacketsRelayArguments(
            updates=updates,
            receives=[
                interchain_pb2.PacketsReceiveArguments(
                    packet=packet, proof=proof, proof_height=height
                )
            ],
        ),
    )


def _proof_of_another_key(target: ForgeryTarget) -> tuple[str, str, Message] | None:
    """The proof of another commitment (a sequence not sent) for a real packet."""

    def forge(
        record: interchain_pb2.PacketRecord, height: int
    ) -> tuple[interchain_pb2.Packet, types_pb2.StateProof]:
        packet = record.packet
        other = commitment_path(packet.source_client, packet.sequence + 1_000)
        return packet, target.remote.prove(other, height)

    return _forged_receive(target, forge)


def _proof_of_another_height(target: ForgeryTarget) -> tuple[str, str, Message] | None:
    """The commitment's proof from the height before the send (its absence), for a real packet,
    presented at a height the client holds."""

    def forge(
        record: interchain_pb2.PacketRecord, height: int
    ) -> tuple[interchain_pb2.Packet, types_pb2.StateProof]:
        packet = record.packet
        path = commitment_path(packet.source_client, packet.sequence)
        return packet, target.remote.prove(path, record.sent_height - 1)

    return _forged_receive(target, forge)


def _changed_payload(target: ForgeryTarget) -> tuple[str, str, Message] | None:
    """A real packet with a changed payload, and the real commitment's proof."""

    def forge(
        record: interchain_pb2.PacketRecord, height: int
    ) -> tuple[interchain_pb2.Packet, types_pb2.StateProof]:
        packet = interchain_pb2.Packet()
        packet.CopyFrom(record.packet)
        packet.payload.value = b"forged:" + packet.payload.value
        path = commitment_path(packet.source_client, packet.sequence)
        return packet, target.remote.prove(path, height)

    return _forged_receive(target, forge)


_FORGERIES: dict[str, Forgery] = {
    "header-foreign-keys": _foreign_keys,
    "header-minority-resigned": _minority_resigned,
    "proof-of-another-key": _proof_of_another_key,
    "proof-of-another-height": _proof_of_another_height,
    "changed-payload": _changed_payload,
}


# -- scenarios ----------------------------------------------------------------------------------


def solo_spec(chain_id: str, profile: str = "intl") -> ChainSpec:
    """A solo chain as ``causeway init --consensus solo --orgs 2`` makes it: one validator, two
    organisations (governance is a majority of them, the validator's organisation alone is not),
    a solo node's block interval."""
    return ChainSpec(
        chain_id,
        profile,
        consensus="solo",
        validators=1,
        organisations=2,
        block_interval_ms=SOLO_BLOCK_INTERVAL_MS,
    )


def _pair(*, gm: bool, raft: bool, solo: bool) -> tuple[ChainSpec, ...]:
    profile = "gm" if gm else "intl"
    if solo:
        return (ChainSpec("chain-a"), solo_spec("chain-b", profile))
    second = ChainSpec(
        "chain-b",
        profile,
        consensus="raft" if raft else "tbft",
        validators=3 if raft else 4,
        organisations=3 if raft else 4,
        block_interval_ms=1_200 if raft else 1_000,
    )
    return (ChainSpec("chain-a"), second)


def _mixed(seed: int) -> InterchainConfig:
    """Two chains (one in five gm; the second solo in one seed in eight, else half raft) and
    every fault, each drawn from the seed. With a solo chain every fault is drawn as for the
    others, and _plan adapts two: the validator-set change is skipped (a solo chain's set cannot
    change), the twin fork is signed by the other chain's twins, and the Byzantine "minority"
    re-signing a header of a solo chain is nobody (the one validator is all of its power); a
    halt, a partition, skew and the relayer faults apply to a solo chain as to any."""
    random = RandomSource(seed).derive("scenario")
    raft = random.random() < 0.5
    partition = random.random() < 0.1
    faults = InterchainFaults(
        relayers_per_link=random.randint(1, 3),
        crash_probability=random.choice((0.0, 0.1, 0.25)),
        delay_probability=random.choice((0.0, 0.2, 0.4)),
        duplicate_probability=random.choice((0.0, 0.2, 0.4)),
        halt=random.random() < 0.4,
        skew=random.random() < 0.7,
        validator_change=random.random() < 0.3,
        byzantine_relayer=random.random() < 0.5,
        twin_fork=random.random() < 0.25,
        partition=partition,
    )
    # Drawn last, so that every other draw of a seed is what it was before solo chains came.
    solo = random.random() < SOLO_SHARE
    chains = _pair(gm=seed % 5 == 0, raft=raft, solo=solo)
    return InterchainConfig(chains=chains, links=((0, 1),), faults=faults, packets=6)


def _twin_fork(seed: int) -> InterchainConfig:
    return replace(
        _mixed(seed),
        faults=InterchainFaults(relayers_per_link=2, skew=True, twin_fork=True),
    )


def _partition(seed: int) -> InterchainConfig:
    return replace(
        _mixed(seed),
        faults=InterchainFaults(relayers_per_link=2, skew=True, partition=True),
    )


def _byzantine(seed: int) -> InterchainConfig:
    # A slower honest relayer leaves packets in flight longer for the forgeries to aim at.
    return replace(
        _mixed(seed),
        faults=InterchainFaults(relayers_per_link=1, byzantine_relayer=True, delay_probability=0.2),
        relayer_period_ms=2_500,
    )


def _canary(seed: int) -> InterchainConfig:
    """The receipt rule broken (``unsafe_skip_receipt_check``), with racing relayers that
    duplicate their transactions: the checkers must see packets received twice."""
    return replace(
        _mixed(seed),
        faults=InterchainFaults(relayers_per_link=3, duplicate_probability=0.5),
        unsafe_skip_receipt_check=True,
    )


HUB_MEMBERS = 20
# No solo member: the hub's registry refuses a member chain whose one organisation holds a third
# of the power or more (causeway.interchain.hub), and a solo chain's one organisation holds all
# of it, by design.


def _hub(seed: int) -> InterchainConfig:
    """A hub (4 validators, intl) and 20 member chains (one in four gm raft), each linked to
    the hub directly, registered in its registry, packets both ways; half the transfers members
    send go on through the hub to another member (transfer's forwarding)."""
    del seed
    members = tuple(
        ChainSpec(f"member-{index:02d}")
        if index % 4
        else ChainSpec(
            f"member-{index:02d}",
            "gm",
            consensus="raft",
            validators=3,
            organisations=3,
            block_interval_ms=1_200,
        )
        for index in range(HUB_MEMBERS)
    )
    return InterchainConfig(
        chains=(ChainSpec("hub"), *members),
        links=tuple((0, index) for index in range(1, HUB_MEMBERS + 1)),
        faults=InterchainFaults(relayers_per_link=1, skew=True),
        packets=400,
        send_window_ms=10_000,
        timeout_after_ms=(20_000, 40_000),
        hub_registry=True,
        forward_share=0.5,
    )


def _atomic(seed: int) -> InterchainConfig:
    """A hub (tbft, intl) and two members (chain-a tbft intl; chain-b tbft or raft, intl or gm)
    linked to it and registered; atomic transactions of 2 or 3 legs (some drawn to be refused)
    with relayer crashes, duplicates and delays, a chain halting, skew, late relayers and the
    eager settler, each drawn from the seed."""
    random = RandomSource(seed).derive("scenario")
    raft = random.random() < 0.5
    gm = random.random() < 0.3
    faults = InterchainFaults(
        relayers_per_link=random.randint(1, 2),
        crash_probability=random.choice((0.0, 0.1, 0.25)),
        delay_probability=random.choice((0.0, 0.2, 0.4)),
        duplicate_probability=random.choice((0.0, 0.2, 0.4)),
        halt=random.random() < 0.5,
        halt_ms=(2_000, 6_000),
        skew=random.random() < 0.7,
    )
    late: tuple[tuple[int, int], ...] = ()
    if random.random() < 0.3:
        late = ((random.randrange(2), random.randint(4_000, 12_000)),)
    workload = AtomicWorkload(
        deadline_after_ms=random.choice(((7_000, 12_000), (7_000, 20_000), (15_000, 30_000))),
        eager_settler=random.random() < 0.5,
        late_links=late,
    )
    second = _pair(gm=gm, raft=raft, solo=False)[1]
    return InterchainConfig(
        chains=(ChainSpec("hub"), ChainSpec("chain-a"), second),
        links=((0, 1), (0, 2)),
        faults=faults,
        packets=0,
        hub_registry=True,
        atomic=workload,
        # Long enough that a link whose one relayer keeps crashing, or starts late, does not
        # see its clients expire (a fault of its own, which the other scenarios cover).
        trusting_period_ms=60_000,
    )


def _atomic_canary(seed: int) -> InterchainConfig:
    """Participants that ignore their cancel markers (``unsafe_ignore_cancel_marker``): leg 0 of
    each transaction, on chain-a, is refused, so the hub aborts; the eager settler proves the
    ABORT to chain-b at once, while chain-b's relayer starts late and brings the TRY after it.
    The checkers must see a leg prepared after its cancel."""
    return replace(
        _atomic(seed),
        faults=InterchainFaults(relayers_per_link=1, skew=True),
        atomic=AtomicWorkload(
            transactions=3,
            legs=(2, 2),
            deadline_after_ms=(25_000, 30_000),
            refuse_share=0.0,
            overspend_share=0.0,
            foreign_signature_share=0.0,
            user_writes=0,
            eager_settler=True,
            late_links=((1, 12_000),),
            first_leg_refuses=True,
        ),
        unsafe_ignore_cancel_marker=True,
    )


@dataclass(frozen=True, slots=True)
class InterchainScenario:
    name: str
    description: str
    build: Callable[[int], InterchainConfig]
    expects_violation: bool = False

    def config(self, seed: int) -> InterchainConfig:
        return self.build(seed)

    def run(self, seed: int) -> InterchainResult:
        return InterchainSimulation(seed, self.config(seed), scenario=self.name).run()


INTERCHAIN_SCENARIOS: dict[str, InterchainScenario] = {
    scenario.name: scenario
    for scenario in (
        InterchainScenario(
            "mixed",
            "two chains (intl or gm; tbft, raft or, one seed in eight, solo), every fault drawn "
            "from the seed",
            _mixed,
        ),
        InterchainScenario(
            "twin-fork", "twins sign a fork a relayer submits: the client freezes", _twin_fork
        ),
        InterchainScenario(
            "partition",
            "relayers cut off from a chain past the trusting period: clients expire, "
            "governance recovers them",
            _partition,
        ),
        InterchainScenario(
            "byzantine", "a relayer forges headers, proofs and packet data", _byzantine
        ),
        InterchainScenario(
            "canary",
            "the receipt rule broken on purpose: the checkers must catch double receives",
            _canary,
            expects_violation=True,
        ),
        InterchainScenario(
            "hub-20",
            "a hub and 20 member chains, each linked to the hub directly and registered; half "
            "the members' transfers routed on through the hub to another member",
            _hub,
        ),
        InterchainScenario(
            "atomic",
            "atomic transactions through a hub and two members, legs refused at random, with "
            "relayer crashes, duplicates and delays, a chain halting, skew, late relayers and an "
            "eager settler",
            _atomic,
        ),
        InterchainScenario(
            "atomic-canary",
            "participants ignore their cancel markers on purpose: the checkers must catch a "
            "leg prepared after its cancel",
            _atomic_canary,
            expects_violation=True,
        ),
    )
}


# -- the hub's costs ----------------------------------------------------------------------------


def _counts(transaction_result: types_pb2.TransactionResult) -> list[int]:
    """[client updates, packets received and kept, packets received and forwarded (routed on
    to another member), acknowledgements] in one transaction's events."""
    names = Counter(event.name for event in transaction_result.events)
    forwarded = names["forward"]
    return [
        names["update_client"],
        names["receive_packet"] - forwarded,
        forwarded,
        names["acknowledge_packet"],
    ]


def _least_squares(rows: Sequence[Sequence[float]], targets: Sequence[float]) -> list[float]:
    """The coefficients x minimising |rows x - targets| (normal equations, Gaussian elimination
    with partial pivoting); a column that never varies gets 0."""
    width = len(rows[0])
    matrix = [[sum(r[i] * r[j] for r in rows) for j in range(width)] for i in range(width)]
    vector = [sum(r[i] * t for r, t in zip(rows, targets, strict=True)) for i in range(width)]
    for column in range(width):
        pivot = max(range(column, width), key=lambda row: abs(matrix[row][column]))
        if abs(matrix[pivot][column]) < 1e-12:
            continue
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        vector[column], vector[pivot] = vector[pivot], vector[column]
        for row in range(width):
            if row != column and matrix[row][column]:
                factor = matrix[row][column] / matrix[column][column]
                matrix[row] = [
                    a - factor * b for a, b in zip(matrix[row], matrix[column], strict=True)
                ]
                vector[row] -= factor * vector[column]
    return [vector[i] / matrix[i][i] if abs(matrix[i][i]) >= 1e-12 else 0.0 for i in range(width)]


@dataclass(frozen=True, slots=True)
class HubCosts:
    """What one chain (the hub) spent on relayed work, fitted by least squares over its relay
    transactions (gas: per client update, which includes the transaction carrying it, since a
    relayer's transaction always starts with one; per packet received for the hub itself; per
    packet routed, received and forwarded to another member in the same transaction; per
    acknowledgement) and over its blocks (wall time of executing and applying a block: a fixed
    part per block and the same four parts). Block times are this process's CPU time, which
    depends less on the machine's load than wall time does."""

    transactions: int
    updates: int
    receives: int
    routed: int
    acknowledgements: int
    gas_per_update: float
    gas_per_receive: float
    gas_per_routed: float
    gas_per_acknowledgement: float
    milliseconds_per_block: float
    milliseconds_per_update: float
    milliseconds_per_receive: float
    milliseconds_per_routed: float
    milliseconds_per_acknowledgement: float

    def describe(self) -> str:
        return (
            f"{self.transactions} relay transactions: {self.updates} client updates, "
            f"{self.receives} packets received, {self.routed} routed on, "
            f"{self.acknowledgements} acknowledgements\n"
            f"gas: {self.gas_per_update:,.0f} per client update (with its transaction) + "
            f"{self.gas_per_receive:,.0f} per packet received + "
            f"{self.gas_per_routed:,.0f} per packet routed + "
            f"{self.gas_per_acknowledgement:,.0f} per acknowledgement\n"
            f"CPU time: {self.milliseconds_per_block:.2f} ms per block + "
            f"{self.milliseconds_per_update:.2f} ms per client update + "
            f"{self.milliseconds_per_receive:.2f} ms per packet received + "
            f"{self.milliseconds_per_routed:.2f} ms per packet routed + "
            f"{self.milliseconds_per_acknowledgement:.2f} ms per acknowledgement"
        )


def hub_costs(result: InterchainResult, hub_id: str, member_profile: str | None = None) -> HubCosts:
    """The hub's costs; with ``member_profile``, gas only over the transactions that update a
    client of a member of that profile (an SM2 header costs more to check than a P-256 one)."""
    profile_of = {
        link.a_client: result.chains[link.b].profile_name
        for link in result.links
        if link.a == hub_id
    }
    transaction_rows: list[list[float]] = []
    gas: list[float] = []
    block_rows: list[list[float]] = []
    seconds: list[float] = []
    totals = [0, 0, 0, 0]
    for record in result.blocks:
        if record.chain_id != hub_id:
            continue
        block_counts = [0, 0, 0, 0]
        for transaction_result, origin in zip(record.results, record.origins, strict=True):
            if not origin.startswith("relayer:"):
                continue
            counts = _counts(transaction_result)
            if transaction_result.status != types_pb2.RESULT_STATUS_OK or not counts[0]:
                continue
            updated = next(
                attribute.value
                for event in transaction_result.events
                if event.name == "update_client"
                for attribute in event.attributes
                if attribute.key == "client_id"
            )
            if member_profile is None or profile_of.get(updated) == member_profile:
                transaction_rows.append([float(count) for count in counts])
                gas.append(float(transaction_result.cost.gas_used))
            block_counts = [a + b for a, b in zip(block_counts, counts, strict=True)]
        totals = [a + b for a, b in zip(totals, block_counts, strict=True)]
        block_rows.append([1.0, *map(float, block_counts)])
        seconds.append(record.execution_seconds * 1_000)
    gas_fit = _least_squares(transaction_rows, gas) if transaction_rows else [0.0] * 4
    time_fit = _least_squares(block_rows, seconds) if block_rows else [0.0] * 5
    return HubCosts(len(transaction_rows), *totals, *gas_fit, *time_fit)
