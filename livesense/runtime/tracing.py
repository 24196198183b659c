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

import numpy as np

# the order in which a turn's marks happen; each consecutive pair is one stage of latency
TURN_MARKS = ("speech_end", "turn_decided", "first_token", "first_audio", "first_output")
TURN_STAGES = {
    "turn_detect": ("speech_end", "turn_decided"),
    "model": ("turn_decided", "first_token"),
    "decode": ("first_token", "first_audio"),
    "output": ("first_audio", "first_output"),
}


class Tracer:
    """Spans live in a preallocated ring (the newest ``max_spans``), marks in a dict capped at
    ``max_turns`` turns, so an endless session keeps flat memory."""

    def __init__(self, enabled: bool = True, max_spans: int = 50_000, max_turns: int = 4096) -> None:
        self.enabled = enabled
        self._ring = np.zeros((max_spans, 3), np.float64)  # t_in, t_out, age
        self._stage_of = np.zeros(max_spans, np.int16)
        self._stages: list[str] = []
        self._n = 0
        self._max_turns = max_turns
        self._marks: dict[int, dict[str, float]] = {}
        self._counters: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def span(self, stage: str, frame_id: int, t_in: float, t_out: float, age: float = 0.0) -> None:
        """One stage held one frame from ``t_in`` to ``t_out``; it was ``age`` s old then."""
        if not self.enabled:
            return
        with self._lock:
            if stage not in self._stages:
                self._stages.append(stage)
            i = self._n % len(self._ring)
            self._ring[i] = (t_in, t_out, age)
            self._stage_of[i] = self._stages.index(stage)
            self._n += 1

    def mark(self, turn: int, name: str, t: float) -> None:
        """Record the first time ``name`` happened for ``turn`` (later repeats are ignored)."""
        with self._lock:
            if turn not in self._marks and len(self._marks) >= self._max_turns:
                del self._marks[next(k for k in self._marks if k >= 0)]  # oldest turn; keep session marks
            self._marks.setdefault(turn, {}).setdefault(name, t)

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
            n = min(self._n, len(self._ring))
            ring, stage_of, names = self._ring[:n].copy(), self._stage_of[:n].copy(), list(self._stages)
        out = {}
        for k, stage in enumerate(names):
            rows = ring[stage_of == k]
            if not len(rows):
                continue
            proc, age = (rows[:, 1] - rows[:, 0]) * 1000, rows[:, 2] * 1000
            out[stage] = {
                "n": int(len(rows)),
                "p50_ms": float(np.percentile(proc, 50)),
                "p95_ms": float(np.percentile(proc, 95)),
                "age_p50_ms": float(np.percentile(age, 50)),
                "age_p95_ms": float(np.percentile(age, 95)),
            }
        return out

    def turn_summary(self) -> dict:
        """Mouth-to-ear (speech_end -> first_output) p50/p95 and per-stage p50, in ms, over the
        answered turns (not a turn the user went on with: its reply was cut, ``resumed``)."""
        turns = [m for m in self.turns().values() if "speech_end" in m and "first_output" in m and "resumed" not in m]
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
