"""clients (system): light clients of other chains, the ground every interchain proof stands on.

A client of chain X holds what X's genesis fixes (chain id, genesis hash, consensus kind, crypto
profile) and a ``ConsensusState`` per verified height of X (header time, block hash, state root,
the hashes of the validator sets of that height and the next). Packets prove their commitments,
receipts and acknowledgements against those state roots (``verify_state``), and nothing else.

**Who signs enough.** A header counts only with a commit certificate holding MORE than two thirds
of the voting power of the validator set the header names, whatever X's consensus kind: the
lesson of Ronin and Harmony, whose bridges fell to keys holding exactly the threshold or less of
a small committee. For raft chains this is stricter than raft's own certificate rule (more than
half, causeway.light): a raft certificate says that a majority of the voters' nodes stored the
block, which is what raft members trust of one another, not what a stranger should; a relayer of a
raft chain must gather signatures from more than two thirds of its voters. A set in which one
validator alone holds more than two thirds (a solo chain, a set of one) is refused unless
governance accepted a single signer when it created the client (``single_signer_accepted``).

**Following X.** ``update`` takes a header with a ``trusted_height``, a height whose consensus
state the client stores. The header's own set must sign it (more than two thirds), and the trust
must carry over from the stored state:

- adjacent (the height right after the trusted one): the header's set must be the one the
  trusted state names as next, and the header must name the trusted block as its parent;
- skipping (IBC's trusting verification, at a stricter trust level): the trusted state's next
  set, passed by the relayer but held to the hash the client stored, must have signed with more
  than two thirds of its power. IBC's Tendermint client accepts one third there, which is safe
  only where a validator who signs a fork loses a bond; Causeway chains have no slashing, so the
  set the client trusts must vouch for the header as it would for its own block. A relayer
  crosses a larger change height by height (``relaying.Relayer.updates_to``).

Every input to these checks that is not signed by X comes from the client's stored state, never
from the caller: a relayer's set counts only when it hashes to what the client stored (the
Wormhole lesson). A trusted state older than the trusting period (X's header time against this
chain's block time) vouches for nothing, and a client whose latest state is that old is expired.
A header may be dated at most ``clock_drift_ms`` after this chain's block time. States that no
longer count are pruned, oldest first, two per update (never the latest): relayers prove at
recent heights. Headers are checked
with the client's crypto profile, never this chain's, so an intl chain keeps a client of a gm
chain and the reverse.

**Misbehaviour.** Two headers of one height with different hashes, each proven as above, or a
proven header whose time breaks the order of the stored states around it, show that X's
validators signed what an honest majority never would: the client freezes (``frozen_height``) and
accepts nothing (no update, no proof) until governance recovers it. An update that proves such a
header freezes the client and succeeds (the freeze is written); ``submit_misbehaviour`` lets
anyone show two such headers. A header at a stored height with the stored hash changes nothing,
so that racing relayers do no harm.

**Governance.** Creating a client, recovering a frozen or expired one from a header governance
vouches for (still signed by more than two thirds of its set), and naming the counterparty's
client of this chain need the chain's governance policy. A recovered client keeps its id; the
states it stored before no longer count (whatever a fork left behind is not trusted again).
Client ids ("client-<n>") come from a counter and are never reused.

**Zero never counts.** A consensus state whose state root is empty or zero proves nothing (the
Nomad lesson); a header with a zero state root, block hash or set hash is refused, and a height
without a stored consensus state is an error, never a default.

State: causeway.interchain.keys (sys/clients/...). Gas: every signature verified and every byte
hashed is charged to the transaction, at the prices of the client's profile, so a relayer pays
for the work it asks of the validators.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

from causeway.crypto import CryptoProfile, get_profile
from causeway.errors import InvariantError, RequestError
from causeway.execution import (
    Contract,
    Method,
    TransactionContext,
    decode_arguments,
    failure,
    hashing_gas,
    signature_verification_gas,
)
from causeway.interchain.keys import (
    CLIENT_NEXT,
    CLIENT_PREFIX,
    CLIENTS_CONTRACT,
    CLIENTS_NAMESPACE,
    client_key,
    consensus_state_key,
    consensus_states_key,
    recovered_key,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.light import (
    VALIDATOR_SET_VALIDATORS_MAX,
    CertificateQuorum,
    check_header_shape,
    commit_sign_bytes,
    trusted_signers,
    verify_header,
    verify_trusted_signers,
)
from causeway.state import verify_state_proof
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = CLIENTS_CONTRACT

# -- bounds ---------------------------------------------------------------------------------------

# A counterparty's chain id, in UTF-8 bytes.
CLIENT_CHAIN_ID_BYTES_MAX = 128
# The longest a consensus state may vouch for new headers: a year. Longer, and keys compromised
# long after they stopped validating could still sign headers the client believes.
CLIENT_TRUSTING_PERIOD_MAX_MS = 365 * 24 * 3_600_000
# The most a header may be dated ahead of this chain's block time (clocks disagree, no more).
CLIENT_CLOCK_DRIFT_MAX_MS = 3_600_000
# The most validators a header's set (or the trusted set) may have (causeway.light's bound).
CLIENT_VALIDATORS_MAX = VALIDATOR_SET_VALIDATORS_MAX
# The most consensus states one update deletes, oldest first, once they no longer count.
CLIENT_PRUNED_PER_UPDATE_MAX = 2
# The most clients one clients.list answer holds, and how many when the caller does not say.
CLIENTS_LIST_LIMIT_MAX = 100
CLIENTS_LIST_LIMIT_DEFAULT = 20

CLIENT_ID_PREFIX = "client-"
CONSENSUS_KINDS = frozenset({"tbft", "raft", "solo"})
CRYPTO_PROFILES = frozenset({"intl", "gm"})
HASH_BYTES = 32
STATUS_ACTIVE = "active"
STATUS_FROZEN = "frozen"
STATUS_EXPIRED = "expired"

# "client-<n>": n without leading zeros, at most 20 digits (an unsigned 64-bit counter).
_CLIENT_ID = re.compile(r"client-(0|[1-9][0-9]{0,19})")
_COUNTER = struct.Struct(">Q")
_ZERO_HASH = bytes(HASH_BYTES)
_TWO_THIRDS = CertificateQuorum.MORE_THAN_TWO_THIRDS
# The share of the trusted set that must sign a header the client skips to (see above).
SKIP_TRUST_QUORUM = CertificateQuorum.MORE_THAN_TWO_THIRDS

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT


# -- stored records --------------------------------------------------------------------------------


def _enter(context: TransactionContext) -> TransactionContext:
    """The clients contract's own context, for callers of the Python API below."""
    return context.enter(CLIENTS_CONTRACT, CLIENTS_NAMESPACE, ())


def _check_client_id(client_id: str) -> None:
    if _CLIENT_ID.fullmatch(client_id) is None:
        raise failure(_INVALID, f"client id {client_id[:80]!r} is not of the form client-<n>")


def _load_client(context: TransactionContext, client_id: str) -> interchain_pb2.ClientState:
    _check_client_id(client_id)
    stored = context.get(client_key(client_id))
    if stored is None:
        raise failure(_NOT_FOUND, f"there is no client {client_id!r}")
    return interchain_pb2.ClientState.FromString(stored)


def _stored_state(
    context: TransactionContext, client_id: str, height: int
) -> interchain_pb2.ConsensusState | None:
    stored = context.get(consensus_state_key(client_id, height))
    return None if stored is None else interchain_pb2.ConsensusState.FromString(stored)


def _read_number(context: TransactionContext, key: bytes) -> int:
    """An 8-byte big-endian number this contract stored at ``key``; 0 when absent."""
    stored = context.get(key)
    if stored is None:
        return 0
    if len(stored) != _COUNTER.size:
        raise InvariantError(f"the value of {key!r} is {len(stored)} bytes, not an 8-byte number")
    number: int = _COUNTER.unpack(stored)[0]
    return number


def _recovered_height(context: TransactionContext, client_id: str) -> int:
    return _read_number(context, recovered_key(client_id))


def _latest_state(
    context: TransactionContext, client: interchain_pb2.ClientState
) -> interchain_pb2.ConsensusState:
    latest = _stored_state(context, client.client_id, client.latest_height)
    if latest is None:
        raise InvariantError(
            f"client {client.client_id} has no consensus state at its latest height "
            f"{client.latest_height}"
        )
    return latest


def _status(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    latest: interchain_pb2.ConsensusState,
) -> str:
    if client.frozen_height:
        return STATUS_FROZEN
    if latest.time_ms + client.trusting_period_ms <= context.time_ms:
        return STATUS_EXPIRED
    return STATUS_ACTIVE


def _active(context: TransactionContext, client_id: str) -> interchain_pb2.ClientState:
    client = _load_client(context, client_id)
    if client.frozen_height:
        raise failure(
            _CONFLICT,
            f"client {client_id} is frozen (misbehaviour at height {client.frozen_height}): it "
            "accepts nothing until governance recovers it",
        )
    latest = _latest_state(context, client)
    if _status(context, client, latest) == STATUS_EXPIRED:
        raise failure(
            _CONFLICT,
            f"client {client_id} expired: its latest consensus state (height {latest.height}, "
            f"time {latest.time_ms} ms) is older than its trusting period of "
            f"{client.trusting_period_ms} ms at block time {context.time_ms} ms; only "
            "governance can recover it",
        )
    return client


def _first_stored_above(
    context: TransactionContext, client_id: str, height: int
) -> interchain_pb2.ConsensusState | None:
    """The stored consensus state of the lowest height above ``height``, if any."""
    entries = context.range(
        consensus_states_key(client_id), consensus_state_key(client_id, height), 1
    )
    return interchain_pb2.ConsensusState.FromString(entries[0][1]) if entries else None


def _stored_below(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    height: int,
    trusted: interchain_pb2.ConsensusState,
) -> interchain_pb2.ConsensusState:
    """The stored consensus state of the highest height below ``height`` (not stored itself),
    knowing that ``trusted`` is stored below it. The state offers ranges upward only, so this is
    a binary search over "the first stored height above x": none when the trusted state is the
    latest or the header follows it, one range when nothing lies between (the usual case), at most
    65 otherwise."""
    if trusted.height in (client.latest_height, height - 1):
        return trusted
    best = _first_stored_above(context, client.client_id, trusted.height)
    if best is None or best.height >= height:
        return trusted
    low, high = best.height, height - 1
    # Invariant: the answer's height is in [low, high], and best is the state stored at low.
    while low < high:
        middle = (low + high + 1) // 2
        found = _first_stored_above(context, client.client_id, middle - 1)
        if found is not None and found.height <= high:
            best, low = found, found.height
        else:
            high = middle - 1
    return best


def _prune(context: TransactionContext, client: interchain_pb2.ClientState, recovered: int) -> None:
    """Deletes the oldest consensus states that no longer count (older than the trusting period,
    or below the recovery height), at most CLIENT_PRUNED_PER_UPDATE_MAX and never the latest:
    each update stores one state and deletes up to two, so a client keeps about the states of
    one trusting period, however long it lives."""
    entries = context.range(
        consensus_states_key(client.client_id), b"", CLIENT_PRUNED_PER_UPDATE_MAX
    )
    for key, value in entries:
        state = interchain_pb2.ConsensusState.FromString(value)
        expired = state.time_ms + client.trusting_period_ms <= context.time_ms
        if state.height >= client.latest_height or not (expired or state.height < recovered):
            return
        context.delete(key)


# -- gas -------------------------------------------------------------------------------------------


def _charge_hashing(context: TransactionContext, profile: CryptoProfile, byte_count: int) -> None:
    context.charge_gas(hashing_gas(byte_count, profile.name))


def _hash(context: TransactionContext, profile: CryptoProfile, data: bytes) -> bytes:
    _charge_hashing(context, profile, len(data))
    return profile.hash(data)


def _charge_signatures(
    context: TransactionContext,
    profile: CryptoProfile,
    algorithms: Sequence[str],
    document_bytes: int,
) -> None:
    """Charges one verification per signature about to be checked, before any is."""
    for algorithm in algorithms:
        if algorithm in profile.algorithms:
            context.charge_gas(signature_verification_gas(algorithm, document_bytes, profile.name))


# -- checking headers ------------------------------------------------------------------------------


def _check_set_size(validators: types_pb2.ValidatorSet, what: str) -> None:
    count = len(validators.validators)
    if count == 0:
        raise failure(_INVALID, f"{what} is empty")
    if count > CLIENT_VALIDATORS_MAX:
        raise failure(
            _INVALID, f"{what} has {count} validators, above the limit of {CLIENT_VALIDATORS_MAX}"
        )


def _single_signer(validators: types_pb2.ValidatorSet) -> str | None:
    """The validator that can sign a header alone (holds more than two thirds), if any."""
    total = sum(validator.voting_power for validator in validators.validators)
    for validator in validators.validators:
        if 3 * validator.voting_power > 2 * total:
            return validator.member_id
    return None


def _check_header(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    client_header: interchain_pb2.ClientHeader,
    what: str,
) -> None:
    """Everything about a header that costs no signature: its presence, its chain and genesis,
    its date, the size of its set and the single-signer rule."""
    for field in ("header", "certificate", "validator_set"):
        if not client_header.HasField(field):
            raise failure(_INVALID, f"{what} has no {field}")
    header = client_header.header
    _check_set_size(client_header.validator_set, f"the validator set of {what}")
    try:
        check_header_shape(header, chain_id=client.chain_id)
    except RequestError as error:
        raise failure(_INVALID, f"{what}: {error.message}") from None
    if header.genesis_hash != client.genesis_hash:
        raise failure(
            _INVALID,
            f"{what} carries genesis hash {header.genesis_hash.hex()[:64]}, not "
            f"{client.genesis_hash.hex()} of chain {client.chain_id}: it is from another chain",
        )
    for name in ("state_root", "validator_set_hash", "next_validator_set_hash"):
        if getattr(header, name) == _ZERO_HASH:
            raise failure(_INVALID, f"{what} has a zero {name}, which proves nothing")
    if header.time_ms > context.time_ms + client.clock_drift_ms:
        raise failure(
            _INVALID,
            f"{what} is dated {header.time_ms} ms, more than the clock drift of "
            f"{client.clock_drift_ms} ms after this chain's block time {context.time_ms} ms",
        )
    signer = _single_signer(client_header.validator_set)
    if signer is not None and not client.single_signer_accepted:
        raise failure(
            _INVALID,
            f"{what} is signed by a set in which {signer!r} alone holds more than two thirds of "
            f"the power; client {client.client_id or 'being created'} of {client.chain_id} does "
            "not accept a single signer (governance must accept it when creating the client)",
        )


def _verify_signed(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    profile: CryptoProfile,
    client_header: interchain_pb2.ClientHeader,
    what: str,
) -> bytes:
    """The header's hash, once its own set signed it with more than two thirds of its power."""
    header = client_header.header
    certificate = client_header.certificate
    validators = client_header.validator_set
    encoded_set = encode(validators)
    encoded_header = encode(header)
    _charge_hashing(context, profile, len(encoded_set) + len(encoded_header))
    algorithms = {validator.member_id: validator.algorithm for validator in validators.validators}
    document_bytes = len(
        commit_sign_bytes(client.chain_id, header.height, certificate.round, bytes(HASH_BYTES))
    )
    _charge_signatures(
        context,
        profile,
        [algorithms.get(entry.validator, "") for entry in certificate.signatures],
        document_bytes,
    )
    try:
        return verify_header(
            header,
            certificate,
            chain_id=client.chain_id,
            validators=validators,
            profile=profile,
            quorum=_TWO_THIRDS,
        )
    except RequestError as error:
        raise failure(_INVALID, f"{what}: {error.message}") from None


def _consensus_state(
    header: types_pb2.BlockHeader, own_hash: bytes
) -> interchain_pb2.ConsensusState:
    return interchain_pb2.ConsensusState(
        height=header.height,
        time_ms=header.time_ms,
        block_hash=own_hash,
        state_root=header.state_root,
        validator_set_hash=header.validator_set_hash,
        next_validator_set_hash=header.next_validator_set_hash,
    )


def _trusted_state(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    client_header: interchain_pb2.ClientHeader,
    what: str,
) -> interchain_pb2.ConsensusState:
    """The stored state ``client_header`` names as trusted, once it may vouch for the header."""
    height = client_header.header.height
    trusted_height = client_header.trusted_height
    if trusted_height == 0 or trusted_height >= height:
        raise failure(
            _INVALID,
            f"{what} (height {height}) names trusted height {trusted_height}: it must be a "
            "stored height below the header's",
        )
    if trusted_height < _recovered_height(context, client.client_id):
        raise failure(
            _INVALID,
            f"{what} names trusted height {trusted_height}, below the height governance "
            f"recovered client {client.client_id} from",
        )
    trusted = _stored_state(context, client.client_id, trusted_height)
    if trusted is None:
        raise failure(
            _NOT_FOUND,
            f"client {client.client_id} has no consensus state at trusted height {trusted_height}",
        )
    if trusted.time_ms + client.trusting_period_ms <= context.time_ms:
        raise failure(
            _CONFLICT,
            f"the consensus state at trusted height {trusted_height} (time {trusted.time_ms} ms) "
            f"is older than the trusting period of {client.trusting_period_ms} ms: it vouches "
            "for nothing; update from a more recent one",
        )
    if client_header.header.time_ms <= trusted.time_ms:
        raise failure(
            _INVALID,
            f"{what} is dated {client_header.header.time_ms} ms, not after the trusted consensus "
            f"state at height {trusted_height} ({trusted.time_ms} ms)",
        )
    return trusted


def _verify_update(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    profile: CryptoProfile,
    client_header: interchain_pb2.ClientHeader,
    what: str,
) -> interchain_pb2.ConsensusState:
    """Proves ``client_header`` from the client's stored state (see the module docstring)."""
    _check_header(context, client, client_header, what)
    header = client_header.header
    trusted = _trusted_state(context, client, client_header, what)
    adjacent = header.height == trusted.height + 1
    if adjacent:
        if header.validator_set_hash != trusted.next_validator_set_hash:
            raise failure(
                _INVALID,
                f"{what} is signed by a validator set other than the one the consensus state at "
                f"height {trusted.height} names as next",
            )
        if header.previous_hash != trusted.block_hash:
            raise failure(
                _INVALID,
                f"{what} does not follow the block the client stores at height {trusted.height}",
            )
    else:
        trusted_set = client_header.trusted_validator_set
        _check_set_size(trusted_set, f"the trusted validator set of {what}")
        if _hash(context, profile, encode(trusted_set)) != trusted.next_validator_set_hash:
            raise failure(
                _INVALID,
                f"the trusted validator set of {what} is not the next set the consensus state at "
                f"height {trusted.height} names: trust comes from the client's state, not from "
                "the caller",
            )
    own_hash = _verify_signed(context, client, profile, client_header, what)
    if not adjacent:
        _verify_skip(context, client, profile, client_header, own_hash=own_hash, what=what)
    return _consensus_state(header, own_hash)


def _verify_skip(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    profile: CryptoProfile,
    client_header: interchain_pb2.ClientHeader,
    *,
    own_hash: bytes,
    what: str,
) -> None:
    """More than two thirds of the trusted set (already held to the stored hash) signed."""
    header = client_header.header
    certificate = client_header.certificate
    try:
        counted = trusted_signers(certificate, client_header.trusted_validator_set, profile)
        document_bytes = len(
            commit_sign_bytes(client.chain_id, header.height, certificate.round, own_hash)
        )
        _charge_signatures(
            context, profile, [validator.algorithm for validator, _ in counted], document_bytes
        )
        verify_trusted_signers(
            certificate,
            chain_id=client.chain_id,
            height=header.height,
            block_hash=own_hash,
            validators=client_header.trusted_validator_set,
            profile=profile,
            quorum=SKIP_TRUST_QUORUM,
        )
    except RequestError as error:
        raise failure(_INVALID, f"{what}: {error.message}") from None


def _verify_vouched(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    profile: CryptoProfile,
    client_header: interchain_pb2.ClientHeader,
    what: str,
) -> interchain_pb2.ConsensusState:
    """A header governance vouches for (create, recover): its own set signed it, and it is not
    already too old to vouch for the next one."""
    _check_header(context, client, client_header, what)
    if client_header.trusted_height:
        raise failure(
            _INVALID,
            f"{what} names trusted height {client_header.trusted_height}: a header governance "
            "vouches for trusts no stored state (leave it 0)",
        )
    header = client_header.header
    if header.time_ms + client.trusting_period_ms <= context.time_ms:
        raise failure(
            _INVALID,
            f"{what} is dated {header.time_ms} ms, older than the trusting period of "
            f"{client.trusting_period_ms} ms at block time {context.time_ms} ms",
        )
    own_hash = _verify_signed(context, client, profile, client_header, what)
    return _consensus_state(header, own_hash)


# -- writing ---------------------------------------------------------------------------------------


def _save_client(context: TransactionContext, client: interchain_pb2.ClientState) -> None:
    context.put(client_key(client.client_id), encode(client))


def _save_state(
    context: TransactionContext, client_id: str, state: interchain_pb2.ConsensusState
) -> None:
    context.put(consensus_state_key(client_id, state.height), encode(state))


def _freeze(
    context: TransactionContext, client: interchain_pb2.ClientState, height: int, reason: str
) -> None:
    client.frozen_height = height
    _save_client(context, client)
    context.emit(
        "client_frozen",
        (("client_id", client.client_id), ("height", str(height)), ("reason", reason)),
    )


def _event(context: TransactionContext, name: str, client_id: str, height: int) -> None:
    context.emit(name, (("client_id", client_id), ("height", str(height))))


def _update(
    context: TransactionContext, arguments: interchain_pb2.ClientsUpdateArguments
) -> interchain_pb2.ConsensusState:
    """update's rules, in the clients contract's own context (see update_client)."""
    client = _active(context, arguments.client_id)
    profile = get_profile(client.crypto_profile)
    client_header = arguments.header
    if not client_header.HasField("header"):
        raise failure(_INVALID, "the update has no header")
    header = client_header.header
    height = header.height
    what = f"the header of height {height}"
    recovered = _recovered_height(context, client.client_id)
    if height < recovered:
        raise failure(
            _INVALID,
            f"{what} is below height {recovered}, which governance recovered client "
            f"{client.client_id} from",
        )
    stored = _stored_state(context, client.client_id, height) if height else None
    if stored is not None and _hash(context, profile, encode(header)) == stored.block_hash:
        # Proven before: another relayer was first. Nothing to check, nothing to write.
        return stored
    state = _verify_update(context, client, profile, client_header, what)
    if stored is not None:
        _freeze(context, client, height, "two headers for one height")
        return state
    # Time must grow with height across every stored state: compare with the neighbours.
    trusted = _stored_state(context, client.client_id, client_header.trusted_height)
    if trusted is None:
        raise InvariantError("the trusted consensus state vanished during an update")
    below = _stored_below(context, client, height, trusted)
    above = (
        _first_stored_above(context, client.client_id, height)
        if height < client.latest_height
        else None
    )
    if below.time_ms >= state.time_ms or (above is not None and above.time_ms <= state.time_ms):
        _freeze(context, client, height, "header time out of order")
        return state
    _save_state(context, client.client_id, state)
    if height > client.latest_height:
        client.latest_height = height
        _save_client(context, client)
    _prune(context, client, recovered)
    _event(context, "update_client", client.client_id, height)
    return state


# -- Python API for other contracts (each enters the clients contract itself) ----------------------


def update_client(
    context: TransactionContext, arguments: interchain_pb2.ClientsUpdateArguments
) -> interchain_pb2.ConsensusState:
    """Verifies ``arguments.header`` against the client's stored state and stores its consensus
    state, which it returns. A header already stored with the same hash is a no-op (the stored
    state is returned, nothing written). A proven header that conflicts with a stored one (same
    height, other hash; or time out of order) freezes the client, writes the freeze and returns
    the header's state unstored: callers check ``active_client`` before relying on it. RequestError
    for anything that does not verify (nothing written)."""
    return _update(_enter(context), arguments)


def client_state(context: TransactionContext, client_id: str) -> interchain_pb2.ClientState:
    """The client as stored, whatever its status; RequestError when there is none."""
    return _load_client(_enter(context), client_id)


def active_client(context: TransactionContext, client_id: str) -> interchain_pb2.ClientState:
    """The client, once it exists, is not frozen and is not expired at ``context.time_ms``."""
    return _active(_enter(context), client_id)


def consensus_state(
    context: TransactionContext, client_id: str, height: int
) -> interchain_pb2.ConsensusState:
    """The consensus state the client stores for ``height``; RequestError (NOT_FOUND) when there
    is none, or when governance recovered the client from a later height since."""
    inner = _enter(context)
    client = _load_client(inner, client_id)
    return _counting_state(inner, client, height)


def _counting_state(
    context: TransactionContext, client: interchain_pb2.ClientState, height: int
) -> interchain_pb2.ConsensusState:
    state = _stored_state(context, client.client_id, height) if height else None
    if state is None or height < _recovered_height(context, client.client_id):
        raise failure(
            _NOT_FOUND, f"client {client.client_id} has no consensus state at height {height}"
        )
    return state


def verify_state(  # noqa: PLR0917 (the interface other contracts call, as the brief names it)
    context: TransactionContext,
    client_id: str,
    height: int,
    key: bytes,
    value: bytes | None,
    proof: types_pb2.StateProof,
) -> interchain_pb2.ConsensusState:
    """The consensus state at ``height``, once ``proof`` shows ``key`` holding ``value`` (None:
    absent) in the state root it stores. The client must be active; a height without a stored
    state, or a state whose root is empty or zero, proves nothing (RequestError)."""
    inner = _enter(context)
    client = _active(inner, client_id)
    state = _counting_state(inner, client, height)
    if len(state.state_root) != HASH_BYTES or state.state_root == _ZERO_HASH:
        raise failure(
            _INVALID,
            f"the consensus state of client {client_id} at height {height} has no usable state "
            "root: a zero or empty root proves nothing",
        )
    if not key:
        raise failure(_INVALID, "a state proof needs a key")
    profile = get_profile(client.crypto_profile)
    # A proof hashes the key, the value and one pair of nodes per level it climbs.
    _charge_hashing(
        inner,
        profile,
        len(key) + len(value or b"") + 2 * HASH_BYTES * (len(proof.siblings) + 1),
    )
    try:
        verify_state_proof(state.state_root, key, value, proof, profile.hash)
    except RequestError as error:
        what = "absence" if value is None else "value"
        raise failure(
            _INVALID,
            f"the proof of the {what} of {key[:80]!r} at height {height} of client {client_id} "
            f"does not verify: {error.message}",
        ) from None
    return state


# -- methods ---------------------------------------------------------------------------------------


def _check_create(arguments: interchain_pb2.ClientsCreateArguments) -> None:
    chain_id_bytes = len(arguments.chain_id.encode())
    if chain_id_bytes == 0:
        raise failure(_INVALID, "the client's chain id is empty")
    if chain_id_bytes > CLIENT_CHAIN_ID_BYTES_MAX:
        raise failure(
            _INVALID,
            f"the client's chain id is {chain_id_bytes} bytes, above the limit of "
            f"{CLIENT_CHAIN_ID_BYTES_MAX}",
        )
    if len(arguments.genesis_hash) != HASH_BYTES:
        raise failure(
            _INVALID,
            f"the genesis hash is {len(arguments.genesis_hash)} bytes, not {HASH_BYTES}",
        )
    if arguments.genesis_hash == _ZERO_HASH:
        raise failure(_INVALID, "the genesis hash is zero, which names no chain")
    if arguments.consensus not in CONSENSUS_KINDS:
        raise failure(
            _INVALID,
            f"consensus {arguments.consensus[:40]!r} is not one of "
            f"{', '.join(sorted(CONSENSUS_KINDS))}",
        )
    if arguments.crypto_profile not in CRYPTO_PROFILES:
        raise failure(
            _INVALID,
            f"crypto profile {arguments.crypto_profile[:40]!r} is not one of "
            f"{', '.join(sorted(CRYPTO_PROFILES))}",
        )
    if not 0 < arguments.trusting_period_ms <= CLIENT_TRUSTING_PERIOD_MAX_MS:
        raise failure(
            _INVALID,
            f"trusting period {arguments.trusting_period_ms} ms is not between 1 and "
            f"{CLIENT_TRUSTING_PERIOD_MAX_MS} ms",
        )
    if not 0 <= arguments.clock_drift_ms <= CLIENT_CLOCK_DRIFT_MAX_MS:
        raise failure(
            _INVALID,
            f"clock drift {arguments.clock_drift_ms} ms is not between 0 and "
            f"{CLIENT_CLOCK_DRIFT_MAX_MS} ms",
        )
    if arguments.consensus == "solo" and not arguments.single_signer_accepted:
        raise failure(
            _INVALID,
            f"chain {arguments.chain_id} runs solo consensus, whose one validator signs alone: "
            "governance must accept a single signer (single_signer_accepted) to keep a client "
            "of it",
        )
    if arguments.counterparty_client_id:
        _check_client_id(arguments.counterparty_client_id)
    if not arguments.HasField("header"):
        raise failure(_INVALID, "creating a client needs its first header")


def create(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.governance_policy, "clients.create")
    request = decode_arguments(context, interchain_pb2.ClientsCreateArguments, arguments)
    _check_create(request)
    number = _read_number(context, CLIENT_NEXT)
    client = interchain_pb2.ClientState(
        client_id=f"{CLIENT_ID_PREFIX}{number}",
        chain_id=request.chain_id,
        genesis_hash=request.genesis_hash,
        consensus=request.consensus,
        crypto_profile=request.crypto_profile,
        trusting_period_ms=request.trusting_period_ms,
        clock_drift_ms=request.clock_drift_ms,
        counterparty_client_id=request.counterparty_client_id,
        single_signer_accepted=request.single_signer_accepted,
        created_time_ms=context.time_ms,
    )
    profile = get_profile(client.crypto_profile)
    state = _verify_vouched(context, client, profile, request.header, "the first header")
    client.latest_height = state.height
    context.put(CLIENT_NEXT, _COUNTER.pack(number + 1))
    _save_client(context, client)
    _save_state(context, client.client_id, state)
    _event(context, "create_client", client.client_id, state.height)
    return encode(interchain_pb2.ClientsCreateResult(client_id=client.client_id))


def update(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.ClientsUpdateArguments, arguments)
    return encode(_update(context, request))


def submit_misbehaviour(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.ClientsMisbehaviourArguments, arguments)
    client = _active(context, request.client_id)
    profile = get_profile(client.crypto_profile)
    if not request.first.HasField("header") or not request.second.HasField("header"):
        raise failure(_INVALID, "misbehaviour needs two headers")
    first, second = request.first.header, request.second.header
    if first.height == second.height:
        if _hash(context, profile, encode(first)) == _hash(context, profile, encode(second)):
            raise failure(
                _INVALID,
                f"both headers are the block at height {first.height}: not misbehaviour",
            )
        reason = "two headers for one height"
    else:
        lower, higher = (first, second) if first.height < second.height else (second, first)
        if lower.time_ms < higher.time_ms:
            raise failure(
                _INVALID,
                f"the headers of heights {lower.height} and {higher.height} are dated in order: "
                "not misbehaviour",
            )
        reason = "header time out of order"
    for label, client_header in (("first", request.first), ("second", request.second)):
        height = client_header.header.height
        _verify_update(context, client, profile, client_header, f"the {label} header ({height})")
    frozen_height = max(first.height, second.height)
    _freeze(context, client, frozen_height, reason)
    return b""


def recover(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.governance_policy, "clients.recover")
    request = decode_arguments(context, interchain_pb2.ClientsRecoverArguments, arguments)
    client = _load_client(context, request.client_id)
    latest = _latest_state(context, client)
    if _status(context, client, latest) == STATUS_ACTIVE:
        raise failure(
            _CONFLICT,
            f"client {client.client_id} is active: only a frozen or expired client is recovered",
        )
    if not request.HasField("header"):
        raise failure(_INVALID, "recovering a client needs a header")
    header = request.header.header
    if header.height <= client.latest_height or header.time_ms <= latest.time_ms:
        raise failure(
            _INVALID,
            f"the recovery header (height {header.height}, time {header.time_ms} ms) must be "
            f"later than the client's latest consensus state (height {latest.height}, time "
            f"{latest.time_ms} ms)",
        )
    profile = get_profile(client.crypto_profile)
    state = _verify_vouched(context, client, profile, request.header, "the recovery header")
    client.frozen_height = 0
    client.latest_height = state.height
    client.created_time_ms = context.time_ms
    _save_client(context, client)
    _save_state(context, client.client_id, state)
    context.put(recovered_key(client.client_id), _COUNTER.pack(state.height))
    _event(context, "recover_client", client.client_id, state.height)
    return b""


def register_counterparty(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.governance_policy, "clients.register_counterparty")
    request = decode_arguments(
        context, interchain_pb2.ClientsRegisterCounterpartyArguments, arguments
    )
    client = _load_client(context, request.client_id)
    counterparty = request.counterparty_client_id
    _check_client_id(counterparty)
    if client.counterparty_client_id == counterparty:
        return b""
    if client.counterparty_client_id:
        raise failure(
            _CONFLICT,
            f"client {client.client_id} already names {client.counterparty_client_id!r} as the "
            f"counterparty's client, not {counterparty!r}: it is set once",
        )
    client.counterparty_client_id = counterparty
    _save_client(context, client)
    context.emit(
        "register_counterparty",
        (("client_id", client.client_id), ("counterparty_client_id", counterparty)),
    )
    return b""


def _describe(
    context: TransactionContext, client: interchain_pb2.ClientState
) -> interchain_pb2.ClientsGetResult:
    latest = _latest_state(context, client)
    return interchain_pb2.ClientsGetResult(
        client=client, status=_status(context, client, latest), latest=latest
    )


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.ClientsGetArguments, arguments)
    return encode(_describe(context, _load_client(context, request.client_id)))


def get_consensus_state(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.ClientsConsensusStateArguments, arguments)
    client = _load_client(context, request.client_id)
    return encode(_counting_state(context, client, request.height))


def list_clients(context: TransactionContext, arguments: bytes) -> bytes:
    """Clients in the order of their ids as strings ("client-10" before "client-2")."""
    request = decode_arguments(context, interchain_pb2.ClientsListArguments, arguments)
    limit = request.limit or CLIENTS_LIST_LIMIT_DEFAULT
    if limit > CLIENTS_LIST_LIMIT_MAX:
        raise failure(
            _INVALID, f"list limit {limit} is above the limit of {CLIENTS_LIST_LIMIT_MAX}"
        )
    if request.start_after:
        _check_client_id(request.start_after)
    start_after = client_key(request.start_after) if request.start_after else b""
    entries = context.range(CLIENT_PREFIX, start_after, limit)
    result = interchain_pb2.ClientsListResult(
        clients=[
            _describe(context, interchain_pb2.ClientState.FromString(value)) for _, value in entries
        ]
    )
    return encode(result)


METHODS: dict[str, Method] = {
    "create": Method(create, arguments=interchain_pb2.ClientsCreateArguments),
    "update": Method(update),
    "submit_misbehaviour": Method(submit_misbehaviour),
    "recover": Method(recover, arguments=interchain_pb2.ClientsRecoverArguments),
    "register_counterparty": Method(
        register_counterparty, arguments=interchain_pb2.ClientsRegisterCounterpartyArguments
    ),
    "get": Method(get, read_only=True),
    "consensus_state": Method(get_consensus_state, read_only=True),
    "list": Method(list_clients, read_only=True),
}

# The contract as the executor runs it: its own namespace, no grants (it reads and writes nothing
# outside sys/clients/; its writes are no shared system record, so none is a "system" method).
CLIENTS = Contract(name=CONTRACT, methods=METHODS, namespace=CLIENTS_NAMESPACE)
