"""The adaptive filter's state, held in arrays the numba kernel updates in place.

``AdaptiveFilter`` owns the weights, the reference spectrum history and the step-size
statistics of :func:`livesense.aec.kernels.mdf_blocks`; it models the room's echo path over
``partitions * block`` samples of reference. Inputs are float64 in int16 scale.
"""

from __future__ import annotations

import numpy as np

from livesense.aec import kernels as K


class AdaptiveFilter:
    def __init__(self, block: int, partitions: int, sample_rate: int, min_leak: float = 0.005,
                 adapt_max: float = 0.25) -> None:
        if partitions < 1:
            raise ValueError(f"the filter needs at least one partition, got {partitions}")
        self.block, self.partitions = block, partitions
        n = 2 * block
        self.tables = K.fft_tables(n)
        self.par = np.array([min_leak, adapt_max, block / sample_rate, 2.0 * block / sample_rate,
                             0.5 * block / sample_rate, 0.35 / partitions])
        bins = block + 1
        self.W = np.zeros((partitions, bins), np.complex128)
        self.Xh = np.zeros((partitions, bins), np.complex128)
        self.xbuf = np.zeros(n)
        self.power = np.zeros(bins)
        self.Eh = np.zeros(bins)
        self.Yh = np.zeros(bins)
        self.prop = np.zeros(partitions)
        self.sc = np.zeros(K.N_SCALARS)
        self.reset()

    def reset(self) -> None:
        for a in (self.W, self.Xh, self.xbuf, self.power, self.Eh, self.Yh, self.prop, self.sc):
            a[...] = 0
        self.sc[K.S_PYY] = 1.0

    def state(self) -> tuple[np.ndarray, ...]:
        return (self.W, self.Xh, self.xbuf, self.power, self.Eh, self.Yh, self.prop, self.sc)

    def process(self, x: np.ndarray, d: np.ndarray, e: np.ndarray, y: np.ndarray) -> None:
        """x: reference, d: mic (same length, a multiple of ``block``) -> e (error), y (echo)."""
        K.mdf_blocks(x, d, e, y, *self.state(), self.par, *self.tables)

    def shift(self, s: int) -> None:
        """The reference moves ``s`` blocks later: tap t becomes tap t - s*B (drop what
        falls off, zero what enters)."""
        P = self.partitions
        if s >= P or -s >= P:
            self.W[:] = 0.0
        elif s > 0:
            self.W[:P - s] = self.W[s:].copy()
            self.W[P - s:] = 0.0
        elif s < 0:
            self.W[-s:] = self.W[:P + s].copy()
            self.W[:-s] = 0.0

    def peak_partition(self) -> int | None:
        """Partition holding most of the modelled echo path (None before any learning)."""
        energy = np.sum(self.W.real ** 2 + self.W.imag ** 2, axis=1)
        return int(np.argmax(energy)) if energy.max() > 0 else None

    def load_history(self, x: np.ndarray) -> None:
        """Rebuild the reference history from ``x``, the last ``(P+1)*B`` reference samples
        (int16 scale) at a new alignment, so the filter output has no transient."""
        B, P = self.block, self.partitions
        if x.shape[0] != (P + 1) * B:
            raise ValueError(f"history needs {(P + 1) * B} samples, got {x.shape[0]}")
        buf = np.empty(2 * B, np.complex128)
        head, end = int(self.sc[K.S_HEAD]), x.shape[0]
        for j in range(P):
            K.rfft_into(x[end - (j + 2) * B:end - j * B], self.Xh[(head - j) % P], buf, *self.tables)
        self.xbuf[:] = x[-2 * B:]

    def freeze(self, blocks: int) -> None:
        """Hold adaptation for ``blocks`` blocks (the reference history is discontinuous)."""
        self.sc[K.S_FREEZE] = max(self.sc[K.S_FREEZE], blocks)

    @property
    def leak(self) -> float:
        return float(self.sc[K.S_LEAK])

    @property
    def adapted(self) -> bool:
        return bool(self.sc[K.S_ADAPTED])

    @property
    def resets(self) -> int:
        return int(self.sc[K.S_RESETS])
