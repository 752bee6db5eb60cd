from __future__ import annotations

import pytest

from causeway.errors import InvariantError
from causeway.storage import Store
from causeway.storage import store as store_module
from causeway.types.v1.types_pb2 import EventRecord

from . import _builders as build

HEIGHTS = range(1, 6)
TRANSACTIONS = 7


@pytest.fixture
def filled(store: Store) -> Store:
    for height in HEIGHTS:
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    return store


def expected_events(
    from_position: tuple[int, int, int] = (0, 0, 0), contract: str = "", name: str = ""
) -> list[EventRecord]:
    records = []
    for height in HEIGHTS:
        for index in range(TRANSACTIONS):
            for event_index, event in enumerate(build.events(height, index)):
                if (height, index, event_index) < from_position:
                    continue
                if contract and event.contract != contract:
                    continue
                if name and event.name != name:
                    continue
                record = EventRecord(
                    height=height,
                    transaction_index=index,
                    event_index=event_index,
                    transaction_id=build.transaction_id(height, index),
                )
                record.event.CopyFrom(event)
                records.append(record)
    return records


FILTERS = [
    ("", ""),
    ("ledger", ""),
    ("directory", ""),
    ("ledger", "Moved"),
    ("directory", "Noted"),
    ("", "Noted"),
    ("unknown", ""),
    ("ledger", "Unknown"),
]
POSITIONS = [(0, 0, 0), (1, 0, 0), (2, 2, 1), (2, 2, 2), (3, 5, 0), (3, 5, 1), (5, 6, 0), (6, 0, 0)]


@pytest.mark.parametrize(("contract", "name"), FILTERS)
@pytest.mark.parametrize("position", POSITIONS)
def test_iterate_events_matches_a_straight_scan(
    filled: Store, contract: str, name: str, position: tuple[int, int, int]
) -> None:
    assert list(filled.iterate_events(position, contract, name)) == expected_events(
        position, contract, name
    )


@pytest.mark.parametrize(("contract", "name"), FILTERS[:6])
def test_iterate_events_in_small_batches(
    filled: Store, monkeypatch: pytest.MonkeyPatch, contract: str, name: str
) -> None:
    monkeypatch.setattr(store_module, "EVENTS_PER_READ", 2)
    monkeypatch.setattr(store_module, "RESULTS_PER_READ", 3)
    for position in POSITIONS:
        assert list(filled.iterate_events(position, contract, name)) == expected_events(
            position, contract, name
        )


def test_events_are_in_position_order(filled: Store) -> None:
    positions = [
        (record.height, record.transaction_index, record.event_index)
        for record in filled.iterate_events((0, 0, 0), "", "")
    ]
    assert positions == sorted(positions)
    assert len(positions) == len(set(positions)) > 0


def test_iteration_sees_blocks_committed_while_it_runs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "EVENTS_PER_READ", 1)
    store.commit_block(build.record(1, transactions=TRANSACTIONS))
    events = store.iterate_events((0, 0, 0), "ledger", "")
    first = next(events)
    store.commit_block(build.record(2, transactions=TRANSACTIONS))
    rest = list(events)
    assert [first, *rest] == [
        record for record in expected_events((0, 0, 0), "ledger") if record.height <= 2
    ]


def test_no_events_before_any_block(store: Store) -> None:
    assert list(store.iterate_events((0, 0, 0), "", "")) == []
    assert list(store.iterate_events((0, 0, 0), "ledger", "Moved")) == []


def test_negative_position_is_refused(store: Store) -> None:
    with pytest.raises(InvariantError):
        store.iterate_events((1, -1, 0), "", "")
