"""Two chains that transfer tokens to each other, for the transfer tests: A (intl) and B (gm),
each running bank, transfer and a driver contract (bank_chain.Driver).

A's client of B is ``client-1`` and B's client of A is ``client-7`` (different on purpose, so that
a mix-up of the two ends shows). The packets contract is played by the driver exactly as the
packets contract calls a port: the port's handler with the transfer contract's own context,
``on_receive`` inside a savepoint whose writes a RequestError rolls back into an error
acknowledgement. Sending uses a stand-in for ``packets.send_packet`` (``StandInPackets``: it
numbers and records the packet, nothing else) until the packets contract is merged; the escrow,
burn, refund and release around it are transfer's own and real.

``check_conservation`` is issue 8's invariant: per denomination, what A holds in the escrow of its
client of B equals B's vouchers of it outstanding plus what is in flight.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest
from bank_chain import Driver, assert_supply_is_sum_of_balances, balance, bank_chain, ok
from interchain_chain import InterchainChain

import causeway.interchain
from causeway.errors import RequestError
from causeway.execution import TransactionContext
from causeway.interchain import bank, transfer
from causeway.interchain.keys import TRANSFER_NAMESPACE
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode
from causeway.types.v1 import types_pb2

A_CLIENT_OF_B = "client-1"
B_CLIENT_OF_A = "client-7"
ESCROW_A = bank.escrow_account("transfer", A_CLIENT_OF_B)
ESCROW_B = bank.escrow_account("transfer", B_CLIENT_OF_A)
GOLD_ON_B = f"transfer/{B_CLIENT_OF_A}/gold"
TIMEOUT_MS = 1_900_000_000_000


# ---- the packets contract, played ---------------------------------------------------------------


def application(context: TransactionContext) -> TransactionContext:
    return context.enter(transfer.CONTRACT, TRANSFER_NAMESPACE, ())


def deliver(
    chain: InterchainChain, driver: Driver, packet: interchain_pb2.Packet
) -> interchain_pb2.Acknowledgement:
    """Runs transfer's on_receive as the packets contract does; returns the acknowledgement."""
    acknowledgements: list[interchain_pb2.Acknowledgement] = []

    def body(context: TransactionContext) -> None:
        savepoint = context.savepoint()
        try:
            acknowledgement = transfer.HANDLER.on_receive(application(context), packet)
        except RequestError as error:
            context.rollback_to(savepoint)
            acknowledgement = interchain_pb2.Acknowledgement(success=False, error=error.message)
        else:
            context.release(savepoint)
        acknowledgements.append(acknowledgement)

    driver.body = body
    ok(chain.run("org1/relayer", "driver", "run"))
    return acknowledgements[0]


def acknowledge(
    chain: InterchainChain,
    driver: Driver,
    packet: interchain_pb2.Packet,
    acknowledgement: interchain_pb2.Acknowledgement,
) -> types_pb2.TransactionResult:
    driver.body = lambda context: transfer.HANDLER.on_acknowledge(
        application(context), packet, acknowledgement
    )
    return chain.run("org1/relayer", "driver", "run")


def time_out(
    chain: InterchainChain, driver: Driver, packet: interchain_pb2.Packet
) -> types_pb2.TransactionResult:
    driver.body = lambda context: transfer.HANDLER.on_timeout(application(context), packet)
    return chain.run("org1/relayer", "driver", "run")


class StandInPackets:
    """Stands in for causeway.interchain.packets.send_packet until it is merged: numbers the
    packet per source client and records it. Checks what the real one checks of its caller."""

    COUNTERPARTS = {A_CLIENT_OF_B: B_CLIENT_OF_A, B_CLIENT_OF_A: A_CLIENT_OF_B}

    def __init__(self) -> None:
        self.sent: list[interchain_pb2.Packet] = []

    def send_packet(
        self,
        context: TransactionContext,
        *,
        source_client: str,
        timeout_ms: int,
        payload: interchain_pb2.Payload,
    ) -> interchain_pb2.Packet:
        assert context.contract == transfer.CONTRACT
        assert payload.source_port == transfer.PORT
        if source_client not in self.COUNTERPARTS:
            raise RequestError(f"client {source_client} does not exist", reason="not_found")
        sequence = 1 + sum(1 for sent in self.sent if sent.source_client == source_client)
        packet = interchain_pb2.Packet(
            source_client=source_client,
            destination_client=self.COUNTERPARTS[source_client],
            sequence=sequence,
            timeout_ms=timeout_ms,
            payload=payload,
        )
        self.sent.append(packet)
        return packet


def stand_in_packets(monkeypatch: pytest.MonkeyPatch) -> StandInPackets:
    """Installs a StandInPackets as causeway.interchain.packets for one test."""
    stand_in = StandInPackets()
    module = types.ModuleType("causeway.interchain.packets")
    module.send_packet = stand_in.send_packet  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "causeway.interchain.packets", module)
    monkeypatch.setattr(causeway.interchain, "packets", module, raising=False)
    return stand_in


# ---- two chains and the conservation checker -----------------------------------------------------


@dataclass
class Network:
    a: InterchainChain
    b: InterchainChain
    driver_a: Driver
    driver_b: Driver
    packets: StandInPackets
    # Packets whose tokens left their sender (escrowed or burned) and have neither arrived
    # (minted or released) nor been refunded.
    in_flight: list[interchain_pb2.Packet] = field(default_factory=list)

    def send(
        self, chain: InterchainChain, sender: str, denom: str, amount: int, receiver: str
    ) -> interchain_pb2.Packet:
        client = A_CLIENT_OF_B if chain is self.a else B_CLIENT_OF_A
        arguments = interchain_pb2.TransferSendArguments(
            source_client=client,
            denom=denom,
            amount=amount,
            receiver=receiver,
            timeout_ms=TIMEOUT_MS,
        )
        result = ok(chain.run(sender, "transfer", "send", arguments))
        packet = self.packets.sent[-1]
        sequence = interchain_pb2.TransferSendResult.FromString(result.return_value).sequence
        assert sequence == packet.sequence
        self.in_flight.append(packet)
        return packet

    def deliver(self, packet: interchain_pb2.Packet) -> interchain_pb2.Acknowledgement:
        to_b = packet.source_client == A_CLIENT_OF_B
        chain, driver = (self.b, self.driver_b) if to_b else (self.a, self.driver_a)
        acknowledgement = deliver(chain, driver, packet)
        if acknowledgement.success:
            self.in_flight.remove(packet)
        return acknowledgement

    def acknowledge(
        self, packet: interchain_pb2.Packet, acknowledgement: interchain_pb2.Acknowledgement
    ) -> None:
        from_a = packet.source_client == A_CLIENT_OF_B
        chain, driver = (self.a, self.driver_a) if from_a else (self.b, self.driver_b)
        ok(acknowledge(chain, driver, packet, acknowledgement))
        if not acknowledgement.success:
            self.in_flight.remove(packet)

    def time_out(self, packet: interchain_pb2.Packet) -> None:
        from_a = packet.source_client == A_CLIENT_OF_B
        chain, driver = (self.a, self.driver_a) if from_a else (self.b, self.driver_b)
        ok(time_out(chain, driver, packet))
        self.in_flight.remove(packet)


def check_conservation(network: Network, denom: str) -> None:
    """Issue 8's invariant for A's native `denom`: A's escrow of it for B equals B's vouchers of
    it outstanding plus the amount in flight either way; and on each chain every supply is the
    sum of its balances."""
    voucher = f"transfer/{B_CLIENT_OF_A}/{denom}"
    in_flight = 0
    for packet in network.in_flight:
        data = interchain_pb2.TransferPacketData.FromString(packet.payload.value)
        if data.denom in (denom, voucher):
            in_flight += data.amount
    escrowed = balance(network.a, ESCROW_A, denom)
    outstanding = bank_supply(network.b, voucher)
    assert escrowed == outstanding + in_flight, (escrowed, outstanding, in_flight)
    assert_supply_is_sum_of_balances(network.a.state)
    assert_supply_is_sum_of_balances(network.b.state)


def bank_supply(chain: InterchainChain, denom: str) -> int:
    result = ok(chain.query("bank", "supply", interchain_pb2.BankSupplyArguments(denom=denom)))
    return interchain_pb2.BankBalanceResult.FromString(result.return_value).amount


def two_chains(packets: StandInPackets) -> Network:
    """A (intl) and B (gm); org1/alice holds 1000 gold, native to A."""
    driver_a, driver_b = Driver(), Driver()
    a = bank_chain("chain-a", driver_a)
    b = bank_chain("chain-b", driver_b, "gm")
    issued = interchain_pb2.BankIssueArguments(denom="gold", account="org1/alice", amount=1_000)
    ok(a.run("org1/admin", "bank", "issue", issued))
    return Network(a, b, driver_a, driver_b, packets)


def data_of(packet: interchain_pb2.Packet) -> interchain_pb2.TransferPacketData:
    return interchain_pb2.TransferPacketData.FromString(packet.payload.value)


def incoming(
    denom: str,
    amount: int = 10,
    *,
    receiver: str = "org2/bob",
    sender: str = "org1/alice",
    source_client: str = A_CLIENT_OF_B,
    destination_client: str = B_CLIENT_OF_A,
    sequence: int = 1,
    memo: bytes = b"",
    value: bytes | None = None,
    **payload: str,
) -> interchain_pb2.Packet:
    """A packet as a counterparty would send it to transfer, with `payload` fields overridden."""
    data = interchain_pb2.TransferPacketData(
        denom=denom, amount=amount, sender=sender, receiver=receiver, memo=memo
    )
    fields = {
        "source_port": "transfer",
        "destination_port": "transfer",
        "version": "ics20-1",
        "encoding": "application/x-protobuf",
    }
    fields.update(payload)
    return interchain_pb2.Packet(
        source_client=source_client,
        destination_client=destination_client,
        sequence=sequence,
        timeout_ms=TIMEOUT_MS,
        payload=interchain_pb2.Payload(
            value=encode(data) if value is None else value,
            **fields,
        ),
    )


def refused(acknowledgement: interchain_pb2.Acknowledgement, fragment: str) -> None:
    assert not acknowledgement.success
    assert fragment in acknowledgement.error, acknowledgement.error
