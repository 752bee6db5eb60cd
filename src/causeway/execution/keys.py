"""The state key layout: every namespace of the chain state, defined here and nowhere else.

All keys are bytes. Identifiers (organisation ids, member ids, ledger accounts) are UTF-8.

    sys/config                      encoded causeway.types.v1.ChainConfig
    sys/org/<organisation>          encoded causeway.types.v1.Organisation
    sys/member/<organisation>/<name> encoded causeway.types.v1.Member
    sys/admin_count/<organisation>  8-byte big-endian count of the organisation's ADMIN members
    kv/<key>                        the kv contract's values, raw bytes
    ledger/balance/<account>        8-byte big-endian uint64; absent means zero
    ledger/supply                   8-byte big-endian uint64, the sum of all balances

Only the system contracts (config, membership) write under ``sys/``; user-chosen keys and accounts
are always placed after a contract prefix, so no user input can reach a system key.
"""

from __future__ import annotations

SYSTEM_PREFIX = b"sys/"
CONFIG_KEY = b"sys/config"
ORGANISATION_PREFIX = b"sys/org/"
MEMBER_PREFIX = b"sys/member/"
ADMIN_COUNT_PREFIX = b"sys/admin_count/"
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
