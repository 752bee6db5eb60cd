"""membership (system): organisations, members and certificates; governance policy applies."""

from __future__ import annotations

import struct

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import load_public_key, verify_member_certificate
from causeway.errors import ConfigurationError, CryptoError, InvariantError
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import (
    ORGANISATION_PREFIX,
    VALIDATOR_SCHEDULE_KEY,
    admin_count_key,
    member_key,
    organisation_key,
)
from causeway.execution.schedule import decode_schedule, members_in_effect_or_scheduled
from causeway.identity import is_valid_identifier, split_member_id, validate_roles
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = "membership"
ORGANISATIONS_MAX = 256

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT
_COUNT = struct.Struct(">Q")


def _check_public_key(context: TransactionContext, algorithm: str, raw: bytes, what: str) -> None:
    if algorithm not in context.profile.algorithms:
        allowed = ", ".join(sorted(context.profile.algorithms))
        raise failure(
            _INVALID,
            f"{what} algorithm {algorithm!r} is not allowed by the {context.profile.name} "
            f"profile ({allowed})",
        )
    try:
        load_public_key(algorithm, raw)
    except CryptoError as error:
        raise failure(_INVALID, f"{what} public key: {error.message}") from None


def _load_organisation(context: TransactionContext, organisation_id: str) -> types_pb2.Organisation:
    stored = context.get_granted(organisation_key(organisation_id))
    if stored is None:
        raise failure(_NOT_FOUND, f"organisation {organisation_id!r} does not exist")
    return types_pb2.Organisation.FromString(stored)


def _load_member(context: TransactionContext, member_id: str) -> types_pb2.Member:
    stored = context.get_granted(member_key(member_id))
    if stored is None:
        raise failure(_NOT_FOUND, f"member {member_id!r} does not exist")
    return types_pb2.Member.FromString(stored)


def _verify_certificate(
    context: TransactionContext, organisation: types_pb2.Organisation, member: types_pb2.Member
) -> None:
    try:
        verify_member_certificate(context.chain_id, organisation, member, context.time_ms)
    except CryptoError as error:
        raise failure(
            _INVALID, f"certificate of {member.id} does not verify: {error.message}"
        ) from None


def _read_count(context: TransactionContext, key: bytes) -> int:
    stored = context.get_granted(key)
    if stored is None:
        return 0
    if len(stored) != 8:
        raise InvariantError(f"state value of {key!r} is not an 8-byte count")
    count: int = _COUNT.unpack(stored)[0]
    return count


def _write_count(context: TransactionContext, key: bytes, count: int) -> None:
    if count:
        context.put_granted(key, _COUNT.pack(count))
    else:
        context.delete_granted(key)


def _refuse_validator(context: TransactionContext, member_id: str, action: str) -> None:
    """Consensus verifies a validator's votes with the key of its member record: the record stays
    while the member is in the set in effect or in a scheduled one."""
    schedule = decode_schedule(context.get_granted(VALIDATOR_SCHEDULE_KEY))
    if member_id in members_in_effect_or_scheduled(schedule, context.height):
        raise failure(
            _CONFLICT,
            f"{member_id} is in the current or a scheduled validator set: remove it from the "
            f"validator set first (validators.update), then {action}",
        )


def _require_governance(context: TransactionContext, purpose: str) -> None:
    context.require_policy(context.config.config.governance_policy, purpose)


def add_organisation(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "membership.add_organisation")
    request = decode_arguments(context, contracts_pb2.MembershipAddOrganisationArguments, arguments)
    organisation = request.organisation
    if not is_valid_identifier(organisation.id):
        raise failure(
            _INVALID,
            f"organisation id {organisation.id!r} is not 1-64 of [A-Za-z0-9._-] "
            "starting alphanumeric",
        )
    _check_public_key(
        context, organisation.ca_algorithm, organisation.ca_public_key, "organisation CA"
    )
    # Every organisation CA, SM2 ones too, is an X.509 certificate (crypto/certificates.py).
    if not organisation.ca_certificate:
        raise failure(_INVALID, "organisation CA certificate is missing")
    if context.get_granted(organisation_key(organisation.id)) is not None:
        raise failure(_CONFLICT, f"organisation {organisation.id!r} already exists")
    # Counted in state with this transaction's own writes, not context.organisations() (the
    # view the transaction started with): a proposal may add several organisations in one
    # transaction, and each must see those the calls before it added.
    if len(context.range_granted(ORGANISATION_PREFIX, b"", ORGANISATIONS_MAX)) >= ORGANISATIONS_MAX:
        raise failure(_CONFLICT, f"the chain already has {ORGANISATIONS_MAX} organisations")
    context.put_granted(organisation_key(organisation.id), encode(organisation))
    context.emit("add_organisation", (("organisation", organisation.id),))
    return b""


def add_member(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "membership.add_member")
    request = decode_arguments(context, contracts_pb2.MembershipAddMemberArguments, arguments)
    member = request.member
    try:
        organisation_id, name = split_member_id(member.id)
        validate_roles(list(member.roles))
    except ConfigurationError as error:
        raise failure(_INVALID, error.message) from None
    if member.organisation != organisation_id or member.name != name:
        raise failure(
            _INVALID, f"member id {member.id!r} does not match its organisation and name fields"
        )
    organisation = _load_organisation(context, organisation_id)
    if context.get_granted(member_key(member.id)) is not None:
        raise failure(_CONFLICT, f"member {member.id!r} already exists")
    _check_public_key(context, member.algorithm, member.public_key, "member")
    _verify_certificate(context, organisation, member)
    context.put_granted(member_key(member.id), encode(member))
    if types_pb2.ROLE_ADMIN in member.roles:
        count_key = admin_count_key(organisation_id)
        _write_count(context, count_key, _read_count(context, count_key) + 1)
    context.emit("add_member", (("member_id", member.id),))
    return b""


def remove_member(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "membership.remove_member")
    request = decode_arguments(context, contracts_pb2.MembershipRemoveMemberArguments, arguments)
    member = _load_member(context, request.member_id)
    _refuse_validator(context, member.id, "remove the member")
    if types_pb2.ROLE_ADMIN in member.roles:
        # An organisation without admins could never endorse again, which would lock governance
        # for any policy that needs it.
        count_key = admin_count_key(member.organisation)
        admins = _read_count(context, count_key)
        if admins <= 1:
            raise failure(
                _CONFLICT,
                f"{member.id} is the last admin of {member.organisation}; add another first",
            )
        _write_count(context, count_key, admins - 1)
    context.delete_granted(member_key(member.id))
    context.emit("remove_member", (("member_id", member.id),))
    return b""


def update_certificate(context: TransactionContext, arguments: bytes) -> bytes:
    _require_governance(context, "membership.update_certificate")
    request = decode_arguments(
        context, contracts_pb2.MembershipUpdateCertificateArguments, arguments
    )
    member = _load_member(context, request.member_id)
    _refuse_validator(context, member.id, "update its certificate")
    member.public_key = request.public_key
    member.certificate = request.certificate
    _check_public_key(context, member.algorithm, member.public_key, "member")
    organisation = _load_organisation(context, member.organisation)
    _verify_certificate(context, organisation, member)
    context.put_granted(member_key(member.id), encode(member))
    context.emit("update_certificate", (("member_id", member.id),))
    return b""


def get_member(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.MembershipGetMemberArguments, arguments)
    if not request.member_id:
        raise failure(_INVALID, "membership.get_member without a member id")
    stored = context.get_granted(member_key(request.member_id))
    if stored is None:
        raise failure(_NOT_FOUND, f"member {request.member_id!r} does not exist")
    return stored


METHODS: dict[str, Method] = {
    "add_organisation": Method(
        add_organisation, system=True, arguments=contracts_pb2.MembershipAddOrganisationArguments
    ),
    "add_member": Method(
        add_member, system=True, arguments=contracts_pb2.MembershipAddMemberArguments
    ),
    "remove_member": Method(
        remove_member, system=True, arguments=contracts_pb2.MembershipRemoveMemberArguments
    ),
    "update_certificate": Method(
        update_certificate,
        system=True,
        arguments=contracts_pb2.MembershipUpdateCertificateArguments,
    ),
    "get_member": Method(get_member, read_only=True),
}
