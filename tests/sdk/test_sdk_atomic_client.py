"""client.atomic (``Atomic`` and ``AsyncAtomic``) and ``submit_and_wait`` over fake nodes that
hold the state the contract would write: what each call reads and sends, the records it returns,
and the refusals that leave the chains untouched."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf.message import Message

from causeway.api.v1 import api_pb2
from causeway.crypto import PrivateKey
from causeway.errors import NotFoundError, RequestError, TransactionFailedError
from causeway.interchain import keys
from causeway.interchain.v1 import atomic_pb2
from causeway.sdk import Identity
from causeway.sdk.atomic import (
    AsyncAtomic,
    Atomic,
    AtomicNetwork,
    async_wait_for_end,
    build_body,
    submit_and_wait,
    transaction_id,
)
from causeway.sdk.transactions import SubmitResult
from causeway.types import encode
from causeway.types.v1 import types_pb2

HEIGHT = 7


@dataclass
class FakeNode:
    """A node of one chain: state by absolute key, and the transactions sent to it."""

    chain: str
    state: dict[bytes, bytes] = field(default_factory=dict)
    sent: list[tuple[str, str, Message | bytes]] = field(default_factory=list)
    status_of_result: int = types_pb2.RESULT_STATUS_OK
    profile: str = "intl"

    def chain_id(self) -> str:
        return self.chain

    def status(self) -> api_pb2.GetStatusResponse:
        return api_pb2.GetStatusResponse(
            chain_id=self.chain, crypto_profile=self.profile, height=HEIGHT
        )

    def get_state(self, key: bytes, height: int = 0, *, verify: bool = True) -> Any:
        value = self.state.get(key)
        return api_pb2.GetStateResponse(
            found=value is not None, value=value or b"", height=height or HEIGHT
        )

    def invoke(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> SubmitResult:
        self.sent.append((contract, method, arguments))
        result = types_pb2.TransactionResult(status=self.status_of_result, error="refused")
        if method == "begin":
            result.return_value = encode(atomic_pb2.AtomicBeginResult())
        return SubmitResult(b"t" * 32, HEIGHT, result, committed=True)

    def evaluate(self, contract: str, method: str, arguments: Message | bytes) -> Any:
        return types_pb2.TransactionResult(
            status=types_pb2.RESULT_STATUS_OK,
            return_value=encode(atomic_pb2.AtomicListResult(next=b"n")),
        )

    @property
    def atomic(self) -> Atomic:
        return Atomic(self)  # type: ignore[arg-type]


class AsyncFakeNode:
    def __init__(self, node: FakeNode) -> None:
        self.node = node

    async def chain_id(self) -> str:
        return self.node.chain

    async def get_state(self, key: bytes, height: int = 0, *, verify: bool = True) -> Any:
        return self.node.get_state(key, height)

    async def invoke(self, *arguments: Any, **keywords: Any) -> SubmitResult:
        return self.node.invoke(*arguments, **keywords)

    async def evaluate(self, *arguments: Any) -> Any:
        return self.node.evaluate(*arguments)


def owner(chain: str) -> Identity:
    return Identity("org1/client", PrivateKey.generate("ecdsa-p256"), "intl", chain)


def body() -> atomic_pb2.AtomicTransactionBody:
    return build_body(
        "hub",
        [
            atomic_pb2.AtomicLeg(
                chain_id="chain-a",
                owner="org1/client",
                bank_transfer=atomic_pb2.AtomicBankTransfer(
                    from_account="org1/client", to_account="org2/client", denom="g", amount=1
                ),
            ),
            atomic_pb2.AtomicLeg(
                chain_id="chain-b",
                owner="org1/client",
                kv_write=atomic_pb2.AtomicKvWrite(key=b"k", value=b"v", expect_absent=True),
            ),
        ],
        deadline_ms=10_000,
        nonce=b"n" * 16,
    )


def ended(hub: FakeNode, chains: dict[str, FakeNode], outcome: int, states: Sequence[int]) -> bytes:
    """The state of a transaction decided ``outcome`` whose legs ended in ``states``."""
    the_body = body()
    identifier = transaction_id(the_body, "intl")
    record = atomic_pb2.AtomicTransactionRecord(
        transaction_id=identifier, body=the_body, outcome=outcome
    )
    hub.state[keys.ATOMIC_NAMESPACE + keys.atomic_transaction_key(identifier)] = encode(record)
    hub.state[keys.atomic_decision_path(identifier)] = encode(
        atomic_pb2.AtomicDecisionRecord(transaction_id=identifier, outcome=outcome)
    )
    for leg, state in zip(the_body.legs, states, strict=True):
        chains[leg.chain_id].state[keys.atomic_leg_path("hub", identifier, leg.index)] = encode(
            atomic_pb2.AtomicLegRecord(state=state, leg=leg)
        )
        if outcome == atomic_pb2.ATOMIC_OUTCOME_ABORT:
            chains[leg.chain_id].state[keys.atomic_cancel_path("hub", identifier, leg.index)] = (
                encode(atomic_pb2.AtomicCancelMarker(height=HEIGHT))
            )
    return identifier


def test_get_reads_the_record_and_the_decision() -> None:
    hub = FakeNode("hub")
    chains = {"chain-a": FakeNode("chain-a"), "chain-b": FakeNode("chain-b")}
    identifier = ended(hub, chains, atomic_pb2.ATOMIC_OUTCOME_COMMIT, [3, 3])
    record, decision = hub.atomic.get(identifier)
    assert record.body == body()
    assert decision is not None and decision.outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT
    del hub.state[keys.atomic_decision_path(identifier)]
    assert hub.atomic.get(identifier)[1] is None  # pending
    with pytest.raises(NotFoundError, match="has no atomic transaction"):
        hub.atomic.get(b"x" * 32)
    with pytest.raises(RequestError, match="a transaction id is 32 bytes"):
        hub.atomic.get(b"x" * 31)


def test_a_decision_without_an_outcome_is_a_bad_answer() -> None:
    hub = FakeNode("hub")
    identifier = ended(hub, {"chain-a": FakeNode("a"), "chain-b": FakeNode("b")}, 1, [3, 3])
    hub.state[keys.atomic_decision_path(identifier)] = encode(
        atomic_pb2.AtomicDecisionRecord(transaction_id=identifier)
    )
    with pytest.raises(RequestError, match="names no outcome"):
        hub.atomic.get(identifier)


def test_leg_reads_the_record_and_the_marker() -> None:
    hub = FakeNode("hub")
    chains = {"chain-a": FakeNode("chain-a"), "chain-b": FakeNode("chain-b")}
    identifier = ended(hub, chains, atomic_pb2.ATOMIC_OUTCOME_ABORT, [4, 2])
    first = chains["chain-a"].atomic.leg("hub", identifier, 0)
    assert first.record.state == atomic_pb2.ATOMIC_LEG_STATE_CANCELLED and first.cancel_marker
    nothing = chains["chain-a"].atomic.leg("hub", identifier, 5)
    assert not nothing.HasField("record") and not nothing.cancel_marker


def test_governance_and_hub_calls_send_what_they_name() -> None:
    chain = FakeNode("chain-a")
    with pytest.raises(NotFoundError, match="has no hub 'hub' registered"):
        chain.atomic.hub_client("hub")
    chain.atomic.register_hub("hub", "client-0")
    chain.atomic.bind_port("atomic-counter")
    chain.atomic.decide([b"i" * 32])
    assert [(method, arguments) for _, method, arguments in chain.sent] == [
        (
            "register_hub",
            atomic_pb2.AtomicRegisterHubArguments(hub_chain_id="hub", client_id="client-0"),
        ),
        ("bind_port", atomic_pb2.AtomicBindPortArguments(port="atomic-counter")),
        ("decide", atomic_pb2.AtomicDecideArguments(transaction_ids=[b"i" * 32])),
    ]
    chain.state[keys.ATOMIC_NAMESPACE + keys.atomic_hub_key("hub")] = b"client-0"
    assert chain.atomic.hub_client("hub") == "client-0"
    assert chain.atomic.list(open_only=True).next == b"n"
    with pytest.raises(RequestError, match="limit 101 is not 0"):
        chain.atomic.list(limit=101)


def test_a_refused_call_raises_with_the_contracts_reason() -> None:
    chain = FakeNode("chain-a", status_of_result=types_pb2.RESULT_STATUS_PERMISSION_DENIED)
    with pytest.raises(TransactionFailedError, match=r"atomic\.register_hub failed"):
        chain.atomic.register_hub("hub", "client-0")


def test_submit_and_wait_signs_begins_and_waits_for_every_leg() -> None:
    hub = FakeNode("hub")
    chains = {"chain-a": FakeNode("chain-a"), "chain-b": FakeNode("chain-b")}
    network = AtomicNetwork(hub=hub, chains=chains)  # type: ignore[arg-type]
    identifier = ended(hub, chains, atomic_pb2.ATOMIC_OUTCOME_COMMIT, [3, 3])
    found, report = submit_and_wait(
        network, body(), {0: owner("chain-a"), 1: owner("chain-b")}, timeout_s=5.0
    )
    assert found == identifier
    assert report is not None and report.committed
    ((contract, method, arguments),) = hub.sent
    assert (contract, method) == ("atomic", "begin")
    assert isinstance(arguments, atomic_pb2.AtomicBeginArguments)
    assert [entry.leg_index for entry in arguments.authorisations] == [0, 1]


def test_submit_and_wait_sends_nothing_when_a_leg_is_unsigned_or_unreachable() -> None:
    hub = FakeNode("hub")
    chains = {"chain-a": FakeNode("chain-a"), "chain-b": FakeNode("chain-b")}
    network = AtomicNetwork(hub=hub, chains=chains)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match=r"no signature for leg 1 \(org1/client on chain-b\)"):
        submit_and_wait(network, body(), {0: owner("chain-a")})
    partial = AtomicNetwork(hub=hub, chains={"chain-a": chains["chain-a"]})  # type: ignore[arg-type]
    with pytest.raises(Exception, match="no client of chain 'chain-b'"):
        submit_and_wait(partial, body(), {0: owner("chain-a"), 1: owner("chain-b")})
    assert hub.sent == []


def test_waiting_times_out_naming_what_is_open() -> None:
    hub = FakeNode("hub")
    chains = {"chain-a": FakeNode("chain-a"), "chain-b": FakeNode("chain-b")}
    network = AtomicNetwork(hub=hub, chains=chains)  # type: ignore[arg-type]
    ended(hub, chains, atomic_pb2.ATOMIC_OUTCOME_COMMIT, [3, 1])
    with pytest.raises(RequestError, match="decided commit, but leg 1 prepared") as caught:
        submit_and_wait(
            network,
            body(),
            {0: owner("chain-a"), 1: owner("chain-b")},
            timeout_s=0.2,
            poll_interval_s=0.05,
        )
    assert caught.value.reason == "timeout"


def test_the_asyncio_calls_read_the_same() -> None:
    hub = FakeNode("hub")
    chains = {"chain-a": FakeNode("chain-a"), "chain-b": FakeNode("chain-b")}
    identifier = ended(hub, chains, atomic_pb2.ATOMIC_OUTCOME_ABORT, [4, 2])

    async def scenario() -> None:
        atomic_hub = AsyncAtomic(AsyncFakeNode(hub))  # type: ignore[arg-type]
        participants = {
            name: AsyncAtomic(AsyncFakeNode(node))  # type: ignore[arg-type]
            for name, node in chains.items()
        }
        _, decision = await atomic_hub.get(identifier)
        assert decision is not None and decision.outcome == atomic_pb2.ATOMIC_OUTCOME_ABORT
        leg = await participants["chain-b"].leg("hub", identifier, 1)
        assert leg.record.state == atomic_pb2.ATOMIC_LEG_STATE_REFUSED and leg.cancel_marker
        report = await async_wait_for_end(atomic_hub, participants, identifier, timeout_s=5.0)
        assert report.aborted
        await participants["chain-a"].register_hub("hub", "client-0")
        with pytest.raises(NotFoundError):
            await atomic_hub.get(b"z" * 32)

    asyncio.run(scenario())
    assert chains["chain-a"].sent[-1][1] == "register_hub"


def test_clients_offer_atomic_beside_interchain() -> None:
    from causeway.sdk import AsyncClient, Client  # noqa: PLC0415

    with Client("127.0.0.1:1") as client:
        assert isinstance(client.atomic, Atomic)

    async def scenario() -> None:
        async with AsyncClient("127.0.0.1:1") as client:
            assert isinstance(client.atomic, AsyncAtomic)

    asyncio.run(scenario())
