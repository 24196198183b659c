"""Bounded channels between pipeline stages.

System frames (control: Interrupt, TurnStart, ...) overtake data frames: they sit in
their own lane and ``get`` always serves that lane first. Data frames obey a per-kind
overflow policy: video keeps only the newest frames (drop-oldest, counted); audio and
everything else blocks the producer (back-pressure) and, if the consumer is stuck past
``timeout``, raises ``ChannelFull`` rather than losing samples without a word.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from livesense.frames import Frame, VideoFrame


class ChannelFull(RuntimeError):
    """A producer could not deliver a frame that must not be dropped."""


class ChannelClosed(RuntimeError):
    """The channel was closed while a producer or consumer waited on it."""


@dataclass
class ChannelStats:
    put: int = 0
    dropped_video: int = 0
    max_depth: int = 0


class Channel:
    def __init__(self, capacity: int, video_capacity: int = 2, name: str = "") -> None:
        if capacity < 1 or video_capacity < 1:
            raise ValueError("channel capacities must be >= 1")
        self.name = name
        self._capacity = capacity
        self._video_capacity = video_capacity
        self._system: collections.deque = collections.deque()
        self._data: collections.deque = collections.deque()
        self._video = 0
        self._closed = False
        self._cond = threading.Condition()
        self.stats = ChannelStats()

    def put(self, frame: Frame, timeout: float = 5.0) -> None:
        with self._cond:
            self._check_open()
            self.stats.put += 1
            if frame.system:
                self._system.append(frame)
            elif isinstance(frame, VideoFrame):
                self._put_video(frame)
            else:
                self._put_blocking(frame, timeout)
            self.stats.max_depth = max(self.stats.max_depth, len(self._data) + len(self._system))
            self._cond.notify_all()

    def _put_video(self, frame: VideoFrame) -> None:
        if self._video >= self._video_capacity:
            self._drop_oldest_video()
        self._data.append(frame)
        self._video += 1

    def _drop_oldest_video(self) -> None:
        for i, queued in enumerate(self._data):
            if isinstance(queued, VideoFrame):
                del self._data[i]
                self._video -= 1
                self.stats.dropped_video += 1
                return

    def _put_blocking(self, frame: Frame, timeout: float) -> None:
        ok = self._cond.wait_for(lambda: self._closed or len(self._data) - self._video < self._capacity, timeout)
        self._check_open()
        if not ok:
            raise ChannelFull(
                f"channel {self.name!r}: consumer stalled for {timeout:.1f} s with "
                f"{self._capacity} frames queued; refusing to drop {type(frame).__name__}"
            )
        self._data.append(frame)

    def get(self, timeout: float | None = None) -> Frame | None:
        """Next frame (system lane first), or None on timeout. Raises when closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._system or self._data or self._closed, timeout):
                return None
            return self._pop()

    def get_nowait(self) -> Frame | None:
        with self._cond:
            if not (self._system or self._data or self._closed):
                return None
            return self._pop()

    def _pop(self) -> Frame:
        if self._system:
            frame = self._system.popleft()
        elif self._data:
            frame = self._data.popleft()
            if isinstance(frame, VideoFrame):
                self._video -= 1
        else:
            raise ChannelClosed(f"channel {self.name!r} is closed")
        self._cond.notify_all()
        return frame

    def drop_data(self, predicate) -> int:
        """Remove queued data frames matching ``predicate`` (used to flush stale reply audio)."""
        with self._cond:
            keep = [f for f in self._data if not predicate(f)]
            dropped = len(self._data) - len(keep)
            self._data = collections.deque(keep)
            self._video = sum(isinstance(f, VideoFrame) for f in keep)
            self._cond.notify_all()
            return dropped

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._system) + len(self._data)

    def _check_open(self) -> None:
        if self._closed:
            raise ChannelClosed(f"channel {self.name!r} is closed")
