"""Endorsement policies and roles: which organisations must sign, and who may do what."""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from causeway.errors import ConfigurationError
from causeway.types.v1 import types_pb2

# Organisation ids and member names: short, printable, and free of the "/" that joins them.
IDENTIFIER_CHARACTERS_MAX = 64
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_KNOWN_ROLES = frozenset(
    {
        types_pb2.ROLE_ADMIN,
        types_pb2.ROLE_CLIENT,
        types_pb2.ROLE_CONSENSUS,
        types_pb2.ROLE_LIGHT,
    }
)


def _counted_organisations(
    policy: types_pb2.EndorsementPolicy, chain_organisations: Sequence[str]
) -> frozenset[str]:
    listed = policy.organisations
    return frozenset(listed) if len(listed) else frozenset(chain_organisations)


def evaluate_policy(
    policy: types_pb2.EndorsementPolicy,
    signing_organisations: AbstractSet[str],
    chain_organisations: Sequence[str],
) -> bool:
    """Whether the organisations that signed satisfy the policy.

    The policy counts over its own organisation list, or over every organisation of the chain when
    that list is empty. Only organisations in the counted set count: a signature by any other
    organisation proves nothing. An unspecified kind, an empty counted set or a k outside 1..n
    never satisfies, so that a zero or default policy can never be taken as proven.
    """
    counted = _counted_organisations(policy, chain_organisations)
    total = len(counted)
    if total == 0:
        return False
    signed = len(counted & signing_organisations) if signing_organisations else 0
    kind = policy.kind
    if kind == types_pb2.POLICY_KIND_ANY:
        return signed >= 1
    if kind == types_pb2.POLICY_KIND_ALL:
        return signed == total
    if kind == types_pb2.POLICY_KIND_MAJORITY:
        return 2 * signed > total
    if kind == types_pb2.POLICY_KIND_K_OF_N:
        k = policy.k
        return 1 <= k <= total and signed >= k
    return False


def validate_policy(
    policy: types_pb2.EndorsementPolicy, chain_organisations: Sequence[str]
) -> None:
    """Raises ConfigurationError unless the policy is one that some set of signers can satisfy.

    A policy is valid when its kind is specified, its organisations are distinct organisations of
    the chain, the counted set is not empty and, for K_OF_N, 1 <= k <= n. A k on other kinds is
    refused too, so that a policy has one meaning only.
    """
    kind = policy.kind
    if kind not in (
        types_pb2.POLICY_KIND_ANY,
        types_pb2.POLICY_KIND_ALL,
        types_pb2.POLICY_KIND_MAJORITY,
        types_pb2.POLICY_KIND_K_OF_N,
    ):
        raise ConfigurationError(f"policy kind {kind} is not one of ANY, ALL, MAJORITY, K_OF_N")
    listed = list(policy.organisations)
    if len(set(listed)) != len(listed):
        raise ConfigurationError("policy lists an organisation more than once")
    known = set(chain_organisations)
    unknown = [organisation for organisation in listed if organisation not in known]
    if unknown:
        raise ConfigurationError(f"policy names unknown organisations: {', '.join(unknown)}")
    total = len(_counted_organisations(policy, chain_organisations))
    if total == 0:
        raise ConfigurationError("policy counts over no organisation")
    if kind == types_pb2.POLICY_KIND_K_OF_N:
        if not 1 <= policy.k <= total:
            raise ConfigurationError(f"policy k = {policy.k} is outside 1..{total}")
    elif policy.k != 0:
        raise ConfigurationError("policy k is only meaningful for K_OF_N")


def has_role(member: types_pb2.Member, role: int) -> bool:
    """Whether the member holds the role; ROLE_UNSPECIFIED is never held."""
    return role != types_pb2.ROLE_UNSPECIFIED and role in member.roles


def is_valid_identifier(identifier: str) -> bool:
    """Organisation ids and member names: 1-64 of [A-Za-z0-9._-], starting alphanumeric."""
    return _IDENTIFIER.fullmatch(identifier) is not None


def make_member_id(organisation: str, name: str) -> str:
    return f"{organisation}/{name}"


def split_member_id(member_id: str) -> tuple[str, str]:
    """Splits "organisation/name"; ConfigurationError when either part is not an identifier."""
    organisation, separator, name = member_id.partition("/")
    if not separator or not is_valid_identifier(organisation) or not is_valid_identifier(name):
        raise ConfigurationError(f"member id {member_id!r} is not of the form organisation/name")
    return organisation, name


def validate_roles(roles: Sequence[int]) -> None:
    """Raises ConfigurationError unless the roles are distinct, known and at least one."""
    if not roles:
        raise ConfigurationError("a member needs at least one role")
    if len(set(roles)) != len(roles):
        raise ConfigurationError("a role is listed more than once")
    for role in roles:
        if role not in _KNOWN_ROLES:
            raise ConfigurationError(f"role {role} is not a known role")
