"""Voice activity: one decision per fixed-size frame.

``WebRtcVad`` wraps webrtcvad (package ``webrtcvad-wheels``; the original ``webrtcvad``
fails to import with current setuptools). Imported lazily so the runtime loads without it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Vad(Protocol):
    def is_speech(self, frame: np.ndarray) -> bool:
        """``frame``: float32 mono at the runtime rate, one VAD frame long."""


class WebRtcVad:
    FRAME_MS = (10, 20, 30)

    def __init__(self, sample_rate: int, frame_ms: int, aggressiveness: int = 2) -> None:
        if frame_ms not in self.FRAME_MS or sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad needs 10/20/30 ms frames at 8/16/32/48 kHz, got {frame_ms} ms at {sample_rate} Hz")
        if not 0 <= aggressiveness <= 3:
            raise ValueError("webrtcvad aggressiveness is 0..3")
        try:
            import webrtcvad
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError("webrtcvad is missing: pip install webrtcvad-wheels") from e
        self._vad = webrtcvad.Vad(aggressiveness)
        self._rate = sample_rate
        self._n = sample_rate * frame_ms // 1000

    def is_speech(self, frame: np.ndarray) -> bool:
        if len(frame) != self._n:
            raise ValueError(f"VAD frame must be {self._n} samples, got {len(frame)}")
        pcm = (np.clip(frame, -1.0, 1.0) * 32767.0).astype(np.int16)
        return self._vad.is_speech(pcm.tobytes(), self._rate)


class EnergyGatedVad:
    """A VAD whose "speech" also needs energy well above the tracked noise floor.

    webrtcvad keeps saying "speech" for ~100 ms after a voice stops (its own smoothing);
    the gate ends speech when the frame's energy falls back to the noise floor, so the
    end of a turn is seen that much sooner. The floor follows quiet frames quickly and
    loud ones slowly (minimum tracking), so steady noise raises the bar by itself.
    """

    def __init__(self, inner: Vad, margin_db: float = 12.0, min_db: float = -55.0,
                 rise_db_per_s: float = 3.0, frame_s: float = 0.02) -> None:
        self.inner = inner
        self.margin_db = margin_db
        self.min_db = min_db
        self.rise = rise_db_per_s * frame_s  # dB the floor may climb per frame
        self.floor_db: float | None = None  # starts at the first frame's level

    def reset(self) -> None:
        self.floor_db = None

    def is_speech(self, frame: np.ndarray) -> bool:
        level = 10 * np.log10(float(np.mean(np.square(frame, dtype=np.float64))) + 1e-12)
        floor = level if self.floor_db is None else self.floor_db
        self.floor_db = max(self.min_db, min(level, floor + self.rise))
        loud = level > max(self.min_db, self.floor_db) + self.margin_db
        return self.inner.is_speech(frame) and loud
