"""What the light-client tests share: a home chain that runs the clients contract, a remote chain
it keeps a client of, and the headers an honest or a forging relayer would bring.

    home, remote = home_chain(), InterchainChain("remote")
    remote.advance(2)
    client_id = create_client(home, remote, 2)
    result = update(home, client_id, remote.client_header(3, trusted_height=2))
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message
from interchain_chain import InterchainChain

from causeway.crypto import PrivateKey
from causeway.execution import CONTRACTS, TransactionContext
from causeway.execution.context import ConfigView, MemberView
from causeway.execution.overlay import BlockOverlay
from causeway.interchain.clients import CLIENTS
from causeway.interchain.v1 import interchain_pb2
from causeway.light import commit_sign_bytes, validator_set_hash
from causeway.types import block_hash
from causeway.types.v1 import types_pb2

HOME_CONTRACTS = {**CONTRACTS, "clients": CLIENTS}
TRUSTING_PERIOD_MS = 600_000
CLOCK_DRIFT_MS = 10_000


def home_chain(profile_name: str = "intl", chain_id: str = "home") -> InterchainChain:
    return InterchainChain(chain_id, profile_name, contracts=HOME_CONTRACTS)


def status(result: types_pb2.TransactionResult) -> str:
    return types_pb2.ResultStatus.Name(result.status).removeprefix("RESULT_STATUS_")


def event_names(result: types_pb2.TransactionResult) -> list[str]:
    return [event.name for event in result.events]


def attributes(result: types_pb2.TransactionResult, name: str) -> dict[str, str]:
    for event in result.events:
        if event.name == name:
            return {attribute.key: attribute.value for attribute in event.attributes}
    raise AssertionError(f"no event {name!r} in {event_names(result)}")


def next_time(home: InterchainChain, remote: InterchainChain) -> int:
    """The home chain's next block time: one interval on, and not before the remote's latest
    header (so that the remote's headers are never dated in the home chain's future)."""
    return max(home.time_ms + 1_000, remote.time_ms)


def create_arguments(
    remote: InterchainChain,
    height: int | None = None,
    *,
    header: interchain_pb2.ClientHeader | None = None,
    **fields: object,
) -> interchain_pb2.ClientsCreateArguments:
    arguments = interchain_pb2.ClientsCreateArguments(
        chain_id=remote.chain_id,
        genesis_hash=remote.genesis_hash,
        consensus=remote.consensus,
        crypto_profile=remote.profile_name,
        trusting_period_ms=TRUSTING_PERIOD_MS,
        clock_drift_ms=CLOCK_DRIFT_MS,
        header=header if header is not None else remote.client_header(height),
    )
    for name, value in fields.items():
        setattr(arguments, name, value)
    return arguments


def governance(
    home: InterchainChain, method: str, arguments: Message, *, time_ms: int | None = None
) -> types_pb2.TransactionResult:
    return home.run(
        "org1/admin",
        "clients",
        method,
        arguments,
        endorsers=home.governance_endorsers(),
        time_ms=time_ms,
    )


def create(
    home: InterchainChain, remote: InterchainChain, arguments: interchain_pb2.ClientsCreateArguments
) -> types_pb2.TransactionResult:
    return governance(home, "create", arguments, time_ms=next_time(home, remote))


def create_client(
    home: InterchainChain,
    remote: InterchainChain,
    height: int | None = None,
    *,
    header: interchain_pb2.ClientHeader | None = None,
    **fields: object,
) -> str:
    result = create(home, remote, create_arguments(remote, height, header=header, **fields))
    assert status(result) == "OK", result.error
    return interchain_pb2.ClientsCreateResult.FromString(result.return_value).client_id


def update(
    home: InterchainChain,
    client_id: str,
    client_header: interchain_pb2.ClientHeader,
    *,
    remote: InterchainChain | None = None,
    sender: str = "org1/relayer",
    time_ms: int | None = None,
) -> types_pb2.TransactionResult:
    if time_ms is None and remote is not None:
        time_ms = next_time(home, remote)
    return home.run(
        sender,
        "clients",
        "update",
        interchain_pb2.ClientsUpdateArguments(client_id=client_id, header=client_header),
        time_ms=time_ms,
    )


def get_client(home: InterchainChain, client_id: str) -> interchain_pb2.ClientsGetResult:
    result = home.query("clients", "get", interchain_pb2.ClientsGetArguments(client_id=client_id))
    assert status(result) == "OK", result.error
    return interchain_pb2.ClientsGetResult.FromString(result.return_value)


def client_state_keys(home: InterchainChain) -> dict[bytes, bytes]:
    """Everything the clients contract holds, to show that a refusal wrote nothing."""
    return {key: value for key, value in home.state.items() if key.startswith(b"sys/clients/")}


def sign(
    remote: InterchainChain,
    header: types_pb2.BlockHeader,
    signers: Sequence[tuple[str, PrivateKey]],
) -> types_pb2.CommitCertificate:
    own_hash = block_hash(header, remote.profile.hash)
    document = commit_sign_bytes(header.chain_id, header.height, 0, own_hash)
    return types_pb2.CommitCertificate(
        height=header.height,
        round=0,
        block_hash=own_hash,
        signatures=[
            types_pb2.CommitSignature(validator=member_id, signature=key.sign(document))
            for member_id, key in signers
        ],
    )


def forged_header(
    remote: InterchainChain,
    height: int,
    *,
    trusted_height: int = 0,
    **changes: object,
) -> interchain_pb2.ClientHeader:
    """The remote's header at ``height`` with ``changes``, signed again by every validator of the
    height with their real keys: what validators that sign a fork would produce."""
    committed = remote.blocks[height]
    header = types_pb2.BlockHeader()
    header.CopyFrom(committed.header)
    for name, value in changes.items():
        setattr(header, name, value)
    signers = [
        (validator.member_id, remote.identities[validator.member_id].key)
        for validator in committed.validator_set.validators
    ]
    forged = interchain_pb2.ClientHeader(
        header=header,
        certificate=sign(remote, header, signers),
        validator_set=committed.validator_set,
        trusted_height=trusted_height,
    )
    if trusted_height:
        forged.trusted_validator_set.CopyFrom(remote.blocks[trusted_height].next_validator_set)
    return forged


def attacker_set(
    remote: InterchainChain, count: int = 4
) -> tuple[types_pb2.ValidatorSet, list[tuple[str, PrivateKey]]]:
    """A validator set of keys a forger holds, under the remote's validator names."""
    keys = [PrivateKey.generate(remote.profile.default_algorithm) for _ in range(count)]
    names = [f"org{index % 4 + 1}/node{index + 1}" for index in range(count)]
    validators = types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(
                member_id=name,
                algorithm=key.algorithm,
                public_key=key.public_key().raw,
                voting_power=10,
            )
            for name, key in zip(names, keys, strict=True)
        ]
    )
    return validators, list(zip(names, keys, strict=True))


def set_hash(remote: InterchainChain, validators: types_pb2.ValidatorSet) -> bytes:
    return validator_set_hash(validators, remote.profile)


class _Reader:
    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(key for key in self.state if key.startswith(prefix) and key > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]


def contract_context(home: InterchainChain, *, time_ms: int | None = None) -> TransactionContext:
    """The context of an application contract ("probe") on the home chain's latest state, as a
    packets or transfer contract would hold it when it calls the clients' Python API."""
    config = home.genesis.config
    return TransactionContext(
        BlockOverlay(_Reader(dict(home.state))),
        contract="probe",
        namespace=b"probe/",
        grants=(),
        chain_id=home.chain_id,
        profile=home.profile,
        consensus=home.consensus,
        config=ConfigView(
            config=config,
            transaction_bytes_max=config.transaction_bytes_max,
            transaction_expiry_max_ms=config.transaction_expiry_max_ms,
            endorsements_max=config.endorsements_max,
            transaction_gas_max=config.transaction_gas_max,
            block_gas_max=config.block_gas_max,
        ),
        organisations=lambda: [organisation.id for organisation in home.genesis.organisations],
        sender=MemberView(home.identities["org1/relayer"].member),
        signing_organisations=frozenset(),
        height=home.height + 1,
        time_ms=home.time_ms if time_ms is None else time_ms,
    )
