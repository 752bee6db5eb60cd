"""Atomic cross-chain transactions in the multi-chain simulator (docs/simulation.md, "Atomic
transactions"; the protocol is causeway.interchain.atomic, ADR 0004).

The first chain of the run is the hub; the others are its members, each linked to it, registered
in its registry, with the hub registered as their atomic hub and the counter port bound. This
module holds what a run with atomic transactions adds to ``InterchainSimulation``:

- ``AtomicWorkload``: how many transactions, their legs (a bank transfer of the member's native
  denomination, a ``kv`` write on a small pool of keys so that transactions contend for locks, a
  call of the test counter port), how many legs are drawn to fail at TRY (the counter port's
  "refuse", an amount above what the owner holds, a signature by another member's key), the
  deadlines, the users who write the pooled keys and spend their funds directly while legs hold
  them (what a lock must refuse), and two actors:
- the **eager settler**: anyone may deliver a decision proven from the hub's state
  (``atomic.settle``); this one does it as soon as the hub decides, for every leg not yet final,
  updating the participant's client of the hub itself. It races the relayers' TRY packets: an
  ABORT it settles before a leg's TRY arrives leaves the cancel marker the TRY must respect.
- **late links**: the relayers of some links start late (a relayer down when the transactions
  begin), so that TRY packets arrive after the hub has decided.

``AtomicActors`` plans these on the simulation's clock and answers whether every transaction
is over (decided, every leg final, no lock held), which the run waits for before it stops.
Everything random is drawn from the run's ``RandomSource``.
"""

from __future__ import annotations

import random as random_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from google.protobuf.message import Message

from causeway.contracts.v1 import contracts_pb2
from causeway.interchain import atomic
from causeway.interchain.keys import (
    ATOMIC_NAMESPACE,
    atomic_cancel_path,
    atomic_decision_path,
    atomic_leg_path,
    atomic_prepared_prefix,
    atomic_transaction_key,
)
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.sim.chain import InterchainChain
from causeway.sim.randomness import RandomSource
from causeway.types import decode
from causeway.types.v1 import types_pb2


class AtomicHost(Protocol):
    """What the actors use of the simulation (``causeway.sim.interchain.InterchainSimulation``),
    named here so that this module does not import it."""

    chains: dict[str, InterchainChain]
    randomness: RandomSource
    now_ms: int
    skew_ms: dict[str, int]
    statistics: dict[str, int]
    client_of_hub: dict[str, str]

    def schedule(self, delay_ms: int, action: Callable[[], None], label: str) -> None: ...

    def submit(  # noqa: PLR0917 (as InterchainSimulation.submit)
        self,
        chain: InterchainChain,
        sender: str,
        contract: str,
        method: str,
        arguments: Message,
        origin: str,
        *,
        endorsers: Sequence[str] = (),
    ) -> None: ...

    def latest_client(
        self, home: InterchainChain, client_id: str
    ) -> interchain_pb2.ClientsGetResult: ...

    def client_header_for(
        self,
        remote: InterchainChain,
        header: types_pb2.BlockHeader,
        certificate: types_pb2.CommitCertificate,
        trusted_height: int,
    ) -> interchain_pb2.ClientHeader: ...


# The members' users: the owner of every leg, and who receives what a bank leg pays.
OWNER_MEMBER = "org1/alice"
PAYEE_MEMBER = "org2/bob"
# A leg's "foreign" signature is made with this member's key, under the owner's name.
FOREIGN_SIGNER = "org2/bob"
KV_POOL_PREFIX = b"pool/"
BANK_LEG_AMOUNT_MAX = 5_000
# More than the owner ever holds (the simulator issues ISSUED_AMOUNT): the leg is refused.
OVERSPEND_AMOUNT = 10**12
# How long the eager settler waits before it tries a leg again (its settle may fail: the client
# update beside it refused, the participant halted), which bounds how often it resubmits.
SETTLER_RETRY_MS = 3_000
SETTLER_PERIOD_MS = 500
# After the network heals (the deadline passed, no chain halted, every relayer started), every
# transaction is decided and every leg final (its locks released) within this bound; the checker
# (causeway.sim.atomic_checkers) holds every run to it. What it covers: the relayer's decide
# sweep (a round, 1 to 1.5 s, and a hub block), the DECISION relayed (a round, a client update,
# a block), each relayer possibly crashed for up to 4 s on the way, and the relayers' settle by
# proof after SETTLE_AFTER_MS when a DECISION is lost.
ATOMIC_SETTLE_BOUND_MS = 30_000


@dataclass(frozen=True, slots=True)
class AtomicWorkload:
    transactions: int = 6
    legs: tuple[int, int] = (2, 3)
    # A transaction's deadline: this long after the hub's time when it is submitted (at least
    # ATOMIC_DEADLINE_MIN_MS plus a block, or the hub refuses it).
    deadline_after_ms: tuple[int, int] = (7_000, 20_000)
    # Transactions are submitted over this window, from when the links are up.
    window_ms: int = 8_000
    # Per leg: drawn to be refused at TRY.
    refuse_share: float = 0.08
    overspend_share: float = 0.05
    foreign_signature_share: float = 0.05
    kv_keys: int = 3
    # Direct writes of pooled keys and direct bank sends by the owner, in the window.
    user_writes: int = 4
    eager_settler: bool = False
    # (link index, ms): that link's relayers start this long after the links are up.
    late_links: tuple[tuple[int, int], ...] = ()
    # The canary's shape: leg 0 on the first member always refuses, the other legs go to the
    # other members.
    first_leg_refuses: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.legs[0] <= self.legs[1] <= atomic.ATOMIC_LEGS_MAX:
            raise ValueError(f"legs {self.legs} must lie within 1 to {atomic.ATOMIC_LEGS_MAX}")
        if self.deadline_after_ms[0] <= atomic.ATOMIC_DEADLINE_MIN_MS:
            raise ValueError(
                f"a deadline {self.deadline_after_ms[0]} ms after submission is refused: the "
                f"hub asks for more than {atomic.ATOMIC_DEADLINE_MIN_MS} ms after its block"
            )


@dataclass(slots=True)
class PlannedTransaction:
    """One atomic transaction as submitted: its id (known before the hub records it), body, and
    the simulation time of its submission."""

    transaction_id: bytes
    body: atomic_pb2.AtomicTransactionBody
    submitted_ms: int


def pool_key(number: int) -> bytes:
    return KV_POOL_PREFIX + str(number).encode()


def leg_states(
    chain: InterchainChain, hub_chain_id: str, transaction: bytes, leg_index: int
) -> tuple[atomic_pb2.AtomicLegRecord | None, bool]:
    """The participant's record of a leg (None when it has none) and whether its cancel marker
    is set, in the chain's latest state."""
    data = chain.state.get(atomic_leg_path(hub_chain_id, transaction, leg_index))
    record = None if data is None else decode(atomic_pb2.AtomicLegRecord, data, bytes_max=len(data))
    return record, atomic_cancel_path(hub_chain_id, transaction, leg_index) in chain.state


def decision_of(hub: InterchainChain, transaction: bytes) -> atomic_pb2.AtomicDecisionRecord | None:
    data = hub.state.get(atomic_decision_path(transaction))
    if data is None:
        return None
    return decode(atomic_pb2.AtomicDecisionRecord, data, bytes_max=len(data))


def leg_is_final(
    chain: InterchainChain, hub_chain_id: str, transaction: bytes, leg_index: int, outcome: int
) -> bool:
    """Whether the decision reached the leg: CONFIRMED for a commit; the cancel marker (which
    every ABORT applied leaves, whatever the leg's state was) for an abort."""
    record, marker = leg_states(chain, hub_chain_id, transaction, leg_index)
    if outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT:
        return record is not None and record.state == atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
    return marker


class AtomicActors:
    """The workload's actors on one simulation (see the module docstring)."""

    def __init__(
        self, simulation: AtomicHost, workload: AtomicWorkload, chain_ids: Sequence[str]
    ) -> None:
        """``chain_ids``: the run's chains, the hub first."""
        self.simulation = simulation
        self.workload = workload
        self.hub_id = chain_ids[0]
        self.members = list(chain_ids[1:])
        self.planned: list[PlannedTransaction] = []
        self.submitted = 0
        self._settle_tried: dict[tuple[bytes, int], int] = {}

    # -- setup: what governance does on each chain -------------------------------------------------

    def setup_calls(
        self, home_id: str, client_of_hub: str | None
    ) -> list[tuple[str, str, Message]]:
        """Governance's calls on ``home_id``: port "atomic" bound on every chain; on a member,
        the hub registered as its atomic hub (over its client of the hub) and the counter port
        bound."""
        calls: list[tuple[str, str, Message]] = [
            (
                "packets",
                "bind_port",
                interchain_pb2.PacketsBindPortArguments(port=atomic.PORT, contract=atomic.CONTRACT),
            )
        ]
        if home_id != self.hub_id and client_of_hub is not None:
            calls.append(
                (
                    atomic.CONTRACT,
                    "register_hub",
                    atomic_pb2.AtomicRegisterHubArguments(
                        hub_chain_id=self.hub_id, client_id=client_of_hub
                    ),
                )
            )
            calls.append(
                (
                    atomic.CONTRACT,
                    "bind_port",
                    atomic_pb2.AtomicBindPortArguments(port=atomic.TEST_PORT),
                )
            )
        return calls

    # -- the plan ----------------------------------------------------------------------------------

    def plan(self, denom_of: Callable[[str], str]) -> None:
        simulation = self.simulation
        workload = self.workload
        random = simulation.randomness.derive("atomic")
        for number in range(workload.transactions):
            at = random.randint(0, workload.window_ms)
            simulation.schedule(
                at, partial(self._submit, number, random.random(), denom_of), "atomic begin"
            )
        for _ in range(workload.user_writes):
            at = random.randint(0, workload.window_ms + 4_000)
            chain_id = random.choice(self.members)
            if random.random() < 0.5:
                key = pool_key(random.randrange(workload.kv_keys))
                simulation.schedule(
                    at, partial(self._user_write, chain_id, key, b"user"), "user kv write"
                )
            else:
                amount = random.randint(1, 2_000)
                simulation.schedule(
                    at, partial(self._user_send, chain_id, denom_of(chain_id), amount), "user send"
                )
        if workload.eager_settler:
            simulation.schedule(SETTLER_PERIOD_MS, self._settler_round, "eager settler")

    def _leg(
        self,
        random: random_module.Random,
        chain_id: str,
        denom: str,
        *,
        refuse: bool,
        number: int,
    ) -> atomic_pb2.AtomicLeg:
        leg = atomic_pb2.AtomicLeg(chain_id=chain_id, owner=OWNER_MEMBER)
        kind = random.choice(("bank", "kv", "port"))
        if refuse or random.random() < self.workload.refuse_share:
            kind = "refuse"
        if kind == "refuse":
            leg.port_call.CopyFrom(
                atomic_pb2.AtomicPortCall(
                    port=atomic.TEST_PORT, method=atomic.TEST_METHOD_REFUSE, arguments=b"refused"
                )
            )
        elif kind == "bank":
            amount = random.randint(1, BANK_LEG_AMOUNT_MAX)
            if random.random() < self.workload.overspend_share:
                amount = OVERSPEND_AMOUNT
            leg.bank_transfer.CopyFrom(
                atomic_pb2.AtomicBankTransfer(
                    from_account=OWNER_MEMBER, to_account=PAYEE_MEMBER, denom=denom, amount=amount
                )
            )
        elif kind == "kv":
            delete = random.random() < 0.1
            leg.kv_write.CopyFrom(
                atomic_pb2.AtomicKvWrite(
                    key=pool_key(random.randrange(self.workload.kv_keys)),
                    value=b"" if delete else b"transaction %d" % number,
                    delete=delete,
                )
            )
        else:
            leg.port_call.CopyFrom(
                atomic_pb2.AtomicPortCall(
                    port=atomic.TEST_PORT,
                    method=atomic.TEST_METHOD_ADD,
                    arguments=b"counter-%d" % random.randrange(2),
                )
            )
        return leg

    def _submit(self, number: int, draw: float, denom_of: Callable[[str], str]) -> None:
        simulation = self.simulation
        workload = self.workload
        random = random_module.Random(draw)
        hub = simulation.chains[self.hub_id]
        count = random.randint(*workload.legs)
        legs: list[atomic_pb2.AtomicLeg] = []
        for index in range(count):
            if workload.first_leg_refuses:
                chain_id = self.members[0] if index == 0 else random.choice(self.members[1:])
            else:
                chain_id = self.members[index % len(self.members)]
                if index >= len(self.members):
                    chain_id = random.choice(self.members)
            leg = self._leg(
                random,
                chain_id,
                denom_of(chain_id),
                refuse=workload.first_leg_refuses and index == 0,
                number=number,
            )
            leg.index = index
            legs.append(leg)
        hub_now_ms = simulation.now_ms + simulation.skew_ms.get(self.hub_id, 0)
        body = atomic_pb2.AtomicTransactionBody(
            version=atomic.BODY_VERSION,
            hub_chain_id=self.hub_id,
            nonce=random.randbytes(16),
            deadline_ms=hub_now_ms + random.randint(*workload.deadline_after_ms),
            memo=f"simulated {number}",
            legs=legs,
        )
        transaction = atomic.transaction_id(body, hub.profile.hash)
        authorisations = []
        for leg in body.legs:
            participant = simulation.chains[leg.chain_id]
            signer = leg.owner
            if random.random() < workload.foreign_signature_share:
                signer = FOREIGN_SIGNER
            message = atomic.leg_sign_bytes(body.hub_chain_id, transaction, body.deadline_ms, leg)
            authorisations.append(
                atomic_pb2.AtomicLegAuthorisation(
                    leg_index=leg.index,
                    signature=participant.identities[signer].key.sign(message),
                )
            )
        self.planned.append(PlannedTransaction(transaction, body, simulation.now_ms))
        self.submitted += 1
        simulation.statistics["atomic_submitted"] += 1
        simulation.submit(
            hub,
            OWNER_MEMBER,
            atomic.CONTRACT,
            "begin",
            atomic_pb2.AtomicBeginArguments(body=body, authorisations=authorisations),
            "user:atomic-begin",
        )

    def _user_write(self, chain_id: str, key: bytes, value: bytes) -> None:
        self.simulation.submit(
            self.simulation.chains[chain_id],
            OWNER_MEMBER,
            "kv",
            "put",
            contracts_pb2.KvPutArguments(key=key, value=value),
            "user:kv-put",
        )

    def _user_send(self, chain_id: str, denom: str, amount: int) -> None:
        self.simulation.submit(
            self.simulation.chains[chain_id],
            OWNER_MEMBER,
            "bank",
            "send",
            interchain_pb2.BankSendArguments(to=PAYEE_MEMBER, denom=denom, amount=amount),
            "user:bank-send",
        )

    # -- the eager settler -------------------------------------------------------------------------

    def _settler_round(self) -> None:
        simulation = self.simulation
        hub = simulation.chains[self.hub_id]
        for planned in self.planned:
            decision = decision_of(hub, planned.transaction_id)
            if decision is None:
                continue
            for leg in planned.body.legs:
                self._settle(planned.transaction_id, leg, decision)
        simulation.schedule(SETTLER_PERIOD_MS, self._settler_round, "eager settler")

    def _settle(
        self,
        transaction: bytes,
        leg: atomic_pb2.AtomicLeg,
        decision: atomic_pb2.AtomicDecisionRecord,
    ) -> None:
        simulation = self.simulation
        participant = simulation.chains[leg.chain_id]
        hub = simulation.chains[self.hub_id]
        tried = self._settle_tried.get((transaction, leg.index))
        if tried is not None and simulation.now_ms - tried < SETTLER_RETRY_MS:
            return
        if leg_is_final(participant, self.hub_id, transaction, leg.index, decision.outcome):
            return
        client_id = simulation.client_of_hub[leg.chain_id]
        described = simulation.latest_client(participant, client_id)
        if described.status != "active":
            return
        self._settle_tried[(transaction, leg.index)] = simulation.now_ms
        trusted = described.client.latest_height
        proof_height = trusted
        if trusted < decision.decided_height:
            # The participant's client has not seen the decision yet: the settler updates it to
            # the hub's latest height (the hub's set never changes in these runs) in a
            # transaction just before its settle.
            proof_height = hub.height
            header = simulation.client_header_for(
                hub, hub.blocks[proof_height].header, hub.certificate(proof_height), trusted
            )
            simulation.submit(
                participant,
                OWNER_MEMBER,
                "clients",
                "update",
                interchain_pb2.ClientsUpdateArguments(client_id=client_id, header=header),
                "settler:update",
            )
        simulation.statistics["settler_settles"] += 1
        simulation.submit(
            participant,
            OWNER_MEMBER,
            atomic.CONTRACT,
            "settle",
            atomic_pb2.AtomicSettleArguments(
                hub_chain_id=self.hub_id,
                leg_index=leg.index,
                decision=decision,
                proof_height=proof_height,
                proof=hub.prove(atomic_decision_path(transaction), proof_height),
            ),
            "settler:settle",
        )

    # -- when it is over ---------------------------------------------------------------------------

    def settled(self) -> bool:
        """Every transaction submitted, and each the hub recorded decided and final on every
        leg; no leg prepared on any member."""
        if self.submitted < self.workload.transactions:
            return False
        hub = self.simulation.chains[self.hub_id]
        for planned in self.planned:
            if ATOMIC_NAMESPACE + atomic_transaction_key(planned.transaction_id) not in hub.state:
                continue  # the hub refused it: nothing began
            decision = decision_of(hub, planned.transaction_id)
            if decision is None:
                return False
            for leg in planned.body.legs:
                participant = self.simulation.chains[leg.chain_id]
                if not leg_is_final(
                    participant, self.hub_id, planned.transaction_id, leg.index, decision.outcome
                ):
                    return False
        for member in self.members:
            prefix = atomic_prepared_prefix(self.hub_id)
            chain = self.simulation.chains[member]
            if any(key.startswith(ATOMIC_NAMESPACE + prefix) for key in chain.state):
                return False
        return True
