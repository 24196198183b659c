"""Plain numpy twins of :mod:`livesense.codec.kernels` (same arithmetic, same order).

They define what each kernel must compute; ``tests/test_codec_kernels.py`` checks that
the Numba kernels agree (bit for bit where the kernel feeds token ids).
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def _vertex(row: np.ndarray, t: int, dip: bool) -> float:
    """Parabolic refinement of lag ``t`` (a peak, or a dip), at most half a lag either way."""
    a, b, c = row[t - 1], row[t], row[t + 1]
    den = a - 2.0 * b + c
    off = 0.5 * (a - c) / den if (den > 0.0 if dip else den < 0.0) else 0.0
    return t + min(max(off, -0.5), 0.5)


def pick_pitch(r: np.ndarray, lag_min: int, lag_max: int, octave: float = 0.9):
    """Per row of normalised autocorrelation ``r``: (lag, strength).

    The smallest-lag local peak within ``octave`` × the best peak wins (avoids sub-octave
    errors); its lag is refined by parabolic interpolation.
    """
    n = r.shape[0]
    lags = np.zeros(n)
    strength = np.zeros(n)
    for i in range(n):
        row = r[i]
        seg = row[lag_min:lag_max + 1]
        best = seg.max()
        peaks = [t for t in range(lag_min, lag_max + 1)
                 if row[t] >= row[t - 1] and row[t] >= row[t + 1] and row[t] >= octave * best]
        t = peaks[0] if peaks else lag_min + int(np.argmax(seg))
        lags[i] = _vertex(row, t, dip=False)
        strength[i] = min(max(row[t], 0.0), 1.0)
    return lags, strength


def pick_yin(d: np.ndarray, lag_min: int, lag_max: int, thr: float):
    """Per row of a cumulative-mean-normalised difference ``d``: (lag, aperiodicity).

    The first local minimum below ``thr`` wins (the shortest period that fits: no
    sub-octave errors), else the lowest value; its lag is refined by parabolic
    interpolation, and the aperiodicity is the (clipped) value there.
    """
    n = d.shape[0]
    lags = np.zeros(n)
    aper = np.ones(n)
    for i in range(n):
        row = d[i]
        seg = row[lag_min:lag_max + 1]
        dips = [t for t in range(lag_min, lag_max + 1)
                if row[t] < thr and row[t] <= row[t - 1] and row[t] <= row[t + 1]]
        t = dips[0] if dips else lag_min + int(np.argmin(seg))
        lags[i] = _vertex(row, t, dip=True)
        aper[i] = min(max(row[t], 0.0), 1.0)
    return lags, aper


def fill_unvoiced(lf0: np.ndarray, strength: np.ndarray, thr: float, last: float):
    """Replace log-f0 where ``strength < thr`` by the last voiced value (carried in ``last``)."""
    out = lf0.copy()
    for i in range(len(out)):
        if strength[i] < thr:
            out[i] = last
        else:
            last = out[i]
    return out, last


def book_norms(books: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(S, K) float32 squared codeword norms over each stage's active dims (j order)."""
    out = np.zeros((books.shape[0], books.shape[2]), np.float32)
    for s in range(books.shape[0]):
        for j in np.flatnonzero(active[s]):
            out[s] += books[s, j] * books[s, j]
    return out


def rvq_search(x: np.ndarray, books: np.ndarray, active: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Greedy residual VQ. ``x`` (n, D) float32, ``books`` (S, D, K) float32 -> (n, S) int32.

    Distance to codeword c is ``norms[s, c] - 2 * sum_j r_j b_jc`` (|r|^2 is common to all
    c), accumulated in float32 over the stage's ``active`` dims in order; ties go to the
    lowest id.
    """
    n, dim = x.shape
    n_st, _, k = books.shape
    codes = np.zeros((n, n_st), np.int32)
    for i in range(n):
        res = x[i].astype(np.float32).copy()
        for s in range(n_st):
            d = norms[s].copy()
            for j in np.flatnonzero(active[s]):
                d += (np.float32(-2.0) * res[j]) * books[s, j]
            best = int(np.argmin(d))
            codes[i, s] = best
            res = res - books[s, :, best]
    return codes


def rvq_decode(codes: np.ndarray, books: np.ndarray) -> np.ndarray:
    """Sum of the chosen codewords: (n, S) ids -> (n, D) float32."""
    out = np.zeros((codes.shape[0], books.shape[1]), np.float32)
    for s in range(books.shape[0]):
        out += books[s][:, codes[:, s]].T
    return out


def pulse_train(knot_pos: np.ndarray, knot_lf0: np.ndarray, start: int, n: int,
                phase: float, sample_rate: float):
    """Impulses at the pitch of log2-f0 contour (linear between knots, held outside).

    Returns (excitation of ``n`` samples from absolute index ``start``, new phase). Each
    impulse has amplitude sqrt(period) so the train has unit mean power.
    """
    out = np.zeros(n, np.float32)
    k = 0
    for i in range(n):
        t = start + i
        while k < len(knot_pos) - 1 and knot_pos[k + 1] <= t:
            k += 1
        if t <= knot_pos[0]:
            lf = knot_lf0[0]
        elif k >= len(knot_pos) - 1:
            lf = knot_lf0[-1]
        else:
            a = (t - knot_pos[k]) / (knot_pos[k + 1] - knot_pos[k])
            lf = knot_lf0[k] + a * (knot_lf0[k + 1] - knot_lf0[k])
        f0 = 2.0 ** lf
        phase += f0 / sample_rate
        if phase >= 1.0:
            phase -= np.floor(phase)
            out[i] = np.sqrt(sample_rate / f0)
    return out, phase


def hash_noise(start: int, n: int, seed: int) -> np.ndarray:
    """Counter-based uniform noise with unit variance: sample t depends only on (seed, t)."""
    with np.errstate(over="ignore"):
        z = (np.arange(start, start + n, dtype=np.int64).astype(np.uint64)
             + np.uint64(seed) * _M1 + _M1)
        z = (z ^ (z >> np.uint64(30))) * _M2
        z = (z ^ (z >> np.uint64(27))) * _M3
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return ((u - 0.5) * np.sqrt(12.0)).astype(np.float32)


def rvq_search_beam(x: np.ndarray, books: np.ndarray, active: np.ndarray, beam: int) -> np.ndarray:
    """Beam (M-best) residual VQ: keeps the ``beam`` best partial paths per stage."""
    n, dim = x.shape
    n_st, _, k = books.shape
    codes = np.zeros((n, n_st), np.int32)
    for i in range(n):
        paths = [(0.0, x[i].astype(np.float32), [])]
        for s in range(n_st):
            cand = []
            for p, (_, res, ids) in enumerate(paths):
                d = np.zeros(k, np.float32)
                for j in np.flatnonzero(active[s]):
                    diff = res[j] - books[s, j]
                    d += diff * diff
                cand += [(float(d[c]), p, c) for c in range(k)]
            cand.sort()
            paths = [(e, paths[p][1] - books[s, :, c], paths[p][2] + [c]) for e, p, c in cand[:beam]]
        codes[i] = paths[0][2]
    return codes


def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """``x @ w + b`` accumulated input by input in float32 (zero inputs skipped), then ReLU."""
    out = np.empty((x.shape[0], w.shape[1]), np.float32)
    for r in range(x.shape[0]):
        acc = b.astype(np.float32).copy()
        for i in range(x.shape[1]):
            if x[r, i] != 0.0:
                acc += x[r, i] * w[i]
        if relu:
            acc[acc < 0.0] = 0.0
        out[r] = acc
    return out
