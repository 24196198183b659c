"""File and synthetic audio sources: the microphone's stand-ins for tests, benchmarks, CLI.

Both yield mono float32 ``AudioFrame``s of ``AudioConfig.frame_size`` samples at the
runtime rate, then one ``EndOfStream``. Frame ``k`` is stamped ``t0 + k * frame_s`` (the
time its first sample "entered"), and with ``realtime=True`` it is released at
``t0 + (k + 1) * frame_s`` — the pacing a microphone has. ``realtime=False`` releases
frames as fast as the consumer takes them, on the same virtual timeline.
The last partial frame is zero-padded to a whole frame.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import numpy as np

from livesense.capture.framing import Framer, Pacer
from livesense.capture.resample import StreamResampler
from livesense.clock import Clock, MonotonicClock
from livesense.config import AudioConfig
from livesense.errors import AudioFileError
from livesense.frames import AudioFrame, EndOfStream

log = logging.getLogger(__name__)

READ_BLOCK = 8192  # samples read from the file per step (any size works)


class _BlockSource:
    """Shared framing/pacing/resampling for sources that produce blocks at ``rate``."""

    def __init__(self, rate: int, realtime: bool, clock: Clock | None,
                 config: AudioConfig | None) -> None:
        self.config = config or AudioConfig()
        self.clock = clock or MonotonicClock()
        self.realtime = realtime
        self.rate = int(rate)
        self.frames_out = 0

    def _blocks(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[AudioFrame | EndOfStream]:
        cfg = self.config
        resampler = StreamResampler(self.rate, cfg.sample_rate)
        framer = Framer(cfg.frame_size)
        pacer = Pacer(self.clock, cfg.frame_size / cfg.sample_rate, self.realtime)
        pacer.start()
        for block in self._blocks():
            for samples in framer.push(resampler.process(block)):
                yield self._emit(samples, pacer)
        for samples in framer.push(resampler.flush()):
            yield self._emit(samples, pacer)
        tail = framer.flush()
        if tail is not None:
            yield self._emit(tail, pacer)
        yield EndOfStream(t_capture=pacer.t_start_of(self.frames_out))

    def _emit(self, samples: np.ndarray, pacer: Pacer) -> AudioFrame:
        k = self.frames_out
        pacer.wait_for(k)
        self.frames_out += 1
        return AudioFrame(samples, self.config.sample_rate, pacer.t_start_of(k))


class WavSource(_BlockSource):
    """Frames from a WAV/FLAC/OGG file (anything libsndfile reads), any rate or channels.

    The file is opened in the constructor, so a bad path fails early with AudioFileError.
    """

    def __init__(self, path: str | os.PathLike, realtime: bool = True,
                 clock: Clock | None = None, config: AudioConfig | None = None) -> None:
        self.path = os.fspath(path)
        info = _probe(self.path)
        self.file_rate, self.channels, self.file_frames = info
        super().__init__(self.file_rate, realtime, clock, config)

    @property
    def duration(self) -> float:
        return self.file_frames / self.file_rate

    def _blocks(self) -> Iterator[np.ndarray]:
        import soundfile as sf

        try:
            with sf.SoundFile(self.path) as f:
                for block in f.blocks(READ_BLOCK, dtype="float32", always_2d=True):
                    yield block.mean(axis=1, dtype=np.float32)
        except (RuntimeError, sf.SoundFileError) as e:
            raise AudioFileError(f"{self.path}: read failed mid-file ({e})") from e


def _probe(path: str) -> tuple[int, int, int]:
    """(rate, channels, frames) or AudioFileError saying what is wrong."""
    import soundfile as sf

    if not os.path.exists(path):
        raise AudioFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioFileError(f"{path}: empty file (0 bytes), not a readable audio file")
    try:
        info = sf.info(path)
    except (RuntimeError, sf.SoundFileError) as e:
        raise AudioFileError(f"{path}: not a readable audio file ({e})") from e
    if info.frames <= 0:
        raise AudioFileError(f"{path}: {info.format} file holds no audio samples")
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioFileError(f"{path}: header is invalid (rate {info.samplerate}, "
                             f"{info.channels} channels)")
    _warn_if_truncated(path, info)
    return int(info.samplerate), int(info.channels), int(info.frames)


def _warn_if_truncated(path: str, info) -> None:
    """libsndfile silently reads what is there; say so when a WAV lost its end."""
    declared = _wav_data_bytes(path)
    if declared is None:
        return
    frame_bytes = info.channels * max(1, _BYTES.get(info.subtype, 0))
    have = info.frames * frame_bytes
    if _BYTES.get(info.subtype) and declared > have + frame_bytes:
        log.warning("%s: truncated WAV: header declares %.3f s, file holds %.3f s",
                    path, declared / frame_bytes / info.samplerate, info.duration)


_BYTES = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _wav_data_bytes(path: str) -> int | None:
    """Size of the 'data' chunk a RIFF/WAVE header declares, or None."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        size = int.from_bytes(head[pos + 4 : pos + 8], "little")
        if head[pos : pos + 4] == b"data":
            return size
        pos += 8 + size + (size & 1)
    return None


class SyntheticSource(_BlockSource):
    """Generated test signals at the runtime rate: tone, chirp, silence or white noise.

    ``kind``: "tone" (``freq`` Hz), "chirp" (``freq`` -> ``freq_end`` Hz, linear),
    "silence", "noise" (Gaussian, seeded). ``amplitude`` is the peak (RMS for noise).
    """

    KINDS = ("tone", "chirp", "silence", "noise")

    def __init__(self, kind: str = "tone", seconds: float = 1.0, freq: float = 440.0,
                 freq_end: float = 4000.0, amplitude: float = 0.5, seed: int = 0,
                 realtime: bool = True, clock: Clock | None = None,
                 config: AudioConfig | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown synthetic kind {kind!r}; choose one of {self.KINDS}")
        config = config or AudioConfig()
        super().__init__(config.sample_rate, realtime, clock, config)
        self.kind, self.seconds, self.freq, self.freq_end = kind, seconds, freq, freq_end
        self.amplitude, self.seed = amplitude, seed

    def signal(self) -> np.ndarray:
        """The whole signal at once (what the frames carry, before zero-padding)."""
        n = round(self.seconds * self.rate)
        t = np.arange(n) / self.rate
        if self.kind == "tone":
            x = np.sin(2 * np.pi * self.freq * t)
        elif self.kind == "chirp":
            k = (self.freq_end - self.freq) / max(self.seconds, 1e-9)
            x = np.sin(2 * np.pi * (self.freq * t + 0.5 * k * t * t))
        elif self.kind == "noise":
            x = np.random.default_rng(self.seed).standard_normal(n)
        else:
            x = np.zeros(n)
        return (self.amplitude * x).astype(np.float32)

    def _blocks(self) -> Iterator[np.ndarray]:
        x = self.signal()
        for i in range(0, x.shape[0], READ_BLOCK):
            yield x[i : i + READ_BLOCK]
