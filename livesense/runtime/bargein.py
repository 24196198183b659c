"""Barge-in policy: while the agent is audible, only real user speech may interrupt it.

When the agent is silent, a turn starts after ``TurnConfig.start_s`` (60 ms) of VAD speech.
While its voice is in the room (``PlaybackState`` says so, plus ``echo_tail_s`` for
reverberation), that rule would let the agent's own residual echo, a cough, a click or a
fan interrupt it. There, a frame *counts* as user speech only if all of these hold:

* the VAD calls it speech (webrtcvad, energy-gated against the noise floor);
* it is louder than ``min_level_dbfs`` and stands ``near_margin_db`` above the echo the
  canceller says it may have left in the frame (``EchoInfo.near_db``): not our own echo;

* its energy is spread over the frame, not packed into a few milliseconds (a click, a
  key, a knock's attack: ``impulse_share`` of the energy in one ``IMPULSE_MS`` slice).

Two steps, so the agent goes quiet for the user almost at once and loses nothing to a cough:

1. **Duck** on a tentative onset: a run of at least ``duck_s`` of consecutive counted
   frames, begun after a frame that did not count, with ``duck_voiced_s`` of frames in it
   voiced at periodicity ``duck_voicing`` (stricter than ``voicing``: a voice is clearly
   pitched from its first frames, a noise that merely passes ``voicing`` is not) within
   ``window_s`` of its start (coughs, door
   slams and a fan switching on count as loud, VAD-positive frames, but have no pitch). The
   output holds its audio (fade out, nothing dropped).
2. **Barge in** (confirm) once ``min_speech_s`` of counted frames lie within ``window_s``,
   of which ``min_voiced_s`` are *voiced* — periodic at a pitch of 70-400 Hz by YIN's
   cumulative mean normalised difference (:func:`periodicity`), at ``voicing``, or at the
   weaker ``voicing_track`` when the pitch continues the previous frame's and the level holds
   (a rough voice's short vowel: "Stop."; a knock's ringing decays). Coughs, door slams and fans
   are noise (no pitch), clicks are too short. And ``clear_voiced_s`` of those voiced frames
   must be heard *clear of echo* (both may come at different times of one duck): with the canceller's reference quiet (below
   ``ref_quiet_dbfs``, or ``faint_ref_db`` under the frame: a fade's residue) for
   ``clear_after_s`` (the room's tail), counted in time, pauses included, or for
   ``clear_after_unadapted_s`` while the canceller has not converged (the echo's delay is
   not known yet: it may still be on its way), and not falling like a room's tail
   (``tail_decay_db`` below both frames before it, for a frame within ``tail_margin_db`` of
   the echo bound: the agent's voice still ringing in a reverberant room the canceller has
   not learnt yet; a voice far above any possible echo fades within its syllables) — or
   at once, when the canceller has measured that the mic does not hear the speaker at all
   (``EchoInfo.coupling_db`` below ``no_echo_db``: headphones; see ``aec/coupling.py``).
   The duck makes that happen
   within ~0.3 s while the user goes on talking; the agent's own voice leaking through the
   canceller (a residual the filter underestimates at the end of a loud sentence, a
   nonlinear speaker) stops with it. Without a canceller every frame is clear. Then the
   reply is cut and flushed.
   A duck that is not confirmed within ``duck_hold_s`` of its onset, or that sees no
   counted frame for ``duck_release_s``, is **released**: playback resumes where it stopped.
   A new duck then needs a new onset (a non-counted frame first), so a long noise cannot
   keep the agent ducked.

The onset reported is the first counted frame of the run or window, so latency is measured
from when the user really started.

All thresholds are seconds / dB in ``DuplexConfig``, converted to frames in ``__init__``.
"""

from __future__ import annotations

import collections
import enum
import logging
from typing import Callable

import numpy as np

from livesense.config import AudioConfig, DuplexConfig

log = logging.getLogger(__name__)

F0_MIN, F0_MAX = 70.0, 400.0  # pitch range searched by periodicity()
YIN_DIP = 0.15  # YIN's absolute threshold: the first lag below it is the period
IMPULSE_MS = 2  # slice length for the impulsiveness test (a click lasts 1-3 ms)


class Verdict(enum.Enum):
    NONE = "none"  # nothing changes
    DUCK = "duck"  # tentative onset: hold the output
    RELEASE = "release"  # the duck was not confirmed: resume the output
    BARGE_IN = "barge_in"  # confirmed: cut the reply


def impulse_share(frame: np.ndarray, slice_len: int) -> float:
    """Largest share of the frame's energy found in one ``slice_len``-sample slice."""
    n = frame.shape[0] - frame.shape[0] % slice_len
    e = np.square(frame[:n], dtype=np.float64).reshape(-1, slice_len).sum(axis=1)
    total = float(e.sum())
    return float(e.max()) / total if total > 0 else 0.0


def periodicity(x: np.ndarray, sample_rate: int, f0_min: float = F0_MIN, f0_max: float = F0_MAX) -> float:
    """1 - min CMNDF (YIN) over lags of ``f0_max``..``f0_min``: ~1 for a steady voice, ~0
    for noise. ``x`` must hold at least two periods of ``f0_min`` plus the integration
    window (the detector passes 40 ms)."""
    return yin(x, sample_rate, f0_min, f0_max)[0]


def yin(x: np.ndarray, sample_rate: int, f0_min: float = F0_MIN, f0_max: float = F0_MAX) -> tuple[float, float]:
    """(periodicity, f0 in Hz) by YIN: the pitch is the bottom of the first CMNDF dip below
    ``YIN_DIP`` (the global minimum if none does), which avoids YIN's octave-down errors."""
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
        return 0.0, 0.0
    band = cmndf[lo - 1:hi]
    best = int(np.argmin(band))
    dips = np.flatnonzero(band < YIN_DIP)
    i = int(dips[0]) if dips.size else best
    while i + 1 < band.shape[0] and band[i + 1] < band[i]:  # to the bottom of that dip
        i += 1
    lag = lo + i
    return float(max(0.0, 1.0 - band[best])), sample_rate / lag


class BargeInPolicy:
    """Per-frame judge used by ``TurnDetector`` while the agent is audible.

    ``armed(t)``: strict rules apply to the frame captured at ``t``. ``update(frame, t,
    vad_speech)``: ``(Verdict, time)`` — the onset for DUCK and BARGE_IN, the frame time for
    RELEASE. ``echo_info(t)`` gives the canceller's ``EchoInfo`` for the frame (None without
    AEC). ``ducked``: a duck is on (the caller must see it released or confirmed).
    """

    def __init__(self, audio: AudioConfig, duplex: DuplexConfig,
                 audible: Callable[[float], bool],
                 echo_info: Callable[[float], object | None] | None = None) -> None:
        f = lambda s: duplex.frames(s, audio.frame_ms)  # noqa: E731 - the one conversion
        self.need, self.window, self.voiced_need = f(duplex.min_speech_s), f(duplex.window_s), f(duplex.min_voiced_s)
        self.duck_need, self.duck_hold, self.duck_release = f(duplex.duck_s), f(duplex.duck_hold_s), f(duplex.duck_release_s)
        self.duck_voiced = f(duplex.duck_voiced_s)
        self.clear_need, self.clear_after = f(duplex.clear_voiced_s), f(duplex.clear_after_s)
        self.clear_after_unadapted = f(duplex.clear_after_unadapted_s)
        self.config, self.sample_rate = duplex, audio.sample_rate
        self.slice = max(1, audio.sample_rate * IMPULSE_MS // 1000)
        self.tail_s = duplex.echo_tail_s
        self._audible, self._echo_info = audible, echo_info
        self._win = np.zeros(2 * audio.frame_size, np.float32)  # pitch window: last 2 frames
        self._hist: collections.deque = collections.deque(maxlen=self.window)
        self._levels: collections.deque = collections.deque(maxlen=3)  # last frame levels, dBFS
        self.rejected = collections.Counter()  # why frames did not count (diagnostics)
        self._run, self._run_onset, self._run_voiced, self._fresh = 0, 0.0, 0, True  # consecutive counted frames
        self._duck_at: float | None = None  # onset of the duck in progress
        self._duck_frames = self._quiet_frames = 0
        self._duck_speech, self._duck_clear = False, 0  # evidence since the duck began
        self._ref_quiet = 0  # consecutive frames with the canceller's reference quiet
        self._no_echo = False  # the canceller measured no echo path worth the name (headphones)
        self._near_tail = False  # the last counted frame was within tail_margin_db of the echo bound
        self._tail = self.clear_after  # ... needed for a frame to be clear of echo
        self._prev_pitch = np.nan

    def reset(self) -> None:
        self._hist.clear()
        self._levels.clear()
        self._win[:] = 0.0
        self.rejected.clear()
        self._end_run()
        self._ref_quiet = 0
        self._no_echo = self._near_tail = False
        self._prev_pitch = np.nan

    @property
    def ducked(self) -> bool:
        return self._duck_at is not None

    def _end_run(self) -> None:
        self._run, self._fresh = 0, True
        self._duck_at, self._duck_frames, self._quiet_frames = None, 0, 0

    def armed(self, t: float) -> bool:
        return self._audible(t - self.tail_s)

    def clear(self) -> None:
        """The agent went quiet (or a turn is on): drop partial evidence (and the duck: the
        caller releases it if ``ducked`` was set)."""
        self._hist.clear()
        self._end_run()

    def judge(self, frame: np.ndarray, t: float, vad_speech: bool) -> tuple[bool, bool, bool]:
        """(counts as user speech, voiced, voiced enough to duck: periodicity ``duck_voicing``)
        for one frame."""
        n = frame.shape[0]
        self._win[:n] = self._win[n:]
        self._win[n:] = frame
        level = 10 * np.log10(float(np.mean(np.square(frame, dtype=np.float64))) + 1e-12)
        self._levels.append(level)
        prev, self._prev_pitch = self._prev_pitch, np.nan
        # how long the reference has been quiet is a matter of time, counted on every frame
        # (counted on speech frames only, a pause between words held the confirmation back)
        info = self._echo_info(t) if self._echo_info is not None else None
        quiet = info is None or info.ref_db < max(self.config.ref_quiet_dbfs, level - self.config.faint_ref_db)
        self._ref_quiet = self._ref_quiet + 1 if quiet else 0
        self._tail = self.clear_after if getattr(info, "adapted", True) else self.clear_after_unadapted
        coupling = getattr(info, "coupling_db", None)
        self._no_echo = coupling is not None and coupling < self.config.no_echo_db
        if not vad_speech:
            return self._reject("vad")
        if level < self.config.min_level_dbfs:
            return self._reject("quiet")
        if info is not None and info.near_db < self.config.near_margin_db:
            return self._reject("echo")
        self._near_tail = info is not None and info.near_db < self.config.tail_margin_db
        if impulse_share(frame, self.slice) > self.config.impulse_share:
            return self._reject("impulse")
        p, hz = yin(self._win, self.sample_rate, F0_MIN, F0_MAX)
        st = 12 * np.log2(hz / 100.0) if hz > 0 else np.nan
        self._prev_pitch = st if p >= self.config.voicing_track else np.nan
        tracked = p >= self.config.voicing_track and abs(st - prev) <= self.config.track_semitones \
            and not self._decaying()
        voiced = (p >= self.config.voicing or tracked) and self._bright(frame)
        return True, voiced, voiced and p >= self.config.duck_voicing

    def _decaying(self) -> bool:
        """The frame is quieter than both frames before it by ``tail_decay_db``: the falling
        tail of a sound (the agent's own voice ringing in a reverberant room while the
        canceller has not converged), not a voice that starts or holds."""
        if len(self._levels) < 3:
            return False
        return self._levels[-1] < max(self._levels[-3], self._levels[-2]) - self.config.tail_decay_db

    def _bright(self, frame: np.ndarray) -> bool:
        """Energy above ~``min_bright_hz``: a voice's formants, not a thud's rumble (narrow-band
        low noise looks periodic to YIN). E[diff^2]/E[x^2] = 2(1 - cos 2 pi f/fs) for a tone."""
        x = frame.astype(np.float64)
        e = float(x @ x)
        d = np.diff(x)
        return e > 0 and float(d @ d) / e >= 2 * (1 - np.cos(2 * np.pi * self.config.min_bright_hz / self.sample_rate))

    def _reject(self, why: str) -> tuple[bool, bool, bool]:
        self.rejected[why] += 1
        return False, False, False

    def update(self, frame: np.ndarray, t: float, vad_speech: bool) -> tuple[Verdict, float]:
        counts, voiced, duck_voiced = self.judge(frame, t, vad_speech)
        clear = voiced and (self._echo_info is None or self._no_echo
                            or (self._ref_quiet > self._tail and not (self._near_tail and self._decaying())))
        self._hist.append((counts, voiced, t, clear))
        n = sum(1 for h in self._hist if h[0])
        v = sum(1 for h in self._hist if h[1])
        c = sum(1 for h in self._hist if h[3])
        speech = n >= self.need and v >= self.voiced_need
        if self._duck_at is not None:  # evidence gathered over the whole duck
            self._duck_speech, self._duck_clear = self._duck_speech or speech, self._duck_clear + clear
            confirmed = self._duck_speech and self._duck_clear >= self.clear_need
        else:
            confirmed = speech and c >= self.clear_need
        if confirmed:
            onset = self._duck_at if self._duck_at is not None else next(h[2] for h in self._hist if h[0])
            self._hist.clear()
            self._end_run()
            return Verdict.BARGE_IN, onset
        return self._duck_step(counts, duck_voiced, t)

    def _duck_step(self, counts: bool, voiced: bool, t: float) -> tuple[Verdict, float]:
        if counts:
            if self._run == 0:
                self._run_onset, self._run_voiced = t, 0
            self._run += 1
            self._run_voiced += voiced
        else:
            self._run, self._fresh = 0, True
        if self._duck_at is None:
            onset = self._run <= self.window  # a voice appears early in a run; a fan's run goes on
            if self._fresh and onset and self._run >= self.duck_need and self._run_voiced >= self.duck_voiced:
                self._duck_at, self._duck_frames, self._quiet_frames, self._fresh = self._run_onset, 0, 0, False
                self._duck_speech, self._duck_clear = False, 0
                return Verdict.DUCK, self._run_onset
            return Verdict.NONE, t
        self._duck_frames += 1
        self._quiet_frames = 0 if counts else self._quiet_frames + 1
        if self._duck_frames + self.duck_need >= self.duck_hold or self._quiet_frames >= self.duck_release:
            log.debug("duck at %.2f released at %.2f: speech %s, clear voiced frames %d, rejected %s",
                      self._duck_at, t, self._duck_speech, self._duck_clear, dict(self.rejected))
            self._duck_at = None
            return Verdict.RELEASE, t
        return Verdict.NONE, t
