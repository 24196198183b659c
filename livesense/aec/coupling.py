"""How loud can the echo be? A bound measured from levels alone, before any filter converges.

The mic always holds at least the echo, so over a stretch of playback the mic's energy
bounds the echo path's gain from above: ``G <= sum(mic power) / sum(reference power)``,
summed over the frames where the reference plays. With headphones (or no speaker at all)
the mic stays quiet while the agent talks and the bound falls far below the canceller's
cautious default (echo up to -10 dB of the reference); with a real echo path it stays near
the true coupling.

Only frames with the reference playing count (the mic's energy while the agent is silent
says nothing about the echo path), and only once ``min_active_s`` of them lie in the
window: the echo arrives up to the bulk delay late, so a short stretch of playback would
end before its echo did; with ``min_active_s`` at twice the delay the bound is at most
~3 dB low. The window ends ``lag_s`` before the newest frame, so the user's first words (a
barge-in being judged) do not enter it.
"""

from __future__ import annotations

import numpy as np


class CouplingMeter:
    def __init__(self, frame_s: float, window_s: float = 3.0, lag_s: float = 0.5, min_active_s: float = 1.0,
                 active_dbfs: float = -50.0) -> None:
        self.window = max(1, round(window_s / frame_s))
        self.lag = max(0, round(lag_s / frame_s))
        self.min_active = max(1, round(min_active_s / frame_s))
        self.active = 10.0 ** (active_dbfs / 10.0)  # reference power of a playing frame
        n = self.window + self.lag
        self._mic = np.zeros(n)
        self._ref = np.zeros(n)  # reference power, 0 on frames where it does not play
        self.reset()

    def reset(self) -> None:
        self._mic[:] = 0.0
        self._ref[:] = 0.0
        self._n = 0

    def push(self, mic_power: float, ref_power: float) -> float | None:
        """Mean-square levels of one frame (full scale = 1); returns the bound in dB, or
        None while the window holds too little playback to say."""
        size = self._mic.shape[0]
        k = self._n % size
        playing = ref_power >= self.active
        self._mic[k], self._ref[k] = (mic_power, ref_power) if playing else (0.0, 0.0)
        self._n += 1
        if self._n < size:
            return None
        start = (self._n - self.lag - self.window) % size  # oldest frame of the window
        if self._count(start) < self.min_active:
            return None
        ref, mic = self._sum(self._ref, start), self._sum(self._mic, start)
        return 10.0 * np.log10(max(mic, 1e-12) / ref)

    def _view(self, ring: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``window`` ring entries from ``start`` on, as two views (no copy)."""
        end = start + self.window
        if end <= ring.shape[0]:
            return ring[start:end], ring[:0]
        return ring[start:], ring[: end - ring.shape[0]]

    def _sum(self, ring: np.ndarray, start: int) -> float:
        a, b = self._view(ring, start)
        return float(a.sum() + b.sum())

    def _count(self, start: int) -> int:
        a, b = self._view(self._ref, start)
        return int(np.count_nonzero(a) + np.count_nonzero(b))
