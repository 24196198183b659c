"""A preallocated rolling window of recent audio, addressable by capture time."""

from __future__ import annotations

import numpy as np

from livesense.capture.ring import put_wrapped


class AudioHistory:
    def __init__(self, seconds: float, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._buf = np.zeros(int(seconds * sample_rate), dtype=np.float32)
        self._written = 0  # total samples ever written
        self._t_end = 0.0  # capture time just after the newest sample

    def reset(self) -> None:
        self._written = 0

    def write(self, samples: np.ndarray, t_capture: float) -> None:
        t_end = t_capture + len(samples) / self.sample_rate
        size = len(self._buf)
        if len(samples) > size:
            self._written += len(samples) - size  # only the newest ``size`` samples fit
            samples = samples[-size:]
        put_wrapped(self._buf, self._written, samples)
        self._written += len(samples)
        self._t_end = t_end

    def read(self, t0: float, t1: float) -> np.ndarray:
        """Samples captured in [t0, t1), clipped to what the window still holds."""
        size = len(self._buf)
        held = min(self._written, size)
        back0 = int(round((self._t_end - t0) * self.sample_rate))
        back1 = int(round((self._t_end - t1) * self.sample_rate))
        back0, back1 = min(max(back0, 0), held), min(max(back1, 0), held)
        if back0 <= back1:
            return np.zeros(0, dtype=np.float32)
        idx = (self._written - back0 + np.arange(back0 - back1)) % size
        return self._buf[idx]
