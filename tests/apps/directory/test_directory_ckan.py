"""The directory's CKAN-compatible Action API (causeway.apps.directory.ckan), served by uvicorn on a
loopback port and called with the real CKAN client, ``ckanapi.RemoteCKAN``: every read action with
its parameters and facets, CKAN's envelope and error types as ckanapi raises them, and the write
actions with API tokens.

The write path is tested up to the ``Submitter`` boundary: ``ChainSubmitter`` below stands where
the chain is (the directory contract is being written beside this service). It does what the
contract does with a call (assigns the code, checks the expected version, writes the version)
and hands the event it would emit to the index, as the service's follower would. It is a test
double at that boundary, not a mock of the index or of the API.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import ckanapi  # type: ignore[import-untyped]
import httpx
import pytest
import uvicorn
from google.protobuf.message import Message
from postgresql_server import PostgresqlServer
from starlette.applications import Starlette
from test_directory_contract import Directory, local_chain
from test_directory_index import (
    ALL,
    ENTERPRISE,
    MIGRANTS,
    POPULATION,
    VEHICLES,
    ChainEvents,
    sample_chain,
)

from causeway.apps.directory.ckan import (
    CKAN_VERSION,
    REGISTER_METHOD,
    REVISE_METHOD,
    ClientSubmitter,
    SubmittedCall,
    create_ckan_app,
)
from causeway.apps.directory.contract import CONTRACT_NAME, build_contract, encode_arguments
from causeway.apps.directory.index import (
    DirectoryEvent,
    DirectoryIndex,
    IndexStore,
    PostgresStore,
    SqliteStore,
    TokenOwner,
)
from causeway.apps.directory.v1 import directory_pb2 as d
from causeway.errors import (
    CausewayError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    TransactionFailedError,
)
from causeway.sdk.transactions import SubmitResult
from causeway.toolchains import CallResult, LocalChain
from causeway.types.v1 import types_pb2

START_TIMEOUT_S = 20.0
CHAIN_ID = "beijing-directory"


@dataclass
class ChainSubmitter:
    """The directory contract's register and revise, applied the way the chain would: the call
    becomes the event the contract emits, in a new block, which the index then follows."""

    chain: ChainEvents
    index: DirectoryIndex
    calls: list[tuple[str, str, Message]] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    # What the next call raises instead (a node that cannot be reached, a refusal).
    failure: CausewayError | None = None

    def exists(self, code: str) -> bool:
        try:
            self.index.resource(code)
        except NotFoundError:
            return False
        return True

    def submit(self, owner: TokenOwner, method: str, arguments: Message) -> SubmittedCall:
        self.calls.append((owner.member, method, arguments))
        if self.failure is not None:
            raise self.failure
        if method == REGISTER_METHOD:
            assert isinstance(arguments, d.RegisterResourceArguments)
            category = arguments.metadata.category_code
            code = ""
            while not code or self.exists(code):
                self.sequences[category] = self.sequences.get(category, 0) + 1
                code = f"{category}-{owner.department_code}-{self.sequences[category]:06d}"
            number = 1
            metadata = arguments.metadata
            name, reason = "resource_registered", ""
        elif method == REVISE_METHOD:
            assert isinstance(arguments, d.ReviseResourceArguments)
            current = self.index.resource(arguments.code).record
            if arguments.expected_version != current.version:
                raise TransactionFailedError(
                    f"expected version {arguments.expected_version}, the latest is"
                    f" {current.version}"
                )
            code, number, metadata = arguments.code, current.version + 1, arguments.metadata
            name, reason = "resource_revised", arguments.note
        else:
            raise AssertionError(f"unexpected method {method}")
        for distribution in metadata.distributions:
            if distribution.hash:
                distribution.hash_algorithm = "SHA-256"
        version = d.ResourceVersion(
            code=code,
            version=number,
            directory_id="beijing",
            provider_code=owner.department_code,
            provider_organisation=f"org-{owner.department_code.lower()}",
            metadata=metadata,
            status=d.RESOURCE_STATUS_ACTIVE,
            author=owner.member,
            reason=reason,
        )
        (event,) = self.chain.transaction((name, version))
        self.index.apply(self.chain.events)
        result = d.RegisterResourceResult(code=code, version=number).SerializeToString()
        return SubmittedCall(event.transaction_id, event.height, result)


class Served:
    """An ASGI app on uvicorn, on a thread of its own and a loopback port the OS chose."""

    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="ckan", daemon=True)

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("the CKAN service did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)


class Service(Served):
    """The CKAN app over the sample directory's index, writing through a ChainSubmitter."""

    def __init__(self, *, read_only: bool = False, store: IndexStore | None = None) -> None:
        self.chain = sample_chain()
        self.index = DirectoryIndex(store if store is not None else SqliteStore())
        self.index.apply(self.chain.events)
        self.submitter = ChainSubmitter(self.chain, self.index)
        self.police_token = self.index.issue_token("org-gaj/staff", "GAJ", "portal", now_ms=1)
        self.market_token = self.index.issue_token("org-scjgj/staff", "SCJGJ", "portal", now_ms=1)
        super().__init__(
            create_ckan_app(
                self.index,
                submitter=None if read_only else self.submitter,
                chain_id=CHAIN_ID,
                site_url="http://directory.example",
                index_wait_s=5.0,
            )
        )

    def stop(self) -> None:
        super().stop()
        self.index.store.close()

    def client(self, token: str | None = None, *, get_only: bool = False) -> ckanapi.RemoteCKAN:
        return ckanapi.RemoteCKAN(self.url, apikey=token, get_only=get_only)


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def ckan(service: Service) -> Iterator[ckanapi.RemoteCKAN]:
    with service.client() as client:
        yield client


def names(*codes: str) -> list[str]:
    return [code.lower() for code in codes]


def extras(package: dict[str, object]) -> dict[str, str]:
    items = package["extras"]
    assert isinstance(items, list)
    return {item["key"]: item["value"] for item in items}


# ------------------------------------------------------------------------------ reads


def test_status_show_names_the_ckan_version_the_chain_and_the_index_height(
    service: Service, ckan: ckanapi.RemoteCKAN
) -> None:
    status = ckan.action.status_show()
    assert status["ckan_version"] == CKAN_VERSION and status["ckan_version"].startswith("2.10.")
    assert status["chain_id"] == CHAIN_ID
    assert status["index_height"] == service.chain.height
    assert status["site_url"] == "http://directory.example"


def test_package_list_pages_the_active_packages(ckan: ckanapi.RemoteCKAN) -> None:
    active = sorted(names(POPULATION, ENTERPRISE, VEHICLES))
    assert ckan.action.package_list() == active
    assert ckan.action.package_list(limit=2) == active[:2]
    assert ckan.action.package_list(limit=2, offset=2) == active[2:]


def test_package_show_maps_a_resource_to_a_ckan_package(
    service: Service, ckan: ckanapi.RemoteCKAN
) -> None:
    package = ckan.action.package_show(id=ENTERPRISE.lower())
    assert ckan.action.package_show(id=ENTERPRISE) == package
    assert package["id"] == ENTERPRISE
    assert package["name"] == "20101-scjgj-000001"
    assert package["title"] == "企业登记注册信息"
    assert package["notes"].startswith("市场主体的登记注册信息")
    assert package["state"] == "active" and package["private"] is False
    assert package["version"] == "2"
    assert package["organization"]["name"] == "scjgj"
    assert package["organization"]["title"] == "市市场监督管理局"
    assert [group["name"] for group in package["groups"]] == [
        "category-2",
        "category-201",
        "category-20101",
    ]
    assert [group["title"] for group in package["groups"]] == [
        "主题信息资源",
        "市场监管",
        "市场主体",
    ]
    assert [tag["name"] for tag in package["tags"]] == ["企业", "市场主体", "营业执照"]
    first, second = package["resources"]
    assert first["format"] == "XLSX" and first["size"] == 1234
    assert first["hash"] == "sha256:" + hashlib.sha256(b"enterprises").hexdigest()
    assert first["url"] == "https://data.example.gov.cn/files/enterprises.xlsx"
    assert second["hash"] == "" and second["format"] == "API"
    fields = extras(package)
    revised = service.index.resource(ENTERPRISE)
    assert fields["transaction_id"] == revised.transaction_id.hex()
    assert fields["height"] == str(revised.height)
    assert fields["version"] == "2"
    assert fields["sharing_type"] == "unconditional"
    assert fields["update_cycle"] == "monthly"
    assert fields["openness"] == "open"
    assert fields["publish_date"] == "2026-02-01"
    assert json.loads(fields["data_items"]) == [
        {"name": "统一社会信用代码", "type": "string", "description": "", "length": 18}
    ]
    assert package["metadata_created"] < package["metadata_modified"]
    withdrawn = ckan.action.package_show(id=MIGRANTS)
    assert withdrawn["state"] == "deleted"
    assert extras(withdrawn)["reason"] == "并入市级资源"
    assert extras(ckan.action.package_show(id=POPULATION))["sharing_conditions"]


def test_resource_show(ckan: ckanapi.RemoteCKAN) -> None:
    package = ckan.action.package_show(id=ENTERPRISE)
    resource = ckan.action.resource_show(id=package["resources"][1]["id"])
    assert resource == package["resources"][1]
    with pytest.raises(ckanapi.NotFound):
        ckan.action.resource_show(id=f"{ENTERPRISE.lower()}-9")


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, [POPULATION, ENTERPRISE, VEHICLES]),
        ({"q": "人口"}, [POPULATION]),
        ({"q": "人口", "include_deleted": True}, [POPULATION, MIGRANTS]),
        ({"q": "registration"}, [ENTERPRISE, VEHICLES]),
        ({"fq": "organization:gaj"}, [POPULATION, VEHICLES]),
        ({"fq": "owner_org:GAJ"}, [POPULATION, VEHICLES]),
        ({"fq": "groups:category-2"}, [ENTERPRISE]),
        ({"fq": "groups:category-101"}, [POPULATION]),
        ({"fq": 'tags:"人口"'}, [POPULATION]),
        ({"fq": "res_format:API"}, [POPULATION, ENTERPRISE]),
        ({"fq": "sharing_type:unconditional"}, [ENTERPRISE, VEHICLES]),
        ({"fq": "district:haidian", "include_deleted": True}, [MIGRANTS]),
        ({"fq": "update_cycle:real_time"}, [VEHICLES]),
        ({"fq": "openness:(open OR conditional)"}, [ENTERPRISE, VEHICLES]),
        ({"fq": "+organization:gaj +res_format:CSV"}, [VEHICLES]),
        ({"fq": "organization:gaj AND tags:户籍"}, [POPULATION]),
        ({"fq": "state:deleted"}, [MIGRANTS]),
        ({"fq": f"name:{VEHICLES.lower()}"}, [VEHICLES]),
        ({"fq_list": ["organization:gaj", "tags:车辆"]}, [VEHICLES]),
        ({"q": "tags:人口 基本"}, [POPULATION]),
        ({"q": "organization:gaj"}, [POPULATION, VEHICLES]),
    ],
)
def test_package_search_with_q_and_fq(
    ckan: ckanapi.RemoteCKAN, parameters: dict[str, object], expected: list[str]
) -> None:
    result = ckan.action.package_search(sort="name asc", **parameters)
    assert result["count"] == len(expected)
    assert [package["id"] for package in result["results"]] == sorted(expected)


def test_package_search_sorts_and_pages(ckan: ckanapi.RemoteCKAN) -> None:
    by_name = ckan.action.package_search(sort="name asc")
    assert [package["name"] for package in by_name["results"]] == sorted(
        names(POPULATION, ENTERPRISE, VEHICLES)
    )
    by_title = ckan.action.package_search(sort="title_string asc")
    assert [package["id"] for package in by_title["results"]] == [POPULATION, ENTERPRISE, VEHICLES]
    modified = ckan.action.package_search(sort="metadata_modified desc")
    assert [package["id"] for package in modified["results"]] == [ENTERPRISE, VEHICLES, POPULATION]
    created = ckan.action.package_search(sort="metadata_created asc", include_deleted=True)
    assert [package["id"] for package in created["results"]] == ALL
    scored = ckan.action.package_search(q="registration", sort="score desc, name asc")
    assert [package["id"] for package in scored["results"]] == [ENTERPRISE, VEHICLES]
    pages = [
        ckan.action.package_search(sort="name asc", rows=1, start=start)["results"]
        for start in range(4)
    ]
    assert [[package["id"] for package in page] for page in pages] == [
        [code] for code in sorted([POPULATION, ENTERPRISE, VEHICLES])
    ] + [[]]
    assert ckan.action.package_search(rows=0)["results"] == []
    # CKAN caps rows at its maximum rather than refusing it.
    assert ckan.action.package_search(rows=5000)["count"] == 3


def test_package_search_facets_as_ckan_returns_them(ckan: ckanapi.RemoteCKAN) -> None:
    result = ckan.action.package_search(
        **{
            "facet.field": json.dumps(
                ["organization", "groups", "tags", "res_format", "sharing_type", "update_cycle"]
            ),
            "facet.limit": 2,
        }
    )
    assert result["facets"]["organization"] == {"gaj": 2, "scjgj": 1}
    assert result["search_facets"]["organization"] == {
        "title": "organization",
        "items": [
            {"name": "gaj", "display_name": "市公安局", "count": 2},
            {"name": "scjgj", "display_name": "市市场监督管理局", "count": 1},
        ],
    }
    assert result["search_facets"]["groups"]["items"] == [
        {"name": "category-1", "display_name": "基础信息资源", "count": 2},
        {"name": "category-2", "display_name": "主题信息资源", "count": 1},
    ]
    assert result["facets"]["res_format"] == {"API": 2, "CSV": 1}
    assert result["facets"]["sharing_type"] == {"unconditional": 2, "conditional": 1}
    assert result["search_facets"]["sharing_type"]["items"][0]["display_name"] == "无条件共享"
    assert len(result["facets"]["tags"]) == 2
    assert len(result["facets"]["update_cycle"]) == 2
    unlimited = ckan.action.package_search(**{"facet.field": '["tags"]', "facet.limit": -1})
    assert len(unlimited["facets"]["tags"]) == 6
    assert ckan.action.package_search()["facets"] == {}
    mincount = ckan.action.package_search(
        **{"facet.field": '["organization"]', "facet.mincount": 2}
    )
    assert mincount["facets"]["organization"] == {"gaj": 2}


def test_package_search_over_get(service: Service) -> None:
    with service.client(get_only=True) as ckan:
        result = ckan.action.package_search(
            q="人口基本", fq="organization:gaj", **{"facet.field": '["tags"]'}
        )
        assert [package["id"] for package in result["results"]] == [POPULATION]
        assert result["facets"]["tags"] == {"人口": 1, "户籍": 1}
        assert ckan.action.package_show(id=VEHICLES)["id"] == VEHICLES


def test_the_api_over_a_postgresql_index(postgresql_server: PostgresqlServer) -> None:
    service = Service(store=PostgresStore(postgresql_server.new_database()))
    service.start()
    try:
        with service.client(service.police_token) as ckan:
            found = ckan.action.package_search(
                q="人口", include_deleted=True, **{"facet.field": '["organization", "tags"]'}
            )
            assert sorted(package["id"] for package in found["results"]) == sorted(
                [POPULATION, MIGRANTS]
            )
            assert found["facets"]["organization"] == {"gaj": 1, "hdgaj": 1}
            assert found["facets"]["tags"]["人口"] == 2
            scored = ckan.action.package_search(q="registration", sort="score desc")
            assert [package["id"] for package in scored["results"]] == [ENTERPRISE, VEHICLES]
            created = ckan.action.package_create(**new_package())
            assert ckan.action.package_show(id=created["name"])["title"] == "道路交通事故信息"
            assert ckan.action.package_search(q="交通事故")["count"] == 1
    finally:
        service.stop()


def test_organizations_groups_tags_and_licenses(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.organization_list() == ["gaj", "hdgaj", "scjgj"]
    organizations = ckan.action.organization_list(all_fields=True)
    assert [(item["name"], item["title"], item["package_count"]) for item in organizations] == [
        ("gaj", "市公安局", 2),
        ("hdgaj", "海淀分局", 0),
        ("scjgj", "市市场监督管理局", 1),
    ]
    police = ckan.action.organization_show(id="gaj", include_datasets=True)
    assert police["title_en"] == "Public Security Bureau"
    assert [package["id"] for package in police["packages"]] == sorted([POPULATION, VEHICLES])
    assert "packages" not in ckan.action.organization_show(id="GAJ")
    assert ckan.action.group_list() == ["category-1", "category-2"]
    groups = ckan.action.group_list(all_fields=True)
    assert [(item["name"], item["title"], item["package_count"]) for item in groups] == [
        ("category-1", "基础信息资源", 2),
        ("category-2", "主题信息资源", 1),
    ]
    assert ckan.action.group_show(id="category-101")["title"] == "人口"
    assert ckan.action.tag_list() == sorted(
        ["人口", "户籍", "企业", "市场主体", "营业执照", "车辆"]
    )
    assert ckan.action.tag_list(query="人") == ["人口"]
    assert ckan.action.tag_list(query="人", all_fields=True)[0]["name"] == "人口"
    licenses = ckan.action.license_list()
    assert [item["id"] for item in licenses] == ["notspecified"]


# ------------------------------------------------------------------------------ errors


def test_errors_as_ckanapi_raises_them(ckan: ckanapi.RemoteCKAN) -> None:
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="1-none-000001")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.organization_show(id="none")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.group_show(id="category-9")
    with pytest.raises(ckanapi.ValidationError) as missing:
        ckan.action.package_show()
    assert missing.value.error_dict["id"] == ["Missing value"]
    with pytest.raises(ckanapi.ValidationError) as bad_rows:
        ckan.action.package_search(rows=-1)
    assert "rows" in bad_rows.value.error_dict
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_search(start="many")
    for fq in ("unknown:x", "organization:", "organization:(a OR b", 'tags:"open', "no field"):
        with pytest.raises(ckanapi.SearchQueryError):
            ckan.action.package_search(fq=fq)
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(sort="size desc")
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(q="x" * 501)
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(**{"facet.field": '["size"]'})
    with pytest.raises(ckanapi.CKANAPIError):
        ckan.action.no_such_action()


def test_the_envelope_and_status_codes_on_the_wire(service: Service) -> None:
    with httpx.Client(base_url=service.url) as http:
        found = http.get("/api/3/action/package_show", params={"id": VEHICLES})
        assert found.status_code == 200
        body = found.json()
        assert body["success"] is True and body["result"]["id"] == VEHICLES
        assert body["help"].endswith("/api/3/action/help_show?name=package_show")
        missing = http.post("/api/action/package_show", json={"id": "1-x-000001"})
        assert missing.status_code == 404
        assert missing.json()["success"] is False
        assert missing.json()["error"]["__type"] == "Not Found Error"
        invalid = http.post(
            "/api/3/action/package_create", json={}, headers={"Authorization": service.police_token}
        )
        assert invalid.status_code == 409
        assert invalid.json()["error"]["__type"] == "Validation Error"
        assert invalid.json()["error"]["title"] == ["Missing value"]
        refused = http.post("/api/3/action/package_create", json={"title": "x"})
        assert refused.status_code == 403
        assert refused.json()["error"]["__type"] == "Authorization Error"
        bad_query = http.get("/api/3/action/package_search", params={"fq": "size:1"})
        assert bad_query.status_code == 400
        assert bad_query.json()["error"]["__type"] == "Search Query Error"
        form = http.post(
            "/api/3/action/package_search",
            data={"q": "人口", "facet.field": '["organization"]'},
        )
        assert form.json()["result"]["facets"] == {"organization": {"gaj": 1}}
        assert (
            http.post(
                "/api/3/action/package_search",
                content=b"[1]",
                headers={"content-type": "application/json"},
            ).status_code
            == 400
        )
        assert (
            http.post(
                "/api/3/action/package_search",
                content=b"{",
                headers={"content-type": "application/json"},
            ).status_code
            == 400
        )
        assert http.get("/api/3/action/package_create").status_code == 400
        assert (
            http.post("/api/3/action/package_search", content=b"x" * ((1 << 20) + 1)).status_code
            == 400
        )


# ------------------------------------------------------------------------------ writes


def new_package(**changes: object) -> dict[str, object]:
    package: dict[str, object] = {
        "name": "ignored-the-contract-assigns-the-code",
        "title": "道路交通事故信息",
        "notes": "全市道路交通事故的时间、地点与类型",
        "owner_org": "gaj",
        "tags": [{"name": "交通"}, {"name": "事故"}],
        "resources": [
            {
                "url": "https://data.example.gov.cn/files/accidents.csv",
                "name": "事故明细",
                "format": "csv",
                "hash": "sha256:" + hashlib.sha256(b"accidents").hexdigest(),
                "size": 2048,
            }
        ],
        "extras": [
            {"key": "category_code", "value": "102"},
            {"key": "sharing_type", "value": "conditional"},
            {"key": "sharing_conditions", "value": "仅限交通管理用途"},
            {"key": "update_cycle", "value": "weekly"},
            {"key": "openness", "value": "not_open"},
            {"key": "publish_date", "value": "2026-03-01"},
            {"key": "data_items", "value": json.dumps([{"name": "事故时间", "type": "datetime"}])},
        ],
        "resource_format": "file",
    }
    package.update(changes)
    return package


def test_the_write_actions_end_to_end(service: Service) -> None:
    with service.client(service.police_token) as ckan:
        created = ckan.action.package_create(**new_package())
        code = created["id"]
        assert code == "102-GAJ-000002"  # 102-GAJ-000001 exists: sequences are never reused
        assert created["title"] == "道路交通事故信息"
        assert created["organization"]["name"] == "gaj"
        assert [tag["name"] for tag in created["tags"]] == ["交通", "事故"]
        assert created["resources"][0]["format"] == "CSV"
        assert created["resources"][0]["hash"].startswith("sha256:")
        fields = extras(created)
        assert fields["sharing_type"] == "conditional" and fields["update_cycle"] == "weekly"
        assert json.loads(fields["data_items"])[0]["type"] == "datetime"
        assert created["author"] == "org-gaj/staff"
        member, method, arguments = service.submitter.calls[-1]
        assert (member, method) == ("org-gaj/staff", REGISTER_METHOD)
        assert isinstance(arguments, d.RegisterResourceArguments)
        assert arguments.metadata.sharing_conditions == "仅限交通管理用途"

        found = ckan.action.package_search(q="交通事故")
        assert [package["id"] for package in found["results"]] == [code]

        patched = ckan.action.package_patch(id=code.lower(), title="道路交通事故统计")
        assert patched["version"] == "2"
        assert patched["title"] == "道路交通事故统计"
        assert patched["notes"] == created["notes"]
        assert patched["tags"] == created["tags"]

        updated = ckan.action.package_update(
            **new_package(id=code, title="交通事故", tags=[], version="2", log_message="简化")
        )
        assert updated["version"] == "3" and updated["tags"] == []
        assert extras(updated)["reason"] == "简化"

        resource = ckan.action.resource_create(
            package_id=code,
            url="https://data.example.gov.cn/api/accidents",
            format="api",
            name="接口",
        )
        assert resource["format"] == "API" and resource["position"] == 1
        # CKAN lets a resource go unnamed; the directory names it by its URL's last part.
        unnamed = ckan.action.resource_create(
            package_id=code, url="https://data.example.gov.cn/files/accidents-2025.csv"
        )
        assert unnamed["name"] == "accidents-2025.csv"
        assert len(ckan.action.package_show(id=code)["resources"]) == 3

        with pytest.raises(ckanapi.ValidationError) as stale:
            ckan.action.package_update(**new_package(id=code, version="1"))
        assert "chain" in stale.value.error_dict
    # register, patch, update, two resources, and the stale update (refused by the chain)
    assert [call[1] for call in service.submitter.calls] == [REGISTER_METHOD] + [REVISE_METHOD] * 5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "名" * 100}, "title"),
        ({"notes": 5}, "notes"),
        ({"tags": [{"name": ""}]}, "tags"),
        ({"tags": [{"name": f"t{n}"} for n in range(21)]}, "tags"),
        ({"resources": [{"name": "no url"}]}, "resources.0.url"),
        ({"resources": [{"url": "https://x", "hash": "md5:00"}]}, "resources.0.hash"),
        ({"resources": [{"url": "https://x", "size": -1}]}, "resources.0.size"),
        ({"extras": [{"key": "category_code", "value": "1"}]}, "category_code"),
        ({"category_code": "abc"}, "category_code"),
        ({"sharing_type": "sometimes"}, "sharing_type"),
        ({"sharing_type": "not_shared", "sharing_conditions": ""}, "sharing_conditions"),
        ({"update_cycle": "hourly"}, "update_cycle"),
        ({"openness": "ajar"}, "openness"),
        ({"publish_date": "2026-02-30"}, "publish_date"),
        ({"publish_date": "March"}, "publish_date"),
        ({"data_items": "[{]"}, "data_items"),
        ({"data_items": [{"name": "x", "type": "blob"}]}, "data_items"),
        ({"duties": [1]}, "duties"),
        ({"resource_format": "paper"}, "resource_format"),
        ({"extras": "none"}, "extras"),
        ({"category_code": "103"}, "category_code"),  # not in the scheme
        ({"duties": ["婚姻登记"]}, "duties"),  # not a duty of the police
        ({"related_resources": ["1-NONE-000001"]}, "related_resources"),
        ({"data_items": [{"name": "x"}, {"name": "x"}]}, "data_items"),
        ({"data_items": [{"name": "x", "description": "长" * 200}]}, "data_items"),
        ({"tags": [{"name": "长" * 70}]}, "tags"),  # 210 bytes
        ({"sharing_method": "长" * 70}, "sharing_method"),
        ({"log_message": "x"}, None),
    ],
)
def test_invalid_packages_are_refused_before_anything_is_submitted(
    service: Service, changes: dict[str, object], field: str | None
) -> None:
    if field is None:  # a control: the same package with this change is accepted
        with service.client(service.police_token) as ckan:
            ckan.action.package_create(**new_package(**changes))
        assert len(service.submitter.calls) == 1
        return
    with (
        service.client(service.police_token) as ckan,
        pytest.raises(ckanapi.ValidationError) as raised,
    ):
        ckan.action.package_create(**new_package(**changes))
    assert field in raised.value.error_dict
    assert raised.value.error_dict["__type"] == "Validation Error"
    assert service.submitter.calls == []


def test_writes_need_a_token_of_the_providing_department(service: Service) -> None:
    with service.client() as anonymous, pytest.raises(ckanapi.NotAuthorized):
        anonymous.action.package_create(**new_package())
    with service.client("not-a-token") as stranger, pytest.raises(ckanapi.NotAuthorized):
        stranger.action.package_patch(id=VEHICLES, title="x")
    with service.client(service.market_token) as market:
        with pytest.raises(ckanapi.NotAuthorized):
            market.action.package_patch(id=VEHICLES, title="x")
        with pytest.raises(ckanapi.NotAuthorized):
            market.action.resource_create(package_id=VEHICLES, url="https://x")
        with pytest.raises(ckanapi.NotAuthorized):
            market.action.package_create(**new_package(owner_org="gaj"))
        with pytest.raises(ckanapi.NotFound):
            market.action.package_patch(id="1-none-000001", title="x")
    assert service.submitter.calls == []
    headers = {"X-CKAN-API-Key": service.market_token}
    with httpx.Client(base_url=service.url, headers=headers) as http:
        answer = http.post(
            "/api/3/action/package_patch", json={"id": ENTERPRISE, "title": "企业登记"}
        )
    assert answer.json()["result"]["title"] == "企业登记"


def test_failures_of_the_chain_as_ckan_reports_them(service: Service) -> None:
    with service.client(service.police_token) as ckan:
        service.submitter.failure = NodeUnavailableError("no node answers")
        with pytest.raises(ckanapi.CKANAPIError) as unavailable:
            ckan.action.package_patch(id=VEHICLES, title="x")
        assert "Service Unavailable" in str(unavailable.value)
        assert "503" in str(unavailable.value)
        service.submitter.failure = PermissionDeniedError("not a member of org-gaj")
        with pytest.raises(ckanapi.NotAuthorized):
            ckan.action.package_patch(id=VEHICLES, title="x")
    assert ckan.action.package_show(id=VEHICLES)["title"] == "机动车登记信息"


def test_a_read_only_service_refuses_writes() -> None:
    service = Service(read_only=True)
    service.start()
    try:
        with service.client(service.police_token) as ckan:
            with pytest.raises(ckanapi.NotAuthorized):
                ckan.action.package_create(**new_package())
            assert ckan.action.package_show(id=VEHICLES)["id"] == VEHICLES
    finally:
        service.stop()


# ------------------------------------------------------------------------------ the SDK submitter


@dataclass
class _Node:
    """Answers ``invoke`` as the SDK client does (a SubmitResult's shape)."""

    outcome: SubmitResult
    invoked: list[tuple[str, str, Message | bytes]] = field(default_factory=list)

    def invoke(self, contract: str, method: str, arguments: Message | bytes) -> SubmitResult:
        self.invoked.append((contract, method, arguments))
        return self.outcome


def test_the_sdk_submitter_signs_as_the_member_and_reads_the_result() -> None:
    owner = TokenOwner("org-gaj/staff", "GAJ", "portal")
    returned = d.RegisterResourceResult(code="102-GAJ-000009", version=1).SerializeToString()
    ok = SubmitResult(
        b"\x01" * 32,
        9,
        types_pb2.TransactionResult(status=types_pb2.RESULT_STATUS_OK, return_value=returned),
        True,
    )
    node = _Node(ok)
    members: list[str] = []

    def client_for(member: str) -> _Node:
        members.append(member)
        return node

    submitter = ClientSubmitter(client_for, "directory")
    arguments = d.RegisterResourceArguments(metadata=d.ResourceMetadata(name="x"))
    call = submitter.submit(owner, REGISTER_METHOD, arguments)
    assert call == SubmittedCall(b"\x01" * 32, 9, returned)
    assert members == ["org-gaj/staff"]
    assert node.invoked == [("directory", REGISTER_METHOD, arguments)]
    failed = types_pb2.TransactionResult(
        status=types_pb2.RESULT_STATUS_INVALID_ARGUMENT, error="stale"
    )
    node.outcome = SubmitResult(b"\x02" * 32, 10, failed, True)
    with pytest.raises(TransactionFailedError):
        submitter.submit(owner, REVISE_METHOD, arguments)
    # Not committed within the wait: unavailable (CKAN's 503, the web API's "unavailable"),
    # nothing claimed.
    node.outcome = SubmitResult(b"\x03" * 32, 0, None, False)
    with pytest.raises(NodeUnavailableError, match="did not commit in time"):
        submitter.submit(owner, REVISE_METHOD, arguments)


# ------------------------------------------------------------------------------ the real contract


@dataclass
class LocalChainSubmitter:
    """The real directory contract on a LocalChain (the real executor, real signatures): a call
    is signed by the token's member, and the events of each committed transaction go to the
    index at their chain positions, as the service's follower would deliver them (a LocalChain
    commits one transaction per block: transaction index 0)."""

    chain: LocalChain
    index: DirectoryIndex

    def commit(self, result: CallResult) -> CallResult:
        self.index.apply(
            DirectoryEvent(
                result.height, 0, position, result.transaction_id, event.name, event.data
            )
            for position, event in enumerate(result.events)
            if event.contract == CONTRACT_NAME
        )
        return result

    def send(self, member: str, method: str, arguments: Message) -> CallResult:
        encoded = encode_arguments(method, arguments)
        return self.commit(self.chain.send(CONTRACT_NAME, method, encoded, sender=member))

    def submit(self, owner: TokenOwner, method: str, arguments: Message) -> SubmittedCall:
        result = self.send(owner.member, method, arguments)
        if not result.ok:
            raise TransactionFailedError(result.error)
        return SubmittedCall(result.transaction_id, result.height, result.return_data)


def test_writes_through_the_real_directory_contract_on_a_local_chain() -> None:
    # Deployed as the contract's own tests deploy it (init names org1 the administrators).
    chain = Directory(local_chain("intl"), build_contract()).chain
    index = DirectoryIndex()
    submitter = LocalChainSubmitter(chain, index)
    administrator = "org1/admin"
    for code, name in (("1", "基础信息资源"), ("101", "人口信息"), ("10101", "户籍人口")):
        category = d.Category(code=code, name=name)
        submitter.send(administrator, "set_category", d.SetCategoryArguments(category=category))
    for code, organisation in (("GA", "org2"), ("MZ", "org1")):
        department = d.Department(code=code, organisation=organisation, name=f"部门{code}")
        arguments = d.SetDepartmentArguments(department=department)
        submitter.send(administrator, "set_department", arguments)
    assert [item.code for item, _ in index.departments()] == ["GA", "MZ"]
    provider = index.issue_token("org2/client", "GA", "portal", now_ms=0)
    other = index.issue_token("org1/client", "MZ", "portal", now_ms=0)
    served = Served(create_ckan_app(index, submitter=submitter, chain_id=chain.chain_id))
    served.start()
    try:
        with ckanapi.RemoteCKAN(served.url, apikey=provider) as ckan:
            created = ckan.action.package_create(
                **new_package(owner_org="ga", category_code="10101")
            )
            code = created["id"]
            assert code == "10101-GA-000001"  # the contract's code
            assert created["organization"]["name"] == "ga"
            assert created["resources"][0]["hash"] == (
                "sha256:" + hashlib.sha256(b"accidents").hexdigest()
            )
            assert extras(created)["height"] == str(chain.height)
            assert [group["name"] for group in created["groups"]] == [
                "category-1",
                "category-101",
                "category-10101",
            ]
            patched = ckan.action.package_patch(id=created["name"], title="交通事故统计")
            assert (patched["version"], patched["title"]) == ("2", "交通事故统计")
            resource = ckan.action.resource_create(
                package_id=code, url="https://data.example.gov.cn/api/accidents", format="api"
            )
            assert resource["format"] == "API"
            assert ckan.action.package_show(id=code)["version"] == "3"
            # A revision against a version that is no longer the latest: the contract refuses.
            with pytest.raises(ckanapi.ValidationError) as stale:
                ckan.action.package_update(
                    **new_package(id=code, version="2", category_code="10101")
                )
            assert "chain" in stale.value.error_dict
            assert ckan.action.package_search(q="交通事故")["count"] == 1
        with (
            ckanapi.RemoteCKAN(served.url, apikey=other) as ckan,
            pytest.raises(ckanapi.NotAuthorized),
        ):
            ckan.action.package_patch(id=code, title="x")
    finally:
        served.stop()
    # The refused revision committed as a failed transaction and emitted nothing.
    assert index.checkpoint().height < chain.height
    assert index.resource(code).record.version == 3
