from __future__ import annotations

import pytest
from execution_chain import Chain, default_config, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.execution.keys import CONFIG_KEY
from causeway.types import encode
from causeway.types.v1 import types_pb2

GOVERNANCE: dict[str, object] = {"endorsers": ["org2/admin"]}


def update(
    chain: Chain, config: types_pb2.ChainConfig, sender: str = "org1/admin", **options: object
) -> types_pb2.TransactionResult:
    return chain.run(
        sender, "config", "update", contracts_pb2.ConfigUpdateArguments(config=config), **options
    )


def test_get_returns_the_genesis_config(chain: Chain) -> None:
    result = chain.run("org2/bob", "config", "get", contracts_pb2.ConfigGetArguments())
    assert status_name(result) == "RESULT_STATUS_OK"
    assert types_pb2.ChainConfig.FromString(result.return_value) == default_config()
    assert chain.executor.get_config(chain.reader) == default_config()


def test_update_with_governance(chain: Chain) -> None:
    config = default_config()
    config.endorsements_max = 3
    result = update(chain, config, endorsers=["org2/admin"])
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [(e.contract, e.name) for e in result.events] == [("config", "update")]
    assert chain.state[CONFIG_KEY] == encode(config)


def test_a_client_with_both_admins_endorsing_may_update(chain: Chain) -> None:
    config = default_config()
    config.state_history_heights = 7
    result = update(chain, config, sender="org2/bob", endorsers=["org1/admin", "org2/admin"])
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def test_update_without_enough_endorsements(chain: Chain) -> None:
    before = dict(chain.state)
    result = update(chain, default_config())
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert "MAJORITY of all organisations" in result.error
    assert "org1" in result.error
    # A client's own organisation does not count: only admins speak for an organisation.
    result = update(chain, default_config(), sender="org1/alice", endorsers=["org2/admin"])
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert chain.state == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: setattr(c, "block_transactions_max", 0), "block_transactions_max"),
        (lambda c: setattr(c, "transaction_gas_max", 0), "transaction_gas_max"),
        (lambda c: setattr(c, "transaction_expiry_max_ms", -1), "transaction_expiry_max_ms"),
        (lambda c: setattr(c, "transaction_bytes_max", c.block_bytes_max + 1), "block_bytes_max"),
        (lambda c: c.ClearField("governance_policy"), "governance_policy is missing"),
        (lambda c: setattr(c.ledger_issue_policy, "kind", 0), "ledger_issue_policy"),
        (lambda c: c.governance_policy.organisations.append("org9"), "unknown organisations"),
        (
            lambda c: c.governance_policy.CopyFrom(
                types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_K_OF_N, k=3)
            ),
            "outside",
        ),
    ],
)
def test_update_validates_the_new_config(chain: Chain, change: object, message: str) -> None:
    config = default_config()
    change(config)  # type: ignore[operator]
    before = dict(chain.state)
    result = update(chain, config, endorsers=["org2/admin"])
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert message in result.error
    assert chain.state == before


def test_update_needs_a_config(chain: Chain) -> None:
    result = chain.run(
        "org1/admin", "config", "update", contracts_pb2.ConfigUpdateArguments(), **GOVERNANCE
    )
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_later_transactions_of_the_block_see_the_new_config(chain: Chain) -> None:
    config = default_config()
    config.transaction_gas_max = 1_000  # below what any transaction needs
    block = [
        chain.transaction(
            "org1/admin",
            "config",
            "update",
            contracts_pb2.ConfigUpdateArguments(config=config),
            endorsers=["org2/admin"],
        ),
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"v")
        ),
    ]
    results = chain.commit(block).results
    assert status_name(results[0]) == "RESULT_STATUS_OK", results[0].error
    assert status_name(results[1]) == "RESULT_STATUS_OUT_OF_GAS"


def test_get_refuses_arguments(chain: Chain) -> None:
    result = chain.run("org2/bob", "config", "get", b"\x08\x01")
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
