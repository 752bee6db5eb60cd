"""SM2 X.509 certificates (causeway.crypto.sm2_x509): what we issue, what we refuse, and that
OpenSSL 3 agrees both ways (the `openssl` command line, run in a temporary folder)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.type import char, univ, useful
from pyasn1_modules import rfc5280

from causeway.crypto import (
    ALGORITHM_SM2,
    PrivateKey,
    issue_ca_certificate,
    issue_member_certificate,
    verify_member_certificate,
)
from causeway.crypto.sm2_x509 import (
    CERTIFICATE_BYTES_MAX,
    SM2_CURVE_OID,
    SM2_DEFAULT_DISTINGUISHING_ID,
    SM2_WITH_SM3_OID,
    Sm2Certificate,
    key_identifier,
    parse_certificate,
)
from causeway.crypto.sm2_x509 import issue_ca_certificate as issue_sm2_ca_certificate
from causeway.crypto.sm2_x509 import issue_member_certificate as issue_sm2_member_certificate
from causeway.errors import CertificateError
from causeway.types.v1 import types_pb2

CHAIN_ID = "chain-1"
NOW_MS = 1_700_000_000_000
DAY_MS = 86_400_000
VALID_DAYS = 30
ADMIN = types_pb2.ROLE_ADMIN
CLIENT = types_pb2.ROLE_CLIENT
DISTINGUISHING_ID = SM2_DEFAULT_DISTINGUISHING_ID.decode()
P256_CURVE_OID = "1.2.840.10045.3.1.7"
ECDSA_WITH_SHA256_OID = "1.2.840.10045.4.3.2"

CA_KEY = PrivateKey.generate(ALGORITHM_SM2)
CA_CERTIFICATE = issue_ca_certificate("org1", CA_KEY, valid_days=3650)
ORGANISATION = types_pb2.Organisation(
    id="org1",
    ca_algorithm=ALGORITHM_SM2,
    ca_public_key=CA_KEY.public_key().raw,
    ca_certificate=CA_CERTIFICATE,
)
MEMBER_KEY = PrivateKey.generate(ALGORITHM_SM2)


def _issue(roles: list[types_pb2.Role.ValueType] | None = None, *, now_ms: int = NOW_MS) -> bytes:
    return issue_member_certificate(
        CHAIN_ID,
        ORGANISATION,
        CA_KEY,
        CA_CERTIFICATE,
        "org1/alice",
        roles if roles is not None else [CLIENT, ADMIN],
        MEMBER_KEY.public_key(),
        VALID_DAYS,
        now_ms,
    )


MEMBER_CERTIFICATE = _issue()


def _now_ms() -> int:
    # For OpenSSL, which issues from the wall clock and checks validity against it.
    return int(time.time() * 1000)


def _member(
    certificate: bytes,
    key: PrivateKey = MEMBER_KEY,
    roles: tuple[types_pb2.Role.ValueType, ...] = (CLIENT,),
) -> types_pb2.Member:
    return types_pb2.Member(
        id="org1/alice",
        organisation="org1",
        name="alice",
        roles=list(roles),
        algorithm=ALGORITHM_SM2,
        public_key=key.public_key().raw,
        certificate=certificate,
    )


def _verify(
    certificate: bytes,
    organisation: types_pb2.Organisation = ORGANISATION,
    key: PrivateKey = MEMBER_KEY,
    now_ms: int = NOW_MS,
) -> None:
    verify_member_certificate(CHAIN_ID, organisation, _member(certificate, key), now_ms)


def _organisation_with_ca(certificate: bytes, key: PrivateKey = CA_KEY) -> types_pb2.Organisation:
    return types_pb2.Organisation(
        id="org1",
        ca_algorithm=ALGORITHM_SM2,
        ca_public_key=key.public_key().raw,
        ca_certificate=certificate,
    )


# --- what we issue -----------------------------------------------------------------------------


def test_member_certificate_round_trip() -> None:
    ca = parse_certificate(CA_CERTIFICATE, "CA certificate")
    certificate = parse_certificate(MEMBER_CERTIFICATE, "member certificate")
    assert certificate.subject_attributes == (
        ("2.5.4.10", "org1"),
        ("2.5.4.11", "admin"),
        ("2.5.4.11", "client"),
        ("2.5.4.3", "org1/alice"),
    )
    assert certificate.issuer == ca.subject
    assert certificate.is_signed_by(CA_KEY.public_key())
    assert not certificate.is_signed_by(MEMBER_KEY.public_key())
    assert certificate.public_key == MEMBER_KEY.public_key()
    assert certificate.not_before_ms == NOW_MS
    assert certificate.not_after_ms == NOW_MS + VALID_DAYS * DAY_MS
    assert certificate.is_ca is False
    assert certificate.key_usage == frozenset({"digitalSignature"})
    assert 0 < certificate.serial_number < 2**159
    assert ca.is_ca is True
    assert ca.key_usage == frozenset({"digitalSignature", "keyCertSign", "cRLSign"})
    _verify(MEMBER_CERTIFICATE)


def test_structure_as_the_standards_give_it() -> None:
    # Read back with pyasn1 directly, not through our parser: the identifiers of GB/T 35276 and
    # RFC 8998, no algorithm parameters, version 3, the key identifiers.
    certificate, rest = der_decoder.decode(MEMBER_CERTIFICATE, asn1Spec=rfc5280.Certificate())
    assert rest == b""
    tbs = certificate["tbsCertificate"]
    assert str(certificate["signatureAlgorithm"]["algorithm"]) == SM2_WITH_SM3_OID
    assert not certificate["signatureAlgorithm"]["parameters"].isValue
    assert str(tbs["signature"]["algorithm"]) == SM2_WITH_SM3_OID
    assert int(tbs["version"]) == 2  # v3
    algorithm = tbs["subjectPublicKeyInfo"]["algorithm"]
    assert str(algorithm["algorithm"]) == "1.2.840.10045.2.1"
    curve, _ = der_decoder.decode(bytes(algorithm["parameters"]), asn1Spec=univ.ObjectIdentifier())
    assert str(curve) == SM2_CURVE_OID
    extensions = {str(extension["extnID"]): extension for extension in tbs["extensions"]}
    assert bool(extensions["2.5.29.19"]["critical"])  # basicConstraints
    assert bool(extensions["2.5.29.15"]["critical"])  # keyUsage
    subject_key_id, _ = der_decoder.decode(
        bytes(extensions["2.5.29.14"]["extnValue"]), asn1Spec=rfc5280.SubjectKeyIdentifier()
    )
    assert bytes(subject_key_id) == key_identifier(MEMBER_KEY.public_key())
    authority_key_id, _ = der_decoder.decode(
        bytes(extensions["2.5.29.35"]["extnValue"]), asn1Spec=rfc5280.AuthorityKeyIdentifier()
    )
    assert bytes(authority_key_id["keyIdentifier"]) == key_identifier(CA_KEY.public_key())


def test_cryptography_reads_what_we_issue() -> None:
    # A third parser (`cryptography`'s strict Rust DER reader): it knows no SM2 key, but reads
    # the rest and agrees.
    certificate = x509.load_der_x509_certificate(MEMBER_CERTIFICATE)
    assert certificate.signature_algorithm_oid.dotted_string == SM2_WITH_SM3_OID
    assert certificate.subject.rfc4514_string() == "CN=org1/alice,OU=client,OU=admin,O=org1"
    assert certificate.issuer.rfc4514_string() == "O=org1"
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).critical


def test_times_from_2050_are_generalized_time() -> None:
    not_after_ms = 2_600_000_000_000  # in 2052
    der = issue_sm2_ca_certificate("org1", CA_KEY, NOW_MS, not_after_ms)
    certificate = parse_certificate(der, "CA certificate")
    assert (certificate.not_before_ms, certificate.not_after_ms) == (NOW_MS, not_after_ms)
    decoded, _ = der_decoder.decode(der, asn1Spec=rfc5280.Certificate())
    validity = decoded["tbsCertificate"]["validity"]
    assert validity["notBefore"].getName() == "utcTime"
    assert validity["notAfter"].getName() == "generalTime"
    assert x509.load_der_x509_certificate(der).not_valid_after_utc.year == 2052


def test_issue_refusals() -> None:
    ca = parse_certificate(CA_CERTIFICATE, "CA certificate")
    with pytest.raises(CertificateError, match="before it starts"):
        issue_sm2_ca_certificate("org1", CA_KEY, NOW_MS, NOW_MS - 1)
    with pytest.raises(CertificateError, match="cannot be signed with a ecdsa-p256 key"):
        issue_sm2_ca_certificate("org1", PrivateKey.generate("ecdsa-p256"), NOW_MS, NOW_MS)
    with pytest.raises(CertificateError, match="cannot hold a ed25519 key"):
        issue_sm2_member_certificate(
            CA_KEY,
            ca,
            "org1",
            [],
            "org1/alice",
            PrivateKey.generate("ed25519").public_key(),
            NOW_MS,
            NOW_MS,
        )
    with pytest.raises(CertificateError, match="does not hold the public key of ca_key"):
        issue_sm2_member_certificate(
            MEMBER_KEY, ca, "org1", [], "org1/alice", MEMBER_KEY.public_key(), NOW_MS, NOW_MS
        )
    with pytest.raises(CertificateError, match="cannot put ''"):
        issue_sm2_ca_certificate("org1", CA_KEY, NOW_MS, NOW_MS, unit="")


# --- refusals at verification ------------------------------------------------------------------


def _resign(
    der: bytes,
    change: Callable[[Any], None],
    key: PrivateKey = CA_KEY,
    *,
    outer_algorithm: str = SM2_WITH_SM3_OID,
) -> bytes:
    """der with its TBSCertificate changed by `change` and signed again (SM2 with SM3) by key:
    a certificate that a CA could have made, to test what our verifier makes of it."""
    certificate, _ = der_decoder.decode(der, asn1Spec=rfc5280.Certificate())
    tbs = certificate["tbsCertificate"]
    change(tbs)
    signature_algorithm = rfc5280.AlgorithmIdentifier()
    signature_algorithm["algorithm"] = univ.ObjectIdentifier(outer_algorithm)
    certificate["signatureAlgorithm"] = signature_algorithm
    certificate["signature"] = univ.BitString.fromOctetString(key.sign(der_encoder.encode(tbs)))
    encoded: bytes = der_encoder.encode(certificate)
    return encoded


def _set_curve(oid: str) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        algorithm = tbs["subjectPublicKeyInfo"]["algorithm"]
        algorithm["parameters"] = der_encoder.encode(univ.ObjectIdentifier(oid))

    return change


def _set_key_algorithm(oid: str) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        tbs["subjectPublicKeyInfo"]["algorithm"]["algorithm"] = univ.ObjectIdentifier(oid)

    return change


def _set_tbs_signature_algorithm(oid: str) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        tbs["signature"]["algorithm"] = univ.ObjectIdentifier(oid)

    return change


def _with_tbs_signature_parameters(tbs: Any) -> None:
    tbs["signature"]["parameters"] = der_encoder.encode(univ.Null(""))


def _set_version(version: int) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        tbs["version"] = version

    return change


def _with_unique_id(tbs: Any) -> None:
    unique_identifier = tbs.componentType["subjectUniqueID"].asn1Object
    tbs["subjectUniqueID"] = unique_identifier.clone(hexValue="00")


def _with_extension(oid: str, critical: bool, value: bytes = b"\x05\x00") -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        extension = rfc5280.Extension()
        extension["extnID"] = univ.ObjectIdentifier(oid)
        if critical:
            extension["critical"] = True
        extension["extnValue"] = value
        tbs["extensions"].append(extension)

    return change


def _duplicate_first_extension(tbs: Any) -> None:
    tbs["extensions"].append(tbs["extensions"][0])


def _set_extension_value(oid: str, value: Any) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        for extension in tbs["extensions"]:
            if str(extension["extnID"]) == oid:
                extension["extnValue"] = der_encoder.encode(value)

    return change


def _set_subject_value(index: int, value: Any) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        tbs["subject"]["rdnSequence"][index][0]["value"] = der_encoder.encode(value)

    return change


def _set_not_after(time_choice: str, text: str) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        time = rfc5280.Time()
        if time_choice == "utcTime":
            time["utcTime"] = useful.UTCTime(text)
        else:
            time["generalTime"] = useful.GeneralizedTime(text)
        tbs["validity"]["notAfter"] = time

    return change


def _set_issuer_organisation(organisation: str) -> Callable[[Any], None]:
    return _set_issuer_value(0, char.UTF8String(organisation))


def _set_issuer_value(index: int, value: Any) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        tbs["issuer"]["rdnSequence"][index][0]["value"] = der_encoder.encode(value)

    return change


def _key_usage(bits: str) -> Any:
    return rfc5280.KeyUsage(binValue=bits)


def _basic_constraints(is_ca: bool) -> Any:
    constraints = rfc5280.BasicConstraints()
    if is_ca:
        constraints["cA"] = True
    return constraints


MEMBER_REFUSALS: list[tuple[str, Callable[[Any], None], str]] = [
    ("wrong curve", _set_curve(P256_CURVE_OID), "not sm2p256v1"),
    ("not an EC key", _set_key_algorithm("1.2.840.113549.1.1.1"), "not id-ecPublicKey"),
    ("ecdsa in TBS", _set_tbs_signature_algorithm(ECDSA_WITH_SHA256_OID), "not SM2 with SM3"),
    ("parameters", _with_tbs_signature_parameters, "takes no parameters"),
    ("version 2", _set_version(1), "versions 1 and 3 only"),
    ("version 1 with extensions", _set_version(0), "not X.509 version 3"),
    ("unique id", _with_unique_id, "unique identifiers"),
    ("unknown critical", _with_extension("1.2.3.4", critical=True), "critical extension 1.2.3.4"),
    ("duplicate extension", _duplicate_first_extension, "twice"),
    ("member as CA", _set_extension_value("2.5.29.19", _basic_constraints(True)), "is a CA"),
    ("no digital signature", _set_extension_value("2.5.29.15", _key_usage("01")), "digital sig"),
    ("BMPString name", _set_subject_value(0, char.BMPString("org1")), "bmpString"),
    ("wrong organisation", _set_subject_value(0, char.UTF8String("org2")), "names"),
    ("unknown role", _set_subject_value(1, char.UTF8String("operator")), "unknown role"),
    ("wrong issuer name", _set_issuer_organisation("org2"), "not issued by"),
    ("expired", _set_not_after("utcTime", "231114221320Z"), "expired"),
    ("GeneralizedTime before 2050", _set_not_after("generalTime", "20301114221320Z"), "2050"),
    ("UTCTime without seconds", _set_not_after("utcTime", "3011142213Z"), "YYMMDDHHMMSSZ"),
    ("not a date", _set_not_after("utcTime", "301314221320Z"), "not a date"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(change, message, id=name) for name, change, message in MEMBER_REFUSALS],
)
def test_member_certificate_refusals(change: Callable[[Any], None], message: str) -> None:
    certificate = _resign(MEMBER_CERTIFICATE, change)
    with pytest.raises(CertificateError, match=message):
        _verify(certificate, now_ms=NOW_MS + 1000)


def test_unknown_non_critical_extension_is_ignored() -> None:
    _verify(_resign(MEMBER_CERTIFICATE, _with_extension("1.2.3.4", critical=False)))


def test_outer_signature_algorithm_other_than_sm2_with_sm3() -> None:
    certificate = _resign(
        MEMBER_CERTIFICATE, lambda tbs: None, outer_algorithm=ECDSA_WITH_SHA256_OID
    )
    with pytest.raises(CertificateError, match=r"signatureAlgorithm is 1\.2\.840"):
        _verify(certificate)


def test_signed_by_another_key() -> None:
    certificate = _resign(MEMBER_CERTIFICATE, lambda tbs: None, key=PrivateKey.generate("sm2"))
    assert not parse_certificate(certificate, "certificate").is_signed_by(CA_KEY.public_key())
    with pytest.raises(CertificateError, match="not issued by the CA of 'org1'"):
        _verify(certificate)


def test_tampered_signature() -> None:
    tampered = bytearray(MEMBER_CERTIFICATE)
    tampered[-5] ^= 0x40
    with pytest.raises(CertificateError, match="not issued by"):
        _verify(bytes(tampered))


CA_REFUSALS: list[tuple[str, Callable[[Any], None], str]] = [
    ("not a CA", _set_extension_value("2.5.29.19", _basic_constraints(False)), "not a CA"),
    ("no keyCertSign", _set_extension_value("2.5.29.15", _key_usage("1")), "keyCertSign"),
    ("wrong curve", _set_curve(P256_CURVE_OID), "not sm2p256v1"),
    ("expired", _set_not_after("utcTime", "231114221320Z"), "expired"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(change, message, id=name) for name, change, message in CA_REFUSALS],
)
def test_ca_certificate_refusals(change: Callable[[Any], None], message: str) -> None:
    organisation = _organisation_with_ca(_resign(CA_CERTIFICATE, change))
    with pytest.raises(CertificateError, match=message):
        _verify(MEMBER_CERTIFICATE, organisation, now_ms=NOW_MS + 1000)


def test_ca_certificate_not_self_signed() -> None:
    # Its name and key are the organisation's, but another key signed it.
    other = PrivateKey.generate(ALGORITHM_SM2)
    organisation = _organisation_with_ca(_resign(CA_CERTIFICATE, lambda tbs: None, key=other))
    with pytest.raises(CertificateError, match="not self-signed"):
        _verify(MEMBER_CERTIFICATE, organisation)


def test_ca_certificate_with_another_key() -> None:
    other = PrivateKey.generate(ALGORITHM_SM2)
    organisation = _organisation_with_ca(issue_ca_certificate("org1", other, 10))
    with pytest.raises(CertificateError, match="does not hold the organisation's CA key"):
        _verify(MEMBER_CERTIFICATE, organisation)


def test_organisation_without_ca_certificate() -> None:
    with pytest.raises(CertificateError, match="has no CA certificate"):
        _verify(MEMBER_CERTIFICATE, _organisation_with_ca(b""))


def test_p256_ca_certificate_for_an_sm2_organisation() -> None:
    p256 = issue_ca_certificate("org1", PrivateKey.generate("ecdsa-p256"), 10)
    with pytest.raises(CertificateError, match="not SM2 with SM3"):
        _verify(MEMBER_CERTIFICATE, _organisation_with_ca(p256))


# --- malformed DER -----------------------------------------------------------------------------


def test_size_is_bounded() -> None:
    with pytest.raises(CertificateError, match=f"above the limit of {CERTIFICATE_BYTES_MAX}"):
        parse_certificate(b"\x30" * (CERTIFICATE_BYTES_MAX + 1), "certificate")


def test_bytes_after_the_certificate() -> None:
    with pytest.raises(CertificateError, match="1 bytes after the certificate"):
        parse_certificate(MEMBER_CERTIFICATE + b"\x00", "certificate")


def test_not_der_at_all() -> None:
    with pytest.raises(CertificateError, match=r"is not a DER X\.509 certificate"):
        parse_certificate(b"\x04\x02ab", "certificate")


@dataclass
class Node:
    """A TLV of the certificate; `children` when it is constructed or wraps DER (an OCTET STRING
    or BIT STRING holding one DER value, as extnValue and the signature do)."""

    tag: int
    content: bytes
    children: list[Node] = field(default_factory=list)
    prefix: bytes = b""  # the unused-bits octet of a BIT STRING that wraps DER

    def encode(self, target: Node | None = None, mutation: str = "") -> bytes:
        """The DER of this node, with `mutation` applied to `target` (lengths of the nodes
        around it follow): "long" length form, "truncate" its content by one octet, "tag"
        changed."""
        body = (
            self.prefix + b"".join(child.encode(target, mutation) for child in self.children)
            if self.children
            else self.content
        )
        tag = self.tag
        if self is target and mutation == "truncate":
            body = body[:-1]
        if self is target and mutation == "tag":
            tag ^= 0x01
        return bytes([tag]) + _length(len(body), long=self is target and mutation == "long") + body


def _length(length: int, *, long: bool) -> bytes:
    if length < 0x80 and not long:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8 or 1, "big")
    if long and length >= 0x80:
        encoded = b"\x00" + encoded  # one octet more than DER allows
    return bytes([0x80 | len(encoded)]) + encoded


def _read_tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("truncated")
    return tag, data[offset : offset + length], offset + length


def _parse_exactly(data: bytes) -> Node | None:
    try:
        tag, content, end = _read_tlv(data, 0)
    except (IndexError, ValueError):
        return None
    if end != len(data) or tag & 0x1F == 0x1F:
        return None
    return _node(tag, content)


def _node(tag: int, content: bytes) -> Node:
    node = Node(tag, content)
    if tag & 0x20:
        offset = 0
        while offset < len(content):
            child_tag, child_content, offset = _read_tlv(content, offset)
            node.children.append(_node(child_tag, child_content))
    elif tag == 0x04 and (inner := _parse_exactly(content)) is not None:
        node.children = [inner]
    elif tag == 0x03 and content[:1] == b"\x00" and (inner := _parse_exactly(content[1:])):
        node.children, node.prefix = [inner], b"\x00"
    return node


def _walk(node: Node, depth: int = 0) -> Iterator[tuple[Node, int]]:
    yield node, depth
    for child in node.children:
        yield from _walk(child, depth + 1)


ROOT = _parse_exactly(MEMBER_CERTIFICATE)
assert ROOT is not None and ROOT.encode() == MEMBER_CERTIFICATE
NODES = list(_walk(ROOT))
# The signature's own DER (r, s) sits in the last BIT STRING: opaque to the parser, checked by
# the signature verification.
SIGNATURE_NODES = [id(node) for node, _ in _walk(ROOT.children[2])]


def test_the_walk_reaches_every_level() -> None:
    depths = {depth for _, depth in NODES}
    # Certificate > TBS > Name > RDN > attribute > value, and extension values inside their
    # OCTET STRING: at least eight levels.
    assert max(depths) >= 7
    assert len(NODES) > 50


@pytest.mark.parametrize("index", range(len(NODES)))
def test_non_minimal_length_at_every_node(index: int) -> None:
    node, _ = NODES[index]
    assert ROOT is not None
    mutated = ROOT.encode(node, "long")
    if id(node) in SIGNATURE_NODES and node is not ROOT.children[2]:
        # Inside the signature value: the SM2 verification refuses a non-DER (r, s).
        with pytest.raises(CertificateError, match="not issued by"):
            _verify(mutated)
    else:
        with pytest.raises(CertificateError):
            parse_certificate(mutated, "certificate")


# Every (node, damage); the empty basicConstraints of a member has no octet to cut.
DAMAGES = [
    (index, mutation)
    for index, (node, _) in enumerate(NODES)
    for mutation in ("truncate", "tag")
    if mutation == "tag" or node.children or node.content
]


@pytest.mark.parametrize(("index", "mutation"), DAMAGES)
def test_damage_at_every_node(index: int, mutation: str) -> None:
    node, _ = NODES[index]
    assert ROOT is not None
    mutated = ROOT.encode(node, mutation)
    assert mutated != MEMBER_CERTIFICATE
    with pytest.raises(CertificateError):
        _verify(mutated)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1500))
def test_fuzz_arbitrary_bytes_raise_only_certificate_error(data: bytes) -> None:
    with pytest.raises(CertificateError):
        parse_certificate(data, "certificate")


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(MEMBER_CERTIFICATE) - 1),
    operation=st.sampled_from(["replace", "insert", "delete"]),
    byte=st.integers(min_value=0, max_value=255),
)
def test_fuzz_mutated_certificates_raise_only_certificate_error(
    position: int, operation: str, byte: int
) -> None:
    data = bytearray(MEMBER_CERTIFICATE)
    if operation == "replace":
        if data[position] == byte:
            byte ^= 0xFF
        data[position] = byte
    elif operation == "insert":
        data.insert(position, byte)
    else:
        del data[position]
    with pytest.raises(CertificateError):
        _verify(bytes(data))


# --- OpenSSL 3 interoperability ----------------------------------------------------------------


OPENSSL = shutil.which("openssl")


def _openssl(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None, "the openssl command is needed (Debian's openssl package)"
    return subprocess.run(
        [OPENSSL, *arguments],
        check=False,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _openssl_ok(directory: Path, *arguments: str) -> str:
    result = _openssl(directory, *arguments)
    assert result.returncode == 0, f"openssl {' '.join(arguments)}: {result.stderr}"
    return result.stdout


def _write_pem(directory: Path, name: str, der: bytes) -> str:
    (directory / f"{name}.der").write_bytes(der)
    _openssl_ok(directory, "x509", "-inform", "DER", "-in", f"{name}.der", "-out", f"{name}.pem")
    return f"{name}.pem"


def test_openssl_reads_our_certificates(tmp_path: Path) -> None:
    version = _openssl_ok(tmp_path, "version")
    assert version.startswith("OpenSSL 3."), version
    ca = _write_pem(tmp_path, "ca", CA_CERTIFICATE)
    member = _write_pem(tmp_path, "member", MEMBER_CERTIFICATE)
    text = _openssl_ok(tmp_path, "x509", "-in", member, "-noout", "-text")
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "Public Key Algorithm: id-ecPublicKey" in text
    assert "ASN1 OID: SM2" in text
    assert "Issuer: O = org1" in text
    assert "Subject: O = org1, OU = admin, OU = client, CN = org1/alice" in text
    assert "CA:FALSE" in text
    assert "Digital Signature" in text
    ca_text = _openssl_ok(tmp_path, "x509", "-in", ca, "-noout", "-text")
    assert "CA:TRUE, pathlen:0" in ca_text
    assert "Certificate Sign, CRL Sign" in ca_text


def test_openssl_verifies_our_member_certificate(tmp_path: Path) -> None:
    # OpenSSL checks the start of validity too: the CA starts an hour before the wall clock.
    now_ms = _now_ms()
    ca = _write_pem(tmp_path, "ca", CA_CERTIFICATE)
    member = _write_pem(tmp_path, "member", _issue(now_ms=now_ms))
    verify = ["verify", "-CAfile", ca]
    # OpenSSL 3.0 signs and verifies SM2 with an empty distinguishing ID unless told the
    # standard's default: -vfyopt distid:1234567812345678.
    accepted = _openssl(tmp_path, *verify, "-vfyopt", f"distid:{DISTINGUISHING_ID}", member)
    assert accepted.returncode == 0, accepted.stderr
    assert f"{member}: OK" in accepted.stdout
    # The ID is part of what is signed: another one does not verify.
    refused = _openssl(tmp_path, *verify, "-vfyopt", "distid:1234567812345679", member)
    assert refused.returncode != 0
    # Nor after the end of validity.
    expired = str((now_ms + (VALID_DAYS + 1) * DAY_MS) // 1000)
    late = _openssl(
        tmp_path, "verify", "-attime", expired, "-CAfile", ca,
        "-vfyopt", f"distid:{DISTINGUISHING_ID}", member,
    )  # fmt: skip
    assert late.returncode != 0
    assert "certificate has expired" in late.stdout + late.stderr


def _top_level_offsets(directory: Path, der_file: str) -> list[int]:
    listing = _openssl_ok(directory, "asn1parse", "-inform", "DER", "-in", der_file)
    return [int(match) for match in re.findall(r"^\s*(\d+):d=1 ", listing, re.MULTILINE)]


def test_openssl_verifies_our_ca_self_signature(tmp_path: Path) -> None:
    # `openssl verify` never checks a trust anchor's own signature with the ID it is given, so
    # the CA's self-signature is checked as a plain SM2 signature over its TBSCertificate.
    ca = _write_pem(tmp_path, "ca", CA_CERTIFICATE)
    tbs_offset, _, signature_offset = _top_level_offsets(tmp_path, "ca.der")
    for offset, output in ((tbs_offset, "tbs.der"), (signature_offset, "signature.der")):
        _openssl_ok(
            tmp_path, "asn1parse", "-inform", "DER", "-in", "ca.der",
            "-strparse", str(offset), "-noout", "-out", output,
        )  # fmt: skip
    (tmp_path / "ca_public.pem").write_text(
        _openssl_ok(tmp_path, "x509", "-in", ca, "-noout", "-pubkey")
    )
    check = [
        "dgst", "-sm3", "-verify", "ca_public.pem", "-signature", "signature.der", "tbs.der",
    ]  # fmt: skip
    verified = _openssl(tmp_path, *check[:4], "-sigopt", f"distid:{DISTINGUISHING_ID}", *check[4:])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Verified OK" in verified.stdout
    assert _openssl(tmp_path, *check).returncode != 0  # with OpenSSL's empty ID


@dataclass
class OpensslAuthority:
    directory: Path
    certificate: bytes
    organisation: types_pb2.Organisation

    def issue(self, name: str, subject: str, *extension_lines: str, sigopt: bool = True) -> bytes:
        """A member certificate issued by OpenSSL for an SM2 key it generates, (key, DER)."""
        directory = self.directory
        _openssl_ok(directory, "genpkey", "-algorithm", "SM2", "-out", f"{name}.key")
        _openssl_ok(
            directory, "req", "-new", "-key", f"{name}.key", "-sm3",
            "-sigopt", f"distid:{DISTINGUISHING_ID}", "-subj", subject, "-out", f"{name}.csr",
        )  # fmt: skip
        (directory / f"{name}.ext").write_text("".join(line + "\n" for line in extension_lines))
        signing = ["-sigopt", f"distid:{DISTINGUISHING_ID}"] if sigopt else []
        _openssl_ok(
            directory, "x509", "-req", "-in", f"{name}.csr",
            "-vfyopt", f"distid:{DISTINGUISHING_ID}",
            "-CA", "ca.pem", "-CAkey", "ca.key", "-sm3", *signing, "-days", "5",
            "-extfile", f"{name}.ext", "-outform", "DER", "-out", f"{name}.der",
        )  # fmt: skip
        return (directory / f"{name}.der").read_bytes()

    def key(self, name: str) -> PrivateKey:
        return PrivateKey.from_pem((self.directory / f"{name}.key").read_bytes())


@pytest.fixture
def openssl_authority(tmp_path: Path) -> OpensslAuthority:
    _openssl_ok(tmp_path, "genpkey", "-algorithm", "SM2", "-out", "ca.key")
    _openssl_ok(
        tmp_path, "req", "-new", "-x509", "-key", "ca.key", "-sm3",
        "-sigopt", f"distid:{DISTINGUISHING_ID}", "-subj", "/O=org1", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-outform", "DER", "-out", "ca.der",
    )  # fmt: skip
    _openssl_ok(tmp_path, "x509", "-inform", "DER", "-in", "ca.der", "-out", "ca.pem")
    certificate = (tmp_path / "ca.der").read_bytes()
    ca_key = PrivateKey.from_pem((tmp_path / "ca.key").read_bytes())
    return OpensslAuthority(tmp_path, certificate, _organisation_with_ca(certificate, ca_key))


def test_our_verifier_accepts_openssl_certificates(openssl_authority: OpensslAuthority) -> None:
    ca = parse_certificate(openssl_authority.certificate, "OpenSSL's CA certificate")
    assert ca.is_ca and ca.is_signed_by(ca.public_key)
    certificate = openssl_authority.issue(
        "alice",
        "/O=org1/OU=client/OU=admin/CN=org1\\/alice",
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
    )
    member = _member(certificate, openssl_authority.key("alice"), roles=(CLIENT, ADMIN))
    verify_member_certificate(CHAIN_ID, openssl_authority.organisation, member, _now_ms())
    parsed = parse_certificate(certificate, "OpenSSL's member certificate")
    assert parsed.key_usage == frozenset({"digitalSignature"})
    with pytest.raises(CertificateError, match="expired"):
        verify_member_certificate(
            CHAIN_ID, openssl_authority.organisation, member, _now_ms() + 6 * DAY_MS
        )


def test_our_verifier_accepts_an_openssl_certificate_without_extensions(
    openssl_authority: OpensslAuthority,
) -> None:
    # `openssl x509 -req` without extensions makes a version 1 certificate.
    certificate = openssl_authority.issue("bob", "/O=org1/OU=client/CN=org1\\/alice")
    parsed: Sm2Certificate = parse_certificate(certificate, "OpenSSL's member certificate")
    assert (parsed.is_ca, parsed.key_usage) == (None, None)
    member = _member(certificate, openssl_authority.key("bob"))
    verify_member_certificate(CHAIN_ID, openssl_authority.organisation, member, _now_ms())


def test_openssl_certificate_signed_with_an_empty_id_is_refused(
    openssl_authority: OpensslAuthority,
) -> None:
    # What OpenSSL 3.0 makes when not given the standard ID: not an SM2 signature with it.
    certificate = openssl_authority.issue(
        "carol", "/O=org1/OU=client/CN=org1\\/alice", "basicConstraints=CA:FALSE", sigopt=False
    )
    member = _member(certificate, openssl_authority.key("carol"))
    with pytest.raises(CertificateError, match="not issued by"):
        verify_member_certificate(CHAIN_ID, openssl_authority.organisation, member, _now_ms())


def test_openssl_p256_certificate_from_an_sm2_ca_is_refused(
    openssl_authority: OpensslAuthority,
) -> None:
    directory = openssl_authority.directory
    _openssl_ok(directory, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "p.key")
    _openssl_ok(
        directory, "req", "-new", "-key", "p.key", "-subj", "/O=org1/CN=org1\\/alice",
        "-out", "p.csr",
    )  # fmt: skip
    _openssl_ok(
        directory, "x509", "-req", "-in", "p.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-sm3",
        "-sigopt", f"distid:{DISTINGUISHING_ID}", "-days", "5", "-outform", "DER",
        "-out", "p.der",
    )  # fmt: skip
    certificate = (directory / "p.der").read_bytes()
    with pytest.raises(CertificateError, match=r"curve 1\.2\.840\.10045\.3\.1\.7, not sm2p256v1"):
        parse_certificate(certificate, "OpenSSL's P-256 certificate")
