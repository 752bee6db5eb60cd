"""The interchain layer's on-chain part: light clients of other chains, packets between chains,
ports, the multi-denomination bank, fungible token transfer and the hub's registry and router.

These are native contracts like those of causeway.execution (the node runs them beside those);
each keeps to its own namespace (``keys``). The relayer and the gateways, which talk to nodes,
live in ``causeway.interchain.relayer`` and ``causeway.interchain.gateways`` one layer up.
The rules, the trust assumptions and how this compares with IBC: docs/interchain.md.
"""

from causeway.interchain import keys
from causeway.interchain.ports import PORT_CHARACTERS_MAX, Port, PortHandler

__all__ = ["PORT_CHARACTERS_MAX", "Port", "PortHandler", "keys"]
