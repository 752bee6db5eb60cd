"""The ledger's limits at their edges, written as numbers (they decide which transactions succeed,
which every validator computes alike): the tests a cosmic-ray run over
execution/contracts/ledger.py showed missing (docs/testing.md)."""

from __future__ import annotations

import pytest
from execution_chain import Chain, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import InvariantError
from causeway.execution.contracts.ledger import encode_balance_result
from causeway.execution.keys import balance_key
from causeway.types import encode

ACCOUNT_BYTES_MAX = 256
AMOUNT_MAX = 2**64 - 1


def issue(chain: Chain, account: str, amount: int) -> str:
    arguments = contracts_pb2.LedgerIssueArguments(account=account, amount=amount)
    return status_name(chain.run("org1/admin", "ledger", "issue", arguments))


def transfer(chain: Chain, sender: str, to: str, amount: int) -> str:
    arguments = contracts_pb2.LedgerTransferArguments(to=to, amount=amount)
    return status_name(chain.run(sender, "ledger", "transfer", arguments))


def test_an_account_of_256_bytes_is_accepted_and_257_refused(chain: Chain) -> None:
    assert issue(chain, "x" * ACCOUNT_BYTES_MAX, 5) == "RESULT_STATUS_OK"
    assert chain.state[balance_key("x" * ACCOUNT_BYTES_MAX)] == (5).to_bytes(8, "big")
    before = dict(chain.state)
    assert issue(chain, "x" * (ACCOUNT_BYTES_MAX + 1), 5) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert chain.state == before


def test_the_supply_may_reach_two_to_the_64_minus_one_and_no_further(chain: Chain) -> None:
    assert issue(chain, "a", AMOUNT_MAX) == "RESULT_STATUS_OK"
    before = dict(chain.state)
    assert issue(chain, "b", 1) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert chain.state == before


def test_one_account_may_come_to_hold_the_whole_supply(chain: Chain) -> None:
    assert issue(chain, "org1/alice", AMOUNT_MAX - 1) == "RESULT_STATUS_OK"
    assert issue(chain, "org2/bob", 1) == "RESULT_STATUS_OK"
    assert transfer(chain, "org2/bob", "org1/alice", 1) == "RESULT_STATUS_OK"
    assert chain.state[balance_key("org1/alice")] == AMOUNT_MAX.to_bytes(8, "big")
    assert balance_key("org2/bob") not in chain.state


@pytest.mark.parametrize("length", [7, 9])
def test_a_stored_balance_of_other_than_8_bytes_stops_loudly(chain: Chain, length: int) -> None:
    chain.state[balance_key("org1/alice")] = b"\x01" * length
    with pytest.raises(InvariantError, match=f"is {length} bytes, not an 8-byte amount"):
        transfer(chain, "org1/alice", "org2/bob", 1)


@pytest.mark.parametrize("amount", [0, 1, 127, 128, 16_383, 16_384, AMOUNT_MAX])
def test_balance_results_are_canonical_at_every_varint_length_edge(amount: int) -> None:
    assert encode_balance_result(amount) == encode(contracts_pb2.LedgerBalanceResult(amount=amount))
