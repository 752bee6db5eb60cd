"""Deterministic executor, receipts and events, the native system contracts (pure), and block
building and validation by execution against the store (ExecutionApplication)."""

from causeway.execution import costs, keys
from causeway.execution.application import (
    BLOCK_BUILD_TARGET_MS_DEFAULT,
    BLOCK_TRANSACTIONS_BY_TIME_MIN,
    ExecutedBlock,
    ExecutionApplication,
    LatestStateReader,
    transactions_for_time,
)
from causeway.execution.context import (
    CONSENSUS_SENDER_METHODS,
    EVENT_DATA_BYTES_MAX,
    TransactionContext,
    TransactionLocks,
    describe_lock,
    failure,
    may_send,
)
from causeway.execution.contracts import CONTRACTS, Contract, Handler, Method
from causeway.execution.contracts.base import decode_arguments
from causeway.execution.contracts.config import validate_config
from causeway.execution.contracts.evidence import EVIDENCE_LIST_LIMIT
from causeway.execution.contracts.kv import (
    KV_KEY_BYTES_MAX,
    KV_RANGE_BYTES_MAX,
    KV_RANGE_LIMIT_DEFAULT,
    KV_RANGE_LIMIT_MAX,
    KV_VALUE_BYTES_MAX,
)
from causeway.execution.contracts.ledger import AMOUNT_MAX, LEDGER_ACCOUNT_BYTES_MAX
from causeway.execution.contracts.membership import ORGANISATIONS_MAX
from causeway.execution.contracts.validators import (
    VALIDATORS_MAX,
    VOTING_POWER_MAX,
    VOTING_POWER_TOTAL_MAX,
)
from causeway.execution.costs import (
    GAS_PER_BYTE_HASHED,
    GAS_PER_BYTE_READ,
    GAS_PER_BYTE_WRITTEN,
    GAS_PER_EVENT_DATA_BYTE,
    GAS_PER_READ,
    GAS_PER_TRANSACTION_BYTE,
    GAS_PER_WRITE,
    GAS_TRANSACTION_BASE,
    SIGNATURE_VERIFICATION_GAS,
    hashing_gas,
    signature_verification_gas,
)
from causeway.execution.executor import (
    GENESIS_VERSION,
    BlockExecution,
    Executor,
    genesis_state,
    get_config,
    get_member,
    validate_genesis,
)
from causeway.execution.keys import StateGrant, is_shared_record
from causeway.execution.overlay import Savepoint, StateReader, UnwrittenBlocksReader
from causeway.execution.schedule import (
    EVIDENCE_AGE_MAX_HEIGHTS,
    VALIDATOR_CHANGE_DELAY_HEIGHTS,
    VALIDATOR_SCHEDULE_ENTRIES_MAX,
)
from causeway.execution.user_contracts import (
    VM_CACHE_DIRECTORY,
    configure_shared_runtime,
    shared_runtime,
)
from causeway.execution.verification import (
    TIMESTAMP_FUTURE_MAX_MS,
    HeldLookup,
    MemberLookup,
    Sender,
    TransactionInput,
    TransactionRules,
    TransactionVerifier,
)

__all__ = [
    "AMOUNT_MAX",
    "BLOCK_BUILD_TARGET_MS_DEFAULT",
    "BLOCK_TRANSACTIONS_BY_TIME_MIN",
    "CONSENSUS_SENDER_METHODS",
    "CONTRACTS",
    "EVENT_DATA_BYTES_MAX",
    "EVIDENCE_AGE_MAX_HEIGHTS",
    "EVIDENCE_LIST_LIMIT",
    "GAS_PER_BYTE_HASHED",
    "GAS_PER_BYTE_READ",
    "GAS_PER_BYTE_WRITTEN",
    "GAS_PER_EVENT_DATA_BYTE",
    "GAS_PER_READ",
    "GAS_PER_TRANSACTION_BYTE",
    "GAS_PER_WRITE",
    "GAS_TRANSACTION_BASE",
    "GENESIS_VERSION",
    "KV_KEY_BYTES_MAX",
    "KV_RANGE_BYTES_MAX",
    "KV_RANGE_LIMIT_DEFAULT",
    "KV_RANGE_LIMIT_MAX",
    "KV_VALUE_BYTES_MAX",
    "LEDGER_ACCOUNT_BYTES_MAX",
    "ORGANISATIONS_MAX",
    "SIGNATURE_VERIFICATION_GAS",
    "TIMESTAMP_FUTURE_MAX_MS",
    "VALIDATORS_MAX",
    "VALIDATOR_CHANGE_DELAY_HEIGHTS",
    "VALIDATOR_SCHEDULE_ENTRIES_MAX",
    "VM_CACHE_DIRECTORY",
    "VOTING_POWER_MAX",
    "VOTING_POWER_TOTAL_MAX",
    "BlockExecution",
    "Contract",
    "ExecutedBlock",
    "ExecutionApplication",
    "Executor",
    "Handler",
    "HeldLookup",
    "LatestStateReader",
    "MemberLookup",
    "Method",
    "Savepoint",
    "Sender",
    "StateGrant",
    "StateReader",
    "TransactionContext",
    "TransactionInput",
    "TransactionLocks",
    "TransactionRules",
    "TransactionVerifier",
    "UnwrittenBlocksReader",
    "configure_shared_runtime",
    "costs",
    "decode_arguments",
    "describe_lock",
    "failure",
    "genesis_state",
    "get_config",
    "get_member",
    "hashing_gas",
    "is_shared_record",
    "keys",
    "may_send",
    "shared_runtime",
    "signature_verification_gas",
    "transactions_for_time",
    "validate_config",
    "validate_genesis",
]
