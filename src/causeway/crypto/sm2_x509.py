"""SM2 X.509 certificates: issued and parsed as RFC 5280 structures, signed SM2 with SM3.

What the bytes are (GB/T 20518 profile of X.509 v3, algorithms and identifiers as GB/T 35275 /
GB/T 35276, GM/T 0006 and RFC 8998 give them):

    signatureAlgorithm  1.2.156.10197.1.501 (SM2-with-SM3), parameters absent, in the
                        certificate and in its TBSCertificate alike
    signatureValue      the issuer's SM2 signature of the DER TBSCertificate: SM3 over
                        Z || TBSCertificate, Z hashing in the default distinguishing ID
                        "1234567812345678" (GB/T 35276-2017, 5.3; RFC 8998 section 3.2.1),
                        encoded as DER SEQUENCE { r INTEGER, s INTEGER }
    subjectPublicKeyInfo id-ecPublicKey (1.2.840.10045.2.1) with the named curve sm2p256v1
                        (1.2.156.10197.1.301); the key an uncompressed point

The ASN.1 structure comes from `pyasn1-modules` (its RFC 5280 module) and the DER codec from
`pyasn1`; the SM2 and SM3 arithmetic from `tongsuopy` (through causeway.crypto.keys). Neither
`cryptography` (it cannot load SM2 keys, and cannot sign with them) nor `asn1crypto` (no release
since 2022) nor `gmssl-python` (a ctypes binding to a GmSSL library that neither Debian nor PyPI
ships here) would do: docs/certificates.md gives the whole reasoning.

Parsing is bounded and strict. Input above CERTIFICATE_BYTES_MAX is refused before decoding.
pyasn1 decodes BER; the input is re-encoded as DER and must come out byte for byte the same, so
one certificate has exactly one byte form (the rule of types/encoding.py) and the signature is
checked over the bytes that were received. Anything unexpected raises CertificateError with what
was wrong and where; nothing else escapes, whatever the bytes (tests/crypto fuzz this).

Pure: no clock, no I/O. Serial numbers come from os.urandom, as X.509 asks of an issuer.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, univ, useful
from pyasn1_modules import rfc5280

from causeway.crypto.hashing import sm3
from causeway.crypto.keys import ALGORITHM_SM2, PrivateKey, PublicKey, load_public_key
from causeway.errors import CertificateError, CryptoError

# Far above a real certificate (well under 1 KiB); bounds what a member record can make us parse.
CERTIFICATE_BYTES_MAX = 16 * 1024

SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
SM2_CURVE_OID = "1.2.156.10197.1.301"
# The distinguishing ID of every SM2 signature Causeway makes or checks (tongsuopy's default):
# OpenSSL 3.0 uses an empty ID unless told this one (`-sigopt distid:1234567812345678` to sign,
# `-vfyopt distid:1234567812345678` to verify).
SM2_DEFAULT_DISTINGUISHING_ID = b"1234567812345678"

COMMON_NAME_OID = str(rfc5280.id_at_commonName)
ORGANIZATION_NAME_OID = str(rfc5280.id_at_organizationName)
ORGANIZATIONAL_UNIT_NAME_OID = str(rfc5280.id_at_organizationalUnitName)
# RFC 5280 upper bounds (ub-common-name, ub-organization-name, ub-organizational-unit-name).
NAME_CHARACTERS_MAX = 64

KEY_USAGE_DIGITAL_SIGNATURE = "digitalSignature"
KEY_USAGE_KEY_CERT_SIGN = "keyCertSign"
KEY_USAGE_CRL_SIGN = "cRLSign"
# Bit positions of KeyUsage (RFC 5280, 4.2.1.3), by name.
_KEY_USAGE_BITS = {
    KEY_USAGE_DIGITAL_SIGNATURE: 0,
    "nonRepudiation": 1,
    "keyEncipherment": 2,
    "dataEncipherment": 3,
    "keyAgreement": 4,
    KEY_USAGE_KEY_CERT_SIGN: 5,
    KEY_USAGE_CRL_SIGN: 6,
    "encipherOnly": 7,
    "decipherOnly": 8,
}
_KEY_USAGE_NAMES = {bit: name for name, bit in _KEY_USAGE_BITS.items()}

_BASIC_CONSTRAINTS_OID = str(rfc5280.id_ce_basicConstraints)
_KEY_USAGE_OID = str(rfc5280.id_ce_keyUsage)
_SUBJECT_KEY_IDENTIFIER_OID = str(rfc5280.id_ce_subjectKeyIdentifier)
_AUTHORITY_KEY_IDENTIFIER_OID = str(rfc5280.id_ce_authorityKeyIdentifier)
_EXTENDED_KEY_USAGE_OID = str(rfc5280.id_ce_extKeyUsage)
# Extensions that are decoded (and so held to DER) though nothing here acts on them; a critical
# extension that is neither these nor basicConstraints or keyUsage refuses the certificate
# (RFC 5280, 4.2).
_DECODED_ONLY_EXTENSIONS: dict[str, Any] = {
    _SUBJECT_KEY_IDENTIFIER_OID: rfc5280.SubjectKeyIdentifier,
    _AUTHORITY_KEY_IDENTIFIER_OID: rfc5280.AuthorityKeyIdentifier,
    _EXTENDED_KEY_USAGE_OID: rfc5280.ExtKeyUsageSyntax,
}
_VERSION_1 = 0
_VERSION_3 = 2
# RFC 5280, 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
_FIRST_GENERALIZED_TIME_YEAR = 2050
_UTC_TIME = re.compile(r"\A[0-9]{12}Z\Z")
_GENERALIZED_TIME = re.compile(r"\A[0-9]{14}Z\Z")
_KEY_IDENTIFIER_BYTES = 20
_SERIAL_NUMBER_BITS = 159


@dataclass(frozen=True)
class Sm2Certificate:
    """What Causeway reads from an SM2 X.509 certificate; parse_certificate makes them."""

    tbs_certificate: bytes
    signature: bytes
    serial_number: int
    issuer: bytes  # the DER Name, compared byte for byte with the issuer's subject
    subject: bytes
    # (attribute type OID, text) in the order the names list them.
    issuer_attributes: tuple[tuple[str, str], ...]
    subject_attributes: tuple[tuple[str, str], ...]
    not_before_ms: int
    not_after_ms: int
    public_key: PublicKey
    is_ca: bool | None  # None without a basicConstraints extension
    key_usage: frozenset[str] | None  # None without a keyUsage extension

    def subject_values(self, oid: str) -> list[str]:
        return [value for attribute_oid, value in self.subject_attributes if attribute_oid == oid]

    def is_signed_by(self, issuer_key: PublicKey) -> bool:
        """Whether issuer_key's SM2 signature (SM3, default distinguishing ID) covers this
        certificate's TBSCertificate."""
        return issuer_key.algorithm == ALGORITHM_SM2 and issuer_key.verify(
            self.tbs_certificate, self.signature
        )


# --- issuing -----------------------------------------------------------------------------------


def issue_ca_certificate(
    organisation: str,
    key: PrivateKey,
    not_before_ms: int,
    not_after_ms: int,
    *,
    unit: str | None = None,
) -> bytes:
    """A self-signed SM2 CA certificate (DER) named O = organisation [, OU = unit]."""
    _check_signing_key(key)
    attributes = [(ORGANIZATION_NAME_OID, organisation)]
    if unit is not None:
        attributes.append((ORGANIZATIONAL_UNIT_NAME_OID, unit))
    name = _name(attributes)
    public_key = key.public_key()
    return _sign(
        key,
        issuer=name,
        subject=name,
        subject_key=public_key,
        not_before_ms=not_before_ms,
        not_after_ms=not_after_ms,
        extensions=[
            _basic_constraints_extension(is_ca=True),
            _key_usage_extension(
                [KEY_USAGE_DIGITAL_SIGNATURE, KEY_USAGE_KEY_CERT_SIGN, KEY_USAGE_CRL_SIGN]
            ),
            _subject_key_identifier_extension(public_key),
        ],
    )


def issue_member_certificate(  # noqa: PLR0917 (mirrors certificates.issue_member_certificate)
    ca_key: PrivateKey,
    ca_certificate: Sm2Certificate,
    organisation: str,
    units: Sequence[str],
    common_name: str,
    public_key: PublicKey,
    not_before_ms: int,
    not_after_ms: int,
) -> bytes:
    """An SM2 end-entity certificate (DER) named O = organisation, OU = each unit, CN =
    common_name, issued by ca_certificate's subject and signed with ca_key."""
    _check_signing_key(ca_key)
    if public_key.algorithm != ALGORITHM_SM2:
        raise CertificateError(f"an SM2 certificate cannot hold a {public_key.algorithm} key")
    if ca_certificate.public_key != ca_key.public_key():
        raise CertificateError("ca_certificate does not hold the public key of ca_key")
    subject = _name(
        [
            (ORGANIZATION_NAME_OID, organisation),
            *((ORGANIZATIONAL_UNIT_NAME_OID, unit) for unit in units),
            (COMMON_NAME_OID, common_name),
        ]
    )
    issuer, _ = der_decoder.decode(ca_certificate.subject, asn1Spec=rfc5280.Name())
    return _sign(
        ca_key,
        issuer=issuer,
        subject=subject,
        subject_key=public_key,
        not_before_ms=not_before_ms,
        not_after_ms=not_after_ms,
        extensions=[
            _basic_constraints_extension(is_ca=False),
            _key_usage_extension([KEY_USAGE_DIGITAL_SIGNATURE]),
            _subject_key_identifier_extension(public_key),
            _authority_key_identifier_extension(ca_key.public_key()),
        ],
    )


def _check_signing_key(key: PrivateKey) -> None:
    if key.algorithm != ALGORITHM_SM2:
        raise CertificateError(f"an SM2 certificate cannot be signed with a {key.algorithm} key")


def _sign(  # noqa: PLR0917
    key: PrivateKey,
    issuer: Any,
    subject: Any,
    subject_key: PublicKey,
    not_before_ms: int,
    not_after_ms: int,
    extensions: Sequence[Any],
) -> bytes:
    if not_after_ms < not_before_ms:
        raise CertificateError(
            f"validity ends ({not_after_ms} ms) before it starts ({not_before_ms} ms)"
        )
    tbs = rfc5280.TBSCertificate()
    tbs["version"] = _VERSION_3
    # Positive and at most 20 octets (RFC 5280, 4.1.2.2), as `cryptography` makes them.
    tbs["serialNumber"] = int.from_bytes(os.urandom(20), "big") >> (160 - _SERIAL_NUMBER_BITS)
    tbs["signature"] = _signature_algorithm()
    tbs["issuer"] = issuer
    validity = rfc5280.Validity()
    validity["notBefore"] = _time(not_before_ms)
    validity["notAfter"] = _time(not_after_ms)
    tbs["validity"] = validity
    tbs["subject"] = subject
    tbs["subjectPublicKeyInfo"] = _subject_public_key_info(subject_key)
    extensions_field = tbs["extensions"]
    for extension in extensions:
        extensions_field.append(extension)
    tbs_bytes: bytes = der_encoder.encode(tbs)
    certificate = rfc5280.Certificate()
    certificate["tbsCertificate"] = tbs
    certificate["signatureAlgorithm"] = _signature_algorithm()
    certificate["signature"] = univ.BitString.fromOctetString(key.sign(tbs_bytes))
    encoded: bytes = der_encoder.encode(certificate)
    if len(encoded) > CERTIFICATE_BYTES_MAX:
        # Reachable only with absurd names, which _name bounds; kept so that nothing we issue
        # is refused when read back.
        raise CertificateError(f"certificate of {len(encoded)} bytes exceeds the limit")
    return encoded


def _signature_algorithm() -> Any:
    identifier = rfc5280.AlgorithmIdentifier()
    identifier["algorithm"] = univ.ObjectIdentifier(SM2_WITH_SM3_OID)
    return identifier


def _subject_public_key_info(key: PublicKey) -> Any:
    information = rfc5280.SubjectPublicKeyInfo()
    algorithm = rfc5280.AlgorithmIdentifier()
    algorithm["algorithm"] = univ.ObjectIdentifier(EC_PUBLIC_KEY_OID)
    algorithm["parameters"] = der_encoder.encode(univ.ObjectIdentifier(SM2_CURVE_OID))
    information["algorithm"] = algorithm
    information["subjectPublicKey"] = univ.BitString.fromOctetString(key.raw)
    return information


def _time(time_ms: int) -> Any:
    # X.509 times have whole seconds.
    moment = datetime.datetime.fromtimestamp(time_ms // 1000, tz=datetime.UTC)
    time = rfc5280.Time()
    if moment.year < _FIRST_GENERALIZED_TIME_YEAR:
        time["utcTime"] = useful.UTCTime(moment.strftime("%y%m%d%H%M%SZ"))
    else:
        time["generalTime"] = useful.GeneralizedTime(moment.strftime("%Y%m%d%H%M%SZ"))
    return time


def _name(attributes: Sequence[tuple[str, str]]) -> Any:
    """One attribute per relative distinguished name, each a UTF8String (RFC 5280, 4.1.2.4)."""
    sequence = rfc5280.RDNSequence()
    for oid, value in attributes:
        if not 1 <= len(value) <= NAME_CHARACTERS_MAX:
            raise CertificateError(
                f"cannot put {value!r} in a certificate: a name attribute holds 1 to"
                f" {NAME_CHARACTERS_MAX} characters"
            )
        attribute = rfc5280.AttributeTypeAndValue()
        attribute["type"] = univ.ObjectIdentifier(oid)
        attribute["value"] = der_encoder.encode(char.UTF8String(value))
        relative_name = rfc5280.RelativeDistinguishedName()
        relative_name.append(attribute)
        sequence.append(relative_name)
    name = rfc5280.Name()
    name["rdnSequence"] = sequence
    return name


def _extension(oid: str, value: Any, *, critical: bool) -> Any:
    extension = rfc5280.Extension()
    extension["extnID"] = univ.ObjectIdentifier(oid)
    if critical:
        # FALSE is the DEFAULT, which DER leaves out.
        extension["critical"] = True
    extension["extnValue"] = der_encoder.encode(value)
    return extension


def _basic_constraints_extension(*, is_ca: bool) -> Any:
    constraints = rfc5280.BasicConstraints()
    if is_ca:
        constraints["cA"] = True
        # Organisation CAs certify members directly, never another CA.
        constraints["pathLenConstraint"] = 0
    return _extension(_BASIC_CONSTRAINTS_OID, constraints, critical=True)


def _key_usage_extension(usages: Sequence[str]) -> Any:
    positions = sorted(_KEY_USAGE_BITS[usage] for usage in usages)
    # DER: a named bit list without trailing zero bits.
    bits = "".join("1" if bit in positions else "0" for bit in range(positions[-1] + 1))
    return _extension(_KEY_USAGE_OID, rfc5280.KeyUsage(binValue=bits), critical=True)


def key_identifier(key: PublicKey) -> bytes:
    """The leftmost 160 bits of SM3 over the subjectPublicKey bits: RFC 7093's method with the
    gm profile's hash. An identifier only; nothing trusts it."""
    return sm3(key.raw)[:_KEY_IDENTIFIER_BYTES]


def _subject_key_identifier_extension(key: PublicKey) -> Any:
    return _extension(
        _SUBJECT_KEY_IDENTIFIER_OID,
        rfc5280.SubjectKeyIdentifier(key_identifier(key)),
        critical=False,
    )


def _authority_key_identifier_extension(key: PublicKey) -> Any:
    identifier = rfc5280.AuthorityKeyIdentifier()
    identifier["keyIdentifier"] = key_identifier(key)
    return _extension(_AUTHORITY_KEY_IDENTIFIER_OID, identifier, critical=False)


# --- parsing -----------------------------------------------------------------------------------


def parse_certificate(data: bytes, what: str) -> Sm2Certificate:
    """The SM2 certificate in data (DER); CertificateError naming `what` for anything that is
    not one. The signature is not checked here: see Sm2Certificate.is_signed_by."""
    if len(data) > CERTIFICATE_BYTES_MAX:
        raise CertificateError(
            f"{what} is {len(data)} bytes, above the limit of {CERTIFICATE_BYTES_MAX}"
        )
    data = bytes(data)
    try:
        certificate, rest = der_decoder.decode(data, asn1Spec=rfc5280.Certificate())
    except (PyAsn1Error, ValueError, TypeError, IndexError, KeyError, UnicodeError) as error:
        # pyasn1 reports most malformed input as PyAsn1Error, but a few codec paths let the
        # Python error through; all of them mean the same to the caller.
        raise CertificateError(f"{what} is not a DER X.509 certificate: {error}") from error
    if rest:
        raise CertificateError(f"{what} has {len(rest)} bytes after the certificate")
    try:
        return _read_certificate(certificate, data, what)
    except (PyAsn1Error, ValueError, TypeError, IndexError, KeyError, UnicodeError) as error:
        raise CertificateError(f"{what} is malformed: {error}") from error


def _read_certificate(certificate: Any, data: bytes, what: str) -> Sm2Certificate:
    if der_encoder.encode(certificate) != data:
        raise CertificateError(
            f"{what} is not in DER (the distinguished encoding): it decodes, but its bytes are"
            " not the one DER form of what it holds"
        )
    tbs = certificate["tbsCertificate"]
    _check_signature_algorithm(certificate["signatureAlgorithm"], f"{what}: signatureAlgorithm")
    _check_signature_algorithm(tbs["signature"], f"{what}: TBSCertificate signature field")
    version = int(tbs["version"])
    if version not in (_VERSION_1, _VERSION_3):
        raise CertificateError(f"{what} is X.509 version {version + 1}; versions 1 and 3 only")
    if tbs["issuerUniqueID"].isValue or tbs["subjectUniqueID"].isValue:
        raise CertificateError(f"{what} has unique identifiers, which RFC 5280 CAs never issue")
    has_extensions = tbs["extensions"].isValue
    if has_extensions and version != _VERSION_3:
        raise CertificateError(f"{what} has extensions but is not X.509 version 3")
    is_ca, key_usage = _read_extensions(tbs["extensions"] if has_extensions else (), what)
    validity = tbs["validity"]
    signature_bits = certificate["signature"]
    if len(signature_bits) % 8:
        raise CertificateError(f"{what}: signature is not a whole number of bytes")
    return Sm2Certificate(
        tbs_certificate=der_encoder.encode(tbs),
        signature=signature_bits.asOctets(),
        serial_number=int(tbs["serialNumber"]),
        issuer=der_encoder.encode(tbs["issuer"]),
        subject=der_encoder.encode(tbs["subject"]),
        issuer_attributes=_read_name(tbs["issuer"], f"{what}: issuer"),
        subject_attributes=_read_name(tbs["subject"], f"{what}: subject"),
        not_before_ms=_read_time(validity["notBefore"], f"{what}: notBefore"),
        not_after_ms=_read_time(validity["notAfter"], f"{what}: notAfter"),
        public_key=_read_public_key(tbs["subjectPublicKeyInfo"], what),
        is_ca=is_ca,
        key_usage=key_usage,
    )


def _check_signature_algorithm(identifier: Any, what: str) -> None:
    oid = str(identifier["algorithm"])
    if oid != SM2_WITH_SM3_OID:
        raise CertificateError(f"{what} is {oid}, not SM2 with SM3 ({SM2_WITH_SM3_OID})")
    if identifier["parameters"].isValue:
        raise CertificateError(f"{what}: SM2 with SM3 takes no parameters")


def _read_public_key(information: Any, what: str) -> PublicKey:
    algorithm = information["algorithm"]
    oid = str(algorithm["algorithm"])
    if oid != EC_PUBLIC_KEY_OID:
        raise CertificateError(
            f"{what}: public key algorithm is {oid}, not id-ecPublicKey ({EC_PUBLIC_KEY_OID})"
        )
    if not algorithm["parameters"].isValue:
        raise CertificateError(f"{what}: the public key names no curve")
    curve = _decode_exactly(
        bytes(algorithm["parameters"]), univ.ObjectIdentifier(), f"{what}: curve"
    )
    if str(curve) != SM2_CURVE_OID:
        raise CertificateError(
            f"{what}: public key is on curve {curve}, not sm2p256v1 ({SM2_CURVE_OID})"
        )
    bits = information["subjectPublicKey"]
    if len(bits) % 8:
        raise CertificateError(f"{what}: public key is not a whole number of bytes")
    try:
        return load_public_key(ALGORITHM_SM2, bits.asOctets())
    except CryptoError as error:
        raise CertificateError(f"{what}: {error.message}") from error


def _read_time(time: Any, what: str) -> int:
    choice = time.getName()
    text = str(time.getComponent())
    if choice == "utcTime":
        if not _UTC_TIME.match(text):
            raise CertificateError(f"{what}: UTCTime {text!r} is not YYMMDDHHMMSSZ")
        # RFC 5280, 4.1.2.5.1: YY below 50 is 20YY, else 19YY.
        century = "20" if int(text[:2]) < 50 else "19"
        text = century + text
    elif not _GENERALIZED_TIME.match(text):
        raise CertificateError(f"{what}: GeneralizedTime {text!r} is not YYYYMMDDHHMMSSZ")
    elif int(text[:4]) < _FIRST_GENERALIZED_TIME_YEAR:
        raise CertificateError(f"{what}: a time before 2050 must be a UTCTime (RFC 5280)")
    try:
        moment = datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError as error:
        raise CertificateError(f"{what}: {text!r} is not a date: {error}") from error
    return int(moment.timestamp()) * 1000


def _read_name(name: Any, what: str) -> tuple[tuple[str, str], ...]:
    attributes: list[tuple[str, str]] = []
    for relative_name in name["rdnSequence"]:
        for attribute in relative_name:
            oid = str(attribute["type"])
            value = _decode_exactly(
                bytes(attribute["value"]), rfc5280.DirectoryString(), f"{what}: attribute {oid}"
            )
            if value.getName() not in ("utf8String", "printableString"):
                raise CertificateError(
                    f"{what}: attribute {oid} is a {value.getName()}, not a UTF8String or"
                    " PrintableString"
                )
            attributes.append((oid, str(value.getComponent())))
    return tuple(attributes)


def _read_extensions(extensions: Any, what: str) -> tuple[bool | None, frozenset[str] | None]:
    is_ca: bool | None = None
    key_usage: frozenset[str] | None = None
    seen: set[str] = set()
    for extension in extensions:
        oid = str(extension["extnID"])
        if oid in seen:
            raise CertificateError(f"{what} has extension {oid} twice")
        seen.add(oid)
        value = bytes(extension["extnValue"])
        if oid == _BASIC_CONSTRAINTS_OID:
            constraints = _decode_exactly(
                value, rfc5280.BasicConstraints(), f"{what}: extension {oid}"
            )
            is_ca = bool(constraints["cA"])
        elif oid == _KEY_USAGE_OID:
            bits = _decode_exactly(value, rfc5280.KeyUsage(), f"{what}: extension {oid}")
            key_usage = frozenset(
                _KEY_USAGE_NAMES.get(position, f"bit {position}")
                for position, bit in enumerate(bits)
                if bit
            )
        elif oid in _DECODED_ONLY_EXTENSIONS:
            _decode_exactly(value, _DECODED_ONLY_EXTENSIONS[oid](), f"{what}: extension {oid}")
        elif bool(extension["critical"]):
            raise CertificateError(f"{what} has critical extension {oid}, unknown to Causeway")
    return is_ca, key_usage


def _decode_exactly(value: bytes, specification: Any, what: str) -> Any:
    """A value nested as bytes (in an OCTET STRING or an ANY), held to DER like the whole."""
    decoded, rest = der_decoder.decode(value, asn1Spec=specification)
    if rest or der_encoder.encode(decoded) != value:
        raise CertificateError(f"{what} is not exactly one DER value")
    return decoded
