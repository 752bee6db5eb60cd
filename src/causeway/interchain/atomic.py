"""atomic: all-or-nothing transactions across member chains, coordinated by the hub (ADR 0004).

One contract, on every chain, with two roles that share its port ("atomic") and messages
(causeway/interchain/v1/atomic.proto):

- **Hub (coordinator).** ``begin`` records a transaction (1 to ATOMIC_LEGS_MAX legs, each an
  action on one member chain signed by its owner) and sends each leg a TRY packet whose timeout
  is the deadline. The votes come back as proven acknowledgements (``on_acknowledge``); the hub
  decides exactly once, in ``_decide``: COMMIT when the last missing YES is processed at hub time
  ``<= deadline_ms``; ABORT on a NO (or an error acknowledgement), a TRY's timeout, a YES after
  the deadline, or ``decide`` called after the deadline. The decision is written once at
  ``atomic/decision/<id>`` and never changed; a DECISION packet goes to every leg.
- **Participant.** A TRY is handled in this order: (1) the packet must come over the client
  governance registered for the hub (``register_hub``); (2) a cancel marker for the leg means
  NO, nothing reserved; (3) a leg already recorded answers its recorded vote; (4) the owner's
  signature over ``sign_bytes(DOMAIN_ATOMIC_LEG, this chain, AtomicLegDocument)`` is checked
  against the owner's member record on this chain; (5) the leg spends only what the owner owns;
  (6) what the leg needs is reserved (funds into ``reserve:atomic/<id hex>/<leg>``, keys locked)
  and the leg is PREPARED (YES), or nothing is kept and it is REFUSED (NO). A decision arrives by
  packet, or by ``settle`` with a proof of the hub's ``decision/<id>`` entry checked against this
  chain's client of the hub; ``_apply_decision`` is the one place a leg ends:

  ===================== ======================================= ==============================
  leg before            COMMIT                                  ABORT
  ===================== ======================================= ==============================
  none                  refused (``atomic_anomaly``)            marker + CANCELLED
  PREPARED              effect applied, locks released:          reserve returned, locks
                        CONFIRMED                               released: CANCELLED (+ marker)
  REFUSED               refused (``atomic_anomaly``)            marker; stays REFUSED
  CONFIRMED             no-op                                   no-op (``atomic_anomaly``)
  CANCELLED             no-op (``atomic_anomaly``)              no-op
  ===================== ======================================= ==============================

Leg kinds: ``bank_transfer`` (reserve account), ``kv_write`` (lock on ``kv/<key>``, optional
precondition; the value waits in the leg record) and ``port_call`` (an ``AtomicPort`` registered in
code and bound by governance: its handler reserves, confirms, cancels). ``ledger_transfer`` is not
supported: ``begin`` refuses it and a participant votes NO on one.

A lock is ``atomic/lock/<absolute key>`` = AtomicLockRecord; the executor's context refuses every
write to a locked key except by the holding leg while it is applied (causeway.execution.context).

**Events** (the simulator's checkers read them). Every one names the transaction as
``transaction_id`` (hex) and its hub as ``hub_chain_id``; those about one leg add ``leg_index``
(decimal):

- hub: ``atomic_begin`` (+ ``legs``, ``deadline_ms``), ``atomic_decided`` (+ ``outcome``
  "commit" or "abort", ``reason``), ``atomic_decision_timed_out`` (+ ``leg_index``);
- participant: ``atomic_prepared``, ``atomic_refused`` (+ ``reason``), ``atomic_confirmed``,
  ``atomic_cancelled``, ``atomic_anomaly`` (+ ``reason``: a decision a correct hub never sends).

The contract's namespace is ``atomic/`` (causeway.interchain.keys says why not ``sys/atomic/``).

**For tools.** ``transaction_id(body, hub_hash)`` and ``leg_sign_bytes(...)`` are what a client
computes and signs; the methods are ``begin``, ``decide``, ``get``, ``list`` (hub), ``settle``,
``leg``, ``prepared``, ``register_hub``, ``bind_port`` (participant). A chain must also bind packet
port "atomic" to this contract (``packets.bind_port``) before it sends or receives TRY and
DECISION packets. ``AtomicApplication(ports, unsafe_ignore_cancel_marker=...)`` builds the
contract and its packet port for other atomic ports (``ATOMIC_TEST_PORTS``: the counter port the
tests and the simulator use) and for the simulator's canary;
``causeway.interchain.chain_contracts`` assembles a chain's contracts with them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from causeway.crypto import load_public_key
from causeway.errors import CausewayError, CryptoError, InvariantError, RequestError
from causeway.execution import (
    KV_KEY_BYTES_MAX,
    Contract,
    Method,
    TransactionContext,
    decode_arguments,
    describe_lock,
    failure,
)
from causeway.execution.keys import KV_NAMESPACE, MEMBER_PREFIX, StateGrant, member_key
from causeway.identity import is_valid_identifier, split_member_id
from causeway.interchain import bank, clients, hub, packets
from causeway.interchain.keys import (
    ATOMIC_CONTRACT,
    ATOMIC_COUNT,
    ATOMIC_LOCK_COUNT,
    ATOMIC_NAMESPACE,
    ATOMIC_OPEN_PREFIX,
    ATOMIC_TRANSACTION_PREFIX,
    atomic_cancel_key,
    atomic_decision_key,
    atomic_decision_path,
    atomic_hub_key,
    atomic_leg_key,
    atomic_lock_key,
    atomic_open_key,
    atomic_open_until,
    atomic_owner_locks_key,
    atomic_port_key,
    atomic_prepared_key,
    atomic_prepared_prefix,
    atomic_transaction_key,
    reserve_account,
)
from causeway.interchain.ports import PORT_CHARACTERS_MAX, Port
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.storage import STATE_KEY_BYTES_MAX
from causeway.types import DOMAIN_ATOMIC_LEG, decode, encode, sign_bytes
from causeway.types.v1 import types_pb2

CONTRACT = ATOMIC_CONTRACT
NAMESPACE = ATOMIC_NAMESPACE
PORT = "atomic"
VERSION = "atomic-1"
# The payload's encoding names its message: TRY and DECISION packets share the port.
ENCODING_TRY = "causeway.interchain.v1.AtomicTryPacketData"
ENCODING_DECISION = "causeway.interchain.v1.AtomicDecisionPacketData"

TRANSACTION_ID_DOMAIN = b"causeway/atomic-transaction/v1\x00"
BODY_VERSION = 1
ATOMIC_LEGS_MAX = 8
ATOMIC_NONCE_BYTES_MIN = 16
ATOMIC_NONCE_BYTES_MAX = 32
ATOMIC_MEMO_BYTES_MAX = 256
ATOMIC_DEADLINE_MIN_MS = 5_000
# Bounds how long a lock can be held while the network is healthy.
ATOMIC_DEADLINE_MAX_MS = 600_000
ATOMIC_DECIDE_PER_CALL_MAX = 64
ATOMIC_LOCKS_PER_LEG_MAX = 16
ATOMIC_LOCKS_PER_OWNER_MAX = 64
ATOMIC_SIGNATURE_BYTES_MAX = 512
ATOMIC_PORT_ARGUMENTS_BYTES_MAX = 16_384
ATOMIC_PORT_METHOD_CHARACTERS_MAX = 64
# A TRY travels as a packet payload, whose bound (packets.PAYLOAD_VALUE_BYTES_MAX, 60,000 bytes)
# is below the 96 KiB ADR 0004 proposed; so is a kv value in a leg, below kv's own 64 KiB.
ATOMIC_TRY_PACKET_DATA_BYTES_MAX = packets.PAYLOAD_VALUE_BYTES_MAX
ATOMIC_KV_VALUE_BYTES_MAX = 32_768
ATOMIC_DECISION_PACKET_DATA_BYTES_MAX = 1_024
HASH_BYTES = 32
LIST_LIMIT_DEFAULT = 20
LIST_LIMIT_MAX = 100

OUTCOME_NAMES: dict[int, str] = {
    atomic_pb2.ATOMIC_OUTCOME_COMMIT: "commit",
    atomic_pb2.ATOMIC_OUTCOME_ABORT: "abort",
}
STATE_NAMES: dict[int, str] = {
    atomic_pb2.ATOMIC_LEG_STATE_UNSPECIFIED: "none",
    atomic_pb2.ATOMIC_LEG_STATE_PREPARED: "prepared",
    atomic_pb2.ATOMIC_LEG_STATE_REFUSED: "refused",
    atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED: "confirmed",
    atomic_pb2.ATOMIC_LEG_STATE_CANCELLED: "cancelled",
}

_COMMIT = atomic_pb2.ATOMIC_OUTCOME_COMMIT
_ABORT = atomic_pb2.ATOMIC_OUTCOME_ABORT
_YES = atomic_pb2.ATOMIC_VOTE_YES
_NO = atomic_pb2.ATOMIC_VOTE_NO
_PREPARED = atomic_pb2.ATOMIC_LEG_STATE_PREPARED
_REFUSED = atomic_pb2.ATOMIC_LEG_STATE_REFUSED
_CONFIRMED = atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
_CANCELLED = atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_DENIED = types_pb2.RESULT_STATUS_PERMISSION_DENIED
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT
_COUNT = struct.Struct(">Q")


# -- ports for port_call legs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AtomicReservation:
    """What a port's ``on_try`` holds for a leg: keys to lock, relative to its contract's
    namespace (at most ATOMIC_LOCKS_PER_LEG_MAX), and bytes kept in the leg record for
    ``on_confirm`` and ``on_cancel``."""

    keys: tuple[bytes, ...] = ()
    data: bytes = b""


class AtomicPortHandler(Protocol):
    """An application that port_call legs reach. Each method runs in the application's own
    context (its namespace and grants). ``on_try`` raises RequestError to vote NO (its writes are
    rolled back); ``on_confirm`` and ``on_cancel`` must not fail: a failure fails the delivery and
    the leg stays PREPARED for another one."""

    def on_try(
        self, context: TransactionContext, owner: str, call: atomic_pb2.AtomicPortCall
    ) -> AtomicReservation: ...

    def on_confirm(
        self,
        context: TransactionContext,
        owner: str,
        call: atomic_pb2.AtomicPortCall,
        reservation: bytes,
    ) -> None: ...

    def on_cancel(
        self,
        context: TransactionContext,
        owner: str,
        call: atomic_pb2.AtomicPortCall,
        reservation: bytes,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class AtomicPort:
    """An application port_call legs may reach (registered in code; bound by governance with
    ``atomic.bind_port``). Never a system contract."""

    contract: Contract
    handler: AtomicPortHandler


# -- small state helpers --------------------------------------------------------------------------


def _read_count(context: TransactionContext, key: bytes) -> int:
    value = context.get(key)
    if value is None:
        return 0
    if len(value) != _COUNT.size:
        raise InvariantError(f"atomic count {key!r} is {len(value)} bytes, not 8")
    count: int = _COUNT.unpack(value)[0]
    return count


def _write_count(context: TransactionContext, key: bytes, count: int) -> None:
    if count < 0:
        raise InvariantError(f"atomic count {key!r} would go below zero")
    if count:
        context.put(key, _COUNT.pack(count))
    else:
        context.delete(key)


def _enter(context: TransactionContext) -> TransactionContext:
    if context.contract == CONTRACT:
        return context
    return context.enter(CONTRACT, NAMESPACE, GRANTS)


def transaction_id(
    body: atomic_pb2.AtomicTransactionBody, hash_function: Callable[[bytes], bytes]
) -> bytes:
    """The id of a transaction: the hub's hash of the domain and the body's canonical encoding."""
    return hash_function(TRANSACTION_ID_DOMAIN + encode(body))


def leg_document(
    hub_chain_id: str, transaction: bytes, deadline_ms: int, leg: atomic_pb2.AtomicLeg
) -> atomic_pb2.AtomicLegDocument:
    return atomic_pb2.AtomicLegDocument(
        hub_chain_id=hub_chain_id, transaction_id=transaction, deadline_ms=deadline_ms, leg=leg
    )


def leg_sign_bytes(
    hub_chain_id: str, transaction: bytes, deadline_ms: int, leg: atomic_pb2.AtomicLeg
) -> bytes:
    """What a leg's owner signs: bound to the leg's chain, the hub, the id and the deadline."""
    document = leg_document(hub_chain_id, transaction, deadline_ms, leg)
    return sign_bytes(DOMAIN_ATOMIC_LEG, leg.chain_id, encode(document))


def _id_attributes(hub_chain_id: str, transaction: bytes) -> list[tuple[str, str]]:
    return [("transaction_id", transaction.hex()), ("hub_chain_id", hub_chain_id)]


def _leg_attributes(hub_chain_id: str, transaction: bytes, leg_index: int) -> list[tuple[str, str]]:
    return [*_id_attributes(hub_chain_id, transaction), ("leg_index", str(leg_index))]


# -- checks of a leg (the hub at begin, the participant at TRY) -----------------------------------


def check_leg(leg: atomic_pb2.AtomicLeg, index: int) -> None:
    """RequestError for a leg no participant could carry out (before anything is read)."""
    where = f"leg {index}"
    if leg.index != index:
        raise failure(_INVALID, f"{where} has index {leg.index}: legs are indexed 0..n-1 in order")
    if not is_valid_identifier(leg.chain_id):
        raise failure(_INVALID, f"{where}: chain id {leg.chain_id[:80]!r} is not an identifier")
    try:
        split_member_id(leg.owner)
    except CausewayError:
        raise failure(
            _INVALID, f"{where}: owner {leg.owner[:80]!r} is not a member id organisation/name"
        ) from None
    kind = leg.WhichOneof("action")
    if kind is None:
        raise failure(_INVALID, f"{where} has no action")
    if kind == "ledger_transfer":
        raise failure(
            _INVALID,
            f"{where}: ledger_transfer legs are not supported; use a bank_transfer leg",
        )
    if kind == "bank_transfer":
        transfer = leg.bank_transfer
        bank.check_account(transfer.from_account, f"{where} from")
        bank.check_payee(transfer.to_account, f"{where} to")
        bank.check_denom(transfer.denom, where)
        if transfer.amount <= 0:
            raise failure(_INVALID, f"{where}: the amount must be positive")
        if transfer.from_account == transfer.to_account:
            raise failure(_INVALID, f"{where}: a transfer from {transfer.from_account} to itself")
    elif kind == "kv_write":
        write = leg.kv_write
        if not 1 <= len(write.key) <= KV_KEY_BYTES_MAX:
            raise failure(
                _INVALID,
                f"{where}: the kv key is {len(write.key)} bytes, not 1 to {KV_KEY_BYTES_MAX}",
            )
        if len(write.value) > ATOMIC_KV_VALUE_BYTES_MAX:
            raise failure(
                _INVALID,
                f"{where}: the kv value is {len(write.value)} bytes, above the limit of "
                f"{ATOMIC_KV_VALUE_BYTES_MAX}",
            )
        if write.delete and write.value:
            raise failure(_INVALID, f"{where}: a kv write either deletes or writes a value")
        if write.expect_absent and write.expected_value_hash:
            raise failure(
                _INVALID, f"{where}: a kv precondition is either expect_absent or a value hash"
            )
        if write.expected_value_hash and len(write.expected_value_hash) != HASH_BYTES:
            raise failure(
                _INVALID,
                f"{where}: the expected value hash is {len(write.expected_value_hash)} bytes, "
                f"not {HASH_BYTES}",
            )
    else:
        call = leg.port_call
        if len(call.port) > PORT_CHARACTERS_MAX or not is_valid_identifier(call.port):
            raise failure(_INVALID, f"{where}: {call.port[:80]!r} is not a port name")
        if not call.method or len(call.method) > ATOMIC_PORT_METHOD_CHARACTERS_MAX:
            raise failure(
                _INVALID,
                f"{where}: the port method must be 1 to {ATOMIC_PORT_METHOD_CHARACTERS_MAX} "
                "characters",
            )
        if len(call.arguments) > ATOMIC_PORT_ARGUMENTS_BYTES_MAX:
            raise failure(
                _INVALID,
                f"{where}: the port arguments are {len(call.arguments)} bytes, above the limit "
                f"of {ATOMIC_PORT_ARGUMENTS_BYTES_MAX}",
            )


# -- hub: begin, decide, votes --------------------------------------------------------------------


def _check_body(context: TransactionContext, request: atomic_pb2.AtomicBeginArguments) -> None:
    body = request.body
    if body.version != BODY_VERSION:
        raise failure(_INVALID, f"atomic transaction version {body.version} is not {BODY_VERSION}")
    if body.hub_chain_id != context.chain_id:
        raise failure(
            _INVALID,
            f"the transaction names hub {body.hub_chain_id[:80]!r}, not this chain "
            f"{context.chain_id!r}",
        )
    if not ATOMIC_NONCE_BYTES_MIN <= len(body.nonce) <= ATOMIC_NONCE_BYTES_MAX:
        raise failure(
            _INVALID,
            f"the nonce is {len(body.nonce)} bytes, not {ATOMIC_NONCE_BYTES_MIN} to "
            f"{ATOMIC_NONCE_BYTES_MAX}",
        )
    if len(body.memo.encode()) > ATOMIC_MEMO_BYTES_MAX:
        raise failure(_INVALID, f"the memo is above the limit of {ATOMIC_MEMO_BYTES_MAX} bytes")
    count = len(body.legs)
    if not 1 <= count <= ATOMIC_LEGS_MAX:
        raise failure(_INVALID, f"the transaction has {count} legs, not 1 to {ATOMIC_LEGS_MAX}")
    earliest = context.time_ms + ATOMIC_DEADLINE_MIN_MS
    latest = context.time_ms + ATOMIC_DEADLINE_MAX_MS
    if body.deadline_ms <= earliest:
        raise failure(
            _INVALID,
            f"the deadline {body.deadline_ms} ms must be later than the block time "
            f"{context.time_ms} ms plus {ATOMIC_DEADLINE_MIN_MS} ms",
        )
    if body.deadline_ms > latest:
        raise failure(
            _INVALID,
            f"the deadline {body.deadline_ms} ms is more than {ATOMIC_DEADLINE_MAX_MS} ms after "
            f"the block time {context.time_ms} ms",
        )
    for index, leg in enumerate(body.legs):
        check_leg(leg, index)
        if leg.chain_id == context.chain_id:
            raise failure(_INVALID, f"leg {index} is on the hub itself: legs are on member chains")
    if len(request.authorisations) != count:
        raise failure(
            _INVALID,
            f"{len(request.authorisations)} authorisations for {count} legs: one per leg",
        )
    for index, authorisation in enumerate(request.authorisations):
        if authorisation.leg_index != index:
            raise failure(
                _INVALID,
                f"authorisation {index} is for leg {authorisation.leg_index}: one per leg, in "
                "order",
            )
        if not authorisation.signature:
            raise failure(_INVALID, f"the authorisation of leg {index} has no signature")
        if len(authorisation.signature) > ATOMIC_SIGNATURE_BYTES_MAX:
            raise failure(
                _INVALID,
                f"the signature of leg {index} is above the limit of "
                f"{ATOMIC_SIGNATURE_BYTES_MAX} bytes",
            )


def _payload(encoding: str, value: bytes) -> interchain_pb2.Payload:
    return interchain_pb2.Payload(
        source_port=PORT, destination_port=PORT, version=VERSION, encoding=encoding, value=value
    )


def _load_transaction(
    context: TransactionContext, transaction: bytes
) -> atomic_pb2.AtomicTransactionRecord | None:
    data = context.get(atomic_transaction_key(transaction))
    if data is None:
        return None
    return decode(atomic_pb2.AtomicTransactionRecord, data, bytes_max=len(data))


def _load_decision(
    context: TransactionContext, transaction: bytes
) -> atomic_pb2.AtomicDecisionRecord | None:
    data = context.get(atomic_decision_key(transaction))
    if data is None:
        return None
    return decode(atomic_pb2.AtomicDecisionRecord, data, bytes_max=len(data))


def _check_id(transaction: bytes) -> None:
    if len(transaction) != HASH_BYTES:
        raise failure(_INVALID, f"a transaction id is {HASH_BYTES} bytes, not {len(transaction)}")


def begin(context: TransactionContext, arguments: bytes) -> bytes:
    """Records the transaction and sends each leg its TRY (see the module docstring)."""
    request = decode_arguments(context, atomic_pb2.AtomicBeginArguments, arguments)
    _check_body(context, request)
    body = request.body
    members = [hub.member_chain(context, leg.chain_id) for leg in body.legs]
    transaction = transaction_id(body, context.hash)
    if context.get(atomic_transaction_key(transaction)) is not None:
        raise failure(_CONFLICT, f"atomic transaction {transaction.hex()} is recorded already")
    record = atomic_pb2.AtomicTransactionRecord(
        transaction_id=transaction,
        body=body,
        authorisations=request.authorisations,
        submitter=context.sender.id,
        begun_time_ms=context.time_ms,
        begun_height=context.height,
    )
    result = atomic_pb2.AtomicBeginResult(transaction_id=transaction)
    for leg, member, authorisation in zip(body.legs, members, request.authorisations, strict=True):
        data = encode(
            atomic_pb2.AtomicTryPacketData(
                hub_chain_id=body.hub_chain_id,
                transaction_id=transaction,
                deadline_ms=body.deadline_ms,
                leg=leg,
                owner_signature=authorisation.signature,
            )
        )
        if len(data) > ATOMIC_TRY_PACKET_DATA_BYTES_MAX:
            raise failure(
                _INVALID,
                f"the TRY of leg {leg.index} is {len(data)} bytes, above the limit of "
                f"{ATOMIC_TRY_PACKET_DATA_BYTES_MAX}",
            )
        packet = packets.send_packet(
            context,
            source_client=member.client_id,
            timeout_ms=body.deadline_ms,
            payload=_payload(ENCODING_TRY, data),
        )
        record.legs.add(index=leg.index, client_id=member.client_id, try_sequence=packet.sequence)
        result.try_sequences.append(packet.sequence)
    context.put(atomic_transaction_key(transaction), encode(record))
    context.put(atomic_open_key(body.deadline_ms, transaction), b"")
    _write_count(context, ATOMIC_COUNT, _read_count(context, ATOMIC_COUNT) + 1)
    context.emit(
        "atomic_begin",
        (
            *_id_attributes(body.hub_chain_id, transaction),
            ("legs", str(len(body.legs))),
            ("deadline_ms", str(body.deadline_ms)),
        ),
    )
    return encode(result)


def _decide(
    context: TransactionContext,
    record: atomic_pb2.AtomicTransactionRecord,
    outcome: int,
    reason: str,
) -> bool:
    """The one place a decision is written: if and only if none exists. Deletes the open/ entry,
    sends a DECISION to every leg (one that cannot be sent, on a frozen client say, is left to
    ``settle`` by proof) and stores the record. False when the transaction was decided already."""
    transaction = record.transaction_id
    if context.get(atomic_decision_key(transaction)) is not None:
        return False
    decision = atomic_pb2.AtomicDecisionRecord(
        transaction_id=transaction,
        outcome=outcome,  # type: ignore[arg-type]
        decided_time_ms=context.time_ms,
        decided_height=context.height,
        reason=reason[:1_024],
    )
    context.put(atomic_decision_key(transaction), encode(decision))
    context.delete(atomic_open_key(record.body.deadline_ms, transaction))
    record.outcome = outcome  # type: ignore[assignment]
    hub_chain_id = record.body.hub_chain_id
    timeout_ms = context.time_ms + packets.TIMEOUT_AHEAD_MAX_MS
    for hub_leg in record.legs:
        data = atomic_pb2.AtomicDecisionPacketData(
            hub_chain_id=hub_chain_id,
            transaction_id=transaction,
            leg_index=hub_leg.index,
            outcome=outcome,  # type: ignore[arg-type]
        )

        def send(hub_leg: atomic_pb2.AtomicHubLeg = hub_leg, data: bytes = encode(data)) -> None:
            packet = packets.send_packet(
                context,
                source_client=hub_leg.client_id,
                timeout_ms=timeout_ms,
                payload=_payload(ENCODING_DECISION, data),
            )
            hub_leg.decision_sequence = packet.sequence

        context.attempt(send)
    context.put(atomic_transaction_key(transaction), encode(record))
    context.emit(
        "atomic_decided",
        (
            *_id_attributes(hub_chain_id, transaction),
            ("outcome", OUTCOME_NAMES[outcome]),
            ("reason", reason[:256]),
        ),
    )
    return True


def _vote_of(acknowledgement: interchain_pb2.Acknowledgement) -> tuple[int, str]:
    if not acknowledgement.success:
        return _NO, acknowledgement.error or "error acknowledgement"
    try:
        vote = decode(
            atomic_pb2.AtomicVote, acknowledgement.result, bytes_max=len(acknowledgement.result)
        )
    except RequestError as error:
        return _NO, f"the vote does not decode: {error.message}"
    if vote.vote == _YES:
        return _YES, vote.reason
    return _NO, vote.reason or "no"


def _record_vote(
    context: TransactionContext,
    data: atomic_pb2.AtomicTryPacketData,
    vote: int,
    reason: str,
) -> None:
    record = _load_transaction(context, data.transaction_id)
    if record is None or data.leg.index >= len(record.legs):
        raise failure(
            _NOT_FOUND,
            f"a vote for atomic transaction {data.transaction_id.hex()} leg {data.leg.index}, "
            "which this hub never began",
        )
    hub_leg = record.legs[data.leg.index]
    if hub_leg.vote != atomic_pb2.ATOMIC_VOTE_UNSPECIFIED:
        return  # one TRY per leg: its packet ends once
    if vote == _YES and context.time_ms > record.body.deadline_ms:
        vote = atomic_pb2.ATOMIC_VOTE_LATE_YES
        reason = f"YES processed at {context.time_ms} ms, after the deadline"
    hub_leg.vote = vote  # type: ignore[assignment]
    hub_leg.vote_time_ms = context.time_ms
    hub_leg.vote_reason = reason[:1_024]
    context.put(atomic_transaction_key(record.transaction_id), encode(record))
    if vote == _YES:
        if all(leg.vote == _YES for leg in record.legs):
            _decide(context, record, _COMMIT, "every leg voted YES before the deadline")
        return
    names: dict[int, str] = {
        _NO: "voted NO",
        atomic_pb2.ATOMIC_VOTE_TIMED_OUT: "timed out",
        atomic_pb2.ATOMIC_VOTE_LATE_YES: "voted YES after the deadline",
    }
    _decide(context, record, _ABORT, f"leg {hub_leg.index} {names[vote]}: {reason}")


def decide(context: TransactionContext, arguments: bytes) -> bytes:
    """ABORT for every named transaction (none named: the open ones, earliest deadline first, at
    most ATOMIC_DECIDE_PER_CALL_MAX) whose deadline has passed in hub time and that is undecided;
    one decided already is a no-op. Anyone may call it."""
    request = decode_arguments(context, atomic_pb2.AtomicDecideArguments, arguments)
    if len(request.transaction_ids) > ATOMIC_DECIDE_PER_CALL_MAX:
        raise failure(
            _INVALID,
            f"{len(request.transaction_ids)} transactions, above the limit of "
            f"{ATOMIC_DECIDE_PER_CALL_MAX} per call",
        )
    records: list[atomic_pb2.AtomicTransactionRecord] = []
    if request.transaction_ids:
        for transaction in request.transaction_ids:
            _check_id(transaction)
            record = _load_transaction(context, transaction)
            if record is None:
                raise failure(_NOT_FOUND, f"no atomic transaction {transaction.hex()}")
            if record.outcome == atomic_pb2.ATOMIC_OUTCOME_UNSPECIFIED and (
                context.time_ms <= record.body.deadline_ms
            ):
                raise failure(
                    _INVALID,
                    f"atomic transaction {transaction.hex()} is open until "
                    f"{record.body.deadline_ms} ms; this block is at {context.time_ms} ms",
                )
            records.append(record)
    else:
        # Deadlines strictly before this block's time: open/ keys below the bound.
        for key, _value in context.range(ATOMIC_OPEN_PREFIX, b"", ATOMIC_DECIDE_PER_CALL_MAX):
            if key >= atomic_open_until(context.time_ms - 1):
                break
            record = _load_transaction(context, key[len(ATOMIC_OPEN_PREFIX) + 9 :])
            if record is None:
                raise InvariantError(f"open atomic entry {key!r} has no transaction record")
            records.append(record)
    for record in records:
        _decide(context, record, _ABORT, "the deadline passed before every leg voted YES")
    return b""


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, atomic_pb2.AtomicGetArguments, arguments)
    _check_id(request.transaction_id)
    record = _load_transaction(context, request.transaction_id)
    if record is None:
        raise failure(_NOT_FOUND, f"no atomic transaction {request.transaction_id.hex()}")
    result = atomic_pb2.AtomicGetResult(record=record)
    decision = _load_decision(context, request.transaction_id)
    if decision is not None:
        result.decision.CopyFrom(decision)
    return encode(result)


def list_transactions(context: TransactionContext, arguments: bytes) -> bytes:
    """A page of the hub's transactions: all by id, or the open ones by deadline. ``next`` (empty
    on the last page) is what to pass as ``start_after`` for the next page."""
    request = decode_arguments(context, atomic_pb2.AtomicListArguments, arguments)
    limit = request.limit or LIST_LIMIT_DEFAULT
    if limit > LIST_LIMIT_MAX:
        raise failure(_INVALID, f"limit {limit} is above the maximum of {LIST_LIMIT_MAX}")
    prefix = ATOMIC_OPEN_PREFIX if request.open_only else ATOMIC_TRANSACTION_PREFIX
    start_after = prefix + request.start_after if request.start_after else b""
    if len(start_after) > context.key_bytes_max:
        raise failure(_INVALID, "start_after is too long")
    result = atomic_pb2.AtomicListResult()
    entries = context.range(prefix, start_after, limit)
    for key, value in entries:
        if request.open_only:
            record = _load_transaction(context, key[len(prefix) + 9 :])
            if record is None:
                raise InvariantError(f"open atomic entry {key!r} has no transaction record")
        else:
            record = decode(atomic_pb2.AtomicTransactionRecord, value, bytes_max=len(value))
        result.records.append(record)
    if len(entries) == limit:
        result.next = entries[-1][0][len(prefix) :]
    return encode(result)


# -- participant: governance ----------------------------------------------------------------------


def register_hub(context: TransactionContext, arguments: bytes) -> bytes:
    """Governance: TRY and DECISION packets from ``hub_chain_id`` are accepted over this chain's
    client ``client_id`` of it, and ``settle`` proves decisions against that client. Registering
    again replaces the client (after governance recreated it, say)."""
    context.require_policy(context.config.config.governance_policy, "atomic.register_hub")
    request = decode_arguments(context, atomic_pb2.AtomicRegisterHubArguments, arguments)
    if not is_valid_identifier(request.hub_chain_id):
        raise failure(_INVALID, f"hub chain id {request.hub_chain_id[:80]!r} is not an identifier")
    if request.hub_chain_id == context.chain_id:
        raise failure(_INVALID, "a chain is not a participant of itself as hub")
    if not is_valid_identifier(request.client_id):
        raise failure(_INVALID, f"client id {request.client_id[:80]!r} is not an identifier")
    client = clients.active_client(context, request.client_id)
    if client.chain_id != request.hub_chain_id:
        raise failure(
            _INVALID,
            f"client {request.client_id} follows chain {client.chain_id!r}, not "
            f"{request.hub_chain_id!r}",
        )
    context.put(atomic_hub_key(request.hub_chain_id), request.client_id.encode())
    context.emit(
        "atomic_register_hub",
        (("hub_chain_id", request.hub_chain_id), ("client_id", request.client_id)),
    )
    return b""


def _hub_client(context: TransactionContext, hub_chain_id: str) -> str | None:
    if not is_valid_identifier(hub_chain_id):
        return None
    value = context.get(atomic_hub_key(hub_chain_id))
    return None if value is None else value.decode()


# -- participant: locks ---------------------------------------------------------------------------


def _lock_record(hub_chain_id: str, transaction: bytes, leg_index: int) -> bytes:
    return encode(
        atomic_pb2.AtomicLockRecord(
            hub_chain_id=hub_chain_id, transaction_id=transaction, leg_index=leg_index
        )
    )


def _lock(context: TransactionContext, absolute_key: bytes, record: bytes, owner: str) -> None:
    """Locks ``absolute_key`` for the leg ``record`` names; RequestError (CONFLICT) when another
    leg holds it or the owner holds ATOMIC_LOCKS_PER_OWNER_MAX locks."""
    lock_key = atomic_lock_key(absolute_key)
    if len(NAMESPACE + lock_key) > STATE_KEY_BYTES_MAX:
        raise failure(_INVALID, f"key {absolute_key[:80]!r} is too long to lock")
    existing = context.get(lock_key)
    if existing is not None:
        raise failure(
            _CONFLICT,
            f"key {absolute_key[:80].decode(errors='replace')} is locked by "
            f"{describe_lock(existing)}",
        )
    owner_key = atomic_owner_locks_key(owner)
    held = _read_count(context, owner_key)
    if held >= ATOMIC_LOCKS_PER_OWNER_MAX:
        raise failure(
            _CONFLICT,
            f"owner {owner} holds {held} locks, the limit of {ATOMIC_LOCKS_PER_OWNER_MAX}",
        )
    context.put(lock_key, record)
    _write_count(context, owner_key, held + 1)
    _write_count(context, ATOMIC_LOCK_COUNT, _read_count(context, ATOMIC_LOCK_COUNT) + 1)
    # Later writes in this transaction must see the lock (the executor read no count).
    context.locks.possible = True


def _unlock(context: TransactionContext, keys: Sequence[bytes], owner: str) -> None:
    for absolute_key in keys:
        context.delete(atomic_lock_key(absolute_key))
    owner_key = atomic_owner_locks_key(owner)
    _write_count(context, owner_key, _read_count(context, owner_key) - len(keys))
    _write_count(context, ATOMIC_LOCK_COUNT, _read_count(context, ATOMIC_LOCK_COUNT) - len(keys))


# -- participant: TRY -----------------------------------------------------------------------------


def _load_leg(
    context: TransactionContext, hub_chain_id: str, transaction: bytes, leg_index: int
) -> atomic_pb2.AtomicLegRecord | None:
    data = context.get(atomic_leg_key(hub_chain_id, transaction, leg_index))
    if data is None:
        return None
    return decode(atomic_pb2.AtomicLegRecord, data, bytes_max=len(data))


def _save_leg(context: TransactionContext, record: atomic_pb2.AtomicLegRecord) -> None:
    key = atomic_leg_key(record.hub_chain_id, record.transaction_id, record.leg.index)
    context.put(key, encode(record))


def _check_owner(context: TransactionContext, data: atomic_pb2.AtomicTryPacketData) -> None:
    """TRY step 4: the owner is a member of this chain with CLIENT or ADMIN, and signed the leg."""
    leg = data.leg
    if leg.chain_id != context.chain_id:
        raise failure(_INVALID, f"the leg is for chain {leg.chain_id!r}, not this chain")
    stored = context.get_granted(member_key(leg.owner))
    if stored is None:
        raise failure(_DENIED, f"owner {leg.owner} is not a member of this chain")
    member = decode(types_pb2.Member, stored, bytes_max=len(stored))
    if types_pb2.ROLE_CLIENT not in member.roles and types_pb2.ROLE_ADMIN not in member.roles:
        raise failure(_DENIED, f"owner {leg.owner} has neither the CLIENT nor the ADMIN role")
    try:
        public_key = load_public_key(member.algorithm, member.public_key)
    except CryptoError as error:
        raise failure(
            _INVALID, f"public key of {leg.owner} cannot be loaded: {error.message}"
        ) from None
    message = leg_sign_bytes(data.hub_chain_id, data.transaction_id, data.deadline_ms, leg)
    if not context.verify_signature(public_key, message, data.owner_signature):
        raise failure(_DENIED, f"the signature of owner {leg.owner} over the leg does not verify")


class _Participant:
    """The participant's handling of TRY and decisions, with its configuration."""

    def __init__(
        self, ports: Mapping[str, AtomicPort], *, unsafe_ignore_cancel_marker: bool
    ) -> None:
        self.ports = ports
        self.unsafe_ignore_cancel_marker = unsafe_ignore_cancel_marker

    def _port(
        self, context: TransactionContext, name: str
    ) -> tuple[AtomicPort, TransactionContext]:
        port = self.ports.get(name)
        bound = context.get(atomic_port_key(name)) if is_valid_identifier(name) else None
        if port is None or bound is None or bound.decode() != port.contract.name:
            raise failure(_NOT_FOUND, f"no application is bound to atomic port {name!r}")
        contract = port.contract
        return port, context.enter(contract.name, contract.namespace, contract.grants)

    def _reserve(
        self,
        context: TransactionContext,
        data: atomic_pb2.AtomicTryPacketData,
        record: atomic_pb2.AtomicLegRecord,
    ) -> None:
        """TRY steps 5 and 6: what the leg needs, reserved and noted in ``record``."""
        leg = data.leg
        lock = _lock_record(data.hub_chain_id, data.transaction_id, leg.index)
        kind = leg.WhichOneof("action")
        if kind == "bank_transfer":
            transfer = leg.bank_transfer
            if transfer.from_account != leg.owner:
                raise failure(
                    _DENIED,
                    f"the transfer is from {transfer.from_account}, not from its owner {leg.owner}",
                )
            reserve = reserve_account(data.transaction_id, leg.index)
            bank.move(context, transfer.from_account, reserve, transfer.denom, transfer.amount)
            record.reserve_account = reserve
        elif kind == "kv_write":
            write = leg.kv_write
            kv = context.enter("kv", KV_NAMESPACE, ())
            current = kv.get(write.key)
            if write.expect_absent and current is not None:
                raise failure(
                    _CONFLICT, f"kv key {write.key[:80]!r} exists; the leg expects it absent"
                )
            if write.expected_value_hash:
                if current is None:
                    raise failure(
                        _CONFLICT, f"kv key {write.key[:80]!r} is absent; the leg expects a value"
                    )
                if context.hash(current) != write.expected_value_hash:
                    raise failure(
                        _CONFLICT,
                        f"kv key {write.key[:80]!r} does not hold the value the leg expects",
                    )
            absolute = KV_NAMESPACE + write.key
            _lock(context, absolute, lock, leg.owner)
            record.locked_keys.append(absolute)
        elif kind == "port_call":
            port, application = self._port(context, leg.port_call.port)
            reservation = port.handler.on_try(application, leg.owner, leg.port_call)
            if len(reservation.keys) > ATOMIC_LOCKS_PER_LEG_MAX:
                raise failure(
                    _INVALID,
                    f"port {leg.port_call.port} asks for {len(reservation.keys)} locks, above "
                    f"the limit of {ATOMIC_LOCKS_PER_LEG_MAX}",
                )
            for key in sorted(set(reservation.keys)):
                if not key:
                    raise failure(_INVALID, f"port {leg.port_call.port} asks to lock an empty key")
                absolute = port.contract.namespace + key
                _lock(context, absolute, lock, leg.owner)
                record.locked_keys.append(absolute)
            record.port_reservation = reservation.data
        else:
            raise failure(
                _INVALID, f"{kind} legs are not supported on this chain; use a bank_transfer leg"
            )

    def on_try(
        self, context: TransactionContext, data: atomic_pb2.AtomicTryPacketData
    ) -> atomic_pb2.AtomicVote:
        """TRY steps 2 to 7 (step 1, the path, was checked by the caller)."""
        hub_chain_id, transaction = data.hub_chain_id, data.transaction_id
        leg_index = data.leg.index
        _check_id(transaction)
        if leg_index >= ATOMIC_LEGS_MAX:
            raise failure(_INVALID, f"leg index {leg_index} is above {ATOMIC_LEGS_MAX - 1}")
        attributes = _leg_attributes(hub_chain_id, transaction, leg_index)
        existing = _load_leg(context, hub_chain_id, transaction, leg_index)
        marker = context.get(atomic_cancel_key(hub_chain_id, transaction, leg_index))
        if self.unsafe_ignore_cancel_marker:
            # The canary: the marker, and the record an ABORT left before the TRY, are ignored.
            marker = None
            if (
                existing is not None
                and existing.state == _CANCELLED
                and not existing.prepared_height
            ):
                existing = None
        if marker is not None:
            reason = "cancelled before the try arrived"
            if existing is None:
                self._refuse(context, data, reason, attributes)
            return atomic_pb2.AtomicVote(vote=_NO, reason=reason)
        if existing is not None:
            if existing.state == _PREPARED:
                return atomic_pb2.AtomicVote(vote=_YES)
            return atomic_pb2.AtomicVote(
                vote=_NO, reason=existing.reason or f"the leg is {STATE_NAMES[existing.state]}"
            )
        record = atomic_pb2.AtomicLegRecord(
            hub_chain_id=hub_chain_id,
            transaction_id=transaction,
            deadline_ms=data.deadline_ms,
            leg=data.leg,
        )
        savepoint = context.savepoint()
        try:
            check_leg(data.leg, leg_index)
            _check_owner(context, data)
            self._reserve(context, data, record)
        except RequestError as error:
            context.rollback_to(savepoint)
            reason = error.message or "refused"
            self._refuse(context, data, reason, attributes)
            return atomic_pb2.AtomicVote(vote=_NO, reason=reason[:1_024])
        context.release(savepoint)
        record.state = _PREPARED
        record.prepared_time_ms = context.time_ms
        record.prepared_height = context.height
        _save_leg(context, record)
        context.put(atomic_prepared_key(hub_chain_id, transaction, leg_index), b"")
        context.emit("atomic_prepared", attributes)
        return atomic_pb2.AtomicVote(vote=_YES)

    def _refuse(
        self,
        context: TransactionContext,
        data: atomic_pb2.AtomicTryPacketData,
        reason: str,
        attributes: list[tuple[str, str]],
    ) -> None:
        record = atomic_pb2.AtomicLegRecord(
            hub_chain_id=data.hub_chain_id,
            transaction_id=data.transaction_id,
            deadline_ms=data.deadline_ms,
            leg=data.leg,
            state=_REFUSED,
            ended_time_ms=context.time_ms,
            ended_height=context.height,
            reason=reason[:1_024],
        )
        _save_leg(context, record)
        context.emit("atomic_refused", (*attributes, ("reason", reason[:256])))

    # -- decisions --------------------------------------------------------------------------------

    def apply_decision(
        self,
        context: TransactionContext,
        hub_chain_id: str,
        transaction: bytes,
        leg_index: int,
        outcome: int,
    ) -> atomic_pb2.AtomicLegFinal:
        """The leg table of the module docstring; returns the leg's state afterwards. A decision
        a correct hub never sends changes nothing and is reported (``atomic_anomaly``)."""
        _check_id(transaction)
        if leg_index >= ATOMIC_LEGS_MAX:
            raise failure(_INVALID, f"leg index {leg_index} is above {ATOMIC_LEGS_MAX - 1}")
        if outcome not in (_COMMIT, _ABORT):
            raise failure(_INVALID, f"decision outcome {outcome} is neither COMMIT nor ABORT")
        attributes = _leg_attributes(hub_chain_id, transaction, leg_index)
        record = _load_leg(context, hub_chain_id, transaction, leg_index)
        state = atomic_pb2.ATOMIC_LEG_STATE_UNSPECIFIED if record is None else record.state
        marker_key = atomic_cancel_key(hub_chain_id, transaction, leg_index)

        def anomaly(reason: str) -> atomic_pb2.AtomicLegFinal:
            context.emit("atomic_anomaly", (*attributes, ("reason", reason)))
            return atomic_pb2.AtomicLegFinal(state=state, reason=reason)

        def mark() -> None:
            if context.get(marker_key) is None:
                marker = atomic_pb2.AtomicCancelMarker(
                    time_ms=context.time_ms, height=context.height
                )
                context.put(marker_key, encode(marker))

        if state in (_CONFIRMED, _CANCELLED):
            if (state == _CONFIRMED) != (outcome == _COMMIT):
                return anomaly(
                    f"{OUTCOME_NAMES[outcome]} for a leg that is {STATE_NAMES[state]} already"
                )
            return atomic_pb2.AtomicLegFinal(state=state, reason=record.reason if record else "")
        if outcome == _COMMIT and state != _PREPARED:
            return anomaly("commit for a leg this chain never prepared")
        if outcome == _ABORT and record is None:
            mark()
            record = atomic_pb2.AtomicLegRecord(
                hub_chain_id=hub_chain_id,
                transaction_id=transaction,
                leg=atomic_pb2.AtomicLeg(index=leg_index),
                state=_CANCELLED,
                ended_time_ms=context.time_ms,
                ended_height=context.height,
                reason="aborted before the try arrived",
            )
            _save_leg(context, record)
            context.emit("atomic_cancelled", attributes)
            return atomic_pb2.AtomicLegFinal(state=_CANCELLED, reason=record.reason)
        if outcome == _ABORT and state == _REFUSED:
            mark()
            return atomic_pb2.AtomicLegFinal(state=_REFUSED, reason=record.reason if record else "")
        if record is None or state != _PREPARED:
            raise InvariantError(f"atomic leg in state {state} reached the PREPARED case")
        self._end_prepared(context, record, outcome)
        if outcome == _ABORT:
            mark()
        _save_leg(context, record)
        context.emit("atomic_confirmed" if outcome == _COMMIT else "atomic_cancelled", attributes)
        return atomic_pb2.AtomicLegFinal(state=record.state)

    def _end_prepared(
        self, context: TransactionContext, record: atomic_pb2.AtomicLegRecord, outcome: int
    ) -> None:
        """Confirms or cancels a PREPARED leg, as the leg's lock holder, and releases its locks."""
        leg = record.leg
        locks = context.locks
        previous = locks.holder
        locks.holder = _lock_record(record.hub_chain_id, record.transaction_id, leg.index)
        try:
            kind = leg.WhichOneof("action")
            if kind == "bank_transfer":
                transfer = leg.bank_transfer
                payee = transfer.to_account if outcome == _COMMIT else transfer.from_account
                bank.move(context, record.reserve_account, payee, transfer.denom, transfer.amount)
            elif kind == "kv_write" and outcome == _COMMIT:
                write = leg.kv_write
                kv = context.enter("kv", KV_NAMESPACE, ())
                if write.delete:
                    kv.delete(write.key)
                else:
                    kv.put(write.key, write.value)
            elif kind == "port_call":
                port, application = self._port(context, leg.port_call.port)
                if outcome == _COMMIT:
                    port.handler.on_confirm(
                        application, leg.owner, leg.port_call, record.port_reservation
                    )
                else:
                    port.handler.on_cancel(
                        application, leg.owner, leg.port_call, record.port_reservation
                    )
        finally:
            locks.holder = previous
        _unlock(context, record.locked_keys, leg.owner)
        context.delete(atomic_prepared_key(record.hub_chain_id, record.transaction_id, leg.index))
        record.state = _CONFIRMED if outcome == _COMMIT else _CANCELLED
        record.ended_time_ms = context.time_ms
        record.ended_height = context.height


# -- the port's handler (both roles) --------------------------------------------------------------


def _check_payload(payload: interchain_pb2.Payload) -> None:
    if payload.source_port != PORT or payload.destination_port != PORT:
        raise failure(
            _INVALID,
            f"atomic packet goes from port {payload.source_port!r} to "
            f"{payload.destination_port!r}: both must be {PORT!r}",
        )
    if payload.version != VERSION:
        raise failure(_INVALID, f"atomic packet version {payload.version!r} is not {VERSION!r}")
    if payload.encoding not in (ENCODING_TRY, ENCODING_DECISION):
        raise failure(_INVALID, f"atomic packet encoding {payload.encoding!r} is not known")


class AtomicHandler:
    """The PortHandler of port "atomic" (causeway.interchain.ports): TRY and DECISION received on
    a participant; votes, final states and timeouts on the hub."""

    def __init__(self, participant: _Participant) -> None:
        self._participant = participant

    def _check_path(
        self, context: TransactionContext, packet: interchain_pb2.Packet, hub_chain_id: str
    ) -> None:
        """TRY step 1 (and the same for a DECISION): the packet came over the hub's client."""
        registered = _hub_client(context, hub_chain_id)
        if registered is None:
            raise failure(
                _DENIED, f"chain {hub_chain_id[:80]!r} is not registered as an atomic hub here"
            )
        if packet.destination_client != registered:
            raise failure(
                _DENIED,
                f"the packet came over client {packet.destination_client}, not over "
                f"{registered}, this chain's client of hub {hub_chain_id}",
            )

    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement | None:
        payload = packet.payload
        _check_payload(payload)
        if payload.encoding == ENCODING_TRY:
            data = decode(
                atomic_pb2.AtomicTryPacketData,
                payload.value,
                bytes_max=ATOMIC_TRY_PACKET_DATA_BYTES_MAX,
            )
            self._check_path(context, packet, data.hub_chain_id)
            vote = self._participant.on_try(context, data)
            return interchain_pb2.Acknowledgement(success=True, result=encode(vote))
        decision = decode(
            atomic_pb2.AtomicDecisionPacketData,
            payload.value,
            bytes_max=ATOMIC_DECISION_PACKET_DATA_BYTES_MAX,
        )
        self._check_path(context, packet, decision.hub_chain_id)
        final = self._participant.apply_decision(
            context,
            decision.hub_chain_id,
            decision.transaction_id,
            decision.leg_index,
            decision.outcome,
        )
        return interchain_pb2.Acknowledgement(success=True, result=encode(final))

    def on_acknowledge(
        self,
        context: TransactionContext,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
    ) -> None:
        payload = packet.payload
        # This hub's own packet (the packets contract matched its commitment): decoded as sent.
        if payload.encoding == ENCODING_TRY:
            data = decode(
                atomic_pb2.AtomicTryPacketData, payload.value, bytes_max=len(payload.value)
            )
            vote, reason = _vote_of(acknowledgement)
            _record_vote(context, data, vote, reason)
            return
        decision = decode(
            atomic_pb2.AtomicDecisionPacketData, payload.value, bytes_max=len(payload.value)
        )
        record = _load_transaction(context, decision.transaction_id)
        if record is None or decision.leg_index >= len(record.legs):
            return
        final_state = atomic_pb2.ATOMIC_LEG_STATE_UNSPECIFIED
        if acknowledgement.success:
            try:
                final = decode(
                    atomic_pb2.AtomicLegFinal,
                    acknowledgement.result,
                    bytes_max=len(acknowledgement.result),
                )
            except RequestError:
                pass
            else:
                final_state = final.state
        record.legs[decision.leg_index].final_state = final_state
        context.put(atomic_transaction_key(record.transaction_id), encode(record))

    def on_timeout(self, context: TransactionContext, packet: interchain_pb2.Packet) -> None:
        payload = packet.payload
        if payload.encoding == ENCODING_TRY:
            data = decode(
                atomic_pb2.AtomicTryPacketData, payload.value, bytes_max=len(payload.value)
            )
            _record_vote(
                context,
                data,
                atomic_pb2.ATOMIC_VOTE_TIMED_OUT,
                f"the try timed out at {packet.timeout_ms} ms",
            )
            return
        # A DECISION that timed out: the decision stands; a relayer settles the leg by proof.
        decision = decode(
            atomic_pb2.AtomicDecisionPacketData, payload.value, bytes_max=len(payload.value)
        )
        context.emit(
            "atomic_decision_timed_out",
            _leg_attributes(decision.hub_chain_id, decision.transaction_id, decision.leg_index),
        )


# -- the contract ---------------------------------------------------------------------------------


# The owner's member record is read from this chain's own registry (TRY step 4).
GRANTS: tuple[StateGrant, ...] = (StateGrant(MEMBER_PREFIX, prefix=True),)


class AtomicApplication:
    """The atomic contract and its packet port, for one set of atomic ports.

    ``unsafe_ignore_cancel_marker`` is for the simulator's checker canary only: TRY step 2 is
    skipped (and the CANCELLED record an ABORT leaves before its TRY is not taken as a
    duplicate), so a TRY that arrives after its cancel prepares, which the rule forbids."""

    def __init__(
        self,
        ports: Mapping[str, AtomicPort] | None = None,
        *,
        unsafe_ignore_cancel_marker: bool = False,
    ) -> None:
        self.ports: Mapping[str, AtomicPort] = dict(ports or {})
        for name, port in self.ports.items():
            if len(name) > PORT_CHARACTERS_MAX or not is_valid_identifier(name):
                raise InvariantError(f"atomic port {name!r} is not a port name")
            if port.contract.namespace.startswith((b"sys/", NAMESPACE)):
                raise InvariantError(
                    f"atomic port {name} names system contract {port.contract.name}: it is never "
                    "bindable"
                )
        self.unsafe_ignore_cancel_marker = unsafe_ignore_cancel_marker
        self.participant = _Participant(
            self.ports, unsafe_ignore_cancel_marker=unsafe_ignore_cancel_marker
        )
        self.handler = AtomicHandler(self.participant)
        self.contract = Contract(
            name=CONTRACT,
            methods=self._methods(),
            namespace=NAMESPACE,
            grants=GRANTS,
        )
        self.port = Port(contract=self.contract, handler=self.handler)

    def _methods(self) -> dict[str, Method]:
        participant = self.participant
        ports = self.ports

        def settle(context: TransactionContext, arguments: bytes) -> bytes:
            """Applies a decision proven from the hub's state to one leg (anyone may send it):
            the proof is checked against this chain's client of the hub registered by
            governance, never one the caller names. Returns the leg's AtomicLegFinal; a proven
            decision a correct hub never makes (COMMIT for a leg not prepared) changes nothing
            and is reported as ``atomic_anomaly``, not refused."""
            request = decode_arguments(context, atomic_pb2.AtomicSettleArguments, arguments)
            client_id = _hub_client(context, request.hub_chain_id)
            if client_id is None:
                raise failure(
                    _NOT_FOUND,
                    f"chain {request.hub_chain_id[:80]!r} is not registered as an atomic hub here",
                )
            decision = request.decision
            _check_id(decision.transaction_id)
            if decision.outcome not in (_COMMIT, _ABORT):
                raise failure(_INVALID, "the decision is neither COMMIT nor ABORT")
            if request.leg_index >= ATOMIC_LEGS_MAX:
                raise failure(
                    _INVALID, f"leg index {request.leg_index} is above {ATOMIC_LEGS_MAX - 1}"
                )
            clients.verify_state(
                context,
                client_id,
                request.proof_height,
                atomic_decision_path(decision.transaction_id),
                encode(decision),
                request.proof,
            )
            final = participant.apply_decision(
                context,
                request.hub_chain_id,
                decision.transaction_id,
                request.leg_index,
                decision.outcome,
            )
            return encode(final)

        def bind_port(context: TransactionContext, arguments: bytes) -> bytes:
            context.require_policy(context.config.config.governance_policy, "atomic.bind_port")
            request = decode_arguments(context, atomic_pb2.AtomicBindPortArguments, arguments)
            port = ports.get(request.port)
            if port is None:
                raise failure(
                    _NOT_FOUND,
                    f"no application is registered for atomic port {request.port[:80]!r}",
                )
            bound = context.get(atomic_port_key(request.port))
            if bound is not None:
                raise failure(
                    _CONFLICT, f"atomic port {request.port} is bound to {bound.decode()} already"
                )
            context.put(atomic_port_key(request.port), port.contract.name.encode())
            context.emit(
                "atomic_bind_port", (("port", request.port), ("contract", port.contract.name))
            )
            return b""

        def leg(context: TransactionContext, arguments: bytes) -> bytes:
            request = decode_arguments(context, atomic_pb2.AtomicLegArguments, arguments)
            _check_id(request.transaction_id)
            if not is_valid_identifier(request.hub_chain_id):
                raise failure(
                    _INVALID, f"hub chain id {request.hub_chain_id[:80]!r} is not an identifier"
                )
            result = atomic_pb2.AtomicLegResult()
            record = _load_leg(
                context, request.hub_chain_id, request.transaction_id, request.leg_index
            )
            if record is not None:
                result.record.CopyFrom(record)
            marker = context.get(
                atomic_cancel_key(request.hub_chain_id, request.transaction_id, request.leg_index)
            )
            result.cancel_marker = marker is not None
            return encode(result)

        def prepared(context: TransactionContext, arguments: bytes) -> bytes:
            """A page of the PREPARED legs of one hub (key order); ``next`` is empty on the last."""
            request = decode_arguments(context, atomic_pb2.AtomicPreparedArguments, arguments)
            if not is_valid_identifier(request.hub_chain_id):
                raise failure(
                    _INVALID, f"hub chain id {request.hub_chain_id[:80]!r} is not an identifier"
                )
            limit = request.limit or LIST_LIMIT_DEFAULT
            if limit > LIST_LIMIT_MAX:
                raise failure(_INVALID, f"limit {limit} is above the maximum of {LIST_LIMIT_MAX}")
            prefix = atomic_prepared_prefix(request.hub_chain_id)
            start_after = prefix + request.start_after if request.start_after else b""
            if len(start_after) > context.key_bytes_max:
                raise failure(_INVALID, "start_after is too long")
            result = atomic_pb2.AtomicPreparedResult()
            entries = context.range(prefix, start_after, limit)
            for key, _value in entries:
                rest = key[len(prefix) :]
                transaction, leg_index = rest[:HASH_BYTES], int.from_bytes(rest[-4:], "big")
                record = _load_leg(context, request.hub_chain_id, transaction, leg_index)
                if record is None:
                    raise InvariantError(f"prepared atomic entry {key!r} has no leg record")
                result.records.append(record)
            if len(entries) == limit:
                result.next = entries[-1][0][len(prefix) :]
            return encode(result)

        return {
            "begin": Method(begin, arguments=atomic_pb2.AtomicBeginArguments),
            "decide": Method(decide, arguments=atomic_pb2.AtomicDecideArguments),
            "settle": Method(settle, arguments=atomic_pb2.AtomicSettleArguments),
            "register_hub": Method(register_hub, arguments=atomic_pb2.AtomicRegisterHubArguments),
            "bind_port": Method(bind_port, arguments=atomic_pb2.AtomicBindPortArguments),
            "get": Method(get, read_only=True),
            "list": Method(list_transactions, read_only=True),
            "leg": Method(leg, read_only=True),
            "prepared": Method(prepared, read_only=True),
        }


# -- the test port (tests and the simulator) ------------------------------------------------------

TEST_PORT = "atomic-counter"
TEST_CONTRACT = "atomic_counter"
TEST_NAMESPACE = b"atomic_counter/"
# Arguments of a "refuse" call: on_try fails, the leg votes NO.
TEST_METHOD_ADD = "add"
TEST_METHOD_REFUSE = "refuse"
TEST_COUNTER_PREFIX = b"counter/"


class CounterPortHandler:
    """A test AtomicPortHandler: method "add" with a counter's name as arguments locks
    ``counter/<name>`` in its namespace at TRY and adds one to it at confirm (nothing at cancel);
    method "refuse" votes NO."""

    def on_try(
        self, context: TransactionContext, owner: str, call: atomic_pb2.AtomicPortCall
    ) -> AtomicReservation:
        if call.method != TEST_METHOD_ADD:
            raise failure(_INVALID, f"the counter port refuses method {call.method!r}")
        if not 1 <= len(call.arguments) <= 64:
            raise failure(_INVALID, "a counter name is 1 to 64 bytes")
        return AtomicReservation(keys=(TEST_COUNTER_PREFIX + call.arguments,), data=owner.encode())

    def on_confirm(
        self,
        context: TransactionContext,
        owner: str,
        call: atomic_pb2.AtomicPortCall,
        reservation: bytes,
    ) -> None:
        key = TEST_COUNTER_PREFIX + call.arguments
        _write_count(context, key, _read_count(context, key) + 1)

    def on_cancel(
        self,
        context: TransactionContext,
        owner: str,
        call: atomic_pb2.AtomicPortCall,
        reservation: bytes,
    ) -> None:
        return None


def counter_value(context: TransactionContext, name: bytes) -> int:
    return _read_count(context, TEST_COUNTER_PREFIX + name)


TEST_COUNTER = Contract(name=TEST_CONTRACT, methods={}, namespace=TEST_NAMESPACE)
ATOMIC_TEST_PORTS: Mapping[str, AtomicPort] = {
    TEST_PORT: AtomicPort(contract=TEST_COUNTER, handler=CounterPortHandler())
}

# What a node runs: no atomic ports yet (real ports, user contracts through the ABI say, are out
# of scope for now; ADR 0004).
ATOMIC_APPLICATION = AtomicApplication()
ATOMIC = ATOMIC_APPLICATION.contract
