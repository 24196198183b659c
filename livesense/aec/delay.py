"""Bulk delay between the playback reference and the mic capture, by GCC-PHAT.

The device path (output buffer, server, input buffer) delays the echo by 100-200 ms and
the delay can jump when a stream restarts. The adaptive filter should model only the
room, so the canceller reads the reference ``delay`` samples back. This estimator keeps
the last ``window_s`` of mic and (time-aligned) reference in preallocated rings and, every
``update_s``, cross-correlates them with the phase transform (every frequency weighted
equally, so the peak is sharp whatever the spectrum). A new delay is adopted only after
``confirm`` consecutive estimates agree within ``agree_ms`` with a peak ``min_confidence``
times above the correlation's RMS, only while the far end has energy, and only when it
moves by more than ``hysteresis_ms`` (a direct path and an early reflection of similar
strength make estimates alternate by a millisecond or two; re-aligning on each would
throw the converged filter off by that much). Once a delay is in use, an estimate elsewhere
counts only if the correlation at the delay in use has fallen below ``keep_ratio`` of the
new peak: when the device latency really changes, the old lag's correlation drops to the
noise (~1/confidence of the peak); a knock, typing or a quiet stretch of far-end speech
can raise a spurious peak elsewhere, but the echo is still there at the old lag (a
spurious jump throws a converged filter away, and the bot hears itself for seconds).

Compute happens at most once per ``update_s`` (three FFTs of 2^15 points at 8 kHz, 1-3 ms);
``push`` itself only copies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from livesense.aec.ring import TimelineRing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DelayConfig:
    window_s: float = 2.0  # analysis window: long enough for a few words of far-end speech
    update_s: float = 0.5  # how often an estimate is computed (cost is per update, not per frame)
    max_delay_s: float = 0.5  # largest mic-after-reference lag searched (PulseAudio loop: 0.12-0.2 s)
    max_lead_s: float = 0.05  # mic *before* reference: only timestamp errors can cause it
    min_confidence: float = 6.0  # peak / RMS of the correlation; below, the estimate is ignored
    confirm: int = 2  # consecutive agreeing estimates before a new delay is adopted
    agree_ms: float = 1.0  # estimates within this are "the same delay"
    hysteresis_ms: float = 4.0  # smaller moves are left to the filter (its margin covers them)
    min_ref_rms: float = 10 ** (-50 / 20)  # far end quieter than -50 dBFS: nothing to learn from
    decimate: int = 2  # analysis at 8 kHz (pair means): 4x cheaper FFTs, still +-0.5 ms
    band_hz: tuple[float, float] = (100.0, 3500.0)  # PHAT band: skip hum and the aliased top
    keep_ratio: float = 0.35  # the delay in use stays while its correlation is this much of the peak


def _earliest_peak(seg: np.ndarray, i: int, ratio: float) -> int:
    """The first local maximum at least ``ratio`` x the largest one: the direct path, not a
    stronger early reflection (the filter models what follows the delay, not what precedes)."""
    lo = max(0, i - len(seg))
    cand = np.flatnonzero(seg[lo:i] >= ratio * seg[i])
    for j in cand:
        if seg[j] >= seg[j - 1] if j > 0 else True:
            if j + 1 >= len(seg) or seg[j] >= seg[j + 1]:
                return int(j)
    return i


def gcc_phat(mic: np.ndarray, ref: np.ndarray, max_lag: int, max_lead: int,
             early_ratio: float = 0.4, band: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """Lag (samples, sub-sample by parabola) by which ``mic`` follows ``ref``, and the
    peak-to-RMS ratio of the correlation over the searched lags [-max_lead, max_lag]. The
    lag is that of the earliest peak within ``early_ratio`` of the highest. ``band``: the
    weighted bins, as fractions of Nyquist."""
    return _peak(phat_correlation(mic, ref, max_lag, max_lead, band), max_lead, early_ratio)


def phat_correlation(mic: np.ndarray, ref: np.ndarray, max_lag: int, max_lead: int,
                     band: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """GCC-PHAT over lags -max_lead..max_lag (index ``max_lead`` is lag 0)."""
    n = 1 << int(np.ceil(np.log2(len(mic) + max_lag + max_lead)))
    cross = np.fft.rfft(mic, n) * np.conj(np.fft.rfft(ref, n))
    mag = np.abs(cross)
    cross /= mag + 1e-3 * mag.mean() + 1e-30
    k = len(cross)
    cross[:int(band[0] * (k - 1))] = 0.0
    cross[int(np.ceil(band[1] * (k - 1))) + 1:] = 0.0
    r = np.fft.irfft(cross, n)
    return np.concatenate([r[n - max_lead:], r[:max_lag + 1]]) if max_lead else r[:max_lag + 1]


def _peak(seg: np.ndarray, max_lead: int, early_ratio: float) -> tuple[float, float]:
    i = int(np.argmax(seg))
    conf = float(seg[i] / (np.sqrt(np.mean(seg * seg)) + 1e-30))
    i = _earliest_peak(seg, i, early_ratio)
    frac = 0.0
    if 0 < i < len(seg) - 1:
        a, b, c = seg[i - 1], seg[i], seg[i + 1]
        den = a - 2 * b + c
        frac = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
    return i - max_lead + frac, conf


class DelayEstimator:
    """Feed aligned (mic, ref) frames; ``delay`` is the adopted bulk delay in samples."""

    def __init__(self, sample_rate: int, config: DelayConfig | None = None, initial: int = 0) -> None:
        self.config = config or DelayConfig()
        self.sample_rate = sample_rate
        c = self.config
        self._q = c.decimate
        rate = sample_rate / self._q  # the analysis rate
        self._n = int(round((c.window_s + c.max_delay_s) * rate))
        self._max_lag = int(round(c.max_delay_s * rate))
        self._max_lead = int(round(c.max_lead_s * rate))
        self._every = max(1, int(round(c.update_s * rate)))
        self._agree = c.agree_ms * 1e-3 * sample_rate
        self._hyst = max(self._agree, c.hysteresis_ms * 1e-3 * sample_rate)
        self._band = (c.band_hz[0] / (rate / 2), min(1.0, c.band_hz[1] / (rate / 2)))
        self._mic = TimelineRing(self._n)
        self._ref = TimelineRing(self._n)
        self.initial = initial
        self.reset()

    def reset(self) -> None:
        self._mic.reset()
        self._ref.reset()
        self._pos = 0
        self._next = self._n // 2
        self.delay = self.initial
        self.candidate: float | None = None
        self._streak = 0
        self.last: tuple[float, float] | None = None  # (lag, confidence) of the latest estimate
        self.changes = 0

    def push(self, mic: np.ndarray, ref: np.ndarray) -> bool:
        """Copy one aligned frame pair in (frames a multiple of ``decimate`` long); True
        when the adopted delay changed."""
        q = self._q
        self._mic.write(self._pos, mic.reshape(-1, q).mean(axis=1))
        self._ref.write(self._pos, ref.reshape(-1, q).mean(axis=1))
        self._pos += mic.shape[0] // q
        if self._pos < self._next:
            return False
        self._next = self._pos + self._every
        return self._update()

    def _update(self) -> bool:
        n = min(self._pos, self._n)
        ref = self._ref.latest(n).astype(np.float64)
        if np.sqrt(np.mean(ref * ref)) < self.config.min_ref_rms:
            return False
        seg = phat_correlation(self._mic.latest(n).astype(np.float64), ref, self._max_lag,
                               self._max_lead, self._band)
        lag, conf = _peak(seg, self._max_lead, 0.4)
        lag *= self._q  # back to samples at the full rate
        self.last = (lag, conf)
        if conf < self.config.min_confidence or self._still_there(seg, lag):
            self._streak = 0
            return False
        return self._vote(lag)

    def _still_there(self, seg: np.ndarray, lag: float) -> bool:
        """The delay in use still explains the echo (see ``keep_ratio``)."""
        if (self.changes == 0 and self.delay == 0) or abs(lag - self.delay) <= self._hyst:
            return False
        i = int(round(self.delay / self._q)) + self._max_lead
        if not 0 <= i < len(seg):
            return False
        here = seg[max(0, i - 1):i + 2].max()
        return bool(here >= self.config.keep_ratio * seg.max())

    def _vote(self, lag: float) -> bool:
        if self.candidate is not None and abs(lag - self.candidate) <= self._agree:
            self._streak += 1
        else:
            self.candidate, self._streak = lag, 1
        if self._streak < self.config.confirm:
            return False
        new = int(round(self.candidate))
        if abs(new - self.delay) <= self._hyst:
            return False
        log.info("aec: bulk delay %.1f -> %.1f ms", 1e3 * self.delay / self.sample_rate,
                 1e3 * new / self.sample_rate)
        self.delay, self.changes = new, self.changes + 1
        return True
