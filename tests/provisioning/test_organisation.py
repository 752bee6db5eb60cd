"""Organisations that keep their own keys: org init's folder, its public part, a genesis
assembled from public parts only, node homes, and join requests."""

from __future__ import annotations

import json
import shutil
import stat
import time
import tomllib
from pathlib import Path

import pytest

from causeway.contracts.v1 import contracts_pb2, nodes_pb2
from causeway.crypto import PrivateKey, get_profile, verify_member_certificate
from causeway.errors import CausewayError, ConfigurationError
from causeway.provisioning.assembly import (
    assemble_genesis,
    join_request,
    load_genesis,
    node_records_proposals,
    peers_from_json,
    write_assembled,
    write_node_homes,
    write_node_records_proposals,
)
from causeway.provisioning.organisation import (
    PublicOrganisation,
    build_organisation,
    load_public_organisation,
    public_organisation_from_json,
    public_organisation_to_json,
    write_organisation,
)
from causeway.sdk import Identity
from causeway.types import decode, genesis_hash
from causeway.types.proposal_draft import (
    PROPOSAL_CALLS_MAX,
    parse_proposal_draft,
    proposal_draft_text,
)
from causeway.types.v1 import types_pb2

NOW_MS = int(time.time() * 1000)
CHAIN_ID = "consortium"


def _organisation(
    directory: Path,
    organisation_id: str,
    crypto: str = "intl",
    *,
    nodes: int = 1,
    port_base: int = 20000,
    passphrase: bytes | None = None,
    chain_id: str = "",
) -> PublicOrganisation:
    description = build_organisation(
        organisation_id,
        crypto,
        now_ms=NOW_MS,
        nodes=nodes,
        port_base=port_base,
        chain_id=chain_id or (CHAIN_ID if crypto == "gm" else ""),
    )
    write_organisation(description, directory / organisation_id, passphrase=passphrase)
    return load_public_organisation(directory / organisation_id / "public")


def _three(directory: Path, crypto: str = "intl") -> list[PublicOrganisation]:
    return [
        _organisation(directory, name, crypto, port_base=20000 + 10 * index)
        for index, name in enumerate(("city", "port", "rail"))
    ]


@pytest.mark.parametrize("crypto", ["intl", "gm"])
def test_org_init_writes_private_keys_apart_from_the_public_folder(
    tmp_path: Path, crypto: str
) -> None:
    public = _organisation(tmp_path, "city", crypto, nodes=2)
    folder = tmp_path / "city"
    assert public.id == "city" and public.crypto_profile == crypto
    assert [member.id for member in public.members] == [
        "city/admin",
        "city/client",
        "city/city-node1",
        "city/city-node2",
    ]
    assert [node.name for node in public.nodes] == ["city-node1", "city-node2"]
    for member in public.members:
        verify_member_certificate(CHAIN_ID, public.organisation, member, NOW_MS)
    public_files = sorted(path.name for path in (folder / "public").iterdir())
    # ca.crt on both profiles: an SM2 X.509 CA certificate on gm (docs/certificates.md).
    expected = ["organisation.json", "tls-ca.crt", "ca.crt"]
    assert public_files == sorted(expected)
    for path in (folder / "public").iterdir():
        assert b"PRIVATE KEY" not in path.read_bytes()
    for key_file in [folder / "ca/key.pem", *folder.glob("members/*/key.pem")]:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        PrivateKey.from_pem(key_file.read_bytes())
    admin = Identity.load(folder / "members/admin")
    assert admin.member_id == "city/admin"
    assert admin.key.public_key().raw == public.member("city/admin").public_key


def test_the_public_record_round_trips_and_refuses_unknown_fields(tmp_path: Path) -> None:
    public = _organisation(tmp_path, "city")
    text = public_organisation_to_json(public)
    assert public_organisation_from_json(text, "x") == public
    document = json.loads(text)
    document["private_key"] = "oops"
    with pytest.raises(ConfigurationError, match="unknown field"):
        public_organisation_from_json(json.dumps(document), "x")


def test_passphrase_encrypts_every_private_key_but_the_tls_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _organisation(tmp_path, "city", "gm", passphrase=b"city secret")
    folder = tmp_path / "city"
    encrypted = [
        folder / "ca/key.pem",
        folder / "tls-ca/key.pem",
        *folder.glob("members/*/key.pem"),
    ]
    for key_file in encrypted:
        assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (
        (folder / "members/city-node1/tls/node.key")
        .read_bytes()
        .startswith(b"-----BEGIN PRIVATE KEY-----")
    )
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE_FILE", raising=False)
    with pytest.raises(CausewayError, match="encrypted: give its passphrase"):
        Identity.load(folder / "members/admin")
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE", "city secret")
    assert Identity.load(folder / "members/admin").algorithm == "sm2"


def test_bad_org_init_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="organisation id 'City'"):
        build_organisation("City", "intl", now_ms=NOW_MS)
    # SM2 X.509 certificates name no chain: a gm organisation needs no chain id.
    assert build_organisation("city", "gm", now_ms=NOW_MS).public.chain_id == ""
    with pytest.raises(ConfigurationError, match="chain id"):
        build_organisation("city", "gm", now_ms=NOW_MS, chain_id="Bad Id")
    with pytest.raises(ConfigurationError, match="not part of the intl crypto profile"):
        build_organisation("city", "intl", now_ms=NOW_MS, algorithm="sm2")
    with pytest.raises(ConfigurationError, match="unknown node"):
        build_organisation("city", "intl", now_ms=NOW_MS, node_addresses={"node9": "h:1"})
    with pytest.raises(ConfigurationError, match="is not HOST:PORT"):
        build_organisation("city", "intl", now_ms=NOW_MS, node_addresses={"city-node1": "no port"})
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    description = build_organisation("city", "intl", now_ms=NOW_MS)
    with pytest.raises(ConfigurationError, match="is not empty"):
        write_organisation(description, tmp_path / "taken")
    assert sorted(path.name for path in (tmp_path / "taken").iterdir()) == ["file"]


@pytest.mark.parametrize("crypto", ["intl", "gm"])
def test_a_genesis_from_public_parts_gives_each_node_its_home(tmp_path: Path, crypto: str) -> None:
    organisations = _three(tmp_path, crypto)
    network = assemble_genesis(
        organisations,
        chain_id=CHAIN_ID,
        consensus="tbft",
        now_ms=NOW_MS,
        allow_concentrated_power=True,
    )
    genesis = network.genesis
    assert [o.id for o in genesis.organisations] == ["city", "port", "rail"]
    assert [v.member_id for v in genesis.validators.validators] == [
        "city/city-node1",
        "port/port-node1",
        "rail/rail-node1",
    ]
    assert network.voting_power == {"city": 1, "port": 1, "rail": 1}
    genesis_path, peers_path = write_assembled(network, tmp_path / "shared" / "genesis.json")
    peers = peers_from_json(peers_path.read_text(), "peers")
    assert peers.genesis_hash == genesis_hash(genesis, get_profile(crypto).hash)
    assert len(peers.tls_ca_certificates) == 3
    homes = write_node_homes(tmp_path / "port", genesis_path)
    assert homes == [(tmp_path / "port" / "nodes" / "port-node1").absolute()]
    home = homes[0]
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["node"]["member_id"] == "port/port-node1"
    assert config["peers"]["listen_address"] == "127.0.0.1:20012"
    assert [peer["name"] for peer in config["peers"]["peer"]] == ["city-node1", "rail-node1"]
    assert load_genesis(home / "genesis.json") == genesis
    assert (home / "key.pem").read_bytes() == (
        tmp_path / "port" / "members" / "port-node1" / "key.pem"
    ).read_bytes()
    assert (home / "tls" / "ca-bundle.pem").read_text().count("BEGIN CERTIFICATE") == 3
    with pytest.raises(ConfigurationError, match="is not empty"):
        write_node_homes(tmp_path / "port", genesis_path)
    assert write_node_homes(tmp_path / "port", genesis_path, force=True) == homes


def test_voting_power_is_spread_unless_the_operator_insists(tmp_path: Path) -> None:
    organisations = _three(tmp_path)
    with pytest.raises(ConfigurationError, match=r"city 1/3, port 1/3, rail 1/3"):
        assemble_genesis(organisations, chain_id=CHAIN_ID, consensus="tbft", now_ms=NOW_MS)
    organisations.append(_organisation(tmp_path, "water", port_base=20100))
    network = assemble_genesis(organisations, chain_id=CHAIN_ID, consensus="tbft", now_ms=NOW_MS)
    assert sum(network.voting_power.values()) == 4
    big = _organisation(tmp_path, "grid", nodes=3, port_base=20200)
    with pytest.raises(ConfigurationError, match=r"grid 3/7"):
        assemble_genesis(
            [*organisations, big],
            chain_id=CHAIN_ID,
            consensus="tbft",
            now_ms=NOW_MS,
            validators_per_organisation=3,
        )
    with pytest.raises(ConfigurationError, match="solo consensus has exactly one validator"):
        assemble_genesis(
            organisations,
            chain_id=CHAIN_ID,
            consensus="solo",
            now_ms=NOW_MS,
            allow_concentrated_power=True,
        )


def test_bad_public_parts_are_refused_with_clear_errors(tmp_path: Path) -> None:
    city, port, rail = _three(tmp_path)
    assemble = {"chain_id": CHAIN_ID, "consensus": "tbft", "now_ms": NOW_MS}
    with pytest.raises(ConfigurationError, match="'city' is given twice"):
        assemble_genesis([city, port, city], **assemble)  # type: ignore[arg-type]
    gm = _organisation(tmp_path, "gmorg", "gm", port_base=20300)
    with pytest.raises(ConfigurationError, match="different crypto profiles"):
        assemble_genesis([city, port, gm], **assemble)  # type: ignore[arg-type]
    other_chain = _organisation(tmp_path, "gmtwo", "gm", port_base=20400, chain_id="other")
    with pytest.raises(ConfigurationError, match="was made for chain 'other'"):
        assemble_genesis([gm, other_chain], **assemble)  # type: ignore[arg-type]
    # A member certificate another CA issued: port's admin, claimed by city.
    forged = types_pb2.Member()
    forged.CopyFrom(port.member("port/admin"))
    forged.id, forged.organisation = "city/admin", "city"
    tampered = PublicOrganisation(
        crypto_profile=city.crypto_profile,
        chain_id=city.chain_id,
        organisation=city.organisation,
        members=(forged, *city.members[1:]),
        tls_ca_certificate=city.tls_ca_certificate,
        nodes=city.nodes,
    )
    with pytest.raises(ConfigurationError, match="its CA does not verify member 'city/admin'"):
        assemble_genesis([tampered, port, rail], **assemble)  # type: ignore[arg-type]
    # A file that does not belong in a public folder (a private key, say).
    leaky = tmp_path / "rail" / "public"
    shutil.copy(tmp_path / "rail" / "ca" / "key.pem", leaky / "key.pem")
    with pytest.raises(ConfigurationError, match=r"holds key\.pem, which a public"):
        load_public_organisation(leaky)
    (leaky / "key.pem").unlink()
    (tmp_path / "rail" / "public" / "tls-ca.crt").write_text(
        (tmp_path / "city" / "public" / "tls-ca.crt").read_text()
    )
    with pytest.raises(ConfigurationError, match="is not the certificate"):
        load_public_organisation(leaky)
    with pytest.raises(ConfigurationError, match="is not a folder"):
        load_public_organisation(tmp_path / "absent")


def test_node_homes_need_their_own_genesis(tmp_path: Path) -> None:
    organisations = _three(tmp_path)
    water = _organisation(tmp_path, "water", port_base=20100)
    network = assemble_genesis(
        organisations,
        chain_id=CHAIN_ID,
        consensus="tbft",
        now_ms=NOW_MS,
        allow_concentrated_power=True,
    )
    genesis_path, peers_path = write_assembled(network, tmp_path / "shared" / "genesis.json")
    del water
    with pytest.raises(ConfigurationError, match="does not hold organisation 'water'"):
        write_node_homes(tmp_path / "water", genesis_path)
    other = assemble_genesis(
        organisations,
        chain_id="another",
        consensus="tbft",
        now_ms=NOW_MS,
        allow_concentrated_power=True,
    )
    write_assembled(other, tmp_path / "other" / "genesis.json")
    with pytest.raises(ConfigurationError, match="was written for another genesis"):
        write_node_homes(tmp_path / "city", genesis_path, tmp_path / "other" / "peers.json")
    with pytest.raises(ConfigurationError, match="exists"):
        write_assembled(network, genesis_path)
    assert not (tmp_path / "city" / "nodes").exists()
    del peers_path


def test_join_request_lists_the_calls_that_add_the_organisation(tmp_path: Path) -> None:
    organisations = _three(tmp_path)
    network = assemble_genesis(
        organisations,
        chain_id=CHAIN_ID,
        consensus="tbft",
        now_ms=NOW_MS,
        allow_concentrated_power=True,
    )
    harbour = _organisation(tmp_path, "harbour", port_base=20500)
    draft = parse_proposal_draft(
        proposal_draft_text(join_request(harbour, network.genesis, now_ms=NOW_MS))
    )
    assert draft.title == "Add organisation harbour"
    assert [(call.contract, call.method) for call in draft.calls] == [
        ("membership", "add_organisation"),
        ("membership", "add_member"),
        ("membership", "add_member"),
        ("membership", "add_member"),
        ("nodes", "set_tls_authority"),
        ("nodes", "set_endpoint"),
    ]
    authority = decode(
        nodes_pb2.NodesSetTlsAuthorityArguments, draft.calls[4].arguments, bytes_max=1 << 20
    ).authority
    assert (authority.organisation, authority.certificate) == (
        "harbour",
        harbour.tls_ca_certificate,
    )
    endpoint = decode(
        nodes_pb2.NodesSetEndpointArguments, draft.calls[5].arguments, bytes_max=1 << 20
    ).endpoint
    (node,) = harbour.nodes
    assert (endpoint.member_id, endpoint.name, endpoint.address) == (
        node.member_id,
        node.name,
        node.address,
    )
    added = decode(
        contracts_pb2.MembershipAddOrganisationArguments,
        draft.calls[0].arguments,
        bytes_max=1 << 20,
    )
    assert added.organisation == harbour.organisation
    members = [
        decode(
            contracts_pb2.MembershipAddMemberArguments, call.arguments, bytes_max=1 << 20
        ).member.id
        for call in draft.calls[1:4]
    ]
    assert members[0] == "harbour/admin"
    assert sorted(members) == sorted(member.id for member in harbour.members)
    validators = join_request(harbour, network.genesis, now_ms=NOW_MS, validator=True)
    (call,) = validators.calls
    assert (call.contract, call.method) == ("validators", "update")
    update = decode(contracts_pb2.ValidatorsUpdateArguments, call.arguments, bytes_max=1 << 20)
    assert [(u.member_id, u.voting_power) for u in update.updates] == [("harbour/harbour-node1", 1)]
    with pytest.raises(ConfigurationError, match="in the genesis of 'consortium' already"):
        join_request(organisations[0], network.genesis, now_ms=NOW_MS)
    gm = _organisation(tmp_path, "gmorg", "gm", port_base=20600)
    with pytest.raises(ConfigurationError, match="uses gm, the chain"):
        join_request(gm, network.genesis, now_ms=NOW_MS)


def test_the_first_proposals_record_every_tls_ca_and_node_endpoint(tmp_path: Path) -> None:
    """genesis assemble's nodes-proposal.json: each organisation's TLS CA and each node's
    endpoint, PROPOSAL_CALLS_MAX calls a draft at most."""
    organisations = [
        _organisation(tmp_path, name, nodes=3, port_base=21000 + 20 * index)
        for index, name in enumerate(("city", "port", "rail", "water", "power"))
    ]
    drafts = node_records_proposals(organisations, "consortium")
    calls = [call for draft in drafts for call in draft.calls]
    assert len(calls) == 5 * (1 + 3)
    assert [len(draft.calls) for draft in drafts] == [PROPOSAL_CALLS_MAX, 20 - PROPOSAL_CALLS_MAX]
    assert drafts[0].title == "Record the nodes of chain consortium (1 of 2)"
    endpoints = [
        decode(nodes_pb2.NodesSetEndpointArguments, call.arguments, bytes_max=1 << 20).endpoint
        for call in calls
        if call.method == "set_endpoint"
    ]
    assert sorted(endpoint.member_id for endpoint in endpoints) == sorted(
        node.member_id for organisation in organisations for node in organisation.nodes
    )
    written = write_node_records_proposals(
        organisations, "consortium", tmp_path / "net" / "genesis.json"
    )
    assert [path.name for path in written] == ["nodes-proposal-1.json", "nodes-proposal-2.json"]
    assert parse_proposal_draft(written[1].read_text(encoding="utf-8")) == drafts[1]
    with pytest.raises(ConfigurationError, match="exists"):
        write_node_records_proposals(organisations, "consortium", tmp_path / "net" / "genesis.json")
