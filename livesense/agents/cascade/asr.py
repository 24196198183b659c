"""Speech to text for a finished turn: faster-whisper (CTranslate2) on the CPU, one thread.

The model is loaded lazily on the first ``transcribe`` (or by ``load()``), from a local
CTranslate2 folder only; ``HF_HUB_OFFLINE=1`` is set before faster-whisper is imported so
a mistake can never turn into a download.

Short-window decoding: Whisper's encoder always runs on a 30 s window (3,000 mel frames),
padding a 2 s turn with 28 s of nothing, and on one CPU thread that encoder is ~90% of the
time (tiny.en: ~1.0 s of ~1.2 s here, measured). CTranslate2 accepts a shorter window, so
a turn that fits in ``window_s`` is encoded in a window of that length (10 s: ~7x less
encoder time, same transcript on the test clips) and decoded greedily without timestamps.
If that output looks degenerate (a repetition loop: zlib compression ratio > 2.4, the
threshold faster-whisper uses) or the turn is longer, the standard 30 s path runs instead.
``window_s=0`` always uses the standard path.

``prompt`` (the cascade passes ``CascadeConfig.asr_prompt``) is given to Whisper as the
previous text, so it expects the domain's words ("colour", "bright or dark", "someone");
empty by default, so the benchmark's scoring ASR stays unbiased.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

import numpy as np

from livesense.agents.cascade.config import check_whisper_dir, default_whisper_dir

log = logging.getLogger(__name__)

ASR_RATE = 16000  # Whisper's input rate
_MIN_SAMPLES = ASR_RATE // 10  # shorter input (< 0.1 s) is not worth a decoder pass
_FRAMES_PER_S = 100  # Whisper mel frames per second
_MAX_COMPRESSION = 2.4  # faster-whisper's compression_ratio_threshold: above it, a repetition loop
_NO_SPEECH, _LOW_LOGPROB = 0.6, -1.0  # faster-whisper's defaults for dropping a silent window
_TOKENS_PER_S = 8  # decode cap for the short path (speech is ~3-5 tokens/s)


def _import_whisper_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise ImportError("the cascade ASR needs faster-whisper: pip install --no-deps "
                          "faster-whisper==1.2.1 && pip install 'ctranslate2>=4,<5' "
                          "'tokenizers>=0.13,<1' 'huggingface-hub>=0.21' 'av>=11'") from e
    return WhisperModel


class WhisperASR:
    """``transcribe(audio16k) -> str`` with Whisper (greedy, English, no timestamps, no VAD)."""

    def __init__(self, model_dir: str | Path | None = None, threads: int = 1, language: str = "en",
                 window_s: float = 10.0, prompt: str = "") -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.prompt = prompt  # Whisper's "previous text": domain words it should expect
        self.threads = threads
        self.language = language
        self.window_s = window_s
        self._model = None
        self._tokenizer = None

    def load(self) -> None:
        if self._model is not None:
            return
        path = check_whisper_dir(self.model_dir or default_whisper_dir())
        WhisperModel = _import_whisper_model()
        log.info("loading Whisper from %s", path)
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                   cpu_threads=self.threads, num_workers=1, local_files_only=True)
        from faster_whisper.tokenizer import Tokenizer

        self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                                    task="transcribe", language=self.language)

    def transcribe(self, audio: np.ndarray) -> str:
        """Text of one turn (mono float32 at 16 kHz); '' for silence or a too short clip."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size < _MIN_SAMPLES:
            return ""
        self.load()
        if audio.size < (self.window_s - 0.5) * ASR_RATE:
            text = self._transcribe_window(audio)
            if text is not None:
                return text
        return self._transcribe_full(audio)

    def _transcribe_window(self, audio: np.ndarray) -> str | None:
        """Greedy decode in a ``window_s`` window; None if the output looks like a loop."""
        import ctranslate2

        model, tok = self._model, self._tokenizer
        feats = model.feature_extractor(audio)  # (n_mels, frames)
        window = np.zeros((1, feats.shape[0], int(self.window_s * _FRAMES_PER_S)), np.float32)
        n = min(feats.shape[1], window.shape[2])
        window[0, :, :n] = feats[:, :n]
        encoded = model.model.encode(ctranslate2.StorageView.from_array(window), to_cpu=False)
        prompt = self._prompt_tokens() + list(tok.sot_sequence) + [tok.no_timestamps]
        max_new = 8 + int(_TOKENS_PER_S * audio.size / ASR_RATE)
        result = model.model.generate(encoded, [prompt], beam_size=1, max_length=len(prompt) + max_new,
                                      suppress_blank=True, suppress_tokens=[-1], return_scores=True,
                                      return_no_speech_prob=True)[0]
        if result.no_speech_prob > _NO_SPEECH and result.scores[0] < _LOW_LOGPROB:
            return ""  # faster-whisper's silence rule (no_speech_threshold, log_prob_threshold)
        text = tok.decode(result.sequences_ids[0]).strip()
        if not any(c.isalnum() for c in text):
            return ""  # "." / ". . ." is what Whisper says about noise
        if len(text) > 20 and len(text) / len(zlib.compress(text.encode())) > _MAX_COMPRESSION:
            log.info("short-window ASR looped (%r); decoding the full window", text[:60])
            return None
        return text

    def _prompt_tokens(self) -> list[int]:
        """[sot_prev] + the prompt's tokens, as faster-whisper builds an initial prompt."""
        if not self.prompt:
            return []
        return [self._tokenizer.sot_prev] + self._tokenizer.encode(" " + self.prompt.strip())[-223:]

    def _transcribe_full(self, audio: np.ndarray) -> str:
        segments, _ = self._model.transcribe(
            audio, language=self.language, beam_size=1, temperature=0.0, vad_filter=False,
            initial_prompt=self.prompt or None,
            without_timestamps=True, condition_on_previous_text=False, word_timestamps=False)
        text = " ".join(s.text.strip() for s in segments).strip()
        return text if any(c.isalnum() for c in text) else ""
