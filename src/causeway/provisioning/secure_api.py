"""`causeway init --secure-api`: a node folder whose client API speaks TLS and requires access
tokens, with the node's transport TLS key and certificate (tls/node.key, node.crt; issued for
localhost, 127.0.0.1 and the node's name) as the API's server certificate, and a per-client rate
limit. Clients trust the network's TLS CAs (tls/ca-bundle.pem)."""

from __future__ import annotations

from pathlib import Path

from causeway.errors import ConfigurationError
from causeway.provisioning.files import (
    TLS_CA_BUNDLE_FILE_NAME,
    TLS_CERTIFICATE_FILE_NAME,
    TLS_DIRECTORY,
    TLS_KEY_FILE_NAME,
)

CONFIG_FILE_NAME = "config.toml"
API_SECTION_HEADER = "[api]"
# Generous for one member's scripts, low enough that one client cannot starve the others.
REQUESTS_PER_SECOND_DEFAULT = 50
BURST_DEFAULT = 100


def secure_api_settings(
    *, requests_per_second: int = REQUESTS_PER_SECOND_DEFAULT, burst: int = BURST_DEFAULT
) -> list[str]:
    """The [api] lines that secure a node's client API (paths relative to its home)."""
    return [
        f'tls_certificate_file = "{TLS_DIRECTORY}/{TLS_CERTIFICATE_FILE_NAME}"',
        f'tls_key_file = "{TLS_DIRECTORY}/{TLS_KEY_FILE_NAME}"',
        "require_authentication = true",
        f"requests_per_second = {requests_per_second}",
        f"burst = {burst}",
    ]


def enable_secure_api(node_home: Path) -> None:
    """Adds the secure_api_settings to the [api] section of a node's config.toml, as written by
    `causeway init` (ConfigurationError if it has no [api] section or already sets TLS)."""
    path = node_home / CONFIG_FILE_NAME
    lines = path.read_text(encoding="utf-8").splitlines()
    if API_SECTION_HEADER not in lines:
        raise ConfigurationError(f"{path} has no {API_SECTION_HEADER} section")
    position = lines.index(API_SECTION_HEADER) + 1
    section_end = next(
        (index for index in range(position, len(lines)) if lines[index].startswith("[")),
        len(lines),
    )
    if any(line.startswith("tls_certificate_file") for line in lines[position:section_end]):
        raise ConfigurationError(f"{path} already configures the API's TLS")
    lines[position:position] = secure_api_settings()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def client_ca_file(node_home: Path) -> Path:
    """The CA bundle a client of this node trusts."""
    return node_home / TLS_DIRECTORY / TLS_CA_BUNDLE_FILE_NAME
