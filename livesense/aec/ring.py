"""Preallocated rings indexed by absolute sample position (a timeline, not a FIFO).

``TimelineRing`` keeps the last ``capacity`` samples of a signal whose samples are
addressed by their absolute index (sample 0 = the canceller's time origin). Writing past
the end zero-fills the gap (nothing was played there); reading a span that was never
written, or that has already been overwritten, yields zeros for those samples. Two slice
copies per call, no allocation: safe to call from an audio callback (under the caller's
lock).
"""

from __future__ import annotations

import numpy as np

from livesense.capture.ring import get_wrapped, put_wrapped


class TimelineRing:
    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, np.float32)
        self.end = 0  # one past the newest written absolute index
        self.start = 0  # oldest absolute index still held (and ever written)

    def reset(self) -> None:
        self._data[:] = 0.0
        self.end = self.start = 0

    def write(self, pos: int, block: np.ndarray) -> None:
        """Store ``block`` at absolute ``pos`` (gaps since ``end`` become zeros)."""
        n = block.shape[0]
        if pos > self.end:
            self._fill(self.end, min(pos - self.end, self.capacity), 0.0)
        self._copy_in(pos, block)
        self.end = max(self.end, pos + n)
        self.start = max(self.start, self.end - self.capacity)

    def clear_from(self, pos: int) -> None:
        """Zero every held sample from absolute ``pos`` on (it was never played)."""
        pos = max(pos, self.start)
        if pos < self.end:
            self._fill(pos, self.end - pos, 0.0)

    def _fill(self, pos: int, n: int, value: float) -> None:
        i = pos % self.capacity
        first = min(n, self.capacity - i)
        self._data[i:i + first] = value
        self._data[:n - first] = value

    def _copy_in(self, pos: int, block: np.ndarray) -> None:
        n = block.shape[0]
        if n > self.capacity:
            block, pos, n = block[-self.capacity:], pos + n - self.capacity, self.capacity
        put_wrapped(self._data, pos, block)

    def read_into(self, pos: int, out: np.ndarray) -> int:
        """Copy samples [pos, pos+len(out)) into ``out``; zeros where not held. Returns
        how many samples were actually held."""
        n = out.shape[0]
        lo, hi = max(pos, self.start), min(pos + n, self.end)
        out[:] = 0.0
        if hi <= lo:
            return 0
        get_wrapped(self._data, lo, out[lo - pos : hi - pos])
        return hi - lo

    def latest(self, n: int) -> np.ndarray:
        """A new array with the last ``n`` samples up to ``end`` (for occasional analysis)."""
        out = np.empty(n, np.float32)
        self.read_into(self.end - n, out)
        return out
