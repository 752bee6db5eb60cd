"""The bank's bounds, each at its limit and one past: account and denomination lengths, the
native denomination's, the balances page, and the uint64 amounts."""

from __future__ import annotations

import pytest
from bank_chain import Driver, apply, bank_chain, bare_context, ok, status
from interchain_chain import InterchainChain

from causeway.errors import RequestError
from causeway.identity import IDENTIFIER_CHARACTERS_MAX
from causeway.interchain import bank
from causeway.interchain.bank import (
    AMOUNT_MAX,
    BANK_ACCOUNT_BYTES_MAX,
    BANK_BALANCES_LIMIT_DEFAULT,
    BANK_BALANCES_LIMIT_MAX,
    BANK_DENOM_BYTES_MAX,
    BANK_NATIVE_DENOM_CHARACTERS_MAX,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.storage import STATE_KEY_BYTES_MAX
from causeway.types import encode


@pytest.fixture
def driver() -> Driver:
    return Driver()


@pytest.fixture
def chain(driver: Driver) -> InterchainChain:
    return bank_chain("bank-bounds", driver)


def issue(chain: InterchainChain, account: str, denom: str, amount: int = 1) -> str:
    arguments = interchain_pb2.BankIssueArguments(denom=denom, account=account, amount=amount)
    result = chain.run("org1/admin", "bank", "issue", arguments)
    return f"{status(result)}: {result.error}"


def voucher_of_bytes(size: int) -> str:
    """A voucher path of exactly `size` bytes: transfer/client-0/ then segments of identifiers."""
    path = "transfer/client-0/"
    remaining = size - len(path)
    segments = []
    while remaining > IDENTIFIER_CHARACTERS_MAX:
        segments.append("s" * (IDENTIFIER_CHARACTERS_MAX - 1))
        remaining -= IDENTIFIER_CHARACTERS_MAX
    segments.append("b" * remaining)
    denom = path + "/".join(segments)
    assert len(denom) == size
    return denom


def test_an_account_of_the_limit_is_accepted_and_one_byte_more_refused(
    chain: InterchainChain,
) -> None:
    assert issue(chain, "a" * BANK_ACCOUNT_BYTES_MAX, "gold").startswith("RESULT_STATUS_OK")
    before = dict(chain.state)
    assert issue(chain, "a" * (BANK_ACCOUNT_BYTES_MAX + 1), "gold") == (
        "RESULT_STATUS_INVALID_ARGUMENT: bank issue account is "
        f"{BANK_ACCOUNT_BYTES_MAX + 1} bytes, above the limit of {BANK_ACCOUNT_BYTES_MAX}"
    )
    assert chain.state == before


def test_the_longest_member_id_and_the_longest_escrow_account_are_accounts() -> None:
    longest_member = "o" * IDENTIFIER_CHARACTERS_MAX + "/" + "n" * IDENTIFIER_CHARACTERS_MAX
    bank.check_account(longest_member, "member")
    longest_escrow = bank.escrow_account(
        "p" * IDENTIFIER_CHARACTERS_MAX, "c" * IDENTIFIER_CHARACTERS_MAX
    )
    bank.check_account(longest_escrow, "escrow")
    assert len(longest_escrow) <= BANK_ACCOUNT_BYTES_MAX


def test_a_native_denomination_of_the_limit_is_accepted_and_one_more_refused(
    chain: InterchainChain,
) -> None:
    assert BANK_NATIVE_DENOM_CHARACTERS_MAX == IDENTIFIER_CHARACTERS_MAX
    longest = "d" * BANK_NATIVE_DENOM_CHARACTERS_MAX
    assert issue(chain, "org1/alice", longest).startswith("RESULT_STATUS_OK")
    outcome = issue(chain, "org1/alice", longest + "d")
    assert outcome.startswith("RESULT_STATUS_INVALID_ARGUMENT")
    assert "is not a path of identifiers" in outcome


def test_a_denomination_of_the_limit_is_minted_and_one_byte_more_refused(
    chain: InterchainChain, driver: Driver
) -> None:
    longest = voucher_of_bytes(BANK_DENOM_BYTES_MAX)
    # With the longest account too: the balance key still fits a state key.
    account = "a" * BANK_ACCOUNT_BYTES_MAX
    driver.body = lambda context: bank.mint(context, account, longest, 1)
    ok(chain.run("org1/alice", "driver", "run"))
    too_long = voucher_of_bytes(BANK_DENOM_BYTES_MAX + 1)
    driver.body = lambda context: bank.mint(context, account, too_long, 1)
    result = chain.run("org1/alice", "driver", "run")
    assert status(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert result.error == (
        f"bank mint denomination is {BANK_DENOM_BYTES_MAX + 1} bytes, above the limit of "
        f"{BANK_DENOM_BYTES_MAX}"
    )
    longest_key = b"bank/balance/" + account.encode() + b"\x00" + longest.encode()
    assert longest_key in chain.state
    assert len(longest_key) <= STATE_KEY_BYTES_MAX


def test_amounts_of_one_and_of_the_uint64_maximum_are_accepted() -> None:
    state: dict[bytes, bytes] = {}
    context = bare_context(state)
    bank.mint(context, "a", "transfer/client-0/gold", 1)
    bank.mint(context, "b", "transfer/client-0/silver", AMOUNT_MAX)
    bank.move(context, "b", "a", "transfer/client-0/silver", AMOUNT_MAX)
    apply(state, context)
    context = bare_context(state)
    assert bank.balance_of(context, "a", "transfer/client-0/silver") == AMOUNT_MAX
    with pytest.raises(RequestError, match="above 2\\^64-1"):
        bank.burn(context, "a", "transfer/client-0/silver", AMOUNT_MAX + 1)
    with pytest.raises(RequestError, match="must be positive, not 0"):
        bank.burn(context, "a", "transfer/client-0/silver", 0)


def _balances(state: dict[bytes, bytes], limit: int, start_after: str = "") -> list[str]:
    arguments = interchain_pb2.BankBalancesArguments(
        account="org1/alice", start_after=start_after, limit=limit
    )
    # As the executor calls it: with the bank's own context.
    context = bare_context(state).enter(bank.CONTRACT, bank.NAMESPACE, ())
    result = bank.balances(context, encode(arguments))
    return [coin.denom for coin in interchain_pb2.BankBalancesResult.FromString(result).coins]


def test_a_balances_page_holds_the_default_then_up_to_the_maximum() -> None:
    state: dict[bytes, bytes] = {}
    context = bare_context(state)
    for number in range(BANK_BALANCES_LIMIT_MAX + 1):
        bank.mint(context, "org1/alice", f"transfer/client-0/d{number:05d}", 1)
    apply(state, context)
    denoms = sorted(f"transfer/client-0/d{number:05d}" for number in range(1001))
    assert _balances(state, 0) == denoms[:BANK_BALANCES_LIMIT_DEFAULT]
    assert (
        _balances(state, BANK_BALANCES_LIMIT_DEFAULT + 1)
        == (denoms[: BANK_BALANCES_LIMIT_DEFAULT + 1])
    )
    assert _balances(state, 1) == denoms[:1]
    assert _balances(state, BANK_BALANCES_LIMIT_MAX) == denoms[:BANK_BALANCES_LIMIT_MAX]
    assert _balances(state, BANK_BALANCES_LIMIT_MAX + 1) == denoms[:BANK_BALANCES_LIMIT_MAX]
    # The rest is one page further.
    assert _balances(state, 0, start_after=denoms[BANK_BALANCES_LIMIT_MAX - 1]) == denoms[-1:]
