"""A real chain in process, the multi-chain simulator's chain (and the interchain tests'):
genesis, members and validators with real keys and certificates, blocks executed by the real
executor (with the interchain contracts), a real state tree for every height, headers with real
roots and certificates signed by the validators. What a relayer reads from a node (headers,
certificates, validator sets, state proofs at a height) comes from here exactly as a node would
serve it.

    chain = InterchainChain("chain-a", "intl", consensus="tbft", validators=4)
    result = chain.run("org1/alice", "bank", "send", arguments)
    chain.client_header(height, trusted_height=...)   # what clients.update takes
    chain.prove(key, height)                          # a state proof at a height

Organisations org1..orgN (N = ``organisations``), each with an admin (ADMIN, CLIENT); org1/alice,
org2/bob and org1/relayer (CLIENT); validators orgK/node<i> spread over the organisations in turn
(CONSENSUS). Governance (MAJORITY of the organisations) is ``chain.governance(...)``: sent by
org1/admin and endorsed by the other admins.

``consensus`` is "tbft", "raft" or "solo", as a genesis names it. A solo chain has exactly one
validator (org1/node1, voting power 1, as ``causeway init --consensus solo`` makes it), the
proposer of every block; its certificate of a block is the one a solo node's core makes
(``causeway.consensus.solo.SoloCore.block_built``): round 0, that validator's signature alone.
A real solo node never commits a block without transactions; this class commits what it is told
(the simulator keeps a solo chain's pace: ``causeway.sim.interchain``).

For the simulator (``causeway.sim.interchain``) a chain also has a mempool: ``submit`` queues a
signed transaction and ``produce_block`` includes everything queued in the next block, dated by
the caller (the simulator's clock plus the chain's skew). ``halted`` is the simulator's to set:
a halted chain produces no block and its nodes answer no relayer. Consensus itself is not
simulated here (``causeway.sim.Simulation`` does that): every block is final once produced.
The interchain tests use the same class synchronously (``run``, ``governance``, ``advance``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from causeway.crypto import (
    PrivateKey,
    get_profile,
    issue_ca_certificate,
    issue_member_certificate,
)
from causeway.errors import RequestError
from causeway.execution import CONTRACTS, Contract, Executor, genesis_state
from causeway.interchain.v1 import interchain_pb2
from causeway.light import commit_sign_bytes, validator_set_hash
from causeway.state import StateTree, TreeUpdate
from causeway.types import (
    BLOCK_VERSION,
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    block_hash,
    decode_transaction,
    encode,
    genesis_hash,
    merkle_root,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

GENESIS_TIME_MS = 1_800_000_000_000
BLOCK_INTERVAL_MS = 1_000
CERTIFICATE_VALID_DAYS = 3650
ADMIN = types_pb2.ROLE_ADMIN
CLIENT = types_pb2.ROLE_CLIENT
CONSENSUS = types_pb2.ROLE_CONSENSUS
CONSENSUS_KINDS = ("tbft", "raft", "solo")


@dataclass
class Identity:
    member_id: str
    key: PrivateKey
    member: types_pb2.Member


# Genesis keys by (chain id, profile, organisations, validators), for ``reuse_keys``.
_KEYS: dict[
    tuple[str, str, int, int],
    tuple[dict[str, PrivateKey], list[types_pb2.Organisation], dict[str, Identity]],
] = {}


class _Nodes:
    """The state tree's node store: every version is kept (tests prove at old heights)."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get_state_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)

    def write(self, update: TreeUpdate) -> None:
        self.nodes.update(update.new_nodes)


class _Reader:
    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(key for key in self.state if key.startswith(prefix) and key > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]


def _config() -> types_pb2.ChainConfig:
    return types_pb2.ChainConfig(
        block_transactions_max=10_000,
        block_bytes_max=8 * 1024 * 1024,
        transaction_bytes_max=1024 * 1024,
        transaction_expiry_max_ms=3_600_000,
        endorsements_max=8,
        state_history_heights=100,
        governance_policy=types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_MAJORITY),
        ledger_issue_policy=types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ANY),
        transaction_gas_max=100_000_000,
    )


class Clock:
    """A clock several chains share, so that their block times agree as real chains' do: each
    block anywhere moves it on by ``step_ms``."""

    def __init__(self, now_ms: int = GENESIS_TIME_MS, step_ms: int = BLOCK_INTERVAL_MS) -> None:
        self.now_ms = now_ms
        self.step_ms = step_ms

    def tick(self) -> int:
        self.now_ms += self.step_ms
        return self.now_ms


@dataclass
class Committed:
    """One committed block of an InterchainChain."""

    header: types_pb2.BlockHeader
    block_hash: bytes
    results: list[types_pb2.TransactionResult]
    validator_set: types_pb2.ValidatorSet
    next_validator_set: types_pb2.ValidatorSet


@dataclass
class InterchainChain:
    """A chain driven block by block in process. See the module docstring."""

    chain_id: str
    profile_name: str = "intl"
    consensus: str = "tbft"
    validators: int = 4
    organisations: int = 4
    contracts: Mapping[str, Contract] = field(default_factory=lambda: dict(CONTRACTS))
    voting_powers: Sequence[int] | None = None
    # Shared with other chains: block times then follow one clock (else each chain's own).
    clock: Clock | None = None
    identities: dict[str, Identity] = field(default_factory=dict)
    blocks: dict[int, Committed] = field(default_factory=dict)
    height: int = 0
    time_ms: int = GENESIS_TIME_MS
    _nonce: int = 0
    # Every value each key held, by height: (height, value or None), oldest first.
    history: dict[bytes, list[tuple[int, bytes | None]]] = field(default_factory=dict)
    # Transactions submitted and not yet in a block (the simulator's mempool), oldest first.
    mempool: list[DecodedTransaction] = field(default_factory=list)
    # Set by the simulator: a halted chain produces no block and serves no relayer.
    halted: bool = False
    # The simulator's runs reuse the keys and certificates of an earlier chain of the same id,
    # profile and shape in this process (generating them is most of a chain's setup).
    reuse_keys: bool = False

    def __post_init__(self) -> None:
        if self.consensus not in CONSENSUS_KINDS:
            raise ValueError(
                f"consensus {self.consensus!r} is not one of {', '.join(CONSENSUS_KINDS)}"
            )
        if self.consensus == "solo" and self.validators != 1:
            # What a node refuses at startup, and provisioning before it.
            raise ValueError(f"solo consensus has exactly one validator, not {self.validators}")
        self.profile = get_profile(self.profile_name)
        self._ca_keys: dict[str, PrivateKey] = {}
        cache_key = (self.chain_id, self.profile_name, self.organisations, self.validators)
        cached = _KEYS.get(cache_key) if self.reuse_keys else None
        if cached is not None:
            self._ca_keys = dict(cached[0])
            self.identities = dict(cached[2])
        organisations: list[types_pb2.Organisation] = [] if cached is None else list(cached[1])
        for number in range(1, self.organisations + 1 if cached is None else 1):
            organisation_id = f"org{number}"
            ca_key = PrivateKey.generate(self.profile.default_algorithm)
            self._ca_keys[organisation_id] = ca_key
            organisations.append(
                types_pb2.Organisation(
                    id=organisation_id,
                    ca_algorithm=ca_key.algorithm,
                    ca_public_key=ca_key.public_key().raw,
                    ca_certificate=issue_ca_certificate(
                        organisation_id, ca_key, CERTIFICATE_VALID_DAYS
                    ),
                )
            )
        self._organisations = {o.id: o for o in organisations}
        for number in range(1, self.organisations + 1):
            self._identity(f"org{number}/admin", (ADMIN, CLIENT))
        for member_id in ("org1/alice", "org2/bob", "org1/relayer"):
            self._identity(member_id, (CLIENT,))
        validator_records = []
        # Raft validators have power 1 by rule; a solo validator has what provisioning gives it.
        equal_power = 10 if self.consensus == "tbft" else 1
        powers = self.voting_powers or [equal_power] * self.validators
        self.validator_ids: list[str] = []
        for index in range(self.validators):
            organisation = f"org{index % self.organisations + 1}"
            identity = self._identity(f"{organisation}/node{index + 1}", (CONSENSUS,))
            self.validator_ids.append(identity.member_id)
            validator_records.append(
                types_pb2.Validator(
                    member_id=identity.member_id,
                    algorithm=identity.member.algorithm,
                    public_key=identity.member.public_key,
                    voting_power=powers[index],
                )
            )
        self.genesis = types_pb2.Genesis(
            version=1,
            chain_id=self.chain_id,
            genesis_time_ms=GENESIS_TIME_MS,
            crypto_profile=self.profile.name,
            consensus=self.consensus,
            config=_config(),
            organisations=organisations,
            members=[identity.member for identity in self.identities.values()],
            validators=types_pb2.ValidatorSet(validators=validator_records),
        )
        self.genesis_hash = genesis_hash(self.genesis, self.profile.hash)
        if self.reuse_keys and cached is None:
            _KEYS[cache_key] = (dict(self._ca_keys), organisations, dict(self.identities))
        self.executor = Executor(self.genesis, self.profile, self.contracts)
        self.state = genesis_state(self.genesis)
        self.genesis_state = dict(self.state)
        self._nodes = _Nodes()
        self.tree = StateTree(self.profile.hash, self._nodes)
        update = self.tree.apply(0, dict(self.state))
        self._nodes.write(update)
        self.tree.committed(update)
        self.previous_hash = bytes(32)
        # Certificates of all of a height's validators, signed once: relayers ask for them often.
        self._certificates: dict[int, types_pb2.CommitCertificate] = {}

    # -- members and transactions ------------------------------------------------------------

    def _identity(self, member_id: str, roles: Sequence[int]) -> Identity:
        """A genesis member: reused when ``reuse_keys`` found it, else new."""
        existing = self.identities.get(member_id)
        return existing if existing is not None else self.new_identity(member_id, roles)

    def new_identity(self, member_id: str, roles: Sequence[int]) -> Identity:
        """A member record with a fresh key and a certificate from its organisation's CA (add it
        to the chain through membership, or before genesis)."""
        organisation_id, name = member_id.split("/")
        key = PrivateKey.generate(self.profile.default_algorithm)
        organisation = self._organisations[organisation_id]
        certificate = issue_member_certificate(
            self.chain_id,
            organisation,
            self._ca_keys[organisation_id],
            organisation.ca_certificate,
            member_id,
            roles,
            key.public_key(),
            CERTIFICATE_VALID_DAYS,
            GENESIS_TIME_MS,
        )
        member = types_pb2.Member(
            id=member_id,
            organisation=organisation_id,
            name=name,
            roles=list(roles),  # type: ignore[arg-type]
            algorithm=key.algorithm,
            public_key=key.public_key().raw,
            certificate=certificate,
        )
        identity = Identity(member_id=member_id, key=key, member=member)
        self.identities[member_id] = identity
        return identity

    def transaction(
        self,
        sender: str,
        contract: str,
        method: str,
        arguments: Message | bytes = b"",
        *,
        endorsers: Sequence[str] = (),
    ) -> DecodedTransaction:
        self._nonce += 1
        signer = self.identities[sender]
        body = encode(
            types_pb2.TransactionBody(
                version=TRANSACTION_VERSION,
                chain_id=self.chain_id,
                nonce=self._nonce.to_bytes(8, "big"),
                timestamp_ms=self.time_ms,
                expiry_ms=self.time_ms + 3_000_000,
                contract=contract,
                method=method,
                arguments=arguments if isinstance(arguments, bytes) else encode(arguments),
                sender=sender,
            )
        )
        endorsements = [
            types_pb2.Endorsement(
                endorser=endorser,
                signature=self.identities[endorser].key.sign(
                    sign_bytes(DOMAIN_ENDORSEMENT, self.chain_id, body)
                ),
            )
            for endorser in endorsers
        ]
        transaction = types_pb2.Transaction(
            body=body,
            signature=signer.key.sign(sign_bytes(DOMAIN_TRANSACTION, self.chain_id, body)),
            endorsements=endorsements,
        )
        return decode_transaction(
            encode(transaction), hash_function=self.profile.hash, bytes_max=1 << 24
        )

    def governance_endorsers(self) -> list[str]:
        """Admins that, with org1/admin sending, make a majority of the organisations."""
        needed = self.organisations // 2 + 1
        return [f"org{number}/admin" for number in range(2, needed + 1)]

    # -- blocks --------------------------------------------------------------------------------

    def commit(
        self, transactions: Sequence[DecodedTransaction], *, time_ms: int | None = None
    ) -> Committed:
        """Executes the transactions as the next block (dated BLOCK_INTERVAL_MS after the last
        unless ``time_ms``), applies it, and records its header."""
        height = self.height + 1
        if time_ms is not None:
            self.time_ms = time_ms
        elif self.clock is not None:
            self.time_ms = self.clock.tick()
        else:
            self.time_ms += BLOCK_INTERVAL_MS
        reader = _Reader(self.state)
        validators = self.executor.validator_set_at(reader, height)[1]
        execution = self.executor.execute_block(reader, transactions, height, self.time_ms)
        for key, value in execution.changes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
            self.history.setdefault(key, []).append((height, value))
        update = self.tree.apply(height, execution.changes)
        self._nodes.write(update)
        self.tree.committed(update)
        next_validators = self.executor.validator_set_at(_Reader(self.state), height + 1)[1]
        ids = [transaction.id for transaction in transactions]
        header = types_pb2.BlockHeader(
            version=BLOCK_VERSION,
            chain_id=self.chain_id,
            height=height,
            previous_hash=self.previous_hash,
            time_ms=self.time_ms,
            proposer=self.validator_ids[0],
            transactions_root=merkle_root(ids, self.profile.hash),
            results_root=merkle_root(
                [encode(result) for result in execution.results], self.profile.hash
            ),
            state_root=update.root_hash,
            validator_set_hash=validator_set_hash(validators, self.profile),
            next_validator_set_hash=validator_set_hash(next_validators, self.profile),
            transaction_count=len(transactions),
            genesis_hash=self.genesis_hash,
        )
        own_hash = block_hash(header, self.profile.hash)
        self.previous_hash = own_hash
        self.height = height
        committed = Committed(
            header=header,
            block_hash=own_hash,
            results=list(execution.results),
            validator_set=validators,
            next_validator_set=next_validators,
        )
        self.blocks[height] = committed
        return committed

    def submit(self, transaction: DecodedTransaction) -> None:
        """Queues ``transaction`` for the next block (``produce_block``)."""
        self.mempool.append(transaction)

    def produce_block(self, time_ms: int) -> Committed:
        """The next block, with every queued transaction, dated ``time_ms`` (moved 1 ms past the
        last block's time if it is not later: block times grow with height)."""
        transactions, self.mempool = self.mempool, []
        return self.commit(transactions, time_ms=max(time_ms, self.time_ms + 1))

    def run(
        self,
        sender: str,
        contract: str,
        method: str,
        arguments: Message | bytes = b"",
        *,
        endorsers: Sequence[str] = (),
        time_ms: int | None = None,
    ) -> types_pb2.TransactionResult:
        """Signs, executes and commits one transaction as its own block; returns its result."""
        transaction = self.transaction(sender, contract, method, arguments, endorsers=endorsers)
        return self.commit([transaction], time_ms=time_ms).results[0]

    def governance(
        self, contract: str, method: str, arguments: Message | bytes = b""
    ) -> types_pb2.TransactionResult:
        return self.run(
            "org1/admin", contract, method, arguments, endorsers=self.governance_endorsers()
        )

    def query(
        self, contract: str, method: str, arguments: Message | bytes = b""
    ) -> types_pb2.TransactionResult:
        """A read-only call against the latest state, at the latest block time."""
        transaction = self.transaction("org1/alice", contract, method, arguments)
        return self.executor.query(
            _Reader(self.state), transaction, self.time_ms, height=self.height + 1
        )

    # -- what a node serves to relayers ---------------------------------------------------------

    def certificate(
        self, height: int, signers: Sequence[str] | None = None, *, round_number: int = 0
    ) -> types_pb2.CommitCertificate:
        """A commit certificate of the block at ``height``, signed by ``signers`` (validator
        member ids; all of the height's validators by default)."""
        if signers is None and round_number == 0 and height in self._certificates:
            # A copy: a caller may change what it gets (a test forging a signature).
            cached = types_pb2.CommitCertificate()
            cached.CopyFrom(self._certificates[height])
            return cached
        committed = self.blocks[height]
        chosen = (
            [v.member_id for v in committed.validator_set.validators]
            if signers is None
            else list(signers)
        )
        document = commit_sign_bytes(self.chain_id, height, round_number, committed.block_hash)
        certificate = types_pb2.CommitCertificate(
            height=height,
            round=round_number,
            block_hash=committed.block_hash,
            signatures=[
                types_pb2.CommitSignature(
                    validator=member_id,
                    signature=self.identities[member_id].key.sign(document),
                )
                for member_id in chosen
            ],
        )
        if signers is None and round_number == 0:
            self._certificates[height] = types_pb2.CommitCertificate()
            self._certificates[height].CopyFrom(certificate)
        return certificate

    def client_header(
        self,
        height: int | None = None,
        *,
        trusted_height: int = 0,
        signers: Sequence[str] | None = None,
    ) -> interchain_pb2.ClientHeader:
        """What clients.create / clients.update take for the block at ``height`` (the latest by
        default), checked against the consensus state stored for ``trusted_height``."""
        height = self.height if height is None else height
        committed = self.blocks[height]
        message = interchain_pb2.ClientHeader(
            header=committed.header,
            certificate=self.certificate(height, signers),
            validator_set=committed.validator_set,
            trusted_height=trusted_height,
        )
        if trusted_height:
            message.trusted_validator_set.CopyFrom(self.blocks[trusted_height].next_validator_set)
        return message

    def prove(self, key: bytes, height: int | None = None) -> types_pb2.StateProof:
        """Inclusion or exclusion proof of ``key`` (absolute) in the state after ``height``."""
        return self.tree.prove(key, self.height if height is None else height)

    def value_at(self, key: bytes, height: int) -> bytes | None:
        """The value ``key`` held after ``height``."""
        value = self.genesis_state.get(key)
        for changed_at, changed_to in self.history.get(key, ()):
            if changed_at > height:
                break
            value = changed_to
        return value

    def advance(self, blocks: int = 1, *, interval_ms: int = BLOCK_INTERVAL_MS) -> None:
        """Empty blocks: time moves on."""
        for _ in range(blocks):
            if self.clock is not None:
                self.clock.now_ms += interval_ms - self.clock.step_ms
                self.commit([])
            else:
                self.commit([], time_ms=self.time_ms + interval_ms)


def check_ok(result: types_pb2.TransactionResult) -> types_pb2.TransactionResult:
    if result.status != types_pb2.RESULT_STATUS_OK:
        raise RequestError(f"{types_pb2.ResultStatus.Name(result.status)}: {result.error}")
    return result


class Endpoint:
    """A relayer's view of an InterchainChain (causeway.interchain.relaying.ChainEndpoint): reads
    as a node serves them, submissions signed by ``relayer`` and committed as one block each."""

    def __init__(self, chain: InterchainChain, relayer: str = "org1/relayer") -> None:
        self.chain = chain
        self.relayer = relayer
        self.submitted: list[types_pb2.TransactionResult] = []

    @property
    def chain_id(self) -> str:
        return self.chain.chain_id

    def latest_height(self) -> int:
        return self.chain.height

    def signed_header(
        self, height: int
    ) -> tuple[types_pb2.BlockHeader, types_pb2.CommitCertificate]:
        return self.chain.blocks[height].header, self.chain.certificate(height)

    def validator_set(self, height: int) -> types_pb2.ValidatorSet:
        if height in self.chain.blocks:
            return self.chain.blocks[height].validator_set
        return self.chain.blocks[height - 1].next_validator_set

    def prove(
        self, keys: Sequence[bytes], height: int
    ) -> list[tuple[bytes | None, types_pb2.StateProof]]:
        return [(self.chain.value_at(key, height), self.chain.prove(key, height)) for key in keys]

    def query(self, contract: str, method: str, arguments: Message) -> bytes:
        return check_ok(self.chain.query(contract, method, arguments)).return_value

    def submit(self, contract: str, method: str, arguments: Message) -> types_pb2.TransactionResult:
        result = self.chain.run(self.relayer, contract, method, arguments)
        self.submitted.append(result)
        return result

    def submit_all(
        self, contract: str, method: str, arguments: Sequence[Message]
    ) -> list[types_pb2.TransactionResult]:
        return [self.submit(contract, method, each) for each in arguments]
