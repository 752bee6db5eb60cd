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

**EVM chains (consensus "evm-committee", crypto profile "evm").** An EVM chain has no validator
set a light client could follow: its headers are attested by a gateway committee that governance
fixes when it creates the client (``ClientState.evm``: k of n secp256k1 addresses). ``attest``
takes one member's signature over one header's hash; once k distinct members attested the same
(height, hash), its consensus state (time, block hash, state root, receipts root) is stored. k
colluding operators can make the hub believe anything of that chain; fewer can only delay
(docs/evm-clients.md). Two hashes of one height each attested by k freeze the client, as a proven
fork freezes a light client. Packets from and to such a chain are proven by receipt and storage
proofs (causeway.interchain.evm) against those roots: ``verify_packet_sent``,
``verify_acknowledgement_written`` and ``verify_not_received`` take either kind of proof, so the
packets contract never looks at the kind of client. Governance cannot recover an evm-committee
client (its committee is fixed): it creates a new one.

State: causeway.interchain.keys (sys/clients/...). Gas: every signature verified and every byte
hashed is charged to the transaction, at the prices of the client's profile, so a relayer pays
for the work it asks of the validators.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence

from causeway.crypto import CryptoProfile, get_profile
from causeway.errors import DecodeError, InvariantError, ProofError, RequestError, SignatureError
from causeway.execution import (
    KV_VALUE_BYTES_MAX,
    Contract,
    Method,
    TransactionContext,
    decode_arguments,
    failure,
    hashing_gas,
    signature_verification_gas,
)
from causeway.interchain import evm
from causeway.interchain.keys import (
    CLIENT_NEXT,
    CLIENT_PREFIX,
    CLIENTS_CONTRACT,
    CLIENTS_NAMESPACE,
    acknowledgement_path,
    attestation_key,
    client_key,
    commitment_path,
    consensus_state_key,
    consensus_states_key,
    receipt_path,
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
from causeway.storage import STATE_KEY_BYTES_MAX
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
# The largest value clients.verify_state checks for a caller: a kv value's bound, which covers
# what the contracts of this repository store under one key.
VERIFY_STATE_VALUE_BYTES_MAX = KV_VALUE_BYTES_MAX
CLIENTS_LIST_LIMIT_DEFAULT = 20

CLIENT_ID_PREFIX = "client-"
# An EVM chain whose headers a gateway committee attests (see the module docstring).
EVM_CONSENSUS = "evm-committee"
EVM_CRYPTO_PROFILE = "evm"
CONSENSUS_KINDS = frozenset({"tbft", "raft", "solo", EVM_CONSENSUS})
CRYPTO_PROFILES = frozenset({"intl", "gm"})
# The most operators a gateway committee may have: each attestation is one signer recovery, and
# the endpoint contract checks as many signatures on the EVM side.
EVM_COMMITTEE_MAX = 16
EVM_ADDRESS_BYTES = 20
# Recovering a secp256k1 signer costs about what verifying a P-256 signature does.
EVM_SIGNER_RECOVERY_GAS = 3_000
# A byte hashed with keccak256 (headers, digests, proof nodes, ABI encodings), as intl's SHA-256.
EVM_GAS_PER_BYTE_HASHED = 1
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
_DENIED = types_pb2.RESULT_STATUS_PERMISSION_DENIED


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
    _refuse_evm(client, "updated with Causeway headers (its gateway committee attests headers)")
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
    if client.consensus == EVM_CONSENSUS:
        raise failure(
            _INVALID,
            f"client {client_id} is of an EVM chain: its state is proven by EVM storage proofs, "
            "not Causeway state proofs",
        )
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


# -- EVM chains: committee attestations and proofs -------------------------------------------------


def _refuse_evm(client: interchain_pb2.ClientState, what: str) -> None:
    if client.consensus == EVM_CONSENSUS:
        raise failure(_INVALID, f"client {client.client_id} is of an EVM chain: it is not {what}")


def _charge_keccak(context: TransactionContext, byte_count: int) -> None:
    context.charge_gas(EVM_GAS_PER_BYTE_HASHED * byte_count)


def check_evm_committee(committee: interchain_pb2.EvmCommittee) -> None:
    """RequestError unless ``committee`` is one a client may hold: a chain id, a 20-byte endpoint,
    1 to EVM_COMMITTEE_MAX distinct non-zero 20-byte addresses, and a threshold k with
    n / 2 < k <= n (two disjoint groups of k can never both attest)."""
    if committee.evm_chain_id == 0:
        raise failure(_INVALID, "the EVM chain id is 0, which names no chain")
    endpoint = committee.endpoint_address
    if len(endpoint) != EVM_ADDRESS_BYTES or endpoint == bytes(EVM_ADDRESS_BYTES):
        raise failure(
            _INVALID,
            f"the endpoint address is {len(endpoint)} bytes, not a non-zero 20-byte address",
        )
    members = list(committee.committee)
    count = len(members)
    if not 1 <= count <= EVM_COMMITTEE_MAX:
        raise failure(_INVALID, f"the committee has {count} members, not 1 to {EVM_COMMITTEE_MAX}")
    for member in members:
        if len(member) != EVM_ADDRESS_BYTES or member == bytes(EVM_ADDRESS_BYTES):
            raise failure(
                _INVALID,
                f"committee member 0x{member.hex()[:80]} is not a non-zero 20-byte address",
            )
    if len(set(members)) != count:
        raise failure(_INVALID, "the committee names a member twice: members must be distinct")
    threshold = committee.threshold
    if not count < 2 * threshold or threshold > count:
        raise failure(
            _INVALID,
            f"threshold {threshold} of {count} members: it must be more than half of the "
            "committee and at most all of it",
        )


def _check_create_evm(arguments: interchain_pb2.ClientsCreateArguments) -> None:
    if arguments.crypto_profile != EVM_CRYPTO_PROFILE:
        raise failure(
            _INVALID,
            f"an {EVM_CONSENSUS} client has crypto profile {EVM_CRYPTO_PROFILE!r}, not "
            f"{arguments.crypto_profile[:40]!r}",
        )
    if not arguments.HasField("evm"):
        raise failure(_INVALID, f"an {EVM_CONSENSUS} client needs its gateway committee (evm)")
    check_evm_committee(arguments.evm)
    if arguments.HasField("header"):
        raise failure(
            _INVALID,
            f"an {EVM_CONSENSUS} client starts from an EVM header (evm_header), not a Causeway "
            "header",
        )
    if not arguments.evm_header:
        raise failure(_INVALID, f"creating an {EVM_CONSENSUS} client needs its first EVM header")
    if arguments.single_signer_accepted:
        raise failure(
            _INVALID,
            f"single_signer_accepted means nothing for an {EVM_CONSENSUS} client: its committee "
            "and threshold say who signs",
        )


def _evm_consensus_state(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    header_rlp: bytes,
    what: str,
) -> interchain_pb2.ConsensusState:
    """The consensus state of an EVM header (keccak256 of its RLP charged), once it is a London..
    Prague header with non-zero roots, dated within the clock drift and the trusting period."""
    _charge_keccak(context, len(header_rlp))
    try:
        header = evm.decode_header(header_rlp)
    except DecodeError as error:
        raise failure(_INVALID, f"{what}: {error.message}") from None
    for name, root in (("state root", header.state_root), ("receipts root", header.receipts_root)):
        if root == _ZERO_HASH:
            raise failure(_INVALID, f"{what} has a zero {name}, which proves nothing")
    if header.number == 0:
        raise failure(_INVALID, f"{what} is the genesis block, which proves no packet")
    time_ms = header.timestamp * 1000
    if time_ms > context.time_ms + client.clock_drift_ms:
        raise failure(
            _INVALID,
            f"{what} is dated {time_ms} ms, more than the clock drift of {client.clock_drift_ms} "
            f"ms after this chain's block time {context.time_ms} ms",
        )
    if time_ms + client.trusting_period_ms <= context.time_ms:
        raise failure(
            _INVALID,
            f"{what} is dated {time_ms} ms, older than the trusting period of "
            f"{client.trusting_period_ms} ms at block time {context.time_ms} ms",
        )
    return interchain_pb2.ConsensusState(
        height=header.number,
        time_ms=time_ms,
        block_hash=header.block_hash,
        state_root=header.state_root,
        receipts_root=header.receipts_root,
    )


def _out_of_order(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    state: interchain_pb2.ConsensusState,
) -> bool:
    """Whether ``state`` breaks the order of block times with the stored states next to it (the
    latest, when it is above it; the first stored above it otherwise)."""
    if state.height > client.latest_height:
        return _latest_state(context, client).time_ms >= state.time_ms
    above = _first_stored_above(context, client.client_id, state.height)
    return above is not None and above.time_ms <= state.time_ms


def _attest(
    context: TransactionContext, arguments: interchain_pb2.ClientsAttestArguments
) -> interchain_pb2.ClientsAttestResult:
    client = _active(context, arguments.client_id)
    if client.consensus != EVM_CONSENSUS:
        raise failure(
            _INVALID,
            f"client {client.client_id} is of a Causeway chain: it follows headers by light-client "
            "updates, not attestations",
        )
    committee = client.evm
    state = _evm_consensus_state(context, client, arguments.header_rlp, "the attested header")
    digest = evm.header_digest(committee.evm_chain_id, state.block_hash)
    context.charge_gas(EVM_SIGNER_RECOVERY_GAS)
    _charge_keccak(context, len(evm.HEADER_DOMAIN) + 3 * HASH_BYTES)
    try:
        signer = evm.recover_signer(digest, arguments.signature)
    except SignatureError as error:
        raise failure(_INVALID, f"the attestation's signature: {error.message}") from None
    if signer not in committee.committee:
        raise failure(
            _DENIED,
            f"0x{signer.hex()} is not a committee member of client {client.client_id}: its "
            "attestation does not count (a forged or foreign signature)",
        )
    height = state.height
    stored = _stored_state(context, client.client_id, height)
    if stored is not None and stored.block_hash == state.block_hash:
        # Attested by k members already: a late member's attestation changes nothing.
        return interchain_pb2.ClientsAttestResult(attestations=committee.threshold, stored=True)
    key = attestation_key(client.client_id, height, state.block_hash)
    data = context.get(key)
    record = (
        interchain_pb2.EvmAttestation(height=height, block_hash=state.block_hash)
        if data is None
        else interchain_pb2.EvmAttestation.FromString(data)
    )
    if signer in record.signers:
        return interchain_pb2.ClientsAttestResult(attestations=len(record.signers), stored=False)
    record.signers.append(signer)
    context.emit(
        "attest",
        (
            ("client_id", client.client_id),
            ("height", str(height)),
            ("block_hash", state.block_hash.hex()),
            ("signer", "0x" + signer.hex()),
        ),
    )
    if len(record.signers) < committee.threshold:
        context.put(key, encode(record))
        return interchain_pb2.ClientsAttestResult(attestations=len(record.signers), stored=False)
    context.delete(key)
    if stored is not None:
        # k members attested two blocks of one height: the committee signed a fork.
        _freeze(context, client, height, "two headers for one height")
        return interchain_pb2.ClientsAttestResult(attestations=len(record.signers), stored=False)
    if _out_of_order(context, client, state):
        _freeze(context, client, height, "header time out of order")
        return interchain_pb2.ClientsAttestResult(attestations=len(record.signers), stored=False)
    _save_state(context, client.client_id, state)
    if height > client.latest_height:
        client.latest_height = height
        _save_client(context, client)
    _prune(context, client, _recovered_height(context, client.client_id))
    _event(context, "update_client", client.client_id, height)
    return interchain_pb2.ClientsAttestResult(attestations=len(record.signers), stored=True)


def attest(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, interchain_pb2.ClientsAttestArguments, arguments)
    return encode(_attest(context, request))


def attest_header(
    context: TransactionContext, arguments: interchain_pb2.ClientsAttestArguments
) -> interchain_pb2.ClientsAttestResult:
    """``attest`` for other contracts and tests: one committee member's attestation of one EVM
    header. A member's repeated attestation, or one of a block already stored, is a no-op; the
    k-th distinct member's stores the consensus state, or freezes the client when another block
    of that height is stored. RequestError (nothing written) for a header or signature that does
    not check, or a signer outside the committee."""
    return _attest(_enter(context), arguments)


def _evm_state(
    context: TransactionContext, client: interchain_pb2.ClientState, height: int
) -> interchain_pb2.ConsensusState:
    state = _counting_state(context, client, height)
    if state.receipts_root == _ZERO_HASH or len(state.receipts_root) != HASH_BYTES:
        raise InvariantError(f"client {client.client_id} stores no receipts root at {height}")
    return state


def _evm_log(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    proof: interchain_pb2.EvmReceiptProof,
    topic0: bytes,
    event: str,
) -> evm.EvmLog:
    """The endpoint's log ``event`` proven by ``proof`` at an attested height of ``client``."""
    state = _evm_state(context, client, proof.height)
    _charge_keccak(context, evm.proof_bytes(proof.nodes))
    try:
        return evm.verify_receipt_log(
            state.receipts_root,
            proof.transaction_index,
            proof.nodes,
            proof.log_index,
            client.evm.endpoint_address,
            topic0,
        )
    except ProofError as error:
        raise failure(
            _INVALID,
            f"the {event} proof at height {proof.height} of client {client.client_id} does not "
            f"verify: {error.message}",
        ) from None


def _evm_client(
    context: TransactionContext, client_id: str, has_evm_proof: bool, what: str
) -> interchain_pb2.ClientState | None:
    """The active client when it is of an EVM chain (with an EVM proof); None for a Causeway
    chain's client (whose proofs are state proofs, never EVM ones)."""
    client = _active(context, client_id)
    if client.consensus != EVM_CONSENSUS:
        if has_evm_proof:
            raise failure(
                _INVALID, f"{what}: client {client_id} is of a Causeway chain, not an EVM one"
            )
        return None
    if not has_evm_proof:
        raise failure(
            _INVALID, f"{what}: client {client_id} is of an EVM chain, which needs an EVM proof"
        )
    return client


def verify_packet_sent(
    context: TransactionContext,
    arguments: interchain_pb2.PacketsReceiveArguments,
    commitment: Callable[[], bytes],
) -> None:
    """RequestError unless the sending chain committed ``arguments.packet``, as its receiver's
    client (``packet.destination_client``) sees it: a state proof of ``commitment()`` (a
    Causeway chain), or a receipt proof of the endpoint's PacketSent log of exactly this packet
    (an EVM chain)."""
    packet = arguments.packet
    inner = _enter(context)
    what = f"packet {packet.source_client}/{packet.sequence}"
    client = _evm_client(inner, packet.destination_client, arguments.HasField("evm_proof"), what)
    if client is None:
        verify_state(
            context,
            packet.destination_client,
            arguments.proof_height,
            commitment_path(packet.source_client, packet.sequence),
            commitment(),
            arguments.proof,
        )
        return
    log = _evm_log(inner, client, arguments.evm_proof, evm.PACKET_SENT_TOPIC, "PacketSent")
    encoded = evm.encode_packet(packet)
    _charge_keccak(inner, 2 * len(encoded))
    if log.topics[1:] != (evm.packet_hash(packet),) or log.data != evm.packet_sent_data(packet):
        raise failure(
            _INVALID,
            f"the PacketSent log proven at height {arguments.evm_proof.height} is of another "
            f"packet than {what}",
        )


def verify_acknowledgement_written(
    context: TransactionContext,
    arguments: interchain_pb2.PacketsAcknowledgeArguments,
    commitment: Callable[[], bytes],
) -> None:
    """RequestError unless the receiving chain wrote ``arguments.acknowledgement`` for
    ``arguments.packet``, as the sender's client (``packet.source_client``) sees it: a state
    proof of ``commitment()``, or a receipt proof of the endpoint's AcknowledgementWritten log
    of this packet whose ACK_ABI decodes to exactly this acknowledgement."""
    packet = arguments.packet
    inner = _enter(context)
    what = f"the acknowledgement of packet {packet.source_client}/{packet.sequence}"
    client = _evm_client(inner, packet.source_client, arguments.HasField("evm_proof"), what)
    if client is None:
        verify_state(
            context,
            packet.source_client,
            arguments.proof_height,
            acknowledgement_path(packet.destination_client, packet.sequence),
            commitment(),
            arguments.proof,
        )
        return
    log = _evm_log(
        inner,
        client,
        arguments.evm_proof,
        evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC,
        "AcknowledgementWritten",
    )
    encoded = evm.encode_packet(packet)
    _charge_keccak(inner, len(encoded) + len(log.data))
    try:
        proven_packet, proven_acknowledgement = evm.decode_acknowledgement_written(log.data)
        acknowledgement = evm.decode_acknowledgement(proven_acknowledgement)
    except DecodeError as error:
        raise failure(_INVALID, f"{what}: {error.message}") from None
    if log.topics[1:] != (evm.packet_hash(packet),) or proven_packet != encoded:
        raise failure(
            _INVALID,
            f"the AcknowledgementWritten log proven at height {arguments.evm_proof.height} is of "
            f"another packet than {packet.source_client}/{packet.sequence}",
        )
    if acknowledgement != arguments.acknowledgement:
        raise failure(
            _INVALID,
            f"{what} proven at height {arguments.evm_proof.height} is not the one delivered",
        )


def verify_not_received(
    context: TransactionContext, arguments: interchain_pb2.PacketsTimeoutArguments
) -> interchain_pb2.ConsensusState:
    """The consensus state at which the receiving chain is proven not to hold ``arguments.packet``
    (the caller compares its time with the packet's timeout): a state proof of the absent
    receipt (a Causeway chain), or eth_getProof proofs of the endpoint's
    ``received[packetHash]`` empty (an EVM chain). RequestError otherwise."""
    packet = arguments.packet
    inner = _enter(context)
    what = f"the timeout of packet {packet.source_client}/{packet.sequence}"
    client = _evm_client(inner, packet.source_client, arguments.HasField("evm_proof"), what)
    if client is None:
        return verify_state(
            context,
            packet.source_client,
            arguments.proof_height,
            receipt_path(packet.destination_client, packet.sequence),
            None,
            arguments.proof,
        )
    proof = arguments.evm_proof
    state = _evm_state(inner, client, proof.height)
    encoded = evm.encode_packet(packet)
    _charge_keccak(
        inner,
        len(encoded)
        + 3 * HASH_BYTES
        + evm.proof_bytes(proof.account_nodes)
        + evm.proof_bytes(proof.storage_nodes),
    )
    try:
        evm.verify_storage_absent(
            state.state_root,
            client.evm.endpoint_address,
            evm.received_slot(evm.packet_hash(packet)),
            proof.account_nodes,
            proof.storage_nodes,
        )
    except ProofError as error:
        raise failure(
            _INVALID,
            f"{what}: the proof that the endpoint never received it at height {proof.height} "
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
            f"{', '.join(sorted(CONSENSUS_KINDS - {EVM_CONSENSUS}))} (or {EVM_CONSENSUS} for an "
            "EVM chain)",
        )
    if arguments.consensus == EVM_CONSENSUS:
        _check_create_evm(arguments)
    elif arguments.HasField("evm") or arguments.evm_header:
        raise failure(
            _INVALID,
            f"a committee and an EVM header are for consensus {EVM_CONSENSUS!r} only, not "
            f"{arguments.consensus!r}",
        )
    elif arguments.crypto_profile not in CRYPTO_PROFILES:
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
    if arguments.consensus != EVM_CONSENSUS and not arguments.HasField("header"):
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
    if client.consensus == EVM_CONSENSUS:
        client.evm.CopyFrom(request.evm)
        state = _evm_consensus_state(context, client, request.evm_header, "the first header")
    else:
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
    _refuse_evm(client, "shown Causeway headers (conflicting attestations freeze it)")
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
    _refuse_evm(client, "recovered: its committee is fixed at creation; create a new client")
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


def verify(context: TransactionContext, arguments: bytes) -> bytes:
    """clients.verify_state for other contracts: a user contract (read-only methods of native
    contracts are what ``call`` may reach) checks that a key of another chain's state holds a
    value, or is absent, at a height this chain's client has verified, and gets the consensus
    state it was checked against (the header's time says how fresh it is). Which client to
    trust is the calling contract's choice, recorded in its own state; what the key holds is
    the proof's business, never the caller's word. Nothing is written."""
    request = decode_arguments(context, interchain_pb2.ClientsVerifyStateArguments, arguments)
    _check_client_id(request.client_id)
    if len(request.key) > STATE_KEY_BYTES_MAX:
        raise failure(
            _INVALID,
            f"the key is {len(request.key)} bytes, above the limit of {STATE_KEY_BYTES_MAX}",
        )
    if len(request.value) > VERIFY_STATE_VALUE_BYTES_MAX:
        raise failure(
            _INVALID,
            f"the value is {len(request.value)} bytes, above the limit of "
            f"{VERIFY_STATE_VALUE_BYTES_MAX}",
        )
    if request.absent and request.value:
        raise failure(_INVALID, "a proof of absence names no value")
    if not request.absent and not request.value:
        # An empty value is never stored: "absent" must be said, not implied by a default.
        raise failure(_INVALID, "the value is empty: set absent to prove that the key is absent")
    state = verify_state(
        context,
        request.client_id,
        request.height,
        request.key,
        None if request.absent else request.value,
        request.proof,
    )
    return encode(interchain_pb2.ClientsVerifyStateResult(consensus_state=state))


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
    "attest": Method(attest),
    "submit_misbehaviour": Method(submit_misbehaviour),
    "recover": Method(recover, arguments=interchain_pb2.ClientsRecoverArguments),
    "register_counterparty": Method(
        register_counterparty, arguments=interchain_pb2.ClientsRegisterCounterpartyArguments
    ),
    "get": Method(get, read_only=True),
    "consensus_state": Method(get_consensus_state, read_only=True),
    "verify_state": Method(verify, read_only=True),
    "list": Method(list_clients, read_only=True),
}

# The contract as the executor runs it: its own namespace, no grants (it reads and writes nothing
# outside sys/clients/; its writes are no shared system record, so none is a "system" method).
CLIENTS = Contract(name=CONTRACT, methods=METHODS, namespace=CLIENTS_NAMESPACE)
