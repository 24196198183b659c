"""A simulated room for tests and benchmarks: mic = far-end * IR (after a bulk delay) +
near-end + noise.

The impulse response is a direct path, a few early reflections, and a late tail of
exponentially decaying noise whose decay gives the requested RT60 (-60 dB after
``rt60_s``). The loudspeaker may be driven into a mild ``tanh`` (small speakers distort
loud far-end speech; a linear filter cannot model that, the suppressor must). The bulk
delay (device + server latency) may jump at a given time, as when a stream restarts.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RoomConfig:
    rt60_s: float = 0.4  # reverberation time; offices and living rooms: 0.2-0.6 s
    direct_ms: float = 2.0  # speaker-to-mic acoustic path (laptop: 1-5 ms)
    reflections: int = 6  # early reflections within the first 30 ms
    echo_db: float = -6.0  # echo energy relative to the far-end signal (laptop speaker near mic)
    bulk_delay_ms: float = 120.0  # device/server latency before the sound leaves the speaker
    jump_at_s: float | None = None  # time the bulk delay changes (None: never)
    jump_ms: float = 0.0  # change of the bulk delay at ``jump_at_s``
    nonlinear: float = 0.0  # tanh drive of the speaker (0: linear; 2: audible distortion)
    noise_dbfs: float = -60.0  # white-ish mic noise level (RMS)
    seed: int = 0


@dataclass
class Simulation:
    mic: np.ndarray  # what the capture side hears
    echo: np.ndarray  # the echo part of ``mic``
    near: np.ndarray  # the near-end (user) part of ``mic``
    far: np.ndarray  # the reference: what was sent to the speaker
    ir: np.ndarray


def impulse_response(room: RoomConfig, sample_rate: int) -> np.ndarray:
    """Room impulse response (no bulk delay), scaled to energy ``echo_db``."""
    rng = np.random.default_rng(room.seed)
    n = int(room.rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / room.rt60_s) * 0.3
    d = int(room.direct_ms * 1e-3 * sample_rate)
    ir[:d] = 0.0
    ir[d] += 1.0
    for k in range(room.reflections):
        i = d + int(rng.uniform(1e-3, 30e-3) * sample_rate)
        ir[min(i, n - 1)] += rng.uniform(-0.6, 0.6) * np.exp(-6.9 * (i / sample_rate) / room.rt60_s)
    ir[d:d + 64] = np.convolve(ir[d:d + 64], [0.25, 0.5, 0.25], "same")  # mild speaker smoothing
    return ir * 10 ** (room.echo_db / 20) / np.sqrt(np.sum(ir * ir))


def _bulk_delay(x: np.ndarray, room: RoomConfig, sample_rate: int) -> np.ndarray:
    n = len(x)
    delay = np.full(n, int(room.bulk_delay_ms * 1e-3 * sample_rate))
    if room.jump_at_s is not None:
        delay[int(room.jump_at_s * sample_rate):] += int(room.jump_ms * 1e-3 * sample_rate)
    src = np.arange(n) - delay
    return np.where(src >= 0, x[np.clip(src, 0, n - 1)], 0.0)


def simulate(far: np.ndarray, near: np.ndarray, room: RoomConfig, sample_rate: int = 16000) -> Simulation:
    """Mix a far-end (played) and near-end (user) signal of the same length in ``room``."""
    from scipy.signal import fftconvolve

    far = np.asarray(far, np.float64)
    near = np.asarray(near, np.float64)
    if far.shape != near.shape:
        raise ValueError("far and near must have the same length")
    ir = impulse_response(room, sample_rate)
    spk = np.tanh(room.nonlinear * far) / room.nonlinear if room.nonlinear > 0 else far
    echo = _bulk_delay(fftconvolve(spk, ir)[:len(far)], room, sample_rate)
    rng = np.random.default_rng(room.seed + 1)
    noise = rng.standard_normal(len(far)) * 10 ** (room.noise_dbfs / 20)
    mic = echo + near + noise
    f32 = np.float32
    return Simulation(mic.astype(f32), echo.astype(f32), near.astype(f32), far.astype(f32), ir)


def espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50,
           sample_rate: int = 16000) -> np.ndarray:
    """Speech from Debian's espeak-ng (float32 at ``sample_rate``)."""
    import io

    import soundfile as sf
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         check=True, capture_output=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    from math import gcd
    g = gcd(sr, sample_rate)
    return resample_poly(x, sample_rate // g, sr // g).astype(np.float32)


def fit(x: np.ndarray, n: int, rms_dbfs: float = -20.0) -> np.ndarray:
    """Tile or cut ``x`` to ``n`` samples and set its active RMS to ``rms_dbfs``."""
    x = np.asarray(x, np.float64)
    reps = int(np.ceil(n / len(x)))
    y = np.tile(x, reps)[:n]
    active = y[np.abs(y) > 1e-3 * np.abs(y).max()] if np.any(y) else y
    rms = np.sqrt(np.mean(active ** 2)) + 1e-12
    return (y * 10 ** (rms_dbfs / 20) / rms).astype(np.float32)
