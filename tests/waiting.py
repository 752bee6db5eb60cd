"""Waiting for something to happen: poll a condition until a deadline, never sleep a fixed time
and then assert (a loaded machine makes such a test fail; a deadline only makes it slower).

Importable from every test folder (tests/conftest.py puts this folder on the path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

WAIT_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.005

Describe = str | Callable[[], str]


def _failure(what: Describe, timeout_s: float) -> AssertionError:
    text = what() if callable(what) else what
    return AssertionError(f"{text} (not within {timeout_s} s)")


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float = WAIT_TIMEOUT_S,
    what: Describe = "the condition was not reached",
) -> None:
    """Returns once `condition()` is true; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            raise _failure(what, timeout_s)
        time.sleep(POLL_INTERVAL_S)


async def wait_until_async(
    condition: Callable[[], bool],
    timeout_s: float = WAIT_TIMEOUT_S,
    what: Describe = "the condition was not reached",
) -> None:
    """`wait_until` for a test on the event loop: polls without blocking it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            raise _failure(what, timeout_s)
        await asyncio.sleep(POLL_INTERVAL_S)
