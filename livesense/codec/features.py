"""Per-frame feature vectors: pack/unpack hops and the normalisation applied before RVQ.

Layout of one frame vector (``contract.dim`` floats)::

    [log-mel hop0 | hop1 | ... | hop{n_sub-1} | log2-f0 × n_sub | voicing × n_sub]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livesense.codec.contract import FrameContract

MIN_MAGNITUDE = 1e-6  # floor of a decoded compressed magnitude before its log


def pack(logmel: np.ndarray, lf0: np.ndarray, voicing: np.ndarray, c: FrameContract) -> np.ndarray:
    """Hop features (n_hops, ...) -> frame vectors (n_hops // n_sub, dim) float32."""
    n = logmel.shape[0] // c.n_sub
    parts = [logmel.reshape(n, c.n_sub * c.n_mel), lf0.reshape(n, c.n_sub),
             voicing.reshape(n, c.n_sub)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def unpack(vec: np.ndarray, c: FrameContract):
    """Frame vectors -> (logmel (n_hops, n_mel), lf0 (n_hops,), voicing (n_hops,))."""
    n, m = vec.shape[0], c.n_sub * c.n_mel
    logmel = vec[:, :m].reshape(n * c.n_sub, c.n_mel)
    lf0 = vec[:, m: m + c.n_sub].reshape(-1).astype(np.float64)
    voicing = vec[:, m + c.n_sub:].reshape(-1).astype(np.float64)
    return logmel, lf0, voicing


@dataclass(frozen=True)
class Normalizer:
    """z = ((compress(v) - mean) @ basis) / std * weight: the space where RVQ measures distance.

    ``compress`` maps the first ``n_env`` dims (log band powers ``L``) to compressed
    magnitudes ``exp(gamma * L / 2)`` when ``gamma > 0`` (0 keeps the log domain). A
    compressed magnitude spends the codebooks' precision on the louder parts of each band,
    which is where intelligibility lives: on held-out voices it beat the log domain by
    ~0.02-0.03 quantized STOI at the same bitrate (see models/lsc1/README.md).
    """

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    basis: np.ndarray
    gamma: float = 0.0
    n_env: int = 0

    def compress(self, v: np.ndarray) -> np.ndarray:
        if self.gamma <= 0.0:
            return v
        out = np.array(v, np.float32, copy=True)
        out[..., : self.n_env] = np.exp(0.5 * self.gamma * out[..., : self.n_env])
        return out

    def expand(self, g: np.ndarray) -> np.ndarray:
        if self.gamma <= 0.0:
            return g
        out = np.array(g, np.float32, copy=True)
        env = np.maximum(out[..., : self.n_env], MIN_MAGNITUDE)
        out[..., : self.n_env] = 2.0 * np.log(env) / self.gamma
        return out

    def forward(self, v: np.ndarray) -> np.ndarray:
        return (((self.compress(v) - self.mean) @ self.basis) / self.std * self.weight).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return self.expand((z / self.weight * self.std) @ self.basis.T + self.mean).astype(np.float32)


def warp(vec: np.ndarray, semitones: float, c: FrameContract) -> np.ndarray:
    """The same speech as a voice ``semitones`` higher (lower if negative), in the feature
    domain: every log2-f0 moves by ``semitones / 12`` and the spectral envelope stretches
    along frequency by the same ratio ``r`` (E'(f) = E(f / r): formants move with the
    pitch, as a shorter or longer vocal tract would move them; band values are linearly
    interpolated between band centres and held at the edges). What vocal tract length
    normalisation does for a recogniser, without resynthesis; 0 returns ``vec`` itself."""
    if not semitones:
        return vec
    r = 2.0 ** (semitones / 12.0)
    lo, frac = _warp_index(c, r)
    m = c.n_sub * c.n_mel
    env = vec[:, :m].reshape(-1, c.n_mel)
    out = np.array(vec, np.float32, copy=True)
    out[:, :m] = (env[:, lo] * (1.0 - frac) + env[:, lo + 1] * frac).reshape(len(vec), m)
    out[:, m: m + c.n_sub] = np.clip(out[:, m: m + c.n_sub] + semitones / 12.0,
                                     np.log2(c.f0_min), np.log2(c.f0_max))
    return out


def shift_hops(vec: np.ndarray, hops: int, c: FrameContract) -> np.ndarray:
    """The same features on a code grid started ``hops`` analysis hops (10 ms each) later:
    the first ``hops`` hops are dropped and the rest regrouped into whole frames (the last
    ``n_sub - hops`` hops, which no longer fill a frame, too). The hop analysis does not
    depend on the grid, so this equals encoding the audio from ``hops * hop`` samples on."""
    if not hops:
        return vec
    if not 0 < hops < c.n_sub:
        raise ValueError(f"a grid shift is 0..{c.n_sub - 1} hops, got {hops}")
    logmel, lf0, voicing = unpack(vec, c)
    n = (len(lf0) - hops) // c.n_sub * c.n_sub
    return pack(logmel[hops: hops + n], lf0[hops: hops + n], voicing[hops: hops + n], c)


def view(vec: np.ndarray, semitones: float, hops: int, c: FrameContract) -> np.ndarray:
    """``vec`` heard on a shifted code grid (:func:`shift_hops`) and in a warped voice (:func:`warp`)."""
    return warp(shift_hops(vec, hops, c), semitones, c)


def _warp_index(c: FrameContract, r: float):
    """(left band index, fraction) at which each band reads the envelope for ratio ``r``."""
    from livesense.codec.dsp import tables

    centre = tables(c)["centre_hz"]
    pos = np.interp(centre / r, centre, np.arange(c.n_mel, dtype=np.float64))
    lo = np.minimum(np.floor(pos).astype(np.int64), c.n_mel - 2)
    return lo, (pos - lo).astype(np.float32)
