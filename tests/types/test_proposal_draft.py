"""The PROPOSAL DRAFT file: written and read back the same, every malformed draft refused."""

from __future__ import annotations

import base64
import json

import pytest

from causeway.errors import DecodeError, LimitExceededError, RequestError
from causeway.types.proposal_draft import (
    PROPOSAL_CALLS_MAX,
    PROPOSAL_DESCRIPTION_CHARACTERS_MAX,
    PROPOSAL_TITLE_CHARACTERS_MAX,
    DraftCall,
    ProposalDraft,
    parse_proposal_draft,
    proposal_draft_text,
)

DRAFT = ProposalDraft(
    title="Add organisation org4",
    description="org4 runs the district's node",
    calls=(DraftCall("membership", "add_organisation", b"\x0a\x02\x08\x01"),),
)


def document(**changes: object) -> dict[str, object]:
    value: dict[str, object] = json.loads(proposal_draft_text(DRAFT))
    value.update(changes)
    return value


def test_a_draft_reads_back_as_written() -> None:
    text = proposal_draft_text(DRAFT)
    assert parse_proposal_draft(text) == DRAFT
    value = json.loads(text)
    assert value["version"] == 1
    assert value["calls"] == [
        {
            "contract": "membership",
            "method": "add_organisation",
            "arguments": base64.b64encode(b"\x0a\x02\x08\x01").decode(),
        }
    ]
    # Sorted keys and a newline at the end: the same draft is the same file, for review by eye.
    assert text == proposal_draft_text(parse_proposal_draft(text))
    assert text.endswith("}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not valid JSON"),
        ("[1]", "must be a JSON object"),
        ("[" * 100 + "]" * 100, "nested deeper"),
        (json.dumps(document(version=2)), "version 2 is not supported"),
        (json.dumps(document(version=True)), "version True is not supported"),
        (json.dumps(document(extra=1)), "unknown key(s) 'extra'"),
        (json.dumps({"version": 1, "title": "t", "calls": []}), "missing key(s) 'description'"),
        (json.dumps(document(title=3)), "'title' must be a string"),
        (json.dumps(document(title="")), "needs a title"),
        (json.dumps(document(title="two\nlines")), "one line"),
        (json.dumps(document(calls={})), "'calls' must be a list"),
        (json.dumps(document(calls=[])), "at least one call"),
        (json.dumps(document(calls=[1])), "call 0 must be a JSON object"),
        (
            json.dumps(document(calls=[{"contract": "config", "method": "update"}])),
            "call 0: missing key(s) 'arguments'",
        ),
        (
            json.dumps(
                document(calls=[{"contract": "config", "method": "update", "arguments": "%%"}])
            ),
            "'arguments' is not base64",
        ),
        (
            json.dumps(
                document(calls=[{"contract": "config", "method": "update", "arguments": "AA"}])
            ),
            "is not base64",
        ),
        (
            json.dumps(
                document(calls=[{"contract": "con fig", "method": "update", "arguments": ""}])
            ),
            "contract 'con fig' is not a name",
        ),
    ],
)
def test_malformed_drafts_are_refused_with_the_place(text: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_proposal_draft(text, "draft.json")
    assert message in caught.value.message
    assert caught.value.message.startswith("draft.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "calls": [{"contract": "config", "method": "update", "arguments": ""}]
                * (PROPOSAL_CALLS_MAX + 1)
            },
            "17 calls, above the limit of 16",
        ),
        ({"title": "x" * (PROPOSAL_TITLE_CHARACTERS_MAX + 1)}, "title is 201 characters"),
        (
            {"description": "x" * (PROPOSAL_DESCRIPTION_CHARACTERS_MAX + 1)},
            "description is 10001 characters",
        ),
    ],
)
def test_bounds_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(LimitExceededError) as caught:
        parse_proposal_draft(json.dumps(document(**changes)))
    assert message in caught.value.message


def test_a_draft_that_would_not_parse_is_not_written() -> None:
    with pytest.raises(RequestError, match="at least one call"):
        proposal_draft_text(ProposalDraft(title="t", description="", calls=()))
