"""The token template, built in each language (the modules the benchmarks deploy), as
transactions on the executor: deployed by governance, minted by init, transferred, queried,
refused with its message, its events decoded, and the same gas on both crypto profiles."""

from __future__ import annotations

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, new_chain, status_name

from causeway.bench.contract_modules import LANGUAGES, load_module
from causeway.contracts.v1 import contracts_pb2
from causeway.execution.costs import GAS_PER_TRANSACTION_BYTE, GAS_TRANSACTION_BASE
from causeway.types.interface import ContractInterface, decode_fields, encode_fields
from causeway.types.interface import parse_interface as parse
from causeway.types.v1 import types_pb2

SUPPLY = 1_000


def deploy_token(chain: Chain, language: str) -> ContractInterface:
    module = load_module("token", language)
    interface = parse(module.interface_json)
    arguments = contracts_pb2.CodeDeployArguments(
        name="token",
        code=module.code,
        interface_json=module.interface_json,
        init_input=encode_fields(interface.method("init").arguments, {"supply": SUPPLY}),
    )
    result = chain.run("org1/admin", "code", "deploy", arguments, endorsers=["org2/admin"])
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return interface


def transfer(
    chain: Chain, interface: ContractInterface, sender: str, to: str, amount: int
) -> types_pb2.TransactionResult:
    arguments = encode_fields(interface.method("transfer").arguments, {"to": to, "amount": amount})
    return chain.run(sender, "token", "transfer", arguments)


def balance(chain: Chain, interface: ContractInterface, owner: str) -> int:
    method = interface.method("balance")
    query = chain.transaction(
        "org2/bob", "token", "balance", encode_fields(method.arguments, {"owner": owner})
    )
    result = chain.executor.query(chain.reader, query, BLOCK_TIME_MS, height=chain.height + 1)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return int(decode_fields(method.returns, result.return_value)["amount"])  # type: ignore[call-overload]


@pytest.mark.parametrize("language", LANGUAGES)
def test_init_mints_to_the_deployer_and_transfers_move_it(chain: Chain, language: str) -> None:
    interface = deploy_token(chain, language)
    assert balance(chain, interface, "org1/admin") == SUPPLY
    result = transfer(chain, interface, "org1/admin", "org2/bob", 300)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert (balance(chain, interface, "org1/admin"), balance(chain, interface, "org2/bob")) == (
        700,
        300,
    )
    (event,) = result.events
    assert (event.contract, event.name) == ("token", "transfer")
    fields = interface.events["transfer"].fields
    assert decode_fields(fields, event.data) == {
        "from": "org1/admin",
        "to": "org2/bob",
        "amount": 300,
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_overdraft_is_refused_with_its_message_and_changes_nothing(
    chain: Chain, language: str
) -> None:
    interface = deploy_token(chain, language)
    result = transfer(chain, interface, "org2/bob", "org1/alice", 1)
    assert status_name(result) == "RESULT_STATUS_CONTRACT_REVERTED"
    assert "insufficient balance" in result.error
    assert "org2/bob has 0, needs 1" in result.error
    assert balance(chain, interface, "org1/alice") == 0
    assert not result.events


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_transfer_costs_the_same_on_both_profiles(
    kit: ChainKit, gm_kit: ChainKit, language: str
) -> None:
    beyond_the_transaction = {}
    for profile_kit in (kit, gm_kit):
        chain = new_chain(profile_kit)
        interface = deploy_token(chain, language)
        arguments = encode_fields(
            interface.method("transfer").arguments, {"to": "org2/bob", "amount": 5}
        )
        transaction = chain.transaction("org1/admin", "token", "transfer", arguments)
        (result,) = chain.commit([transaction]).results
        assert status_name(result) == "RESULT_STATUS_OK", result.error
        own = GAS_TRANSACTION_BASE + GAS_PER_TRANSACTION_BYTE * len(transaction.encoded)
        beyond_the_transaction[profile_kit.profile.name] = result.cost.gas_used - own
    assert beyond_the_transaction["intl"] == beyond_the_transaction["gm"]
