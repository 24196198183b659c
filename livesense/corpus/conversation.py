"""Scripted conversations for benchmarks and soak runs: user turns with known boundaries.

A ``Script`` is one mono 16 kHz signal plus the true start/end of each user utterance, so
latency is measured from the *true* end of speech, not from the VAD's own estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from livesense.corpus.voices import HELDOUT_VOICES, Voice, speak

QUESTIONS = (
    "What colour is the ball?",
    "How many things can you see?",
    "Is it bright or dark in here?",
    "Who are you?",
    "Can you see a person?",
    "What shape is it?",
    "Tell me what changed.",
    "Thank you, that is all.",
)
RATE = 16000


@dataclass
class Script:
    audio: np.ndarray
    turns: list[dict] = field(default_factory=list)  # {"text", "voice", "start_s", "end_s"}

    @property
    def duration(self) -> float:
        return len(self.audio) / RATE


def utterance(voice: Voice, text: str, peak: float = 0.7) -> np.ndarray:
    """Speech normalised to ``peak`` and trimmed where it falls below -50 dB of the peak,
    so the recorded end is the true end of audible speech."""
    x = np.asarray(speak(voice, text), np.float32)
    x *= peak / max(1e-9, float(np.abs(x).max()))
    idx = np.flatnonzero(np.abs(x) > peak * 10 ** (-50 / 20))
    return x[idx[0] : idx[-1] + 1] if idx.size else x


def conversation(n_turns: int, gap_s: float = 3.0, lead_s: float = 0.5, seed: int = 0,
                 voices: tuple[Voice, ...] = HELDOUT_VOICES, questions: Sequence[str] = QUESTIONS) -> Script:
    """``n_turns`` of ``questions`` (cycled) in held-out voices, each followed by ``gap_s``
    of silence for the reply. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(lead_s * RATE), np.float32)]
    script, t = Script(np.zeros(0, np.float32)), len(parts[0])
    for i in range(n_turns):
        text, voice = questions[i % len(questions)], voices[int(rng.integers(len(voices)))]
        speech = utterance(voice, text)
        script.turns.append({"text": text, "voice": voice.name, "start_s": t / RATE, "end_s": (t + len(speech)) / RATE})
        gap = np.zeros(int(gap_s * RATE), np.float32)
        parts += [speech, gap]
        t += len(speech) + len(gap)
    script.audio = np.concatenate(parts)
    return script


def barge_in(reply_lead_s: float, seed: int = 0, voices: tuple[Voice, ...] = HELDOUT_VOICES) -> Script:
    """A question, then the user cuts in ``reply_lead_s`` after finishing it ("Wait, stop.")."""
    first = conversation(1, gap_s=reply_lead_s, seed=seed, voices=voices)
    cut = utterance(voices[0], "Wait, stop.")
    start = len(first.audio)
    first.turns.append({"text": "Wait, stop.", "voice": voices[0].name, "start_s": start / RATE,
                        "end_s": (start + len(cut)) / RATE})
    first.audio = np.concatenate([first.audio, cut, np.zeros(2 * RATE, np.float32)])
    return first
