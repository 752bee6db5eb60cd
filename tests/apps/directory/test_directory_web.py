"""The directory's web interface (causeway.apps.directory.web): its JSON API with httpx and its
pages in a real Chromium, against the whole stack for real.

One directory service per module: a real node process (a solo intl network from the end-to-end
harness, tests/e2e/node_harness.py) runs the real directory contract, deployed by governance;
the service's index follows the contract's events from the node through the SDK, writes are
signed as the token's member by the SDK's ``ClientSubmitter``, and the CKAN API and the web
routes are served together by uvicorn on a loopback port the OS chose. The verify action reads
the version's state entry, its proof, the header with its certificate and the validator set from
that node through the service (``HttpNodeReader``), and checks them in the browser.

The browser is Debian's chromium driven by Playwright, as the explorer's tests drive it (same
executable and flags, installed by scripts/toolchain-chromium.sh when missing); one per module.
Screenshots go to test-artefacts/directory/.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ckanapi  # type: ignore[import-untyped]
import httpx
import pytest
from google.protobuf.message import Message
from starlette.applications import Starlette
from test_directory_ckan import LocalChainSubmitter, Served
from test_directory_contract import Directory, local_chain

from causeway.apps.directory.ckan import ClientSubmitter, SubmittedCall, create_ckan_app
from causeway.apps.directory.contract import CONTRACT_NAME, build_contract, decode_result
from causeway.apps.directory.index import DirectoryIndex, TokenOwner
from causeway.apps.directory.rollup import district_resource_key
from causeway.apps.directory.v1 import directory_pb2 as d
from causeway.apps.directory.web import ClientNodeReader, HttpNodeReader, web_routes
from causeway.sdk import Client

_EXPLORER_TESTS = str(Path(__file__).resolve().parents[2] / "explorer")
if _EXPLORER_TESTS not in sys.path:
    sys.path.insert(0, _EXPLORER_TESTS)

from explorer_harness import REPOSITORY, chromium_context  # noqa: E402
from node_harness import NodeProcess, create_network  # noqa: E402
from playwright.sync_api import BrowserContext, Page, Route, expect  # noqa: E402

pytestmark = pytest.mark.e2e

ADMINISTRATOR = "org1/admin"
ENDORSER = "org2/admin"
POLICE = "org2/client"  # department GA (公安局), the provider
CIVIL = "org1/client"  # department MZ (民政局), the requester
ARTEFACTS = REPOSITORY / "test-artefacts" / "directory"
RENDER_TIMEOUT_MS = 20_000
INDEX_WAIT_S = 15.0
CATEGORIES = (
    ("1", "基础信息资源", "Basic information"),
    ("101", "人口信息", "Population"),
    ("10101", "户籍人口", "Registered population"),
    ("2", "主题信息资源", "Thematic information"),
    ("201", "交通出行", "Transport"),
)
DEPARTMENTS = (
    ("GA", "org2", "公安局", "Public Security Bureau", ""),
    ("MZ", "org1", "民政局", "Civil Affairs Bureau", "海淀区"),
)


def metadata(**changes: Any) -> d.ResourceMetadata:
    fields: dict[str, Any] = dict(
        category_code="101",
        name="常住人口基本信息",
        name_en="Resident population",
        abstract="公安局户籍管理中产生的常住人口基本信息。",
        format="database",
        data_items=[
            d.DataItem(name="姓名", type="string", length=50),
            d.DataItem(name="身份证号", type="string", length=18),
            d.DataItem(name="出生日期", type="date"),
        ],
        sharing_type=d.SHARING_TYPE_UNCONDITIONAL,
        sharing_method="接口调用",
        openness=d.OPENNESS_NOT_OPEN,
        update_cycle=d.UPDATE_CYCLE_DAILY,
        publish_date="2025-03-01",
        keywords=["人口"],
        distributions=[
            d.Distribution(
                name="人口.csv",
                format="CSV",
                access_url="https://data.example.gov.cn/ga/population.csv",
                hash=bytes(range(32)),
                byte_size=1234,
            )
        ],
    )
    return d.ResourceMetadata(**{**fields, **changes})


@dataclass
class CountingSubmitter:
    """The SDK's ClientSubmitter, counting the calls that reach it."""

    inner: ClientSubmitter
    calls: list[tuple[str, str]] = field(default_factory=list)

    def submit(self, owner: TokenOwner, method: str, arguments: Message) -> SubmittedCall:
        self.calls.append((owner.member, method))
        return self.inner.submit(owner, method, arguments)


class WebService:
    """A real node with the directory contract, and the directory service over it."""

    def __init__(self, folder: Path) -> None:
        self.node = NodeProcess(create_network(folder / "network", "intl"), folder / "node.log")
        self.clients: dict[str, Client] = {}
        self.index = DirectoryIndex()
        self._follower: threading.Thread | None = None
        self.served: Served | None = None
        self.reader: ClientNodeReader | None = None

    def client(self, member: str) -> Client:
        if member not in self.clients:
            self.clients[member] = self.node.client(self.node.network.identity(member))
        return self.clients[member]

    def start(self) -> None:
        self.node.start()
        module, interface = build_contract()
        admin = self.client(ADMINISTRATOR)
        deployed = admin.contracts.deploy(
            CONTRACT_NAME,
            module.read_bytes(),
            interface.read_text(),
            init_arguments={
                "directory_id": "beijing",
                "level": d.DIRECTORY_LEVEL_CITY,
                "name": "北京市政务信息资源目录",
                "administrator_organisations": "org1",
            },
            endorsers=[self.node.network.identity(ENDORSER)],
        )
        assert deployed.contract.status == "active", deployed
        for code, name, name_en in CATEGORIES:
            self.administer(
                "set_category",
                d.SetCategoryArguments(category=d.Category(code=code, name=name, name_en=name_en)),
            )
        for code, organisation, name, name_en, district in DEPARTMENTS:
            department = d.Department(
                code=code, organisation=organisation, name=name, name_en=name_en, district=district
            )
            self.administer("set_department", d.SetDepartmentArguments(department=department))
        self._follower = threading.Thread(target=self._follow, name="follower", daemon=True)
        self._follower.start()
        self.submitter = CountingSubmitter(ClientSubmitter(self.client, CONTRACT_NAME))
        self.police = self.index.issue_token(POLICE, "GA", "portal", now_ms=1)
        self.civil = self.index.issue_token(CIVIL, "MZ", "portal", now_ms=1)
        police = TokenOwner(POLICE, "GA", "portal")
        civil = TokenOwner(CIVIL, "MZ", "portal")
        self.population = self.register(police, metadata())
        self.revise(police, self.population, metadata(abstract="常住人口基本信息, 第二版."))
        self.vehicles = self.register(
            police,
            metadata(
                category_code="201",
                name="机动车登记信息",
                name_en="Vehicle registrations",
                abstract="机动车登记、转移、注销信息。",
                format="file",
                data_items=[
                    d.DataItem(name="号牌号码", type="string"),
                    d.DataItem(name="车辆类型", type="string"),
                ],
                sharing_type=d.SHARING_TYPE_CONDITIONAL,
                sharing_conditions="仅限履行法定职责使用",
                update_cycle=d.UPDATE_CYCLE_MONTHLY,
                keywords=["交通"],
                distributions=[
                    d.Distribution(
                        name="vehicles.xlsx",
                        format="XLSX",
                        access_url="https://data.example.gov.cn/ga/vehicles.xlsx",
                    )
                ],
            ),
        )
        self.marriages = self.register(
            civil,
            metadata(
                category_code="10101",
                name="婚姻登记信息",
                name_en="Marriage registrations",
                abstract="婚姻登记机关办理的结婚、离婚登记信息。",
                data_items=[d.DataItem(name="登记日期", type="date")],
                update_cycle=d.UPDATE_CYCLE_WEEKLY,
                keywords=["婚姻"],
                distributions=[
                    d.Distribution(
                        name="marriages-api",
                        format="API",
                        access_url="https://data.example.gov.cn/mz/marriages",
                    )
                ],
            ),
        )
        self.submitter.calls.clear()
        # What the directory service passes: a reader over the SDK client it follows with.
        self.reader = ClientNodeReader(self.client(CIVIL))
        routes = [
            *create_ckan_app(
                self.index,
                submitter=self.submitter,
                chain_id=self.node.network.chain_id,
                index_wait_s=INDEX_WAIT_S,
            ).routes,
            *web_routes(
                self.index,
                submitter=self.submitter,
                chain_id=self.node.network.chain_id,
                node_reader=self.reader,
                index_wait_s=INDEX_WAIT_S,
            ),
        ]
        self.served = Served(Starlette(routes=routes))
        self.served.start()

    @property
    def url(self) -> str:
        assert self.served is not None
        return self.served.url

    def administer(self, method: str, arguments: Message) -> None:
        outcome = self.client(ADMINISTRATOR).invoke(CONTRACT_NAME, method, arguments)
        assert outcome.succeeded, outcome

    def register(self, owner: TokenOwner, resource: d.ResourceMetadata) -> str:
        submitted = self.submitter.submit(
            owner, "register_resource", d.RegisterResourceArguments(metadata=resource)
        )
        result = decode_result("register_resource", submitted.return_value)
        assert isinstance(result, d.RegisterResourceResult)
        self.wait_for(submitted.height)
        return result.code

    def revise(self, owner: TokenOwner, code: str, resource: d.ResourceMetadata) -> None:
        latest = self.index.resource(code).record.version
        arguments = d.ReviseResourceArguments(
            code=code, expected_version=latest, metadata=resource, note="修订摘要"
        )
        self.wait_for(self.submitter.submit(owner, "revise_resource", arguments).height)

    def wait_for(self, height: int) -> None:
        deadline = time.monotonic() + INDEX_WAIT_S
        while self.index.checkpoint().height < height:
            assert time.monotonic() < deadline, "the index did not follow the chain"
            time.sleep(0.02)

    def _follow(self) -> None:
        reader = self.client(CIVIL)
        try:
            self.index.follow(
                reader.follow_events(
                    self.index.as_checkpoint(), CONTRACT_NAME, save_checkpoint=False
                ),
                CONTRACT_NAME,
            )
        except Exception:
            return

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()
        for client in self.clients.values():
            client.close()
        self.node.cleanup()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebService]:
    service = WebService(tmp_path_factory.mktemp("directory-web"))
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture
def http(web: WebService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30.0) as client:
        yield client


def api(path: str) -> str:
    return f"/directory/api/{path}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def error_of(answer: httpx.Response, status: int, kind: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return message


# ------------------------------------------------------------------------------ the JSON API


def test_the_pages_and_the_explorers_modules_are_served(http: httpx.Client) -> None:
    assert http.get("/ui").status_code in (200, 307)
    page = http.get("/ui/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="app.js">' in page.text
    for path in ("/ui/app.js", "/ui/i18n.js", "/ui/style.css", "/ui/explorer/verify.js"):
        assert http.get(path).status_code == 200, path
    assert http.get("/ui/../web.py").status_code == 404
    error_of(http.get(api("nothing")), 404, "not_found")


def test_config_departments_and_categories_are_bilingual(
    http: httpx.Client, web: WebService
) -> None:
    config = http.get(api("config")).json()
    assert config["chain_id"] == web.node.network.chain_id
    assert (config["contract"], config["verify"], config["writes"]) == (CONTRACT_NAME, True, True)
    departments = {item["code"]: item for item in http.get(api("departments")).json()}
    assert departments["GA"]["name"] == "公安局"
    assert departments["GA"]["name_en"] == "Public Security Bureau"
    assert departments["MZ"]["district"] == "海淀区"
    assert departments["GA"]["resources"] == 2
    categories = {item["code"]: item for item in http.get(api("categories")).json()}
    assert categories["101"]["name_en"] == "Population"
    assert (categories["10101"]["level"], categories["10101"]["parent_code"]) == (3, "101")


def test_a_resources_full_history(http: httpx.Client, web: WebService) -> None:
    history = http.get(api(f"resources/{web.population}/history")).json()
    versions = history["versions"]
    assert [item["version"] for item in versions] == [1, 2]
    for item in versions:
        record = d.ResourceVersion.FromString(base64.b64decode(item["record"]))
        assert record.transaction_id.hex() == item["transaction_id"]
        assert record.height == item["height"] > 0
        assert item["author"] == POLICE and item["status"] == "active"
        key = bytes.fromhex(item["state_key"])
        assert key == district_resource_key(CONTRACT_NAME, web.population, item["version"])
    assert versions[1]["reason"] == "修订摘要"
    error_of(http.get(api("resources/101-XX-000001/history")), 404, "not_found")


def test_the_session_needs_a_valid_token(http: httpx.Client, web: WebService) -> None:
    error_of(http.get(api("session")), 401, "unauthorized")
    error_of(http.get(api("session"), headers=auth("not-a-token")), 401, "unauthorized")
    session = http.get(api("session"), headers=auth(web.civil)).json()
    assert session["member"] == CIVIL
    assert session["department"]["code"] == "MZ"
    assert session["department"]["name_en"] == "Civil Affairs Bureau"


def refused_unchanged(web: WebService, call: Any, status: int, kind: str) -> str:
    """Runs ``call`` (answering a response), which must be refused with ``status`` and
    ``kind`` before anything was submitted, the index unchanged."""
    before = web.index.snapshot()
    calls = len(web.submitter.calls)
    message = error_of(call(), status, kind)
    assert len(web.submitter.calls) == calls
    assert web.index.snapshot() == before
    return message


def test_a_request_approved_used_and_revoked(http: httpx.Client, web: WebService) -> None:
    created = http.post(
        api("requests"),
        headers=auth(web.civil),
        json={
            "resource_code": web.population,
            "purpose": "婚姻登记核验",
            "legal_basis": "婚姻登记条例",
            "data_items": ["姓名", "身份证号"],
        },
    )
    assert created.status_code == 200, created.text
    request = created.json()
    assert (request["state"], request["provider_code"], request["requester_code"]) == (
        "pending",
        "GA",
        "MZ",
    )
    assert request["data_items"] == ["姓名", "身份证号"]
    identifier = request["id"]
    incoming = http.get(api("requests?role=incoming"), headers=auth(web.police)).json()
    assert identifier in [item["id"] for item in incoming]
    outgoing = http.get(api("requests?role=outgoing"), headers=auth(web.civil)).json()
    assert identifier in [item["id"] for item in outgoing]
    assert identifier not in [
        item["id"]
        for item in http.get(api("requests?role=incoming"), headers=auth(web.civil)).json()
    ]
    # The requester cannot approve its own request; the provider cannot refuse without a reason.
    refused_unchanged(
        web,
        lambda: http.post(api(f"requests/{identifier}/approve"), headers=auth(web.civil)),
        403,
        "forbidden",
    )
    refused_unchanged(
        web,
        lambda: http.post(
            api(f"requests/{identifier}/refuse"), headers=auth(web.police), json={"reason": " "}
        ),
        400,
        "bad_request",
    )
    refused_unchanged(
        web,
        lambda: http.post(
            api(f"requests/{identifier}/usage"), headers=auth(web.civil), json={"records": 1}
        ),
        409,
        "conflict",
    )
    approved = http.post(
        api(f"requests/{identifier}/approve"), headers=auth(web.police), json={}
    ).json()
    assert (approved["state"], approved["answered_by"]) == ("approved", POLICE)
    used = http.post(
        api(f"requests/{identifier}/usage"),
        headers=auth(web.civil),
        json={"purpose": "核验", "records": 12, "digest": "ab" * 32},
    ).json()
    assert used["receipts"] == 1
    assert used["usage_receipts"] == [
        {
            "request_id": identifier,
            "sequence": 1,
            "accessed_by": CIVIL,
            "time_ms": used["usage_receipts"][0]["time_ms"],
            "purpose": "核验",
            "digest": "ab" * 32,
            "records": 12,
        }
    ]
    refused_unchanged(
        web,
        lambda: http.post(api(f"requests/{identifier}/revoke"), headers=auth(web.police)),
        400,
        "bad_request",
    )
    revoked = http.post(
        api(f"requests/{identifier}/revoke"),
        headers=auth(web.police),
        json={"reason": "超范围使用"},
    ).json()
    assert (revoked["state"], revoked["reason"]) == ("revoked", "超范围使用")
    states = [item["state"] for item in revoked["history"]]
    assert (states[0], states[-1]) == ("pending", "revoked") and "approved" in states
    # Only the two departments concerned see a request.
    outsider = web.index.issue_token("org1/admin", "ZZ", "portal", now_ms=1)
    error_of(http.get(api(f"requests/{identifier}"), headers=auth(outsider)), 403, "forbidden")
    error_of(http.get(api("session"), headers=auth(outsider)), 404, "not_found")
    assert http.get(api("requests?role=incoming"), headers=auth(outsider)).json() == []
    error_of(http.get(api("requests?role=all"), headers=auth(web.civil)), 400, "bad_request")
    shown = http.get(api(f"requests/{identifier}"), headers=auth(web.police)).json()
    assert shown["state"] == "revoked" and shown["history"][0]["state"] == "pending"
    assert shown["history"][-1]["transaction_id"] == revoked["transaction_id"]


def test_refusal_with_a_reason_and_cancellation(http: httpx.Client, web: WebService) -> None:
    def request() -> str:
        answer = http.post(
            api("requests"),
            headers=auth(web.police),
            json={"resource_code": web.marriages, "purpose": "户籍核查"},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    first = request()
    refused = http.post(
        api(f"requests/{first}/refuse"), headers=auth(web.civil), json={"reason": "无法律依据"}
    ).json()
    assert (refused["state"], refused["reason"], refused["answered_by"]) == (
        "refused",
        "无法律依据",
        CIVIL,
    )
    refused_unchanged(
        web,
        lambda: http.post(api(f"requests/{first}/approve"), headers=auth(web.civil), json={}),
        409,
        "conflict",
    )
    second = request()
    # Escalating before the answer is overdue: the contract refuses (by its clock), no event.
    before = web.index.snapshot()
    message = error_of(
        http.post(api(f"requests/{second}/escalate"), headers=auth(web.police)), 409, "refused"
    )
    assert "escalate" in message
    assert web.index.snapshot() == before
    refused_unchanged(
        web,
        lambda: http.post(api(f"requests/{second}/cancel"), headers=auth(web.civil)),
        403,
        "forbidden",
    )
    cancelled = http.post(
        api(f"requests/{second}/cancel"), headers=auth(web.police), json={"reason": "不再需要"}
    ).json()
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "不再需要")


def test_bad_input_is_refused_before_anything_is_submitted(
    http: httpx.Client, web: WebService
) -> None:
    post = http.post
    civil, police = auth(web.civil), auth(web.police)
    cases: list[tuple[Any, int, str]] = [
        (
            lambda: post(api("requests"), json={"resource_code": web.population}),
            401,
            "unauthorized",
        ),
        (lambda: post(api("requests"), headers=auth("forged"), json={}), 401, "unauthorized"),
        (
            lambda: post(
                api("requests"),
                headers={**civil, "content-type": "application/json"},
                content=b"{not json",
            ),
            400,
            "bad_request",
        ),
        (lambda: post(api("requests"), headers=civil, json=[1, 2]), 400, "bad_request"),
        (
            lambda: post(api("requests"), headers=civil, json={"resource_code": web.population}),
            400,
            "bad_request",
        ),
        (
            lambda: post(
                api("requests"),
                headers=civil,
                json={"resource_code": web.population, "purpose": "x", "data_items": ["电话"]},
            ),
            400,
            "bad_request",
        ),
        (
            lambda: post(
                api("requests"),
                headers=civil,
                json={"resource_code": web.population, "purpose": 7},
            ),
            400,
            "bad_request",
        ),
        (
            lambda: post(
                api("requests"), headers=civil, json={"resource_code": "9-XX-1", "purpose": "x"}
            ),
            404,
            "not_found",
        ),
        (
            lambda: post(
                api("requests"),
                headers=civil,
                json={"resource_code": web.marriages, "purpose": "x"},
            ),
            409,
            "conflict",
        ),
        (lambda: post(api("requests/R9999999999/approve"), headers=police), 404, "not_found"),
        (lambda: post(api("requests/R0000000001/promote"), headers=police), 404, "not_found"),
        (
            lambda: post(
                api("requests"),
                headers=civil,
                content=b"x" * (70 * 1024),
            ),
            400,
            "bad_request",
        ),
        (
            lambda: post(api(f"resources/{web.population}/withdraw"), headers=civil, json={}),
            403,
            "forbidden",
        ),
        (
            lambda: post(api(f"resources/{web.population}/withdraw"), headers=police, json={}),
            400,
            "bad_request",
        ),
    ]
    for call, status, kind in cases:
        refused_unchanged(web, call, status, kind)


def test_conditional_sharing_is_approved_with_terms(http: httpx.Client, web: WebService) -> None:
    created = http.post(
        api("requests"),
        headers=auth(web.civil),
        json={"resource_code": web.vehicles, "purpose": "车辆核查", "data_items": ["号牌号码"]},
    ).json()
    identifier = created["id"]
    message = refused_unchanged(
        web,
        lambda: http.post(api(f"requests/{identifier}/approve"), headers=auth(web.police), json={}),
        400,
        "bad_request",
    )
    assert "terms" in message
    approved = http.post(
        api(f"requests/{identifier}/approve"),
        headers=auth(web.police),
        json={"terms": "不得向第三方提供"},
    ).json()
    assert (approved["state"], approved["terms"]) == ("conditionally_approved", "不得向第三方提供")


def test_a_department_withdraws_its_resource(http: httpx.Client, web: WebService) -> None:
    code = web.register(
        TokenOwner(POLICE, "GA", "portal"),
        metadata(name="临时人口统计", keywords=["临时"]),
    )
    history = http.post(
        api(f"resources/{code}/withdraw"), headers=auth(web.police), json={"reason": "停用"}
    ).json()
    assert [(item["version"], item["status"]) for item in history["versions"]] == [
        (1, "active"),
        (2, "withdrawn"),
    ]
    assert history["versions"][1]["reason"] == "停用"
    refused_unchanged(
        web,
        lambda: http.post(
            api(f"resources/{code}/withdraw"), headers=auth(web.police), json={"reason": "再次"}
        ),
        409,
        "conflict",
    )


def test_the_nodes_reads_for_a_proof_pass_and_nothing_else(
    http: httpx.Client, web: WebService
) -> None:
    status = http.get("/directory/node/v1/status")
    assert status.status_code == 200 and status.json()["chainId"] == web.node.network.chain_id
    history = http.get(api(f"resources/{web.population}/history")).json()
    key = history["versions"][0]["state_key"]
    entry = http.get(f"/directory/node/v1/state/{key}").json()
    assert entry["found"] and base64.b64decode(entry["value"]) == base64.b64decode(
        history["versions"][0]["record"]
    )
    header = http.get(f"/directory/node/v1/blocks/{entry['height']}?header_only=true").json()
    assert header["certificate"]["height"] in (entry["height"], str(entry["height"]))
    assert http.get(f"/directory/node/v1/validator-sets/{entry['height']}").status_code == 200
    error_of(http.get("/directory/node/v1/transactions/00"), 404, "not_found")
    assert http.post("/directory/node/v1/status").status_code == 405


def test_both_node_readers_answer_as_the_nodes_gateway(http: httpx.Client, web: WebService) -> None:
    """ClientNodeReader (what the directory service passes: reads over its SDK client) and
    HttpNodeReader (over the node's HTTP address) answer each read the verification needs as the
    node's own HTTP gateway does."""
    sdk_reader = ClientNodeReader(web.client(ADMINISTRATOR))
    key = http_history(web, web.population)[0]["state_key"]
    height = http.get(f"/directory/node/v1/state/{key}").json()["height"]
    reads = [
        (f"state/{key}", f"height={height}"),
        (f"blocks/{height}", "header_only=true"),
        (f"validator-sets/{height}", ""),
        ("status", ""),
    ]

    async def read_all() -> list[tuple[Any, Any]]:
        http_reader = HttpNodeReader(web.node.http_url)
        try:
            answers = []
            for path, query in reads:
                pair = []
                for reader in (sdk_reader, http_reader):
                    answer = await reader.read(path, query)
                    assert (answer.status, answer.content_type) == (200, "application/json")
                    pair.append(json.loads(answer.body))
                answers.append((pair[0], pair[1]))
            return answers
        finally:
            await http_reader.close()

    for (path, query), (from_sdk, from_http) in zip(reads, asyncio.run(read_all()), strict=True):
        if path == "status":
            assert (from_sdk["chainId"], from_sdk["cryptoProfile"]) == (
                web.node.network.chain_id,
                "intl",
            )
            assert from_http["chainId"] == web.node.network.chain_id
            continue
        gateway = httpx.get(f"{web.node.http_url}/v1/{path}?{query}", timeout=30.0).json()
        assert from_sdk == gateway, path
        assert from_http == gateway, path


# ------------------------------------------------------------------------------ the pages


@pytest.fixture(scope="module")
def artefacts() -> Path:
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    print(f"\ndirectory screenshots: {ARTEFACTS}")
    return ARTEFACTS


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One Chromium for the module (as the explorer's tests: Playwright's synchronous API and
    pytest-asyncio's loops do not share a thread for longer)."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium_context(profile) as context:
        yield context


def _new_tab(browser: BrowserContext, url: str) -> Iterator[Page]:
    """A new tab on the pages at ``url``, in Chinese and signed out; page errors fail the
    test."""
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{url}/ui/")
    tab.evaluate("localStorage.clear(); sessionStorage.clear()")
    try:
        yield tab
    finally:
        tab.close()
    assert not errors, errors


@pytest.fixture
def page(browser: BrowserContext, web: WebService) -> Iterator[Page]:
    yield from _new_tab(browser, web.url)


def _shot(page: Page, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def _open(page: Page, web: WebService, fragment: str) -> None:
    page.goto(f"{web.url}/ui/{fragment}")
    page.reload()
    page.wait_for_selector("main[data-ready]", timeout=RENDER_TIMEOUT_MS)


def _sign_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("#sign-in-button")
    page.wait_for_selector("#signed-in", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector("main[data-ready]", timeout=RENDER_TIMEOUT_MS)


def _ready(page: Page) -> None:
    page.wait_for_selector("main[data-ready]", timeout=RENDER_TIMEOUT_MS)


def test_sign_in_search_in_chinese_and_filter_by_a_facet(
    page: Page, web: WebService, artefacts: Path
) -> None:
    _open(page, web, "#/search")
    assert page.locator("#site-title").inner_text() == "政务信息资源目录"
    _sign_in(page, web.civil)
    assert "民政局 (MZ)" in page.locator("#signed-in").inner_text()
    page.fill("#q", "人口")
    page.click("#search-button")
    page.wait_for_selector(f"#results [data-code='{web.population}']", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#count").inner_text() == "1 条结果"
    _shot(page, artefacts, "search-chinese")
    # Paging, two a page, through every active resource.
    active = web.index.search(filters=[("status", ["active"])], rows=100).results
    pages = (len(active) + 1) // 2
    _open(page, web, "#/search?rows=2")
    seen: list[str] = []
    for number in range(1, pages + 1):
        expect(page.locator("#page")).to_have_text(
            f"第 {number} / {pages} 页", timeout=RENDER_TIMEOUT_MS
        )
        _ready(page)
        seen += page.locator("#results article").evaluate_all(
            "nodes => nodes.map(n => n.dataset.code)"
        )
        if number < pages:
            page.click("#next")
    assert page.locator("#next").is_disabled()
    assert sorted(seen) == sorted(item.record.code for item in active)
    _open(page, web, "#/search")
    assert page.locator("#count").inner_text() == f"{len(active)} 条结果"
    page.click("#facet-organization button[data-value='ga']")
    page.wait_for_selector(".chip[data-facet='organization']", timeout=RENDER_TIMEOUT_MS)
    _ready(page)
    codes = page.locator("#results article").evaluate_all(
        "nodes => nodes.map(node => node.dataset.code)"
    )
    assert sorted(codes) == sorted([web.population, web.vehicles])
    assert "公安局" in page.locator("#facet-organization").inner_text()
    page.click("#facet-sharing_type button[data-value='conditional']")
    page.wait_for_selector(".chip[data-facet='sharing_type']", timeout=RENDER_TIMEOUT_MS)
    _ready(page)
    codes = page.locator("#results article").evaluate_all(
        "nodes => nodes.map(node => node.dataset.code)"
    )
    assert codes == [web.vehicles]
    _shot(page, artefacts, "search-filtered")


def _tamper_value(route: Route) -> None:
    """Passes the node's state entry on with one bit of its value flipped."""
    answer = route.fetch()
    body = json.loads(answer.text())
    value = bytearray(base64.b64decode(body["value"]))
    value[-1] ^= 1
    body["value"] = base64.b64encode(bytes(value)).decode()
    route.fulfill(response=answer, body=json.dumps(body))


def test_a_resource_its_history_and_a_verified_version(
    page: Page, web: WebService, artefacts: Path
) -> None:
    _open(page, web, f"#/resource/{web.population}")
    page.wait_for_selector("#history", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#resource-name").inner_text() == "常住人口基本信息"
    assert "身份证号" in page.locator("#data-items").inner_text()
    assert "sha256:" + bytes(range(32)).hex() in page.locator("#distributions").inner_text()
    history = http_history(web, web.population)
    rows = page.locator("#history tbody tr")
    assert rows.count() == 2
    for position, version in enumerate(history):
        text = rows.nth(position).inner_text()
        assert version["transaction_id"] in text and str(version["height"]) in text
    page.click("#verify-1")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "验证通过"
    result = page.locator("#verify-result").inner_text()
    assert "✔ state proof" in result and "✘" not in result
    _shot(page, artefacts, "resource-verified")
    page.route("**/directory/node/v1/state/**", _tamper_value)
    page.click("#verify-2")
    page.wait_for_selector("#verify-outcome.fail", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "验证失败"
    result = page.locator("#verify-result").inner_text()
    assert "✘ state proof" in result
    _shot(page, artefacts, "resource-tampered")


def http_history(web: WebService, code: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{web.url}/directory/api/resources/{code}/history", timeout=30.0)
    versions: list[dict[str, Any]] = answer.json()["versions"]
    return versions


def test_register_a_resource_through_the_form(page: Page, web: WebService, artefacts: Path) -> None:
    _open(page, web, "#/search")
    _sign_in(page, web.police)
    page.click("#nav-register")
    page.wait_for_selector("#register-form", timeout=RENDER_TIMEOUT_MS)
    page.fill("#title", "道路交通事故统计")
    page.fill("#name-en", "Road accidents")
    page.select_option("#category", "201")
    page.fill("#abstract", "全市道路交通事故的统计数据。")
    page.select_option("#resource-format", "file")
    page.select_option("#sharing-type", "unconditional")
    page.select_option("#update-cycle", "monthly")
    page.fill("#publish-date", "2025-06-01")
    page.fill("#data-items-text", "事故日期,date\n伤亡人数,integer")
    page.fill("#keywords", "交通, 事故")
    page.fill("#distribution-name", "accidents.csv")
    page.fill("#distribution-format", "CSV")
    page.fill("#distribution-url", "https://data.example.gov.cn/ga/accidents.csv")
    # A bad hash first: the CKAN API's refusal is shown in the page's language.
    page.fill("#distribution-hash", "sha256:1234")
    page.click("#save")
    page.wait_for_selector("#error:not([hidden])", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#error-title").inner_text() == "提交的内容未通过校验"
    _shot(page, artefacts, "register-refused")
    page.fill("#distribution-hash", "")
    page.click("#save")
    page.wait_for_selector("#resource-code", timeout=RENDER_TIMEOUT_MS)
    code = page.locator("#resource-code").inner_text()
    assert code.startswith("201-GA-")
    assert page.locator("#resource-name").inner_text() == "道路交通事故统计"
    assert "伤亡人数" in page.locator("#data-items").inner_text()
    assert web.index.resource(code).record.author == POLICE
    _shot(page, artefacts, "register-done")
    # Revised through the same form (against the version shown), then withdrawn.
    page.click("#revise")
    page.wait_for_selector("#register-form", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#title").input_value() == "道路交通事故统计"
    page.fill("#title", "道路交通事故月度统计")
    page.click("#save")
    expect(page.locator("#resource-name")).to_have_text(
        "道路交通事故月度统计", timeout=RENDER_TIMEOUT_MS
    )
    assert page.locator("#history tbody tr").count() == 2
    page.click("#withdraw")
    page.wait_for_selector("#error:not([hidden])", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#error-title").inner_text() == "输入有误"
    assert web.index.resource(code).record.version == 2
    page.fill("#withdraw-reason", "统计口径调整")
    page.click("#withdraw")
    expect(page.locator("#history tbody tr")).to_have_count(3, timeout=RENDER_TIMEOUT_MS)
    assert web.index.resource(code).record.status == d.RESOURCE_STATUS_WITHDRAWN
    assert page.locator("#withdraw").count() == 0
    _shot(page, artefacts, "revised-and-withdrawn")


def test_switch_to_english_and_it_is_kept(page: Page, web: WebService, artefacts: Path) -> None:
    _open(page, web, f"#/resource/{web.vehicles}")
    page.wait_for_selector("#history", timeout=RENDER_TIMEOUT_MS)
    assert "共享类型" in page.locator("#resource-fields").inner_text()
    page.click("#language")
    page.wait_for_selector("#history", timeout=RENDER_TIMEOUT_MS)
    _ready(page)
    assert page.locator("#site-title").inner_text() == "Government data directory"
    fields = page.locator("#resource-fields").inner_text()
    assert (
        "Sharing type" in fields and "Conditional" in fields and "Public Security Bureau" in fields
    )
    page.reload()
    page.wait_for_selector("#history", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#language").inner_text() == "中文"
    assert "Vehicle registrations" in page.locator("h2").first.inner_text()
    _shot(page, artefacts, "resource-english")
    # The server's refusal, in English: a token that is not one.
    page.fill("#token", "not-a-token")
    page.click("#sign-in-button")
    page.wait_for_selector("#error:not([hidden])", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#error-title").inner_text() == "The API token is missing or not valid"
    assert "sign in with a valid API token" in page.locator("#error-detail").inner_text()
    _shot(page, artefacts, "error-english")


def test_a_request_made_by_one_department_and_answered_by_the_other(
    page: Page, web: WebService, artefacts: Path
) -> None:
    _open(page, web, f"#/resource/{web.vehicles}")
    _sign_in(page, web.civil)
    page.wait_for_selector("#request-form", timeout=RENDER_TIMEOUT_MS)
    page.fill("#purpose", "交通违法婚姻登记核查")
    page.fill("#legal-basis", "道路交通安全法")
    page.check(".item-box[value='号牌号码']")
    page.click("#send-request")
    page.wait_for_selector("#sent-id", timeout=RENDER_TIMEOUT_MS)
    approved_id = page.locator("#sent-id").inner_text()
    page.fill("#purpose", "第二次申请")
    page.click("#send-request")
    expect(page.locator("#sent-id")).not_to_have_text(approved_id, timeout=RENDER_TIMEOUT_MS)
    refused_id = page.locator("#sent-id").inner_text()
    page.click("#nav-requests")
    page.wait_for_selector(f"#outgoing [data-id='{approved_id}']", timeout=RENDER_TIMEOUT_MS)
    _shot(page, artefacts, "requests-outgoing")
    page.click("#sign-out")
    _sign_in(page, web.police)
    page.click("#nav-requests")
    card = f"#incoming [data-id='{approved_id}']"
    page.wait_for_selector(card, timeout=RENDER_TIMEOUT_MS)
    # The resource is shared on conditions: approving without terms is refused, in Chinese.
    page.click(f"{card} .approve")
    page.wait_for_selector("#error:not([hidden])", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#error-title").inner_text() == "输入有误"
    page.fill(f"{card} .terms", "不得向第三方提供")
    page.click(f"{card} .approve")
    page.wait_for_selector(
        f"{card}[data-state='conditionally_approved']", timeout=RENDER_TIMEOUT_MS
    )
    other = f"#incoming [data-id='{refused_id}']"
    page.click(f"{other} .refuse")
    page.wait_for_selector("#error:not([hidden])", timeout=RENDER_TIMEOUT_MS)
    assert (
        "理由" in page.locator("#error-detail").inner_text()
        or page.locator("#error-title").inner_text() == "输入有误"
    )
    page.fill(f"{other} .reason", "申请用途与资源无关")
    page.click(f"{other} .refuse")
    page.wait_for_selector(f"{other}[data-state='refused']", timeout=RENDER_TIMEOUT_MS)
    assert web.index.request(refused_id).reason == "申请用途与资源无关"
    assert web.index.request(approved_id).terms == "不得向第三方提供"
    _shot(page, artefacts, "requests-answered")
    # The requester records its use of the approved request.
    page.click("#sign-out")
    _sign_in(page, web.civil)
    page.click("#nav-requests")
    mine = f"#outgoing [data-id='{approved_id}']"
    page.wait_for_selector(mine, timeout=RENDER_TIMEOUT_MS)
    page.fill(f"{mine} .records", "42")
    page.fill(f"{mine} .usage-purpose", "核查")
    page.click(f"{mine} .usage")
    expect(page.locator(f"{mine} .actions")).to_contain_text(
        "使用回执: 1", timeout=RENDER_TIMEOUT_MS
    )
    assert [receipt.records for receipt in web.index.receipts(approved_id)] == [42]
    _shot(page, artefacts, "requests-usage")


def test_markup_from_the_chain_is_shown_as_text(
    page: Page, web: WebService, artefacts: Path
) -> None:
    name = '<img src=x onerror="window.pwned=1">标记'
    code = web.register(
        TokenOwner(POLICE, "GA", "portal"),
        metadata(name=name, abstract="<b>粗体</b>", keywords=["标记"]),
    )
    _open(page, web, f"#/resource/{code}")
    page.wait_for_selector("#history", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#resource-name").inner_text() == name
    assert page.locator("main img").count() == 0 and page.locator("main b").count() == 0
    _open(page, web, "#/search?q=" + "%E6%A0%87%E8%AE%B0")  # 标记
    page.wait_for_selector(f"#results [data-code='{code}']", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.pwned") is None
    _shot(page, artefacts, "markup-as-text")


# ------------------------------------------------------------------------------ the administrators


class InboxService:
    """The real directory contract on a LocalChain (real executor, real signatures) behind the
    same routes, for what a real node cannot reach in a test: a request escalated once its
    15-day answer time passed (the LocalChain's clock moves on demand). Calls are signed as the
    token's member (``LocalChainSubmitter``) and their events reach the index at once."""

    def __init__(self) -> None:
        self.chain = Directory(local_chain("intl"), build_contract()).chain
        self.index = DirectoryIndex()
        self.submitter = LocalChainSubmitter(self.chain, self.index)
        for code, name, name_en in CATEGORIES:
            category = d.Category(code=code, name=name, name_en=name_en)
            self.send(ADMINISTRATOR, "set_category", d.SetCategoryArguments(category=category))
        for code, organisation, name, name_en, district in DEPARTMENTS:
            department = d.Department(
                code=code, organisation=organisation, name=name, name_en=name_en, district=district
            )
            self.send(
                ADMINISTRATOR, "set_department", d.SetDepartmentArguments(department=department)
            )
        # org1 is the directory's administrators (and department MZ); the inbox token acts as
        # the administrators only, as a member of an administrator organisation that is not a
        # department would.
        self.administrator = self.index.issue_token(
            ADMINISTRATOR, "", "inbox", now_ms=1, administrator=True
        )
        self.police = self.index.issue_token(POLICE, "GA", "portal", now_ms=1)
        self.civil = self.index.issue_token(CIVIL, "MZ", "portal", now_ms=1)
        registered = self.send(
            POLICE, "register_resource", d.RegisterResourceArguments(metadata=metadata())
        )
        result = decode_result("register_resource", registered.return_data)
        assert isinstance(result, d.RegisterResourceResult)
        self.population = result.code
        self.requests = [self.request(purpose) for purpose in ("户籍核验", "低保审核", "婚姻登记")]
        self.chain.advance_time(16 * DAY_MS)
        routes = [
            *create_ckan_app(self.index, submitter=self.submitter, chain_id=CHAIN).routes,
            *web_routes(self.index, submitter=self.submitter, chain_id=CHAIN),
        ]
        self.served = Served(Starlette(routes=routes))

    def send(self, member: str, method: str, arguments: Message) -> Any:
        result = self.submitter.send(member, method, arguments)
        assert result.ok, result.error
        return result

    def request(self, purpose: str) -> str:
        arguments = d.RequestSharingArguments(resource_code=self.population, purpose=purpose)
        result = decode_result(
            "request_sharing", self.send(CIVIL, "request_sharing", arguments).return_data
        )
        assert isinstance(result, d.RequestSharingResult)
        return result.id

    @property
    def url(self) -> str:
        return self.served.url


CHAIN = "local"
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def inbox() -> Iterator[InboxService]:
    service = InboxService()
    service.served.start()
    try:
        yield service
    finally:
        service.served.stop()


def test_escalated_requests_reach_the_administrators_inbox_and_only_theirs(
    inbox: InboxService,
) -> None:
    """The requester escalates overdue requests; only an administrator's token lists them and
    answers them; the provider no longer may; a token of no department makes no requests."""
    first, second, third = inbox.requests
    with httpx.Client(base_url=inbox.url, timeout=30.0) as http:
        for request_id in (first, second, third):
            answer = http.post(api(f"requests/{request_id}/escalate"), headers=auth(inbox.civil))
            assert answer.status_code == 200, answer.text
            assert answer.json()["state"] == "escalated"
        session = http.get(api("session"), headers=auth(inbox.administrator)).json()
        assert session == {
            "member": ADMINISTRATOR,
            "label": "inbox",
            "administrator": True,
            "department": None,
        }
        assert http.get(api("session"), headers=auth(inbox.police)).json()["administrator"] is False
        listed = http.get(api("requests?role=escalated"), headers=auth(inbox.administrator))
        assert [item["id"] for item in listed.json()] == [first, second, third]
        assert {item["state"] for item in listed.json()} == {"escalated"}
        for token in (inbox.police, inbox.civil):
            message = error_of(
                http.get(api("requests?role=escalated"), headers=auth(token)), 403, "forbidden"
            )
            assert "administrators" in message
        # An administrator reads any request; a department only its own.
        shown = http.get(api(f"requests/{first}"), headers=auth(inbox.administrator))
        assert shown.json()["id"] == first
        height = inbox.chain.height
        message = error_of(
            http.post(api(f"requests/{first}/approve"), headers=auth(inbox.police), json={}),
            403,
            "forbidden",
        )
        assert "ESCALATED" in message and "administrators" in message
        error_of(
            http.post(api(f"requests/{first}/refuse"), headers=auth(inbox.administrator), json={}),
            400,
            "bad_request",
        )
        for path, body in (
            ("requests?role=incoming", None),
            ("requests", {"resource_code": inbox.population, "purpose": "x"}),
        ):
            call = http.get if body is None else http.post
            arguments: dict[str, Any] = {"headers": auth(inbox.administrator)}
            if body is not None:
                arguments["json"] = body
            message = error_of(call(api(path), **arguments), 403, "forbidden")
            assert "no department" in message
        assert inbox.chain.height == height  # nothing was submitted
        answered = http.post(
            api(f"requests/{first}/approve"), headers=auth(inbox.administrator), json={}
        )
        assert answered.status_code == 200, answered.text
        assert (answered.json()["state"], answered.json()["answered_by"]) == (
            "approved",
            ADMINISTRATOR,
        )
        listed = http.get(api("requests?role=escalated"), headers=auth(inbox.administrator))
        assert [item["id"] for item in listed.json()] == [second, third]
    assert inbox.index.request(first).state == d.REQUEST_STATE_APPROVED
    with (
        ckanapi.RemoteCKAN(inbox.url, apikey=inbox.administrator) as ckan,
        pytest.raises(ckanapi.NotAuthorized, match="no department"),
    ):
        ckan.action.package_create(name="x", title="x", owner_org="mz")


@pytest.fixture
def inbox_page(browser: BrowserContext, inbox: InboxService) -> Iterator[Page]:
    yield from _new_tab(browser, inbox.url)


def test_an_administrator_answers_escalated_requests_in_the_browser(
    inbox_page: Page, inbox: InboxService, artefacts: Path
) -> None:
    page = inbox_page
    for request_id in inbox.requests:
        if inbox.index.request(request_id).state == d.REQUEST_STATE_PENDING:
            inbox.send(CIVIL, "escalate", d.EscalateRequestArguments(id=request_id))
    waiting = [item.id for item in inbox.index.escalated_requests()]
    assert len(waiting) >= 2
    approved_id, refused_id = waiting[:2]
    page.goto(f"{inbox.url}/ui/#/search")
    _ready(page)
    # A department's staff sees no inbox.
    _sign_in(page, inbox.police)
    assert page.locator("#nav-escalated").count() == 0
    page.click("#sign-out")
    _sign_in(page, inbox.administrator)
    assert "目录管理员" in page.locator("#signed-in").inner_text()
    page.click("#nav-escalated")
    page.wait_for_selector(f"#escalated [data-id='{approved_id}']", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#escalated article.request").count() == len(waiting)
    card = f"#escalated [data-id='{approved_id}']"
    assert "公安局 (GA)" in page.locator(card).inner_text()  # the provider who did not answer
    _shot(page, artefacts, "escalated-inbox")
    page.fill(f"{card} .terms", "仅限本次核验")
    page.click(f"{card} .approve")
    page.wait_for_selector(f"{card}", state="detached", timeout=RENDER_TIMEOUT_MS)
    other = f"#escalated [data-id='{refused_id}']"
    page.click(f"{other} .refuse")
    page.wait_for_selector("#error:not([hidden])", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#error-title").inner_text() == "输入有误"
    page.fill(f"{other} .reason", "申请事项不属于该资源的共享范围")
    page.click(f"{other} .refuse")
    page.wait_for_selector(other, state="detached", timeout=RENDER_TIMEOUT_MS)
    approved = inbox.index.request(approved_id)
    assert (approved.state, approved.answered_by, approved.terms) == (
        d.REQUEST_STATE_CONDITIONALLY_APPROVED,
        ADMINISTRATOR,
        "仅限本次核验",
    )
    refused = inbox.index.request(refused_id)
    assert (refused.state, refused.reason) == (
        d.REQUEST_STATE_REFUSED,
        "申请事项不属于该资源的共享范围",
    )
    # The administrators' token acts for no department: the requests page says so.
    page.click("#nav-requests")
    page.wait_for_selector("#no-department", timeout=RENDER_TIMEOUT_MS)
    _shot(page, artefacts, "escalated-answered")
