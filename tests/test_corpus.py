"""Corpus API: deterministic text split, TTS at 16 kHz, reproducible augmentation."""

import shutil

import numpy as np
import pytest

from livesense.corpus import CORPUS_RATE, augment, sentences, synth_espeak
from livesense.corpus.voices import (DEV_VOICES, HELDOUT_VOICES, PIPER_TRAIN_VOICES, TRAIN_VARIANTS,
                                     espeak_train_voices)


def test_sentence_split_is_disjoint_and_stable():
    train, held = sentences("train"), sentences("heldout")
    assert len(train) > 200 and len(held) > 30
    assert not set(train) & set(held)
    assert sentences("train", n=5, seed=3) == sentences("train", n=5, seed=3)
    assert set(sentences("heldout", seed=1)) == set(held)
    with pytest.raises(ValueError, match="split"):
        sentences("test")


def test_heldout_voices_are_not_training_voices():
    train = PIPER_TRAIN_VOICES + espeak_train_voices(60, 0)
    assert not {v.name for v in train} & {v.name for v in HELDOUT_VOICES}
    held_espeak = {v.voice for v in HELDOUT_VOICES if v.engine == "espeak"}
    held_variants = {s.split("+")[1] for s in held_espeak}
    for v in train:
        if v.engine == "espeak":
            acc, var = v.voice.split("+")
            assert var not in held_variants and acc not in ("en-gb-scotland", "en-us-nyc"), v
    assert all(v.cents == 0 for v in train)  # the pitch-shifted Piper voice is held out
    assert espeak_train_voices(5, 1) == espeak_train_voices(5, 1)


def test_dev_voices_are_neither_training_nor_bench_voices():
    """The codec's choices are made on DEV_VOICES: they must not be the voices it trains on or
    the held-out voices its bench reports."""
    assert not {v.name for v in DEV_VOICES} & {v.name for v in HELDOUT_VOICES + PIPER_TRAIN_VOICES}
    held_variants = {v.voice.split("+")[1] for v in HELDOUT_VOICES if v.engine == "espeak"}
    for v in DEV_VOICES:
        if v.engine == "espeak":
            var = v.voice.split("+")[1]
            assert var not in TRAIN_VARIANTS and var not in held_variants, v
        else:
            assert v.cents != 0 and v.cents not in {h.cents for h in HELDOUT_VOICES}, v


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_espeak_gives_16k_speech():
    x = synth_espeak("Testing one two three.", voice="en-us+m3")
    assert x.dtype == np.float32 and 0.8 < len(x) / CORPUS_RATE < 4
    assert 0.01 < np.abs(x).max() <= 1.0


def test_augment_is_reproducible_and_finite():
    rng = np.random.default_rng
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    kw = dict(p_pitch=0.0)  # sox-free here; sox_pitch has its own test
    a, b = augment(x, rng(5), **kw), augment(x, rng(5), **kw)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all() and np.abs(a).max() <= 1.0


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
def test_sox_pitch_keeps_duration():
    from livesense.corpus import sox_pitch

    x = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32)
    y = sox_pitch(x, 300)
    assert abs(len(y) - len(x)) < 400
    spec = np.abs(np.fft.rfft(y))
    assert 220 < np.argmax(spec) < 260  # 200 Hz * 2**(300/1200) ~ 238 Hz (1 Hz bins)


def test_piper_speaks():
    pytest.importorskip("piper")
    from livesense.corpus import synth_piper

    x = synth_piper("Hello.", speed=1.2)
    assert x.dtype == np.float32 and 0.2 < len(x) / CORPUS_RATE < 3
