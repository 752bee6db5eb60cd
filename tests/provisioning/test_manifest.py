"""causeway.provisioning.manifest: reading and checking a devnet manifest, key by key."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from causeway.errors import ConfigurationError
from causeway.provisioning.manifest import (
    CHAINS_MAX,
    DEVNET_NODES_MAX,
    IDENTIFIER_CHARACTERS_MAX,
    LINKS_MAX,
    MANIFEST_BYTES_MAX,
    PORT_BASE_DEFAULT,
    RELAYERS_MAX,
    LinkManifest,
    Manifest,
    load_manifest,
    parse_manifest,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "devnet-three-chains.toml"
SOURCE = "m.toml"


def parse(document: dict[str, Any]) -> Manifest:
    return parse_manifest(document, SOURCE)


def refused(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigurationError) as raised:
        parse(document)
    message = raised.value.message
    assert message.startswith(f"{SOURCE}: "), message
    return message


def solo(chain_id: str, **values: Any) -> dict[str, Any]:
    return {"id": chain_id, "consensus": "solo", **values}


def chains(count: int) -> list[dict[str, Any]]:
    return [solo(f"c{index}") for index in range(count)]


# ------------------------------------------------------------------------------ what it reads


def test_the_example_manifest_describes_a_hub_and_two_chains() -> None:
    manifest = load_manifest(EXAMPLE)
    assert [chain.id for chain in manifest.chains] == ["hub", "chain-a", "chain-b"]
    hub, chain_a, chain_b = manifest.chains
    assert manifest.hub == hub
    assert (hub.consensus, hub.crypto_profile, hub.validators) == ("tbft", "intl", 4)
    assert (chain_a.consensus, chain_a.crypto_profile, chain_a.validators) == ("tbft", "intl", 4)
    assert (chain_b.consensus, chain_b.crypto_profile, chain_b.validators) == ("raft", "gm", 3)
    assert [chain.ports for chain in manifest.chains] == [
        range(7200, 7212),
        range(7212, 7224),
        range(7224, 7233),
    ]
    assert [link.chains for link in manifest.links] == [("hub", "chain-a"), ("hub", "chain-b")]
    (relayer,) = manifest.relayers
    assert relayer.name == "relayer-1"
    assert relayer.links == manifest.links


def test_defaults_follow_the_consensus() -> None:
    manifest = parse({"chains": [{"id": "t"}, {"id": "r", "consensus": "raft"}, solo("s")]})
    tbft, raft, single = manifest.chains
    assert (tbft.consensus, tbft.crypto_profile, tbft.validators, tbft.organisations) == (
        "tbft",
        "intl",
        4,
        4,
    )
    assert (raft.validators, raft.organisations) == (3, 3)
    assert (single.validators, single.organisations) == (1, 1)
    assert not any(chain.hub for chain in manifest.chains)
    assert manifest.hub is None
    assert manifest.links == () and manifest.relayers == ()
    assert manifest.port_base == PORT_BASE_DEFAULT
    # Laid out one after the other: 3 ports per node.
    assert [chain.port_base for chain in manifest.chains] == [
        PORT_BASE_DEFAULT,
        PORT_BASE_DEFAULT + 12,
        PORT_BASE_DEFAULT + 21,
    ]


def test_chains_without_a_port_base_go_around_those_with_one() -> None:
    manifest = parse(
        {
            "port_base": 9000,
            "chains": [
                {"id": "first", "validators": 2},
                solo("fixed", port_base=9006),
                {"id": "second", "validators": 2},
            ],
        }
    )
    first, fixed, second = manifest.chains
    assert first.ports == range(9000, 9006)
    assert fixed.ports == range(9006, 9009)
    assert second.ports == range(9009, 9015)


def test_an_automatic_chain_skips_a_fixed_range_it_would_overlap() -> None:
    manifest = parse(
        {
            "port_base": 9000,
            "chains": [solo("fixed", port_base=9001), {"id": "moved", "validators": 1}],
        }
    )
    assert manifest.chain("moved").ports == range(9004, 9007)


def test_chains_whose_ports_touch_do_not_overlap() -> None:
    manifest = parse({"chains": [solo("a", port_base=9000), solo("b", port_base=9003)]})
    assert [chain.port_base for chain in manifest.chains] == [9000, 9003]


def test_a_link_has_no_direction() -> None:
    assert LinkManifest(("a", "b")).key == LinkManifest(("b", "a")).key


def test_a_relayer_may_name_a_link_in_either_order() -> None:
    manifest = parse(
        {
            "chains": [solo("a"), solo("b")],
            "links": [{"chains": ["a", "b"]}],
            "relayers": [{"name": "r", "links": [["b", "a"]]}],
        }
    )
    assert manifest.relayers[0].links == (LinkManifest(("a", "b")),)


def test_a_yaml_manifest_reads_like_its_toml(tmp_path: Path) -> None:
    path = tmp_path / "devnet.yaml"
    path.write_text(
        "chains:\n"
        "  - {id: hub, hub: true, consensus: tbft, validators: 4}\n"
        "  - {id: b, consensus: raft, crypto: gm}\n"
        "links:\n"
        "  - chains: [hub, b]\n"
        "relayers:\n"
        "  - {name: r1, links: [[hub, b]]}\n",
        encoding="utf-8",
    )
    manifest = load_manifest(path)
    assert [chain.id for chain in manifest.chains] == ["hub", "b"]
    assert manifest.chain("b").crypto_profile == "gm"
    assert manifest.relayers[0].links[0].chains == ("hub", "b")


def test_a_yaml_manifest_without_pyyaml_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "devnet.yml"
    path.write_text("chains: []\n", encoding="utf-8")
    real = importlib.import_module

    def without_yaml(name: str, package: str | None = None) -> object:
        if name == "yaml":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_yaml)
    with pytest.raises(ConfigurationError, match=r"needs PyYAML .* or write the manifest in TOML"):
        load_manifest(path)


# ------------------------------------------------------------------------------ the file


def test_a_manifest_of_another_kind_is_refused_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "devnet.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"devnet.json: a manifest's name ends in .toml"):
        load_manifest(path)


def test_a_missing_manifest_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read the manifest .*nothing\.toml"):
        load_manifest(tmp_path / "nothing.toml")


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[chains]]\nid = \n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad.toml: not valid TOML: .*line 2"):
        load_manifest(path)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("chains: [\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad.yaml: not valid YAML"):
        load_manifest(path)


def test_a_yaml_manifest_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="the top-level table: must be a table, not list"):
        load_manifest(path)


def test_a_yaml_key_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("chains:\n  - {id: a, 3: x}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"\[\[chains\]\] entry 1: the key 3 is not text"):
        load_manifest(path)


def _padded(size: int) -> bytes:
    body = b'[[chains]]\nid = "a"\nconsensus = "solo"\n#'
    return body + b"x" * (size - len(body) - 1) + b"\n"


def test_a_manifest_of_exactly_the_size_bound_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(_padded(MANIFEST_BYTES_MAX))
    assert path.stat().st_size == MANIFEST_BYTES_MAX
    assert load_manifest(path).chains[0].id == "a"


def test_a_manifest_one_byte_past_the_size_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(_padded(MANIFEST_BYTES_MAX + 1))
    with pytest.raises(
        ConfigurationError, match=r"larger than 1048576 bytes \(MANIFEST_BYTES_MAX\)"
    ):
        load_manifest(path)


def test_a_manifest_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[[chains]]\nid = "caf\xe9"\n')
    with pytest.raises(ConfigurationError, match=r"latin\.toml: not UTF-8 text"):
        load_manifest(path)


# ------------------------------------------------------------------------------ top level


def test_an_unknown_top_level_key_is_refused() -> None:
    message = refused({"chains": [solo("a")], "chain": []})
    assert "the top-level table, key 'chain': unknown key; the keys here are version" in message


def test_another_version_is_refused() -> None:
    assert "key 'version': this causeway reads version 1, not 2" in refused(
        {"version": 2, "chains": [solo("a")]}
    )
    assert "not True" in refused({"version": True, "chains": [solo("a")]})


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(1023, "not 1023"), (65536, "not 65536"), ("7200", "must be an integer")],
)
def test_a_bad_manifest_port_base_is_refused(value: object, fragment: str) -> None:
    message = refused({"port_base": value, "chains": [solo("a")]})
    assert "the top-level table, key 'port_base'" in message
    assert fragment in message


def test_the_manifest_port_base_may_be_the_lowest_allowed() -> None:
    assert parse({"port_base": 1024, "chains": [solo("a")]}).chains[0].port_base == 1024


def test_a_manifest_without_chains_is_refused() -> None:
    assert "key 'chains': missing" in refused({})
    assert "key 'chains': must hold 1 to 16 (CHAINS_MAX) chains, not 0" in refused({"chains": []})
    assert "key 'chains': must be a list, not dict" in refused({"chains": {"id": "a"}})


def test_chains_up_to_the_bound_are_accepted() -> None:
    assert len(parse({"chains": chains(CHAINS_MAX)}).chains) == CHAINS_MAX


def test_one_chain_past_the_bound_is_refused() -> None:
    assert f"(CHAINS_MAX) chains, not {CHAINS_MAX + 1}" in refused(
        {"chains": chains(CHAINS_MAX + 1)}
    )


# ------------------------------------------------------------------------------ chains


def test_a_chain_that_is_not_a_table_is_refused() -> None:
    assert "[[chains]] entry 1: must be a table, not str" in refused({"chains": ["a"]})


def test_an_unknown_chain_key_is_refused() -> None:
    message = refused({"chains": [solo("a", validator=1)]})
    assert "[[chains]] entry 1, key 'validator': unknown key; the keys here are id, hub" in message


def test_a_chain_without_an_id_is_refused() -> None:
    assert "[[chains]] entry 1, key 'id': missing" in refused({"chains": [{"consensus": "solo"}]})


@pytest.mark.parametrize(
    "chain_id",
    ["", "..", ".hidden", "-a", "a b", "a/b", "é", "x" * (IDENTIFIER_CHARACTERS_MAX + 1), 7],
)
def test_a_chain_id_that_is_not_an_identifier_is_refused(chain_id: object) -> None:
    message = refused({"chains": [{"id": chain_id}]})
    assert "[[chains]] entry 1, key 'id'" in message
    assert "is not an identifier: 1 to 64 (IDENTIFIER_CHARACTERS_MAX) letters" in message


def test_a_chain_id_of_the_longest_length_is_accepted() -> None:
    chain_id = "x" * IDENTIFIER_CHARACTERS_MAX
    assert parse({"chains": [solo(chain_id)]}).chains[0].id == chain_id


def test_two_chains_with_one_id_are_refused() -> None:
    message = refused({"chains": [solo("a"), solo("a")]})
    assert "[[chains]] entry 2 ('a'), key 'id': 'a' is already the id of [[chains]] entry 1" in (
        message
    )


def test_a_second_hub_is_refused() -> None:
    message = refused({"chains": [solo("a", hub=True), solo("b", hub=True)]})
    assert "[[chains]] entry 2 ('b'), key 'hub': a devnet has at most one hub, and 'a'" in message


def test_hub_must_be_true_or_false() -> None:
    assert "key 'hub': must be true or false, not 'yes'" in refused(
        {"chains": [solo("a", hub="yes")]}
    )


def test_an_unknown_consensus_is_refused() -> None:
    message = refused({"chains": [{"id": "a", "consensus": "pbft"}]})
    assert (
        "[[chains]] entry 1 ('a'), key 'consensus': must be one of solo, tbft, raft, not 'pbft'"
        in (message)
    )


def test_an_unknown_crypto_profile_is_refused() -> None:
    message = refused({"chains": [solo("a", crypto="sm")]})
    assert "key 'crypto': must be one of intl, gm, not 'sm'" in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (0, "must be from 1 to 64 (VALIDATORS_MAX), not 0"),
        (65, "must be from 1 to 64 (VALIDATORS_MAX), not 65"),
        (True, "must be an integer, not True"),
        ("4", "must be an integer, not '4'"),
    ],
)
def test_a_bad_number_of_validators_is_refused(value: object, fragment: str) -> None:
    message = refused({"chains": [{"id": "a", "validators": value}]})
    assert "[[chains]] entry 1 ('a'), key 'validators'" in message
    assert fragment in message


def test_a_chain_of_the_most_validators_is_accepted() -> None:
    assert parse({"chains": [{"id": "a", "validators": 64}]}).chains[0].validators == 64


def test_solo_with_more_than_one_validator_is_refused() -> None:
    message = refused({"chains": [solo("a", validators=2)]})
    assert "key 'validators': solo consensus has exactly one validator, not 2" in message


@pytest.mark.parametrize("value", [0, 65])
def test_a_bad_number_of_organisations_is_refused(value: int) -> None:
    message = refused({"chains": [solo("a", organisations=value)]})
    assert f"key 'organisations': must be from 1 to 64 (ORGANISATIONS_MAX), not {value}" in message


def test_a_chain_of_the_most_organisations_is_accepted() -> None:
    assert parse({"chains": [solo("a", organisations=64)]}).chains[0].organisations == 64


def test_a_chain_port_base_below_the_bound_is_refused() -> None:
    message = refused({"chains": [solo("a", port_base=1023)]})
    assert "key 'port_base': must be from 1024 (PORT_BASE_MIN) to 65533, not 1023" in message


def test_a_chain_port_base_at_both_bounds_is_accepted() -> None:
    # Four nodes take 12 ports: the last base that fits is 65535 - 12 + 1.
    highest = 65535 - 12 + 1
    manifest = parse(
        {
            "chains": [
                {"id": "low", "validators": 4, "port_base": 1024},
                {"id": "high", "validators": 4, "port_base": highest},
            ]
        }
    )
    assert manifest.chain("high").ports[-1] == 65535


def test_a_chain_port_base_past_the_last_port_is_refused() -> None:
    message = refused({"chains": [{"id": "a", "validators": 4, "port_base": 65535 - 12 + 2}]})
    assert "key 'port_base': must be from 1024 (PORT_BASE_MIN) to 65524, not 65525" in message
    assert "4 node(s) listen on 3 consecutive ports each" in message


def test_chains_whose_ports_overlap_are_refused() -> None:
    message = refused(
        {"chains": [{"id": "a", "validators": 2, "port_base": 9000}, solo("b", port_base=9005)]}
    )
    assert (
        "[[chains]] entry 2 ('b'), key 'port_base': ports 9005-9007 overlap those of chain 'a'"
        in (message)
    )
    assert "(9000-9005)" in message


def test_an_automatic_chain_without_room_is_refused() -> None:
    message = refused({"port_base": 65530, "chains": [solo("a"), {"id": "b", "validators": 2}]})
    assert "[[chains]] entry 2 ('b'): no room for its 6 ports" in message
    assert "the last port would be 65538" in message


def test_chains_of_the_most_nodes_together_are_accepted() -> None:
    manifest = parse({"chains": [{"id": f"c{index}", "validators": 16} for index in range(4)]})
    assert sum(chain.validators for chain in manifest.chains) == DEVNET_NODES_MAX


def test_one_node_past_the_devnet_bound_is_refused() -> None:
    entries = [{"id": f"c{index}", "validators": 16} for index in range(4)]
    message = refused({"chains": [*entries, solo("one-more")]})
    assert (
        "[[chains]] entry 5 ('one-more'), key 'validators': the chains up to this one have 65"
        in (message)
    )
    assert "(DEVNET_NODES_MAX)" in message


# ------------------------------------------------------------------------------ links


def two_chains(**more: Any) -> dict[str, Any]:
    return {"chains": [solo("a", hub=True), solo("b"), solo("c")], **more}


def test_links_must_be_a_list_of_tables() -> None:
    assert "the top-level table, key 'links': must be a list" in refused(two_chains(links={}))
    assert "[[links]] entry 1: must be a table, not list" in refused(two_chains(links=[["a", "b"]]))


def test_an_unknown_link_key_is_refused() -> None:
    message = refused(two_chains(links=[{"chains": ["a", "b"], "relayer": "r"}]))
    assert "[[links]] entry 1, key 'relayer': unknown key; the keys here are chains" in message


def test_a_link_without_chains_is_refused() -> None:
    assert "[[links]] entry 1, key 'chains': missing" in refused(two_chains(links=[{}]))


@pytest.mark.parametrize("value", [["a"], ["a", "b", "c"], "a-b"])
def test_a_link_is_two_chain_ids(value: object) -> None:
    message = refused(two_chains(links=[{"chains": value}]))
    assert "[[links]] entry 1, key 'chains': a link is a list of two chain ids" in message


def test_a_link_to_an_unknown_chain_is_refused() -> None:
    message = refused(two_chains(links=[{"chains": ["a", "z"]}]))
    assert (
        "[[links]] entry 1, key 'chains': 'z' is not a chain of this manifest (chains: a, b, c)"
        in (message)
    )


def test_a_link_from_a_chain_to_itself_is_refused() -> None:
    message = refused(two_chains(links=[{"chains": ["b", "b"]}]))
    assert "a link joins two different chains, not 'b' to itself" in message


def test_a_link_given_twice_is_refused_in_either_order() -> None:
    message = refused(two_chains(links=[{"chains": ["a", "b"]}, {"chains": ["b", "a"]}]))
    assert "[[links]] entry 2, key 'chains': ['b', 'a'] is already [[links]] entry 1" in message


def _all_links(count: int) -> list[dict[str, Any]]:
    ids = [f"c{index}" for index in range(12)]
    pairs = [[first, second] for index, first in enumerate(ids) for second in ids[index + 1 :]]
    return [{"chains": pair} for pair in pairs[:count]]


def test_links_up_to_the_bound_are_accepted() -> None:
    manifest = parse({"chains": chains(12), "links": _all_links(LINKS_MAX)})
    assert len(manifest.links) == LINKS_MAX


def test_one_link_past_the_bound_is_refused() -> None:
    message = refused({"chains": chains(12), "links": _all_links(LINKS_MAX + 1)})
    assert f"key 'links': must hold at most {LINKS_MAX} (LINKS_MAX) links, not {LINKS_MAX + 1}" in (
        message
    )


# ------------------------------------------------------------------------------ relayers


def linked(*relayers: Any) -> dict[str, Any]:
    return two_chains(
        links=[{"chains": ["a", "b"]}, {"chains": ["a", "c"]}], relayers=list(relayers)
    )


def test_a_relayer_without_a_name_is_refused() -> None:
    assert "[[relayers]] entry 1, key 'name': missing" in refused(linked({"links": [["a", "b"]]}))


def test_a_relayer_name_must_be_an_identifier() -> None:
    message = refused(linked({"name": "my relayer", "links": [["a", "b"]]}))
    assert "[[relayers]] entry 1, key 'name': 'my relayer' is not an identifier" in message


def test_an_unknown_relayer_key_is_refused() -> None:
    message = refused(linked({"name": "r", "links": [["a", "b"]], "chains": ["a"]}))
    assert (
        "[[relayers]] entry 1, key 'chains': unknown key; the keys here are name, links" in message
    )


def test_two_relayers_with_one_name_are_refused() -> None:
    message = refused(
        linked({"name": "r", "links": [["a", "b"]]}, {"name": "r", "links": [["a", "c"]]})
    )
    assert "[[relayers]] entry 2 ('r'), key 'name': 'r' is already the name of another relayer" in (
        message
    )


def test_a_relayer_without_links_is_refused() -> None:
    assert "[[relayers]] entry 1 ('r'), key 'links': missing" in refused(linked({"name": "r"}))
    assert "[[relayers]] entry 1 ('r'), key 'links': empty" in refused(
        linked({"name": "r", "links": []})
    )


def test_a_relayer_over_a_link_the_manifest_lacks_is_refused() -> None:
    message = refused(linked({"name": "r", "links": [["b", "c"]]}))
    assert "key 'links': ['b', 'c'] is not a link of this manifest; add it to [[links]]" in message


def test_a_relayer_over_an_unknown_chain_is_refused() -> None:
    message = refused(linked({"name": "r", "links": [["a", "z"]]}))
    assert "[[relayers]] entry 1 ('r'), key 'links': 'z' is not a chain of this manifest" in message


def test_a_relayer_listing_a_link_twice_is_refused() -> None:
    message = refused(linked({"name": "r", "links": [["a", "b"], ["b", "a"]]}))
    assert "key 'links': ['b', 'a'] is listed twice" in message


def _relayers(count: int) -> list[dict[str, Any]]:
    return [{"name": f"r{index}", "links": [["a", "b"]]} for index in range(count)]


def test_relayers_up_to_the_bound_are_accepted() -> None:
    assert len(parse(linked(*_relayers(RELAYERS_MAX))).relayers) == RELAYERS_MAX


def test_one_relayer_past_the_bound_is_refused() -> None:
    message = refused(linked(*_relayers(RELAYERS_MAX + 1)))
    assert (
        f"key 'relayers': must hold at most 16 (RELAYERS_MAX) relayers, not {RELAYERS_MAX + 1}"
        in (message)
    )


@pytest.mark.parametrize("language", ["toml", "yaml"])
def test_the_docs_show_the_example_manifest(tmp_path: Path, language: str) -> None:
    text = (EXAMPLE.parents[1] / "docs" / "manifest.md").read_text(encoding="utf-8")
    block = text.split(f"```{language}\n", 1)[1].split("```", 1)[0]
    path = tmp_path / f"devnet.{language}"
    path.write_text(block, encoding="utf-8")
    shown = load_manifest(path)
    example = load_manifest(EXAMPLE)
    assert (shown.port_base, shown.chains, shown.links, shown.relayers) == (
        example.port_base,
        example.chains,
        example.links,
        example.relayers,
    )
