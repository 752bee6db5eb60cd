"""The multi-denomination bank on a real chain: issue, send, the queries, and the Python API that
transfer uses (mint, burn, move, escrow accounts)."""

from __future__ import annotations

import pytest
from bank_chain import (
    Driver,
    apply,
    assert_supply_is_sum_of_balances,
    balance,
    bank_chain,
    bare_context,
    ok,
    status,
    supply,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from interchain_chain import InterchainChain

from causeway.errors import ConfigurationError, InvariantError, RequestError
from causeway.identity import split_member_id
from causeway.interchain import bank
from causeway.interchain.keys import BANK_NAMESPACE, balance_key, supply_key
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode
from causeway.types.v1 import types_pb2

AMOUNT_MAX = bank.AMOUNT_MAX
VOUCHER = "transfer/client-0/gold"
ESCROW = bank.escrow_account("transfer", "client-0")


@pytest.fixture
def driver() -> Driver:
    return Driver()


@pytest.fixture
def chain(driver: Driver) -> InterchainChain:
    return bank_chain("bank-chain", driver)


def issue(
    chain: InterchainChain,
    account: str,
    denom: str,
    amount: int,
    sender: str = "org1/admin",
    **options: object,
) -> types_pb2.TransactionResult:
    arguments = interchain_pb2.BankIssueArguments(denom=denom, account=account, amount=amount)
    return chain.run(sender, "bank", "issue", arguments, **options)  # type: ignore[arg-type]


def send(
    chain: InterchainChain, sender: str, to: str, denom: str, amount: int
) -> types_pb2.TransactionResult:
    arguments = interchain_pb2.BankSendArguments(to=to, denom=denom, amount=amount)
    return chain.run(sender, "bank", "send", arguments)


def queried_balance(chain: InterchainChain, account: str, denom: str) -> int:
    result = ok(
        chain.query(
            "bank", "balance", interchain_pb2.BankBalanceArguments(account=account, denom=denom)
        )
    )
    return interchain_pb2.BankBalanceResult.FromString(result.return_value).amount


def queried_balances(
    chain: InterchainChain, account: str, start_after: str = "", limit: int = 0
) -> list[tuple[str, int]]:
    arguments = interchain_pb2.BankBalancesArguments(
        account=account, start_after=start_after, limit=limit
    )
    result = ok(chain.query("bank", "balances", arguments))
    coins = interchain_pb2.BankBalancesResult.FromString(result.return_value).coins
    return [(coin.denom, coin.amount) for coin in coins]


def queried_supply(chain: InterchainChain, denom: str) -> int:
    result = ok(chain.query("bank", "supply", interchain_pb2.BankSupplyArguments(denom=denom)))
    return interchain_pb2.BankBalanceResult.FromString(result.return_value).amount


def drive(
    chain: InterchainChain, driver: Driver, body: object, sender: str = "org1/alice"
) -> types_pb2.TransactionResult:
    driver.body = body  # type: ignore[assignment]
    return chain.run(sender, "driver", "run")


def refused(
    result: types_pb2.TransactionResult, status_name: str, fragment: str
) -> types_pb2.TransactionResult:
    assert status(result) == f"RESULT_STATUS_{status_name}", result.error
    assert fragment in result.error, result.error
    return result


# ---- issue ------------------------------------------------------------------------------------


def test_issue_credits_the_account_and_the_denominations_supply(chain: InterchainChain) -> None:
    result = ok(issue(chain, "org1/alice", "gold", 100))
    assert interchain_pb2.BankBalanceResult.FromString(result.return_value).amount == 100
    assert [(event.contract, event.name) for event in result.events] == [("bank", "issue")]
    assert [(a.key, a.value) for a in result.events[0].attributes] == [
        ("account", "org1/alice"),
        ("denom", "gold"),
        ("amount", "100"),
    ]
    assert chain.state[BANK_NAMESPACE + balance_key("org1/alice", "gold")] == (100).to_bytes(
        8, "big"
    )
    assert chain.state[BANK_NAMESPACE + supply_key("gold")] == (100).to_bytes(8, "big")
    ok(issue(chain, "anyone", "gold", 5))
    ok(issue(chain, "org1/alice", "silver", 7))
    assert queried_supply(chain, "gold") == 105
    assert queried_supply(chain, "silver") == 7
    assert queried_balance(chain, "org1/alice", "gold") == 100
    assert queried_balance(chain, "org1/alice", "copper") == 0
    assert_supply_is_sum_of_balances(chain.state)


def test_issue_needs_the_chains_issue_policy(chain: InterchainChain) -> None:
    before = dict(chain.state)
    refused(
        issue(chain, "org1/alice", "gold", 1, sender="org1/alice"),
        "ENDORSEMENT_POLICY_NOT_SATISFIED",
        "bank.issue needs endorsements satisfying the ANY of all organisations policy",
    )
    assert chain.state == before
    ok(issue(chain, "org1/alice", "gold", 1, sender="org1/alice", endorsers=["org2/admin"]))


def test_nobody_can_issue_a_voucher_by_hand(chain: InterchainChain) -> None:
    before = dict(chain.state)
    refused(issue(chain, "org1/alice", VOUCHER, 1), "INVALID_ARGUMENT", "only the transfer")
    assert chain.state == before


@pytest.mark.parametrize(
    ("denom", "fragment"),
    [
        ("", "denomination is empty"),
        ("go ld", "is not a path of identifiers"),
        ("-gold", "is not a path of identifiers"),
        ("gold\x00x", "is not a path of identifiers"),
        ("g\u00f6ld", "is not a path of identifiers"),
        ("/gold", "is not a path of identifiers"),
        ("gold/", "is not a path of identifiers"),
    ],
)
def test_issue_refuses_a_denomination_that_is_not_an_identifier(
    chain: InterchainChain, denom: str, fragment: str
) -> None:
    before = dict(chain.state)
    refused(issue(chain, "org1/alice", denom, 1), "INVALID_ARGUMENT", fragment)
    assert chain.state == before


def test_issue_refuses_a_zero_amount(chain: InterchainChain) -> None:
    before = dict(chain.state)
    refused(issue(chain, "org1/alice", "gold", 0), "INVALID_ARGUMENT", "must be positive, not 0")
    assert chain.state == before


def test_issue_cannot_take_a_supply_past_the_uint64_range(chain: InterchainChain) -> None:
    ok(issue(chain, "org1/alice", "gold", AMOUNT_MAX - 1))
    before = dict(chain.state)
    refused(issue(chain, "org2/bob", "gold", 2), "INVALID_ARGUMENT", "past 2^64-1")
    assert chain.state == before
    ok(issue(chain, "org2/bob", "gold", 1))
    assert queried_supply(chain, "gold") == AMOUNT_MAX
    # Each denomination has its own supply.
    ok(issue(chain, "org2/bob", "silver", AMOUNT_MAX))
    assert_supply_is_sum_of_balances(chain.state)


@pytest.mark.parametrize(
    ("account", "fragment"),
    [
        ("", "account is empty"),
        ("org1 alice", "outside visible ASCII"),
        ("org1/al\x00ice", "outside visible ASCII"),
        ("org1/\u00e1lice", "outside visible ASCII"),
    ],
)
def test_issue_refuses_a_malformed_account(
    chain: InterchainChain, account: str, fragment: str
) -> None:
    before = dict(chain.state)
    refused(issue(chain, account, "gold", 1), "INVALID_ARGUMENT", fragment)
    assert chain.state == before


# ---- escrow accounts ----------------------------------------------------------------------------


def test_escrow_accounts_name_the_port_and_the_client() -> None:
    assert bank.escrow_account("transfer", "client-0") == "escrow:transfer/client-0"
    assert bank.escrow_account("transfer", "client-1") != ESCROW
    assert bank.is_escrow_account(ESCROW)
    assert not bank.is_escrow_account("org1/alice")


@pytest.mark.parametrize(
    ("port", "client_id"), [("", "client-0"), ("transfer", ""), ("transfer", "client-0/x")]
)
def test_escrow_account_refuses_a_port_or_client_that_is_not_an_identifier(
    port: str, client_id: str
) -> None:
    with pytest.raises(RequestError, match="is not an identifier"):
        bank.escrow_account(port, client_id)


_IDENTIFIERS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)


@given(
    port=_IDENTIFIERS,
    client_id=_IDENTIFIERS,
    organisation=_IDENTIFIERS,
    name=_IDENTIFIERS,
)
@settings(max_examples=300)
def test_no_member_id_can_ever_equal_an_escrow_account(
    port: str, client_id: str, organisation: str, name: str
) -> None:
    account = bank.escrow_account(port, client_id)
    # Not of the member id form, whatever the port and client are ...
    with pytest.raises(ConfigurationError):
        split_member_id(account)
    # ... and no member id, whatever its parts, is of the escrow form.
    member_id = f"{organisation}/{name}"
    assert split_member_id(member_id) == (organisation, name)
    assert not bank.is_escrow_account(member_id)
    assert member_id != account
    # Both are accounts the bank holds balances for.
    bank.check_account(account, "escrow")
    bank.check_account(member_id, "member")


def test_nobody_can_pay_into_an_escrow_account(chain: InterchainChain) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    before = dict(chain.state)
    refused(issue(chain, ESCROW, "gold", 1), "INVALID_ARGUMENT", "is an escrow account")
    refused(send(chain, "org1/alice", ESCROW, "gold", 1), "INVALID_ARGUMENT", "escrow account")
    assert chain.state == before


def test_no_member_can_spend_from_an_escrow_account(chain: InterchainChain, driver: Driver) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    ok(drive(chain, driver, lambda context: bank.move(context, "org1/alice", ESCROW, "gold", 10)))
    # send spends the sender's own account, which is a member id: never the escrow account.
    refused(send(chain, "org1/alice", "org2/bob", "gold", 1), "INSUFFICIENT_FUNDS", "is 0")
    assert balance(chain, ESCROW, "gold") == 10
    assert queried_balance(chain, ESCROW, "gold") == 10


# ---- send ---------------------------------------------------------------------------------------


def test_send_moves_tokens_from_the_senders_own_account(chain: InterchainChain) -> None:
    ok(issue(chain, "org1/alice", "gold", 100))
    ok(issue(chain, "org1/alice", "silver", 5))
    result = ok(send(chain, "org1/alice", "org2/bob", "gold", 30))
    assert interchain_pb2.BankBalanceResult.FromString(result.return_value).amount == 70
    assert [(event.contract, event.name) for event in result.events] == [("bank", "send")]
    assert [(a.key, a.value) for a in result.events[0].attributes] == [
        ("from", "org1/alice"),
        ("to", "org2/bob"),
        ("denom", "gold"),
        ("amount", "30"),
    ]
    assert queried_balance(chain, "org1/alice", "gold") == 70
    assert queried_balance(chain, "org2/bob", "gold") == 30
    assert queried_balance(chain, "org1/alice", "silver") == 5
    assert queried_supply(chain, "gold") == 100
    assert_supply_is_sum_of_balances(chain.state)


def test_sending_everything_deletes_the_balance(chain: InterchainChain) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    ok(send(chain, "org1/alice", "org2/bob", "gold", 10))
    assert BANK_NAMESPACE + balance_key("org1/alice", "gold") not in chain.state
    assert queried_balances(chain, "org1/alice") == []


def test_an_overdraft_is_refused_and_changes_nothing(chain: InterchainChain) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    before = dict(chain.state)
    refused(
        send(chain, "org1/alice", "org2/bob", "gold", 11),
        "INSUFFICIENT_FUNDS",
        "balance of org1/alice in gold is 10, less than the 11 needed",
    )
    refused(send(chain, "org1/alice", "org2/bob", "silver", 1), "INSUFFICIENT_FUNDS", "is 0")
    assert chain.state == before


def test_send_refuses_zero_self_and_malformed_arguments(chain: InterchainChain) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    before = dict(chain.state)
    refused(send(chain, "org1/alice", "org2/bob", "gold", 0), "INVALID_ARGUMENT", "positive")
    refused(send(chain, "org1/alice", "org1/alice", "gold", 1), "INVALID_ARGUMENT", "own account")
    refused(send(chain, "org1/alice", "", "gold", 1), "INVALID_ARGUMENT", "account is empty")
    refused(send(chain, "org1/alice", "org2/bob", "go ld", 1), "INVALID_ARGUMENT", "identifiers")
    assert chain.state == before


def test_a_voucher_can_be_sent_like_any_denomination(
    chain: InterchainChain, driver: Driver
) -> None:
    ok(drive(chain, driver, lambda context: bank.mint(context, "org1/alice", VOUCHER, 9)))
    ok(send(chain, "org1/alice", "org2/bob", VOUCHER, 4))
    assert queried_balance(chain, "org2/bob", VOUCHER) == 4
    assert_supply_is_sum_of_balances(chain.state)


# ---- balances ----------------------------------------------------------------------------------


def test_balances_lists_one_account_in_pages(chain: InterchainChain, driver: Driver) -> None:
    for denom in ("copper", "gold", "silver"):
        ok(issue(chain, "org1/alice", denom, 3))
    ok(drive(chain, driver, lambda context: bank.mint(context, "org1/alice", VOUCHER, 2)))
    # An account whose name extends alice's must not show in hers, nor hers in it.
    ok(issue(chain, "org1/alice2", "gold", 1))
    ok(issue(chain, "org1/alic", "gold", 1))
    everything = [("copper", 3), ("gold", 3), ("silver", 3), (VOUCHER, 2)]
    assert queried_balances(chain, "org1/alice") == everything
    assert queried_balances(chain, "org1/alice", limit=2) == everything[:2]
    assert queried_balances(chain, "org1/alice", start_after="gold", limit=2) == everything[2:]
    assert queried_balances(chain, "org1/alice", start_after="gol") == everything[1:]
    assert queried_balances(chain, "org1/alice2") == [("gold", 1)]
    assert queried_balances(chain, "nobody") == []


def test_balances_refuses_a_malformed_account_or_start(chain: InterchainChain) -> None:
    for arguments, fragment in (
        (interchain_pb2.BankBalancesArguments(account=""), "account is empty"),
        (
            interchain_pb2.BankBalancesArguments(account="org1/alice", start_after="a b"),
            "start_after denomination",
        ),
    ):
        refused(chain.query("bank", "balances", arguments), "INVALID_ARGUMENT", fragment)


def test_queries_refuse_malformed_arguments(chain: InterchainChain) -> None:
    refused(
        chain.query("bank", "balance", interchain_pb2.BankBalanceArguments(account="a", denom="")),
        "INVALID_ARGUMENT",
        "balance denomination is empty",
    )
    refused(
        chain.query("bank", "supply", interchain_pb2.BankSupplyArguments(denom="x y")),
        "INVALID_ARGUMENT",
        "supply denomination",
    )
    refused(chain.query("bank", "supply", b"\x0a"), "INVALID_ARGUMENT", "BankSupplyArguments")


def test_queries_cannot_be_sent_as_writes_nor_writes_run_as_queries(
    chain: InterchainChain,
) -> None:
    arguments = encode(interchain_pb2.BankIssueArguments(denom="gold", account="a", amount=1))
    refused(chain.query("bank", "issue", arguments), "INVALID_ARGUMENT", "cannot run as a query")


# ---- the Python API ----------------------------------------------------------------------------


def test_mint_burn_and_move_enter_the_bank_and_keep_supply(
    chain: InterchainChain, driver: Driver
) -> None:
    result = ok(drive(chain, driver, lambda context: bank.mint(context, "org1/alice", VOUCHER, 50)))
    assert [(event.contract, event.name) for event in result.events] == [("bank", "mint")]
    assert supply(chain, VOUCHER) == 50
    result = ok(
        drive(
            chain,
            driver,
            lambda context: bank.move(context, "org1/alice", ESCROW, VOUCHER, 20),
        )
    )
    assert [(a.key, a.value) for a in result.events[0].attributes] == [
        ("from", "org1/alice"),
        ("to", ESCROW),
        ("denom", VOUCHER),
        ("amount", "20"),
    ]
    assert balance(chain, ESCROW, VOUCHER) == 20
    result = ok(drive(chain, driver, lambda context: bank.burn(context, ESCROW, VOUCHER, 20)))
    assert [(event.contract, event.name) for event in result.events] == [("bank", "burn")]
    assert balance(chain, ESCROW, VOUCHER) == 0
    assert supply(chain, VOUCHER) == 30
    ok(drive(chain, driver, lambda context: bank.burn(context, "org1/alice", VOUCHER, 30)))
    # Nothing left: neither a balance nor a supply is stored.
    assert not any(key.startswith(BANK_NAMESPACE) for key in chain.state)
    # The driver's own namespace was never written: the bank's state is the bank's.
    assert not any(key.startswith(b"driver/") for key in chain.state)


def test_mint_refuses_a_native_denomination(chain: InterchainChain, driver: Driver) -> None:
    refused(
        drive(chain, driver, lambda context: bank.mint(context, "org1/alice", "gold", 1)),
        "INVALID_ARGUMENT",
        "only vouchers are minted",
    )
    assert supply(chain, "gold") == 0


def test_mint_cannot_take_a_supply_past_the_uint64_range(
    chain: InterchainChain, driver: Driver
) -> None:
    ok(drive(chain, driver, lambda context: bank.mint(context, "a", VOUCHER, AMOUNT_MAX)))
    refused(
        drive(chain, driver, lambda context: bank.mint(context, "b", VOUCHER, 1)),
        "INVALID_ARGUMENT",
        "past 2^64-1",
    )
    assert balance(chain, "b", VOUCHER) == 0


@pytest.mark.parametrize("amount", [0, -1, AMOUNT_MAX + 1])
def test_the_python_api_refuses_amounts_outside_uint64_and_zero(
    chain: InterchainChain, driver: Driver, amount: int
) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    before = dict(chain.state)
    for call in (
        lambda context: bank.mint(context, "org1/alice", VOUCHER, amount),
        lambda context: bank.burn(context, "org1/alice", "gold", amount),
        lambda context: bank.move(context, "org1/alice", "org2/bob", "gold", amount),
    ):
        refused(drive(chain, driver, call), "INVALID_ARGUMENT", "amount")
    assert chain.state == before


def test_burn_and_move_refuse_more_than_the_balance(chain: InterchainChain, driver: Driver) -> None:
    ok(issue(chain, "org1/alice", "gold", 10))
    before = dict(chain.state)
    refused(
        drive(chain, driver, lambda context: bank.burn(context, "org1/alice", "gold", 11)),
        "INSUFFICIENT_FUNDS",
        "is 10, less than the 11",
    )
    refused(
        drive(chain, driver, lambda context: bank.move(context, ESCROW, "org1/alice", "gold", 1)),
        "INSUFFICIENT_FUNDS",
        f"balance of {ESCROW} in gold is 0",
    )
    refused(
        drive(
            chain, driver, lambda context: bank.move(context, "org1/alice", "org1/alice", "gold", 1)
        ),
        "INVALID_ARGUMENT",
        "to itself",
    )
    assert chain.state == before


# ---- supply = sum of balances, whatever happens ----------------------------------------------


_ACCOUNTS = ["org1/alice", "org2/bob", ESCROW, "x"]
_DENOMS = [VOUCHER, "transfer/client-1/gold", "transfer/client-0/transfer/client-3/silver"]
_OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["mint", "burn", "move"]),
        st.sampled_from(_ACCOUNTS),
        st.sampled_from(_ACCOUNTS),
        st.sampled_from(_DENOMS),
        st.sampled_from([1, 2, 7, AMOUNT_MAX // 2, AMOUNT_MAX]),
    ),
    max_size=40,
)


@given(operations=_OPERATIONS)
@settings(max_examples=150, deadline=None)
def test_every_supply_is_the_sum_of_its_balances_whatever_happens(
    operations: list[tuple[str, str, str, str, int]],
) -> None:
    state: dict[bytes, bytes] = {}
    for operation, first, second, denom, amount in operations:
        context = bare_context(state)
        try:
            if operation == "mint":
                bank.mint(context, first, denom, amount)
            elif operation == "burn":
                bank.burn(context, first, denom, amount)
            else:
                bank.move(context, first, second, denom, amount)
        except RequestError:
            continue  # a refused operation writes nothing: its context is dropped
        apply(state, context)
        assert_supply_is_sum_of_balances(state)


def test_a_balance_above_its_supply_stops_the_node_loudly() -> None:
    # A corrupted state: a balance the supply does not count. Burning it cannot go on.
    state = {BANK_NAMESPACE + balance_key("org1/alice", VOUCHER): (5).to_bytes(8, "big")}
    with pytest.raises(InvariantError, match="supply of"):
        bank.burn(bare_context(state), "org1/alice", VOUCHER, 5)
    state[BANK_NAMESPACE + balance_key("org2/bob", VOUCHER)] = AMOUNT_MAX.to_bytes(8, "big")
    with pytest.raises(InvariantError, match="passed its supply"):
        bank.move(bare_context(state), "org1/alice", "org2/bob", VOUCHER, 1)
    state[BANK_NAMESPACE + supply_key(VOUCHER)] = b"\x01"
    with pytest.raises(InvariantError, match="not an amount"):
        bank.supply_of(bare_context(state), VOUCHER)
