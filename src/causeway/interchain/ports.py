"""Ports: how the packets contract hands a packet to the application it is for.

An application (transfer, the hub's router, later user contracts) is a contract with a
``PortHandler``. The packets contract calls the handler with the application's own context
(``TransactionContext.enter``: the application's namespace and grants, never the packets
contract's), inside a savepoint:

- ``on_receive`` runs when a packet for the port arrives. It returns the acknowledgement to
  commit, or None to acknowledge later (``packets.write_acknowledgement``, as the hub does once
  the chain it forwarded the packet to has answered). A RequestError it raises reverts its writes
  and becomes an error acknowledgement; the receipt stays, so the packet is not received twice.
- ``on_acknowledge`` runs on the sending chain when the acknowledgement's proof checked.
- ``on_timeout`` runs on the sending chain when the receiver provably did not receive the packet
  before its timeout.

A failure in ``on_acknowledge`` or ``on_timeout`` fails the relayer's delivery (the packet stays
in flight for another try): the application must end its packets, refunding where it must.

Which contract a port reaches is chain state (``sys/packets/port/<port>``), bound by governance and
only to a contract with a handler (``Port``); a system contract (clients, packets, validators,
membership, config, evidence, the hub's registry) never has one, which is what keeps a packet from
reaching them (DESIGN.md section 4, the Poly Network lesson).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from causeway.execution import Contract, TransactionContext
from causeway.interchain.v1 import interchain_pb2

# A port name: like an identifier, short and plain.
PORT_CHARACTERS_MAX = 64


class PortHandler(Protocol):
    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement | None: ...

    def on_acknowledge(
        self,
        context: TransactionContext,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
    ) -> None: ...

    def on_timeout(self, context: TransactionContext, packet: interchain_pb2.Packet) -> None: ...


@dataclass(frozen=True, slots=True)
class Port:
    """An application that packets may reach: its contract (namespace and grants) and handler."""

    contract: Contract
    handler: PortHandler
