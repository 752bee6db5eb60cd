"""A hub chain in one process with an evm-committee client of the EVM chain the vectors were
recorded from (tests/testdata/evm/vectors.json): committee of four test keys, threshold three.

Times: the vectors' EVM blocks are dated 1_800_000_020 s (the packets block) and 1_800_000_100 s
(a later, empty block); the hub's clock starts at 1_800_000_000_000 ms. The client is created from
the later block with a clock drift that allows it, so that the hub can still send the packets the
vectors hold (one of which times out at 1_800_000_050_000 ms) before the committee attests the
packets block.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_hash.auto import keccak
from evm_vectors import COMMITTEE_KEYS, block, endpoint, header_rlp, vectors
from interchain_chain import Clock, InterchainChain, check_ok

from causeway.interchain import CHAIN_CONTRACTS, evm
from causeway.interchain.v1 import interchain_pb2
from causeway.types.v1 import types_pb2

EVM_CLIENT = "client-0"
EVM_CHAIN = "evm-31337"
EVM_CHAIN_ID = 31337
THRESHOLD = 3
TRUSTING_PERIOD_MS = 86_400_000
CLOCK_DRIFT_MS = 120_000
GOLD_ISSUED = 1_000
# The recorded blocks: the packets, and a later empty one (the timeout's storage proofs).
PACKETS_BLOCK: int = block(0)["number"]
LATER_BLOCK: int = block(1)["number"]
EVM_GENESIS_HASH = keccak(b"the EVM chain's genesis block (informational)")


def committee() -> interchain_pb2.EvmCommittee:
    return interchain_pb2.EvmCommittee(
        evm_chain_id=EVM_CHAIN_ID,
        endpoint_address=endpoint(),
        committee=[evm.address_of(key) for key in COMMITTEE_KEYS],
        threshold=THRESHOLD,
        confirmations=2,
    )


def create_arguments(**fields: object) -> interchain_pb2.ClientsCreateArguments:
    arguments = interchain_pb2.ClientsCreateArguments(
        chain_id=EVM_CHAIN,
        genesis_hash=EVM_GENESIS_HASH,
        consensus="evm-committee",
        crypto_profile="evm",
        trusting_period_ms=TRUSTING_PERIOD_MS,
        clock_drift_ms=CLOCK_DRIFT_MS,
        counterparty_client_id=vectors()["endpoint_client"],
        evm=committee(),
        evm_header=header_rlp(1),
    )
    for name, value in fields.items():
        if isinstance(value, interchain_pb2.EvmCommittee):
            getattr(arguments, name).CopyFrom(value)
        else:
            setattr(arguments, name, value)
    return arguments


def status(result: types_pb2.TransactionResult) -> str:
    return types_pb2.ResultStatus.Name(result.status).removeprefix("RESULT_STATUS_")


def header_of(block_number: int) -> bytes:
    return header_rlp(0 if block_number == PACKETS_BLOCK else 1)


@dataclass
class EvmHub:
    hub: InterchainChain

    def governance(
        self, contract: str, method: str, arguments: object
    ) -> types_pb2.TransactionResult:
        return self.hub.run(
            "org1/admin",
            contract,
            method,
            arguments,  # type: ignore[arg-type]
            endorsers=self.hub.governance_endorsers(),
        )

    def attest(
        self, key: bytes, header: bytes, *, chain_id: int = EVM_CHAIN_ID, signature: bytes = b""
    ) -> types_pb2.TransactionResult:
        digest = evm.header_digest(chain_id, keccak(header))
        return self.hub.run(
            "org1/relayer",
            "clients",
            "attest",
            interchain_pb2.ClientsAttestArguments(
                client_id=EVM_CLIENT,
                header_rlp=header,
                signature=signature or evm.sign_digest(key, digest),
            ),
        )

    def attest_by(self, count: int, header: bytes) -> list[interchain_pb2.ClientsAttestResult]:
        return [
            interchain_pb2.ClientsAttestResult.FromString(
                check_ok(self.attest(key, header)).return_value
            )
            for key in COMMITTEE_KEYS[:count]
        ]

    def client(self) -> interchain_pb2.ClientsGetResult:
        result = check_ok(
            self.hub.query(
                "clients", "get", interchain_pb2.ClientsGetArguments(client_id=EVM_CLIENT)
            )
        )
        return interchain_pb2.ClientsGetResult.FromString(result.return_value)

    def has_state(self, height: int) -> bool:
        result = self.hub.query(
            "clients",
            "consensus_state",
            interchain_pb2.ClientsConsensusStateArguments(client_id=EVM_CLIENT, height=height),
        )
        return result.status == types_pb2.RESULT_STATUS_OK

    def clients_state(self) -> dict[bytes, bytes]:
        return {
            key: value for key, value in self.hub.state.items() if key.startswith(b"sys/clients/")
        }


def build_evm_hub(clock: Clock | None = None) -> EvmHub:
    """The hub with the EVM chain's client (client-0, from the later block), port transfer
    bound, and org1/alice holding GOLD_ISSUED gold."""
    hub = InterchainChain("hub", "intl", contracts=CHAIN_CONTRACTS, clock=clock)
    hub.advance(1)
    evm_hub = EvmHub(hub)
    created = check_ok(evm_hub.governance("clients", "create", create_arguments()))
    assert interchain_pb2.ClientsCreateResult.FromString(created.return_value).client_id == (
        EVM_CLIENT
    )
    check_ok(
        evm_hub.governance(
            "packets",
            "bind_port",
            interchain_pb2.PacketsBindPortArguments(port="transfer", contract="transfer"),
        )
    )
    check_ok(
        hub.run(
            "org1/admin",
            "bank",
            "issue",
            interchain_pb2.BankIssueArguments(
                denom="gold", account="org1/alice", amount=GOLD_ISSUED
            ),
        )
    )
    return evm_hub
