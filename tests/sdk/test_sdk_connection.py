"""causeway.sdk.connection: access tokens made and renewed by the client, and the credentials of
a channel to a secured node (bad files refused before anything connects)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from chain_double import ChainDouble
from chain_servers import ThreadServer

from causeway.api.access_tokens import read_access_token
from causeway.crypto import PrivateKey
from causeway.errors import AuthenticationError, ConfigurationError, RateLimitedError
from causeway.sdk import (
    AccessTokenSource,
    Client,
    ClientCertificate,
    Identity,
    build_transaction,
    channel_credentials,
    error_from_rpc,
)


def _identity(chain_id: str = "sdk-chain", algorithm: str = "ecdsa-p256") -> Identity:
    return Identity(member_id="org1/client", key=PrivateKey.generate(algorithm), chain_id=chain_id)


def test_token_is_kept_until_half_its_lifetime_then_renewed() -> None:
    now_ms = [1_000_000]
    source = AccessTokenSource(_identity(), lifetime_ms=10_000, clock_ms=lambda: now_ms[0])
    first = source.token()
    now_ms[0] += 4_999
    assert source.token() == first
    now_ms[0] += 1
    renewed = source.token()
    assert renewed != first
    body, _, _ = read_access_token(renewed)
    assert (body.member_id, body.chain_id) == ("org1/client", "sdk-chain")
    assert body.issued_at_ms == 1_005_000
    assert body.expires_at_ms == 1_015_000


def test_sm2_identity_makes_tokens() -> None:
    body, _, signature = read_access_token(AccessTokenSource(_identity(algorithm="sm2")).token())
    assert body.member_id == "org1/client"
    assert signature


def test_token_source_needs_the_chain_id() -> None:
    with pytest.raises(ConfigurationError, match="need its chain id"):
        AccessTokenSource(_identity(chain_id=""))


def test_token_source_refuses_a_bad_lifetime() -> None:
    with pytest.raises(ConfigurationError, match="lifetime"):
        AccessTokenSource(_identity(), lifetime_ms=24 * 60 * 60 * 1000)


def test_missing_or_non_pem_ca_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read TLS CA file"):
        channel_credentials(tls_ca_file=tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a certificate")
    with pytest.raises(ConfigurationError, match="is not a PEM file"):
        channel_credentials(tls_ca_file=garbage)
    with pytest.raises(ConfigurationError, match="is not a PEM file"):
        Client("127.0.0.1:1", tls_ca_file=garbage)


def test_credentials_and_tls_ca_file_are_exclusive(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    credentials = channel_credentials(tls_ca_file=ca)
    assert credentials is not None
    with pytest.raises(ConfigurationError, match="not both"):
        Client("127.0.0.1:1", credentials=credentials, tls_ca_file=ca)


def test_client_certificate_of_a_member_folder(tmp_path: Path) -> None:
    certificate = ClientCertificate.of_member(tmp_path / "client")
    assert certificate.certificate_file == tmp_path / "client" / "member.crt"
    assert certificate.key_file == tmp_path / "client" / "key.pem"


def test_plaintext_client_sends_no_tokens() -> None:
    assert channel_credentials(tls_ca_file=None) is None
    with pytest.raises(ConfigurationError, match="only over TLS"):
        Client("127.0.0.1:1", token_identity=_identity())


class _FailedCall(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, metadata: tuple[tuple[str, str], ...]):
        self._code, self._details, self._metadata = code, details, metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


def test_rate_limited_call_carries_its_retry_after() -> None:
    error = error_from_rpc(
        _FailedCall(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "rate_limited: over the rate limit",
            (("causeway-reason", "rate_limited"), ("retry-after-ms", "2500")),
        )
    )
    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s == 2.5
    assert error.message == "over the rate limit"


def test_unauthenticated_without_a_reason_is_an_authentication_error() -> None:
    error = error_from_rpc(_FailedCall(grpc.StatusCode.UNAUTHENTICATED, "no credentials", ()))
    assert isinstance(error, AuthenticationError)


class _FailOnce(dict[str, BaseException]):
    """ChainDouble.fail_with that fails each method once."""

    def get(self, key: str, default: BaseException | None = None) -> BaseException | None:  # type: ignore[override]
        return self.pop(key, default)


def test_follow_comes_back_after_a_rate_limit(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    double.commit([build_transaction(identity, identity.chain_id, "ledger", "transfer", b"1")])
    double.fail_with = _FailOnce(stream_blocks=RateLimitedError("over the rate limit"))
    with Client(thread_server.address, reconnect_delay_s=0.01) as client:
        event = next(client.follow_blocks(1, verify=False))
    assert event.block.header.height == 1
    assert double.calls.count("stream_blocks") == 2
