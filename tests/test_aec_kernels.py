"""The AEC's numba kernels agree with their numpy twins (output and state, block by block)."""

import numpy as np
import pytest

from livesense.aec import kernels as K
from livesense.aec import kernels_ref as R
from livesense.aec.mdf import AdaptiveFilter
from livesense.aec.suppressor import ResidualSuppressor


@pytest.mark.parametrize("n", [4, 16, 128])
def test_real_fft_matches_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    tabs = K.fft_tables(n)
    buf = np.zeros(n, np.complex128)
    spec = np.zeros(n // 2 + 1, np.complex128)
    K.rfft_into(x, spec, buf, *tabs)
    np.testing.assert_allclose(spec, R.rfft(x), atol=1e-12)
    spec[0] += 0.5j  # the imaginary parts of DC and Nyquist are ignored, as numpy does
    out = np.zeros(n)
    K.irfft_into(spec, out, buf, *tabs)
    np.testing.assert_allclose(out, R.irfft(spec, n), atol=1e-12)


def _echo_signals(n, seed=0):
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.standard_normal(n), [1, 0.6, 0.2], "same") * 3000
    h = rng.standard_normal(300) * np.exp(-np.arange(300) / 40)
    d = np.convolve(x, h)[:n] * 0.3 + rng.standard_normal(n) * 30
    d[n // 2:] += rng.standard_normal(n - n // 2) * 2000  # double talk in the second half
    return x, d


def test_mdf_kernel_matches_twin():
    B, P, n = 32, 8, 32 * 400
    x, d = _echo_signals(n)
    a, b = AdaptiveFilter(B, P, 16000), AdaptiveFilter(B, P, 16000)
    e, y = np.zeros(n), np.zeros(n)
    for i in range(0, n, 10 * B):  # several calls: state carried across them
        s = slice(i, i + 10 * B)
        a.process(x[s], d[s], e[s], y[s])
        e_ref, y_ref = R.mdf_blocks(x[s], d[s], *b.state(), b.par)
        np.testing.assert_allclose(e[s], e_ref, rtol=1e-7, atol=1e-6)
        np.testing.assert_allclose(y[s], y_ref, rtol=1e-7, atol=1e-6)
    for sa, sb in zip(a.state(), b.state()):
        np.testing.assert_allclose(sa, sb, rtol=1e-7, atol=1e-9)
    assert a.adapted  # the comparison covered both step-size regimes
    assert np.sum(e[: n // 4] ** 2) < np.sum(d[: n // 4] ** 2)  # and it cancelled something


def test_suppressor_kernel_matches_twin():
    H, n = 32, 32 * 300
    rng = np.random.default_rng(1)
    e = rng.standard_normal(n) * 500
    y = rng.standard_normal(n) * 1000
    y[n // 2:] *= 0.01
    a, b = ResidualSuppressor(H, 16000), ResidualSuppressor(H, 16000)
    out = np.zeros(n)
    a.process(e, y, 0.05, out)
    ref = R.suppress_blocks(e, y, 0.05, *b.state(), b.par)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-7)
    for sa, sb in zip(a.state(), b.state()):
        np.testing.assert_allclose(sa, sb, rtol=1e-9, atol=1e-9)
    assert np.sum(out[: n // 2] ** 2) < 0.5 * np.sum(e[: n // 2] ** 2)  # echo-dominated: cut
    q = 3 * n // 4  # echo gone (after the residual estimate's release): passed
    assert np.sum(out[q + H:] ** 2) > 0.8 * np.sum(e[q:-H] ** 2)


def test_warmup_runs():
    K.warmup()
