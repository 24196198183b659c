"""Microphone capture: PortAudio InputStream -> ring buffer -> 20 ms AudioFrames at 16 kHz.

The PortAudio callback does three things, all copies: it stamps the block (clock time of its
first sample, into a preallocated table), copies the samples into the ring buffer, and
counts status flags. Everything else — resampling when the device runs at another rate,
cutting frames — happens in the reader (``frames()`` / ``read_frame()``), on the caller's
thread.

Capture time of a frame = time of its first sample at the ADC, on the injected clock. In the
callback a block's first sample is put at ``clock.now() - block duration - input latency``
(PortAudio's ALSA path reports stale ``inputBufferAdcTime`` values, measured 0.65 s off, so
it is not used); a min-filter over blocks (``_SampleClock``) removes the lateness of
bursty callbacks, and frames are stamped sample-exactly from that line.

A device that disappears mid-stream (PortAudio finishes the stream, or no audio arrives
for ``read_timeout_s``) raises DeviceError from the reader and stops the stream; reads
never block longer than the timeout.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator

import numpy as np

from livesense.capture.devices import close_stream, import_sounddevice, resolve_device
from livesense.capture.framing import Framer
from livesense.capture.resample import StreamResampler
from livesense.capture.ring import RingBuffer
from livesense.clock import Clock, MonotonicClock
from livesense.config import AudioConfig
from livesense.errors import DeviceError
from livesense.frames import AudioFrame

log = logging.getLogger(__name__)


class _SampleClock:
    """Maps a ring sample index to its capture time on the injected clock.

    A callback can run late (scheduling, or PulseAudio delivering a backlog in a burst),
    never early, so each block gives an upper bound ``t_first - index / rate`` on the
    offset; the estimate is the smallest seen, allowed to creep up by ``DRIFT`` (s/s) so a
    device clock slower than the monotonic clock is followed. ``reset()`` after samples
    were lost (the index no longer counts real time).
    """

    DRIFT = 2e-4

    def __init__(self, rate: int) -> None:
        self.rate = float(rate)
        self.reset()

    def reset(self) -> None:
        self.offset: float | None = None
        self._t_last = 0.0

    def update(self, index: int, t_first: float) -> None:
        v = t_first - index / self.rate
        if self.offset is None or v <= self.offset:
            self.offset = v
        else:
            self.offset = min(v, self.offset + (t_first - self._t_last) * self.DRIFT)
        self._t_last = t_first

    def time_of(self, index: float) -> float:
        return (self.offset or 0.0) + index / self.rate


class MicSource:
    """Live microphone frames: ``AudioFrame(frame_size samples @ config.sample_rate)``.

    ``device``: sounddevice index/name (default: ``config.input_device``, then the system
    default). ``device_rate``: force the stream's rate (default: the runtime rate when the
    device accepts it, else the device's default rate, resampled). ``blocksize``: samples
    per callback at the device rate (default one frame's duration).
    """

    def __init__(self, config: AudioConfig | None = None, clock: Clock | None = None,
                 device: str | int | None = None, device_rate: int | None = None,
                 blocksize: int | None = None, read_timeout_s: float = 1.0,
                 start_timeout_s: float = 5.0) -> None:
        self.config = config or AudioConfig()
        self.clock = clock or MonotonicClock()
        self.device_spec = device if device is not None else self.config.input_device
        self.device_rate = device_rate
        self.blocksize = blocksize
        self.read_timeout_s, self.start_timeout_s = read_timeout_s, start_timeout_s
        self._stream = None
        self._lost = threading.Event()
        self.input_overflows = 0  # PortAudio said samples were lost before reaching us
        self.callbacks = 0

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> "MicSource":
        if self._stream is not None:
            return self
        sd = import_sounddevice()
        index = resolve_device(self.device_spec, "input")
        rate = self.device_rate or self._pick_rate(sd, index)
        self._setup(rate)
        self._stream = self._open(sd, index, rate)
        self._latency = float(self._stream.latency)
        self._stream.start()
        log.info("mic: device %s at %d Hz, block %d", index, rate, self.blocksize)
        return self

    def _pick_rate(self, sd, index: int | None) -> int:
        try:
            sd.check_input_settings(device=index, channels=1, dtype="float32",
                                    samplerate=self.config.sample_rate)
            return self.config.sample_rate
        except Exception:  # PortAudioError / ValueError: rate not supported
            return int(sd.query_devices(index, "input")["default_samplerate"])

    def _setup(self, rate: int) -> None:
        cfg = self.config
        self.device_rate = rate
        self.blocksize = self.blocksize or rate * cfg.frame_ms // 1000
        capacity = max(round(cfg.ring_seconds * rate), 4 * self.blocksize)
        self.ring = RingBuffer(capacity)
        self._clock_map = _SampleClock(rate)
        self._dropped_seen = 0
        self._resampler = StreamResampler(rate, cfg.sample_rate)
        self._framer = Framer(cfg.frame_size)
        self._block = np.zeros(self.blocksize, np.float32)
        self._pending: deque[AudioFrame] = deque()
        self._lost.clear()
        self._got_data = False
        self._user_stopped = False

    def _open(self, sd, index: int | None, rate: int):
        try:
            return sd.InputStream(device=index, samplerate=rate, blocksize=self.blocksize,
                                  channels=1, dtype="float32", callback=self._callback,
                                  finished_callback=self._finished)
        except Exception as e:
            raise DeviceError(f"cannot open input device {index if index is not None else 'default'}"
                              f" at {rate} Hz: {e}") from e

    def stop(self) -> None:
        """Stop and close the stream (idempotent, never raises for a dead device)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._user_stopped = not self._lost.is_set()
        self.ring.close()
        close_stream(stream, "mic")

    close = stop

    def __enter__(self) -> "MicSource":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- callback thread: copies only --------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        self.callbacks += 1
        if status.input_overflow:
            self.input_overflows += 1
            self._clock_map.reset()  # samples lost upstream: re-anchor
        if self.ring.dropped != self._dropped_seen:
            self._dropped_seen = self.ring.dropped
            self._clock_map.reset()  # samples refused by the ring: re-anchor
        t_first = self.clock.now() - frames / self.device_rate - self._latency
        self._clock_map.update(self.ring.total_written, t_first)
        self.ring.write(indata[:, 0])

    def _finished(self) -> None:
        self._lost.set()
        self.ring.close()

    # ---- reader --------------------------------------------------------------------
    def __iter__(self) -> Iterator[AudioFrame]:
        return self.frames()

    def frames(self) -> Iterator[AudioFrame]:
        """Frames forever (until stop(), or DeviceError)."""
        if self._stream is None:
            self.start()
        while True:
            try:
                yield self.read_frame()
            except DeviceError:
                if self._user_stopped:
                    return  # stop() from another thread ends the iteration quietly
                raise

    def read_frame(self) -> AudioFrame:
        """The next frame; raises DeviceError if the device stalls or disappears."""
        while not self._pending:
            self._read_block()
        return self._pending.popleft()

    def _read_block(self) -> None:
        if self._stream is None:
            raise DeviceError("microphone is stopped")
        timeout = self.read_timeout_s if self._got_data else self.start_timeout_s
        if not self.ring.read_into(self._block, timeout):
            self._fail(timeout)
        self._got_data = True
        start_out = self._resampler.samples_out - len(self._framer)
        for i, samples in enumerate(self._framer.push(self._resampler.process(self._block))):
            self._pending.append(self._stamp(samples, start_out + i * self.config.frame_size))

    def _stamp(self, samples: np.ndarray, out_index: int) -> AudioFrame:
        ring_index = out_index * self.device_rate / self.config.sample_rate
        t = self._clock_map.time_of(ring_index)
        return AudioFrame(samples, self.config.sample_rate, t)

    def _fail(self, timeout: float) -> None:
        stream = self._stream
        if stream is None:
            raise DeviceError("microphone is stopped")
        name = self.device_spec if self.device_spec is not None else "default"
        lost = self._lost.is_set() or not stream.active
        self._lost.set()  # a failure, not a user stop: frames() must raise
        self.stop()
        if lost:
            raise DeviceError(f"input device {name!r} was lost: the audio stream stopped")
        raise DeviceError(f"input device {name!r} delivered no audio for {timeout:.1f} s; "
                          "stream stopped")

    # ---- inspection ----------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        ring = getattr(self, "ring", None)
        return {"callbacks": self.callbacks, "input_overflows": self.input_overflows,
                "ring_overruns": ring.overruns if ring else 0,
                "ring_dropped": ring.dropped if ring else 0}
