"""The deterministic executor: runs a block's transactions over the state and reports results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import CryptoProfile, PublicKey, get_profile, load_public_key
from causeway.errors import ConfigurationError, CryptoError, InvariantError, RequestError
from causeway.execution.context import (
    CONSENSUS_SENDER_METHODS,
    ConfigView,
    MemberView,
    Meter,
    TransactionContext,
    TransactionLocks,
    failure,
    status_of,
)
from causeway.execution.contracts import CONTRACTS, Contract
from causeway.execution.contracts.config import validate_config
from causeway.execution.contracts.membership import ORGANISATIONS_MAX
from causeway.execution.costs import (
    GAS_PER_TRANSACTION_BYTE,
    GAS_TRANSACTION_BASE,
    signature_verification_gas,
)
from causeway.execution.keys import (
    ATOMIC_LOCK_COUNT_KEY,
    CONFIG_KEY,
    ORGANISATION_PREFIX,
    USER_CONTRACTS_PREFIX,
    VALIDATOR_SCHEDULE_KEY,
    admin_count_key,
    check_layout,
    code_record_key,
    member_key,
    organisation_key,
)
from causeway.execution.overlay import MISSING, BlockOverlay, StateReader
from causeway.execution.schedule import decode_schedule, entry_at
from causeway.execution.user_contracts import user_contract
from causeway.identity import is_valid_identifier, split_member_id, validate_roles
from causeway.types import (
    DOMAIN_ENDORSEMENT,
    TRANSACTION_VERSION,
    DecodedTransaction,
    decode,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

GENESIS_VERSION = 1

_OK = types_pb2.RESULT_STATUS_OK
_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_DENIED = types_pb2.RESULT_STATUS_PERMISSION_DENIED
_TransactionResult = types_pb2.TransactionResult


@dataclass
class BlockExecution:
    """What a block did: one result per transaction, in order, and the net state changes
    (None deletes). Failed transactions contribute nothing to `changes`."""

    results: list[types_pb2.TransactionResult]
    changes: dict[bytes, bytes | None] = field(default_factory=dict)


def validate_genesis(genesis: types_pb2.Genesis) -> CryptoProfile:
    """Raises ConfigurationError unless the genesis describes a chain that can run and be governed.

    Returns the genesis's crypto profile. Certificates are not checked here: they were issued for
    this genesis by the same operators, and are checked whenever membership changes later.
    """
    if genesis.version != GENESIS_VERSION:
        raise ConfigurationError(
            f"genesis version {genesis.version} is not the supported version {GENESIS_VERSION}"
        )
    if not genesis.chain_id:
        raise ConfigurationError("genesis has no chain id")
    profile = get_profile(genesis.crypto_profile)
    organisation_ids: list[str] = []
    for organisation in genesis.organisations:
        if not is_valid_identifier(organisation.id):
            raise ConfigurationError(f"genesis organisation id {organisation.id!r} is not valid")
        if organisation.id in organisation_ids:
            raise ConfigurationError(f"genesis lists organisation {organisation.id!r} twice")
        if organisation.ca_algorithm not in profile.algorithms:
            raise ConfigurationError(
                f"organisation {organisation.id} CA algorithm {organisation.ca_algorithm!r} "
                f"is not allowed by the {profile.name} profile"
            )
        organisation_ids.append(organisation.id)
    if not organisation_ids:
        raise ConfigurationError("genesis has no organisation")
    if len(organisation_ids) > ORGANISATIONS_MAX:
        raise ConfigurationError(f"genesis has more than {ORGANISATIONS_MAX} organisations")
    validate_config(genesis.config, organisation_ids)
    member_ids: set[str] = set()
    for member in genesis.members:
        organisation_id, name = split_member_id(member.id)
        if member.organisation != organisation_id or member.name != name:
            raise ConfigurationError(
                f"genesis member {member.id!r} does not match its organisation and name fields"
            )
        if organisation_id not in organisation_ids:
            raise ConfigurationError(f"genesis member {member.id} names an unknown organisation")
        if member.id in member_ids:
            raise ConfigurationError(f"genesis lists member {member.id!r} twice")
        member_ids.add(member.id)
        try:
            validate_roles(list(member.roles))
        except ConfigurationError as error:
            raise ConfigurationError(f"genesis member {member.id}: {error.message}") from None
        if member.algorithm not in profile.algorithms:
            raise ConfigurationError(
                f"genesis member {member.id} algorithm {member.algorithm!r} is not allowed by "
                f"the {profile.name} profile"
            )
        try:
            load_public_key(member.algorithm, member.public_key)
        except CryptoError as error:
            raise ConfigurationError(
                f"genesis member {member.id} public key: {error.message}"
            ) from None
    return profile


def genesis_state(genesis: types_pb2.Genesis) -> dict[bytes, bytes]:
    """The state at version 0: configuration, organisations, members, admin counts and the
    validator schedule."""
    validate_genesis(genesis)
    state: dict[bytes, bytes] = {CONFIG_KEY: encode(genesis.config)}
    # The genesis validators exactly as given: nodes hash encode(genesis.validators) for height 1.
    schedule = contracts_pb2.ValidatorSchedule()
    schedule.entries.add(from_height=1).validators.CopyFrom(genesis.validators)
    state[VALIDATOR_SCHEDULE_KEY] = encode(schedule)
    admin_counts: dict[str, int] = {}
    for organisation in genesis.organisations:
        state[organisation_key(organisation.id)] = encode(organisation)
    for member in genesis.members:
        state[member_key(member.id)] = encode(member)
        if types_pb2.ROLE_ADMIN in member.roles:
            admin_counts[member.organisation] = admin_counts.get(member.organisation, 0) + 1
    for organisation_id, count in admin_counts.items():
        state[admin_count_key(organisation_id)] = count.to_bytes(8, "big")
    return state


def _load_member(reader: StateReader | BlockOverlay, member_id: str) -> types_pb2.Member | None:
    stored = reader.get(member_key(member_id))
    if stored is None:
        return None
    return types_pb2.Member.FromString(stored)


def _load_config(reader: StateReader | BlockOverlay) -> types_pb2.ChainConfig:
    stored = reader.get(CONFIG_KEY)
    if stored is None:
        raise InvariantError("the chain configuration is missing from state")
    return types_pb2.ChainConfig.FromString(stored)


class _BlockRun:
    """One block's execution: the overlay and what it caches of the system state.

    The caches (members, organisations, configuration) hold as long as no system method commits;
    after one does they are dropped, so later transactions see the change.
    """

    __slots__ = (
        "_config",
        "_contracts",
        "_locks",
        "_locks_possible",
        "_members",
        "_organisations",
        "_public_keys",
        "_user_contracts",
        "block_gas_used",
        "chain_id",
        "consensus",
        "endorsement_gas",
        "height",
        "overlay",
        "profile",
        "read_only",
        "seen_ids",
        "time_ms",
    )

    def __init__(
        self,
        chain_id: str,
        profile: CryptoProfile,
        overlay: BlockOverlay,
        height: int,
        time_ms: int,
        *,
        consensus: str,
        read_only: bool,
        contracts: Mapping[str, Contract],
    ) -> None:
        self.chain_id = chain_id
        self._contracts = contracts
        self.profile = profile
        self.consensus = consensus
        self.overlay = overlay
        self.height = height
        self.time_ms = time_ms
        self.read_only = read_only
        self.seen_ids: set[bytes] = set()
        # Gas charged so far for the current transaction's endorsements.
        self.endorsement_gas = 0
        # Gas the block's transactions have used so far (bounded by block_gas_max).
        self.block_gas_used = 0
        self._config: ConfigView | None = None
        self._members: dict[str, MemberView | None] = {}
        self._organisations: tuple[str, ...] | None = None
        self._public_keys: dict[str, PublicKey] = {}
        # A user contract by name: built, refused (frozen or revoked), or None when absent.
        self._user_contracts: dict[str, Contract | RequestError | None] = {}
        # Whether the chain holds an atomic lock (atomic/lock_count present): read once, then
        # again only after a transaction wrote the count, so that a chain without locks pays
        # one read per block for the lock hook, not one per transaction or per write.
        self._locks_possible: bool | None = None
        self._locks = TransactionLocks()

    def transaction_locks(self) -> TransactionLocks:
        """The lock state for the next transaction (the block's one object, reset)."""
        possible = self._locks_possible
        if possible is None:
            possible = self._locks_possible = self.overlay.get(ATOMIC_LOCK_COUNT_KEY) is not None
        locks = self._locks
        locks.possible = possible
        locks.holder = None
        return locks

    def _drop_caches(self) -> None:
        self._config = None
        self._members = {}
        self._organisations = None
        self._public_keys = {}
        self._user_contracts = {}

    def resolve(self, name: str) -> Contract | None:
        """The contract of this name: native, or a user contract from state (RequestError
        CONTRACT_FROZEN or CONTRACT_REVOKED when it is not active). A user contract is read
        and built once per block until a system method commits (the code contract's are)."""
        contract = self._contracts.get(name)
        if contract is not None:
            return contract
        cached = self._user_contracts.get(name, MISSING)
        if cached is MISSING:
            stored = self.overlay.get(code_record_key(name))
            if stored is None:
                cached = None
            else:
                record = decode(contracts_pb2.ContractRecord, stored, bytes_max=len(stored))
                try:
                    cached = user_contract(record, read_only=self.read_only)
                except RequestError as error:
                    # Frozen or revoked: refused the same way each time it is named.
                    cached = error
            self._user_contracts[name] = cached
        if isinstance(cached, RequestError):
            # A new error each time: one raised again would gather every traceback.
            raise RequestError(cached.message, reason=cached.reason)
        return cached  # type: ignore[return-value]

    def config(self) -> ConfigView:
        view = self._config
        if view is None:
            config = _load_config(self.overlay)
            view = self._config = ConfigView(
                config=config,
                transaction_bytes_max=config.transaction_bytes_max,
                transaction_expiry_max_ms=config.transaction_expiry_max_ms,
                endorsements_max=config.endorsements_max,
                transaction_gas_max=config.transaction_gas_max,
                block_gas_max=config.block_gas_max,
            )
        return view

    def member(self, member_id: str) -> MemberView | None:
        view = self._members.get(member_id, MISSING)
        if view is MISSING:
            member = _load_member(self.overlay, member_id)
            view = self._members[member_id] = None if member is None else MemberView(member)
        return view  # type: ignore[return-value]

    def organisations(self) -> tuple[str, ...]:
        organisations = self._organisations
        if organisations is None:
            entries = self.overlay.range(ORGANISATION_PREFIX, b"", ORGANISATIONS_MAX + 1, {})
            start = len(ORGANISATION_PREFIX)
            organisations = self._organisations = tuple(key[start:].decode() for key, _ in entries)
        return organisations

    def public_key(self, member: MemberView) -> PublicKey:
        key = self._public_keys.get(member.id)
        if key is None:
            record = member.member
            try:
                key = load_public_key(record.algorithm, record.public_key)
            except CryptoError as error:
                raise failure(
                    _INVALID, f"public key of {member.id} cannot be loaded: {error.message}"
                ) from None
            self._public_keys[member.id] = key
        return key

    def signing_organisations(
        self,
        transaction: DecodedTransaction,
        sender: MemberView,
        config: ConfigView,
        intrinsic_gas: int,
    ) -> frozenset[str]:
        """The organisations this transaction speaks for: the sender's if it is an admin, and each
        endorser's, once every endorsement is checked (admin member, valid signature).

        Each verification is charged to `endorsement_gas` before it is made, by the endorser's
        algorithm (a forged signature pays too), and none is made that the transaction cannot
        pay for."""
        endorsements = transaction.transaction.endorsements
        if len(endorsements) > config.endorsements_max:
            raise failure(
                _INVALID,
                f"{len(endorsements)} endorsements, above the limit of {config.endorsements_max}",
            )
        organisations = set(sender.admin_organisations)
        document = sign_bytes(DOMAIN_ENDORSEMENT, self.chain_id, transaction.transaction.body)
        endorsers: set[str] = set()
        for index, endorsement in enumerate(endorsements):
            endorser_id = endorsement.endorser
            where = f"endorsement {index} by {endorser_id!r}"
            if endorser_id in endorsers:
                raise failure(_INVALID, f"{where}: the endorser signed more than once")
            endorsers.add(endorser_id)
            endorser = self.member(endorser_id)
            if endorser is None:
                raise failure(_DENIED, f"{where}: not a member of the chain")
            if not endorser.is_admin:
                raise failure(_DENIED, f"{where}: the endorser is not an ADMIN")
            self.endorsement_gas += signature_verification_gas(
                endorser.member.algorithm, len(document), self.profile.name
            )
            needed = intrinsic_gas + self.endorsement_gas
            if needed > config.transaction_gas_max:
                raise failure(
                    types_pb2.RESULT_STATUS_OUT_OF_GAS,
                    f"{where}: checking it takes the transaction to {needed} gas, above the limit "
                    f"of {config.transaction_gas_max}",
                )
            signature = endorsement.signature
            if not signature or not self.public_key(endorser).verify(document, signature):
                raise failure(_INVALID, f"{where}: the signature does not verify")
            organisations.add(endorser.organisation)
        return frozenset(organisations)

    def execute(self, transaction: DecodedTransaction) -> types_pb2.TransactionResult:
        """Runs one transaction of the block; once the block's transactions have used
        block_gas_max (ChainConfig; 0 is no bound), those after fail without running, so that
        the work of validating a block is bounded whatever contracts its transactions call."""
        block_gas_max = self.config().block_gas_max
        if block_gas_max and self.block_gas_used >= block_gas_max:
            return _TransactionResult(
                transaction_id=transaction.id,
                status=types_pb2.RESULT_STATUS_OUT_OF_GAS,
                error=(
                    f"the block has used its gas ({self.block_gas_used} of {block_gas_max}): "
                    "send the transaction again for a later block"
                ),
            )
        result = self._execute_one(transaction)
        self.block_gas_used += result.cost.gas_used
        return result

    def _execute_one(self, transaction: DecodedTransaction) -> types_pb2.TransactionResult:
        body = transaction.body
        size = len(transaction.encoded)
        endorsement_count = len(transaction.transaction.endorsements)
        intrinsic_gas = GAS_TRANSACTION_BASE + GAS_PER_TRANSACTION_BYTE * size
        self.endorsement_gas = 0
        context: TransactionContext | None = None
        try:
            if transaction.id in self.seen_ids:
                raise failure(
                    types_pb2.RESULT_STATUS_CONFLICT, "the transaction is already in this block"
                )
            self.seen_ids.add(transaction.id)
            config = self.config()
            if body.version != TRANSACTION_VERSION:
                raise failure(_INVALID, f"transaction version {body.version} is not supported")
            if body.chain_id != self.chain_id:
                raise failure(
                    _INVALID, f"transaction is for chain {body.chain_id!r}, not {self.chain_id!r}"
                )
            if size > config.transaction_bytes_max:
                raise failure(
                    _INVALID,
                    f"transaction is {size} bytes, above the limit of "
                    f"{config.transaction_bytes_max}",
                )
            expiry_ms = body.expiry_ms
            if expiry_ms < self.time_ms:
                raise failure(
                    _INVALID,
                    f"transaction expired at {expiry_ms} ms, before the block time "
                    f"{self.time_ms} ms",
                )
            if expiry_ms - self.time_ms > config.transaction_expiry_max_ms:
                raise failure(
                    _INVALID,
                    f"transaction expiry {expiry_ms} ms is more than "
                    f"{config.transaction_expiry_max_ms} ms after the block time",
                )
            sender = self.member(body.sender)
            if sender is None:
                raise failure(_DENIED, f"sender {body.sender!r} is not a member of the chain")
            # Queries only read: any current member may make them, light clients included.
            # The rule is context.may_send, also admission's; MemberView answers it faster.
            if (
                not sender.may_send
                and not self.read_only
                and not (
                    sender.is_consensus and (body.contract, body.method) in CONSENSUS_SENDER_METHODS
                )
            ):
                message = f"sender {body.sender} has neither the CLIENT nor ADMIN role"
                if sender.is_consensus:
                    message += "; a CONSENSUS member may only send evidence.submit"
                raise failure(_DENIED, message)
            contract = self.resolve(body.contract)
            if contract is None:
                raise failure(
                    types_pb2.RESULT_STATUS_UNKNOWN_CONTRACT,
                    f"there is no contract {body.contract!r}",
                )
            method = contract.methods.get(body.method)
            if method is None:
                raise failure(
                    types_pb2.RESULT_STATUS_UNKNOWN_METHOD,
                    f"contract {body.contract} has no method {body.method!r}",
                )
            if self.read_only and not method.read_only:
                raise failure(
                    _INVALID,
                    f"{body.contract}.{body.method} changes state: submit it as a transaction, "
                    "it cannot run as a query",
                )
            if intrinsic_gas > config.transaction_gas_max:
                raise failure(
                    types_pb2.RESULT_STATUS_OUT_OF_GAS,
                    f"the transaction needs {intrinsic_gas} gas before it runs, above the limit "
                    f"of {config.transaction_gas_max}",
                )
            signing_organisations = (
                self.signing_organisations(transaction, sender, config, intrinsic_gas)
                if endorsement_count
                else sender.admin_organisations
            )
            context = TransactionContext(
                self.overlay,
                contract=contract.name,
                namespace=contract.namespace,
                grants=contract.grants,
                chain_id=self.chain_id,
                profile=self.profile,
                consensus=self.consensus,
                config=config,
                organisations=self.organisations,
                sender=sender,
                signing_organisations=signing_organisations,
                height=self.height,
                time_ms=self.time_ms,
                locks=self.transaction_locks(),
            )
            context.transaction_id = transaction.id
            context.gas_before_running = intrinsic_gas + self.endorsement_gas
            context.resolve_contract = self.resolve
            return_value = method.handler(context, body.arguments)
            meter = context.meter
            gas_used = context.gas_used()
            if gas_used > config.transaction_gas_max:
                raise failure(
                    types_pb2.RESULT_STATUS_OUT_OF_GAS,
                    f"the transaction used {gas_used} gas, above the limit of "
                    f"{config.transaction_gas_max}",
                )
        except RequestError as error:
            return _failed_result(
                transaction.id,
                status_of(error),
                error.message,
                intrinsic_gas + self.endorsement_gas,
                context,
            )
        if context.writes:
            self.overlay.apply(context.writes)
            if method.system:
                self._drop_caches()
            if ATOMIC_LOCK_COUNT_KEY in context.writes:
                self._locks_possible = None
        result = _TransactionResult()
        result.transaction_id = transaction.id
        result.status = _OK
        if return_value:
            result.return_value = return_value
        _set_cost(result.cost, gas_used, meter)
        if context.events:
            events = result.events
            for event_contract, name, attributes, data in context.events:
                event = events.add()
                event.contract = event_contract
                event.name = name
                event_attributes = event.attributes
                for key, value in attributes:
                    attribute = event_attributes.add()
                    attribute.key = key
                    attribute.value = value
                if data:
                    event.data = data
        return result


def _set_cost(cost: types_pb2.Cost, gas_used: int, meter: Meter | None) -> None:
    # Fields are set one by one (zeros skipped): much cheaper than keyword construction.
    cost.gas_used = gas_used
    if meter is None:
        return
    if meter.read_count:
        cost.reads = meter.read_count
        cost.bytes_read = meter.bytes_read
    if meter.write_count:
        cost.writes = meter.write_count
        cost.bytes_written = meter.bytes_written


def _failed_result(
    transaction_id: bytes,
    status: types_pb2.ResultStatus.ValueType,
    message: str,
    gas_before_running: int,
    context: TransactionContext | None,
) -> types_pb2.TransactionResult:
    # A failed transaction still reports what it cost; its writes and events are dropped.
    result = _TransactionResult(transaction_id=transaction_id, status=status, error=message)
    if context is None:
        _set_cost(result.cost, gas_before_running, None)
    else:
        _set_cost(result.cost, context.gas_used(), context.meter)
    return result


class Executor:
    """Runs transactions deterministically: same state, transactions, height and time give the
    same results and changes, byte for byte. No clock, no I/O, no randomness."""

    def __init__(
        self,
        genesis: types_pb2.Genesis,
        profile: CryptoProfile,
        contracts: Mapping[str, Contract] = CONTRACTS,
    ) -> None:
        """`contracts`: every contract the chain runs, by name (the native ones of
        causeway.execution.contracts by default; the node adds the interchain contracts). Their
        namespaces and grants are checked (keys.check_layout): none may reach another's state.
        Every validator of a chain must run the same set."""
        if genesis.crypto_profile != profile.name:
            raise ConfigurationError(
                f"genesis uses the {genesis.crypto_profile!r} profile, not {profile.name!r}"
            )
        validate_genesis(genesis)
        self._chain_id = genesis.chain_id
        self._profile = profile
        self._consensus = genesis.consensus
        for name, contract in contracts.items():
            if name != contract.name:
                raise ConfigurationError(f"contract {contract.name!r} is registered as {name!r}")
        check_layout(
            # No native namespace may reach into the user contracts' (wasm/<name>/).
            {name: contract.namespace for name, contract in contracts.items()}
            | {"<user contracts>": USER_CONTRACTS_PREFIX},
            {name: contract.grants for name, contract in contracts.items()},
        )
        self._contracts = contracts

    @property
    def contracts(self) -> Mapping[str, Contract]:
        return self._contracts

    @property
    def chain_id(self) -> str:
        return self._chain_id

    def execute_block(
        self,
        reader: StateReader,
        transactions: Sequence[DecodedTransaction],
        height: int,
        time_ms: int,
    ) -> BlockExecution:
        """Executes the transactions in order; each sees the writes of those before it.

        Sender signatures were checked at admission; here membership, roles, endorsements and
        policies are checked against the state as the block finds it.
        """
        run = _BlockRun(
            self._chain_id,
            self._profile,
            BlockOverlay(reader),
            height,
            time_ms,
            consensus=self._consensus,
            read_only=False,
            contracts=self._contracts,
        )
        execute = run.execute
        results = [execute(transaction) for transaction in transactions]
        return BlockExecution(results=results, changes=run.overlay.changes)

    def query(
        self,
        reader: StateReader,
        transaction: DecodedTransaction,
        time_ms: int,
        *,
        height: int = 0,
    ) -> types_pb2.TransactionResult:
        """Runs a read-only method (kv get/range, ledger balance, config get, membership
        get_member, validators get, evidence list) with the same checks as a transaction;
        mutating methods are refused.

        `height` is the next height (the committed height + 1): validators.get with height 0
        answers for it, and refuses when it is 0 (unknown)."""
        run = _BlockRun(
            self._chain_id,
            self._profile,
            BlockOverlay(reader),
            height,
            time_ms,
            consensus=self._consensus,
            read_only=True,
            contracts=self._contracts,
        )
        return run.execute(transaction)

    def validator_set_at(
        self, reader: StateReader, height: int
    ) -> tuple[int, types_pb2.ValidatorSet]:
        """(from_height, set) of the validator set in effect at `height`, from the schedule in
        state: one read and one decode. A node that committed height h - 1 knows the sets of h and
        h + 1 (a change committed in block H takes effect at H + VALIDATOR_CHANGE_DELAY_HEIGHTS).
        HeightUnavailableError when `height` is below every set the schedule keeps."""
        entry = entry_at(decode_schedule(reader.get(VALIDATOR_SCHEDULE_KEY)), height)
        return entry.from_height, entry.validators

    def get_member(self, reader: StateReader, member_id: str) -> types_pb2.Member | None:
        return _load_member(reader, member_id)

    def get_config(self, reader: StateReader) -> types_pb2.ChainConfig:
        return _load_config(reader)


def get_member(reader: StateReader, member_id: str) -> types_pb2.Member | None:
    """The member's record in state, or None when it is unknown or was removed."""
    return _load_member(reader, member_id)


def get_config(reader: StateReader) -> types_pb2.ChainConfig:
    return _load_config(reader)
