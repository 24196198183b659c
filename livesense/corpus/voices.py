"""Named voice sets with a fixed train / held-out split (held-out voices never train codebooks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Voice:
    name: str  # stable id written into corpora
    engine: str  # "piper" or "espeak"
    voice: str = "en-us"  # espeak-ng voice+variant
    speed: float = 1.0  # piper speed factor, or espeak words/min / 160
    pitch: int = 50  # espeak pitch 0..99
    cents: float = 0.0  # sox pitch shift applied after synthesis (held-out piper variant)


PIPER_TRAIN_VOICES = (
    Voice("piper-joe", "piper"),
    Voice("piper-joe-fast", "piper", speed=1.15),
    Voice("piper-joe-slow", "piper", speed=0.9),
)

# espeak-ng accents and variants for training; the held-out ones below are excluded
TRAIN_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
TRAIN_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m8", "f1", "f2", "f3", "f5", "klatt2", "klatt3",
    "klatt5", "Alex", "Alicia", "Andrea", "Andy", "Annie", "Auntie", "Belinda", "Benjamin",
    "Caleb", "David", "Ed", "Edward", "Gene", "Henrique", "Hugo", "Jacky", "John", "Lee",
    "Linda", "Max", "Michael", "Mike", "Paul", "Pedro", "Quincy", "Rob", "Robert", "Steph",
    "Storm", "Zac", "anika", "grandma", "grandpa", "norbert", "shelby", "travis", "victor",
)


def espeak_train_voices(n: int = 60, seed: int = 0) -> tuple[Voice, ...]:
    """``n`` espeak-ng training voices: random accent × variant × pitch × speed (seeded)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        acc = TRAIN_ACCENTS[rng.integers(len(TRAIN_ACCENTS))]
        var = TRAIN_VARIANTS[rng.integers(len(TRAIN_VARIANTS))]
        pitch, speed = int(rng.integers(25, 80)), float(np.round(rng.uniform(0.85, 1.2), 2))
        out.append(Voice(f"espeak-{acc}+{var}-p{pitch}-s{speed}", "espeak", f"{acc}+{var}",
                         speed=speed, pitch=pitch))
    return tuple(out)


TRAIN_VOICES = PIPER_TRAIN_VOICES  # plus espeak_train_voices(); see scripts/train_codec.py

HELDOUT_VOICES = (
    Voice("piper-joe-low", "piper", speed=0.95, cents=-350.0),
    Voice("espeak-scot-m7", "espeak", "en-gb-scotland+m7", pitch=35),
    Voice("espeak-us-f4", "espeak", "en-us+f4", pitch=65, speed=1.05),
    Voice("espeak-nyc-klatt", "espeak", "en-us-nyc+klatt"),
)

# for choosing between codec variants (scripts/codec_ab.py --clips dev): neither training nor bench voices
DEV_VOICES = (
    Voice("piper-joe-up200", "piper", cents=200.0),
    Voice("piper-joe-down300", "piper", cents=-300.0),
    Voice("espeak-us-klatt4", "espeak", "en-us+klatt4"),
    Voice("espeak-gb-iven2", "espeak", "en-gb+Iven2", pitch=40),
    Voice("espeak-us-steph2", "espeak", "en-us+Steph2", pitch=60),
    Voice("espeak-rp-gene2", "espeak", "en-gb-x-rp+Gene2", speed=0.95),
)


def speak(v: Voice, text: str):
    """Render ``text`` in voice ``v`` (16 kHz float32)."""
    from livesense.corpus.augment import sox_pitch
    from livesense.corpus.tts import synth_espeak, synth_piper

    if v.engine == "piper":
        x = synth_piper(text, speed=v.speed)
    else:
        x = synth_espeak(text, voice=v.voice, speed=int(160 * v.speed), pitch=v.pitch)
    return sox_pitch(x, v.cents) if v.cents else x
