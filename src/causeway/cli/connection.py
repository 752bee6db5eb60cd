"""How the CLI's commands connect to a node: plaintext (devnets), or TLS with access tokens and
optionally a member certificate, from the global options `--tls-ca`, `--identity` and
`--client-certificate` (docs/cli.md, "Connecting to a secured node").

The options are given once, before the command, and every command that connects uses them: the
command's own `--identity` signs the tokens when it has one, the global `--identity` otherwise.
Tokens go only over TLS, so without `--tls-ca` nothing but plaintext is spoken.
"""

# ruff: noqa: PLC0415 (the SDK is imported on use: the CLI must start fast)

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from causeway.errors import ConfigurationError

if TYPE_CHECKING:
    from causeway.sdk import Client, Identity

TLS_CA_ENVIRONMENT_VARIABLE = "CAUSEWAY_TLS_CA"
CLIENT_CERTIFICATE_ENVIRONMENT_VARIABLE = "CAUSEWAY_CLIENT_CERTIFICATE"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    tls_ca_file: Path | None = None
    # A member folder whose member.crt and key.pem are presented in mutual TLS.
    client_certificate: Path | None = None
    # The member folder that signs access tokens when the command has no --identity.
    identity: Path | None = None


_settings = ConnectionSettings()


def configure(settings: ConnectionSettings) -> None:
    """Set by the root command from the global options, before any command runs."""
    global _settings  # noqa: PLW0603 (one invocation of the CLI, one set of options)
    _settings = settings


def client_options(identity: Identity | None) -> dict[str, Any]:
    """Keyword arguments of Client / AsyncClient for the global connection options."""
    from causeway.sdk import ClientCertificate, Identity

    settings = _settings
    if settings.tls_ca_file is None:
        return {}
    token_identity = identity
    if token_identity is None and settings.identity is not None:
        token_identity = Identity.load(settings.identity)
    options: dict[str, Any] = {"tls_ca_file": settings.tls_ca_file}
    if token_identity is not None:
        options["token_identity"] = token_identity
    if settings.client_certificate is not None:
        options["client_certificate"] = ClientCertificate.of_member(settings.client_certificate)
    return options


def open_client(node: str, identity: Identity | None = None, **keywords: Any) -> Client:
    """A Client of ``node`` signing with ``identity``, connected as the global options say."""
    from causeway.sdk import Client

    return Client(node, identity, **client_options(identity), **keywords)


def http_read_access(
    tls_ca_file: Path | None, identity: Path | None
) -> tuple[Path | None, Callable[[], str] | None]:
    """The TLS CA file and the token source of a command that reads a node's HTTP API (a
    snapshot fetch, the explorer's proxy): its own --tls-ca and --identity, else the global
    ones. Tokens (renewed at half-life) go over TLS only: an identity without a CA file is a
    ConfigurationError."""
    from causeway.sdk import AccessTokenSource, Identity

    ca = tls_ca_file if tls_ca_file is not None else _settings.tls_ca_file
    member = identity if identity is not None else _settings.identity
    if member is None:
        return ca, None
    if ca is None:
        raise ConfigurationError(
            "access tokens are sent only over TLS: give --tls-ca with --identity"
        )
    return ca, AccessTokenSource(Identity.load(member)).token
