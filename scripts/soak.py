"""Soak: a long conversation from files, faster than real time, watching memory and drift.

    python scripts/soak.py --hours 1 --speed 10 [--agent parrot]

A scripted conversation (held-out voices) is looped for ``--hours`` of *session* time on
a clock running ``--speed`` times the wall clock, through the full runtime (turns, agent,
barge-in, real-time WAV timeline). RSS is sampled throughout. Drift: how far the reply
audio's place in the output timeline moves, over the session, from where the clock says
it was played, plus how far capture stamps move from the sample count. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading

import numpy as np

from livesense.app import RunSpec, build_session
from livesense.capture.files import _BlockSource
from livesense.clock import ScaledClock
from livesense.config import Config
from livesense.corpus.conversation import conversation
from livesense.frames import AudioFrame


class LoopSource(_BlockSource):
    """The script's audio repeated until ``seconds`` of session time have been captured;
    remembers the last frame so capture drift can be checked against the sample count."""

    def __init__(self, audio: np.ndarray, seconds: float, clock, config) -> None:
        super().__init__(16000, True, clock, config)
        self.audio, self.total = audio, int(seconds * 16000)
        self.last: AudioFrame | None = None
        self.first: AudioFrame | None = None

    def _blocks(self):
        sent = 0
        while sent < self.total:
            block = self.audio[: self.total - sent]
            sent += len(block)
            yield block

    def __iter__(self):
        for frame in super().__iter__():
            if isinstance(frame, AudioFrame):
                self.first = self.first or frame
                self.last = frame
            yield frame


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def sample_rss(stop: threading.Event, out: list, period_s: float) -> None:
    while not stop.wait(period_s):
        out.append(rss_mb())


def capture_drift_ms(src: LoopSource) -> float:
    if src.first is None or src.last is None:
        return float("nan")
    n = (src.frames_out - 1) * src.config.frame_size
    return 1000 * abs((src.last.t_capture - src.first.t_capture) - n / 16000)


def reply_offsets(wav: str, marks: dict, t_start: float) -> list[float]:
    """For each reply, seconds between where the clock says its first sample was played and
    where its audio actually begins in the output timeline. Constant offsets are harmless;
    a trend over the session is drift."""
    import soundfile as sf

    x, sr = sf.read(wav, dtype="float32")
    offsets = []
    for m in sorted((m for m in marks.values() if "first_output" in m), key=lambda m: m["first_output"]):
        at = int(round((m["first_output"] - t_start) * sr))
        win = np.abs(x[at : at + sr])
        loud = np.flatnonzero(win > 0.05)
        if loud.size:
            offsets.append(loud[0] / sr)
    return offsets


def trend_ms(offsets: list[float]) -> float:
    """|median of the last 10% - median of the first 10%| of reply offsets, in ms."""
    if len(offsets) < 4:
        return float("nan")
    k = max(1, len(offsets) // 10)
    return 1000 * abs(float(np.median(offsets[-k:])) - float(np.median(offsets[:k])))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--speed", type=float, default=10.0)
    p.add_argument("--agent", default="parrot")
    p.add_argument("--turns", type=int, default=8, help="turns in the looped script")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cfg, clock = Config(), ScaledClock(args.speed)
    script = conversation(args.turns, gap_s=4.0, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        out_wav = os.path.join(tmp, "out.wav")
        source = LoopSource(script.audio, args.hours * 3600, clock, cfg.audio)
        session = build_session(RunSpec(speaker=out_wav, agent=args.agent), cfg, clock, sources=[source])
        stop, rss = threading.Event(), [rss_mb()]
        sampler = threading.Thread(target=sample_rss, args=(stop, rss, 1.0), daemon=True)
        sampler.start()
        errors = 0
        try:
            session.pipeline.run()
        except Exception as e:  # noqa: BLE001 - counted and reported
            logging.error("soak: %s", e)
            errors += 1
        stop.set()
        report = session.report()
        offsets = reply_offsets(out_wav, session.pipeline.tracer.turns(), session.output.sink.t_start)
    early = rss[max(1, len(rss) // 10)] if len(rss) > 2 else rss[0]
    result = {
        "hours": source.frames_out * cfg.audio.frame_size / 16000 / 3600,
        "speed": args.speed, "turns_answered": report["turns"].get("turns", 0),
        "rss_start_mb": rss[0], "rss_early_mb": early, "rss_end_mb": rss[-1], "rss_max_mb": max(rss),
        "rss_growth_pct": 100 * (rss[-1] - early) / early,
        "drift_ms": max(capture_drift_ms(source), trend_ms(offsets)),
        "capture_drift_ms": capture_drift_ms(source), "playback_drift_ms": trend_ms(offsets),
        "replies_located": len(offsets),
        "errors": errors + len(session.pipeline.errors),
        "interrupts": report["counters"].get("interrupts", 0),
    }
    print(json.dumps(result))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
