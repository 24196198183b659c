"""Cut a stream of arbitrarily sized audio chunks into fixed-size frames.

The buffer is preallocated (one frame long); no per-chunk concatenation. Each output
frame is stamped with the capture time of its first sample, derived from the chunk it
started in, so timing survives any chunking upstream.
"""

from __future__ import annotations

import numpy as np

from livesense.frames import AudioFrame


class Reframer:
    def __init__(self, frame_size: int, sample_rate: int) -> None:
        self.frame_size = frame_size
        self.sample_rate = sample_rate
        self._buf = np.zeros(frame_size, dtype=np.float32)
        self._fill = 0
        self._t_first = 0.0

    def reset(self) -> None:
        self._fill = 0

    def push(self, frame: AudioFrame) -> list[AudioFrame]:
        if frame.sample_rate != self.sample_rate:
            raise ValueError(
                f"audio at {frame.sample_rate} Hz reached a {self.sample_rate} Hz stage; "
                "the source must resample (livesense.capture.resample)"
            )
        out = []
        x, pos = frame.samples, 0
        while pos < len(x):
            if self._fill == 0:
                self._t_first = frame.t_capture + pos / self.sample_rate
            take = min(self.frame_size - self._fill, len(x) - pos)
            self._buf[self._fill : self._fill + take] = x[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self.frame_size:
                out.append(AudioFrame(self._buf.copy(), self.sample_rate, self._t_first))
                self._fill = 0
        return out
