"""What `devnet up --manifest` writes to join a devnet's chains: relayer configurations the
relayer reads back, ports for their metrics, and who governs each chain. (Joining real chains
is tested end to end in tests/e2e/test_e2e_devnet_manifest.py.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from causeway.errors import ConfigurationError
from causeway.interchain.relayer.config import load_relayer_config
from causeway.node.startup import load_genesis
from causeway.provisioning.interchain_devnet import DevnetDescription, provision_devnet
from causeway.provisioning.links import (
    PORT_MAX,
    governing_admins,
    relayer_config_text,
    relayer_metrics_port,
    write_relayer_configs,
)
from causeway.provisioning.manifest import load_manifest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "devnet-three-chains.toml"
NOW_MS = 1_800_000_000_000


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DevnetDescription]:
    directory = tmp_path_factory.mktemp("links") / "devnet"
    text = EXAMPLE.read_text(encoding="utf-8")
    description = provision_devnet(load_manifest(EXAMPLE), text, directory, now_ms=NOW_MS)
    connected = dataclasses.replace(
        description,
        links=tuple(
            dataclasses.replace(link, clients=(f"client-{index}", f"client-{index + 5}"))
            for index, link in enumerate(description.links)
        ),
    )
    return directory, connected


def test_a_relayer_configuration_reads_back_with_every_link_and_its_clients(
    example: tuple[Path, DevnetDescription],
) -> None:
    directory, description = example
    (path,) = write_relayer_configs(directory, description)
    assert path == directory / "relayers" / "relayer-1.toml"
    config = load_relayer_config(path)
    assert sorted(config.chains) == ["chain-a", "chain-b", "hub"]
    assert [
        (link.first_chain, link.first_client, link.second_chain, link.second_client)
        for link in config.links
    ] == [("hub", "client-0", "chain-a", "client-5"), ("hub", "client-1", "chain-b", "client-6")]
    hub = description.chain("hub")
    assert list(config.chains["hub"].nodes) == [node.grpc_address for node in hub.nodes]
    assert str(config.chains["hub"].identity_path).endswith("organisations/org1/members/client")


def test_a_link_without_clients_has_no_relayer_configuration(
    tmp_path: Path,
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    description = provision_devnet(load_manifest(EXAMPLE), text, tmp_path / "devnet", now_ms=NOW_MS)
    with pytest.raises(ConfigurationError, match="link hub-chain-a has no clients yet"):
        relayer_config_text(description, "relayer-1")
    with pytest.raises(ConfigurationError, match="the devnet has no relayer 'other'"):
        relayer_config_text(description, "other")


def test_relayer_metrics_ports_follow_the_chains_ports(
    example: tuple[Path, DevnetDescription],
) -> None:
    _, description = example
    # The example's chains use 7200-7232 (docs/manifest.md).
    assert relayer_metrics_port(description, 0) == 7233
    assert relayer_metrics_port(description, 2) == 7235


def test_a_relayer_metrics_port_above_the_last_port_is_refused(
    example: tuple[Path, DevnetDescription],
) -> None:
    _, description = example
    highest = 7232
    assert relayer_metrics_port(description, PORT_MAX - highest - 1) == PORT_MAX
    with pytest.raises(ConfigurationError, match="above 65535"):
        relayer_metrics_port(description, PORT_MAX - highest)


def test_governance_is_one_admin_per_organisation_in_order(
    example: tuple[Path, DevnetDescription],
) -> None:
    _, description = example
    hub = description.chain("hub")
    assert [path.name for path in governing_admins(hub)] == ["admin"] * 4
    assert [path.parent.parent.name for path in governing_admins(hub)] == [
        "org1",
        "org2",
        "org3",
        "org4",
    ]


def test_a_chain_governed_by_its_first_organisations_names_only_their_admins(
    tmp_path: Path,
) -> None:
    # A city chain whose 12 departments each have an organisation, governed by the first 3: the
    # genesis policy names them, and the devnet endorses with their admins only (a majority of
    # 12 admins would not be needed, and of 41 would not fit in endorsements_max).
    manifest = tmp_path / "city.toml"
    manifest.write_text(
        'version = 1\nport_base = 7300\n[[chains]]\nid = "city"\nconsensus = "solo"\n'
        "organisations = 12\ngoverning_organisations = 3\n",
        encoding="utf-8",
    )
    description = provision_devnet(
        load_manifest(manifest), manifest.read_text(), tmp_path / "devnet", now_ms=NOW_MS
    )
    city = description.chain("city")
    genesis = load_genesis(Path(city.directory) / "genesis.json")
    assert list(genesis.config.governance_policy.organisations) == ["org1", "org2", "org3"]
    assert [path.parent.parent.name for path in governing_admins(city)] == ["org1", "org2", "org3"]
    # Without the key every organisation governs, in numeric order (org2 before org10).
    manifest.write_text(manifest.read_text().replace("governing_organisations = 3\n", ""))
    everyone = provision_devnet(
        load_manifest(manifest), manifest.read_text(), tmp_path / "devnet-2", now_ms=NOW_MS
    ).chain("city")
    assert [path.parent.parent.name for path in governing_admins(everyone)] == [
        f"org{number}" for number in range(1, 13)
    ]


def test_more_governing_organisations_than_organisations_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "city.toml"
    manifest.write_text(
        'version = 1\n[[chains]]\nid = "city"\norganisations = 4\ngoverning_organisations = 5\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match=r"governing_organisations.*from 1 to 4"):
        load_manifest(manifest)
