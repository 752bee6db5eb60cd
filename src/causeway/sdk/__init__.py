"""The Python client of a Causeway node: identities, signed transactions, verified reads and
resumable block and event streams, over gRPC (``Client``) or asyncio gRPC (``AsyncClient``).

The interchain operations (light clients, ports, the hub, transfers, packets, balances) are
``client.interchain`` (causeway.sdk.interchain, loaded on first use); user contracts (deploy,
upgrade, freeze, unfreeze, revoke, records, calls through their interface) are
``client.contracts`` (causeway.sdk.contracts); governance proposals voted on chain are
``client.proposals`` (causeway.sdk.proposals)."""

from causeway.sdk.async_client import AsyncClient
from causeway.sdk.checkpoint import (
    Checkpoint,
    EventPosition,
    FileCheckpoint,
    MemoryCheckpoint,
)
from causeway.sdk.client import Client
from causeway.sdk.connection import (
    AccessTokenSource,
    ClientCertificate,
    channel_credentials,
    token_call_credentials,
)
from causeway.sdk.contracts import (
    AsyncContractHandle,
    AsyncContracts,
    CallResult,
    ContractChange,
    ContractEvent,
    ContractHandle,
    ContractInfo,
    Contracts,
)
from causeway.sdk.identity import Identity
from causeway.sdk.proposals import AsyncProposals, Execution, Proposals, load_proposal_draft
from causeway.sdk.rpc_errors import error_from_rpc
from causeway.sdk.transactions import SubmitResult, build_transaction, endorse
from causeway.sdk.verify import (
    verify_block,
    verify_header_response,
    verify_signed_header,
    verify_state_response,
    verify_states_response,
    verify_transaction_response,
    verify_validator_set_response,
)

__all__ = [
    "AccessTokenSource",
    "AsyncClient",
    "AsyncContractHandle",
    "AsyncContracts",
    "AsyncProposals",
    "CallResult",
    "Checkpoint",
    "Client",
    "ClientCertificate",
    "ContractChange",
    "ContractEvent",
    "ContractHandle",
    "ContractInfo",
    "Contracts",
    "EventPosition",
    "Execution",
    "FileCheckpoint",
    "Identity",
    "MemoryCheckpoint",
    "Proposals",
    "SubmitResult",
    "build_transaction",
    "channel_credentials",
    "endorse",
    "error_from_rpc",
    "load_proposal_draft",
    "token_call_credentials",
    "verify_block",
    "verify_header_response",
    "verify_signed_header",
    "verify_state_response",
    "verify_states_response",
    "verify_transaction_response",
    "verify_validator_set_response",
]
