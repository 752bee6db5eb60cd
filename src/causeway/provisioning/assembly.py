"""A genesis from organisations' public parts, node homes from one's own keys, join requests.

`causeway genesis assemble` reads only public/ folders (provisioning.organisation) and writes
the genesis plus peers.json beside it: every node's name, member id and address and every
organisation's TLS CA, which is all that a node needs to find and trust its peers:

```json
{"version": 1, "chain_id": "...", "genesis_hash": "<hex>",
 "nodes": [{"name": "city-node1", "member_id": "city/city-node1", "address": "10.0.0.1:7150"}],
 "tls_ca_certificates": ["-----BEGIN CERTIFICATE-----..."]}
```

Each organisation then runs `causeway org node-config` with the two files, which writes its own
nodes' homes from its own folder. `causeway org join-request` writes the PROPOSAL DRAFT that adds
an organisation to a running chain (causeway.types.proposal_draft).

Validators: each organisation gives its first `validators_per_organisation` nodes, voting power
1 each. As in BFT one third of the power can halt a chain (and the hub refuses such a member
chain, DESIGN.md section 4), no organisation may hold a third or more of the power unless the
operator insists (allow_concentrated_power).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from causeway.contracts.v1 import contracts_pb2, nodes_pb2
from causeway.crypto import get_profile, verify_member_certificate
from causeway.errors import CausewayError, ConfigurationError
from causeway.provisioning.description import (
    CONSENSUS_KINDS,
    GENESIS_VERSION,
    check_chain_id,
    default_chain_config,
)
from causeway.provisioning.files import (
    KEY_FILE_NAME,
    TLS_CERTIFICATE_FILE_NAME,
    TLS_DIRECTORY,
    TLS_KEY_FILE_NAME,
    NodeHome,
    NodePeer,
    certificate_to_pem,
    check_target,
    genesis_from_json,
    genesis_to_json,
    staging_directory,
    write_node_home,
)
from causeway.provisioning.organisation import (
    FORMAT_VERSION,
    MEMBERS_DIRECTORY,
    ORGANISATION_NODES_DIRECTORY,
    PublicOrganisation,
    check_address,
    check_node_tls_certificate,
    load_organisation_record,
    load_public_organisation,
    read_bounded_text,
)
from causeway.types import encode, genesis_hash
from causeway.types.proposal_draft import (
    PROPOSAL_CALLS_MAX,
    DraftCall,
    ProposalDraft,
    proposal_draft_text,
)
from causeway.types.v1 import types_pb2

PEERS_FILE_NAME = "peers.json"
NODES_PROPOSAL_FILE_NAME = "nodes-proposal.json"
ORGANISATIONS_MAX = 64
VALIDATOR_VOTING_POWER = 1
KEY_FILE_BYTES_MAX = 64 * 1024


@dataclass(frozen=True, slots=True)
class PeersFile:
    chain_id: str
    genesis_hash: bytes
    peers: tuple[NodePeer, ...]
    tls_ca_certificates: tuple[str, ...]
    """PEM, one per organisation."""

    def tls_ca_bundle(self) -> bytes:
        return "".join(self.tls_ca_certificates).encode("ascii")


@dataclass(frozen=True, slots=True)
class AssembledNetwork:
    genesis: types_pb2.Genesis
    peers: PeersFile
    voting_power: dict[str, int]
    """Organisation id to its validators' total voting power."""


def _check_organisations(
    organisations: Sequence[PublicOrganisation], chain_id: str, now_ms: int
) -> str:
    """The common crypto profile; ConfigurationError naming the organisation for any fault."""
    if not organisations:
        raise ConfigurationError("give at least one organisation's public folder (--org)")
    if len(organisations) > ORGANISATIONS_MAX:
        raise ConfigurationError(
            f"at most {ORGANISATIONS_MAX} organisations, not {len(organisations)}"
        )
    seen: set[str] = set()
    node_names: dict[str, str] = {}
    addresses: dict[str, str] = {}
    profiles = {organisation.crypto_profile for organisation in organisations}
    if len(profiles) != 1:
        listed = ", ".join(f"{o.id} ({o.crypto_profile})" for o in organisations)
        raise ConfigurationError(
            f"the organisations use different crypto profiles: {listed}; a chain has one"
        )
    profile = get_profile(profiles.pop())
    for organisation in organisations:
        name = organisation.id
        if name in seen:
            raise ConfigurationError(f"organisation {name!r} is given twice")
        seen.add(name)
        if organisation.organisation.ca_algorithm not in profile.algorithms:
            raise ConfigurationError(
                f"organisation {name!r} has a {organisation.organisation.ca_algorithm} CA, which"
                f" is not part of the {profile.name} profile"
            )
        if organisation.chain_id and organisation.chain_id != chain_id:
            raise ConfigurationError(
                f"organisation {name!r} was made for chain"
                f" {organisation.chain_id!r}, not {chain_id!r}: it runs `org init` again with"
                f" --chain-id {chain_id}"
            )
        member_ids = set()
        for member in organisation.members:
            if member.id in member_ids:
                raise ConfigurationError(f"organisation {name!r} lists member {member.id!r} twice")
            member_ids.add(member.id)
            try:
                verify_member_certificate(chain_id, organisation.organisation, member, now_ms)
            except CausewayError as error:
                raise ConfigurationError(
                    f"organisation {name!r}: its CA does not verify member {member.id!r}:"
                    f" {error.message}"
                ) from None
        for node in organisation.nodes:
            member = organisation.member(node.member_id)
            if types_pb2.ROLE_CONSENSUS not in member.roles:
                raise ConfigurationError(
                    f"node {node.name!r} of {name!r} is member {member.id!r}, which lacks the"
                    " CONSENSUS role"
                )
            if node.name in node_names:
                raise ConfigurationError(
                    f"node name {node.name!r} is used by {node_names[node.name]!r} and {name!r}"
                )
            node_names[node.name] = name
            check_address(node.address, f"the address of node {node.name!r}")
            if node.address in addresses:
                raise ConfigurationError(
                    f"node {node.name!r} has the address {node.address} of"
                    f" {addresses[node.address]!r}"
                )
            addresses[node.address] = node.name
            check_node_tls_certificate(organisation, node)
    return profile.name


def assemble_genesis(
    organisations: Sequence[PublicOrganisation],
    *,
    chain_id: str,
    consensus: str,
    now_ms: int,
    validators_per_organisation: int = 1,
    allow_concentrated_power: bool = False,
    config: types_pb2.ChainConfig | None = None,
) -> AssembledNetwork:
    """The genesis of a chain of these organisations and the peers file of its nodes.

    ConfigurationError for duplicate organisations or node names, mixed crypto profiles,
    certificates the organisation's CA does not verify, no validators, solo with more than one
    validator, and an organisation with a third or more of the voting power (unless allowed).
    """
    check_chain_id(chain_id)
    if consensus not in CONSENSUS_KINDS:
        raise ConfigurationError(
            f"unknown consensus {consensus!r}; choose one of {', '.join(CONSENSUS_KINDS)}"
        )
    if validators_per_organisation < 1:
        raise ConfigurationError("--validators-per-org must be at least 1")
    profile_name = _check_organisations(organisations, chain_id, now_ms)
    validators: list[types_pb2.Validator] = []
    power: dict[str, int] = {}
    for organisation in organisations:
        chosen = organisation.nodes[:validators_per_organisation]
        power[organisation.id] = VALIDATOR_VOTING_POWER * len(chosen)
        for node in chosen:
            member = organisation.member(node.member_id)
            validators.append(
                types_pb2.Validator(
                    member_id=member.id,
                    algorithm=member.algorithm,
                    public_key=member.public_key,
                    voting_power=VALIDATOR_VOTING_POWER,
                )
            )
    total = sum(power.values())
    if total == 0:
        raise ConfigurationError("no organisation has a node: a chain needs a validator")
    if consensus == "solo" and len(validators) != 1:
        raise ConfigurationError(
            f"solo consensus has exactly one validator, these organisations give {len(validators)}"
        )
    concentrated = sorted(name for name, value in power.items() if 3 * value >= total)
    if concentrated and not allow_concentrated_power:
        shares = ", ".join(f"{name} {power[name]}/{total}" for name in concentrated)
        raise ConfigurationError(
            f"{shares} of the voting power: an organisation with a third or more can halt the"
            " chain alone. Add organisations or validators, or pass --allow-concentrated-power"
        )
    genesis = types_pb2.Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        genesis_time_ms=now_ms,
        crypto_profile=profile_name,
        consensus=consensus,
        config=config if config is not None else default_chain_config(),
        organisations=[organisation.organisation for organisation in organisations],
        members=[member for organisation in organisations for member in organisation.members],
        validators=types_pb2.ValidatorSet(validators=validators),
    )
    peers = PeersFile(
        chain_id=chain_id,
        genesis_hash=genesis_hash(genesis, get_profile(profile_name).hash),
        peers=tuple(
            NodePeer(name=node.name, member_id=node.member_id, address=node.address)
            for organisation in organisations
            for node in organisation.nodes
        ),
        tls_ca_certificates=tuple(
            certificate_to_pem(organisation.tls_ca_certificate) for organisation in organisations
        ),
    )
    return AssembledNetwork(genesis=genesis, peers=peers, voting_power=power)


def peers_to_json(peers: PeersFile) -> str:
    document = {
        "version": FORMAT_VERSION,
        "chain_id": peers.chain_id,
        "genesis_hash": peers.genesis_hash.hex(),
        "nodes": [
            {"name": peer.name, "member_id": peer.member_id, "address": peer.address}
            for peer in peers.peers
        ],
        "tls_ca_certificates": list(peers.tls_ca_certificates),
    }
    return json.dumps(document, indent=2) + "\n"


def peers_from_json(text: str, source: str) -> PeersFile:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ConfigurationError(f"{source} is not valid JSON: {error}") from None
    if (
        not isinstance(document, dict)
        or document.get("version") != FORMAT_VERSION
        or set(document) != {"version", "chain_id", "genesis_hash", "nodes", "tls_ca_certificates"}
    ):
        raise ConfigurationError(f"{source} is not a peers file written by `genesis assemble`")
    nodes, authorities = document["nodes"], document["tls_ca_certificates"]
    if not isinstance(nodes, list) or not isinstance(authorities, list):
        raise ConfigurationError(f"{source}: nodes and tls_ca_certificates are lists")
    peers = []
    for index, node in enumerate(nodes):
        if (
            not isinstance(node, dict)
            or set(node) != {"name", "member_id", "address"}
            or not all(isinstance(value, str) for value in node.values())
        ):
            raise ConfigurationError(f"{source}: nodes[{index}] is not a name, member_id, address")
        peers.append(
            NodePeer(name=node["name"], member_id=node["member_id"], address=node["address"])
        )
    if not all(
        isinstance(pem, str) and pem.startswith("-----BEGIN CERTIFICATE-----")
        for pem in authorities
    ):
        raise ConfigurationError(f"{source}: tls_ca_certificates are PEM certificates")
    try:
        hash_bytes = bytes.fromhex(str(document["genesis_hash"]))
    except ValueError:
        raise ConfigurationError(f"{source}: genesis_hash is not hex") from None
    return PeersFile(
        chain_id=str(document["chain_id"]),
        genesis_hash=hash_bytes,
        peers=tuple(peers),
        tls_ca_certificates=tuple(authorities),
    )


def peers_path_for(genesis_path: Path) -> Path:
    """Where `genesis assemble` writes the peers file: beside the genesis."""
    return genesis_path.parent / PEERS_FILE_NAME


def _write_new_file(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigurationError(f"{path} exists; choose another path or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ConfigurationError(f"cannot write {path}: {error.strerror or error}") from None


def write_assembled(
    network: AssembledNetwork, genesis_path: Path, *, force: bool = False
) -> tuple[Path, Path]:
    """Writes the genesis and peers.json beside it; refuses existing files unless force."""
    peers_path = peers_path_for(genesis_path)
    for path in (genesis_path, peers_path):
        if path.exists() and not force:
            raise ConfigurationError(f"{path} exists; choose another path or pass --force")
    _write_new_file(genesis_path, genesis_to_json(network.genesis), force=force)
    _write_new_file(peers_path, peers_to_json(network.peers), force=force)
    return genesis_path, peers_path


def load_genesis(path: Path) -> types_pb2.Genesis:
    genesis = genesis_from_json(read_bounded_text(path, 64 << 20))
    if not genesis.chain_id:
        raise ConfigurationError(f"{path} is a genesis without a chain id")
    return genesis


def _read_private_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(KEY_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > KEY_FILE_BYTES_MAX:
        raise ConfigurationError(f"{path} is larger than {KEY_FILE_BYTES_MAX} bytes")
    return data


def write_node_homes(
    organisation_directory: Path,
    genesis_path: Path,
    peers_path: Path | None = None,
    *,
    force: bool = False,
) -> list[Path]:
    """Writes DIR/nodes/<node>/ for each node of the organisation in DIR, from its own keys,
    the genesis and the peers file; returns the homes. Checks that the genesis holds this
    organisation (same CA key) and its nodes, and that the peers file belongs to the genesis."""
    directory = organisation_directory.absolute()
    record = load_organisation_record(directory)
    public = load_public_organisation(directory)
    genesis = load_genesis(genesis_path)
    peers_file = peers_path or peers_path_for(genesis_path)
    peers = peers_from_json(read_bounded_text(peers_file), str(peers_file))
    profile = get_profile(genesis.crypto_profile)
    if peers.genesis_hash != genesis_hash(genesis, profile.hash):
        raise ConfigurationError(
            f"{peers_file} was written for another genesis than {genesis_path}"
        )
    in_genesis = {organisation.id: organisation for organisation in genesis.organisations}
    own = in_genesis.get(record.organisation_id)
    if own is None:
        raise ConfigurationError(
            f"{genesis_path} does not hold organisation {record.organisation_id!r}; a new"
            " organisation joins a running chain through `causeway org join-request`"
        )
    if own.ca_public_key != public.organisation.ca_public_key:
        raise ConfigurationError(
            f"organisation {record.organisation_id!r} in {genesis_path} has another CA than"
            f" the one in {directory}"
        )
    members = {member.id: member for member in genesis.members}
    homes: list[Path] = []
    nodes_root = directory / ORGANISATION_NODES_DIRECTORY
    for node in record.nodes:
        if node.member_id not in members:
            raise ConfigurationError(f"{genesis_path} does not hold node member {node.member_id!r}")
        home = nodes_root / node.name
        if home.exists():
            check_target(home, force=force)
        homes.append(home)
    nodes_root.mkdir(parents=True, exist_ok=True)
    for node, home in zip(record.nodes, homes, strict=True):
        member_directory = directory / MEMBERS_DIRECTORY / node.name
        node_home = NodeHome(
            name=node.name,
            member=members[node.member_id],
            key_pem=_read_private_bytes(member_directory / KEY_FILE_NAME),
            settings=node.settings,
            tls_key_pem=_read_private_bytes(member_directory / TLS_DIRECTORY / TLS_KEY_FILE_NAME),
            tls_certificate_pem=_read_private_bytes(
                member_directory / TLS_DIRECTORY / TLS_CERTIFICATE_FILE_NAME
            ),
        )
        try:
            with staging_directory(nodes_root, node.name) as staging:
                write_node_home(
                    staging,
                    node_home,
                    peers=peers.peers,
                    genesis_text=genesis_to_json(genesis),
                    tls_ca_bundle=peers.tls_ca_bundle(),
                    crypto_profile=profile.name,
                )
                if home.exists():
                    shutil.rmtree(home)
                os.replace(staging, home)
        except OSError as error:
            raise ConfigurationError(f"cannot write the node home {home}: {error}") from None
    return homes


def join_request(
    public: PublicOrganisation,
    genesis: types_pb2.Genesis,
    *,
    now_ms: int,
    validator: bool = False,
    voting_power: int = VALIDATOR_VOTING_POWER,
) -> ProposalDraft:
    """The PROPOSAL DRAFT adding this organisation (its CA, then its members, admin first) to
    the chain of `genesis`; with `validator`, instead the later draft making its nodes
    validators (validators.update), once the first has executed."""
    if public.crypto_profile != get_profile(genesis.crypto_profile).name:
        raise ConfigurationError(
            f"organisation {public.id!r} uses {public.crypto_profile}, the chain"
            f" {genesis.chain_id!r} uses {genesis.crypto_profile}"
        )
    _check_organisations([public], genesis.chain_id, now_ms)
    if validator:
        if not public.nodes:
            raise ConfigurationError(f"organisation {public.id!r} has no node to make a validator")
        if voting_power < 1:
            raise ConfigurationError("the voting power of a validator is at least 1")
        updates = [
            contracts_pb2.ValidatorPowerUpdate(member_id=node.member_id, voting_power=voting_power)
            for node in public.nodes
        ]
        names = ", ".join(node.name for node in public.nodes)
        return ProposalDraft(
            title=f"Make the nodes of {public.id} validators",
            description=(
                f"validators.update: {names} with voting power {voting_power} each, on chain"
                f" {genesis.chain_id}. Vote once the proposal adding {public.id} has executed"
                " and its nodes follow the chain."
            ),
            calls=(
                _call(
                    "validators", "update", contracts_pb2.ValidatorsUpdateArguments(updates=updates)
                ),
            ),
        )
    if any(organisation.id == public.id for organisation in genesis.organisations):
        raise ConfigurationError(
            f"organisation {public.id!r} is in the genesis of {genesis.chain_id!r} already"
        )
    members = sorted(
        public.members, key=lambda member: (types_pb2.ROLE_ADMIN not in member.roles, member.id)
    )
    calls = [
        _call(
            "membership",
            "add_organisation",
            contracts_pb2.MembershipAddOrganisationArguments(organisation=public.organisation),
        ),
        *(
            _call(
                "membership",
                "add_member",
                contracts_pb2.MembershipAddMemberArguments(member=member),
            )
            for member in members
        ),
        *node_record_calls(public),
    ]
    return ProposalDraft(
        title=f"Add organisation {public.id}",
        description=(
            f"membership.add_organisation {public.id} ({public.organisation.ca_algorithm} CA) and"
            f" membership.add_member for {', '.join(member.id for member in members)}; its TLS"
            f" CA and its nodes' endpoints (nodes.set_tls_authority, nodes.set_endpoint), so"
            f" that the chain's nodes trust and dial them; on chain {genesis.chain_id}."
        ),
        calls=tuple(calls),
    )


def node_record_calls(public: PublicOrganisation) -> list[DraftCall]:
    """The calls that put an organisation's TLS CA and its nodes' endpoints on chain, where every
    node reads whom to dial and whose TLS certificates to trust (causeway.node follows them
    without a restart)."""
    return [
        _call(
            "nodes",
            "set_tls_authority",
            nodes_pb2.NodesSetTlsAuthorityArguments(
                authority=nodes_pb2.TlsAuthority(
                    organisation=public.id, certificate=public.tls_ca_certificate
                )
            ),
        ),
        *(
            _call(
                "nodes",
                "set_endpoint",
                nodes_pb2.NodesSetEndpointArguments(
                    endpoint=nodes_pb2.NodeEndpoint(
                        member_id=node.member_id, name=node.name, address=node.address
                    )
                ),
            )
            for node in public.nodes
        ),
    ]


def node_records_proposals(
    organisations: Sequence[PublicOrganisation], chain_id: str
) -> tuple[ProposalDraft, ...]:
    """The first proposals of an assembled chain: every organisation's TLS CA and every node's
    endpoint recorded on chain (node_record_calls), PROPOSAL_CALLS_MAX calls a draft at most.
    Until they execute, nodes dial the peers of peers.json; from then on, the chain's records,
    which a node that joins later also reads."""
    calls = [call for public in organisations for call in node_record_calls(public)]
    chunks = [
        calls[start : start + PROPOSAL_CALLS_MAX]
        for start in range(0, len(calls), PROPOSAL_CALLS_MAX)
    ]
    return tuple(
        ProposalDraft(
            title=f"Record the nodes of chain {chain_id}"
            + (f" ({index} of {len(chunks)})" if len(chunks) > 1 else ""),
            description=(
                "nodes.set_tls_authority for every organisation of the genesis and "
                "nodes.set_endpoint for every node: the chain's own record of whom its nodes "
                "trust and dial, which nodes that join later read too."
            ),
            calls=tuple(chunk),
        )
        for index, chunk in enumerate(chunks, start=1)
    )


def write_node_records_proposals(
    organisations: Sequence[PublicOrganisation],
    chain_id: str,
    genesis_path: Path,
    *,
    force: bool = False,
) -> list[Path]:
    """Writes node_records_proposals beside the genesis: nodes-proposal.json, or
    nodes-proposal-K.json when they take several."""
    drafts = node_records_proposals(organisations, chain_id)
    paths = [
        genesis_path.parent
        / (
            NODES_PROPOSAL_FILE_NAME
            if len(drafts) == 1
            else NODES_PROPOSAL_FILE_NAME.replace(".json", f"-{index}.json")
        )
        for index in range(1, len(drafts) + 1)
    ]
    for path in paths:
        if path.exists() and not force:
            raise ConfigurationError(f"{path} exists; choose another path or pass --force")
    for path, draft in zip(paths, drafts, strict=True):
        _write_new_file(path, proposal_draft_text(draft), force=force)
    return paths


def _call(contract: str, method: str, arguments: Message) -> DraftCall:
    return DraftCall(contract=contract, method=method, arguments=encode(arguments))
