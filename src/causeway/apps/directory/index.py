"""The directory service's search index: the directory contract's events, applied in chain order,
into tables a search, a facet count and the CKAN-compatible API read.

The chain holds the truth; this index holds nothing it cannot rebuild from the contract's events
(directory.proto lists them). ``DirectoryIndex`` is the core: it decodes each event, derives the
rows it produces and hands them to an ``IndexStore`` inside one store transaction together with
the event's position, which is the checkpoint. So a crash leaves the rows and the checkpoint of
the same event, never one without the other, and a replayed event (a position at or before the
checkpoint) changes nothing. ``rebuild`` starts from empty tables and applies every event again:
its ``snapshot`` equals the one incremental application gave.

``SqliteStore`` is the default store (stdlib ``sqlite3``, FTS5). Full-text search uses FTS5's
``trigram`` tokenizer (SQLite 3.34 and later): Chinese is written without spaces, so a word-based
tokenizer would index a whole sentence as one token and a query for a word in it would find
nothing; trigrams make any substring of three characters or more a MATCH, and shorter terms (a
two-character Chinese word is common) fall back to LIKE over the same table, which the trigram
index answers too (by a scan for under three characters). ``PostgresStore`` (psycopg, the
``postgresql`` extra) keeps the same tables in PostgreSQL and matches every term with ILIKE, which
``pg_trgm``'s GIN indexes serve; its text compares by code point as SQLite's does, so the two
stores hold equal rows (their ``snapshot``s compare equal) and order results alike, except by
score (bm25 in SQLite, column weights in PostgreSQL).

Following the chain: ``follow`` applies an SDK event stream (``Client.follow_events``) and
``as_checkpoint`` is where that stream resumes: the position stored with the rows.

Search bounds are named below (``ROWS_MAX``, ``QUERY_CHARS_MAX`` ...); input beyond them, or
naming an unknown field, is a ``SearchQueryError`` raised before anything is read. An event whose
data is not the message its name announces is an ``EventDataError``: nothing of its batch is
written, and the follower must stop (the contract and this service disagree on a format).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import (
    ConfigurationError,
    DecodeError,
    InvariantError,
    NotFoundError,
    RequestError,
)
from causeway.sdk.checkpoint import START, EventPosition
from causeway.types.v1 import types_pb2

__all__ = [
    "FACET_FIELDS",
    "FACET_LIMIT_MAX",
    "FILTER_FIELDS",
    "QUERY_CHARS_MAX",
    "ROWS_MAX",
    "SORT_FIELDS",
    "START_MAX",
    "DirectoryEvent",
    "DirectoryIndex",
    "EventDataError",
    "IndexCheckpoint",
    "IndexStore",
    "IndexedResource",
    "PostgresStore",
    "SearchPage",
    "SearchQuery",
    "SearchQueryError",
    "SqliteStore",
    "TokenOwner",
]

# -- bounds -----------------------------------------------------------------------------------

ROWS_MAX = 1000
ROWS_DEFAULT = 10
# Deep paging is what a harvester should do through package_list; a search page stops here.
START_MAX = 100_000
QUERY_CHARS_MAX = 500
QUERY_TERMS_MAX = 32
FILTER_CLAUSES_MAX = 32
FILTER_VALUES_MAX = 100
FILTER_VALUE_CHARS_MAX = 200
FACET_FIELDS_MAX = 16
FACET_LIMIT_MAX = 1000
FACET_LIMIT_DEFAULT = 50
SORT_KEYS_MAX = 4
LIST_LIMIT_MAX = 1000
# A term of fewer characters than this is no trigram: it is matched with LIKE.
TRIGRAM_CHARS = 3
# The resources' columns a search filters and counts by (a search's hits carry them, so that
# its facets need no join).
_FACET_COLUMNS = (
    "department_code",
    "district",
    "category_code",
    "category_level1",
    "category_level2",
    "sharing_type",
    "format",
    "update_cycle",
    "openness",
)
# What a text search's hits carry besides the facets' columns: the status and what a page is
# sorted by.
_HIT_SORT_COLUMNS = ("status", "name", "created_ms", "modified_ms", "publish_date")
# Which requests a department sees: the column that names it.
_REQUEST_ROLES: Mapping[str, str] = {"incoming": "provider_code", "outgoing": "requester_code"}
# Applied events between two refreshes of the query planner's statistics (IndexStore.optimize).
OPTIMIZE_EVERY_EVENTS = 10_000
# The smallest SQLite whose FTS5 has the trigram tokenizer.
SQLITE_TRIGRAM_VERSION = (3, 34, 0)
TOKEN_BYTES = 32
TOKEN_LABEL_CHARS_MAX = 200

# -- events -----------------------------------------------------------------------------------

RESOURCE_EVENTS = frozenset({"resource_registered", "resource_revised", "resource_withdrawn"})
REQUEST_EVENTS = frozenset(
    {
        "request_created",
        "request_approved",
        "request_conditionally_approved",
        "request_refused",
        "request_escalated",
        "request_revoked",
        "request_cancelled",
    }
)
EVENT_MESSAGES: Mapping[str, type[Message]] = {
    "category_set": directory_pb2.Category,
    "department_set": directory_pb2.Department,
    **{name: directory_pb2.ResourceVersion for name in RESOURCE_EVENTS},
    **{name: directory_pb2.SharingRequest for name in REQUEST_EVENTS},
    "usage_recorded": directory_pb2.UsageReceipt,
    "resource_rolled_up": directory_pb2.RolledUpResource,
}

# -- fields -----------------------------------------------------------------------------------

# Filter and facet fields: single-valued ones are a column of ``resources``; the others a table
# of (code, value) rows.
_SINGLE_FIELDS: Mapping[str, str] = {
    "code": "code",
    "department": "department_code",
    "district": "district",
    "category": "category_code",
    "category_level1": "category_level1",
    "category_level2": "category_level2",
    "sharing_type": "sharing_type",
    "format": "format",
    "update_cycle": "update_cycle",
    "openness": "openness",
    "status": "status",
}
_MULTI_FIELDS: Mapping[str, tuple[str, str]] = {
    "keyword": ("resource_keywords", "keyword"),
    "res_format": ("resource_formats", "format"),
}
# A filter only: a category at any level of the resource's path, matched in the column of its
# level (the level-1 category, the item, the category itself).
_PATH_FIELD = "category_any"
_PATH_COLUMNS = ("category_level1", "category_level2", "category_code")
FILTER_FIELDS = frozenset(_SINGLE_FIELDS) | frozenset(_MULTI_FIELDS) | {_PATH_FIELD}
FACET_FIELDS = FILTER_FIELDS - {"code", _PATH_FIELD}
# Sort keys: the column, and whether a larger value is "better" for "desc".
_SORT_COLUMNS: Mapping[str, str] = {
    "score": "hits.rank",
    "name": "r.name",
    "code": "r.code",
    "created": "r.created_ms",
    "modified": "r.modified_ms",
    "publish_date": "r.publish_date",
}
SORT_FIELDS = frozenset(_SORT_COLUMNS)
DEFAULT_SORT: tuple[tuple[str, str], ...] = (("score", "desc"), ("modified", "desc"))


def enum_value(descriptor: EnumDescriptor, value: int, prefix: str) -> str:
    """An enum's value name as the index stores it: ``SHARING_TYPE_NOT_SHARED`` → ``not_shared``;
    a value this service does not know (a newer contract's) is ``value_<number>``."""
    known = descriptor.values_by_number.get(value)
    if known is None:
        return f"value_{value}"
    return known.name.removeprefix(prefix).lower()


def sharing_type_name(value: int) -> str:
    return enum_value(directory_pb2.SharingType.DESCRIPTOR, value, "SHARING_TYPE_")


def openness_name(value: int) -> str:
    return enum_value(directory_pb2.Openness.DESCRIPTOR, value, "OPENNESS_")


def update_cycle_name(value: int) -> str:
    return enum_value(directory_pb2.UpdateCycle.DESCRIPTOR, value, "UPDATE_CYCLE_")


def resource_status_name(value: int) -> str:
    return enum_value(directory_pb2.ResourceStatus.DESCRIPTOR, value, "RESOURCE_STATUS_")


def request_state_name(value: int) -> str:
    return enum_value(directory_pb2.RequestState.DESCRIPTOR, value, "REQUEST_STATE_")


def category_ancestor(code: str, level: int) -> str:
    """The code of ``code``'s ancestor at ``level`` (1: category, 2: item), or "" when ``code`` is
    not below that level. A level-1 code has one or two digits and each level below adds two
    (directory.proto), so the ancestor is a prefix: the code less two digits per level."""
    own_level = (len(code) + 1) // 2
    if not code or level > own_level:
        return ""
    return code[: len(code) - 2 * (own_level - level)]


# -- errors -----------------------------------------------------------------------------------


class SearchQueryError(RequestError):
    """A search the index refuses: an unknown field or sort, a value out of its bounds."""

    reason = "bad_search"


class EventDataError(DecodeError):
    """An event's data is not the message its name announces (or not a valid one)."""


# -- inputs and outputs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DirectoryEvent:
    """One directory contract event as a subscriber receives it (``types_pb2.EventRecord``):
    its unique, ordered position, the transaction that emitted it, its name and its data."""

    height: int
    transaction_index: int
    event_index: int
    transaction_id: bytes
    name: str
    data: bytes

    @property
    def position(self) -> EventPosition:
        return EventPosition(self.height, self.transaction_index, self.event_index)

    @classmethod
    def from_record(cls, record: types_pb2.EventRecord) -> DirectoryEvent:
        return cls(
            height=record.height,
            transaction_index=record.transaction_index,
            event_index=record.event_index,
            transaction_id=record.transaction_id,
            name=record.event.name,
            data=record.event.data,
        )


@dataclass(frozen=True, slots=True)
class IndexedResource:
    """A resource's latest version as indexed, with what the index adds: when it was first
    registered, where its latest version came from (height and transaction), and its search
    score (0.0 outside a text search; larger is better)."""

    record: directory_pb2.ResourceVersion
    created_ms: int
    modified_ms: int
    height: int
    transaction_id: bytes
    district: str
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One version of a resource in the directory's history: the version itself and the exact
    bytes the directory's chain keeps for it (the event's data, equal to its state entry). A
    district's version rolled up into the city's carries ``rollup``: the city's record of it,
    with the district chain's attestation, and ``record`` is that record's bytes."""

    version: directory_pb2.ResourceVersion
    record: bytes
    rollup: directory_pb2.RolledUpResource | None = None


def version_entry(event_name: str, record: bytes) -> VersionEntry:
    """A history row (its event's name and data) as a VersionEntry."""
    if event_name == "resource_rolled_up":
        rollup = _decode_as(directory_pb2.RolledUpResource, record)
        return VersionEntry(rollup.resource, record, rollup)
    return VersionEntry(_decode_as(directory_pb2.ResourceVersion, record), record)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A checked search: build it with ``SearchQuery.checked``."""

    text_terms: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    sort: tuple[tuple[str, str], ...]
    rows: int
    start: int
    facet_fields: tuple[str, ...]
    facet_limit: int

    @classmethod
    def checked(
        cls,
        q: str = "",
        *,
        filters: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]] = (),
        sort: Sequence[tuple[str, str]] | str | None = None,
        rows: int = ROWS_DEFAULT,
        start: int = 0,
        facet_fields: Sequence[str] = (),
        facet_limit: int = FACET_LIMIT_DEFAULT,
    ) -> SearchQuery:
        """Checks every part against its bound. ``filters``: field → values, a value of any
        one of them matches (OR) and every field must match (AND); given as pairs, the same
        field may appear twice (AND of both clauses). ``sort``: (field, "asc"|"desc") pairs or
        the text "field dir, field dir"; the code ascending always breaks ties."""
        return cls(
            text_terms=_query_terms(q),
            filters=_checked_filters(filters),
            sort=_checked_sort(sort),
            rows=_checked_int("rows", rows, 0, ROWS_MAX),
            start=_checked_int("start", start, 0, START_MAX),
            facet_fields=_checked_facets(facet_fields),
            facet_limit=_checked_int("facet_limit", facet_limit, 0, FACET_LIMIT_MAX),
        )


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A search's answer: how many resources match, the requested page of them, and for each
    facet field its (value, count) pairs, most frequent first (then by value)."""

    count: int
    results: tuple[IndexedResource, ...]
    facets: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who an API token acts for: a member of a department's organisation (``department_code``
    empty: of none), and whether that organisation is one of the directory's administrators
    (who answer escalated requests). The contract still decides every call."""

    member: str
    department_code: str
    label: str
    administrator: bool = False


def _checked_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SearchQueryError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise SearchQueryError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _checked_text(name: str, value: object, chars_max: int) -> str:
    if not isinstance(value, str):
        raise SearchQueryError(f"{name} must be text, not {type(value).__name__}")
    if len(value) > chars_max:
        raise SearchQueryError(f"{name} is longer than {chars_max} characters")
    if any(ord(character) < 0x20 and character not in "\t\n\r" for character in value):
        raise SearchQueryError(f"{name} contains control characters")
    return value


def _query_terms(q: object) -> tuple[str, ...]:
    """The terms of a text query: words split at white space, and "quoted phrases" kept whole.
    Every term must occur (AND); ``*:*`` or an empty query matches everything."""
    text = _checked_text("q", q, QUERY_CHARS_MAX).strip()
    if text in ("", "*:*", "*"):
        return ()
    terms: list[str] = []
    parts = text.split('"')
    if len(parts) % 2 == 0:
        raise SearchQueryError("q has an unclosed quotation mark")
    for position, part in enumerate(parts):
        if position % 2 == 1:
            phrase = " ".join(part.split())
            if phrase:
                terms.append(phrase)
        else:
            terms.extend(part.split())
    if len(terms) > QUERY_TERMS_MAX:
        raise SearchQueryError(f"q has more than {QUERY_TERMS_MAX} terms")
    return tuple(dict.fromkeys(terms))


def _checked_filters(
    filters: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    pairs = list(filters.items()) if isinstance(filters, Mapping) else list(filters)
    if len(pairs) > FILTER_CLAUSES_MAX:
        raise SearchQueryError(f"more than {FILTER_CLAUSES_MAX} filter clauses")
    checked: list[tuple[str, tuple[str, ...]]] = []
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise SearchQueryError(f"a filter is a field and its values, not {pair!r}")
        name, values = pair
        if name not in FILTER_FIELDS:
            raise SearchQueryError(
                f"unknown filter field {name!r}: one of {', '.join(sorted(FILTER_FIELDS))}"
            )
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise SearchQueryError(f"the values of filter {name!r} must be a list of text")
        if not 1 <= len(values) <= FILTER_VALUES_MAX:
            raise SearchQueryError(f"filter {name!r} needs 1 to {FILTER_VALUES_MAX} values")
        texts = tuple(
            _checked_text(f"a value of filter {name!r}", value, FILTER_VALUE_CHARS_MAX)
            for value in values
        )
        checked.append((name, texts))
    return tuple(checked)


def _checked_sort(sort: Sequence[tuple[str, str]] | str | None) -> tuple[tuple[str, str], ...]:
    if sort is None:
        return DEFAULT_SORT
    if isinstance(sort, str):
        text = _checked_text("sort", sort, QUERY_CHARS_MAX)
        keys: list[tuple[str, str]] = []
        for clause in text.split(","):
            words = clause.split()
            if not words:
                continue
            if len(words) > 2:
                raise SearchQueryError(f"a sort clause is a field and a direction: {clause!r}")
            keys.append((words[0], words[1] if len(words) == 2 else "asc"))
        sort = keys
    if not 1 <= len(sort) <= SORT_KEYS_MAX:
        raise SearchQueryError(f"sort needs 1 to {SORT_KEYS_MAX} keys")
    checked: list[tuple[str, str]] = []
    for key in sort:
        if not isinstance(key, tuple) or len(key) != 2:
            raise SearchQueryError(f"a sort key is a field and a direction, not {key!r}")
        name, direction = key
        if name not in SORT_FIELDS:
            raise SearchQueryError(
                f"unknown sort field {name!r}: one of {', '.join(sorted(SORT_FIELDS))}"
            )
        if direction not in ("asc", "desc"):
            raise SearchQueryError(f"sort direction must be asc or desc, not {direction!r}")
        checked.append((name, direction))
    return tuple(checked)


def _checked_facets(facet_fields: Sequence[str]) -> tuple[str, ...]:
    if isinstance(facet_fields, str) or not isinstance(facet_fields, Sequence):
        raise SearchQueryError("facet fields must be a list of field names")
    if len(facet_fields) > FACET_FIELDS_MAX:
        raise SearchQueryError(f"more than {FACET_FIELDS_MAX} facet fields")
    for name in facet_fields:
        if name not in FACET_FIELDS:
            raise SearchQueryError(
                f"unknown facet field {name!r}: one of {', '.join(sorted(FACET_FIELDS))}"
            )
    return tuple(dict.fromkeys(facet_fields))


# -- rows the core derives ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """A resource's row: its latest version, the facets derived from it and its search text."""

    code: str
    version: int
    name: str
    department_code: str
    district: str
    category_code: str
    category_level1: str
    category_level2: str
    sharing_type: str
    format: str
    update_cycle: str
    openness: str
    status: str
    publish_date: str
    created_ms: int
    modified_ms: int
    height: int
    transaction_id: bytes
    record: bytes
    keywords: tuple[str, ...]
    distribution_formats: tuple[str, ...]
    # The full-text columns: name, abstract, keywords, data items, department.
    text: tuple[str, str, str, str, str]


def resource_row(
    version: directory_pb2.ResourceVersion,
    record: bytes,
    department: directory_pb2.Department | None,
    created_ms: int,
) -> ResourceRow:
    metadata = version.metadata
    category = metadata.category_code
    department_names = "" if department is None else f"{department.name}\n{department.name_en}"
    return ResourceRow(
        code=version.code,
        version=version.version,
        name=metadata.name,
        department_code=version.provider_code,
        district="" if department is None else department.district,
        category_code=category,
        category_level1=category_ancestor(category, 1),
        category_level2=category_ancestor(category, 2),
        sharing_type=sharing_type_name(metadata.sharing_type),
        format=metadata.format,
        update_cycle=update_cycle_name(metadata.update_cycle),
        openness=openness_name(metadata.openness),
        status=resource_status_name(version.status),
        publish_date=metadata.publish_date,
        created_ms=created_ms,
        modified_ms=version.time_ms,
        height=version.height,
        transaction_id=version.transaction_id,
        record=record,
        keywords=tuple(sorted(set(metadata.keywords))),
        distribution_formats=tuple(
            sorted({item.format for item in metadata.distributions if item.format})
        ),
        text=(
            f"{metadata.name}\n{metadata.name_en}",
            f"{metadata.abstract}\n{metadata.abstract_en}",
            "\n".join(metadata.keywords),
            "\n".join(f"{item.name}\n{item.description}" for item in metadata.data_items),
            department_names,
        ),
    )


# -- the store --------------------------------------------------------------------------------


class IndexWriter(Protocol):
    """What the core writes through, inside one store transaction."""

    def checkpoint(self) -> EventPosition: ...

    def save_checkpoint(self, position: EventPosition) -> None: ...

    def clear(self) -> None:
        """Removes every row derived from events (tokens stay) and the checkpoint."""
        ...

    def department(self, code: str) -> directory_pb2.Department | None: ...

    def resource_created_ms(self, code: str) -> tuple[int, int] | None:
        """(latest version, created_ms) of an indexed resource, or None."""
        ...

    def resources_of_department(self, code: str) -> list[tuple[bytes, int]]:
        """(latest record, created_ms) of every resource the department provides."""
        ...

    def put_category(
        self, category: directory_pb2.Category, record: bytes, event: DirectoryEvent
    ) -> None: ...

    def put_department(
        self, department: directory_pb2.Department, record: bytes, event: DirectoryEvent
    ) -> None: ...

    def put_resource(self, row: ResourceRow) -> None: ...

    def add_version(
        self, version: directory_pb2.ResourceVersion, record: bytes, event: DirectoryEvent
    ) -> None: ...

    def put_request(
        self, request: directory_pb2.SharingRequest, record: bytes, event: DirectoryEvent
    ) -> None: ...

    def add_receipt(
        self, receipt: directory_pb2.UsageReceipt, record: bytes, event: DirectoryEvent
    ) -> None: ...


class IndexStore(Protocol):
    """A storage backend of the index (SQLite here; PostgreSQL implements the same)."""

    def writing(self, *, bulk: bool = False) -> AbstractContextManager[IndexWriter]:
        """A context in which every write commits together, or none does; ``bulk`` (a
        rebuild) lets the store build its costliest indexes once at the end instead of row by
        row."""
        ...

    def checkpoint(self) -> EventPosition: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def resource(self, code: str) -> IndexedResource | None: ...

    def resource_codes(self, offset: int, limit: int) -> list[str]: ...

    def versions(self, code: str) -> list[VersionEntry]: ...

    def categories(self, *, counted: bool = True) -> list[tuple[directory_pb2.Category, int]]:
        """Every category with its number of active resources (under it, at any level; 0 when
        not ``counted``)."""
        ...

    def departments(self, *, counted: bool = True) -> list[tuple[directory_pb2.Department, int]]:
        """Every department with its number of active resources (0 when not ``counted``)."""
        ...

    def keywords(self, prefix: str, limit: int) -> list[str]: ...

    def request(self, request_id: str) -> directory_pb2.SharingRequest | None: ...

    def request_history(self, request_id: str) -> list[directory_pb2.SharingRequest]: ...

    def requests_of(
        self, department_code: str, role: str, limit: int
    ) -> list[directory_pb2.SharingRequest]:
        """The latest ``limit`` requests addressed to (role "incoming") or made by ("outgoing")
        a department, newest first."""
        ...

    def requests_in_state(self, state: str, limit: int) -> list[directory_pb2.SharingRequest]:
        """Up to ``limit`` requests in ``state`` ("pending", ...), the oldest first."""
        ...

    def receipts(self, request_id: str) -> list[directory_pb2.UsageReceipt]: ...

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]: ...

    def optimize(self) -> None:
        """Refreshes the statistics the query planner chooses indexes by (after a rebuild, and
        as the index grows): without them a filtered search may sort every hit."""
        ...

    def close(self) -> None: ...

    def add_token(self, token_hash: bytes, owner: TokenOwner, created_ms: int) -> None: ...

    def token_owner(self, token_hash: bytes) -> TokenOwner | None: ...

    def remove_token(self, token_hash: bytes) -> bool: ...


# Indexes on what searches filter, count (facets) and sort by, each led by the status (the
# CKAN API asks for active resources unless told otherwise): without them a search of the whole
# directory sorts or groups every row (a 100,000-resource index answered an empty query in
# 230 ms, and each facet took about 100 ms). Each sort column carries the code, the tiebreak,
# so that ORDER BY ... LIMIT can read the index in order.
_RESOURCE_INDEXES = "\n".join(
    [
        *(
            f"CREATE INDEX IF NOT EXISTS resources_{column} ON resources (status, {column});"
            for column in _FACET_COLUMNS
        ),
        *(
            f"CREATE INDEX IF NOT EXISTS resources_sorted_{column} ON resources"
            f" (status, {column}, code);"
            for column in ("name", "created_ms", "modified_ms", "publish_date")
        ),
    ]
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS index_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  height INTEGER NOT NULL, transaction_index INTEGER NOT NULL, event_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS categories (
  code TEXT PRIMARY KEY, name TEXT NOT NULL, name_en TEXT NOT NULL, level INTEGER NOT NULL,
  parent_code TEXT NOT NULL, height INTEGER NOT NULL, transaction_id BLOB NOT NULL,
  record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS departments (
  code TEXT PRIMARY KEY, organisation TEXT NOT NULL, name TEXT NOT NULL, name_en TEXT NOT NULL,
  district TEXT NOT NULL, height INTEGER NOT NULL, transaction_id BLOB NOT NULL,
  record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
  code TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, name TEXT NOT NULL,
  department_code TEXT NOT NULL, district TEXT NOT NULL, category_code TEXT NOT NULL,
  category_level1 TEXT NOT NULL, category_level2 TEXT NOT NULL, sharing_type TEXT NOT NULL,
  format TEXT NOT NULL, update_cycle TEXT NOT NULL, openness TEXT NOT NULL,
  status TEXT NOT NULL, publish_date TEXT NOT NULL, created_ms INTEGER NOT NULL,
  modified_ms INTEGER NOT NULL, height INTEGER NOT NULL, transaction_id BLOB NOT NULL,
  id INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS resource_records (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS resources_department ON resources (department_code);
CREATE TABLE IF NOT EXISTS resource_keywords (
  code TEXT NOT NULL, keyword TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (code, keyword)
);
CREATE INDEX IF NOT EXISTS resource_keywords_keyword ON resource_keywords (keyword);
CREATE INDEX IF NOT EXISTS resource_keywords_status ON resource_keywords (status, keyword);
CREATE TABLE IF NOT EXISTS resource_formats (
  code TEXT NOT NULL, format TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (code, format)
);
CREATE INDEX IF NOT EXISTS resource_formats_format ON resource_formats (format, code);
CREATE INDEX IF NOT EXISTS resource_formats_status ON resource_formats (status, format);
CREATE TABLE IF NOT EXISTS versions (
  height INTEGER NOT NULL, transaction_index INTEGER NOT NULL, event_index INTEGER NOT NULL,
  code TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL, status TEXT NOT NULL,
  transaction_id BLOB NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (height, transaction_index, event_index)
);
CREATE INDEX IF NOT EXISTS versions_code ON versions (code, version);
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, resource_code TEXT NOT NULL, provider_code TEXT NOT NULL,
  requester_code TEXT NOT NULL, state TEXT NOT NULL, height INTEGER NOT NULL,
  transaction_id BLOB NOT NULL, record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS request_transitions (
  height INTEGER NOT NULL, transaction_index INTEGER NOT NULL, event_index INTEGER NOT NULL,
  id TEXT NOT NULL, event TEXT NOT NULL, state TEXT NOT NULL, transaction_id BLOB NOT NULL,
  record BLOB NOT NULL, PRIMARY KEY (height, transaction_index, event_index)
);
CREATE INDEX IF NOT EXISTS request_transitions_id ON request_transitions (id);
CREATE INDEX IF NOT EXISTS requests_provider ON requests (provider_code, height);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state, height);
CREATE INDEX IF NOT EXISTS requests_requester ON requests (requester_code, height);
CREATE TABLE IF NOT EXISTS receipts (
  request_id TEXT NOT NULL, sequence INTEGER NOT NULL, height INTEGER NOT NULL,
  transaction_id BLOB NOT NULL, record BLOB NOT NULL, PRIMARY KEY (request_id, sequence)
);
CREATE VIRTUAL TABLE IF NOT EXISTS resource_text USING fts5 (
  code UNINDEXED, name, abstract, keywords, data_items, department, tokenize = 'trigram'
);
CREATE VIRTUAL TABLE IF NOT EXISTS resource_characters USING fts5 (
  text, tokenize = 'unicode61'
);
CREATE TABLE IF NOT EXISTS api_tokens (
  token_hash BLOB PRIMARY KEY, member TEXT NOT NULL, department_code TEXT NOT NULL,
  label TEXT NOT NULL, created_ms INTEGER NOT NULL, administrator INTEGER NOT NULL DEFAULT 0
);
"""
SCHEMA_VERSION = "4"
# What brings an index of an older schema to this one in place, when nothing derived from the
# chain changed (version 4 marks administrators' tokens): the API tokens survive, as they do a
# rebuild. Any other older version is rebuilt from the chain.
_SCHEMA_MIGRATIONS: Mapping[str, tuple[str, ...]] = {
    "3": ("ALTER TABLE api_tokens ADD COLUMN administrator INTEGER NOT NULL DEFAULT 0",),
}
# Tables derived from events, in snapshot order; their ordering keys.
_DERIVED_TABLES: Mapping[str, str] = {
    "categories": "code",
    "departments": "code",
    "resources": "code",
    "resource_records": "id",
    "resource_keywords": "code, keyword",
    "resource_formats": "code, format",
    "versions": "height, transaction_index, event_index",
    "requests": "id",
    "request_transitions": "height, transaction_index, event_index",
    "receipts": "request_id, sequence",
    "resource_text": "code",
    "index_checkpoint": "id",
}
_TEXT_COLUMNS = ("name", "abstract", "keywords", "data_items", "department")
# The full-text table's rowid is derived from the code, not a row of its own.
_SNAPSHOT_COLUMNS: Mapping[str, str] = {"resource_text": ", ".join(("code", *_TEXT_COLUMNS))}
# bm25 weights of the text columns (code first, unindexed): a hit in the name counts most.
_BM25 = "bm25(resource_text, 0.0, 10.0, 4.0, 6.0, 2.0, 1.0)"

MessageT = TypeVar("MessageT", bound=Message)


def _decode_as(message_type: type[MessageT], data: bytes) -> MessageT:
    message = message_type()
    try:
        message.ParseFromString(data)
    except ProtobufDecodeError as error:
        raise EventDataError(f"not a {message_type.__name__}: {error}") from None
    return message


class _Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class _Connection(Protocol):
    def execute(self, query: Any, parameters: Any = ..., /) -> Any: ...


class _Sql:
    """One connection with the statements written once, in SQLite's ``?`` placeholders: for a
    PostgreSQL connection (psycopg's ``%s``) they are rewritten (no statement here has a ``?``
    or ``%`` of its own: patterns are parameters)."""

    def __init__(self, connection: _Connection, placeholder: str) -> None:
        self.connection = connection
        self.placeholder = placeholder

    def execute(self, query: str, parameters: Sequence[object] = ()) -> _Cursor:
        if self.placeholder != "?":
            query = query.replace("?", self.placeholder)
        cursor: _Cursor = self.connection.execute(query, tuple(parameters))
        return cursor

    def replace(self, table: str, key: str, values: Sequence[object]) -> None:
        """Writes a row whose first column is the key ``key``, replacing the one it had."""
        self.execute(f"DELETE FROM {table} WHERE {key} = ?", (values[0],))
        self.insert(table, values)

    def insert(self, table: str, values: Sequence[object]) -> None:
        marks = ", ".join("?" * len(values))
        self.execute(f"INSERT INTO {table} VALUES ({marks})", values)


def spaced_characters(text: str) -> str:
    """``text`` with every CJK character a word of its own: unicode61 takes a run of Chinese
    characters for one token, and a search of one or two characters (人口: below the trigram's
    three) then matches the phrase of those characters."""
    return "".join(f" {character} " if _is_cjk(character) else character for character in text)


def _is_cjk(character: str) -> bool:
    return any(low <= ord(character) <= high for low, high in _CJK_RANGES)


# CJK Unified Ideographs and their extension A, compatibility ideographs, and the extensions B
# onwards: the characters a Chinese term is written in.
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


class _SqlWriter:
    def __init__(
        self, database: _Sql, *, character_index: bool = False, character_value: str = "?"
    ) -> None:
        self._db = database
        # The second text index, of the resource's Chinese characters one by one, that answers
        # terms of one or two characters (below a trigram's three): an FTS5 table in SQLite, a
        # tsvector with a GIN index in PostgreSQL (``character_value`` makes the value).
        self._character_index = character_index
        self._character_value = character_value

    def checkpoint(self) -> EventPosition:
        return _load_checkpoint(self._db)

    def save_checkpoint(self, position: EventPosition) -> None:
        self._db.replace(
            "index_checkpoint",
            "id",
            (0, position.height, position.transaction_index, position.event_index),
        )

    def clear(self) -> None:
        for table in _DERIVED_TABLES:
            self._db.execute(f"DELETE FROM {table}")
        if self._character_index:
            self._db.execute("DELETE FROM resource_characters")

    def department(self, code: str) -> directory_pb2.Department | None:
        row = self._db.execute("SELECT record FROM departments WHERE code = ?", (code,)).fetchone()
        return None if row is None else _decode_as(directory_pb2.Department, row[0])

    def resource_created_ms(self, code: str) -> tuple[int, int] | None:
        row = self._db.execute(
            "SELECT version, created_ms FROM resources WHERE code = ?", (code,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def resources_of_department(self, code: str) -> list[tuple[bytes, int]]:
        return [
            (row[0], row[1])
            for row in self._db.execute(
                "SELECT rr.record, r.created_ms FROM resources r JOIN resource_records rr"
                " ON rr.id = r.id WHERE r.department_code = ? ORDER BY r.code",
                (code,),
            )
        ]

    def put_category(
        self, category: directory_pb2.Category, record: bytes, event: DirectoryEvent
    ) -> None:
        self._db.replace(
            "categories",
            "code",
            (
                category.code,
                category.name,
                category.name_en,
                category.level,
                category.parent_code,
                event.height,
                event.transaction_id,
                record,
            ),
        )

    def put_department(
        self, department: directory_pb2.Department, record: bytes, event: DirectoryEvent
    ) -> None:
        self._db.replace(
            "departments",
            "code",
            (
                department.code,
                department.organisation,
                department.name,
                department.name_en,
                department.district,
                event.height,
                event.transaction_id,
                record,
            ),
        )

    def flush(self) -> None:
        """Writes what the writer holds (this one holds nothing)."""

    def put_resource(self, row: ResourceRow) -> None:
        # The resource's id and its full-text row's: derived from the code, so that a search
        # joins its text hits to the resources by one key.
        text_rowid = _text_rowid(row.code)
        held = self._db.execute(
            "SELECT code FROM resource_text WHERE rowid = ?", (text_rowid,)
        ).fetchone()
        if held is not None and held[0] != row.code:
            raise InvariantError(f"resources {held[0]} and {row.code} share a full-text row")
        self._db.replace("resources", "code", _resource_values(row, text_rowid))
        # The record apart from the columns searches scan: a resource's row stays narrow.
        self._db.replace("resource_records", "id", (text_rowid, row.record))
        self._db.execute("DELETE FROM resource_keywords WHERE code = ?", (row.code,))
        for keyword in row.keywords:
            self._db.insert("resource_keywords", (row.code, keyword, row.status))
        self._db.execute("DELETE FROM resource_formats WHERE code = ?", (row.code,))
        for item in row.distribution_formats:
            self._db.insert("resource_formats", (row.code, item, row.status))
        # By rowid: FTS5 indexes no column it can find a code by (a DELETE by code would scan
        # the whole table on every revision).
        self._db.execute("DELETE FROM resource_text WHERE rowid = ?", (text_rowid,))
        self._db.execute(
            "INSERT INTO resource_text (rowid, code, name, abstract, keywords, data_items,"
            " department) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (text_rowid, row.code, *row.text),
        )
        if self._character_index:
            self._db.execute("DELETE FROM resource_characters WHERE rowid = ?", (text_rowid,))
            self._db.execute(
                "INSERT INTO resource_characters (rowid, text)"
                f" VALUES (?, {self._character_value})",
                (text_rowid, spaced_characters(" ".join(row.text))),
            )

    def add_version(
        self, version: directory_pb2.ResourceVersion, record: bytes, event: DirectoryEvent
    ) -> None:
        self._db.insert("versions", _version_values(version, record, event))

    def put_request(
        self, request: directory_pb2.SharingRequest, record: bytes, event: DirectoryEvent
    ) -> None:
        state = request_state_name(request.state)
        self._db.replace(
            "requests",
            "id",
            (
                request.id,
                request.resource_code,
                request.provider_code,
                request.requester_code,
                state,
                event.height,
                event.transaction_id,
                record,
            ),
        )
        self._db.execute(
            "INSERT INTO request_transitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.height,
                event.transaction_index,
                event.event_index,
                request.id,
                event.name,
                state,
                event.transaction_id,
                record,
            ),
        )

    def add_receipt(
        self, receipt: directory_pb2.UsageReceipt, record: bytes, event: DirectoryEvent
    ) -> None:
        self._db.execute(
            "DELETE FROM receipts WHERE request_id = ? AND sequence = ?",
            (receipt.request_id, receipt.sequence),
        )
        self._db.insert(
            "receipts",
            (receipt.request_id, receipt.sequence, event.height, event.transaction_id, record),
        )


def _resource_values(row: ResourceRow, text_rowid: int) -> tuple[object, ...]:
    """A resources row, in the table's column order."""
    return (
        row.code,
        row.version,
        row.name,
        row.department_code,
        row.district,
        row.category_code,
        row.category_level1,
        row.category_level2,
        row.sharing_type,
        row.format,
        row.update_cycle,
        row.openness,
        row.status,
        row.publish_date,
        row.created_ms,
        row.modified_ms,
        row.height,
        row.transaction_id,
        text_rowid,
    )


def _version_values(
    version: directory_pb2.ResourceVersion, record: bytes, event: DirectoryEvent
) -> tuple[object, ...]:
    """A versions row, in the table's column order."""
    return (
        event.height,
        event.transaction_index,
        event.event_index,
        version.code,
        version.version,
        event.name,
        resource_status_name(version.status),
        event.transaction_id,
        record,
    )


class _CopyConnection(Protocol):
    """What the COPY writer needs of a psycopg connection."""

    def cursor(self) -> Any: ...


# PostgreSQL's cost of a page read out of order, for the index's session (PostgresStore).
RANDOM_PAGE_COST = 1.1
# Resources a PostgreSQL rebuild holds before it writes them with COPY.
COPY_BATCH_RESOURCES = 5_000


class _CopyWriter(_SqlWriter):
    """The writer of a PostgreSQL bulk write (a rebuild). Written a statement at a time, the
    twenty-odd statements of each version cost a round trip to the server each: three
    milliseconds a version, five minutes a rebuild of 100,000. This one holds the resources
    and versions and writes each table's rows with one COPY every COPY_BATCH_RESOURCES
    resources (and at the end); what it reads sees what it holds first. Categories,
    departments, requests and receipts, few, are written as they come."""

    def __init__(
        self, database: _Sql, connection: _CopyConnection, *, character_value: str
    ) -> None:
        super().__init__(database, character_index=True, character_value=character_value)
        self._connection = connection
        self._held: dict[str, ResourceRow] = {}
        self._versions: list[tuple[object, ...]] = []
        self._departments: dict[str, directory_pb2.Department | None] = {}
        # After ``clear`` every resource in the tables came through this writer, so ``written``
        # answers for all of them (a new resource costs no query).
        self._written: dict[str, tuple[int, int]] | None = None

    def clear(self) -> None:
        super().clear()
        self._held.clear()
        self._versions.clear()
        self._departments.clear()
        self._written = {}

    def department(self, code: str) -> directory_pb2.Department | None:
        if code not in self._departments:
            self._departments[code] = super().department(code)
        return self._departments[code]

    def put_department(
        self, department: directory_pb2.Department, record: bytes, event: DirectoryEvent
    ) -> None:
        super().put_department(department, record, event)
        self._departments.pop(department.code, None)

    def resource_created_ms(self, code: str) -> tuple[int, int] | None:
        row = self._held.get(code)
        if row is not None:
            return row.version, row.created_ms
        if self._written is not None:
            return self._written.get(code)
        return super().resource_created_ms(code)

    def resources_of_department(self, code: str) -> list[tuple[bytes, int]]:
        self.flush()
        return super().resources_of_department(code)

    def put_resource(self, row: ResourceRow) -> None:
        self._held[row.code] = row
        if len(self._held) >= COPY_BATCH_RESOURCES:
            self.flush()

    def add_version(
        self, version: directory_pb2.ResourceVersion, record: bytes, event: DirectoryEvent
    ) -> None:
        self._versions.append(_version_values(version, record, event))

    def flush(self) -> None:
        rows = list(self._held.values())
        rowids = [_text_rowid(row.code) for row in rows]
        codes = [row.code for row in rows]
        owners: dict[int, str] = {}
        for rowid, code in zip(rowids, codes, strict=True):
            if owners.setdefault(rowid, code) != code:
                raise InvariantError(f"resources {owners[rowid]} and {code} share a full-text row")
        if rows:
            for rowid, code in self._db.execute(
                "SELECT rowid, code FROM resource_text WHERE rowid = ANY(?)", (rowids,)
            ):
                if owners[rowid] != code:
                    raise InvariantError(
                        f"resources {code} and {owners[rowid]} share a full-text row"
                    )
            # What a revision replaces (a later version of a resource written before).
            for table, key, keys in (
                ("resources", "code", codes),
                ("resource_records", "id", rowids),
                ("resource_keywords", "code", codes),
                ("resource_formats", "code", codes),
                ("resource_text", "rowid", rowids),
                ("resource_characters", "rowid", rowids),
            ):
                self._db.execute(f"DELETE FROM {table} WHERE {key} = ANY(?)", (keys,))
        self._copy(
            "versions (height, transaction_index, event_index, code, version, event, status,"
            " transaction_id, record)",
            self._versions,
        )
        self._copy(
            "resources",
            [_resource_values(row, rowid) for row, rowid in zip(rows, rowids, strict=True)],
        )
        self._copy(
            "resource_records (id, record)",
            [(rowid, row.record) for row, rowid in zip(rows, rowids, strict=True)],
        )
        self._copy(
            "resource_keywords (code, keyword, status)",
            [(row.code, keyword, row.status) for row in rows for keyword in row.keywords],
        )
        self._copy(
            "resource_formats (code, format, status)",
            [(row.code, item, row.status) for row in rows for item in row.distribution_formats],
        )
        self._copy(
            "resource_text (rowid, code, name, abstract, keywords, data_items, department)",
            [(rowid, row.code, *row.text) for row, rowid in zip(rows, rowids, strict=True)],
        )
        if rows:
            # The characters' tsvector is made by the server, as one row at a time is; COPY
            # takes values only, so they pass through a table of this transaction.
            self._db.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS staged_characters"
                " (rowid BIGINT, text TEXT) ON COMMIT DROP"
            )
            self._copy(
                "staged_characters (rowid, text)",
                [
                    (rowid, spaced_characters(" ".join(row.text)))
                    for row, rowid in zip(rows, rowids, strict=True)
                ],
            )
            value = self._character_value.replace("?", "text")
            self._db.execute(
                f"INSERT INTO resource_characters (rowid, text) SELECT rowid, {value}"
                " FROM staged_characters"
            )
            self._db.execute("DELETE FROM staged_characters")
        if self._written is not None:
            self._written.update((row.code, (row.version, row.created_ms)) for row in rows)
        self._held.clear()
        self._versions.clear()

    def _copy(self, table: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        with self._connection.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _text_rowid(code: str) -> int:
    """The full-text row of a resource: 63 bits of the SHA-256 of its code (two codes that
    collided would stop the index loudly, never mix their text; at 2^63 that does not happen)."""
    return int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big") >> 1


def _load_checkpoint(connection: _Sql) -> EventPosition:
    row = connection.execute(
        "SELECT height, transaction_index, event_index FROM index_checkpoint WHERE id = 0"
    ).fetchone()
    return START if row is None else EventPosition(row[0], row[1], row[2])


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_condition(terms: Sequence[str]) -> tuple[str, list[object]]:
    """The full-text part of a search: a subquery of (code, rank) rows, the rank bm25's (lower
    is better) when a trigram MATCH ran, else 0. A term of three characters or more is a trigram
    MATCH; a shorter one written in Chinese characters is the phrase of its characters in
    ``resource_characters`` (an index too); any other short term a LIKE, which scans."""
    long_terms = [term for term in terms if len(term) >= TRIGRAM_CHARS]
    short_terms = [term for term in terms if len(term) < TRIGRAM_CHARS]
    conditions: list[str] = []
    parameters: list[object] = []
    if long_terms:
        conditions.append("resource_text MATCH ?")
        parameters.append(" AND ".join('"' + term.replace('"', '""') + '"' for term in long_terms))
    chinese = [term for term in short_terms if all(_is_cjk(character) for character in term)]
    for term in chinese:
        conditions.append(
            "rowid IN (SELECT rowid FROM resource_characters WHERE resource_characters MATCH ?)"
        )
        parameters.append('"' + " ".join(term) + '"')
    for term in short_terms:
        if term in chinese:
            continue
        pattern = _like_pattern(term)
        conditions.append(
            "(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in _TEXT_COLUMNS) + ")"
        )
        parameters.extend([pattern] * len(_TEXT_COLUMNS))
    rank = _BM25 if long_terms else "0.0"
    where = " AND ".join(conditions)
    return f"SELECT rowid AS id, {rank} AS rank FROM resource_text WHERE {where}", parameters


def _filter_condition(name: str, values: Sequence[str]) -> tuple[str, list[object]]:
    marks = ", ".join("?" * len(values))
    if name == _PATH_FIELD:
        # A code's level is its length's (category_ancestor): each value is matched in its
        # level's column alone (a resource's ancestor at its own level is its code), so that
        # one value is one indexed condition rather than an OR over three columns that scans.
        by_column: dict[str, list[str]] = {}
        for value in values:
            level = max(1, min((len(value) + 1) // 2, len(_PATH_COLUMNS)))
            by_column.setdefault(_PATH_COLUMNS[level - 1], []).append(value)
        conditions = [
            f"r.{column} IN ({', '.join('?' * len(chosen))})"
            for column, chosen in by_column.items()
        ]
        repeated: list[object] = [value for chosen in by_column.values() for value in chosen]
        return "(" + " OR ".join(conditions) + ")", repeated
    if name in _SINGLE_FIELDS:
        return f"r.{_SINGLE_FIELDS[name]} IN ({marks})", list(values)
    table, column = _MULTI_FIELDS[name]
    return (
        f"r.code IN (SELECT code FROM {table} WHERE {column} IN ({marks}))",
        list(values),
    )


class _SqlStore:
    """The store over one SQL connection, used under a lock: the service's reads and its
    follower's writes take turns (each database serialises writers anyway; reads are short).
    SqliteStore and PostgresStore differ in connecting, the schema and full-text matching."""

    # Whether the store keeps ``resource_characters`` (spaced_characters) for short Chinese
    # terms: SQLite's does; PostgreSQL's pg_trgm indexes answer them.
    character_index = False
    _character_value = "?"
    # What a bulk write drops first and creates again before it commits (in its transaction).
    _bulk_drop: tuple[str, ...] = ()
    _bulk_create: tuple[str, ...] = ()
    _optimize_statements: tuple[str, ...] = ("ANALYZE",)

    _lock: threading.RLock
    _db: _Sql
    _begin = "BEGIN"

    @contextmanager
    def writing(self, *, bulk: bool = False) -> Iterator[IndexWriter]:
        with self._lock:
            self._db.execute(self._begin)
            try:
                if bulk:
                    for statement in self._bulk_drop:
                        self._db.execute(statement)
                writer = self._writer(bulk=bulk)
                yield writer
                writer.flush()
                if bulk:
                    for statement in self._bulk_create:
                        self._db.execute(statement)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _writer(self, *, bulk: bool) -> _SqlWriter:
        return _SqlWriter(
            self._db, character_index=self.character_index, character_value=self._character_value
        )

    def _text_condition(self, terms: Sequence[str]) -> tuple[str, list[object]]:
        return _text_condition(terms)

    def checkpoint(self) -> EventPosition:
        with self._lock:
            return _load_checkpoint(self._db)

    def optimize(self) -> None:
        with self._lock:
            for statement in self._optimize_statements:
                self._db.execute(statement)

    def _indexed(self, row: Sequence[object], score: float = 0.0) -> IndexedResource:
        record, created_ms, modified_ms, height, transaction_id, district = row
        assert isinstance(record, bytes) and isinstance(transaction_id, bytes)
        assert isinstance(created_ms, int) and isinstance(modified_ms, int)
        assert isinstance(height, int) and isinstance(district, str)
        return IndexedResource(
            record=_decode_as(directory_pb2.ResourceVersion, record),
            created_ms=created_ms,
            modified_ms=modified_ms,
            height=height,
            transaction_id=transaction_id,
            district=district,
            score=score,
        )

    def search(self, query: SearchQuery) -> SearchPage:
        conditions: list[str] = []
        parameters: list[object] = []
        for name, values in query.filters:
            condition, values_parameters = _filter_condition(name, values)
            conditions.append(condition)
            parameters.extend(values_parameters)
        if not query.text_terms:
            return self._search_all(query, conditions, parameters)
        text, text_parameters = self._text_condition(query.text_terms)
        # By the full-text row, which is the resource's own id (``_text_rowid``): in SQLite
        # the table's rowid, so that each hit costs one lookup, not one in the code's index
        # and another in the table.
        source = f"resources r JOIN ({text}) t ON t.id = r.id"
        parameters = text_parameters + parameters
        rank = "t.rank"
        where = " AND ".join(conditions) or "1 = 1"
        # The hits carry what the facets count and the page is ordered by, so that neither
        # goes back to the resources but for the page's own rows.
        carried = ", ".join(
            f"r.{column} AS {column}" for column in (*_FACET_COLUMNS, *_HIT_SORT_COLUMNS)
        )
        hits = (
            f"SELECT r.id AS id, r.code AS code, {rank} AS rank, {carried} FROM {source}"
            f" WHERE {where}"
        )
        order: list[str] = []
        for name, direction in query.sort:
            column = _SORT_COLUMNS[name].replace("r.", "hits.", 1)
            # bm25's rank is lower for better matches: "score desc" is rank ascending.
            if name == "score":
                order.append(f"{column} {'ASC' if direction == 'desc' else 'DESC'}")
            else:
                order.append(f"{column} {direction.upper()}")
        order.append("hits.code ASC")
        with self._lock:
            # The hits once (the full-text match and its ranks are the dear part), in a
            # temporary table of this connection that the count, the page and every facet read.
            self._db.execute("DROP TABLE IF EXISTS search_hits")
            self._db.execute(f"CREATE TEMPORARY TABLE search_hits AS {hits}", parameters)
            try:
                count = self._db.execute("SELECT COUNT(*) FROM search_hits").fetchone()[0]
                page = self._db.execute(
                    f"SELECT hits.id, hits.rank FROM search_hits hits ORDER BY {', '.join(order)}"
                    " LIMIT ? OFFSET ?",
                    [query.rows, query.start],
                ).fetchall()
                rows = self._page_rows([row[0] for row in page])
                facets = self._facet_counts(query, hits_only=True, where="", parameters=())
            finally:
                self._db.execute("DROP TABLE IF EXISTS search_hits")
        results = tuple(
            self._indexed(rows[identifier], -float(rank) if rank else 0.0)
            for identifier, rank in page
        )
        return SearchPage(count=int(count), results=results, facets=facets)

    def _page_rows(self, identifiers: Sequence[int]) -> dict[int, Sequence[object]]:
        """The page's resources by id (what ``_indexed`` reads), in one query."""
        if not identifiers:
            return {}
        marks = ", ".join("?" * len(identifiers))
        return {
            row[6]: row[:6]
            for row in self._db.execute(
                "SELECT rr.record, r.created_ms, r.modified_ms, r.height, r.transaction_id,"
                " r.district, r.id FROM resources r JOIN resource_records rr ON rr.id = r.id"
                f" WHERE r.id IN ({marks})",
                list(identifiers),
            ).fetchall()
        }

    def _search_all(
        self, query: SearchQuery, conditions: Sequence[str], parameters: Sequence[object]
    ) -> SearchPage:
        """A search without text: straight on the resources table, whose indexes serve the
        filters, the order and the facets (every hit has the same score, so "score" orders
        nothing; the tiebreak, the code, follows the last sort's direction so that one index
        gives the order)."""
        where = " AND ".join(conditions) or "1 = 1"
        order: list[str] = []
        last = "ASC"
        for name, direction in query.sort:
            if name == "score":
                continue
            last = direction.upper()
            order.append(f"{_SORT_COLUMNS[name]} {last}")
        if not any(name == "code" for name, _ in query.sort):
            order.append(f"r.code {last}")
        narrowed = any(name != "status" for name, _ in query.filters)
        if query.facet_fields and narrowed:
            return self._search_collected(query, where, parameters, order)
        with self._lock:
            count = self._db.execute(
                f"SELECT COUNT(*) FROM resources r WHERE {where}", list(parameters)
            ).fetchone()[0]
            identifiers = [
                row[0]
                for row in self._db.execute(
                    f"SELECT r.id FROM resources r WHERE {where}"
                    f" ORDER BY {', '.join(order)} LIMIT ? OFFSET ?",
                    [*parameters, query.rows, query.start],
                ).fetchall()
            ]
            rows = self._page_rows(identifiers)
            # Facets over the whole directory (no filter but the status) group one index each.
            facets = self._facet_counts(query, hits_only=False, where=where, parameters=parameters)
        results = tuple(self._indexed(rows[identifier], 0.0) for identifier in identifiers)
        return SearchPage(count=int(count), results=results, facets=facets)

    def _search_collected(
        self,
        query: SearchQuery,
        where: str,
        parameters: Sequence[object],
        order: Sequence[str],
    ) -> SearchPage:
        """A filtered search with facets: its hits collected once, with the columns the facets
        count and the page is sorted by, and the count, the page and every facet read from them
        (one pass over the matching resources instead of three)."""
        carried = ", ".join(
            f"r.{column} AS {column}" for column in (*_FACET_COLUMNS, *_HIT_SORT_COLUMNS)
        )
        hits_order = ", ".join(column.replace("r.", "hits.", 1) for column in order)
        with self._lock:
            self._db.execute("DROP TABLE IF EXISTS search_hits")
            self._db.execute(
                f"CREATE TEMPORARY TABLE search_hits AS SELECT r.id AS id, r.code AS code,"
                f" {carried} FROM resources r WHERE {where}",
                list(parameters),
            )
            try:
                count = self._db.execute("SELECT COUNT(*) FROM search_hits").fetchone()[0]
                identifiers = [
                    row[0]
                    for row in self._db.execute(
                        f"SELECT hits.id FROM search_hits hits ORDER BY {hits_order}"
                        " LIMIT ? OFFSET ?",
                        [query.rows, query.start],
                    ).fetchall()
                ]
                rows = self._page_rows(identifiers)
                facets = self._facet_counts(query, hits_only=True, where="", parameters=())
            finally:
                self._db.execute("DROP TABLE IF EXISTS search_hits")
        results = tuple(self._indexed(rows[identifier], 0.0) for identifier in identifiers)
        return SearchPage(count=int(count), results=results, facets=facets)

    def _facet_counts(
        self,
        query: SearchQuery,
        *,
        hits_only: bool,
        where: str,
        parameters: Sequence[object],
    ) -> dict[str, tuple[tuple[str, int], ...]]:
        """Each facet's values and counts (the most frequent first, at most facet_limit): over
        the ``search_hits`` table a search collected (``hits_only``: it carries the counted
        columns, so a single-valued field needs no join; ``where`` is then not read), else over
        the resources ``where`` selects. Call under the lock."""
        facets: dict[str, tuple[tuple[str, int], ...]] = {}
        for name in query.facet_fields:
            if name in _SINGLE_FIELDS:
                column = f"{'hits' if hits_only else 'r'}.{_SINGLE_FIELDS[name]}"
                source = "search_hits hits" if hits_only else "resources r"
            elif hits_only:
                table, value_column = _MULTI_FIELDS[name]
                column = f"v.{value_column}"
                source = f"search_hits hits JOIN {table} v ON v.code = hits.code"
            else:
                # Over the whole directory ``where`` reads the status alone (any other filter
                # collects hits), and a value table keeps its resource's status: counted on
                # its own (status, value) index, with no join to the resources.
                table, value_column = _MULTI_FIELDS[name]
                column = f"r.{value_column}"
                source = f"{table} r"
            # The hits are what ``where`` selected already.
            condition = "1 = 1" if hits_only else where
            rows = self._db.execute(
                f"SELECT {column}, COUNT(*) FROM {source} WHERE {condition} AND {column} != ''"
                f" GROUP BY {column} ORDER BY COUNT(*) DESC, {column} ASC LIMIT ?",
                [*([] if hits_only else parameters), query.facet_limit],
            ).fetchall()
            facets[name] = tuple((str(value), int(total)) for value, total in rows)
        return facets

    def resource(self, code: str) -> IndexedResource | None:
        with self._lock:
            row = self._db.execute(
                "SELECT rr.record, r.created_ms, r.modified_ms, r.height, r.transaction_id,"
                " r.district FROM resources r JOIN resource_records rr ON rr.id = r.id"
                " WHERE r.code = ?",
                (code,),
            ).fetchone()
        return None if row is None else self._indexed(row)

    def resource_codes(self, offset: int, limit: int) -> list[str]:
        with self._lock:
            return [
                row[0]
                for row in self._db.execute(
                    "SELECT code FROM resources WHERE status = 'active' ORDER BY code"
                    " LIMIT ? OFFSET ?",
                    (limit, offset),
                )
            ]

    def versions(self, code: str) -> list[VersionEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event, record FROM versions WHERE code = ?"
                " ORDER BY height, transaction_index, event_index",
                (code,),
            ).fetchall()
        return [version_entry(row[0], bytes(row[1])) for row in rows]

    def categories(self, *, counted: bool = True) -> list[tuple[directory_pb2.Category, int]]:
        counts: dict[str, int] = {}
        with self._lock:
            rows = self._db.execute("SELECT record FROM categories ORDER BY code").fetchall()
            if counted:
                # One pass over the resources, grouped by their category path: a resource
                # counts once for each distinct code on its path (a level-2 category is its
                # own item).
                for *path, total in self._db.execute(
                    "SELECT category_code, category_level1, category_level2, COUNT(*)"
                    " FROM resources WHERE status = 'active'"
                    " GROUP BY category_code, category_level1, category_level2"
                ):
                    for code in set(path) - {""}:
                        counts[code] = counts.get(code, 0) + int(total)
        categories = [_decode_as(directory_pb2.Category, row[0]) for row in rows]
        return [(category, counts.get(category.code, 0)) for category in categories]

    def departments(self, *, counted: bool = True) -> list[tuple[directory_pb2.Department, int]]:
        counts: dict[str, int] = {}
        with self._lock:
            rows = self._db.execute("SELECT record FROM departments ORDER BY code").fetchall()
            if counted:
                for code, total in self._db.execute(
                    "SELECT department_code, COUNT(*) FROM resources WHERE status = 'active'"
                    " GROUP BY department_code"
                ):
                    counts[code] = int(total)
        departments = [_decode_as(directory_pb2.Department, row[0]) for row in rows]
        return [(department, counts.get(department.code, 0)) for department in departments]

    def keywords(self, prefix: str, limit: int) -> list[str]:
        with self._lock:
            return [
                row[0]
                for row in self._db.execute(
                    "SELECT DISTINCT k.keyword FROM resource_keywords k JOIN resources r"
                    " ON r.code = k.code WHERE r.status = 'active' AND k.keyword LIKE ?"
                    " ESCAPE '\\' ORDER BY k.keyword LIMIT ?",
                    (_like_pattern(prefix)[1:], limit),
                )
            ]

    def request(self, request_id: str) -> directory_pb2.SharingRequest | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
        return None if row is None else _decode_as(directory_pb2.SharingRequest, row[0])

    def requests_of(
        self, department_code: str, role: str, limit: int
    ) -> list[directory_pb2.SharingRequest]:
        column = _REQUEST_ROLES.get(role)
        if column is None:
            raise SearchQueryError(f"role {role[:20]!r} is not one of {', '.join(_REQUEST_ROLES)}")
        with self._lock:
            rows = self._db.execute(
                f"SELECT record FROM requests WHERE {column} = ? ORDER BY height DESC, id ASC"
                " LIMIT ?",
                (department_code, limit),
            ).fetchall()
        return [_decode_as(directory_pb2.SharingRequest, row[0]) for row in rows]

    def requests_in_state(self, state: str, limit: int) -> list[directory_pb2.SharingRequest]:
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM requests WHERE state = ? ORDER BY height ASC, id ASC LIMIT ?",
                (state, limit),
            ).fetchall()
        return [_decode_as(directory_pb2.SharingRequest, row[0]) for row in rows]

    def request_history(self, request_id: str) -> list[directory_pb2.SharingRequest]:
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM request_transitions WHERE id = ?"
                " ORDER BY height, transaction_index, event_index",
                (request_id,),
            ).fetchall()
        return [_decode_as(directory_pb2.SharingRequest, row[0]) for row in rows]

    def receipts(self, request_id: str) -> list[directory_pb2.UsageReceipt]:
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM receipts WHERE request_id = ? ORDER BY sequence",
                (request_id,),
            ).fetchall()
        return [_decode_as(directory_pb2.UsageReceipt, row[0]) for row in rows]

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        with self._lock:
            return {
                table: [
                    tuple(row)
                    for row in self._db.execute(
                        f"SELECT {_SNAPSHOT_COLUMNS.get(table, '*')} FROM {table} ORDER BY {order}"
                    )
                ]
                for table, order in _DERIVED_TABLES.items()
            }

    def add_token(self, token_hash: bytes, owner: TokenOwner, created_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token_hash,
                    owner.member,
                    owner.department_code,
                    owner.label,
                    created_ms,
                    int(owner.administrator),
                ),
            )

    def token_owner(self, token_hash: bytes) -> TokenOwner | None:
        with self._lock:
            row = self._db.execute(
                "SELECT member, department_code, label, administrator FROM api_tokens"
                " WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        return None if row is None else TokenOwner(row[0], row[1], row[2], bool(row[3]))

    def remove_token(self, token_hash: bytes) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM api_tokens WHERE token_hash = ?", (token_hash,))
            return cursor.rowcount > 0


class SqliteStore(_SqlStore):
    """The index in one SQLite database (a file, or ``":memory:"``), full-text search by FTS5's
    trigram tokenizer (and ``resource_characters`` for terms of one or two Chinese
    characters)."""

    character_index = True

    _begin = "BEGIN IMMEDIATE"

    def __init__(self, path: Path | str = ":memory:") -> None:
        if sqlite3.sqlite_version_info < SQLITE_TRIGRAM_VERSION:
            raise ConfigurationError(
                f"the directory index needs SQLite 3.34 or later (FTS5 trigram), "
                f"not {sqlite3.sqlite_version}"
            )
        self.path = str(path)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db = _Sql(self._connection, "?")
        try:
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA synchronous = FULL")
            self._connection.executescript(_SCHEMA + _RESOURCE_INDEXES)
            _check_schema_version(self._db, self.path)
        except sqlite3.Error as error:
            self._connection.close()
            raise ConfigurationError(f"cannot open the index {self.path}: {error}") from None
        except ConfigurationError:
            self._connection.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._connection.close()


# The same tables in PostgreSQL's types; text compares by code point (COLLATE "C"), as SQLite's
# does, so that both stores order rows, sorts and facets alike. The full-text table is a plain
# table whose columns pg_trgm's GIN indexes serve (ILIKE finds any substring, Chinese too).
_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS index_checkpoint (
  id BIGINT PRIMARY KEY CHECK (id = 0),
  height BIGINT NOT NULL, transaction_index BIGINT NOT NULL, event_index BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS categories (
  code TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL,
  name_en TEXT COLLATE "C" NOT NULL, level BIGINT NOT NULL, parent_code TEXT COLLATE "C" NOT NULL,
  height BIGINT NOT NULL, transaction_id BYTEA NOT NULL, record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS departments (
  code TEXT COLLATE "C" PRIMARY KEY, organisation TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL, name_en TEXT COLLATE "C" NOT NULL,
  district TEXT COLLATE "C" NOT NULL, height BIGINT NOT NULL, transaction_id BYTEA NOT NULL,
  record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
  code TEXT COLLATE "C" PRIMARY KEY, version BIGINT NOT NULL, name TEXT COLLATE "C" NOT NULL,
  department_code TEXT COLLATE "C" NOT NULL, district TEXT COLLATE "C" NOT NULL,
  category_code TEXT COLLATE "C" NOT NULL, category_level1 TEXT COLLATE "C" NOT NULL,
  category_level2 TEXT COLLATE "C" NOT NULL, sharing_type TEXT COLLATE "C" NOT NULL,
  format TEXT COLLATE "C" NOT NULL, update_cycle TEXT COLLATE "C" NOT NULL,
  openness TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL,
  publish_date TEXT COLLATE "C" NOT NULL, created_ms BIGINT NOT NULL, modified_ms BIGINT NOT NULL,
  height BIGINT NOT NULL, transaction_id BYTEA NOT NULL, id BIGINT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS resource_records (id BIGINT PRIMARY KEY, record BYTEA NOT NULL);
CREATE INDEX IF NOT EXISTS resources_department ON resources (department_code);
CREATE TABLE IF NOT EXISTS resource_keywords (
  code TEXT COLLATE "C" NOT NULL, keyword TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL, PRIMARY KEY (code, keyword)
);
CREATE INDEX IF NOT EXISTS resource_keywords_keyword ON resource_keywords (keyword);
CREATE INDEX IF NOT EXISTS resource_keywords_status ON resource_keywords (status, keyword);
CREATE TABLE IF NOT EXISTS resource_formats (
  code TEXT COLLATE "C" NOT NULL, format TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL, PRIMARY KEY (code, format)
);
CREATE INDEX IF NOT EXISTS resource_formats_format ON resource_formats (format, code);
CREATE INDEX IF NOT EXISTS resource_formats_status ON resource_formats (status, format);
CREATE TABLE IF NOT EXISTS versions (
  height BIGINT NOT NULL, transaction_index BIGINT NOT NULL, event_index BIGINT NOT NULL,
  code TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL, event TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL, transaction_id BYTEA NOT NULL, record BYTEA NOT NULL,
  PRIMARY KEY (height, transaction_index, event_index)
);
CREATE INDEX IF NOT EXISTS versions_code ON versions (code, version);
CREATE TABLE IF NOT EXISTS requests (
  id TEXT COLLATE "C" PRIMARY KEY, resource_code TEXT COLLATE "C" NOT NULL,
  provider_code TEXT COLLATE "C" NOT NULL, requester_code TEXT COLLATE "C" NOT NULL,
  state TEXT COLLATE "C" NOT NULL, height BIGINT NOT NULL, transaction_id BYTEA NOT NULL,
  record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS request_transitions (
  height BIGINT NOT NULL, transaction_index BIGINT NOT NULL, event_index BIGINT NOT NULL,
  id TEXT COLLATE "C" NOT NULL, event TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL,
  transaction_id BYTEA NOT NULL, record BYTEA NOT NULL,
  PRIMARY KEY (height, transaction_index, event_index)
);
CREATE INDEX IF NOT EXISTS request_transitions_id ON request_transitions (id);
CREATE INDEX IF NOT EXISTS requests_provider ON requests (provider_code, height);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state, height);
CREATE INDEX IF NOT EXISTS requests_requester ON requests (requester_code, height);
CREATE TABLE IF NOT EXISTS receipts (
  request_id TEXT COLLATE "C" NOT NULL, sequence BIGINT NOT NULL, height BIGINT NOT NULL,
  transaction_id BYTEA NOT NULL, record BYTEA NOT NULL, PRIMARY KEY (request_id, sequence)
);
CREATE TABLE IF NOT EXISTS resource_characters (rowid BIGINT PRIMARY KEY, text tsvector NOT NULL);
CREATE TABLE IF NOT EXISTS resource_text (
  rowid BIGINT PRIMARY KEY, code TEXT COLLATE "C" NOT NULL UNIQUE, name TEXT NOT NULL,
  abstract TEXT NOT NULL,
  keywords TEXT NOT NULL, data_items TEXT NOT NULL, department TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
  token_hash BYTEA PRIMARY KEY, member TEXT NOT NULL, department_code TEXT NOT NULL,
  label TEXT NOT NULL, created_ms BIGINT NOT NULL, administrator INTEGER NOT NULL DEFAULT 0
);
"""
_CHARACTERS_INDEX = "resource_characters_text"
_CHARACTERS_INDEX_DEFINITION = "ON resource_characters USING gin (text)"
# The text columns' weights in the PostgreSQL score (as bm25's in SQLite: the name counts most).
_TEXT_WEIGHTS = (10, 4, 6, 2, 1)


def _postgres_text_condition(terms: Sequence[str]) -> tuple[str, list[object]]:
    """Every term as a substring (ILIKE) of some text column; the score sums the weights of the
    columns each term occurs in (the rank is its negative: lower is better, as bm25's)."""
    score_parts: list[str] = []
    score_parameters: list[object] = []
    conditions: list[str] = []
    condition_parameters: list[object] = []
    for term in terms:
        pattern = _like_pattern(term)
        if len(term) < TRIGRAM_CHARS and all(_is_cjk(character) for character in term):
            # The phrase of its characters in the character index (the score below still
            # weighs the columns it occurs in, over these rows only).
            conditions.append(
                "rowid IN (SELECT rowid FROM resource_characters"
                " WHERE text @@ phraseto_tsquery('simple', ?))"
            )
            condition_parameters.append(" ".join(term))
        else:
            conditions.append(
                "(" + " OR ".join(f"{column} ILIKE ? ESCAPE '\\'" for column in _TEXT_COLUMNS) + ")"
            )
            condition_parameters.extend([pattern] * len(_TEXT_COLUMNS))
        for column, weight in zip(_TEXT_COLUMNS, _TEXT_WEIGHTS, strict=True):
            score_parts.append(f"(CASE WHEN {column} ILIKE ? ESCAPE '\\' THEN {weight} ELSE 0 END)")
            score_parameters.append(pattern)
    score = " + ".join(score_parts)
    where = " AND ".join(conditions)
    query = f"SELECT rowid AS id, -({score})::float8 AS rank FROM resource_text WHERE {where}"
    return query, score_parameters + condition_parameters


class PostgresStore(_SqlStore):
    """The index in a PostgreSQL database (``conninfo``: a libpq connection string), for a
    directory larger than one SQLite file serves well. Needs ``psycopg`` (the ``postgresql``
    extra); uses ``pg_trgm``'s indexes when the extension can be created, and answers the same
    without them (by scanning)."""

    def __init__(self, conninfo: str) -> None:
        try:
            import psycopg  # noqa: PLC0415 (an optional dependency)
        except ImportError:
            raise ConfigurationError(
                "the PostgreSQL index needs psycopg: install causeway[postgresql]"
            ) from None
        self._lock = threading.RLock()
        try:
            self._connection = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as error:
            raise ConfigurationError(f"cannot connect to the index database: {error}") from None
        self._db = _Sql(self._connection, "%s")
        try:
            # The index is read from memory (its tables are small beside a server's cache), so
            # a page read out of order costs about what one in order does: at the server's
            # default (4, for spinning disks) the planner scanned all 100,000 texts for a
            # common term (250 ms) rather than read its trigram indexes' matches (95 ms).
            self._connection.execute(f"SET random_page_cost = {RANDOM_PAGE_COST}")
            self._connection.execute(_POSTGRES_SCHEMA + _RESOURCE_INDEXES)
            _check_schema_version(self._db, "database")
            try:
                self._connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except psycopg.Error:
                self.trigram_indexes = False
            else:
                self.trigram_indexes = True
            # The GIN indexes of the text: a rebuild makes them once at the end (adding
            # 100,000 rows to them one by one took longer than the rest of the rebuild).
            gin_indexes = {_CHARACTERS_INDEX: _CHARACTERS_INDEX_DEFINITION}
            if self.trigram_indexes:
                gin_indexes.update(
                    (
                        f"resource_text_{column}",
                        f"ON resource_text USING gin ({column} gin_trgm_ops)",
                    )
                    for column in _TEXT_COLUMNS
                )
            self._bulk_drop = tuple(f"DROP INDEX IF EXISTS {name}" for name in gin_indexes)
            self._bulk_create = tuple(
                f"CREATE INDEX IF NOT EXISTS {name} {definition}"
                for name, definition in gin_indexes.items()
            )
            for statement in self._bulk_create:
                self._connection.execute(statement)
        except psycopg.Error as error:
            self._connection.close()
            raise ConfigurationError(f"cannot prepare the index database: {error}") from None
        except ConfigurationError:
            self._connection.close()
            raise

    def _text_condition(self, terms: Sequence[str]) -> tuple[str, list[object]]:
        return _postgres_text_condition(terms)

    def _writer(self, *, bulk: bool) -> _SqlWriter:
        if bulk:
            return _CopyWriter(self._db, self._connection, character_value=self._character_value)
        return super()._writer(bulk=bulk)

    # Terms of one or two Chinese characters: pg_trgm extracts no trigram from them, and ILIKE
    # alone scanned every row (about 300 ms at 100,000 resources).
    character_index = True
    _character_value = "to_tsvector('simple', ?)"
    # VACUUM as well: after a rebuild no row is marked all-visible yet, and until autovacuum
    # comes by every count and facet reads the table instead of its index alone.
    _optimize_statements = ("VACUUM (ANALYZE)",)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _check_schema_version(database: _Sql, where: str) -> None:
    row = database.execute("SELECT value FROM index_meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        database.execute("INSERT INTO index_meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    elif row[0] in _SCHEMA_MIGRATIONS:
        for statement in _SCHEMA_MIGRATIONS[row[0]]:
            database.execute(statement)
        database.execute(
            "UPDATE index_meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,)
        )
    elif row[0] != SCHEMA_VERSION:
        raise ConfigurationError(
            f"index {where} has schema version {row[0]}, not {SCHEMA_VERSION}:"
            " rebuild it from the chain"
        )


def token_hash(token: str) -> bytes:
    """What the index keeps of an API token: its SHA-256 (tokens are 256 random bits, so a hash
    without salt or stretching cannot be inverted by guessing)."""
    return hashlib.sha256(token.encode()).digest()


# -- the core -----------------------------------------------------------------------------------


class IndexCheckpoint:
    """The index's position as the SDK's ``Checkpoint``, for ``Client.follow_events``: ``load``
    answers the position of the last applied event; ``save`` does nothing, because ``apply``
    already stored each position in the transaction of its rows (follow with
    ``save_checkpoint=False``)."""

    def __init__(self, index: DirectoryIndex) -> None:
        self._index = index

    def load(self) -> EventPosition:
        return self._index.checkpoint()

    def save(self, position: EventPosition) -> None:
        del position


class DirectoryIndex:
    """Applies directory events in chain order to a store and answers searches over it."""

    def __init__(self, store: IndexStore | None = None) -> None:
        self.store: IndexStore = store if store is not None else SqliteStore()
        self._applied_since_optimize = 0

    # ---------------------------------------------------------------- events

    def checkpoint(self) -> EventPosition:
        """The position of the last applied event (``START`` before any)."""
        return self.store.checkpoint()

    def apply(self, events: Iterable[DirectoryEvent]) -> int:
        """Applies the events after the checkpoint, in one store transaction with the new
        checkpoint; events at or before it (a replay) are skipped. Answers how many were
        applied. Events must come in increasing position order: one that goes back while
        later than the checkpoint means the follower lost its place, an InvariantError."""
        with self.store.writing() as writer:
            applied = self._apply(writer, events)
        self._note_applied(applied)
        return applied

    def _note_applied(self, applied: int) -> None:
        """The planner's statistics refreshed every OPTIMIZE_EVERY_EVENTS applied events."""
        self._applied_since_optimize += applied
        if self._applied_since_optimize >= OPTIMIZE_EVERY_EVENTS:
            self._applied_since_optimize = 0
            self.store.optimize()

    def follow(self, records: Iterable[types_pb2.EventRecord], contract: str) -> int:
        """Applies the events of ``contract`` from an SDK event stream as they arrive, each in
        its own transaction (a stream does not say when a block's last event has come), and
        answers how many were applied when the stream ends. With the SDK::

            index.follow(
                client.follow_events(index.as_checkpoint(), contract, save_checkpoint=False),
                contract,
            )

        resumes exactly after the last applied event, whatever stopped the process."""
        applied = 0
        for record in records:
            if record.event.contract == contract:
                applied += self.apply([DirectoryEvent.from_record(record)])
        return applied

    def as_checkpoint(self) -> IndexCheckpoint:
        return IndexCheckpoint(self)

    def rebuild(self, events: Iterable[DirectoryEvent]) -> int:
        """Drops every derived row and the checkpoint, then applies ``events`` from the start:
        all in one transaction (API tokens are kept: they are not chain data)."""
        with self.store.writing(bulk=True) as writer:
            writer.clear()
            applied = self._apply(writer, events)
        self.store.optimize()
        self._applied_since_optimize = 0
        return applied

    def _apply(self, writer: IndexWriter, events: Iterable[DirectoryEvent]) -> int:
        last = writer.checkpoint()
        applied = 0
        for event in events:
            if event.position <= last:
                # A replay (the stream resumes at the height of the last event, and may repeat
                # the last one) is skipped; going back after new events is a lost place.
                if applied and event.position < last:
                    raise InvariantError(
                        f"event at {tuple(event.position)} came after {tuple(last)}: the events"
                        " are not in chain order"
                    )
                continue
            self._apply_one(writer, event)
            last = event.position
            applied += 1
        if applied:
            writer.save_checkpoint(last)
        return applied

    def _apply_one(self, writer: IndexWriter, event: DirectoryEvent) -> None:
        message_type = EVENT_MESSAGES.get(event.name)
        if message_type is None:
            # Another event of the contract (a newer version's): nothing to index.
            return
        message = _decode_as(message_type, event.data)
        if isinstance(message, directory_pb2.Category):
            writer.put_category(message, event.data, event)
        elif isinstance(message, directory_pb2.Department):
            writer.put_department(message, event.data, event)
            for record, created_ms in writer.resources_of_department(message.code):
                version = _decode_as(directory_pb2.ResourceVersion, record)
                writer.put_resource(resource_row(version, record, message, created_ms))
        elif isinstance(message, directory_pb2.ResourceVersion):
            self._apply_version(writer, message, event)
        elif isinstance(message, directory_pb2.RolledUpResource):
            self._apply_rollup(writer, message, event)
        elif isinstance(message, directory_pb2.SharingRequest):
            if not message.id:
                raise EventDataError(f"a {event.name} event without a request id")
            writer.put_request(message, event.data, event)
        elif isinstance(message, directory_pb2.UsageReceipt):
            if not message.request_id:
                raise EventDataError("a usage_recorded event without a request id")
            writer.add_receipt(message, event.data, event)

    def _apply_version(
        self, writer: IndexWriter, version: directory_pb2.ResourceVersion, event: DirectoryEvent
    ) -> None:
        if not version.code or version.version < 1:
            raise EventDataError(f"a {event.name} event without a code or version")
        writer.add_version(version, event.data, event)
        current = writer.resource_created_ms(version.code)
        if current is not None and current[0] > version.version:
            return  # an older version than the one indexed: kept in versions only
        created_ms = version.time_ms if current is None else current[1]
        department = writer.department(version.provider_code)
        writer.put_resource(resource_row(version, event.data, department, created_ms))

    def _apply_rollup(
        self, writer: IndexWriter, rollup: directory_pb2.RolledUpResource, event: DirectoryEvent
    ) -> None:
        """A district's version rolled up into the city's: in the history with the city's
        record of it, and the resource (of the district, whose departments the city's directory
        need not list) unless a later version is indexed already."""
        version = rollup.resource
        if not version.code or version.version < 1 or not rollup.district_code:
            raise EventDataError("a resource_rolled_up event without a district, code or version")
        writer.add_version(version, event.data, event)
        current = writer.resource_created_ms(version.code)
        if current is not None and current[0] > version.version:
            return
        created_ms = version.time_ms if current is None else current[1]
        department = writer.department(version.provider_code) or directory_pb2.Department(
            code=version.provider_code, district=rollup.district_code
        )
        row = resource_row(
            version, version.SerializeToString(deterministic=True), department, created_ms
        )
        writer.put_resource(replace(row, district=rollup.district_code))

    # ---------------------------------------------------------------- reads

    def search(
        self,
        q: str = "",
        *,
        filters: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]] = (),
        sort: Sequence[tuple[str, str]] | str | None = None,
        rows: int = ROWS_DEFAULT,
        start: int = 0,
        facet_fields: Sequence[str] = (),
        facet_limit: int = FACET_LIMIT_DEFAULT,
    ) -> SearchPage:
        """Resources matching ``q`` (every term, as a substring of the name, abstract, keywords,
        data items or department name) and ``filters``; see ``SearchQuery.checked``."""
        query = SearchQuery.checked(
            q,
            filters=filters,
            sort=sort,
            rows=rows,
            start=start,
            facet_fields=facet_fields,
            facet_limit=facet_limit,
        )
        return self.store.search(query)

    def resource(self, code: str) -> IndexedResource:
        found = self.store.resource(code) if isinstance(code, str) else None
        if found is None:
            raise NotFoundError(f"no resource {code!r} in the directory")
        return found

    def resource_codes(self, offset: int = 0, limit: int = LIST_LIMIT_MAX) -> list[str]:
        """Codes of the active resources in code order, a page at a time."""
        _checked_int("offset", offset, 0, START_MAX * 10)
        _checked_int("limit", limit, 0, LIST_LIMIT_MAX)
        return self.store.resource_codes(offset, limit)

    def versions(self, code: str) -> list[directory_pb2.ResourceVersion]:
        return [entry.version for entry in self.store.versions(code)]

    def version_entries(self, code: str) -> list[VersionEntry]:
        """Every version of ``code`` in chain order, with the bytes that prove it."""
        return self.store.versions(code)

    def categories(self, *, counted: bool = True) -> list[tuple[directory_pb2.Category, int]]:
        return self.store.categories(counted=counted)

    def departments(self, *, counted: bool = True) -> list[tuple[directory_pb2.Department, int]]:
        return self.store.departments(counted=counted)

    def department(self, code: str) -> directory_pb2.Department:
        for department, _ in self.store.departments(counted=False):
            if department.code == code:
                return department
        raise NotFoundError(f"no department {code!r} in the directory")

    def keywords(self, prefix: str = "", limit: int = LIST_LIMIT_MAX) -> list[str]:
        _checked_text("query", prefix, FILTER_VALUE_CHARS_MAX)
        _checked_int("limit", limit, 0, LIST_LIMIT_MAX)
        return self.store.keywords(prefix, limit)

    def requests_of(
        self, department_code: str, role: str, limit: int = LIST_LIMIT_MAX
    ) -> list[directory_pb2.SharingRequest]:
        """Requests addressed to (role "incoming") or made by ("outgoing") a department, the
        latest first, at most ``limit``."""
        return self.store.requests_of(department_code, role, limit)

    def overdue_requests(
        self, now_ms: int, limit: int = LIST_LIMIT_MAX
    ) -> list[directory_pb2.SharingRequest]:
        """PENDING requests whose answer time (``answer_by_ms``) is before ``now_ms``, the
        oldest first: what anyone may escalate to the administrators."""
        _checked_int("limit", limit, 0, LIST_LIMIT_MAX)
        pending = self.store.requests_in_state(
            request_state_name(directory_pb2.REQUEST_STATE_PENDING), LIST_LIMIT_MAX
        )
        return [request for request in pending if request.answer_by_ms < now_ms][:limit]

    def escalated_requests(self, limit: int = LIST_LIMIT_MAX) -> list[directory_pb2.SharingRequest]:
        """ESCALATED requests, the oldest first: the administrators' inbox."""
        _checked_int("limit", limit, 0, LIST_LIMIT_MAX)
        return self.store.requests_in_state(
            request_state_name(directory_pb2.REQUEST_STATE_ESCALATED), limit
        )

    def request(self, request_id: str) -> directory_pb2.SharingRequest:
        found = self.store.request(request_id)
        if found is None:
            raise NotFoundError(f"no sharing request {request_id!r}")
        return found

    def request_history(self, request_id: str) -> list[directory_pb2.SharingRequest]:
        return self.store.request_history(request_id)

    def receipts(self, request_id: str) -> list[directory_pb2.UsageReceipt]:
        return self.store.receipts(request_id)

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        """Every derived row, table by table in key order: equal snapshots, equal indexes."""
        return self.store.snapshot()

    # ---------------------------------------------------------------- API tokens

    def issue_token(
        self,
        member: str,
        department_code: str,
        label: str,
        now_ms: int,
        *,
        administrator: bool = False,
    ) -> str:
        """A new API token for ``member`` acting for ``department_code`` (empty: for none) and,
        with ``administrator``, as one of the directory's administrators: the raw token is
        answered once and only its hash is kept."""
        _checked_text("label", label, TOKEN_LABEL_CHARS_MAX)
        if not member or not (department_code or administrator):
            raise RequestError("a token needs a member, and a department or the administrators")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        owner = TokenOwner(member, department_code, label, administrator)
        self.store.add_token(token_hash(token), owner, now_ms)
        return token

    def token_owner(self, token: str) -> TokenOwner | None:
        if not token or len(token) > 256:
            return None
        return self.store.token_owner(token_hash(token))

    def revoke_token(self, token: str) -> bool:
        return self.store.remove_token(token_hash(token))
