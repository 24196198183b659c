"""Augmentation for training speech: speed, pitch, gain, noise, reverb, EQ.

All numpy except :func:`sox_pitch` (Debian sox). Every random choice comes from the
caller's ``numpy.random.Generator`` so a recipe is reproducible from its seed.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from livesense.corpus.tts import CORPUS_RATE, resample


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (pitch moves with it, like tape)."""
    n_out = max(1, int(round(len(x) / factor)))
    t = np.linspace(0, len(x) - 1, n_out)
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)


def sox_pitch(x: np.ndarray, cents: float, sr: int = CORPUS_RATE) -> np.ndarray:
    """Shift pitch by ``cents`` keeping duration (sox ``pitch`` effect)."""
    exe = shutil.which("sox")
    if exe is None:
        raise FileNotFoundError("sox not found: apt-get install sox")
    fmt = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(sr)]
    cmd = [exe, *fmt, "-", *fmt, "-", "pitch", f"{cents:.0f}"]
    out = subprocess.run(cmd, input=np.asarray(x, np.float32).tobytes(), capture_output=True,
                         check=True).stdout
    return np.frombuffer(out, np.float32).copy()


def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """White-ish noise (random spectral tilt) at ``snr_db`` relative to the speech power."""
    n = rng.standard_normal(len(x))
    n = np.cumsum(n) * 0.02 + n if rng.random() < 0.5 else n  # sometimes pinker
    p_x = np.mean(x.astype(np.float64) ** 2) + 1e-12
    n *= np.sqrt(p_x / (np.mean(n ** 2) + 1e-12) / 10 ** (snr_db / 10))
    return (x + n).astype(np.float32)


def add_reverb(x: np.ndarray, rng: np.random.Generator, rt60: float, wet: float,
               sr: int = CORPUS_RATE) -> np.ndarray:
    """Exponentially decaying noise impulse response (a small synthetic room)."""
    from scipy.signal import fftconvolve

    n = int(rt60 * sr)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir /= np.sqrt(np.sum(ir ** 2))
    y = (1 - wet) * x + wet * fftconvolve(x, ir)[: len(x)]
    return y.astype(np.float32)


def random_eq(x: np.ndarray, rng: np.random.Generator, max_db: float = 6.0) -> np.ndarray:
    """Random smooth EQ: a gain curve over log frequency applied in the FFT domain."""
    spec = np.fft.rfft(x)
    f = np.linspace(0, 1, len(spec))
    knots = rng.uniform(-max_db, max_db, 5)
    gain_db = np.interp(np.log1p(50 * f) / np.log1p(50), np.linspace(0, 1, 5), knots)
    return np.fft.irfft(spec * 10 ** (gain_db / 20), len(x)).astype(np.float32)


def augment(x: np.ndarray, rng: np.random.Generator, sr: int = CORPUS_RATE,
            p_speed: float = 0.5, p_pitch: float = 0.5, p_noise: float = 0.3,
            p_reverb: float = 0.2, p_eq: float = 0.7) -> np.ndarray:
    """One random chain of the augmentations above, then a random gain (-30..0 dBFS peak)."""
    y = np.asarray(x, np.float32)
    if rng.random() < p_speed:
        y = change_speed(y, rng.uniform(0.85, 1.15))
    if rng.random() < p_pitch:
        y = sox_pitch(y, rng.uniform(-300, 300), sr)
    if rng.random() < p_eq:
        y = random_eq(y, rng)
    if rng.random() < p_reverb:
        y = add_reverb(y, rng, rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.4), sr)
    if rng.random() < p_noise:
        y = add_noise(y, rng, rng.uniform(10, 40))
    peak = np.max(np.abs(y)) + 1e-9
    return (y / peak * 10 ** (rng.uniform(-30, 0) / 20)).astype(np.float32)


__all__ = ["add_noise", "add_reverb", "augment", "change_speed", "random_eq", "resample", "sox_pitch"]
