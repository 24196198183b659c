"""Wire sources and stages with worker threads and bounded channels.

    source threads --> ch0 --> stage0 --> ch1 --> stage1 --> ... --> stageN (sinks)

Each stage runs on its own thread and owns its state; control frames overtake data in
every channel. A stage with background work (``busy``/``poll()``, e.g. the agent while it
speaks) is polled between input frames, so an Interrupt is never stuck behind a reply.
The first source is primary: when it ends, an EndOfStream flows through every stage
(each flushes) and the other sources are closed. Any stage error stops the pipeline and
is re-raised from ``run()``; Ctrl-C stops it cleanly; every stage's ``close()`` runs.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator, Protocol

from livesense.clock import Clock
from livesense.config import RuntimeConfig
from livesense.frames import EndOfStream, Frame
from livesense.runtime.channel import Channel, ChannelClosed
from livesense.runtime.stage import Stage
from livesense.runtime.tracing import Tracer

log = logging.getLogger(__name__)

SESSION = -1  # tracer "turn" id for session-wide marks


class Source(Protocol):
    """Any iterable of frames (it may end with an EndOfStream); ``close()`` if it has one
    must make a blocked iteration return."""

    def __iter__(self) -> Iterator[Frame]:
        ...


class Pipeline:
    def __init__(self, sources: list[Source], stages: list[Stage], clock: Clock,
                 tracer: Tracer | None = None, config: RuntimeConfig | None = None,
                 on_ready: Callable[[], None] | None = None) -> None:
        """``on_ready``: called once, when the primary source delivers its first frame
        (the mic is open and listening)."""
        if not sources or not stages:
            raise ValueError("a pipeline needs at least one source and one stage")
        self.sources, self.stages, self.clock = sources, stages, clock
        self.on_ready = on_ready
        self.config = config or RuntimeConfig()
        self.tracer = tracer or Tracer(self.config.trace)
        cfg = self.config
        self.channels = [Channel(cfg.audio_queue, cfg.video_queue, name=s.name) for s in stages]
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        for i, stage in enumerate(self.stages):
            self._threads.append(self._spawn(self._stage_loop, i, name=f"stage-{stage.name}"))
        for i, source in enumerate(self.sources):
            self._spawn(self._source_loop, source, i == 0, name=f"source-{getattr(source, 'name', type(source).__name__)}")

    def run(self, timeout: float | None = None) -> None:
        """Start, wait until the end of stream reaches the last stage, then clean up."""
        try:
            self.start()
            self.wait(timeout)
        except KeyboardInterrupt:
            log.info("interrupted by user; shutting down")
        finally:
            self.stop()
        if self.errors:
            raise self.errors[0]

    def wait(self, timeout: float | None = None) -> bool:
        """True when every stage thread ended; polls so Ctrl-C is honoured."""
        deadline = None if timeout is None else self.clock.now() + timeout
        for t in self._threads:
            while t.is_alive() and not self._stop.is_set():
                t.join(0.1)
                if deadline is not None and self.clock.now() > deadline:
                    return False
        return True

    def stop(self, join_s: float = 5.0) -> None:
        """Stop everything: channels close first (nothing new enters, blocked workers wake),
        then sources, then the stage threads get ``join_s`` in all, then every stage closes."""
        self._stop.set()
        for ch in self.channels:
            ch.close()
        for source in self.sources:
            _close(source)
        deadline = time.monotonic() + join_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for stage in self.stages:
            if hasattr(stage, "close"):
                _quietly(stage.close)

    # -- threads --------------------------------------------------------------------
    def _spawn(self, fn, *args, name: str) -> threading.Thread:
        t = threading.Thread(target=self._guard, args=(fn, *args), name=name, daemon=True)
        t.start()
        return t

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except ChannelClosed:
            pass
        except BaseException as e:  # noqa: BLE001 - reported from run()
            if not self._stop.is_set():
                log.error("%s failed: %s", threading.current_thread().name, e)
                self.errors.append(e)
                self._stop.set()
                for ch in self.channels:
                    ch.close()

    def _source_loop(self, source: Source, primary: bool) -> None:
        ch, end, first = self.channels[0], None, primary
        for frame in source:
            if self._stop.is_set():
                return
            if isinstance(frame, EndOfStream):
                end = frame
                break
            if first:  # the session's time origin: capture time of the first input sample
                self.tracer.mark(SESSION, "source_start", frame.t_capture)
                first = False
                if self.on_ready is not None:
                    self.on_ready()
            ch.put(frame)
        if primary and not self._stop.is_set():  # only the primary source ends the session
            ch.put(end or EndOfStream(t_capture=self.clock.now()))
            for other in self.sources[1:]:
                _close(other)

    def _stage_loop(self, i: int) -> None:
        stage, ch = self.stages[i], self.channels[i]
        poll = getattr(stage, "poll", None)
        while not self._stop.is_set():
            if poll is not None and stage.busy:
                # take everything that arrived (an interrupt among it) before the next chunk
                while (frame := ch.get_nowait()) is not None:
                    if self._process(i, stage, frame):
                        return
                self._forward(i, poll())
            elif (frame := ch.get(timeout=0.05)) is not None and self._process(i, stage, frame):
                return

    def _process(self, i: int, stage: Stage, frame: Frame) -> bool:
        """Run one frame through a stage; True once the end of stream has passed."""
        t_in = self.clock.now()
        out = stage.step(frame)
        self.tracer.span(stage.name, frame.id, t_in, self.clock.now(), t_in - frame.t_capture)
        if isinstance(frame, EndOfStream) and not any(isinstance(f, EndOfStream) for f in out):
            out = [*out, frame]  # a stage that forgets to pass it on must not hang the pipeline
        self._forward(i, out)
        return isinstance(frame, EndOfStream)

    def _forward(self, i: int, frames: list[Frame]) -> None:
        if i + 1 == len(self.stages):
            return
        for f in frames:
            self.channels[i + 1].put(f)


def _close(obj) -> None:
    if hasattr(obj, "close"):
        _quietly(obj.close)


def _quietly(fn) -> None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - shutdown must go on
        log.warning("error during shutdown: %s", e)
