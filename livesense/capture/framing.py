"""Cut a stream of arbitrary-size chunks into fixed frames, and pace sources in real time.

``Framer`` keeps one preallocated staging buffer: chunks are copied in, whole frames are
copied out (no per-frame concatenation).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from livesense.clock import Clock


class Framer:
    """Accumulates mono float32 samples; yields copies of ``frame_size``-sample frames."""

    def __init__(self, frame_size: int, initial: int = 8192) -> None:
        self.frame_size = int(frame_size)
        self._buf = np.zeros(max(initial, 2 * frame_size), np.float32)
        self._n = 0
        self.consumed = 0  # samples already handed out in frames

    def __len__(self) -> int:
        return self._n

    def push(self, chunk: np.ndarray) -> Iterator[np.ndarray]:
        """Add ``chunk``; yield every complete frame now available."""
        start = 0
        while start < chunk.shape[0]:
            n = min(chunk.shape[0] - start, self._buf.shape[0] - self._n)
            self._buf[self._n : self._n + n] = chunk[start : start + n]
            self._n += n
            start += n
            yield from self._drain()

    def _drain(self) -> Iterator[np.ndarray]:
        f, off = self.frame_size, 0
        while self._n - off >= f:
            frame = self._buf[off : off + f].copy()
            off += f
            self.consumed += f
            yield frame
        if off:  # compact once per chunk, not once per frame
            self._buf[: self._n - off] = self._buf[off : self._n]
            self._n -= off

    def flush(self) -> np.ndarray | None:
        """The remaining partial frame, zero-padded to ``frame_size``; None if empty."""
        if self._n == 0:
            return None
        frame = np.zeros(self.frame_size, np.float32)
        frame[: self._n] = self._buf[: self._n]
        self.consumed += self._n
        self._n = 0
        return frame


class Pacer:
    """Releases item ``k`` no earlier than ``t0 + (k + 1) * period`` on the clock.

    A frame covering ``[t0 + k*period, t0 + (k+1)*period)`` can only exist once its last
    sample has "arrived", exactly like a microphone. ``realtime=False`` never waits.
    """

    def __init__(self, clock: Clock, period: float, realtime: bool) -> None:
        self.clock, self.period, self.realtime = clock, float(period), realtime
        self.t0: float | None = None

    def start(self) -> float:
        if self.t0 is None:
            self.t0 = self.clock.now()
        return self.t0

    def t_start_of(self, k: float) -> float:
        """Capture time of the first sample of item ``k``."""
        return self.start() + k * self.period

    def wait_for(self, k: float) -> None:
        if self.realtime:
            delay = self.t_start_of(k + 1) - self.clock.now()
            if delay > 0:
                self.clock.sleep(delay)
