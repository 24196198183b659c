"""The output stage: reply audio to a sink, gated by barge-in.

An ``Interrupt`` overtakes queued reply frames in the channel, so stale frames of the cut
reply may still arrive after it; the gate drops every frame of a cancelled turn. The sink
flushes its own buffer at once. The sink reports when the first sample of a reply really
reached the output (``on_output``), which the tracer records as ``first_output``.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Protocol

import numpy as np

from livesense.clock import Clock
from livesense.frames import AudioFrame, EndOfStream, Frame, Interrupt, ReplyEnd
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

    def drain(self, timeout: float) -> None:
        """Block until queued audio has played (end of stream)."""

    def close(self) -> None:
        ...


class PlaybackState:
    """Until when the agent's queued speech will be heard, shared by the output stage
    (writer) and the agent stage (reader: barge-in must cut audio already generated)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn, self._until = -1, float("-inf")

    def queued(self, turn: int, seconds: float, now: float, latency: float) -> None:
        with self._lock:
            start = self._until if self._turn == turn and self._until > now else now + latency
            self._turn, self._until = turn, start + seconds

    def stopped(self) -> None:
        with self._lock:
            self._until = float("-inf")

    def speaking(self, now: float) -> int | None:
        """The turn being answered aloud at ``now``, or None."""
        with self._lock:
            return self._turn if now < self._until else None


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

    def reset(self) -> None:
        self._cancelled.clear()
        self._started.clear()
        self.sink.flush()

    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, Interrupt):
            self._interrupt(frame)
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

    def _interrupt(self, frame: Interrupt) -> None:
        dropped = self.sink.flush()
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

    def write(self, samples: np.ndarray, on_output: OnOutput | None = None) -> None:
        self.chunks.append(np.asarray(samples, np.float32))
        if on_output is not None:
            on_output(self.clock.now())

    def end_reply(self) -> None:
        pass

    def flush(self) -> int:
        self.flushed += 1
        return 0

    def drain(self, timeout: float) -> None:
        pass

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)

    def close(self) -> None:
        pass
