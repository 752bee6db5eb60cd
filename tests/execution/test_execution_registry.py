"""The executor runs the contracts it is given: the native ones by default, more when the node
adds them (the interchain contracts), each held to the namespace layout."""

from __future__ import annotations

import pytest
from execution_chain import Chain, ChainKit, status_name

from causeway.errors import ConfigurationError, InvariantError
from causeway.execution import (
    CONTRACTS,
    Contract,
    Executor,
    Method,
    StateGrant,
    TransactionContext,
    genesis_state,
    is_shared_record,
    keys,
)


def _echo(context: TransactionContext, arguments: bytes) -> bytes:
    context.put(b"last", arguments)
    return arguments


ECHO = Contract(name="echo", methods={"echo": Method(_echo)}, namespace=b"echo/")


def test_a_contract_given_to_the_executor_runs_in_its_namespace(kit: ChainKit) -> None:
    chain = Chain(
        kit=kit,
        executor=Executor(kit.genesis, kit.profile, {**CONTRACTS, "echo": ECHO}),
        state=genesis_state(kit.genesis),
    )
    result = chain.run("org1/alice", "echo", "echo", b"hello")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert result.return_value == b"hello"
    assert chain.state[b"echo/last"] == b"hello"


def test_a_contract_the_executor_was_not_given_is_unknown(chain: Chain) -> None:
    result = chain.run("org1/alice", "echo", "echo", b"hello")
    assert status_name(result) == "RESULT_STATUS_UNKNOWN_CONTRACT"
    assert "there is no contract 'echo'" in result.error


def test_a_contract_registered_under_another_name_is_refused(kit: ChainKit) -> None:
    with pytest.raises(ConfigurationError, match="contract 'echo' is registered as 'other'"):
        Executor(kit.genesis, kit.profile, {**CONTRACTS, "other": ECHO})


def test_a_contract_whose_namespace_overlaps_another_is_refused(kit: ChainKit) -> None:
    intruder = Contract(name="intruder", methods={}, namespace=b"ledger/balance/")
    with pytest.raises(InvariantError, match="overlap"):
        Executor(kit.genesis, kit.profile, {**CONTRACTS, "intruder": intruder})


def test_a_contract_whose_grant_reaches_into_another_namespace_is_refused(kit: ChainKit) -> None:
    intruder = Contract(
        name="intruder",
        methods={},
        namespace=b"intruder/",
        grants=(StateGrant(b"ledger/", prefix=True),),
    )
    with pytest.raises(InvariantError, match="reaches into the namespace of ledger"):
        Executor(kit.genesis, kit.profile, {**CONTRACTS, "intruder": intruder})


@pytest.mark.parametrize(
    ("key", "shared"),
    [
        (keys.CONFIG_KEY, True),
        (keys.VALIDATOR_SCHEDULE_KEY, True),
        (keys.organisation_key("org1"), True),
        (keys.member_key("org1/alice"), True),
        (keys.admin_count_key("org1"), True),
        (keys.evidence_key("org1/node1", 5, 0, "prevote"), False),
        (b"sys/clients/client/client-0", False),
        (b"sys/config/anything", False),
        (keys.CONFIG_KEY + b"x", False),
        (keys.balance_key("org1/alice"), False),
    ],
)
def test_only_the_shared_system_records_make_a_node_reload(key: bytes, shared: bool) -> None:
    assert is_shared_record(key) is shared
