"""The speaker-side reference tap: what the device really played, and when.

The speaker's output callback calls ``tap(block, t_dac, rate)`` with the block it just
handed to the device and the time (injected clock) its first sample reaches the DAC. The
call only copies into preallocated rings (block samples, block times): no compute, no
allocation, one short lock. The capture side (``EchoCancelStage``, a worker thread) calls
``drain(canceller)`` before each mic frame: it resamples to the canceller's rate if the
device runs at another rate and hands the samples to ``EchoCanceller.push_reference`` with
their DAC times. Reference reaches the canceller long before it is needed: the callback
runs ``output latency`` ahead of the DAC, and the echo comes back to the mic later still.

If nobody drains for longer than the ring holds (``capacity_s``), the oldest blocks are
dropped (counted in ``dropped``); the canceller then sees zeros there.

``cut(t)`` (the speaker dropped its device queue at ``t``, see playback/speaker.py): the
blocks tapped before the cut are zeroed from ``t`` on, at the next drain, which first has
the canceller zero what it already holds from ``t`` on (``cut_reference``) — otherwise it
would subtract an echo of audio nobody played from the user's first words.
"""

from __future__ import annotations

import threading

import numpy as np

from livesense.capture.resample import StreamResampler
from livesense.clock import samples_before


class ReferenceTap:
    def __init__(self, capacity_s: float = 2.0, max_rate: int = 48000, max_blocks: int = 512) -> None:
        self._data = np.zeros(int(capacity_s * max_rate), np.float32)
        self._pos = np.zeros(max_blocks, np.int64)  # absolute sample index of each block
        self._len = np.zeros(max_blocks, np.int64)
        self._t = np.zeros(max_blocks)
        self._lock = threading.Lock()
        self.rate: int | None = None
        self._resampler: StreamResampler | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._written = 0  # blocks written (absolute)
            self._read = 0  # blocks drained (absolute)
            self._end = 0  # absolute sample index after the newest block
            self.dropped = 0
            self._cuts: list[tuple[float, int]] = []  # (t, blocks written before it)
        if self._resampler is not None:
            self._resampler.reset()

    # ---- output callback side: copies only ------------------------------------------
    def __call__(self, block: np.ndarray, t_dac: float, rate: int) -> None:
        n = block.shape[0]
        cap = self._data.shape[0]
        if n > cap:
            raise ValueError(f"a {n}-sample block exceeds the tap's {cap}-sample ring")
        with self._lock:
            self.rate = rate
            i = self._end % cap
            first = min(n, cap - i)
            self._data[i:i + first] = block[:first]
            self._data[:n - first] = block[first:]
            k = self._written % self._t.shape[0]
            self._pos[k], self._len[k], self._t[k] = self._end, n, t_dac
            self._end += n
            self._written += 1

    def cut(self, t: float) -> None:
        """Nothing tapped so far was played from DAC time ``t`` on (output thread)."""
        with self._lock:
            self._cuts.append((t, self._written))

    # ---- capture worker side --------------------------------------------------------
    def drain(self, canceller) -> int:
        """Push every block tapped since the last drain; returns blocks pushed."""
        with self._lock:
            cuts, self._cuts = self._cuts, []
        blocks = self._take()
        for t_cut, _ in cuts:
            canceller.cut_reference(t_cut)
        for b, x, t, rate in blocks:
            for t_cut, before in cuts:
                if b < before and t + x.shape[0] / rate > t_cut:
                    x[samples_before(t_cut, t, rate):] = 0.0
            self._push(canceller, x, t, rate)
        return len(blocks)

    def _take(self) -> list[tuple[int, np.ndarray, float, int]]:
        cap, K = self._data.shape[0], self._t.shape[0]
        with self._lock:
            oldest = max(self._read, self._written - K)
            out = []
            for b in range(oldest, self._written):
                k = b % K
                pos, n = int(self._pos[k]), int(self._len[k])
                if pos < self._end - cap:
                    continue  # overwritten before it was drained
                i = pos % cap
                first = min(n, cap - i)
                x = np.concatenate([self._data[i:i + first], self._data[:n - first]])
                out.append((b, x, float(self._t[k]), self.rate))
            self.dropped += (self._written - self._read) - len(out)
            self._read = self._written
        return out

    def _push(self, canceller, x: np.ndarray, t: float, rate: int) -> None:
        target = canceller.config.sample_rate
        if rate == target:
            canceller.push_reference(x, t)
            return
        if self._resampler is None or self._resampler.sr_in != rate:
            self._resampler = StreamResampler(rate, target)
        r = self._resampler
        n_in, n_out = r.samples_in, r.samples_out
        y = r.process(x)
        if y.size:  # output n sits at input time n * rate / target (zero-delay filter)
            canceller.push_reference(y, t + (n_out * rate / target - n_in) / rate)
