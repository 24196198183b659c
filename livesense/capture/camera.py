"""Camera or video-file frames through OpenCV, decimated to a target fps.

``CameraSource(spec)``: ``spec`` is an OpenCV camera index (int, or a string of digits) or a
video file path. Frames come out as RGB uint8 ``VideoFrame``s, at most ``fps`` per second;
the rest are dropped (for files, skipped with ``grab()`` so they are not even decoded).

Timing: a live camera's frame is stamped with the clock when it was read. A file's frame
``i`` sits at ``t0 + i / file_fps`` on the clock's axis; with ``realtime=True`` it is
released no earlier than that moment, with ``realtime=False`` as fast as possible (same
stamps). A file source ends with one ``EndOfStream``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import numpy as np

from livesense.clock import Clock, MonotonicClock
from livesense.errors import VideoError
from livesense.frames import EndOfStream, VideoFrame

log = logging.getLogger(__name__)

DEFAULT_FILE_FPS = 30.0  # used when a file does not say its frame rate
PROBE_INDICES = 4  # camera indices tried when explaining that none opens


def import_cv2():
    try:
        import cv2
    except ImportError as e:
        raise VideoError(f"OpenCV is not installed ({e}): pip install "
                         "'opencv-python-headless>=4.8,<5'") from e
    return cv2


@contextlib.contextmanager
def _quiet_opencv():
    """OpenCV prints a WARN line per camera index it fails to open; silence it here."""
    cv2 = import_cv2()
    try:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        level = None
    try:
        yield cv2
    finally:
        if level is not None:
            cv2.utils.logging.setLogLevel(level)


def open_capture(spec: int | str):
    """cv2.VideoCapture for an index or a path (may be unopened; caller checks)."""
    with _quiet_opencv() as cv2:
        return cv2.VideoCapture(spec)


def parse_spec(spec: int | str) -> int | str:
    if isinstance(spec, str) and spec.strip().isdigit():
        return int(spec)
    if isinstance(spec, (int, str)):
        return spec
    return os.fspath(spec)


class CameraSource:
    """Iterate VideoFrames (RGB uint8) from a camera index or a video file."""

    def __init__(self, spec: int | str | os.PathLike, fps: float = 5.0, realtime: bool = True,
                 clock: Clock | None = None, size: tuple[int, int] | None = None) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.spec = parse_spec(spec)
        self.fps, self.realtime, self.size = float(fps), realtime, size
        self.clock = clock or MonotonicClock()
        self.is_file = isinstance(self.spec, str)
        self._cap = self._open()
        self.source_fps = self._source_fps()
        self.frames_read = self.frames_out = 0

    def _open(self):
        if self.is_file:
            return _open_file(self.spec)
        return _open_camera(self.spec)

    def _source_fps(self) -> float:
        cv2 = import_cv2()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        return float(fps) if fps and 0 < fps < 1000 else DEFAULT_FILE_FPS

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "CameraSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[VideoFrame | EndOfStream]:
        if self._cap is None:
            raise VideoError(f"{self.spec}: source is closed")
        if self.is_file:
            yield from self._file_frames()
        else:
            yield from self._camera_frames()

    def _file_frames(self) -> Iterator[VideoFrame | EndOfStream]:
        t0 = self.clock.now()
        i, next_keep = 0, 0.0
        while True:
            t_rel = i / self.source_fps
            if t_rel + 1e-9 < next_keep:  # dropped: skip without decoding
                if not self._cap.grab():
                    break
                i += 1
                continue
            ok, bgr = self._cap.read()
            if not ok:
                break
            next_keep += 1.0 / self.fps
            self._pace(t0 + t_rel)
            yield self._frame(bgr, t0 + t_rel)
            i += 1
        self.frames_read = i
        yield EndOfStream(t_capture=t0 + i / self.source_fps)

    def _pace(self, t_due: float) -> None:
        if self.realtime:
            delay = t_due - self.clock.now()
            if delay > 0:
                self.clock.sleep(delay)

    def _camera_frames(self) -> Iterator[VideoFrame]:
        period, next_keep = 1.0 / self.fps, None
        while True:
            ok, bgr = self._cap.read()
            t = self.clock.now()
            if not ok:
                raise VideoError(f"camera {self.spec}: stopped delivering frames")
            self.frames_read += 1
            if next_keep is not None and t < next_keep:
                continue  # dropped: above the target fps
            next_keep = t + period if next_keep is None else next_keep + period
            if next_keep < t:  # fell behind (stall): restart the grid, no burst
                next_keep = t + period
            yield self._frame(bgr, t)

    def _frame(self, bgr: np.ndarray, t: float) -> VideoFrame:
        cv2 = import_cv2()
        if self.size is not None:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        self.frames_out += 1
        return VideoFrame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t_capture=t)


def _open_file(path: str):
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such video file")
    cap = open_capture(path)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path}: OpenCV could not open it as a video "
                         "(unknown format or corrupt file)")
    return cap


def _open_camera(index: int):
    cap = open_capture(index)
    if cap.isOpened():
        return cap
    cap.release()
    probed = list(range(max(PROBE_INDICES, index + 1)))
    from livesense.capture.devices import list_cameras

    found = list_cameras(len(probed))
    nodes = sorted(n for n in os.listdir("/dev") if n.startswith("video")) \
        if os.path.isdir("/dev") else []
    where = f"/dev has {', '.join(nodes)}" if nodes else "no /dev/video* nodes exist"
    if found:
        raise VideoError(f"camera {index} could not be opened; cameras that open: {found} "
                         f"(probed indices {probed})")
    raise VideoError(f"camera {index} could not be opened: no camera found (probed OpenCV "
                     f"indices {probed}; {where}). Use a video file path instead.")
