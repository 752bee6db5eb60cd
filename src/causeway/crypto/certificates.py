"""Member certificates issued by an organisation's CA: X.509 v3, DER-encoded, in both profiles.

A member certificate's subject is
    O = organisation id, one OU per role, CN = member id
Roles are written as organizational units named after the Role enum without its prefix, in lower
case ("admin", "client", "consensus", "light"), the way Hyperledger Fabric marks node roles: any
X.509 tool shows them, and no private object identifier has to be registered. A CA certificate
is self-signed and named O = organisation id (and OU = unit for a second CA of the organisation).

intl (ecdsa-p256 and ed25519 CAs): issued and parsed with `cryptography`.
gm (sm2 CAs): SM2 with SM3 as GB/T 35275/35276 and RFC 8998 define them, issued and parsed by
causeway.crypto.sm2_x509 (`pyasn1-modules` structures, `tongsuopy` signatures), because
`cryptography` cannot load or sign with SM2 keys. docs/certificates.md says what and why.

Only the end of validity is checked. The start that X.509 requires is taken from the issuer's
clock (issue_ca_certificate has no time parameter), which need not be ordered with the block
times that verification runs at, for instance in replays and simulations. Certificates are not
bound to a chain: chain_id, kept in the signatures for their callers, is not used.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from causeway.crypto import sm2_x509
from causeway.crypto.keys import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    PrivateKey,
    PublicKey,
    library_private_key,
    library_public_key,
    public_key_from_library_key,
)
from causeway.crypto.profiles import profile_of_algorithm
from causeway.crypto.sm2_x509 import CERTIFICATE_BYTES_MAX
from causeway.errors import CertificateError, CryptoError
from causeway.types.v1 import types_pb2

MILLISECONDS_PER_DAY = 86_400_000

_ROLE_NAME_PREFIX = "ROLE_"
# The signature algorithms our CAs produce; anything else (SHA-1, say) is refused outright.
_ACCEPTED_SIGNATURE_ALGORITHMS = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ED25519,
}


def _datetime_from_ms(time_ms: int) -> datetime.datetime:
    # X.509 times have whole seconds.
    return datetime.datetime.fromtimestamp(time_ms // 1000, tz=datetime.UTC)


def _ms_from_datetime(moment: datetime.datetime) -> int:
    return int(moment.timestamp()) * 1000


def _x509_signature_hash(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 hashes internally and takes no separate hash algorithm.
    return hashes.SHA256() if key.algorithm == ALGORITHM_ECDSA_P256 else None


def _check_valid_days(valid_days: int) -> None:
    if valid_days <= 0:
        raise CryptoError(f"valid_days must be positive, got {valid_days}")


def _canonical_roles(roles: Sequence[int]) -> list[types_pb2.Role.ValueType]:
    """Sorted, without duplicates; every role a known, specified Role."""
    canonical: list[types_pb2.Role.ValueType] = []
    for role in sorted(set(roles)):
        name = _role_name(role)
        if name is None:
            raise CertificateError(f"unknown role {role}")
        if role == types_pb2.ROLE_UNSPECIFIED:
            raise CertificateError("ROLE_UNSPECIFIED cannot be granted")
        canonical.append(types_pb2.Role.Value(name))
    return canonical


def _role_name(role: int) -> str | None:
    """The enum name of role, None for a number the Role enum does not define."""
    value = types_pb2.Role.DESCRIPTOR.values_by_number.get(role)
    return None if value is None else value.name


def _role_label(role: int) -> str:
    return _role_name(role) or f"role {role}"


def _role_unit_name(role: types_pb2.Role.ValueType) -> str:
    return types_pb2.Role.Name(role).removeprefix(_ROLE_NAME_PREFIX).lower()


def _role_from_unit_name(unit_name: str) -> types_pb2.Role.ValueType:
    role_name = _ROLE_NAME_PREFIX + unit_name.upper()
    if unit_name != unit_name.lower() or role_name == "ROLE_UNSPECIFIED":
        raise CertificateError(f"certificate names an unknown role {unit_name!r}")
    try:
        return types_pb2.Role.Value(role_name)
    except ValueError:
        raise CertificateError(f"certificate names an unknown role {unit_name!r}") from None


CA_BACKDATE = datetime.timedelta(hours=1)


def issue_ca_certificate(
    organisation: str, key: PrivateKey, valid_days: int, *, unit: str | None = None
) -> bytes:
    """A self-signed X.509 CA certificate (DER) for an organisation: SM2 with SM3 for an sm2
    key. `unit` adds an organisational unit to the name, for a second CA of the same
    organisation (its transport TLS CA)."""
    _check_valid_days(valid_days)
    if not organisation:
        raise CertificateError("organisation id must not be empty")
    # The one place this package reads the clock: `causeway init` issues CAs from wall time.
    # Backdated so that machines whose clocks run a little behind (TLS checks the start date)
    # accept the CA at once.
    not_before = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0) - CA_BACKDATE
    if key.algorithm == ALGORITHM_SM2:
        not_before_ms = _ms_from_datetime(not_before)
        return sm2_x509.issue_ca_certificate(
            organisation,
            key,
            not_before_ms,
            not_before_ms + valid_days * MILLISECONDS_PER_DAY,
            unit=unit,
        )
    # The organisation alone names its CA: a common name such as "<organisation> CA" would cap
    # organisation ids at 61 characters (X.509 bounds common names at 64).
    attributes = [_name_attribute(NameOID.ORGANIZATION_NAME, organisation)]
    if unit is not None:
        attributes.append(_name_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    name = x509.Name(attributes)
    public_key = library_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    certificate = builder.sign(library_private_key(key), _x509_signature_hash(key))
    return certificate.public_bytes(Encoding.DER)


def _name_attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    try:
        return x509.NameAttribute(oid, value)
    except ValueError as error:
        raise CertificateError(f"cannot put {value!r} in a certificate: {error}") from error


def _certificate_key(certificate: x509.Certificate, what: str) -> PublicKey:
    try:
        return public_key_from_library_key(certificate.public_key())
    except (CryptoError, UnsupportedAlgorithm, ValueError) as error:
        raise CertificateError(f"{what}: {error}") from error


def _member_name(member_id: str, organisation_id: str) -> str:
    """The name part of member_id; CertificateError unless it is "<organisation>/<name>"."""
    prefix = organisation_id + "/"
    if not organisation_id or not member_id.startswith(prefix) or len(member_id) == len(prefix):
        raise CertificateError(
            f"member id {member_id!r} is not of the form '{organisation_id}/<name>'"
        )
    return member_id[len(prefix) :]


def issue_member_certificate(  # noqa: PLR0917 (the ADR 0001 signature)
    chain_id: str,
    organisation: types_pb2.Organisation,
    ca_key: PrivateKey,
    ca_certificate: bytes,
    member_id: str,
    roles: Sequence[int],
    public_key: PublicKey,
    valid_days: int,
    now_ms: int,
) -> bytes:
    """A member certificate, DER X.509, signed by the organisation's CA (SM2 with SM3 for gm).

    chain_id is not used: X.509 certificates do not carry it.
    """
    _check_valid_days(valid_days)
    _member_name(member_id, organisation.id)
    canonical_roles = _canonical_roles(roles)
    ca_public_key = ca_key.public_key()
    if (
        ca_key.algorithm != organisation.ca_algorithm
        or ca_public_key.raw != organisation.ca_public_key
    ):
        raise CertificateError(f"ca_key is not the CA key of organisation {organisation.id!r}")
    ca_profile = profile_of_algorithm(ca_key.algorithm)
    if public_key.algorithm not in ca_profile.algorithms:
        raise CertificateError(
            f"a {ca_key.algorithm} CA cannot certify a {public_key.algorithm} key: both must"
            f" belong to the crypto profile {ca_profile.name!r}"
        )
    not_after_ms = now_ms + valid_days * MILLISECONDS_PER_DAY

    if ca_key.algorithm == ALGORITHM_SM2:
        ca_sm2 = sm2_x509.parse_certificate(ca_certificate, "CA certificate")
        if ca_sm2.public_key != ca_public_key:
            raise CertificateError(
                f"ca_certificate does not hold the CA key of {organisation.id!r}"
            )
        return sm2_x509.issue_member_certificate(
            ca_key,
            ca_sm2,
            organisation.id,
            [_role_unit_name(role) for role in canonical_roles],
            member_id,
            public_key,
            now_ms,
            not_after_ms,
        )

    ca = _load_x509(ca_certificate, "CA certificate")
    if _certificate_key(ca, "ca_certificate") != ca_public_key:
        raise CertificateError(f"ca_certificate does not hold the CA key of {organisation.id!r}")
    subject = x509.Name(
        [
            _name_attribute(NameOID.ORGANIZATION_NAME, organisation.id),
            *(
                _name_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _role_unit_name(role))
                for role in canonical_roles
            ),
            # X.509 bounds common names at 64 characters, and so intl member ids.
            _name_attribute(NameOID.COMMON_NAME, member_id),
        ]
    )
    member_key = library_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(member_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_datetime_from_ms(now_ms))
        .not_valid_after(_datetime_from_ms(not_after_ms))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(member_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(library_public_key(ca_public_key)),
            critical=False,
        )
    )
    certificate = builder.sign(library_private_key(ca_key), _x509_signature_hash(ca_key))
    return certificate.public_bytes(Encoding.DER)


def verify_member_certificate(
    chain_id: str, organisation: types_pb2.Organisation, member: types_pb2.Member, now_ms: int
) -> None:
    """CertificateError unless member.certificate, issued by organisation's CA and unexpired at
    now_ms, names this member and organisation, holds member.public_key and grants at least
    member.roles."""
    if member.organisation != organisation.id:
        raise CertificateError(
            f"member {member.id!r} belongs to {member.organisation!r}, not {organisation.id!r}"
        )
    if member.id != f"{member.organisation}/{member.name}" or not member.name:
        raise CertificateError(
            f"member id {member.id!r} is not '<organisation>/<name>' for organisation"
            f" {member.organisation!r} and name {member.name!r}"
        )
    if organisation.ca_algorithm == ALGORITHM_SM2:
        granted_roles = _verify_sm2_member(organisation, member, now_ms)
    elif organisation.ca_algorithm in (ALGORITHM_ECDSA_P256, ALGORITHM_ED25519):
        granted_roles = _verify_x509_member(organisation, member, now_ms)
    else:
        raise CertificateError(
            f"organisation {organisation.id!r} has unknown CA algorithm"
            f" {organisation.ca_algorithm!r}"
        )
    missing = set(member.roles) - granted_roles
    if missing:
        names = ", ".join(_role_label(role) for role in sorted(missing))
        raise CertificateError(f"certificate of {member.id!r} does not grant {names}")


def _check_subject_key(member: types_pb2.Member, algorithm: str, raw: bytes) -> None:
    if algorithm != member.algorithm or raw != member.public_key:
        raise CertificateError(
            f"the public key in the certificate of {member.id!r} is not the member's key"
        )


def _check_not_expired(member: types_pb2.Member, not_after_ms: int, now_ms: int) -> None:
    if now_ms > not_after_ms:
        raise CertificateError(
            f"certificate of {member.id!r} expired at {not_after_ms} ms, now is {now_ms} ms"
        )


def _check_ca_not_expired(
    organisation: types_pb2.Organisation, not_after_ms: int, now_ms: int
) -> None:
    if now_ms > not_after_ms:
        raise CertificateError(
            f"CA certificate of {organisation.id!r} expired at {not_after_ms} ms,"
            f" now is {now_ms} ms"
        )


def _check_names(
    organisation: types_pb2.Organisation,
    member: types_pb2.Member,
    common_names: Sequence[str],
    organisation_names: Sequence[str],
) -> None:
    if len(common_names) != 1:
        raise CertificateError("certificate subject must have exactly one common name")
    if len(organisation_names) != 1:
        raise CertificateError("certificate subject must have exactly one organisation")
    if common_names[0] != member.id or organisation_names[0] != organisation.id:
        raise CertificateError(
            f"certificate names {common_names[0]!r} of {organisation_names[0]!r},"
            f" not {member.id!r} of {organisation.id!r}"
        )


def _verify_sm2_member(
    organisation: types_pb2.Organisation, member: types_pb2.Member, now_ms: int
) -> set[int]:
    what = f"CA certificate of {organisation.id!r}"
    if not organisation.ca_certificate:
        raise CertificateError(f"organisation {organisation.id!r} has no CA certificate")
    ca = sm2_x509.parse_certificate(organisation.ca_certificate, what)
    if ca.public_key.raw != organisation.ca_public_key:
        raise CertificateError(f"{what} does not hold the organisation's CA key")
    if not ca.is_ca:
        raise CertificateError(f"{what} is not a CA certificate")
    if ca.key_usage is not None and sm2_x509.KEY_USAGE_KEY_CERT_SIGN not in ca.key_usage:
        raise CertificateError(f"{what} does not allow certificate signing (keyCertSign)")
    if ca.issuer != ca.subject or not ca.is_signed_by(ca.public_key):
        raise CertificateError(f"{what} is not self-signed by the organisation's CA key")
    _check_ca_not_expired(organisation, ca.not_after_ms, now_ms)

    certificate = sm2_x509.parse_certificate(member.certificate, f"certificate of {member.id!r}")
    if certificate.issuer != ca.subject or not certificate.is_signed_by(ca.public_key):
        raise CertificateError(
            f"certificate of {member.id!r} is not issued by the CA of {organisation.id!r}"
        )
    if certificate.is_ca:
        raise CertificateError(f"certificate of {member.id!r} is a CA certificate, not a member's")
    if (
        certificate.key_usage is not None
        and sm2_x509.KEY_USAGE_DIGITAL_SIGNATURE not in certificate.key_usage
    ):
        raise CertificateError(f"certificate of {member.id!r} does not allow digital signatures")
    _check_not_expired(member, certificate.not_after_ms, now_ms)
    _check_names(
        organisation,
        member,
        certificate.subject_values(sm2_x509.COMMON_NAME_OID),
        certificate.subject_values(sm2_x509.ORGANIZATION_NAME_OID),
    )
    _check_subject_key(member, certificate.public_key.algorithm, certificate.public_key.raw)
    return {
        _role_from_unit_name(unit_name)
        for unit_name in certificate.subject_values(sm2_x509.ORGANIZATIONAL_UNIT_NAME_OID)
    }


def _load_x509(data: bytes, what: str) -> x509.Certificate:
    if len(data) > CERTIFICATE_BYTES_MAX:
        raise CertificateError(
            f"{what} is {len(data)} bytes, above the limit of {CERTIFICATE_BYTES_MAX}"
        )
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise CertificateError(f"{what} is not a DER X.509 certificate: {error}") from error


def _single_name(certificate: x509.Certificate, oid: x509.ObjectIdentifier, what: str) -> str:
    values = certificate.subject.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise CertificateError(f"certificate subject must have exactly one {what}")
    return values[0].value


def _verify_x509_member(
    organisation: types_pb2.Organisation, member: types_pb2.Member, now_ms: int
) -> set[int]:
    ca = _load_x509(organisation.ca_certificate, f"CA certificate of {organisation.id!r}")
    ca_key = _certificate_key(ca, f"CA certificate of {organisation.id!r}")
    if ca_key.algorithm != organisation.ca_algorithm or ca_key.raw != organisation.ca_public_key:
        raise CertificateError(
            f"CA certificate of {organisation.id!r} does not hold the organisation's CA key"
        )
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CertificateError(f"CA certificate of {organisation.id!r} is not a CA certificate")
    _check_ca_not_expired(organisation, _ms_from_datetime(ca.not_valid_after_utc), now_ms)

    certificate = _load_x509(member.certificate, f"certificate of {member.id!r}")
    if certificate.signature_algorithm_oid not in _ACCEPTED_SIGNATURE_ALGORITHMS:
        raise CertificateError(
            f"certificate of {member.id!r} uses an unaccepted signature algorithm"
        )
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as error:
        raise CertificateError(
            f"certificate of {member.id!r} is not issued by the CA of {organisation.id!r}"
        ) from error
    _check_not_expired(member, _ms_from_datetime(certificate.not_valid_after_utc), now_ms)
    common_name = _single_name(certificate, NameOID.COMMON_NAME, "common name")
    organisation_name = _single_name(certificate, NameOID.ORGANIZATION_NAME, "organisation")
    if common_name != member.id or organisation_name != organisation.id:
        raise CertificateError(
            f"certificate names {common_name!r} of {organisation_name!r},"
            f" not {member.id!r} of {organisation.id!r}"
        )
    subject_key = _certificate_key(certificate, f"certificate of {member.id!r}")
    _check_subject_key(member, subject_key.algorithm, subject_key.raw)
    granted: set[int] = set()
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME):
        if not isinstance(attribute.value, str):
            raise CertificateError(f"certificate of {member.id!r} has a non-text role")
        granted.add(_role_from_unit_name(attribute.value))
    return granted
