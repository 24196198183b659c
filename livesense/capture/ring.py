"""A preallocated, lock-protected float32 ring buffer between an audio callback and a worker.

The writer (PortAudio's callback thread) only copies into preallocated memory and never
blocks for long: the lock is held for two slice copies. When the ring is full the samples
that do not fit are refused and counted (``overruns`` events, ``dropped`` samples) —
never lost silently. The reader blocks with a timeout, so a stalled device cannot hang it.
"""

from __future__ import annotations

import threading

import numpy as np


def put_wrapped(buf: np.ndarray, start: int, src: np.ndarray) -> None:
    """Copy ``src`` into ring storage ``buf`` from index ``start`` (mod its length), wrapping
    once. Two slice copies, no allocation. ``src`` must not be longer than ``buf``."""
    i, n = start % buf.shape[0], src.shape[0]
    first = min(n, buf.shape[0] - i)
    buf[i : i + first] = src[:first]
    buf[: n - first] = src[first:]


def get_wrapped(buf: np.ndarray, start: int, out: np.ndarray) -> None:
    """Fill ``out`` from ring storage ``buf`` beginning at index ``start`` (mod its length)."""
    i, n = start % buf.shape[0], out.shape[0]
    first = min(n, buf.shape[0] - i)
    out[:first] = buf[i : i + first]
    out[first:] = buf[: n - first]


class RingBuffer:
    """Single-producer, single-consumer float32 FIFO of fixed capacity."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, np.float32)
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._head = 0  # next read position
        self._size = 0
        self.total_written = self.total_read = 0  # samples accepted / consumed, ever
        self.overruns = self.dropped = 0  # refused writes (events) and refused samples

    def clear(self) -> int:
        """Drop everything buffered (counted as read); return how many samples."""
        with self._cond:
            n = self._size
            self._head = (self._head + n) % self.capacity
            self._size = 0
            self.total_read += n
            return n

    def __len__(self) -> int:
        return self._size

    @property
    def free(self) -> int:
        return self.capacity - self._size

    def write(self, block: np.ndarray) -> int:
        """Copy ``block`` in (callback-safe: no allocation); return samples accepted."""
        with self._cond:
            n = min(block.shape[0], self.capacity - self._size)
            if n < block.shape[0]:
                self.overruns += 1
                self.dropped += block.shape[0] - n
            if n > 0:
                self._copy_in(block, n)
                self._size += n
                self.total_written += n
                self._cond.notify()
            return n

    def _copy_in(self, block: np.ndarray, n: int) -> None:
        put_wrapped(self._data, self._head + self._size, block[:n])

    def read_into(self, out: np.ndarray, timeout: float | None = None) -> bool:
        """Fill ``out`` completely; False (nothing consumed) if not possible within timeout
        or the ring was closed."""
        n = out.shape[0]
        if n > self.capacity:
            raise ValueError(f"cannot read {n} samples from a ring of {self.capacity}")
        with self._cond:
            if not self._cond.wait_for(lambda: self._size >= n or self._closed, timeout):
                return False
            if self._size < n:
                return False
            self._copy_out(out, n)
            return True

    def read(self, n: int, timeout: float | None = None) -> np.ndarray | None:
        """Return a new array of ``n`` samples, or None on timeout/close."""
        out = np.empty(n, np.float32)
        return out if self.read_into(out, timeout) else None

    def read_available(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` samples without waiting; return how many."""
        with self._cond:
            n = min(out.shape[0], self._size)
            self._copy_out(out, n)
            return n

    def _copy_out(self, out: np.ndarray, n: int) -> None:
        get_wrapped(self._data, self._head, out[:n])
        self._head = (self._head + n) % self.capacity
        self._size -= n
        self.total_read += n

    def close(self) -> None:
        """Wake every waiting reader (they return False); writes still work."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
