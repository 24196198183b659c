"""Numba kernels of LSC-1's hot loops. Each has a numpy twin in :mod:`kernels_ref`.

All are ``@njit(cache=True, nogil=True)`` and none uses fastmath, so the RVQ search gives
the same token ids on every run and machine. :func:`warmup` compiles (or loads from the
cache) every kernel; call it once at start, before the first real frame.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def _first_peak(row, lag_min, lag_max, thr):
    for t in range(lag_min, lag_max + 1):
        if row[t] >= row[t - 1] and row[t] >= row[t + 1] and row[t] >= thr:
            return t
    return -1


@njit(cache=True, nogil=True)
def _vertex(row, t, dip):
    """Lag of the parabola through row[t-1..t+1] at its vertex (within ±0.5 of t); t itself
    when the parabola opens the wrong way (up for a peak, down for a dip)."""
    a, b, c = row[t - 1], row[t], row[t + 1]
    den = a - 2.0 * b + c
    off = 0.5 * (a - c) / den if (den > 0.0 if dip else den < 0.0) else 0.0
    return t + min(max(off, -0.5), 0.5)


@njit(cache=True, nogil=True)
def pick_pitch(r, lag_min, lag_max, octave=0.9):
    n = r.shape[0]
    lags = np.zeros(n)
    strength = np.zeros(n)
    for i in range(n):
        row = r[i]
        best = row[lag_min]
        arg = lag_min
        for t in range(lag_min, lag_max + 1):
            if row[t] > best:
                best = row[t]
                arg = t
        t = _first_peak(row, lag_min, lag_max, octave * best)
        if t < 0:
            t = arg
        lags[i] = _vertex(row, t, False)
        strength[i] = min(max(row[t], 0.0), 1.0)
    return lags, strength


@njit(cache=True, nogil=True)
def pick_yin(d, lag_min, lag_max, thr):
    n = d.shape[0]
    lags = np.zeros(n)
    aper = np.ones(n)
    for i in range(n):
        row = d[i]
        t = -1
        for k in range(lag_min, lag_max + 1):
            if row[k] < thr and row[k] <= row[k - 1] and row[k] <= row[k + 1]:
                t = k
                break
        if t < 0:
            t = lag_min
            for k in range(lag_min + 1, lag_max + 1):
                if row[k] < row[t]:
                    t = k
        lags[i] = _vertex(row, t, True)
        aper[i] = min(max(row[t], 0.0), 1.0)
    return lags, aper


@njit(cache=True, nogil=True)
def fill_unvoiced(lf0, strength, thr, last):
    out = lf0.copy()
    for i in range(out.shape[0]):
        if strength[i] < thr:
            out[i] = last
        else:
            last = out[i]
    return out, last


@njit(cache=True, nogil=True)
def book_norms(books, active):
    """(S, K) float32: squared norm of each codeword over its stage's active dims."""
    n_st, dim, k = books.shape
    out = np.zeros((n_st, k), np.float32)
    for s in range(n_st):
        for j in range(dim):
            if active[s, j]:
                for c in range(k):
                    out[s, c] += books[s, j, c] * books[s, j, c]
    return out


@njit(cache=True, nogil=True)
def rvq_search(x, books, active, norms, block=16):
    """Greedy RVQ; distance |b|^2 - 2 r.b (the |r|^2 term is common), float32, j order.

    Frames go through in blocks so each codebook row is read once per block (the search
    is memory-bound); every frame's arithmetic is the same whatever the block size.
    """
    n, dim = x.shape
    n_st, _, k = books.shape
    codes = np.zeros((n, n_st), np.int32)
    res = np.empty((block, dim), np.float32)
    d = np.empty((block, k), np.float32)
    m2r = np.empty(block, np.float32)
    for i0 in range(0, n, block):
        nb = min(block, n - i0)
        for b in range(nb):
            for j in range(dim):
                res[b, j] = x[i0 + b, j]
        for s in range(n_st):
            for b in range(nb):
                d[b, :] = norms[s]
            for j in range(dim):
                if not active[s, j]:
                    continue
                for b in range(nb):
                    m2r[b] = np.float32(-2.0) * res[b, j]
                for b in range(nb):
                    mb = m2r[b]
                    for c in range(k):
                        d[b, c] += mb * books[s, j, c]
            for b in range(nb):
                best = 0
                for c in range(1, k):
                    if d[b, c] < d[b, best]:
                        best = c
                codes[i0 + b, s] = best
                for j in range(dim):
                    res[b, j] = res[b, j] - books[s, j, best]
    return codes


@njit(cache=True, nogil=True)
def _stage_dist(res, book, act, d):
    """d[c] = sum over active j of (res[j] - book[j, c])**2, in j order (float32)."""
    d[:] = 0.0
    for j in range(res.shape[0]):
        if not act[j]:
            continue
        rj = res[j]
        for c in range(book.shape[1]):
            diff = rj - book[j, c]
            d[c] += diff * diff


@njit(cache=True, nogil=True)
def _take_best(dist, n_take, out_p, out_c):
    """The n_take smallest entries of dist (P, K), ties to the lowest (p, c); marks them inf."""
    for b in range(n_take):
        bp, bc = 0, 0
        best = np.inf
        for p in range(dist.shape[0]):
            for c in range(dist.shape[1]):
                if dist[p, c] < best:
                    best, bp, bc = dist[p, c], p, c
        out_p[b], out_c[b] = bp, bc
        dist[bp, bc] = np.inf


@njit(cache=True, nogil=True)
def rvq_search_beam(x, books, active, beam):
    n, dim = x.shape
    n_st, _, k = books.shape
    codes = np.zeros((n, n_st), np.int32)
    res = np.empty((beam, dim), np.float32)
    new_res = np.empty((beam, dim), np.float32)
    ids = np.zeros((beam, n_st), np.int32)
    new_ids = np.zeros((beam, n_st), np.int32)
    dist = np.empty((beam, k), np.float32)
    r1 = np.empty(dim, np.float32)
    d1 = np.empty(k, np.float32)
    bp = np.zeros(beam, np.int64)
    bc = np.zeros(beam, np.int64)
    for i in range(n):
        live = 1
        res[0, :] = x[i]
        for s in range(n_st):
            for p in range(live):
                for j in range(dim):
                    r1[j] = res[p, j]
                _stage_dist(r1, books[s], active[s], d1)
                dist[p, :] = d1
            take = min(beam, live * k)
            _take_best(dist[:live], take, bp, bc)
            for b in range(take):
                for j in range(dim):
                    new_res[b, j] = res[bp[b], j] - books[s, j, bc[b]]
                new_ids[b, :s] = ids[bp[b], :s]
                new_ids[b, s] = bc[b]
            res[:take] = new_res[:take]
            ids[:take] = new_ids[:take]
            live = take
        codes[i] = ids[0]
    return codes


@njit(cache=True, nogil=True)
def rvq_decode(codes, books):
    n = codes.shape[0]
    n_st, dim, _ = books.shape
    out = np.zeros((n, dim), np.float32)
    for i in range(n):
        for s in range(n_st):
            c = codes[i, s]
            for j in range(dim):
                out[i, j] += books[s, j, c]
    return out


@njit(cache=True, nogil=True)
def pulse_train(knot_pos, knot_lf0, start, n, phase, sample_rate):
    out = np.zeros(n, np.float32)
    k = 0
    last = knot_pos.shape[0] - 1
    for i in range(n):
        t = start + i
        while k < last and knot_pos[k + 1] <= t:
            k += 1
        if t <= knot_pos[0]:
            lf = knot_lf0[0]
        elif k >= last:
            lf = knot_lf0[last]
        else:
            a = (t - knot_pos[k]) / (knot_pos[k + 1] - knot_pos[k])
            lf = knot_lf0[k] + a * (knot_lf0[k + 1] - knot_lf0[k])
        f0 = 2.0 ** lf
        phase += f0 / sample_rate
        if phase >= 1.0:
            phase -= np.floor(phase)
            out[i] = np.sqrt(sample_rate / f0)
    return out, phase


@njit(cache=True, nogil=True)
def hash_noise(start, n, seed):
    out = np.empty(n, np.float32)
    base = np.uint64(seed) * _M1 + _M1
    for i in range(n):
        z = np.uint64(start + i) + base
        z = (z ^ (z >> np.uint64(30))) * _M2
        z = (z ^ (z >> np.uint64(27))) * _M3
        z = z ^ (z >> np.uint64(31))
        u = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        out[i] = (u - 0.5) * np.sqrt(12.0)
    return out


@njit(cache=True, nogil=True)
def dense(x, w, b, relu):
    """One layer ``x @ w + b`` (rows of ``x`` one by one, inputs in order, float32), ReLU
    if ``relu``. Inputs equal to 0 are skipped (after a ReLU about half are). Each row's
    arithmetic is the same whatever the number of rows, so a streamed frame and the same
    frame in a one-shot call give the same bits, and so the same token ids."""
    n, n_in = x.shape
    n_out = w.shape[1]
    out = np.empty((n, n_out), np.float32)
    for r in range(n):
        for j in range(n_out):
            out[r, j] = b[j]
        for i in range(n_in):
            xi = x[r, i]
            if xi == 0.0:
                continue
            for j in range(n_out):
                out[r, j] += xi * w[i, j]
        if relu:
            for j in range(n_out):
                if out[r, j] < 0.0:
                    out[r, j] = 0.0
    return out


def active_dims(books: np.ndarray) -> np.ndarray:
    """(S, D) bool: dims where a stage has any non-zero codeword (others cannot change argmin)."""
    return np.ascontiguousarray((books != 0).any(axis=2))


def warmup() -> None:
    """Compile or load every kernel with the argument types the codec uses."""
    r = np.zeros((1, 300))
    pick_pitch(r, 40, 266, 0.9)
    pick_yin(r, 40, 266, 0.15)
    fill_unvoiced(np.zeros(2), np.zeros(2), 0.5, 7.0)
    books = np.zeros((1, 2, 2), np.float32)
    act = np.ones((1, 2), np.bool_)
    rvq_decode(rvq_search(np.zeros((1, 2), np.float32), books, act, book_norms(books, act)), books)
    rvq_search_beam(np.zeros((1, 2), np.float32), books, act, 2)
    pulse_train(np.zeros(2), np.full(2, 7.0), 0, 4, 0.0, 16000.0)
    dense(np.zeros((1, 2), np.float32), np.zeros((2, 2), np.float32), np.zeros(2, np.float32), True)
    hash_noise(0, 4, 0)
