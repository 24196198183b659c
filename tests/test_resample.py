"""Resampler: streaming parity with the one-shot path, and accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livesense.capture.resample import StreamResampler, resample

RATES = [8000, 11025, 16000, 22050, 32000, 44100, 48000]


def stream_chunks(x: np.ndarray, sr_in: int, sr_out: int, sizes) -> np.ndarray:
    r = StreamResampler(sr_in, sr_out)
    outs, i = [], 0
    for n in sizes:
        if i >= x.size:
            break
        outs.append(r.process(x[i : i + n]))
        i += n
    outs.append(r.process(x[i:]))
    outs.append(r.flush())
    return np.concatenate(outs)


@pytest.mark.parametrize("sr_in", RATES)
def test_chunked_equals_one_shot(sr_in):
    rng = np.random.default_rng(sr_in)
    x = rng.standard_normal(9001).astype(np.float32)
    sizes = rng.integers(1, 1500, size=100)
    y = stream_chunks(x, sr_in, 16000, sizes)
    ref = resample(x, sr_in, 16000)
    assert y.shape == ref.shape == (-(-x.size * 16000 // sr_in),)
    np.testing.assert_allclose(y, ref, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(sr_in=st.sampled_from(RATES), sr_out=st.sampled_from([16000, 24000, 48000]),
       n=st.integers(0, 3000), chunk=st.integers(1, 700))
def test_parity_any_chunking(sr_in, sr_out, n, chunk):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    y = stream_chunks(x, sr_in, sr_out, [chunk] * (n // chunk + 1))
    np.testing.assert_allclose(y, resample(x, sr_in, sr_out), atol=1e-6)


def test_one_sample_at_a_time_matches():
    x = np.random.default_rng(1).standard_normal(700).astype(np.float32)
    y = stream_chunks(x, 44100, 16000, [1] * 700)
    np.testing.assert_allclose(y, resample(x, 44100, 16000), atol=1e-6)


def test_reset_forgets_history():
    x = np.random.default_rng(2).standard_normal(4800).astype(np.float32)
    r = StreamResampler(48000, 16000)
    first = np.concatenate([r.process(x), r.flush()])
    second = np.concatenate([r.process(x), r.flush()])  # flush() resets
    np.testing.assert_array_equal(first, second)


def dominant_frequency(y: np.ndarray, sr: int) -> float:
    w = y * np.hanning(y.size)
    spec = np.abs(np.fft.rfft(w, 8 * y.size))
    return float(np.argmax(spec) * sr / (8 * y.size))


@pytest.mark.parametrize("sr_in,freq", [(48000, 1000.0), (44100, 3000.0), (8000, 440.0),
                                        (22050, 6000.0)])
def test_sine_frequency_and_level_preserved(sr_in, freq):
    t = np.arange(sr_in) / sr_in
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    y = resample(x, sr_in, 16000)
    core = y[2000:-2000]
    assert abs(dominant_frequency(core, 16000) - freq) < 2.0
    assert np.sqrt(np.mean(core**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    # zero delay: compare with the ideal sine sampled at 16 kHz
    ideal = 0.5 * np.sin(2 * np.pi * freq * np.arange(16000) / 16000)
    assert np.max(np.abs(y[2000:-2000] - ideal[2000:-2000])) < 0.01


def test_content_above_new_nyquist_is_removed():
    sr_in = 48000
    t = np.arange(sr_in) / sr_in
    x = np.sin(2 * np.pi * 11000 * t).astype(np.float32)  # aliases to 5 kHz if not filtered
    y = resample(x, sr_in, 16000)[2000:-2000]
    assert np.sqrt(np.mean(y**2)) < 0.01


def test_invalid_rate_rejected():
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 16000)


@pytest.mark.parametrize("up,down", [(1, 3), (160, 441), (2, 1)])
def test_filter_matches_scipy_firwin(up, down):
    from scipy.signal import firwin

    from livesense.capture.resample import design_filter

    m = max(up, down)
    ref = firwin(20 * m + 1, 1.0 / m, window=("kaiser", 5.0))
    np.testing.assert_allclose(design_filter(up, down), ref, atol=1e-12)
