"""causeway.types.check_json_depth: nesting counted without recursion, strings left out."""

from __future__ import annotations

import pytest

from causeway.errors import DecodeError
from causeway.types import JSON_DEPTH_MAX, check_json_depth


def _nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[]" + "}" * (depth - 1)


def test_depth_at_the_limit_passes_and_one_more_is_refused() -> None:
    check_json_depth(_nested(JSON_DEPTH_MAX), "text")
    with pytest.raises(DecodeError) as refused:
        check_json_depth(_nested(JSON_DEPTH_MAX + 1), "text")
    assert refused.value.message == "text is nested deeper than 64 levels"
    assert refused.value.reason == "malformed"


def test_a_smaller_bound() -> None:
    check_json_depth("[[1], [2]]", "x", depth_max=2)
    with pytest.raises(DecodeError, match=r"^x is nested deeper than 1 levels$"):
        check_json_depth("[[1], [2]]", "x", depth_max=1)


def test_brackets_in_strings_and_escapes_do_not_count() -> None:
    check_json_depth('["' + "[" * 500 + '", "\\"[[[[", "\\\\"]', "text", depth_max=1)
    check_json_depth('"' + "{" * 500 + '"', "text", depth_max=0)


def test_scalars_are_depth_zero_and_endless_openers_stop_early() -> None:
    check_json_depth("3", "text", depth_max=0)
    with pytest.raises(DecodeError):
        check_json_depth("[" * 10_000_000, "text")
