"""The directory contract (src/causeway/apps/directory/contract/), built with the real
AssemblyScript toolchain and run on a LocalChain: the real executor, real signatures, both crypto
profiles. Every argument is a directory_pb2 message sent as the raw arguments, and every result,
state value and event is decoded with directory_pb2: the contract and the proto agree field for
field.

Each refusal is checked to change nothing: the contract's whole state before and after is
compared, and a refused transaction emits no event.

The chain has two organisations: org1 administers the directory and acts for department MZ (the
requester in the sharing tests); org2 acts for department GA (the provider)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from causeway.apps.directory.contract import (
    CONTRACT_NAME,
    build_contract,
    decode_event,
    decode_result,
    encode_arguments,
)
from causeway.apps.directory.index import DirectoryEvent, DirectoryIndex
from causeway.apps.directory.service import ESCALATE_MARGIN_MS, escalate_overdue
from causeway.apps.directory.v1 import directory_pb2 as pb
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.errors import RequestError
from causeway.toolchains import BLOCK_INTERVAL_MS, CallResult, LocalChain

ADMINISTRATOR = "org1/admin"
REQUESTER = "org1/client"  # org1: the administrators' organisation, and department MZ
PROVIDER = "org2/client"  # org2: department GA
PROVIDER_ADMIN = "org2/admin"
DAY_MS = 86_400_000
# Deploying the 48 KB module costs about 1.1 million gas on a gm chain (its bytes are charged
# as code, as transaction bytes and, at SM3's price, hashed three times), above the default
# transaction_gas_max of 1,000,000 (an intl chain: about 0.67 million). A gm chain that runs the
# directory raises the limit by governance; these tests do the same.
GM_TRANSACTION_GAS_MAX = 2_000_000


def local_chain(profile: str) -> LocalChain:
    return LocalChain(
        profile, transaction_gas_max=GM_TRANSACTION_GAS_MAX if profile == "gm" else None
    )


@pytest.fixture(scope="module")
def built() -> tuple[Path, Path]:
    return build_contract()


def metadata(**changes: Any) -> pb.ResourceMetadata:
    """Valid metadata of a GA resource under item 101, with ``changes`` applied."""
    fields: dict[str, Any] = dict(
        category_code="101",
        name="常住人口基本信息",
        abstract="公安局户籍管理中产生的常住人口基本信息。",
        format="database",
        data_items=[
            pb.DataItem(name="姓名", type="string", description="", length=50),
            pb.DataItem(name="出生日期", type="date"),
            pb.DataItem(name="身份证号", type="string", length=18),
        ],
        sharing_type=pb.SHARING_TYPE_UNCONDITIONAL,
        sharing_method="接口调用",
        openness=pb.OPENNESS_CONDITIONAL,
        update_cycle=pb.UPDATE_CYCLE_DAILY,
        publish_date="2024-02-29",
        duties=["户籍管理"],
        keywords=["人口"],
        distributions=[
            pb.Distribution(
                name="人口.csv",
                format="CSV",
                access_url="https://data.example.gov.cn/ga/1",
                hash=bytes(range(32)),
                hash_algorithm="MD5",  # the contract names the chain's algorithm instead
                byte_size=1234,
            ),
            pb.Distribution(name="人口接口", format="API", access_url="https://api.example/ga"),
        ],
        name_en="Resident population",
    )
    return pb.ResourceMetadata(**{**fields, **changes})


class Directory:
    """The directory contract deployed on a LocalChain, with calls in directory_pb2 messages."""

    def __init__(self, chain: LocalChain, built: tuple[Path, Path]) -> None:
        self.chain = chain
        module, interface = built
        # Deployed through the interface file: init's one administrator fits it.
        self.contract = chain.deploy(
            module,
            interface,
            init={
                "directory_id": "beijing",
                "level": pb.DIRECTORY_LEVEL_CITY,
                "name": "北京市政务信息资源目录",
                "administrator_organisations": "org1",
            },
        )

    def send(self, method: str, message: Message, sender: str = PROVIDER) -> CallResult:
        return self.chain.send(
            CONTRACT_NAME, method, encode_arguments(method, message), sender=sender
        )

    def ok(self, method: str, message: Message, sender: str = PROVIDER) -> CallResult:
        return self.send(method, message, sender).expect_ok()

    def refused(
        self, method: str, message: Message | bytes, expected: str, sender: str = PROVIDER
    ) -> CallResult:
        """Sends what must be refused with ``expected`` in the message, and checks that the
        contract's state is unchanged and no event was emitted."""
        before = self.state()
        arguments = message if isinstance(message, bytes) else encode_arguments(method, message)
        result = self.chain.send(CONTRACT_NAME, method, arguments, sender=sender)
        result.expect_revert(expected)
        assert result.events == ()
        assert self.state() == before
        return result

    def query(self, method: str, message: Message | None = None) -> Message:
        """A read-only method run as a query; its result decoded as its message."""
        values = {}
        if message is not None:
            values = {
                field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields
            }
        result = self.chain.query(method, contract=CONTRACT_NAME, arguments=values).expect_ok()
        return decode_result(method, result.return_data)

    def state(self) -> dict[bytes, bytes]:
        return self.chain.contract_state(CONTRACT_NAME)

    def record(self, key: str, message_class: type[Message]) -> Message:
        message = message_class()
        message.ParseFromString(self.state()[key.encode()])
        return message

    def setup(self) -> None:
        """The scheme (1, 101, 10101) and the departments GA (org2) and MZ (org1)."""
        for code, name in (("1", "基础信息资源"), ("101", "人口信息"), ("10101", "户籍人口")):
            self.ok("set_category", category_arguments(code, name), ADMINISTRATOR)
        self.ok(
            "set_department",
            department_arguments("GA", "org2", ["户籍管理", "治安管理"]),
            ADMINISTRATOR,
        )
        self.ok("set_department", department_arguments("MZ", "org1", ["婚姻登记"]), ADMINISTRATOR)

    def register(self, message: pb.ResourceMetadata | None = None) -> str:
        result = self.ok(
            "register_resource", pb.RegisterResourceArguments(metadata=message or metadata())
        )
        decoded = decode_result("register_resource", result.return_data)
        assert isinstance(decoded, pb.RegisterResourceResult)
        return decoded.code

    def request(self, code: str) -> str:
        arguments = pb.RequestSharingArguments(resource_code=code, purpose="婚姻登记核验")
        result = self.ok("request_sharing", arguments, REQUESTER)
        decoded = decode_result("request_sharing", result.return_data)
        assert isinstance(decoded, pb.RequestSharingResult)
        return decoded.id

    def sharing_request(self, request_id: str) -> pb.SharingRequest:
        found = self.query("get_request", pb.GetRequestArguments(id=request_id))
        assert isinstance(found, pb.SharingRequest)
        return found


def category_arguments(code: str, name: str = "类目", **fields: object) -> pb.SetCategoryArguments:
    return pb.SetCategoryArguments(category=pb.Category(code=code, name=name, **fields))  # type: ignore[arg-type]


def department_arguments(
    code: str, organisation: str, duties: list[str] | None = None
) -> pb.SetDepartmentArguments:
    return pb.SetDepartmentArguments(
        department=pb.Department(
            code=code, organisation=organisation, name=f"部门{code}", duties=duties or []
        )
    )


def varint(value: int) -> bytes:
    encoded = bytearray()
    while value >= 0x80:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def length_delimited(field: int, data: bytes) -> bytes:
    """A length-delimited field (a nested message) as protobuf encodes it."""
    return varint(field << 3 | 2) + varint(len(data)) + data


def only_event(result: CallResult, name: str) -> Message:
    (event,) = [event for event in result.events if event.contract == CONTRACT_NAME]
    assert event.name == name
    return decode_event(name, event.data)


@pytest.fixture
def directory(built: tuple[Path, Path]) -> Directory:
    deployed = Directory(LocalChain("intl"), built)
    deployed.setup()
    return deployed


# -- init -----------------------------------------------------------------------------------


def test_init_keeps_the_settings_with_the_default_answer_days(built: tuple[Path, Path]) -> None:
    directory = Directory(LocalChain("intl"), built)
    info = directory.query("info")
    assert info == pb.DirectoryInfo(
        settings=pb.DirectoryInitArguments(
            directory_id="beijing",
            level=pb.DIRECTORY_LEVEL_CITY,
            name="北京市政务信息资源目录",
            administrator_organisations=["org1"],
            answer_days=15,
        )
    )
    assert directory.record("directory", pb.DirectoryInfo) == info


def deploy_raw(chain: LocalChain, built: tuple[Path, Path], name: str, init: bytes) -> CallResult:
    module, interface = built
    arguments = contracts_pb2.CodeDeployArguments(
        name=name,
        code=module.read_bytes(),
        interface_json=interface.read_text(encoding="utf-8"),
        init_input=init,
    )
    return chain.send("code", "deploy", arguments, sender=chain.admin, endorsers=chain.admins[1:])


def test_init_takes_several_administrators_as_the_raw_message(built: tuple[Path, Path]) -> None:
    chain = LocalChain("intl")
    settings = pb.DirectoryInitArguments(
        directory_id="beijing-haidian",
        level=pb.DIRECTORY_LEVEL_DISTRICT,
        name="海淀区政务信息资源目录",
        administrator_organisations=["org1", "org2"],
        parent_directory_id="beijing",
        answer_days=30,
    )
    deploy_raw(chain, built, "haidian", encode_arguments("init", settings)).expect_ok()
    stored = pb.DirectoryInfo()
    stored.ParseFromString(chain.contract_state("haidian")[b"directory"])
    assert stored == pb.DirectoryInfo(settings=settings)


GOOD_INIT = {
    "directory_id": "beijing",
    "level": pb.DIRECTORY_LEVEL_CITY,
    "name": "目录",
    "administrator_organisations": ["org1"],
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"directory_id": ""}, "directory_id must be 1 to 64"),
        ({"directory_id": "Beijing"}, "may hold only a-z, 0-9 and '-'"),
        ({"directory_id": "a" * 65}, "directory_id must be 1 to 64"),
        ({"level": 0}, "level must be DIRECTORY_LEVEL_CITY (1) or DIRECTORY_LEVEL_DISTRICT (2)"),
        ({"level": 3}, "level must be DIRECTORY_LEVEL_CITY (1) or DIRECTORY_LEVEL_DISTRICT (2)"),
        ({"name": ""}, "init: name must be 1 to 200 bytes"),
        ({"administrator_organisations": []}, "1 to 16 administrator organisations, not 0"),
        (
            {"administrator_organisations": [f"org{n}" for n in range(17)]},
            "1 to 16 administrator organisations, not 17",
        ),
        ({"administrator_organisations": ["org1", "org1"]}, "org1 is listed twice"),
        ({"answer_days": 91}, "answer_days must be 1 to 90, not 91"),
        ({"parent_directory_id": "Bad Id"}, "parent_directory_id"),
    ],
)
def test_init_refuses_bad_settings(
    built: tuple[Path, Path], changes: dict[str, object], expected: str
) -> None:
    chain = LocalChain("intl")
    settings = pb.DirectoryInitArguments(**{**GOOD_INIT, **changes})  # type: ignore[arg-type]
    result = deploy_raw(chain, built, "directory", settings.SerializeToString())
    assert not result.ok
    assert expected in result.error, result.error
    assert chain.contract_state("directory") == {}


def test_init_refuses_garbage_bytes(built: tuple[Path, Path]) -> None:
    chain = LocalChain("intl")
    result = deploy_raw(chain, built, "directory", b"\xff\xff\xff")
    assert not result.ok
    assert "malformed input" in result.error, result.error


# -- the scheme and the departments ------------------------------------------------------------


def test_administrators_set_categories_and_departments_with_events(
    built: tuple[Path, Path],
) -> None:
    directory = Directory(LocalChain("intl"), built)
    result = directory.ok("set_category", category_arguments("1", "基础"), ADMINISTRATOR)
    assert only_event(result, "category_set") == pb.Category(code="1", name="基础", level=1)
    result = directory.ok(
        "set_category", category_arguments("101", "人口", level=2, parent_code="1"), REQUESTER
    )
    expected = pb.Category(code="101", name="人口", level=2, parent_code="1")
    assert only_event(result, "category_set") == expected
    assert directory.record("category/101", pb.Category) == expected
    result = directory.ok("set_category", category_arguments("10101", "户籍"), ADMINISTRATOR)
    assert only_event(result, "category_set") == pb.Category(
        code="10101", name="户籍", level=3, parent_code="101"
    )
    arguments = department_arguments("GA", "org2", ["户籍管理"])
    result = directory.ok("set_department", arguments, ADMINISTRATOR)
    assert only_event(result, "department_set") == arguments.department
    assert directory.record("department/GA", pb.Department) == arguments.department
    assert directory.state()[b"organisation/org2"] == b"GA"


def test_only_administrators_set_categories_and_departments(directory: Directory) -> None:
    for sender in (PROVIDER, PROVIDER_ADMIN):
        directory.refused(
            "set_category",
            category_arguments("2"),
            "set_category: only members of an administrator organisation (org1) may, not org2",
            sender,
        )
        directory.refused(
            "set_department",
            department_arguments("GA", "org2", ["新职责"]),
            "set_department: only members of an administrator organisation (org1) may, not org2",
            sender,
        )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (category_arguments(""), 'code "" must be 1 to 6 digits'),
        (category_arguments("1a"), 'code "1a" must be 1 to 6 digits'),
        (category_arguments("1234567"), 'code "1234567" must be 1 to 6 digits'),
        (category_arguments("201"), "parent category 2 of 201 does not exist"),
        (category_arguments("1010101"), "must be 1 to 6 digits"),
        (category_arguments("102", level=3), "code 102 is at level 2, not 3"),
        (category_arguments("102", parent_code="10"), 'the parent of 102 is "1", not "10"'),
        (category_arguments("102", name=""), "set_category: name must be 1 to 200 bytes"),
        (category_arguments("102", name="名" * 100), "set_category: name must be 1 to 200 bytes"),
    ],
)
def test_category_codes_are_checked(
    directory: Directory, arguments: pb.SetCategoryArguments, expected: str
) -> None:
    directory.refused("set_category", arguments, expected, ADMINISTRATOR)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (department_arguments("ga", "org3"), 'department code "ga" must be 2 to 32 of A-Z and 0-9'),
        (department_arguments("G", "org3"), 'department code "G" must be 2 to 32'),
        (department_arguments("G" * 33, "org3"), "must be 2 to 32"),
        (department_arguments("G-A", "org3"), "must be 2 to 32 of A-Z and 0-9"),
        (department_arguments("SW", ""), "set_department: organisation must be 1 to 128 bytes"),
        (department_arguments("SW", "org2"), "organisation org2 already acts for department GA"),
        (
            department_arguments("SW", "org3", ["职责"] * 2),
            'set_department: duties: "职责" is listed twice',
        ),
        (
            department_arguments("SW", "org3", [f"d{n}" for n in range(51)]),
            "set_department: duties: 51, above the limit of 50",
        ),
    ],
)
def test_departments_are_checked_and_one_per_organisation(
    directory: Directory, arguments: pb.SetDepartmentArguments, expected: str
) -> None:
    directory.refused("set_department", arguments, expected, ADMINISTRATOR)


# -- the catalogue -----------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "algorithm"), [("intl", "SHA-256"), ("gm", "SM3")])
def test_a_department_registers_a_resource_with_the_chains_hash_algorithm(
    built: tuple[Path, Path], profile: str, algorithm: str
) -> None:
    chain = local_chain(profile)
    directory = Directory(chain, built)
    directory.setup()
    content = b"GA/1/population"
    stated = metadata()
    stated.distributions[0].hash = get_profile(profile).hash(content)
    result = directory.ok("register_resource", pb.RegisterResourceArguments(metadata=stated))
    assert decode_result("register_resource", result.return_data) == pb.RegisterResourceResult(
        code="101-GA-000001", version=1
    )
    registered = only_event(result, "resource_registered")
    assert isinstance(registered, pb.ResourceVersion)
    expected_metadata = metadata()
    expected_metadata.distributions[0].hash = stated.distributions[0].hash
    expected_metadata.distributions[0].hash_algorithm = algorithm
    # A distribution without a hash (a service) names no algorithm.
    expected_metadata.distributions[1].hash_algorithm = ""
    assert registered == pb.ResourceVersion(
        code="101-GA-000001",
        version=1,
        directory_id="beijing",
        provider_code="GA",
        provider_organisation="org2",
        metadata=expected_metadata,
        status=pb.RESOURCE_STATUS_ACTIVE,
        author=PROVIDER,
        height=result.height,
        time_ms=chain.time_ms,
        transaction_id=result.transaction_id,
    )
    assert directory.record("resource/101-GA-000001/0000000001", pb.ResourceVersion) == registered
    assert directory.record("head/101-GA-000001", pb.ResourceHead) == pb.ResourceHead(
        code="101-GA-000001", latest_version=1, status=pb.RESOURCE_STATUS_ACTIVE, provider_code="GA"
    )
    assert (
        directory.query("get_resource", pb.GetResourceArguments(code="101-GA-000001")) == registered
    )
    info = directory.query("info")
    assert isinstance(info, pb.DirectoryInfo)
    assert info.resources == 1


def test_the_provider_is_the_callers_department_whatever_the_input_says(
    directory: Directory,
) -> None:
    # The arguments carry the fields ResourceVersion gives the provider (4 and 5), and the
    # metadata fields it does not define (19 and 20) with a forged provider: none of them reaches
    # the record, which is the canonical message of what the contract decided.
    forged = pb.ResourceVersion(provider_code="MZ", provider_organisation="org1")
    stated = metadata().SerializeToString()
    for raw in (
        length_delimited(1, stated) + forged.SerializeToString(),
        length_delimited(1, stated + length_delimited(19, b"MZ") + length_delimited(20, b"org1")),
    ):
        result = directory.chain.send(CONTRACT_NAME, "register_resource", raw, sender=PROVIDER)
        registered = only_event(result.expect_ok(), "resource_registered")
        assert isinstance(registered, pb.ResourceVersion)
        assert (registered.provider_code, registered.provider_organisation) == ("GA", "org2")
        assert registered.code.startswith("101-GA-")
        stored = directory.state()[f"resource/{registered.code}/0000000001".encode()]
        assert length_delimited(19, b"MZ") not in stored
        assert registered.SerializeToString(deterministic=True) == stored


def test_registering_needs_a_department(built: tuple[Path, Path]) -> None:
    directory = Directory(LocalChain("intl"), built)
    for code, name in (("1", "基础"), ("101", "人口")):
        directory.ok("set_category", category_arguments(code, name), ADMINISTRATOR)
    directory.refused(
        "register_resource",
        pb.RegisterResourceArguments(metadata=metadata(duties=[])),
        "register_resource: organisation org2 is not a registered department",
    )


def test_codes_count_up_per_category_and_are_never_reused(directory: Directory) -> None:
    first = directory.register()
    second = directory.register(metadata(name="第二"))
    sub_item = directory.register(metadata(category_code="10101"))
    assert (first, second, sub_item) == ("101-GA-000001", "101-GA-000002", "10101-GA-000001")
    directory.ok(
        "withdraw_resource",
        pb.WithdrawResourceArguments(code=second, expected_version=1, reason="停止"),
    )
    # The withdrawn code stays taken: the next resource gets the next number.
    assert directory.register() == "101-GA-000003"
    assert directory.state()[b"sequence/101"] == (3).to_bytes(8, "little")


def test_revisions_are_linked_and_withdrawal_keeps_the_history(directory: Directory) -> None:
    code = directory.register()
    revised = metadata(name="常住人口基本信息2025版", update_cycle=pb.UPDATE_CYCLE_WEEKLY)
    result = directory.ok(
        "revise_resource",
        pb.ReviseResourceArguments(
            code=code, expected_version=1, metadata=revised, note="更新周期"
        ),
    )
    event = only_event(result, "resource_revised")
    assert isinstance(event, pb.ResourceVersion)
    assert (event.version, event.reason, event.metadata.name) == (2, "更新周期", revised.name)
    # A revision made against an old version is refused.
    directory.refused(
        "revise_resource",
        pb.ReviseResourceArguments(code=code, expected_version=1, metadata=revised),
        f"revise_resource: resource {code} is at version 2, not 1",
    )
    directory.refused(
        "withdraw_resource",
        pb.WithdrawResourceArguments(code=code, expected_version=2),
        "withdraw_resource: reason must be 1 to 4000 bytes",
    )
    result = directory.ok(
        "withdraw_resource",
        pb.WithdrawResourceArguments(code=code, expected_version=2, reason="数据合并"),
    )
    withdrawn = only_event(result, "resource_withdrawn")
    assert isinstance(withdrawn, pb.ResourceVersion)
    assert (withdrawn.version, withdrawn.status, withdrawn.reason) == (
        3,
        pb.RESOURCE_STATUS_WITHDRAWN,
        "数据合并",
    )
    assert withdrawn.metadata == event.metadata
    history = directory.query("resource_history", pb.ResourceHistoryArguments(code=code))
    assert isinstance(history, pb.ResourceHistoryResult)
    assert [version.version for version in history.versions] == [1, 2, 3]
    assert history.versions[1] == event
    assert history.versions[2] == withdrawn
    assert (
        directory.query("get_resource", pb.GetResourceArguments(code=code, version=1))
        == (history.versions[0])
    )
    # Withdrawn: no more revisions or withdrawals.
    directory.refused(
        "revise_resource",
        pb.ReviseResourceArguments(code=code, expected_version=3, metadata=revised),
        f"revise_resource: resource {code} is WITHDRAWN, not ACTIVE",
    )
    directory.refused(
        "withdraw_resource",
        pb.WithdrawResourceArguments(code=code, expected_version=3, reason="再次"),
        f"withdraw_resource: resource {code} is WITHDRAWN, not ACTIVE",
    )
    directory.chain.query(
        "get_resource", contract=CONTRACT_NAME, code=code, version=4
    ).expect_revert(f"get_resource: resource {code} has no version 4")


def test_a_department_cannot_edit_another_departments_resource(directory: Directory) -> None:
    code = directory.register()
    for sender in (REQUESTER, ADMINISTRATOR):
        directory.refused(
            "revise_resource",
            pb.ReviseResourceArguments(code=code, expected_version=1, metadata=metadata()),
            f"revise_resource: resource {code} is provided by department GA; organisation "
            "org1 does not act for it",
            sender,
        )
        directory.refused(
            "withdraw_resource",
            pb.WithdrawResourceArguments(code=code, expected_version=1, reason="x"),
            "provided by department GA",
            sender,
        )
    directory.refused(
        "revise_resource",
        pb.ReviseResourceArguments(
            code=code, expected_version=1, metadata=metadata(category_code="10101")
        ),
        f"revise_resource: the category of {code} is 101, fixed by its code",
    )
    directory.refused(
        "revise_resource",
        pb.ReviseResourceArguments(code="101-GA-000099", expected_version=1, metadata=metadata()),
        'revise_resource: resource "101-GA-000099" does not exist',
    )


def many_items(count: int) -> list[pb.DataItem]:
    return [pb.DataItem(name=f"item{n}", type="string") for n in range(count)]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"category_code": "999"}, 'category "999" does not exist'),
        ({"category_code": ""}, 'category "" does not exist'),
        ({"category_code": "1"}, "category 1 is a level 1 category"),
        ({"name": ""}, "register_resource: name must be 1 to 200 bytes, not 0"),
        ({"name": "x" * 201}, "register_resource: name must be 1 to 200 bytes, not 201"),
        ({"abstract": "x" * 4001}, "abstract must be at most 4000 bytes, not 4001"),
        ({"data_items": many_items(201)}, "metadata: 201 data items, above the limit of 200"),
        (
            {"data_items": [pb.DataItem(name="", type="string")]},
            "a data item's name must be 1 to 200",
        ),
        ({"data_items": [pb.DataItem(name="a", type="text")]}, 'data item "a" has type "text"'),
        (
            {"data_items": [pb.DataItem(name="a", type="date")] * 2},
            'data item "a" is listed twice',
        ),
        (
            {"sharing_type": 0},
            "sharing_type must be UNCONDITIONAL (1), CONDITIONAL (2) or NOT_SHARED (3), not 0",
        ),
        ({"sharing_type": 9}, "not 9"),
        ({"sharing_type": pb.SHARING_TYPE_CONDITIONAL}, "sharing_conditions are required"),
        ({"sharing_type": pb.SHARING_TYPE_NOT_SHARED}, "sharing_conditions are required"),
        ({"openness": 4}, "openness 4 is not a known value"),
        ({"update_cycle": 8}, "update_cycle 8 is not a known value"),
        ({"publish_date": ""}, 'publish_date "" is not a date YYYY-MM-DD'),
        ({"publish_date": "2024-2-29"}, "is not a date"),
        ({"publish_date": "2023-02-29"}, 'publish_date "2023-02-29" is not a date'),
        ({"publish_date": "2024-13-01"}, "is not a date"),
        ({"publish_date": "2024-04-31"}, "is not a date"),
        ({"publish_date": "2024/01/01"}, "is not a date"),
        ({"related_resources": ["101-GA-000099"]}, "related resource 101-GA-000099 does not exist"),
        ({"duties": ["婚姻登记"]}, '"婚姻登记" is not a duty of department GA'),
        ({"keywords": [f"k{n}" for n in range(21)]}, "keywords: 21, above the limit of 20"),
        (
            {"distributions": [pb.Distribution(name=f"d{n}") for n in range(21)]},
            "metadata: 21 distributions, above the limit of 20",
        ),
        (
            {"distributions": [pb.Distribution(name="d", hash=b"\x01" * 31)]},
            'distribution "d" has a hash of 31 bytes, not 32',
        ),
        ({"distributions": [pb.Distribution(name="")]}, "a distribution's name must be 1 to 200"),
        (
            {"data_items": [pb.DataItem(name="a", type="string", description="x" * 501)]},
            "register_resource: a data item's description must be at most 500 bytes, not 501",
        ),
        (
            {"sharing_method": "x" * 201},
            "register_resource: sharing_method must be at most 200 bytes",
        ),
        (
            {"distributions": [pb.Distribution(name="d", access_url="x" * 2049)]},
            "register_resource: a distribution's access_url must be at most 2048 bytes",
        ),
    ],
)
def test_metadata_is_checked(
    directory: Directory, changes: dict[str, object], expected: str
) -> None:
    directory.refused(
        "register_resource", pb.RegisterResourceArguments(metadata=metadata(**changes)), expected
    )


def test_an_unknown_enum_value_on_the_wire_is_refused(directory: Directory) -> None:
    # A negative enum value is a ten-byte varint, above uint32.
    stated = metadata().SerializeToString() + b"\x48" + b"\xff" * 9 + b"\x01"  # openness = -1
    raw = length_delimited(1, stated)
    directory.refused("register_resource", raw, "malformed metadata: field 9 (uint32)")


@pytest.mark.parametrize(
    "method",
    [
        "register_resource",
        "set_category",
        "request_sharing",
        "approve",
        "record_usage",
        "revise_resource",
    ],
)
@pytest.mark.parametrize(
    ("garbage", "expected"),
    [
        (b"\xff", "malformed input: a field tag ends early"),
        (b"\x0a\x05ab", "malformed input: field 1 is longer than the rest of the input"),
        (b"\x0b", "malformed input: field 1 has wire type 3"),
        (b"\x08\x01", "malformed input: field 1 (bytes) has wire type 0"),
    ],
)
def test_garbage_arguments_are_refused(
    directory: Directory, method: str, garbage: bytes, expected: str
) -> None:
    if garbage == b"\x08\x01":
        expected = "has wire type 0, not length-delimited"
    directory.refused(method, garbage, expected, ADMINISTRATOR)


def test_a_repeated_field_of_the_wrong_wire_type_is_refused(directory: Directory) -> None:
    code = directory.register()
    arguments = pb.RequestSharingArguments(resource_code=code, purpose="p").SerializeToString()
    directory.refused(
        "request_sharing",
        arguments + b"\x18\x01",  # data_items (3) as a varint
        "malformed input: field 3 (repeated string) has wire type 0, not length-delimited",
        REQUESTER,
    )
    item = length_delimited(5, b"\x08")  # a data item that ends inside its first tag's value
    directory.refused(
        "register_resource",
        length_delimited(1, metadata().SerializeToString() + item),
        "malformed a data item: field 1 ends early",
    )


def test_oversized_codes_and_page_starts_are_refused(directory: Directory) -> None:
    long_code = "1" * 300
    directory.refused(
        "revise_resource",
        pb.ReviseResourceArguments(code=long_code, expected_version=1, metadata=metadata()),
        f'revise_resource: resource "{long_code}" does not exist',
    )
    directory.refused(
        "approve", pb.AnswerRequestArguments(id=long_code), f'approve: request "{long_code}" does'
    )
    for method in ("list_resources", "list_requests"):
        directory.chain.query(method, contract=CONTRACT_NAME, start_after=long_code).expect_revert(
            f"{method}: start_after must be at most 64 bytes, not 300"
        )


def test_a_malformed_nested_message_is_refused(directory: Directory) -> None:
    directory.refused("register_resource", b"\x0a\x02\x12\xff", "malformed metadata", PROVIDER)
    # A string that is not UTF-8.
    directory.refused(
        "register_resource",
        b"\x0a\x03\x12\x01\xff",
        "malformed metadata: field 2 (string) is not valid UTF-8",
    )


def test_list_resources_pages_through_the_heads(directory: Directory) -> None:
    codes = [directory.register(metadata(name=f"资源{n}")) for n in range(5)]
    seen: list[str] = []
    start_after = ""
    while True:
        page = directory.query(
            "list_resources", pb.ListResourcesArguments(start_after=start_after, limit=2)
        )
        assert isinstance(page, pb.ListResourcesResult)
        seen += [head.code for head in page.heads]
        start_after = page.next
        if not start_after:
            break
    assert seen == sorted(codes)
    directory.chain.query("list_resources", contract=CONTRACT_NAME, limit=101).expect_revert(
        "list_resources: the limit is at most 100"
    )


# -- sharing -----------------------------------------------------------------------------------


def test_a_request_is_approved_used_and_revoked(directory: Directory) -> None:
    code = directory.register()
    chain = directory.chain
    result = directory.ok(
        "request_sharing",
        pb.RequestSharingArguments(
            resource_code=code,
            purpose="婚姻登记核验",
            data_items=["姓名", "身份证号"],
            legal_basis="婚姻登记条例",
        ),
        REQUESTER,
    )
    created = only_event(result, "request_created")
    assert created == pb.SharingRequest(
        id="R0000000001",
        resource_code=code,
        resource_version=1,
        provider_code="GA",
        requester_code="MZ",
        requester_member=REQUESTER,
        purpose="婚姻登记核验",
        data_items=["姓名", "身份证号"],
        legal_basis="婚姻登记条例",
        state=pb.REQUEST_STATE_PENDING,
        created_ms=chain.time_ms,
        answer_by_ms=chain.time_ms + 15 * DAY_MS,
        height=result.height,
        transaction_id=result.transaction_id,
    )
    assert directory.record("request/R0000000001", pb.SharingRequest) == created
    result = directory.ok("approve", pb.AnswerRequestArguments(id="R0000000001"), PROVIDER)
    approved = only_event(result, "request_approved")
    assert isinstance(approved, pb.SharingRequest)
    assert (approved.state, approved.answered_by, approved.answered_ms) == (
        pb.REQUEST_STATE_APPROVED,
        PROVIDER,
        chain.time_ms,
    )
    assert (approved.height, approved.transaction_id) == (result.height, result.transaction_id)
    digest = bytes(32)
    for records in (10, 20):
        result = directory.ok(
            "record_usage",
            pb.RecordUsageArguments(
                request_id="R0000000001", purpose="核验", digest=digest, records=records
            ),
            REQUESTER,
        )
    receipt = only_event(result, "usage_recorded")
    assert receipt == pb.UsageReceipt(
        request_id="R0000000001",
        sequence=2,
        accessed_by=REQUESTER,
        time_ms=chain.time_ms,
        purpose="核验",
        digest=digest,
        records=20,
    )
    assert directory.record("receipt/R0000000001/0000000002", pb.UsageReceipt) == receipt
    assert directory.sharing_request("R0000000001").receipts == 2
    receipts = directory.query(
        "list_receipts", pb.ListReceiptsArguments(request_id="R0000000001", limit=1)
    )
    assert isinstance(receipts, pb.ListReceiptsResult)
    assert [r.records for r in receipts.receipts] == [10]
    assert receipts.next == 1
    receipts = directory.query(
        "list_receipts", pb.ListReceiptsArguments(request_id="R0000000001", start_after=1)
    )
    assert isinstance(receipts, pb.ListReceiptsResult)
    assert ([r.records for r in receipts.receipts], receipts.next) == ([20], 0)
    directory.refused(
        "record_usage",
        pb.RecordUsageArguments(request_id="R0000000001", digest=b"\x00" * 31),
        "record_usage: the digest is 31 bytes, not 32 (or none)",
        REQUESTER,
    )
    directory.refused(
        "record_usage",
        pb.RecordUsageArguments(request_id="R0000000001"),
        "record_usage: only members of the requesting department MZ",
        PROVIDER,
    )
    directory.refused(
        "revoke", pb.RevokeRequestArguments(id="R0000000001"), "revoke: reason must be 1 to 4000"
    )
    result = directory.ok(
        "revoke", pb.RevokeRequestArguments(id="R0000000001", reason="超范围使用")
    )
    revoked = only_event(result, "request_revoked")
    assert isinstance(revoked, pb.SharingRequest)
    assert (revoked.state, revoked.reason, revoked.receipts) == (
        pb.REQUEST_STATE_REVOKED,
        "超范围使用",
        2,
    )
    directory.refused(
        "record_usage",
        pb.RecordUsageArguments(request_id="R0000000001"),
        "record_usage: request R0000000001 is REVOKED, not APPROVED or CONDITIONALLY_APPROVED",
        REQUESTER,
    )


def test_a_conditional_resource_is_approved_with_terms_only(directory: Directory) -> None:
    code = directory.register(
        metadata(
            sharing_type=pb.SHARING_TYPE_CONDITIONAL, sharing_conditions="仅限履行法定职责使用"
        )
    )
    request_id = directory.request(code)
    directory.refused(
        "approve",
        pb.AnswerRequestArguments(id=request_id),
        f"approve: resource {code} is shared on conditions: approve request {request_id} "
        "with terms",
    )
    result = directory.ok(
        "approve", pb.AnswerRequestArguments(id=request_id, terms="不得向第三方提供")
    )
    approved = only_event(result, "request_conditionally_approved")
    assert isinstance(approved, pb.SharingRequest)
    assert (approved.state, approved.terms) == (
        pb.REQUEST_STATE_CONDITIONALLY_APPROVED,
        "不得向第三方提供",
    )
    # The administrators may revoke too.
    result = directory.ok(
        "revoke", pb.RevokeRequestArguments(id=request_id, reason="督查"), ADMINISTRATOR
    )
    assert only_event(result, "request_revoked").state == pb.REQUEST_STATE_REVOKED  # type: ignore[attr-defined]


def test_refusal_and_cancellation(directory: Directory) -> None:
    code = directory.register()
    first = directory.request(code)
    directory.refused(
        "refuse", pb.RefuseRequestArguments(id=first), "refuse: reason must be 1 to 4000"
    )
    result = directory.ok("refuse", pb.RefuseRequestArguments(id=first, reason="无法律依据"))
    refused = only_event(result, "request_refused")
    assert isinstance(refused, pb.SharingRequest)
    assert (refused.state, refused.reason, refused.answered_by) == (
        pb.REQUEST_STATE_REFUSED,
        "无法律依据",
        PROVIDER,
    )
    second = directory.request(code)
    assert second == "R0000000002"
    directory.refused(
        "cancel",
        pb.CancelRequestArguments(id=second),
        f"cancel: only members of the requesting department MZ cancel request {second}, not org2",
    )
    result = directory.ok(
        "cancel", pb.CancelRequestArguments(id=second, reason="不再需要"), REQUESTER
    )
    cancelled = only_event(result, "request_cancelled")
    assert isinstance(cancelled, pb.SharingRequest)
    assert (cancelled.state, cancelled.reason) == (pb.REQUEST_STATE_CANCELLED, "不再需要")
    page = directory.query("list_requests", pb.ListRequestsArguments(limit=1))
    assert isinstance(page, pb.ListRequestsResult)
    assert ([r.id for r in page.requests], page.next) == ([first], first)
    page = directory.query("list_requests", pb.ListRequestsArguments(start_after=first))
    assert isinstance(page, pb.ListRequestsResult)
    assert ([r.state for r in page.requests], page.next) == ([pb.REQUEST_STATE_CANCELLED], "")


def test_escalation_only_after_the_deadline_then_the_administrators_answer(
    directory: Directory,
) -> None:
    code = directory.register()
    request_id = directory.request(code)
    created = directory.sharing_request(request_id)
    chain = directory.chain
    # The next block is exactly at the deadline: still the provider's time.
    chain.advance_time(created.answer_by_ms - chain.time_ms - BLOCK_INTERVAL_MS)
    directory.refused(
        "escalate",
        pb.EscalateRequestArguments(id=request_id),
        f"escalate: request {request_id} may be answered until {created.answer_by_ms} ms; it is "
        f"{created.answer_by_ms} ms",
        REQUESTER,
    )
    result = directory.ok("escalate", pb.EscalateRequestArguments(id=request_id), PROVIDER_ADMIN)
    escalated = only_event(result, "request_escalated")
    assert isinstance(escalated, pb.SharingRequest)
    assert escalated.state == pb.REQUEST_STATE_ESCALATED
    directory.refused(
        "escalate",
        pb.EscalateRequestArguments(id=request_id),
        f"escalate: request {request_id} is ESCALATED, not PENDING",
    )
    # Escalated: the provider no longer answers; the administrators do.
    directory.refused(
        "approve",
        pb.AnswerRequestArguments(id=request_id),
        f"approve: request {request_id} is ESCALATED: only the administrators answer it, not org2",
    )
    directory.refused(
        "refuse",
        pb.RefuseRequestArguments(id=request_id, reason="x"),
        f"refuse: request {request_id} is ESCALATED: only the administrators answer it, not org2",
    )
    result = directory.ok("approve", pb.AnswerRequestArguments(id=request_id), ADMINISTRATOR)
    approved = only_event(result, "request_approved")
    assert isinstance(approved, pb.SharingRequest)
    assert (approved.state, approved.answered_by) == (pb.REQUEST_STATE_APPROVED, ADMINISTRATOR)


def test_an_escalated_request_may_be_refused_by_the_administrators_or_cancelled(
    directory: Directory,
) -> None:
    code = directory.register()
    first, second = directory.request(code), directory.request(code)
    directory.chain.advance_time(16 * DAY_MS)
    for request_id in (first, second):
        directory.ok("escalate", pb.EscalateRequestArguments(id=request_id), PROVIDER)
    result = directory.ok(
        "refuse", pb.RefuseRequestArguments(id=first, reason="不符合"), ADMINISTRATOR
    )
    assert only_event(result, "request_refused").state == pb.REQUEST_STATE_REFUSED  # type: ignore[attr-defined]
    result = directory.ok("cancel", pb.CancelRequestArguments(id=second), REQUESTER)
    assert only_event(result, "request_cancelled").state == pb.REQUEST_STATE_CANCELLED  # type: ignore[attr-defined]


def answered(directory: Directory, state: str) -> str:
    """A request brought to ``state`` (a REQUEST_STATE_ name without its prefix)."""
    code = directory.register()
    request_id = directory.request(code)
    if state == "PENDING":
        return request_id
    if state in ("ESCALATED",):
        directory.chain.advance_time(16 * DAY_MS)
        directory.ok("escalate", pb.EscalateRequestArguments(id=request_id))
    elif state in ("APPROVED", "REVOKED"):
        directory.ok("approve", pb.AnswerRequestArguments(id=request_id))
        if state == "REVOKED":
            directory.ok("revoke", pb.RevokeRequestArguments(id=request_id, reason="r"))
    elif state == "CONDITIONALLY_APPROVED":
        directory.ok("approve", pb.AnswerRequestArguments(id=request_id, terms="t"))
    elif state == "REFUSED":
        directory.ok("refuse", pb.RefuseRequestArguments(id=request_id, reason="r"))
    elif state == "CANCELLED":
        directory.ok("cancel", pb.CancelRequestArguments(id=request_id), REQUESTER)
    assert directory.sharing_request(request_id).state == pb.RequestState.Value(
        f"REQUEST_STATE_{state}"
    )
    return request_id


ARGUMENTS: dict[str, Callable[[str], Message]] = {
    "approve": lambda request_id: pb.AnswerRequestArguments(id=request_id),
    "refuse": lambda request_id: pb.RefuseRequestArguments(id=request_id, reason="r"),
    "escalate": lambda request_id: pb.EscalateRequestArguments(id=request_id),
    "revoke": lambda request_id: pb.RevokeRequestArguments(id=request_id, reason="r"),
    "cancel": lambda request_id: pb.CancelRequestArguments(id=request_id),
    "record_usage": lambda request_id: pb.RecordUsageArguments(request_id=request_id),
}
# (method, whom it is sent by, the states it is refused in, what the refusal names).
ALLOWED = {
    "approve": (PROVIDER, "not PENDING or ESCALATED"),
    "refuse": (PROVIDER, "not PENDING or ESCALATED"),
    "escalate": (PROVIDER, "not PENDING"),
    "revoke": (PROVIDER, "not APPROVED or CONDITIONALLY_APPROVED"),
    "cancel": (REQUESTER, "not PENDING or ESCALATED"),
    "record_usage": (REQUESTER, "not APPROVED or CONDITIONALLY_APPROVED"),
}
LEGAL = {
    "approve": {"PENDING", "ESCALATED"},
    "refuse": {"PENDING", "ESCALATED"},
    "escalate": {"PENDING"},
    "revoke": {"APPROVED", "CONDITIONALLY_APPROVED"},
    "cancel": {"PENDING", "ESCALATED"},
    "record_usage": {"APPROVED", "CONDITIONALLY_APPROVED"},
}
STATES = (
    "PENDING",
    "APPROVED",
    "CONDITIONALLY_APPROVED",
    "REFUSED",
    "ESCALATED",
    "REVOKED",
    "CANCELLED",
)


@pytest.mark.parametrize(
    ("method", "state"),
    [(method, state) for method in ARGUMENTS for state in STATES if state not in LEGAL[method]],
)
def test_every_illegal_transition_is_refused_naming_the_state(
    directory: Directory, method: str, state: str
) -> None:
    request_id = answered(directory, state)
    sender, allowed = ALLOWED[method]
    directory.refused(
        method,
        ARGUMENTS[method](request_id),
        f"{method}: request {request_id} is {state}, {allowed}",
        sender,
    )


@pytest.mark.parametrize(
    ("changes", "sender", "expected"),
    [
        (
            {},
            PROVIDER,
            "request_sharing: department GA provides 101-GA-000001; a department does not "
            "request its own resource",
        ),
        ({"purpose": ""}, REQUESTER, "request_sharing: purpose must be 1 to 4000 bytes"),
        (
            {"resource_code": "101-GA-000009"},
            REQUESTER,
            'request_sharing: resource "101-GA-000009" does not exist',
        ),
        (
            {"data_items": ["住址"]},
            REQUESTER,
            'request_sharing: resource 101-GA-000001 has no data item "住址"',
        ),
        ({"data_items": ["姓名", "姓名"]}, REQUESTER, '"姓名" is listed twice'),
    ],
)
def test_requests_are_checked(
    directory: Directory, changes: dict[str, Any], sender: str, expected: str
) -> None:
    code = directory.register()
    arguments = pb.RequestSharingArguments(**{"resource_code": code, "purpose": "核验", **changes})
    directory.refused("request_sharing", arguments, expected, sender)


def test_withdrawn_and_not_shared_resources_cannot_be_requested(directory: Directory) -> None:
    not_shared = directory.register(
        metadata(sharing_type=pb.SHARING_TYPE_NOT_SHARED, sharing_conditions="依据个人信息保护法")
    )
    directory.refused(
        "request_sharing",
        pb.RequestSharingArguments(resource_code=not_shared, purpose="p"),
        f"request_sharing: resource {not_shared} is not shared (依据个人信息保护法)",
        REQUESTER,
    )
    code = directory.register()
    pending = directory.request(code)
    directory.ok(
        "withdraw_resource",
        pb.WithdrawResourceArguments(code=code, expected_version=1, reason="停用"),
    )
    directory.refused(
        "request_sharing",
        pb.RequestSharingArguments(resource_code=code, purpose="p"),
        f"request_sharing: resource {code} is WITHDRAWN, not ACTIVE",
        REQUESTER,
    )
    directory.refused(
        "approve",
        pb.AnswerRequestArguments(id=pending),
        f"approve: resource {code} is WITHDRAWN, not ACTIVE",
    )


def test_only_the_provider_answers_a_pending_request(directory: Directory) -> None:
    request_id = directory.request(directory.register())
    for method in ("approve", "refuse"):
        for sender in (REQUESTER, ADMINISTRATOR):
            directory.refused(
                method,
                ARGUMENTS[method](request_id),
                f"{method}: only members of the provider department GA answer request "
                f"{request_id} while it is PENDING, not org1",
                sender,
            )
    directory.refused(
        "approve",
        pb.AnswerRequestArguments(id="R0000000099"),
        'approve: request "R0000000099" does not exist',
    )
    directory.chain.query("get_request", contract=CONTRACT_NAME, id="R9").expect_revert(
        'get_request: request "R9" does not exist'
    )


def test_a_gm_chain_runs_the_sharing_workflow(built: tuple[Path, Path]) -> None:
    directory = Directory(local_chain("gm"), built)
    directory.setup()
    request_id = directory.request(directory.register())
    directory.ok("approve", pb.AnswerRequestArguments(id=request_id))
    digest = get_profile("gm").hash(b"received")
    result = directory.ok(
        "record_usage",
        pb.RecordUsageArguments(request_id=request_id, digest=digest, records=3),
        REQUESTER,
    )
    receipt = only_event(result, "usage_recorded")
    assert isinstance(receipt, pb.UsageReceipt)
    assert (receipt.digest, receipt.records) == (digest, 3)
    history = directory.query("resource_history", pb.ResourceHistoryArguments(code="101-GA-000001"))
    assert isinstance(history, pb.ResourceHistoryResult)
    assert history.versions[0].metadata.distributions[0].hash_algorithm == "SM3"


def test_the_service_escalates_overdue_requests_and_only_those(directory: Directory) -> None:
    """``escalate_overdue`` (what the directory service runs every escalate_every_s) reads the
    overdue PENDING requests from the index and escalates each on the chain; one not yet due,
    and one the chain refuses (its block time still before the deadline), stay PENDING."""
    directory.setup()
    events: list[DirectoryEvent] = []

    def index_of(*results: CallResult) -> None:
        for result in results:
            for number, event in enumerate(result.events):
                if event.contract == CONTRACT_NAME:
                    events.append(
                        DirectoryEvent(
                            result.height, 0, number, result.transaction_id, event.name, event.data
                        )
                    )

    code = directory.register()
    chain = directory.chain

    def request() -> str:
        arguments = pb.RequestSharingArguments(resource_code=code, purpose="婚姻登记核验")
        result = directory.ok("request_sharing", arguments, REQUESTER)
        index_of(result)
        decoded = decode_result("request_sharing", result.return_data)
        assert isinstance(decoded, pb.RequestSharingResult)
        return decoded.id

    early = request()
    chain.advance_time(DAY_MS)
    late = request()
    # The index as a follower builds it, from the contract's events in chain order.
    index = DirectoryIndex()
    index.apply(events)
    deadline = directory.sharing_request(early).answer_by_ms
    sent: list[str] = []

    def escalate(request_id: str) -> None:
        sent.append(request_id)
        result = directory.send("escalate", pb.EscalateRequestArguments(id=request_id), PROVIDER)
        if not result.ok:
            raise RequestError(result.error)
        index_of(result)

    # By the service's clock the first request is overdue, but not by the chain's yet: the
    # contract refuses, the failure is reported, nothing changes.
    escalated, failed = escalate_overdue(index, escalate, deadline + ESCALATE_MARGIN_MS + 1)
    assert (escalated, sent) == ([], [early])
    assert len(failed) == 1 and "may be answered until" in failed[0]
    assert directory.sharing_request(early).state == pb.REQUEST_STATE_PENDING
    # The chain's time passes the first deadline: only the first request is escalated.
    chain.advance_time(deadline - chain.time_ms + 1)
    sent.clear()
    escalated, failed = escalate_overdue(index, escalate, deadline + ESCALATE_MARGIN_MS + 1)
    assert (escalated, failed, sent) == ([early], [], [early])
    assert directory.sharing_request(early).state == pb.REQUEST_STATE_ESCALATED
    assert directory.sharing_request(late).state == pb.REQUEST_STATE_PENDING
    index.apply(events)
    late_deadline = directory.sharing_request(late).answer_by_ms
    assert index.overdue_requests(late_deadline) == []
    assert [request.id for request in index.overdue_requests(late_deadline + 1)] == [late]
    # Within the margin past a deadline nothing is sent.
    sent.clear()
    assert escalate_overdue(index, escalate, late_deadline + ESCALATE_MARGIN_MS) == ([], [])
    assert sent == []
