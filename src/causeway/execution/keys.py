"""The state key layout: every namespace of the chain state, defined here and nowhere else.

All keys are bytes. Identifiers (organisation ids, member ids, ledger accounts) are UTF-8.

    sys/config                      encoded causeway.types.v1.ChainConfig
    sys/org/<organisation>          encoded causeway.types.v1.Organisation
    sys/member/<organisation>/<name> encoded causeway.types.v1.Member
    sys/admin_count/<organisation>  8-byte big-endian count of the organisation's ADMIN members
    sys/validator_schedule          encoded causeway.contracts.v1.ValidatorSchedule
    sys/evidence/<validator>/<height>/<round>/<vote type>
                                    encoded causeway.contracts.v1.EvidenceRecord; height as 20 and
                                    round as 10 decimal digits, vote type "prevote" or "precommit"
    sys/code/contract/<name>        encoded causeway.contracts.v1.ContractRecord (user contracts)
    sys/code/wasm/<code hash>       a user contract's WebAssembly module, stored once by hash
    sys/nodes/endpoint/<member>     encoded causeway.contracts.v1.NodeEndpoint (a node's address)
    sys/nodes/tls_authority/<organisation>
                                    encoded causeway.contracts.v1.TlsAuthority (its TLS CA)
    sys/nodes/revoked/<member>      encoded causeway.contracts.v1.Revocation
    sys/proposals/next_id           8-byte big-endian: the last proposal id given (ids start at 1)
    sys/proposals/proposal/<id>     encoded causeway.contracts.v1.Proposal; id as 20 decimal digits
    sys/proposals/open/<id>         8-byte big-endian deadline (ms) of a proposal not yet ended,
                                    then its creator's organisation id: the index that bounds open
                                    proposals, in all and per organisation (expired ones pruned)
    wasm/<name>/<key>               user contract <name>'s own state
    kv/<key>                        the kv contract's values, raw bytes
    atomic/lock_count           8-byte big-endian: the atomic locks this chain holds (read
                                    once per transaction by the executor; zero or absent: none)
    atomic/lock/<absolute key>  encoded AtomicLockRecord: only the holding leg writes the key
                                    (the atomic contract, causeway.interchain.atomic, owns both)
    ledger/balance/<account>        8-byte big-endian uint64; absent means zero
    ledger/supply                   8-byte big-endian uint64, the sum of all balances

**Namespaces.** Each contract owns the keys under its namespace (``NAMESPACES``) and addresses them
relative to it: the ledger writes ``balance/alice`` and the executor's context stores
``ledger/balance/alice``. No namespace is a prefix of another, so a contract cannot name a key of
another contract whatever bytes it passes. Application contracts own ``<contract>/``; system
contracts own ``sys/<contract>/``, so that everything the system contracts write stays under
``sys/`` (the node reloads the chain configuration when a block changes a key under ``sys/``).

**Grants.** The shared system records (configuration, organisations, members, admin counts, the
validator schedule) belong to no single contract: the executor reads them for every transaction,
and the system contracts that legitimately read or change them hold an explicit grant
(``GRANTS``), each a single key or a key prefix, read-only or writable. Nothing else reaches
outside its namespace; application contracts hold no grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from causeway.errors import InvariantError

SYSTEM_PREFIX = b"sys/"

# -- namespaces: each contract's own keys -------------------------------------------------------

KV_NAMESPACE = b"kv/"
LEDGER_NAMESPACE = b"ledger/"
CONFIG_NAMESPACE = b"sys/config/"
MEMBERSHIP_NAMESPACE = b"sys/membership/"
VALIDATORS_NAMESPACE = b"sys/validators/"
EVIDENCE_NAMESPACE = b"sys/evidence/"
CODE_NAMESPACE = b"sys/code/"
NODES_NAMESPACE = b"sys/nodes/"
PROPOSALS_NAMESPACE = b"sys/proposals/"
# Every user contract owns wasm/<name>/ (names never hold "/"), so none reaches another's keys
# and no native namespace may start with it.
USER_CONTRACTS_PREFIX = b"wasm/"

# By contract name. config, membership and validators keep nothing in their own namespaces today:
# their state is the shared system records below, reached through grants.
NAMESPACES: dict[str, bytes] = {
    "kv": KV_NAMESPACE,
    "ledger": LEDGER_NAMESPACE,
    "config": CONFIG_NAMESPACE,
    "membership": MEMBERSHIP_NAMESPACE,
    "validators": VALIDATORS_NAMESPACE,
    "evidence": EVIDENCE_NAMESPACE,
    "code": CODE_NAMESPACE,
    "nodes": NODES_NAMESPACE,
    "proposals": PROPOSALS_NAMESPACE,
}

# -- shared system records (absolute keys) --------------------------------------------------------

CONFIG_KEY = b"sys/config"
ORGANISATION_PREFIX = b"sys/org/"
MEMBER_PREFIX = b"sys/member/"
ADMIN_COUNT_PREFIX = b"sys/admin_count/"
VALIDATOR_SCHEDULE_KEY = b"sys/validator_schedule"


def is_shared_record(key: bytes) -> bool:
    """Whether `key` is one of the shared system records above (configuration, organisations,
    members, admin counts, the validator schedule): what a node reloads its view of the chain
    after a block changes. Other keys under sys/ (evidence, the interchain contracts' clients and
    packets) are contract state like any other and change nothing the node caches."""
    return key in (CONFIG_KEY, VALIDATOR_SCHEDULE_KEY) or key.startswith(
        (ORGANISATION_PREFIX, MEMBER_PREFIX, ADMIN_COUNT_PREFIX)
    )


@dataclass(frozen=True, slots=True)
class StateGrant:
    """Access a contract holds outside its namespace, in absolute keys.

    With ``prefix`` the grant covers every key that starts with ``key`` and is longer than it;
    without, exactly ``key`` (so a grant of ``sys/config`` does not reach ``sys/config/...``).
    Ranges are allowed only within a prefix grant."""

    key: bytes
    prefix: bool = False
    writable: bool = False

    def covers(self, key: bytes) -> bool:
        if self.prefix:
            return len(key) > len(self.key) and key.startswith(self.key)
        return key == self.key

    def describe(self) -> str:
        access = "read-write" if self.writable else "read-only"
        shape = f"{self.key.decode()}..." if self.prefix else self.key.decode()
        return f"{shape} ({access})"


# The minimal grants, by contract name: exactly what each system contract reads and writes.
GRANTS: dict[str, tuple[StateGrant, ...]] = {
    # config.update replaces the configuration; config.get reads it.
    "config": (StateGrant(CONFIG_KEY, writable=True),),
    # Organisations, members and admin counts are membership's to change; the validator schedule
    # is read to refuse removing (or re-keying) a member that validates.
    "membership": (
        StateGrant(ORGANISATION_PREFIX, prefix=True, writable=True),
        StateGrant(MEMBER_PREFIX, prefix=True, writable=True),
        StateGrant(ADMIN_COUNT_PREFIX, prefix=True, writable=True),
        StateGrant(VALIDATOR_SCHEDULE_KEY),
    ),
    # validators.update writes the schedule and takes a validator's key from its member record.
    "validators": (
        StateGrant(VALIDATOR_SCHEDULE_KEY, writable=True),
        StateGrant(MEMBER_PREFIX, prefix=True),
    ),
    # evidence.submit checks the votes against the validator set of their height.
    "evidence": (StateGrant(VALIDATOR_SCHEDULE_KEY),),
    # nodes.revoke deletes the member record (as membership.remove_member does, with its admin
    # count), refusing a validator; endpoints and TLS CAs name existing members and organisations.
    "nodes": (
        StateGrant(ORGANISATION_PREFIX, prefix=True),
        StateGrant(MEMBER_PREFIX, prefix=True, writable=True),
        StateGrant(ADMIN_COUNT_PREFIX, prefix=True, writable=True),
        StateGrant(VALIDATOR_SCHEDULE_KEY),
    ),
    # proposals counts a vote only while its admin is still an admin member (standing_voters).
    "proposals": (StateGrant(MEMBER_PREFIX, prefix=True),),
}


def _overlaps(first: bytes, first_is_prefix: bool, second: bytes, second_is_prefix: bool) -> bool:
    if first_is_prefix and second.startswith(first):
        return second_is_prefix or len(second) > len(first)
    if second_is_prefix and first.startswith(second):
        return first_is_prefix or len(first) > len(second)
    return first == second


def check_layout(namespaces: dict[str, bytes], grants: dict[str, tuple[StateGrant, ...]]) -> None:
    """InvariantError unless every namespace ends with "/", none overlaps another (one is not a
    prefix of the other), and no grant reaches into any contract's namespace."""
    for contract, namespace in namespaces.items():
        if not namespace.endswith(b"/") or len(namespace) < 2:
            raise InvariantError(
                f"namespace {namespace!r} of contract {contract} must end with '/'"
            )
    names = sorted(namespaces)
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            if _overlaps(namespaces[first], True, namespaces[second], True):
                raise InvariantError(
                    f"the namespaces of {first} ({namespaces[first]!r}) and {second} "
                    f"({namespaces[second]!r}) overlap"
                )
    for contract, contract_grants in grants.items():
        for grant in contract_grants:
            for owner, namespace in namespaces.items():
                if _overlaps(grant.key, grant.prefix, namespace, True):
                    raise InvariantError(
                        f"the grant {grant.describe()} of {contract} reaches into the namespace "
                        f"of {owner} ({namespace!r})"
                    )


check_layout(NAMESPACES, GRANTS)

# -- keys inside a namespace (what a contract passes to its context) ------------------------------

LEDGER_BALANCE = b"balance/"
LEDGER_SUPPLY = b"supply"


def ledger_balance(account: str) -> bytes:
    return LEDGER_BALANCE + account.encode()


def validator_evidence(validator_id: str) -> bytes:
    """Every key of the validator's evidence (in the evidence namespace) starts with this."""
    return validator_id.encode() + b"/"


def evidence_at_height(validator_id: str, height: int) -> bytes:
    """Every key of the validator's evidence at `height` starts with this."""
    return validator_evidence(validator_id) + f"{height:020d}/".encode()


def evidence_record(validator_id: str, height: int, round_number: int, vote_type: str) -> bytes:
    """Fixed-width decimal height and round: a validator's evidence sorts by height, then round."""
    return evidence_at_height(validator_id, height) + f"{round_number:010d}/{vote_type}".encode()


CODE_RECORD = b"contract/"
CODE_BYTES = b"wasm/"


def code_record(name: str) -> bytes:
    return CODE_RECORD + name.encode()


def code_bytes(code_hash: bytes) -> bytes:
    return CODE_BYTES + code_hash


NODE_ENDPOINT = b"endpoint/"
NODE_TLS_AUTHORITY = b"tls_authority/"
NODE_REVOCATION = b"revoked/"


def node_endpoint(member_id: str) -> bytes:
    return NODE_ENDPOINT + member_id.encode()


def node_tls_authority(organisation_id: str) -> bytes:
    return NODE_TLS_AUTHORITY + organisation_id.encode()


def node_revocation(member_id: str) -> bytes:
    return NODE_REVOCATION + member_id.encode()


PROPOSALS_NEXT_ID = b"next_id"
PROPOSAL_RECORD = b"proposal/"
PROPOSAL_OPEN = b"open/"


def proposal_record(proposal_id: int) -> bytes:
    """Fixed-width decimal id: proposals sort by id."""
    return PROPOSAL_RECORD + f"{proposal_id:020d}".encode()


def proposal_open(proposal_id: int) -> bytes:
    return PROPOSAL_OPEN + f"{proposal_id:020d}".encode()


def user_contract_namespace(name: str) -> bytes:
    return USER_CONTRACTS_PREFIX + name.encode() + b"/"


# -- absolute keys of contract state (for readers outside the executor: proofs, tools, tests) ----

KV_PREFIX = KV_NAMESPACE
LEDGER_BALANCE_PREFIX = LEDGER_NAMESPACE + LEDGER_BALANCE
LEDGER_SUPPLY_KEY = LEDGER_NAMESPACE + LEDGER_SUPPLY
EVIDENCE_PREFIX = EVIDENCE_NAMESPACE
NODE_ENDPOINT_PREFIX = NODES_NAMESPACE + NODE_ENDPOINT
NODE_TLS_AUTHORITY_PREFIX = NODES_NAMESPACE + NODE_TLS_AUTHORITY
NODE_REVOCATION_PREFIX = NODES_NAMESPACE + NODE_REVOCATION


# The atomic contract's locks (causeway.interchain.atomic writes them; the executor's context
# enforces them, so their absolute form lives here, below the interchain layer).
ATOMIC_LOCK_COUNT_KEY = b"atomic/lock_count"
ATOMIC_LOCK_PREFIX = b"atomic/lock/"


def atomic_lock_key(absolute_key: bytes) -> bytes:
    """The lock entry of an absolute state key."""
    return ATOMIC_LOCK_PREFIX + absolute_key


def organisation_key(organisation_id: str) -> bytes:
    return ORGANISATION_PREFIX + organisation_id.encode()


def member_key(member_id: str) -> bytes:
    return MEMBER_PREFIX + member_id.encode()


def organisation_members_prefix(organisation_id: str) -> bytes:
    return MEMBER_PREFIX + organisation_id.encode() + b"/"


def admin_count_key(organisation_id: str) -> bytes:
    return ADMIN_COUNT_PREFIX + organisation_id.encode()


def kv_key(key: bytes) -> bytes:
    return KV_NAMESPACE + key


def balance_key(account: str) -> bytes:
    return LEDGER_NAMESPACE + ledger_balance(account)


def evidence_key(validator_id: str, height: int, round_number: int, vote_type: str) -> bytes:
    return EVIDENCE_NAMESPACE + evidence_record(validator_id, height, round_number, vote_type)


def code_record_key(name: str) -> bytes:
    return CODE_NAMESPACE + code_record(name)


def code_bytes_key(code_hash: bytes) -> bytes:
    return CODE_NAMESPACE + code_bytes(code_hash)


def node_endpoint_key(member_id: str) -> bytes:
    return NODES_NAMESPACE + node_endpoint(member_id)


def node_tls_authority_key(organisation_id: str) -> bytes:
    return NODES_NAMESPACE + node_tls_authority(organisation_id)


def node_revocation_key(member_id: str) -> bytes:
    return NODES_NAMESPACE + node_revocation(member_id)


def proposal_record_key(proposal_id: int) -> bytes:
    return PROPOSALS_NAMESPACE + proposal_record(proposal_id)
