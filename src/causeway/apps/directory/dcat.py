"""The directory as DCAT 3 (W3C Recommendation, 2024): a pure mapping from the directory's
records (``directory_pb2`` messages, as the contract wrote them) to an RDF graph, serialised by
``rdflib`` as Turtle, JSON-LD or RDF/XML. The directory service serves it at
``/catalog.{ttl,jsonld,xml}`` (paged) and ``/dataset/<code>.{ttl,jsonld,xml}``.

What maps to what (after ckanext-dcat's CKAN mapping, ../shared/REFERENCE.md):

- the directory is a ``dcat:Catalog``; each resource a ``dcat:Dataset`` (``dct:identifier`` its
  code; ``dct:title`` and ``dct:description`` with language tags, Chinese and English;
  ``dcat:keyword``; ``dcat:theme`` its category, a ``skos:Concept`` with ``skos:broader`` up the
  scheme; ``dct:publisher`` its department, a ``foaf:Organization``; ``dct:accessRights`` the
  sharing type and conditions; ``dct:accrualPeriodicity`` the EU frequency vocabulary;
  ``dct:issued`` the publish date, ``dct:modified`` the latest version's block time;
  ``dcat:version``, ``dcat:hasVersion`` every version and ``dcat:previousVersion`` the one
  before; ``dct:relation`` the related resources; ``adms:status`` Withdrawn for a withdrawn one);
- each distribution a ``dcat:Distribution`` (``dct:format``, ``dcat:accessURL``,
  ``dcat:byteSize``, ``spdx:checksum`` with ``spdx:checksumValue`` in hex and
  ``spdx:algorithm``: SPDX's SHA-256, or ``causeway:checksumAlgorithm_sm3`` for SM3, which SPDX
  does not name);
- each dataset's ``dcat:CatalogRecord`` carries its chain provenance: ``causeway:chainId``,
  ``causeway:transactionId`` (hex) and ``causeway:blockHeight`` of the version it describes, and
  ``dct:modified``;
- the data items are ``causeway:dataItem`` nodes (``dct:title``, ``causeway:dataType``,
  ``dct:description``): DCAT has no term for a dataset's fields.

A catalogue page lists at most ``CATALOG_PAGE_SIZE`` datasets (ckanext-dcat's 100) and carries
Hydra paging (``hydra:PagedCollection``: total, first, previous, next, last) so that a harvester
can walk it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS, XSD
from rdflib.term import IdentifiedNode

from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import RequestError

CATALOG_PAGE_SIZE = 100
# A page number above this is refused (a million datasets at 100 a page).
CATALOG_PAGES_MAX = 10_000

# DCAT 3 (the same namespace as DCAT 2): rdflib's closed DCAT namespace stops at DCAT 2 and
# warns on DCAT 3's terms (dcat:version, dcat:hasVersion, dcat:previousVersion).
DCAT = Namespace("http://www.w3.org/ns/dcat#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
CAUSEWAY = Namespace("https://causeway.example.org/ns/directory#")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
ADMS_STATUS = Namespace("http://purl.org/adms/status/")

# The serialisations served, by file extension: rdflib's format name and the media type.
FORMATS: Mapping[str, tuple[str, str]] = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "xml": ("pretty-xml", "application/rdf+xml"),
}

_FREQUENCIES: Mapping[int, str] = {
    directory_pb2.UPDATE_CYCLE_REAL_TIME: "CONT",
    directory_pb2.UPDATE_CYCLE_DAILY: "DAILY",
    directory_pb2.UPDATE_CYCLE_WEEKLY: "WEEKLY",
    directory_pb2.UPDATE_CYCLE_MONTHLY: "MONTHLY",
    directory_pb2.UPDATE_CYCLE_QUARTERLY: "QUARTERLY",
    directory_pb2.UPDATE_CYCLE_YEARLY: "ANNUAL",
    directory_pb2.UPDATE_CYCLE_IRREGULAR: "IRREG",
}
_SHARING: Mapping[int, tuple[str, str]] = {
    directory_pb2.SHARING_TYPE_UNCONDITIONAL: ("无条件共享", "shared unconditionally"),
    directory_pb2.SHARING_TYPE_CONDITIONAL: ("有条件共享", "shared on conditions"),
    directory_pb2.SHARING_TYPE_NOT_SHARED: ("不予共享", "not shared"),
}
_CHECKSUM_ALGORITHMS: Mapping[str, URIRef] = {
    "SHA-256": SPDX.checksumAlgorithm_sha256,
    "SM3": CAUSEWAY.checksumAlgorithm_sm3,
}


class DcatError(RequestError):
    """A DCAT request the export cannot answer: an unknown format, a page out of range."""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One resource: every version, oldest first (the last is what the dataset describes)."""

    versions: Sequence[directory_pb2.ResourceVersion]

    @property
    def latest(self) -> directory_pb2.ResourceVersion:
        return self.versions[-1]


@dataclass(frozen=True, slots=True)
class CatalogContext:
    """What every page shares: where it is served, which chain and directory it describes, and
    the departments and categories that datasets point to."""

    base_url: str
    chain_id: str
    directory_id: str
    title: str
    departments: Mapping[str, directory_pb2.Department]
    categories: Mapping[str, directory_pb2.Category]

    def uri(self, *parts: str) -> URIRef:
        return URIRef("/".join([self.base_url.rstrip("/"), *parts]))


def format_of(extension: str) -> tuple[str, str]:
    """(rdflib format, media type) for a served extension; DcatError for another."""
    try:
        return FORMATS[extension]
    except KeyError:
        raise DcatError(
            f"no DCAT serialisation {extension[:20]!r}: one of {', '.join(FORMATS)}"
        ) from None


def serialise(graph: Graph, extension: str) -> bytes:
    rdflib_format, _ = format_of(extension)
    data = graph.serialize(format=rdflib_format, encoding="utf-8")
    return data if isinstance(data, bytes) else data.encode()


def _bind(graph: Graph) -> None:
    for prefix, namespace in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("skos", SKOS),
        ("adms", ADMS),
        ("spdx", SPDX),
        ("hydra", HYDRA),
        ("causeway", CAUSEWAY),
    ):
        graph.bind(prefix, namespace)


def _texts(
    graph: Graph, subject: IdentifiedNode, predicate: URIRef, chinese: str, english: str
) -> None:
    if chinese:
        graph.add((subject, predicate, Literal(chinese, lang="zh")))
    if english:
        graph.add((subject, predicate, Literal(english, lang="en")))


def _time(time_ms: int) -> Literal:
    moment = datetime.datetime.fromtimestamp(time_ms / 1_000, tz=datetime.UTC)
    return Literal(moment.isoformat(timespec="milliseconds"), datatype=XSD.dateTime)


def _category(graph: Graph, context: CatalogContext, code: str) -> URIRef:
    subject = context.uri("category", code)
    category = context.categories.get(code)
    graph.add((subject, RDF.type, SKOS.Concept))
    graph.add((subject, SKOS.notation, Literal(code)))
    if category is not None:
        _texts(graph, subject, SKOS.prefLabel, category.name, category.name_en)
        if category.parent_code:
            graph.add((subject, SKOS.broader, _category(graph, context, category.parent_code)))
    return subject


def _department(graph: Graph, context: CatalogContext, code: str) -> URIRef:
    subject = context.uri("department", code)
    graph.add((subject, RDF.type, FOAF.Organization))
    graph.add((subject, DCTERMS.identifier, Literal(code)))
    department = context.departments.get(code)
    if department is not None:
        _texts(graph, subject, FOAF.name, department.name, department.name_en)
    return subject


def _distribution(
    graph: Graph,
    context: CatalogContext,
    code: str,
    number: int,
    distribution: directory_pb2.Distribution,
) -> URIRef:
    subject = context.uri("dataset", code, "distribution", str(number))
    graph.add((subject, RDF.type, DCAT.Distribution))
    if distribution.name:
        graph.add((subject, DCTERMS.title, Literal(distribution.name)))
    if distribution.format:
        graph.add((subject, DCTERMS.format, Literal(distribution.format)))
    if distribution.access_url:
        graph.add((subject, DCAT.accessURL, URIRef(distribution.access_url)))
    if distribution.byte_size:
        graph.add((subject, DCAT.byteSize, Literal(distribution.byte_size, datatype=XSD.integer)))
    if distribution.hash:
        checksum = BNode()
        graph.add((subject, SPDX.checksum, checksum))
        graph.add((checksum, RDF.type, SPDX.Checksum))
        graph.add((checksum, SPDX.checksumValue, Literal(distribution.hash.hex())))
        algorithm = _CHECKSUM_ALGORITHMS.get(distribution.hash_algorithm)
        if algorithm is not None:
            graph.add((checksum, SPDX.algorithm, algorithm))
    return subject


def add_dataset(graph: Graph, context: CatalogContext, entry: CatalogEntry) -> URIRef:
    """The dataset of one resource, its distributions, versions and catalogue record."""
    latest = entry.latest
    metadata = latest.metadata
    code = latest.code
    subject = context.uri("dataset", code)
    graph.add((subject, RDF.type, DCAT.Dataset))
    graph.add((subject, DCTERMS.identifier, Literal(code)))
    _texts(graph, subject, DCTERMS.title, metadata.name, metadata.name_en)
    _texts(graph, subject, DCTERMS.description, metadata.abstract, metadata.abstract_en)
    for keyword in metadata.keywords:
        graph.add((subject, DCAT.keyword, Literal(keyword)))
    if metadata.category_code:
        graph.add((subject, DCAT.theme, _category(graph, context, metadata.category_code)))
    graph.add((subject, DCTERMS.publisher, _department(graph, context, latest.provider_code)))
    sharing = _SHARING.get(metadata.sharing_type)
    if sharing is not None:
        rights = BNode()
        graph.add((subject, DCTERMS.accessRights, rights))
        graph.add((rights, RDF.type, DCTERMS.RightsStatement))
        _texts(graph, rights, DCTERMS.description, sharing[0], sharing[1])
        if metadata.sharing_conditions:
            graph.add((rights, CAUSEWAY.conditions, Literal(metadata.sharing_conditions)))
    frequency = _FREQUENCIES.get(metadata.update_cycle)
    if frequency is not None:
        graph.add((subject, DCTERMS.accrualPeriodicity, FREQUENCY[frequency]))
    if metadata.publish_date:
        graph.add((subject, DCTERMS.issued, Literal(metadata.publish_date, datatype=XSD.date)))
    graph.add((subject, DCTERMS.modified, _time(latest.time_ms)))
    graph.add((subject, DCAT.version, Literal(str(latest.version))))
    for version in entry.versions:
        graph.add(
            (
                subject,
                DCAT.hasVersion,
                context.uri("dataset", code, "version", str(version.version)),
            )
        )
    if latest.version > 1:
        previous = context.uri("dataset", code, "version", str(latest.version - 1))
        graph.add((subject, DCAT.previousVersion, previous))
    for related in metadata.related_resources:
        graph.add((subject, DCTERMS.relation, context.uri("dataset", related)))
    if latest.status == directory_pb2.RESOURCE_STATUS_WITHDRAWN:
        graph.add((subject, ADMS.status, ADMS_STATUS.Withdrawn))
    for number, distribution in enumerate(metadata.distributions, start=1):
        graph.add(
            (subject, DCAT.distribution, _distribution(graph, context, code, number, distribution))
        )
    for item in metadata.data_items:
        node = BNode()
        graph.add((subject, CAUSEWAY.dataItem, node))
        graph.add((node, DCTERMS.title, Literal(item.name)))
        graph.add((node, CAUSEWAY.dataType, Literal(item.type)))
        if item.description:
            graph.add((node, DCTERMS.description, Literal(item.description)))
    record = context.uri("record", code)
    graph.add((record, RDF.type, DCAT.CatalogRecord))
    graph.add((record, FOAF.primaryTopic, subject))
    graph.add((record, DCTERMS.modified, _time(latest.time_ms)))
    graph.add((record, CAUSEWAY.chainId, Literal(context.chain_id)))
    graph.add((record, CAUSEWAY.transactionId, Literal(latest.transaction_id.hex())))
    graph.add((record, CAUSEWAY.blockHeight, Literal(latest.height, datatype=XSD.integer)))
    return subject


def dataset_graph(context: CatalogContext, entry: CatalogEntry) -> Graph:
    """One resource on its own (``/dataset/<code>.<format>``)."""
    graph = Graph()
    _bind(graph)
    add_dataset(graph, context, entry)
    return graph


def catalog_graph(
    context: CatalogContext,
    entries: Sequence[CatalogEntry],
    *,
    page: int,
    total: int,
    extension: str,
) -> Graph:
    """One page of the catalogue: ``entries`` are the page's datasets (at most
    CATALOG_PAGE_SIZE), ``total`` how many the whole catalogue holds; the paging links name
    ``catalog.<extension>?page=N``."""
    format_of(extension)
    last = max(1, -(-total // CATALOG_PAGE_SIZE))
    if not 1 <= page <= min(last, CATALOG_PAGES_MAX):
        raise DcatError(f"page {page} is out of range: the catalogue has pages 1 to {last}")
    if len(entries) > CATALOG_PAGE_SIZE:
        raise DcatError(f"{len(entries)} datasets on one page, above {CATALOG_PAGE_SIZE}")
    graph = Graph()
    _bind(graph)
    catalog = context.uri("catalog")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.identifier, Literal(context.directory_id)))
    graph.add((catalog, DCTERMS.title, Literal(context.title, lang="zh")))
    graph.add((catalog, CAUSEWAY.chainId, Literal(context.chain_id)))
    for entry in entries:
        dataset = add_dataset(graph, context, entry)
        graph.add((catalog, DCAT.dataset, dataset))
        graph.add((catalog, DCAT.record, context.uri("record", entry.latest.code)))

    def page_uri(number: int) -> URIRef:
        return URIRef(f"{context.base_url.rstrip('/')}/catalog.{extension}?page={number}")

    paging = page_uri(page)
    graph.add((paging, RDF.type, HYDRA.PagedCollection))
    graph.add((paging, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    graph.add((paging, HYDRA.itemsPerPage, Literal(CATALOG_PAGE_SIZE, datatype=XSD.integer)))
    graph.add((paging, HYDRA.firstPage, page_uri(1)))
    graph.add((paging, HYDRA.lastPage, page_uri(last)))
    if page > 1:
        graph.add((paging, HYDRA.previousPage, page_uri(page - 1)))
    if page < last:
        graph.add((paging, HYDRA.nextPage, page_uri(page + 1)))
    return graph
