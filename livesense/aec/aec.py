"""``EchoCanceller``: the bot must not hear itself.

Signal path per 20 ms mic frame::

    reference (what the speaker played, aligned to the mic by time)
        -> delay line (bulk delay from GCC-PHAT, minus a small margin)
        -> adaptive filter (MDF) -> error = mic - echo estimate
        -> residual echo suppressor -> clean frame (``latency`` samples late)

Two ways to give it the reference:

* explicit: ``process(mic, ref)`` with ``ref`` the samples the speaker played over the same
  span of time as ``mic`` (simulations, files);
* timed: the playback side calls ``push_reference(samples, t_out)`` with the time (on the
  injected clock) the first sample reaches the speaker, and the capture side calls
  ``process(mic, t_capture=t)`` with the capture time of the frame's first sample. The
  reference is kept in a preallocated timeline ring; positions follow the timestamps only
  when they drift by more than ``resync_ms`` (stamp jitter would otherwise shake the
  alignment). Whatever the timestamps get wrong (device and server latency), the delay
  estimator finds.

All state lives on the instance; ``reset()`` returns it to the initial state.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from livesense.aec.coupling import CouplingMeter
from livesense.aec.delay import DelayConfig, DelayEstimator
from livesense.aec.mdf import AdaptiveFilter
from livesense.aec.ring import TimelineRing
from livesense.aec.suppressor import ResidualSuppressor
from livesense.aec.tap import ReferenceTap
from livesense.frames import AudioFrame, Frame
from livesense.runtime.reframe import Reframer

log = logging.getLogger(__name__)

SCALE = 32768.0  # kernels work in int16 scale so the Speex-derived constants keep their meaning


@dataclass(frozen=True)
class AecConfig:
    sample_rate: int = 16000  # runtime rate; the reference must be pushed at this rate too
    frame_ms: int = 20  # process() unit, the capture/VAD frame
    block: int = 64  # adaptive filter block (4 ms): FFT 128 (radix-2); short blocks adapt often
    filter_ms: float = 256.0  # echo path modelled after the bulk delay: room tails (RT60 0.2-0.6 s)
    margin_ms: float = 6.0  # filter starts this before the estimated delay (> delay hysteresis_ms)
    min_leak: float = 0.005  # floor of the leak estimate (~-23 dB): the step never fully freezes
    adapt_max: float = 0.25  # step cap while the filter is still unconverged (Speex's value)
    suppress: bool = True  # residual echo suppression after the linear filter
    over: float = 2.0  # residual echo overestimation in the suppressor (more = more echo removed)
    floor_db: float = -30.0  # suppressor gain floor: deeper removes more echo, but pumps near-end
    dd: float = 0.9  # decision-directed smoothing of the a-priori ratio (musical noise vs lag)
    release_ms: float = 60.0  # residual echo hold: reverberation that outlives the filter
    delay_estimation: bool = True  # track the bulk delay; off: fixed initial_delay_ms
    initial_delay_ms: float = 0.0  # bulk delay until the estimator has found one
    delay: DelayConfig = field(default_factory=DelayConfig)
    ref_ring_s: float = 2.0  # timeline ring for pushed reference (playback runs ahead of capture)
    resync_ms: float = 10.0  # timestamps may wander this far before positions re-anchor
    unadapted_coupling_db: float = -10.0  # echo bound vs the reference before the filter has
    #                  converged: a frame counts as the user only within 4 dB (near_margin 6) of the
    #                  reference level or louder. Laptop echo is ~-6 dB: still rejected; a user as loud
    #                  as the playback passes (see DuplexConfig.near_margin_db). An echo path louder
    #                  than -4 dB (a lossless loopback) can self-interrupt until convergence; 0 dB
    #                  here would stop that but leave headphone users (no echo, the filter never
    #                  converges) unable to interrupt at their own level.
    echo_release_db_per_s: float = 150.0  # echo bound decay after the far end stops (RT60 0.4 s)
    coupling_s: float = 2.0  # time constant of the echo-path gain (echo estimate / reference)
    coupling_window_s: float = 3.0  # playback over which mic energy bounds the echo path (CouplingMeter)
    coupling_margin_db: float = 3.0  # the gain-based bound's allowance for a louder-than-usual echo
    settle_s: float = 1.0  # after the filter first converges, both bounds hold this long
    leak_rise_db_per_s: float = 3.0  # the bound's leak follows drops at once but rises slowly:
    #                                  near-end speech inflates the filter's leak estimate

    @property
    def frame_size(self) -> int:
        return self.sample_rate * self.frame_ms // 1000

    @property
    def partitions(self) -> int:
        return max(1, int(np.ceil(self.filter_ms * 1e-3 * self.sample_rate / self.block)))

    def samples(self, ms: float) -> int:
        """Milliseconds -> samples, the single place this rounding happens."""
        return int(round(ms * 1e-3 * self.sample_rate))


@dataclass(frozen=True)
class EchoInfo:
    """What the canceller knows about one 20 ms frame (levels in dBFS, RMS).

    ``residual_db`` bounds the echo the linear filter leaves in the frame (its echo estimate
    times the leak, whose rises are slowed down: double talk inflates it; before convergence the reference level times ``unadapted_coupling_db``),
    held with a release so a reverberant tail stays covered. ``near_db`` = output level
    minus that bound: near 0 or below, the frame is echo (or silence); well above, the near
    end is talking. The barge-in policy uses it to tell the user from the bot's own voice.
    """

    t_capture: float
    mic_db: float
    ref_db: float
    echo_db: float
    out_db: float
    residual_db: float
    adapted: bool
    coupling_db: float | None = None  # measured bound on the echo path's gain (CouplingMeter), None: unknown

    @property
    def near_db(self) -> float:
        return self.out_db - self.residual_db

    def echo_dominated(self, margin_db: float) -> bool:
        return self.near_db < margin_db


class EchoCanceller:
    def __init__(self, config: AecConfig | None = None) -> None:
        c = self.config = config or AecConfig()
        if c.frame_size % c.block:
            raise ValueError(f"frame ({c.frame_size}) must be a multiple of block ({c.block})")
        self.frame_size = c.frame_size
        self.filter = AdaptiveFilter(c.block, c.partitions, c.sample_rate, c.min_leak, c.adapt_max)
        self.suppressor = ResidualSuppressor(c.block, c.sample_rate, c.over, c.floor_db, c.dd,
                                             c.release_ms) if c.suppress else None
        self.estimator = DelayEstimator(c.sample_rate, c.delay, c.samples(c.initial_delay_ms))
        self.meter = CouplingMeter(c.frame_ms * 1e-3, c.coupling_window_s, c.delay.max_delay_s)
        span = (c.partitions + 1) * c.block + 2 * self.frame_size
        hist = max(c.samples(c.delay.max_delay_s * 1e3), c.samples(c.initial_delay_ms)) + span
        self._history = TimelineRing(hist)
        self._timeline = TimelineRing(c.samples(c.ref_ring_s * 1e3))
        self._lock = threading.Lock()
        n = self.frame_size
        self._ref = np.zeros(n, np.float32)  # time-aligned reference (timed path)
        self._xr = np.zeros(n, np.float32)  # reference after the bulk delay line
        self._x, self._d, self._e, self._y, self._o = (np.zeros(n) for _ in range(5))
        self.reset()

    @property
    def latency(self) -> int:
        """Samples by which the output lags the input (the suppressor's WOLA hop)."""
        return self.suppressor.latency if self.suppressor is not None else 0

    def reset(self) -> None:
        self.filter.reset()
        if self.suppressor is not None:
            self.suppressor.reset()
        self.estimator.reset()
        with self._lock:
            self._history.reset()
            self._timeline.reset()
            self._origin: float | None = None
            self._ref_next: int | None = None
        self._cap_next: int | None = None
        self._pos = 0
        self.delay = self.estimator.delay
        self.frames = self.ref_missing = 0
        self._bound_db = -120.0
        self._leak_db: float | None = None
        self._adapted_frames = 0
        self._ref_env_db = -120.0
        self._coupling_db: float | None = None
        self.meter.reset()
        self._measured_db: float | None = None
        self.info: EchoInfo | None = None  # the last frame's levels (see EchoInfo)

    # ---- playback side -------------------------------------------------------------
    def push_reference(self, samples: np.ndarray, t_out: float, sample_rate: int | None = None) -> None:
        """The speaker plays ``samples`` from ``t_out`` (clock seconds). Copies only."""
        if sample_rate is not None and sample_rate != self.config.sample_rate:
            raise ValueError(f"reference at {sample_rate} Hz: the playback side must push the "
                             f"{self.config.sample_rate} Hz stream (before device resampling)")
        x = np.asarray(samples, np.float32).reshape(-1)
        with self._lock:
            if self._origin is None:
                self._origin = t_out
            pos = self._anchor(t_out, self._ref_next)
            self._timeline.write(pos, x)
            self._ref_next = pos + x.shape[0]

    def cut_reference(self, t_cut: float) -> None:
        """The speaker dropped its queue at ``t_cut``: the reference pushed for later times
        was never played (zeroed); the next push anchors on its own time stamp."""
        with self._lock:
            if self._origin is None:
                return
            self._timeline.clear_from(int(round((t_cut - self._origin) * self.config.sample_rate)))
            self._ref_next = None

    def _anchor(self, t: float, expected: int | None) -> int:
        pos = int(round((t - self._origin) * self.config.sample_rate))
        if expected is None or abs(pos - expected) > self.config.samples(self.config.resync_ms):
            if expected is not None:
                log.info("aec: timestamps jumped %.1f ms; re-anchoring",
                         1e3 * (pos - expected) / self.config.sample_rate)
            return pos
        return expected

    def _timed_reference(self, t_capture: float) -> np.ndarray:
        with self._lock:
            if self._origin is None:
                self._origin = t_capture
            pos = self._anchor(t_capture, self._cap_next)
            held = self._timeline.read_into(pos, self._ref)
        self._cap_next = pos + self.frame_size
        self.ref_missing += held < self.frame_size
        return self._ref

    # ---- capture side --------------------------------------------------------------
    def process(self, mic: np.ndarray, ref: np.ndarray | None = None, *,
                t_capture: float | None = None, info: list[EchoInfo] | None = None) -> np.ndarray:
        """Clean a whole number of frames of mic audio; returns float32 of the same length.
        ``info``: if given, one ``EchoInfo`` per frame is appended to it."""
        mic = np.asarray(mic, np.float32).reshape(-1)
        n = self.frame_size
        if mic.shape[0] % n:
            raise ValueError(f"mic chunk of {mic.shape[0]} samples is not a whole number of "
                             f"{n}-sample frames; the caller must reframe (runtime.reframe)")
        if ref is None and t_capture is None:
            raise ValueError("give the reference frame or the capture time (push_reference path)")
        out = np.empty(mic.shape[0], np.float32)
        for i in range(0, mic.shape[0], n):
            if ref is not None:
                r = np.asarray(ref[i:i + n], np.float32)
            else:
                r = self._timed_reference(t_capture + i / self.config.sample_rate)
            out[i:i + n] = self._frame(mic[i:i + n], r)
            if info is not None:
                t = (t_capture if t_capture is not None else 0.0) + i / self.config.sample_rate
                info.append(self._info(t))
        return out

    def _frame(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        mic = np.nan_to_num(mic, nan=0.0, posinf=1.0, neginf=-1.0)  # a broken driver must not
        ref = np.nan_to_num(ref, nan=0.0, posinf=1.0, neginf=-1.0)  # poison the filter state
        self._history.write(self._pos, ref)
        if self.config.delay_estimation and self.estimator.push(mic, ref):
            self._set_delay(self.estimator.delay)
        self._history.read_into(self._pos - self._offset(), self._xr)
        self._pos += self.frame_size
        np.multiply(self._xr, SCALE, out=self._x)
        np.multiply(mic, SCALE, out=self._d)
        self.filter.process(self._x, self._d, self._e, self._y)
        if self.suppressor is not None:
            # until the filter has converged its echo estimate is no model of the room (with
            # no echo path at all it never converges): suppressing against it only distorts
            # the near end, so the suppressor stays transparent (same latency) until then
            leak = self.filter.leak if self.filter.adapted else 0.0
            self.suppressor.process(self._e, self._y, leak, self._o)
        else:
            self._o[:] = self._e
        self.frames += 1
        self._measure()
        return np.clip(self._o / SCALE, -1.0, 1.0).astype(np.float32)

    def _measure(self) -> None:
        """Per-frame levels for ``EchoInfo`` (five dot products; no allocation of note)."""
        c, n = self.config, self.frame_size
        db = lambda v: 10.0 * np.log10(float(v @ v) / (n * SCALE * SCALE) + 1e-12)  # noqa: E731
        self._levels = (db(self._d), db(self._x), db(self._y), db(self._o))
        ref_db, echo_db = self._levels[1], self._levels[2]
        self._measured_db = self.meter.push(10.0 ** (self._levels[0] / 10.0), 10.0 ** (ref_db / 10.0))
        release = c.echo_release_db_per_s * c.frame_ms * 1e-3
        self._ref_env_db = max(ref_db, self._ref_env_db - release)
        coupling = c.unadapted_coupling_db  # before convergence: the reference, unless the mic
        if self._measured_db is not None:  # has shown the echo to be quieter (headphones)
            coupling = min(coupling, self._measured_db + c.coupling_margin_db)
        bound = self._ref_env_db + coupling
        if self.filter.adapted:
            leak_db = 10.0 * np.log10(max(self.filter.leak, c.min_leak))
            rise = c.leak_rise_db_per_s * c.frame_ms * 1e-3
            self._leak_db = leak_db if self._leak_db is None else min(leak_db, self._leak_db + rise)
            over = self._leak_db + 10.0 * np.log10(c.over)
            linear = min(echo_db, self._gain_bound(echo_db)) + over
            self._adapted_frames += 1
            settled = self._adapted_frames * c.frame_ms * 1e-3 >= c.settle_s
            bound = linear if settled else max(bound, linear)
        self._bound_db = max(bound, self._bound_db - release, -120.0)

    def _gain_bound(self, echo_db: float) -> float:
        """Echo bound from the reference envelope and the slowly tracked echo-path gain:
        double talk can inflate the filter's echo estimate within 100 ms, not this."""
        c = self.config
        if self._ref_env_db > -60.0:
            g = echo_db - self._ref_env_db
            a = c.frame_ms * 1e-3 / c.coupling_s
            self._coupling_db = g if self._coupling_db is None else (1 - a) * self._coupling_db + a * g
        if self._coupling_db is None:
            return 0.0
        return self._ref_env_db + self._coupling_db + c.coupling_margin_db

    def _info(self, t_capture: float) -> EchoInfo:
        mic_db, ref_db, echo_db, out_db = self._levels
        info = EchoInfo(t_capture, mic_db, ref_db, echo_db, out_db, self._bound_db,
                        self.filter.adapted, self._measured_db)
        self.info = info
        return info

    def _offset(self) -> int:
        return max(self.delay - self.config.samples(self.config.margin_ms), 0)

    def _set_delay(self, delay: int) -> None:
        """Re-align the reference to a new bulk delay.

        If the filter already models the echo where the new delay puts it (it found the
        echo at the old alignment, e.g. before the first estimate), its weights move with
        the alignment (by whole blocks) so nothing is relearnt. Otherwise the device
        latency itself changed and the room model stays valid as it is. Either way the
        reference history is rebuilt at the new alignment: no transient, no freeze.
        """
        old_offset, B = self._offset(), self.config.block
        margin = self.config.samples(self.config.margin_ms)
        s = int(round((max(delay - margin, 0) - old_offset) / B))
        peak = self.filter.peak_partition()
        if s > 0 and peak is not None and abs(peak - s - margin / B) < abs(peak - margin / B):
            self.filter.shift(s)
            delay = old_offset + s * B + margin  # exactly s blocks: the moved weights fit
            log.info("aec: filter weights moved %d blocks with the delay", s)
        self.delay = delay
        if self._offset() != old_offset:
            x = np.empty((self.filter.partitions + 1) * B, np.float32)
            self._history.read_into(self._pos - self._offset() - x.shape[0], x)
            self.filter.load_history(x.astype(np.float64) * SCALE)

    def stats(self) -> dict[str, float]:
        return {"delay_ms": 1e3 * self.delay / self.config.sample_rate, "leak": self.filter.leak,
                "adapted": float(self.filter.adapted), "filter_resets": float(self.filter.resets),
                "delay_changes": float(self.estimator.changes), "frames": float(self.frames),
                "ref_missing_frames": float(self.ref_missing)}


class EchoCancelStage:
    """Stage: mic AudioFrames in (any chunking), echo-cancelled 20 ms AudioFrames out.

    The reference comes from the playback side through ``canceller.push_reference``; each
    output frame is stamped with the capture time of its content (input time minus the
    canceller's latency). Other frames pass through in order.
    """

    name = "aec"

    def __init__(self, canceller: EchoCanceller | None = None, tap: "ReferenceTap | None" = None,
                 echo_log: "EchoLog | None" = None) -> None:
        self.canceller = canceller or EchoCanceller()
        c = self.canceller.config
        self.reframer = Reframer(c.frame_size, c.sample_rate)
        self._lag_s = self.canceller.latency / c.sample_rate
        self.tap = tap  # speaker-side reference, drained here (worker thread) before each frame
        self.log = echo_log or EchoLog()  # per-frame EchoInfo, read by the barge-in policy

    def reset(self) -> None:
        self.reframer.reset()
        self.canceller.reset()
        self.log.reset()

    def step(self, frame: Frame) -> list[Frame]:
        if not isinstance(frame, AudioFrame):
            return [frame]
        if self.tap is not None:
            self.tap.drain(self.canceller)
        out: list[Frame] = []
        info: list[EchoInfo] = []
        for f in self.reframer.push(frame):
            clean = self.canceller.process(f.samples, t_capture=f.t_capture, info=info)
            t = f.t_capture - self._lag_s
            self.log.put(t, info[-1])
            out.append(AudioFrame(clean, f.sample_rate, t, f.turn))
        return out


class EchoLog:
    """The last ``size`` frames' ``EchoInfo`` by output capture time, shared between the
    AEC stage (writer) and the turn detector's barge-in policy (reader, another thread).
    A frame's info is written before the frame is sent on, so the reader always finds it."""

    def __init__(self, size: int = 256, frame_s: float = 0.02) -> None:
        self._t = np.full(size, np.nan)
        self._info: list[EchoInfo | None] = [None] * size
        self._i = 0
        self._half = frame_s / 2
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._t[:] = np.nan
            self._info = [None] * len(self._info)

    def put(self, t: float, info: EchoInfo) -> None:
        with self._lock:
            k = self._i % len(self._info)
            self._t[k], self._info[k] = t, info
            self._i += 1

    def get(self, t: float) -> EchoInfo | None:
        """The info of the frame captured at ``t`` (within half a frame), or None."""
        with self._lock:
            d = np.abs(self._t - t)
            if np.all(np.isnan(d)):
                return None
            k = int(np.nanargmin(d))
            return self._info[k] if d[k] <= self._half else None
