"""Write reply audio to a WAV file, optionally time-aligned with the input.

``realtime=False``: replies are written back to back (the file is the agent's speech only).
``realtime=True``: each sample is placed at the moment it was produced on the clock,
relative to ``t_start`` (pass the input source's start time and the output lines up with the
input sample for sample); the gaps between replies are silence. Audio placed ahead of "now"
is held back until its time has come, so ``interrupt()`` (barge-in) can cut what would not
have been played, exactly like the speaker's flush, and ``hold()`` / ``release()`` pause it
like the speaker's duck (the timeline runs on in silence; nothing placed is lost).

The file is flushed (header rewritten) every ``flush_every_s`` of audio and closed on
``close()``, on leaving a ``with`` block (Ctrl-C included: KeyboardInterrupt unwinds it) and,
as a last resort, when the object is garbage-collected or the interpreter exits.
"""

from __future__ import annotations

import logging
import os
import weakref

import numpy as np

from livesense.capture.resample import StreamResampler
from livesense.clock import Clock, MonotonicClock
from livesense.frames import AudioFrame, EndOfStream, Frame, Interrupt, ReplyEnd

log = logging.getLogger(__name__)


class WavSink:
    """A Stage that writes AudioFrames to ``path`` (mono, ``sample_rate``)."""

    name = "wavsink"

    def __init__(self, path: str | os.PathLike, sample_rate: int = 16000,
                 realtime: bool = False, clock: Clock | None = None,
                 t_start: float | None = None, subtype: str = "PCM_16",
                 flush_every_s: float = 0.5) -> None:
        import soundfile as sf

        self.path, self.sample_rate, self.realtime = os.fspath(path), int(sample_rate), realtime
        self.clock = clock or MonotonicClock()
        self.t_start = self.clock.now() if t_start is None else t_start
        self._file = sf.SoundFile(self.path, "w", self.sample_rate, 1, subtype)
        self._finalizer = weakref.finalize(self, self._file.close)
        self._pending = np.zeros(self.sample_rate, np.float32)  # placed but not yet due
        self._n_pending = 0
        self.committed = 0  # samples in the file
        self._since_flush = 0
        self._flush_every = round(flush_every_s * self.sample_rate)
        self._resamplers: dict[int, StreamResampler] = {}
        self.held = False

    # ---- Stage ---------------------------------------------------------------------
    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, AudioFrame):
            self.write(frame)
        elif isinstance(frame, Interrupt):
            self.interrupt()
        elif isinstance(frame, (ReplyEnd, EndOfStream)):
            self.end_reply()
        return []

    def reset(self) -> None:
        self.interrupt()

    # ---- writing -------------------------------------------------------------------
    def write(self, frame: AudioFrame) -> None:
        samples = np.asarray(frame.samples, np.float32).reshape(-1)
        if frame.sample_rate != self.sample_rate:
            samples = self._resampler(frame.sample_rate).process(samples)
        if self.realtime and not self.held:
            now = self._now_pos()
            self._commit(now)
            if self.end < now:  # a new reply after a pause: silence up to now
                self._write_file(np.zeros(now - self.end, np.float32))
        self._append(samples)
        if not self.realtime:
            self._commit(self.end)

    def interrupt(self) -> int:
        """Drop audio placed after now (it would not have been heard); return how much."""
        for resampler in self._resamplers.values():
            resampler.reset()
        if not self.realtime:
            return 0
        self._commit(self._now_pos())
        dropped, self._n_pending = self._n_pending, 0
        self.release()
        return dropped

    def hold(self) -> None:
        """Pause (real time only): what is due is written, the rest waits for ``release``."""
        if self.realtime and not self.held:
            self._commit(self._now_pos())
            self.held = True

    def release(self) -> None:
        """Resume: the time held becomes silence, the waiting audio plays on from now."""
        if not self.held:
            return
        self.held = False
        now = self._now_pos()
        if now > self.committed:
            self._write_file(np.zeros(now - self.committed, np.float32))

    def end_reply(self) -> None:
        """The reply is complete: write the resampler tails (only matters for other rates)."""
        for resampler in self._resamplers.values():
            tail = resampler.flush()
            if tail.size:
                self._append(tail)

    _end_reply = end_reply  # old name, kept for callers

    @property
    def end(self) -> int:
        """Timeline position (samples) just after the last sample placed."""
        return self.committed + self._n_pending

    def _now_pos(self) -> int:
        return max(0, round((self.clock.now() - self.t_start) * self.sample_rate))

    def _append(self, samples: np.ndarray) -> None:
        need = self._n_pending + samples.shape[0]
        if need > self._pending.shape[0]:
            grown = np.zeros(max(need, 2 * self._pending.shape[0]), np.float32)
            grown[: self._n_pending] = self._pending[: self._n_pending]
            self._pending = grown
        self._pending[self._n_pending : need] = samples
        self._n_pending = need

    def _commit(self, upto: int) -> None:
        """Move pending samples with timeline position < ``upto`` into the file."""
        if self.held:
            return
        n = min(self._n_pending, max(0, upto - self.committed))
        if n == 0:
            return
        self._write_file(self._pending[:n])
        self._pending[: self._n_pending - n] = self._pending[n : self._n_pending]
        self._n_pending -= n

    def _write_file(self, samples: np.ndarray) -> None:
        self._file.write(samples)
        self.committed += samples.shape[0]
        self._since_flush += samples.shape[0]
        if self._since_flush >= self._flush_every:
            self._file.flush()
            self._since_flush = 0

    def _resampler(self, rate: int) -> StreamResampler:
        if rate not in self._resamplers:
            self._resamplers[rate] = StreamResampler(rate, self.sample_rate)
        return self._resamplers[rate]

    # ---- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Write everything placed (a pending reply is written whole) and close the file.
        In real time the timeline runs up to the moment of closing, silence included."""
        if self._file.closed:
            return
        self.release()
        if self.realtime:
            now = self._now_pos()
            self._commit(now)
            if self.end < now:
                self._write_file(np.zeros(now - self.end, np.float32))
        self.end_reply()
        self._commit(self.end)
        self._file.close()
        self._finalizer.detach()
        log.info("wavsink: wrote %.2f s to %s", self.committed / self.sample_rate, self.path)

    def __enter__(self) -> "WavSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def duration(self) -> float:
        return self.end / self.sample_rate
