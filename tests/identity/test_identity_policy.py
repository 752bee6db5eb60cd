from __future__ import annotations

import pytest

from causeway.errors import ConfigurationError
from causeway.identity import (
    evaluate_policy,
    has_role,
    is_valid_identifier,
    make_member_id,
    split_member_id,
    validate_policy,
    validate_roles,
)
from causeway.types.v1 import types_pb2

ANY = types_pb2.POLICY_KIND_ANY
ALL = types_pb2.POLICY_KIND_ALL
MAJORITY = types_pb2.POLICY_KIND_MAJORITY
K_OF_N = types_pb2.POLICY_KIND_K_OF_N
UNSPECIFIED = types_pb2.POLICY_KIND_UNSPECIFIED

CHAIN = ["a", "b", "c", "d"]


def policy(
    kind: int, k: int = 0, organisations: tuple[str, ...] = ()
) -> types_pb2.EndorsementPolicy:
    return types_pb2.EndorsementPolicy(kind=kind, k=k, organisations=list(organisations))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "signed", "expected"),
    [
        (policy(ANY), set(), False),
        (policy(ANY), {"a"}, True),
        (policy(ANY), {"x"}, False),
        (policy(ANY, organisations=("b",)), {"a"}, False),
        (policy(ANY, organisations=("b",)), {"a", "b"}, True),
        (policy(ALL), {"a", "b", "c"}, False),
        (policy(ALL), {"a", "b", "c", "d"}, True),
        (policy(ALL), {"a", "b", "c", "d", "x"}, True),
        (policy(ALL, organisations=("a", "c")), {"a", "c"}, True),
        (policy(ALL, organisations=("a", "c")), {"a", "b"}, False),
        # MAJORITY is more than half: 2 of 4 is not enough, 3 of 4 is.
        (policy(MAJORITY), {"a", "b"}, False),
        (policy(MAJORITY), {"a", "b", "c"}, True),
        (policy(MAJORITY), {"a", "b", "x", "y"}, False),
        (policy(MAJORITY, organisations=("a", "b", "c")), {"a", "b"}, True),
        (policy(MAJORITY, organisations=("a", "b", "c")), {"a", "d"}, False),
        (policy(K_OF_N, k=2), {"a"}, False),
        (policy(K_OF_N, k=2), {"a", "d"}, True),
        (policy(K_OF_N, k=4), {"a", "b", "c", "d"}, True),
        (policy(K_OF_N, k=2, organisations=("a", "b")), {"a", "c", "d"}, False),
        (policy(K_OF_N, k=2, organisations=("a", "b")), {"a", "b"}, True),
        # Zero or default values never count as proven.
        (policy(K_OF_N, k=0), {"a", "b", "c", "d"}, False),
        (policy(K_OF_N, k=5), {"a", "b", "c", "d"}, False),
        (policy(K_OF_N, k=3, organisations=("a", "b")), {"a", "b"}, False),
        (policy(UNSPECIFIED), {"a", "b", "c", "d"}, False),
        (policy(99), {"a", "b", "c", "d"}, False),
        # Duplicates in the policy's list count once.
        (policy(ALL, organisations=("a", "a")), {"a"}, True),
    ],
)
def test_evaluate_policy_table(
    rule: types_pb2.EndorsementPolicy, signed: set[str], expected: bool
) -> None:
    assert evaluate_policy(rule, signed, CHAIN) is expected


@pytest.mark.parametrize("kind", [ANY, ALL, MAJORITY, K_OF_N])
def test_a_chain_without_organisations_satisfies_nothing(kind: int) -> None:
    assert not evaluate_policy(policy(kind, k=1), {"a"}, [])


def test_validate_policy_accepts_satisfiable_policies() -> None:
    validate_policy(policy(ANY), CHAIN)
    validate_policy(policy(MAJORITY, organisations=("a", "b")), CHAIN)
    validate_policy(policy(K_OF_N, k=4), CHAIN)
    validate_policy(policy(K_OF_N, k=1, organisations=("d",)), CHAIN)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (policy(UNSPECIFIED), "kind"),
        (policy(17), "kind"),
        (policy(K_OF_N, k=0), "outside"),
        (policy(K_OF_N, k=5), "outside"),
        (policy(K_OF_N, k=2, organisations=("a",)), "outside"),
        (policy(ANY, organisations=("x",)), "unknown organisations: x"),
        (policy(ALL, organisations=("a", "a")), "more than once"),
        (policy(ANY, k=2), "only meaningful"),
    ],
)
def test_validate_policy_refuses(rule: types_pb2.EndorsementPolicy, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        validate_policy(rule, CHAIN)


def test_validate_policy_refuses_an_empty_chain() -> None:
    with pytest.raises(ConfigurationError, match="no organisation"):
        validate_policy(policy(ANY), [])


def test_has_role() -> None:
    member = types_pb2.Member(roles=[types_pb2.ROLE_CLIENT, types_pb2.ROLE_LIGHT])
    assert has_role(member, types_pb2.ROLE_CLIENT)
    assert has_role(member, types_pb2.ROLE_LIGHT)
    assert not has_role(member, types_pb2.ROLE_ADMIN)
    assert not has_role(types_pb2.Member(), types_pb2.ROLE_UNSPECIFIED)
    with_unspecified = types_pb2.Member(roles=[types_pb2.ROLE_UNSPECIFIED])
    assert not has_role(with_unspecified, types_pb2.ROLE_UNSPECIFIED)


def test_member_ids() -> None:
    assert make_member_id("org1", "alice") == "org1/alice"
    assert split_member_id("org1/alice") == ("org1", "alice")
    for bad in ("org1", "org1/", "/alice", "org1/alice/x", "org 1/alice", "", "-org/a"):
        with pytest.raises(ConfigurationError):
            split_member_id(bad)
    assert is_valid_identifier("Org-1.example_x")
    assert not is_valid_identifier("a" * 65)
    assert is_valid_identifier("a" * 64)


def test_validate_roles() -> None:
    validate_roles([types_pb2.ROLE_ADMIN, types_pb2.ROLE_CLIENT])
    for bad in ([], [types_pb2.ROLE_UNSPECIFIED], [types_pb2.ROLE_ADMIN] * 2, [42]):
        with pytest.raises(ConfigurationError):
            validate_roles(bad)
