"""One anvil for the whole test session (automine, chain id 31337, each block 1 s after the
last), the gateway's contracts
compiled once (the toolchain caches them by source hash), and a fresh endpoint and transfer app
per test. anvil is stopped at the end of the session even when tests fail."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from causeway.interchain.gateways import contracts
from causeway.toolchains import evm

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from gateway_support import ANVIL_CHAIN_ID, Gateway, deploy_test_gateway  # noqa: E402


@pytest.fixture(scope="session")
def evm_toolchain() -> evm.EvmToolchain:
    return evm.install()


@pytest.fixture(scope="session")
def anvil(evm_toolchain: evm.EvmToolchain) -> Iterator[evm.AnvilProcess]:
    # Compiled before anvil starts, so that a compile error is reported as such.
    contracts.compiled_contracts()
    process = evm.start_anvil(chain_id=ANVIL_CHAIN_ID, toolchain=evm_toolchain)
    try:
        # Automine dates blocks mined within one second alike; a real chain's block times grow
        # with height, and the hub's client freezes on a header not later than the one before.
        evm.rpc(process.url, "anvil_setBlockTimestampInterval", [1])
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def web3(anvil: evm.AnvilProcess) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.url))


@pytest.fixture
def gateway(web3: Web3) -> Gateway:
    return deploy_test_gateway(web3)
