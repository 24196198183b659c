"""Adapters from the playback sinks to the runtime's ``AudioSink`` protocol.

The output stage (``runtime.output``) needs, from any sink: queue samples, end a reply,
flush at once, drain at the end, close, and *when the first sample of each reply really
reached the output*. The speaker knows that from its jitter buffer (DAC time reported by
PortAudio); a WAV file written in real time knows it from its timeline.
"""

from __future__ import annotations

import numpy as np

from livesense.clock import Clock
from livesense.frames import AudioFrame
from livesense.playback.speaker import SpeakerSink
from livesense.playback.wavsink import WavSink
from livesense.runtime.output import OnOutput


class SpeakerOutput:
    def __init__(self, speaker: SpeakerSink, clock: Clock, sample_rate: int = 16000) -> None:
        self.speaker = speaker.start()
        self.clock = clock
        self.sample_rate = sample_rate
        self._waiting: dict[int, OnOutput] = {}  # jitter reply index -> callback

    @property
    def latency_s(self) -> float | None:
        """The device's measured lead from callback to DAC (None until measured)."""
        return self.speaker.ahead_s or None

    def write(self, samples: np.ndarray, on_output: OnOutput | None = None) -> None:
        self.speaker.write(AudioFrame(samples, self.sample_rate, self.clock.now()))
        if on_output is not None:
            reply = self.speaker.current_reply()
            if reply is not None:
                self._waiting[reply.index] = on_output
        self._resolve()

    def end_reply(self) -> None:
        self.speaker.end_reply()
        self._resolve()

    def flush(self) -> int:
        dropped = self.speaker.interrupt()
        self._resolve()
        return dropped

    def duck(self, on: bool) -> None:
        self.speaker.duck(on)

    @property
    def cuts_device(self) -> bool:
        return self.speaker.cuts_device

    def drain(self, timeout: float) -> None:
        self.speaker.end_reply()
        self.speaker.wait_idle(timeout)
        self._resolve()

    def _resolve(self) -> None:
        if not self._waiting:
            return
        timings = list(self.speaker.jitter.replies())
        current = self.speaker.current_reply()
        if current is not None:
            timings.append(current)
        for t in timings:
            if t.index in self._waiting and t.t_first_out is not None:
                self._waiting.pop(t.index)(t.t_first_out)

    def stats(self) -> dict[str, int]:
        return self.speaker.stats()

    def close(self) -> None:
        self._resolve()
        self.speaker.stop()


class WavOutput:
    """Reply audio to a WAV file. In real time the first sample's output time is where it
    lands on the file's timeline; as fast as possible it is the moment it was written."""

    def __init__(self, sink: WavSink, clock: Clock) -> None:
        self.sink = sink
        self.clock = clock
        self.sample_rate = sink.sample_rate

    def write(self, samples: np.ndarray, on_output: OnOutput | None = None) -> None:
        now = self.clock.now()
        self.sink.write(AudioFrame(samples, self.sample_rate, now))
        if on_output is None:
            return
        if self.sink.realtime:  # where the sink placed the first sample on its timeline
            pos = self.sink.end - len(samples)
            on_output(self.sink.t_start + pos / self.sample_rate)
        else:
            on_output(now)

    def end_reply(self) -> None:
        self.sink.end_reply()

    def flush(self) -> int:
        return self.sink.interrupt()

    def duck(self, on: bool) -> None:
        """A real-time file stands for the speaker: it pauses and resumes the same way."""
        self.sink.hold() if on else self.sink.release()

    def drain(self, timeout: float) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"samples_written": self.sink.end}

    def close(self) -> None:
        self.sink.close()
