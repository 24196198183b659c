"""The browser transport without a browser: BrowserSource/BrowserSink/Outbox/ClockSync in
isolation, then a real WebSocket session (uvicorn on loopback, a Python client) that speaks
the wire format of ``ui/static/client.js`` to the parrot agent."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `ui` lives next to the package, not inside it

pytest.importorskip("fastapi", reason="pip install 'gradio==6.*' (brings fastapi, uvicorn)")
pytest.importorskip("websockets", reason="pip install websockets (uvicorn's WebSocket protocol)")

from livesense.clock import FakeClock  # noqa: E402
from livesense.frames import AudioFrame, EndOfStream, VideoFrame  # noqa: E402
from ui.transport import (IN_HEADER, KIND_AUDIO, KIND_REPLY, KIND_VIDEO, OUT_HEADER, BrowserSink,  # noqa: E402
                          BrowserSource, ClockSync, Outbox)


def jpeg(rgb: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def red_image(w: int = 320, h: int = 240) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 220
    return img


def test_clock_sync_uses_the_shortest_round_trip():
    sync = ClockSync()
    sync.add(1000.0, 1040.0, 5.000)  # slow round trip: offset guess off by up to 20 ms
    sync.add(2000.0, 2002.0, 6.001)  # fast: server 6.001 s ~ browser 2001 ms
    assert sync.uncertainty_ms == pytest.approx(1.0)
    assert sync.to_server(2001.0) == pytest.approx(6.001)
    assert sync.to_server(2501.0) == pytest.approx(6.501)


def test_source_stamps_arrival_decodes_and_ends():
    clock = FakeClock(10.0)
    src = BrowserSource(clock)
    pcm = (np.arange(320) - 160).astype("<i2")
    src.push_audio(0, 1.0, pcm.tobytes())
    clock.advance(0.02)
    src.push_audio(2, 2.0, pcm.tobytes())  # seq 1 never arrived
    src.push_video(0, 3.0, jpeg(red_image()))
    src.push_video(1, 3.1, jpeg(red_image()))
    src.push_video(2, 3.2, jpeg(red_image()))  # a third undecoded frame is dropped
    src.close()
    frames = list(src)
    audio = [f for f in frames if isinstance(f, AudioFrame)]
    video = [f for f in frames if isinstance(f, VideoFrame)]
    assert [f.t_capture for f in audio] == [10.0, 10.02]
    np.testing.assert_allclose(audio[0].samples, pcm / 32768.0)
    assert audio[0].sample_rate == 16000
    assert len(video) == 2 and video[0].image.shape == (120, 160, 3)
    r, g, b = video[0].image.reshape(-1, 3).mean(0)
    assert r > 150 and g < 60 and b < 60  # RGB, not BGR
    assert isinstance(frames[-1], EndOfStream)
    assert src.stats()["lost_chunks"] == 1 and src.stats()["video_dropped"] == 1


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list = []

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))


def test_sink_sends_pcm_flush_overtakes_and_heard_time_is_clamped():
    async def scenario():
        clock = FakeClock(100.0)
        sync = ClockSync()
        sync.add(0.0, 2.0, 100.001)  # browser 1 ms == server 100.001 s
        box = Outbox(asyncio.get_running_loop())
        sink = BrowserSink(box, clock, sync)
        heard: list[float] = []
        sink.write(np.full(320, 0.5, np.float32), heard.append)
        sink.write(np.full(320, 0.5, np.float32))
        sink.end_reply()
        ws = FakeSocket()
        pump = asyncio.create_task(box.pump(ws))
        await asyncio.sleep(0.01)
        kind, reply = OUT_HEADER.unpack_from(ws.sent[0])
        assert (kind, reply) == (KIND_REPLY, 1)
        assert np.frombuffer(ws.sent[0][OUT_HEADER.size:], "<i2")[0] == round(0.5 * 32767)
        assert ws.sent[2] == {"type": "end_reply", "reply": 1}

        clock.advance(0.2)  # the tab reports the first sample heard 100 ms after it was sent
        sink.heard(1, 101.0)
        assert heard == [pytest.approx(100.101)]
        sink.heard(1, 101.0)  # once only
        assert len(heard) == 1

        pump.cancel()  # audio of reply 2 queues up unsent ...
        sink.write(np.zeros(640, np.float32), heard.append)
        sink.write(np.zeros(640, np.float32))
        sink.browser_stats({"buffered": 100, "state": "playing"})
        assert sink.flush() == 1280 + 100  # ... and the flush drops it and goes first
        ws.sent.clear()
        pump = asyncio.create_task(box.pump(ws))
        box._wake.set()
        await asyncio.sleep(0.01)
        assert ws.sent == [{"type": "flush", "reply": 2}]
        sink.heard(2, 500.0)  # a flushed reply has no first output
        assert len(heard) == 1
        sink.write(np.zeros(160, np.float32), heard.append)  # reply 3, sent at 100.2
        sink.heard(3, 0.0)  # "heard before it was sent": clamped to the send time
        sink.write(np.zeros(160, np.float32), heard.append)  # reply 4
        sink.heard(4, 9e6)  # "heard in the future": clamped to the report's arrival
        assert heard[1:] == [pytest.approx(100.2), pytest.approx(100.2)]
        pump.cancel()

    asyncio.run(scenario())


def test_sink_drain_waits_for_the_tab_to_run_dry():
    async def scenario():
        sink = BrowserSink(Outbox(asyncio.get_running_loop()), FakeClock(), ClockSync())
        sink.outbox._items.clear()
        sink.write(np.zeros(160, np.float32))
        sink.outbox._items.clear()  # as if sent
        t0 = time.monotonic()
        sink.drain(0.05)  # tab silent: waits out the timeout
        assert time.monotonic() - t0 >= 0.04
        sink.outbox._items.clear()
        sink.browser_stats({"buffered": 0, "state": "idle"})
        t0 = time.monotonic()
        sink.drain(5.0)
        assert time.monotonic() - t0 < 1.0

    asyncio.run(scenario())


def test_websocket_session_with_parrot():
    """Mic frames in (4x real time), a JPEG in; the parrot's reply PCM, transcript and a
    latency panel update out; the session report counts what arrived."""
    import soundfile as sf
    from websockets.sync.client import connect

    from ui.app import create_app
    from ui.bench_browser import ServerThread
    from ui.server import LiveServer

    wav, sr = sf.read(ROOT / "tests" / "data" / "turns.wav", dtype="int16")
    wav = np.concatenate([wav, np.zeros(sr, np.int16)])  # let the last turn end
    server = LiveServer(agent="parrot")
    with ServerThread(create_app(server, gradio=False)) as srv:
        with connect(f"ws://127.0.0.1:{srv.port}/ws/live") as ws:
            msgs = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
            assert [m["state"] for m in msgs] == ["loading", "live"]
            ws.send(json.dumps({"type": "ping", "c": 1.0}))
            pong = json.loads(ws.recv(timeout=5))
            ws.send(json.dumps({"type": "sync", "c0": 1.0, "c1": 2.0, "s": pong["s"]}))
            ws.send(IN_HEADER.pack(KIND_VIDEO, 0, 1.0) + jpeg(red_image()))
            for i in range(0, len(wav) - 319, 320):
                ws.send(IN_HEADER.pack(KIND_AUDIO, i // 320, 2.0 + i / 16) + wav[i:i + 320].tobytes())
                time.sleep(0.005)
            replies, texts, latency = set(), [], None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (texts and latency):
                try:
                    m = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                if isinstance(m, bytes):
                    kind, reply = OUT_HEADER.unpack_from(m)
                    assert kind == KIND_REPLY and len(m) > OUT_HEADER.size
                    if reply not in replies:
                        replies.add(reply)
                        ws.send(json.dumps({"type": "played", "reply": reply, "t": 2.0 + len(wav) / 16}))
                    continue
                m = json.loads(m)
                texts += [m["text"]] if m["type"] == "text" else []
                latency = m if m["type"] == "latency" else latency
        deadline = time.monotonic() + 10
        while not server.reports and time.monotonic() < deadline:
            time.sleep(0.05)
    assert replies and any("(parrot)" in t for t in texts)
    assert latency is not None and latency["m2e_ms"] >= 0 and "turn_detect" in latency["stages"]
    report = server.reports[-1]
    assert report["error"] is None
    assert report["source"]["audio_s"] == pytest.approx((len(wav) // 320) * 0.02)
    assert report["source"]["lost_chunks"] == 0 and report["source"]["video_frames"] == 1
    assert report["turns"]["turns"] >= 1


def test_two_tabs_never_hear_each_other():
    """Two sockets at once: the one that speaks gets an answer, the silent one gets none."""
    import threading

    import soundfile as sf
    from websockets.sync.client import connect

    from ui.app import create_app
    from ui.bench_browser import ServerThread
    from ui.server import LiveServer

    wav, sr = sf.read(ROOT / "tests" / "data" / "turns.wav", dtype="int16")
    wav = np.concatenate([wav[: int(3.0 * sr)], np.zeros(sr, np.int16)])  # the first turn only
    server = LiveServer(agent="parrot")
    got: dict[str, list] = {"talker": [], "silent": []}

    def tab(name: str, audio: np.ndarray, port: int) -> None:
        with connect(f"ws://127.0.0.1:{port}/ws/live") as ws:
            while json.loads(ws.recv(timeout=10))["state"] != "live":
                pass
            for i in range(0, len(audio) - 319, 320):
                ws.send(IN_HEADER.pack(KIND_AUDIO, i // 320, float(i)) + audio[i:i + 320].tobytes())
                time.sleep(0.004)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                try:
                    m = ws.recv(timeout=0.3)
                except TimeoutError:
                    continue
                if isinstance(m, bytes) or json.loads(m)["type"] == "text":
                    got[name].append(m)

    with ServerThread(create_app(server, gradio=False)) as srv:
        threads = [threading.Thread(target=tab, args=("talker", wav, srv.port)),
                   threading.Thread(target=tab, args=("silent", np.zeros_like(wav), srv.port))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        deadline = time.monotonic() + 10
        while len(server.reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert got["talker"] and not got["silent"]
    answered = sorted(sum(1 for tid, m in r["marks"].items() if tid >= 0 and "reply_start" in m)
                      for r in server.reports)
    assert answered == [0, 1]


def test_a_cut_reply_is_marked_in_the_browser_transcript():
    from types import SimpleNamespace

    from livesense.app import TranscriptStage
    from livesense.frames import Interrupt, TextFrame
    from ui.server import BrowserSession, _Texts

    sent = []
    conn = SimpleNamespace(outbox=SimpleNamespace(put_json=sent.append))
    conn._on_text = lambda f: BrowserSession._on_text(conn, f)
    conn._on_cut = lambda i: BrowserSession._on_cut(conn, i)
    stage = TranscriptStage(_Texts(conn))
    stage.step(TextFrame("Hello,", 1.0, turn=4))
    stage.step(Interrupt(1.3, reason="resume", turn=4))
    assert [m["text"] for m in sent] == ["Hello,", " [cut: you went on]"] and all(m["turn"] == 4 for m in sent)
