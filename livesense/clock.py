"""Time comes from an injected clock, never from time.time().

Every stage that stamps or waits reads a ``Clock``; tests and benchmarks pass a
``FakeClock`` they advance by hand, the product passes ``MonotonicClock``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


def samples_before(t: float, t_start: float, rate: float) -> int:
    """How many samples of a stream whose first sample is at ``t_start`` (``rate`` per
    second) lie before time ``t``: 0 if none; a float hair under a whole count is that count."""
    return max(0, math.ceil((t - t_start) * rate - 1e-6))


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic axis (origin is arbitrary)."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of this clock's time."""


class MonotonicClock:
    """Wall-paced clock backed by ``time.monotonic``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly.

    Thread-safe, so a pipeline's worker threads may read it while a test advances it.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never runs backwards")
        with self._lock:
            self._t += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)


class ScaledClock:
    """Monotonic time running ``speed`` times faster than the wall (soak tests, fast
    benchmarks): pacing, stamps and timelines stay consistent, compute looks ``speed``
    times slower."""

    def __init__(self, speed: float, start: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start = float(start)
        self._m0 = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._m0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)
