"""A node's TLS identity for the peer transport, and who a peer's certificate says it is.

gRPC checks that a peer's certificate chains to one of the CA certificates of the bundle (and
that a server's names the expected node). What gRPC cannot know is checked here: the certificate
names exactly one member (``CN = <organisation>/<name>``, ``O = <organisation>``) and was issued
by the TLS CA of that very organisation, so that one organisation's CA cannot speak for another's
nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from causeway.errors import CertificateError, ConfigurationError

# Far above any real certificate or bundle of a chain's organisations; bounds what we parse.
TLS_FILE_BYTES_MAX = 4 << 20


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """Who a TLS certificate names."""

    member_id: str
    organisation: str


def _single(certificate: x509.Certificate, oid: x509.ObjectIdentifier, what: str) -> str:
    values = certificate.subject.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise CertificateError(f"the certificate must name exactly one {what}")
    return values[0].value


def certificate_identity(certificate: x509.Certificate) -> PeerIdentity:
    """The member a node certificate names; CertificateError unless CN is "<O>/<name>"."""
    member_id = _single(certificate, NameOID.COMMON_NAME, "common name")
    organisation = _single(certificate, NameOID.ORGANIZATION_NAME, "organisation")
    prefix, _, name = member_id.partition("/")
    if prefix != organisation or not name:
        raise CertificateError(
            f"certificate names member {member_id!r}, which is not '{organisation}/<name>'"
        )
    return PeerIdentity(member_id=member_id, organisation=organisation)


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(TLS_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read the {what} {path}: {error}") from None
    if len(data) > TLS_FILE_BYTES_MAX:
        raise ConfigurationError(f"the {what} {path} is larger than {TLS_FILE_BYTES_MAX} bytes")
    return data


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """A node's TLS key and certificate and the CA certificates it trusts, by organisation."""

    key_pem: bytes
    certificate_pem: bytes
    identity: PeerIdentity
    authorities: Mapping[str, tuple[x509.Certificate, ...]]

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes, ca_bundle_pem: bytes) -> TlsIdentity:
        """Checks the material belongs together; ConfigurationError naming what does not."""
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise ConfigurationError(f"cannot load the TLS key: {error}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise ConfigurationError("the TLS key must be an ECDSA P-256 key")
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
            authorities_list = x509.load_pem_x509_certificates(ca_bundle_pem)
        except ValueError as error:
            raise ConfigurationError(f"cannot load the TLS certificates: {error}") from None
        if certificate.public_key() != key.public_key():
            raise ConfigurationError("the TLS certificate does not hold the TLS key")
        try:
            identity = certificate_identity(certificate)
        except CertificateError as error:
            raise ConfigurationError(f"the node's TLS certificate: {error.message}") from None
        authorities: dict[str, list[x509.Certificate]] = {}
        for authority in authorities_list:
            organisations = authority.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
            if len(organisations) != 1 or not isinstance(organisations[0].value, str):
                raise ConfigurationError(
                    "every CA certificate in the TLS CA bundle must name one organisation"
                )
            authorities.setdefault(organisations[0].value, []).append(authority)
        loaded = cls(
            key_pem=key_pem,
            certificate_pem=certificate_pem,
            identity=identity,
            authorities={name: tuple(items) for name, items in authorities.items()},
        )
        try:
            loaded.check_issuer(certificate, identity.organisation)
        except CertificateError as error:
            raise ConfigurationError(f"the node's TLS certificate: {error.message}") from None
        return loaded

    @classmethod
    def load(cls, key_file: Path, certificate_file: Path, ca_bundle_file: Path) -> TlsIdentity:
        return cls.from_pem(
            _read(key_file, "TLS key"),
            _read(certificate_file, "TLS certificate"),
            _read(ca_bundle_file, "TLS CA bundle"),
        )

    @property
    def member_id(self) -> str:
        return self.identity.member_id

    def with_authorities(
        self, replacements: Mapping[str, Sequence[x509.Certificate]]
    ) -> TlsIdentity:
        """This identity trusting, for each organisation of ``replacements``, exactly its CA
        certificates there (what the chain records replaces what the bundle file held for that
        organisation, so that governance can rotate a TLS CA); the others' as before."""
        authorities = dict(self.authorities)
        for organisation, certificates in replacements.items():
            for certificate in certificates:
                names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
                if [name.value for name in names] != [organisation]:
                    raise ConfigurationError(
                        f"a TLS CA certificate given for {organisation!r} names another"
                        " organisation"
                    )
            authorities[organisation] = tuple(certificates)
        return TlsIdentity(
            key_pem=self.key_pem,
            certificate_pem=self.certificate_pem,
            identity=self.identity,
            authorities=authorities,
        )

    def server_certificate_configuration(self) -> grpc.ServerCertificateConfiguration:
        """Our key and certificate and the CAs a client certificate must chain to, as gRPC's
        dynamic server credentials take them (PeerNetwork updates them without a restart)."""
        return grpc.ssl_server_certificate_configuration(
            [(self.key_pem, self.certificate_pem)], root_certificates=self.bundle_pem()
        )

    def authority_pem(self, organisation: str) -> bytes:
        """The PEM CA certificates of one organisation; ConfigurationError if it has none."""
        authorities = self.authorities.get(organisation)
        if not authorities:
            raise ConfigurationError(
                f"the TLS CA bundle holds no CA certificate of organisation {organisation!r}"
            )
        return b"".join(
            authority.public_bytes(serialization.Encoding.PEM) for authority in authorities
        )

    def bundle_pem(self) -> bytes:
        return b"".join(self.authority_pem(organisation) for organisation in self.authorities)

    def check_issuer(self, certificate: x509.Certificate, organisation: str) -> None:
        """CertificateError unless certificate was issued by a TLS CA of organisation."""
        for authority in self.authorities.get(organisation, ()):
            try:
                certificate.verify_directly_issued_by(authority)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return
        raise CertificateError(
            f"the certificate is not issued by a TLS CA of organisation {organisation!r}"
        )

    def identify_peer(self, certificate_pem: bytes) -> PeerIdentity:
        """Who the peer's certificate (as gRPC's auth context gives it) names, once checked that
        its organisation's CA issued it; CertificateError otherwise."""
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
        except ValueError as error:
            raise CertificateError(f"cannot read the peer's certificate: {error}") from None
        identity = certificate_identity(certificate)
        self.check_issuer(certificate, identity.organisation)
        return identity

    def server_credentials(self) -> grpc.ServerCredentials:
        """Mutual TLS: a client must present a certificate chaining to the bundle."""
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.certificate_pem)],
            root_certificates=self.bundle_pem(),
            require_client_auth=True,
        )

    def channel_credentials(self, organisation: str) -> grpc.ChannelCredentials:
        """Credentials to dial a node of ``organisation``: only that organisation's TLS CA is
        trusted for the server, and we present our own certificate."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.authority_pem(organisation),
            private_key=self.key_pem,
            certificate_chain=self.certificate_pem,
        )
