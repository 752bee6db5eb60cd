"""District directories rolled up into the city's, proven by the city chain's light client of the
district chain: two real chains (``causeway.sim.chain.InterchainChain``: the real executor with
the chain's contracts, clients included, headers signed by real validators), the directory
contract built with the real AssemblyScript toolchain and deployed on each through the code
contract with governance endorsements.

The district chain ("haidian") runs the district directory (beijing-haidian): the administrators
(org1) set the scheme and department GA (org2), which registers a resource and then revises it.
The city chain ("beijing") runs the city directory (beijing), keeps a client of the district
chain, and its administrators register district HD with that client. A district version reaches
the city with a state proof from the district chain (``chain.prove``, what a node serves), and
``rollup_resource`` keeps it only once ``clients.verify_state`` has checked the proof.

Every refusal is checked to change nothing: the city contract's whole state before and after is
compared, and a refused transaction emits no event."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from causeway.apps.directory.rollup import (
    district_resource_key,
    parse_district_resource_key,
    rollup_arguments,
    rollup_head_key,
    rollup_key,
)
from causeway.apps.directory.rollup_submitter import (
    PendingVersion,
    RollupSubmitter,
    pending_versions,
)
from causeway.apps.directory.v1 import directory_pb2 as pb
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import DecodeError, RequestError
from causeway.execution.keys import user_contract_namespace
from causeway.interchain import CHAIN_CONTRACTS
from causeway.interchain.v1 import interchain_pb2
from causeway.light import commit_sign_bytes
from causeway.sim.chain import Endpoint, InterchainChain
from causeway.types import block_hash
from causeway.types.v1 import types_pb2

ADMINISTRATOR = "org1/admin"  # org1 administers both directories
PROVIDER = "org2/bob"  # org2: department GA on the district chain
OUTSIDER = "org2/bob"  # on the city chain org2 administers nothing
SUBMITTER = "org1/relayer"  # the district's directory service, submitting on the city chain
DISTRICT_CODE = "HD"
DISTRICT_DIRECTORY = "beijing-haidian"
CITY_DIRECTORY = "beijing"
TRUSTING_PERIOD_MS = 600_000
CLOCK_DRIFT_MS = 10_000


@pytest.fixture(scope="module")
def built() -> tuple[bytes, str]:
    module, interface = build_contract()
    return Path(module).read_bytes(), Path(interface).read_text()


def ok(result: types_pb2.TransactionResult) -> types_pb2.TransactionResult:
    assert result.status == types_pb2.RESULT_STATUS_OK, result.error
    return result


def deploy(
    chain: InterchainChain, built: tuple[bytes, str], init: pb.DirectoryInitArguments
) -> None:
    code, interface = built
    arguments = contracts_pb2.CodeDeployArguments(
        name=CONTRACT_NAME,
        code=code,
        interface_json=interface,
        init_input=init.SerializeToString(deterministic=True),
    )
    ok(chain.governance("code", "deploy", arguments))


def send(
    chain: InterchainChain, sender: str, method: str, message: Message | bytes
) -> types_pb2.TransactionResult:
    arguments = message if isinstance(message, bytes) else encode_arguments(method, message)
    return chain.run(sender, CONTRACT_NAME, method, arguments)


def query(chain: InterchainChain, method: str, message: Message) -> Message:
    result = ok(chain.query(CONTRACT_NAME, method, encode_arguments(method, message)))
    return decode_result(method, result.return_value)


def contract_state(chain: InterchainChain) -> dict[bytes, bytes]:
    namespace = user_contract_namespace(CONTRACT_NAME)
    return {
        key[len(namespace) :]: value
        for key, value in sorted(chain.state.items())
        if key.startswith(namespace)
    }


def metadata(**changes: object) -> pb.ResourceMetadata:
    fields: dict[str, object] = dict(
        category_code="101",
        name="海淀区常住人口基本信息",
        abstract="海淀分局户籍管理中产生的常住人口基本信息。",
        format="database",
        data_items=[pb.DataItem(name="姓名", type="string", length=50)],
        sharing_type=pb.SHARING_TYPE_UNCONDITIONAL,
        update_cycle=pb.UPDATE_CYCLE_DAILY,
        publish_date="2024-02-29",
        duties=["户籍管理"],
        name_en="Haidian resident population",
    )
    fields.update(changes)
    return pb.ResourceMetadata(**fields)  # type: ignore[arg-type]


@dataclass
class World:
    """The district chain with its directory and one resource, the city chain with its directory,
    its client of the district chain and district HD registered."""

    district: InterchainChain
    city: InterchainChain
    client_id: str
    code: str
    # District heights the city's client has verified, oldest first.
    verified: list[int]

    def next_city_time(self) -> int:
        """The city's next block time: on from its last, and not before the district's latest
        header (a header dated in the city's future is refused)."""
        return max(self.city.time_ms + 1_000, self.district.time_ms)

    def update_client(self, height: int | None = None) -> int:
        """The city's client of the district moved to ``height`` (the district's latest)."""
        height = self.district.height if height is None else height
        header = self.district.client_header(height, trusted_height=self.verified[-1])
        result = self.city.run(
            SUBMITTER,
            "clients",
            "update",
            interchain_pb2.ClientsUpdateArguments(client_id=self.client_id, header=header),
            time_ms=self.next_city_time(),
        )
        ok(result)
        self.verified.append(height)
        return height

    def revise(self, name: str) -> int:
        arguments = pb.ReviseResourceArguments(
            code=self.code,
            expected_version=self.latest_version(),
            metadata=metadata(name=name),
            note="按三定方案更新",
        )
        ok(send(self.district, PROVIDER, "revise_resource", arguments))
        return self.latest_version()

    def latest_version(self) -> int:
        found = query(self.district, "get_resource", pb.GetResourceArguments(code=self.code))
        assert isinstance(found, pb.ResourceVersion)
        return found.version

    def key(self, version: int) -> bytes:
        return district_resource_key(CONTRACT_NAME, self.code, version)

    def value(self, version: int, height: int) -> bytes:
        value = self.district.value_at(self.key(version), height)
        assert value is not None
        return value

    def arguments(
        self, version: int, height: int, *, district_code: str = DISTRICT_CODE
    ) -> pb.RollupResourceArguments:
        """What the district's service submits: the record as stored after ``height``, with the
        district node's proof of it at that height."""
        key = self.key(version)
        return rollup_arguments(
            district_code,
            key,
            self.value(version, height),
            height,
            self.district.prove(key, height),
        )

    def rollup(
        self, arguments: pb.RollupResourceArguments, sender: str = SUBMITTER
    ) -> types_pb2.TransactionResult:
        return send(self.city, sender, "rollup_resource", arguments)

    def refused(
        self,
        chain: InterchainChain,
        method: str,
        arguments: Message | bytes,
        expected: str,
        sender: str = SUBMITTER,
    ) -> str:
        """Sends what must be refused with ``expected`` in the error; checks that the contract's
        state is unchanged and that no event was emitted."""
        before = contract_state(chain)
        result = send(chain, sender, method, arguments)
        assert result.status != types_pb2.RESULT_STATUS_OK, f"{method} was accepted"
        assert expected in result.error, (expected, result.error)
        assert list(result.events) == []
        assert contract_state(chain) == before
        return result.error


def make_world(built: tuple[bytes, str], district_profile: str, city_profile: str) -> World:
    district = InterchainChain("haidian", district_profile, contracts=CHAIN_CONTRACTS)
    city = InterchainChain("beijing", city_profile, contracts=CHAIN_CONTRACTS)
    deploy(
        district,
        built,
        pb.DirectoryInitArguments(
            directory_id=DISTRICT_DIRECTORY,
            level=pb.DIRECTORY_LEVEL_DISTRICT,
            name="海淀区政务信息资源目录",
            administrator_organisations=["org1"],
            parent_directory_id=CITY_DIRECTORY,
        ),
    )
    for code, name in (("1", "基础信息资源"), ("101", "人口信息")):
        category = pb.SetCategoryArguments(category=pb.Category(code=code, name=name))
        ok(send(district, ADMINISTRATOR, "set_category", category))
    department = pb.Department(
        code="HDGA", organisation="org2", name="海淀分局", district="HD", duties=["户籍管理"]
    )
    ok(
        send(
            district,
            ADMINISTRATOR,
            "set_department",
            pb.SetDepartmentArguments(department=department),
        )
    )
    registered = send(
        district, PROVIDER, "register_resource", pb.RegisterResourceArguments(metadata=metadata())
    )
    result = decode_result("register_resource", ok(registered).return_value)
    assert isinstance(result, pb.RegisterResourceResult)
    deploy(
        city,
        built,
        pb.DirectoryInitArguments(
            directory_id=CITY_DIRECTORY,
            level=pb.DIRECTORY_LEVEL_CITY,
            name="北京市政务信息资源目录",
            administrator_organisations=["org1"],
        ),
    )
    # The city's client of the district chain, created by governance at the district's latest
    # height (the resource's version 1 is in its state).
    trusted = district.height
    create = interchain_pb2.ClientsCreateArguments(
        chain_id=district.chain_id,
        genesis_hash=district.genesis_hash,
        consensus=district.consensus,
        crypto_profile=district.profile_name,
        trusting_period_ms=TRUSTING_PERIOD_MS,
        clock_drift_ms=CLOCK_DRIFT_MS,
        header=district.client_header(trusted),
    )
    created = city.run(
        ADMINISTRATOR,
        "clients",
        "create",
        create,
        endorsers=city.governance_endorsers(),
        time_ms=max(city.time_ms + 1_000, district.time_ms),
    )
    client_id = interchain_pb2.ClientsCreateResult.FromString(ok(created).return_value).client_id
    world = World(district, city, client_id, result.code, [trusted])
    ok(send(city, ADMINISTRATOR, "set_district", set_district_arguments(client_id)))
    return world


def set_district_arguments(client: str, **changes: str) -> pb.SetDistrictArguments:
    """District HD's registration with the city's client ``client``, with ``changes``."""
    fields = dict(
        code=DISTRICT_CODE,
        directory_id=DISTRICT_DIRECTORY,
        client_id=client,
        chain_id="haidian",
        contract_name=CONTRACT_NAME,
    )
    fields.update(changes)
    return pb.SetDistrictArguments(district=pb.District(**fields))


@pytest.fixture
def world(built: tuple[bytes, str]) -> World:
    return make_world(built, "intl", "intl")


def stored_rollup(
    chain: InterchainChain, version: int, code: str
) -> tuple[bytes, pb.RolledUpResource]:
    data = contract_state(chain)[rollup_key(DISTRICT_CODE, code, version)]
    return data, pb.RolledUpResource.FromString(data)


def check_rolled_up(world: World, version: int, height: int, sender: str = SUBMITTER) -> None:
    """Version ``version`` is kept by the city with its attestation of district ``height``."""
    data, record = stored_rollup(world.city, version, world.code)
    value = world.value(version, height)
    header = world.district.blocks[height].header
    assert record.district_code == DISTRICT_CODE
    assert record.district_chain_id == "haidian"
    assert record.client_id == world.client_id
    assert record.proven_height == height
    assert record.district_time_ms == header.time_ms
    assert record.district_block_hash == world.district.blocks[height].block_hash
    assert record.district_state_root == header.state_root
    assert record.resource == pb.ResourceVersion.FromString(value)
    assert record.resource.directory_id == DISTRICT_DIRECTORY
    # The district's bytes are kept as they were proven: field 8, byte for byte.
    assert _field_bytes(data, 8) == value
    assert record.submitted_by == sender


def _field_bytes(data: bytes, number: int) -> bytes:
    """The bytes of a length-delimited field of an encoded message (its last occurrence)."""
    found = b""
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        wire_type = tag & 7
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            if tag >> 3 == number:
                found = data[position : position + length]
            position += length
        else:
            raise AssertionError(f"wire type {wire_type}")
    return found


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


# -- the roll-up -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("district_profile", "city_profile"), [("intl", "intl"), ("gm", "intl"), ("intl", "gm")]
)
def test_a_district_resource_rolls_up_with_its_proof_and_a_revision_replaces_the_head(
    built: tuple[bytes, str], district_profile: str, city_profile: str
) -> None:
    world = make_world(built, district_profile, city_profile)
    first = world.verified[-1]
    result = ok(world.rollup(world.arguments(1, first)))
    check_rolled_up(world, 1, first)
    rolled = decode_result("rollup_resource", result.return_value)
    assert isinstance(rolled, pb.RollupResourceResult)
    assert not rolled.already_rolled_up
    assert rolled.rolled_up == stored_rollup(world.city, 1, world.code)[1]
    [event] = result.events
    assert event.name == "resource_rolled_up"
    assert event.data == stored_rollup(world.city, 1, world.code)[0]
    assert decode_event("resource_rolled_up", event.data) == rolled.rolled_up
    head = pb.RolledUpHead.FromString(
        contract_state(world.city)[rollup_head_key(DISTRICT_CODE, world.code)]
    )
    assert (head.latest_version, head.proven_height) == (1, first)
    assert head.status == pb.RESOURCE_STATUS_ACTIVE

    # The district revises; once the city's client has verified a height holding version 2,
    # version 2 rolls up and moves the head; version 1's record stays.
    assert world.revise("海淀区常住人口基本信息2024年版") == 2
    second = world.update_client()
    ok(world.rollup(world.arguments(2, second)))
    check_rolled_up(world, 2, second)
    check_rolled_up(world, 1, first)
    head = pb.RolledUpHead.FromString(
        contract_state(world.city)[rollup_head_key(DISTRICT_CODE, world.code)]
    )
    assert (head.latest_version, head.proven_height) == (2, second)
    latest = query(
        world.city,
        "get_rollup",
        pb.GetRollupArguments(district_code=DISTRICT_CODE, code=world.code),
    )
    assert isinstance(latest, pb.RolledUpResource)
    assert latest.resource.version == 2
    assert latest.resource.metadata.name == "海淀区常住人口基本信息2024年版"
    old = query(
        world.city,
        "get_rollup",
        pb.GetRollupArguments(district_code=DISTRICT_CODE, code=world.code, version=1),
    )
    assert isinstance(old, pb.RolledUpResource)
    assert (old.resource.version, old.proven_height) == (1, first)


def test_the_latest_version_again_is_a_no_op_and_an_older_one_is_refused(world: World) -> None:
    first = world.verified[-1]
    ok(world.rollup(world.arguments(1, first)))
    world.revise("第二版")
    second = world.update_client()
    ok(world.rollup(world.arguments(2, second)))
    before = contract_state(world.city)
    # Another service (or a retry) brings version 2 again: it succeeds and changes nothing.
    again = ok(world.rollup(world.arguments(2, second), sender=ADMINISTRATOR))
    assert list(again.events) == []
    assert contract_state(world.city) == before
    repeated = decode_result("rollup_resource", again.return_value)
    assert isinstance(repeated, pb.RollupResourceResult)
    assert repeated.already_rolled_up
    assert repeated.rolled_up.submitted_by == SUBMITTER  # the first submission's record
    # Version 1, still in the district's state at the later height and proven there, is older
    # than the head: refused.
    world.refused(
        world.city,
        "rollup_resource",
        world.arguments(1, second),
        "rolled up at version 2; version 1 is older",
    )


def test_get_and_list_rollups_page_through_the_heads(world: World) -> None:
    # A second resource, then a withdrawal of the first: both roll up from one verified height.
    registered = send(
        world.district,
        PROVIDER,
        "register_resource",
        pb.RegisterResourceArguments(metadata=metadata(name="海淀区流动人口信息")),
    )
    second_code = decode_result("register_resource", ok(registered).return_value)
    assert isinstance(second_code, pb.RegisterResourceResult)
    withdraw = pb.WithdrawResourceArguments(code=world.code, expected_version=1, reason="合并")
    ok(send(world.district, PROVIDER, "withdraw_resource", withdraw))
    height = world.update_client()
    ok(world.rollup(world.arguments(2, height)))
    key = district_resource_key(CONTRACT_NAME, second_code.code, 1)
    value = world.district.value_at(key, height)
    assert value is not None
    proof = world.district.prove(key, height)
    ok(world.rollup(rollup_arguments(DISTRICT_CODE, key, value, height, proof)))
    codes = sorted([world.code, second_code.code])

    page = query(
        world.city, "list_rollups", pb.ListRollupsArguments(district_code=DISTRICT_CODE, limit=1)
    )
    assert isinstance(page, pb.ListRollupsResult)
    assert [head.code for head in page.heads] == codes[:1]
    assert page.next == codes[0]
    rest = query(
        world.city,
        "list_rollups",
        pb.ListRollupsArguments(district_code=DISTRICT_CODE, start_after=page.next, limit=1),
    )
    assert isinstance(rest, pb.ListRollupsResult)
    assert [head.code for head in rest.heads] == codes[1:]
    assert rest.next == ""
    # Across districts the position names the district too.
    everywhere = query(world.city, "list_rollups", pb.ListRollupsArguments(limit=1))
    assert isinstance(everywhere, pb.ListRollupsResult)
    assert everywhere.next == f"{DISTRICT_CODE}/{codes[0]}"
    heads = {head.code: head for head in [*page.heads, *rest.heads]}
    assert heads[world.code].status == pb.RESOURCE_STATUS_WITHDRAWN
    assert heads[world.code].latest_version == 2
    assert heads[second_code.code].status == pb.RESOURCE_STATUS_ACTIVE

    district = query(world.city, "get_district", pb.GetDistrictArguments(code=DISTRICT_CODE))
    assert district == set_district_arguments(world.client_id).district
    for method, arguments, expected in (
        (
            "get_rollup",
            pb.GetRollupArguments(district_code=DISTRICT_CODE, code="101-X-000009"),
            'district HD has no rolled-up resource "101-X-000009"',
        ),
        (
            "get_rollup",
            pb.GetRollupArguments(district_code=DISTRICT_CODE, code=world.code, version=7),
            f"district HD's resource {world.code} has no rolled-up version 7",
        ),
        (
            "get_rollup",
            pb.GetRollupArguments(district_code="CY", code=world.code),
            'district "CY" is not registered',
        ),
        ("list_rollups", pb.ListRollupsArguments(district_code="CY"), 'district "CY"'),
        ("list_rollups", pb.ListRollupsArguments(limit=101), "the limit is at most 100"),
        ("get_district", pb.GetDistrictArguments(code="CY"), 'district "CY"'),
    ):
        missing = world.city.query(CONTRACT_NAME, method, encode_arguments(method, arguments))
        assert missing.status != types_pb2.RESULT_STATUS_OK
        assert expected in missing.error, (expected, missing.error)


# -- refusals ----------------------------------------------------------------------------------


def _forged(arguments: pb.RollupResourceArguments, index: int) -> pb.RollupResourceArguments:
    changed = bytearray(arguments.resource_version)
    changed[index] ^= 0x01
    forged = pb.RollupResourceArguments()
    forged.CopyFrom(arguments)
    forged.resource_version = bytes(changed)
    return forged


def test_a_forged_record_is_refused(world: World) -> None:
    height = world.verified[-1]
    good = world.arguments(1, height)
    value = good.resource_version
    # One byte changed where the record still decodes: in the publish date ("2024-02-29" to
    # "2024-02-28") and in the transaction id (the last bytes).
    date = value.index(b"2024-02-29") + 9
    for index in (date, len(value) - 1):
        forged = _forged(good, index)
        assert pb.ResourceVersion.FromString(
            forged.resource_version
        ) != pb.ResourceVersion.FromString(value)
        error = world.refused(world.city, "rollup_resource", forged, "does not prove the record")
        assert "does not verify" in error
    # A record of another directory, or one that does not decode at all.
    other = pb.ResourceVersion.FromString(value)
    other.directory_id = "beijing-chaoyang"
    foreign = pb.RollupResourceArguments()
    foreign.CopyFrom(good)
    foreign.resource_version = other.SerializeToString(deterministic=True)
    world.refused(
        world.city,
        "rollup_resource",
        foreign,
        'the record is of directory "beijing-chaoyang", not district HD\'s (beijing-haidian)',
    )
    garbage = pb.RollupResourceArguments()
    garbage.CopyFrom(good)
    garbage.resource_version = b"\xff\xff\xff"
    world.refused(
        world.city, "rollup_resource", garbage, "malformed the district's resource version"
    )
    # Nothing was rolled up; the genuine record still is.
    ok(world.rollup(good))


def test_a_proof_of_another_key_or_another_height_is_refused(world: World) -> None:
    first = world.verified[-1]
    world.revise("第二版")
    world.district.advance(1)
    second = world.update_client()
    # Version 2's record with the proof of version 1's key (both held at the same height).
    swapped = world.arguments(2, second)
    swapped.proof = world.district.prove(world.key(1), second).SerializeToString()
    world.refused(world.city, "rollup_resource", swapped, "does not prove the record")
    # Version 1's record, proven at the later height but claimed at the earlier one (both
    # heights verified by the client: the roots differ).
    moved = world.arguments(1, second)
    moved.height = first
    world.refused(world.city, "rollup_resource", moved, "does not prove the record")
    # Version 2 at the earlier height: the district did not hold it yet (the proof there is of
    # its absence).
    early = world.arguments(2, second)
    early.height = first
    early.proof = world.district.prove(world.key(2), first).SerializeToString()
    world.refused(world.city, "rollup_resource", early, "does not verify")
    # A height the client never verified.
    unverified = world.arguments(1, second - 1)
    world.refused(
        world.city, "rollup_resource", unverified, f"has no consensus state at height {second - 1}"
    )
    ok(world.rollup(world.arguments(2, second)))


def test_an_unregistered_district_is_refused(world: World) -> None:
    arguments = world.arguments(1, world.verified[-1], district_code="CY")
    world.refused(
        world.city,
        "rollup_resource",
        arguments,
        'district "CY" is not registered with this directory (set_district)',
    )


def test_a_frozen_client_proves_nothing(world: World) -> None:
    height = world.verified[-1]
    arguments = world.arguments(1, height)
    # The district's validators sign a second header for a height the client then verifies:
    # misbehaviour, and the client freezes.
    world.district.advance(1)
    fork = world.district.height
    world.update_client(fork)
    forged = _forged_header(world.district, fork, trusted_height=height, state_root=b"\x0e" * 32)
    frozen = world.city.run(
        SUBMITTER,
        "clients",
        "update",
        interchain_pb2.ClientsUpdateArguments(client_id=world.client_id, header=forged),
        time_ms=world.next_city_time(),
    )
    ok(frozen)  # the freeze is written
    world.refused(world.city, "rollup_resource", arguments, "frozen")


def _forged_header(
    chain: InterchainChain, height: int, *, trusted_height: int, **changes: object
) -> interchain_pb2.ClientHeader:
    """``chain``'s header at ``height`` with ``changes``, signed again by every validator of the
    height with their real keys: what validators that sign a fork produce."""
    committed = chain.blocks[height]
    header = types_pb2.BlockHeader()
    header.CopyFrom(committed.header)
    for name, value in changes.items():
        setattr(header, name, value)
    own_hash = block_hash(header, chain.profile.hash)
    document = commit_sign_bytes(header.chain_id, header.height, 0, own_hash)
    certificate = types_pb2.CommitCertificate(
        height=header.height,
        round=0,
        block_hash=own_hash,
        signatures=[
            types_pb2.CommitSignature(
                validator=validator.member_id,
                signature=chain.identities[validator.member_id].key.sign(document),
            )
            for validator in committed.validator_set.validators
        ],
    )
    return interchain_pb2.ClientHeader(
        header=header,
        certificate=certificate,
        validator_set=committed.validator_set,
        trusted_height=trusted_height,
        trusted_validator_set=chain.blocks[trusted_height].next_validator_set,
    )


def test_set_district_is_for_administrators_with_a_client_of_the_named_chain(world: World) -> None:
    world.refused(
        world.city,
        "set_district",
        set_district_arguments(world.client_id, code="CY"),
        "set_district: only members of an administrator organisation (org1) may, not org2",
        sender=OUTSIDER,
    )
    cases = [
        (dict(chain_id="chaoyang"), 'follows chain "haidian", not "chaoyang"'),
        (dict(client_id="client-7"), "client client-7 of this chain cannot be read"),
        (dict(client_id="haidian"), 'client id "haidian" is not of the form client-<n>'),
        (dict(code="hd"), 'district code "hd" must be 2 to 8 of A-Z'),
        (dict(directory_id=CITY_DIRECTORY), "is this directory, not a district's"),
        (dict(directory_id="Haidian"), "may hold only a-z, 0-9 and '-'"),
        (dict(contract_name="sys/clients"), "is not a user contract's name"),
    ]
    for changes, expected in cases:
        world.refused(
            world.city,
            "set_district",
            set_district_arguments(world.client_id, **changes),
            expected,
            sender=ADMINISTRATOR,
        )
    # An administrator may re-register a district (a new client after governance replaced one).
    set_again = ok(
        send(world.city, ADMINISTRATOR, "set_district", set_district_arguments(world.client_id))
    )
    [event] = set_again.events
    assert (
        decode_event("district_set", event.data) == set_district_arguments(world.client_id).district
    )


def test_a_district_directory_refuses_districts_and_roll_ups(world: World) -> None:
    expected = "is a district directory; only a city directory keeps districts and roll-ups"
    world.refused(
        world.district,
        "rollup_resource",
        world.arguments(1, world.verified[-1]),
        f"rollup_resource: directory {DISTRICT_DIRECTORY} {expected}",
    )
    world.refused(
        world.district,
        "set_district",
        set_district_arguments("client-0"),
        f"set_district: directory {DISTRICT_DIRECTORY} {expected}",
        sender=ADMINISTRATOR,
    )


# -- the helper --------------------------------------------------------------------------------


def test_the_helper_checks_a_record_against_its_key(world: World) -> None:
    height = world.verified[-1]
    key = world.key(1)
    assert key == b"wasm/directory/resource/" + world.code.encode() + b"/0000000001"
    assert parse_district_resource_key(key) == (CONTRACT_NAME, world.code, 1)
    value = world.value(1, height)
    proof = world.district.prove(key, height)
    built_arguments = rollup_arguments(DISTRICT_CODE, key, value, height, proof)
    assert built_arguments == rollup_arguments(
        DISTRICT_CODE, key, value, height, proof.SerializeToString(deterministic=True)
    )
    assert built_arguments.resource_version == value
    with pytest.raises(RequestError, match="the key names version 2"):
        rollup_arguments(DISTRICT_CODE, world.key(2), value, height, proof)
    with pytest.raises(RequestError, match="is not the key of a directory resource version"):
        rollup_arguments(DISTRICT_CODE, b"kv/" + key, value, height, proof)
    with pytest.raises(DecodeError, match="does not decode"):
        rollup_arguments(DISTRICT_CODE, key, b"\xff\xff", height, proof)
    with pytest.raises(RequestError, match="not a district chain height"):
        rollup_arguments(DISTRICT_CODE, key, value, 0, proof)
    with pytest.raises(RequestError, match="not a resource version"):
        district_resource_key(CONTRACT_NAME, world.code, 0)


# -- the roll-up submitter (causeway.apps.directory.rollup_submitter) ------------------------------


class CityEndpoint(Endpoint):
    """The city chain as the submitter sees it, each submission a block dated no earlier than the
    district's latest (a header dated in the city's future is refused)."""

    def __init__(self, world: World) -> None:
        super().__init__(world.city, SUBMITTER)
        self.world = world

    def submit(self, contract: str, method: str, arguments: Message) -> types_pb2.TransactionResult:
        result = self.chain.run(
            self.relayer, contract, method, arguments, time_ms=self.world.next_city_time()
        )
        self.submitted.append(result)
        return result


def rolled_up_versions(world: World) -> dict[str, int]:
    return RollupSubmitter(CityEndpoint(world), {}).city_heads(DISTRICT_CODE)


def test_pending_versions_go_up_in_order_from_the_city_head_and_stop_at_the_limit() -> None:
    heads = [
        pb.ResourceHead(code="101-A-000001", latest_version=3),
        pb.ResourceHead(code="101-A-000002", latest_version=1),
        pb.ResourceHead(code="101-A-000003", latest_version=2),
    ]
    pending = pending_versions(heads, {"101-A-000001": 1, "101-A-000002": 1}, limit=10)
    assert pending == [
        PendingVersion("101-A-000001", 2),
        PendingVersion("101-A-000001", 3),
        PendingVersion("101-A-000003", 1),
        PendingVersion("101-A-000003", 2),
    ]
    assert pending_versions(heads, {}, limit=2) == [
        PendingVersion("101-A-000001", 1),
        PendingVersion("101-A-000001", 2),
    ]
    assert (
        pending_versions(heads, {"101-A-000001": 3, "101-A-000002": 1, "101-A-000003": 2}, 10) == []
    )


def test_the_submitter_rolls_up_every_version_in_order_with_client_updates(world: World) -> None:
    city = CityEndpoint(world)
    submitter = RollupSubmitter(city, {DISTRICT_CODE: Endpoint(world.district)})
    [report] = submitter.run_round()
    assert report.error == "" and report.refused == []
    assert report.rolled_up == [PendingVersion(world.code, 1)]
    assert rolled_up_versions(world) == {world.code: 1}
    # Two revisions and a second resource: the next round moves the client and brings all three
    # versions, each proven at the height the client was moved to.
    world.revise("第二版")
    world.revise("第三版")
    registered = send(
        world.district,
        PROVIDER,
        "register_resource",
        pb.RegisterResourceArguments(metadata=metadata(name="海淀区法人信息")),
    )
    second_code = decode_result("register_resource", ok(registered).return_value).code  # type: ignore[attr-defined]
    world.district.advance(1)
    [report] = submitter.run_round()
    assert report.error == "" and report.refused == []
    assert report.client_updates >= 1
    assert report.rolled_up == [
        PendingVersion(world.code, 2),
        PendingVersion(world.code, 3),
        PendingVersion(second_code, 1),
    ]
    check_rolled_up(world, 2, report.client_height)
    check_rolled_up(world, 3, report.client_height)
    check_rolled_up(world, 1, world.verified[0])
    assert rolled_up_versions(world) == {world.code: 3, second_code: 1}
    # Nothing left: a round submits nothing (a second submitter beside it would find the same).
    submitted = len(city.submitted)
    [report] = RollupSubmitter(city, {DISTRICT_CODE: Endpoint(world.district)}).run_round()
    assert (report.pending, report.rolled_up, report.error) == (0, [], "")
    assert len(city.submitted) == submitted


class LaggingEndpoint(Endpoint):
    """A district node whose newest certified height is ``certified`` while its reads see the
    latest state: what a submitter meets when a version commits after the height it proves at."""

    def __init__(self, chain: InterchainChain, certified: int) -> None:
        super().__init__(chain)
        self.certified = certified

    def latest_height(self) -> int:
        return self.certified


def test_a_version_after_the_proven_height_waits_for_the_next_round(world: World) -> None:
    city = CityEndpoint(world)
    before_revision = world.district.height
    world.revise("第二版")
    lagging = LaggingEndpoint(world.district, before_revision)
    [report] = RollupSubmitter(city, {DISTRICT_CODE: lagging}).run_round()
    assert report.error == ""
    assert report.pending == 2
    assert report.rolled_up == [PendingVersion(world.code, 1)]
    assert report.waiting == 1
    assert rolled_up_versions(world) == {world.code: 1}
    lagging.certified = world.district.height
    [report] = RollupSubmitter(city, {DISTRICT_CODE: lagging}).run_round()
    assert (report.rolled_up, report.waiting) == ([PendingVersion(world.code, 2)], 0)
    assert rolled_up_versions(world) == {world.code: 2}


def test_a_district_endpoint_of_another_chain_or_a_frozen_client_submits_nothing(
    world: World,
) -> None:
    city = CityEndpoint(world)
    [report] = RollupSubmitter(city, {DISTRICT_CODE: Endpoint(world.city)}).run_round()
    assert "registered on the city with chain 'haidian'" in report.error
    assert city.submitted == []
    [report] = RollupSubmitter(city, {"XX": Endpoint(world.district)}).run_round()
    assert "XX" in report.error and city.submitted == []
    # Frozen: misbehaviour of the district's validators freezes the client; the submitter
    # reports it and submits nothing, and the city keeps no roll-up.
    height = world.verified[-1]
    world.district.advance(1)
    fork = world.district.height
    world.update_client(fork)
    forged = _forged_header(world.district, fork, trusted_height=height, state_root=b"\x0e" * 32)
    ok(
        world.city.run(
            SUBMITTER,
            "clients",
            "update",
            interchain_pb2.ClientsUpdateArguments(client_id=world.client_id, header=forged),
            time_ms=world.next_city_time(),
        )
    )
    before = contract_state(world.city)
    [report] = RollupSubmitter(city, {DISTRICT_CODE: Endpoint(world.district)}).run_round()
    assert "frozen" in report.error
    assert city.submitted == []
    assert contract_state(world.city) == before


def directory_events(chain: InterchainChain) -> list[DirectoryEvent]:
    """The directory contract's events of ``chain``, in chain order, as a subscriber gets them."""
    return [
        DirectoryEvent(
            height, transaction_index, event_index, result.transaction_id, event.name, event.data
        )
        for height in sorted(chain.blocks)
        for transaction_index, result in enumerate(chain.blocks[height].results)
        for event_index, event in enumerate(result.events)
        if event.contract == CONTRACT_NAME
    ]


def test_the_city_index_shows_rolled_up_versions_with_their_attestation(world: World) -> None:
    city = CityEndpoint(world)
    submitter = RollupSubmitter(city, {DISTRICT_CODE: Endpoint(world.district)})
    submitter.run_round()
    world.revise("海淀区常住人口基本信息修订版")
    world.district.advance(1)
    submitter.run_round()
    index = DirectoryIndex()
    assert index.apply(directory_events(world.city)) > 0
    indexed = index.resource(world.code)
    assert indexed.district == DISTRICT_CODE
    assert indexed.record.version == 2
    assert indexed.record.metadata.name == "海淀区常住人口基本信息修订版"
    page = index.search("常住人口", filters={"district": [DISTRICT_CODE]})
    assert [item.record.code for item in page.results] == [world.code]
    assert index.search("", filters={"district": ["CY"]}).count == 0
    entries = index.version_entries(world.code)
    assert [entry.version.version for entry in entries] == [1, 2]
    for entry in entries:
        # The bytes the city's chain keeps under the roll-up key, with the district's attestation.
        assert entry.rollup is not None
        assert entry.rollup.district_code == DISTRICT_CODE
        assert entry.rollup.district_chain_id == "haidian"
        data, stored = stored_rollup(world.city, entry.version.version, world.code)
        assert entry.record == data
        assert entry.rollup == stored
        assert entry.version == pb.ResourceVersion.FromString(
            world.value(entry.version.version, entry.rollup.proven_height)
        )
    # Rebuilt from the chain, the index is the same.
    rebuilt = DirectoryIndex()
    rebuilt.rebuild(directory_events(world.city))
    assert rebuilt.snapshot() == index.snapshot()
