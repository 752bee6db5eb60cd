"""Organisations, members, roles and endorsement policies (pure)."""

from causeway.identity.policy import (
    IDENTIFIER_CHARACTERS_MAX,
    evaluate_policy,
    has_role,
    is_valid_identifier,
    make_member_id,
    split_member_id,
    validate_policy,
    validate_roles,
)

__all__ = [
    "IDENTIFIER_CHARACTERS_MAX",
    "evaluate_policy",
    "has_role",
    "is_valid_identifier",
    "make_member_id",
    "split_member_id",
    "validate_policy",
    "validate_roles",
]
