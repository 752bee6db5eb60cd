"""TLS of the client API's two ports, from the files a node's [api] section names.

The server presents ``certificate_file`` (with ``key_file``); with ``client_ca_bundle_file`` both
ports also require a client certificate issued by one of those CAs (mutual TLS). gRPC then knows
the member by its certificate (causeway.api.authentication); on HTTP the member is always named by
its access token. The gm profile's SM2 cannot be used by the TLS libraries here (BoringSSL,
OpenSSL's TLS 1.3 in Python), so transport keys are ECDSA P-256 on every chain, as for peers.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from causeway.errors import ConfigurationError

# Bound on each PEM file read: a certificate chain or a CA bundle of many organisations.
PEM_FILE_BYTES_MAX = 1 << 20


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(PEM_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read the API's {what} {path}: {error.strerror}") from None
    if len(data) > PEM_FILE_BYTES_MAX:
        raise ConfigurationError(
            f"the API's {what} {path} is larger than {PEM_FILE_BYTES_MAX} bytes"
        )
    if b"-----BEGIN " not in data:
        raise ConfigurationError(f"the API's {what} {path} is not PEM")
    return data


@dataclass(frozen=True, slots=True)
class ApiTlsFiles:
    certificate_file: Path
    key_file: Path
    client_ca_bundle_file: Path | None = None

    def check(self) -> None:
        """Reads every file once, so that a missing or broken one is a ConfigurationError
        before the node starts (and loads them into an SSL context, which checks they match)."""
        self.grpc_credentials()
        self.ssl_context()

    def grpc_credentials(self) -> grpc.ServerCredentials:
        client_cas = (
            _read(self.client_ca_bundle_file, "client CA bundle")
            if self.client_ca_bundle_file is not None
            else None
        )
        return grpc.ssl_server_credentials(
            [(_read(self.key_file, "TLS key"), _read(self.certificate_file, "TLS certificate"))],
            root_certificates=client_cas,
            require_client_auth=client_cas is not None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """The HTTP port's server context (also what uvicorn is configured with)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.certificate_file, self.key_file)
            if self.client_ca_bundle_file is not None:
                context.load_verify_locations(self.client_ca_bundle_file)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(f"the API's TLS files cannot be used: {error}") from None
        return context
