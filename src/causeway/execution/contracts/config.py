"""config (system): the chain configuration, replaced only with governance endorsements."""

from __future__ import annotations

from collections.abc import Sequence

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ConfigurationError, InvariantError
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import CONFIG_KEY
from causeway.identity import validate_policy
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = "config"

_LIMITS = (
    "block_transactions_max",
    "block_bytes_max",
    "transaction_bytes_max",
    "transaction_expiry_max_ms",
    "endorsements_max",
    "state_history_heights",
    "transaction_gas_max",
)


def validate_config(config: types_pb2.ChainConfig, organisations: Sequence[str]) -> None:
    """Raises ConfigurationError unless every limit is positive and both policies can be met."""
    for name in _LIMITS:
        if getattr(config, name) <= 0:
            raise ConfigurationError(f"config {name} must be positive")
    if config.transaction_bytes_max > config.block_bytes_max:
        raise ConfigurationError("config transaction_bytes_max is above block_bytes_max")
    if 0 < config.block_gas_max < config.transaction_gas_max:
        raise ConfigurationError(
            "config block_gas_max is below transaction_gas_max (0 means no block bound)"
        )
    # Read roles are applied by the nodes' client APIs (docs/api.md, "Access"); a role no member
    # can hold would lock readers out without anyone having meant it.
    known_roles = set(types_pb2.Role.values()) - {types_pb2.ROLE_UNSPECIFIED}
    for role in config.read_roles:
        if role not in known_roles:
            raise ConfigurationError(f"config read_roles: {role} is not a role members can hold")
    if len(set(config.read_roles)) != len(config.read_roles):
        raise ConfigurationError("config read_roles names a role twice")
    policies = (
        ("governance_policy", config.HasField("governance_policy"), config.governance_policy),
        ("ledger_issue_policy", config.HasField("ledger_issue_policy"), config.ledger_issue_policy),
    )
    for name, present, policy in policies:
        if not present:
            raise ConfigurationError(f"config {name} is missing")
        try:
            validate_policy(policy, organisations)
        except ConfigurationError as error:
            raise ConfigurationError(f"config {name}: {error.message}") from None


def update(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.governance_policy, "config.update")
    request = decode_arguments(context, contracts_pb2.ConfigUpdateArguments, arguments)
    if not request.HasField("config"):
        raise failure(types_pb2.RESULT_STATUS_INVALID_ARGUMENT, "config.update without a config")
    try:
        validate_config(request.config, context.organisations())
    except ConfigurationError as error:
        raise failure(types_pb2.RESULT_STATUS_INVALID_ARGUMENT, error.message) from None
    encoded = encode(request.config)
    context.put_granted(CONFIG_KEY, encoded)
    context.emit("update", ())
    return b""


def get(context: TransactionContext, arguments: bytes) -> bytes:
    decode_arguments(context, contracts_pb2.ConfigGetArguments, arguments)
    stored = context.get_granted(CONFIG_KEY)
    if stored is None:
        raise InvariantError("the chain configuration is missing from state")
    return stored


METHODS: dict[str, Method] = {
    "update": Method(update, system=True, arguments=contracts_pb2.ConfigUpdateArguments),
    "get": Method(get, read_only=True),
}
