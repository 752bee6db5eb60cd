"""Member certificates issued by an organisation's CA.

intl (ecdsa-p256 and ed25519 CAs): X.509, DER-encoded. A member certificate's subject is
    O = organisation id, one OU per role, CN = member id
Roles are written as organizational units named after the Role enum without its prefix, in lower
case ("admin", "client", "consensus", "light"), the way Hyperledger Fabric marks node roles: any
X.509 tool shows them, and no private object identifier has to be registered.

gm (sm2 CAs): X.509 tooling cannot carry SM2 keys, so the certificate is an encoded
causeway.types.v1.Credential whose issuer_signature is the CA's signature over
sign_bytes("credential", chain id, encoded Credential without issuer_signature).

Only the end of validity is checked. A Credential has no start, and the start that X.509 requires
is taken from the issuer's clock (issue_ca_certificate has no time parameter), which need not be
ordered with the block times that verification runs at, for instance in replays and simulations.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from causeway.crypto.keys import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    PrivateKey,
    PublicKey,
    library_private_key,
    library_public_key,
    load_public_key,
    public_key_from_library_key,
)
from causeway.crypto.profiles import profile_of_algorithm
from causeway.errors import CertificateError, CryptoError, RequestError
from causeway.types import DOMAIN_CREDENTIAL, decode, encode, sign_bytes
from causeway.types.v1 import types_pb2

# Far above a real certificate (well under 1 KiB); bounds what a member record can make us parse.
CERTIFICATE_BYTES_MAX = 16 * 1024
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
    """A self-signed X.509 CA certificate (DER) for an intl organisation; b"" for sm2, whose
    organisations are identified by their CA public key alone. `unit` adds an organisational
    unit to the name, for a second CA of the same organisation (its transport TLS CA)."""
    _check_valid_days(valid_days)
    if key.algorithm == ALGORITHM_SM2:
        return b""
    if not organisation:
        raise CertificateError("organisation id must not be empty")
    # The one place this package reads the clock: `causeway init` issues CAs from wall time.
    # Backdated so that machines whose clocks run a little behind (TLS checks the start date)
    # accept the CA at once.
    not_before = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0) - CA_BACKDATE
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
    """A member certificate: DER X.509 for an intl organisation, an encoded Credential for gm.

    chain_id binds gm Credentials to one chain; X.509 certificates do not carry it.
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
        credential = types_pb2.Credential(
            member_id=member_id,
            organisation=organisation.id,
            roles=canonical_roles,
            algorithm=public_key.algorithm,
            public_key=public_key.raw,
            not_after_ms=not_after_ms,
        )
        credential.issuer_signature = ca_key.sign(
            sign_bytes(DOMAIN_CREDENTIAL, chain_id, encode(credential))
        )
        return encode(credential)

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
        granted_roles = _verify_credential(chain_id, organisation, member, now_ms)
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


def _verify_credential(
    chain_id: str, organisation: types_pb2.Organisation, member: types_pb2.Member, now_ms: int
) -> set[int]:
    try:
        credential = decode(
            types_pb2.Credential, member.certificate, bytes_max=CERTIFICATE_BYTES_MAX
        )
    except RequestError as error:
        raise CertificateError(f"credential of {member.id!r}: {error.message}") from error
    try:
        ca_key = load_public_key(organisation.ca_algorithm, organisation.ca_public_key)
    except CryptoError as error:
        raise CertificateError(
            f"CA key of organisation {organisation.id!r}: {error.message}"
        ) from error
    signature = credential.issuer_signature
    credential.ClearField("issuer_signature")
    if not ca_key.verify(sign_bytes(DOMAIN_CREDENTIAL, chain_id, encode(credential)), signature):
        raise CertificateError(
            f"credential of {member.id!r} is not signed by the CA of {organisation.id!r}"
            f" for chain {chain_id!r}"
        )
    if credential.member_id != member.id or credential.organisation != organisation.id:
        raise CertificateError(
            f"credential names {credential.member_id!r} of {credential.organisation!r},"
            f" not {member.id!r} of {organisation.id!r}"
        )
    _check_not_expired(member, credential.not_after_ms, now_ms)
    _check_subject_key(member, credential.algorithm, credential.public_key)
    return set(credential.roles)


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
    ca_not_after_ms = _ms_from_datetime(ca.not_valid_after_utc)
    if now_ms > ca_not_after_ms:
        raise CertificateError(
            f"CA certificate of {organisation.id!r} expired at {ca_not_after_ms} ms,"
            f" now is {now_ms} ms"
        )

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
