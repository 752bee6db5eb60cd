"""bank: balances of many denominations, beside the single-asset ``ledger``.

A denomination is a path of identifiers joined by "/". A *native* denomination is a single
identifier ("gold", "cny-e"): governance issues it under the chain's ledger issue policy. A
denomination with a "/" is a *voucher*: ``transfer/<client>/<denomination on the other chain>``,
minted only by the transfer application when tokens arrive from another chain (ICS-20), so that a
voucher's name always records the path its tokens took and nobody can issue one by hand.

Accounts are strings of visible ASCII; a member's own account is its member id, and only the member
can spend from it (``send``). Escrow accounts (``escrow_account``) hold the native tokens that are
away on another chain: their form contains ":", which no member id can contain, so no member can
ever spend from one, and no method of this contract pays into one; only the transfer application
moves tokens in and out, through the Python API below. Reserve accounts
(``reserve:atomic/<id hex>/<leg>``) are the same for the atomic contract's prepared transfer legs.

Every amount is a uint64: a zero amount is refused, and the supply of each denomination (the sum
of its balances, kept at ``supply_key``) never passes 2^64-1, so no balance can overflow either.
A zero balance is deleted, not stored, so that emptied accounts leave nothing behind.

The Python API (``mint``, ``burn``, ``move``) is for other native contracts: each takes the
caller's context and enters the bank itself (its namespace, no grants), so the caller reaches the
bank's state only through these functions.
"""

from __future__ import annotations

import re
import struct

from causeway.errors import InvariantError
from causeway.execution import Contract, Method, TransactionContext, decode_arguments, failure
from causeway.identity import IDENTIFIER_CHARACTERS_MAX, is_valid_identifier
from causeway.interchain.keys import (
    BALANCE_PREFIX,
    BANK_CONTRACT,
    BANK_NAMESPACE,
    RESERVE_ACCOUNT_PREFIX,
    account_balances_key,
    balance_key,
    supply_key,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.storage import STATE_KEY_BYTES_MAX
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = BANK_CONTRACT
NAMESPACE = BANK_NAMESPACE

AMOUNT_MAX = (1 << 64) - 1
# An account: a member id ("organisation/name", at most 64 + 1 + 64 characters) or an account of
# another chain, with room to spare; ASCII, so characters and bytes are the same count.
BANK_ACCOUNT_BYTES_MAX = 160
# A denomination path: a voucher that crossed a few chains ("transfer/<client>/" per hop).
BANK_DENOM_BYTES_MAX = 256
# A native denomination is one identifier (check_denom holds it to this).
BANK_NATIVE_DENOM_CHARACTERS_MAX = IDENTIFIER_CHARACTERS_MAX
# balances: one page of one account's denominations.
BANK_BALANCES_LIMIT_DEFAULT = 100
BANK_BALANCES_LIMIT_MAX = 1_000

# Escrow accounts are "escrow:<port>/<client id>"; ":" is in no member id (identity.policy), so
# no member can hold one, and the methods of this contract refuse to pay into one.
ESCROW_ACCOUNT_PREFIX = "escrow:"

# Every balance key must fit a state key, whatever the account and the denomination.
if (
    len(BANK_NAMESPACE) + len(BALANCE_PREFIX) + BANK_ACCOUNT_BYTES_MAX + 1 + BANK_DENOM_BYTES_MAX
    > STATE_KEY_BYTES_MAX
):  # pragma: no cover - a layout error, caught at import
    raise InvariantError("bank account and denomination bounds exceed the state key bound")

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_INSUFFICIENT = types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS
_AMOUNT = struct.Struct(">Q")
# Visible ASCII: no space, no control character (so no zero byte, which separates an account from
# a denomination in the balance keys), nothing that renders alike in two ways.
_ACCOUNT = re.compile(r"[\x21-\x7e]+")


# -- validation -------------------------------------------------------------------------------


def is_escrow_account(account: str) -> bool:
    return account.startswith(ESCROW_ACCOUNT_PREFIX)


def is_reserve_account(account: str) -> bool:
    """Whether ``account`` is where a prepared atomic leg's funds wait
    (``reserve:atomic/<id hex>/<leg>``, causeway.interchain.atomic): like an escrow account, no
    member holds one and no bank method pays into one."""
    return account.startswith(RESERVE_ACCOUNT_PREFIX)


def escrow_account(port: str, client_id: str) -> str:
    """The account that holds the tokens sent out through `port` over `client_id` (this chain's
    client of the receiving chain) until they come back. Its ":" keeps every member id from
    being equal to it."""
    for what, value in (("port", port), ("client id", client_id)):
        if not is_valid_identifier(value):
            raise failure(_INVALID, f"escrow {what} {value!r} is not an identifier")
    return f"{ESCROW_ACCOUNT_PREFIX}{port}/{client_id}"


def check_account(account: str, what: str) -> None:
    """RequestError unless `account` is 1 to BANK_ACCOUNT_BYTES_MAX characters of visible ASCII."""
    if not account:
        raise failure(_INVALID, f"bank {what} account is empty")
    size = len(account.encode())
    if size > BANK_ACCOUNT_BYTES_MAX:
        raise failure(
            _INVALID,
            f"bank {what} account is {size} bytes, above the limit of {BANK_ACCOUNT_BYTES_MAX}",
        )
    if _ACCOUNT.fullmatch(account) is None:
        raise failure(
            _INVALID,
            f"bank {what} account {account!r} holds a character outside visible ASCII",
        )


def check_payee(account: str, what: str) -> None:
    """An account the bank's own methods may pay into: valid, and neither an escrow account nor
    an atomic reserve account."""
    check_account(account, what)
    if is_escrow_account(account):
        raise failure(
            _INVALID,
            f"bank {what} account {account!r} is an escrow account: only the transfer "
            "application moves tokens into or out of escrow",
        )
    if is_reserve_account(account):
        raise failure(
            _INVALID,
            f"bank {what} account {account!r} is an atomic reserve account: only the atomic "
            "contract moves tokens into or out of a reserve",
        )


def check_denom(denom: str, what: str) -> None:
    """RequestError unless `denom` is a path of identifiers joined by "/", at most
    BANK_DENOM_BYTES_MAX bytes."""
    if not denom:
        raise failure(_INVALID, f"bank {what} denomination is empty")
    size = len(denom.encode())
    if size > BANK_DENOM_BYTES_MAX:
        raise failure(
            _INVALID,
            f"bank {what} denomination is {size} bytes, above the limit of {BANK_DENOM_BYTES_MAX}",
        )
    if not all(is_valid_identifier(segment) for segment in denom.split("/")):
        raise failure(
            _INVALID,
            f"bank {what} denomination {denom!r} is not a path of identifiers (each 1 to "
            f"{IDENTIFIER_CHARACTERS_MAX} of A-Z a-z 0-9 . _ -, starting alphanumeric, joined "
            "by '/')",
        )


def check_native_denom(denom: str, what: str) -> None:
    check_denom(denom, what)
    if "/" in denom:
        raise failure(
            _INVALID,
            f"bank {what} denomination {denom!r} contains '/': such a denomination is a voucher "
            "of tokens from another chain, which only the transfer application mints",
        )


def _check_amount(amount: int, what: str) -> None:
    if amount <= 0:
        raise failure(_INVALID, f"bank {what} amount must be positive, not {amount}")
    if amount > AMOUNT_MAX:
        raise failure(_INVALID, f"bank {what} amount {amount} is above 2^64-1")


# -- state (the bank's own context) -------------------------------------------------------------


def _read_amount(context: TransactionContext, key: bytes) -> int:
    value = context.get(key)
    if value is None:
        return 0
    if len(value) != _AMOUNT.size:
        raise InvariantError(f"bank state value of {key!r} is {len(value)} bytes, not an amount")
    amount: int = _AMOUNT.unpack(value)[0]
    return amount


def _write_amount(context: TransactionContext, key: bytes, amount: int) -> None:
    # Zero balances (and supplies) are absent rather than stored: emptied accounts leave no state.
    if amount:
        context.put(key, _AMOUNT.pack(amount))
    else:
        context.delete(key)


def _credit_new_tokens(context: TransactionContext, account: str, denom: str, amount: int) -> int:
    """Adds `amount` new tokens to the account and the supply; returns the new balance."""
    supply = _read_amount(context, supply_key(denom))
    if supply + amount > AMOUNT_MAX:
        raise failure(
            _INVALID,
            f"adding {amount} {denom} would take its supply {supply} past 2^64-1",
        )
    key = balance_key(account, denom)
    # A balance is part of the supply, so it cannot overflow when the supply does not.
    balance = _read_amount(context, key) + amount
    _write_amount(context, key, balance)
    _write_amount(context, supply_key(denom), supply + amount)
    return balance


def _debit(context: TransactionContext, account: str, denom: str, amount: int) -> int:
    """Takes `amount` from the account (not from the supply); returns the new balance."""
    key = balance_key(account, denom)
    balance = _read_amount(context, key)
    if balance < amount:
        raise failure(
            _INSUFFICIENT,
            f"balance of {account} in {denom} is {balance}, less than the {amount} needed",
        )
    _write_amount(context, key, balance - amount)
    return balance - amount


def _move(
    context: TransactionContext, from_account: str, to_account: str, denom: str, amount: int
) -> int:
    """Moves tokens between two accounts; returns the payer's new balance."""
    if from_account == to_account:
        raise failure(_INVALID, f"bank move of {denom} from {from_account} to itself")
    remaining = _debit(context, from_account, denom, amount)
    key = balance_key(to_account, denom)
    balance = _read_amount(context, key) + amount
    if balance > AMOUNT_MAX:
        # Both balances are part of the supply, which is at most AMOUNT_MAX.
        raise InvariantError(f"balance of {to_account} in {denom} passed its supply")
    _write_amount(context, key, balance)
    return remaining


def _enter(context: TransactionContext) -> TransactionContext:
    if context.contract == BANK_CONTRACT:
        return context
    return context.enter(BANK_CONTRACT, BANK_NAMESPACE, ())


def _balance_result(amount: int) -> bytes:
    return encode(interchain_pb2.BankBalanceResult(amount=amount))


# -- Python API for other contracts --------------------------------------------------------------


def mint(context: TransactionContext, account: str, denom: str, amount: int) -> None:
    """Creates `amount` vouchers of `denom` in `account`. Only vouchers (a denomination with "/")
    are minted: a native denomination's supply changes only by ``issue``, under its policy."""
    check_account(account, "mint")
    check_denom(denom, "mint")
    if "/" not in denom:
        raise failure(
            _INVALID,
            f"bank mint of native denomination {denom!r}: only vouchers are minted, native "
            "tokens are issued",
        )
    _check_amount(amount, "mint")
    bank = _enter(context)
    _credit_new_tokens(bank, account, denom, amount)
    bank.emit("mint", (("account", account), ("denom", denom), ("amount", str(amount))))


def burn(context: TransactionContext, account: str, denom: str, amount: int) -> None:
    """Destroys `amount` of `denom` held by `account` (INSUFFICIENT_FUNDS when it holds less)."""
    check_account(account, "burn")
    check_denom(denom, "burn")
    _check_amount(amount, "burn")
    bank = _enter(context)
    _debit(bank, account, denom, amount)
    supply = _read_amount(bank, supply_key(denom))
    if supply < amount:
        raise InvariantError(f"supply of {denom} ({supply}) is below a balance of {amount}")
    _write_amount(bank, supply_key(denom), supply - amount)
    bank.emit("burn", (("account", account), ("denom", denom), ("amount", str(amount))))


def move(
    context: TransactionContext, from_account: str, to_account: str, denom: str, amount: int
) -> None:
    """Moves `amount` of `denom` between two accounts, escrow accounts included."""
    check_account(from_account, "source")
    check_account(to_account, "destination")
    check_denom(denom, "move")
    _check_amount(amount, "move")
    bank = _enter(context)
    _move(bank, from_account, to_account, denom, amount)
    bank.emit(
        "move",
        (("from", from_account), ("to", to_account), ("denom", denom), ("amount", str(amount))),
    )


def balance_of(context: TransactionContext, account: str, denom: str) -> int:
    """What `account` holds of `denom` (0 when nothing)."""
    check_account(account, "balance")
    check_denom(denom, "balance")
    return _read_amount(_enter(context), balance_key(account, denom))


def supply_of(context: TransactionContext, denom: str) -> int:
    check_denom(denom, "supply")
    return _read_amount(_enter(context), supply_key(denom))


# -- methods -------------------------------------------------------------------------------------


def issue(context: TransactionContext, arguments: bytes) -> bytes:
    """New native tokens, under the chain's ledger issue policy; returns the account's balance."""
    context.require_policy(context.config.config.ledger_issue_policy, "bank.issue")
    request = decode_arguments(context, interchain_pb2.BankIssueArguments, arguments)
    check_native_denom(request.denom, "issue")
    check_payee(request.account, "issue")
    _check_amount(request.amount, "issue")
    balance = _credit_new_tokens(context, request.account, request.denom, request.amount)
    context.emit(
        "issue",
        (
            ("account", request.account),
            ("denom", request.denom),
            ("amount", str(request.amount)),
        ),
    )
    return _balance_result(balance)


def send(context: TransactionContext, arguments: bytes) -> bytes:
    """From the sender's own account to `to`; returns what the sender has left."""
    request = decode_arguments(context, interchain_pb2.BankSendArguments, arguments)
    check_payee(request.to, "send destination")
    check_denom(request.denom, "send")
    _check_amount(request.amount, "send")
    sender = context.sender.id
    if request.to == sender:
        raise failure(_INVALID, f"bank send to the sender's own account {sender}")
    remaining = _move(context, sender, request.to, request.denom, request.amount)
    context.emit(
        "send",
        (
            ("from", sender),
            ("to", request.to),
            ("denom", request.denom),
            ("amount", str(request.amount)),
        ),
    )
    return _balance_result(remaining)


def balance(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.BankBalanceArguments, arguments)
    return _balance_result(balance_of(context, request.account, request.denom))


def balances(context: TransactionContext, arguments: bytes) -> bytes:
    """One account's balances in denomination order: a page after `start_after`, of at most
    `limit` (0: BANK_BALANCES_LIMIT_DEFAULT; at most BANK_BALANCES_LIMIT_MAX)."""
    request = decode_arguments(context, interchain_pb2.BankBalancesArguments, arguments)
    check_account(request.account, "balances")
    start_after = b""
    if request.start_after:
        check_denom(request.start_after, "balances start_after")
        start_after = balance_key(request.account, request.start_after)
    limit = min(request.limit or BANK_BALANCES_LIMIT_DEFAULT, BANK_BALANCES_LIMIT_MAX)
    prefix = account_balances_key(request.account)
    result = interchain_pb2.BankBalancesResult()
    for key, value in context.range(prefix, start_after, limit):
        if len(value) != _AMOUNT.size:
            raise InvariantError(f"bank state value of {key!r} is {len(value)} bytes")
        result.coins.add(denom=key[len(prefix) :].decode(), amount=_AMOUNT.unpack(value)[0])
    return encode(result)


def supply(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.BankSupplyArguments, arguments)
    return _balance_result(supply_of(context, request.denom))


METHODS: dict[str, Method] = {
    "issue": Method(issue),
    "send": Method(send),
    "balance": Method(balance, read_only=True),
    "balances": Method(balances, read_only=True),
    "supply": Method(supply, read_only=True),
}

BANK = Contract(name=CONTRACT, methods=METHODS, namespace=BANK_NAMESPACE)
