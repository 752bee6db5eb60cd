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

import pytest
from typer.testing import CliRunner

from causeway.api import ApiAccess, ApiServers
from causeway.cli.connection import ConnectionSettings, client_options, configure
from causeway.cli.main import app
from causeway.crypto import get_profile
from causeway.errors import ConfigurationError
from causeway.node import load_node_config
from causeway.provisioning import genesis_from_json
from causeway.provisioning.secure_api import client_ca_file, enable_secure_api
from causeway.sdk import Identity

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
def grpc_address(network: Path, double: Any) -> Iterator[str]:
    home = network / "nodes" / "node1"
    config = load_node_config(home)
    members = {
        member.id: member
        for member in genesis_from_json((home / "genesis.json").read_text()).members
    }
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[ApiServers, str]:
        servers = ApiServers(
            double,
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            message_bytes_max=1 << 20,
            request_bytes_max=1 << 20,
            metrics_handler=lambda: (b"", "text/plain"),
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
        return servers, f"127.0.0.1:{servers.ports[0]}"

    servers, address = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield address
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
