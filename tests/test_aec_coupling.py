"""CouplingMeter: the mic's energy during playback bounds the echo path from above."""

from __future__ import annotations

import numpy as np

from livesense.aec.coupling import CouplingMeter

FRAME_S = 0.02


def levels(seconds: float, rng, db: float) -> np.ndarray:
    """Per-frame powers of a speech-like envelope (syllables and pauses) around ``db``."""
    n = round(seconds / FRAME_S)
    on = (np.arange(n) // 8) % 3 != 2  # 160 ms syllables, 80 ms pauses
    return np.where(on, 10 ** ((db + rng.uniform(-6, 0, n)) / 10), 0.0)


def run(meter, mic, ref):
    return [meter.push(m, r) for m, r in zip(mic, ref)]


def test_headphones_give_a_very_low_bound():
    rng = np.random.default_rng(0)
    ref = levels(6.0, rng, -20.0)
    out = run(CouplingMeter(FRAME_S), np.full(ref.shape, 1e-11), ref)
    assert out[-1] is not None and out[-1] < -60


def test_a_real_echo_path_is_not_underestimated():
    rng = np.random.default_rng(1)
    ref = levels(6.0, rng, -20.0)
    delay = round(0.3 / FRAME_S)  # a Bluetooth-like bulk delay
    echo = np.concatenate([np.zeros(delay), ref[:-delay]]) * 10 ** (-12 / 10)
    mic = echo + 1e-9
    out = run(CouplingMeter(FRAME_S), mic, ref)
    assert out[-1] is not None and out[-1] > -12 - 3.5


def test_the_user_alone_and_short_playback_say_nothing():
    rng = np.random.default_rng(2)
    quiet = np.zeros(round(4.0 / FRAME_S))
    user = levels(4.0, rng, -15.0)
    assert all(b is None for b in run(CouplingMeter(FRAME_S), user, quiet))  # no playback at all
    short = np.concatenate([levels(0.6, rng, -20.0), quiet])  # 0.6 s of playback < min_active_s
    assert all(b is None for b in run(CouplingMeter(FRAME_S), np.full(short.shape, 1e-11), short))
