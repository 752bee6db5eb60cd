"""The PROPOSAL DRAFT file: what an organisation hands the consortium to create a proposal from.

JSON, canonical enough to review by eye (keys sorted, two-space indent, one call per object)::

    {"version": 1,
     "title": "Add organisation org4",
     "description": "free text",
     "calls": [{"contract": "membership", "method": "add_organisation",
                "arguments": "<base64 of the method's canonical protobuf arguments>"}]}

`causeway proposal create --calls-file`, the SDK (``client.proposals.create_from_draft``) and
`causeway org join-request` (which writes one) share this module, so that a draft one of them
writes the others read. Parsing is strict: an unknown key, a missing one, a value of the wrong
type, base64 that is not canonical, or a bound exceeded is a DecodeError (or LimitExceededError)
naming the place, before anything is signed.

The bounds are also the ``proposals`` contract's (causeway.execution.contracts.proposals), so
that a draft that parses here is not refused on chain for its size.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from causeway.errors import DecodeError, LimitExceededError, RequestError
from causeway.types.json_text import check_json_depth

PROPOSAL_DRAFT_VERSION = 1
# Bounds of one proposal (consensus: the proposals contract refuses more).
PROPOSAL_CALLS_MAX = 16
# One call's encoded arguments: a code deployment's module is the largest thing a governance
# call carries, and a whole proposal must still fit a transaction.
PROPOSAL_CALL_ARGUMENTS_BYTES_MAX = 1 << 20
PROPOSAL_TITLE_CHARACTERS_MAX = 200
PROPOSAL_DESCRIPTION_CHARACTERS_MAX = 10_000
# A draft file: all of the above, in base64, with room for the JSON around it.
PROPOSAL_DRAFT_BYTES_MAX = 4 * PROPOSAL_CALL_ARGUMENTS_BYTES_MAX + 65_536
# A contract or method name in a call (native names, user contract names: [a-z][a-z0-9_-]*).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
_DRAFT_KEYS = frozenset({"version", "title", "description", "calls"})
_CALL_KEYS = frozenset({"contract", "method", "arguments"})
# Unicode categories refused in a title: control characters, line and paragraph separators.
_NOT_IN_A_TITLE = frozenset({"Cc", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class DraftCall:
    """One call of a proposal: the canonical protobuf arguments of contract.method."""

    contract: str
    method: str
    arguments: bytes


@dataclass(frozen=True, slots=True)
class ProposalDraft:
    title: str
    description: str
    calls: tuple[DraftCall, ...]


def check_proposal_text(title: str, description: str) -> None:
    """DecodeError unless the title is 1 to PROPOSAL_TITLE_CHARACTERS_MAX characters on one line
    and the description at most PROPOSAL_DESCRIPTION_CHARACTERS_MAX."""
    if not title.strip():
        raise DecodeError("a proposal needs a title")
    if len(title) > PROPOSAL_TITLE_CHARACTERS_MAX:
        raise LimitExceededError(
            f"the title is {len(title)} characters, above the limit of "
            f"{PROPOSAL_TITLE_CHARACTERS_MAX}"
        )
    for character in title:
        # Every line break str.splitlines knows (U+2028, NEL, vertical tab...), not only \n and
        # \r, and every control character (an escape sequence rewrites a terminal's screen):
        # the title is what each admin reads in `proposal list` before voting.
        if unicodedata.category(character) in _NOT_IN_A_TITLE:
            raise DecodeError(
                f"the title must be one line of text, without control characters (it has "
                f"U+{ord(character):04X})"
            )
    if len(description) > PROPOSAL_DESCRIPTION_CHARACTERS_MAX:
        raise LimitExceededError(
            f"the description is {len(description)} characters, above the limit of "
            f"{PROPOSAL_DESCRIPTION_CHARACTERS_MAX}"
        )


def check_proposal_calls(calls: Sequence[DraftCall]) -> None:
    """DecodeError unless there are 1 to PROPOSAL_CALLS_MAX calls with valid names and arguments
    of at most PROPOSAL_CALL_ARGUMENTS_BYTES_MAX bytes."""
    if not calls:
        raise DecodeError("a proposal needs at least one call")
    if len(calls) > PROPOSAL_CALLS_MAX:
        raise LimitExceededError(
            f"{len(calls)} calls, above the limit of {PROPOSAL_CALLS_MAX} per proposal"
        )
    for index, call in enumerate(calls):
        for what, name in (("contract", call.contract), ("method", call.method)):
            if not _NAME.fullmatch(name):
                raise DecodeError(
                    f"call {index}: {what} {name!r} is not a name (a letter, then up to 63 of "
                    "[A-Za-z0-9_-])"
                )
        if len(call.arguments) > PROPOSAL_CALL_ARGUMENTS_BYTES_MAX:
            raise LimitExceededError(
                f"call {index} ({call.contract}.{call.method}): its arguments are "
                f"{len(call.arguments)} bytes, above the limit of "
                f"{PROPOSAL_CALL_ARGUMENTS_BYTES_MAX}"
            )


def _string(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str):
        raise DecodeError(f"{where}: {key!r} must be a string, not {type(value).__name__}")
    return value


def _keys(mapping: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise DecodeError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} (allowed: "
            f"{', '.join(sorted(allowed))})"
        )
    missing = sorted(allowed - set(mapping))
    if missing:
        raise DecodeError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")


def _arguments(text: str, where: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DecodeError(f"{where}: 'arguments' is not base64") from None
    # One text per bytes: a draft reviewed by eye says exactly what will be signed.
    if base64.b64encode(data).decode("ascii") != text:
        raise DecodeError(f"{where}: 'arguments' is not canonical base64 (padding, no newlines)")
    return data


def parse_proposal_draft(text: str, source: str = "the draft") -> ProposalDraft:
    """The draft in `text` (a file's contents), checked as the module notes say."""
    if len(text.encode("utf-8")) > PROPOSAL_DRAFT_BYTES_MAX:
        raise LimitExceededError(
            f"{source} is larger than the limit of {PROPOSAL_DRAFT_BYTES_MAX} bytes"
        )
    check_json_depth(text, source)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DecodeError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"{source} must be a JSON object")
    _keys(document, _DRAFT_KEYS, source)
    version = document["version"]
    if type(version) is not int or version != PROPOSAL_DRAFT_VERSION:
        raise DecodeError(
            f"{source}: version {version!r} is not supported (this Causeway reads version "
            f"{PROPOSAL_DRAFT_VERSION})"
        )
    title = _string(document, "title", source)
    description = _string(document, "description", source)
    try:
        check_proposal_text(title, description)
    except RequestError as error:
        raise type(error)(f"{source}: {error.message}") from None
    raw_calls = document["calls"]
    if not isinstance(raw_calls, list):
        raise DecodeError(f"{source}: 'calls' must be a list")
    if len(raw_calls) > PROPOSAL_CALLS_MAX:
        raise LimitExceededError(
            f"{source}: {len(raw_calls)} calls, above the limit of {PROPOSAL_CALLS_MAX} per "
            "proposal"
        )
    calls: list[DraftCall] = []
    for index, raw in enumerate(raw_calls):
        where = f"{source}: call {index}"
        if not isinstance(raw, dict):
            raise DecodeError(f"{where} must be a JSON object")
        _keys(raw, _CALL_KEYS, where)
        calls.append(
            DraftCall(
                contract=_string(raw, "contract", where),
                method=_string(raw, "method", where),
                arguments=_arguments(_string(raw, "arguments", where), where),
            )
        )
    try:
        check_proposal_calls(calls)
    except RequestError as error:
        raise type(error)(f"{source}: {error.message}") from None
    return ProposalDraft(title=title, description=description, calls=tuple(calls))


def proposal_draft_text(draft: ProposalDraft) -> str:
    """The draft as file text (checked first, so that what is written parses again)."""
    check_proposal_text(draft.title, draft.description)
    check_proposal_calls(draft.calls)
    document = {
        "version": PROPOSAL_DRAFT_VERSION,
        "title": draft.title,
        "description": draft.description,
        "calls": [
            {
                "contract": call.contract,
                "method": call.method,
                "arguments": base64.b64encode(call.arguments).decode("ascii"),
            }
            for call in draft.calls
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
