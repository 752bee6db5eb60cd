"""The relayer process's loop over two real chains in process (InterchainChain, through the
in-process Endpoint): packets sent on either chain end acknowledged or timed out through the
loop's rounds, with the metrics a Prometheus scrape would read; a link whose node is down fails
its rounds, backs off (doubling to the bound) and recovers; the loop stops when told."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from google.protobuf.message import Message
from interchain_chain import Endpoint, InterchainChain

from causeway.crypto import PrivateKey
from causeway.errors import RequestError
from causeway.execution import CONTRACTS, Contract, Method, TransactionContext, decode_arguments
from causeway.interchain import packets
from causeway.interchain.clients import CLIENTS
from causeway.interchain.ports import Port
from causeway.interchain.relayer import RelayerMetrics, SdkEndpoint
from causeway.interchain.relayer.service import (
    BACKOFF_DOUBLINGS_MAX,
    Link,
    RelayerService,
    ended_sequences,
)
from causeway.interchain.relaying import LinkEnd, Relayer
from causeway.interchain.v1 import interchain_pb2
from causeway.sdk import Identity
from causeway.types import encode
from causeway.types.v1 import types_pb2

TRUSTING_PERIOD_MS = 600_000
CLOCK_DRIFT_MS = 10_000
PACKET_LIFETIME_MS = 60_000
ROUNDS_MAX = 8


# -- a small application on both chains: "echo" acknowledges what it receives -------------------


class EchoHandler:
    """Acknowledges a packet with its own value; refuses the value b"refuse" (an error
    acknowledgement); records how each packet it sent ended."""

    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement | None:
        if packet.payload.value == b"refuse":
            raise RequestError("echo refuses this value")
        return interchain_pb2.Acknowledgement(success=True, result=packet.payload.value)

    def on_acknowledge(
        self,
        context: TransactionContext,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
    ) -> None:
        context.put(b"ended/%d" % packet.sequence, b"acknowledged")

    def on_timeout(self, context: TransactionContext, packet: interchain_pb2.Packet) -> None:
        context.put(b"ended/%d" % packet.sequence, b"timed out")


def _send(context: TransactionContext, arguments: bytes) -> bytes:
    # The arguments are a Packet naming the source client, the timeout and the payload's value.
    request = decode_arguments(context, interchain_pb2.Packet, arguments)
    packet = packets.send_packet(
        context,
        source_client=request.source_client,
        timeout_ms=request.timeout_ms,
        payload=interchain_pb2.Payload(
            source_port="echo",
            destination_port="echo",
            version="echo-1",
            encoding="text/plain",
            value=request.payload.value,
        ),
    )
    return encode(packet)


ECHO = Contract(name="echo", methods={"send": Method(_send)}, namespace=b"echo/")
CHAIN_CONTRACTS: dict[str, Contract] = {
    **CONTRACTS,
    "clients": CLIENTS,
    "packets": packets.packets_contract({"echo": Port(contract=ECHO, handler=EchoHandler())}),
    "echo": ECHO,
}


def check(result: types_pb2.TransactionResult) -> types_pb2.TransactionResult:
    assert result.status == types_pb2.RESULT_STATUS_OK, result.error
    return result


def governance(
    chain: InterchainChain, contract: str, method: str, arguments: Message
) -> types_pb2.TransactionResult:
    return check(chain.governance(contract, method, arguments))


def create_client(home: InterchainChain, remote: InterchainChain) -> str:
    home.advance(1, interval_ms=max(1_000, remote.time_ms - home.time_ms))
    result = governance(
        home,
        "clients",
        "create",
        interchain_pb2.ClientsCreateArguments(
            chain_id=remote.chain_id,
            genesis_hash=remote.genesis_hash,
            consensus=remote.consensus,
            crypto_profile=remote.profile_name,
            trusting_period_ms=TRUSTING_PERIOD_MS,
            clock_drift_ms=CLOCK_DRIFT_MS,
            header=remote.client_header(),
        ),
    )
    return interchain_pb2.ClientsCreateResult.FromString(result.return_value).client_id


@dataclass
class Linked:
    first: InterchainChain
    second: InterchainChain
    first_client: str
    second_client: str
    link: Link
    endpoints: tuple[Endpoint, Endpoint]

    def send(
        self, chain: InterchainChain, value: bytes, lifetime_ms: int = PACKET_LIFETIME_MS
    ) -> int:
        client = self.first_client if chain is self.first else self.second_client
        result = check(
            chain.run(
                "org1/alice",
                "echo",
                "send",
                interchain_pb2.Packet(
                    source_client=client,
                    timeout_ms=chain.time_ms + 1_000 + lifetime_ms,
                    payload=interchain_pb2.Payload(value=value),
                ),
            )
        )
        return interchain_pb2.Packet.FromString(result.return_value).sequence

    def ended(self, chain: InterchainChain, sequence: int) -> bytes | None:
        return chain.state.get(b"echo/ended/%d" % sequence)


@pytest.fixture
def linked() -> Linked:
    first = InterchainChain("chain-a", contracts=CHAIN_CONTRACTS)
    second = InterchainChain("chain-b", contracts=CHAIN_CONTRACTS)
    first.advance(2)
    second.advance(2)
    first_client = create_client(first, second)
    second_client = create_client(second, first)
    for chain, own, other in (
        (first, first_client, second_client),
        (second, second_client, first_client),
    ):
        governance(
            chain,
            "clients",
            "register_counterparty",
            interchain_pb2.ClientsRegisterCounterpartyArguments(
                client_id=own, counterparty_client_id=other
            ),
        )
        governance(
            chain,
            "packets",
            "bind_port",
            interchain_pb2.PacketsBindPortArguments(port="echo", contract="echo"),
        )
    endpoints = (Endpoint(first), Endpoint(second))
    link = Link(
        name="a-b",
        first=LinkEnd(endpoints[0], first_client),
        second=LinkEnd(endpoints[1], second_client),
    )
    return Linked(first, second, first_client, second_client, link, endpoints)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def service_for(links: list[Link], clock: Clock, metrics: RelayerMetrics) -> RelayerService:
    return RelayerService(
        links,
        relayer=Relayer(batch_deliveries_max=50),
        metrics=metrics,
        round_interval_s=1.0,
        backoff_max_s=8.0,
        clock=clock,
    )


def sample(metrics: RelayerMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def dead_address() -> str:
    """A loopback address nothing listens on (a port the kernel just handed out and took back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{held.getsockname()[1]}"


def run_until(service: RelayerService, clock: Clock, done: Callable[[], bool]) -> int:
    for rounds in range(1, ROUNDS_MAX + 1):
        clock.now += service.seconds_until_due()
        assert service.run_due() == len(service.links)
        if done():
            return rounds
    raise AssertionError(f"not done after {ROUNDS_MAX} rounds")


def test_packets_both_ways_end_acknowledged_through_the_loop(linked: Linked) -> None:
    clock = Clock()
    metrics = RelayerMetrics()
    service = service_for([linked.link], clock, metrics)
    from_first = [linked.send(linked.first, b"hello %d" % index) for index in range(3)]
    refused = linked.send(linked.first, b"refuse")
    from_second = linked.send(linked.second, b"back")

    def all_ended() -> bool:
        return all(linked.ended(linked.first, s) for s in [*from_first, refused]) and bool(
            linked.ended(linked.second, from_second)
        )

    rounds = run_until(service, clock, all_ended)
    assert rounds <= 3
    # An error acknowledgement ends the packet too: the application was told (and would refund).
    assert {linked.ended(linked.first, s) for s in [*from_first, refused]} == {b"acknowledged"}
    assert linked.ended(linked.second, from_second) == b"acknowledged"
    # One more round finds nothing left in flight.
    clock.now += service.seconds_until_due()
    service.run_due()
    a_to_b = {"link": "a-b", "source": "chain-a", "destination": "chain-b"}
    b_to_a = {"link": "a-b", "source": "chain-b", "destination": "chain-a"}
    assert sample(metrics, "causeway_relayer_pending_packets", **a_to_b) == 0
    assert sample(metrics, "causeway_relayer_pending_packets", **b_to_a) == 0
    assert sample(metrics, "causeway_relayer_relay_latency_seconds_count", **a_to_b) == 4
    assert sample(metrics, "causeway_relayer_relay_latency_seconds_count", **b_to_a) == 1
    # Latency is measured in the loop's clock: at least one round interval from first seen.
    assert sample(metrics, "causeway_relayer_relay_latency_seconds_sum", **a_to_b) >= 4 * 1.0
    assert sample(metrics, "causeway_relayer_rounds_total", link="a-b", outcome="ok") == rounds + 1
    spent = sum(
        sample(metrics, "causeway_relayer_transactions_total", link="a-b", chain=chain)
        for chain in ("chain-a", "chain-b")
    )
    submitted = sum(len(endpoint.submitted) for endpoint in linked.endpoints)
    assert spent == submitted == service.totals.transactions
    assert service.totals.failed_transactions == 0
    assert (
        sample(
            metrics,
            "causeway_relayer_deliveries_total",
            link="a-b",
            chain="chain-b",
            kind="receive",
        )
        == 4
    )
    assert (
        sample(
            metrics,
            "causeway_relayer_deliveries_total",
            link="a-b",
            chain="chain-a",
            kind="acknowledgement",
        )
        == 4
    )
    assert service.totals.receives == 5 and service.totals.acknowledgements == 5


def test_the_pending_gauge_shows_what_waits_before_a_round_carries_it(linked: Linked) -> None:
    clock = Clock()
    metrics = RelayerMetrics()
    service = service_for([linked.link], clock, metrics)
    for index in range(2):
        linked.send(linked.first, b"p %d" % index)
    service.run_due()
    labels = {"link": "a-b", "source": "chain-a", "destination": "chain-b"}
    assert sample(metrics, "causeway_relayer_pending_packets", **labels) == 2
    assert service.states["a-b"].pending[("chain-a", "chain-b")] == 2


def test_a_packet_past_its_timeout_is_timed_out_through_the_loop(linked: Linked) -> None:
    clock = Clock()
    metrics = RelayerMetrics()
    service = service_for([linked.link], clock, metrics)
    sequence = linked.send(linked.first, b"late", lifetime_ms=2_000)
    # The receiver's time passes the timeout before any relayer carries the packet.
    linked.second.advance(1, interval_ms=10_000)
    run_until(service, clock, lambda: linked.ended(linked.first, sequence) is not None)
    assert linked.ended(linked.first, sequence) == b"timed out"
    assert service.totals.timeouts == 1 and service.totals.receives == 0


def test_a_link_whose_node_is_down_backs_off_and_the_other_links_go_on(
    linked: Linked,
) -> None:
    clock = Clock()
    metrics = RelayerMetrics()
    identity = Identity("org1/relayer", PrivateKey.generate("ecdsa-p256"), "intl", "chain-c")
    down = SdkEndpoint("chain-c", [dead_address()], identity, request_timeout_s=2.0)
    broken = Link(name="a-c", first=linked.link.first, second=LinkEnd(down, "client-9"))
    service = service_for([broken, linked.link], clock, metrics)
    sequence = linked.send(linked.first, b"goes through")
    waits: list[float] = []
    while len(waits) < 5:
        clock.now += service.seconds_until_due()
        rounds_before = service.states["a-c"].rounds
        service.run_due()
        state = service.states["a-c"]
        if state.rounds > rounds_before:
            waits.append(state.next_round_s - clock.now)
    # The failing link waits the round interval doubled after each failure, up to the bound;
    # meanwhile the other link ran every second (seconds 0 to 15).
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert service.states["a-c"].failures == 5
    assert "no node of chain chain-c answered" in service.states["a-c"].last_error
    assert sample(metrics, "causeway_relayer_rounds_total", link="a-c", outcome="failed") == 5
    assert sample(metrics, "causeway_relayer_rounds_total", link="a-b", outcome="ok") == 16
    assert linked.ended(linked.first, sequence) == b"acknowledged"
    assert service.states["a-b"].failures == 0
    down.close()


def test_the_backoff_doublings_are_bounded() -> None:
    # 2**16 round intervals is beyond any allowed backoff (1 hour / 100 ms = 36,000).
    assert 1 << BACKOFF_DOUBLINGS_MAX > 3_600_000 // 100


def test_the_loop_runs_until_stopped(linked: Linked) -> None:
    metrics = RelayerMetrics()
    stop = threading.Event()
    seen: list[int] = []

    def on_round(service: RelayerService) -> None:
        seen.append(service.totals.rounds)
        if service.totals.rounds >= 3:
            stop.set()

    service = RelayerService(
        [linked.link],
        relayer=Relayer(),
        metrics=metrics,
        round_interval_s=0.01,
        backoff_max_s=0.01,
        on_round=on_round,
    )
    sequence = linked.send(linked.first, b"x")
    worker = threading.Thread(target=service.run, args=(stop,))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert seen == [1, 2, 3]
    assert linked.ended(linked.first, sequence) == b"acknowledged"


def test_invalid_intervals_are_refused(linked: Linked) -> None:
    with pytest.raises(ValueError, match="the interval must be positive"):
        service_for_intervals(linked, 0.0, 1.0)
    with pytest.raises(ValueError, match="the backoff at least the interval"):
        service_for_intervals(linked, 2.0, 1.0)


def service_for_intervals(linked: Linked, interval: float, backoff: float) -> RelayerService:
    return RelayerService(
        [linked.link],
        relayer=Relayer(),
        metrics=RelayerMetrics(),
        round_interval_s=interval,
        backoff_max_s=backoff,
    )


def test_a_round_sends_to_both_chains_at_the_same_time(linked: Linked) -> None:
    # Each chain's submission waits for the other's to start: a loop that delivered to one
    # chain after the other would break the barrier (its wait times out) and fail the round.
    barrier = threading.Barrier(2, timeout=10)

    class Meeting(Endpoint):
        def submit_all(self, contract, method, arguments):  # type: ignore[no-untyped-def]
            barrier.wait()
            return super().submit_all(contract, method, arguments)

    link = Link(
        name="a-b",
        first=LinkEnd(Meeting(linked.first), linked.first_client),
        second=LinkEnd(Meeting(linked.second), linked.second_client),
    )
    linked.send(linked.first, b"to b")
    linked.send(linked.second, b"to a")
    metrics = RelayerMetrics()
    service = service_for([link], Clock(), metrics)
    report = service.run_round(link)
    assert report is not None
    assert report.receives == {"chain-a": 1, "chain-b": 1}
    assert not barrier.broken


def test_latency_counts_each_packet_once_when_a_round_reads_only_the_lowest_in_flight(
    linked: Linked,
) -> None:
    # One packet a round, reading two: a packet above what a round read is not taken as ended.
    clock = Clock()
    metrics = RelayerMetrics()
    service = RelayerService(
        [linked.link],
        relayer=Relayer(round_packets_max=1),
        metrics=metrics,
        round_interval_s=1.0,
        backoff_max_s=8.0,
        clock=clock,
    )
    sent = [linked.send(linked.first, b"packet %d" % index) for index in range(5)]
    run_until(service, clock, lambda: all(linked.ended(linked.first, s) for s in sent))
    clock.now += service.seconds_until_due()
    service.run_due()
    a_to_b = {"link": "a-b", "source": "chain-a", "destination": "chain-b"}
    assert sample(metrics, "causeway_relayer_relay_latency_seconds_count", **a_to_b) == len(sent)
    # Each ended at least two rounds (received, then acknowledged) after it was first seen.
    assert sample(metrics, "causeway_relayer_relay_latency_seconds_sum", **a_to_b) >= 5 * 1.0


def test_a_sequence_above_what_a_round_read_is_not_taken_as_ended() -> None:
    seen = [1, 2, 3, 7, 9]
    # Every packet in flight read: whatever is not in flight any more has ended.
    assert ended_sequences(seen, {3, 9}, complete=True) == [1, 2, 7]
    # Only the lowest read (up to 5): 7 and 9 were not looked at.
    assert ended_sequences(seen, {3, 5}, complete=False) == [1, 2]
    assert ended_sequences(seen, set(), complete=True) == seen
