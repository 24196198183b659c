"""ParrotAgent: a *test* agent that says back what it heard.

It exists to exercise the runtime (turns, streaming replies, barge-in, playback,
latency tracing) without a model. It is not the product: the native model is.
"""

from __future__ import annotations

from typing import Iterator

from livesense.frames import AudioFrame, Frame, TextFrame, TurnEnd
from livesense.runtime.agent import Mark
from livesense.runtime.history import AudioHistory


class ParrotAgent:
    name = "parrot"

    def __init__(self, sample_rate: int = 16000, chunk_s: float = 0.04, history_s: float = 30.0) -> None:
        self.sample_rate = sample_rate
        self.chunk = int(chunk_s * sample_rate)
        self.history = AudioHistory(history_s, sample_rate)
        self.interruptions = 0

    def observe(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame):
            self.history.write(frame.samples, frame.t_capture)

    def respond(self, turn: TurnEnd, mark: Mark) -> Iterator[Frame]:
        audio = self.history.read(turn.t_capture - turn.speech_s, turn.t_capture)
        mark("first_token")
        yield TextFrame(f"(parrot) you spoke for {turn.speech_s:.1f} s", turn.t_capture, final=True, turn=turn.id)
        for i in range(0, len(audio), self.chunk):
            yield AudioFrame(audio[i : i + self.chunk].copy(), self.sample_rate, turn.t_capture, turn=turn.id)

    def interrupted(self, turn: TurnEnd) -> None:
        self.interruptions += 1

    def reset(self) -> None:
        self.history.reset()
        self.interruptions = 0
