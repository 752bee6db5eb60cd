"""The SDK's gRPC channel options: reconnect as fast as the SDK's own backoff, but never shorten
gRPC's connect timeout."""

from __future__ import annotations

from causeway.sdk.streams import channel_options


def test_reconnect_backoff_follows_the_sdk_and_the_connect_timeout_is_left_alone() -> None:
    options = dict(channel_options(1 << 20, reconnect_delay_s=0.1, reconnect_delay_max_s=5.0))
    assert options["grpc.initial_reconnect_backoff_ms"] == 100
    assert options["grpc.max_reconnect_backoff_ms"] == 5000
    assert options["grpc.max_receive_message_length"] == 1 << 20
    # gRPC takes min_reconnect_backoff_ms as its minimum connect timeout too (20 s by default):
    # set to the 100 ms backoff, a first connection on a loaded machine timed out before the
    # server's SETTINGS frame arrived (found running the documented commands under load).
    assert "grpc.min_reconnect_backoff_ms" not in options
