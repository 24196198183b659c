from dataclasses import replace
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livesense.clock import MonotonicClock
from livesense.config import AudioConfig, TurnConfig
from livesense.frames import AudioFrame, TextFrame
from livesense.runtime.agent import AgentStage
from livesense.runtime.output import MemorySink, OutputStage, PlaybackState
from livesense.agents.parrot import ParrotAgent
from livesense.runtime.pipeline import Pipeline
from livesense.runtime.tracing import Tracer
from livesense.runtime.turns import TurnDetector

DATA = Path(__file__).parent / "data"


class ArraySource:
    name = "array"

    def __init__(self, x, sr, chunk=320, speed=None):
        self.x, self.sr, self.chunk, self.speed = x, sr, chunk, speed

    def __iter__(self):
        t0 = time.monotonic()
        for i in range(0, len(self.x), self.chunk):
            if self.speed:  # paced: a chunk is due once its audio has been "spoken"
                time.sleep(max(0.0, t0 + (i + self.chunk) / self.sr / self.speed - time.monotonic()))
            yield AudioFrame(self.x[i : i + self.chunk], self.sr, i / self.sr)

    def close(self):
        pass


class Recorder:
    name = "recorder"

    def __init__(self):
        self.frames = []

    def step(self, frame):
        self.frames.append(frame)
        return [frame]

    def reset(self):
        self.frames.clear()


class SlowParrot(ParrotAgent):
    """Generates each 40 ms chunk in 20 ms of real time, like a model would."""

    def respond(self, turn, mark):
        for frame in super().respond(turn, mark):
            time.sleep(0.02)
            yield frame


class FailingStage:
    name = "boom"

    def step(self, frame):
        raise RuntimeError("stage exploded")

    def reset(self):
        pass


FIXED = TurnConfig(endpoint_model=None)  # these tests count interrupts: no early ends at pauses (test_turns)


def build(agent, x, sr, turn=FIXED, speed=None):
    clock, tracer = MonotonicClock(), Tracer()
    sink, rec, playback = MemorySink(clock), Recorder(), PlaybackState()
    stages = [TurnDetector(AudioConfig(), turn), AgentStage(agent, clock, tracer, turn, playback),
              rec, OutputStage(sink, clock, tracer, playback)]
    return Pipeline([ArraySource(x, sr, speed=speed)], stages, clock, tracer), sink, rec


@pytest.fixture(scope="module")
def clip():
    return sf.read(DATA / "turns.wav", dtype="float32")


def test_parrot_answers_each_turn_and_traces_latency(clip):
    x, sr = clip
    # as fast as possible: barge-in off, so the second turn waits for the first reply
    pipe, sink, rec = build(ParrotAgent(), x, sr, replace(FIXED, barge_in=False))
    pipe.run(timeout=30)
    texts = [f.text for f in rec.frames if isinstance(f, TextFrame)]
    assert len(texts) == 2 and all("parrot" in t for t in texts)
    # the parrot says back the speech it heard: about 1.9 s + 1.2 s of audio
    assert 2.8 < len(sink.audio()) / sr < 3.8
    summary = pipe.tracer.turn_summary()
    assert summary["turns"] == 2
    assert set(summary["stages"]) == {"turn_detect", "model", "decode", "output"}
    assert pipe.tracer.stage_summary()["turns"]["n"] > 200


def test_barge_in_cuts_reply_and_drops_stale_audio(clip):
    x, sr = clip
    # paced at 4x: the second turn starts ~0.2 s after the slow parrot began answering
    pipe, sink, rec = build(SlowParrot(), x, sr, speed=4.0)
    pipe.run(timeout=30)
    counters = pipe.tracer.counters()
    assert counters.get("interrupts") == 1
    first_turn = next(t for t, m in pipe.tracer.turns().items() if "interrupted" in m)
    played_first = [f for f in rec.frames if isinstance(f, AudioFrame) and f.turn == first_turn]
    assert 0 < len(played_first) * 0.04 < 1.9  # cut short
    assert sink.flushed == 1
    assert "flushed" in pipe.tracer.turns()[first_turn]


def test_stage_error_stops_pipeline_and_is_raised(clip):
    x, sr = clip
    clock = MonotonicClock()
    pipe = Pipeline([ArraySource(x, sr)], [Recorder(), FailingStage()], clock)
    with pytest.raises(RuntimeError, match="stage exploded"):
        pipe.run(timeout=10)


def test_pipeline_needs_a_source_and_a_stage():
    with pytest.raises(ValueError):
        Pipeline([], [Recorder()], MonotonicClock())


def test_barge_in_stops_audio_already_generated(clip):
    """The parrot generates its whole reply at once; the user still cuts it while it plays."""
    x, sr = clip
    pipe, sink, rec = build(ParrotAgent(), x, sr, speed=4.0)
    pipe.run(timeout=30)
    assert pipe.tracer.counters().get("interrupts") == 1
    assert sink.flushed == 1
    cut = [m for m in pipe.tracer.turns().values() if "interrupted" in m]
    assert len(cut) == 1 and "flushed" in cut[0]


def test_no_barge_in_when_agent_is_silent(clip):
    """Speech after the reply has finished playing is a new turn, not an interruption."""
    x, sr = clip
    cut = int(3.3 * sr)  # between the turns: 8 s more silence (4 s at 2x), twice the reply
    x = np.concatenate([x[:cut], np.zeros(8 * sr, np.float32), x[cut:]])
    pipe, sink, rec = build(ParrotAgent(), x, sr, speed=2.0)
    pipe.run(timeout=30)
    assert pipe.tracer.turn_summary()["turns"] == 2
    assert pipe.tracer.counters().get("interrupts") is None
    assert sink.flushed == 0


def test_replies_are_computed_during_the_end_of_turn_wait(clip):
    """Every reply starts on TurnPending and is used when its turn ends; pauses inside a
    turn start replies that are dropped unheard (no extra reply, no interruption of its own)."""
    x, sr = clip
    pipe, sink, rec = build(ParrotAgent(), x, sr, speed=4.0)
    pipe.run(timeout=30)
    c = pipe.tracer.counters()
    texts = [f for f in rec.frames if isinstance(f, TextFrame)]
    assert c["speculations_used"] == 2 == len(texts)
    assert c["speculations"] == c["speculations_used"] + c.get("speculations_dropped", 0)
    off, _, _ = build(ParrotAgent(), x, sr, replace(FIXED, speculate_s=None), speed=4.0)
    off.run(timeout=30)
    assert "speculations" not in off.tracer.counters()
