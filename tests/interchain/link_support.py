"""Two real chains joined by clients at both ends, a bound port on each, and a relayer between
them: what the packet, transfer and relayer tests start from.

The application on port "echo" stores what it receives and acknowledges with it; it refuses the
value b"refuse" (an error acknowledgement) and records acknowledgements and timeouts, so that a
test can see what the sender's application was told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from interchain_chain import Clock, Endpoint, InterchainChain, check_ok

from causeway.execution import (
    CONTRACTS,
    Contract,
    Method,
    TransactionContext,
    failure,
)
from causeway.interchain import LinkEnd, Port, Relayer
from causeway.interchain.clients import CLIENTS
from causeway.interchain.hub import HUB
from causeway.interchain.packets import packets_contract, send_packet, write_acknowledgement
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode
from causeway.types.v1 import types_pb2

ECHO_PORT = "echo"
TRUSTING_PERIOD_MS = 3_600_000
CLOCK_DRIFT_MS = 10_000
REFUSED_VALUE = b"refuse"


class EchoHandler:
    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement | None:
        value = packet.payload.value
        context.put(b"received/" + f"{packet.sequence:020d}".encode(), value)
        if value == REFUSED_VALUE:
            raise failure(types_pb2.RESULT_STATUS_INVALID_ARGUMENT, "echo refuses this value")
        if value == b"later":
            return None
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


def _send(context: TransactionContext, arguments: bytes) -> bytes:
    request = interchain_pb2.TransferSendArguments.FromString(arguments)
    packet = send_packet(
        context,
        source_client=request.source_client,
        timeout_ms=request.timeout_ms,
        payload=interchain_pb2.Payload(
            source_port=ECHO_PORT,
            destination_port=request.receiver or ECHO_PORT,
            version="echo-1",
            encoding="raw",
            value=request.memo,
        ),
    )
    return encode(packet)


def _acknowledge_later(context: TransactionContext, arguments: bytes) -> bytes:
    packet = interchain_pb2.Packet.FromString(arguments)
    write_acknowledgement(
        context, packet, interchain_pb2.Acknowledgement(success=True, result=b"late")
    )
    return b""


ECHO = Contract(
    name="echo",
    methods={"send": Method(_send), "acknowledge_later": Method(_acknowledge_later)},
    namespace=b"echo/",
)
PORTS: Mapping[str, Port] = {ECHO_PORT: Port(contract=ECHO, handler=EchoHandler())}
LINK_CONTRACTS: Mapping[str, Contract] = {
    **CONTRACTS,
    "clients": CLIENTS,
    "packets": packets_contract(PORTS),
    "hub": HUB,
    "echo": ECHO,
}


def create_client_of(home: InterchainChain, remote: InterchainChain, **fields: object) -> str:
    """Governance on ``home`` creates a client of ``remote`` at its latest height."""
    arguments = interchain_pb2.ClientsCreateArguments(
        chain_id=remote.chain_id,
        genesis_hash=remote.genesis_hash,
        consensus=remote.consensus,
        crypto_profile=remote.profile_name,
        trusting_period_ms=TRUSTING_PERIOD_MS,
        clock_drift_ms=CLOCK_DRIFT_MS,
        header=remote.client_header(),
    )
    for name, value in fields.items():
        setattr(arguments, name, value)
    result = check_ok(home.governance("clients", "create", arguments))
    return interchain_pb2.ClientsCreateResult.FromString(result.return_value).client_id


@dataclass
class Link:
    a: InterchainChain
    b: InterchainChain
    a_client: str  # a's client of b
    b_client: str  # b's client of a
    a_endpoint: Endpoint
    b_endpoint: Endpoint

    @property
    def a_end(self) -> LinkEnd:
        return LinkEnd(self.a_endpoint, self.a_client)

    @property
    def b_end(self) -> LinkEnd:
        return LinkEnd(self.b_endpoint, self.b_client)

    def relay(self, relayer: Relayer | None = None) -> None:
        (relayer or Relayer()).relay_round(self.a_end, self.b_end)

    def send(
        self,
        value: bytes,
        *,
        timeout_after_ms: int = 600_000,
        from_b: bool = False,
        destination_port: str = ECHO_PORT,
    ) -> interchain_pb2.Packet:
        chain, client = (self.b, self.b_client) if from_b else (self.a, self.a_client)
        result = check_ok(
            chain.run(
                "org1/alice",
                "echo",
                "send",
                interchain_pb2.TransferSendArguments(
                    source_client=client,
                    timeout_ms=chain.time_ms + timeout_after_ms,
                    memo=value,
                    receiver=destination_port,
                ),
            )
        )
        return interchain_pb2.Packet.FromString(result.return_value)


def bind_port(chain: InterchainChain, port: str, contract: str) -> None:
    check_ok(
        chain.governance(
            "packets",
            "bind_port",
            interchain_pb2.PacketsBindPortArguments(port=port, contract=contract),
        )
    )


def register_counterparty(chain: InterchainChain, client_id: str, counterparty: str) -> None:
    check_ok(
        chain.governance(
            "clients",
            "register_counterparty",
            interchain_pb2.ClientsRegisterCounterpartyArguments(
                client_id=client_id, counterparty_client_id=counterparty
            ),
        )
    )


def build_link(
    a_profile: str = "intl",
    b_profile: str = "gm",
    *,
    b_consensus: str = "raft",
    contracts: Mapping[str, Contract] = LINK_CONTRACTS,
    ports: tuple[tuple[str, str], ...] = ((ECHO_PORT, "echo"),),
) -> Link:
    """Chain a (tbft, 4 validators) and chain b (raft, 3 validators by default), a client of
    each on the other naming each other, and the ports bound on both."""
    clock = Clock()
    a = InterchainChain("chain-a", a_profile, contracts=contracts, clock=clock)
    b = InterchainChain(
        "chain-b",
        b_profile,
        consensus=b_consensus,
        validators=3,
        organisations=3,
        contracts=contracts,
        clock=clock,
    )
    a.advance(1)
    b.advance(1)
    a_client = create_client_of(a, b)
    b_client = create_client_of(b, a)
    register_counterparty(a, a_client, b_client)
    register_counterparty(b, b_client, a_client)
    for chain in (a, b):
        for port, contract in ports:
            bind_port(chain, port, contract)
    return Link(a, b, a_client, b_client, Endpoint(a), Endpoint(b))
