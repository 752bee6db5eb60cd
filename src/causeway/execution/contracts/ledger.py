"""ledger: a fungible asset. Accounts are strings; a member's own account is its member id."""

from __future__ import annotations

import struct

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import InvariantError
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import LEDGER_BALANCE, LEDGER_SUPPLY
from causeway.types.v1 import types_pb2

CONTRACT = "ledger"
LEDGER_ACCOUNT_BYTES_MAX = 256
AMOUNT_MAX = (1 << 64) - 1

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_AMOUNT = struct.Struct(">Q")
_pack_amount = _AMOUNT.pack
_unpack_amount = _AMOUNT.unpack


def encode_balance_result(amount: int) -> bytes:
    """encode(LedgerBalanceResult(amount=amount)) without building the message: field 1, varint,
    omitted when zero (the canonical form)."""
    if amount == 0:
        return b""
    out = bytearray(b"\x08")
    while amount > 0x7F:
        out.append((amount & 0x7F) | 0x80)
        amount >>= 7
    out.append(amount)
    return bytes(out)


def _account_key(account: str, what: str) -> bytes:
    encoded = account.encode()
    if not encoded:
        raise failure(_INVALID, f"ledger {what} account is empty")
    if len(encoded) > LEDGER_ACCOUNT_BYTES_MAX:
        raise failure(
            _INVALID,
            f"ledger {what} account is {len(encoded)} bytes, above the limit of "
            f"{LEDGER_ACCOUNT_BYTES_MAX}",
        )
    return LEDGER_BALANCE + encoded


def _read_amount(context: TransactionContext, key: bytes) -> int:
    value = context.get(key)
    if value is None:
        return 0
    if len(value) != 8:
        raise InvariantError(f"state value of {key!r} is {len(value)} bytes, not an 8-byte amount")
    amount: int = _unpack_amount(value)[0]
    return amount


def _write_amount(context: TransactionContext, key: bytes, amount: int) -> None:
    # Zero balances are absent rather than stored, so that emptied accounts leave no state behind.
    if amount:
        context.put(key, _pack_amount(amount))
    else:
        context.delete(key)


def issue(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.ledger_issue_policy, "ledger.issue")
    request = decode_arguments(context, contracts_pb2.LedgerIssueArguments, arguments)
    amount = request.amount
    if amount == 0:
        raise failure(_INVALID, "ledger issue amount must be positive")
    key = _account_key(request.account, "issue")
    supply = _read_amount(context, LEDGER_SUPPLY)
    if supply + amount > AMOUNT_MAX:
        raise failure(_INVALID, f"issuing {amount} would take the supply {supply} past 2^64-1")
    # Every balance is part of the supply, so the balance cannot overflow when the supply does not.
    balance = _read_amount(context, key) + amount
    _write_amount(context, key, balance)
    _write_amount(context, LEDGER_SUPPLY, supply + amount)
    context.emit("issue", (("account", request.account), ("amount", str(amount))))
    return encode_balance_result(balance)


def transfer(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.LedgerTransferArguments, arguments)
    amount = request.amount
    if amount == 0:
        raise failure(_INVALID, "ledger transfer amount must be positive")
    to = request.to
    to_key = _account_key(to, "destination")
    sender = context.sender.id
    if to == sender:
        raise failure(_INVALID, "ledger transfer to the sender's own account")
    from_key = LEDGER_BALANCE + sender.encode()
    from_balance = _read_amount(context, from_key)
    if from_balance < amount:
        raise failure(
            types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS,
            f"balance of {sender} is {from_balance}, less than the {amount} to transfer",
        )
    to_balance = _read_amount(context, to_key) + amount
    if to_balance > AMOUNT_MAX:
        raise failure(_INVALID, f"transfer would take the balance of {to} past 2^64-1")
    from_balance -= amount
    _write_amount(context, from_key, from_balance)
    _write_amount(context, to_key, to_balance)
    context.emit("transfer", (("from", sender), ("to", to), ("amount", str(amount))))
    return encode_balance_result(from_balance)


def balance(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.LedgerBalanceArguments, arguments)
    return encode_balance_result(_read_amount(context, _account_key(request.account, "balance")))


METHODS: dict[str, Method] = {
    "issue": Method(issue),
    "transfer": Method(transfer),
    "balance": Method(balance, read_only=True),
}
