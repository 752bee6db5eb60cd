"""A block's gas bound (ChainConfig.block_gas_max): once a block's transactions have used it,
those after it fail without running; 0 is no bound; the bound is never below a transaction's."""

from __future__ import annotations

import pytest
from execution_chain import Chain, default_config, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ConfigurationError
from causeway.execution import validate_config
from causeway.execution.keys import kv_key
from causeway.types import DecodedTransaction

ORGANISATIONS = ("org1", "org2")


def set_block_gas_max(chain: Chain, block_gas_max: int) -> None:
    config = default_config()
    config.transaction_gas_max = 100_000
    config.block_gas_max = block_gas_max
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def puts(chain: Chain, count: int) -> list[DecodedTransaction]:
    return [
        chain.transaction(
            "org2/bob", "kv", "put", contracts_pb2.KvPutArguments(key=b"k%d" % index, value=b"v")
        )
        for index in range(count)
    ]


def test_the_transactions_after_the_bound_fail_without_running(chain: Chain) -> None:
    # Measure one put's gas, then bound a block at two of them: the third must not run.
    (probe,) = chain.commit(puts(chain, 1)).results
    assert status_name(probe) == "RESULT_STATUS_OK"
    # Signatures vary by a byte or two, and so does a put's gas: bound the block between one
    # put and two.
    one = probe.cost.gas_used
    config = default_config()
    config.transaction_gas_max = one + 100
    config.block_gas_max = 2 * one - 50
    update = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(update) == "RESULT_STATUS_OK", update.error
    results = chain.commit(puts(chain, 4)).results
    assert [status_name(result) for result in results[:2]] == ["RESULT_STATUS_OK"] * 2
    for result in results[2:]:
        assert status_name(result) == "RESULT_STATUS_OUT_OF_GAS"
        assert result.error.startswith("the block has used its gas (")
        assert f" of {2 * one - 50}): send the transaction again" in result.error
        assert result.cost.gas_used == 0
    assert kv_key(b"k2") not in chain.state and kv_key(b"k3") not in chain.state
    # The next block has its own bound: they run there.
    later = chain.commit(puts(chain, 4)[2:]).results
    assert [status_name(result) for result in later] == ["RESULT_STATUS_OK"] * 2


def test_a_transaction_started_below_the_bound_runs_to_its_end(chain: Chain) -> None:
    (probe,) = chain.commit(puts(chain, 1)).results
    one = probe.cost.gas_used
    config = default_config()
    config.transaction_gas_max = one + 100
    config.block_gas_max = one + 101
    update = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(update) == "RESULT_STATUS_OK", update.error
    results = chain.commit(puts(chain, 3)).results
    # The second starts under the bound and goes past it; the third does not start.
    assert [status_name(result) for result in results] == [
        "RESULT_STATUS_OK",
        "RESULT_STATUS_OK",
        "RESULT_STATUS_OUT_OF_GAS",
    ]


def test_no_bound_when_it_is_zero(chain: Chain) -> None:
    set_block_gas_max(chain, 0)
    results = chain.commit(puts(chain, 50)).results
    assert all(status_name(result) == "RESULT_STATUS_OK" for result in results)


def test_the_bound_is_never_below_a_transactions() -> None:
    config = default_config()
    config.block_gas_max = config.transaction_gas_max
    validate_config(config, ORGANISATIONS)
    config.block_gas_max = config.transaction_gas_max - 1
    with pytest.raises(ConfigurationError, match="block_gas_max is below transaction_gas_max"):
        validate_config(config, ORGANISATIONS)
    config.block_gas_max = 0
    validate_config(config, ORGANISATIONS)
