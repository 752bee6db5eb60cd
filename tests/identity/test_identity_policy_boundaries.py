"""Endorsement policies at their boundaries (written to kill the survivors of a cosmic-ray run
over identity/policy.py, docs/testing.md): a majority of odd and even counts at exactly half
and one more, ANY and K_OF_N with more signers than needed, k = 1 and k below n, and kinds
without a rule never satisfied, whatever k says."""

from __future__ import annotations

import pytest

from causeway.errors import ConfigurationError
from causeway.identity import (
    IDENTIFIER_CHARACTERS_MAX,
    evaluate_policy,
    is_valid_identifier,
    split_member_id,
    validate_policy,
)
from causeway.types.v1 import types_pb2

ANY = types_pb2.POLICY_KIND_ANY
MAJORITY = types_pb2.POLICY_KIND_MAJORITY
K_OF_N = types_pb2.POLICY_KIND_K_OF_N
UNSPECIFIED = types_pb2.POLICY_KIND_UNSPECIFIED

SEVEN = ["a", "b", "c", "d", "e", "f", "g"]


def policy(kind: int, k: int = 0) -> types_pb2.EndorsementPolicy:
    return types_pb2.EndorsementPolicy(kind=kind, k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("organisations", "half_or_just_below"),
    [(SEVEN, 3), (SEVEN[:6], 3), (SEVEN[:5], 2), (SEVEN[:2], 1), (SEVEN[:1], 0)],
)
def test_majority_is_more_than_half_at_every_size(
    organisations: list[str], half_or_just_below: int
) -> None:
    short = set(organisations[:half_or_just_below])
    enough = set(organisations[: half_or_just_below + 1])
    assert evaluate_policy(policy(MAJORITY), short, organisations) is False
    assert evaluate_policy(policy(MAJORITY), enough, organisations) is True
    assert evaluate_policy(policy(MAJORITY), set(organisations), organisations) is True


def test_any_is_satisfied_by_several_signers_too() -> None:
    assert evaluate_policy(policy(ANY), {"a"}, SEVEN) is True
    assert evaluate_policy(policy(ANY), {"a", "b", "c"}, SEVEN) is True
    assert evaluate_policy(policy(ANY), set(SEVEN), SEVEN) is True


@pytest.mark.parametrize("k", [1, 2, 6, 7])
def test_k_of_n_at_k_and_one_below_and_with_more_signers(k: int) -> None:
    assert evaluate_policy(policy(K_OF_N, k), set(SEVEN[: k - 1]), SEVEN) is False
    assert evaluate_policy(policy(K_OF_N, k), set(SEVEN[:k]), SEVEN) is True
    assert evaluate_policy(policy(K_OF_N, k), set(SEVEN), SEVEN) is True


@pytest.mark.parametrize("kind", [UNSPECIFIED, 5, 99])
def test_kinds_without_a_rule_never_satisfy_whatever_k_says(kind: int) -> None:
    for k in (0, 1, 7):
        assert evaluate_policy(policy(kind, k), set(SEVEN), SEVEN) is False


@pytest.mark.parametrize("k", [1, 2, 6, 7])
def test_k_of_n_validates_for_every_k_in_1_to_n(k: int) -> None:
    validate_policy(policy(K_OF_N, k), SEVEN)


@pytest.mark.parametrize("k", [0, 8])
def test_k_of_n_outside_1_to_n_is_refused_with_the_range(k: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"^policy k = {k} is outside 1\.\.7$"):
        validate_policy(policy(K_OF_N, k), SEVEN)


def test_k_on_another_kind_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="policy k is only meaningful for K_OF_N"):
        validate_policy(policy(ANY, 1), SEVEN)
    validate_policy(policy(ANY, 0), SEVEN)


def test_identifiers_of_exactly_the_named_maximum_are_valid_and_one_more_not() -> None:
    """The pattern spells the bound out ({0,63}); the public constant must say the same."""
    at_limit = "a" * IDENTIFIER_CHARACTERS_MAX
    assert is_valid_identifier(at_limit)
    assert not is_valid_identifier(at_limit + "a")
    assert split_member_id(f"{at_limit}/{at_limit}") == (at_limit, at_limit)
    with pytest.raises(ConfigurationError, match="is not of the form organisation/name"):
        split_member_id(f"{at_limit}a/bob")
