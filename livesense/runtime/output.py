"""The output stage: reply audio to a sink, gated by barge-in.

An ``Interrupt`` overtakes queued reply frames in the channel, so stale frames of the cut
reply may still arrive after it; the gate drops every frame of a cancelled turn. The sink
flushes its own buffer at once. A ``Duck`` (a tentative barge-in) overtakes them too: the
sink holds its audio (fade out, nothing dropped) until an ``Unduck`` resumes it or an
``Interrupt`` flushes it. A ``TurnStart`` that brought no ``Interrupt`` (barge-in off, or
nothing left to cut) releases a duck still on. The sink reports when the first sample of a reply really
reached the output (``on_output``), which the tracer records as ``first_output``.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Protocol

import numpy as np

from livesense.clock import Clock
from livesense.frames import AudioFrame, Duck, EndOfStream, Frame, Interrupt, ReplyEnd, TurnStart, Unduck
from livesense.runtime.tracing import Tracer

log = logging.getLogger(__name__)

OnOutput = Callable[[float], None]


class AudioSink(Protocol):
    sample_rate: int

    def write(self, samples: np.ndarray, on_output: OnOutput | None = None) -> None:
        """Queue reply samples; call ``on_output(t)`` when the first one is output."""

    def end_reply(self) -> None:
        """The reply is complete: running dry from here on is its end, not an underrun."""

    def flush(self) -> int:
        """Drop everything queued now; return the number of samples dropped."""

    def duck(self, on: bool) -> None:
        """``True``: fade out and hold the queued audio (keep it); ``False``: resume it.
        A sink whose ``cuts_device`` is true silences the device's own queue too (at once)."""

    def drain(self, timeout: float) -> None:
        """Block until queued audio has played (end of stream)."""

    def close(self) -> None:
        ...


class PlaybackState:
    """Until when the agent's queued speech will be heard, shared by the output stage
    (writer) and the agent stage (reader: barge-in must cut audio already generated).

    While the output is ducked (held) the reply is still the agent's turn: what the device
    had buffered plays out, the rest waits; ``resumed`` puts it back on the timeline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn, self._until = -1, float("-inf")
        self._held_at: float | None = None  # when the duck began (None: not ducked)
        self._left = 0.0  # seconds of reply still queued when it was held
        self._latency = 0.0

    def queued(self, turn: int, seconds: float, now: float, latency: float) -> None:
        with self._lock:
            self._latency = latency
            if self._held_at is not None:
                same = self._turn == turn and (self._left > 0 or self._until > now)
                self._turn, self._left = turn, (self._left if same else 0.0) + seconds
                return
            start = self._until if self._turn == turn and self._until > now else now + latency
            self._turn, self._until = turn, start + seconds

    def held(self, now: float, cut: bool = False) -> None:
        """Ducked at ``now``: the device's buffered audio plays out, the rest waits
        (``cut``: the device dropped its queue, so all of it waits)."""
        with self._lock:
            if self._held_at is None:
                self._held_at = now
                lead = 0.0 if cut else self._latency
                self._left = max(0.0, self._until - (now + lead))
                self._until = min(self._until, now + lead)

    def resumed(self, now: float) -> None:
        with self._lock:
            if self._held_at is not None:
                if self._left > 0:
                    self._until = max(self._until, now + self._latency) + self._left
                self._held_at, self._left = None, 0.0

    def stopped(self) -> None:
        with self._lock:
            self._until, self._held_at, self._left = float("-inf"), None, 0.0

    def speaking(self, now: float) -> int | None:
        """The turn being answered aloud at ``now`` (or held by a duck), or None."""
        with self._lock:
            return self._turn if now < self._until or self._left > 0 else None


class OutputStage:
    name = "output"

    def __init__(self, sink: AudioSink, clock: Clock, tracer: Tracer, state: PlaybackState | None = None,
                 latency_s: float = 0.0, max_cancelled: int = 64) -> None:
        self.sink, self.clock, self.tracer = sink, clock, tracer
        self.state = state or PlaybackState()
        self.latency_s = latency_s  # device buffering ahead of the ear
        self._cancelled: list[int] = []
        self._max_cancelled = max_cancelled
        self._started: set[int] = set()
        self.ducked = False

    def reset(self) -> None:
        self._cancelled.clear()
        self._started.clear()
        self.sink.flush()
        self.ducked = False

    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, Interrupt):
            self._interrupt(frame)
        elif isinstance(frame, (Duck, Unduck)):
            self._duck(isinstance(frame, Duck))
        elif isinstance(frame, TurnStart) and self.ducked:
            self._duck(False)
        elif isinstance(frame, AudioFrame) and frame.turn >= 0:
            self._play(frame)
        elif isinstance(frame, ReplyEnd) and frame.turn not in self._cancelled:
            self.sink.end_reply()
        elif isinstance(frame, EndOfStream):
            self.sink.drain(timeout=60.0)
        return [frame]

    def _play(self, frame: AudioFrame) -> None:
        if frame.turn in self._cancelled:
            self.tracer.count("stale_frames_dropped")
            return
        if frame.sample_rate != self.sink.sample_rate:
            raise ValueError(f"reply audio at {frame.sample_rate} Hz, sink expects {self.sink.sample_rate} Hz")
        on_output = None
        if frame.turn not in self._started:
            self._started.add(frame.turn)
            turn = frame.turn
            on_output = lambda t: self.tracer.mark(turn, "first_output", t)  # noqa: E731
        self.sink.write(frame.samples, on_output)
        latency = getattr(self.sink, "latency_s", None) or self.latency_s  # measured, where the sink knows
        self.state.queued(frame.turn, len(frame.samples) / frame.sample_rate, self.clock.now(), latency)

    def _duck(self, on: bool) -> None:
        if on == self.ducked:
            return
        self.ducked = on
        self.sink.duck(on)
        now = self.clock.now()
        turn = self.state.speaking(now)
        if on and turn is not None:  # first silence the listener hears (a confirm flushes later)
            self.tracer.mark(turn, "ducked", now)
        self.state.held(now, getattr(self.sink, "cuts_device", False)) if on else self.state.resumed(now)
        self.tracer.count("ducks" if on else "unducks")

    def _interrupt(self, frame: Interrupt) -> None:
        dropped = self.sink.flush()  # a duck on ends with it
        self.ducked = False
        self.state.stopped()
        self._cancelled.append(frame.turn)
        del self._cancelled[: -self._max_cancelled]
        self.tracer.mark(frame.turn, "flushed", self.clock.now())
        self.tracer.count("samples_flushed", dropped)
        log.info("interrupt: flushed %d queued samples of turn %d", dropped, frame.turn)

    def close(self) -> None:
        self.sink.close()


class MemorySink:
    """Keeps reply audio in memory; output time is the time of the write (no device)."""

    def __init__(self, clock: Clock, sample_rate: int = 16000) -> None:
        self.clock = clock
        self.sample_rate = sample_rate
        self.chunks: list[np.ndarray] = []
        self.flushed = 0
        self.ducked = False

    def write(self, samples: np.ndarray, on_output: OnOutput | None = None) -> None:
        self.chunks.append(np.asarray(samples, np.float32))
        if on_output is not None:
            on_output(self.clock.now())

    def end_reply(self) -> None:
        pass

    def flush(self) -> int:
        self.flushed += 1
        return 0

    def duck(self, on: bool) -> None:
        self.ducked = on  # written audio is already "out": nothing to hold

    def drain(self, timeout: float) -> None:
        pass

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)

    def close(self) -> None:
        pass
