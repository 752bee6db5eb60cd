"""causeway.provisioning.interchain_devnet: a manifest's chains written as folders and described
in network.json (no process is started here)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from causeway.crypto import get_profile
from causeway.errors import ConfigurationError
from causeway.node.config import load_node_config
from causeway.provisioning import genesis_from_json, interchain_devnet
from causeway.provisioning.interchain_devnet import (
    DESCRIPTION_BYTES_MAX,
    DESCRIPTION_FILE_NAME,
    DevnetDescription,
    chain_directory,
    clear_devnet,
    description_from_document,
    is_manifest_devnet,
    load_devnet_description,
    provision_devnet,
)
from causeway.provisioning.manifest import Manifest, load_manifest, parse_manifest
from causeway.types import genesis_hash

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "devnet-three-chains.toml"
NOW_MS = 1_700_000_000_000


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DevnetDescription]:
    directory = tmp_path_factory.mktemp("example") / "devnet"
    manifest = load_manifest(EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    return directory, provision_devnet(manifest, text, directory, now_ms=NOW_MS)


def small_manifest(*chain_ids: str) -> tuple[Manifest, str]:
    text = "".join(
        f'[[chains]]\nid = "{chain_id}"\nconsensus = "solo"\n\n' for chain_id in chain_ids
    )
    return parse_manifest(tomllib.loads(text), "small.toml"), text


def test_every_chain_is_a_network_of_its_own(example: tuple[Path, DevnetDescription]) -> None:
    directory, description = example
    assert sorted(path.name for path in (directory / "chains").iterdir()) == [
        "chain-a",
        "chain-b",
        "hub",
    ]
    expected = {
        "hub": ("tbft", "intl", 4),
        "chain-a": ("tbft", "intl", 4),
        "chain-b": ("raft", "gm", 3),
    }
    for chain in description.chains:
        folder = chain_directory(directory, chain.id)
        assert chain.directory == str(folder.absolute())
        genesis = genesis_from_json((folder / "genesis.json").read_text(encoding="utf-8"))
        assert genesis.chain_id == chain.id == chain.chain_id
        assert (genesis.consensus, genesis.crypto_profile, len(genesis.validators.validators)) == (
            expected[chain.id]
        )
        assert len(genesis.organisations) == chain.organisations
        assert (
            chain.genesis_hash
            == genesis_hash(genesis, get_profile(chain.crypto_profile).hash).hex()
        )
        assert [node.name for node in chain.nodes] == [
            f"node{index}" for index in range(1, chain.validators + 1)
        ]
        for node in chain.nodes:
            config = load_node_config(Path(node.home))
            assert (config.grpc_address, config.http_address, config.peers.listen_address) == (
                node.grpc_address,
                node.http_address,
                node.peer_address,
            )
            # A node's peers are the nodes of its own chain only.
            assert {peer.name for peer in config.peers.peers} == {
                other.name for other in chain.nodes if other.name != node.name
            }
        for member in chain.members:
            assert (Path(member.directory) / "member.json").is_file()
    assert description.chain("chain-b").algorithm == "sm2"


def test_no_two_nodes_of_the_devnet_share_a_port(example: tuple[Path, DevnetDescription]) -> None:
    _, description = example
    addresses = [
        address
        for chain in description.chains
        for node in chain.nodes
        for address in (node.grpc_address, node.http_address, node.peer_address)
    ]
    assert len(addresses) == 3 * 11
    assert len(set(addresses)) == len(addresses)
    assert addresses[0] == "127.0.0.1:7200"
    assert addresses[-1] == "127.0.0.1:7232"


def test_links_and_relayers_are_described(example: tuple[Path, DevnetDescription]) -> None:
    _, description = example
    assert description.hub is not None and description.hub.id == "hub"
    assert [(link.chains, link.relayers) for link in description.links] == [
        (("hub", "chain-a"), ("relayer-1",)),
        (("hub", "chain-b"), ("relayer-1",)),
    ]
    (relayer,) = description.relayers
    assert relayer.links == (("hub", "chain-a"), ("hub", "chain-b"))


def test_the_manifest_is_kept_as_written(example: tuple[Path, DevnetDescription]) -> None:
    directory, description = example
    copy = directory / "manifest.toml"
    assert description.manifest_file == str(copy.absolute())
    assert copy.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")


def test_network_json_reads_back_as_written(example: tuple[Path, DevnetDescription]) -> None:
    directory, description = example
    assert is_manifest_devnet(directory)
    assert load_devnet_description(directory) == description
    document = json.loads((directory / DESCRIPTION_FILE_NAME).read_text(encoding="utf-8"))
    assert document["version"] == 1
    assert document["hub"] == "hub"
    assert document["links"][0] == {
        "chains": ["hub", "chain-a"],
        "relayers": ["relayer-1"],
        "clients": ["", ""],
    }
    assert document["chains"][2]["nodes"][0]["grpc_address"] == "127.0.0.1:7224"


def test_a_devnet_without_network_json_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no devnet from a manifest in .*--manifest FILE"):
        load_devnet_description(tmp_path)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "is not a devnet description"),
        ({"version": 2}, "of version 2; this causeway reads 1"),
        ({"version": 1}, "'chains' is missing or not list"),
        ({"version": 1, "chains": [{"id": "a"}]}, "'hub' is missing or not bool"),
        (
            {"version": 1, "chains": [], "links": [{"chains": ["a"], "relayers": []}]},
            "['a'] is not a link",
        ),
    ],
)
def test_a_broken_description_is_refused(document: object, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        description_from_document(document, Path("network.json"))
    assert fragment in raised.value.message


def test_a_second_manifest_replaces_the_first_devnet(tmp_path: Path) -> None:
    directory = tmp_path / "devnet"
    first, first_text = small_manifest("left", "right")
    provision_devnet(first, first_text, directory, now_ms=NOW_MS)
    (directory / "notes.txt").write_text("mine", encoding="utf-8")
    second, second_text = small_manifest("other")
    description = provision_devnet(second, second_text, directory, now_ms=NOW_MS)
    assert [path.name for path in (directory / "chains").iterdir()] == ["other"]
    assert load_devnet_description(directory) == description
    assert (directory / "manifest.toml").read_text(encoding="utf-8") == second_text
    assert (directory / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_manifest_devnet_replaces_a_devnet_of_one_chain(tmp_path: Path) -> None:
    directory = tmp_path / "devnet"
    (directory / "nodes" / "node1").mkdir(parents=True)
    (directory / "genesis.json").write_text("{}", encoding="utf-8")
    (directory / "devnet.json").write_text('{"nodes": []}', encoding="utf-8")
    manifest, text = small_manifest("only")
    provision_devnet(manifest, text, directory, now_ms=NOW_MS)
    assert not (directory / "nodes").exists()
    assert not (directory / "genesis.json").exists()
    assert not (directory / "devnet.json").exists()
    assert (directory / "chains" / "only" / "genesis.json").is_file()


def test_a_chains_folder_that_is_not_ours_is_left_alone(tmp_path: Path) -> None:
    directory = tmp_path / "somewhere"
    (directory / "chains").mkdir(parents=True)
    manifest, text = small_manifest("a")
    with pytest.raises(ConfigurationError, match="holds no devnet"):
        provision_devnet(manifest, text, directory, now_ms=NOW_MS)
    assert list((directory / "chains").iterdir()) == []
    assert not (directory / DESCRIPTION_FILE_NAME).exists()


def test_clearing_a_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="exists and is not a folder"):
        clear_devnet(path)


def test_a_failure_while_building_leaves_the_old_devnet_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "devnet"
    first, first_text = small_manifest("left")
    before = provision_devnet(first, first_text, directory, now_ms=NOW_MS)

    def failing(*arguments: object, **keywords: object) -> object:
        raise ConfigurationError("key generation failed")

    monkeypatch.setattr(interchain_devnet, "build_network", failing)
    second, second_text = small_manifest("right")
    with pytest.raises(ConfigurationError, match="key generation failed"):
        provision_devnet(second, second_text, directory, now_ms=NOW_MS)
    assert load_devnet_description(directory) == before
    assert (directory / "chains" / "left" / "genesis.json").is_file()


def _padded_description(example: DevnetDescription, size: int) -> bytes:
    # JSON allows whitespace after the document: pad a real description to `size` bytes.
    data = json.dumps(example.to_document()).encode()
    return data + b" " * (size - len(data))


def test_a_description_of_exactly_the_size_bound_is_read(
    tmp_path: Path, example: tuple[Path, DevnetDescription]
) -> None:
    _, description = example
    path = tmp_path / DESCRIPTION_FILE_NAME
    path.write_bytes(_padded_description(description, DESCRIPTION_BYTES_MAX))
    assert path.stat().st_size == DESCRIPTION_BYTES_MAX
    assert load_devnet_description(tmp_path) == description


def test_a_description_one_byte_past_the_size_bound_is_refused(
    tmp_path: Path, example: tuple[Path, DevnetDescription]
) -> None:
    _, description = example
    path = tmp_path / DESCRIPTION_FILE_NAME
    path.write_bytes(_padded_description(description, DESCRIPTION_BYTES_MAX + 1))
    with pytest.raises(ConfigurationError, match=r"network\.json is larger than 16777216 bytes"):
        load_devnet_description(tmp_path)


def test_a_description_that_is_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / DESCRIPTION_FILE_NAME).write_text("{nope", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"cannot read .*network\.json"):
        load_devnet_description(tmp_path)
