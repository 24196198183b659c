"""Residual echo suppression: what the linear filter leaves (tail, speaker distortion).

A sqrt-Hann WOLA with hop ``H`` (the AEC block, 4 ms) analyses the filter's error and echo
estimate. The residual echo power per bin is ``leak * |Y|^2`` (leak: the adaptive filter's
running estimate of the fraction of echo it misses), held with a release time so the
reverberant tail beyond the filter is covered; the gain is a decision-directed Wiener gain
of "error over ``over`` x residual echo", floored at ``floor_db``. Where the near end speaks
the error dwarfs the residual estimate and the gain stays near 1, so near-end speech
passes. Output lags input by ``H`` samples.
"""

from __future__ import annotations

import numpy as np

from livesense.aec import kernels as K


class ResidualSuppressor:
    def __init__(self, hop: int, sample_rate: int, over: float = 2.0, floor_db: float = -30.0,
                 dd: float = 0.9, release_ms: float = 60.0, smooth: float = 0.0) -> None:
        self.hop = hop
        n = 2 * hop
        self.tables = K.fft_tables(n)
        self.win = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))  # periodic sqrt-Hann
        release = np.exp(-hop / (sample_rate * release_ms * 1e-3)) if release_ms > 0 else 0.0
        self.par = np.array([over, 10 ** (floor_db / 20), dd, release, smooth])
        self.ebuf, self.ybuf, self.obuf = np.zeros(n), np.zeros(n), np.zeros(n)
        self.Sr, self.G, self.gamma_prev = np.zeros(hop + 1), np.ones(hop + 1), np.zeros(hop + 1)

    @property
    def latency(self) -> int:
        return self.hop

    def reset(self) -> None:
        for a in (self.ebuf, self.ybuf, self.obuf, self.Sr, self.gamma_prev):
            a[:] = 0.0
        self.G[:] = 1.0

    def state(self) -> tuple[np.ndarray, ...]:
        return (self.win, self.ebuf, self.ybuf, self.obuf, self.Sr, self.G, self.gamma_prev)

    def process(self, e: np.ndarray, y: np.ndarray, leak: float, out: np.ndarray) -> None:
        """e: filter error, y: echo estimate (float64, int16 scale) -> out, H samples late."""
        K.suppress_blocks(e, y, out, leak, *self.state(), self.par, *self.tables)
