"""The interchain layer's on-chain part: light clients of other chains, packets between chains,
ports, the multi-denomination bank, fungible token transfer, the hub's registry and atomic
transactions across chains coordinated by the hub.

These are native contracts like those of causeway.execution (``CHAIN_CONTRACTS`` is what a node
runs: both sets); each keeps to its own namespace (``keys``). ``relaying`` is what a relayer does
over any two chains; the relayer process and the gateways, which talk to nodes, live in
``causeway.interchain.relayer`` and ``causeway.interchain.gateways`` one layer up. The rules, the
trust assumptions and how this compares with IBC: docs/interchain.md.
"""

from collections.abc import Mapping

from causeway.execution import CONTRACTS, Contract
from causeway.interchain import atomic, bank, clients, hub, keys, packets, relaying, transfer
from causeway.interchain.atomic import (
    ATOMIC,
    ATOMIC_APPLICATION,
    ATOMIC_TEST_PORTS,
    AtomicApplication,
    AtomicHandler,
    AtomicPort,
    AtomicPortHandler,
    AtomicReservation,
)
from causeway.interchain.bank import BANK
from causeway.interchain.clients import CLIENTS
from causeway.interchain.hub import HUB
from causeway.interchain.packets import packets_contract
from causeway.interchain.ports import PORT_CHARACTERS_MAX, Port, PortHandler
from causeway.interchain.relaying import ChainEndpoint, LinkEnd, Relayer, RoundReport
from causeway.interchain.transfer import TRANSFER

# The applications packets may reach, by port (governance must also bind each: packets.bind_port).
PORTS: Mapping[str, Port] = {
    transfer.PORT: Port(contract=TRANSFER, handler=transfer.HANDLER),
    atomic.PORT: ATOMIC_APPLICATION.port,
}

INTERCHAIN_CONTRACTS: Mapping[str, Contract] = {
    contract.name: contract
    for contract in (CLIENTS, packets_contract(PORTS), HUB, BANK, TRANSFER, ATOMIC)
}

# Every contract a Causeway node runs: the native ones and the interchain ones.
CHAIN_CONTRACTS: Mapping[str, Contract] = {**CONTRACTS, **INTERCHAIN_CONTRACTS}


def chain_contracts(
    *,
    ports: Mapping[str, Port] | None = None,
    extra_contracts: Mapping[str, Contract] | None = None,
    atomic_ports: Mapping[str, AtomicPort] | None = None,
    unsafe_ignore_cancel_marker: bool = False,
) -> dict[str, Contract]:
    """CHAIN_CONTRACTS with more packet ports (``ports``, their contracts added), atomic ports
    (``atomic_ports``, e.g. ATOMIC_TEST_PORTS; their contracts added) and, for the simulator's
    checker canary only, an atomic contract that ignores its cancel markers. For tests and the
    simulator: a node runs CHAIN_CONTRACTS."""
    application = AtomicApplication(
        atomic_ports, unsafe_ignore_cancel_marker=unsafe_ignore_cancel_marker
    )
    all_ports = {**PORTS, **(ports or {}), atomic.PORT: application.port}
    contracts: dict[str, Contract] = {
        **CHAIN_CONTRACTS,
        "packets": packets_contract(all_ports),
        atomic.CONTRACT: application.contract,
    }
    for packet_port in (ports or {}).values():
        contracts[packet_port.contract.name] = packet_port.contract
    for atomic_port in (atomic_ports or {}).values():
        contracts[atomic_port.contract.name] = atomic_port.contract
    contracts.update(extra_contracts or {})
    return contracts


__all__ = [
    "ATOMIC",
    "ATOMIC_APPLICATION",
    "ATOMIC_TEST_PORTS",
    "CHAIN_CONTRACTS",
    "INTERCHAIN_CONTRACTS",
    "PORTS",
    "PORT_CHARACTERS_MAX",
    "AtomicApplication",
    "AtomicHandler",
    "AtomicPort",
    "AtomicPortHandler",
    "AtomicReservation",
    "ChainEndpoint",
    "LinkEnd",
    "Port",
    "PortHandler",
    "Relayer",
    "RoundReport",
    "atomic",
    "bank",
    "chain_contracts",
    "clients",
    "hub",
    "keys",
    "packets",
    "relaying",
    "transfer",
]
