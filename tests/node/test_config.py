from pathlib import Path

import pytest

from causeway.errors import ConfigurationError
from causeway.node import load_node_config

VALID = """
[node]
name = "node1"
member_id = "org1/node1"
key_file = "key.pem"

[api]
grpc_address = "127.0.0.1:7150"

[consensus]
block_interval_ms = 50
"""


def test_valid_config_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(VALID)
    config = load_node_config(tmp_path)
    assert config.name == "node1"
    assert config.key_file == tmp_path.resolve() / "key.pem"
    assert config.grpc_address == "127.0.0.1:7150"
    assert config.http_address == "127.0.0.1:8050"
    assert config.block_interval_ms == 50


def test_missing_file_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no config\.toml"):
        load_node_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[node\n", "cannot read"),
        ('[node]\nname = "n"\n', "member_id"),
        (VALID.replace("block_interval_ms = 50", "block_interval_ms = -1"), "positive"),
        (VALID.replace("block_interval_ms = 50", 'block_interval_ms = "x"'), "integer"),
        (VALID + '\n[log]\nformat = "xml"\n', "log format"),
        ("node = 3\n", "must be a table"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_node_config(tmp_path)


def test_block_time_drift(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(VALID)
    assert load_node_config(tmp_path).consensus.block_time_drift_ms == 10_000
    (tmp_path / "config.toml").write_text(VALID + "block_time_drift_ms = 2500\n")
    assert load_node_config(tmp_path).consensus.block_time_drift_ms == 2_500
    (tmp_path / "config.toml").write_text(VALID + "block_time_drift_ms = 0\n")
    with pytest.raises(ConfigurationError, match="'block_time_drift_ms' must be positive"):
        load_node_config(tmp_path)


def test_block_build_target_defaults_and_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(VALID)
    assert load_node_config(tmp_path).consensus.block_build_target_ms == 500
    (tmp_path / "config.toml").write_text(VALID + "block_build_target_ms = 80\n")
    assert load_node_config(tmp_path).consensus.block_build_target_ms == 80
    (tmp_path / "config.toml").write_text(VALID + "block_build_target_ms = 0\n")
    with pytest.raises(ConfigurationError, match="'block_build_target_ms' must be positive"):
        load_node_config(tmp_path)
