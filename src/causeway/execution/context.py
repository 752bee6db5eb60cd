"""What a contract method sees: the caller, the endorsing organisations and metered state access."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from causeway.crypto import CryptoProfile, PublicKey
from causeway.errors import RequestError
from causeway.execution.costs import (
    GAS_PER_BYTE_READ,
    GAS_PER_BYTE_WRITTEN,
    GAS_PER_EVENT_DATA_BYTE,
    GAS_PER_READ,
    GAS_PER_WRITE,
    hashing_gas,
    signature_verification_gas,
)
from causeway.execution.keys import ATOMIC_LOCK_PREFIX, StateGrant
from causeway.execution.overlay import MISSING, BlockOverlay, Savepoint, TransactionWrites
from causeway.identity import evaluate_policy
from causeway.storage import STATE_KEY_BYTES_MAX
from causeway.types.v1 import types_pb2

# What a member holding the CONSENSUS role but neither CLIENT nor ADMIN may send: validator nodes
# report equivocation with their node key, and nothing else.
CONSENSUS_SENDER_METHODS: frozenset[tuple[str, str]] = frozenset({("evidence", "submit")})

# The largest data payload one event carries (as large as a kv value, so that a contract can
# publish what it stores; an interchain packet's relayers read packets from events).
EVENT_DATA_BYTES_MAX = 65_536

_STATUS_BY_REASON: dict[str, types_pb2.ResultStatus.ValueType] = {
    # Reasons of the RequestError subclasses of causeway.errors.
    "bad_request": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "malformed": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "too_large": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "wrong_chain": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "expired": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "bad_signature": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "permission_denied": types_pb2.RESULT_STATUS_PERMISSION_DENIED,
    "unknown_member": types_pb2.RESULT_STATUS_PERMISSION_DENIED,
    "not_found": types_pb2.RESULT_STATUS_NOT_FOUND,
    "duplicate": types_pb2.RESULT_STATUS_CONFLICT,
    # Reasons that only the executor uses, one per result status.
    "invalid_argument": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
    "insufficient_funds": types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS,
    "endorsement_policy_not_satisfied": types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED,
    "unknown_contract": types_pb2.RESULT_STATUS_UNKNOWN_CONTRACT,
    "unknown_method": types_pb2.RESULT_STATUS_UNKNOWN_METHOD,
    "out_of_gas": types_pb2.RESULT_STATUS_OUT_OF_GAS,
    "conflict": types_pb2.RESULT_STATUS_CONFLICT,
    "contract_reverted": types_pb2.RESULT_STATUS_CONTRACT_REVERTED,
    "contract_trapped": types_pb2.RESULT_STATUS_CONTRACT_TRAPPED,
    "contract_frozen": types_pb2.RESULT_STATUS_CONTRACT_FROZEN,
    "contract_revoked": types_pb2.RESULT_STATUS_CONTRACT_REVOKED,
    # A user contract's module failed a deployment check.
    "bad_module": types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
}
_REASON_BY_STATUS: dict[int, str] = {
    types_pb2.RESULT_STATUS_INVALID_ARGUMENT: "invalid_argument",
    types_pb2.RESULT_STATUS_PERMISSION_DENIED: "permission_denied",
    types_pb2.RESULT_STATUS_NOT_FOUND: "not_found",
    types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS: "insufficient_funds",
    types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED: "endorsement_policy_not_satisfied",
    types_pb2.RESULT_STATUS_UNKNOWN_CONTRACT: "unknown_contract",
    types_pb2.RESULT_STATUS_UNKNOWN_METHOD: "unknown_method",
    types_pb2.RESULT_STATUS_OUT_OF_GAS: "out_of_gas",
    types_pb2.RESULT_STATUS_CONFLICT: "conflict",
    types_pb2.RESULT_STATUS_CONTRACT_REVERTED: "contract_reverted",
    types_pb2.RESULT_STATUS_CONTRACT_TRAPPED: "contract_trapped",
    types_pb2.RESULT_STATUS_CONTRACT_FROZEN: "contract_frozen",
    types_pb2.RESULT_STATUS_CONTRACT_REVOKED: "contract_revoked",
}


# The atomic contract's namespace (causeway.interchain.keys.ATOMIC_NAMESPACE): its lock entries.
_ATOMIC_NAMESPACE = ATOMIC_LOCK_PREFIX[: ATOMIC_LOCK_PREFIX.index(b"/") + 1]

# (contract, name, attributes, data)
EventRecord = tuple[str, str, Sequence[tuple[str, str]], bytes]


def may_send(roles: Collection[int], contract: str, method: str) -> bool:
    """Whether a member with these roles may send a transaction calling contract.method: CLIENT
    and ADMIN members may send anything, CONSENSUS members only CONSENSUS_SENDER_METHODS.

    The one rule of both admission and execution (a proposer may include transactions that did
    not pass through admission)."""
    if types_pb2.ROLE_CLIENT in roles or types_pb2.ROLE_ADMIN in roles:
        return True
    return types_pb2.ROLE_CONSENSUS in roles and (contract, method) in CONSENSUS_SENDER_METHODS


def failure(status: int, message: str) -> RequestError:
    """The error a contract raises to fail its transaction with `status` and a readable message."""
    return RequestError(message, reason=_REASON_BY_STATUS[status])


def status_of(error: RequestError) -> types_pb2.ResultStatus.ValueType:
    return _STATUS_BY_REASON.get(error.reason, types_pb2.RESULT_STATUS_INVALID_ARGUMENT)


def describe_policy(policy: types_pb2.EndorsementPolicy) -> str:
    names = {
        types_pb2.POLICY_KIND_ANY: "ANY",
        types_pb2.POLICY_KIND_ALL: "ALL",
        types_pb2.POLICY_KIND_MAJORITY: "MAJORITY",
        types_pb2.POLICY_KIND_K_OF_N: f"{policy.k}-of-n",
    }
    name = names.get(policy.kind, f"unspecified ({policy.kind})")
    if policy.organisations:
        return f"{name} of [{', '.join(policy.organisations)}]"
    return f"{name} of all organisations"


class CallableMethod(Protocol):
    """What a call between contracts needs of a method (contracts.base.Method has it)."""

    @property
    def read_only(self) -> bool: ...

    @property
    def arguments(self) -> type[Message] | None: ...

    def handler(self, context: TransactionContext, arguments: bytes, /) -> bytes: ...


class CallableContract(Protocol):
    """What a call between contracts needs of a contract (contracts.base.Contract has it); a
    protocol here, so that the context does not import the declarations that import it."""

    @property
    def name(self) -> str: ...

    @property
    def namespace(self) -> bytes: ...

    @property
    def grants(self) -> tuple[StateGrant, ...]: ...

    @property
    def methods(self) -> Mapping[str, CallableMethod]: ...


class MemberView:
    """A member record decoded once per block, with the answers the executor asks of it."""

    __slots__ = (
        "admin_organisations",
        "id",
        "is_admin",
        "is_consensus",
        "may_send",
        "member",
        "organisation",
    )

    def __init__(self, member: types_pb2.Member) -> None:
        roles = set(member.roles)
        self.member = member
        self.id = member.id
        self.organisation = member.organisation
        self.is_admin = types_pb2.ROLE_ADMIN in roles
        # May send any transaction; a CONSENSUS member may send only CONSENSUS_SENDER_METHODS.
        self.may_send = self.is_admin or types_pb2.ROLE_CLIENT in roles
        self.is_consensus = types_pb2.ROLE_CONSENSUS in roles
        # The organisations a transaction sent by this member speaks for without endorsements.
        self.admin_organisations: frozenset[str] = (
            frozenset((member.organisation,)) if self.is_admin else frozenset()
        )


@dataclass(frozen=True, slots=True)
class ConfigView:
    """The chain configuration as of the start of a transaction."""

    config: types_pb2.ChainConfig
    transaction_bytes_max: int
    transaction_expiry_max_ms: int
    endorsements_max: int
    transaction_gas_max: int
    # 0: no bound on a block's gas.
    block_gas_max: int


class Meter:
    """What one transaction did, for its Cost: shared by every contract context it enters."""

    __slots__ = ("bytes_read", "bytes_written", "gas_charged", "read_count", "write_count")

    def __init__(self) -> None:
        self.read_count = 0
        self.write_count = 0
        self.bytes_read = 0
        self.bytes_written = 0
        # Gas for work other than state access (signatures, hashing, event data).
        self.gas_charged = 0


class TransactionLocks:
    """What one transaction knows of the atomic contract's key locks, shared by every context it
    enters (``enter`` copies the context, not this). The executor reuses one object for the
    transactions of a block, setting ``possible`` before each (``holder`` is None between them:
    the atomic contract resets it in a ``finally``), so that a transaction allocates nothing for
    the hook.

    ``possible`` is False while the chain holds no lock (``atomic/lock_count`` zero or absent at
    the start of the transaction, as the executor reads it): then a write costs nothing more.
    The atomic contract sets it when it takes a lock in the transaction. ``holder`` is the
    encoded AtomicLockRecord of the leg the atomic contract is applying, or None: a locked key is
    writable only while its lock's record equals it."""

    __slots__ = ("holder", "possible")

    def __init__(self, possible: bool = False) -> None:
        self.possible = possible
        self.holder: bytes | None = None


def describe_lock(record: bytes) -> str:
    """ "atomic transaction <id hex> leg <n> of hub <hub>" from an encoded AtomicLockRecord
    (fields 1 string hub_chain_id, 2 bytes transaction_id, 3 uint32 leg_index), read without its
    message type: the execution layer does not import the interchain layer's messages."""
    strings: dict[int, bytes] = {}
    numbers: dict[int, int] = {}
    position = 0
    try:
        while position < len(record):
            tag, position = _varint(record, position)
            value, position = _varint(record, position)
            if tag & 7 == 2:
                strings[tag >> 3] = record[position : position + value]
                position += value
            elif tag & 7 == 0:
                numbers[tag >> 3] = value
            else:
                break
    except IndexError:
        pass  # a record the atomic contract never writes: named by what could be read
    hub = strings.get(1, b"").decode(errors="replace")
    return f"atomic transaction {strings.get(2, b'').hex()} leg {numbers.get(3, 0)} of hub {hub}"


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


class TransactionContext:
    """State access for one contract call: reads see earlier writes; writes stay here until commit.

    The contract sees its own namespace only: ``get``, ``range``, ``put`` and ``delete`` take keys
    relative to it (1 to ``key_bytes_max`` bytes), and the context prefixes them, so no key a
    contract passes can name another contract's state. The ``*_granted`` methods take absolute
    keys and succeed only within the contract's grants (see ``causeway.execution.keys``); anything
    else fails the transaction with PERMISSION_DENIED, naming the key, before any state is touched.

    Every access is metered (reads, writes, bytes of the absolute keys) for the transaction's Cost.
    """

    __slots__ = (
        "_grants",
        "_namespace",
        "_organisations",
        "block",
        "caller",
        "chain_id",
        "config",
        "consensus",
        "contract",
        "events",
        "gas_before_running",
        "gas_limit",
        "height",
        "key_bytes_max",
        "locks",
        "meter",
        "profile",
        "resolve_contract",
        "sender",
        "signing_organisations",
        "time_ms",
        "transaction_id",
        "transaction_writes",
        "writes",
    )

    def __init__(
        self,
        block: BlockOverlay,
        *,
        contract: str,
        namespace: bytes,
        grants: Sequence[StateGrant],
        chain_id: str,
        profile: CryptoProfile,
        consensus: str,
        config: ConfigView,
        organisations: Callable[[], Sequence[str]],
        sender: MemberView,
        signing_organisations: frozenset[str],
        height: int,
        time_ms: int,
        locks: TransactionLocks | None = None,
    ) -> None:
        self.block = block
        self.contract = contract
        # The contract that called this one within the transaction (enter), None for the
        # contract the transaction names.
        self.caller: str | None = None
        self._namespace = namespace
        self._grants = tuple(grants)
        # The longest key a contract may pass: its namespace plus the key fit a state key.
        self.key_bytes_max = STATE_KEY_BYTES_MAX - len(namespace)
        self.chain_id = chain_id
        self.profile = profile
        # The chain's consensus engine from its genesis: "solo", "tbft" or "raft".
        self.consensus = consensus
        self.config = config
        self._organisations = organisations
        self.sender = sender
        self.signing_organisations = signing_organisations
        self.height = height
        self.time_ms = time_ms
        self.transaction_writes = TransactionWrites()
        # What the transaction commits if it succeeds (None deletes); savepoints edit it in place.
        self.writes = self.transaction_writes.values
        # EventRecords: turned into Event messages only for the result, where
        # setting fields one by one is several times cheaper than building nested messages.
        self.events: list[EventRecord] = []
        self.meter = Meter()
        # Set by the executor: the transaction's id, and the gas it used before its method ran
        # (its base price, its bytes and its endorsements).
        self.transaction_id = b""
        self.gas_before_running = 0
        # A lower bound than the chain's transaction_gas_max on gas_used(), for a contract
        # called with part of its caller's gas (user_contracts).
        self.gas_limit: int | None = None
        # The executor's look-up of a contract by name, native or user (calls between
        # contracts); None where no executor runs the context.
        self.resolve_contract: Callable[[str], CallableContract | None] | None = None
        # The atomic contract's locks, shared with every context this one enters; the executor
        # passes one per block, whose `possible` it sets for each transaction.
        self.locks = TransactionLocks() if locks is None else locks

    # -- the contract's own namespace (relative keys) ----------------------------------------

    def _own(self, key: bytes, what: str = "key") -> bytes:
        size = len(key)
        if size == 0 or size > self.key_bytes_max:
            raise self._bad_key(size, what)
        return self._namespace + key

    def _bad_key(self, size: int, what: str) -> RequestError:
        return failure(
            types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
            f"contract {self.contract} passed a state {what} of {size} bytes: it must be "
            f"{0 if what == 'prefix' else 1} to {self.key_bytes_max} bytes (after its namespace "
            f"{self._namespace.decode()!r})",
        )

    def get(self, key: bytes) -> bytes | None:
        """The value of `key` in the contract's namespace, or None."""
        return self._read(self._own(key))

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Entries of the namespace whose key starts with `prefix` and sorts after `start_after`
        (both relative, either may be empty), keys returned relative."""
        namespace = self._namespace
        if len(prefix) > self.key_bytes_max:
            raise self._bad_key(len(prefix), "prefix")
        absolute_start_after = self._own(start_after, "start_after") if start_after else b""
        entries = self._range(namespace + prefix, absolute_start_after, limit)
        start = len(namespace)
        return [(key[start:], value) for key, value in entries]

    def put(self, key: bytes, value: bytes) -> None:
        self._write(self._own(key), value)

    def delete(self, key: bytes) -> None:
        self._write(self._own(key), None)

    # -- shared state the contract holds a grant for (absolute keys) ---------------------------

    def _granted(self, key: bytes, *, write: bool) -> None:
        for grant in self._grants:
            if grant.covers(key) and (grant.writable or not write):
                if len(key) > STATE_KEY_BYTES_MAX:
                    raise failure(
                        types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
                        f"contract {self.contract} passed a state key of {len(key)} bytes, above "
                        f"the limit of {STATE_KEY_BYTES_MAX}",
                    )
                return
        raise self._denied("write" if write else "read", key)

    def _denied(self, action: str, key: bytes) -> RequestError:
        grants = ", ".join(grant.describe() for grant in self._grants) or "none"
        return failure(
            types_pb2.RESULT_STATUS_PERMISSION_DENIED,
            f"contract {self.contract} may not {action} state key {key[:80]!r}: it is outside "
            f"its namespace {self._namespace.decode()!r} and its grants ({grants})",
        )

    def get_granted(self, key: bytes) -> bytes | None:
        self._granted(key, write=False)
        return self._read(key)

    def range_granted(
        self, prefix: bytes, start_after: bytes, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """Absolute range within one prefix grant: `prefix` must start with the grant's prefix, so
        that no entry outside the grant can be returned."""
        if not any(
            grant.prefix and prefix.startswith(grant.key) and len(prefix) <= STATE_KEY_BYTES_MAX
            for grant in self._grants
        ):
            raise self._denied("range over", prefix)
        return self._range(prefix, start_after, limit)

    def put_granted(self, key: bytes, value: bytes) -> None:
        self._granted(key, write=True)
        self._write(key, value)

    def delete_granted(self, key: bytes) -> None:
        self._granted(key, write=True)
        self._write(key, None)

    # -- metered access to absolute keys -------------------------------------------------------

    def _read(self, key: bytes) -> bytes | None:
        value = self.writes.get(key, MISSING)
        if value is MISSING:
            value = self.block.get(key)
        meter = self.meter
        meter.read_count += 1
        if value is None:
            meter.bytes_read += len(key)
            return None
        meter.bytes_read += len(key) + len(value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def _range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        entries = self.block.range(prefix, start_after, limit, self.writes)
        meter = self.meter
        meter.read_count += 1 + len(entries)
        meter.bytes_read += len(prefix) + sum(len(key) + len(value) for key, value in entries)
        return entries

    def _write(self, key: bytes, value: bytes | None) -> None:
        if self.locks.possible:
            self._check_lock(key)
        self.transaction_writes.set(key, value)
        meter = self.meter
        meter.write_count += 1
        meter.bytes_written += len(key) if value is None else len(key) + len(value)

    def _check_lock(self, key: bytes) -> None:
        """CONFLICT when an atomic leg other than ``locks.holder`` holds a lock on ``key``: the
        lock entry is read (metered) through this transaction's writes and the block's, so a
        lock taken earlier in the transaction counts. The atomic contract's own keys are never
        locked (a lock entry is not itself locked)."""
        if key.startswith(_ATOMIC_NAMESPACE):
            return
        lock = self._read(ATOMIC_LOCK_PREFIX + key)
        if lock is None or lock == self.locks.holder:
            return
        raise failure(
            types_pb2.RESULT_STATUS_CONFLICT,
            f"key {key[:80].decode(errors='replace')} is locked by {describe_lock(lock)} until "
            "it is decided",
        )

    # -- calls between contracts ----------------------------------------------------------------

    def enter(
        self, contract: str, namespace: bytes, grants: Sequence[StateGrant]
    ) -> TransactionContext:
        """The context for `contract`, called by this contract in the same transaction: its own
        namespace and grants (enforced as for any contract), and this transaction's writes,
        savepoints, events and meter. A savepoint the caller takes around the call therefore rolls
        back the callee's writes and events too, and the callee's work is charged to the
        transaction. The sender and signing organisations stay the transaction's; `caller`
        names this contract."""
        callee = copy.copy(self)
        callee.contract = contract
        callee.caller = self.contract
        callee._namespace = namespace
        callee._grants = tuple(grants)
        callee.key_bytes_max = STATE_KEY_BYTES_MAX - len(namespace)
        return callee

    # -- savepoints ----------------------------------------------------------------------------

    def savepoint(self) -> Savepoint:
        """Marks the transaction's writes and events so far; savepoints nest. Hand it back once,
        to rollback_to or release; one still open when the method returns is released."""
        return self.transaction_writes.savepoint(len(self.events))

    def rollback_to(self, savepoint: Savepoint) -> None:
        """Drops the writes and the events since `savepoint`, including those of savepoints
        released inside it, and ends it. The cost of what was done stays charged."""
        self.transaction_writes.rollback_to(savepoint)
        del self.events[savepoint.events_length :]

    def release(self, savepoint: Savepoint) -> None:
        """Keeps the writes and events since `savepoint` (the enclosing savepoint, if any, can
        still roll them back), and ends it."""
        self.transaction_writes.release(savepoint)

    def attempt(self, call: Callable[[], object]) -> RequestError | None:
        """Runs `call` in a savepoint: when it fails (RequestError) its writes and events are
        rolled back and the error is returned, so that the caller keeps going; otherwise they are
        kept and None is returned. A broken invariant is not caught."""
        savepoint = self.savepoint()
        try:
            call()
        except RequestError as error:
            self.rollback_to(savepoint)
            return error
        self.release(savepoint)
        return None

    def gas_used(self) -> int:
        """The gas the transaction has used so far: before it ran, and by its state access and
        charged work since (costs.py: the executor's formula, in one place)."""
        meter = self.meter
        return (
            self.gas_before_running
            + GAS_PER_READ * meter.read_count
            + GAS_PER_BYTE_READ * meter.bytes_read
            + GAS_PER_WRITE * meter.write_count
            + GAS_PER_BYTE_WRITTEN * meter.bytes_written
            + meter.gas_charged
        )

    def charge_gas(self, gas: int) -> None:
        """Charges work that is not state access; call it before doing the work, so that a
        failure still reports it."""
        self.meter.gas_charged += gas

    def hash(self, data: bytes) -> bytes:
        """The chain's hash of `data`, charged per byte (costs.hashing_gas)."""
        self.meter.gas_charged += hashing_gas(len(data), self.profile.name)
        return self.profile.hash(data)

    def charge_signature_verification(self, algorithm: str, message_bytes: int) -> None:
        """Charges one verification of a signature of `algorithm` over `message_bytes` bytes
        (costs.signature_verification_gas); charge before loading the key or verifying, so that
        a bad key or a forged signature still pays."""
        self.meter.gas_charged += signature_verification_gas(
            algorithm, message_bytes, self.profile.name
        )

    def verify_signature(self, public_key: PublicKey, message: bytes, signature: bytes) -> bool:
        """Charges, then verifies one signature; an empty signature is charged and refused."""
        self.charge_signature_verification(public_key.algorithm, len(message))
        return bool(signature) and public_key.verify(message, signature)

    def emit(self, name: str, attributes: Sequence[tuple[str, str]], data: bytes = b"") -> None:
        """Records an event of this contract, with an optional data payload of at most
        EVENT_DATA_BYTES_MAX bytes (charged per byte); it reaches the result only if the
        transaction succeeds and no savepoint around it is rolled back."""
        if data:
            if len(data) > EVENT_DATA_BYTES_MAX:
                raise failure(
                    types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
                    f"event {self.contract}.{name} carries {len(data)} bytes of data, above the "
                    f"limit of {EVENT_DATA_BYTES_MAX}",
                )
            self.meter.gas_charged += GAS_PER_EVENT_DATA_BYTE * len(data)
        self.events.append((self.contract, name, attributes, data))

    def organisations(self) -> Sequence[str]:
        """Every organisation of the chain, in id order, as of the start of the transaction."""
        return self._organisations()

    def require_policy(self, policy: types_pb2.EndorsementPolicy, purpose: str) -> None:
        """Fails the transaction unless the signing organisations satisfy the policy."""
        if not evaluate_policy(policy, self.signing_organisations, self.organisations()):
            signed = ", ".join(sorted(self.signing_organisations)) or "none"
            raise failure(
                types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED,
                f"{purpose} needs endorsements satisfying the {describe_policy(policy)} policy; "
                f"organisations that signed as admins: {signed}",
            )
