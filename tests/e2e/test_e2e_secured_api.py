"""A node started from `causeway init --secure-api`: its client API speaks only TLS and requires
access tokens. The CLI and the SDK work against it with --tls-ca/--identity; a member that
governance removes is refused from the next call on; a plaintext client gets nowhere."""

from __future__ import annotations

import dataclasses
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from node_harness import (
    POLL_INTERVAL_S,
    Network,
    NodeNotReadyError,
    NodeProcess,
    create_network,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import (
    AuthenticationError,
    CausewayError,
    NodeUnavailableError,
    PermissionDeniedError,
)
from causeway.provisioning import member_directory
from causeway.provisioning.secure_api import client_ca_file, enable_secure_api
from causeway.sdk import Client, Identity
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e


@dataclasses.dataclass(frozen=True)
class SecuredNetwork(Network):
    """The harness's network, its node's config rewritten as `init --secure-api` writes it."""

    def write_node_config(self, grpc_port: int, http_port: int) -> None:
        super().write_node_config(grpc_port, http_port)
        enable_secure_api(self.node_home)

    @property
    def ca_file(self) -> Path:
        return client_ca_file(self.node_home)


class SecuredNode(NodeProcess):
    network: SecuredNetwork

    @property
    def http_url(self) -> str:
        return super().http_url.replace("http://", "https://")

    def client(self, identity: Identity | None = None, timeout_s: float = 30.0) -> Client:
        return Client(
            self.grpc_address,
            identity,
            timeout_s=timeout_s,
            tls_ca_file=self.network.ca_file,
        )

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        identity = self.network.identity("org1/admin")
        while time.monotonic() < deadline:
            if not self.running:
                raise self._fail(f"the node exited with {self.exit_code} while starting")
            with self.client(identity, timeout_s=2.0) as client:
                try:
                    client.status()
                    return
                except CausewayError:
                    pass
            time.sleep(POLL_INTERVAL_S)
        raise self._fail(f"the node did not answer within {timeout_s:g} s")


@pytest.fixture
def secured_node(tmp_path: Path) -> Iterator[SecuredNode]:
    plain = create_network(tmp_path / "net", "intl")
    network = SecuredNetwork(directory=plain.directory, description=plain.description)
    node = SecuredNode(network, tmp_path / "node.log")
    try:
        node.start()
    except NodeNotReadyError:
        node.cleanup()
        raise
    try:
        yield node
    finally:
        node.cleanup()


def _causeway(node: SecuredNode, *arguments: str, identity: str | None = None) -> dict[str, object]:
    global_options = ["--tls-ca", str(node.network.ca_file)]
    if identity is not None:
        global_options += ["--identity", str(member_directory(node.network.directory, identity))]
    completed = subprocess.run(
        [sys.executable, "-m", "causeway.cli", *global_options, *arguments, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, object] = json.loads(completed.stdout)
    return result


def test_cli_and_sdk_over_a_secured_node_and_removal_by_governance(
    secured_node: SecuredNode,
) -> None:
    network = secured_node.network
    node = ["--node", secured_node.grpc_address]
    assert "api_tls=True api_authentication=True" in secured_node.log_text()
    client_folder = str(member_directory(network.directory, "org2/client"))

    # The CLI: status (global --identity), a transaction and a query (the command's --identity).
    status = _causeway(secured_node, "status", *node, identity="org2/client")
    assert network.chain_id in json.dumps(status)
    sent = _causeway(
        secured_node,
        "tx",
        "send",
        "--identity",
        client_folder,
        "--contract",
        "kv",
        "--method",
        "put",
        "--args",
        '{"key": "colour", "value": "blue"}',
        *node,
    )
    assert sent["committed"] is True
    _causeway(
        secured_node,
        "query",
        "--identity",
        client_folder,
        "--contract",
        "kv",
        "--method",
        "get",
        "--args",
        '{"key": "colour"}',
        *node,
    )

    # HTTP: no token is 401; over plaintext gRPC nothing answers.
    context = ssl.create_default_context(cafile=str(network.ca_file))
    response = httpx.get(f"{secured_node.http_url}/v1/status", verify=context, timeout=10)
    assert response.status_code == 401
    with (
        Client(secured_node.grpc_address, timeout_s=5) as plaintext,
        pytest.raises(NodeUnavailableError),
    ):
        plaintext.status()

    # Governance limits reads to admins (ChainConfig.read_roles): the client's reads are refused.
    with (
        secured_node.client(network.identity("org1/admin")) as admin,
        secured_node.client(network.identity("org2/client")) as reader,
    ):
        assert reader.evaluate("config", "get", contracts_pb2.ConfigGetArguments()).return_value
        config = types_pb2.ChainConfig.FromString(
            admin.evaluate("config", "get", contracts_pb2.ConfigGetArguments()).return_value
        )
        config.read_roles.append(types_pb2.ROLE_ADMIN)
        updated = admin.invoke(
            "config",
            "update",
            contracts_pb2.ConfigUpdateArguments(config=config),
            endorsers=[network.identity("org2/admin")],
        )
        assert updated.committed, updated
        with pytest.raises(PermissionDeniedError, match="allows reads by ADMIN"):
            reader.evaluate("config", "get", contracts_pb2.ConfigGetArguments())
        assert admin.evaluate("config", "get", contracts_pb2.ConfigGetArguments()).return_value

    # Governance removes org2/client: its next call is refused, with the token it already holds.
    with secured_node.client(network.identity("org2/client")) as removed:
        assert removed.status().chain_id == network.chain_id
        with secured_node.client(network.identity("org1/admin")) as admin:
            result = admin.invoke(
                "membership",
                "remove_member",
                contracts_pb2.MembershipRemoveMemberArguments(member_id="org2/client"),
                endorsers=[network.identity("org2/admin")],
            )
            assert result.committed, result
        with pytest.raises(AuthenticationError, match="unknown or was removed"):
            removed.status()
