"""Numba kernels of the vision tokenizer (numpy twins in ``kernels_ref``, agreement in tests).

Per pixel of the (resized, smoothed) float image: a colour structure tensor gives an
unsigned edge orientation and strength that do not depend on which colour makes the edge;
saturation/hue/luma give colour weights. Per grid cell this yields two descriptors:

* colour: sqrt of vivid-hue and muted-hue histograms (fractions of the cell), white
  fraction, log mean luma (brightness);
* shape: HOG (``sub``x``sub`` sub-cells x ``bins`` unsigned orientations over the cell
  widened by ``overlap`` px, contrast-normalised), a ``sil``x``sil`` silhouette of salient
  (vivid or white) pixels, and the number of object-scale blob centres in the cell - all
  colour-invariant, so shape codes transfer across colours, and counts add up over cells.

All kernels are ``njit(cache=True, nogil=True)``, no object mode, single-threaded.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_JIT = dict(cache=True, nogil=True)


@nb.njit(**_JIT)
def _ramp(x, a, b):
    return min(1.0, max(0.0, (x - a) / (b - a)))


@nb.njit(**_JIT)
def pixel_maps(img, lum_ref):
    """img (H, W, 3) float32 in [0, 1] -> (H, W, 7) float32 maps:
    mag, ori (radians in [0, pi)), hue (turns in [0, 1)), vivid w, muted w, white w, luma."""
    h, w, _ = img.shape
    out = np.zeros((h, w, 7), np.float32)
    for y in range(h):
        for x in range(w):
            r, g, b = img[y, x, 0], img[y, x, 1], img[y, x, 2]
            lum = (r + g + b) / 3.0
            mx = max(r, max(g, b))
            mn = min(r, min(g, b))
            chroma = mx - mn
            sat = chroma / (mx + 1e-3)
            hue = math.atan2(0.8660254037844386 * (g - b), r - 0.5 * (g + b)) / (2 * math.pi)
            cw = _ramp(sat, 0.3, 0.45) * _ramp(chroma, 0.04, 0.08)
            vivid = _ramp(sat, 0.6, 0.75)
            white = (1.0 - _ramp(sat, 0.15, 0.3)) * _ramp(lum / (lum_ref + 1e-3), 1.35, 1.6)
            out[y, x, 2] = hue - math.floor(hue)
            out[y, x, 3] = cw * vivid
            out[y, x, 4] = cw * (1.0 - vivid)
            out[y, x, 5] = white
            out[y, x, 6] = lum
            if 0 < y < h - 1 and 0 < x < w - 1:
                gxx = 0.0
                gyy = 0.0
                gxy = 0.0
                for c in range(3):
                    gx = 0.5 * (img[y, x + 1, c] - img[y, x - 1, c])
                    gy = 0.5 * (img[y + 1, x, c] - img[y - 1, x, c])
                    gxx += gx * gx
                    gyy += gy * gy
                    gxy += gx * gy
                d = math.sqrt((gxx - gyy) ** 2 + 4.0 * gxy * gxy)
                out[y, x, 0] = math.sqrt(max(0.0, 0.5 * (gxx + gyy + d)))
                ang = 0.5 * math.atan2(2.0 * gxy, gxx - gyy)
                out[y, x, 1] = ang % math.pi
    return out


@nb.njit(**_JIT)
def _soft_bin(v, n):
    """v in [0, 1) turns -> (lower bin, upper bin, upper weight), bins centred at (k + .5)/n."""
    b = v * n - 0.5
    b0 = math.floor(b)
    f = b - b0
    return int(b0) % n, int(b0 + 1) % n, f


@nb.njit(**_JIT)
def cell_colour(maps, gh, gw, hue_bins):
    """maps from ``pixel_maps`` -> (gh*gw, 2*hue_bins + 2) colour descriptors."""
    h, w, _ = maps.shape
    ch, cw = h // gh, w // gw
    out = np.zeros((gh * gw, 2 * hue_bins + 2), np.float64)
    for i in range(gh):
        for j in range(gw):
            k = i * gw + j
            lum = 0.0
            for y in range(i * ch, i * ch + ch):
                for x in range(j * cw, j * cw + cw):
                    b0, b1, f = _soft_bin(maps[y, x, 2], hue_bins)
                    for band in range(2):
                        wgt = maps[y, x, 3 + band]
                        out[k, band * hue_bins + b0] += wgt * (1.0 - f)
                        out[k, band * hue_bins + b1] += wgt * f
                    out[k, 2 * hue_bins] += maps[y, x, 5]
                    lum += maps[y, x, 6]
            npix = ch * cw
            for d in range(2 * hue_bins + 1):
                out[k, d] = math.sqrt(out[k, d] / npix)
            out[k, 2 * hue_bins + 1] = math.log(lum / npix + 0.03)
    return out


@nb.njit(**_JIT)
def cell_shape(maps, gh, gw, overlap, sub, bins, sil, eps):
    """maps -> (gh*gw, sub*sub*bins + sil*sil) shape descriptors (HOG + silhouette)."""
    h, w, _ = maps.shape
    ch, cw = h // gh, w // gw
    nh = sub * sub * bins
    out = np.zeros((gh * gw, nh + sil * sil), np.float64)
    for i in range(gh):
        for j in range(gw):
            k = i * gw + j
            y0, x0 = i * ch - overlap, j * cw - overlap
            wh, ww = ch + 2 * overlap, cw + 2 * overlap
            for y in range(max(0, y0), min(h, y0 + wh)):
                sy = ((y - y0) * sub) // wh
                for x in range(max(0, x0), min(w, x0 + ww)):
                    sx = ((x - x0) * sub) // ww
                    b0, b1, f = _soft_bin(maps[y, x, 1] / math.pi, bins)
                    m = maps[y, x, 0]
                    base = (sy * sub + sx) * bins
                    out[k, base + b0] += m * (1.0 - f)
                    out[k, base + b1] += m * f
            norm = 0.0
            for d in range(nh):
                norm += out[k, d] * out[k, d]
            norm = math.sqrt(norm + eps * eps)
            for d in range(nh):
                out[k, d] /= norm
            for y in range(i * ch, i * ch + ch):
                sy = ((y - i * ch) * sil) // ch
                for x in range(j * cw, j * cw + cw):
                    sx = ((x - j * cw) * sil) // cw
                    s = max(maps[y, x, 3], maps[y, x, 5])
                    out[k, nh + sy * sil + sx] += s
            cells = ch * cw / (sil * sil)
            for d in range(sil * sil):
                out[k, nh + d] /= cells
    return out


@nb.njit(**_JIT)
def gaussian_taps(sigma):
    r = int(math.ceil(3.0 * sigma))
    taps = np.empty(2 * r + 1, np.float64)
    for i in range(2 * r + 1):
        taps[i] = math.exp(-0.5 * ((i - r) / sigma) ** 2)
    return taps / taps.sum()


@nb.njit(**_JIT)
def blob_peaks(maps, gh, gw, sigma, thr):
    """Objects per cell: local maxima (> thr) of the salient map blurred at object scale.
    A maximum must beat its earlier (raster order) neighbours and tie-or-beat later ones."""
    h, w, _ = maps.shape
    taps = gaussian_taps(sigma)
    r = (len(taps) - 1) // 2
    tmp = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            acc = 0.0
            for t in range(-r, r + 1):
                if 0 <= x + t < w:
                    acc += taps[t + r] * max(maps[y, x + t, 3], maps[y, x + t, 5])
            tmp[y, x] = acc
    sm = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            acc = 0.0
            for t in range(-r, r + 1):
                if 0 <= y + t < h:
                    acc += taps[t + r] * tmp[y + t, x]
            sm[y, x] = acc
    ch, cw = h // gh, w // gw
    out = np.zeros(gh * gw)
    for y in range(gh * ch):
        for x in range(gw * cw):
            v = sm[y, x]
            if v <= thr:
                continue
            peak = True
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    yy, xx = y + dy, x + dx
                    if (dy or dx) and 0 <= yy < h and 0 <= xx < w:
                        before = dy < 0 or (dy == 0 and dx < 0)
                        if sm[yy, xx] > v or (before and sm[yy, xx] == v):
                            peak = False
            if peak:
                out[(y // ch) * gw + x // cw] += 1.0
    return out


@nb.njit(**_JIT)
def nearest(x, centres):
    """Index of the nearest centre (squared L2, lowest index on ties) for each row of x."""
    n, d = x.shape
    out = np.empty(n, np.int32)
    for i in range(n):
        best = np.inf
        arg = 0
        for k in range(centres.shape[0]):
            s = 0.0
            for j in range(d):
                t = x[i, j] - centres[k, j]
                s += t * t
            if s < best:
                best = s
                arg = k
        out[i] = arg
    return out


def warmup() -> None:
    """Compile (or load from cache) every kernel before the first real frame."""
    img = np.zeros((12, 12, 3), np.float32)
    maps = pixel_maps(img, 0.5)
    cell_colour(maps, 2, 2, 4)
    sh = cell_shape(maps, 2, 2, 1, 2, 4, 2, 1.0)
    blob_peaks(maps, 2, 2, 1.0, 0.25)
    nearest(sh, sh[:2].copy())
