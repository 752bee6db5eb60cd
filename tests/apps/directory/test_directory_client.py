"""DirectoryClient (causeway.apps.directory.client) against the real directory contract on a
LocalChain (the real executor, real signatures), deployed as the contract's own tests deploy it;
and load_metadata's files, every refusal naming the file and the key.

``LocalNode`` gives a LocalChain the two calls of an SDK ``Client`` the directory client uses:
``invoke`` (a committed transaction, answered as a SubmitResult) and ``evaluate`` (a read-only
call: the raw arguments are decoded back into their message, whose fields are all scalars for
the read methods, and sent by name through the interface, as the contract's tests query it).
tests/cli/test_cli_directory.py runs the same client over a real node through the CLI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from google.protobuf.message import Message
from test_directory_contract import Directory, local_chain, metadata

from causeway.apps.directory.client import (
    DISTRIBUTION_FILE_BYTES_MAX,
    METADATA_FILE_BYTES_MAX,
    DirectoryClient,
    load_metadata,
)
from causeway.apps.directory.contract import METHOD_ARGUMENTS, build_contract
from causeway.apps.directory.v1 import directory_pb2 as pb
from causeway.crypto import get_profile
from causeway.errors import LimitExceededError, RequestError, TransactionFailedError
from causeway.sdk import Identity, SubmitResult
from causeway.toolchains import CallResult, LocalChain
from causeway.types import HashFunction
from causeway.types.v1 import types_pb2

ADMINISTRATOR = "org1/admin"
REQUESTER = "org1/client"  # department MZ (org1 also administers the directory)
PROVIDER = "org2/client"  # department GA
DAY_MS = 86_400_000
SHA256 = get_profile("intl").hash


def transaction_result(result: CallResult) -> types_pb2.TransactionResult:
    return types_pb2.TransactionResult(
        status=types_pb2.ResultStatus.Value(f"RESULT_STATUS_{result.status}"),
        error=result.error,
        return_value=result.return_data,
        events=[
            types_pb2.Event(contract=event.contract, name=event.name, data=event.data)
            for event in result.events
        ],
    )


@dataclass(frozen=True)
class Endorser:
    """Stands for an SDK Identity where a LocalChain only needs the member's id."""

    member_id: str


@dataclass
class LocalNode:
    """A LocalChain member as the directory client's node (the module notes)."""

    chain: LocalChain
    member: str
    sent: list[str] = field(default_factory=list)

    def invoke(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        endorsers: Sequence[Any] = (),
    ) -> SubmitResult:
        self.sent.append(method)
        result = self.chain.send(
            contract,
            method,
            arguments,
            sender=self.member,
            endorsers=[endorser.member_id for endorser in endorsers],
        )
        return SubmitResult(result.transaction_id, result.height, transaction_result(result), True)

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult:
        self.sent.append(method)
        values: dict[str, object] = {}
        if method in METHOD_ARGUMENTS:
            message = METHOD_ARGUMENTS[method]()
            message.ParseFromString(bytes(arguments) if isinstance(arguments, bytes) else b"")
            values = {item.name: getattr(message, item.name) for item in message.DESCRIPTOR.fields}
        result = self.chain.query(method, contract=contract, sender=self.member, arguments=values)
        return transaction_result(result)

    def hash_function(self) -> HashFunction:
        return get_profile(self.chain.profile).hash


@dataclass
class Directories:
    chain: LocalChain
    administrator: DirectoryClient
    provider: DirectoryClient
    requester: DirectoryClient

    def state(self) -> dict[bytes, bytes]:
        return self.chain.contract_state("directory")


def client_of(chain: LocalChain, member: str) -> DirectoryClient:
    return DirectoryClient(LocalNode(chain, member))


@pytest.fixture(scope="module")
def built() -> tuple[Path, Path]:
    return build_contract()


@pytest.fixture
def profile() -> str:
    return "intl"


@pytest.fixture
def directories(built: tuple[Path, Path], profile: str) -> Directories:
    """The contract deployed (org1 administers), its scheme and departments set through the
    client: GA (org2, the provider) and MZ (org1, the requester)."""
    chain = Directory(local_chain(profile), built).chain
    administrator = client_of(chain, ADMINISTRATOR)
    for code, name in (("1", "基础信息资源"), ("101", "人口信息"), ("10101", "户籍人口")):
        category = administrator.set_category(code, name, f"category {code}")
        assert (category.code, category.name) == (code, name)
    assert administrator.set_category("102", "法人信息").parent_code == "1"
    department = administrator.set_department(
        "GA", "org2", "公安局", name_en="Police", duties=["户籍管理", "治安管理"]
    )
    assert (department.organisation, list(department.duties)) == ("org2", ["户籍管理", "治安管理"])
    administrator.set_department("MZ", "org1", "民政局", district="", duties=["婚姻登记"])
    return Directories(
        chain, administrator, client_of(chain, PROVIDER), client_of(chain, REQUESTER)
    )


METADATA_TOML = """\
category = "10101"
name = "常住人口基本信息"
name_en = "Resident population"
abstract = "公安局户籍管理中产生的常住人口基本信息。"
format = "database"
sharing_type = "conditional"
sharing_conditions = "仅限政务核验"
sharing_method = "接口调用"
openness = "not-open"
update_cycle = "Real time"
publish_date = 2024-02-29
keywords = ["人口", "户籍"]
duties = ["户籍管理"]

[[data_item]]
name = "姓名"
type = "string"
description = "公民姓名"
length = 50

[[data_item]]
name = "出生日期"
type = "date"

[[distribution]]
name = "人口.csv"
format = "CSV"
url = "https://data.example.gov.cn/ga/1"
file = "population.csv"

[[distribution]]
name = "人口接口"
format = "API"
url = "https://api.example/ga"
"""


def write_metadata(folder: Path, text: str = METADATA_TOML, name: str = "population.toml") -> Path:
    (folder / "population.csv").write_bytes(b"name,born\n")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ the catalogue


@pytest.mark.parametrize(("profile", "algorithm"), [("intl", "SHA-256"), ("gm", "SM3")])
def test_the_catalogue_through_the_client(
    directories: Directories, tmp_path: Path, profile: str, algorithm: str
) -> None:
    provider = directories.provider
    loaded = provider.load_metadata(write_metadata(tmp_path))
    registered = provider.register_resource(loaded)
    code = registered.code
    assert (code, registered.version) == ("10101-GA-000001", 1)
    assert registered.author == PROVIDER and registered.height == directories.chain.height
    assert registered.provider_code == "GA"
    stored = registered.metadata.distributions[0]
    # The chain's hash: SM3 on a gm chain, SHA-256 on intl.
    assert stored.hash == get_profile(profile).hash(b"name,born\n")
    assert (stored.hash_algorithm, stored.byte_size) == (algorithm, 10)
    assert registered.metadata.update_cycle == pb.UPDATE_CYCLE_REAL_TIME
    # Anyone reads it; the latest and a given version.
    reader = directories.requester
    assert reader.get_resource(code) == registered
    assert reader.get_resource(code, 1) == registered

    changed = pb.ResourceMetadata()
    changed.CopyFrom(loaded)
    changed.name = "常住人口信息"
    revised = provider.revise_resource(code, 1, changed, "更名")
    assert (revised.version, revised.reason, revised.metadata.name) == (2, "更名", "常住人口信息")
    assert reader.get_resource(code) == revised
    assert reader.get_resource(code, 1) == registered
    second = provider.register_resource(metadata(category_code="101", duties=[]))
    assert second.code == "101-GA-000001"
    withdrawn = provider.withdraw_resource(second.code, 1, "重复登记")
    assert (withdrawn.status, withdrawn.reason) == (pb.RESOURCE_STATUS_WITHDRAWN, "重复登记")
    assert [entry.version for entry in reader.resource_history(code)] == [1, 2]
    assert reader.resource_history(code) == [registered, revised]

    page = reader.list_resources(limit=1)
    assert [head.code for head in page.heads] == ["101-GA-000001"] and page.next
    page = reader.list_resources(page.next, 1)
    assert [(head.code, head.latest_version) for head in page.heads] == [(code, 2)]
    assert page.next == ""
    heads = list(reader.iter_resources(page_size=1))
    assert [head.code for head in reader.iter_resources("101-GA-000001")] == [code]
    assert [(head.code, head.status) for head in heads] == [
        ("101-GA-000001", pb.RESOURCE_STATUS_WITHDRAWN),
        (code, pb.RESOURCE_STATUS_ACTIVE),
    ]
    info = reader.info()
    assert (info.settings.directory_id, info.resources, info.requests) == ("beijing", 2, 0)
    assert list(info.settings.administrator_organisations) == ["org1"]


def test_the_sharing_workflow_through_the_client(directories: Directories) -> None:
    provider, requester = directories.provider, directories.requester
    administrator = directories.administrator
    code = provider.register_resource(metadata(sharing_type=pb.SHARING_TYPE_UNCONDITIONAL)).code
    created = requester.request_sharing(
        code, "婚姻登记核验", data_items=["姓名", "身份证号"], legal_basis="婚姻登记条例"
    )
    assert (created.id, created.state, created.requester_code) == (
        "R0000000001",
        pb.REQUEST_STATE_PENDING,
        "MZ",
    )
    assert list(created.data_items) == ["姓名", "身份证号"]
    approved = provider.approve(created.id, "仅用于核验")
    assert (approved.state, approved.terms) == (
        pb.REQUEST_STATE_CONDITIONALLY_APPROVED,
        "仅用于核验",
    )
    assert approved.answered_by == PROVIDER
    digest = hashlib.sha256(b"received").digest()
    first = requester.record_usage(created.id, "核验", records=3, digest=digest)
    assert (first.sequence, first.records, first.digest) == (1, 3, digest)
    for _ in range(2):
        requester.record_usage(created.id)
    page = requester.list_receipts(created.id, limit=2)
    assert [receipt.sequence for receipt in page.receipts] == [1, 2] and page.next == 2
    assert [receipt.sequence for receipt in requester.iter_receipts(created.id, 2)] == [1, 2, 3]
    assert requester.get_request(created.id).receipts == 3
    revoked = provider.revoke(created.id, "用途超出范围")
    assert (revoked.state, revoked.reason) == (pb.REQUEST_STATE_REVOKED, "用途超出范围")

    refused = provider.refuse(requester.request_sharing(code, "再次申请").id, "已有渠道")
    assert (refused.state, refused.reason) == (pb.REQUEST_STATE_REFUSED, "已有渠道")
    cancelled = requester.cancel(requester.request_sharing(code, "误报").id, "填错")
    assert cancelled.state == pb.REQUEST_STATE_CANCELLED
    plain = provider.approve(requester.request_sharing(code, "统计").id)
    assert plain.state == pb.REQUEST_STATE_APPROVED
    overdue = requester.request_sharing(code, "迟迟未答")
    directories.chain.advance_time(16 * DAY_MS)
    escalated = requester.escalate(overdue.id)
    assert escalated.state == pb.REQUEST_STATE_ESCALATED
    assert [
        entry.id for entry in administrator.iter_requests(state=pb.REQUEST_STATE_ESCALATED)
    ] == [overdue.id]
    answered = administrator.approve(overdue.id)
    assert (answered.state, answered.answered_by) == (pb.REQUEST_STATE_APPROVED, ADMINISTRATOR)

    listed = requester.list_requests(limit=2)
    assert [entry.id for entry in listed.requests] == ["R0000000001", "R0000000002"]
    assert listed.next == "R0000000002"
    assert [entry.state for entry in requester.iter_requests(page_size=2)] == [
        pb.REQUEST_STATE_REVOKED,
        pb.REQUEST_STATE_REFUSED,
        pb.REQUEST_STATE_CANCELLED,
        pb.REQUEST_STATE_APPROVED,
        pb.REQUEST_STATE_APPROVED,
    ]
    assert requester.info().requests == 5
    # The administrators' inbox through the SDK: ESCALATED ones only (none left: answered).
    inbox = administrator.iter_requests(state=pb.REQUEST_STATE_ESCALATED)
    assert [entry.id for entry in inbox] == []
    refused_ones = requester.iter_requests(page_size=2, state=pb.REQUEST_STATE_REFUSED)
    assert [entry.id for entry in refused_ones] == ["R0000000002"]


def test_a_refusal_raises_the_contract_s_message_and_changes_nothing(
    directories: Directories,
) -> None:
    provider, requester = directories.provider, directories.requester
    code = provider.register_resource(metadata()).code
    request_id = requester.request_sharing(code, "核验").id
    before = directories.state()
    with pytest.raises(TransactionFailedError) as refused:
        provider.refuse(request_id, "")
    assert str(refused.value).startswith("directory.refuse failed (CONTRACT_REVERTED): refuse: ")
    assert refused.value.reason == "transaction_failed"
    assert isinstance(refused.value.result, types_pb2.TransactionResult)
    with pytest.raises(TransactionFailedError, match="only members of the provider department GA"):
        requester.approve(request_id)
    with pytest.raises(TransactionFailedError, match="is at version 1, not 3"):
        provider.revise_resource(code, 3, metadata())
    with pytest.raises(
        TransactionFailedError,
        match="provided by department GA; organisation org1 does not act for it",
    ):
        requester.withdraw_resource(code, 1, "不是我的")
    assert directories.state() == before
    # Reads the contract refuses raise the same way.
    with pytest.raises(TransactionFailedError, match='resource "10101-GA-000099" does not exist'):
        requester.get_resource("10101-GA-000099")
    with pytest.raises(TransactionFailedError, match='request "R0000000009" does not exist'):
        requester.get_request("R0000000009")


def test_bad_codes_and_ids_are_refused_before_anything_is_sent(directories: Directories) -> None:
    node = cast(LocalNode, directories.requester.client)
    height = directories.chain.height
    node.sent.clear()
    requester = directories.requester
    calls: list[Callable[[], object]] = [
        lambda: requester.get_resource("GA-1"),
        lambda: requester.resource_history("10101-ga-000001"),
        lambda: requester.request_sharing("10101-GA-1", "x"),
        lambda: requester.approve("R1"),
        lambda: requester.refuse("r0000000001", "x"),
        lambda: requester.record_usage("R0000000001", digest=b"short"),
        lambda: requester.list_resources(limit=101),
        lambda: directories.administrator.set_category("1a", "x"),
        lambda: directories.administrator.set_department("ga", "org2", "x"),
    ]
    for call in calls:
        with pytest.raises(RequestError):
            call()
    assert node.sent == [] and directories.chain.height == height


def test_a_contract_that_is_not_a_directory_is_named() -> None:
    chain = local_chain("intl")
    with pytest.raises(TransactionFailedError, match=r"directory-elsewhere\.cancel failed"):
        DirectoryClient(LocalNode(chain, REQUESTER), "directory-elsewhere").cancel("R0000000001")
    with pytest.raises(RequestError):
        DirectoryClient(LocalNode(chain, REQUESTER), "")


def test_deploy_sends_the_whole_init_message(built: tuple[Path, Path]) -> None:
    chain = local_chain("intl")
    module, interface = built
    deployer = DirectoryClient(LocalNode(chain, ADMINISTRATOR), "city-directory")
    settings = pb.DirectoryInitArguments(
        directory_id="beijing",
        level=pb.DIRECTORY_LEVEL_CITY,
        name="北京市政务信息资源目录",
        administrator_organisations=["org1", "org2"],
        answer_days=10,
    )
    endorsers = [cast(Identity, Endorser("org2/admin"))]
    record = deployer.deploy(
        module.read_bytes(), interface.read_text(), settings, endorsers=endorsers
    )
    assert (record.name, record.version) == ("city-directory", 1)
    stored = pb.DirectoryInfo()
    stored.ParseFromString(chain.contract_state("city-directory")[b"directory"])
    assert list(stored.settings.administrator_organisations) == ["org1", "org2"]
    assert stored.settings.answer_days == 10
    # Without the other organisation's endorsement the chain refuses the deployment.
    with pytest.raises(TransactionFailedError, match="deploying other failed"):
        DirectoryClient(LocalNode(chain, ADMINISTRATOR), "other").deploy(
            module.read_bytes(), interface.read_text(), settings
        )


# ------------------------------------------------------------------------------ metadata files


def test_a_metadata_file_in_toml_or_json(tmp_path: Path) -> None:
    loaded = load_metadata(write_metadata(tmp_path), SHA256)
    assert loaded.category_code == "10101" and loaded.name_en == "Resident population"
    assert loaded.sharing_type == pb.SHARING_TYPE_CONDITIONAL
    assert loaded.openness == pb.OPENNESS_NOT_OPEN
    assert loaded.update_cycle == pb.UPDATE_CYCLE_REAL_TIME
    assert loaded.publish_date == "2024-02-29"
    assert [(item.name, item.type, item.length) for item in loaded.data_items] == [
        ("姓名", "string", 50),
        ("出生日期", "date", 0),
    ]
    csv, api = loaded.distributions
    assert (csv.hash, csv.byte_size) == (hashlib.sha256(b"name,born\n").digest(), 10)
    assert (api.hash, api.byte_size, api.access_url) == (b"", 0, "https://api.example/ga")
    assert list(loaded.keywords) == ["人口", "户籍"]
    as_json = {
        "category_code": "101",
        "name": "法人",
        "sharing_type": "unconditional",
        "publish_date": "2025-01-31",
        "data_item": [{"name": "名称", "type": "string"}],
        "distribution": [{"name": "d", "hash": "ab" * 32}],
        "related_resources": ["101-GA-000001"],
    }
    path = tmp_path / "legal.json"
    path.write_text(json.dumps(as_json, ensure_ascii=False), encoding="utf-8")
    loaded = load_metadata(path, SHA256)
    assert (loaded.category_code, loaded.sharing_type) == ("101", pb.SHARING_TYPE_UNCONDITIONAL)
    assert loaded.distributions[0].hash == bytes.fromhex("ab" * 32)
    assert list(loaded.related_resources) == ["101-GA-000001"]


def test_a_distribution_is_hashed_with_the_chain_s_hash(tmp_path: Path) -> None:
    path = write_metadata(tmp_path)
    gm = load_metadata(path, get_profile("gm").hash)
    assert gm.distributions[0].hash == get_profile("gm").hash(b"name,born\n")
    assert gm.distributions[0].hash != hashlib.sha256(b"name,born\n").digest()


def _replace(old: str, new: str) -> str:
    assert old in METADATA_TOML
    return METADATA_TOML.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("name = [", "", "not valid TOML"),
        (_replace('name_en = "Resident population"', 'colour = "red"'), "colour", "no such key"),
        (_replace('name = "常住人口基本信息"\n', ""), "name", "missing"),
        (_replace('category = "10101"', 'category = "1"'), "category", "not an item"),
        (_replace('category = "10101"', "category = 10101"), "category", "expected a string"),
        (_replace('"conditional"', '"sometimes"'), "sharing_type", "unconditional, conditional"),
        (_replace('sharing_conditions = "仅限政务核验"\n', ""), "sharing_conditions", "required"),
        (_replace('"Real time"', '"hourly"'), "update_cycle", "real-time, daily"),
        (_replace('"not-open"', '"closed"'), "openness", "open, conditional, not-open"),
        (_replace('"database"', '"spreadsheet"'), "format", "database, file, api, other"),
        (_replace("2024-02-29", '"2023-02-29"'), "publish_date", "not a date of the calendar"),
        (_replace("2024-02-29", '"29/02/2024"'), "publish_date", "YYYY-MM-DD"),
        (_replace("2024-02-29", "2024-02-29T10:00:00"), "publish_date", "date and time"),
        (_replace('["人口", "户籍"]', "[1, 2]"), "keywords", "list of strings"),
        (_replace('type = "date"', 'type = "time"'), "data_item[2].type", "string, integer"),
        (_replace("length = 50", "length = -1"), "data_item[1].length", "whole number"),
        (_replace('type = "date"', 'type = "date"\nunit = "d"'), "data_item[2].unit", "no such"),
        (_replace('file = "population.csv"', 'file = "gone.csv"'), "distribution[1].file", "gone"),
        (
            _replace('file = "population.csv"', 'file = "population.csv"\nhash = "00"'),
            "distribution[1].hash",
            "not both",
        ),
        (
            _replace('file = "population.csv"', 'file = "population.csv"\nbyte_size = 11'),
            "distribution[1].byte_size",
            "is not the size",
        ),
        (_replace('url = "https://api.example/ga"', 'hash = "zz"'), "distribution[2].hash", "hex"),
        (_replace('url = "https://api.example/ga"', 'hash = "00"'), "distribution[2].hash", "32"),
    ],
)
def test_a_mistake_names_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, says: str
) -> None:
    path = write_metadata(tmp_path, text)
    with pytest.raises(RequestError) as refused:
        load_metadata(path, SHA256)
    message = refused.value.message
    assert message.startswith(f"{path}: {key}") and says in message, message


def test_the_files_themselves_are_checked_and_bounded(tmp_path: Path) -> None:
    with pytest.raises(RequestError, match="cannot read it"):
        load_metadata(tmp_path / "missing.toml", SHA256)
    large = tmp_path / "large.toml"
    large.write_bytes(b"#" * (METADATA_FILE_BYTES_MAX + 1))
    with pytest.raises(LimitExceededError, match="larger than the limit"):
        load_metadata(large, SHA256)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(RequestError, match="not UTF-8"):
        load_metadata(binary, SHA256)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{", encoding="utf-8")
    with pytest.raises(RequestError, match="not valid JSON"):
        load_metadata(bad_json, SHA256)
    not_a_table = tmp_path / "list.json"
    not_a_table.write_text("[]", encoding="utf-8")
    with pytest.raises(RequestError, match="expected a table"):
        load_metadata(not_a_table, SHA256)
    items = tmp_path / "items.json"
    fields = {"category": "101", "name": "x", "sharing_type": "unconditional"}
    items.write_text(json.dumps({**fields, "publish_date": "2025-01-01", "data_item": 3}))
    with pytest.raises(RequestError, match=r"items.json: data_item: expected a list of tables"):
        load_metadata(items, SHA256)
    assert DISTRIBUTION_FILE_BYTES_MAX > METADATA_FILE_BYTES_MAX
