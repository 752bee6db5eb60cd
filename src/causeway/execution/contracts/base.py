"""How native contract methods are declared and what they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message

from causeway.execution.context import TransactionContext
from causeway.execution.keys import StateGrant
from causeway.types import decode

MessageT = TypeVar("MessageT", bound=Message)

Handler = Callable[[TransactionContext, bytes], bytes]


@dataclass(frozen=True, slots=True)
class Method:
    """One contract method. `handler(context, arguments)` returns the encoded return value or raises
    a RequestError (see context.failure) to fail the transaction."""

    handler: Handler
    # Read-only methods may run as queries; they never write.
    read_only: bool = False
    # System methods write under sys/: after one commits, the executor drops its cached view of
    # members, organisations and configuration.
    system: bool = False
    # The message its arguments decode as, where declared (the governance methods): a proposal's
    # calls are decoded with it when the proposal is made, so that a call that could never run
    # is refused before any admin votes on it.
    arguments: type[Message] | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    """A native contract: its methods, the namespace it owns and its grants outside it (both from
    causeway.execution.keys, which the executor's context enforces)."""

    name: str
    methods: dict[str, Method]
    namespace: bytes
    grants: tuple[StateGrant, ...] = ()


def decode_arguments(
    context: TransactionContext, message_type: type[MessageT], arguments: bytes
) -> MessageT:
    """Canonical decoding of untrusted arguments (unknown fields included); DecodeError fails
    the transaction."""
    return decode(message_type, arguments, bytes_max=context.config.transaction_bytes_max)
