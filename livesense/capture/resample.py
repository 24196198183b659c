"""Sample-rate conversion: any rate -> the runtime rate, one-shot or streaming.

Both paths use the same linear-phase low-pass FIR (the filter scipy's ``resample_poly``
designs by default: Kaiser beta 5, half length 10 x max(up, down)) and the same alignment:
output sample ``n`` sits at input time ``n * sr_in / sr_out`` (zero delay, the filter is
centred). ``resample`` is ``scipy.signal.resample_poly`` with that filter;
``StreamResampler`` computes the very same samples block by block through a polyphase
gather, so ``concat(process(chunks)) + flush()`` equals ``resample(all)`` (parity test in
tests/test_resample.py).

The streaming resampler keeps only the last ``taps - 1`` input samples as history, in a
preallocated work buffer that grows only when a larger chunk than ever before arrives.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np


def ratio(sr_in: int, sr_out: int) -> tuple[int, int]:
    """(up, down) in lowest terms."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    g = gcd(int(sr_in), int(sr_out))
    return int(sr_out) // g, int(sr_in) // g


@lru_cache(maxsize=16)
def design_filter(up: int, down: int) -> np.ndarray:
    """The anti-aliasing/anti-imaging FIR (float64, gain 1 at DC before the x up).

    Same taps as ``scipy.signal.firwin(2*half+1, 1/max_rate, window=("kaiser", 5.0))``
    (to 1e-17), computed directly so the streaming path never imports scipy.signal.
    """
    max_rate = max(up, down)
    n = 2 * 10 * max_rate + 1
    m = np.arange(n) - (n - 1) / 2
    h = np.sinc(m / max_rate) / max_rate * np.kaiser(n, 5.0)
    h /= h.sum()
    h.setflags(write=False)
    return h


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """One-shot resampling of a mono signal; returns float32 of ceil(len * up / down)."""
    from scipy.signal import resample_poly

    x = np.asarray(x, dtype=np.float64)
    up, down = ratio(sr_in, sr_out)
    if up == down:
        return x.astype(np.float32)
    if x.size == 0:
        return np.zeros(0, np.float32)
    return resample_poly(x, up, down, window=design_filter(up, down)).astype(np.float32)


class StreamResampler:
    """Stateful resampler: feed chunks of any length, get every output sample exactly once.

    ``process(chunk)`` returns the output samples whose inputs are all known;
    ``flush()`` returns the tail (as if the signal continued with zeros) and resets.
    """

    def __init__(self, sr_in: int, sr_out: int) -> None:
        self.sr_in, self.sr_out = int(sr_in), int(sr_out)
        self.up, self.down = ratio(sr_in, sr_out)
        self.passthrough = self.up == self.down
        h = np.ones(1) if self.passthrough else design_filter(self.up, self.down) * self.up
        self._half = (h.size - 1) // 2
        self.taps = -(-h.size // self.up)
        padded = np.zeros(self.taps * self.up)
        padded[: h.size] = h
        # phases[p, i] = h[p + i*up]: the sub-filter used by outputs of phase p
        self._phases = padded.reshape(self.taps, self.up).T.copy()
        self._lags = np.arange(self.taps)
        self._buf = np.zeros(self.taps - 1 + 4096, np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget all history (start of a new, unrelated signal)."""
        self._buf[:] = 0.0
        self._hist = self.taps - 1  # valid samples at the start of _buf
        self._n_in = 0  # input samples consumed so far
        self._n_out = 0  # output samples produced so far

    @property
    def samples_in(self) -> int:
        return self._n_in

    @property
    def samples_out(self) -> int:
        return self._n_out

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Consume ``chunk`` (mono); return the float32 outputs now computable."""
        chunk = np.asarray(chunk).reshape(-1)
        if self.passthrough:
            self._n_in += chunk.size
            self._n_out += chunk.size
            return chunk.astype(np.float32)
        self._append(chunk)
        n_end = self._outputs_ready(self._n_in)
        return self._compute(n_end)

    def flush(self) -> np.ndarray:
        """Outputs still owed for the input so far (zero-padded tail); then reset."""
        if self.passthrough:
            self.reset()
            return np.zeros(0, np.float32)
        n_total = -(-self._n_in * self.up // self.down)
        last_q = ((n_total - 1) * self.down + self._half) // self.up
        pad = max(0, last_q - self._n_in + 1)
        self._append(np.zeros(pad))
        out = self._compute(n_total) if n_total > self._n_out else np.zeros(0, np.float32)
        self.reset()
        return out

    def _outputs_ready(self, n_in: int) -> int:
        """Number of outputs whose newest input index q = (n*down + half)//up is < n_in."""
        # q(n) < n_in  <=>  n*down + half < n_in*up  <=>  n < (n_in*up - half)/down
        return max(0, -(-(n_in * self.up - self._half) // self.down))

    def _append(self, chunk: np.ndarray) -> None:
        need = self._hist + chunk.size
        if need > self._buf.size:
            grown = np.zeros(max(need, 2 * self._buf.size))
            grown[: self._hist] = self._buf[: self._hist]
            self._buf = grown
        self._buf[self._hist : need] = chunk
        self._hist = need
        self._n_in += chunk.size

    def _compute(self, n_end: int) -> np.ndarray:
        n = np.arange(self._n_out, n_end)
        j = n * self.down + self._half
        q, p = j // self.up, j % self.up
        buf_start = self._n_in - self._hist  # absolute index of _buf[0]
        idx = (q - buf_start)[:, None] - self._lags[None, :]
        out = np.einsum("ij,ij->i", self._buf[idx], self._phases[p]).astype(np.float32)
        self._n_out = n_end
        self._keep_history()
        return out

    def _keep_history(self) -> None:
        keep = self.taps - 1
        self._buf[:keep] = self._buf[self._hist - keep : self._hist]
        self._hist = keep
