"""The directory service (causeway.apps.directory.service): its configuration file checked key by
key; the follower applies the contract's events from a node's gRPC stream into the index and a
restart resumes after the index's own checkpoint; the DCAT export and /healthz served over the
index; tokens issued only for members the service signs for.

The node here is the API tests' in-memory chain service behind a real gRPC server
(tests/api/chain_double.py): it streams the EventRecords a directory contract emits, which is
what the follower consumes; the contract itself is tested on real chains elsewhere."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rdflib import Graph, URIRef
from starlette.applications import Starlette

from causeway.apps.directory import service as service_module
from causeway.apps.directory.index import TokenOwner
from causeway.apps.directory.service import (
    DirectoryService,
    load_service_config,
)
from causeway.apps.directory.v1 import directory_pb2
from causeway.crypto import PrivateKey
from causeway.errors import ConfigurationError, NotFoundError, RequestError
from causeway.interchain.relayer.config import CONFIG_FILE_BYTES_MAX
from causeway.types.v1 import types_pb2

_API_TESTS = str(Path(__file__).resolve().parents[2] / "api")
if _API_TESTS not in sys.path:
    sys.path.insert(0, _API_TESTS)

from chain_double import ChainDouble  # noqa: E402
from chain_servers import ThreadServer  # noqa: E402

CHAIN = "city"
SITE = "http://127.0.0.1:8999"


def write_member(folder: Path, member_id: str, chain_id: str = CHAIN) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = PrivateKey.generate("ecdsa-p256")
    (folder / "key.pem").write_bytes(key.to_pem())
    member = {
        "member_id": member_id,
        "algorithm": key.algorithm,
        "crypto_profile": "intl",
        "chain_id": chain_id,
    }
    (folder / "member.json").write_text(json.dumps(member))
    return folder


def write_config(folder: Path, node: str, *, extra_service: str = "", members: str = "") -> Path:
    write_member(folder / "members" / "reader", "org1/reader")
    write_member(folder / "members" / "clerk", "police/clerk")
    path = folder / "directory.toml"
    path.write_text(
        "[service]\n"
        'index = "sqlite:index.sqlite3"\n'
        'listen = "127.0.0.1:8999"\n'
        f"{extra_service}\n"
        f"[chains.{CHAIN}]\n"
        f'nodes = ["{node}"]\n'
        'identity = "members/reader"\n\n' + (members or '[[members]]\nidentity = "members/clerk"\n')
    )
    return path


def _record(
    height: int,
    index: int,
    name: str,
    message: directory_pb2.Department | directory_pb2.ResourceVersion,
) -> types_pb2.EventRecord:
    return types_pb2.EventRecord(
        height=height,
        transaction_index=index,
        event_index=0,
        transaction_id=bytes([height, index]) * 16,
        event=types_pb2.Event(contract="directory", name=name, data=message.SerializeToString()),
    )


def _department() -> directory_pb2.Department:
    return directory_pb2.Department(
        code="GA", organisation="police", name="市公安局", name_en="Public Security Bureau"
    )


def _version(number: int, height: int) -> directory_pb2.ResourceVersion:
    return directory_pb2.ResourceVersion(
        code=f"101-GA-{number:06d}",
        version=1,
        directory_id="beijing",
        provider_code="GA",
        provider_organisation="police",
        metadata=directory_pb2.ResourceMetadata(
            category_code="101",
            name=f"常住人口信息 {number}",
            abstract="全市常住人口基本信息",
            format="database",
            sharing_type=directory_pb2.SHARING_TYPE_UNCONDITIONAL,
            update_cycle=directory_pb2.UPDATE_CYCLE_DAILY,
            publish_date="2026-03-01",
        ),
        status=directory_pb2.RESOURCE_STATUS_ACTIVE,
        author="police/clerk",
        height=height,
        time_ms=1_800_000_000_000 + height,
        transaction_id=bytes([height]) * 32,
    )


@pytest.fixture
def node() -> Iterator[tuple[ChainDouble, ThreadServer]]:
    double = ChainDouble()
    double.live = False  # the stream ends after the events it holds; the follower reopens it
    server = ThreadServer(double)
    try:
        server.start()
        yield double, server
    finally:
        server.close()


class AppClient:
    """GETs answered by the app in process (httpx's ASGI transport): no port, no server."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def get() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
                return await client.get(path)

        return asyncio.run(get())


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_the_follower_indexes_the_contracts_events_and_resumes_after_a_restart(
    tmp_path: Path, node: tuple[ChainDouble, ThreadServer]
) -> None:
    double, server = node
    double.events.extend(
        [
            _record(2, 0, "department_set", _department()),
            _record(3, 0, "resource_registered", _version(1, 3)),
            # Another contract's event with the same name is none of the directory's business.
            types_pb2.EventRecord(
                height=3,
                transaction_index=1,
                event_index=0,
                event=types_pb2.Event(contract="kv", name="resource_registered", data=b"\xff"),
            ),
        ]
    )
    config = load_service_config(write_config(tmp_path, server.address))
    service = DirectoryService(config)
    try:
        service.start_following()
        _wait(lambda: service.index.checkpoint().height == 3, "the first events")
        assert service.index.resource("101-GA-000001") is not None
        client = AppClient(service.app())
        health = client.get("/healthz").json()
        assert health["indexed_height"] == 3 and health["following"] is True
        assert "error" not in health
    finally:
        service.close()
    double.events.append(_record(5, 0, "resource_registered", _version(2, 5)))
    again = DirectoryService(config)
    try:
        assert again.index.checkpoint().height == 3  # the index kept its place
        again.start_following()
        _wait(lambda: again.index.checkpoint().height == 5, "the event after the restart")
        assert again.index.search(rows=0).count == 2
    finally:
        again.close()


def test_dcat_is_served_from_the_index(
    tmp_path: Path, node: tuple[ChainDouble, ThreadServer]
) -> None:
    double, server = node
    double.events.extend(
        [
            _record(2, 0, "department_set", _department()),
            _record(3, 0, "resource_registered", _version(1, 3)),
        ]
    )
    config = load_service_config(
        write_config(tmp_path, server.address, extra_service=f'site_url = "{SITE}"')
    )
    service = DirectoryService(config)
    try:
        service.start_following()
        _wait(lambda: service.index.checkpoint().height == 3, "the events")
        client = AppClient(service.app())
        catalog = client.get("/catalog.ttl")
        assert catalog.status_code == 200 and catalog.headers["content-type"].startswith(
            "text/turtle"
        )
        graph = Graph().parse(data=catalog.text, format="turtle")
        dataset = URIRef(f"{SITE}/dataset/101-GA-000001")
        assert (URIRef(f"{SITE}/catalog"), None, dataset) in graph
        single = client.get("/dataset/101-GA-000001.xml")
        assert single.status_code == 200
        assert "application/rdf+xml" in single.headers["content-type"]
        assert client.get("/dataset/101-GA-999999.ttl").status_code == 404
        assert client.get("/catalog.csv").status_code == 400
        assert client.get("/catalog.ttl?page=abc").status_code == 400
        assert client.get("/catalog.ttl?page=2").status_code == 400
        assert (
            "page 2 is out of range" in client.get("/catalog.ttl?page=2").json()["error"]["message"]
        )
    finally:
        service.close()


def test_tokens_only_for_members_the_service_signs_for(
    tmp_path: Path, node: tuple[ChainDouble, ThreadServer]
) -> None:
    double, server = node
    config = load_service_config(write_config(tmp_path, server.address))
    service = DirectoryService(config)
    try:
        with pytest.raises(NotFoundError, match="no department of organisation 'police'"):
            service.issue_token("police/clerk", "desk 1", 1)
        with pytest.raises(RequestError, match="does not sign for 'org9/mallory'"):
            service.issue_token("org9/mallory", "desk 1", 1)
        double.events.append(_record(2, 0, "department_set", _department()))
        service.start_following()
        _wait(lambda: service.index.checkpoint().height == 2, "the department")
        token = service.issue_token("police/clerk", "desk 1", 1)
        owner = service.index.token_owner(token)
        assert owner is not None and (owner.member, owner.department_code) == ("police/clerk", "GA")
        assert owner.administrator is False
        with pytest.raises(RequestError, match="does not sign for"):
            service.signer("org1/reader")
    finally:
        service.close()


def test_a_member_of_an_administrator_organisation_gets_an_administrators_token(
    tmp_path: Path, node: tuple[ChainDouble, ThreadServer]
) -> None:
    """The contract's ``info`` names the administrators: a member of one gets a token that
    answers escalated requests, with no department when its organisation is not one; the
    department of an organisation that is both stays on the token."""
    double, server = node
    members = "".join(
        f'[[members]]\nidentity = "members/{name}"\n' for name in ("clerk", "secretary")
    )
    config_path = write_config(tmp_path, server.address, members=members)
    write_member(tmp_path / "members" / "secretary", "office/secretary")
    service = DirectoryService(load_service_config(config_path))
    try:
        settings = directory_pb2.DirectoryInitArguments(administrator_organisations=["office"])
        info = directory_pb2.DirectoryInfo(settings=settings)
        double.query_answers["directory.info"] = info.SerializeToString()
        assert service.administrators() == ("office",)
        secretary = service.index.token_owner(service.issue_token("office/secretary", "inbox", 1))
        assert secretary == TokenOwner("office/secretary", "", "inbox", administrator=True)
        double.events.append(_record(2, 0, "department_set", _department()))
        service.start_following()
        _wait(lambda: service.index.checkpoint().height == 2, "the department")
        clerk = service.index.token_owner(service.issue_token("police/clerk", "desk", 1))
        assert clerk == TokenOwner("police/clerk", "GA", "desk", administrator=False)
        info.settings.administrator_organisations.append("police")
        double.query_answers["directory.info"] = info.SerializeToString()
        both = service.index.token_owner(service.issue_token("police/clerk", "desk", 1))
        assert both == TokenOwner("police/clerk", "GA", "desk", administrator=True)
    finally:
        service.close()


@pytest.mark.parametrize(
    ("service", "members", "fragment"),
    [
        (
            'index = "mysql:x"',
            "",
            '[service] index: must be "sqlite:PATH" or "postgresql:CONNINFO"',
        ),
        ('index = "sqlite:i"\nlisten = "127.0.0.1"', "", "[service] listen: must be"),
        ('index = "sqlite:i"\nlisten = "127.0.0.1:70000"', "", "port from 1 to 65535"),
        ('index = "sqlite:i"\nsite_url = "ftp://x"', "", "[service] site_url: must be an http"),
        ('index = "sqlite:i"\ncolour = "blue"', "", "[service] colour: unknown key"),
        ('index = "sqlite:i"\nescalate_every_s = -1', "", "escalate_every_s: must be from 0"),
        ('index = "sqlite:i"\nescalate_every_s = "60"', "", "escalate_every_s: must be an integer"),
        ("", "", "[service] index: is required"),
        (
            'index = "sqlite:i"',
            '[[members]]\nidentity = "members/nobody"\n',
            "[members.0] identity",
        ),
        (
            'index = "sqlite:i"',
            '[[members]]\nidentity = "members/clerk"\n[[members]]\nidentity = "members/clerk"\n',
            "police/clerk is listed twice",
        ),
        ('index = "sqlite:i"', '[[members]]\nidentity = "members/other"\n', "is a member of town"),
    ],
)
def test_a_bad_configuration_names_the_file_table_and_key(
    tmp_path: Path, service: str, members: str, fragment: str
) -> None:
    write_member(tmp_path / "members" / "reader", "org1/reader")
    write_member(tmp_path / "members" / "clerk", "police/clerk")
    write_member(tmp_path / "members" / "other", "town/clerk", chain_id="town")
    path = tmp_path / "directory.toml"
    path.write_text(
        f"[service]\n{service}\n\n[chains.{CHAIN}]\n"
        'nodes = ["127.0.0.1:7050"]\nidentity = "members/reader"\n\n' + members
    )
    with pytest.raises(ConfigurationError) as refused:
        load_service_config(path)
    assert str(path) in refused.value.message
    assert fragment in refused.value.message


def test_the_file_itself_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_service_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[service\n")
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        load_service_config(bad)
    big = tmp_path / "big.toml"
    big.write_text("#" * (CONFIG_FILE_BYTES_MAX + 1))
    with pytest.raises(ConfigurationError, match="is larger than"):
        load_service_config(big)
    two = tmp_path / "two.toml"
    two.write_text(
        '[service]\nindex = "sqlite:i"\n[chains.a]\nnodes = ["127.0.0.1:1"]\nidentity = "m"\n'
        '[chains.b]\nnodes = ["127.0.0.1:1"]\nidentity = "m"\n'
    )
    with pytest.raises(ConfigurationError, match="exactly one chain"):
        load_service_config(two)
    other = tmp_path / "other.toml"
    other.write_text('[service]\nindex = "sqlite:i"\n[relayer]\n')
    with pytest.raises(ConfigurationError, match=r"unknown table \[relayer\]"):
        load_service_config(other)


def test_the_service_reaches_a_secured_node_over_tls_with_its_members_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TLS files in the chain's table, every client the service opens (the reader and each
    member it signs for) has TLS credentials carrying that member's access tokens; without them,
    none (the relayer's rules: docs/cli.md)."""

    def credentials(tls: object, identity: object, chain_id: str) -> str:
        assert chain_id == CHAIN
        return f"tls for {getattr(identity, 'member_id', '')}"

    opened: list[tuple[str, str, object]] = []

    def client(address: str, identity: object, **options: object) -> object:
        opened.append((address, getattr(identity, "member_id", ""), options.get("credentials")))

        class Closing:
            def close(self) -> None:
                return None

        return Closing()

    monkeypatch.setattr(service_module, "channel_credentials", credentials)
    monkeypatch.setattr(service_module, "Client", client)
    (tmp_path / "ca.pem").write_bytes(b"CA")
    path = write_config(tmp_path, "127.0.0.1:7050")
    path.write_text(
        path.read_text().replace(
            'identity = "members/reader"', 'identity = "members/reader"\ntls_ca = "ca.pem"'
        )
    )
    service = DirectoryService(load_service_config(path))
    service.signer("police/clerk")
    service.close()
    assert opened == [
        ("127.0.0.1:7050", "org1/reader", "tls for org1/reader"),
        ("127.0.0.1:7050", "police/clerk", "tls for police/clerk"),
    ]
    opened.clear()
    plain = DirectoryService(
        load_service_config(write_config(tmp_path / "plain", "127.0.0.1:7050"))
    )
    plain.close()
    assert opened == [("127.0.0.1:7050", "org1/reader", None)]
