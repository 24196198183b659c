"""Browser transport: one WebSocket per tab carries mic PCM and webcam JPEGs in, reply PCM,
transcript and latency out. Each socket gets its own runtime session (agent, turns, output).

    browser AudioWorklet ─20 ms Int16 @16 kHz─┐                      ┌─> BrowserSink ─PCM─> playback worklet
    browser canvas ──────JPEG 160×120 @5 fps──┴─> BrowserSource ─> turns ─> agent ─> transcript ─> output

Wire format (little-endian). Browser → server binary: a 16-byte header
``kind u8, pad[3], seq u32, t_browser f64`` (``performance.now()`` ms when the browser's main
thread got the chunk) then the payload: kind 1 = mono Int16 PCM at ``SAMPLE_RATE``, kind 2 =
one JPEG. Server → browser binary: ``kind u8 (0x11), pad[3], reply u32`` then Int16 PCM.
Everything else is JSON text (``type`` field): ping/pong and sync (clock offset), played
(the playback worklet's first sample of a reply was heard), stats, flush, end_reply, text,
latency, status.

No compute on the event loop: the socket handler only copies bytes into a queue; decoding
(Int16 → float, JPEG → RGB) happens on the pipeline's source thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from livesense.clock import Clock

from livesense.frames import AudioFrame, EndOfStream, Frame, VideoFrame
from livesense.runtime.output import OnOutput

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # mic and reply PCM on the wire (the runtime rate)
FRAME_MS = 20  # the browser's capture worklet sends one frame per message
FRAME_SIZE = SAMPLE_RATE * FRAME_MS // 1000
IN_HEADER = struct.Struct("<B3xId")  # kind, seq, t_browser (ms)
OUT_HEADER = struct.Struct("<B3xI")  # kind, reply index
KIND_AUDIO, KIND_VIDEO, KIND_REPLY = 1, 2, 0x11


# -- clock sync ---------------------------------------------------------------------------
class ClockSync:
    """Maps the browser's ``performance.now()`` (ms) onto the server clock (s), NTP style: of
    the recent ping round trips the shortest gives the offset, uncertain by ±rtt/2."""

    def __init__(self, keep: int = 32) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=keep)  # (rtt_ms, offset_ms)
        self._lock = threading.Lock()

    def add(self, c0_ms: float, c1_ms: float, server_s: float) -> None:
        """A ping sent at browser time ``c0``, answered (stamped ``server_s``), back at ``c1``."""
        rtt = max(0.0, c1_ms - c0_ms)
        with self._lock:
            self._samples.append((rtt, server_s * 1000.0 - (c0_ms + c1_ms) / 2.0))

    @property
    def ready(self) -> bool:
        return bool(self._samples)

    def best(self) -> tuple[float, float]:
        """(rtt_ms, offset_ms) of the shortest round trip; raises if none yet."""
        with self._lock:
            if not self._samples:
                raise RuntimeError("no clock sync sample yet")
            return min(self._samples)

    def to_server(self, t_browser_ms: float) -> float:
        return (t_browser_ms + self.best()[1]) / 1000.0

    @property
    def uncertainty_ms(self) -> float:
        return self.best()[0] / 2.0 if self.ready else float("inf")


# -- input ----------------------------------------------------------------------------------
@dataclass
class MicChunk:
    """What the tap sees of each mic message (benchmarks align it with the sent file)."""

    seq: int
    samples: np.ndarray
    t_arrival: float  # server clock
    t_browser_ms: float  # browser performance.now() when its main thread got the chunk


_CLOSED = object()


class BrowserSource:
    """Mic and webcam frames from one browser tab, as an iterable source for the pipeline.

    ``push_audio``/``push_video`` run on the event loop: they stamp the arrival time with the
    injected clock and queue raw bytes (thread-safe). Iteration (a pipeline source thread)
    decodes and yields ``AudioFrame``/``VideoFrame``; ``close()`` ends it with an EndOfStream.
    Audio is never dropped; video keeps at most ``max_video`` undecoded frames (newest win).
    """

    name = "browser"

    def __init__(self, clock: Clock, sample_rate: int = SAMPLE_RATE, video_size: tuple[int, int] = (160, 120),
                 max_video: int = 2, tap: Callable[[MicChunk], None] | None = None) -> None:
        self.clock, self.sample_rate, self.video_size = clock, sample_rate, video_size
        self.tap = tap
        self._q: queue.Queue = queue.Queue()
        self._video_pending = 0
        self._max_video = max_video
        self._lock = threading.Lock()
        self._next_seq: int | None = None
        self.audio_samples = 0  # received
        self.audio_chunks = 0
        self.lost_chunks = 0  # gaps in the browser's sequence numbers
        self.video_frames = 0  # decoded and yielded
        self.video_dropped = 0
        self.bad_messages = 0

    # event-loop side ------------------------------------------------------------------
    def push_audio(self, seq: int, t_browser_ms: float, pcm: bytes) -> None:
        if len(pcm) % 2:
            self.bad_messages += 1
            return
        with self._lock:
            if self._next_seq is not None and seq > self._next_seq:
                self.lost_chunks += seq - self._next_seq
            self._next_seq = seq + 1
        self._q.put(("a", seq, t_browser_ms, self.clock.now(), pcm))

    def push_video(self, seq: int, t_browser_ms: float, jpeg: bytes) -> None:
        with self._lock:
            if self._video_pending >= self._max_video:
                self.video_dropped += 1
                return
            self._video_pending += 1
        self._q.put(("v", seq, t_browser_ms, self.clock.now(), jpeg))

    def close(self) -> None:
        self._q.put(_CLOSED)

    # source-thread side ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        while (item := self._q.get()) is not _CLOSED:
            frame = self._decode(*item)
            if frame is not None:
                yield frame
        yield EndOfStream(t_capture=self.clock.now())

    def _decode(self, kind: str, seq: int, t_browser_ms: float, t_arrival: float, payload: bytes) -> Frame | None:
        if kind == "a":
            samples = np.frombuffer(payload, "<i2").astype(np.float32) / 32768.0
            self.audio_samples += len(samples)
            self.audio_chunks += 1
            if self.tap is not None:
                self.tap(MicChunk(seq, samples, t_arrival, t_browser_ms))
            return AudioFrame(samples, self.sample_rate, t_arrival)
        with self._lock:
            self._video_pending -= 1
        image = decode_jpeg(payload, self.video_size)
        if image is None:
            self.bad_messages += 1
            return None
        self.video_frames += 1
        return VideoFrame(image, t_arrival)

    def stats(self) -> dict:
        return {"audio_s": self.audio_samples / self.sample_rate, "audio_chunks": self.audio_chunks,
                "lost_chunks": self.lost_chunks, "video_frames": self.video_frames,
                "video_dropped": self.video_dropped, "bad_messages": self.bad_messages}


def decode_jpeg(data: bytes, size: tuple[int, int]) -> np.ndarray | None:
    """JPEG bytes → RGB uint8 (H, W, 3) at ``size`` (w, h); None if undecodable."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    if (bgr.shape[1], bgr.shape[0]) != tuple(size):
        bgr = cv2.resize(bgr, tuple(size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# -- output ---------------------------------------------------------------------------------
class Outbox:
    """Worker threads → the socket. Thread-safe; ``flush_audio`` removes reply audio not yet
    sent and puts the flush command first, so a barge-in overtakes queued speech."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[tuple[str, object, int]] = deque()  # (kind, payload, samples)
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self.closed = False

    @property
    def pending(self) -> int:
        """Messages not yet handed to the socket."""
        with self._lock:
            return len(self._items)

    def put_json(self, msg: dict) -> None:
        self._put(("text", json.dumps(msg), 0))

    def put_audio(self, reply: int, samples: np.ndarray) -> None:
        pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2").tobytes()
        self._put(("bytes", OUT_HEADER.pack(KIND_REPLY, reply) + pcm, len(samples)))

    def flush_audio(self, msg: dict) -> int:
        """Drop unsent reply audio, send ``msg`` before anything else; samples dropped."""
        with self._lock:
            kept = [it for it in self._items if it[0] != "bytes"]
            dropped = sum(it[2] for it in self._items if it[0] == "bytes")
            self._items.clear()
            self._items.append(("text", json.dumps(msg), 0))
            self._items.extend(kept)
        self._notify()
        return dropped

    def put_first(self, msg: dict) -> None:
        """A control message ahead of everything queued (a duck overtakes reply audio)."""
        with self._lock:
            self._items.appendleft(("text", json.dumps(msg), 0))
        self._notify()

    def _put(self, item: tuple[str, object, int]) -> None:
        if self.closed:
            return
        with self._lock:
            self._items.append(item)
        self._notify()

    def _notify(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # loop closed: the socket is gone
            self.closed = True

    async def pump(self, websocket) -> None:
        """Send queued messages in order until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._items:
                        break
                    kind, payload, _ = self._items.popleft()
                if kind == "bytes":
                    await websocket.send_bytes(payload)
                else:
                    await websocket.send_text(payload)


class BrowserSink:
    """The ``AudioSink`` for a browser tab: reply PCM goes to the socket; the tab's playback
    worklet says when the first sample of each reply was actually heard, in browser time,
    which ``ClockSync`` maps to the server clock (clamped between the send of the reply's
    first chunk and the arrival of the report, so the error can only make it look later)."""

    def __init__(self, outbox: Outbox, clock: Clock, sync: ClockSync, sample_rate: int = SAMPLE_RATE) -> None:
        self.outbox, self.clock, self.sync = outbox, clock, sync
        self.sample_rate = sample_rate
        self._lock = threading.Lock()
        self._reply = 0  # index of the reply being written (browser-visible)
        self._waiting: dict[int, tuple[OnOutput, float]] = {}  # reply -> (callback, first send time)
        self._browser: dict = {}  # last stats from the tab
        self._idle = threading.Event()
        self._idle.set()
        self.closed = False
        self.samples_sent = 0
        self.samples_flushed = 0
        self.replies = 0
        self.on_heard: Callable[[int, float], None] | None = None  # (reply, t_server) after on_output

    # AudioSink protocol (output-stage thread) -----------------------------------------
    def write(self, samples: np.ndarray, on_output: OnOutput | None = None) -> None:
        with self._lock:
            if on_output is not None:  # the first chunk of a new reply
                self._reply += 1
                self.replies += 1
                self._waiting[self._reply] = (on_output, self.clock.now())
                del_keys = list(self._waiting)[:-8]
                for k in del_keys:
                    del self._waiting[k]
            reply = self._reply
            self.samples_sent += len(samples)
            self._idle.clear()
        self.outbox.put_audio(reply, np.asarray(samples, np.float32))

    def end_reply(self) -> None:
        self.outbox.put_json({"type": "end_reply", "reply": self._reply})

    def flush(self) -> int:
        dropped = self.outbox.flush_audio({"type": "flush", "reply": self._reply})
        with self._lock:
            buffered = int(self._browser.get("buffered", 0))
            self._waiting.pop(self._reply, None)  # never heard: no first_output for it
        self.samples_flushed += dropped + buffered
        return dropped + buffered

    def duck(self, on: bool) -> None:
        """Hold (fade out, keep) or resume the browser's queued reply audio."""
        self.outbox.put_first({"type": "duck" if on else "unduck", "reply": self._reply})

    def drain(self, timeout: float) -> None:
        if not self.closed:
            self.end_reply()
            self._idle.wait(timeout)

    def close(self) -> None:
        self.closed = True
        self._idle.set()

    # browser reports (event-loop thread) ----------------------------------------------
    def heard(self, reply: int, t_browser_ms: float) -> None:
        now = self.clock.now()
        with self._lock:
            entry = self._waiting.pop(reply, None)
        if entry is None:
            return
        on_output, t_sent = entry
        t = self.sync.to_server(t_browser_ms) if self.sync.ready else now
        t = min(max(t, t_sent), now)
        on_output(t)
        if self.on_heard is not None:
            self.on_heard(reply, t)

    def browser_stats(self, stats: dict) -> None:
        with self._lock:
            self._browser = stats
        if stats.get("state") == "idle" and int(stats.get("buffered", 0)) == 0 and not self.outbox.pending:
            self._idle.set()

    def stats(self) -> dict:
        with self._lock:
            b = dict(self._browser)
        return {"samples_sent": self.samples_sent, "samples_flushed": self.samples_flushed, "replies": self.replies,
                "underruns": int(b.get("underruns", 0)), "played": int(b.get("played", 0)),
                "overflows": int(b.get("overflows", 0))}


# -- one tab's session --------------------------------------------------------------------
@dataclass
class TurnLatency:
    turn: int
    m2e_ms: float  # speech end (arrival) → first sample heard in the browser
    mic_ms: float  # browser main thread → server arrival (socket hop), added to m2e_ms in total_ms
    total_ms: float
    stages: dict[str, float]


def turn_latency(marks: dict[int, dict[str, float]], mic_ms: float) -> TurnLatency | None:
    """The latest turn that reached the ear, broken down like the CLI's report."""
    from livesense.runtime.tracing import TURN_STAGES

    heard = [(m["first_output"], tid) for tid, m in marks.items() if tid >= 0 and "first_output" in m
             and "speech_end" in m]
    if not heard:
        return None
    tid = max(heard)[1]
    m = marks[tid]
    stages = {"mic→server": mic_ms}
    stages.update({name: 1000 * (m[b] - m[a]) for name, (a, b) in TURN_STAGES.items() if a in m and b in m})
    m2e = 1000 * (m["first_output"] - m["speech_end"])
    return TurnLatency(tid, m2e, mic_ms, m2e + mic_ms, stages)
