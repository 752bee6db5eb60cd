"""The shared waiting helpers return as soon as the condition holds and fail, naming what was
awaited, once the deadline passes."""

from __future__ import annotations

import asyncio
import time

import pytest
from waiting import wait_until, wait_until_async


def test_wait_until_returns_once_the_condition_holds() -> None:
    calls = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    wait_until(third_time, timeout_s=5)
    assert len(calls) == 3


def test_wait_until_fails_at_the_deadline_with_what_was_awaited() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"^the node answered \(not within 0.05 s\)$"):
        wait_until(lambda: False, timeout_s=0.05, what="the node answered")
    assert time.monotonic() - started >= 0.05
    with pytest.raises(AssertionError, match="height 3 of 4"):
        wait_until(lambda: False, timeout_s=0.01, what=lambda: f"height {3} of {4}")


async def test_wait_until_async_polls_without_blocking_the_loop() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, flag.set)
    await wait_until_async(flag.is_set, timeout_s=5)
    with pytest.raises(AssertionError, match=r"^never \(not within 0.02 s\)$"):
        await wait_until_async(lambda: False, timeout_s=0.02, what="never")
