"""`causeway org init`: one organisation's keys and certificates, made on its own machine.

```
D/organisation.json                      what only this organisation needs (its nodes' ports)
D/ca/key.pem, ca.crt (intl)              the organisation CA
D/tls-ca/key.pem, ca.crt                 (gm only) the P-256 CA of its nodes' TLS
D/members/<name>/member.json, key.pem, member.crt (X.509; SM2 on gm)
D/members/<node>/tls/node.key, node.crt  a node's transport TLS key and certificate
D/public/organisation.json               ONLY what others may see (PublicOrganisation)
D/public/ca.crt (intl), tls-ca.crt       the same certificates as PEM, for people and openssl
D/nodes/<node>/                          node homes, written later by `org node-config`
```

Members: admin (ADMIN), client (CLIENT) and one member per node (CONSENSUS), named
``<org>-node<I>`` so that node names stay unique in a consortium (they are DNS names in the TLS
certificates and the names peers are dialled by). Keys are the same as `causeway init` makes
(provisioning.description builds both), optionally encrypted with a passphrase
(crypto.key_encryption), and the admin's and client's keys optionally made inside a PKCS#11
token (crypto.pkcs11) so that they never exist in a file.

The node TLS keys stay unencrypted: gRPC reads them as PEM bytes at every (re)connection. Protect
D/members/<node>/tls and the node homes with file permissions (0600 / 0700, as written).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from google.protobuf import json_format

from causeway.crypto import (
    ALGORITHM_ECDSA_P256,
    PrivateKey,
    PublicKey,
    generate_token_key,
    get_profile,
    issue_member_certificate,
)
from causeway.errors import ConfigurationError
from causeway.provisioning.description import (
    DEFAULT_CERTIFICATE_VALID_DAYS,
    STANDARD_MEMBERS,
    MemberMaterial,
    NodeSettings,
    OrganisationMaterial,
    check_algorithm,
    check_chain_id,
    check_port_base,
    issue_member,
    new_organisation_authority,
    node_settings,
)
from causeway.provisioning.files import (
    CA_CERTIFICATE_FILE_NAME,
    KEY_FILE_NAME,
    MEMBER_CERTIFICATE_FILE_NAME,
    TLS_CA_DIRECTORY,
    TLS_CERTIFICATE_FILE_NAME,
    TLS_DIRECTORY,
    TLS_KEY_FILE_NAME,
    certificate_to_pem,
    check_target,
    staging_directory,
    write_member_document,
    write_member_folder,
    write_private_file,
    write_public_file,
)
from causeway.provisioning.tls import issue_node_tls_certificate
from causeway.types.v1 import types_pb2

ORGANISATION_FILE_NAME = "organisation.json"
PUBLIC_DIRECTORY = "public"
MEMBERS_DIRECTORY = "members"
ORGANISATION_NODES_DIRECTORY = "nodes"
PUBLIC_TLS_CA_FILE_NAME = "tls-ca.crt"
PUBLIC_FILE_NAMES = frozenset(
    {ORGANISATION_FILE_NAME, CA_CERTIFICATE_FILE_NAME, PUBLIC_TLS_CA_FILE_NAME}
)
"""Everything public/ may hold; `genesis assemble` refuses a folder with anything else in it."""
FORMAT_VERSION = 1
NODES_PER_ORGANISATION_MAX = 16
ORGANISATION_ID_CHARACTERS_MAX = 40
PUBLIC_FILE_BYTES_MAX = 1 << 20
# Node names are "<org>-node<I>", DNS labels; so the organisation id is one too, a shorter one.
_ORGANISATION_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")


@dataclass(frozen=True, slots=True)
class Pkcs11Token:
    """Where admin and client keys are made when the operator has a token: the module, the
    token's label, and the environment variable holding the user PIN (never the PIN)."""

    module: Path
    token_label: str
    pin_env: str

    def reference(self, key_label: str) -> dict[str, str]:
        """The ``pkcs11`` object of a member.json (sdk.Identity.load reads it)."""
        return {
            "module": str(self.module),
            "token_label": self.token_label,
            "key_label": key_label,
            "pin_env": self.pin_env,
        }


@dataclass(frozen=True, slots=True)
class PublicNode:
    """A node as others see it: name, member id, the address peers dial, TLS certificate."""

    name: str
    member_id: str
    address: str
    tls_certificate: bytes
    """DER X.509, issued by the organisation's TLS CA."""


@dataclass(frozen=True, slots=True)
class PublicOrganisation:
    """public/organisation.json: an organisation's record, members (with certificates), TLS CA
    and nodes. Nothing in it is secret."""

    crypto_profile: str
    chain_id: str
    """The chain id given to `org init`, if any (certificates themselves name no chain)."""
    organisation: types_pb2.Organisation
    members: tuple[types_pb2.Member, ...]
    tls_ca_certificate: bytes
    """DER X.509."""
    nodes: tuple[PublicNode, ...]

    @property
    def id(self) -> str:
        return self.organisation.id

    def member(self, member_id: str) -> types_pb2.Member:
        for member in self.members:
            if member.id == member_id:
                return member
        raise ConfigurationError(f"organisation {self.id!r} has no member {member_id!r}")


@dataclass(frozen=True, slots=True)
class PrivateNode:
    """A node in D/organisation.json: its name, member and listen addresses."""

    name: str
    member_id: str
    settings: NodeSettings


@dataclass(frozen=True, slots=True)
class OrganisationRecord:
    """D/organisation.json: what the organisation itself needs later (node-config)."""

    organisation_id: str
    crypto_profile: str
    algorithm: str
    chain_id: str
    nodes: tuple[PrivateNode, ...]


@dataclass(frozen=True, slots=True)
class OrganisationDescription:
    """Everything `org init` writes, in memory."""

    record: OrganisationRecord
    material: OrganisationMaterial
    public: PublicOrganisation
    node_tls: Mapping[str, tuple[bytes, bytes]]
    """Node name to its TLS (key PEM, certificate PEM)."""
    token_members: Mapping[str, str]
    """Member name to the token key label, for members whose key is in the PKCS#11 token."""


def check_organisation_id(organisation_id: str) -> None:
    if len(organisation_id) > ORGANISATION_ID_CHARACTERS_MAX or not _ORGANISATION_ID.match(
        organisation_id
    ):
        raise ConfigurationError(
            f"organisation id {organisation_id!r} must be 1 to {ORGANISATION_ID_CHARACTERS_MAX}"
            " lower-case letters, digits or '-', starting and ending with a letter or digit (its"
            " node names are DNS names)"
        )


def check_address(address: str, what: str) -> None:
    if not _ADDRESS.match(address) or not 0 < int(address.rpartition(":")[2]) <= 65535:
        raise ConfigurationError(f"{what} {address!r} is not HOST:PORT")


def organisation_node_name(organisation_id: str, index: int) -> str:
    """The name of an organisation's index-th node, counting from 1: ``<org>-node<I>``."""
    return f"{organisation_id}-node{index}"


def _certify(
    organisation: OrganisationMaterial,
    *,
    name: str,
    roles: Sequence[types_pb2.Role.ValueType],
    public_key: PublicKey,
    chain_id: str,
    valid_days: int,
    now_ms: int,
) -> types_pb2.Member:
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
    return types_pb2.Member(
        id=member_id,
        organisation=organisation.id,
        name=name,
        roles=list(roles),
        algorithm=public_key.algorithm,
        public_key=public_key.raw,
        certificate=certificate,
    )


def build_organisation(
    organisation_id: str,
    crypto_profile: str,
    *,
    now_ms: int,
    algorithm: str | None = None,
    nodes: int = 1,
    chain_id: str = "",
    node_addresses: Mapping[str, str] | None = None,
    port_base: int | None = None,
    token: Pkcs11Token | None = None,
    token_pin: str = "",
    valid_days: int = DEFAULT_CERTIFICATE_VALID_DAYS,
) -> OrganisationDescription:
    """Creates an organisation's CA, TLS CA, members (admin, client, one per node) and node
    TLS identities. Certificates (X.509, SM2 on gm) name no chain: `chain_id` is optional, kept
    in member.json where given.

    `node_addresses` maps node names to the HOST:PORT peers dial (and the node listens on);
    nodes not named get 127.0.0.1 and the peer port of `node_settings`. With a `token`, the
    admin's and client's keys are generated inside it (ecdsa-p256 only).
    """
    check_organisation_id(organisation_id)
    chosen = check_algorithm(crypto_profile, algorithm)
    profile_name = get_profile(crypto_profile).name
    if chain_id:
        check_chain_id(chain_id)
    if not 0 <= nodes <= NODES_PER_ORGANISATION_MAX:
        raise ConfigurationError(
            f"the number of nodes must be between 0 and {NODES_PER_ORGANISATION_MAX}, not {nodes}"
        )
    if port_base is not None:
        check_port_base(port_base, max(nodes, 1))
    if token is not None and chosen != ALGORITHM_ECDSA_P256:
        raise ConfigurationError(
            f"PKCS#11 keys are ecdsa-p256 only, not {chosen}: PKCS#11 defines no SM2 mechanism"
            " and SoftHSM has no Ed25519; use --passphrase-file for file keys instead"
        )
    node_names = [organisation_node_name(organisation_id, index) for index in range(1, nodes + 1)]
    addresses = dict(node_addresses or {})
    unknown = sorted(set(addresses) - set(node_names))
    if unknown:
        raise ConfigurationError(
            f"--node-address names unknown node(s) {', '.join(unknown)}; this organisation's"
            f" nodes are {', '.join(node_names) or 'none'}"
        )
    for name, address in addresses.items():
        check_address(address, f"the address of {name}")

    authority = new_organisation_authority(organisation_id, chosen, valid_days)
    members: list[MemberMaterial] = []
    token_members: dict[str, str] = {}
    public_members: list[types_pb2.Member] = []
    for name, roles in STANDARD_MEMBERS:
        if token is not None:
            key_label = f"{organisation_id}/{name}"
            public_key = generate_token_key(
                token.module, token.token_label, token_pin, key_label, chosen
            )
            token_members[name] = key_label
            public_members.append(
                _certify(
                    authority,
                    name=name,
                    roles=roles,
                    public_key=public_key,
                    chain_id=chain_id,
                    valid_days=valid_days,
                    now_ms=now_ms,
                )
            )
            continue
        member = issue_member(
            chain_id=chain_id,
            organisation=authority,
            name=name,
            roles=roles,
            algorithm=chosen,
            valid_days=valid_days,
            now_ms=now_ms,
        )
        members.append(member)
        public_members.append(member.member)

    private_nodes: list[PrivateNode] = []
    public_nodes: list[PublicNode] = []
    node_tls: dict[str, tuple[bytes, bytes]] = {}
    for index, name in enumerate(node_names, start=1):
        member = issue_member(
            chain_id=chain_id,
            organisation=authority,
            name=name,
            roles=(types_pb2.ROLE_CONSENSUS,),
            algorithm=chosen,
            valid_days=valid_days,
            now_ms=now_ms,
        )
        members.append(member)
        public_members.append(member.member)
        defaults = node_settings(index, port_base)
        address = addresses.get(name, defaults.peer_address)
        host = address.rpartition(":")[0]
        extra_ip = [host] if re.fullmatch(r"[0-9.]+", host) else []
        extra_dns = [] if extra_ip else [host.lower()]
        tls = issue_node_tls_certificate(
            authority.tls_authority,
            name,
            member.member_id,
            valid_days,
            extra_dns_names=extra_dns,
            extra_ip_addresses=extra_ip,
        )
        node_tls[name] = (tls.key_pem(), tls.certificate_pem())
        settings = NodeSettings(
            grpc_address=defaults.grpc_address,
            http_address=defaults.http_address,
            peer_address=address,
        )
        private_nodes.append(PrivateNode(name=name, member_id=member.member_id, settings=settings))
        public_nodes.append(
            PublicNode(
                name=name,
                member_id=member.member_id,
                address=address,
                tls_certificate=tls.certificate,
            )
        )

    material = OrganisationMaterial(
        organisation=authority.organisation,
        ca_key=authority.ca_key,
        members=tuple(members),
        tls_authority=authority.tls_authority,
    )
    record = OrganisationRecord(
        organisation_id=organisation_id,
        crypto_profile=profile_name,
        algorithm=chosen,
        chain_id=chain_id,
        nodes=tuple(private_nodes),
    )
    public = PublicOrganisation(
        crypto_profile=profile_name,
        chain_id=chain_id,
        organisation=authority.organisation,
        members=tuple(public_members),
        tls_ca_certificate=authority.tls_authority.certificate,
        nodes=tuple(public_nodes),
    )
    return OrganisationDescription(
        record=record,
        material=material,
        public=public,
        node_tls=node_tls,
        token_members=token_members,
    )


# ---- the JSON forms -------------------------------------------------------------------------


def _message_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def _pem(der: bytes) -> str:
    return certificate_to_pem(der)


def public_organisation_to_json(public: PublicOrganisation) -> str:
    document = {
        "version": FORMAT_VERSION,
        "crypto_profile": public.crypto_profile,
        "chain_id": public.chain_id,
        "organisation": _message_dict(public.organisation),
        "members": [_message_dict(member) for member in public.members],
        "tls_ca_certificate": _pem(public.tls_ca_certificate),
        "nodes": [
            {
                "name": node.name,
                "member_id": node.member_id,
                "address": node.address,
                "tls_certificate": _pem(node.tls_certificate),
            }
            for node in public.nodes
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _require(document: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = document.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ConfigurationError(f"{where}: {key!r} must be a {kind.__name__}")
    return value


def _only_keys(document: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(document) - keys)
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {', '.join(unknown)}")


def _certificate_der(pem: str, where: str) -> bytes:
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise ConfigurationError(f"{where} is not a PEM X.509 certificate: {error}") from None
    return certificate.public_bytes(serialization.Encoding.DER)


def _parse_message(message: Any, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where} must be a JSON object")
    try:
        json_format.ParseDict(value, message)
    except json_format.ParseError as error:
        raise ConfigurationError(f"{where}: {error}") from None
    return message


def public_organisation_from_json(text: str, source: str) -> PublicOrganisation:
    """Parses public/organisation.json; ConfigurationError naming `source` for anything that is
    not exactly that format (unknown fields included)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ConfigurationError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{source} must hold a JSON object")
    _only_keys(
        document,
        {
            "version",
            "crypto_profile",
            "chain_id",
            "organisation",
            "members",
            "tls_ca_certificate",
            "nodes",
        },
        source,
    )
    if document.get("version") != FORMAT_VERSION:
        raise ConfigurationError(
            f"{source}: version {document.get('version')!r} is not {FORMAT_VERSION}"
        )
    organisation = _parse_message(
        types_pb2.Organisation(), document.get("organisation"), f"{source}: organisation"
    )
    members_value = _require(document, "members", list, source)
    members = tuple(
        _parse_message(types_pb2.Member(), value, f"{source}: members[{index}]")
        for index, value in enumerate(members_value)
    )
    nodes: list[PublicNode] = []
    for index, value in enumerate(_require(document, "nodes", list, source)):
        where = f"{source}: nodes[{index}]"
        if not isinstance(value, dict):
            raise ConfigurationError(f"{where} must be a JSON object")
        _only_keys(value, {"name", "member_id", "address", "tls_certificate"}, where)
        nodes.append(
            PublicNode(
                name=_require(value, "name", str, where),
                member_id=_require(value, "member_id", str, where),
                address=_require(value, "address", str, where),
                tls_certificate=_certificate_der(
                    _require(value, "tls_certificate", str, where), f"{where}.tls_certificate"
                ),
            )
        )
    return PublicOrganisation(
        crypto_profile=_require(document, "crypto_profile", str, source),
        chain_id=_require(document, "chain_id", str, source),
        organisation=organisation,
        members=members,
        tls_ca_certificate=_certificate_der(
            _require(document, "tls_ca_certificate", str, source), f"{source}: tls_ca_certificate"
        ),
        nodes=tuple(nodes),
    )


def _record_to_json(record: OrganisationRecord) -> str:
    document = {
        "version": FORMAT_VERSION,
        "organisation_id": record.organisation_id,
        "crypto_profile": record.crypto_profile,
        "algorithm": record.algorithm,
        "chain_id": record.chain_id,
        "nodes": [
            {
                "name": node.name,
                "member_id": node.member_id,
                "grpc_address": node.settings.grpc_address,
                "http_address": node.settings.http_address,
                "peer_address": node.settings.peer_address,
            }
            for node in record.nodes
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _record_from_json(text: str, source: str) -> OrganisationRecord:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ConfigurationError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise ConfigurationError(f"{source} is not an organisation folder's record")
    nodes = []
    for index, value in enumerate(_require(document, "nodes", list, source)):
        where = f"{source}: nodes[{index}]"
        if not isinstance(value, dict):
            raise ConfigurationError(f"{where} must be a JSON object")
        nodes.append(
            PrivateNode(
                name=_require(value, "name", str, where),
                member_id=_require(value, "member_id", str, where),
                settings=NodeSettings(
                    grpc_address=_require(value, "grpc_address", str, where),
                    http_address=_require(value, "http_address", str, where),
                    peer_address=_require(value, "peer_address", str, where),
                ),
            )
        )
    return OrganisationRecord(
        organisation_id=_require(document, "organisation_id", str, source),
        crypto_profile=_require(document, "crypto_profile", str, source),
        algorithm=_require(document, "algorithm", str, source),
        chain_id=_require(document, "chain_id", str, source),
        nodes=tuple(nodes),
    )


# ---- files ------------------------------------------------------------------------------------


def read_bounded_text(path: Path, bytes_max: int = PUBLIC_FILE_BYTES_MAX) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(bytes_max + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > bytes_max:
        raise ConfigurationError(f"{path} is larger than {bytes_max} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not UTF-8 text") from None


def _write_text(path: Path, text: str) -> None:
    write_public_file(path, text.encode("utf-8"))


def _write_organisation_tree(
    root: Path,
    description: OrganisationDescription,
    passphrase: bytes | None,
    token: Pkcs11Token | None,
) -> None:
    material = description.material
    record = description.record
    _write_text(root / ORGANISATION_FILE_NAME, _record_to_json(record))
    write_private_file(root / "ca" / KEY_FILE_NAME, material.ca_key.to_pem(passphrase))
    if material.ca_certificate:
        _write_text(
            root / "ca" / CA_CERTIFICATE_FILE_NAME, certificate_to_pem(material.ca_certificate)
        )
    if not material.tls_authority.shared_with_member_ca:
        tls_ca_key = PrivateKey.from_pem(material.tls_authority.key_pem())
        write_private_file(root / TLS_CA_DIRECTORY / KEY_FILE_NAME, tls_ca_key.to_pem(passphrase))
        write_public_file(
            root / TLS_CA_DIRECTORY / CA_CERTIFICATE_FILE_NAME,
            material.tls_authority.certificate_pem(),
        )
    for member in material.members:
        directory = root / MEMBERS_DIRECTORY / member.name
        write_member_folder(
            directory,
            member,
            crypto_profile=record.crypto_profile,
            chain_id=record.chain_id,
            passphrase=passphrase,
        )
        if member.name in description.node_tls:
            tls_key, tls_certificate = description.node_tls[member.name]
            write_private_file(directory / TLS_DIRECTORY / TLS_KEY_FILE_NAME, tls_key)
            write_public_file(
                directory / TLS_DIRECTORY / TLS_CERTIFICATE_FILE_NAME, tls_certificate
            )
    for name, key_label in description.token_members.items():
        assert token is not None, "token members exist only with a token"
        member_record = description.public.member(f"{record.organisation_id}/{name}")
        directory = root / MEMBERS_DIRECTORY / name
        write_member_document(
            directory,
            member_record,
            crypto_profile=record.crypto_profile,
            chain_id=record.chain_id,
            extra={"pkcs11": token.reference(key_label)},
        )
        _write_member_certificate(directory, member_record, record.crypto_profile)
    public = root / PUBLIC_DIRECTORY
    _write_text(public / ORGANISATION_FILE_NAME, public_organisation_to_json(description.public))
    if material.ca_certificate:
        _write_text(public / CA_CERTIFICATE_FILE_NAME, certificate_to_pem(material.ca_certificate))
    _write_text(
        public / PUBLIC_TLS_CA_FILE_NAME, certificate_to_pem(description.public.tls_ca_certificate)
    )


def _write_member_certificate(directory: Path, member: types_pb2.Member, profile: str) -> None:
    del profile  # X.509 on both profiles (SM2 on gm, docs/certificates.md)
    _write_text(directory / MEMBER_CERTIFICATE_FILE_NAME, certificate_to_pem(member.certificate))


def write_organisation(
    description: OrganisationDescription,
    directory: Path,
    *,
    passphrase: bytes | None = None,
    token: Pkcs11Token | None = None,
) -> list[Path]:
    """Writes the organisation folder (refusing a non-empty one) and returns its files,
    relative to it. Written in a hidden sibling folder first, then moved into place."""
    directory = directory.absolute()
    check_target(directory, force=False)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with staging_directory(directory.parent, directory.name) as staging:
            _write_organisation_tree(staging, description, passphrase, token)
            written = sorted(
                path.relative_to(staging) for path in staging.rglob("*") if path.is_file()
            )
            for entry in sorted(staging.iterdir()):
                os.replace(entry, directory / entry.name)
    except OSError as error:
        raise ConfigurationError(
            f"cannot write the organisation into {directory}: {error}"
        ) from None
    return written


def load_public_organisation(directory: Path) -> PublicOrganisation:
    """Reads an organisation's public/ folder (or the organisation folder holding one),
    refusing files that do not belong there and PEM copies that differ from the record."""
    if not directory.is_dir():
        raise ConfigurationError(f"{directory} is not a folder")
    if (directory / PUBLIC_DIRECTORY).is_dir():
        directory = directory / PUBLIC_DIRECTORY
    unknown = sorted(
        entry.name for entry in directory.iterdir() if entry.name not in PUBLIC_FILE_NAMES
    )
    if unknown:
        raise ConfigurationError(
            f"{directory} holds {', '.join(unknown)}, which a public organisation folder does not"
            f" (only {', '.join(sorted(PUBLIC_FILE_NAMES))}): is it the private folder?"
        )
    path = directory / ORGANISATION_FILE_NAME
    public = public_organisation_from_json(read_bounded_text(path), str(path))
    copies = {
        CA_CERTIFICATE_FILE_NAME: public.organisation.ca_certificate,
        PUBLIC_TLS_CA_FILE_NAME: public.tls_ca_certificate,
    }
    for name, der in copies.items():
        copy = directory / name
        if copy.exists() and (
            not der or _certificate_der(read_bounded_text(copy), str(copy)) != der
        ):
            raise ConfigurationError(f"{copy} is not the certificate {path} holds")
    return public


def load_organisation_record(directory: Path) -> OrganisationRecord:
    path = directory / ORGANISATION_FILE_NAME
    if not path.is_file():
        raise ConfigurationError(
            f"{directory} is not an organisation folder written by `causeway org init`"
            f" (no {ORGANISATION_FILE_NAME})"
        )
    return _record_from_json(read_bounded_text(path), str(path))


def check_node_tls_certificate(public: PublicOrganisation, node: PublicNode) -> None:
    """ConfigurationError unless the node's TLS certificate is issued by the organisation's TLS
    CA and names the node's member (CN) and organisation (O)."""
    try:
        authority = x509.load_der_x509_certificate(public.tls_ca_certificate)
        certificate = x509.load_der_x509_certificate(node.tls_certificate)
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise ConfigurationError(
            f"the TLS certificate of node {node.name!r} is not issued by the TLS CA of"
            f" {public.id!r}"
        ) from None
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in names] != [node.member_id]:
        raise ConfigurationError(
            f"the TLS certificate of node {node.name!r} does not name member {node.member_id!r}"
        )
