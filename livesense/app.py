"""Assemble a session from what the user asked for: sources, stages, agent, output.

    mic/file ──┐
               ├─> [aec] ─> turns ─> agent ─> transcript ─> output (speaker or WAV)
    camera ────┘

Used by the CLI, the benchmarks and the browser demo, so all three run the same runtime.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable

from livesense.clock import Clock, MonotonicClock
from livesense.config import Config
from livesense.frames import Frame, Interrupt, TextFrame
from livesense.runtime.agent import Agent, AgentStage
from livesense.runtime.output import AudioSink, OutputStage, PlaybackState
from livesense.runtime.pipeline import Pipeline, Source
from livesense.runtime.tracing import Tracer
from livesense.runtime.turns import TurnDetector

log = logging.getLogger(__name__)

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")


AGENTS = ("cascade", "native", "parrot")


@dataclass(frozen=True)
class RunSpec:
    mic: str | None = None  # device index/name, or an audio file
    camera: str | None = None  # camera index, or a video file
    speaker: str | None = None  # device index/name, or a .wav path
    agent: str = "cascade"  # who answers (see AGENTS)
    whisper_dir: str | None = None  # cascade: your own CTranslate2 Whisper folder
    gguf: str | None = None  # cascade: your own GGUF language model
    piper_onnx: str | None = None  # cascade: your own Piper voice
    hear_views: tuple[tuple[float, int], ...] | None = None  # native: (semitones, grid hops) views (None: default)
    listen: bool = True  # native: prefill the turn while the user speaks (NativeConfig.listen)


def is_file_spec(spec: str | None) -> bool:
    return spec is not None and (os.path.sep in spec or spec.lower().endswith(AUDIO_EXTS) or os.path.exists(spec))


def make_agent(spec: RunSpec, cfg: Config) -> Agent:
    """The agent named by the spec, loaded and warmed up (models load before the first turn)."""
    if spec.agent == "parrot":
        from livesense.agents.parrot import ParrotAgent

        return ParrotAgent(cfg.audio.sample_rate)
    if spec.agent == "native":
        from livesense.agents.native import NativeAgent, NativeConfig

        opts = {"model_path": spec.gguf} if spec.gguf else {}
        if spec.hear_views is not None:
            opts["hear_views"] = tuple(spec.hear_views)
        if not spec.listen:
            opts["listen"] = False
        agent = NativeAgent(NativeConfig(**opts))
        agent.warm()
        return agent
    if spec.agent == "cascade":
        from livesense.agents.cascade import CascadeAgent, CascadeConfig

        agent = CascadeAgent.from_config(CascadeConfig(whisper_dir=spec.whisper_dir, gguf_path=spec.gguf,
                                                       piper_onnx=spec.piper_onnx))
        agent.warm()
        return agent
    raise ValueError(f"unknown agent {spec.agent!r}; choose from: {', '.join(AGENTS)}")


def make_sources(spec: RunSpec, cfg: Config, clock: Clock) -> list[Source]:
    from livesense.capture.camera import CameraSource
    from livesense.capture.files import WavSource
    from livesense.capture.mic import MicSource

    realtime = cfg.runtime.realtime
    if is_file_spec(spec.mic):
        sources: list[Source] = [WavSource(spec.mic, realtime=realtime, clock=clock, config=cfg.audio)]
    else:
        sources = [MicSource(cfg.audio, clock, device=spec.mic).start()]
    if spec.camera is not None:
        sources.append(CameraSource(spec.camera, fps=cfg.vision.fps, realtime=realtime, clock=clock,
                                    size=(cfg.vision.width, cfg.vision.height)))
    return sources


def make_output(spec: RunSpec, cfg: Config, clock: Clock) -> AudioSink:
    from livesense.playback.outputs import SpeakerOutput, WavOutput

    if spec.speaker is not None and spec.speaker.lower().endswith(".wav"):
        from livesense.playback.wavsink import WavSink

        os.makedirs(os.path.dirname(os.path.abspath(spec.speaker)), exist_ok=True)
        sink = WavSink(spec.speaker, cfg.audio.sample_rate, realtime=cfg.runtime.realtime, clock=clock)
        return WavOutput(sink, clock)
    from livesense.playback.speaker import SpeakerSink

    return SpeakerOutput(SpeakerSink(cfg.audio, cfg.playback, clock, device=spec.speaker), clock)


def cut_note(interrupt: Interrupt) -> str:
    """How a transcript marks a reply that was cut off, and why."""
    return "[cut: you went on]" if interrupt.reason == "resume" else "[cut: you cut in]"


class TranscriptStage:
    """Collects the agent's streamed text per reply and hands each piece to a callback
    (the CLI prints it, the UI shows it); a callback with a ``cut(interrupt)`` method is
    also told when a reply with text was cut off."""

    name = "transcript"

    def __init__(self, on_text: Callable[[TextFrame], None] | None) -> None:
        self.on_text = on_text
        self._replies: dict[int, str] = {}

    @property
    def replies(self) -> dict[int, str]:
        """The text of each reply so far, by turn id."""
        return dict(self._replies)

    @property
    def lines(self) -> list[str]:
        """One line per reply, in order."""
        return [text.strip() for text in self._replies.values() if text.strip()]

    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, TextFrame):
            self._replies[frame.turn] = self._replies.get(frame.turn, "") + frame.text
            if self.on_text is not None:
                self.on_text(frame)
        elif isinstance(frame, Interrupt) and frame.turn in self._replies and hasattr(self.on_text, "cut"):
            self.on_text.cut(frame)  # the reader sees which replies were cut off, and why
        return [frame]

    def reset(self) -> None:
        self._replies.clear()


@dataclass
class Session:
    pipeline: Pipeline
    output: AudioSink
    transcript: TranscriptStage
    realtime: bool

    def report(self) -> dict:
        """Latency figures are only meaningful when input was paced in real time."""
        tracer = self.pipeline.tracer
        out = {"realtime": self.realtime, "turns": tracer.turn_summary(), "stages": tracer.stage_summary(),
               "counters": tracer.counters(), "transcript": self.transcript.lines,
               "marks": {str(k): v for k, v in tracer.turns().items()}}
        if hasattr(self.output, "stats"):
            out["output"] = self.output.stats()
        return out


def duplex_front(spec: RunSpec, cfg: Config, output: AudioSink, playback: PlaybackState) -> list:
    """Echo cancellation + barge-in policy: the stages that go before the agent.

    On a speaker device (and ``cfg.duplex.aec``), the speaker's output callback feeds a
    reference tap and an ``EchoCancelStage`` cleans the mic before turn detection. While
    the agent is audible, a ``BargeInPolicy`` decides when the user really interrupts.
    """
    from livesense.runtime.bargein import BargeInPolicy

    front, echo_info = [], None
    speaker = getattr(output, "speaker", None)
    if cfg.duplex.aec and speaker is not None and hasattr(speaker, "on_played"):
        from livesense.aec import EchoCancelStage, EchoCanceller
        from livesense.aec.kernels import warmup
        from livesense.aec.tap import ReferenceTap

        warmup()  # compile (or load) the kernels before the first mic frame
        tap = ReferenceTap()
        aec = EchoCancelStage(EchoCanceller(), tap=tap)
        speaker.on_played = tap
        speaker.on_cut = tap.cut  # a duck or barge-in dropped the device's queue: unplayed reference
        front, echo_info = [aec], aec.log.get
        # the agent's voice reaches the mic the canceller's bulk delay after it left the DAC
        echo_delay = lambda: aec.canceller.delay / aec.canceller.config.sample_rate  # noqa: E731
    else:
        echo_delay = lambda: 0.0  # noqa: E731
    audible = lambda t: playback.speaking(t - echo_delay()) is not None  # noqa: E731
    policy = BargeInPolicy(cfg.audio, cfg.duplex, audible, echo_info)
    return front + [TurnDetector(cfg.audio, cfg.turn, barge_in=policy)]


def build_session(spec: RunSpec, cfg: Config, clock: Clock | None = None,
                  on_text: Callable[[TextFrame], None] | None = None, agent: Agent | None = None,
                  sources: list[Source] | None = None, output: AudioSink | None = None,
                  output_latency_s: float | None = None,
                  on_ready: Callable[[], None] | None = None) -> Session:
    """A ready pipeline for ``spec``; ``agent``, ``sources`` and ``output`` (with its latency
    ahead of the ear) override what the spec names (the browser demo brings its own)."""
    clock = clock or MonotonicClock()
    tracer = Tracer(cfg.runtime.trace)
    agent = agent or make_agent(spec, cfg)
    output = output or make_output(spec, cfg, clock)
    transcript = TranscriptStage(on_text)
    playback = PlaybackState()
    latency = output_latency_s
    if latency is None:
        latency = cfg.audio.output_latency_s if not is_file_spec(spec.speaker) else 0.0
    stages = [*duplex_front(spec, cfg, output, playback), AgentStage(agent, clock, tracer, cfg.turn, playback),
              transcript, OutputStage(output, clock, tracer, playback, latency)]
    try:
        sources = sources or make_sources(spec, cfg, clock)
    except BaseException:
        output.close()
        raise
    pipeline = Pipeline(sources, stages, clock, tracer, cfg.runtime, on_ready=on_ready)
    return Session(pipeline, output, transcript, cfg.runtime.realtime)


def run_session(spec: RunSpec, cfg: Config, on_text: Callable[[TextFrame], None] | None = None,
                on_ready: Callable[[], None] | None = None) -> dict:
    """Build and run a session to its end; ``on_ready`` is called once input flows."""
    session = build_session(spec, cfg, on_text=on_text, on_ready=on_ready)
    session.pipeline.run()
    return session.report()
