"""The description of a new network: organisations, members, keys, genesis and node settings.

Everything here is built in memory and nothing touches the disk, so that a network can be
inspected (and tested) before `write_network` puts it in a folder. Key generation is the only
source of randomness (and a chain id not given: new_chain_id); the time comes in as a value.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from causeway.consensus.solo import BLOCK_INTERVAL_MS_DEFAULT
from causeway.crypto import (
    PrivateKey,
    get_profile,
    issue_ca_certificate,
    issue_member_certificate,
)
from causeway.errors import ConfigurationError
from causeway.provisioning.tls import (
    NodeTlsMaterial,
    TlsCertificateAuthority,
    ca_bundle_pem,
    check_node_name,
    issue_node_tls_certificate,
    tls_certificate_authority,
)
from causeway.types.v1 import types_pb2

GENESIS_VERSION = 1
CONSENSUS_KINDS = ("solo", "tbft", "raft")
"""Consensus engines `causeway init` can set up today ("tbft" and "raft" come later)."""

ORGANISATIONS_MAX = 64
VALIDATORS_MAX = 64
DEFAULT_CHAIN_ID_PREFIX = "causeway-local"
"""A chain id not given is this prefix and 8 random hex digits (new_chain_id)."""
DEFAULT_CERTIFICATE_VALID_DAYS = 3650

GRPC_PORT_BASE = 7050
HTTP_PORT_BASE = 8050
PEER_PORT_BASE = 7150
LISTEN_HOST = "127.0.0.1"
# With a port base, node I listens on three consecutive ports: gRPC, HTTP, peers.
PORTS_PER_NODE = 3
# Below 1024 ports are privileged; a network that needs them is set up by hand.
PORT_BASE_MIN = 1024
PORT_MAX = 65535

KIBIBYTE = 1 << 10
MEBIBYTE = 1 << 20
GIBIBYTE = 1 << 30

# Roles of the members every organisation gets; the validators' node members come on top.
ADMIN_NAME = "admin"
CLIENT_NAME = "client"
STANDARD_MEMBERS: tuple[tuple[str, tuple[types_pb2.Role.ValueType, ...]], ...] = (
    (ADMIN_NAME, (types_pb2.ROLE_ADMIN,)),
    (CLIENT_NAME, (types_pb2.ROLE_CLIENT,)),
)


def default_chain_config() -> types_pb2.ChainConfig:
    """A sane starting configuration; governance transactions change it later."""
    return types_pb2.ChainConfig(
        block_transactions_max=10_000,
        block_bytes_max=16 * MEBIBYTE,
        transaction_bytes_max=64 * KIBIBYTE,
        transaction_expiry_max_ms=60 * 60 * 1000,
        endorsements_max=16,
        state_history_heights=1000,
        governance_policy=types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_MAJORITY),
        ledger_issue_policy=types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ANY),
        transaction_gas_max=1_000_000,
        # About 3 s of work at 30 ns a gas: 100 of the largest transactions, or all 10,000 of
        # a block of token transfers (about 7,000 gas each).
        block_gas_max=100_000_000,
    )


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """What goes into a node's config.toml besides its identity."""

    grpc_address: str
    http_address: str
    # Where the node listens for the other nodes (causeway.net); its peers dial this address.
    peer_address: str = f"{LISTEN_HOST}:{PEER_PORT_BASE}"
    # Solo's pace under load (causeway.consensus.solo.BLOCK_INTERVAL_MS_DEFAULT says why).
    block_interval_ms: int = BLOCK_INTERVAL_MS_DEFAULT
    mempool_transactions_max: int = 200_000
    mempool_bytes_max: int = 256 * MEBIBYTE
    admission_batch_max: int = 10_000
    api_message_bytes_max: int = 64 * MEBIBYTE
    http_request_bytes_max: int = 16 * MEBIBYTE
    map_size_bytes: int = 8 * GIBIBYTE
    log_level: str = "info"
    log_format: str = "text"


@dataclass(frozen=True, slots=True)
class MemberMaterial:
    """One member: its private key and the Member record (with certificate) that genesis holds."""

    member: types_pb2.Member
    key: PrivateKey

    @property
    def member_id(self) -> str:
        return self.member.id

    @property
    def organisation(self) -> str:
        return self.member.organisation

    @property
    def name(self) -> str:
        return self.member.name


@dataclass(frozen=True, slots=True)
class OrganisationMaterial:
    """One organisation: its CA key, the Organisation record, its members and its TLS CA."""

    organisation: types_pb2.Organisation
    ca_key: PrivateKey
    members: tuple[MemberMaterial, ...]
    tls_authority: TlsCertificateAuthority

    @property
    def id(self) -> str:
        return self.organisation.id

    @property
    def ca_certificate(self) -> bytes:
        """DER X.509 CA certificate (SM2 with SM3 on gm)."""
        return self.organisation.ca_certificate


@dataclass(frozen=True, slots=True)
class NodeDescription:
    """A validator node: its name, the member it signs as, its settings and its TLS identity."""

    name: str
    member: MemberMaterial
    settings: NodeSettings
    tls: NodeTlsMaterial


@dataclass(frozen=True, slots=True)
class NetworkDescription:
    """Everything `causeway init` writes, in memory."""

    chain_id: str
    crypto_profile: str
    algorithm: str
    consensus: str
    genesis: types_pb2.Genesis
    organisations: tuple[OrganisationMaterial, ...]
    nodes: tuple[NodeDescription, ...]
    members: tuple[MemberMaterial, ...] = field(default=())

    def member(self, member_id: str) -> MemberMaterial:
        for member in self.members:
            if member.member_id == member_id:
                return member
        raise ConfigurationError(f"no member {member_id!r} in this network")

    def tls_ca_bundle(self) -> bytes:
        """PEM certificates of every organisation's TLS CA: what each node trusts for peers."""
        return ca_bundle_pem([organisation.tls_authority for organisation in self.organisations])


def organisation_name(index: int) -> str:
    """The name of the index-th organisation, counting from 1."""
    return f"org{index}"


def node_name(index: int) -> str:
    """The name of the index-th validator node, counting from 1."""
    return f"node{index}"


def node_organisation_index(node_index: int, organisations: int) -> int:
    """Validators are spread round-robin over the organisations: node1 in org1, node2 in org2..."""
    return (node_index - 1) % organisations + 1


def port_base_max(validators: int) -> int:
    """The highest port base that leaves room for `validators` nodes below PORT_MAX."""
    return PORT_MAX - PORTS_PER_NODE * validators + 1


def check_port_base(port_base: int, validators: int) -> None:
    """Refuses a port base whose nodes' ports would not all be ports a node may listen on."""
    highest = port_base_max(validators)
    if not PORT_BASE_MIN <= port_base <= highest:
        raise ConfigurationError(
            f"port base {port_base} must be between {PORT_BASE_MIN} and {highest}: "
            f"{validators} node(s) listen on {PORTS_PER_NODE} consecutive ports each, "
            f"up to port {PORT_MAX}"
        )


def node_settings(node_index: int, port_base: int | None = None) -> NodeSettings:
    """Default settings for the index-th node.

    Without a port base the gRPC, HTTP and peer ports start at 7050, 8050 and 7150 and move up by
    one per node. With one, node I listens on the three consecutive ports from
    ``port_base + 3 * (I - 1)`` (gRPC, HTTP, peers), so that networks given bases far enough apart
    run side by side on one host (see check_port_base).
    """
    if port_base is not None:
        first = port_base + PORTS_PER_NODE * (node_index - 1)
        return NodeSettings(
            grpc_address=f"{LISTEN_HOST}:{first}",
            http_address=f"{LISTEN_HOST}:{first + 1}",
            peer_address=f"{LISTEN_HOST}:{first + 2}",
        )
    offset = node_index - 1
    return NodeSettings(
        grpc_address=f"{LISTEN_HOST}:{GRPC_PORT_BASE + offset}",
        http_address=f"{LISTEN_HOST}:{HTTP_PORT_BASE + offset}",
        peer_address=f"{LISTEN_HOST}:{PEER_PORT_BASE + offset}",
    )


def check_chain_id(chain_id: str) -> None:
    """ConfigurationError unless chain_id is 1 to 64 letters, digits, '-', '_' or '.'."""
    if (
        not chain_id
        or len(chain_id) > 64
        or not all(
            character.isascii() and (character.isalnum() or character in "-_.")
            for character in chain_id
        )
    ):
        raise ConfigurationError(
            f"chain id {chain_id!r} must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
        )


def _check_arguments(
    organisations: int, crypto_profile: str, consensus: str, chain_id: str, validators: int
) -> None:
    if not 1 <= organisations <= ORGANISATIONS_MAX:
        raise ConfigurationError(
            f"the number of organisations must be between 1 and {ORGANISATIONS_MAX}, "
            f"not {organisations}"
        )
    if consensus not in CONSENSUS_KINDS:
        raise ConfigurationError(
            f"unknown consensus {consensus!r}; choose one of {', '.join(CONSENSUS_KINDS)}"
        )
    if consensus == "solo" and validators != 1:
        raise ConfigurationError(f"solo consensus has exactly one validator, not {validators}")
    if not 1 <= validators <= VALIDATORS_MAX:
        raise ConfigurationError(
            f"the number of validators must be between 1 and {VALIDATORS_MAX}, not {validators}"
        )
    check_chain_id(chain_id)
    del crypto_profile  # checked by get_profile


def check_algorithm(crypto_profile: str, algorithm: str | None) -> str:
    """The algorithm to use in a profile: `algorithm` when the profile has it, else the
    profile's default; ConfigurationError (CryptoError for an unknown profile) otherwise."""
    profile = get_profile(crypto_profile)
    chosen_algorithm = algorithm or profile.default_algorithm
    if chosen_algorithm not in profile.algorithms:
        raise ConfigurationError(
            f"algorithm {chosen_algorithm!r} is not part of the {profile.name} crypto profile; "
            f"choose one of {', '.join(sorted(profile.algorithms))}"
        )
    return chosen_algorithm


def new_organisation_authority(
    organisation_id: str, algorithm: str, valid_days: int
) -> OrganisationMaterial:
    """A new organisation without members: its CA key, its record (with the X.509 CA
    certificate for intl) and its TLS CA (provisioning.tls)."""
    ca_key = PrivateKey.generate(algorithm)
    ca_certificate = issue_ca_certificate(organisation_id, ca_key, valid_days)
    record = types_pb2.Organisation(
        id=organisation_id,
        ca_algorithm=algorithm,
        ca_public_key=ca_key.public_key().raw,
        ca_certificate=ca_certificate,
    )
    tls_authority = tls_certificate_authority(
        organisation_id, algorithm, ca_key, ca_certificate, valid_days
    )
    return OrganisationMaterial(
        organisation=record, ca_key=ca_key, members=(), tls_authority=tls_authority
    )


def issue_standard_members(
    organisation: OrganisationMaterial,
    *,
    chain_id: str,
    algorithm: str,
    valid_days: int,
    now_ms: int,
) -> tuple[MemberMaterial, ...]:
    """The members every organisation gets: admin (ROLE_ADMIN) and client (ROLE_CLIENT)."""
    return tuple(
        issue_member(
            chain_id=chain_id,
            organisation=organisation,
            name=name,
            roles=roles,
            algorithm=algorithm,
            valid_days=valid_days,
            now_ms=now_ms,
        )
        for name, roles in STANDARD_MEMBERS
    )


def issue_member(
    *,
    chain_id: str,
    organisation: OrganisationMaterial,
    name: str,
    roles: Sequence[types_pb2.Role.ValueType],
    algorithm: str,
    valid_days: int,
    now_ms: int,
) -> MemberMaterial:
    key = PrivateKey.generate(algorithm)
    public_key = key.public_key()
    member_id = f"{organisation.id}/{name}"
    certificate = issue_member_certificate(
        chain_id,
        organisation.organisation,
        organisation.ca_key,
        organisation.ca_certificate,
        member_id,
        list(roles),
        public_key,
        valid_days,
        now_ms,
    )
    member = types_pb2.Member(
        id=member_id,
        organisation=organisation.id,
        name=name,
        roles=list(roles),
        algorithm=algorithm,
        public_key=public_key.raw,
        certificate=certificate,
    )
    return MemberMaterial(member=member, key=key)


def new_chain_id() -> str:
    """A chain id of its own for a network made without one.

    Two networks that share a chain id (and, as `init` names them, members such as org1/client)
    accept each other's signed bytes as their own and answer a transaction meant for the other
    with a signature error; with ids of their own, the node names the chain the transaction was
    for instead."""
    return f"{DEFAULT_CHAIN_ID_PREFIX}-{secrets.token_hex(4)}"


def build_network(
    organisations: int,
    crypto_profile: str,
    consensus: str,
    *,
    now_ms: int,
    chain_id: str | None = None,
    algorithm: str | None = None,
    validators: int = 1,
    config: types_pb2.ChainConfig | None = None,
    valid_days: int = DEFAULT_CERTIFICATE_VALID_DAYS,
    port_base: int | None = None,
) -> NetworkDescription:
    """Creates the keys, certificates, genesis and node settings of a new network.

    Every organisation `orgK` gets a CA and the members `admin` (ROLE_ADMIN) and `client`
    (ROLE_CLIENT). Validator node `nodeI` is a member of organisation `org((I-1) mod N + 1)` with
    ROLE_CONSENSUS and voting power 1, and a P-256 TLS key and certificate issued by its
    organisation's TLS CA (provisioning.tls). Its ports are the defaults, or the three from
    `port_base + 3 * (I - 1)` when a port base is given (node_settings). Raises
    ConfigurationError (or CryptoError from the crypto package) for arguments it cannot honour.
    """
    if chain_id is None:
        chain_id = new_chain_id()
    _check_arguments(organisations, crypto_profile, consensus, chain_id, validators)
    if port_base is not None:
        check_port_base(port_base, validators)
    profile = get_profile(crypto_profile)
    chosen_algorithm = check_algorithm(crypto_profile, algorithm)

    built = [
        new_organisation_authority(organisation_name(index), chosen_algorithm, valid_days)
        for index in range(1, organisations + 1)
    ]
    members_by_organisation = [
        list(
            issue_standard_members(
                organisation,
                chain_id=chain_id,
                algorithm=chosen_algorithm,
                valid_days=valid_days,
                now_ms=now_ms,
            )
        )
        for organisation in built
    ]

    nodes: list[NodeDescription] = []
    for node_index in range(1, validators + 1):
        position = node_organisation_index(node_index, organisations) - 1
        name = node_name(node_index)
        check_node_name(name)
        node_member = issue_member(
            chain_id=chain_id,
            organisation=built[position],
            name=name,
            roles=(types_pb2.ROLE_CONSENSUS,),
            algorithm=chosen_algorithm,
            valid_days=valid_days,
            now_ms=now_ms,
        )
        members_by_organisation[position].append(node_member)
        nodes.append(
            NodeDescription(
                name=name,
                member=node_member,
                settings=node_settings(node_index, port_base),
                tls=issue_node_tls_certificate(
                    built[position].tls_authority, name, node_member.member_id, valid_days
                ),
            )
        )

    finished = tuple(
        OrganisationMaterial(
            organisation=organisation.organisation,
            ca_key=organisation.ca_key,
            members=tuple(members),
            tls_authority=organisation.tls_authority,
        )
        for organisation, members in zip(built, members_by_organisation, strict=True)
    )
    all_members = tuple(member for organisation in finished for member in organisation.members)

    genesis = types_pb2.Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        genesis_time_ms=now_ms,
        crypto_profile=profile.name,
        consensus=consensus,
        config=config if config is not None else default_chain_config(),
        organisations=[organisation.organisation for organisation in finished],
        members=[member.member for member in all_members],
        validators=types_pb2.ValidatorSet(
            validators=[
                types_pb2.Validator(
                    member_id=node.member.member_id,
                    algorithm=node.member.member.algorithm,
                    public_key=node.member.member.public_key,
                    voting_power=1,
                )
                for node in nodes
            ]
        ),
    )
    return NetworkDescription(
        chain_id=chain_id,
        crypto_profile=profile.name,
        algorithm=chosen_algorithm,
        consensus=consensus,
        genesis=genesis,
        organisations=finished,
        nodes=tuple(nodes),
        members=all_members,
    )
