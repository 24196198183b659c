"""Speaker output: AudioFrames -> JitterBuffer -> PortAudio OutputStream.

The output callback only copies one block out of the jitter buffer, telling it when that
block reaches the DAC (``outputBufferDacTime`` mapped onto the injected clock), so each
reply's "first agent sample at the output" time is known (``last_reply()``).

Frames at any rate are accepted; they are resampled (streaming) to the device rate when the
device does not take the runtime rate. ``Interrupt`` flushes everything queued at once;
``Duck``/``Unduck`` hold and resume it (a tentative barge-in, see playback/jitter.py);
``ReplyEnd``/``EndOfStream`` (or ``end_reply()``) marks the end of a reply so its drain is not counted as
an underrun (see playback/jitter.py for the exact underrun definition).

The device's own queue: the callback runs one output latency (>= 0.1 s on PulseAudio)
ahead of the DAC, so a flush or a duck in the jitter buffer alone would still let that
much of the agent's voice play over the user. With ``PlaybackConfig.cut_device`` a duck or
an interrupt also aborts the stream (PortAudio drops what the device has queued; measured
on PulseAudio: the queue is not played, the sound stops 4-26 ms after the abort, what the
server had already committed) and starts it again
at once: the jitter buffer takes back the samples the device never played (``hold`` /
``flush`` with ``cut_at``), and ``on_cut(t)`` tells the echo canceller's reference tap that
nothing was played from ``t`` on. The cut is abrupt (no fade: the faded samples were in
the dropped queue), which is the price of going quiet ~0.1 s sooner.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from livesense.capture.devices import close_stream, import_sounddevice, resolve_device
from livesense.capture.resample import StreamResampler
from livesense.clock import Clock, MonotonicClock
from livesense.config import AudioConfig, PlaybackConfig
from livesense.errors import DeviceError
from livesense.frames import AudioFrame, Duck, EndOfStream, Frame, Interrupt, ReplyEnd, Unduck
from livesense.playback.jitter import JitterBuffer, ReplyTiming

log = logging.getLogger(__name__)

MIN_LATENCY_S = 0.1  # below this PulseAudio underran on a shared core (FACTS.md)
SLOW_CUT_S = 0.15  # an abort + restart slower than this (some Bluetooth / remote devices) stops cutting:
#                    holding the output thread that long would cost more than the latency it saves


class SpeakerSink:
    """Plays reply audio; a Stage (``step`` consumes frames, returns nothing)."""

    name = "speaker"

    def __init__(self, config: AudioConfig | None = None,
                 playback: PlaybackConfig | None = None, clock: Clock | None = None,
                 device: str | int | None = None, device_rate: int | None = None,
                 start_timeout_s: float = 5.0, on_played=None, on_cut=None) -> None:
        self.config = config or AudioConfig()
        self.playback = playback or PlaybackConfig()
        self.clock = clock or MonotonicClock()
        self.device_spec = device if device is not None else self.config.output_device
        self.device_rate = device_rate
        self.jitter: JitterBuffer | None = None
        self._stream = None
        self._lost = threading.Event()
        self._resamplers: dict[int, StreamResampler] = {}
        self.start_timeout_s = start_timeout_s
        self.output_underflows = 0  # PortAudio-level underflows (host starved us)
        self.callbacks = 0
        self.ahead_s = 0.0  # last measured callback -> DAC delay (the output latency)
        self._t_first_cb: float | None = None
        self._running = threading.Event()
        # reference tap for echo cancellation: on_played(block, t_dac, device_rate) is called
        # from the callback with each block handed to the device; it must only copy
        # (livesense.aec.tap.ReferenceTap does)
        self.on_played = on_played
        self.on_cut = on_cut  # on_cut(t): the device dropped everything it was to play from t
        self.cuts = 0
        self._cut_off = False  # set after a slow cut: the device's queue plays out from then on
        self._cutting = False  # an abort of our own: its finished callback is not a lost device

    # ---- lifecycle -----------------------------------------------------------------
    def start(self, wait: bool = True) -> "SpeakerSink":
        """Open and start the stream. With ``wait``, return only once the device consumes
        audio in real time: a fresh PulseAudio stream pre-fills its buffer and then stalled
        for ~1.5 s here before running, which would otherwise delay the first reply."""
        if self._stream is not None:
            return self
        sd = import_sounddevice()
        index = resolve_device(self.device_spec, "output")
        rate = self.device_rate or self._pick_rate(sd, index)
        self.device_rate = rate
        self.blocksize = rate * self.config.output_block_ms // 1000
        self.jitter = JitterBuffer(rate, self.playback.prebuffer_s, self.playback.max_buffer_s,
                                   self.clock, fade_s=self.playback.duck_fade_s)
        self._t_first_cb = None
        self._running.clear()
        self._lost.clear()
        self._stream = self._open(sd, index, rate)
        self._stream.start()
        log.info("speaker: device %s at %d Hz, block %d, latency %.3f s", index, rate,
                 self.blocksize, self._stream.latency)
        if wait and not self._running.wait(self.start_timeout_s):
            self.stop()
            raise DeviceError(f"output device {self.device_spec or 'default'!r} did not start "
                              f"playing within {self.start_timeout_s:.1f} s")
        return self

    def _pick_rate(self, sd, index: int | None) -> int:
        try:
            sd.check_output_settings(device=index, channels=1, dtype="float32",
                                     samplerate=self.config.sample_rate)
            return self.config.sample_rate
        except Exception:  # rate not supported by this device
            return int(sd.query_devices(index, "output")["default_samplerate"])

    def _open(self, sd, index: int | None, rate: int):
        latency = max(MIN_LATENCY_S, self.config.output_latency_s)
        try:
            return sd.OutputStream(device=index, samplerate=rate, blocksize=self.blocksize,
                                   channels=1, dtype="float32", latency=latency,
                                   callback=self._callback, finished_callback=self._finished)
        except Exception as e:
            name = index if index is not None else "default"
            raise DeviceError(f"cannot open output device {name} at {rate} Hz: {e}") from e

    def _finished(self) -> None:
        """PortAudio's stream-finished callback: the device is lost unless the stream was
        aborted by a cut of our own (during it, or late, once the restarted stream runs)."""
        stream = self._stream
        if self._cutting or (stream is not None and stream.active):
            return
        self._lost.set()

    def _cut(self, apply):
        """``apply(t)`` with the device's queue dropped at ``t``: abort the stream, let the
        jitter buffer take back what was not played, tell ``on_cut``, start again (no
        callback runs in between); ``apply(None)`` when there is nothing to cut. Returns
        what ``apply`` returns."""
        stream = self._stream
        live = (self.playback.cut_device and not self._cut_off and stream is not None and stream.active
                and not self._lost.is_set() and self.jitter.handed_until > self.clock.now())
        if not live:  # nothing of ours in the device's queue, or no stream to cut
            return apply(None)
        self._cutting = True
        try:
            t = self.clock.now()  # taken before the abort: a sample of that ~1 ms may play twice, none is lost
            t_wall = time.monotonic()
            try:
                stream.abort()
            except Exception as e:
                log.warning("speaker: could not abort the stream: %s", e)
                return apply(None)
            result = apply(t)
            if self.on_cut is not None:
                self.on_cut(t)
            try:
                stream.start()
            except Exception as e:  # the device went away under us: the next write reports it
                log.warning("speaker: could not restart the stream after a cut: %s", e)
                self._lost.set()
                return result
            self.cuts += 1
            took = time.monotonic() - t_wall
            if took > SLOW_CUT_S:
                self._cut_off = True
                log.warning("speaker: dropping the device's queue took %.0f ms; not cutting any more "
                            "(a barge-in will be heard %.0f ms later)", 1e3 * took, 1e3 * self.ahead_s)
            return result
        finally:
            self._cutting = False

    def stop(self) -> None:
        """Stop and close the stream at once (queued audio is discarded); idempotent."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        close_stream(stream, "speaker")

    close = stop

    def __enter__(self) -> "SpeakerSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- callback thread: copies only --------------------------------------------
    def _callback(self, outdata, frames, time_info, status) -> None:
        self.callbacks += 1
        if status.output_underflow:
            self.output_underflows += 1
        now = self.clock.now()
        ahead = time_info.outputBufferDacTime - time_info.currentTime
        if not 0.0 <= ahead < 2.0:
            ahead = self._stream.latency if self._stream is not None else 0.0
        self.ahead_s = ahead
        self.jitter.pull(outdata[:, 0], now + ahead)
        if self.on_played is not None:
            self.on_played(outdata[:, 0], now + ahead, self.device_rate)
        if not self._running.is_set():
            self._note_running(time.monotonic())

    def _note_running(self, now: float) -> None:
        """Running = callbacks spread over 2 blocks of wall time (pre-fill calls come at
        once). Wall time, not the injected clock: this is about the real device."""
        if self._t_first_cb is None:
            self._t_first_cb = now
        elif now - self._t_first_cb >= 2 * self.blocksize / self.device_rate:
            self._running.set()

    # ---- producer side -------------------------------------------------------------
    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, AudioFrame):
            self.write(frame)
        elif isinstance(frame, Interrupt):
            self.interrupt()
        elif isinstance(frame, (Duck, Unduck)):
            self.duck(isinstance(frame, Duck))
        elif isinstance(frame, (ReplyEnd, EndOfStream)):
            self.end_reply()
        return []

    def reset(self) -> None:
        self.interrupt()

    def write(self, frame: AudioFrame) -> int:
        """Queue a frame of reply audio; return device samples accepted."""
        self._check_alive()
        samples = np.asarray(frame.samples, np.float32).reshape(-1)
        if frame.sample_rate != self.device_rate:
            samples = self._resampler(frame.sample_rate).process(samples)
        return self.jitter.push(samples)

    def end_reply(self) -> None:
        """The reply is complete: push the resampler tails, let the buffer drain."""
        if self.jitter is None:
            return
        for resampler in self._resamplers.values():
            tail = resampler.flush()
            if tail.size:
                self.jitter.push(tail)
        self.jitter.end_reply()

    @property
    def cuts_device(self) -> bool:
        """A duck or a flush silences the output at once (the device's queue is dropped)."""
        return self.playback.cut_device and not self._cut_off

    def duck(self, on: bool) -> None:
        """Barge-in suspected: hold the queued audio (nothing dropped), or resume. With
        ``cut_device`` the device's queue is dropped too and its unplayed part re-queued."""
        if self.jitter is None:
            return
        if on and not self.jitter.held:
            self._cut(lambda t: self.jitter.hold(cut_at=t))
        elif not on:
            self.jitter.release()

    def interrupt(self) -> int:
        """Barge-in: drop everything queued now (the device's queue too, with
        ``cut_device``, unless a duck has already silenced it); return samples dropped."""
        for resampler in self._resamplers.values():
            resampler.reset()
        if self.jitter is None:
            return 0
        if self.jitter.held:  # the duck has silenced the device already
            return self.jitter.flush()
        return self._cut(lambda t: self.jitter.flush(cut_at=t))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the queued reply has been handed to the device (wall time)."""
        return self.jitter is None or self.jitter.wait_idle(timeout)

    def _resampler(self, rate: int) -> StreamResampler:
        if rate not in self._resamplers:
            self._resamplers[rate] = StreamResampler(rate, self.device_rate)
        return self._resamplers[rate]

    def _check_alive(self) -> None:
        if self._stream is None:
            raise DeviceError("speaker is not started (call start() or use it as a context)")
        if self._lost.is_set() or not self._stream.active:
            name = self.device_spec if self.device_spec is not None else "default"
            self.stop()
            raise DeviceError(f"output device {name!r} was lost: the audio stream stopped")

    # ---- inspection ----------------------------------------------------------------
    def last_reply(self) -> ReplyTiming | None:
        """Timing of the most recent finished reply (t_first_out = first sample at the DAC)."""
        replies = self.jitter.replies() if self.jitter is not None else []
        return replies[-1] if replies else None

    def current_reply(self) -> ReplyTiming | None:
        """The reply ``write`` is feeding (see JitterBuffer.current_reply)."""
        return self.jitter.current_reply() if self.jitter is not None else None

    def playing_reply(self) -> ReplyTiming | None:
        return self.jitter.playing_reply() if self.jitter is not None else None

    def stats(self) -> dict[str, int]:
        out = {"callbacks": self.callbacks, "output_underflows": self.output_underflows, "cuts": self.cuts}
        if self.jitter is not None:
            out.update(self.jitter.stats())
        return out
