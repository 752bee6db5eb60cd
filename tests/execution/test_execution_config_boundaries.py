"""The chain configuration's limits at their edges: the tests a cosmic-ray run over
execution/contracts/config.py showed missing (docs/testing.md)."""

from __future__ import annotations

import pytest
from execution_chain import Chain, default_config, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ConfigurationError
from causeway.execution import validate_config
from causeway.execution.keys import CONFIG_KEY
from causeway.types import encode

ORGANISATIONS = ("org1", "org2")


def test_a_transaction_may_be_as_large_as_a_block() -> None:
    config = default_config()
    config.transaction_bytes_max = config.block_bytes_max
    validate_config(config, ORGANISATIONS)
    config.transaction_bytes_max = config.block_bytes_max + 1
    with pytest.raises(ConfigurationError, match="transaction_bytes_max is above block_bytes_max"):
        validate_config(config, ORGANISATIONS)


def test_an_update_to_a_transaction_as_large_as_a_block_is_committed(chain: Chain) -> None:
    config = default_config()
    config.block_bytes_max = config.transaction_bytes_max
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert chain.state[CONFIG_KEY] == encode(config)


LIMITS = (
    "block_transactions_max",
    "block_bytes_max",
    "transaction_bytes_max",
    "transaction_expiry_max_ms",
    "endorsements_max",
    "state_history_heights",
    "transaction_gas_max",
)


@pytest.mark.parametrize("name", LIMITS)
def test_every_limit_may_be_one_and_not_zero(name: str) -> None:
    config = default_config()
    setattr(config, name, 1)
    if name == "block_bytes_max":
        config.transaction_bytes_max = 1
    validate_config(config, ORGANISATIONS)
    setattr(config, name, 0)
    with pytest.raises(ConfigurationError, match=f"config {name} must be positive"):
        validate_config(config, ORGANISATIONS)
