"""The PROPOSAL DRAFT file: the calls a consortium votes on, as a reviewable JSON document.

```json
{"version": 1,
 "title": "Add organisation org4",
 "description": "free text",
 "calls": [{"contract": "membership", "method": "add_organisation",
            "arguments": "<base64 of the method's canonical protobuf arguments>"}]}
```

A proposal executes its calls in order, all or nothing. `causeway proposal create --calls-file`
reads this file; `causeway org join-request` writes it. Pure: text in, text out.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from google.protobuf.message import Message

from causeway.errors import ConfigurationError
from causeway.types import encode

DRAFT_VERSION = 1
CALLS_MAX = 256
TITLE_CHARACTERS_MAX = 200
DESCRIPTION_CHARACTERS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class DraftCall:
    contract: str
    method: str
    arguments: bytes
    """The method's arguments in their canonical protobuf encoding."""

    @classmethod
    def of(cls, contract: str, method: str, arguments: Message) -> DraftCall:
        return cls(contract=contract, method=method, arguments=encode(arguments))


@dataclass(frozen=True, slots=True)
class ProposalDraft:
    title: str
    description: str
    calls: tuple[DraftCall, ...]


def _check(draft: ProposalDraft) -> None:
    if not draft.title or len(draft.title) > TITLE_CHARACTERS_MAX:
        raise ConfigurationError(f"a proposal title is 1 to {TITLE_CHARACTERS_MAX} characters")
    if len(draft.description) > DESCRIPTION_CHARACTERS_MAX:
        raise ConfigurationError(
            f"a proposal description is at most {DESCRIPTION_CHARACTERS_MAX} characters"
        )
    if not 1 <= len(draft.calls) <= CALLS_MAX:
        raise ConfigurationError(f"a proposal has 1 to {CALLS_MAX} calls, not {len(draft.calls)}")
    for call in draft.calls:
        if not call.contract or not call.method:
            raise ConfigurationError("every call of a proposal names a contract and a method")


def draft_to_json(draft: ProposalDraft) -> str:
    """The draft's file text; ConfigurationError for a draft the format does not allow."""
    _check(draft)
    document = {
        "version": DRAFT_VERSION,
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
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def draft_from_json(text: str) -> ProposalDraft:
    """Parses a draft file; ConfigurationError for anything but exactly the format above."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ConfigurationError(f"a proposal draft is not valid JSON: {error}") from None
    if not isinstance(document, dict) or set(document) != {
        "version",
        "title",
        "description",
        "calls",
    }:
        raise ConfigurationError(
            "a proposal draft is an object of exactly version, title, description and calls"
        )
    if document["version"] != DRAFT_VERSION:
        raise ConfigurationError(f"proposal draft version {document['version']!r} is not 1")
    title, description, calls = document["title"], document["description"], document["calls"]
    if not isinstance(title, str) or not isinstance(description, str):
        raise ConfigurationError("a proposal draft's title and description are strings")
    if not isinstance(calls, list):
        raise ConfigurationError("a proposal draft's calls are a list")
    parsed: list[DraftCall] = []
    for index, call in enumerate(calls):
        if not isinstance(call, dict) or set(call) != {"contract", "method", "arguments"}:
            raise ConfigurationError(
                f"call {index} of the draft is not an object of contract, method and arguments"
            )
        if not all(isinstance(call[key], str) for key in call):
            raise ConfigurationError(f"call {index} of the draft has a field that is not text")
        try:
            arguments = base64.b64decode(call["arguments"], validate=True)
        except binascii.Error:
            raise ConfigurationError(
                f"call {index} of the draft: arguments are not base64"
            ) from None
        parsed.append(DraftCall(call["contract"], call["method"], arguments))
    draft = ProposalDraft(title=title, description=description, calls=tuple(parsed))
    _check(draft)
    return draft
