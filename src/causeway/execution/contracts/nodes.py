"""nodes (system): where the chain's nodes are reached, their organisations' TLS CAs, revocations.

Nodes follow this state (causeway.node.chain_peers): after a block that changes it, each node
dials the endpoints added, drops those removed, trusts the TLS CAs recorded here, and refuses and
disconnects revoked members at once. Every change needs the governance policy.

``revoke`` removes the member record as ``membership.remove_member`` does (so the member's
transactions are refused at admission and in blocks by the one transaction verifier) and, unlike
it, keeps a record of the revocation: peers refuse every TLS certificate naming a revoked member
id, and no endpoint can be set for it again.
"""

from __future__ import annotations

import re
import struct

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from causeway.contracts.v1 import nodes_pb2
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import (
    NODE_ENDPOINT,
    NODE_REVOCATION,
    NODE_TLS_AUTHORITY,
    VALIDATOR_SCHEDULE_KEY,
    admin_count_key,
    member_key,
    node_endpoint,
    node_revocation,
    node_tls_authority,
    organisation_key,
)
from causeway.execution.schedule import decode_schedule, members_in_effect_or_scheduled
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = "nodes"
# Named bounds: each is also what one list call returns at most.
ENDPOINTS_MAX = 256
REVOCATIONS_MAX = 4096
TLS_AUTHORITIES_MAX = 256
TLS_CERTIFICATE_BYTES_MAX = 16 * 1024
ADDRESS_CHARACTERS_MAX = 253 + 6
REASON_CHARACTERS_MAX = 256
# What peers check a node's certificate against: a DNS label (net.config.check_peer_address).
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")
_COUNT = struct.Struct(">Q")

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT


def _require_governance(context: TransactionContext, purpose: str) -> None:
    context.require_policy(context.config.config.governance_policy, purpose)


def _member(context: TransactionContext, member_id: str) -> types_pb2.Member:
    stored = context.get_granted(member_key(member_id)) if member_id else None
    if stored is None:
        raise failure(_NOT_FOUND, f"member {member_id!r} does not exist")
    return types_pb2.Member.FromString(stored)


def _count(context: TransactionContext, prefix: bytes, bound: int) -> int:
    return len(context.range(prefix, b"", bound + 1))


def check_address(address: str) -> None:
    """RequestError unless ``address`` is "host:port" with a port in 1..65535."""
    host, _, port = address.rpartition(":")
    if (
        len(address) > ADDRESS_CHARACTERS_MAX
        or not host
        or not _HOST.match(host)
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise failure(_INVALID, f"address {address!r} is not 'host:port'")


def set_endpoint(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "nodes.set_endpoint")
    endpoint = decode_arguments(context, nodes_pb2.NodesSetEndpointArguments, arguments).endpoint
    if not _DNS_LABEL.match(endpoint.name):
        raise failure(
            _INVALID,
            f"node name {endpoint.name!r} is not a lower-case DNS label (peers check it against"
            " the node's TLS certificate)",
        )
    check_address(endpoint.address)
    if context.get(node_revocation(endpoint.member_id)) is not None:
        raise failure(_CONFLICT, f"{endpoint.member_id} is revoked")
    member = _member(context, endpoint.member_id)
    existing = context.get(node_endpoint(member.id))
    if existing is None and _count(context, NODE_ENDPOINT, ENDPOINTS_MAX) >= ENDPOINTS_MAX:
        raise failure(_CONFLICT, f"the chain already records {ENDPOINTS_MAX} node endpoints")
    for _, stored in context.range(NODE_ENDPOINT, b"", ENDPOINTS_MAX):
        other = nodes_pb2.NodeEndpoint.FromString(stored)
        if other.member_id != member.id and other.name == endpoint.name:
            raise failure(_CONFLICT, f"node name {endpoint.name!r} is {other.member_id}'s")
    context.put(node_endpoint(member.id), encode(endpoint))
    context.emit("set_endpoint", (("member_id", member.id), ("address", endpoint.address)))
    return b""


def remove_endpoint(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "nodes.remove_endpoint")
    member_id = decode_arguments(
        context, nodes_pb2.NodesRemoveEndpointArguments, arguments
    ).member_id
    if context.get(node_endpoint(member_id)) is None:
        raise failure(_NOT_FOUND, f"no endpoint of {member_id!r}")
    context.delete(node_endpoint(member_id))
    context.emit("remove_endpoint", (("member_id", member_id),))
    return b""


def _check_tls_authority(authority: nodes_pb2.TlsAuthority) -> None:
    if not authority.certificate or len(authority.certificate) > TLS_CERTIFICATE_BYTES_MAX:
        raise failure(
            _INVALID, f"TLS CA certificate must be 1 to {TLS_CERTIFICATE_BYTES_MAX} bytes of DER"
        )
    try:
        certificate = x509.load_der_x509_certificate(authority.certificate)
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        public_key = certificate.public_key()
    except (ValueError, x509.ExtensionNotFound) as error:
        raise failure(_INVALID, f"TLS CA certificate: {error}") from None
    if not constraints.value.ca:
        raise failure(_INVALID, "TLS CA certificate is not a CA certificate")
    names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if [name.value for name in names] != [authority.organisation]:
        raise failure(
            _INVALID, f"TLS CA certificate does not name organisation {authority.organisation!r}"
        )
    # What gRPC's TLS library can check node certificates with (provisioning.tls).
    if not (
        isinstance(public_key, ec.EllipticCurvePublicKey)
        and isinstance(public_key.curve, ec.SECP256R1)
    ) and not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise failure(_INVALID, "TLS CA certificate key must be ECDSA P-256 or Ed25519")


def set_tls_authority(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "nodes.set_tls_authority")
    authority = decode_arguments(
        context, nodes_pb2.NodesSetTlsAuthorityArguments, arguments
    ).authority
    if (
        not authority.organisation
        or context.get_granted(organisation_key(authority.organisation)) is None
    ):
        raise failure(_NOT_FOUND, f"organisation {authority.organisation!r} does not exist")
    _check_tls_authority(authority)
    key = node_tls_authority(authority.organisation)
    if (
        context.get(key) is None
        and _count(context, NODE_TLS_AUTHORITY, TLS_AUTHORITIES_MAX) >= TLS_AUTHORITIES_MAX
    ):
        raise failure(_CONFLICT, f"the chain already records {TLS_AUTHORITIES_MAX} TLS CAs")
    context.put(key, encode(authority))
    context.emit("set_tls_authority", (("organisation", authority.organisation),))
    return b""


def revoke(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "nodes.revoke")
    request = decode_arguments(context, nodes_pb2.NodesRevokeArguments, arguments)
    if len(request.reason) > REASON_CHARACTERS_MAX:
        raise failure(_INVALID, f"reason is above {REASON_CHARACTERS_MAX} characters")
    member = _member(context, request.member_id)
    schedule = decode_schedule(context.get_granted(VALIDATOR_SCHEDULE_KEY))
    if member.id in members_in_effect_or_scheduled(schedule, context.height):
        # Consensus verifies its votes with the key of the member record.
        raise failure(
            _CONFLICT,
            f"{member.id} is in the current or a scheduled validator set: remove it from the "
            "validator set first (validators.update), then revoke it",
        )
    if _count(context, NODE_REVOCATION, REVOCATIONS_MAX) >= REVOCATIONS_MAX:
        raise failure(_CONFLICT, f"the chain already records {REVOCATIONS_MAX} revocations")
    if types_pb2.ROLE_ADMIN in member.roles:
        count_key = admin_count_key(member.organisation)
        stored = context.get_granted(count_key)
        admins: int = _COUNT.unpack(stored)[0] if stored is not None else 0
        if admins <= 1:
            raise failure(
                _CONFLICT,
                f"{member.id} is the last admin of {member.organisation}; add another first",
            )
        context.put_granted(count_key, _COUNT.pack(admins - 1))
    context.delete_granted(member_key(member.id))
    if context.get(node_endpoint(member.id)) is not None:
        context.delete(node_endpoint(member.id))
    revocation = nodes_pb2.Revocation(
        member_id=member.id,
        certificate_hash=context.hash(member.certificate),
        height=context.height,
        reason=request.reason,
    )
    context.put(node_revocation(member.id), encode(revocation))
    context.emit("revoke", (("member_id", member.id),))
    return b""


def list_nodes(context: TransactionContext, arguments: bytes) -> bytes:
    decode_arguments(context, nodes_pb2.NodesListArguments, arguments)
    result = nodes_pb2.NodesListResult(
        endpoints=[
            nodes_pb2.NodeEndpoint.FromString(value)
            for _, value in context.range(NODE_ENDPOINT, b"", ENDPOINTS_MAX)
        ],
        authorities=[
            nodes_pb2.TlsAuthority.FromString(value)
            for _, value in context.range(NODE_TLS_AUTHORITY, b"", TLS_AUTHORITIES_MAX)
        ],
        revocations=[
            nodes_pb2.Revocation.FromString(value)
            for _, value in context.range(NODE_REVOCATION, b"", REVOCATIONS_MAX)
        ],
    )
    return encode(result)


METHODS: dict[str, Method] = {
    "set_endpoint": Method(
        set_endpoint, system=True, arguments=nodes_pb2.NodesSetEndpointArguments
    ),
    "remove_endpoint": Method(
        remove_endpoint, system=True, arguments=nodes_pb2.NodesRemoveEndpointArguments
    ),
    "set_tls_authority": Method(
        set_tls_authority, system=True, arguments=nodes_pb2.NodesSetTlsAuthorityArguments
    ),
    "revoke": Method(revoke, system=True, arguments=nodes_pb2.NodesRevokeArguments),
    "list": Method(list_nodes, read_only=True),
}
