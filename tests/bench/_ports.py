"""Loopback ports for the bench tests' nodes."""

from __future__ import annotations

import random
import socket

PORT_RANGE_LOW = 20_000
PORT_RANGE_HIGH = 30_000
PORT_BASE_ATTEMPTS_MAX = 200


def free_port_base(count: int) -> int:
    """The first of `count` consecutive loopback ports free now, below the ephemeral range (so
    that no outgoing connection takes one before the node binds it)."""
    rng = random.SystemRandom()
    for _ in range(PORT_BASE_ATTEMPTS_MAX):
        base = rng.randrange(PORT_RANGE_LOW, PORT_RANGE_HIGH)
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError(f"found no {count} consecutive free loopback ports")
