"""The DCAT 3 export (causeway.apps.directory.dcat): every serialisation parses back to the same
graph, each dataset carries its chain provenance, versions, checksums (SM3 named on gm chains),
categories and department, and a harvester can walk the pages."""

from __future__ import annotations

import hashlib
import warnings

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS

from causeway.apps.directory.dcat import (
    ADMS,
    ADMS_STATUS,
    CATALOG_PAGE_SIZE,
    CAUSEWAY,
    DCAT,
    FORMATS,
    HYDRA,
    SPDX,
    CatalogContext,
    CatalogEntry,
    DcatError,
    catalog_graph,
    dataset_graph,
    serialise,
)
from causeway.apps.directory.v1 import directory_pb2

BASE = "http://127.0.0.1:8900/directory"
# rdflib's parser of what its "pretty-xml" serialiser writes.
PARSERS = {"pretty-xml": "xml"}


def _context() -> CatalogContext:
    return CatalogContext(
        base_url=BASE,
        chain_id="city",
        directory_id="beijing",
        title="北京市政务信息资源目录",
        departments={
            "GA": directory_pb2.Department(
                code="GA", organisation="police", name="市公安局", name_en="Public Security Bureau"
            )
        },
        categories={
            "1": directory_pb2.Category(code="1", name="基础信息", name_en="Base", level=1),
            "101": directory_pb2.Category(
                code="101", name="人口", name_en="Population", level=2, parent_code="1"
            ),
        },
    )


def _version(
    version: int, *, status: int = directory_pb2.RESOURCE_STATUS_ACTIVE, algorithm: str = "SHA-256"
) -> directory_pb2.ResourceVersion:
    return directory_pb2.ResourceVersion(
        code="101-GA-000001",
        version=version,
        directory_id="beijing",
        provider_code="GA",
        provider_organisation="police",
        metadata=directory_pb2.ResourceMetadata(
            category_code="101",
            name="常住人口信息",
            name_en="Resident population",
            abstract="全市常住人口基本信息",
            format="database",
            data_items=[directory_pb2.DataItem(name="姓名", type="string", description="name")],
            sharing_type=directory_pb2.SHARING_TYPE_CONDITIONAL,
            sharing_conditions="仅限政务用途",
            update_cycle=directory_pb2.UPDATE_CYCLE_DAILY,
            publish_date="2026-03-01",
            related_resources=["101-GA-000002"],
            keywords=["人口", "population"],
            distributions=[
                directory_pb2.Distribution(
                    name="extract",
                    format="CSV",
                    access_url="https://data.example.org/population.csv",
                    hash=hashlib.sha256(b"population").digest(),
                    hash_algorithm=algorithm,
                    byte_size=1234,
                )
            ],
        ),
        status=status,
        author="police/clerk",
        height=40 + version,
        time_ms=1_800_000_000_000 + version * 1_000,
        transaction_id=bytes([version]) * 32,
    )


def _entry(versions: int = 2, **fields: object) -> CatalogEntry:
    return CatalogEntry(
        versions=[_version(number, **fields) for number in range(1, versions + 1)]  # type: ignore[arg-type]
    )


def _dataset(code: str = "101-GA-000001") -> URIRef:
    return URIRef(f"{BASE}/dataset/{code}")


def test_every_serialisation_parses_back_to_the_same_graph() -> None:
    graph = dataset_graph(_context(), _entry())
    for extension, (rdflib_format, _) in FORMATS.items():
        data = serialise(graph, extension)
        with warnings.catch_warnings():
            # rdflib's own JSON-LD parser builds a ConjunctiveGraph, which rdflib 7.6 deprecates
            # (a warning from inside the library, about the library).
            warnings.filterwarnings(
                "ignore", "ConjunctiveGraph is deprecated", DeprecationWarning, "rdflib"
            )
            parsed = Graph().parse(data=data, format=PARSERS.get(rdflib_format, rdflib_format))
        assert isomorphic(parsed, graph), extension
    assert b"@prefix dcat:" in serialise(graph, "ttl")


def test_a_dataset_carries_its_metadata_and_chain_provenance() -> None:
    graph = dataset_graph(_context(), _entry())
    dataset = _dataset()
    assert (dataset, RDF.type, DCAT.Dataset) in graph
    assert (dataset, DCTERMS.title, Literal("常住人口信息", lang="zh")) in graph
    assert (dataset, DCTERMS.title, Literal("Resident population", lang="en")) in graph
    assert (dataset, DCAT.keyword, Literal("人口")) in graph
    assert (dataset, DCAT.version, Literal("2")) in graph
    assert (
        dataset,
        DCAT.previousVersion,
        URIRef(f"{BASE}/dataset/101-GA-000001/version/1"),
    ) in graph
    assert len(list(graph.objects(dataset, DCAT.hasVersion))) == 2
    assert (dataset, DCTERMS.relation, _dataset("101-GA-000002")) in graph
    publisher = graph.value(dataset, DCTERMS.publisher)
    assert (publisher, FOAF.name, Literal("市公安局", lang="zh")) in graph
    theme = graph.value(dataset, DCAT.theme)
    assert (theme, SKOS.broader, URIRef(f"{BASE}/category/1")) in graph
    record = URIRef(f"{BASE}/record/101-GA-000001")
    assert (record, FOAF.primaryTopic, dataset) in graph
    assert (record, CAUSEWAY.transactionId, Literal((bytes([2]) * 32).hex())) in graph
    assert graph.value(record, CAUSEWAY.blockHeight).toPython() == 42
    assert (record, CAUSEWAY.chainId, Literal("city")) in graph
    item = graph.value(dataset, CAUSEWAY.dataItem)
    assert (item, DCTERMS.title, Literal("姓名")) in graph
    assert (dataset, ADMS.status, None) not in graph


def test_checksums_name_their_algorithm_sm3_on_gm_chains() -> None:
    for algorithm, expected in (
        ("SHA-256", SPDX.checksumAlgorithm_sha256),
        ("SM3", CAUSEWAY.checksumAlgorithm_sm3),
    ):
        graph = dataset_graph(_context(), _entry(algorithm=algorithm))
        distribution = graph.value(_dataset(), DCAT.distribution)
        checksum = graph.value(distribution, SPDX.checksum)
        assert graph.value(checksum, SPDX.algorithm) == expected
        value = graph.value(checksum, SPDX.checksumValue)
        assert str(value) == hashlib.sha256(b"population").hexdigest()


def test_a_withdrawn_resource_says_so_and_keeps_its_history() -> None:
    graph = dataset_graph(_context(), _entry(3, status=directory_pb2.RESOURCE_STATUS_WITHDRAWN))
    assert (_dataset(), ADMS.status, ADMS_STATUS.Withdrawn) in graph
    assert len(list(graph.objects(_dataset(), DCAT.hasVersion))) == 3


def _entries(count: int) -> list[CatalogEntry]:
    entries = []
    for number in range(count):
        version = _version(1)
        version.code = f"101-GA-{number:06d}"
        entries.append(CatalogEntry(versions=[version]))
    return entries


def test_a_harvester_walks_every_page() -> None:
    total = 2 * CATALOG_PAGE_SIZE + 5
    entries = _entries(total)
    seen: set[str] = set()
    page = 1
    pages = 0
    while True:
        chunk = entries[(page - 1) * CATALOG_PAGE_SIZE : page * CATALOG_PAGE_SIZE]
        graph = catalog_graph(_context(), chunk, page=page, total=total, extension="ttl")
        parsed = Graph().parse(data=serialise(graph, "ttl"), format="turtle")
        catalog = URIRef(f"{BASE}/catalog")
        seen.update(
            str(parsed.value(dataset, DCTERMS.identifier))
            for dataset in parsed.objects(catalog, DCAT.dataset)
        )
        paging = URIRef(f"{BASE}/catalog.ttl?page={page}")
        assert parsed.value(paging, HYDRA.totalItems).toPython() == total
        assert parsed.value(paging, HYDRA.lastPage) == URIRef(f"{BASE}/catalog.ttl?page=3")
        pages += 1
        following = parsed.value(paging, HYDRA.nextPage)
        if following is None:
            break
        page = int(str(following).rsplit("=", 1)[1])
    assert pages == 3
    assert len(seen) == total


def test_bad_requests_are_refused_with_a_clear_error() -> None:
    with pytest.raises(DcatError, match="no DCAT serialisation 'csv'"):
        serialise(dataset_graph(_context(), _entry()), "csv")
    with pytest.raises(DcatError, match="page 3 is out of range: the catalogue has pages 1 to 2"):
        catalog_graph(_context(), [], page=3, total=CATALOG_PAGE_SIZE + 1, extension="ttl")
    with pytest.raises(DcatError, match="page 0"):
        catalog_graph(_context(), [], page=0, total=0, extension="ttl")
    with pytest.raises(DcatError, match="above"):
        catalog_graph(
            _context(), _entries(CATALOG_PAGE_SIZE + 1), page=1, total=500, extension="xml"
        )
    empty = catalog_graph(_context(), [], page=1, total=0, extension="jsonld")
    assert (URIRef(f"{BASE}/catalog"), RDF.type, DCAT.Catalog) in empty
