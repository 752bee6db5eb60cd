"""Resumable streams: where a stream is, what to ask for after a reconnect, how long to wait."""

from __future__ import annotations

from typing import Protocol, TypeVar

from google.protobuf.message import Message

from causeway.api.v1 import api_pb2
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    NodeUnavailableError,
    RateLimitedError,
)
from causeway.sdk.checkpoint import START, EventPosition
from causeway.sdk.transactions import BAD_RESPONSE_REASON
from causeway.types.v1 import types_pb2

RECONNECT_DELAY_S_DEFAULT = 0.1
RECONNECT_DELAY_MAX_S_DEFAULT = 5.0

ItemT_contra = TypeVar("ItemT_contra", bound=Message, contravariant=True)


class Cursor(Protocol[ItemT_contra]):
    """Where a resumable stream is: the request that continues it, and which items are new."""

    def request(self) -> Message: ...

    def is_new(self, item: ItemT_contra) -> bool:
        """Whether ``item`` comes after everything delivered (False for a repeat)."""
        ...

    def advance(self, item: ItemT_contra) -> None:
        """Records ``item`` as delivered."""
        ...


class BlockCursor:
    """Follows heights: resumes at the height after the last delivered one, drops repeats and
    refuses gaps (a gap would be a block the consumer silently missed)."""

    def __init__(self, from_height: int) -> None:
        self.next_height = max(1, from_height)

    def request(self) -> api_pb2.StreamBlocksRequest:
        return api_pb2.StreamBlocksRequest(from_height=self.next_height)

    def is_new(self, event: api_pb2.BlockEvent) -> bool:
        height = event.block.header.height
        if height < self.next_height:
            return False
        if height > self.next_height:
            raise CausewayError(
                f"the block stream skipped from height {self.next_height} to {height}",
                reason=BAD_RESPONSE_REASON,
            )
        return True

    def advance(self, event: api_pb2.BlockEvent) -> None:
        self.next_height = event.block.header.height + 1


class EventCursor:
    """Follows event positions: resumes at the height of the last delivered event and drops
    everything at or before it, so nothing is delivered twice."""

    def __init__(self, after: EventPosition, from_height: int, contract: str, name: str) -> None:
        self.after = after
        self.from_height = max(1, after.height if after != START else from_height)
        self.contract = contract
        self.name = name

    def request(self) -> api_pb2.StreamEventsRequest:
        return api_pb2.StreamEventsRequest(
            from_height=max(self.from_height, self.after.height),
            contract=self.contract,
            name=self.name,
        )

    def is_new(self, record: types_pb2.EventRecord) -> bool:
        return position_of(record) > self.after

    def advance(self, record: types_pb2.EventRecord) -> None:
        self.after = position_of(record)


def position_of(record: types_pb2.EventRecord) -> EventPosition:
    return EventPosition(record.height, record.transaction_index, record.event_index)


class Backoff:
    """Exponential delays between reconnect attempts; gives up after ``attempts_max``
    consecutive failures (None: never)."""

    def __init__(self, delay_s: float, delay_max_s: float, attempts_max: int | None) -> None:
        if delay_s <= 0 or delay_max_s < delay_s:
            raise ConfigurationError("reconnect delays must be positive and max >= initial")
        if attempts_max is not None and attempts_max < 0:
            raise ConfigurationError("reconnect_attempts_max must not be negative")
        self.delay_s = delay_s
        self.delay_max_s = delay_max_s
        self.attempts_max = attempts_max
        self.failures = 0

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self, error: CausewayError | None) -> float:
        """The delay before the next attempt; NodeUnavailableError when out of attempts."""
        self.failures += 1
        if self.attempts_max is not None and self.failures > self.attempts_max:
            message = f"gave up after {self.attempts_max} reconnect attempts"
            if error is not None:
                message = f"{message}: {error.message}"
            raise NodeUnavailableError(message) from error
        return float(min(self.delay_max_s, self.delay_s * 2 ** (self.failures - 1)))


def reconnect_delay_s(backoff: Backoff, failure: CausewayError | None) -> float:
    """The wait before a follow reconnects: the backoff's, or longer when the node said when
    to come back (RateLimitedError.retry_after_s)."""
    delay_s = backoff.failed(failure)
    if isinstance(failure, RateLimitedError):
        delay_s = max(delay_s, failure.retry_after_s)
    return delay_s


def channel_options(
    message_bytes_max: int, reconnect_delay_s: float, reconnect_delay_max_s: float
) -> list[tuple[str, int]]:
    initial_ms = max(1, round(reconnect_delay_s * 1000))
    return [
        ("grpc.max_receive_message_length", message_bytes_max),
        ("grpc.max_send_message_length", message_bytes_max),
        # gRPC's own reconnect backoff starts at 1 s; follow ours so a restarted node is
        # picked up as soon as the stream retries. Not grpc.min_reconnect_backoff_ms: gRPC
        # also takes it as the minimum connect timeout (20 s by default), and at 100 ms a
        # first connection on a loaded machine timed out before the server's SETTINGS frame.
        ("grpc.initial_reconnect_backoff_ms", initial_ms),
        ("grpc.max_reconnect_backoff_ms", max(initial_ms, round(reconnect_delay_max_s * 1000))),
    ]
