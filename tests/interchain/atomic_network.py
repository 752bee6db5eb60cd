"""A hub and two member chains for the atomic tests: A (intl, tbft, 4 validators), hub H (intl,
tbft) and B (gm, raft, 3 validators) on one clock, each running every contract a node runs with
the atomic contract given the test counter port (ATOMIC_TEST_PORTS), and a driver contract
(bank_chain.Driver) that runs a test's body in a real transaction.

A and B are registered members of H; each registered H as its atomic hub; port "atomic" is bound
on all three and the counter port on A and B. org1/alice holds 1,000 gold on A and on B.

``deliver`` plays the packets contract for a packet a test makes up (the TRY or DECISION a hub
would send, its proof taken as good): the atomic handler in atomic's own context inside a
savepoint, whose writes a RequestError rolls back into an error acknowledgement. Everything else
goes through the real packets contract and relayer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bank_chain import DRIVER, Driver, balance, ok
from interchain_chain import Clock, Endpoint, InterchainChain
from link_support import bind_port, create_client_of, register_counterparty

from causeway.errors import RequestError
from causeway.execution import TransactionContext
from causeway.execution.keys import KV_NAMESPACE
from causeway.interchain import CHAIN_CONTRACTS, PORTS, LinkEnd, Relayer, atomic, keys
from causeway.interchain.atomic import ATOMIC_TEST_PORTS, AtomicApplication
from causeway.interchain.packets import packets_contract
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

# Client ids: A's of H, H's of A, H's of B, B's of H (H has a spare first, so ids differ).
A_OF_H = "client-0"
H_OF_A = "client-1"
H_OF_B = "client-2"
B_OF_H = "client-0"
HUB = "hub"
GOLD = "gold"
GOLD_ISSUED = 1_000
DEADLINE_AFTER_MS = 60_000


def contracts_with(application: AtomicApplication, driver: Driver) -> dict[str, object]:
    return {
        **CHAIN_CONTRACTS,
        "packets": packets_contract({**PORTS, atomic.PORT: application.port}),
        atomic.CONTRACT: application.contract,
        atomic.TEST_CONTRACT: atomic.TEST_COUNTER,
        DRIVER: driver.contract,
    }


def register_member(hub: InterchainChain, chain: InterchainChain, client_id: str) -> None:
    member = interchain_pb2.MemberChain(
        chain_id=chain.chain_id,
        genesis_hash=chain.genesis_hash,
        crypto_profile=chain.profile_name,
        consensus=chain.consensus,
        validator_set=chain.blocks[chain.height].validator_set,
        endpoints=["127.0.0.1:7101"],
        client_id=client_id,
    )
    ok(hub.governance("hub", "register", interchain_pb2.HubRegisterArguments(member=member)))


@dataclass
class AtomicNetwork:
    a: InterchainChain
    h: InterchainChain
    b: InterchainChain
    driver: Driver
    application: AtomicApplication
    relayer: Relayer = field(default_factory=Relayer)

    # -- relaying ----------------------------------------------------------------------------

    def relay_a(self) -> None:
        self.relayer.relay_round(
            LinkEnd(Endpoint(self.h), H_OF_A), LinkEnd(Endpoint(self.a), A_OF_H)
        )

    def relay_b(self) -> None:
        self.relayer.relay_round(
            LinkEnd(Endpoint(self.h), H_OF_B), LinkEnd(Endpoint(self.b), B_OF_H)
        )

    def relay(self, rounds: int = 1) -> None:
        for _ in range(rounds):
            self.relay_a()
            self.relay_b()

    # -- building transactions ---------------------------------------------------------------

    def chain(self, chain_id: str) -> InterchainChain:
        return {"chain-a": self.a, "hub": self.h, "chain-b": self.b}[chain_id]

    def body(
        self, legs: Sequence[atomic_pb2.AtomicLeg], *, deadline_after_ms: int = DEADLINE_AFTER_MS
    ) -> atomic_pb2.AtomicTransactionBody:
        nonce = os.urandom(16)
        body = atomic_pb2.AtomicTransactionBody(
            version=1,
            hub_chain_id=HUB,
            nonce=nonce,
            deadline_ms=self.now_ms() + deadline_after_ms,
            memo="test",
        )
        for index, leg in enumerate(legs):
            added = body.legs.add()
            added.CopyFrom(leg)
            added.index = index
        return body

    def now_ms(self) -> int:
        """The shared clock: the time of the latest block of any of the three chains."""
        assert self.h.clock is not None
        return self.h.clock.now_ms

    def transaction_id(self, body: atomic_pb2.AtomicTransactionBody) -> bytes:
        return atomic.transaction_id(body, self.h.profile.hash)

    def sign(self, body: atomic_pb2.AtomicTransactionBody, index: int, signer: str = "") -> bytes:
        leg = body.legs[index]
        chain = self.chain(leg.chain_id)
        message = atomic.leg_sign_bytes(
            body.hub_chain_id, self.transaction_id(body), body.deadline_ms, leg
        )
        return chain.identities[signer or leg.owner].key.sign(message)

    def arguments(self, body: atomic_pb2.AtomicTransactionBody) -> atomic_pb2.AtomicBeginArguments:
        return atomic_pb2.AtomicBeginArguments(
            body=body,
            authorisations=[
                atomic_pb2.AtomicLegAuthorisation(leg_index=index, signature=self.sign(body, index))
                for index in range(len(body.legs))
            ],
        )

    def begin(self, body: atomic_pb2.AtomicTransactionBody) -> bytes:
        result = ok(self.h.run("org1/alice", "atomic", "begin", self.arguments(body)))
        return atomic_pb2.AtomicBeginResult.FromString(result.return_value).transaction_id

    # -- reading state -----------------------------------------------------------------------

    def hub_record(self, transaction: bytes) -> atomic_pb2.AtomicTransactionRecord:
        data = self.h.state[keys.ATOMIC_NAMESPACE + keys.atomic_transaction_key(transaction)]
        return decode(atomic_pb2.AtomicTransactionRecord, data, bytes_max=len(data))

    def decision(self, transaction: bytes) -> atomic_pb2.AtomicDecisionRecord | None:
        data = self.h.state.get(keys.atomic_decision_path(transaction))
        if data is None:
            return None
        return decode(atomic_pb2.AtomicDecisionRecord, data, bytes_max=len(data))

    def leg(
        self, chain: InterchainChain, transaction: bytes, index: int
    ) -> atomic_pb2.AtomicLegRecord | None:
        return leg_record(chain, transaction, index)

    def marker(self, chain: InterchainChain, transaction: bytes, index: int) -> bool:
        return keys.atomic_cancel_path(HUB, transaction, index) in chain.state

    # -- playing the packets contract ---------------------------------------------------------

    def run_in_atomic(
        self, chain: InterchainChain, body: Callable[[TransactionContext], object]
    ) -> types_pb2.TransactionResult:
        """Runs ``body`` with the atomic contract's own context in a real transaction."""
        self.driver.body = lambda context: body(
            context.enter(atomic.CONTRACT, atomic.NAMESPACE, atomic.GRANTS)
        )
        return chain.run("org1/relayer", DRIVER, "run")

    def deliver(
        self, chain: InterchainChain, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement:
        """The atomic handler's answer to ``packet`` as the packets contract gives it."""
        answers: list[interchain_pb2.Acknowledgement] = []

        def body(context: TransactionContext) -> None:
            savepoint = context.savepoint()
            try:
                answer = self.application.handler.on_receive(context, packet)
            except RequestError as error:
                context.rollback_to(savepoint)
                answer = interchain_pb2.Acknowledgement(success=False, error=error.message)
            else:
                context.release(savepoint)
            assert answer is not None
            answers.append(answer)

        ok(self.run_in_atomic(chain, body))
        (answer,) = answers
        return answer


def leg_record(
    chain: InterchainChain, transaction: bytes, index: int, hub: str = HUB
) -> atomic_pb2.AtomicLegRecord | None:
    data = chain.state.get(keys.atomic_leg_path(hub, transaction, index))
    if data is None:
        return None
    return decode(atomic_pb2.AtomicLegRecord, data, bytes_max=len(data))


def kv_value(chain: InterchainChain, key: bytes) -> bytes | None:
    return chain.state.get(KV_NAMESPACE + key)


def lock_count(chain: InterchainChain) -> int:
    value = chain.state.get(keys.ATOMIC_NAMESPACE + keys.ATOMIC_LOCK_COUNT)
    return 0 if value is None else int.from_bytes(value, "big")


def gold(chain: InterchainChain, account: str = "org1/alice") -> int:
    return balance(chain, account, GOLD)


def bank_leg(
    chain_id: str,
    amount: int = 10,
    *,
    owner: str = "org1/alice",
    from_account: str = "",
    to_account: str = "org2/bob",
) -> atomic_pb2.AtomicLeg:
    return atomic_pb2.AtomicLeg(
        chain_id=chain_id,
        owner=owner,
        bank_transfer=atomic_pb2.AtomicBankTransfer(
            from_account=from_account or owner, to_account=to_account, denom=GOLD, amount=amount
        ),
    )


def kv_leg(
    chain_id: str,
    key: bytes = b"registrations/42",
    value: bytes = b"registered",
    *,
    owner: str = "org1/alice",
    expect_absent: bool = False,
    expected_value_hash: bytes = b"",
    delete: bool = False,
) -> atomic_pb2.AtomicLeg:
    return atomic_pb2.AtomicLeg(
        chain_id=chain_id,
        owner=owner,
        kv_write=atomic_pb2.AtomicKvWrite(
            key=key,
            value=b"" if delete else value,
            delete=delete,
            expect_absent=expect_absent,
            expected_value_hash=expected_value_hash,
        ),
    )


def port_leg(
    chain_id: str, name: bytes = b"visits", *, method: str = atomic.TEST_METHOD_ADD
) -> atomic_pb2.AtomicLeg:
    return atomic_pb2.AtomicLeg(
        chain_id=chain_id,
        owner="org1/alice",
        port_call=atomic_pb2.AtomicPortCall(port=atomic.TEST_PORT, method=method, arguments=name),
    )


def counter(chain: InterchainChain, name: bytes = b"visits") -> int:
    value = chain.state.get(atomic.TEST_NAMESPACE + atomic.TEST_COUNTER_PREFIX + name)
    return 0 if value is None else int.from_bytes(value, "big")


def build_network(*, unsafe_ignore_cancel_marker: bool = False) -> AtomicNetwork:
    driver = Driver()
    application = AtomicApplication(
        ATOMIC_TEST_PORTS, unsafe_ignore_cancel_marker=unsafe_ignore_cancel_marker
    )
    contracts = contracts_with(application, driver)
    clock = Clock()
    a = InterchainChain("chain-a", "intl", contracts=contracts, clock=clock)  # type: ignore[arg-type]
    h = InterchainChain(HUB, "intl", contracts=contracts, clock=clock)  # type: ignore[arg-type]
    b = InterchainChain(
        "chain-b",
        "gm",
        consensus="raft",
        validators=3,
        organisations=3,
        contracts=contracts,  # type: ignore[arg-type]
        clock=clock,
    )
    for chain in (a, h, b):
        chain.advance(1)
    create_client_of(h, b)  # spare: H's ids of A and B are then client-1 and client-2
    assert create_client_of(a, h) == A_OF_H
    assert create_client_of(h, a) == H_OF_A
    assert create_client_of(h, b) == H_OF_B
    assert create_client_of(b, h) == B_OF_H
    register_counterparty(a, A_OF_H, H_OF_A)
    register_counterparty(h, H_OF_A, A_OF_H)
    register_counterparty(h, H_OF_B, B_OF_H)
    register_counterparty(b, B_OF_H, H_OF_B)
    register_member(h, a, H_OF_A)
    register_member(h, b, H_OF_B)
    for chain in (a, h, b):
        bind_port(chain, atomic.PORT, atomic.CONTRACT)
    for chain, client in ((a, A_OF_H), (b, B_OF_H)):
        ok(
            chain.governance(
                "atomic",
                "register_hub",
                atomic_pb2.AtomicRegisterHubArguments(hub_chain_id=HUB, client_id=client),
            )
        )
        ok(
            chain.governance(
                "atomic", "bind_port", atomic_pb2.AtomicBindPortArguments(port=atomic.TEST_PORT)
            )
        )
        issued = interchain_pb2.BankIssueArguments(
            denom=GOLD, account="org1/alice", amount=GOLD_ISSUED
        )
        ok(chain.run("org1/admin", "bank", "issue", issued))
    return AtomicNetwork(a, h, b, driver, application)


def try_packet(
    data: atomic_pb2.AtomicTryPacketData,
    *,
    destination_client: str = A_OF_H,
    sequence: int = 1,
    timeout_ms: int = 1 << 62,
) -> interchain_pb2.Packet:
    return interchain_pb2.Packet(
        source_client=H_OF_A,
        destination_client=destination_client,
        sequence=sequence,
        timeout_ms=timeout_ms,
        payload=interchain_pb2.Payload(
            source_port=atomic.PORT,
            destination_port=atomic.PORT,
            version=atomic.VERSION,
            encoding=atomic.ENCODING_TRY,
            value=encode(data),
        ),
    )


def decision_packet(
    transaction: bytes,
    leg_index: int,
    outcome: int,
    *,
    hub: str = HUB,
    destination_client: str = A_OF_H,
    sequence: int = 2,
) -> interchain_pb2.Packet:
    data = atomic_pb2.AtomicDecisionPacketData(
        hub_chain_id=hub,
        transaction_id=transaction,
        leg_index=leg_index,
        outcome=outcome,  # type: ignore[arg-type]
    )
    return interchain_pb2.Packet(
        source_client=H_OF_A,
        destination_client=destination_client,
        sequence=sequence,
        timeout_ms=1 << 62,
        payload=interchain_pb2.Payload(
            source_port=atomic.PORT,
            destination_port=atomic.PORT,
            version=atomic.VERSION,
            encoding=atomic.ENCODING_DECISION,
            value=encode(data),
        ),
    )


def vote_of(acknowledgement: interchain_pb2.Acknowledgement) -> atomic_pb2.AtomicVote:
    assert acknowledgement.success, acknowledgement.error
    return atomic_pb2.AtomicVote.FromString(acknowledgement.result)


def final_of(acknowledgement: interchain_pb2.Acknowledgement) -> atomic_pb2.AtomicLegFinal:
    assert acknowledgement.success, acknowledgement.error
    return atomic_pb2.AtomicLegFinal.FromString(acknowledgement.result)


def signed_try(
    network: AtomicNetwork,
    leg: atomic_pb2.AtomicLeg,
    *,
    signer: str = "",
    deadline_after_ms: int = DEADLINE_AFTER_MS,
) -> atomic_pb2.AtomicTryPacketData:
    """A TRY for a one-leg transaction on ``leg.chain_id`` as the hub would send it, signed by
    the leg's owner (or ``signer``)."""
    body = network.body([leg], deadline_after_ms=deadline_after_ms)
    return atomic_pb2.AtomicTryPacketData(
        hub_chain_id=HUB,
        transaction_id=network.transaction_id(body),
        deadline_ms=body.deadline_ms,
        leg=body.legs[0],
        owner_signature=network.sign(body, 0, signer),
    )
