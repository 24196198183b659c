"""Mouth-to-ear latency of the browser path: a scripted conversation spoken into Chromium's
fake microphone, answered through the WebSocket + AudioWorklet transport, heard in the page.

    python ui/bench_browser.py [--wav tests/data/turns.wav] [--turns 4] [--agent parrot]

Chromium loops the WAV as its microphone. The server keeps every mic chunk it receives;
circular cross-correlation with the WAV says which file sample each received sample is, so
the true end of each spoken turn (from the WAV's .json sidecar) is known as a sample of the
stream, and its capture time in the browser's clock follows from the chunk that carried it
(the chunk's send stamp minus the samples after it). The reply's first sample is timed by the
playback worklet (``AudioContext.getOutputTimestamp``) in the same browser clock, so
mouth-to-ear needs no clock mapping at all. Needs ``chromium`` and ``npm ci`` in ui/e2e.
Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

E2E = Path(__file__).resolve().parent / "e2e"
CHROMIUM = "/usr/bin/chromium"


def missing_tools() -> list[str]:
    """What the browser path needs and this machine lacks (empty: ready)."""
    out = []
    if not Path(CHROMIUM).exists():
        out.append("chromium (apt-get install -y chromium)")
    if shutil.which("node") is None:
        out.append("node (apt-get install -y nodejs npm)")
    if not (E2E / "node_modules" / "playwright-core").exists():
        out.append(f"playwright-core (cd {E2E} && npm ci)")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """The demo's app served by uvicorn on a background thread (tests, benchmarks)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None) -> None:
        import uvicorn

        self.host, self.port = host, port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def write_y4m(path: str, seconds: float = 2.0, fps: int = 10, size: tuple[int, int] = (320, 240)) -> str:
    """A synthetic camera: a red ball moving over a blue background (YUV 4:2:0)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(int(seconds * fps)):
            cx = w * (0.25 + 0.5 * i / max(1, seconds * fps - 1))
            ball = (xx - cx) ** 2 + (yy - h / 2) ** 2 < (h / 5) ** 2
            y = np.where(ball, 76, 41).astype(np.uint8)  # red vs blue luma
            u = np.where(ball[::2, ::2], 85, 240).astype(np.uint8)
            v = np.where(ball[::2, ::2], 255, 110).astype(np.uint8)
            f.write(b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes())
    return path


def run_chromium(url: str, wav: str, y4m: str | None, seconds: float, screenshot: str | None = None,
                 env: dict | None = None, timeout: float = 180.0) -> dict:
    """One page session: open ``url``, press Start, run ``seconds``, snapshot the client."""
    opts = {"url": url, "wav": os.path.abspath(wav), "y4m": y4m and os.path.abspath(y4m), "seconds": seconds,
            "screenshot": screenshot and os.path.abspath(screenshot), "chromium": CHROMIUM}
    proc = subprocess.run(["node", str(E2E / "run.mjs"), json.dumps(opts)], cwd=E2E, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"e2e driver failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


# -- analysis -------------------------------------------------------------------------------
def align(received: np.ndarray, ref: np.ndarray) -> tuple[int, float]:
    """(p0, score): received[k] ≈ ref[(k + p0) % len(ref)]; score is the normalised peak."""
    n = len(ref)
    rec = np.zeros(n, np.float64)
    m = min(n, len(received))
    rec[:m] = received[:m]
    corr = np.fft.irfft(np.conj(np.fft.rfft(rec)) * np.fft.rfft(ref.astype(np.float64)), n)
    p0 = int(np.argmax(corr))
    norm = np.linalg.norm(rec) * np.linalg.norm(np.roll(ref, -p0)[:m]) + 1e-12
    return p0, float(corr[p0] / norm)


def refine(received: np.ndarray, ref: np.ndarray, k: int, p0: int, window: int = 16000,
           search: int = 480) -> tuple[int, float]:
    """(lag, corr): around stream sample ``k`` the best match is received[i] ≈ ref[(i + p0 +
    lag) % n]. Chromium's fake mic loops its file with a small skip at each wrap, so every
    turn end is aligned on its own second of audio."""
    lo = max(0, k - window)
    seg = received[lo:k].astype(np.float64)
    idx = (np.arange(lo - search, k + search) + p0) % len(ref)
    cand = ref[idx].astype(np.float64)
    corr = np.correlate(cand, seg, mode="valid")  # index j -> lag j - search
    energy = np.sqrt(np.convolve(cand**2, np.ones(len(seg)), mode="valid")) * (np.linalg.norm(seg) + 1e-12)
    j = int(np.argmax(corr / (energy + 1e-12)))
    return j - search, float(corr[j] / (energy[j] + 1e-12))


def speech_ends_browser_ms(chunks, p0: int, ref: np.ndarray, ends: list[int]) -> tuple[list[float], list[float]]:
    """Browser capture time (ms) of every true end of speech that the received stream
    holds (each aligned on the second before it), and the local alignment scores."""
    received = np.concatenate([c.samples for c in chunks])
    starts = np.cumsum([0] + [len(c.samples) for c in chunks])
    n_ref = len(ref)
    out, scores = [], []
    for loop in range(int(starts[-1] // n_ref) + 2):
        for end in ends:
            k = loop * n_ref + end - p0
            if not 8000 <= k < starts[-1]:
                continue
            lag, score = refine(received, ref, k, p0)
            k -= lag
            scores.append(score)
            if not 0 <= k < starts[-1]:
                continue
            j = int(np.searchsorted(starts, k, side="right") - 1)
            after = starts[j + 1] - k  # samples captured after the end, in the same chunk
            out.append(chunks[j].t_browser_ms - 1000.0 * after / 16000)
    return sorted(out), scores


def turn_rows(report: dict, mouth_ms: list[float], max_vad_ms: float = 1000.0) -> list[dict]:
    """Pair each heard reply with the true end of speech it answers (browser ms → m2e); a
    turn the detector ended more than ``max_vad_ms`` after any true end is left out."""
    off = report["sync"]["offset_ms"]
    rows = []
    for tid, m in report["marks"].items():
        if tid < 0 or "first_output" not in m or "speech_end" not in m:
            continue
        se = m["speech_end"] * 1000 - off  # arrival of the VAD's end, in browser ms
        before = [t for t in mouth_ms if se - max_vad_ms <= t <= se + 50]
        if not before:  # the detector ended a turn nowhere near a true end (split turn, noise)
            continue
        mouth = max(before)
        heard = m["first_output"] * 1000 - off
        rows.append({"turn": tid, "q": mouth_ms.index(mouth), "m2e_ms": heard - mouth,
                     "server_m2e_ms": 1000 * (m["first_output"] - m["speech_end"]), "vad_ms": se - mouth})
    return rows


def summarize(report: dict, snap: dict, rows: list[dict], score: float) -> dict:
    m2e = [r["m2e_ms"] for r in rows]
    sent_s = snap["sent"]["audio"] * 0.02
    return {
        "browser_p50_ms": float(np.percentile(m2e, 50)) if m2e else None,
        "browser_p95_ms": float(np.percentile(m2e, 95)) if m2e else None,
        "underruns": int(snap["playback"].get("underruns", 0)),
        "turns": len(rows),
        "per_turn_ms": [round(v, 1) for v in m2e],
        "per_turn_q": [r["q"] for r in rows],  # which true end (in order) each one answers
        "mic_sent_s": sent_s,
        "mic_received_s": report["source"]["audio_s"],
        "mic_lost_chunks": report["source"]["lost_chunks"],
        "video_frames": report["source"]["video_frames"],
        "played_s": snap["playback"].get("played", 0) / 16000,
        "align_score": score,
        "sync_rtt_ms": report["sync"].get("rtt_ms"),
        "ctx_rate": snap.get("ctxRate"),
        "output_latency_ms": 1000 * (snap.get("outputLatency") or 0),
        "transcript": report.get("transcript", []),
    }


def spaced_script(turns_wav: str, gap_s: float, out_wav: str) -> str:
    """The same spoken turns with ``gap_s`` of silence after each (a slow agent must get to
    answer before the next one); writes ``out_wav`` and its .json sidecar."""
    import soundfile as sf

    ref, sr = sf.read(turns_wav, dtype="float32")
    meta = json.loads(Path(turns_wav).with_suffix(".json").read_text())
    parts, turns, t = [np.zeros(int(0.5 * sr), np.float32)], [], 0.5
    for turn in meta["turns"]:
        a, b = int((turn["start_s"] - 0.2) * sr), int((turn["end_s"] + 0.05) * sr)
        parts += [ref[a:b], np.zeros(int(gap_s * sr), np.float32)]
        turns.append({**turn, "start_s": t + 0.2, "end_s": t + turn["end_s"] - turn["start_s"] + 0.2})
        t += (b - a) / sr + gap_s
    sf.write(out_wav, np.concatenate(parts), sr)
    Path(out_wav).with_suffix(".json").write_text(json.dumps({**meta, "turns": turns}))
    return out_wav


def browser_latency(turns_wav: str, n_turns: int = 4, agent: str = "parrot", screenshot: str | None = None,
                    env: dict | None = None, tail_s: float = 2.5, capture_speaker=None, aec: bool = False,
                    prebuffer_ms: int = 60, gap_s: float | None = None) -> dict:
    """Run the browser path on a scripted conversation; returns browser_p50_ms,
    browser_p95_ms, underruns and the details (see ``summarize``). ``aec``: keep Chrome's
    echo cancellation / noise suppression / AGC on (the page's default; off here so the
    received mic audio can be checked against the file, like the CLI's raw capture).
    ``gap_s``: respace the turns with this much silence (see ``spaced_script``).
    ``env``: extra environment for Chromium (e.g. PULSE_SERVER/PULSE_SINK);
    ``capture_speaker``: a context manager factory recording the speaker while it runs."""
    import soundfile as sf

    from ui.app import create_app
    from ui.server import LiveServer

    missing = missing_tools()
    if missing:
        raise RuntimeError("browser path needs: " + ", ".join(missing))
    if gap_s is not None:
        with tempfile.TemporaryDirectory() as tmp:
            return browser_latency(spaced_script(turns_wav, gap_s, os.path.join(tmp, "turns.wav")), n_turns, agent,
                                   screenshot, env, tail_s, capture_speaker, aec, prebuffer_ms)
    ref, sr = sf.read(turns_wav, dtype="float32")
    meta = json.loads(Path(turns_wav).with_suffix(".json").read_text())
    ends = [int(round(t["end_s"] * sr)) for t in meta["turns"]]
    loops = math.ceil(n_turns / len(ends))
    server = LiveServer(agent=agent, record=True)
    server.pool.warm()
    with tempfile.TemporaryDirectory() as tmp, ServerThread(create_app(server)) as srv:
        y4m = write_y4m(os.path.join(tmp, "cam.y4m"))
        seconds = loops * len(ref) / sr + tail_s
        ctx = capture_speaker() if capture_speaker else None
        if ctx is not None:
            ctx.__enter__()
        try:
            url = f"{srv.url}?aec={int(aec)}&prebuffer_ms={prebuffer_ms}"
            out = run_chromium(url, turns_wav, y4m, seconds, screenshot, env)
        finally:
            if ctx is not None:
                ctx.__exit__(None, None, None)
        deadline = time.monotonic() + 10
        while not server.reports and time.monotonic() < deadline:
            time.sleep(0.05)
    if not out.get("ok"):
        raise RuntimeError(f"browser session failed: {out.get('error')}\n" + "\n".join(out.get("logs", [])[-20:]))
    report = server.reports[-1]
    chunks = sorted(report["mic_chunks"], key=lambda c: c.seq)
    received = np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0, np.float32)
    p0, _ = align(received, ref)
    mouth, scores = speech_ends_browser_ms(chunks, p0, ref, ends)
    score = float(np.median(scores)) if scores else 0.0
    rows = turn_rows(report, mouth)
    result = summarize(report, out["snapshot"], rows, score)
    result.update(report=report, snapshot=out["snapshot"], logs=out.get("logs", []))
    return result


def cli_latency(turns_wav: str, n_turns: int = 4, agent: str = "parrot", speaker: str | None = None,
                gap_s: float | None = None) -> dict:
    """The same conversation through the CLI path (file mic paced in real time → runtime →
    a real-time WAV timeline, or ``speaker``: a PortAudio device, "" for the default), for
    the browser-vs-CLI comparison. Mouth-to-ear from the true ends, like the browser's."""
    import soundfile as sf

    from livesense.app import RunSpec, build_session
    from livesense.config import Config
    from livesense.runtime.pipeline import SESSION

    if gap_s is not None:
        with tempfile.TemporaryDirectory() as tmp:
            return cli_latency(spaced_script(turns_wav, gap_s, os.path.join(tmp, "turns.wav")), n_turns, agent, speaker)
    ref, sr = sf.read(turns_wav, dtype="float32")
    meta = json.loads(Path(turns_wav).with_suffix(".json").read_text())
    loops = math.ceil(n_turns / len(meta["turns"]))
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "in.wav")
        sf.write(wav, np.concatenate([np.tile(ref, loops), np.zeros(sr, np.float32)]), sr)
        out = os.path.join(tmp, "out.wav") if speaker is None else (speaker or None)
        session = build_session(RunSpec(mic=wav, speaker=out, agent=agent), Config())
        session.pipeline.run()
        marks = session.pipeline.tracer.turns()
        stats = session.report().get("output", {})
    t0 = marks[SESSION]["source_start"]
    truth = [t0 + (loop * len(ref) + t["end_s"] * sr) / sr for loop in range(loops) for t in meta["turns"]]
    m2e = []
    for tid, m in marks.items():
        if tid >= 0 and "first_output" in m and "speech_end" in m:
            end = max((t for t in truth if t <= m["speech_end"] + 0.05), default=None)
            if end is not None:
                m2e.append(1000 * (m["first_output"] - end))
    return {"cli_p50_ms": float(np.percentile(m2e, 50)) if m2e else None,
            "cli_p95_ms": float(np.percentile(m2e, 95)) if m2e else None, "turns": len(m2e),
            "per_turn_ms": [round(v, 1) for v in m2e], "output": stats}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wav", default=str(Path(__file__).resolve().parent.parent / "tests" / "data" / "turns.wav"))
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--agent", default="parrot")
    p.add_argument("--screenshot", help="save the page here")
    p.add_argument("--gap-s", type=float, help="respace the turns with this much silence (slow agents)")
    p.add_argument("--aec", action="store_true", help="keep Chrome's echo cancellation/NS/AGC on")
    p.add_argument("--prebuffer-ms", type=int, default=60, help="the page's playback prebuffer")
    p.add_argument("--cli", action="store_true", help="also run the CLI path on the same turns (WAV timeline, "
                   "and the default speaker when PULSE_SERVER is set)")
    args = p.parse_args(argv)
    res = browser_latency(args.wav, args.turns, args.agent, args.screenshot, aec=args.aec,
                          prebuffer_ms=args.prebuffer_ms, gap_s=args.gap_s)
    for k in ("report", "snapshot", "logs"):
        res.pop(k)
    if args.cli:
        res["cli_wav"] = cli_latency(args.wav, args.turns, args.agent, gap_s=args.gap_s)
        if os.environ.get("PULSE_SERVER"):
            res["cli_speaker"] = cli_latency(args.wav, args.turns, args.agent, speaker="", gap_s=args.gap_s)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
