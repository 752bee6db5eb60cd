"""The directory service's search index (causeway.apps.directory.index): the contract's events,
built with directory_pb2 exactly as the contract emits them, applied in chain order; replays
change nothing; the checkpoint moves with the rows; a rebuild gives the same rows; Chinese and
English search; every filter, facet and sort; paging; bounds."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.protobuf.message import Message
from postgresql_server import PostgresqlServer

from causeway.apps.directory import catalogue
from causeway.apps.directory import index as index_module
from causeway.apps.directory.index import (
    FACET_FIELDS,
    FACET_LIMIT_MAX,
    QUERY_CHARS_MAX,
    ROWS_MAX,
    SCHEMA_VERSION,
    DirectoryEvent,
    DirectoryIndex,
    EventDataError,
    IndexedResource,
    IndexStore,
    PostgresStore,
    SearchQueryError,
    SqliteStore,
    TokenOwner,
    category_ancestor,
)
from causeway.apps.directory.v1 import directory_pb2 as d
from causeway.errors import ConfigurationError, InvariantError, NotFoundError, RequestError
from causeway.sdk.checkpoint import START, EventPosition
from causeway.types.v1 import types_pb2

CONTRACT = "directory"
BLOCK_TIME_MS = 1_000
GENESIS_MS = 1_767_225_600_000  # 2026-01-01


@dataclass
class ChainEvents:
    """Events in the order and shape a chain delivers them: each ``transaction`` is one block
    (its events share the transaction id and count up from index 0)."""

    height: int = 1
    events: list[DirectoryEvent] = field(default_factory=list)

    def transaction(self, *emitted: tuple[str, Message]) -> list[DirectoryEvent]:
        self.height += 1
        transaction_id = hashlib.sha256(f"tx-{self.height}".encode()).digest()
        produced: list[DirectoryEvent] = []
        for event_index, (name, message) in enumerate(emitted):
            if isinstance(message, d.ResourceVersion | d.SharingRequest):
                message.height = self.height
                message.transaction_id = transaction_id
            if isinstance(message, d.ResourceVersion):
                message.time_ms = self.time_ms
            produced.append(
                DirectoryEvent(
                    self.height, 0, event_index, transaction_id, name, message.SerializeToString()
                )
            )
        self.events.extend(produced)
        return produced

    @property
    def time_ms(self) -> int:
        return GENESIS_MS + self.height * BLOCK_TIME_MS


def version(
    code: str,
    number: int,
    metadata: d.ResourceMetadata,
    *,
    withdrawn: bool = False,
    reason: str = "",
) -> d.ResourceVersion:
    _, provider, _ = code.split("-")
    return d.ResourceVersion(
        code=code,
        version=number,
        directory_id="beijing",
        provider_code=provider,
        provider_organisation=f"org-{provider.lower()}",
        metadata=metadata,
        status=d.RESOURCE_STATUS_WITHDRAWN if withdrawn else d.RESOURCE_STATUS_ACTIVE,
        author=f"org-{provider.lower()}/staff",
        reason=reason,
    )


POPULATION = "10101-GAJ-000001"
ENTERPRISE = "20101-SCJGJ-000001"
MIGRANTS = "10101-HDGAJ-000001"
VEHICLES = "102-GAJ-000001"
ALL = [POPULATION, ENTERPRISE, MIGRANTS, VEHICLES]


def population_metadata() -> d.ResourceMetadata:
    return d.ResourceMetadata(
        category_code="10101",
        name="人口基本信息",
        name_en="Basic population information",
        abstract="全市户籍人口和常住人口的基本信息、包括姓名、性别、出生日期。",
        abstract_en="Registered and resident population of the city.",
        format="database",
        data_items=[
            d.DataItem(name="姓名", type="string", length=50),
            d.DataItem(name="公民身份号码", type="string", description="18 位", length=18),
            d.DataItem(name="出生日期", type="date"),
        ],
        sharing_type=d.SHARING_TYPE_CONDITIONAL,
        sharing_conditions="仅限政务用途、需说明法律依据",
        sharing_method="接口",
        openness=d.OPENNESS_NOT_OPEN,
        update_cycle=d.UPDATE_CYCLE_DAILY,
        publish_date="2026-01-05",
        duties=["户籍管理"],
        distributions=[
            d.Distribution(
                name="人口库接口",
                format="API",
                access_url="https://data.example.gov.cn/api/population",
            )
        ],
        keywords=["人口", "户籍"],
    )


def enterprise_metadata(name: str = "企业登记信息") -> d.ResourceMetadata:
    return d.ResourceMetadata(
        category_code="20101",
        name=name,
        name_en="Enterprise registration",
        abstract="市场主体的登记注册信息 (enterprise registration records)",
        format="file",
        data_items=[d.DataItem(name="统一社会信用代码", type="string", length=18)],
        sharing_type=d.SHARING_TYPE_UNCONDITIONAL,
        openness=d.OPENNESS_OPEN,
        update_cycle=d.UPDATE_CYCLE_MONTHLY,
        publish_date="2026-02-01",
        distributions=[
            d.Distribution(
                name="企业名录",
                format="XLSX",
                access_url="https://data.example.gov.cn/files/enterprises.xlsx",
                hash=hashlib.sha256(b"enterprises").digest(),
                hash_algorithm="SHA-256",
                byte_size=1234,
            ),
            d.Distribution(name="企业接口", format="API", access_url="https://x.example/api"),
        ],
        keywords=["企业", "市场主体"],
    )


def migrants_metadata() -> d.ResourceMetadata:
    return d.ResourceMetadata(
        category_code="10101",
        name="海淀区流动人口信息",
        abstract="辖区流动人口登记",
        format="database",
        sharing_type=d.SHARING_TYPE_NOT_SHARED,
        sharing_conditions="涉及个人隐私、依据《个人信息保护法》不予共享",
        openness=d.OPENNESS_NOT_OPEN,
        update_cycle=d.UPDATE_CYCLE_IRREGULAR,
        publish_date="2026-01-20",
        distributions=[
            d.Distribution(name="流动人口表", format="CSV", access_url="https://h/x.csv")
        ],
        keywords=["人口", "流动人口"],
    )


def vehicles_metadata() -> d.ResourceMetadata:
    return d.ResourceMetadata(
        category_code="102",
        name="机动车登记信息",
        name_en="Motor vehicle registration",
        abstract="机动车注册登记 vehicle records",
        format="api",
        sharing_type=d.SHARING_TYPE_UNCONDITIONAL,
        openness=d.OPENNESS_CONDITIONAL,
        update_cycle=d.UPDATE_CYCLE_REAL_TIME,
        publish_date="2025-12-01",
        distributions=[d.Distribution(name="车辆", format="CSV", access_url="https://v/x.csv")],
        keywords=["车辆"],
    )


def request(
    request_id: str,
    state: d.RequestState.ValueType,
    *,
    requester: str = "SCJGJ",
    reason: str = "",
    terms: str = "",
) -> d.SharingRequest:
    return d.SharingRequest(
        id=request_id,
        resource_code=POPULATION,
        resource_version=1,
        provider_code="GAJ",
        requester_code=requester,
        requester_member=f"org-{requester.lower()}/staff",
        purpose="企业法人身份核验",
        legal_basis="《市场主体登记管理条例》",
        state=state,
        created_ms=GENESIS_MS,
        answer_by_ms=GENESIS_MS + 15 * 86_400_000,
        reason=reason,
        terms=terms,
    )


def sample_chain() -> ChainEvents:
    """A small directory's history: the scheme, three departments (one a district's), four
    resources (one revised, one withdrawn), requests through their states and receipts."""
    chain = ChainEvents()
    chain.transaction(
        ("category_set", d.Category(code="1", name="基础信息资源", name_en="Basic", level=1)),
        (
            "category_set",
            d.Category(code="101", name="人口", name_en="Population", level=2, parent_code="1"),
        ),
        ("category_set", d.Category(code="10101", name="户籍人口", level=3, parent_code="101")),
        ("category_set", d.Category(code="102", name="车辆", level=2, parent_code="1")),
        ("category_set", d.Category(code="2", name="主题信息资源", name_en="Thematic", level=1)),
        ("category_set", d.Category(code="201", name="市场监管", level=2, parent_code="2")),
        ("category_set", d.Category(code="20101", name="市场主体", level=3, parent_code="201")),
    )
    chain.transaction(
        (
            "department_set",
            d.Department(
                code="GAJ",
                organisation="org-gaj",
                name="市公安局",
                name_en="Public Security Bureau",
                duties=["户籍管理", "车辆管理"],
            ),
        ),
        (
            "department_set",
            d.Department(
                code="SCJGJ",
                organisation="org-scjgj",
                name="市市场监督管理局",
                name_en="Market Regulation",
            ),
        ),
        (
            "department_set",
            d.Department(
                code="HDGAJ", organisation="org-hdgaj", name="海淀分局", district="haidian"
            ),
        ),
    )
    chain.transaction(("resource_registered", version(POPULATION, 1, population_metadata())))
    chain.transaction(("resource_registered", version(ENTERPRISE, 1, enterprise_metadata())))
    chain.transaction(("resource_registered", version(MIGRANTS, 1, migrants_metadata())))
    chain.transaction(("resource_registered", version(VEHICLES, 1, vehicles_metadata())))
    revised = enterprise_metadata("企业登记注册信息")
    revised.keywords.append("营业执照")
    chain.transaction(("resource_revised", version(ENTERPRISE, 2, revised, reason="更名")))
    chain.transaction(
        (
            "resource_withdrawn",
            version(MIGRANTS, 2, migrants_metadata(), withdrawn=True, reason="并入市级资源"),
        )
    )
    chain.transaction(("request_created", request("R0000000001", d.REQUEST_STATE_PENDING)))
    chain.transaction(
        ("request_created", request("R0000000002", d.REQUEST_STATE_PENDING, requester="HDGAJ"))
    )
    chain.transaction(
        ("request_approved", request("R0000000001", d.REQUEST_STATE_APPROVED)),
        (
            "request_refused",
            request("R0000000002", d.REQUEST_STATE_REFUSED, requester="HDGAJ", reason="用途不符"),
        ),
    )
    chain.transaction(
        (
            "usage_recorded",
            d.UsageReceipt(
                request_id="R0000000001",
                sequence=1,
                accessed_by="org-scjgj/staff",
                time_ms=GENESIS_MS,
                records=10,
            ),
        ),
        (
            "usage_recorded",
            d.UsageReceipt(
                request_id="R0000000001",
                sequence=2,
                accessed_by="org-scjgj/staff",
                time_ms=GENESIS_MS,
                records=5,
                digest=b"\x01" * 32,
            ),
        ),
    )
    return chain


@pytest.fixture
def chain() -> ChainEvents:
    return sample_chain()


StoreFactory = Callable[[], IndexStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Fresh stores of one backend: SQLite in memory, or a database of its own on the session's
    real PostgreSQL server; all closed at the end."""
    made: list[IndexStore] = []

    def make() -> IndexStore:
        store: IndexStore
        if request.param == "sqlite":
            store = SqliteStore()
        else:
            server: PostgresqlServer = request.getfixturevalue("postgresql_server")
            store = PostgresStore(server.new_database())
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def index(chain: ChainEvents, new_store: StoreFactory) -> DirectoryIndex:
    built = DirectoryIndex(new_store())
    built.apply(chain.events)
    return built


def codes(index: DirectoryIndex, q: str = "", **options: object) -> list[str]:
    options.setdefault("sort", "code asc")
    page = index.search(q, rows=ROWS_MAX, **options)  # type: ignore[arg-type]
    return [item.record.code for item in page.results]


# ------------------------------------------------------------------------------ events


def test_an_event_record_from_the_stream_becomes_a_directory_event() -> None:
    record = types_pb2.EventRecord(
        height=7,
        transaction_index=2,
        event_index=1,
        transaction_id=b"\x07" * 32,
        event=types_pb2.Event(contract=CONTRACT, name="category_set", data=b"\x0a\x011"),
    )
    event = DirectoryEvent.from_record(record)
    assert event == DirectoryEvent(7, 2, 1, b"\x07" * 32, "category_set", b"\x0a\x011")
    assert event.position == EventPosition(7, 2, 1)


def test_registration_revision_and_withdrawal_keep_the_latest_and_every_version(
    index: DirectoryIndex, chain: ChainEvents
) -> None:
    enterprise = index.resource(ENTERPRISE)
    assert enterprise.record.version == 2
    assert enterprise.record.metadata.name == "企业登记注册信息"
    assert enterprise.record.reason == "更名"
    registered = next(
        e for e in chain.events if e.name == "resource_registered" and ENTERPRISE.encode() in e.data
    )
    revised = next(e for e in chain.events if e.name == "resource_revised")
    assert enterprise.created_ms == GENESIS_MS + registered.height * BLOCK_TIME_MS
    assert enterprise.modified_ms == GENESIS_MS + revised.height * BLOCK_TIME_MS
    assert (enterprise.height, enterprise.transaction_id) == (
        revised.height,
        revised.transaction_id,
    )
    assert [item.version for item in index.versions(ENTERPRISE)] == [1, 2]
    migrants = index.resource(MIGRANTS)
    assert migrants.record.status == d.RESOURCE_STATUS_WITHDRAWN
    assert migrants.district == "haidian"
    assert [item.status for item in index.versions(MIGRANTS)] == [
        d.RESOURCE_STATUS_ACTIVE,
        d.RESOURCE_STATUS_WITHDRAWN,
    ]
    assert index.resource_codes() == sorted([POPULATION, ENTERPRISE, VEHICLES])
    with pytest.raises(NotFoundError):
        index.resource("1-NONE-000001")


def test_requests_through_their_states_and_receipts(index: DirectoryIndex) -> None:
    assert index.request("R0000000001").state == d.REQUEST_STATE_APPROVED
    refused = index.request("R0000000002")
    assert (refused.state, refused.reason) == (d.REQUEST_STATE_REFUSED, "用途不符")
    assert [item.state for item in index.request_history("R0000000002")] == [
        d.REQUEST_STATE_PENDING,
        d.REQUEST_STATE_REFUSED,
    ]
    assert [(item.sequence, item.records) for item in index.receipts("R0000000001")] == [
        (1, 10),
        (2, 5),
    ]
    assert index.receipts("R0000000002") == []
    with pytest.raises(NotFoundError):
        index.request("R9999999999")


def test_categories_and_departments_with_their_active_resource_counts(
    index: DirectoryIndex,
) -> None:
    categories = {item.code: count for item, count in index.categories()}
    # Level 1 "1" holds the population and vehicle resources (the migrants one is withdrawn).
    assert categories == {"1": 2, "101": 1, "10101": 1, "102": 1, "2": 1, "201": 1, "20101": 1}
    departments = {item.code: count for item, count in index.departments()}
    assert departments == {"GAJ": 2, "SCJGJ": 1, "HDGAJ": 0}
    assert index.department("HDGAJ").district == "haidian"
    with pytest.raises(NotFoundError):
        index.department("NONE")


def test_a_replayed_event_is_a_no_op_and_the_checkpoint_is_the_last_position(
    index: DirectoryIndex, chain: ChainEvents
) -> None:
    before = index.snapshot()
    assert index.checkpoint() == chain.events[-1].position
    assert index.apply(chain.events) == 0
    assert index.apply(chain.events[-3:]) == 0
    assert index.snapshot() == before
    assert before["index_checkpoint"] == [(0, *chain.events[-1].position)]


def test_a_follower_that_resumes_from_an_overlapping_position_applies_only_the_new(
    chain: ChainEvents,
) -> None:
    whole = DirectoryIndex()
    whole.apply(chain.events)
    resumed = DirectoryIndex()
    assert resumed.checkpoint() == START
    middle = len(chain.events) // 2
    assert resumed.apply(chain.events[:middle]) == middle
    assert resumed.checkpoint() == chain.events[middle - 1].position
    # The stream resumes at the height of the last event: the block's earlier events again.
    assert resumed.apply(chain.events[middle - 3 :]) == len(chain.events) - middle
    assert resumed.snapshot() == whole.snapshot()


def test_following_an_sdk_event_stream(chain: ChainEvents) -> None:
    def records(events: list[DirectoryEvent]) -> Iterator[types_pb2.EventRecord]:
        for event in events:
            yield types_pb2.EventRecord(
                height=event.height,
                transaction_index=event.transaction_index,
                event_index=event.event_index,
                transaction_id=event.transaction_id,
                event=types_pb2.Event(contract=CONTRACT, name=event.name, data=event.data),
            )
            # Another contract's event in the same transaction is not the directory's.
            yield types_pb2.EventRecord(
                height=event.height,
                event_index=event.event_index + 100,
                event=types_pb2.Event(contract="other", name="category_set", data=b"\xff"),
            )

    index = DirectoryIndex()
    checkpoint = index.as_checkpoint()
    assert checkpoint.load() == START
    middle = len(chain.events) // 2
    assert index.follow(records(chain.events[:middle]), CONTRACT) == middle
    assert checkpoint.load() == chain.events[middle - 1].position
    checkpoint.save(START)  # the index keeps its own position
    assert checkpoint.load() == chain.events[middle - 1].position
    # A reconnect resumes at the last event's height: the overlap is skipped.
    assert index.follow(records(chain.events[middle - 2 :]), CONTRACT) == len(chain.events) - middle
    reference = DirectoryIndex()
    reference.apply(chain.events)
    assert index.snapshot() == reference.snapshot()


def test_rebuild_gives_exactly_the_rows_of_incremental_application(
    chain: ChainEvents, new_store: StoreFactory
) -> None:
    incremental = DirectoryIndex(new_store())
    for event in chain.events:
        assert incremental.apply([event]) == 1
    rebuilt = DirectoryIndex(new_store())
    assert rebuilt.rebuild(chain.events) == len(chain.events)
    assert rebuilt.snapshot() == incremental.snapshot()
    # Rebuilding an index that has rows (and a token) starts from empty tables, keeps tokens.
    token = incremental.issue_token("org-gaj/staff", "GAJ", "portal", now_ms=1)
    assert incremental.rebuild(chain.events) == len(chain.events)
    assert incremental.snapshot() == rebuilt.snapshot()
    assert incremental.token_owner(token) is not None
    assert all(len(rows) > 0 for rows in rebuilt.snapshot().values())
    # And both stores hold the same rows, value for value.
    reference = DirectoryIndex(SqliteStore())
    reference.apply(chain.events)
    assert rebuilt.snapshot() == reference.snapshot()


def test_the_checkpoint_and_rows_survive_a_reopen(chain: ChainEvents, tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    first = SqliteStore(path)
    DirectoryIndex(first).apply(chain.events[:5])
    first.close()
    reopened = DirectoryIndex(SqliteStore(path))
    assert reopened.checkpoint() == chain.events[4].position
    reopened.apply(chain.events)
    fresh = DirectoryIndex()
    fresh.apply(chain.events)
    assert reopened.snapshot() == fresh.snapshot()


def test_an_undecodable_event_writes_nothing_of_its_batch(
    chain: ChainEvents, new_store: StoreFactory
) -> None:
    index = DirectoryIndex(new_store())
    index.apply(chain.events[:3])
    before = index.snapshot()
    following = chain.events[3]
    broken = DirectoryEvent(
        following.height + 100, 0, 0, b"\x00" * 32, "resource_registered", b"\xff\xff"
    )
    with pytest.raises(EventDataError):
        index.apply([following, broken])
    assert index.snapshot() == before
    assert index.checkpoint() == chain.events[2].position
    assert isinstance(EventDataError("x"), RequestError)


def test_two_resources_never_share_a_full_text_row(
    chain: ChainEvents, new_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Full-text rows are found by a 63-bit hash of the code; were two codes to collide, the
    # index stops rather than replace one resource's text with the other's: applied one event
    # at a time, or rebuilt (PostgreSQL's in COPY batches: within one, and across two).
    monkeypatch.setattr(index_module, "_text_rowid", lambda code: 7)
    for batch in (100, 1):
        monkeypatch.setattr(index_module, "COPY_BATCH_RESOURCES", batch)
        index = DirectoryIndex(new_store())
        with pytest.raises(InvariantError, match="share a full-text row"):
            index.apply(chain.events)
        assert index.checkpoint() == START
        with pytest.raises(InvariantError, match="share a full-text row"):
            index.rebuild(chain.events)
        assert index.checkpoint() == START and index.snapshot()["resources"] == []


def test_a_rebuild_in_batches_gives_the_rows_of_one_event_at_a_time(
    chain: ChainEvents, new_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's rebuild holds resources and writes them by COPY in batches (here of two):
    revisions across batches, a department recorded again after its resources (the writer
    writes what it holds before it reads them back), a district's rolled-up resource and an
    older version arriving after a newer one give the rows SQLite gives one event at a
    time."""
    monkeypatch.setattr(index_module, "COPY_BATCH_RESOURCES", 2)
    chain.transaction(("resource_revised", version(POPULATION, 2, population_metadata())))
    chain.transaction(
        (
            "department_set",
            d.Department(code="GAJ", organisation="org-gaj", name="市警察局", district="dongcheng"),
        )
    )
    district = version("101-HDJ-000001", 1, population_metadata())
    district.provider_code = "HDJ"
    rolled_up = d.RolledUpResource(
        district_code="HD",
        district_chain_id="haidian",
        client_id="07-causeway-1",
        resource=district,
    )
    chain.transaction(("resource_rolled_up", rolled_up))
    chain.transaction(("resource_revised", version(VEHICLES, 2, vehicles_metadata())))
    chain.transaction(("resource_revised", version(VEHICLES, 1, vehicles_metadata())))
    reference = DirectoryIndex(SqliteStore())
    for event in chain.events:
        reference.apply([event])
    rebuilt = DirectoryIndex(new_store())
    assert rebuilt.rebuild(chain.events) == len(chain.events)
    assert rebuilt.snapshot() == reference.snapshot()
    assert rebuilt.resource(POPULATION).record.version == 2
    assert codes(rebuilt, "警察局") == [POPULATION, VEHICLES]
    assert codes(rebuilt, filters={"district": ["HD"]}) == ["101-HDJ-000001"]


def test_events_out_of_chain_order_are_an_invariant_error(chain: ChainEvents) -> None:
    index = DirectoryIndex()
    with pytest.raises(InvariantError):
        index.apply([chain.events[5], chain.events[4]])
    assert index.checkpoint() == START


def test_an_unknown_event_name_only_moves_the_checkpoint(chain: ChainEvents) -> None:
    index = DirectoryIndex()
    index.apply(chain.events)
    before = index.snapshot()
    last = chain.events[-1]
    future = DirectoryEvent(last.height + 1, 0, 0, b"\x01" * 32, "directory_renamed", b"\x01")
    assert index.apply([future]) == 1
    after = index.snapshot()
    assert after["index_checkpoint"] == [(0, last.height + 1, 0, 0)]
    assert {k: v for k, v in after.items() if k != "index_checkpoint"} == {
        k: v for k, v in before.items() if k != "index_checkpoint"
    }


def test_a_department_set_after_its_resources_reindexes_their_district_and_text(
    index: DirectoryIndex, chain: ChainEvents
) -> None:
    assert codes(index, "公安") == [POPULATION, VEHICLES]
    chain.transaction(
        (
            "department_set",
            d.Department(code="GAJ", organisation="org-gaj", name="市警察局", district="dongcheng"),
        )
    )
    index.apply(chain.events)
    assert codes(index, "公安") == []
    assert codes(index, "警察局") == [POPULATION, VEHICLES]
    assert codes(index, filters={"district": ["dongcheng"]}) == [POPULATION, VEHICLES]


# ------------------------------------------------------------------------------ search


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("人口", [MIGRANTS, POPULATION]),  # two characters: matched without a trigram
        ("口人", []),  # both characters occur, never in this order side by side
        ("人口基本", [POPULATION]),  # four: a trigram MATCH
        ("身份号码", [POPULATION]),  # a data item's name
        ("市场监督", [ENTERPRISE]),  # the department's name
        ("营业执照", [ENTERPRISE]),  # a keyword of the revision only
        ("企业 接口", []),  # every term must occur: 接口 is a distribution's, not indexed text
        ("户籍 姓名", [POPULATION]),
        ("enterprise", [ENTERPRISE]),
        ("ENTERPRISE Registration", [ENTERPRISE]),
        ('"vehicle records"', [VEHICLES]),
        ('"records vehicle"', []),
        ("registration", [ENTERPRISE, VEHICLES]),
        ("车", [VEHICLES]),
        ("50%", []),
        ("a_b", []),
        ("", [ENTERPRISE, MIGRANTS, POPULATION, VEHICLES]),
        ("*:*", [ENTERPRISE, MIGRANTS, POPULATION, VEHICLES]),
    ],
)
def test_full_text_search_in_chinese_and_english(
    index: DirectoryIndex, q: str, expected: list[str]
) -> None:
    assert sorted(codes(index, q)) == sorted(expected)


def test_a_match_in_the_name_scores_above_a_match_in_the_abstract(index: DirectoryIndex) -> None:
    page = index.search("registration", sort=[("score", "desc")])
    assert [item.record.code for item in page.results] == [ENTERPRISE, VEHICLES]
    assert page.results[0].score > page.results[1].score > 0
    ascending = index.search("registration", sort=[("score", "asc")])
    assert [item.record.code for item in ascending.results] == [VEHICLES, ENTERPRISE]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"department": ["GAJ"]}, [POPULATION, VEHICLES]),
        ({"department": ["GAJ", "SCJGJ"]}, [ENTERPRISE, POPULATION, VEHICLES]),
        ({"district": ["haidian"]}, [MIGRANTS]),
        ({"category": ["10101"]}, [MIGRANTS, POPULATION]),
        ({"category_level1": ["1"]}, [MIGRANTS, POPULATION, VEHICLES]),
        ({"category_level2": ["101"]}, [MIGRANTS, POPULATION]),
        ({"category_any": ["102"]}, [VEHICLES]),  # an item, the resource's own category
        ({"category_any": ["2"]}, [ENTERPRISE]),  # a level-1 category
        ({"category_any": ["1"]}, [MIGRANTS, POPULATION, VEHICLES]),
        ({"category_any": ["101"]}, [MIGRANTS, POPULATION]),  # an item above the category
        ({"category_any": ["10101"]}, [MIGRANTS, POPULATION]),  # a sub-item
        ({"category_any": ["20101", "102"]}, [ENTERPRISE, VEHICLES]),  # two levels at once
        ({"category_any": ["2", "101"]}, [ENTERPRISE, MIGRANTS, POPULATION]),
        ({"category_any": ["10"]}, []),  # a level-1 code no resource is under
        ({"sharing_type": ["not_shared"]}, [MIGRANTS]),
        ({"sharing_type": ["unconditional"]}, [ENTERPRISE, VEHICLES]),
        ({"format": ["database"]}, [MIGRANTS, POPULATION]),
        ({"res_format": ["API"]}, [ENTERPRISE, POPULATION]),
        ({"res_format": ["CSV", "XLSX"]}, [ENTERPRISE, MIGRANTS, VEHICLES]),
        ({"update_cycle": ["real_time"]}, [VEHICLES]),
        ({"openness": ["open", "conditional"]}, [ENTERPRISE, VEHICLES]),
        ({"status": ["withdrawn"]}, [MIGRANTS]),
        ({"keyword": ["人口"]}, [MIGRANTS, POPULATION]),
        ({"code": [VEHICLES]}, [VEHICLES]),
        ({"keyword": ["人口"], "status": ["active"]}, [POPULATION]),
        ({"department": ["NONE"]}, []),
    ],
)
def test_every_filter(
    index: DirectoryIndex, filters: dict[str, list[str]], expected: list[str]
) -> None:
    assert codes(index, filters=filters, sort="code asc") == sorted(expected)


def test_clauses_on_the_same_field_all_hold(index: DirectoryIndex) -> None:
    both = [("keyword", ["人口"]), ("keyword", ["户籍"])]
    assert codes(index, filters=both) == [POPULATION]
    assert codes(index, "人口", filters=[("res_format", ["CSV"])]) == [MIGRANTS]


def test_every_facet_counts_within_the_matches(index: DirectoryIndex) -> None:
    page = index.search(facet_fields=sorted(FACET_FIELDS), rows=0)
    assert page.count == 4 and page.results == ()
    assert page.facets == {
        "category": (("10101", 2), ("102", 1), ("20101", 1)),
        "category_level1": (("1", 3), ("2", 1)),
        "category_level2": (("101", 2), ("102", 1), ("201", 1)),
        "department": (("GAJ", 2), ("HDGAJ", 1), ("SCJGJ", 1)),
        "district": (("haidian", 1),),
        "format": (("database", 2), ("api", 1), ("file", 1)),
        "keyword": (
            ("人口", 2),
            ("企业", 1),
            ("市场主体", 1),
            ("户籍", 1),
            ("流动人口", 1),
            ("营业执照", 1),
            ("车辆", 1),
        ),
        "openness": (("not_open", 2), ("conditional", 1), ("open", 1)),
        "res_format": (("API", 2), ("CSV", 2), ("XLSX", 1)),
        "sharing_type": (("unconditional", 2), ("conditional", 1), ("not_shared", 1)),
        "status": (("active", 3), ("withdrawn", 1)),
        "update_cycle": (("daily", 1), ("irregular", 1), ("monthly", 1), ("real_time", 1)),
    }
    narrowed = index.search("人口", facet_fields=["department", "keyword"], facet_limit=2)
    assert narrowed.facets == {
        "department": (("GAJ", 1), ("HDGAJ", 1)),
        "keyword": (("人口", 2), ("户籍", 1)),
    }


def test_facets_of_active_resources_leave_a_withdrawn_ones_values_out(
    index: DirectoryIndex,
) -> None:
    """The whole directory's active resources (what the CKAN API asks by default): the
    multi-valued facets are counted from their own tables, which keep each resource's status."""
    page = index.search(
        filters={"status": ["active"]}, facet_fields=["keyword", "res_format"], rows=1_000
    )
    assert MIGRANTS not in [item.record.code for item in page.results]
    keywords = Counter(k for item in page.results for k in set(item.record.metadata.keywords))
    formats = Counter(
        f for item in page.results for f in {d.format for d in item.record.metadata.distributions}
    )
    assert dict(page.facets["keyword"]) == dict(keywords)
    assert dict(page.facets["res_format"]) == dict(formats)
    assert "流动人口" not in dict(page.facets["keyword"])  # the withdrawn resource's alone


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("code asc", sorted(ALL)),
        ("code desc", sorted(ALL, reverse=True)),
        # Names compare by code point: 人 (U+4EBA) < 企 (U+4F01) < 机 < 海.
        ("name asc", [POPULATION, ENTERPRISE, VEHICLES, MIGRANTS]),
        ("created asc", [POPULATION, ENTERPRISE, MIGRANTS, VEHICLES]),
        ("modified desc", [MIGRANTS, ENTERPRISE, VEHICLES, POPULATION]),
        ("publish_date asc", [VEHICLES, POPULATION, MIGRANTS, ENTERPRISE]),
        ([("sharing_type", "asc")], None),
    ],
)
def test_sort(index: DirectoryIndex, sort: object, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(SearchQueryError):
            codes(index, sort=sort)
        return
    assert codes(index, sort=sort) == expected


def test_paging_walks_every_match_once(index: DirectoryIndex) -> None:
    seen: list[str] = []
    for start in range(0, 6, 2):
        page = index.search(sort="code asc", rows=2, start=start)
        assert page.count == 4
        seen.extend(item.record.code for item in page.results)
    assert seen == sorted(ALL)


@pytest.mark.parametrize(
    "options",
    [
        {"q": "x" * (QUERY_CHARS_MAX + 1)},
        {"q": 'an "unclosed phrase'},
        {"q": "bell\x07"},
        {"q": " ".join(f"t{n}" for n in range(40))},
        {"q": 5},
        {"rows": ROWS_MAX + 1},
        {"rows": -1},
        {"rows": True},
        {"rows": "10"},
        {"start": -1},
        {"start": 10**9},
        {"facet_limit": FACET_LIMIT_MAX + 1},
        {"facet_fields": ["title"]},
        {"facet_fields": "department"},
        {"facet_fields": ["department"] * 17},
        {"filters": {"title": ["x"]}},
        {"filters": {"department": "GAJ"}},
        {"filters": {"department": []}},
        {"filters": {"department": ["x" * 201]}},
        {"filters": {"department": [7]}},
        {"filters": [("department",)]},
        {"filters": [("department", ["GAJ"])] * 33},
        {"sort": "score sideways"},
        {"sort": "title asc"},
        {"sort": "code asc extra"},
        {"sort": [("code", "asc")] * 5},
        {"sort": []},
    ],
)
def test_bad_search_input_is_a_search_query_error(
    index: DirectoryIndex, options: dict[str, object]
) -> None:
    with pytest.raises(SearchQueryError) as raised:
        index.search(**options)  # type: ignore[arg-type]
    assert raised.value.reason == "bad_search"
    assert isinstance(raised.value, RequestError)


# ------------------------------------------------------------------------------ tokens and helpers


def test_tokens_are_kept_only_as_their_hash(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    index = DirectoryIndex(SqliteStore(path))
    token = index.issue_token("org-gaj/staff", "GAJ", "portal", now_ms=5)
    owner = index.token_owner(token)
    assert owner is not None and (owner.member, owner.department_code) == ("org-gaj/staff", "GAJ")
    assert index.token_owner(token + "x") is None
    assert index.token_owner("") is None
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert stored == [(hashlib.sha256(token.encode()).digest(),)]
    assert token.encode() not in path.read_bytes()
    assert index.revoke_token(token)
    assert index.token_owner(token) is None
    assert not index.revoke_token(token)


def test_an_administrators_token_and_the_escalated_requests(
    chain: ChainEvents, new_store: StoreFactory
) -> None:
    """An administrator's token may act for no department (a department's may not act for
    none); the inbox holds the ESCALATED requests, the oldest first, and loses one once it is
    answered."""
    index = DirectoryIndex(new_store())
    index.apply(chain.events)
    token = index.issue_token("org-office/secretary", "", "inbox", now_ms=5, administrator=True)
    assert index.token_owner(token) == TokenOwner("org-office/secretary", "", "inbox", True)
    clerk = index.issue_token("org-gaj/staff", "GAJ", "portal", now_ms=5)
    assert index.token_owner(clerk) == TokenOwner("org-gaj/staff", "GAJ", "portal", False)
    with pytest.raises(RequestError, match="a department or the administrators"):
        index.issue_token("org-gaj/staff", "", "portal", now_ms=5)
    assert index.escalated_requests() == []
    for request_id in ("R0000000003", "R0000000004"):
        chain.transaction(("request_created", request(request_id, d.REQUEST_STATE_PENDING)))
    for request_id in ("R0000000004", "R0000000003"):
        chain.transaction(("request_escalated", request(request_id, d.REQUEST_STATE_ESCALATED)))
    index.apply(chain.events)
    escalated = index.escalated_requests()
    assert [item.id for item in escalated] == ["R0000000004", "R0000000003"]
    assert {item.state for item in escalated} == {d.REQUEST_STATE_ESCALATED}
    assert [item.id for item in index.escalated_requests(limit=1)] == ["R0000000004"]
    with pytest.raises(SearchQueryError):
        index.escalated_requests(limit=-1)
    answered = request("R0000000004", d.REQUEST_STATE_APPROVED)
    chain.transaction(("request_approved", answered))
    index.apply(chain.events)
    assert [item.id for item in index.escalated_requests()] == ["R0000000003"]


def test_an_index_of_schema_version_3_gains_the_administrator_column_and_keeps_its_tokens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO index_meta VALUES ('schema_version', '3');"
            "CREATE TABLE api_tokens (token_hash BLOB PRIMARY KEY, member TEXT NOT NULL,"
            " department_code TEXT NOT NULL, label TEXT NOT NULL, created_ms INTEGER NOT NULL);"
        )
        connection.execute(
            "INSERT INTO api_tokens VALUES (?, 'org-gaj/staff', 'GAJ', 'portal', 1)",
            (hashlib.sha256(b"kept").digest(),),
        )
    connection.close()
    index = DirectoryIndex(SqliteStore(path))
    assert index.token_owner("kept") == TokenOwner("org-gaj/staff", "GAJ", "portal", False)
    index.store.close()
    with sqlite3.connect(path) as connection:
        (version_text,) = connection.execute("SELECT value FROM index_meta").fetchone()
    connection.close()
    assert version_text == SCHEMA_VERSION


def test_category_ancestors_are_prefixes_of_the_code() -> None:
    assert [category_ancestor("10101", level) for level in (1, 2, 3)] == ["1", "101", "10101"]
    assert [category_ancestor("990101", level) for level in (1, 2, 3)] == ["99", "9901", "990101"]
    assert category_ancestor("102", 3) == ""
    assert category_ancestor("", 1) == ""


def test_an_index_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    SqliteStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE index_meta SET value = '0'")
    with pytest.raises(ConfigurationError):
        SqliteStore(path)


def _generated_events(count: int) -> list[DirectoryEvent]:
    """A generated catalogue (causeway.apps.directory.catalogue) as the contract's events."""
    departments = catalogue.city_departments(8)
    events: list[DirectoryEvent] = []

    def add(name: str, message: Message) -> None:
        height = len(events) + 1
        events.append(
            DirectoryEvent(
                height, 0, 0, height.to_bytes(32, "big"), name, message.SerializeToString()
            )
        )

    for category in catalogue.categories():
        add("category_set", category)
    for department in departments:
        add("department_set", department)
    for number, generated in enumerate(catalogue.resources(departments, count, seed=11)):
        add(
            "resource_registered",
            d.ResourceVersion(
                code=f"{generated.metadata.category_code}-{generated.department.code}-{number:06d}",
                version=1,
                directory_id="beijing",
                provider_code=generated.department.code,
                provider_organisation=generated.department.organisation,
                metadata=generated.metadata,
                status=d.RESOURCE_STATUS_ACTIVE,
                author="x/clerk",
                height=len(events) + 1,
                time_ms=1_800_000_000_000 + number,
                transaction_id=bytes(32),
            ),
        )
    return events


def test_short_chinese_terms_match_exactly_the_resources_that_contain_them(
    new_store: StoreFactory,
) -> None:
    """One- and two-character Chinese terms (below the trigram) are answered from an index
    (SQLite's resource_characters, PostgreSQL's pg_trgm) with the same hits as a substring scan
    of the searched text would give."""
    index = DirectoryIndex(new_store())
    index.apply(_generated_events(300))
    everything = index.search(rows=1_000).results
    assert len(everything) == 300

    def contains(resource: IndexedResource, term: str) -> bool:
        metadata = resource.record.metadata
        department = index.department(resource.record.provider_code)
        text = " ".join(
            [
                metadata.name,
                metadata.abstract,
                *metadata.keywords,
                *(item.name for item in metadata.data_items),
                department.name,
            ]
        )
        return term in text

    for term in ("企业", "许可", "信", "市", "监管", "处罚", "龙"):
        expected = sorted(r.record.code for r in everything if contains(r, term))
        found = codes(index, term)
        assert found == expected, term
    assert codes(index, "企业 许可") == sorted(
        r.record.code for r in everything if contains(r, "企业") and contains(r, "许可")
    )


def test_spaced_characters_makes_each_chinese_character_a_word() -> None:
    assert index_module.spaced_characters("人口ab 信息2026") == " 人  口 ab  信  息 2026"
    assert index_module.spaced_characters("𠀀") == " 𠀀 "  # extension B
    assert index_module.spaced_characters("plain text") == "plain text"


def test_facets_of_a_filtered_search_count_only_its_hits(new_store: StoreFactory) -> None:
    """Facets over a filtered subset (counted from the search's collected hits) and over the
    whole directory (counted from the resources' indexes) agree with counting the results."""
    index = DirectoryIndex(new_store())
    index.apply(_generated_events(300))
    for filters in ({"sharing_type": ["conditional"]}, {"res_format": ["CSV"]}, {}):
        page = index.search(
            filters=filters,
            facet_fields=["department", "update_cycle", "res_format"],
            facet_limit=1_000,
            rows=1_000,
        )
        assert page.count == len(page.results) > 0
        departments = Counter(result.record.provider_code for result in page.results)
        assert dict(page.facets["department"]) == dict(departments), filters
        formats = Counter(
            distribution.format
            for result in page.results
            for distribution in {
                item.format: item for item in result.record.metadata.distributions
            }.values()
        )
        assert dict(page.facets["res_format"]) == dict(formats), filters


@pytest.mark.parametrize(
    "sort", ["name asc", "modified desc", "created asc", "publish_date desc", "code desc"]
)
def test_a_filtered_search_pages_the_same_with_facets_or_without(
    new_store: StoreFactory, sort: str
) -> None:
    """With facets a filtered search collects its hits first (one pass) and pages from them;
    without, it pages from the resources' indexes: the same order and pages either way."""
    index = DirectoryIndex(new_store())
    index.apply(_generated_events(300))
    for filters in ({"sharing_type": ["conditional"]}, {"res_format": ["CSV"]}):
        for start in (0, 7, 40):
            plain = index.search(filters=filters, sort=sort, rows=15, start=start)
            faceted = index.search(
                filters=filters, sort=sort, rows=15, start=start, facet_fields=["department"]
            )
            assert plain.count == faceted.count > 15
            assert [item.record.code for item in faceted.results] == [
                item.record.code for item in plain.results
            ], (filters, start)


def test_a_rebuild_on_postgresql_builds_its_text_indexes_again(
    postgresql_server: PostgresqlServer,
) -> None:
    """A rebuild drops the GIN indexes of the text and makes them once at the end, in its own
    transaction: afterwards they are all there, and a failed rebuild leaves them as they were."""
    store = PostgresStore(postgresql_server.new_database())
    try:
        index = DirectoryIndex(store)
        index.rebuild(_generated_events(50))

        def text_indexes() -> set[str]:
            rows = store._db.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename IN"
                " ('resource_text', 'resource_characters') AND indexdef LIKE ?",
                ("%USING gin%",),
            ).fetchall()
            return {row[0] for row in rows}

        expected = {"resource_characters_text"} | {
            f"resource_text_{column}"
            for column in ("name", "abstract", "keywords", "data_items", "department")
        }
        assert text_indexes() == expected
        # The session reads the index as memory, not disk (a common term through its trigram
        # indexes, not a scan of every text).
        (cost,) = store._db.execute("SHOW random_page_cost").fetchone()
        assert float(cost) == index_module.RANDOM_PAGE_COST
        # A term of two Chinese characters (the character index) and one of four (trigrams).
        first = index.search(rows=1, sort="code asc").results[0].record
        for term in (first.metadata.name[:2], first.metadata.name[:4]):
            found = [item.record.code for item in index.search(term, rows=100).results]
            assert first.code in found, term
        broken = [
            *_generated_events(3),
            DirectoryEvent(10_000, 0, 0, b"\x01" * 32, "category_set", b"\xff"),
        ]
        with pytest.raises(EventDataError):
            index.rebuild(broken)
        assert text_indexes() == expected
        assert index.search(rows=0).count == 50
    finally:
        store.close()
