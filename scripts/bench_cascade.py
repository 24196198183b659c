"""Per-stage latency of the cascade agent (Whisper -> Gemma -> Piper) on tests/data/turns.wav.

For each spoken turn in the clip (after a warm-up), times from the moment ``respond``
starts (= the turn was decided):  asr_ms (transcript ready), llm_first_token_ms (after
ASR), tts_first_audio_ms (first speakable chunk of text -> its first AudioFrame),
first_audio_ms (total to first audio), reply_ms (whole reply generated), audio_s (reply
length); and the median cost of one scene analysis. Prints one line per turn and run,
then the medians as JSON on the last line.

    nice -n 5 python scripts/bench_cascade.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from livesense.agents.cascade import CascadeAgent, CascadeConfig, SceneFacts
from livesense.frames import AudioFrame, TextFrame, TurnEnd

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


class TimedTTS:
    """Wraps the TTS to record when each chunk of text was handed to it."""

    def __init__(self, tts) -> None:
        self.tts, self.calls = tts, []

    def load(self) -> None:
        self.tts.load()

    def synthesize(self, text: str):
        self.calls.append(time.perf_counter())
        yield from self.tts.synthesize(text)


def run_turn(agent: CascadeAgent, turn: TurnEnd) -> dict:
    marks: dict[str, float] = {}
    agent.tts.calls.clear()
    t0 = time.perf_counter()
    first_audio, text, samples = None, [], 0
    for frame in agent.respond(turn, lambda name: marks.setdefault(name, time.perf_counter())):
        if isinstance(frame, AudioFrame):
            first_audio = first_audio or time.perf_counter()
            samples += len(frame.samples)
        elif isinstance(frame, TextFrame):
            text.append(frame.text)
    t_end = time.perf_counter()
    ms = lambda a, b: round((b - a) * 1000, 1) if a is not None and b is not None else None  # noqa: E731
    tts0 = agent.tts.calls[0] if agent.tts.calls else None
    return {"heard": agent.last_transcript, "reply": "".join(text).strip(),
            "asr_ms": ms(t0, marks.get("asr_done")),
            "llm_first_token_ms": ms(marks.get("asr_done"), marks.get("first_token")),
            "tts_first_audio_ms": ms(tts0, first_audio), "first_audio_ms": ms(t0, first_audio),
            "reply_ms": ms(t0, t_end), "audio_s": round(samples / agent.config.sample_rate, 2)}


def scene_ms(n: int = 50) -> float:
    """Median cost of one scene analysis on a 160x120 frame (colours, motion, faces)."""
    scene, rng, times = SceneFacts(), np.random.default_rng(0), []
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    for i in range(n):
        img = np.roll(base, i, axis=1)
        t = time.perf_counter()
        scene.analyse(img)
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 2)


def feed(agent: CascadeAgent, audio: np.ndarray, sr: int, t_from: float, t_to: float) -> None:
    for i in range(int(t_from * sr), min(len(audio), int(t_to * sr)), 320):
        agent.observe(AudioFrame(audio[i : i + 320], sr, i / sr))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="passes over the clip's turns")
    ap.add_argument("--asr-window", type=float, default=10.0, help="Whisper window in s (0 = standard 30 s)")
    args = ap.parse_args()
    audio, sr = sf.read(DATA / "turns.wav", dtype="float32")
    turns = json.loads((DATA / "turns.json").read_text())["turns"]

    t = time.perf_counter()
    agent = CascadeAgent.from_config(CascadeConfig())
    agent.asr.window_s = args.asr_window
    agent.tts = TimedTTS(agent.tts)
    t_build = time.perf_counter()
    agent.warm()
    t_warm = time.perf_counter()
    print(f"build {1000 * (t_build - t):.0f} ms, load+warm {1000 * (t_warm - t_build):.0f} ms")

    rows = []
    for run in range(args.runs):
        agent.reset()
        prev = 0.0
        for k, tr in enumerate(turns):
            feed(agent, audio, sr, prev, tr["end_s"] + 0.3)
            prev = tr["end_s"] + 0.3
            turn = TurnEnd(t_capture=tr["end_s"], t_decided=tr["end_s"] + 0.3, speech_s=tr["end_s"] - tr["start_s"])
            row = {"run": run, "turn": k + 1, **run_turn(agent, turn)}
            rows.append(row)
            print(json.dumps(row))
    keys = ["asr_ms", "llm_first_token_ms", "tts_first_audio_ms", "first_audio_ms", "reply_ms", "audio_s"]
    summary = {"load_warm_ms": round(1000 * (t_warm - t_build)), "turns": len(rows),
               "asr_window_s": args.asr_window, "scene_ms_160x120": scene_ms()}
    for key in keys:
        vals = [r[key] for r in rows if r[key] is not None]
        summary[f"median_{key}"] = round(statistics.median(vals), 1) if vals else None
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
