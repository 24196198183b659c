"""Plain numpy twins of :mod:`livesense.aec.kernels` (same state arrays, same conventions).

They exist to be read and to be tested against: ``tests/test_aec_kernels.py`` checks that
the numba kernels and these twins produce the same output and the same state, block after
block. They use ``np.fft`` (forward scaled by 1/N, inverse unscaled, as the kernels).
"""

from __future__ import annotations

import numpy as np

from livesense.aec.kernels import (
    P_BETA0, P_BETA_MAX, P_MIN_LEAK, P_ADAPT_MAX, P_POWER_SS, P_SPEC_AVG, Q_DD, Q_FLOOR,
    Q_OVER, Q_RELEASE, Q_SMOOTH, S_ADAPTED, S_COUNT, S_FREEZE, S_HEAD, S_LEAK, S_PEY, S_PYY,
    S_RESETS, S_SCREWED, S_SUM_ADAPT,
)


def rfft(x: np.ndarray) -> np.ndarray:
    return np.fft.rfft(x) / len(x)


def irfft(spec: np.ndarray, n: int) -> np.ndarray:
    return np.fft.irfft(spec, n) * n


def _leak(Rf, Yf, Eh, Yh, See, Syy, sc, par):
    eh, yh = Rf - Eh, Yf - Yh
    pyy = np.sqrt(np.sum(yh * yh))
    pey = np.sum(eh * yh) / (pyy + 1e-30)
    a = par[P_SPEC_AVG]
    Eh[:] = (1 - a) * Eh + a * Rf
    Yh[:] = (1 - a) * Yh + a * Yf
    alpha = min(par[P_BETA0] * Syy, par[P_BETA_MAX] * See) / (See + 1e-30)
    sc[S_PEY] = (1 - alpha) * sc[S_PEY] + alpha * pey
    sc[S_PYY] = max((1 - alpha) * sc[S_PYY] + alpha * pyy, 1.0)
    sc[S_PEY] = min(max(sc[S_PEY], par[P_MIN_LEAK] * sc[S_PYY]), sc[S_PYY])
    sc[S_LEAK] = sc[S_PEY] / sc[S_PYY]


def _step(Rf, Yf, power, See, Syy, Sey, Sxx, n, sc, par):
    if not sc[S_ADAPTED]:
        rate = min(0.25 * Sxx, 0.25 * See) / (See + 1e-30) if Sxx > n * 1000.0 else 0.0
        rate = min(rate, par[P_ADAPT_MAX])
        sc[S_SUM_ADAPT] += rate
        return rate / (power + 10.0)
    leak = sc[S_LEAK]
    rer = (0.0001 * Sxx + 3.0 * leak * Syy) / (See + 1e-30)
    rer = min(max(rer, Sey * Sey / (1.0 + See * Syy)), 0.5)
    e = Rf + 1.0
    r = np.minimum(leak * Yf, 0.5 * e)
    r = 0.7 * r + 0.3 * rer * e
    return r / (e * (power + 10.0))


def _prop(W):
    prop = np.sqrt(1.0 + np.sum(W.real ** 2 + W.imag ** 2, axis=1))
    prop += 0.1 * max(1.0, prop.max())
    return 0.99 * prop / (1.0 + prop.sum())


def _constrain(W, p, n):
    w = irfft(W[p], n)
    w[n // 2:] = 0.0
    W[p] = rfft(w)


def _adapt(W, Xh, head, E, mu, prop, sc, n):
    P = W.shape[0]
    prop[:] = _prop(W)
    order = (head - np.arange(P)) % P
    W += prop[:, None] * mu[None, :] * np.conj(Xh[order]) * E[None, :]
    count = int(sc[S_COUNT])
    _constrain(W, 0, n)
    if P > 1:
        _constrain(W, 1 + count % (P - 1), n)
    sc[S_COUNT] = count + 1


def _reset(W, Eh, Yh, sc):
    W[:] = 0.0
    Eh[:] = 0.0
    Yh[:] = 0.0
    sc[[S_LEAK, S_PEY, S_SUM_ADAPT, S_ADAPTED, S_SCREWED]] = 0.0
    sc[S_PYY] = 1.0
    sc[S_RESETS] += 1.0


def _health(See, Syy, Sxx, Sdd, n, sc):
    bad = not (np.isfinite(See) and np.isfinite(Syy) and np.isfinite(Sxx))
    bad = bad or Syy > n * 1e9 or Sxx > n * 1e9
    if bad:
        sc[S_SCREWED] += 50.0
    elif 0.25 * See > Sdd + n * 10000.0 / 64.0:
        sc[S_SCREWED] += 1.0
    else:
        sc[S_SCREWED] = 0.0
    return bad


def mdf_block(xb, db, W, Xh, xbuf, power, Eh, Yh, prop, sc, par):
    """One block; returns (e, y). Same state updates as the numba kernel."""
    P, _ = W.shape
    B = len(xb)
    n = 2 * B
    xbuf[:B] = xbuf[B:].copy()
    xbuf[B:] = xb
    head = (int(sc[S_HEAD]) + 1) % P
    sc[S_HEAD] = head
    Xh[head] = rfft(xbuf)
    order = (head - np.arange(P)) % P
    y = irfft(np.sum(W * Xh[order], axis=0), n)[B:]
    e = db - y
    See, Syy, Sey, Sxx, Sdd = e @ e, y @ y, e @ y, xb @ xb, db @ db
    if _health(See, Syy, Sxx, Sdd, n, sc):
        e, y = db.copy(), np.zeros(B)
    if sc[S_SCREWED] >= 50.0:
        _reset(W, Eh, Yh, sc)
        return e, y
    pad = np.zeros(B)
    E = rfft(np.concatenate([pad, e]))
    Rf = np.abs(E) ** 2
    Yf = np.abs(rfft(np.concatenate([pad, y]))) ** 2
    Xf = np.abs(Xh[head]) ** 2
    ss = par[P_POWER_SS]
    power[:] = (1 - ss) * power + 1.0 + ss * Xf
    _leak(Rf, Yf, Eh, Yh, See, Syy, sc, par)
    if sc[S_FREEZE] > 0:
        sc[S_FREEZE] -= 1.0
        return e, y
    mu = _step(Rf, Yf, power, See, Syy, Sey, Sxx, n, sc, par)
    _adapt(W, Xh, head, E, mu, prop, sc, n)
    if not sc[S_ADAPTED] and sc[S_SUM_ADAPT] > P and sc[S_LEAK] > 0.03:
        sc[S_ADAPTED] = 1.0
    return e, y


def mdf_blocks(x, d, W, Xh, xbuf, power, Eh, Yh, prop, sc, par):
    """Twin of ``kernels.mdf_blocks``; returns (e, y) instead of writing into them."""
    B = len(xbuf) // 2
    out = [mdf_block(x[i:i + B], d[i:i + B], W, Xh, xbuf, power, Eh, Yh, prop, sc, par)
           for i in range(0, len(x) - B + 1, B)]
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def sup_block(eb, yb, leak, win, ebuf, ybuf, obuf, Sr, G, gamma_prev, par):
    H = len(eb)
    n = 2 * H
    ebuf[:H], ebuf[H:] = ebuf[H:].copy(), eb
    ybuf[:H], ybuf[H:] = ybuf[H:].copy(), yb
    E = rfft(win * ebuf)
    Pe = np.abs(E) ** 2
    Pr = leak * np.abs(rfft(win * ybuf)) ** 2
    Sr[:] = np.maximum(Pr, par[Q_RELEASE] * Sr)
    gamma = Pe / (par[Q_OVER] * Sr + 1e-3)
    xi = par[Q_DD] * G * G * gamma_prev + (1 - par[Q_DD]) * np.maximum(gamma - 1.0, 0.0)
    g = np.maximum(xi / (1.0 + xi), par[Q_FLOOR])
    G[:] = par[Q_SMOOTH] * G + (1 - par[Q_SMOOTH]) * g
    gamma_prev[:] = np.minimum(gamma, 1e6)
    obuf += win * irfft(E * G, n)
    out = obuf[:H].copy()
    obuf[:H], obuf[H:] = obuf[H:].copy(), 0.0
    return out


def suppress_blocks(e, y, leak, win, ebuf, ybuf, obuf, Sr, G, gamma_prev, par):
    """Twin of ``kernels.suppress_blocks``; returns the output."""
    H = len(ebuf) // 2
    return np.concatenate([sup_block(e[i:i + H], y[i:i + H], leak, win, ebuf, ybuf, obuf, Sr, G,
                                     gamma_prev, par) for i in range(0, len(e) - H + 1, H)])
