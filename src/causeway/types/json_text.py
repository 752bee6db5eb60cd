"""JSON text from outside (command-line arguments, proof files, HTTP bodies): its nesting bounded.

The standard library's parser, and protobuf's JSON mapping after it, recurse once per nested
array or object, so text nested a few thousand levels deep ends in RecursionError somewhere inside
them, which a caller cannot tell from a bug. No message of ours nests more than a handful of
levels, so the depth is counted first, without recursion, and deeper text is refused with a
DecodeError that says so before any parser sees it.
"""

from __future__ import annotations

import re

from causeway.errors import DecodeError

JSON_DEPTH_MAX = 64
"""The deepest nesting of arrays and objects accepted (`[]` and `{}` are one level each)."""

# A JSON string, escapes included; what it holds never counts as nesting.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEPS = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def check_json_depth(text: str, source: str, depth_max: int = JSON_DEPTH_MAX) -> None:
    """DecodeError naming `source` when the arrays and objects of `text` nest deeper than
    `depth_max` (`[]` and `{}` are one level each; brackets inside strings do not count).

    Text that is not JSON is still counted by its brackets; the parser that runs next reports
    what else is wrong with it.
    """
    depth = 0
    for character in _NOT_BRACKET.sub("", _STRING.sub("", text)).encode("ascii"):
        depth += _STEPS[character]
        if depth > depth_max:
            raise DecodeError(f"{source} is nested deeper than {depth_max} levels")
