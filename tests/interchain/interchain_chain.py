"""Real chains in one process for the interchain tests: the multi-chain simulator's chain
(``causeway.sim.chain``), under the names the interchain tests import."""

from __future__ import annotations

from causeway.sim.chain import (
    ADMIN,
    BLOCK_INTERVAL_MS,
    CERTIFICATE_VALID_DAYS,
    CLIENT,
    CONSENSUS,
    GENESIS_TIME_MS,
    Clock,
    Committed,
    Endpoint,
    Identity,
    InterchainChain,
    check_ok,
)

__all__ = [
    "ADMIN",
    "BLOCK_INTERVAL_MS",
    "CERTIFICATE_VALID_DAYS",
    "CLIENT",
    "CONSENSUS",
    "GENESIS_TIME_MS",
    "Clock",
    "Committed",
    "Endpoint",
    "Identity",
    "InterchainChain",
    "check_ok",
]
