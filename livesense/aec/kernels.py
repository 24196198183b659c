"""Numba kernels of the echo canceller's hot loops. Each has a numpy twin in :mod:`kernels_ref`.

Two kernels run per block of ``B`` samples (``B`` = ``AecConfig.block``):

* :func:`mdf_blocks` — the partitioned-block frequency-domain adaptive filter (MDF,
  Soo & Pang 1990) with the step-size control of Valin 2007 ("On adjusting the learning
  rate in frequency domain echo cancellation with double-talk", the Speex AEC): the step of
  each bin is ``leak * |Y|^2 / |E|^2`` — the estimated residual echo over the error — so it
  shrinks by itself when near-end speech inflates the error (double talk) instead of
  needing a hard detector. Proportionate (IPNLMS-like) weighting of partitions and the
  "alternately unconstrained" gradient (partition 0 plus one other per block) as in Speex.
* :func:`suppress_blocks` — residual echo suppression on a sqrt-Hann WOLA with hop ``B``
  (algorithmic latency ``B`` samples): decision-directed Wiener gain per bin against the
  residual echo estimate ``over * leak * |Y|^2`` (held with a release time to cover the
  reverberant tail past the filter), floored.

Conventions (shared with the twins): samples are in int16 scale (the wrapper multiplies
by 32768, so the Speex constants keep their meaning); the forward FFT is scaled by 1/N,
the inverse is not. All state lives in arrays the caller owns; scalars that change sit in
``sc`` (indices ``S_*`` below). ``@njit(cache=True, nogil=True)``, no fastmath, no
parallel. :func:`warmup` compiles (or loads from the cache) every kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# indices into the MDF scalar state ``sc``
S_HEAD, S_LEAK, S_PEY, S_PYY, S_SUM_ADAPT, S_ADAPTED, S_COUNT, S_SCREWED, S_FREEZE, S_RESETS = range(10)
N_SCALARS = 10
# indices into the MDF parameter vector ``par``
P_MIN_LEAK, P_ADAPT_MAX, P_SPEC_AVG, P_BETA0, P_BETA_MAX, P_POWER_SS = range(6)
# indices into the suppressor parameter vector
Q_OVER, Q_FLOOR, Q_DD, Q_RELEASE, Q_SMOOTH = range(5)


def fft_tables(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables of the real FFT of size n, done as a complex FFT of size n/2: twiddles
    exp(-2i*pi*m/(n/2)), the bit-reversal permutation of n/2, and the split twiddles
    exp(-2i*pi*k/n) for k = 0..n/2."""
    if n < 4 or n & (n - 1):
        raise ValueError(f"FFT size must be a power of two >= 4, got {n}")
    h = n // 2
    bits = h.bit_length() - 1
    rev = np.array([int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(h)], np.int64)
    tw = np.exp(-2j * np.pi * np.arange(h // 2) / h)
    post = np.exp(-2j * np.pi * np.arange(h + 1) / n)
    return tw, rev, post


@njit(cache=True, nogil=True)
def fft_inplace(a, tw, rev, inverse):
    """Iterative radix-2 complex FFT, unscaled (exp(-i..) forward, exp(+i..) inverse)."""
    n = a.shape[0]
    for i in range(n):
        j = rev[i]
        if j > i:
            t = a[i]
            a[i] = a[j]
            a[j] = t
    size = 2
    while size <= n:
        half = size // 2
        step = n // size
        for k in range(half):
            w = tw[k * step]
            if inverse:
                w = w.conjugate()
            for start in range(0, n, size):
                b = a[start + k + half] * w
                a[start + k + half] = a[start + k] - b
                a[start + k] = a[start + k] + b
        size *= 2


@njit(cache=True, nogil=True)
def rfft_into(x, out, buf, tw, rev, post):
    """out[:n/2+1] = DFT(x) / n for real x of length n (one complex FFT of n/2)."""
    n = x.shape[0]
    h = n // 2
    for m in range(h):
        buf[m] = complex(x[2 * m], x[2 * m + 1])
    fft_inplace(buf[:h], tw, rev, False)
    for k in range(h + 1):
        zk = buf[k % h]
        zc = buf[(h - k) % h].conjugate()
        ev = 0.5 * (zk + zc)
        od = -0.5j * (zk - zc)
        out[k] = (ev + post[k] * od) / n


@njit(cache=True, nogil=True)
def irfft_into(spec, out, buf, tw, rev, post):
    """out = unscaled inverse DFT of the Hermitian spectrum spec[:n/2+1] (real part)."""
    n = out.shape[0]
    h = n // 2
    for k in range(h):
        a = spec[k]
        b = spec[h - k].conjugate()
        if k == 0:  # the imaginary parts of DC and Nyquist carry nothing (as numpy's irfft)
            a = complex(a.real, 0.0)
            b = complex(b.real, 0.0)
        ev = a + b
        od = (a - b) * post[k].conjugate()
        buf[k] = ev + 1j * od
    fft_inplace(buf[:h], tw, rev, True)
    for m in range(h):
        out[2 * m] = buf[m].real
        out[2 * m + 1] = buf[m].imag


@njit(cache=True, nogil=True)
def _mdf_filter(W, Xh, head, Y):
    P, K = W.shape
    Y[:] = 0.0
    for p in range(P):
        idx = head - p
        if idx < 0:
            idx += P
        for k in range(K):
            Y[k] += W[p, k] * Xh[idx, k]


@njit(cache=True, nogil=True)
def _mdf_prop(W, prop):
    """Proportionate weights: partitions holding more of the echo path adapt faster."""
    P, K = W.shape
    mx = 1.0
    for p in range(P):
        t = 1.0
        for k in range(K):
            t += W[p, k].real ** 2 + W[p, k].imag ** 2
        prop[p] = np.sqrt(t)
        if prop[p] > mx:
            mx = prop[p]
    total = 1.0
    for p in range(P):
        prop[p] += 0.1 * mx
        total += prop[p]
    for p in range(P):
        prop[p] = 0.99 * prop[p] / total


@njit(cache=True, nogil=True)
def _mdf_leak(Rf, Yf, Eh, Yh, See, Syy, sc, par):
    """Linear regression of |E|^2 on |Y|^2 over time: the fraction of echo left (leak)."""
    pey = 0.0
    pyy = 0.0
    a = par[P_SPEC_AVG]
    for k in range(Rf.shape[0]):
        eh = Rf[k] - Eh[k]
        yh = Yf[k] - Yh[k]
        pey += eh * yh
        pyy += yh * yh
        Eh[k] = (1.0 - a) * Eh[k] + a * Rf[k]
        Yh[k] = (1.0 - a) * Yh[k] + a * Yf[k]
    pyy = np.sqrt(pyy)
    pey = pey / (pyy + 1e-30)
    alpha = min(par[P_BETA0] * Syy, par[P_BETA_MAX] * See) / (See + 1e-30)
    sc[S_PEY] = (1.0 - alpha) * sc[S_PEY] + alpha * pey
    sc[S_PYY] = max((1.0 - alpha) * sc[S_PYY] + alpha * pyy, 1.0)
    sc[S_PEY] = min(max(sc[S_PEY], par[P_MIN_LEAK] * sc[S_PYY]), sc[S_PYY])
    sc[S_LEAK] = sc[S_PEY] / sc[S_PYY]


@njit(cache=True, nogil=True)
def _mdf_step(Rf, Yf, power, mu, See, Syy, Sey, Sxx, n, sc, par):
    """Per-bin normalised step mu (written into ``mu``); 0 everywhere when frozen."""
    if not sc[S_ADAPTED]:
        rate = 0.0
        if Sxx > n * 1000.0:
            rate = min(0.25 * Sxx, 0.25 * See) / (See + 1e-30)
        rate = min(rate, par[P_ADAPT_MAX])
        for k in range(mu.shape[0]):
            mu[k] = rate / (power[k] + 10.0)
        sc[S_SUM_ADAPT] += rate
        return
    leak = sc[S_LEAK]
    rer = (0.0001 * Sxx + 3.0 * leak * Syy) / (See + 1e-30)
    rer = min(max(rer, Sey * Sey / (1.0 + See * Syy)), 0.5)
    for k in range(mu.shape[0]):
        e = Rf[k] + 1.0
        r = min(leak * Yf[k], 0.5 * e)
        r = 0.7 * r + 0.3 * rer * e
        mu[k] = r / (e * (power[k] + 10.0))


@njit(cache=True, nogil=True)
def _mdf_constrain(W, p, tmp, buf, tw, rev, post):
    """Zero the second half of partition p's impulse response (linear, not circular)."""
    B = tmp.shape[0] // 2
    irfft_into(W[p], tmp, buf, tw, rev, post)
    tmp[B:] = 0.0
    rfft_into(tmp, W[p], buf, tw, rev, post)


@njit(cache=True, nogil=True)
def _mdf_adapt(W, Xh, head, E, mu, prop, sc, tmp, buf, tw, rev, post):
    P, K = W.shape
    _mdf_prop(W, prop)
    for p in range(P):
        idx = head - p
        if idx < 0:
            idx += P
        g = prop[p]
        for k in range(K):
            W[p, k] += g * mu[k] * Xh[idx, k].conjugate() * E[k]
    count = int(sc[S_COUNT])
    _mdf_constrain(W, 0, tmp, buf, tw, rev, post)
    if P > 1:
        _mdf_constrain(W, 1 + count % (P - 1), tmp, buf, tw, rev, post)
    sc[S_COUNT] = count + 1


@njit(cache=True, nogil=True)
def _mdf_reset(W, Eh, Yh, sc):
    W[:] = 0.0
    Eh[:] = 0.0
    Yh[:] = 0.0
    sc[S_LEAK] = 0.0
    sc[S_PEY] = 0.0
    sc[S_PYY] = 1.0
    sc[S_SUM_ADAPT] = 0.0
    sc[S_ADAPTED] = 0.0
    sc[S_SCREWED] = 0.0
    sc[S_RESETS] += 1.0


@njit(cache=True, nogil=True)
def _mdf_health(See, Syy, Sxx, Sdd, n, sc):
    """Speex's sanity check: True when the output must fall back to the mic signal."""
    bad = not (np.isfinite(See) and np.isfinite(Syy) and np.isfinite(Sxx))
    bad = bad or Syy > n * 1e9 or Sxx > n * 1e9
    if bad:
        sc[S_SCREWED] += 50.0
    elif 0.25 * See > Sdd + n * 10000.0 / 64.0:
        sc[S_SCREWED] += 1.0  # the filter adds echo instead of removing it
    else:
        sc[S_SCREWED] = 0.0
    return bad


@njit(cache=True, nogil=True)
def _energies(e, y, x, d):
    See = 0.0
    Syy = 0.0
    Sey = 0.0
    Sxx = 0.0
    Sdd = 0.0
    for i in range(e.shape[0]):
        See += e[i] * e[i]
        Syy += y[i] * y[i]
        Sey += e[i] * y[i]
        Sxx += x[i] * x[i]
        Sdd += d[i] * d[i]
    return See, Syy, Sey, Sxx, Sdd


@njit(cache=True, nogil=True)
def _power_spec(X, out):
    for k in range(X.shape[0]):
        out[k] = X[k].real ** 2 + X[k].imag ** 2


@njit(cache=True, nogil=True)
def _mdf_block(xb, db, e, y, W, Xh, xbuf, power, Eh, Yh, prop, sc, par, tw, rev, post):
    P, K = W.shape
    B = xb.shape[0]
    n = 2 * B
    buf = np.empty(n, np.complex128)
    tmp = np.empty(n)
    Y = np.empty(K, np.complex128)
    E = np.empty(K, np.complex128)
    Rf = np.empty(K)
    Yf = np.empty(K)
    Xf = np.empty(K)
    mu = np.empty(K)
    xbuf[:B] = xbuf[B:]
    xbuf[B:] = xb
    head = (int(sc[S_HEAD]) + 1) % P
    sc[S_HEAD] = head
    rfft_into(xbuf, Xh[head], buf, tw, rev, post)
    _mdf_filter(W, Xh, head, Y)
    irfft_into(Y, tmp, buf, tw, rev, post)
    for i in range(B):
        y[i] = tmp[B + i]
        e[i] = db[i] - y[i]
    See, Syy, Sey, Sxx, Sdd = _energies(e, y, xb, db)
    if _mdf_health(See, Syy, Sxx, Sdd, n, sc):
        e[:] = db
        y[:] = 0.0
    if sc[S_SCREWED] >= 50.0:
        _mdf_reset(W, Eh, Yh, sc)
        return
    tmp[:B] = 0.0
    tmp[B:] = e
    rfft_into(tmp, E, buf, tw, rev, post)
    _power_spec(E, Rf)
    tmp[B:] = y
    rfft_into(tmp, Y, buf, tw, rev, post)
    _power_spec(Y, Yf)
    _power_spec(Xh[head], Xf)
    ss = par[P_POWER_SS]
    for k in range(K):
        power[k] = (1.0 - ss) * power[k] + 1.0 + ss * Xf[k]
    _mdf_leak(Rf, Yf, Eh, Yh, See, Syy, sc, par)
    if sc[S_FREEZE] > 0.0:
        sc[S_FREEZE] -= 1.0
        return
    _mdf_step(Rf, Yf, power, mu, See, Syy, Sey, Sxx, n, sc, par)
    _mdf_adapt(W, Xh, head, E, mu, prop, sc, tmp, buf, tw, rev, post)
    if not sc[S_ADAPTED] and sc[S_SUM_ADAPT] > P and sc[S_LEAK] > 0.03:
        sc[S_ADAPTED] = 1.0


@njit(cache=True, nogil=True)
def mdf_blocks(x, d, e, y, W, Xh, xbuf, power, Eh, Yh, prop, sc, par, tw, rev, post):
    """Run the adaptive filter over ``len(x) // B`` blocks (x: reference, d: mic).

    Writes the error (mic minus echo estimate) into ``e`` and the echo estimate into ``y``;
    updates every state array in place.
    """
    B = xbuf.shape[0] // 2
    for b in range(x.shape[0] // B):
        s = slice(b * B, (b + 1) * B)
        _mdf_block(x[s], d[s], e[s], y[s], W, Xh, xbuf, power, Eh, Yh, prop, sc, par,
                   tw, rev, post)


@njit(cache=True, nogil=True)
def _sup_gain(Pe, Pr, Sr, G, gamma_prev, par):
    """Decision-directed Wiener gain of the near-end against residual echo, floored."""
    for k in range(Pe.shape[0]):
        Sr[k] = max(Pr[k], par[Q_RELEASE] * Sr[k])
        gamma = Pe[k] / (par[Q_OVER] * Sr[k] + 1e-3)
        xi = par[Q_DD] * G[k] * G[k] * gamma_prev[k] + (1.0 - par[Q_DD]) * max(gamma - 1.0, 0.0)
        g = max(xi / (1.0 + xi), par[Q_FLOOR])
        G[k] = par[Q_SMOOTH] * G[k] + (1.0 - par[Q_SMOOTH]) * g
        gamma_prev[k] = min(gamma, 1e6)


@njit(cache=True, nogil=True)
def _sup_block(eb, yb, out, leak, win, ebuf, ybuf, obuf, Sr, G, gamma_prev, par, tw, rev, post):
    H = eb.shape[0]
    n = 2 * H
    K = H + 1
    buf = np.empty(n, np.complex128)
    tmp = np.empty(n)
    E = np.empty(K, np.complex128)
    Yc = np.empty(K, np.complex128)
    Pe = np.empty(K)
    Pr = np.empty(K)
    ebuf[:H] = ebuf[H:]
    ebuf[H:] = eb
    ybuf[:H] = ybuf[H:]
    ybuf[H:] = yb
    for i in range(n):
        tmp[i] = win[i] * ebuf[i]
    rfft_into(tmp, E, buf, tw, rev, post)
    for i in range(n):
        tmp[i] = win[i] * ybuf[i]
    rfft_into(tmp, Yc, buf, tw, rev, post)
    _power_spec(E, Pe)
    _power_spec(Yc, Pr)
    for k in range(K):
        Pr[k] *= leak
    _sup_gain(Pe, Pr, Sr, G, gamma_prev, par)
    for k in range(K):
        E[k] = E[k] * G[k]
    irfft_into(E, tmp, buf, tw, rev, post)
    for i in range(n):
        obuf[i] += win[i] * tmp[i]
    out[:] = obuf[:H]
    obuf[:H] = obuf[H:]
    obuf[H:] = 0.0


@njit(cache=True, nogil=True)
def suppress_blocks(e, y, out, leak, win, ebuf, ybuf, obuf, Sr, G, gamma_prev, par, tw, rev, post):
    """Residual echo suppression over ``len(e) // H`` hops; ``out`` lags ``e`` by H samples."""
    H = ebuf.shape[0] // 2
    for b in range(e.shape[0] // H):
        s = slice(b * H, (b + 1) * H)
        _sup_block(e[s], y[s], out[s], leak, win, ebuf, ybuf, obuf, Sr, G, gamma_prev, par,
                   tw, rev, post)


def warmup() -> None:
    """Compile (or load from the cache) every kernel with the argument types the AEC uses."""
    from livesense.aec.aec import AecConfig, EchoCanceller

    canceller = EchoCanceller(AecConfig(filter_ms=16, delay_estimation=False))
    z = np.zeros(canceller.frame_size, np.float32)
    canceller.process(z, z)
