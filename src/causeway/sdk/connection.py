"""How a client reaches a secured node (docs/api.md, "Access"): TLS with the node's CA, a client
certificate for mutual TLS, and access tokens made from a member identity.

Tokens are sent only over TLS: gRPC attaches call credentials to secure channels alone, and a
token seen on the wire can be replayed until it expires. A client makes a token when it first
needs one and a new one when half of the old one's lifetime has passed, so a long-running client
(a stream that reconnects, a relayer) never presents an expired token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from causeway.api import (
    ACCESS_TOKEN_LIFETIME_MS_DEFAULT,
    AUTHORIZATION_METADATA_KEY,
    make_access_token,
)
from causeway.errors import ConfigurationError
from causeway.sdk.identity import Identity

# Bound on each PEM file a client reads (a CA bundle of many organisations fits easily).
PEM_FILE_BYTES_MAX = 1 << 20


def _read_pem(path: Path | str, what: str) -> bytes:
    try:
        with Path(path).open("rb") as file:
            data = file.read(PEM_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if len(data) > PEM_FILE_BYTES_MAX or b"-----BEGIN " not in data:
        raise ConfigurationError(f"{what} {path} is not a PEM file of at most 1 MiB")
    return data


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A member's X.509 certificate and its key (PEM files) for mutual TLS, e.g. a member
    folder's member.crt and key.pem (ECDSA P-256 members: TLS libraries offer no SM2 and gRPC no
    Ed25519 handshake).

    Example:

        certificate = ClientCertificate("member.crt", "key.pem")
        client = Client("127.0.0.1:7050", tls_ca_file="ca.pem", client_certificate=certificate)
    """

    certificate_file: Path | str
    key_file: Path | str

    @classmethod
    def of_member(cls, member_directory: Path | str) -> ClientCertificate:
        """The member.crt and key.pem of a member folder.

        Example:

            certificate = ClientCertificate.of_member("net/organisations/org1/members/client")
        """
        directory = Path(member_directory)
        return cls(directory / "member.crt", directory / "key.pem")


class AccessTokenSource:
    """Access tokens of one member, remade when half their lifetime has passed; thread-safe.

    Example:

        source = AccessTokenSource(Identity.load("net/organisations/org1/members/client"))
        metadata = [("authorization", f"Bearer {source.token()}")]
    """

    def __init__(
        self,
        identity: Identity,
        *,
        lifetime_ms: int = ACCESS_TOKEN_LIFETIME_MS_DEFAULT,
        audience: str = "",
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        if not identity.chain_id:
            raise ConfigurationError(
                f"access tokens of {identity.member_id} need its chain id (member.json 'chain_id')"
            )
        self._identity = identity
        self._lifetime_ms = lifetime_ms
        self._audience = audience
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at_ms = 0
        # Checks the lifetime now rather than at the first call.
        self.token()

    def token(self) -> str:
        """The current token: the same one until half its lifetime has passed, then a new one.

        Example:

            token = source.token()
        """
        now_ms = self._clock_ms()
        with self._lock:
            if not self._token or now_ms >= self._renew_at_ms:
                self._token = make_access_token(
                    chain_id=self._identity.chain_id,
                    member_id=self._identity.member_id,
                    key=self._identity.key,
                    now_ms=now_ms,
                    lifetime_ms=self._lifetime_ms,
                    audience=self._audience,
                )
                self._renew_at_ms = now_ms + self._lifetime_ms // 2
            return self._token


class _TokenPlugin(grpc.AuthMetadataPlugin):
    def __init__(self, source: AccessTokenSource) -> None:
        self._source = source

    def __call__(
        self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback
    ) -> None:
        try:
            token = self._source.token()
        except Exception as error:
            callback((), error)
            return
        callback(((AUTHORIZATION_METADATA_KEY, f"Bearer {token}"),), None)


def token_call_credentials(source: AccessTokenSource) -> grpc.CallCredentials:
    """Call credentials that put ``source``'s current token in every call's metadata (for
    channels whose TLS credentials are made elsewhere, such as a relayer's).

    Example:

        source = AccessTokenSource(Identity.load("net/organisations/org1/members/client"))
        tls = grpc.ssl_channel_credentials(Path("ca-bundle.pem").read_bytes())
        credentials = grpc.composite_channel_credentials(tls, token_call_credentials(source))
    """
    return grpc.metadata_call_credentials(_TokenPlugin(source))


def channel_credentials(
    *,
    tls_ca_file: Path | str | None,
    client_certificate: ClientCertificate | None = None,
    token_source: AccessTokenSource | None = None,
) -> grpc.ChannelCredentials | None:
    """The credentials of a channel to a secured node; None (plaintext) without ``tls_ca_file``.
    A client certificate or tokens without TLS are a ConfigurationError.

    Example:

        identity = Identity.load("net/organisations/org1/members/client")
        credentials = channel_credentials(
            tls_ca_file="net/nodes/node1/tls/ca-bundle.pem",
            token_source=AccessTokenSource(identity),
        )
        client = Client("127.0.0.1:7050", identity, credentials=credentials)
    """
    if tls_ca_file is None:
        if client_certificate is not None or token_source is not None:
            raise ConfigurationError(
                "client certificates and access tokens are sent only over TLS: give tls_ca_file"
            )
        return None
    private_key = certificate_chain = None
    if client_certificate is not None:
        certificate_chain = _read_pem(client_certificate.certificate_file, "client certificate")
        private_key = _read_pem(client_certificate.key_file, "client key")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read_pem(tls_ca_file, "TLS CA file"),
        private_key=private_key,
        certificate_chain=certificate_chain,
    )
    if token_source is None:
        return credentials
    return grpc.composite_channel_credentials(credentials, token_call_credentials(token_source))
