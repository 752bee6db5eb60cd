"""The native contracts, by name."""

from causeway.execution.contracts import config, evidence, kv, ledger, membership, validators
from causeway.execution.contracts.base import Handler, Method

CONTRACTS: dict[str, dict[str, Method]] = {
    kv.CONTRACT: kv.METHODS,
    ledger.CONTRACT: ledger.METHODS,
    config.CONTRACT: config.METHODS,
    membership.CONTRACT: membership.METHODS,
    validators.CONTRACT: validators.METHODS,
    evidence.CONTRACT: evidence.METHODS,
}

__all__ = ["CONTRACTS", "Handler", "Method"]
