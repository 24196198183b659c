"""CascadeAgent: Whisper (ASR) -> a small LLM -> Piper (TTS), as a LiveSense ``Agent``.

``respond`` is one lazy generator that hands work on as soon as it exists: the turn's
audio is transcribed, LLM pieces are yielded as TextFrames while a ``SpeechChunker`` cuts
them into speakable chunks, and each chunk's audio is yielded in ``chunk_s`` frames as
soon as Piper has made it, while the rest of the reply is still being generated. Closing
the generator (barge-in) closes the LLM stream, so llama.cpp stops decoding at once.

The three engines are duck-typed (``transcribe(audio) -> str``, ``stream(prompt) ->
Iterator[str]``, ``synthesize(text) -> Iterator[np.ndarray]`` at the runtime rate), so
tests pass light fakes; ``CascadeAgent.from_config`` builds the real ones.
"""

from __future__ import annotations

import logging
from typing import Iterator, Protocol

import numpy as np

from livesense.agents.cascade.config import CascadeConfig
from livesense.agents.cascade.dialogue import Dialogue
from livesense.agents.cascade.scene import SceneFacts
from livesense.agents.cascade.tts import SpeechChunker
from livesense.frames import AudioFrame, Frame, TextFrame, TurnEnd, VideoFrame
from livesense.runtime.agent import Mark
from livesense.runtime.history import AudioHistory

log = logging.getLogger(__name__)


class ASR(Protocol):
    def transcribe(self, audio: np.ndarray) -> str: ...


class LLM(Protocol):
    def stream(self, prompt: str) -> Iterator[str]: ...


class TTS(Protocol):
    def synthesize(self, text: str) -> Iterator[np.ndarray]: ...


class CascadeAgent:
    name = "cascade"

    def __init__(self, asr: ASR, llm: LLM, tts: TTS, config: CascadeConfig | None = None,
                 scene: SceneFacts | None = None) -> None:
        self.config = cfg = config or CascadeConfig()
        self.asr, self.llm, self.tts = asr, llm, tts
        self.scene = scene or SceneFacts(cfg.scene_interval_s)
        self.history = AudioHistory(cfg.history_s, cfg.sample_rate)
        self.dialogue = Dialogue(cfg.history_turns)
        self.chunk = max(1, int(round(cfg.chunk_s * cfg.sample_rate)))
        self.interruptions = 0
        self.last_transcript = ""

    @classmethod
    def from_config(cls, config: CascadeConfig | None = None) -> "CascadeAgent":
        """The real engines (loaded lazily, or now by ``warm()``); paths validated here."""
        from livesense.agents.cascade.asr import WhisperASR
        from livesense.agents.cascade.llm import LlamaLLM
        from livesense.agents.cascade.tts import PiperTTS

        cfg = config or CascadeConfig()
        paths = cfg.resolved()
        asr = WhisperASR(paths.whisper_dir, cfg.threads, cfg.language, prompt=cfg.asr_prompt)
        llm = LlamaLLM(paths.gguf_path, cfg.threads, cfg.n_ctx, cfg.max_tokens, cfg.temperature, cfg.seed)
        tts = PiperTTS(paths.piper_onnx, paths.piper_config, cfg.threads, cfg.sample_rate)
        return cls(asr, llm, tts, cfg)

    def warm(self) -> None:
        """Load every engine and run each once, so the first turn pays no start-up cost.
        The LLM warm-up also prefills the fixed prompt head into llama.cpp's KV cache."""
        for engine in (self.asr, self.llm, self.tts):
            if hasattr(engine, "load"):
                engine.load()
        rng = np.random.default_rng(0)
        self.asr.transcribe((0.01 * rng.standard_normal(self.config.sample_rate)).astype(np.float32))
        for _ in _take(self.llm.stream(self.dialogue.prompt("Hello.", None)), 1):
            pass
        for _ in self.tts.synthesize("Hello."):
            pass

    # --- Agent protocol -------------------------------------------------------------

    def observe(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame):
            self.history.write(frame.samples, frame.t_capture)
        elif isinstance(frame, VideoFrame):
            self.scene.update(frame.image, frame.t_capture)

    def respond(self, turn: TurnEnd, mark: Mark) -> Iterator[Frame]:
        t0 = turn.t_capture - turn.speech_s - self.config.pre_roll_s
        user = self.asr.transcribe(self.history.read(t0, turn.t_capture))
        self.last_transcript = user
        mark("asr_done")
        if not user:
            log.info("turn %d: no words heard, no reply", turn.id)
            return
        log.info("turn %d: heard %r", turn.id, user)
        yield from self._reply(turn, user, mark)

    def prepare(self, start=None) -> None:
        """The user started talking: decode the prompt up to their words (history, scene
        facts, ``User:``) into the LLM's KV cache now, so after the ASR only their words
        and ``Assistant:`` are left to prefill. A scene that changes before the turn ends
        costs nothing extra: the cache is reused up to where the prompts differ."""
        if hasattr(self.llm, "prefill"):
            n = self.llm.prefill(self.dialogue.prefix(self.scene.text))
            log.debug("prefilled %d prompt tokens while the user speaks", n)

    def interrupted(self, turn: TurnEnd) -> None:
        self.interruptions += 1
        self.dialogue.mark_interrupted(turn.id)

    def discarded(self, turn: TurnEnd) -> None:
        """A reply started before the turn ended was dropped unheard: no trace in the dialogue."""
        self.dialogue.forget(turn.id)

    def reset(self) -> None:
        self.history.reset()
        self.scene.reset()
        self.dialogue.reset()
        self.interruptions = 0
        self.last_transcript = ""

    # --- the reply ------------------------------------------------------------------

    def _reply(self, turn: TurnEnd, user: str, mark: Mark) -> Iterator[Frame]:
        cfg = self.config
        chunker = SpeechChunker(cfg.tts_first_words, cfg.tts_max_words)
        pieces: list[str] = []
        tokens = self.llm.stream(self.dialogue.prompt(user, self.scene.text))
        try:
            for piece in tokens:
                if not pieces:
                    mark("first_token")
                pieces.append(piece)
                yield TextFrame(piece, turn.t_capture, turn=turn.id)
                for text in chunker.push(piece):
                    yield from self._speak(text, turn)
            tail = chunker.flush()
            if tail:
                yield from self._speak(tail, turn)
            yield TextFrame("", turn.t_capture, final=True, turn=turn.id)
        finally:
            if hasattr(tokens, "close"):
                tokens.close()  # barge-in: llama.cpp stops decoding here
            self.dialogue.add(turn.id, user, "".join(pieces))  # partial if cut off

    def _speak(self, text: str, turn: TurnEnd) -> Iterator[AudioFrame]:
        rate = self.config.sample_rate
        for audio in self.tts.synthesize(text):
            for i in range(0, len(audio), self.chunk):
                yield AudioFrame(audio[i : i + self.chunk], rate, turn.t_capture, turn=turn.id)


def _take(it: Iterator, n: int) -> Iterator:
    try:
        for i, x in enumerate(it):
            if i >= n:
                break
            yield x
    finally:
        if hasattr(it, "close"):
            it.close()
