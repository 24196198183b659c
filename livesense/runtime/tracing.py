"""Latency tracing: named spans per frame and named marks per turn.

A *span* is (stage, frame id, t_in, t_out, age): how long one stage held one frame and
how old the frame already was (since capture) when the stage took it. A *mark* is a named instant
of a user turn ("speech_end", "turn_decided", "first_audio", "first_output", ...), from
which mouth-to-ear latency and its breakdown are read. All times come from the clock the
pipeline was given. Thread-safe; cheap enough to leave on.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

# the order in which a turn's marks happen; each consecutive pair is one stage of latency
TURN_MARKS = ("speech_end", "turn_decided", "first_token", "first_audio", "first_output")
TURN_STAGES = {
    "turn_detect": ("speech_end", "turn_decided"),
    "model": ("turn_decided", "first_token"),
    "decode": ("first_token", "first_audio"),
    "output": ("first_audio", "first_output"),
}


@dataclass(frozen=True)
class Span:
    stage: str
    frame_id: int
    t_in: float
    t_out: float
    age: float  # how old the frame was when the stage took it (t_in - t_capture)


class Tracer:
    def __init__(self, enabled: bool = True, max_spans: int = 200_000) -> None:
        self.enabled = enabled
        self._max_spans = max_spans
        self._spans: list[Span] = []
        self._marks: dict[int, dict[str, float]] = defaultdict(dict)
        self._counters: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def span(self, stage: str, frame_id: int, t_in: float, t_out: float, age: float = 0.0) -> None:
        if not self.enabled:
            return
        with self._lock:
            if len(self._spans) >= self._max_spans:  # bounded memory in endless sessions
                del self._spans[: self._max_spans // 2]
            self._spans.append(Span(stage, frame_id, t_in, t_out, age))

    def mark(self, turn: int, name: str, t: float) -> None:
        """Record the first time ``name`` happened for ``turn`` (later repeats are ignored)."""
        with self._lock:
            self._marks[turn].setdefault(name, t)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] += n

    def turns(self) -> dict[int, dict[str, float]]:
        with self._lock:
            return {k: dict(v) for k, v in self._marks.items()}

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def stage_summary(self) -> dict[str, dict[str, float]]:
        """Per stage: n, p50/p95 of processing time and of frame age at entry, in ms."""
        with self._lock:
            by_stage: dict[str, list[Span]] = defaultdict(list)
            for s in self._spans:
                by_stage[s.stage].append(s)
        out = {}
        for stage, spans in by_stage.items():
            proc = np.array([s.t_out - s.t_in for s in spans]) * 1000
            age = np.array([s.age for s in spans]) * 1000
            out[stage] = {
                "n": len(spans),
                "p50_ms": float(np.percentile(proc, 50)),
                "p95_ms": float(np.percentile(proc, 95)),
                "age_p50_ms": float(np.percentile(age, 50)),
                "age_p95_ms": float(np.percentile(age, 95)),
            }
        return out

    def turn_summary(self) -> dict:
        """Mouth-to-ear (speech_end -> first_output) p50/p95 and per-stage p50, in ms."""
        turns = [m for m in self.turns().values() if "speech_end" in m and "first_output" in m]
        if not turns:
            return {"turns": 0}
        m2e = np.array([m["first_output"] - m["speech_end"] for m in turns]) * 1000
        stages = {}
        for name, (a, b) in TURN_STAGES.items():
            vals = [m[b] - m[a] for m in turns if a in m and b in m]
            if vals:
                stages[name] = float(np.percentile(np.array(vals) * 1000, 50))
        return {
            "turns": len(turns),
            "p50_ms": float(np.percentile(m2e, 50)),
            "p95_ms": float(np.percentile(m2e, 95)),
            "stages": stages,
        }
