"""The secured client API (issue 12, step 5): TLS on both ports, access tokens and member
certificates, read roles from the chain configuration, per-client rate limits.

Both front doors are served by ApiServers over the chain double; members and TLS files come from
a network written by `causeway init`, and the member records the gate reads are a dict the tests
change (removing a member, replacing its certificate) together with the height, as a block would.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from chain_double import ChainDouble

from causeway.api import (
    AccessSettings,
    ApiAccess,
    ApiServers,
    ApiTlsFiles,
    RateLimit,
    make_access_token,
)
from causeway.api.v1 import api_pb2, api_pb2_grpc
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import (
    AuthenticationError,
    ConfigurationError,
    NodeUnavailableError,
    PermissionDeniedError,
    RateLimitedError,
)
from causeway.interchain.relayer import ChainSettings, SdkEndpoint, TlsFiles
from causeway.provisioning import genesis_from_json, init_network
from causeway.sdk import (
    AccessTokenSource,
    AsyncClient,
    ClientCertificate,
    Identity,
    channel_credentials,
)
from causeway.types.v1 import types_pb2

CHAIN_ID = "access-chain"
NODE_ID = "org1/node1"


@dataclass
class SecuredApi:
    network_directory: Path
    members: dict[str, types_pb2.Member]
    read_roles: list[int]
    grpc_address: str
    http_url: str
    double: ChainDouble = field(default_factory=lambda: ChainDouble(chain_id=CHAIN_ID))
    height: list[int] = field(default_factory=lambda: [1])

    @property
    def ca_file(self) -> Path:
        return self.network_directory / "nodes" / "node1" / "tls" / "ca-bundle.pem"

    def member_directory(self, member_id: str) -> Path:
        organisation, _, name = member_id.partition("/")
        return self.network_directory / "organisations" / organisation / "members" / name

    def identity(self, member_id: str) -> Identity:
        return Identity.load(self.member_directory(member_id))

    def token(self, signer: str, **overrides: object) -> str:
        """A token made with the key of ``signer``, for ``signer`` unless overridden."""
        identity = self.identity(signer)
        arguments: dict[str, object] = {
            "chain_id": CHAIN_ID,
            "member_id": signer,
            "key": identity.key,
            "now_ms": time.time_ns() // 1_000_000,
        }
        arguments.update(overrides)
        return make_access_token(**arguments)  # type: ignore[arg-type]

    def next_block(self) -> None:
        self.height[0] += 1

    def http(self, ca_file: Path | None = None) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(ca_file or self.ca_file))
        return httpx.AsyncClient(base_url=self.http_url, verify=context)


@pytest.fixture(scope="module")
def network_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("secured") / "net"
    init_network(directory, 2, "intl", "solo", chain_id=CHAIN_ID)
    return directory


def _members(network_directory: Path) -> dict[str, types_pb2.Member]:
    genesis = genesis_from_json((network_directory / "genesis.json").read_text())
    return {member.id: member for member in genesis.members}


async def _serve(
    network_directory: Path,
    settings: AccessSettings,
    *,
    client_cas: bool = False,
) -> AsyncIterator[SecuredApi]:
    node = network_directory / "nodes" / "node1" / "tls"
    api = SecuredApi(
        network_directory=network_directory,
        members=_members(network_directory),
        read_roles=[],
        grpc_address="",
        http_url="",
    )
    access = ApiAccess(
        settings,
        chain_id=CHAIN_ID,
        node_id=NODE_ID,
        profile=get_profile("intl"),
        height=lambda: api.height[0],
        member=api.members.get,
        read_roles=lambda: api.read_roles,
    )
    servers = ApiServers(
        api.double,
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        message_bytes_max=1 << 20,
        request_bytes_max=1 << 20,
        metrics_handler=lambda: (b"# metrics\n", "text/plain"),
        tls=ApiTlsFiles(
            node / "node.crt", node / "node.key", node / "ca-bundle.pem" if client_cas else None
        ),
        access=access,
    )
    grpc_port, http_port = servers.ports
    api.grpc_address = f"127.0.0.1:{grpc_port}"
    api.http_url = f"https://127.0.0.1:{http_port}"
    await servers.start()
    try:
        yield api
    finally:
        await servers.stop(grace_s=0.1)
        await servers.stopped()


@pytest.fixture
async def secured(network_directory: Path) -> AsyncIterator[SecuredApi]:
    settings = AccessSettings(require_authentication=True)
    async for api in _serve(network_directory, settings):
        yield api


@pytest.fixture
async def rate_limited(network_directory: Path) -> AsyncIterator[SecuredApi]:
    settings = AccessSettings(
        require_authentication=True, rate_limit=RateLimit(requests_per_second=0.01, burst=2)
    )
    async for api in _serve(network_directory, settings):
        yield api


@pytest.fixture
async def mutual_tls(network_directory: Path) -> AsyncIterator[SecuredApi]:
    settings = AccessSettings(require_authentication=True)
    async for api in _serve(network_directory, settings, client_cas=True):
        yield api


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- no token, wrong token ---------------------------------------------------------------------


async def test_grpc_call_without_token_is_unauthenticated(secured: SecuredApi) -> None:
    credentials = grpc.ssl_channel_credentials(secured.ca_file.read_bytes())
    async with grpc.aio.secure_channel(secured.grpc_address, credentials) as channel:
        stub = api_pb2_grpc.ChainStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetStatus(api_pb2.GetStatusRequest())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "requires authentication" in (raised.value.details() or "")
    async with AsyncClient(secured.grpc_address, tls_ca_file=secured.ca_file) as client:
        with pytest.raises(AuthenticationError, match="requires authentication"):
            await client.status()


async def test_http_call_without_token_is_401(secured: SecuredApi) -> None:
    async with secured.http() as http:
        response = await http.get("/v1/status")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["reason"] == "unauthenticated"


async def test_operator_routes_stay_open(secured: SecuredApi) -> None:
    async with secured.http() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic b3JnMTpzZWNyZXQ=", "must be 'Bearer <access token>'"),
        ("Bearer not*base64", "not unpadded base64url"),
        ("Bearer AAAA", "malformed"),
    ],
)
async def test_http_malformed_authorization_is_401(
    secured: SecuredApi, header: str, message: str
) -> None:
    async with secured.http() as http:
        response = await http.get("/v1/status", headers={"Authorization": header})
    assert response.status_code == 401
    assert message in response.json()["message"]


async def test_forged_token_is_refused(secured: SecuredApi) -> None:
    forged = secured.token("org1/client", key=PrivateKey.generate("ecdsa-p256"))
    async with secured.http() as http:
        response = await http.get("/v1/status", headers=_bearer(forged))
    assert response.status_code == 401
    assert "does not verify with the key of org1/client" in response.json()["message"]


async def test_expired_token_is_refused(secured: SecuredApi) -> None:
    long_ago_ms = time.time_ns() // 1_000_000 - 2 * 60 * 60 * 1000
    expired = secured.token("org1/client", now_ms=long_ago_ms)
    async with secured.http() as http:
        response = await http.get("/v1/status", headers=_bearer(expired))
    assert response.status_code == 401
    assert "has expired" in response.json()["message"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chain_id": "other-chain"}, "is for chain 'other-chain'"),
        ({"audience": "org2/node9"}, "not this chain or node"),
        ({"member_id": "org9/nobody"}, "unknown or was removed"),
        ({"now_ms": time.time_ns() // 1_000_000 + 10 * 60 * 1000}, "issued in the future"),
    ],
)
async def test_token_for_another_chain_node_or_member_is_refused(
    secured: SecuredApi, overrides: dict[str, object], message: str
) -> None:
    token = secured.token("org1/client", **overrides)
    async with secured.http() as http:
        response = await http.get("/v1/status", headers=_bearer(token))
    assert response.status_code == 401
    assert message in response.json()["message"]


async def test_token_for_this_node_is_accepted(secured: SecuredApi) -> None:
    token = secured.token("org1/client", audience=NODE_ID)
    async with secured.http() as http:
        # The scheme's case does not matter (RFC 9110).
        response = await http.get("/v1/status", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200
    assert response.json()["chainId"] == CHAIN_ID


# ---- revocation --------------------------------------------------------------------------------


async def test_removed_member_is_refused_from_the_next_block(secured: SecuredApi) -> None:
    identity = secured.identity("org1/client")
    async with AsyncClient(secured.grpc_address, identity, tls_ca_file=secured.ca_file) as client:
        assert (await client.status()).chain_id == CHAIN_ID
        # Governance removes the member in a block; the next call is refused.
        del secured.members["org1/client"]
        secured.next_block()
        with pytest.raises(AuthenticationError, match="unknown or was removed"):
            await client.status()


async def test_replaced_key_invalidates_tokens_already_verified(secured: SecuredApi) -> None:
    token = secured.token("org1/client")
    async with secured.http() as http:
        assert (await http.get("/v1/status", headers=_bearer(token))).status_code == 200
        replaced = types_pb2.Member()
        replaced.CopyFrom(secured.members["org1/client"])
        replaced.public_key = PrivateKey.generate("ecdsa-p256").public_key().raw
        secured.members["org1/client"] = replaced
        secured.next_block()
        response = await http.get("/v1/status", headers=_bearer(token))
    assert response.status_code == 401
    assert "no longer holds" in response.json()["message"]


def _remove(api: SecuredApi, member_id: str) -> None:
    """What a block removing the member does, as far as the gate can tell; and the block."""
    del api.members[member_id]
    api.next_block()
    api.double.commit([])


async def test_open_grpc_stream_ends_when_its_member_is_removed(secured: SecuredApi) -> None:
    secured.double.commit([])
    credentials = channel_credentials(
        tls_ca_file=secured.ca_file,
        token_source=AccessTokenSource(secured.identity("org1/client")),
    )
    assert credentials is not None
    async with grpc.aio.secure_channel(secured.grpc_address, credentials) as channel:
        stream = api_pb2_grpc.ChainStub(channel).StreamBlocks(
            api_pb2.StreamBlocksRequest(from_height=1)
        )
        first = await stream.read()
        assert isinstance(first, api_pb2.BlockEvent)
        _remove(secured, "org1/client")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stream.read()
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown or was removed" in (raised.value.details() or "")


async def test_open_http_stream_ends_when_its_member_is_removed(secured: SecuredApi) -> None:
    secured.double.commit([])
    headers = _bearer(secured.token("org1/client"))
    async with (
        secured.http() as http,
        http.stream("GET", "/v1/blocks/stream?from_height=1", headers=headers) as response,
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        first = json.loads(await anext(lines))
        assert first["block"]["header"]["height"] == "1"
        _remove(secured, "org1/client")
        rest = [line async for line in lines if line]
    assert rest == []


async def test_member_certificate_authenticates_over_mutual_tls(mutual_tls: SecuredApi) -> None:
    certificate = ClientCertificate.of_member(mutual_tls.member_directory("org1/client"))
    async with AsyncClient(
        mutual_tls.grpc_address, tls_ca_file=mutual_tls.ca_file, client_certificate=certificate
    ) as client:
        assert (await client.status()).chain_id == CHAIN_ID
        # Governance replaces (revokes) the certificate on chain: the old one is refused at once.
        replaced = types_pb2.Member()
        replaced.CopyFrom(mutual_tls.members["org1/client"])
        replaced.certificate = mutual_tls.members["org1/admin"].certificate
        mutual_tls.members["org1/client"] = replaced
        mutual_tls.next_block()
        with pytest.raises(AuthenticationError, match="not the one on chain"):
            await client.status()


async def test_mutual_tls_refuses_a_client_without_certificate(mutual_tls: SecuredApi) -> None:
    async with AsyncClient(
        mutual_tls.grpc_address,
        mutual_tls.identity("org1/client"),
        tls_ca_file=mutual_tls.ca_file,
        timeout_s=5,
    ) as client:
        with pytest.raises(NodeUnavailableError):
            await client.status()


async def test_relayer_endpoint_sends_tokens_of_its_identity(secured: SecuredApi) -> None:
    settings = ChainSettings(
        chain_id=CHAIN_ID,
        nodes=(secured.grpc_address,),
        identity=secured.identity("org2/client"),
        identity_path=secured.member_directory("org2/client"),
        tls=TlsFiles(ca_pem=secured.ca_file.read_bytes()),
    )
    endpoint = SdkEndpoint.from_settings(settings, request_timeout_s=10)
    try:
        # Blocking calls: off the event loop that serves the node.
        assert await asyncio.to_thread(endpoint.latest_height) == 0
    finally:
        endpoint.close()


# ---- TLS ---------------------------------------------------------------------------------------


async def test_client_trusting_another_ca_is_refused(secured: SecuredApi, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_network(other, 1, "intl", "solo", chain_id=CHAIN_ID)
    wrong_ca = other / "nodes" / "node1" / "tls" / "ca-bundle.pem"
    async with AsyncClient(
        secured.grpc_address, secured.identity("org1/client"), tls_ca_file=wrong_ca, timeout_s=5
    ) as client:
        with pytest.raises(NodeUnavailableError):
            await client.status()
    async with secured.http(ca_file=wrong_ca) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get("/v1/status")


async def test_plaintext_client_of_a_tls_port_is_refused(secured: SecuredApi) -> None:
    async with AsyncClient(secured.grpc_address, timeout_s=5) as client:
        with pytest.raises(NodeUnavailableError):
            await client.status()


def test_tokens_and_certificates_are_refused_without_tls(tmp_path: Path) -> None:
    identity = Identity(
        member_id="org1/client", key=PrivateKey.generate("ecdsa-p256"), chain_id=CHAIN_ID
    )
    with pytest.raises(ConfigurationError, match="only over TLS"):
        AsyncClient("127.0.0.1:1", token_identity=identity)
    with pytest.raises(ConfigurationError, match="only over TLS"):
        AsyncClient(
            "127.0.0.1:1",
            client_certificate=ClientCertificate(tmp_path / "c.pem", tmp_path / "k.pem"),
        )


# ---- read roles --------------------------------------------------------------------------------


async def test_read_roles_refuse_reads_by_other_roles(secured: SecuredApi) -> None:
    secured.read_roles[:] = [types_pb2.ROLE_ADMIN]
    async with AsyncClient(
        secured.grpc_address, secured.identity("org1/client"), tls_ca_file=secured.ca_file
    ) as client:
        # The status is not a read of the chain's data: any member may ask.
        assert (await client.status()).chain_id == CHAIN_ID
        with pytest.raises(PermissionDeniedError, match=r"roles: CLIENT\) may not read"):
            await client.get_state(b"colour", verify=False)
    async with secured.http() as http:
        response = await http.get(
            "/v1/blocks/latest", headers=_bearer(secured.token("org1/client"))
        )
        assert response.status_code == 403
        assert "allows reads by ADMIN" in response.json()["message"]
        admin = await http.get("/v1/state/00", headers=_bearer(secured.token("org1/admin")))
        assert admin.status_code != 403


# ---- rate limits -------------------------------------------------------------------------------


async def test_client_over_its_rate_gets_429_and_others_are_unaffected(
    rate_limited: SecuredApi,
) -> None:
    client_token = rate_limited.token("org1/client")
    async with rate_limited.http() as http:
        for _ in range(2):
            assert (await http.get("/v1/status", headers=_bearer(client_token))).status_code == 200
        over = await http.get("/v1/status", headers=_bearer(client_token))
        assert over.status_code == 429
        assert over.json()["reason"] == "rate_limited"
        assert int(over.headers["retry-after"]) >= 1
        other = await http.get("/v1/status", headers=_bearer(rate_limited.token("org2/client")))
        assert other.status_code == 200


async def test_grpc_client_over_its_rate_is_resource_exhausted(rate_limited: SecuredApi) -> None:
    async with AsyncClient(
        rate_limited.grpc_address,
        rate_limited.identity("org2/admin"),
        tls_ca_file=rate_limited.ca_file,
    ) as client:
        await client.status()
        await client.status()
        with pytest.raises(RateLimitedError) as raised:
            await client.status()
    assert raised.value.retry_after_s > 1


def test_missing_tls_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"TLS key .*node\.key"):
        ApiServers(
            ChainDouble(chain_id=CHAIN_ID),
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            message_bytes_max=1 << 20,
            request_bytes_max=1 << 20,
            metrics_handler=lambda: (b"", "text/plain"),
            tls=ApiTlsFiles(tmp_path / "node.crt", tmp_path / "node.key"),
        )


def test_certificate_that_does_not_match_its_key_is_a_configuration_error(
    network_directory: Path,
) -> None:
    tls = network_directory / "nodes" / "node1" / "tls"
    other_key = network_directory / "organisations" / "org2" / "ca" / "key.pem"
    with pytest.raises(ConfigurationError, match="TLS files cannot be used"):
        ApiServers(
            ChainDouble(chain_id=CHAIN_ID),
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            message_bytes_max=1 << 20,
            request_bytes_max=1 << 20,
            metrics_handler=lambda: (b"", "text/plain"),
            tls=ApiTlsFiles(tls / "node.crt", other_key),
        )
