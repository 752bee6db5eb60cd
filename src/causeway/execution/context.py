"""What a contract method sees: the caller, the endorsing organisations and metered state access."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from causeway.crypto import CryptoProfile
from causeway.errors import RequestError
from causeway.execution.overlay import MISSING, BlockOverlay
from causeway.identity import evaluate_policy
from causeway.types.v1 import types_pb2

# Gas: a deterministic price for what a transaction makes every validator do. See docs/contracts.md.
GAS_TRANSACTION_BASE = 1_000
GAS_PER_TRANSACTION_BYTE = 1
GAS_PER_ENDORSEMENT = 3_000
GAS_PER_READ = 100
GAS_PER_BYTE_READ = 1
GAS_PER_WRITE = 500
GAS_PER_BYTE_WRITTEN = 2
# One signature verification a method makes (an endorsement is priced the same, above).
GAS_PER_SIGNATURE_VERIFICATION = 3_000

# What a member holding the CONSENSUS role but neither CLIENT nor ADMIN may send: validator nodes
# report equivocation with their node key, and nothing else.
CONSENSUS_SENDER_METHODS: frozenset[tuple[str, str]] = frozenset({("evidence", "submit")})

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
}


EventRecord = tuple[str, str, Sequence[tuple[str, str]]]


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


class TransactionContext:
    """State access for one transaction: reads see earlier writes; writes stay here until commit.

    Every access is metered (reads, writes, bytes) for the transaction's Cost.
    """

    __slots__ = (
        "_organisations",
        "block",
        "bytes_read",
        "bytes_written",
        "chain_id",
        "config",
        "consensus",
        "events",
        "gas_charged",
        "height",
        "profile",
        "read_count",
        "sender",
        "signing_organisations",
        "time_ms",
        "write_count",
        "writes",
    )

    def __init__(
        self,
        block: BlockOverlay,
        *,
        chain_id: str,
        profile: CryptoProfile,
        consensus: str,
        config: ConfigView,
        organisations: Callable[[], Sequence[str]],
        sender: MemberView,
        signing_organisations: frozenset[str],
        height: int,
        time_ms: int,
    ) -> None:
        self.block = block
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
        self.writes: dict[bytes, bytes | None] = {}
        # (contract, name, attributes): turned into Event messages only for the result, where
        # setting fields one by one is several times cheaper than building nested messages.
        self.events: list[EventRecord] = []
        self.read_count = 0
        self.write_count = 0
        self.bytes_read = 0
        self.bytes_written = 0
        # Gas for work other than state access (signature verifications), added to the cost.
        self.gas_charged = 0

    def get(self, key: bytes) -> bytes | None:
        value = self.writes.get(key, MISSING)
        if value is MISSING:
            value = self.block.get(key)
        self.read_count += 1
        if value is None:
            self.bytes_read += len(key)
            return None
        self.bytes_read += len(key) + len(value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        entries = self.block.range(prefix, start_after, limit, self.writes)
        self.read_count += 1 + len(entries)
        self.bytes_read += len(prefix) + sum(len(key) + len(value) for key, value in entries)
        return entries

    def put(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value
        self.write_count += 1
        self.bytes_written += len(key) + len(value)

    def delete(self, key: bytes) -> None:
        self.writes[key] = None
        self.write_count += 1
        self.bytes_written += len(key)

    def charge_gas(self, gas: int) -> None:
        """Charges work that is not state access; call it before doing the work, so that a
        failure still reports it."""
        self.gas_charged += gas

    def emit(self, contract: str, name: str, attributes: Sequence[tuple[str, str]]) -> None:
        """Records an event; it reaches the result only if the transaction succeeds."""
        self.events.append((contract, name, attributes))

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
