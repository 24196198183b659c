"""Plain numpy twins of ``kernels`` (same maths, vectorised; tests check they agree)."""

from __future__ import annotations

import numpy as np


def _ramp(x, a, b):
    return np.clip((x - a) / (b - a), 0.0, 1.0)


def pixel_maps(img: np.ndarray, lum_ref: float) -> np.ndarray:
    img = img.astype(np.float64)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    lum = (r + g + b) / 3.0
    mx, mn = img.max(axis=2), img.min(axis=2)
    chroma = mx - mn
    sat = chroma / (mx + 1e-3)
    hue = np.arctan2(0.8660254037844386 * (g - b), r - 0.5 * (g + b)) / (2 * np.pi)
    cw = _ramp(sat, 0.3, 0.45) * _ramp(chroma, 0.04, 0.08)
    vivid = _ramp(sat, 0.6, 0.75)
    white = (1.0 - _ramp(sat, 0.15, 0.3)) * _ramp(lum / (lum_ref + 1e-3), 1.35, 1.6)
    out = np.zeros(img.shape[:2] + (7,), np.float64)
    gx = 0.5 * (img[1:-1, 2:] - img[1:-1, :-2])
    gy = 0.5 * (img[2:, 1:-1] - img[:-2, 1:-1])
    gxx, gyy, gxy = (gx * gx).sum(-1), (gy * gy).sum(-1), (gx * gy).sum(-1)
    d = np.sqrt((gxx - gyy) ** 2 + 4.0 * gxy * gxy)
    out[1:-1, 1:-1, 0] = np.sqrt(np.maximum(0.0, 0.5 * (gxx + gyy + d)))
    out[1:-1, 1:-1, 1] = np.mod(0.5 * np.arctan2(2.0 * gxy, gxx - gyy), np.pi)
    out[..., 2] = hue - np.floor(hue)
    out[..., 3], out[..., 4] = cw * vivid, cw * (1.0 - vivid)
    out[..., 5], out[..., 6] = white, lum
    return out.astype(np.float32)


def _soft_bin(v, n):
    b = v * n - 0.5
    b0 = np.floor(b)
    return b0.astype(np.int64) % n, (b0.astype(np.int64) + 1) % n, b - b0


def _hist(bins_lo, bins_hi, f, wgt, n):
    return (np.bincount(bins_lo.ravel(), (wgt * (1 - f)).ravel(), n)
            + np.bincount(bins_hi.ravel(), (wgt * f).ravel(), n))


def cell_colour(maps: np.ndarray, gh: int, gw: int, hue_bins: int) -> np.ndarray:
    maps = maps.astype(np.float64)
    h, w, _ = maps.shape
    ch, cw = h // gh, w // gw
    out = np.zeros((gh * gw, 2 * hue_bins + 2))
    for i in range(gh):
        for j in range(gw):
            m = maps[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw]
            b0, b1, f = _soft_bin(m[..., 2], hue_bins)
            hist = [_hist(b0, b1, f, m[..., 3 + band], hue_bins) for band in range(2)]
            raw = np.concatenate(hist + [[m[..., 5].sum()]]) / (ch * cw)
            out[i * gw + j] = np.concatenate([np.sqrt(raw), [np.log(m[..., 6].mean() + 0.03)]])
    return out


def _hog(maps, y0, x0, wh, ww, sub, bins, eps):
    h, w, _ = maps.shape
    ys, xs = np.arange(max(0, y0), min(h, y0 + wh)), np.arange(max(0, x0), min(w, x0 + ww))
    m = maps[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1]
    sy, sx = ((ys - y0) * sub) // wh, ((xs - x0) * sub) // ww
    base = (sy[:, None] * sub + sx[None, :]) * bins
    b0, b1, f = _soft_bin(m[..., 1] / np.pi, bins)
    hog = _hist(base + b0, base + b1, f, m[..., 0], sub * sub * bins)
    return hog / np.sqrt((hog * hog).sum() + eps * eps)


def _silhouette(m, sil):
    ch, cw = m.shape[:2]
    s = np.maximum(m[..., 3], m[..., 5])
    sy, sx = (np.arange(ch) * sil) // ch, (np.arange(cw) * sil) // cw
    idx = sy[:, None] * sil + sx[None, :]
    return np.bincount(idx.ravel(), s.ravel(), sil * sil) / (ch * cw / (sil * sil))


def cell_shape(maps, gh, gw, overlap, sub, bins, sil, eps) -> np.ndarray:
    maps = maps.astype(np.float64)
    h, w, _ = maps.shape
    ch, cw = h // gh, w // gw
    rows = []
    for i in range(gh):
        for j in range(gw):
            hog = _hog(maps, i * ch - overlap, j * cw - overlap, ch + 2 * overlap, cw + 2 * overlap, sub, bins, eps)
            rows.append(np.concatenate([hog, _silhouette(maps[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw], sil)]))
    return np.array(rows)


def nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = ((x[:, None, :].astype(np.float64) - centres[None, :, :]) ** 2).sum(-1)
    return d.argmin(axis=1).astype(np.int32)


def gaussian_taps(sigma: float) -> np.ndarray:
    r = int(np.ceil(3.0 * sigma))
    taps = np.exp(-0.5 * ((np.arange(2 * r + 1) - r) / sigma) ** 2)
    return taps / taps.sum()


def _blur_same(a: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    r = (len(taps) - 1) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(a, pad)
    n = a.shape[axis]
    return sum(taps[t] * np.take(p, np.arange(t, t + n), axis=axis) for t in range(len(taps)))


def blob_peaks(maps, gh, gw, sigma, thr) -> np.ndarray:
    maps = maps.astype(np.float64)
    h, w, _ = maps.shape
    taps = gaussian_taps(sigma)
    sm = _blur_same(_blur_same(np.maximum(maps[..., 3], maps[..., 5]), taps, 1), taps, 0)
    p = np.pad(sm, 1, constant_values=-np.inf)
    peak = sm > thr
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                nb_ = p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
                before = dy < 0 or (dy == 0 and dx < 0)
                peak &= ~((nb_ > sm) | (before & (nb_ == sm)))
    ch, cw = h // gh, w // gw
    ys, xs = np.nonzero(peak[:gh * ch, :gw * cw])
    return np.bincount((ys // ch) * gw + xs // cw, minlength=gh * gw).astype(np.float64)
