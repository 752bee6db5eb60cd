"""The explorer's tables of proposal statuses and events against proposals.proto, read from the
JavaScript source without a browser: a status the contract gains but the explorer does not know
would show as a bare number (the browser suite shows the names rendered)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from causeway.contracts.v1 import proposals_pb2
from causeway.execution.contracts import proposals as proposals_contract

STATIC = Path(proposals_contract.__file__).resolve().parents[2] / "explorer" / "static"


def _array(name: str, pattern: str) -> list[str]:
    source = (STATIC / "app.js").read_text()
    found = re.search(pattern.format(name=name), source)
    assert found, f"{name} not found in app.js"
    names: list[str] = json.loads(found.group(1))
    return names


def test_every_proposal_status_has_its_name_at_its_number() -> None:
    statuses = _array("PROPOSAL_STATUSES", r"const {name} = (\[[^\]]*\]);")
    expected = [
        name.removeprefix("PROPOSAL_STATUS_").lower()
        for name, _number in sorted(
            proposals_pb2.ProposalStatus.items(), key=lambda item: int(item[1])
        )
    ]
    assert statuses == expected
    assert [int(number) for _name, number in proposals_pb2.ProposalStatus.items()] == list(
        range(len(expected))
    )


def test_the_events_that_end_a_proposal_are_its_final_statuses() -> None:
    endings = _array("PROPOSAL_ENDINGS", r"const {name} = new Set\((\[[^\]]*\])\);")
    assert sorted(endings) == ["executed", "failed", "rejected", "withdrawn"]
    statuses = _array("PROPOSAL_STATUSES", r"const {name} = (\[[^\]]*\]);")
    assert set(endings) <= set(statuses)
