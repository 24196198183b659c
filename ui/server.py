"""Server side of the browser demo: one runtime session per WebSocket (per browser tab).

``LiveServer`` owns the configuration, the clock and a small pool of warmed-up agents (the
cascade loads models for ~7-10 s, so one is loaded at start and handed to the first tab; a
tab that closes gives its agent back, reset). ``BrowserSession`` wires one socket to one
pipeline, assembled from the package's public stages exactly like ``livesense.app``'s
``build_session`` with the socket's own source and sink.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import asdict
from typing import Callable

from livesense.app import RunSpec, TranscriptStage, build_session, cut_note, make_agent
from livesense.clock import Clock, MonotonicClock
from livesense.config import Config
from livesense.frames import TextFrame
from livesense.runtime.agent import Agent
from livesense.runtime.pipeline import Pipeline

from ui.transport import (IN_HEADER, KIND_AUDIO, KIND_VIDEO, BrowserSink, BrowserSource, ClockSync, MicChunk,
                          Outbox, turn_latency)

log = logging.getLogger(__name__)

BROWSER_OUTPUT_LATENCY_S = 0.1  # prebuffer + socket + AudioContext output, for barge-in bookkeeping


class AgentPool:
    """Warm agents waiting for a tab; ``keep`` of them stay loaded between tabs."""

    def __init__(self, factory: Callable[[], Agent], keep: int = 1) -> None:
        self.factory, self.keep = factory, keep
        self._idle: list[Agent] = []
        self._lock = threading.Lock()

    def warm(self) -> None:
        agent = self.factory()
        with self._lock:
            self._idle.append(agent)

    def take(self) -> Agent:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.factory()

    def give(self, agent: Agent) -> None:
        agent.reset()
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(agent)


class LiveServer:
    def __init__(self, agent: str = "cascade", cfg: Config | None = None, clock: Clock | None = None,
                 record: bool = False, spec: RunSpec | None = None) -> None:
        self.cfg = cfg or Config()
        self.clock = clock or MonotonicClock()
        self.spec = spec or RunSpec(agent=agent)
        self.agent_name = self.spec.agent
        self.pool = AgentPool(lambda: make_agent(self.spec, self.cfg))
        self.record = record  # keep every mic chunk in the report (benchmarks align it)
        self.active: list[BrowserSession] = []
        self.reports: list[dict] = []  # finished sessions, oldest first
        self._lock = threading.Lock()

    async def websocket_endpoint(self, websocket) -> None:
        session = BrowserSession(self, websocket)
        with self._lock:
            self.active.append(session)
        try:
            await session.serve()
        finally:
            with self._lock:
                self.active.remove(session)
                self.reports.append(session.report())


class BrowserSession:
    def __init__(self, server: LiveServer, websocket) -> None:
        self.server, self.ws = server, websocket
        self.cfg, self.clock = server.cfg, server.clock
        self.sync = ClockSync()
        self.mic_chunks: list[MicChunk] = []
        self._mic_delays: list[float] = []  # recent socket hops, ms
        self.latencies: list[dict] = []
        self.client: dict = {}
        self.error: str | None = None
        self.source = BrowserSource(self.clock, self.cfg.audio.sample_rate,
                                    (self.cfg.vision.width, self.cfg.vision.height), tap=self._tap)
        self.pipeline: Pipeline | None = None
        self.agent: Agent | None = None

    # lifecycle --------------------------------------------------------------------------
    async def serve(self) -> None:
        await self.ws.accept()
        self.outbox = Outbox(asyncio.get_running_loop())
        self.sink = BrowserSink(self.outbox, self.clock, self.sync, self.cfg.audio.sample_rate)
        self.sink.on_heard = self._on_heard
        pump = asyncio.create_task(self.outbox.pump(self.ws))
        try:
            self.outbox.put_json({"type": "status", "state": "loading", "agent": self.server.agent_name})
            self.agent = await asyncio.to_thread(self.server.pool.take)
            self.pipeline, self.transcript = self._assemble(self.agent)
            self.pipeline.start()
            self.outbox.put_json({"type": "status", "state": "live", "agent": self.server.agent_name})
            await self._receive()
        except Exception as e:  # noqa: BLE001 - the tab is told, the server goes on
            if type(e).__name__ != "WebSocketDisconnect":
                log.exception("browser session failed")
                self.error = str(e)
        finally:
            self.source.close()
            self.sink.close()
            self.outbox.closed = True
            await asyncio.to_thread(self._finish)
            pump.cancel()

    def _assemble(self, agent: Agent) -> tuple[Pipeline, TranscriptStage]:
        session = build_session(RunSpec(agent=self.server.agent_name), self.cfg, self.clock, _Texts(self),
                                agent=agent, sources=[self.source], output=self.sink,
                                output_latency_s=BROWSER_OUTPUT_LATENCY_S)
        return session.pipeline, session.transcript

    def _finish(self) -> None:
        if self.pipeline is not None:
            self.pipeline.wait(5.0)
            self.pipeline.stop()
            if self.pipeline.errors and self.error is None:
                self.error = str(self.pipeline.errors[0])
        if self.agent is not None:
            self.server.pool.give(self.agent)

    # socket → runtime -----------------------------------------------------------------
    async def _receive(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                self._on_binary(msg["bytes"])
            elif msg.get("text") is not None:
                self._on_json(json.loads(msg["text"]))
            if self.pipeline.errors:
                self.outbox.put_json({"type": "status", "state": "error", "message": str(self.pipeline.errors[0])})
                return

    def _on_binary(self, data: bytes) -> None:
        if len(data) < IN_HEADER.size:
            self.source.bad_messages += 1
            return
        kind, seq, t_browser = IN_HEADER.unpack_from(data)
        payload = data[IN_HEADER.size:]
        if kind == KIND_AUDIO:
            self.source.push_audio(seq, t_browser, payload)
        elif kind == KIND_VIDEO:
            self.source.push_video(seq, t_browser, payload)
        else:
            self.source.bad_messages += 1

    def _on_json(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "ping":
            self.outbox.put_json({"type": "pong", "c": msg.get("c"), "s": self.clock.now()})
        elif kind == "sync":
            self.sync.add(float(msg["c0"]), float(msg["c1"]), float(msg["s"]))
        elif kind == "played":
            self.sink.heard(int(msg["reply"]), float(msg["t"]))
        elif kind == "stats":
            self.client = msg
            self.sink.browser_stats(msg.get("playback", {}))
        elif kind == "hello":
            self.client.update(msg)

    # runtime → socket -----------------------------------------------------------------
    def _on_text(self, frame: TextFrame) -> None:
        self.outbox.put_json({"type": "text", "turn": frame.turn, "text": frame.text, "final": frame.final})

    def _on_cut(self, interrupt) -> None:
        """A reply with text was cut off: its transcript line says so."""
        self.outbox.put_json({"type": "text", "turn": interrupt.turn, "text": " " + cut_note(interrupt), "final": True})

    def _tap(self, chunk: MicChunk) -> None:
        if self.server.record:
            self.mic_chunks.append(chunk)
        if self.sync.ready:
            self._mic_delays.append(1000 * (chunk.t_arrival - self.sync.to_server(chunk.t_browser_ms)))
            del self._mic_delays[:-50]

    def mic_delay_ms(self) -> float:
        delays = sorted(self._mic_delays)
        return max(0.0, delays[len(delays) // 2]) if delays else 0.0

    def _on_heard(self, reply: int, t: float) -> None:
        lat = turn_latency(self.pipeline.tracer.turns(), self.mic_delay_ms())
        if lat is None:
            return
        row = asdict(lat)
        self.latencies.append(row)
        self.outbox.put_json({"type": "latency", **row})

    def report(self) -> dict:
        out = {"agent": self.server.agent_name, "error": self.error, "source": self.source.stats(),
               "sink": self.sink.stats() if hasattr(self, "sink") else {}, "client": self.client,
               "latencies": self.latencies,
               "sync": {"rtt_ms": self.sync.best()[0], "offset_ms": self.sync.best()[1]} if self.sync.ready else {}}
        if self.pipeline is not None:
            tracer = self.pipeline.tracer
            out.update(turns=tracer.turn_summary(), stages=tracer.stage_summary(), counters=tracer.counters(),
                       marks=tracer.turns(), transcript=self.transcript.lines)
        if self.server.record:
            out["mic_chunks"] = self.mic_chunks
        return out


class _Texts:
    """A session's transcript callback: text pieces and cut marks go to its socket."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def __call__(self, frame: TextFrame) -> None:
        self.conn._on_text(frame)

    def cut(self, interrupt) -> None:
        self.conn._on_cut(interrupt)
