"""The [api] access settings of a node's config.toml (docs/operations.md, section 7)."""

from pathlib import Path

import pytest

from causeway.api import RateLimit
from causeway.errors import ConfigurationError
from causeway.node import load_node_config

BASE = """
[node]
name = "node1"
member_id = "org1/node1"

[api]
grpc_address = "127.0.0.1:7150"
{api}
"""
TLS = 'tls_certificate_file = "tls/node.crt"\ntls_key_file = "tls/node.key"\n'


def test_plaintext_and_open_by_default(tmp_path: Path) -> None:
    config = load_node_config(_write(tmp_path, ""))
    assert config.api_tls is None
    assert not config.api_access.require_authentication
    assert config.api_access.rate_limit is None


def _write(tmp_path: Path, api: str) -> Path:
    (tmp_path / "config.toml").write_text(BASE.format(api=api))
    return tmp_path


def test_secured_api_settings(tmp_path: Path) -> None:
    config = load_node_config(
        _write(
            tmp_path,
            TLS + 'client_ca_bundle_file = "tls/ca-bundle.pem"\n'
            "require_authentication = true\nrequests_per_second = 20\nburst = 40\n",
        )
    )
    home = tmp_path.resolve()
    assert config.api_tls is not None
    assert config.api_tls.certificate_file == home / "tls/node.crt"
    assert config.api_tls.key_file == home / "tls/node.key"
    assert config.api_tls.client_ca_bundle_file == home / "tls/ca-bundle.pem"
    assert config.api_access.require_authentication
    assert config.api_access.rate_limit == RateLimit(requests_per_second=20.0, burst=40)


def test_burst_defaults_to_one_second_of_calls(tmp_path: Path) -> None:
    config = load_node_config(_write(tmp_path, "requests_per_second = 2.5\n"))
    assert config.api_access.rate_limit == RateLimit(requests_per_second=2.5, burst=2)


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ("require_authentication = true\n", "require_authentication needs TLS"),
        ('require_authentication = "yes"\n' + TLS, "must be true or false"),
        ('tls_certificate_file = "tls/node.crt"\n', "go together"),
        ('client_ca_bundle_file = "tls/ca-bundle.pem"\n', "needs tls_certificate_file"),
        ('tls_key_file = ""\ntls_certificate_file = "c"\n', "must be a file name"),
        ("requests_per_second = -1\n", "'requests_per_second' must be a number"),
        ("requests_per_second = true\n", "'requests_per_second' must be a number"),
        ("requests_per_second = 5\nburst = 0\n", "'burst' must be positive"),
        ("tracked_clients_max = 0\n", "'tracked_clients_max' must be positive"),
    ],
)
def test_bad_api_settings_are_a_clear_error(tmp_path: Path, api: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_node_config(_write(tmp_path, api))
