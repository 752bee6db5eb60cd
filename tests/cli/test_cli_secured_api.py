"""`causeway init --secure-api` and the CLI's global connection options against a secured API.

The network is a gm one, so the access tokens the CLI makes are SM2-signed: the case TLS client
certificates cannot serve. The API is ApiServers over the chain double, configured from the node
folder that init wrote (its [api] TLS and access settings), on free loopback ports.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from causeway.api import ApiAccess, ApiServers
from causeway.cli.connection import ConnectionSettings, client_options, configure
from causeway.cli.interchain_commands import _open_other
from causeway.cli.main import app
from causeway.crypto import get_profile
from causeway.errors import AuthenticationError, ConfigurationError
from causeway.explorer import create_explorer_app
from causeway.node import load_node_config
from causeway.provisioning import genesis_from_json
from causeway.provisioning.secure_api import client_ca_file, enable_secure_api
from causeway.sdk import AccessTokenSource, Identity
from causeway.types.v1 import types_pb2

runner = CliRunner()
CHAIN_ID = "secured-cli"

_HERE = Path(__file__).resolve().parent.parent / "api"


def _chain_double(**fields: Any) -> Any:
    import sys  # noqa: PLC0415 (the double lives beside the API tests)

    if str(_HERE) not in sys.path:
        sys.path.insert(0, str(_HERE))
    from chain_double import ChainDouble  # noqa: PLC0415

    return ChainDouble(**fields)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-secured") / "net"
    result = runner.invoke(
        app,
        ["init", str(directory), "--crypto", "gm", "--chain-id", CHAIN_ID, "--secure-api"],
    )
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture(scope="module")
def double() -> Any:
    return _chain_double(chain_id=CHAIN_ID, crypto_profile="gm")


@pytest.fixture(scope="module")
def grpc_address(addresses: tuple[str, str]) -> str:
    return addresses[0]


@pytest.fixture(scope="module")
def http_address(addresses: tuple[str, str]) -> str:
    return addresses[1]


@pytest.fixture(scope="module")
def addresses(
    network: Path, double: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The gRPC and HTTP addresses of the secured API; its HTTP port serves snapshots (of an
    empty folder)."""
    snapshot_folder = tmp_path_factory.mktemp("served-snapshots")
    home = network / "nodes" / "node1"
    config = load_node_config(home)
    members = {
        member.id: member
        for member in genesis_from_json((home / "genesis.json").read_text()).members
    }
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[ApiServers, tuple[str, str]]:
        servers = ApiServers(
            double,
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            message_bytes_max=1 << 20,
            request_bytes_max=1 << 20,
            metrics_handler=lambda: (b"", "text/plain"),
            snapshot_folder=snapshot_folder,
            tls=config.api_tls,
            access=ApiAccess(
                config.api_access,
                chain_id=CHAIN_ID,
                node_id=config.member_id,
                profile=get_profile("gm"),
                height=lambda: 1,
                member=members.get,
                read_roles=lambda: [],
            ),
        )
        await servers.start()
        grpc_port, http_port = servers.ports
        return servers, (f"127.0.0.1:{grpc_port}", f"127.0.0.1:{http_port}")

    servers, both = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield both
    finally:

        async def stop() -> None:
            await servers.stop(grace_s=0.1)
            await servers.stopped()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_init_secure_api_writes_tls_and_authentication(network: Path) -> None:
    config = load_node_config(network / "nodes" / "node1")
    assert config.api_tls is not None
    assert config.api_tls.certificate_file.name == "node.crt"
    assert config.api_access.require_authentication
    assert config.api_access.rate_limit is not None


def test_enabling_twice_is_refused(network: Path) -> None:
    with pytest.raises(ConfigurationError, match="already configures the API's TLS"):
        enable_secure_api(network / "nodes" / "node1")


def test_status_over_tls_with_an_sm2_token(network: Path, grpc_address: str) -> None:
    ca = client_ca_file(network / "nodes" / "node1")
    member = network / "organisations" / "org1" / "members" / "client"
    result = runner.invoke(
        app,
        [
            "--tls-ca",
            str(ca),
            "--identity",
            str(member),
            "status",
            "--node",
            grpc_address,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chain_id"] == CHAIN_ID


def test_status_without_identity_is_refused_clearly(network: Path, grpc_address: str) -> None:
    ca = client_ca_file(network / "nodes" / "node1")
    result = runner.invoke(app, ["--tls-ca", str(ca), "status", "--node", grpc_address])
    assert result.exit_code == 1
    assert "requires authentication" in result.output


def test_plaintext_status_of_a_tls_port_fails(grpc_address: str) -> None:
    result = runner.invoke(app, ["status", "--node", grpc_address])
    assert result.exit_code == 1


def test_client_options_follow_the_global_options(network: Path) -> None:
    member = network / "organisations" / "org1" / "members" / "client"
    admin = Identity.load(network / "organisations" / "org1" / "members" / "admin")
    try:
        configure(ConnectionSettings())
        assert client_options(admin) == {}
        configure(ConnectionSettings(tls_ca_file=Path("ca.pem"), identity=member))
        # The command's own identity signs the tokens; the global one stands in for it.
        assert client_options(admin)["token_identity"] is admin
        assert client_options(None)["token_identity"].member_id == "org1/client"
        assert client_options(None)["tls_ca_file"] == Path("ca.pem")
    finally:
        configure(ConnectionSettings())


def _client_member(network: Path) -> str:
    return str(network / "organisations" / "org1" / "members" / "client")


def test_bank_balance_over_tls_with_the_commands_identity(
    network: Path, grpc_address: str, double: Any
) -> None:
    """The interchain commands connect as the global options say (TLS, tokens of --identity)."""
    if double.height == 0:
        double.commit([])
    ca = str(client_ca_file(network / "nodes" / "node1"))
    arguments = [
        "bank", "balance", "org1/client", "--denom", "stake",
        "--node", grpc_address, "--identity", _client_member(network), "--json",
    ]  # fmt: skip
    result = runner.invoke(app, ["--tls-ca", ca, *arguments])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["balances"] == [{"denom": "stake", "amount": 0}]
    # Plaintext to the TLS port: the handshake fails, and nothing is read.
    plaintext = runner.invoke(app, arguments)
    assert plaintext.exit_code == 1


def test_bench_over_tls_with_tokens_of_the_sender(network: Path, grpc_address: str) -> None:
    ca = str(client_ca_file(network / "nodes" / "node1"))
    arguments = [
        "bench", "--node", grpc_address, "--identity", _client_member(network),
        "--workload", "kv-put", "--transactions", "4", "--json",
    ]  # fmt: skip
    result = runner.invoke(app, ["--tls-ca", ca, *arguments])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["node"] == grpc_address
    assert report["committed"] == 4, report
    plaintext = runner.invoke(app, arguments)
    assert plaintext.exit_code == 1


# -- reads a node makes of another node: a snapshot fetch, the explorer's proxy ---------------


def _fetch(network: Path, http_address: str, *options: str) -> Any:
    return runner.invoke(
        app,
        [
            "node", "snapshot", "fetch", "--home", str(network / "nodes" / "node1"),
            "--from", http_address, *options,
        ],
    )  # fmt: skip


def test_snapshot_fetch_reads_a_secured_node_over_tls_with_tokens(
    network: Path, http_address: str
) -> None:
    ca = str(client_ca_file(network / "nodes" / "node1"))
    fetched = _fetch(network, http_address, "--tls-ca", ca, "--identity", _client_member(network))
    # The node's answer, read over TLS with a token: it serves no snapshot (the folder is empty).
    assert fetched.exit_code == 1
    assert f"the node at https://{http_address} serves no snapshot" in fetched.output
    # The global options serve as well.
    global_options = runner.invoke(
        app,
        [
            "--tls-ca", ca, "--identity", _client_member(network),
            "node", "snapshot", "fetch", "--home", str(network / "nodes" / "node1"),
            "--from", http_address,
        ],
    )  # fmt: skip
    assert "serves no snapshot" in global_options.output


def test_snapshot_fetch_of_a_secured_node_without_token_or_tls_is_refused(
    network: Path, http_address: str
) -> None:
    ca = str(client_ca_file(network / "nodes" / "node1"))
    anonymous = _fetch(network, http_address, "--tls-ca", ca)
    assert anonymous.exit_code == 1
    assert "HTTP 401" in anonymous.output and "requires authentication" in anonymous.output
    plaintext = _fetch(network, http_address)
    assert plaintext.exit_code == 1
    assert "cannot fetch a snapshot" in plaintext.output
    untrusted_token = _fetch(network, http_address, "--identity", _client_member(network))
    assert untrusted_token.exit_code != 0
    assert "access tokens are sent only over TLS" in untrusted_token.output
    missing_ca = _fetch(
        network, http_address, "--tls-ca", str(network / "missing.pem"),
        "--identity", _client_member(network),
    )  # fmt: skip
    assert missing_ca.exit_code != 0
    assert "cannot read TLS CA file" in missing_ca.output
    assert not (network / "nodes" / "node1" / "data").exists()


async def _status_through(application: Any, **headers: str) -> httpx.Response:
    """GET /v1/status of the explorer ``application``, as a browser asks it; the explorer's own
    client of the node is closed afterwards (its lifespan), its connections with it."""
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://explorer") as browser,
    ):
        answer = await browser.get("/v1/status", headers=headers)
        await answer.aread()
        return answer


async def test_the_explorer_proxy_signs_the_reads_it_passes_on(
    network: Path, http_address: str
) -> None:
    ca = client_ca_file(network / "nodes" / "node1")
    member = Identity.load(_client_member(network))
    signed = create_explorer_app(
        f"https://{http_address}", tls_ca_file=ca, access_token=AccessTokenSource(member).token
    )
    # The browser sends no token (or a bad one, which is not passed on).
    status = await _status_through(signed, authorization="Bearer forged")
    assert status.status_code == 200, status.text
    assert status.json()["chainId"] == CHAIN_ID
    refused = await _status_through(create_explorer_app(f"https://{http_address}", tls_ca_file=ca))
    assert refused.status_code == 401
    assert refused.json()["reason"] == "unauthenticated"


def test_the_explorer_refuses_tokens_over_plaintext_and_an_unreadable_ca(
    network: Path, http_address: str
) -> None:
    member = Identity.load(_client_member(network))
    with pytest.raises(ConfigurationError, match="sent only over TLS"):
        create_explorer_app(f"http://{http_address}", access_token=AccessTokenSource(member).token)
    with pytest.raises(ConfigurationError, match="cannot read TLS CA file"):
        create_explorer_app(f"https://{http_address}", tls_ca_file=network / "missing.pem")
    # The command checks the node answers, over TLS with tokens, before it serves anything.
    refused = runner.invoke(
        app,
        [
            "explorer", "--node", f"https://{http_address}",
            "--tls-ca", str(client_ca_file(network / "nodes" / "node1")),
        ],
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "answered 401" in refused.output


def test_the_other_chains_node_is_read_with_tokens_of_of_identity(
    network: Path, grpc_address: str
) -> None:
    """The counterparty of `interchain client create/update/recover` and `hub register`: its
    own member (--of-identity) signs the tokens, not the sending chain's."""
    try:
        configure(ConnectionSettings(tls_ca_file=client_ca_file(network / "nodes" / "node1")))
        with _open_other(grpc_address, Path(_client_member(network))) as other:
            assert other.status().chain_id == CHAIN_ID
        with (
            _open_other(grpc_address, None) as anonymous,
            pytest.raises(AuthenticationError, match="requires authentication"),
        ):
            anonymous.status()
    finally:
        configure(ConnectionSettings())


def test_proposals_over_tls_with_the_admins_tokens(
    network: Path, grpc_address: str, double: Any
) -> None:
    """`causeway proposal` connects as the global options say: TLS, tokens of its --identity."""
    if double.height == 0:
        double.commit([])
    ca = str(client_ca_file(network / "nodes" / "node1"))
    admin = str(network / "organisations" / "org1" / "members" / "admin")
    arguments = ["proposal", "list", "-i", admin, "--node", grpc_address, "--json"]
    asked = len(double.requests)
    runner.invoke(app, ["--tls-ca", ca, *arguments])
    # The double answers every query with its own arguments (no proposals contract behind it):
    # what counts here is that the admin's query went through the gate, over TLS.
    (query,) = double.requests[asked:]
    transaction = (
        types_pb2.Transaction.FromString(query.encoded_transaction)
        if query.encoded_transaction
        else query.transaction
    )
    body = types_pb2.TransactionBody.FromString(transaction.body)
    assert (body.sender, body.contract, body.method) == ("org1/admin", "proposals", "list")
    plaintext = runner.invoke(app, arguments)
    assert plaintext.exit_code == 1
    assert len(double.requests) == asked + 1
