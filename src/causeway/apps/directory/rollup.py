"""District directories rolled up into the city's: the state keys involved, in one place, and
the arguments of the city contract's ``rollup_resource`` built from what a district node serves.

A district's resource version lives in the district chain's state at
``wasm/<contract name>/resource/<code>/<version, 10 digits>`` (the directory contract's key in its
namespace, ``causeway.execution.keys.user_contract_namespace``). The city's directory contract
computes that key itself from the record and the district's registration, and asks
``clients.verify_state`` whether the district chain held exactly these bytes there at a height
the city chain's client verified. This module computes the same key (for a service asking its
district node for a proof, and for the tests), and checks a record against its key before the
arguments are built, so that a mismatch is the caller's clear error here rather than a refused
transaction.

    key = district_resource_key("directory", code, version)
    proof = district_node.prove(key, height)             # a causeway.types.v1.StateProof
    arguments = rollup_arguments("HD", key, value, height, proof)
    # send arguments.SerializeToString() to the city contract's rollup_resource
"""

from __future__ import annotations

import re

from google.protobuf.message import DecodeError as ProtobufDecodeError

from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import DecodeError, RequestError
from causeway.execution.keys import USER_CONTRACTS_PREFIX, user_contract_namespace
from causeway.types.v1 import types_pb2

# The contract's keys (contract/assembly/index.ts): a resource version and the roll-up records.
RESOURCE_PREFIX = b"resource/"
ROLLUP_PREFIX = b"rollup/"
ROLLUP_HEAD_PREFIX = b"rollup_head/"
DISTRICT_PREFIX = b"district/"
VERSION_DIGITS = 10
VERSION_MAX = 2**32 - 1  # a ResourceVersion's version is a uint32
# The contract's bounds: a resource code is at most 64 bytes; a rolled-up record keeps the
# district's version and about a kilobyte of attestation inside a 64 KiB state value.
CODE_BYTES_MAX = 64
RESOURCE_VERSION_BYTES_MAX = 65_536 - 1024

# wasm/<name>/resource/<code>/<10 digits>: a user contract's name is [a-z][a-z0-9_-]{0,63}
# (the code contract's rule) and a code holds no "/".
_RESOURCE_KEY = re.compile(
    rb"%s([a-z][a-z0-9_\-]{0,63})/resource/([^/]{1,%d})/([0-9]{%d})"
    % (re.escape(USER_CONTRACTS_PREFIX), CODE_BYTES_MAX, VERSION_DIGITS)
)


def _version_digits(version: int) -> bytes:
    if not 1 <= version <= VERSION_MAX:
        raise RequestError(f"version {version} is not a resource version (1 to {VERSION_MAX})")
    return b"%0*d" % (VERSION_DIGITS, version)


def _code_bytes(code: str) -> bytes:
    encoded = code.encode()
    if not 1 <= len(encoded) <= CODE_BYTES_MAX or b"/" in encoded:
        raise RequestError(f"{code[:80]!r} is not a resource code")
    return encoded


def resource_version_key(code: str, version: int) -> bytes:
    """The directory contract's own key of a resource version: ``resource/<code>/<version>``."""
    return RESOURCE_PREFIX + _code_bytes(code) + b"/" + _version_digits(version)


def district_resource_key(contract_name: str, code: str, version: int) -> bytes:
    """The absolute key of a resource version in the state of the chain where the directory
    contract ``contract_name`` runs: what a state proof is asked for and checked against."""
    return user_contract_namespace(contract_name) + resource_version_key(code, version)


def parse_district_resource_key(key: bytes) -> tuple[str, str, int]:
    """``(contract name, code, version)`` of an absolute resource version key; RequestError when
    ``key`` is not one."""
    match = _RESOURCE_KEY.fullmatch(key)
    if match is None:
        raise RequestError(
            f"{key[:120]!r} is not the key of a directory resource version "
            "(wasm/<contract>/resource/<code>/<version, 10 digits>)"
        )
    try:
        code = match.group(2).decode()
    except UnicodeDecodeError:
        raise RequestError(f"{key[:120]!r} holds a code that is not UTF-8") from None
    return match.group(1).decode(), code, int(match.group(3))


def rollup_key(district_code: str, code: str, version: int) -> bytes:
    """The city contract's key of a rolled-up version (``rollup/<district>/<code>/<version>``)."""
    return (
        ROLLUP_PREFIX
        + district_code.encode()
        + b"/"
        + _code_bytes(code)
        + b"/"
        + _version_digits(version)
    )


def rollup_head_key(district_code: str, code: str) -> bytes:
    """The city contract's key of the latest rolled-up version of a district's resource."""
    return ROLLUP_HEAD_PREFIX + district_code.encode() + b"/" + _code_bytes(code)


def decode_resource_version(value: bytes) -> directory_pb2.ResourceVersion:
    """A district's stored resource version; DecodeError when ``value`` is not one."""
    if not value:
        raise DecodeError("a resource version is never empty")
    if len(value) > RESOURCE_VERSION_BYTES_MAX:
        raise DecodeError(
            f"the resource version is {len(value)} bytes, above the {RESOURCE_VERSION_BYTES_MAX} "
            "a rolled-up record leaves it"
        )
    record = directory_pb2.ResourceVersion()
    try:
        record.ParseFromString(value)
    except ProtobufDecodeError as error:
        raise DecodeError(f"the resource version does not decode: {error}") from None
    return record


def rollup_arguments(
    district_code: str,
    key: bytes,
    value: bytes,
    height: int,
    proof: types_pb2.StateProof | bytes,
) -> directory_pb2.RollupResourceArguments:
    """The city contract's ``rollup_resource`` arguments for the district resource version
    ``value`` that the district chain holds at ``key`` (absolute) after ``height``, proven by
    ``proof`` (as the district node or ``prove`` gave it, message or bytes). ``value`` travels
    byte for byte: the proof is of exactly those bytes. RequestError or DecodeError when the
    record does not belong at ``key`` (the contract would refuse it)."""
    _, code, version = parse_district_resource_key(key)
    record = decode_resource_version(value)
    if (record.code, record.version) != (code, version):
        raise RequestError(
            f"the record is version {record.version} of {record.code!r}, but the key names "
            f"version {version} of {code!r}"
        )
    if height < 1:
        raise RequestError(f"height {height} is not a district chain height")
    proof_bytes = proof if isinstance(proof, bytes) else proof.SerializeToString(deterministic=True)
    if not proof_bytes:
        raise RequestError("the proof is empty")
    return directory_pb2.RollupResourceArguments(
        district_code=district_code,
        resource_version=value,
        height=height,
        proof=proof_bytes,
    )
