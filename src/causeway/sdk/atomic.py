"""Atomic cross-chain transactions through the hub (docs/atomic-transactions.md, ADR 0004): the
transaction file, the body and its id, the owners' leg signatures, and ``client.atomic`` (sync,
``Atomic``; asyncio, ``AsyncAtomic``: the same names, awaited).

The pure part needs no node:

* ``load_transaction_file`` / ``parse_transaction_file`` read the TOML format below and name every
  bad field at once (RequestError, nothing sent);
* ``build_body`` checks a body's bounds; ``resolve_body`` fixes a file's deadline (from the hub's
  newest block time) and nonce, which fixes the transaction id;
* ``transaction_id(body, profile)`` is the hub's hash of ``ID_DOMAIN + encode(body)``;
* ``sign_leg(signer, body, index, hub_profile=...)`` is the owner's signature over
  ``sign_bytes("atomic-leg", leg.chain_id, encode(AtomicLegDocument))``;
* ``signature_file_text`` / ``load_signature_file``: what `xtx sign` hands to `xtx submit`.

``submit_and_wait(network, body, signers)`` signs, sends ``atomic.begin`` to the hub and waits
until the hub decided and every participant's leg record ended (CONFIRMED, CANCELLED or
REFUSED).

The transaction file::

    version = 1
    hub = "hub"
    deadline_seconds = 60          # from when the id is fixed; or deadline_ms = <hub time>
    nonce = "<32 to 64 hex digits>"  # optional only when the submitter signs every leg
    memo = "pay and register"

    [[leg]]
    chain = "chain-a"
    owner = "org1/client"
    kind = "bank_transfer"         # from, to, denom, amount
    ...
    [[leg]]
    kind = "kv_write"              # key | key_hex; value | value_hex | delete = true;
                                   # expect_absent = true | expected_value_sha = "<hex>"
    [[leg]]
    kind = "ledger_transfer"       # from, to, amount
    [[leg]]
    kind = "port_call"             # port, method, arguments_hex (or arguments, UTF-8 text)

Reads of records (``get``, ``leg``, ``list``) are read-only contract calls, which a node answers
without a proof (the caller needs an identity).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from causeway.crypto import CryptoProfile, get_profile
from causeway.errors import ConfigurationError, NotFoundError, RequestError
from causeway.interchain import keys
from causeway.interchain.v1 import atomic_pb2
from causeway.sdk.identity import Identity
from causeway.sdk.interchain import (
    AsyncChainNode,
    ChainNode,
    committed_result,
    decode_result,
    evaluated,
)
from causeway.types import DOMAIN_ATOMIC_LEG, decode, encode, sign_bytes

__all__ = [
    "ATOMIC_CONTRACT",
    "ATOMIC_LEGS_MAX",
    "DEADLINE_SECONDS_MAX",
    "DEADLINE_SECONDS_MIN",
    "DOMAIN_ATOMIC_LEG",
    "FINAL_LEG_STATES",
    "ID_DOMAIN",
    "AsyncAtomic",
    "Atomic",
    "AtomicNetwork",
    "AtomicNetworkNode",
    "AtomicReport",
    "SignatureFile",
    "TransactionFile",
    "async_wait_for_end",
    "build_body",
    "check_body",
    "decision_key",
    "hub_registration_key",
    "leg_document",
    "load_signature_file",
    "load_transaction_file",
    "merge_authorisations",
    "outcome_name",
    "parse_signature_file",
    "parse_transaction_file",
    "report",
    "resolve_body",
    "sign_leg",
    "signature_file_text",
    "state_name",
    "submit_and_wait",
    "transaction_id",
    "transaction_key",
    "vote_name",
    "wait_for_end",
]

ATOMIC_CONTRACT = "atomic"
BODY_VERSION = 1
FILE_VERSION = 1
# What the transaction id hashes before the body (ADR 0004; a test checks it against the
# contract's own constant).
ID_DOMAIN = b"causeway/atomic-transaction/v1\x00"
# The contract's bounds (ADR 0004), checked here so that a bad file never reaches the hub.
ATOMIC_LEGS_MAX = 8
NONCE_BYTES_MIN = 16
NONCE_BYTES_MAX = 32
MEMO_BYTES_MAX = 256
KV_KEY_BYTES_MAX = 256
KV_VALUE_BYTES_MAX = 32 * 1024
PORT_ARGUMENTS_BYTES_MAX = 16 * 1024
AMOUNT_MAX = 2**64 - 1
# The hub refuses a deadline closer than 5 s after its block time or more than 10 minutes after
# it; a relative deadline leaves the begin transaction 5 s more to commit.
DEADLINE_SECONDS_MIN = 10
DEADLINE_SECONDS_MAX = 600
# A transaction file or a signature file this large is not one.
FILE_BYTES_MAX = 1024 * 1024
SIGNATURE_FILE_VERSION = 1
NONCE_BYTES_DEFAULT = 16
WAIT_S_DEFAULT = 120.0
POLL_INTERVAL_S_DEFAULT = 0.5
LIST_LIMIT_MAX = 100

KINDS = ("bank_transfer", "ledger_transfer", "kv_write", "port_call")
# In the file format (ADR 0004) but refused by the contract (it dropped ledger legs): refused here
# too, before anything is sent.
UNSUPPORTED_KINDS = frozenset({"ledger_transfer"})
_COMMON_LEG_KEYS = frozenset({"chain", "owner", "kind"})
_KIND_KEYS: dict[str, frozenset[str]] = {
    "bank_transfer": frozenset({"from", "to", "denom", "amount"}),
    "ledger_transfer": frozenset({"from", "to", "amount"}),
    "kv_write": frozenset(
        {"key", "key_hex", "value", "value_hex", "delete", "expect_absent", "expected_value_sha"}
    ),
    "port_call": frozenset({"port", "method", "arguments", "arguments_hex"}),
}
_TOP_KEYS = frozenset({"version", "hub", "deadline_seconds", "deadline_ms", "nonce", "memo", "leg"})
_MEMBER_ID = re.compile(r"[^/\s]+/[^/\s]+")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")

FINAL_LEG_STATES = frozenset(
    {
        atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED,
        atomic_pb2.ATOMIC_LEG_STATE_CANCELLED,
        atomic_pb2.ATOMIC_LEG_STATE_REFUSED,
    }
)


# ------------------------------------------------------------------------------ names


def outcome_name(outcome: int) -> str:
    """'commit', 'abort' or 'pending' (no decision yet)."""
    if outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT:
        return "commit"
    if outcome == atomic_pb2.ATOMIC_OUTCOME_ABORT:
        return "abort"
    return "pending"


def state_name(state: int) -> str:
    """'prepared', 'refused', 'confirmed', 'cancelled' or '-' (no record)."""
    if state == atomic_pb2.ATOMIC_LEG_STATE_UNSPECIFIED:
        return "-"
    return (
        atomic_pb2.AtomicLegState.Name(atomic_pb2.AtomicLegState.ValueType(state))
        .removeprefix("ATOMIC_LEG_STATE_")
        .lower()
    )


def vote_name(vote: int) -> str:
    """'yes', 'no', 'timed_out', 'late_yes' or '-' (no vote yet)."""
    if vote == atomic_pb2.ATOMIC_VOTE_UNSPECIFIED:
        return "-"
    return (
        atomic_pb2.AtomicVoteKind.Name(atomic_pb2.AtomicVoteKind.ValueType(vote))
        .removeprefix("ATOMIC_VOTE_")
        .lower()
    )


# ------------------------------------------------------------------------------ the file


@dataclass(frozen=True, slots=True)
class TransactionFile:
    """A transaction file read and checked. ``body.deadline_ms`` is 0 while the deadline is
    relative (``deadline_seconds``) and ``body.nonce`` empty when the file names none: both are
    fixed by ``resolve_body``."""

    body: atomic_pb2.AtomicTransactionBody
    deadline_seconds: int
    source: str

    @property
    def has_nonce(self) -> bool:
        return bool(self.body.nonce)


class _Problems:
    """Every problem of a file, gathered so that one error names them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}" if where else message)

    def raise_if_any(self) -> None:
        if self.lines:
            listed = "\n  ".join(self.lines)
            raise RequestError(
                f"{self.source} is not a valid atomic transaction file:\n  {listed}",
                reason="invalid_argument",
            )


def _text(
    table: Mapping[str, Any], key: str, where: str, problems: _Problems, *, required: bool = True
) -> str:
    value = table.get(key)
    if value is None:
        if required:
            problems.add(where, f"{key!r} is missing")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.add(where, f"{key!r} must be a non-empty string, not {value!r}")
        return ""
    return value


def _integer(
    table: Mapping[str, Any],
    key: str,
    where: str,
    problems: _Problems,
    *,
    low: int,
    high: int,
) -> int:
    value = table.get(key)
    if value is None:
        problems.add(where, f"{key!r} is missing")
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.add(where, f"{key!r} must be an integer from {low} to {high}, not {value!r}")
        return 0
    return value


def _boolean(table: Mapping[str, Any], key: str, where: str, problems: _Problems) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        problems.add(where, f"{key!r} must be true or false, not {value!r}")
        return False
    return value


def _hex_bytes(value: object, key: str, where: str, problems: _Problems) -> bytes:
    if not isinstance(value, str) or _HEX.fullmatch(value) is None:
        problems.add(where, f"{key!r} must be a string of hex digit pairs, not {value!r}")
        return b""
    return bytes.fromhex(value)


def _one_of(
    table: Mapping[str, Any], keys: Sequence[str], where: str, problems: _Problems
) -> str | None:
    """The one of ``keys`` the table has; a problem when it has none or several."""
    present = [key for key in keys if key in table]
    if len(present) == 1:
        return present[0]
    names = " or ".join(repr(key) for key in keys)
    if present:
        problems.add(where, f"give one of {names}, not {' and '.join(map(repr, present))}")
    else:
        problems.add(where, f"one of {names} is needed")
    return None


def _bytes_field(
    table: Mapping[str, Any],
    text_key: str,
    hex_key: str,
    where: str,
    problems: _Problems,
    *,
    bytes_max: int,
    empty_allowed: bool,
) -> bytes:
    chosen = _one_of(table, (text_key, hex_key), where, problems)
    if chosen is None:
        return b""
    value = table[chosen]
    if chosen == hex_key:
        data = _hex_bytes(value, chosen, where, problems)
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        problems.add(where, f"{chosen!r} must be a string, not {value!r}")
        return b""
    if not data and not empty_allowed:
        problems.add(where, f"{chosen!r} is empty")
    if len(data) > bytes_max:
        problems.add(where, f"{chosen!r} is {len(data)} bytes, above the limit of {bytes_max}")
    return data


def _member_id(table: Mapping[str, Any], key: str, where: str, problems: _Problems) -> str:
    value = _text(table, key, where, problems)
    if value and _MEMBER_ID.fullmatch(value) is None:
        problems.add(where, f"{key!r} must be a member id 'organisation/name', not {value!r}")
    return value


def _leg(table: object, index: int, hub: str, problems: _Problems) -> atomic_pb2.AtomicLeg | None:
    where = f"leg {index}"
    if not isinstance(table, dict):
        problems.add(where, "must be a table ([[leg]])")
        return None
    chain = _text(table, "chain", where, problems)
    if chain:
        where = f"leg {index} ({chain})"
        if chain == hub:
            problems.add(where, f"'chain' is the hub {hub!r}: legs run on member chains only")
    owner = _member_id(table, "owner", where, problems)
    kind = _text(table, "kind", where, problems)
    leg = atomic_pb2.AtomicLeg(index=index, chain_id=chain, owner=owner)
    if kind and kind not in KINDS:
        problems.add(where, f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
        return None
    if not kind:
        return None
    unknown = sorted(set(table) - _COMMON_LEG_KEYS - _KIND_KEYS[kind])
    if unknown:
        problems.add(where, f"unknown key(s) for a {kind} leg: {', '.join(unknown)}")
    if kind in UNSUPPORTED_KINDS:
        problems.add(
            where, f"kind {kind!r} is not supported by the atomic contract yet: use bank_transfer"
        )
    if kind in ("bank_transfer", "ledger_transfer"):
        source = _member_id(table, "from", where, problems)
        receiver = _text(table, "to", where, problems)
        amount = _integer(table, "amount", where, problems, low=1, high=AMOUNT_MAX)
        if source and owner and source != owner:
            problems.add(
                where,
                f"'from' is {source!r} but the owner is {owner!r}: a leg spends only its "
                "owner's account",
            )
        if kind == "bank_transfer":
            denom = _text(table, "denom", where, problems)
            leg.bank_transfer.CopyFrom(
                atomic_pb2.AtomicBankTransfer(
                    from_account=source, to_account=receiver, denom=denom, amount=amount
                )
            )
        else:
            leg.ledger_transfer.CopyFrom(
                atomic_pb2.AtomicLedgerTransfer(
                    from_account=source, to_account=receiver, amount=amount
                )
            )
    elif kind == "kv_write":
        key = _bytes_field(
            table,
            "key",
            "key_hex",
            where,
            problems,
            bytes_max=KV_KEY_BYTES_MAX,
            empty_allowed=False,
        )
        write = atomic_pb2.AtomicKvWrite(key=key)
        delete = _boolean(table, "delete", where, problems)
        if delete:
            if "value" in table or "value_hex" in table:
                problems.add(where, "give 'delete = true' or a value, not both")
            write.delete = True
        else:
            write.value = _bytes_field(
                table,
                "value",
                "value_hex",
                where,
                problems,
                bytes_max=KV_VALUE_BYTES_MAX,
                empty_allowed=True,
            )
        write.expect_absent = _boolean(table, "expect_absent", where, problems)
        if "expected_value_sha" in table:
            if write.expect_absent:
                problems.add(where, "give 'expect_absent = true' or 'expected_value_sha', not both")
            write.expected_value_hash = _hex_bytes(
                table["expected_value_sha"], "expected_value_sha", where, problems
            )
            if not write.expected_value_hash:
                problems.add(where, "'expected_value_sha' is empty")
        leg.kv_write.CopyFrom(write)
    else:
        port = _text(table, "port", where, problems)
        method = _text(table, "method", where, problems)
        arguments = b""
        if "arguments" in table or "arguments_hex" in table:
            arguments = _bytes_field(
                table,
                "arguments",
                "arguments_hex",
                where,
                problems,
                bytes_max=PORT_ARGUMENTS_BYTES_MAX,
                empty_allowed=True,
            )
        leg.port_call.CopyFrom(
            atomic_pb2.AtomicPortCall(port=port, method=method, arguments=arguments)
        )
    return leg


def parse_transaction_file(text: str, source: str = "the transaction file") -> TransactionFile:
    """A transaction file's text, checked: RequestError naming every bad field."""
    problems = _Problems(source)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problems.add("", f"not TOML: {error}")
        problems.raise_if_any()
        raise AssertionError("unreachable") from None
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        problems.add("", f"unknown key(s): {', '.join(unknown)}")
    version = document.get("version")
    if version != FILE_VERSION or isinstance(version, bool):
        problems.add("", f"'version' must be {FILE_VERSION}, not {version!r}")
    hub = _text(document, "hub", "", problems)
    body = atomic_pb2.AtomicTransactionBody(version=BODY_VERSION, hub_chain_id=hub)
    deadline_seconds = 0
    which = _one_of(document, ("deadline_seconds", "deadline_ms"), "", problems)
    if which == "deadline_seconds":
        deadline_seconds = _integer(
            document,
            which,
            "",
            problems,
            low=DEADLINE_SECONDS_MIN,
            high=DEADLINE_SECONDS_MAX,
        )
    elif which == "deadline_ms":
        body.deadline_ms = _integer(document, which, "", problems, low=1, high=2**63 - 1)
    if "nonce" in document:
        body.nonce = _hex_bytes(document["nonce"], "nonce", "", problems)
        if body.nonce and not NONCE_BYTES_MIN <= len(body.nonce) <= NONCE_BYTES_MAX:
            problems.add(
                "",
                f"'nonce' is {len(body.nonce)} bytes; it must be {NONCE_BYTES_MIN} to "
                f"{NONCE_BYTES_MAX} ({2 * NONCE_BYTES_MIN} to {2 * NONCE_BYTES_MAX} hex digits)",
            )
        elif not body.nonce:
            problems.add("", "'nonce' is empty: leave it out to let submit choose one")
    if "memo" in document:
        memo = document["memo"]
        if not isinstance(memo, str):
            problems.add("", f"'memo' must be a string, not {memo!r}")
        elif len(memo.encode("utf-8")) > MEMO_BYTES_MAX:
            problems.add("", f"'memo' is {len(memo.encode('utf-8'))} bytes, above {MEMO_BYTES_MAX}")
        else:
            body.memo = memo
    legs = document.get("leg")
    if not isinstance(legs, list) or not legs:
        problems.add("", "no [[leg]]: a transaction has 1 to 8 legs")
    elif len(legs) > ATOMIC_LEGS_MAX:
        problems.add("", f"{len(legs)} legs; a transaction has at most {ATOMIC_LEGS_MAX}")
    else:
        for index, table in enumerate(legs):
            leg = _leg(table, index, hub, problems)
            if leg is not None:
                body.legs.append(leg)
    problems.raise_if_any()
    return TransactionFile(body=body, deadline_seconds=deadline_seconds, source=source)


def _read_bounded(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(FILE_BYTES_MAX + 1)
    except FileNotFoundError:
        raise RequestError(f"{what} {path} does not exist", reason="invalid_argument") from None
    except OSError as error:
        raise RequestError(
            f"cannot read {what} {path}: {error.strerror}", reason="invalid_argument"
        ) from None
    if len(data) > FILE_BYTES_MAX:
        raise RequestError(
            f"{what} {path} is larger than {FILE_BYTES_MAX} bytes", reason="invalid_argument"
        )
    return data


def load_transaction_file(path: Path | str) -> TransactionFile:
    """Reads and checks a transaction file (the module notes); RequestError naming every bad
    field, or the file that cannot be read."""
    path = Path(path)
    data = _read_bounded(path, "transaction file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(
            f"transaction file {path} is not UTF-8 text", reason="invalid_argument"
        ) from None
    return parse_transaction_file(text, str(path))


# ------------------------------------------------------------------------------ the body


def build_body(
    hub_chain_id: str,
    legs: Sequence[atomic_pb2.AtomicLeg],
    *,
    deadline_ms: int,
    nonce: bytes,
    memo: str = "",
) -> atomic_pb2.AtomicTransactionBody:
    """A body from legs (their indices are set here, in order), checked against the bounds the
    hub checks: RequestError naming the first problem."""
    body = atomic_pb2.AtomicTransactionBody(
        version=BODY_VERSION,
        hub_chain_id=hub_chain_id,
        nonce=nonce,
        deadline_ms=deadline_ms,
        memo=memo,
    )
    for index, leg in enumerate(legs):
        copy = body.legs.add()
        copy.CopyFrom(leg)
        copy.index = index
    check_body(body)
    return body


def check_body(body: atomic_pb2.AtomicTransactionBody) -> None:
    """RequestError unless the body is within what the hub accepts (the hub checks again, with
    its own time: the deadline's window is its to judge)."""

    def refuse(message: str) -> RequestError:
        return RequestError(f"atomic transaction body: {message}", reason="invalid_argument")

    if body.version != BODY_VERSION:
        raise refuse(f"version {body.version}, not {BODY_VERSION}")
    if not body.hub_chain_id:
        raise refuse("no hub chain id")
    if not NONCE_BYTES_MIN <= len(body.nonce) <= NONCE_BYTES_MAX:
        raise refuse(
            f"the nonce is {len(body.nonce)} bytes, not {NONCE_BYTES_MIN} to {NONCE_BYTES_MAX}"
        )
    if body.deadline_ms <= 0:
        raise refuse("no deadline")
    if len(body.memo.encode("utf-8")) > MEMO_BYTES_MAX:
        raise refuse(f"the memo is above {MEMO_BYTES_MAX} bytes")
    if not 1 <= len(body.legs) <= ATOMIC_LEGS_MAX:
        raise refuse(f"{len(body.legs)} legs, not 1 to {ATOMIC_LEGS_MAX}")
    for position, leg in enumerate(body.legs):
        if leg.index != position:
            raise refuse(f"leg {position} has index {leg.index}: legs are indexed 0..n-1")
        if not leg.chain_id or leg.chain_id == body.hub_chain_id:
            raise refuse(f"leg {position} names no member chain ({leg.chain_id!r})")
        if _MEMBER_ID.fullmatch(leg.owner) is None:
            raise refuse(f"leg {position}'s owner {leg.owner!r} is not a member id")
        if leg.WhichOneof("action") is None:
            raise refuse(f"leg {position} has no action")


def resolve_body(
    transaction_file: TransactionFile, *, hub_time_ms: int, nonce: bytes = b""
) -> atomic_pb2.AtomicTransactionBody:
    """The file's body with its deadline fixed (``deadline_seconds`` after the hub's newest block
    time ``hub_time_ms``) and its nonce (the file's, else ``nonce``, which the caller draws from
    a secure source): from here the transaction id is fixed."""
    body = atomic_pb2.AtomicTransactionBody()
    body.CopyFrom(transaction_file.body)
    if transaction_file.deadline_seconds:
        body.deadline_ms = hub_time_ms + transaction_file.deadline_seconds * 1000
    if not body.nonce:
        if not nonce:
            raise RequestError(
                f"{transaction_file.source} names no nonce: only a submitter that signs every "
                'leg itself may choose one; add nonce = "<32 hex digits>" and have each owner '
                "sign with causeway xtx sign",
                reason="invalid_argument",
            )
        body.nonce = nonce
    elif nonce and nonce != body.nonce:
        raise RequestError(
            f"{transaction_file.source} names nonce {body.nonce.hex()}; another was given",
            reason="invalid_argument",
        )
    check_body(body)
    return body


def _profile(profile: CryptoProfile | str) -> CryptoProfile:
    return get_profile(profile) if isinstance(profile, str) else profile


def transaction_id(body: atomic_pb2.AtomicTransactionBody, profile: CryptoProfile | str) -> bytes:
    """The id of a transaction: the hub's hash (its crypto profile) of ID_DOMAIN + encode(body)."""
    return _profile(profile).hash(ID_DOMAIN + encode(body))


def leg_document(
    body: atomic_pb2.AtomicTransactionBody, index: int, identifier: bytes
) -> atomic_pb2.AtomicLegDocument:
    """What leg ``index``'s owner signs (under ``identifier``, the body's id)."""
    if not 0 <= index < len(body.legs):
        raise RequestError(
            f"leg {index} is not a leg of the transaction (it has {len(body.legs)}: 0 to "
            f"{len(body.legs) - 1})",
            reason="invalid_argument",
        )
    return atomic_pb2.AtomicLegDocument(
        hub_chain_id=body.hub_chain_id,
        transaction_id=identifier,
        deadline_ms=body.deadline_ms,
        leg=body.legs[index],
    )


def sign_leg(
    signer: Identity,
    body: atomic_pb2.AtomicTransactionBody,
    index: int,
    *,
    hub_profile: CryptoProfile | str,
) -> atomic_pb2.AtomicLegAuthorisation:
    """The owner's signature of leg ``index`` (``hub_profile``: the hub's crypto profile, whose
    hash makes the id). RequestError when the signer is not the leg's owner, or is a member of
    another chain than the leg's (when its member.json names its chain)."""
    check_body(body)
    document = leg_document(body, index, transaction_id(body, hub_profile))
    leg = document.leg
    if signer.member_id != leg.owner:
        raise RequestError(
            f"leg {index} is owned by {leg.owner!r} on {leg.chain_id}; {signer.member_id!r} "
            "cannot sign it",
            reason="invalid_argument",
        )
    if signer.chain_id and signer.chain_id != leg.chain_id:
        raise RequestError(
            f"leg {index} runs on {leg.chain_id}; the signer {signer.member_id} is a member of "
            f"{signer.chain_id}",
            reason="invalid_argument",
        )
    signature = signer.key.sign(sign_bytes(DOMAIN_ATOMIC_LEG, leg.chain_id, encode(document)))
    return atomic_pb2.AtomicLegAuthorisation(leg_index=index, signature=signature)


# ------------------------------------------------------------------------------ signature files


@dataclass(frozen=True, slots=True)
class SignatureFile:
    """What `xtx sign` writes: the resolved body, the id under the hub's profile, and the
    signatures made so far (several owners may add theirs to one file in turn)."""

    body: atomic_pb2.AtomicTransactionBody
    hub_crypto_profile: str
    transaction_id: bytes
    authorisations: tuple[atomic_pb2.AtomicLegAuthorisation, ...] = field(default=())


def signature_file_text(signed: SignatureFile) -> str:
    """JSON: version, hub, hub_crypto_profile, transaction_id (hex), body (hex of its canonical
    encoding), signatures [{leg, signature (hex)}], in leg order."""
    document = {
        "version": SIGNATURE_FILE_VERSION,
        "hub": signed.body.hub_chain_id,
        "hub_crypto_profile": signed.hub_crypto_profile,
        "transaction_id": signed.transaction_id.hex(),
        "body": encode(signed.body).hex(),
        "signatures": [
            {"leg": entry.leg_index, "signature": entry.signature.hex()}
            for entry in sorted(signed.authorisations, key=lambda entry: entry.leg_index)
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def parse_signature_file(text: str, source: str = "the signature file") -> SignatureFile:
    """A signature file's text, checked: the body decodes canonically and is within bounds, the
    id is the body's under the named profile, each signature names a leg of the body once."""

    def refuse(message: str) -> RequestError:
        return RequestError(f"{source}: {message}", reason="invalid_argument")

    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise refuse(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise refuse("not a JSON object")
    if document.get("version") != SIGNATURE_FILE_VERSION:
        raise refuse(f"'version' must be {SIGNATURE_FILE_VERSION}")
    profile_name = document.get("hub_crypto_profile")
    if not isinstance(profile_name, str):
        raise refuse("'hub_crypto_profile' is missing")
    try:
        profile = get_profile(profile_name)
    except (ConfigurationError, RequestError, KeyError, ValueError) as error:
        raise refuse(f"'hub_crypto_profile': {error}") from None
    body_hex = document.get("body")
    if not isinstance(body_hex, str) or _HEX.fullmatch(body_hex) is None or not body_hex:
        raise refuse("'body' must be the hex of the encoded transaction body")
    try:
        body = decode(
            atomic_pb2.AtomicTransactionBody, bytes.fromhex(body_hex), bytes_max=FILE_BYTES_MAX
        )
    except Exception as error:  # a decode error of any kind: the file is bad
        raise refuse(f"'body' does not decode: {error}") from None
    check_body(body)
    identifier = transaction_id(body, profile)
    if document.get("transaction_id") != identifier.hex():
        raise refuse(
            f"'transaction_id' is not the body's id ({identifier.hex()} under {profile_name})"
        )
    if document.get("hub") != body.hub_chain_id:
        raise refuse(f"'hub' is not the body's hub {body.hub_chain_id!r}")
    entries = document.get("signatures", [])
    if not isinstance(entries, list):
        raise refuse("'signatures' must be a list")
    authorisations: list[atomic_pb2.AtomicLegAuthorisation] = []
    seen: set[int] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            raise refuse("a signature is not an object {leg, signature}")
        index = entry.get("leg")
        signature = entry.get("signature")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(body.legs):
            raise refuse(f"signature for leg {index!r}: not a leg of the body")
        if index in seen:
            raise refuse(f"two signatures for leg {index}")
        if not isinstance(signature, str) or not signature or _HEX.fullmatch(signature) is None:
            raise refuse(f"the signature of leg {index} is not hex")
        seen.add(index)
        authorisations.append(
            atomic_pb2.AtomicLegAuthorisation(leg_index=index, signature=bytes.fromhex(signature))
        )
    return SignatureFile(
        body=body,
        hub_crypto_profile=profile_name,
        transaction_id=identifier,
        authorisations=tuple(authorisations),
    )


def load_signature_file(path: Path | str) -> SignatureFile:
    path = Path(path)
    data = _read_bounded(path, "signature file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(
            f"signature file {path} is not UTF-8 text", reason="invalid_argument"
        ) from None
    return parse_signature_file(text, str(path))


def merge_authorisations(
    body: atomic_pb2.AtomicTransactionBody,
    groups: Sequence[Sequence[atomic_pb2.AtomicLegAuthorisation]],
) -> list[atomic_pb2.AtomicLegAuthorisation]:
    """One authorisation per leg, in leg order, from several sources: RequestError when two
    differ for one leg or a leg has none."""
    chosen: dict[int, atomic_pb2.AtomicLegAuthorisation] = {}
    for group in groups:
        for entry in group:
            earlier = chosen.get(entry.leg_index)
            if earlier is not None and earlier.signature != entry.signature:
                raise RequestError(
                    f"two different signatures for leg {entry.leg_index}",
                    reason="invalid_argument",
                )
            chosen[entry.leg_index] = entry
    missing = [index for index in range(len(body.legs)) if index not in chosen]
    if missing:
        owners = ", ".join(
            f"leg {index} ({body.legs[index].owner} on {body.legs[index].chain_id})"
            for index in missing
        )
        raise RequestError(f"no signature for {owners}", reason="invalid_argument")
    return [chosen[index] for index in range(len(body.legs))]


# ------------------------------------------------------------------------------ reports


@dataclass(frozen=True, slots=True)
class AtomicReport:
    """Where a transaction stands: the hub's record and decision, and each participant's leg
    record (None: not read, or the participant has none yet)."""

    transaction_id: bytes
    record: atomic_pb2.AtomicTransactionRecord
    decision: atomic_pb2.AtomicDecisionRecord | None
    legs: tuple[atomic_pb2.AtomicLegResult | None, ...]

    @property
    def outcome(self) -> int:
        return self.decision.outcome if self.decision is not None else 0

    @property
    def every_leg_final(self) -> bool:
        return all(
            leg is not None and leg.record.state in FINAL_LEG_STATES for leg in self.legs
        ) and len(self.legs) == len(self.record.body.legs)

    @property
    def committed(self) -> bool:
        """COMMIT, with every leg confirmed."""
        return self.outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT and all(
            leg is not None and leg.record.state == atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
            for leg in self.legs
        )

    @property
    def aborted(self) -> bool:
        """ABORT, with every leg ended (cancelled or refused: nothing applied)."""
        return self.outcome == atomic_pb2.ATOMIC_OUTCOME_ABORT and self.every_leg_final


def records_from(
    record_value: bytes, decided: bool, decision_value: bytes
) -> tuple[atomic_pb2.AtomicTransactionRecord, atomic_pb2.AtomicDecisionRecord | None]:
    """The hub's record and decision from their state values (decision absent: pending)."""
    record = decode_result(atomic_pb2.AtomicTransactionRecord, record_value)
    if not decided:
        return record, None
    decision = decode_result(atomic_pb2.AtomicDecisionRecord, decision_value)
    if decision.outcome == atomic_pb2.ATOMIC_OUTCOME_UNSPECIFIED:
        raise RequestError(
            f"the hub's decision of {record.transaction_id.hex()} names no outcome",
            reason="bad_response",
        )
    return record, decision


def leg_from(found: bool, value: bytes, cancel_marker: bool) -> atomic_pb2.AtomicLegResult:
    """A participant's leg record and marker from their state values."""
    result = atomic_pb2.AtomicLegResult(cancel_marker=cancel_marker)
    if found:
        result.record.CopyFrom(decode_result(atomic_pb2.AtomicLegRecord, value))
    return result


def _leg_final(result: atomic_pb2.AtomicLegResult | None) -> bool:
    return result is not None and result.record.state in FINAL_LEG_STATES


def check_wait(timeout_s: float, poll_interval_s: float) -> None:
    if timeout_s <= 0:
        raise ConfigurationError(f"timeout_s must be positive, not {timeout_s}")
    if poll_interval_s <= 0:
        raise ConfigurationError(f"poll_interval_s must be positive, not {poll_interval_s}")


def wait_timed_out(
    identifier: bytes, timeout_s: float, report: AtomicReport | None
) -> RequestError:
    if report is None or report.decision is None:
        where = "the hub has not decided"
    else:
        pending = [
            f"leg {index} {state_name(leg.record.state) if leg is not None else 'not recorded'}"
            for index, leg in enumerate(report.legs)
            if not _leg_final(leg)
        ]
        where = f"decided {outcome_name(report.outcome)}, but {', '.join(pending)}"
    return RequestError(
        f"atomic transaction {identifier.hex()} did not end within {timeout_s:g} s ({where}); "
        "is a relayer running between the hub and its members?",
        reason="timeout",
    )


def check_list_limit(limit: int) -> None:
    if not 0 <= limit <= LIST_LIMIT_MAX:
        raise RequestError(
            f"limit {limit} is not 0 (the contract's default) to {LIST_LIMIT_MAX}",
            reason="invalid_argument",
        )


def check_identifier(identifier: bytes) -> bytes:
    if len(identifier) not in (32,):
        raise RequestError(
            f"a transaction id is 32 bytes (64 hex digits), not {len(identifier)}",
            reason="invalid_argument",
        )
    return identifier


def decision_key(identifier: bytes) -> bytes:
    """The hub's state key of a decision (what ``settle`` proves)."""
    return keys.atomic_decision_path(identifier)


def hub_registration_key(hub_chain_id: str) -> bytes:
    """A participant's state key naming its client of a hub (``atomic.register_hub``)."""
    return keys.ATOMIC_NAMESPACE + keys.atomic_hub_key(hub_chain_id)


def transaction_key(identifier: bytes) -> bytes:
    return keys.ATOMIC_NAMESPACE + keys.atomic_transaction_key(identifier)


# ------------------------------------------------------------------------------ sync


class Atomic:
    """The atomic transaction operations of one ``Client`` (``client.atomic``). On the hub:
    ``begin``, ``get``, ``list``, ``decide``; on a participant: ``leg``, ``settle``,
    ``register_hub`` and ``bind_port`` (governance).

    Example:

        signed = load_signature_file("pay.signatures.json")
        begun = hub.atomic.begin(signed.body, signed.authorisations)
        record, decision = hub.atomic.get(begun.transaction_id)
    """

    def __init__(self, client: ChainNode) -> None:
        self._client = client

    def _call(
        self, method: str, arguments: Any, endorsers: Sequence[Identity], timeout_s: float
    ) -> bytes:
        outcome = self._client.invoke(
            ATOMIC_CONTRACT, method, arguments, endorsers=endorsers, timeout_s=timeout_s
        )
        return committed_result(outcome, ATOMIC_CONTRACT, method, timeout_s).return_value

    def _query(self, method: str, arguments: Any) -> bytes:
        result = self._client.evaluate(ATOMIC_CONTRACT, method, arguments)
        return evaluated(result, ATOMIC_CONTRACT, method).return_value

    def begin(
        self,
        body: atomic_pb2.AtomicTransactionBody,
        authorisations: Sequence[atomic_pb2.AtomicLegAuthorisation],
        *,
        timeout_s: float = 30.0,
    ) -> atomic_pb2.AtomicBeginResult:
        """Sends ``atomic.begin`` (this client's identity is the submitter); its result.

        Example:

            signed = load_signature_file("pay.signatures.json")
            begun = hub.atomic.begin(signed.body, signed.authorisations)
            print(begun.transaction_id.hex())
        """
        check_body(body)
        arguments = atomic_pb2.AtomicBeginArguments(body=body, authorisations=authorisations)
        data = self._call("begin", arguments, (), timeout_s)
        return decode_result(atomic_pb2.AtomicBeginResult, data)

    def get(
        self, identifier: bytes
    ) -> tuple[atomic_pb2.AtomicTransactionRecord, atomic_pb2.AtomicDecisionRecord | None]:
        """The hub's record of a transaction and its decision (None while pending), read with
        their proofs at one height; NotFoundError when the hub has none.

        Example:

            record, decision = hub.atomic.get(identifier)
            print(record.submitter, outcome_name(decision.outcome) if decision else "pending")
        """
        response = self._client.get_state(transaction_key(check_identifier(identifier)))
        if not response.found:
            raise NotFoundError(
                f"the hub {self._client.chain_id()} has no atomic transaction {identifier.hex()}"
            )
        decided = self._client.get_state(decision_key(identifier), response.height)
        return records_from(response.value, decided.found, decided.value)

    def leg(self, hub_chain_id: str, identifier: bytes, index: int) -> atomic_pb2.AtomicLegResult:
        """A participant's record of one leg and whether its cancel marker exists, read with
        their proofs at one height (an empty record, state UNSPECIFIED, when it has none).

        Example:

            answer = chain_a.atomic.leg("hub", identifier, 0)
            print(state_name(answer.record.state), answer.cancel_marker)
        """
        check_identifier(identifier)
        response = self._client.get_state(keys.atomic_leg_path(hub_chain_id, identifier, index))
        marker = self._client.get_state(
            keys.atomic_cancel_path(hub_chain_id, identifier, index), response.height
        )
        return leg_from(response.found, response.value, marker.found)

    def list(
        self, *, open_only: bool = False, start_after: bytes = b"", limit: int = 0
    ) -> atomic_pb2.AtomicListResult:
        """The hub's transactions after the id ``start_after`` (``open_only``: the undecided
        ones), at most ``limit`` (0: the contract's default); ``next`` continues the listing
        (a read-only call).

        Example:

            page = hub.atomic.list(open_only=True)
            for record in page.records:
                print(record.transaction_id.hex(), record.submitter)
        """
        check_list_limit(limit)
        arguments = atomic_pb2.AtomicListArguments(
            open_only=open_only, start_after=start_after, limit=limit
        )
        return decode_result(atomic_pb2.AtomicListResult, self._query("list", arguments))

    def decide(self, identifiers: Sequence[bytes] = (), *, timeout_s: float = 30.0) -> None:
        """Asks the hub to decide: ABORT for each undecided transaction past its deadline (no
        ids: a sweep of the open ones).

        Example:

            hub.atomic.decide()  # every open transaction past its deadline
            hub.atomic.decide([identifier])
        """
        arguments = atomic_pb2.AtomicDecideArguments(
            transaction_ids=[check_identifier(identifier) for identifier in identifiers]
        )
        self._call("decide", arguments, (), timeout_s)

    def hub_client(self, hub_chain_id: str) -> str:
        """This participant's client of ``hub_chain_id``, as governance registered it.

        Example:

            client_id = chain_a.atomic.hub_client("hub")
        """
        response = self._client.get_state(hub_registration_key(hub_chain_id))
        if not response.found:
            raise NotFoundError(
                f"chain {self._client.chain_id()} has no hub {hub_chain_id!r} registered for "
                "atomic transactions (causeway atomic register-hub)"
            )
        text = response.value.decode("utf-8", errors="replace")
        return text

    def settle(
        self,
        hub: ChainNode,
        identifier: bytes,
        index: int,
        *,
        timeout_s: float = 30.0,
    ) -> atomic_pb2.AtomicLegResult:
        """Delivers the hub's decision to leg ``index`` by proof: updates this chain's client
        of the hub to the hub's newest certified header, reads the decision with its proof at
        that height and sends ``atomic.settle``. The leg's record after.

        Example:

            answer = chain_a.atomic.settle(hub, identifier, 0)
            print(state_name(answer.record.state))
        """
        from causeway.sdk.interchain import Interchain  # noqa: PLC0415 (a sibling, lazily)

        hub_chain_id = hub.chain_id()
        _, decision = Atomic(hub).get(identifier)
        if decision is None:
            raise RequestError(
                f"the hub has not decided {identifier.hex()} yet: nothing to settle",
                reason="invalid_argument",
            )
        client_id = self.hub_client(hub_chain_id)
        consensus = Interchain(self._client).update_client(client_id, hub, timeout_s=timeout_s)
        height = consensus.height if consensus.height else 0
        if not height:
            height = Interchain(self._client).client_status(client_id).client.latest_height
        proven = hub.get_state(decision_key(identifier), height, verify=False)
        if not proven.found:
            raise RequestError(
                f"the hub holds no decision for {identifier.hex()} at height {height}",
                reason="invalid_argument",
            )
        recorded = decode_result(atomic_pb2.AtomicDecisionRecord, proven.value)
        arguments = atomic_pb2.AtomicSettleArguments(
            hub_chain_id=hub_chain_id,
            leg_index=index,
            decision=recorded,
            proof_height=height,
            proof=proven.proof,
        )
        self._call("settle", arguments, (), timeout_s)
        return self.leg(hub_chain_id, identifier, index)

    def register_hub(
        self,
        hub_chain_id: str,
        client_id: str,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> None:
        """Governance: this chain takes atomic legs from ``hub_chain_id`` through its client
        ``client_id`` of that hub.

        Example:

            org2_admin = Identity.load("chains/chain-a/organisations/org2/members/admin")
            chain_a.atomic.register_hub("hub", client_id, endorsers=[org2_admin])
        """
        arguments = atomic_pb2.AtomicRegisterHubArguments(
            hub_chain_id=hub_chain_id, client_id=client_id
        )
        self._call("register_hub", arguments, endorsers, timeout_s)

    def bind_port(
        self, port: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = 30.0
    ) -> None:
        """Governance: lets legs call the atomic port ``port`` (registered in code).

        Example:

            chain_a.atomic.bind_port("test")
        """
        self._call("bind_port", atomic_pb2.AtomicBindPortArguments(port=port), endorsers, timeout_s)


# ------------------------------------------------------------------------------ asyncio


class AsyncAtomic:
    """``Atomic`` over an ``AsyncClient`` (``client.atomic``): the same names, awaited.

    Example:

        signed = load_signature_file("pay.signatures.json")
        begun = await hub.atomic.begin(signed.body, signed.authorisations)
        record, decision = await hub.atomic.get(begun.transaction_id)
    """

    def __init__(self, client: AsyncChainNode) -> None:
        self._client = client

    async def _call(
        self, method: str, arguments: Any, endorsers: Sequence[Identity], timeout_s: float
    ) -> bytes:
        outcome = await self._client.invoke(
            ATOMIC_CONTRACT, method, arguments, endorsers=endorsers, timeout_s=timeout_s
        )
        return committed_result(outcome, ATOMIC_CONTRACT, method, timeout_s).return_value

    async def _query(self, method: str, arguments: Any) -> bytes:
        result = await self._client.evaluate(ATOMIC_CONTRACT, method, arguments)
        return evaluated(result, ATOMIC_CONTRACT, method).return_value

    async def begin(
        self,
        body: atomic_pb2.AtomicTransactionBody,
        authorisations: Sequence[atomic_pb2.AtomicLegAuthorisation],
        *,
        timeout_s: float = 30.0,
    ) -> atomic_pb2.AtomicBeginResult:
        """``Atomic.begin``, awaited.

        Example:

            signed = load_signature_file("pay.signatures.json")
            begun = await hub.atomic.begin(signed.body, signed.authorisations)
            print(begun.transaction_id.hex())
        """
        check_body(body)
        arguments = atomic_pb2.AtomicBeginArguments(body=body, authorisations=authorisations)
        data = await self._call("begin", arguments, (), timeout_s)
        return decode_result(atomic_pb2.AtomicBeginResult, data)

    async def get(
        self, identifier: bytes
    ) -> tuple[atomic_pb2.AtomicTransactionRecord, atomic_pb2.AtomicDecisionRecord | None]:
        """``Atomic.get``, awaited.

        Example:

            record, decision = await hub.atomic.get(identifier)
            print(record.submitter, outcome_name(decision.outcome) if decision else "pending")
        """
        response = await self._client.get_state(transaction_key(check_identifier(identifier)))
        if not response.found:
            raise NotFoundError(
                f"the hub {await self._client.chain_id()} has no atomic transaction "
                f"{identifier.hex()}"
            )
        decided = await self._client.get_state(decision_key(identifier), response.height)
        return records_from(response.value, decided.found, decided.value)

    async def leg(
        self, hub_chain_id: str, identifier: bytes, index: int
    ) -> atomic_pb2.AtomicLegResult:
        """``Atomic.leg``, awaited.

        Example:

            answer = await chain_a.atomic.leg("hub", identifier, 0)
            print(state_name(answer.record.state), answer.cancel_marker)
        """
        check_identifier(identifier)
        response = await self._client.get_state(
            keys.atomic_leg_path(hub_chain_id, identifier, index)
        )
        marker = await self._client.get_state(
            keys.atomic_cancel_path(hub_chain_id, identifier, index), response.height
        )
        return leg_from(response.found, response.value, marker.found)

    async def list(
        self, *, open_only: bool = False, start_after: bytes = b"", limit: int = 0
    ) -> atomic_pb2.AtomicListResult:
        """The hub's transactions after the id ``start_after`` (``open_only``: the undecided
        ones), at most ``limit`` (0: the contract's default); ``next`` continues the listing
        (a read-only call).

        Example:

            page = await hub.atomic.list(open_only=True)
            for record in page.records:
                print(record.transaction_id.hex(), record.submitter)
        """
        check_list_limit(limit)
        arguments = atomic_pb2.AtomicListArguments(
            open_only=open_only, start_after=start_after, limit=limit
        )
        return decode_result(atomic_pb2.AtomicListResult, await self._query("list", arguments))

    async def decide(self, identifiers: Sequence[bytes] = (), *, timeout_s: float = 30.0) -> None:
        """``Atomic.decide``, awaited.

        Example:

            await hub.atomic.decide()  # every open transaction past its deadline
            await hub.atomic.decide([identifier])
        """
        arguments = atomic_pb2.AtomicDecideArguments(
            transaction_ids=[check_identifier(identifier) for identifier in identifiers]
        )
        await self._call("decide", arguments, (), timeout_s)

    async def hub_client(self, hub_chain_id: str) -> str:
        """``Atomic.hub_client``, awaited.

        Example:

            client_id = await chain_a.atomic.hub_client("hub")
        """
        response = await self._client.get_state(hub_registration_key(hub_chain_id))
        if not response.found:
            raise NotFoundError(
                f"chain {await self._client.chain_id()} has no hub {hub_chain_id!r} registered "
                "for atomic transactions (causeway atomic register-hub)"
            )
        return response.value.decode("utf-8", errors="replace")

    async def settle(
        self,
        hub: AsyncChainNode,
        identifier: bytes,
        index: int,
        *,
        timeout_s: float = 30.0,
    ) -> atomic_pb2.AtomicLegResult:
        """``Atomic.settle``, awaited.

        Example:

            answer = await chain_a.atomic.settle(hub, identifier, 0)
            print(state_name(answer.record.state))
        """
        from causeway.sdk.interchain import AsyncInterchain  # noqa: PLC0415

        hub_chain_id = await hub.chain_id()
        _, decision = await AsyncAtomic(hub).get(identifier)
        if decision is None:
            raise RequestError(
                f"the hub has not decided {identifier.hex()} yet: nothing to settle",
                reason="invalid_argument",
            )
        client_id = await self.hub_client(hub_chain_id)
        interchain = AsyncInterchain(self._client)
        consensus = await interchain.update_client(client_id, hub, timeout_s=timeout_s)
        height = (
            consensus.height or (await interchain.client_status(client_id)).client.latest_height
        )
        proven = await hub.get_state(decision_key(identifier), height, verify=False)
        if not proven.found:
            raise RequestError(
                f"the hub holds no decision for {identifier.hex()} at height {height}",
                reason="invalid_argument",
            )
        arguments = atomic_pb2.AtomicSettleArguments(
            hub_chain_id=hub_chain_id,
            leg_index=index,
            decision=decode_result(atomic_pb2.AtomicDecisionRecord, proven.value),
            proof_height=height,
            proof=proven.proof,
        )
        await self._call("settle", arguments, (), timeout_s)
        return await self.leg(hub_chain_id, identifier, index)

    async def register_hub(
        self,
        hub_chain_id: str,
        client_id: str,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> None:
        """``Atomic.register_hub``, awaited.

        Example:

            org2_admin = Identity.load("chains/chain-a/organisations/org2/members/admin")
            await chain_a.atomic.register_hub("hub", client_id, endorsers=[org2_admin])
        """
        arguments = atomic_pb2.AtomicRegisterHubArguments(
            hub_chain_id=hub_chain_id, client_id=client_id
        )
        await self._call("register_hub", arguments, endorsers, timeout_s)

    async def bind_port(
        self, port: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = 30.0
    ) -> None:
        """``Atomic.bind_port``, awaited.

        Example:

            await chain_a.atomic.bind_port("test")
        """
        await self._call(
            "bind_port", atomic_pb2.AtomicBindPortArguments(port=port), endorsers, timeout_s
        )


# ------------------------------------------------------------------------------ submit and wait


class AtomicNetworkNode(ChainNode, Protocol):
    """What ``submit_and_wait`` uses of a client: a ``ChainNode`` with ``.atomic``."""

    @property
    def atomic(self) -> Atomic: ...


@dataclass(frozen=True, slots=True)
class AtomicNetwork:
    """The clients ``submit_and_wait`` talks to: the hub's (its identity submits) and one per
    participant chain (only read: its identity signs the read calls), by chain id."""

    hub: AtomicNetworkNode
    chains: Mapping[str, AtomicNetworkNode]

    def chain(self, chain_id: str) -> AtomicNetworkNode:
        client = self.chains.get(chain_id)
        if client is None:
            names = ", ".join(sorted(self.chains)) or "none"
            raise ConfigurationError(
                f"no client of chain {chain_id!r}, which a leg runs on (clients: {names})"
            )
        return client


def report(network: AtomicNetwork, identifier: bytes, *, read_legs: bool = True) -> AtomicReport:
    """Where a transaction stands (``read_legs``: each participant's leg record too)."""
    record, decision = network.hub.atomic.get(identifier)
    legs: list[atomic_pb2.AtomicLegResult | None] = []
    for leg in record.body.legs:
        if not read_legs:
            legs.append(None)
            continue
        result = network.chain(leg.chain_id).atomic.leg(
            record.body.hub_chain_id, identifier, leg.index
        )
        legs.append(result if result.HasField("record") else None)
    return AtomicReport(identifier, record, decision, tuple(legs))


def wait_for_end(
    network: AtomicNetwork,
    identifier: bytes,
    *,
    timeout_s: float = WAIT_S_DEFAULT,
    poll_interval_s: float = POLL_INTERVAL_S_DEFAULT,
) -> AtomicReport:
    """Waits until the hub decided and every leg's record ended; RequestError (reason
    "timeout") naming what is still open after ``timeout_s``."""
    check_wait(timeout_s, poll_interval_s)
    deadline = time.monotonic() + timeout_s
    last: AtomicReport | None = None
    while True:
        try:
            record, decision = network.hub.atomic.get(identifier)
        except NotFoundError:
            record, decision = None, None
        if record is not None and decision is not None:
            last = report(network, identifier)
            if last.every_leg_final:
                return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise wait_timed_out(identifier, timeout_s, last)
        time.sleep(min(poll_interval_s, remaining))


def submit_and_wait(
    network: AtomicNetwork,
    body: atomic_pb2.AtomicTransactionBody,
    signers: Mapping[int, Identity],
    *,
    authorisations: Sequence[atomic_pb2.AtomicLegAuthorisation] = (),
    wait: bool = True,
    timeout_s: float = WAIT_S_DEFAULT,
    poll_interval_s: float = POLL_INTERVAL_S_DEFAULT,
    submit_timeout_s: float = 30.0,
) -> tuple[bytes, AtomicReport | None]:
    """Signs leg ``i`` with ``signers[i]`` (legs already signed come in ``authorisations``),
    sends ``atomic.begin`` to the hub and, with ``wait``, waits for the end (``wait_for_end``).
    The id and the report (None without ``wait``). Nothing is sent when a leg has no signature
    or a signer is not its leg's owner."""
    check_body(body)
    hub_profile = network.hub.status().crypto_profile
    signed = [
        sign_leg(identity, body, index, hub_profile=hub_profile)
        for index, identity in sorted(signers.items())
    ]
    chosen = merge_authorisations(body, [authorisations, signed])
    for leg in body.legs:
        network.chain(leg.chain_id)  # every participant is reachable before anything is sent
    identifier = transaction_id(body, hub_profile)
    network.hub.atomic.begin(body, chosen, timeout_s=submit_timeout_s)
    if not wait:
        return identifier, None
    return identifier, wait_for_end(
        network, identifier, timeout_s=timeout_s, poll_interval_s=poll_interval_s
    )


async def async_wait_for_end(
    hub: AsyncAtomic,
    chains: Mapping[str, AsyncAtomic],
    identifier: bytes,
    *,
    timeout_s: float = WAIT_S_DEFAULT,
    poll_interval_s: float = POLL_INTERVAL_S_DEFAULT,
) -> AtomicReport:
    """``wait_for_end`` over asyncio clients' ``.atomic``."""
    check_wait(timeout_s, poll_interval_s)
    deadline = time.monotonic() + timeout_s
    last: AtomicReport | None = None
    while True:
        try:
            record, decision = await hub.get(identifier)
        except NotFoundError:
            record, decision = None, None
        if record is not None and decision is not None:
            legs: list[atomic_pb2.AtomicLegResult | None] = []
            for leg in record.body.legs:
                participant = chains.get(leg.chain_id)
                if participant is None:
                    raise ConfigurationError(f"no client of chain {leg.chain_id!r}")
                result = await participant.leg(record.body.hub_chain_id, identifier, leg.index)
                legs.append(result if result.HasField("record") else None)
            last = AtomicReport(identifier, record, decision, tuple(legs))
            if last.every_leg_final:
                return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise wait_timed_out(identifier, timeout_s, last)
        await asyncio.sleep(min(poll_interval_s, remaining))
