"""Exponential backoff with jitter between attempts to reach a peer."""

from __future__ import annotations

import random

from causeway.net.config import ReconnectBackoff


class Backoff:
    """Delays initial, initial*m, initial*m^2, ... capped at max, each shortened by up to
    ``jitter`` of itself; ``reset`` after a success starts again from ``initial``."""

    def __init__(self, settings: ReconnectBackoff, random_source: random.Random) -> None:
        settings.check()
        self._settings = settings
        self._random = random_source
        self._attempts = 0

    @property
    def attempts(self) -> int:
        return self._attempts

    def next_delay_s(self) -> float:
        settings = self._settings
        # The exponent is capped so that a long outage cannot overflow the float.
        exponent = min(self._attempts, 64)
        base_ms = min(float(settings.max_ms), settings.initial_ms * settings.multiplier**exponent)
        self._attempts += 1
        return base_ms * (1.0 - settings.jitter * self._random.random()) / 1000.0

    def reset(self) -> None:
        self._attempts = 0
