"""The relayer's configuration file: a good one read whole, and each mistake refused with the
file, the table, the key and what is wrong; every bound at its limit and one past."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causeway.crypto import PrivateKey
from causeway.errors import ConfigurationError
from causeway.interchain import relaying
from causeway.interchain.relayer import load_relayer_config
from causeway.interchain.relayer.config import (
    BATCH_DELIVERIES_MAX,
    CHAINS_MAX,
    CONFIG_FILE_BYTES_MAX,
    LINKS_MAX,
    NODES_PER_CHAIN_MAX,
    ROUND_INTERVAL_MS_MAX,
    ROUND_INTERVAL_MS_MIN,
    ROUND_PACKETS_DEFAULT,
    ROUND_PACKETS_MAX,
    SETTLE_AFTER_MS_DEFAULT,
    SETTLE_AFTER_MS_MAX,
    TLS_FILE_BYTES_MAX,
    check_node_address,
)

LINK = """
[[links]]
first_chain = "chain-a"
first_client = "client-1"
second_chain = "chain-b"
second_client = "client-2"
"""


def write_member(directory: Path, member_id: str, chain_id: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    key = PrivateKey.generate("ecdsa-p256")
    (directory / "key.pem").write_bytes(key.to_pem())
    member = {"member_id": member_id, "algorithm": key.algorithm, "crypto_profile": "intl"}
    if chain_id:
        member["chain_id"] = chain_id
    (directory / "member.json").write_text(json.dumps(member))
    return directory


def chain_table(chain_id: str, extra: str = "", nodes: str = '["127.0.0.1:7050"]') -> str:
    return f'\n[chains.{chain_id}]\nnodes = {nodes}\nidentity = "members/{chain_id}"\n{extra}\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for chain_id in ("chain-a", "chain-b", "chain-c"):
        write_member(tmp_path / "members" / chain_id, "org1/relayer", chain_id)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "relayer.toml"
    path.write_text(text)
    return path


def good(relayer: str = "", links: str = LINK, chains: str = "") -> str:
    return f"[relayer]\n{relayer}\n" + chains_or_default(chains) + links


def chains_or_default(chains: str) -> str:
    return chains or chain_table("chain-a", nodes='["10.0.0.1:7050", "[::1]:7051"]') + chain_table(
        "chain-b"
    )


def refused(folder: Path, text: str, fragment: str) -> None:
    path = write(folder, text)
    with pytest.raises(ConfigurationError) as caught:
        load_relayer_config(path)
    assert str(path) in caught.value.message
    assert fragment in caught.value.message, caught.value.message


def test_a_good_file_is_read_whole(folder: Path) -> None:
    path = write(
        folder,
        good(
            "round_interval_ms = 2500\nbatch_deliveries_max = 50\nround_packets_max = 300\n"
            "request_timeout_ms = 5000\n"
            "submit_timeout_ms = 20000\nbackoff_max_ms = 60000\nsettle_after_ms = 0\n"
        ),
    )
    config = load_relayer_config(path)
    assert config.settle_after_ms == 0
    assert config.round_interval_ms == 2500
    assert config.batch_deliveries_max == 50
    assert config.round_packets_max == 300
    assert config.request_timeout_ms == 5000
    assert config.submit_timeout_ms == 20000
    assert config.backoff_max_ms == 60000
    assert list(config.chains) == ["chain-a", "chain-b"]
    chain_a = config.chains["chain-a"]
    assert chain_a.nodes == ("10.0.0.1:7050", "[::1]:7051")
    assert chain_a.identity.member_id == "org1/relayer"
    assert chain_a.identity_path == folder / "members" / "chain-a"
    assert chain_a.tls is None
    (link,) = config.links
    assert (link.name, link.first_chain, link.first_client) == (
        "chain-a/chain-b",
        "chain-a",
        "client-1",
    )
    assert (link.second_chain, link.second_client) == ("chain-b", "client-2")


def test_defaults_when_the_relayer_table_is_absent(folder: Path) -> None:
    config = load_relayer_config(write(folder, chains_or_default("") + LINK))
    assert config.round_interval_ms == 1000
    assert config.batch_deliveries_max == 100
    assert config.round_packets_max == ROUND_PACKETS_DEFAULT
    assert config.settle_after_ms == SETTLE_AFTER_MS_DEFAULT == relaying.SETTLE_AFTER_MS_DEFAULT


def test_the_example_file_is_a_valid_configuration(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "relayer.toml"
    text = example.read_text()
    # The example's identities live in the folders `causeway init` writes; make them here.
    for line in text.splitlines():
        if line.startswith("identity = "):
            write_member(tmp_path / line.split('"')[1], "org1/relayer")
    config = load_relayer_config(write(tmp_path, text))
    assert len(config.links) >= 1


@pytest.mark.parametrize(
    ("relayer", "fragment"),
    [
        (
            f"round_interval_ms = {ROUND_INTERVAL_MS_MIN - 1}",
            "[relayer] round_interval_ms: must be from 100 to 3600000, not 99",
        ),
        (f"round_interval_ms = {ROUND_INTERVAL_MS_MAX + 1}", "not 3600001"),
        ('round_interval_ms = "1s"', "[relayer] round_interval_ms: must be an integer, not '1s'"),
        ("round_interval_ms = true", "must be an integer, not True"),
        (
            "batch_deliveries_max = 0",
            "[relayer] batch_deliveries_max: must be from 1 to 512, not 0",
        ),
        (f"batch_deliveries_max = {BATCH_DELIVERIES_MAX + 1}", "not 513"),
        ("round_packets_max = 0", "[relayer] round_packets_max: must be from 1 to 16384, not 0"),
        (f"round_packets_max = {ROUND_PACKETS_MAX + 1}", "not 16385"),
        ("request_timeout_ms = 99", "[relayer] request_timeout_ms: must be from 100"),
        ("submit_timeout_ms = 600001", "[relayer] submit_timeout_ms: must be from 100 to 600000"),
        (
            "round_interval_ms = 5000\nbackoff_max_ms = 4999",
            "[relayer] backoff_max_ms: must be from 5000",
        ),
        ("round_interval = 5", "[relayer] round_interval: unknown key (known: round_interval_ms,"),
        ("settle_after_ms = -1", "[relayer] settle_after_ms: must be from 0 to 600000, not -1"),
        (f"settle_after_ms = {SETTLE_AFTER_MS_MAX + 1}", "not 600001"),
    ],
)
def test_relayer_settings_are_checked(folder: Path, relayer: str, fragment: str) -> None:
    refused(folder, good(relayer), fragment)


def test_relayer_bounds_at_the_limit_are_accepted(folder: Path) -> None:
    config = load_relayer_config(
        write(
            folder,
            good(
                f"round_interval_ms = {ROUND_INTERVAL_MS_MIN}\n"
                f"batch_deliveries_max = {BATCH_DELIVERIES_MAX}\n"
                f"round_packets_max = {ROUND_PACKETS_MAX}\n"
                "backoff_max_ms = 100\n"
            ),
        )
    )
    assert config.round_interval_ms == ROUND_INTERVAL_MS_MIN
    assert config.batch_deliveries_max == BATCH_DELIVERIES_MAX
    assert config.round_packets_max == ROUND_PACKETS_MAX
    config = load_relayer_config(
        write(
            folder,
            good(
                f"round_interval_ms = {ROUND_INTERVAL_MS_MAX}\nbatch_deliveries_max = 1\n"
                f"backoff_max_ms = {ROUND_INTERVAL_MS_MAX}"
            ),
        )
    )
    assert config.round_interval_ms == ROUND_INTERVAL_MS_MAX
    assert config.batch_deliveries_max == 1


@pytest.mark.parametrize(
    ("nodes", "fragment"),
    [
        ("[]", '[chains.chain-b] nodes: must be a non-empty list of "HOST:PORT" strings'),
        ('"127.0.0.1:7050"', "must be a non-empty list"),
        ("[7050]", '[chains.chain-b] nodes: must list "HOST:PORT" strings, not 7050'),
        ('["localhost"]', "[chains.chain-b] nodes: 'localhost' is not HOST:PORT"),
        ('[":7050"]', "':7050' is not HOST:PORT"),
        ('["host:0"]', "'host:0': the port must be a number from 1 to 65535"),
        ('["host:65536"]', "'host:65536': the port must be a number"),
        ('["host:http"]', "'host:http': the port must be a number"),
        ('["a:1", "a:1"]', "[chains.chain-b] nodes: lists a node twice"),
    ],
)
def test_node_addresses_are_checked(folder: Path, nodes: str, fragment: str) -> None:
    chains = chain_table("chain-a") + chain_table("chain-b", nodes=nodes)
    refused(folder, good(chains=chains), fragment)


def test_nodes_per_chain_at_the_limit_and_one_past(folder: Path) -> None:
    addresses = [f"10.0.0.{index}:7050" for index in range(1, NODES_PER_CHAIN_MAX + 2)]
    at_limit = json.dumps(addresses[:NODES_PER_CHAIN_MAX])
    config = load_relayer_config(
        write(folder, good(chains=chain_table("chain-a", nodes=at_limit) + chain_table("chain-b")))
    )
    assert len(config.chains["chain-a"].nodes) == NODES_PER_CHAIN_MAX
    refused(
        folder,
        good(chains=chain_table("chain-a", nodes=json.dumps(addresses)) + chain_table("chain-b")),
        f"[chains.chain-a] nodes: lists {NODES_PER_CHAIN_MAX + 1} nodes, above 16",
    )


def test_check_node_address() -> None:
    assert check_node_address("127.0.0.1:1") is None
    assert check_node_address("[::1]:65535") is None
    assert check_node_address("node.example:7050") is None
    assert check_node_address("[]:7050") == "'[]:7050' is not HOST:PORT"


def test_identity_problems_name_the_chain_table(folder: Path) -> None:
    chains = chain_table("chain-a") + '\n[chains.chain-b]\nnodes = ["h:1"]\n'
    refused(folder, good(chains=chains), "[chains.chain-b] identity: is missing")
    chains = chain_table("chain-a") + '\n[chains.chain-b]\nnodes = ["h:1"]\nidentity = "nowhere"\n'
    refused(folder, good(chains=chains), "[chains.chain-b] identity: cannot read")
    # A member of another chain cannot sign for this one.
    chains = chain_table("chain-a") + (
        '\n[chains.chain-b]\nnodes = ["h:1"]\nidentity = "members/chain-c"\n'
    )
    refused(
        folder,
        good(chains=chains),
        "[chains.chain-b] identity: "
        + str(folder / "members" / "chain-c")
        + " is a member of chain 'chain-c', not 'chain-b'",
    )
    (folder / "members" / "chain-b" / "key.pem").write_text("not a key")
    refused(folder, good(), "[chains.chain-b] identity:")


def test_an_identity_without_a_chain_id_serves_the_chain_it_is_listed_for(folder: Path) -> None:
    write_member(folder / "members" / "chain-b", "org2/relayer")
    config = load_relayer_config(write(folder, good()))
    assert config.chains["chain-b"].identity.member_id == "org2/relayer"


def test_tls_files(folder: Path) -> None:
    (folder / "ca.pem").write_bytes(b"CA")
    (folder / "relayer.pem").write_bytes(b"CERTIFICATE")
    (folder / "relayer.key").write_bytes(b"KEY")
    extra = 'tls_ca = "ca.pem"\ntls_certificate = "relayer.pem"\ntls_key = "relayer.key"'
    config = load_relayer_config(
        write(folder, good(chains=chain_table("chain-a", extra) + chain_table("chain-b")))
    )
    tls = config.chains["chain-a"].tls
    assert tls is not None
    assert (tls.ca_pem, tls.certificate_pem, tls.key_pem) == (b"CA", b"CERTIFICATE", b"KEY")
    only_ca = load_relayer_config(
        write(
            folder,
            good(chains=chain_table("chain-a", 'tls_ca = "ca.pem"') + chain_table("chain-b")),
        )
    )
    assert only_ca.chains["chain-a"].tls is not None
    for extra, fragment in (
        (
            'tls_certificate = "relayer.pem"',
            "[chains.chain-a] tls_key: tls_certificate and tls_key go together",
        ),
        (
            'tls_key = "relayer.key"',
            "[chains.chain-a] tls_certificate: tls_certificate and tls_key",
        ),
        (
            'tls_certificate = "relayer.pem"\ntls_key = "relayer.key"',
            "[chains.chain-a] tls_ca: is needed with tls_certificate",
        ),
        ('tls_ca = "missing.pem"', "[chains.chain-a] tls_ca: cannot read"),
        ("tls_ca = 3", "[chains.chain-a] tls_ca: must be a non-empty string, not 3"),
        ('tls = "x"', "[chains.chain-a] tls: unknown key (known: nodes, identity, tls_ca,"),
    ):
        refused(
            folder, good(chains=chain_table("chain-a", extra) + chain_table("chain-b")), fragment
        )


def test_tls_file_at_the_limit_and_one_past(folder: Path) -> None:
    (folder / "ca.pem").write_bytes(b"x" * TLS_FILE_BYTES_MAX)
    chains = chain_table("chain-a", 'tls_ca = "ca.pem"') + chain_table("chain-b")
    assert load_relayer_config(write(folder, good(chains=chains))).chains["chain-a"].tls is not None
    (folder / "ca.pem").write_bytes(b"x" * (TLS_FILE_BYTES_MAX + 1))
    refused(
        folder,
        good(chains=chains),
        f"[chains.chain-a] tls_ca: {folder / 'ca.pem'} is larger than 65536 bytes",
    )


@pytest.mark.parametrize(
    ("links", "fragment"),
    [
        ("", "[[links]] is missing: name at least one link"),
        (LINK.replace('first_chain = "chain-a"\n', ""), "[links.0] first_chain: is missing"),
        (
            LINK.replace('"chain-b"', '"chain-z"'),
            "[links.0] second_chain: no chain 'chain-z' in [chains]",
        ),
        (
            LINK.replace('"chain-b"', '"chain-a"'),
            "[links.0] second_chain: a link joins two chains, not 'chain-a' to itself",
        ),
        (
            LINK.replace('"client-1"', '""'),
            "[links.0] first_client: must be a non-empty string, not ''",
        ),
        (
            LINK.replace('"client-2"', '"' + "c" * 65 + '"'),
            "[links.0] second_client: is longer than 64 characters",
        ),
        (LINK + "colour = 1\n", "[links.0] colour: unknown key (known: name, first_chain,"),
        (
            LINK + LINK + 'name = "other"\n',
            "[links.1]: client 'client-1' of chain 'chain-a' is also an end of [links.0]",
        ),
        (
            LINK + LINK.replace("client-1", "client-5").replace("client-2", "client-6"),
            "[links.1] name: 'chain-a/chain-b' is also the name of [links.0]",
        ),
    ],
)
def test_links_are_checked(folder: Path, links: str, fragment: str) -> None:
    refused(folder, good(links=links), fragment)


def test_links_that_are_not_tables(folder: Path) -> None:
    chains = chains_or_default("")
    refused(folder, "links = []\n" + chains, "[[links]] must be a non-empty array of tables")
    refused(folder, "links = [1]\n" + chains, "[links.0]: must be a table")


def test_two_links_between_the_same_chains_with_their_own_names_and_clients(folder: Path) -> None:
    second = LINK.replace("client-1", "client-5").replace("client-2", "client-6")
    config = load_relayer_config(write(folder, good(links=LINK + second + 'name = "second"\n')))
    assert [link.name for link in config.links] == ["chain-a/chain-b", "second"]


def test_links_and_chains_at_the_limit_and_one_past(folder: Path) -> None:
    def links(count: int) -> str:
        return "".join(
            LINK.replace("client-1", f"a-{index}").replace("client-2", f"b-{index}")
            + f'name = "link-{index}"\n'
            for index in range(count)
        )

    assert len(load_relayer_config(write(folder, good(links=links(LINKS_MAX)))).links) == LINKS_MAX
    refused(folder, good(links=links(LINKS_MAX + 1)), "[[links]] lists 257, above 256")
    chains = "".join(chain_table(f"chain-{index}") for index in range(CHAINS_MAX + 1))
    for index in range(CHAINS_MAX + 1):
        write_member(folder / "members" / f"chain-{index}", "org1/relayer")
    link = LINK.replace("chain-a", "chain-0").replace("chain-b", "chain-1")
    refused(folder, f"{chains}{link}", "[chains]: names 65 chains, above 64")
    chains = "".join(chain_table(f"chain-{index}") for index in range(CHAINS_MAX))
    assert len(load_relayer_config(write(folder, f"{chains}{link}")).chains) == CHAINS_MAX


def test_the_file_itself(folder: Path) -> None:
    refused(folder, "[relayer\n", "is not valid TOML")
    refused(
        folder,
        good() + "\n[extra]\n",
        "unknown table [extra] (known: [relayer], [chains], [[links]])",
    )
    refused(folder, "relayer = 1\n" + chains_or_default("") + LINK, "[relayer]: must be a table")
    refused(folder, LINK, "[chains] is missing: name at least two chains")
    refused(folder, "chains = 1\n" + LINK, "[chains]: must be a table")
    refused(folder, "[chains]\nchain-a = 1\n" + LINK, "[chains.chain-a]: must be a table")
    with pytest.raises(ConfigurationError, match=r"cannot read .*missing\.toml"):
        load_relayer_config(folder / "missing.toml")
    path = folder / "big.toml"
    path.write_text("#" * CONFIG_FILE_BYTES_MAX)
    # At the limit the file is read (and found to name no chain).
    with pytest.raises(ConfigurationError, match=r"\[chains\] is missing"):
        load_relayer_config(path)
    path.write_text("#" * (CONFIG_FILE_BYTES_MAX + 1))
    with pytest.raises(
        ConfigurationError, match=f"big.toml is larger than {CONFIG_FILE_BYTES_MAX} bytes"
    ):
        load_relayer_config(path)
