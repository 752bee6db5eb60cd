"""The native contracts, by name."""

from causeway.execution.contracts import (
    code,
    config,
    evidence,
    kv,
    ledger,
    membership,
    nodes,
    proposals,
    validators,
)
from causeway.execution.contracts.base import Contract, Handler, Method
from causeway.execution.keys import GRANTS, NAMESPACES, check_layout

CONTRACTS: dict[str, Contract] = {
    module.CONTRACT: Contract(
        name=module.CONTRACT,
        methods=module.METHODS,
        namespace=NAMESPACES[module.CONTRACT],
        grants=GRANTS.get(module.CONTRACT, ()),
    )
    for module in (kv, ledger, config, membership, validators, evidence, code, proposals, nodes)
}
check_layout(
    {name: contract.namespace for name, contract in CONTRACTS.items()},
    {name: contract.grants for name, contract in CONTRACTS.items()},
)

__all__ = ["CONTRACTS", "Contract", "Handler", "Method"]
