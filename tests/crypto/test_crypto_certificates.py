"""Member certificates: X.509 for intl and gm CAs (SM2 with SM3), and every refusal.

The SM2 format itself, its parser and OpenSSL interoperability: test_crypto_sm2_x509.py."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from causeway.crypto import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    PrivateKey,
    PublicKey,
    issue_ca_certificate,
    issue_member_certificate,
    verify_member_certificate,
)
from causeway.crypto.sm2_x509 import parse_certificate
from causeway.errors import CertificateError, CryptoError
from causeway.types.v1 import types_pb2

CHAIN_ID = "chain-1"
# Before the CA certificates' start (taken from the wall clock): only expiry is checked.
NOW_MS = 1_700_000_000_000
DAY_MS = 86_400_000
VALID_DAYS = 30
ADMIN = types_pb2.ROLE_ADMIN
CLIENT = types_pb2.ROLE_CLIENT
CONSENSUS = types_pb2.ROLE_CONSENSUS
CA_ALGORITHMS = [ALGORITHM_ECDSA_P256, ALGORITHM_ED25519, ALGORITHM_SM2]
# (CA algorithm, member algorithm): every pair within one crypto profile.
PAIRS = [
    (ALGORITHM_ECDSA_P256, ALGORITHM_ECDSA_P256),
    (ALGORITHM_ECDSA_P256, ALGORITHM_ED25519),
    (ALGORITHM_ED25519, ALGORITHM_ED25519),
    (ALGORITHM_ED25519, ALGORITHM_ECDSA_P256),
    (ALGORITHM_SM2, ALGORITHM_SM2),
]


@dataclass
class Authority:
    key: PrivateKey
    certificate: bytes
    organisation: types_pb2.Organisation

    def issue(
        self,
        name: str,
        public_key: PublicKey,
        roles: Sequence[int] = (CLIENT, ADMIN),
        *,
        valid_days: int = VALID_DAYS,
        now_ms: int = NOW_MS,
        chain_id: str = CHAIN_ID,
    ) -> bytes:
        return issue_member_certificate(
            chain_id,
            self.organisation,
            self.key,
            self.certificate,
            f"{self.organisation.id}/{name}",
            roles,
            public_key,
            valid_days,
            now_ms,
        )


def _authority(
    algorithm: str, organisation_id: str = "org1", key: PrivateKey | None = None
) -> Authority:
    key = key or PrivateKey.generate(algorithm)
    certificate = issue_ca_certificate(organisation_id, key, valid_days=3650)
    organisation = types_pb2.Organisation(
        id=organisation_id,
        ca_algorithm=algorithm,
        ca_public_key=key.public_key().raw,
        ca_certificate=certificate,
    )
    return Authority(key, certificate, organisation)


AUTHORITIES = {algorithm: _authority(algorithm) for algorithm in CA_ALGORITHMS}
MEMBER_KEYS = {algorithm: PrivateKey.generate(algorithm) for algorithm in CA_ALGORITHMS}


def _member(
    organisation_id: str,
    name: str,
    key: PublicKey,
    certificate: bytes,
    roles: Sequence[types_pb2.Role.ValueType] = (CLIENT,),
) -> types_pb2.Member:
    return types_pb2.Member(
        id=f"{organisation_id}/{name}",
        organisation=organisation_id,
        name=name,
        roles=list(roles),
        algorithm=key.algorithm,
        public_key=key.raw,
        certificate=certificate,
    )


def _valid_member(
    ca_algorithm: str, roles: Sequence[types_pb2.Role.ValueType] = (CLIENT,)
) -> types_pb2.Member:
    authority = AUTHORITIES[ca_algorithm]
    key = MEMBER_KEYS[ca_algorithm].public_key()
    return _member("org1", "alice", key, authority.issue("alice", key), roles)


def _verify(ca_algorithm: str, member: types_pb2.Member, now_ms: int = NOW_MS) -> None:
    verify_member_certificate(CHAIN_ID, AUTHORITIES[ca_algorithm].organisation, member, now_ms)


# --- issuing and accepting ---------------------------------------------------------------------


@pytest.mark.parametrize(("ca_algorithm", "member_algorithm"), PAIRS)
def test_issued_certificate_verifies(ca_algorithm: str, member_algorithm: str) -> None:
    authority = AUTHORITIES[ca_algorithm]
    key = MEMBER_KEYS[member_algorithm].public_key()
    certificate = authority.issue("alice", key, roles=[CONSENSUS, CLIENT, ADMIN, CLIENT])
    for roles in ([], [CLIENT], [ADMIN, CLIENT, CONSENSUS]):
        member = _member("org1", "alice", key, certificate, roles)
        verify_member_certificate(CHAIN_ID, authority.organisation, member, NOW_MS)
        # Valid through its last millisecond.
        verify_member_certificate(
            CHAIN_ID, authority.organisation, member, NOW_MS + VALID_DAYS * DAY_MS
        )


@pytest.mark.parametrize("algorithm", [ALGORITHM_ECDSA_P256, ALGORITHM_ED25519])
def test_ca_certificate_is_a_self_signed_ca(algorithm: str) -> None:
    authority = AUTHORITIES[algorithm]
    certificate = x509.load_der_x509_certificate(authority.certificate)
    certificate.verify_directly_issued_by(certificate)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    organisation_names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [name.value for name in organisation_names] == ["org1"]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=3650)


def test_sm2_ca_certificate_is_a_self_signed_ca() -> None:
    authority = AUTHORITIES[ALGORITHM_SM2]
    certificate = parse_certificate(authority.certificate, "CA certificate")
    assert certificate.is_signed_by(authority.key.public_key())
    assert certificate.issuer == certificate.subject
    assert certificate.is_ca
    assert certificate.subject_attributes == (("2.5.4.10", "org1"),)
    assert certificate.public_key == authority.key.public_key()
    assert certificate.not_after_ms - certificate.not_before_ms == 3650 * DAY_MS


@pytest.mark.parametrize("algorithm", CA_ALGORITHMS)
def test_x509_member_certificate_contents(algorithm: str) -> None:
    # `cryptography` reads the names and extensions of SM2 certificates too (not their keys):
    # a second parser that agrees with ours.
    member = _valid_member(algorithm)
    certificate = x509.load_der_x509_certificate(member.certificate)
    subject = certificate.subject

    def values(oid: x509.ObjectIdentifier) -> list[str | bytes]:
        return [attribute.value for attribute in subject.get_attributes_for_oid(oid)]

    assert values(NameOID.COMMON_NAME) == ["org1/alice"]
    assert values(NameOID.ORGANIZATION_NAME) == ["org1"]
    assert values(NameOID.ORGANIZATIONAL_UNIT_NAME) == ["admin", "client"]
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certificate.not_valid_before_utc == datetime.datetime.fromtimestamp(
        NOW_MS // 1000, tz=datetime.UTC
    )


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_certificate_from_another_ca(ca_algorithm: str) -> None:
    # Same organisation id, different CA key: an impostor CA.
    impostor = _authority(ca_algorithm)
    key = MEMBER_KEYS[ca_algorithm].public_key()
    member = _member("org1", "alice", key, impostor.issue("alice", key))
    with pytest.raises(CertificateError, match=r"not (issued|signed) by"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_tampered_signature(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    # The signature is the last field of the DER certificate.
    tampered = bytearray(member.certificate)
    tampered[-3] ^= 1
    member.certificate = bytes(tampered)
    with pytest.raises(CertificateError, match="not issued by"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_tampered_contents(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    member.certificate = member.certificate.replace(b"client", b"clienu")
    with pytest.raises(CertificateError, match=r"not (issued|signed) by"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_certificates_are_not_bound_to_a_chain(ca_algorithm: str) -> None:
    # X.509 carries no chain id: the organisation record on each chain decides.
    verify_member_certificate(
        "chain-2", AUTHORITIES[ca_algorithm].organisation, _valid_member(ca_algorithm), NOW_MS
    )


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_expired(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    with pytest.raises(CertificateError, match="expired"):
        _verify(ca_algorithm, member, NOW_MS + VALID_DAYS * DAY_MS + 1)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_expired_ca(ca_algorithm: str) -> None:
    authority = _authority(ca_algorithm)
    authority_short = Authority(
        authority.key,
        issue_ca_certificate("org1", authority.key, valid_days=1),
        types_pb2.Organisation(),
    )
    authority_short.organisation.CopyFrom(authority.organisation)
    authority_short.organisation.ca_certificate = authority_short.certificate
    now_ms = int(datetime.datetime.now(tz=datetime.UTC).timestamp() * 1000)
    key = MEMBER_KEYS[ca_algorithm].public_key()
    member = _member("org1", "alice", key, authority_short.issue("alice", key, now_ms=now_ms))
    verify_member_certificate(CHAIN_ID, authority_short.organisation, member, now_ms)
    with pytest.raises(CertificateError, match=r"CA certificate .* expired"):
        verify_member_certificate(
            CHAIN_ID, authority_short.organisation, member, now_ms + 2 * DAY_MS
        )


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_public_key_differs(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    member.public_key = PrivateKey.generate(member.algorithm).public_key().raw
    with pytest.raises(CertificateError, match="not the member's key"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_algorithm_differs(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    member.algorithm = ALGORITHM_ED25519 if member.algorithm != ALGORITHM_ED25519 else "sm2"
    with pytest.raises(CertificateError, match="not the member's key"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_member_id_differs(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    member.id = "org1/bob"
    member.name = "bob"
    with pytest.raises(CertificateError, match="names"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_member_of_another_organisation(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    member.organisation = "org2"
    member.id = "org2/alice"
    with pytest.raises(CertificateError, match="belongs to"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_certificate_for_another_organisation_sharing_the_ca(ca_algorithm: str) -> None:
    # Two organisations that (foolishly) share one CA key: a certificate of one must not
    # admit a member of the other.
    first = AUTHORITIES[ca_algorithm]
    second = _authority(ca_algorithm, organisation_id="org2", key=first.key)
    key = MEMBER_KEYS[ca_algorithm].public_key()
    member = _member("org1", "alice", key, second.issue("alice", key))
    with pytest.raises(CertificateError):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_member_id_inconsistent_with_name(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    member.name = "bob"
    with pytest.raises(CertificateError, match="<organisation>/<name>"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_roles_not_covered(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm, roles=[CLIENT, CONSENSUS])
    with pytest.raises(CertificateError, match="ROLE_CONSENSUS"):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
@pytest.mark.parametrize("certificate", [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"x" * 20_000])
def test_malformed_certificate(ca_algorithm: str, certificate: bytes) -> None:
    member = _valid_member(ca_algorithm)
    member.certificate = certificate
    with pytest.raises(CertificateError):
        _verify(ca_algorithm, member)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_organisation_record_with_another_ca_key(ca_algorithm: str) -> None:
    member = _valid_member(ca_algorithm)
    organisation = types_pb2.Organisation()
    organisation.CopyFrom(AUTHORITIES[ca_algorithm].organisation)
    organisation.ca_public_key = PrivateKey.generate(ca_algorithm).public_key().raw
    with pytest.raises(CertificateError):
        verify_member_certificate(CHAIN_ID, organisation, member, NOW_MS)


def test_organisation_with_unknown_ca_algorithm() -> None:
    member = _valid_member(ALGORITHM_ECDSA_P256)
    organisation = types_pb2.Organisation()
    organisation.CopyFrom(AUTHORITIES[ALGORITHM_ECDSA_P256].organisation)
    organisation.ca_algorithm = "rsa"
    with pytest.raises(CertificateError, match="unknown CA algorithm"):
        verify_member_certificate(CHAIN_ID, organisation, member, NOW_MS)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_issuer_that_is_not_a_ca(ca_algorithm: str) -> None:
    # A member certificate posing as an organisation's CA certificate.
    intermediate_key = PrivateKey.generate(ca_algorithm)
    intermediate_certificate = AUTHORITIES[ca_algorithm].issue(
        "intermediate", intermediate_key.public_key()
    )
    fake = Authority(
        intermediate_key,
        intermediate_certificate,
        types_pb2.Organisation(
            id="org1",
            ca_algorithm=ca_algorithm,
            ca_public_key=intermediate_key.public_key().raw,
            ca_certificate=intermediate_certificate,
        ),
    )
    key = MEMBER_KEYS[ca_algorithm].public_key()
    member = _member("org1", "alice", key, fake.issue("alice", key))
    with pytest.raises(CertificateError, match="not a CA"):
        verify_member_certificate(CHAIN_ID, fake.organisation, member, NOW_MS)


def _x509_signed_by_p256_ca(
    subject: x509.Name, algorithm: hashes.HashAlgorithm | None = None
) -> bytes:
    """A member certificate made with plain `cryptography`, for what our issuer never makes."""
    authority = AUTHORITIES[ALGORITHM_ECDSA_P256]
    ca_key = serialization.load_pem_private_key(authority.key.to_pem(), password=None)
    member_key = serialization.load_der_public_key(
        _subject_public_key_info(MEMBER_KEYS[ALGORITHM_ECDSA_P256])
    )
    ca = x509.load_der_x509_certificate(authority.certificate)
    start = datetime.datetime.fromtimestamp(NOW_MS // 1000, tz=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(member_key)  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .sign(ca_key, algorithm or hashes.SHA256())  # type: ignore[arg-type]
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def _subject_public_key_info(key: PrivateKey) -> bytes:
    library_key = serialization.load_pem_private_key(key.to_pem(), password=None)
    return library_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _subject(*units: str, common_names: Sequence[str] = ("org1/alice",)) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1"),
            *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units),
            *(x509.NameAttribute(NameOID.COMMON_NAME, name) for name in common_names),
        ]
    )


def _p256_member_with(certificate: bytes) -> types_pb2.Member:
    key = MEMBER_KEYS[ALGORITHM_ECDSA_P256].public_key()
    return _member("org1", "alice", key, certificate, roles=[CLIENT])


def test_hand_made_x509_certificate_is_accepted() -> None:
    _verify(ALGORITHM_ECDSA_P256, _p256_member_with(_x509_signed_by_p256_ca(_subject("client"))))


@pytest.mark.parametrize("unit", ["operator", "Client", "unspecified", ""])
def test_x509_unknown_role(unit: str) -> None:
    member = _p256_member_with(_x509_signed_by_p256_ca(_subject("client", unit)))
    with pytest.raises(CertificateError, match="unknown role"):
        _verify(ALGORITHM_ECDSA_P256, member)


def test_x509_two_common_names() -> None:
    subject = _subject("client", common_names=["org1/alice", "org1/bob"])
    member = _p256_member_with(_x509_signed_by_p256_ca(subject))
    with pytest.raises(CertificateError, match="exactly one common name"):
        _verify(ALGORITHM_ECDSA_P256, member)


def test_x509_unaccepted_signature_algorithm() -> None:
    member = _p256_member_with(_x509_signed_by_p256_ca(_subject("client"), hashes.SHA384()))
    with pytest.raises(CertificateError, match="signature algorithm"):
        _verify(ALGORITHM_ECDSA_P256, member)


# --- refusals when issuing ---------------------------------------------------------------------


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_issue_with_a_key_that_is_not_the_ca_key(ca_algorithm: str) -> None:
    authority = AUTHORITIES[ca_algorithm]
    impostor = Authority(
        PrivateKey.generate(ca_algorithm), authority.certificate, authority.organisation
    )
    with pytest.raises(CertificateError, match="not the CA key"):
        impostor.issue("alice", MEMBER_KEYS[ca_algorithm].public_key())


@pytest.mark.parametrize(
    ("ca_algorithm", "member_algorithm"),
    [
        (ALGORITHM_ECDSA_P256, ALGORITHM_SM2),
        (ALGORITHM_ED25519, ALGORITHM_SM2),
        (ALGORITHM_SM2, ALGORITHM_ECDSA_P256),
        (ALGORITHM_SM2, ALGORITHM_ED25519),
    ],
)
def test_issue_across_profiles(ca_algorithm: str, member_algorithm: str) -> None:
    with pytest.raises(CertificateError, match="crypto profile"):
        AUTHORITIES[ca_algorithm].issue("alice", MEMBER_KEYS[member_algorithm].public_key())


@pytest.mark.parametrize("member_id", ["alice", "org2/alice", "org1/", "org1alice", ""])
def test_issue_with_malformed_member_id(member_id: str) -> None:
    authority = AUTHORITIES[ALGORITHM_SM2]
    with pytest.raises(CertificateError, match="not of the form"):
        issue_member_certificate(
            CHAIN_ID,
            authority.organisation,
            authority.key,
            authority.certificate,
            member_id,
            [CLIENT],
            MEMBER_KEYS[ALGORITHM_SM2].public_key(),
            VALID_DAYS,
            NOW_MS,
        )


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
@pytest.mark.parametrize("roles", [[types_pb2.ROLE_UNSPECIFIED], [CLIENT, 99]])
def test_issue_with_bad_roles(ca_algorithm: str, roles: list[int]) -> None:
    with pytest.raises(CertificateError):
        AUTHORITIES[ca_algorithm].issue("alice", MEMBER_KEYS[ca_algorithm].public_key(), roles)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_issue_with_non_positive_validity(ca_algorithm: str) -> None:
    key = MEMBER_KEYS[ca_algorithm].public_key()
    with pytest.raises(CryptoError, match="valid_days"):
        AUTHORITIES[ca_algorithm].issue("alice", key, valid_days=0)
    with pytest.raises(CryptoError, match="valid_days"):
        issue_ca_certificate("org1", AUTHORITIES[ca_algorithm].key, valid_days=-1)


@pytest.mark.parametrize("ca_algorithm", CA_ALGORITHMS)
def test_long_member_ids(ca_algorithm: str) -> None:
    authority = AUTHORITIES[ca_algorithm]
    key = MEMBER_KEYS[ca_algorithm].public_key()
    longest_x509_name = "n" * (64 - len("org1/"))
    member = _member("org1", longest_x509_name, key, authority.issue(longest_x509_name, key))
    _verify(ca_algorithm, member)
    # X.509 bounds common names, where the member id goes, at 64 characters.
    with pytest.raises(CertificateError, match="cannot put"):
        authority.issue(longest_x509_name + "n", key)


def test_ca_certificate_with_a_foreign_key_type() -> None:
    ca_key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1")])
    start = datetime.datetime.fromtimestamp(NOW_MS // 1000, tz=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA384())
        .public_bytes(serialization.Encoding.DER)
    )
    organisation = types_pb2.Organisation()
    organisation.CopyFrom(AUTHORITIES[ALGORITHM_ECDSA_P256].organisation)
    organisation.ca_certificate = certificate
    member = _valid_member(ALGORITHM_ECDSA_P256)
    with pytest.raises(CertificateError, match="unsupported public key type"):
        verify_member_certificate(CHAIN_ID, organisation, member, NOW_MS)
    authority = AUTHORITIES[ALGORITHM_ECDSA_P256]
    with pytest.raises(CertificateError, match="unsupported public key type"):
        issue_member_certificate(
            CHAIN_ID,
            organisation,
            authority.key,
            certificate,
            "org1/alice",
            [CLIENT],
            MEMBER_KEYS[ALGORITHM_ECDSA_P256].public_key(),
            VALID_DAYS,
            NOW_MS,
        )
