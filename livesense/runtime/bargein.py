"""Barge-in policy: while the agent is audible, only real user speech may interrupt it.

When the agent is silent, a turn starts after ``TurnConfig.start_s`` (60 ms) of VAD speech.
While its voice is in the room (``PlaybackState`` says so, plus ``echo_tail_s`` for
reverberation), that rule would let the agent's own residual echo, a cough, a click or a
fan interrupt it. There, a frame *counts* as user speech only if all of these hold:

* the VAD calls it speech (webrtcvad, energy-gated against the noise floor);
* it is louder than ``min_level_dbfs`` and stands ``near_margin_db`` above the echo the
  canceller says it may have left in the frame (``EchoInfo.near_db``): not our own echo;

and a barge-in needs ``min_speech_s`` of counted frames within ``window_s``, of which
``min_voiced_s`` are *voiced* — periodic at a pitch of 70-400 Hz by YIN's cumulative mean
normalised difference (:func:`periodicity`). Coughs, door slams and fans are noise (no
pitch), clicks are too short. The onset reported is the first counted frame of the
window, so latency is measured from when the user really started.

All thresholds are seconds / dB in ``DuplexConfig``, converted to frames in ``__init__``.
"""

from __future__ import annotations

import collections
from typing import Callable

import numpy as np

from livesense.config import AudioConfig, DuplexConfig

F0_MIN, F0_MAX = 70.0, 400.0  # pitch range searched by periodicity()


def periodicity(x: np.ndarray, sample_rate: int, f0_min: float = F0_MIN, f0_max: float = F0_MAX) -> float:
    """1 - min CMNDF (YIN) over lags of ``f0_max``..``f0_min``: ~1 for a steady voice, ~0
    for noise. ``x`` must hold at least two periods of ``f0_min`` plus the integration
    window (the detector passes 40 ms)."""
    x = np.asarray(x, np.float64)
    lo, hi = int(sample_rate / f0_max), int(sample_rate / f0_min)
    w = x.shape[0] - hi
    if w <= hi // 2:
        raise ValueError(f"{x.shape[0]} samples are too few for a {f0_min} Hz pitch search")
    x = x - x.mean()
    n = 1 << int(np.ceil(np.log2(x.shape[0] + w)))
    r = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(x[:w], n)), n)[:hi + 1]
    c = np.concatenate(([0.0], np.cumsum(x * x)))
    e_tau = c[w:w + hi + 1] - c[:hi + 1]  # energy of x[tau:tau+w]
    d = np.maximum(c[w] + e_tau - 2.0 * r, 0.0)
    d[0] = 0.0
    cum = np.cumsum(d[1:])
    cmndf = d[1:] * np.arange(1, hi + 1) / np.maximum(cum, 1e-20)
    if c[w] < 1e-10:
        return 0.0
    return float(max(0.0, 1.0 - cmndf[lo - 1:hi].min()))


class BargeInPolicy:
    """Per-frame judge used by ``TurnDetector`` while the agent is audible.

    ``armed(t)``: strict rules apply to the frame captured at ``t``. ``update(frame, t,
    vad_speech)``: returns the onset time once a barge-in is confirmed, else None.
    ``echo_info(t)`` gives the canceller's ``EchoInfo`` for the frame (None without AEC).
    """

    def __init__(self, audio: AudioConfig, duplex: DuplexConfig,
                 audible: Callable[[float], bool],
                 echo_info: Callable[[float], object | None] | None = None) -> None:
        f = lambda s: duplex.frames(s, audio.frame_ms)  # noqa: E731 - the one conversion
        self.need, self.window, self.voiced_need = f(duplex.min_speech_s), f(duplex.window_s), f(duplex.min_voiced_s)
        self.config, self.sample_rate = duplex, audio.sample_rate
        self.tail_s = duplex.echo_tail_s
        self._audible, self._echo_info = audible, echo_info
        self._win = np.zeros(2 * audio.frame_size, np.float32)  # pitch window: last 2 frames
        self._hist: collections.deque = collections.deque(maxlen=self.window)
        self.rejected = collections.Counter()  # why frames did not count (diagnostics)

    def reset(self) -> None:
        self._hist.clear()
        self._win[:] = 0.0
        self.rejected.clear()

    def armed(self, t: float) -> bool:
        return self._audible(t - self.tail_s)

    def clear(self) -> None:
        """The agent went quiet (or a turn is on): drop partial evidence."""
        self._hist.clear()

    def judge(self, frame: np.ndarray, t: float, vad_speech: bool) -> tuple[bool, bool]:
        """(counts as user speech, voiced) for one frame."""
        n = frame.shape[0]
        self._win[:n] = self._win[n:]
        self._win[n:] = frame
        level = 10 * np.log10(float(np.mean(np.square(frame, dtype=np.float64))) + 1e-12)
        if not vad_speech:
            return self._reject("vad")
        if level < self.config.min_level_dbfs:
            return self._reject("quiet")
        info = self._echo_info(t) if self._echo_info is not None else None
        if info is not None and info.near_db < self.config.near_margin_db:
            return self._reject("echo")
        voiced = periodicity(self._win, self.sample_rate) >= self.config.voicing
        return True, voiced

    def _reject(self, why: str) -> tuple[bool, bool]:
        self.rejected[why] += 1
        return False, False

    def update(self, frame: np.ndarray, t: float, vad_speech: bool) -> float | None:
        counts, voiced = self.judge(frame, t, vad_speech)
        self._hist.append((counts, voiced, t))
        n = sum(1 for c, _, _ in self._hist if c)
        v = sum(1 for _, vo, _ in self._hist if vo)
        if n >= self.need and v >= self.voiced_need:
            onset = next(tt for c, _, tt in self._hist if c)
            self._hist.clear()
            return onset
        return None
