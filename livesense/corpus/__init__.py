"""Speech the project generates for itself: text, TTS voices, augmentation.

Small API reused by every training recipe::

    from livesense.corpus import sentences, synth_piper, synth_espeak, augment
    x = synth_piper("Hello there.", speed=1.1)        # float32, 16 kHz
    y = augment(x, np.random.default_rng(0))           # speed/pitch/gain/noise/reverb/EQ

Backends (piper, espeak-ng, sox) are imported or spawned lazily inside functions.
"""

from livesense.corpus.augment import augment, sox_pitch
from livesense.corpus.text import sentences
from livesense.corpus.tts import CORPUS_RATE, synth_espeak, synth_piper

__all__ = ["CORPUS_RATE", "augment", "sentences", "sox_pitch", "synth_espeak", "synth_piper"]
