"""Per-frame feature vectors: pack/unpack hops and the normalisation applied before RVQ.

Layout of one frame vector (``contract.dim`` floats)::

    [log-mel hop0 | hop1 | ... | hop{n_sub-1} | log2-f0 × n_sub | voicing × n_sub]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livesense.codec.contract import FrameContract


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


def temporal_dct(c: FrameContract) -> np.ndarray:
    """Orthonormal (dim, dim) basis: a DCT over the sub-frames of each feature track.

    Column block t holds the t-th temporal DCT coefficient of every track, so RVQ can
    weight slow (t=0) and fast (t>0) envelope changes differently.
    """
    n, tracks = c.n_sub, c.n_mel + 2
    k = np.arange(n)
    dct = np.sqrt(2.0 / n) * np.cos(np.pi * (k[:, None] + 0.5) * k[None, :] / n)
    dct[:, 0] /= np.sqrt(2.0)
    basis = np.zeros((c.dim, c.dim))
    m = n * c.n_mel
    for tr in range(tracks):
        rows = (np.arange(n) * c.n_mel + tr) if tr < c.n_mel else (m + (tr - c.n_mel) * n + np.arange(n))
        for t in range(n):
            basis[rows, t * tracks + tr] = dct[:, t]
    return basis.astype(np.float32)


@dataclass(frozen=True)
class Normalizer:
    """z = ((v - mean) @ basis) / std * weight: the space where RVQ measures distance."""

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    basis: np.ndarray

    def forward(self, v: np.ndarray) -> np.ndarray:
        return (((v - self.mean) @ self.basis) / self.std * self.weight).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return ((z / self.weight * self.std) @ self.basis.T + self.mean).astype(np.float32)
