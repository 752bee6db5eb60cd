"""Per-client rate limits of the client API: one token bucket per client, a bounded number of them.

A client is a member (once its call is authenticated) or a remote address (calls that prove no
member: refused ones, and the public routes). Each bucket holds up to ``burst`` calls and refills
at ``requests_per_second``; a call finding it empty is refused with the time until one call's
worth has refilled. Pure: time comes in as ``now_s``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# Buckets kept at once. The least recently used is forgotten first: a forgotten client starts
# again with a full bucket, which is the price of bounded memory against many addresses.
TRACKED_CLIENTS_MAX_DEFAULT = 10_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Calls per second a client may sustain, and how many it may make at once."""

    requests_per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.requests_per_second > 0:
            raise ValueError(
                f"requests_per_second must be positive, not {self.requests_per_second}"
            )
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst}")


class RateLimiter:
    """Token buckets keyed by client, at most ``tracked_clients_max`` of them."""

    def __init__(
        self, limit: RateLimit, *, tracked_clients_max: int = TRACKED_CLIENTS_MAX_DEFAULT
    ) -> None:
        if tracked_clients_max < 1:
            raise ValueError(f"tracked_clients_max must be positive, not {tracked_clients_max}")
        self.limit = limit
        self._tracked_clients_max = tracked_clients_max
        # client -> (tokens left, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now_s: float) -> float | None:
        """Takes one call from the client's bucket: None when allowed, otherwise the seconds to
        wait before the next call is allowed (nothing is taken then)."""
        tokens, counted_s = self._buckets.pop(client, (float(self.limit.burst), now_s))
        elapsed_s = max(0.0, now_s - counted_s)
        tokens = min(float(self.limit.burst), tokens + elapsed_s * self.limit.requests_per_second)
        retry_after_s: float | None = None
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            retry_after_s = (1.0 - tokens) / self.limit.requests_per_second
        self._buckets[client] = (tokens, now_s)
        while len(self._buckets) > self._tracked_clients_max:
            self._buckets.popitem(last=False)
        return retry_after_s

    def tracked_clients(self) -> int:
        return len(self._buckets)
