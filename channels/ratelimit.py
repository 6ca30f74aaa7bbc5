"""Token buckets per key (a visitor, an address), for the public routes: the web chat and the webhooks."""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `burst` requests at once, refilled at `per_minute`."""

    burst: int
    per_minute: float


@dataclass
class RateLimiter:
    """Token buckets per key (a visitor, an address), kept for the most recent `capacity` keys of this process."""

    limit: RateLimit
    capacity: int = 50_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict = field(default_factory=OrderedDict)

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - stamp) * self.limit.per_minute / 60)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.capacity:
            self._buckets.popitem(last=False)
        return allowed

    def exhausted(self, key: str) -> bool:
        """Whether `key` has no token left now (spends nothing)."""
        entry = self._buckets.get(key)
        if entry is None:
            return False
        tokens, stamp = entry
        return min(float(self.limit.burst), tokens + (self.clock() - stamp) * self.limit.per_minute / 60) < 1
