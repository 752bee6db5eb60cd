"""hub: the registry of member chains that a hub chain routes between.

A hub is a Causeway chain run by the network's operators. Governance registers each member chain
(its id, genesis hash, crypto profile, consensus, validator set and endpoints) together with the
hub's light client of it, created beforehand by ``clients.create``; the registry checks that the
two describe the same chain and that the validator set is the one the client trusts. Routing
(``transfer`` forwarding a packet from one member to another and acknowledging only when the far
end has answered) reads the registry to find the client of a destination chain.

The registry refuses a member chain where one organisation holds a third or more of the voting
power: that organisation alone could stop a BFT chain, and with a little more it could sign what
it liked (the Ronin bridge, 5 of 9 keys held by one operator; Harmony's, 2 of 5). The rule
counts validators by their organisation (a validator's member id is "organisation/name").

Raft chains are held to "more than a third" instead. Raft validators have equal power, and the
smallest raft set that survives a crash is three, in which every organisation holds at least a
third; yet one organisation of three cannot stop a raft chain (that takes half) nor forge a
certificate a light client accepts (that takes more than two thirds). What it can do is hold
back its signature so that other chains' clients cannot follow the chain: a liveness risk for the
link, stated in docs/interchain.md, not a safety one.

An EVM chain (consensus "evm-committee") has no validator set the hub could weigh: its headers
are attested by the gateway committee of its client, k of n operators fixed when governance
created the client. The organisation rule does not apply to it; the registry copies the committee
into the member record, and ``member_trust`` states what each member's proofs rest on: "light
client: >2/3 of N validators" for a Causeway chain, "gateway committee: K of N operators" for an
EVM chain, which is weaker (k operators together can make the hub believe anything of that
chain; docs/evm-clients.md).

Nothing here is reachable from a packet: the registry is written by governance only, and the
packets contract never binds a port to a system contract.
"""

from __future__ import annotations

from collections import Counter

from causeway.crypto import get_profile
from causeway.errors import ConfigurationError
from causeway.execution import (
    Contract,
    Method,
    TransactionContext,
    decode_arguments,
    failure,
)
from causeway.identity import is_valid_identifier, split_member_id
from causeway.interchain import clients
from causeway.interchain.keys import HUB_CONTRACT, HUB_NAMESPACE, MEMBER_PREFIX, member_chain_key
from causeway.interchain.v1 import interchain_pb2
from causeway.light import VALIDATOR_SET_VALIDATORS_MAX, validator_set_hash
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

CONTRACT = HUB_CONTRACT

ENDPOINTS_MAX = 16
ENDPOINT_CHARACTERS_MAX = 256
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 1_000
HASH_BYTES = 32
PROFILES = ("intl", "gm")
CONSENSUS_KINDS = ("tbft", "raft", "solo")
EVM_CONSENSUS = clients.EVM_CONSENSUS
EVM_CRYPTO_PROFILE = clients.EVM_CRYPTO_PROFILE

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT


def _enter(context: TransactionContext) -> TransactionContext:
    if context.contract == CONTRACT:
        return context
    return context.enter(CONTRACT, HUB_NAMESPACE, ())


def largest_organisation_share(validators: types_pb2.ValidatorSet) -> tuple[str, int, int]:
    """(organisation, its power, the total power) for the organisation holding the most voting
    power (ties: the first by id)."""
    powers: Counter[str] = Counter()
    for validator in validators.validators:
        organisation = split_member_id(validator.member_id)[0]
        powers[organisation] += validator.voting_power
    total = sum(powers.values())
    organisation, power = min(powers.items(), key=lambda item: (-item[1], item[0]))
    return organisation, power, total


def concentrated(consensus: str, power: int, total: int) -> bool:
    """Whether one organisation's ``power`` of ``total`` is too much for a hub member (above)."""
    if consensus == "raft":
        return 3 * power > total
    return 3 * power >= total


def check_member(member: interchain_pb2.MemberChain) -> None:
    """RequestError for a member record the registry must refuse, before the client is read."""
    if not is_valid_identifier(member.chain_id):
        raise failure(_INVALID, f"chain id {member.chain_id[:80]!r} is not an identifier")
    if len(member.genesis_hash) != HASH_BYTES or not any(member.genesis_hash):
        raise failure(_INVALID, "the genesis hash must be 32 bytes and not all zero")
    if member.consensus == EVM_CONSENSUS:
        _check_evm_member(member)
    else:
        _check_validators(member)
    _check_endpoints(member)


def _check_evm_member(member: interchain_pb2.MemberChain) -> None:
    if member.crypto_profile != EVM_CRYPTO_PROFILE:
        raise failure(
            _INVALID,
            f"an {EVM_CONSENSUS} member has crypto profile {EVM_CRYPTO_PROFILE!r}, not "
            f"{member.crypto_profile!r}",
        )
    if member.validator_set.validators:
        raise failure(
            _INVALID,
            f"an {EVM_CONSENSUS} member has no validator set: its headers are attested by the "
            "gateway committee of its client",
        )


def _check_validators(member: interchain_pb2.MemberChain) -> None:
    if member.HasField("evm"):
        raise failure(_INVALID, f"a committee is for {EVM_CONSENSUS} members only")
    if member.crypto_profile not in PROFILES:
        raise failure(
            _INVALID, f"crypto profile {member.crypto_profile!r} is not one of {list(PROFILES)}"
        )
    if member.consensus not in CONSENSUS_KINDS:
        raise failure(
            _INVALID, f"consensus {member.consensus!r} is not one of {list(CONSENSUS_KINDS)}"
        )
    count = len(member.validator_set.validators)
    if count == 0:
        raise failure(_INVALID, "the member chain has no validators")
    if count > VALIDATOR_SET_VALIDATORS_MAX:
        raise failure(
            _INVALID,
            f"the validator set has {count} validators, above the limit of "
            f"{VALIDATOR_SET_VALIDATORS_MAX}",
        )
    for validator in member.validator_set.validators:
        try:
            split_member_id(validator.member_id)
        except ConfigurationError:
            raise failure(
                _INVALID, f"validator {validator.member_id[:80]!r} is not organisation/name"
            ) from None
        if validator.voting_power == 0:
            raise failure(_INVALID, f"validator {validator.member_id} has no voting power")
    organisation, power, total = largest_organisation_share(member.validator_set)
    if concentrated(member.consensus, power, total):
        limit = "more than a third" if member.consensus == "raft" else "a third or more"
        raise failure(
            _INVALID,
            f"organisation {organisation} holds {power} of {total} voting power on "
            f"{member.chain_id}, {limit}: one organisation must not be able to stop or "
            "forge the chain",
        )


def _check_endpoints(member: interchain_pb2.MemberChain) -> None:
    if len(member.endpoints) > ENDPOINTS_MAX:
        raise failure(
            _INVALID,
            f"{len(member.endpoints)} endpoints, above the limit of {ENDPOINTS_MAX}",
        )
    for endpoint in member.endpoints:
        host, separator, port = endpoint.rpartition(":")
        if (
            not separator
            or not host
            or not port.isdigit()
            or not 1 <= int(port) <= 65_535
            or len(endpoint) > ENDPOINT_CHARACTERS_MAX
        ):
            raise failure(_INVALID, f"endpoint {endpoint[:80]!r} is not host:port")


def member_trust(member: interchain_pb2.MemberChain) -> str:
    """What the hub's proofs of ``member`` rest on, in words (``causeway hub members``)."""
    if member.consensus == EVM_CONSENSUS:
        return (
            f"gateway committee: {member.evm.threshold} of {len(member.evm.committee)} operators "
            "(weaker: trusts the operators)"
        )
    return f"light client: >2/3 of {len(member.validator_set.validators)} validators"


def member_chain(context: TransactionContext, chain_id: str) -> interchain_pb2.MemberChain:
    """The registered member chain ``chain_id``; RequestError when it is not registered."""
    own = _enter(context)
    data = own.get(member_chain_key(chain_id)) if is_valid_identifier(chain_id) else None
    if data is None:
        raise failure(_NOT_FOUND, f"chain {chain_id[:80]!r} is not a member of this hub")
    return decode(interchain_pb2.MemberChain, data, bytes_max=len(data))


def register(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.governance_policy, "hub.register")
    request = decode_arguments(context, interchain_pb2.HubRegisterArguments, arguments)
    member = request.member
    check_member(member)
    key = member_chain_key(member.chain_id)
    if context.get(key) is not None:
        raise failure(_CONFLICT, f"chain {member.chain_id} is registered already")
    client = clients.active_client(context, member.client_id)
    differences = [
        name
        for name, ours, theirs in (
            ("chain id", member.chain_id, client.chain_id),
            ("genesis hash", member.genesis_hash, client.genesis_hash),
            ("crypto profile", member.crypto_profile, client.crypto_profile),
            ("consensus", member.consensus, client.consensus),
        )
        if ours != theirs
    ]
    if differences:
        raise failure(
            _INVALID,
            f"client {member.client_id} is not a client of this chain: its "
            f"{', '.join(differences)} differ",
        )
    if member.consensus == EVM_CONSENSUS:
        if member.HasField("evm") and member.evm != client.evm:
            raise failure(
                _INVALID,
                f"the committee stated is not the one client {member.client_id} holds",
            )
    else:
        latest = clients.consensus_state(context, member.client_id, client.latest_height)
        set_hash = validator_set_hash(member.validator_set, get_profile(member.crypto_profile))
        if set_hash not in (latest.validator_set_hash, latest.next_validator_set_hash):
            raise failure(
                _INVALID,
                f"the validator set is not the one client {member.client_id} trusts at height "
                f"{latest.height}",
            )
    for other in context.range(MEMBER_PREFIX, b"", LIST_LIMIT_MAX + 1):
        registered = decode(interchain_pb2.MemberChain, other[1], bytes_max=len(other[1]))
        if registered.client_id == member.client_id:
            raise failure(
                _CONFLICT,
                f"client {member.client_id} is registered already, for {registered.chain_id}",
            )
    record = interchain_pb2.MemberChain()
    record.CopyFrom(member)
    record.registered_time_ms = context.time_ms
    if member.consensus == EVM_CONSENSUS:
        record.evm.CopyFrom(client.evm)
    context.put(key, encode(record))
    context.emit(
        "register_member", (("chain_id", member.chain_id), ("client_id", member.client_id))
    )
    return b""


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.HubGetArguments, arguments)
    return encode(member_chain(context, request.chain_id))


def list_members(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.HubListArguments, arguments)
    limit = request.limit or LIST_LIMIT_DEFAULT
    if limit > LIST_LIMIT_MAX:
        raise failure(_INVALID, f"limit {limit} is above the maximum of {LIST_LIMIT_MAX}")
    start_after = member_chain_key(request.start_after) if request.start_after else b""
    result = interchain_pb2.HubListResult()
    for _key, value in context.range(MEMBER_PREFIX, start_after, limit):
        result.members.append(decode(interchain_pb2.MemberChain, value, bytes_max=len(value)))
    return encode(result)


METHODS: dict[str, Method] = {
    "register": Method(register, arguments=interchain_pb2.HubRegisterArguments),
    "get": Method(get, read_only=True),
    "list": Method(list_members, read_only=True),
}

HUB = Contract(name=CONTRACT, methods=METHODS, namespace=HUB_NAMESPACE)
