"""Jitter buffer between the reply producer (decoder thread) and the output callback.

Samples arrive in bursts (the model runs faster than real time, then stalls); the output
callback drains fixed blocks at the device's pace. The buffer is one preallocated float32
ring; ``push`` copies in, ``pull`` copies out, both under a short lock.

Reply life cycle and what counts as an underrun
-----------------------------------------------
A *reply* starts with the first ``push`` after the buffer was idle and ends when the
producer calls ``end_reply()`` and the device has taken its last sample (or on ``flush``).

* ``IDLE``      nothing to play; ``pull`` returns zeros. Silence between replies is the
                normal state of a conversation and is **not** an underrun.
* ``PREBUFFER`` a reply has begun but fewer than ``prebuffer`` samples are queued; ``pull``
                returns zeros while it fills (designed latency, not an underrun). A reply
                shorter than the prebuffer starts as soon as ``end_reply()`` is called.
* ``PLAYING``   ``pull`` copies reply samples. If the ring runs dry *before* the producer
                said the reply ended, the device is fed zeros in the middle of speech: that
                is an underrun (``underruns`` += 1 per gap, ``underrun_samples`` += zeros
                inserted), and the buffer re-prebuffers before resuming so one slow decode
                step does not turn into a stutter. Draining after ``end_reply()`` is the
                natural end of the reply and is not counted.

So the producer must call ``end_reply()`` when a reply is complete; without it the end of
every reply would read as one underrun (that is deliberate: the buffer cannot tell a late
sample from a finished reply).

Timing: ``pull(out, t_out)`` is told when the first sample of ``out`` reaches the DAC (on
the injected clock); the buffer records, per reply, when its first sample was pushed and
when its first and last samples were handed to the device (``replies()``,
``current_reply()``), which is what mouth-to-ear latency needs.

``flush()`` (on ``Interrupt``) empties the ring at once and returns the samples dropped; the
next ``pull`` returns zeros, so at most the block already handed to the device plays on.

``hold()`` (on ``Duck``: maybe the user is barging in) keeps every queued sample but stops
handing them out: the next ``pull`` fades out over ``fade_s`` (a raised cosine, no click)
and gives silence after it; ``release()`` (on ``Unduck``) resumes from the very next sample
with a fade-in of the same length. Nothing is lost: every sample pushed is handed out once
(the faded ones attenuated). Silence while held is neither an underrun nor a reply end; a
``flush()`` while held drops the held audio and ends the hold. ``hold_times()``: when each
hold reached the DAC (end of its fade), on the injected clock.

A device that can drop what it has queued (PortAudio's abort; see playback/speaker.py)
silences a duck or a flush at once instead of one output latency later. The buffer must
then be told when the sound stopped: ``hold(cut_at=t)`` / ``flush(cut_at=t)``. Every reply
sample handed out for a DAC time at or after ``t`` never reached the ear: on a hold those
samples go back to the head of the queue (they were not heard, so ``release()`` plays them
first: still nothing lost, and no fade, the device cut them); on a flush they are dropped
with the rest. The reply's ``t_last_out`` and the hold time become ``t``. Only samples of
the reply now playing are given back (``_pulls`` keeps the last blocks handed out).
Pushing beyond ``capacity`` is refused and counted (``overruns``, ``overrun_samples``).
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import numpy as np

from livesense.capture.ring import get_wrapped, put_wrapped
from livesense.clock import Clock, MonotonicClock, samples_before

IDLE, PREBUFFER, PLAYING = "idle", "prebuffer", "playing"


@dataclass
class ReplyTiming:
    """Timing of one reply on the injected clock (None where it never happened)."""

    index: int  # replies counted from 0 since the buffer was made
    t_first_push: float  # producer handed the first sample
    t_first_out: float | None  # first sample reaches the DAC (per the output stream)
    t_last_out: float | None  # end of the last sample handed to the device
    samples_played: int
    underruns: int
    interrupted: bool  # ended by flush()


class _Reply:
    __slots__ = ("index", "start", "end", "t_push", "t_first", "t_last", "played", "underruns")

    def __init__(self, index: int, start: int, t_push: float) -> None:
        self.index, self.start, self.end, self.t_push = index, start, None, t_push
        self.t_first = self.t_last = None
        self.played = self.underruns = 0

    def timing(self, interrupted: bool) -> ReplyTiming:
        return ReplyTiming(self.index, self.t_push, self.t_first, self.t_last,
                           self.played, self.underruns, interrupted)


class JitterBuffer:
    """Preallocated reply-audio FIFO with prebuffering, underrun/overrun accounting, flush."""

    def __init__(self, sample_rate: int, prebuffer_s: float = 0.04,
                 max_buffer_s: float = 30.0, clock: Clock | None = None,
                 history: int = 64, fade_s: float = 0.005) -> None:
        self.sample_rate = int(sample_rate)
        self.capacity = max(1, round(max_buffer_s * sample_rate))
        self.prebuffer = max(0, round(prebuffer_s * sample_rate))
        self.clock = clock or MonotonicClock()
        self._data = np.zeros(self.capacity, np.float32)
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._history: collections.deque[ReplyTiming] = collections.deque(maxlen=history)
        self._head = self._size = 0
        self._pushed = self._played = 0  # absolute sample counters (accepted / handed out)
        self._state, self._rebuffering = IDLE, False
        self._cur: _Reply | None = None
        self._next: _Reply | None = None  # a reply queued behind one still draining
        self._n_replies = 0
        self.underruns = self.underrun_samples = 0
        self.overruns = self.overrun_samples = 0
        self.flushes = self.flushed_samples = 0
        fade = max(1, round(fade_s * self.sample_rate))
        self._fade = (0.5 + 0.5 * np.cos(np.pi * (np.arange(fade) + 1) / (fade + 1))).astype(np.float32)  # 1 -> 0
        self._held = self._fading_out = self._fading_in = False
        self._hold_times: collections.deque[float] = collections.deque(maxlen=history)
        self.holds = 0
        self._pulls: collections.deque[tuple[float, int, int]] = collections.deque(maxlen=history)
        self.cut_samples = 0  # samples handed out that the device dropped (cut) unplayed

    # ---- producer side -------------------------------------------------------------
    def push(self, samples: np.ndarray) -> int:
        """Queue reply samples (float32 mono); return how many were accepted."""
        with self._lock:
            n = min(samples.shape[0], self.capacity - self._size)
            if n < samples.shape[0]:
                self.overruns += 1
                self.overrun_samples += samples.shape[0] - n
            if n > 0:
                self._open_reply_if_needed()
                self._copy_in(samples, n)
            return n

    def end_reply(self) -> None:
        """The producer finished the current reply: its drain is not an underrun."""
        with self._lock:
            reply = self._next or self._cur
            if reply is not None and reply.end is None:
                reply.end = self._pushed

    def flush(self, cut_at: float | None = None) -> int:
        """Drop every queued sample now (barge-in); return how many were dropped.
        ``cut_at``: the device dropped its own queue at this time too (see module doc)."""
        with self._lock:
            if cut_at is not None:
                self._unplay(cut_at)
            dropped = self._size
            self._head = (self._head + dropped) % self.capacity
            self._size = 0
            self._played += dropped
            self.flushes += 1
            self.flushed_samples += dropped
            for reply in (self._cur, self._next):
                if reply is not None:
                    self._history.append(reply.timing(interrupted=True))
            self._cur = self._next = None
            self._state, self._rebuffering = IDLE, False
            self._held = self._fading_out = self._fading_in = False
            self._drained.notify_all()
            return dropped

    def hold(self, cut_at: float | None = None) -> None:
        """Duck: fade out on the next pull, then silence; the queue is kept (``release``).
        ``cut_at``: the device went silent at this time (it dropped its queue): what it
        had not played goes back to the queue, and there is no fade to play."""
        with self._lock:
            if not self._held:
                self._held, self._fading_out, self._fading_in = True, True, False
                self.holds += 1
            if cut_at is not None:
                self._unplay(cut_at)
                if self._fading_out:
                    self._hold_times.append(cut_at)
                    self._fading_out = False

    def _unplay(self, t: float) -> int:
        """Give back the current reply's samples handed out for DAC times >= ``t`` (the
        device dropped them); the record of blocks handed out ends at ``t``."""
        back = 0
        while self._pulls and self._pulls[-1][0] + self._pulls[-1][2] / self.sample_rate > t:
            t_out, start, n = self._pulls.pop()
            heard = min(n, samples_before(t, t_out, self.sample_rate))
            back = self._played - start - heard
            if heard:
                self._pulls.append((t_out, start, heard))
                break
        reply = self._cur
        if reply is None or back <= 0:
            return 0
        back = min(back, self._played - reply.start, self.capacity - self._size)
        self._head = (self._head - back) % self.capacity
        self._size += back
        self._played -= back
        self.cut_samples += back
        reply.played -= back
        reply.t_last = min(reply.t_last, t) if reply.t_last is not None else None
        if reply.played <= 0:
            reply.t_first, reply.played = None, 0
        if self._state == IDLE:
            self._state = PLAYING
        return back

    def release(self) -> None:
        """Un-duck: resume from the next queued sample, fading in."""
        with self._lock:
            if self._held:
                self._held, self._fading_in = False, not self._fading_out
                self._fading_out = False

    @property
    def held(self) -> bool:
        return self._held

    def _open_reply_if_needed(self) -> None:
        if self._cur is None:
            self._cur = self._new_reply()
            self._state, self._rebuffering = PREBUFFER, False
        elif self._cur.end is not None and self._next is None:
            self._next = self._new_reply()  # previous reply still draining

    def _new_reply(self) -> _Reply:
        self._n_replies += 1
        return _Reply(self._n_replies - 1, self._pushed, self.clock.now())

    def _copy_in(self, samples: np.ndarray, n: int) -> None:
        put_wrapped(self._data, self._head + self._size, samples[:n])
        self._size += n
        self._pushed += n

    # ---- output callback side ------------------------------------------------------
    def pull(self, out: np.ndarray, t_out: float | None = None) -> int:
        """Fill ``out`` (one device block); return how many reply samples it holds.

        ``t_out``: when ``out[0]`` reaches the DAC, on the injected clock (default: now).
        Called from the audio callback: copies only.
        """
        if t_out is None:
            t_out = self.clock.now()
        with self._lock:
            if self._held:
                return self._pull_held(out, t_out)
            if self._state == PREBUFFER and not self._ready():  # reply not started / refilling
                out[:] = 0.0
                if self._rebuffering:
                    self.underrun_samples += out.shape[0]
                return 0
            if self._state == IDLE:
                out[:] = 0.0
                return 0
            return self._play(out, t_out)

    def _pull_held(self, out: np.ndarray, t_out: float) -> int:
        """The first pull of a hold hands out the fade (if a reply is playing), then zeros."""
        n = 0
        if self._fading_out and self._state == PLAYING:
            n = min(out.shape[0], self._size, self._fade.shape[0])
            self._copy_out(out, n)
            out[:n] *= self._fade[:n]
            self._account(n, t_out)
        if self._fading_out:
            self._hold_times.append(t_out + n / self.sample_rate)
            self._fading_out = False
        out[n:] = 0.0
        return n

    def _ready(self) -> bool:
        ending = self._cur is not None and self._cur.end is not None
        return self._size >= self.prebuffer or ending or self._size == self.capacity

    def _play(self, out: np.ndarray, t_out: float) -> int:
        self._state = PLAYING
        n = min(out.shape[0], self._size)
        self._copy_out(out, n)
        if self._fading_in and n:
            k = min(n, self._fade.shape[0])
            out[:k] *= self._fade[::-1][:k]
            self._fading_in = False
        out[n:] = 0.0
        self._account(n, t_out)
        if n < out.shape[0] and self._cur is not None and self._cur.end is None:
            self._underrun(out.shape[0] - n)
        else:
            self._rebuffering = False
            if self._cur is None and self._size == 0:
                self._state = IDLE
        return n

    def _account(self, n: int, t_out: float) -> None:
        """Advance the played counter, closing replies whose last sample went out."""
        start = self._played
        if n:
            self._pulls.append((t_out, start, n))
        self._played += n
        while self._cur is not None:
            reply = self._cur
            if reply.t_first is None and self._played > reply.start:
                reply.t_first = t_out + max(0, reply.start - start) / self.sample_rate
            stop = min(self._played, reply.end if reply.end is not None else self._played)
            reply.played = stop - reply.start
            reply.t_last = t_out + (stop - start) / self.sample_rate
            if reply.end is None or self._played < reply.end:
                break
            self._history.append(reply.timing(interrupted=False))
            self._cur, self._next = self._next, None
            self._drained.notify_all()
        if self._cur is None and self._size > 0:  # defensive: orphan samples
            self._cur = self._new_reply()

    def _underrun(self, missing: int) -> None:
        if not self._rebuffering:  # one event per gap, however many blocks it lasts
            self.underruns += 1
            self._cur.underruns += 1
        self.underrun_samples += missing
        self._state, self._rebuffering = PREBUFFER, True

    def _copy_out(self, out: np.ndarray, n: int) -> None:
        get_wrapped(self._data, self._head, out[:n])
        self._head = (self._head + n) % self.capacity
        self._size -= n

    # ---- inspection ----------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def __len__(self) -> int:
        return self._size

    @property
    def buffered_s(self) -> float:
        return self._size / self.sample_rate

    def replies(self) -> list[ReplyTiming]:
        """Finished (or flushed) replies, oldest first (bounded history)."""
        with self._lock:
            return list(self._history)

    def current_reply(self) -> ReplyTiming | None:
        """The newest unfinished reply, the one ``push`` feeds (it may still be queued
        behind the drain of the previous one); ``t_first_out`` is set once its first
        sample went out."""
        with self._lock:
            reply = self._next or self._cur
            return None if reply is None else reply.timing(interrupted=False)

    def playing_reply(self) -> ReplyTiming | None:
        """The unfinished reply whose samples the device is taking now."""
        with self._lock:
            return None if self._cur is None else self._cur.timing(interrupted=False)

    @property
    def handed_until(self) -> float:
        """DAC time at which the last reply sample handed to the device ends (-inf: none)."""
        with self._lock:
            if not self._pulls:
                return float("-inf")
            t_out, _, n = self._pulls[-1]
            return t_out + n / self.sample_rate

    def hold_times(self) -> list[float]:
        """When each hold went silent at the DAC (the end of its fade), oldest first."""
        with self._lock:
            return list(self._hold_times)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block (wall time) until no reply is queued or playing; False on timeout."""
        with self._drained:
            return self._drained.wait_for(lambda: self._cur is None, timeout)

    def stats(self) -> dict[str, int]:
        return {"underruns": self.underruns, "underrun_samples": self.underrun_samples,
                "overruns": self.overruns, "overrun_samples": self.overrun_samples,
                "flushes": self.flushes, "flushed_samples": self.flushed_samples, "holds": self.holds,
                "cut_samples": self.cut_samples,
                "replies": self._n_replies}
