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
    kv/<key>                        the kv contract's values, raw bytes
    ledger/balance/<account>        8-byte big-endian uint64; absent means zero
    ledger/supply                   8-byte big-endian uint64, the sum of all balances

Only the system contracts (config, membership, validators, evidence) write under ``sys/``;
user-chosen keys and accounts are always placed after a contract prefix, so no user input can reach
a system key.
"""

from __future__ import annotations

SYSTEM_PREFIX = b"sys/"
CONFIG_KEY = b"sys/config"
ORGANISATION_PREFIX = b"sys/org/"
MEMBER_PREFIX = b"sys/member/"
ADMIN_COUNT_PREFIX = b"sys/admin_count/"
VALIDATOR_SCHEDULE_KEY = b"sys/validator_schedule"
EVIDENCE_PREFIX = b"sys/evidence/"
KV_PREFIX = b"kv/"
LEDGER_BALANCE_PREFIX = b"ledger/balance/"
LEDGER_SUPPLY_KEY = b"ledger/supply"


def organisation_key(organisation_id: str) -> bytes:
    return ORGANISATION_PREFIX + organisation_id.encode()


def member_key(member_id: str) -> bytes:
    return MEMBER_PREFIX + member_id.encode()


def organisation_members_prefix(organisation_id: str) -> bytes:
    return MEMBER_PREFIX + organisation_id.encode() + b"/"


def admin_count_key(organisation_id: str) -> bytes:
    return ADMIN_COUNT_PREFIX + organisation_id.encode()


def kv_key(key: bytes) -> bytes:
    return KV_PREFIX + key


def balance_key(account: str) -> bytes:
    return LEDGER_BALANCE_PREFIX + account.encode()


def validator_evidence_prefix(validator_id: str) -> bytes:
    return EVIDENCE_PREFIX + validator_id.encode() + b"/"


def evidence_height_prefix(validator_id: str, height: int) -> bytes:
    """Every key of the validator's evidence at `height` starts with this."""
    return validator_evidence_prefix(validator_id) + f"{height:020d}/".encode()


def evidence_key(validator_id: str, height: int, round_number: int, vote_type: str) -> bytes:
    """Fixed-width decimal height and round: a validator's evidence sorts by height, then round."""
    return evidence_height_prefix(validator_id, height) + (
        f"{round_number:010d}/{vote_type}".encode()
    )
