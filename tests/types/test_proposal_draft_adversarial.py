"""A proposal's title is one line of text wherever it is checked: the draft file, the SDK's
writer and the proposals contract share check_proposal_text."""

from __future__ import annotations

import pytest

from causeway.errors import DecodeError, LimitExceededError
from causeway.types.proposal_draft import (
    PROPOSAL_TITLE_CHARACTERS_MAX,
    DraftCall,
    ProposalDraft,
    check_proposal_text,
    parse_proposal_draft,
    proposal_draft_text,
)

CALLS = (DraftCall("config", "update", b""),)


@pytest.mark.parametrize(
    "breaking",
    ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"],
)
def test_every_line_break_is_refused_in_a_title(breaking: str) -> None:
    title = f"Raise the limit{breaking}Also add org9"
    assert len(title.splitlines()) > 1
    with pytest.raises(DecodeError, match="one line"):
        check_proposal_text(title, "")


@pytest.mark.parametrize("control", ["\x1b[2J", "\x00", "\t", "\x7f", "\x9b"])
def test_control_characters_are_refused_in_a_title(control: str) -> None:
    with pytest.raises(DecodeError, match=f"U\\+{ord(control[0]):04X}"):
        check_proposal_text(f"Raise{control}the limit", "")


def test_a_draft_with_such_a_title_is_neither_written_nor_read() -> None:
    good = ProposalDraft(title="Raise the limit", description="", calls=CALLS)
    text = proposal_draft_text(good)
    with pytest.raises(DecodeError, match="one line"):
        parse_proposal_draft(text.replace("Raise the limit", "Raise\\u2028the limit"))
    with pytest.raises(DecodeError, match="one line"):
        proposal_draft_text(
            ProposalDraft(title="Raise\u2028the limit", description="", calls=CALLS)
        )


@pytest.mark.parametrize(
    "title",
    ["Raise the limit", "Ajouter l'organisation « org4 »", "组织 org4 加入", "x" * 200, "é" * 200],
)
def test_ordinary_titles_pass(title: str) -> None:
    assert len(title) <= PROPOSAL_TITLE_CHARACTERS_MAX
    check_proposal_text(title, "descriptions may have\nmany lines\tand tabs")


def test_the_bound_counts_characters_not_bytes() -> None:
    check_proposal_text("组" * PROPOSAL_TITLE_CHARACTERS_MAX, "")
    with pytest.raises(LimitExceededError, match="201 characters"):
        check_proposal_text("组" * (PROPOSAL_TITLE_CHARACTERS_MAX + 1), "")
