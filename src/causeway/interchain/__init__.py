"""The interchain layer's on-chain part: light clients of other chains, packets between chains,
ports, the multi-denomination bank, fungible token transfer and the hub's registry; ``evm``
holds the pure helpers for EVM chains (docs/evm-clients.md).

These are native contracts like those of causeway.execution (``CHAIN_CONTRACTS`` is what a node
runs: both sets); each keeps to its own namespace (``keys``). ``relaying`` is what a relayer does
over any two chains; the relayer process and the gateways, which talk to nodes, live in
``causeway.interchain.relayer`` and ``causeway.interchain.gateways`` one layer up. The rules, the
trust assumptions and how this compares with IBC: docs/interchain.md.
"""

from collections.abc import Mapping

from causeway.execution import CONTRACTS, Contract
from causeway.interchain import bank, clients, evm, hub, keys, packets, relaying, transfer
from causeway.interchain.bank import BANK
from causeway.interchain.clients import CLIENTS
from causeway.interchain.hub import HUB
from causeway.interchain.packets import packets_contract
from causeway.interchain.ports import PORT_CHARACTERS_MAX, Port, PortHandler
from causeway.interchain.relaying import ChainEndpoint, LinkEnd, Relayer, RoundReport
from causeway.interchain.transfer import TRANSFER

# The applications packets may reach, by port (governance must also bind each: packets.bind_port).
PORTS: Mapping[str, Port] = {transfer.PORT: Port(contract=TRANSFER, handler=transfer.HANDLER)}

INTERCHAIN_CONTRACTS: Mapping[str, Contract] = {
    contract.name: contract for contract in (CLIENTS, packets_contract(PORTS), HUB, BANK, TRANSFER)
}

# Every contract a Causeway node runs: the native ones and the interchain ones.
CHAIN_CONTRACTS: Mapping[str, Contract] = {**CONTRACTS, **INTERCHAIN_CONTRACTS}

__all__ = [
    "CHAIN_CONTRACTS",
    "INTERCHAIN_CONTRACTS",
    "PORTS",
    "PORT_CHARACTERS_MAX",
    "ChainEndpoint",
    "LinkEnd",
    "Port",
    "PortHandler",
    "Relayer",
    "RoundReport",
    "bank",
    "clients",
    "evm",
    "hub",
    "keys",
    "packets",
    "relaying",
    "transfer",
]
