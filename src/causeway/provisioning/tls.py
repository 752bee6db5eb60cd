"""Transport TLS material for the links between nodes (docs/peer-protocol.md).

Every node gets an ECDSA P-256 key and an X.509 certificate whose subject is
``O = <organisation>, CN = <member id>`` (the node's member id) and whose subject alternative
names are ``DNS:localhost``, ``DNS:<node name>`` and ``IP:127.0.0.1``, for both TLS server and
client authentication. It is issued by the organisation's TLS CA:

* ecdsa-p256 organisations (intl): the organisation CA itself;
* ed25519 organisations (intl): the organisation CA itself as well. gRPC's BoringSSL verifies
  Ed25519 signatures on certificates but offers no Ed25519 handshake signature
  (NO_COMMON_SIGNATURE_ALGORITHMS), so only the leaf key has to be P-256;
* sm2 organisations (gm): a P-256 CA made for TLS only. BoringSSL speaks neither SM2 nor TLCP,
  so transport security of gm chains is ECDSA P-256; everything signed on the chain stays SM2.

The node key is a key of its own, never the node's consensus signing key: the transport key can
then be replaced without touching the validator set.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from causeway.crypto import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    PrivateKey,
    issue_ca_certificate,
)
from causeway.errors import CertificateError, ConfigurationError

TLS_CA_UNIT_NAME = "tls"
"""Organisational unit of a CA made for TLS only, so that it is not mistaken for a member CA."""
LOOPBACK_ADDRESS = "127.0.0.1"
LOCALHOST_NAME = "localhost"
X509_COMMON_NAME_CHARACTERS_MAX = 64
# A DNS label: what the node name must be to stand in the certificate as a DNS name.
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Certificates become valid a little before they are issued, so that a peer whose clock is
# slightly behind does not refuse a fresh network.
CLOCK_SKEW_ALLOWANCE = datetime.timedelta(hours=1)

TlsPrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class TlsCertificateAuthority:
    """An organisation's TLS CA: its key and self-signed certificate (DER)."""

    organisation: str
    key: TlsPrivateKey
    certificate: bytes
    shared_with_member_ca: bool
    """True when this is the organisation CA of genesis, False for a CA made for TLS only."""

    def key_pem(self) -> bytes:
        return _private_key_pem(self.key)

    def certificate_pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.certificate).public_bytes(
            serialization.Encoding.PEM
        )


@dataclass(frozen=True, slots=True)
class NodeTlsMaterial:
    """A node's TLS key and certificate (DER)."""

    key: ec.EllipticCurvePrivateKey
    certificate: bytes

    def key_pem(self) -> bytes:
        return _private_key_pem(self.key)

    def certificate_pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.certificate).public_bytes(
            serialization.Encoding.PEM
        )


def _private_key_pem(key: TlsPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _signature_hash(key: TlsPrivateKey) -> hashes.SHA256 | None:
    # Ed25519 hashes internally and takes no separate hash algorithm.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _now() -> datetime.datetime:
    # Like issue_ca_certificate, TLS certificates are issued from wall time: the TLS libraries
    # check validity against wall time too.
    return datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)


def _library_key(key: PrivateKey) -> TlsPrivateKey:
    loaded = serialization.load_pem_private_key(key.to_pem(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise CertificateError(f"a {key.algorithm} key cannot sign X.509 certificates")
    return loaded


def tls_certificate_authority(
    organisation: str,
    ca_algorithm: str,
    ca_key: PrivateKey,
    ca_certificate: bytes,
    valid_days: int,
) -> TlsCertificateAuthority:
    """The TLS CA of an organisation: its X.509 organisation CA when gRPC's TLS can use it
    (ecdsa-p256, ed25519), otherwise (sm2) a new P-256 CA named ``O = <organisation>, OU = tls``."""
    if valid_days <= 0:
        raise CertificateError(f"valid_days must be positive, got {valid_days}")
    if ca_algorithm in (ALGORITHM_ECDSA_P256, ALGORITHM_ED25519) and ca_certificate:
        return TlsCertificateAuthority(
            organisation=organisation,
            key=_library_key(ca_key),
            certificate=ca_certificate,
            shared_with_member_ca=True,
        )
    key = PrivateKey.generate(ALGORITHM_ECDSA_P256)
    certificate = issue_ca_certificate(organisation, key, valid_days, unit=TLS_CA_UNIT_NAME)
    return TlsCertificateAuthority(
        organisation=organisation,
        key=_library_key(key),
        certificate=certificate,
        shared_with_member_ca=False,
    )


def check_node_name(name: str) -> None:
    """ConfigurationError unless name can be a DNS name in a certificate (lower-case label)."""
    if not _DNS_LABEL.match(name):
        raise ConfigurationError(
            f"node name {name!r} must be 1 to 63 lower-case letters, digits or '-', starting and"
            " ending with a letter or digit (it is a DNS name in the node's TLS certificate)"
        )


def issue_node_tls_certificate(
    authority: TlsCertificateAuthority,
    node_name: str,
    member_id: str,
    valid_days: int,
    *,
    extra_dns_names: Sequence[str] = (),
    extra_ip_addresses: Sequence[str] = (),
) -> NodeTlsMaterial:
    """A new P-256 key and its TLS certificate for node ``node_name`` (member ``member_id``).

    extra_dns_names and extra_ip_addresses add subject alternative names for operators who want
    the certificate to name a host too; peers check the node name, not the host (see
    docs/peer-protocol.md).
    """
    check_node_name(node_name)
    if valid_days <= 0:
        raise CertificateError(f"valid_days must be positive, got {valid_days}")
    if not member_id.startswith(authority.organisation + "/"):
        raise CertificateError(
            f"member {member_id!r} is not a member of organisation {authority.organisation!r}"
        )
    if len(member_id) > X509_COMMON_NAME_CHARACTERS_MAX:
        raise CertificateError(
            f"member id {member_id!r} is longer than the {X509_COMMON_NAME_CHARACTERS_MAX}"
            " characters an X.509 common name holds"
        )
    ca = x509.load_der_x509_certificate(authority.certificate)
    key = ec.generate_private_key(ec.SECP256R1())
    dns_names = [LOCALHOST_NAME, node_name, *extra_dns_names]
    try:
        ip_addresses = [
            ipaddress.ip_address(address) for address in (LOOPBACK_ADDRESS, *extra_ip_addresses)
        ]
    except ValueError as error:
        raise ConfigurationError(f"not an IP address: {error}") from None
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dict.fromkeys(dns_names)]
    names.extend(x509.IPAddress(address) for address in dict.fromkeys(ip_addresses))
    not_before = _now() - CLOCK_SKEW_ALLOWANCE
    not_after = min(
        not_before + datetime.timedelta(days=valid_days),
        ca.not_valid_after_utc,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, authority.organisation),
                    x509.NameAttribute(NameOID.COMMON_NAME, member_id),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
        .sign(authority.key, _signature_hash(authority.key))
    )
    return NodeTlsMaterial(
        key=key, certificate=certificate.public_bytes(serialization.Encoding.DER)
    )


def ca_bundle_pem(authorities: Sequence[TlsCertificateAuthority]) -> bytes:
    """The PEM bundle of every organisation's TLS CA certificate, in the order given."""
    return b"".join(authority.certificate_pem() for authority in authorities)
