"""`causeway directory rollup`'s configuration file (causeway.apps.directory.rollup_submitter):
a good file reads back whole, and each mistake is refused naming the file, the table and the key;
the command itself refuses a bad file, and a city node that does not answer, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.apps.directory.rollup_submitter import (
    INTERVAL_MS_DEFAULT,
    ROUND_VERSIONS_DEFAULT,
    load_rollup_config,
)
from causeway.cli.main import app
from causeway.errors import ConfigurationError
from causeway.interchain.relayer.config import CONFIG_FILE_BYTES_MAX
from causeway.provisioning import init_network

runner = CliRunner()


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a city network and a district network (their member folders)."""
    root = tmp_path_factory.mktemp("rollup-config")
    init_network(root / "beijing", 1, "intl", "solo", chain_id="beijing")
    init_network(root / "haidian", 1, "gm", "solo", chain_id="haidian")
    return root


GOOD = """
[rollup]
city = "beijing"
districts = ["HD", "CY"]
interval_ms = 500

[chains.beijing]
nodes = ["127.0.0.1:7312", "127.0.0.1:7315"]
identity = "beijing/organisations/org1/members/client"

[chains.haidian]
nodes = ["127.0.0.1:7324"]
identity = "haidian/organisations/org1/members/client"
"""


def write(members: Path, text: str, name: str = "rollup.toml") -> Path:
    path = members / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_reads_back_whole(members: Path) -> None:
    config = load_rollup_config(write(members, GOOD))
    assert config.city.chain_id == "beijing"
    assert config.city.nodes == ("127.0.0.1:7312", "127.0.0.1:7315")
    assert config.city.identity.member_id == "org1/client"
    assert config.contract == "directory"
    assert config.districts == ("HD", "CY")
    assert list(config.chains) == ["haidian"]
    assert config.chains["haidian"].identity.crypto_profile == "gm"
    assert config.interval_ms == 500
    assert config.round_versions_max == ROUND_VERSIONS_DEFAULT
    minimal = GOOD.replace("interval_ms = 500\n", "")
    assert load_rollup_config(write(members, minimal)).interval_ms == INTERVAL_MS_DEFAULT


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('city = "beijing"', 'city = "tianjin"'), r"\[rollup\] city: names 'tianjin'"),
        (('city = "beijing"\n', ""), r"\[rollup\] city: is missing"),
        (('districts = ["HD", "CY"]', "districts = []"), r"\[rollup\] districts: must be"),
        (('districts = ["HD", "CY"]', 'districts = ["HD", "HD"]'), "lists a district twice"),
        (('districts = ["HD", "CY"]', 'districts = "HD"'), r"\[rollup\] districts: must be"),
        (("interval_ms = 500", "interval_ms = 10"), r"interval_ms: must be from 100"),
        (("interval_ms = 500", "interval_ms = true"), "interval_ms: must be an integer"),
        (("interval_ms = 500", "round_versions_max = 0"), "round_versions_max: must be from 1"),
        (("interval_ms = 500", "intervals = 5"), r"\[rollup\] intervals: unknown key"),
        (("[chains.haidian]", "[relayer]"), r"unknown table \[relayer\]"),
        (
            (
                "haidian/organisations/org1/members/client",
                "beijing/organisations/org1/members/client",
            ),
            "is a member of chain 'beijing', not 'haidian'",
        ),
        (('nodes = ["127.0.0.1:7324"]', 'nodes = ["nowhere"]'), r"\[chains.haidian\] nodes"),
        (("[rollup]\n", '[rollup]\ncontract = ""\n'), "contract: must be"),
    ],
)
def test_each_mistake_is_refused_naming_its_place(
    members: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(members, GOOD.replace(old, new, 1), "bad.toml")
    with pytest.raises(ConfigurationError, match=expected) as raised:
        load_rollup_config(path)
    assert str(path) in raised.value.message


def test_a_file_that_is_not_toml_missing_or_too_large_is_refused(members: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        load_rollup_config(write(members, "[rollup\ncity =", "broken.toml"))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_rollup_config(members / "absent.toml")
    huge = write(members, "#" * (CONFIG_FILE_BYTES_MAX + 1), "huge.toml")
    with pytest.raises(ConfigurationError, match="is larger than"):
        load_rollup_config(huge)


def test_the_command_refuses_a_bad_file_and_an_unreachable_city_in_one_line(
    members: Path,
) -> None:
    bad = write(members, GOOD.replace('city = "beijing"', 'city = "tianjin"'), "bad-city.toml")
    result = runner.invoke(app, ["directory", "rollup", "--config", str(bad), "--once"])
    assert result.exit_code != 0
    assert "names 'tianjin'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    nowhere = GOOD.replace('"127.0.0.1:7312", "127.0.0.1:7315"', '"127.0.0.1:1"')
    unreachable = write(members, nowhere, "unreachable.toml")
    result = runner.invoke(app, ["directory", "rollup", "--config", str(unreachable), "--once"])
    assert result.exit_code != 0
    assert "127.0.0.1:1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
