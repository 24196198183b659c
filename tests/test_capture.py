"""Capture without a sound server: ring buffer, framing, file/synthetic/camera sources."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from livesense.capture import devices
from livesense.capture.camera import CameraSource
from livesense.capture.files import SyntheticSource, WavSource
from livesense.capture.framing import Framer
from livesense.capture.mic import _SampleClock
from livesense.capture.ring import RingBuffer
from livesense.clock import FakeClock, MonotonicClock
from livesense.config import AudioConfig
from livesense.errors import AudioFileError, DeviceError, LiveSenseError, VideoError
from livesense.frames import AudioFrame, EndOfStream, VideoFrame


# ---- ring buffer -----------------------------------------------------------------------
def test_ring_fifo_order_across_wraparound():
    ring = RingBuffer(10)
    out = np.empty(4, np.float32)
    seq = np.arange(100, dtype=np.float32)
    got = []
    for i in range(0, 96, 4):
        assert ring.write(seq[i : i + 4]) == 4
        assert ring.read_into(out, timeout=0)
        got.append(out.copy())
    np.testing.assert_array_equal(np.concatenate(got), seq[:96])
    assert ring.overruns == 0 and ring.total_written == ring.total_read == 96


def test_ring_overrun_refuses_and_counts():
    ring = RingBuffer(8)
    assert ring.write(np.ones(6, np.float32)) == 6
    assert ring.write(np.full(5, 2, np.float32)) == 2  # only 2 fit
    assert ring.overruns == 1 and ring.dropped == 3
    np.testing.assert_array_equal(ring.read(8, timeout=0), [1] * 6 + [2] * 2)


def test_ring_read_times_out_without_consuming():
    ring = RingBuffer(16)
    ring.write(np.ones(3, np.float32))
    t = time.monotonic()
    assert ring.read(4, timeout=0.05) is None
    assert time.monotonic() - t < 1.0
    assert len(ring) == 3


def test_ring_reader_wakes_on_write_and_on_close():
    ring = RingBuffer(64)
    result = {}

    def reader():
        result["a"] = ring.read(32, timeout=5)
        result["b"] = ring.read(32, timeout=5)

    th = threading.Thread(target=reader)
    th.start()
    ring.write(np.arange(32, dtype=np.float32))
    time.sleep(0.05)
    ring.close()
    th.join(2)
    assert not th.is_alive()
    np.testing.assert_array_equal(result["a"], np.arange(32))
    assert result["b"] is None


def test_ring_concurrent_stream_is_lossless():
    ring, n, block = RingBuffer(1024), 200, 160
    src = np.arange(n * block, dtype=np.float32)
    got = np.empty_like(src)

    def writer():
        for i in range(n):
            while ring.free < block:
                time.sleep(0.0005)
            ring.write(src[i * block : (i + 1) * block])

    th = threading.Thread(target=writer)
    th.start()
    for i in range(n):
        assert ring.read_into(got[i * block : (i + 1) * block], timeout=5)
    th.join()
    np.testing.assert_array_equal(got, src)
    assert ring.overruns == 0


# ---- framing and sample clock -----------------------------------------------------------
def test_framer_cuts_any_chunking_into_frames():
    framer, x = Framer(320), np.arange(5000, dtype=np.float32)
    frames, i = [], 0
    for n in [1, 7, 319, 321, 1000, 3352]:
        frames += list(framer.push(x[i : i + n]))
        i += n
    tail = framer.flush()
    assert all(f.size == 320 for f in frames) and len(frames) == 5000 // 320
    np.testing.assert_array_equal(np.concatenate(frames), x[: len(frames) * 320])
    np.testing.assert_array_equal(tail[: 5000 % 320], x[len(frames) * 320 :])
    assert not tail[5000 % 320 :].any()


def test_sample_clock_ignores_late_bursty_callbacks():
    sc = _SampleClock(16000)
    # true line: t = 10 + i/16000; callbacks are 0..30 ms late, one burst of 3 blocks
    lateness = [0.002, 0.0, 0.03, 0.02, 0.01, 0.001, 0.0005]
    for k, late in enumerate(lateness):
        sc.update(k * 320, 10 + k * 0.02 + late)
    assert sc.time_of(320 * 7) == pytest.approx(10 + 0.14, abs=1e-4)  # drift allowance


# ---- file sources -----------------------------------------------------------------------
def write_wav(path, x, sr, subtype="PCM_16"):
    sf.write(str(path), x, sr, subtype=subtype)
    return str(path)


def collect(source):
    items = list(source)
    assert isinstance(items[-1], EndOfStream)
    return items[:-1], items[-1]


def test_wavsource_stereo_44k_to_mono_16k_frames(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    left = 0.4 * np.sin(2 * np.pi * 500 * t)
    path = write_wav(tmp_path / "s.wav", np.stack([left, left], 1), sr, "FLOAT")
    frames, eos = collect(WavSource(path, realtime=False, clock=FakeClock(5.0)))
    cfg = AudioConfig()
    assert all(isinstance(f, AudioFrame) and f.samples.shape == (cfg.frame_size,)
               and f.samples.dtype == np.float32 and f.sample_rate == 16000 for f in frames)
    assert len(frames) == 50  # 1 s = 50 frames of 20 ms
    assert [f.t_capture for f in frames[:3]] == pytest.approx([5.0, 5.02, 5.04])
    assert eos.t_capture == pytest.approx(6.0)
    y = np.concatenate([f.samples for f in frames])
    ideal = 0.4 * np.sin(2 * np.pi * 500 * np.arange(16000) / 16000)
    assert np.max(np.abs(y[1000:-1000] - ideal[1000:-1000])) < 0.01


def test_wavsource_flac_and_partial_last_frame(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 + 100)
    path = write_wav(tmp_path / "x.flac", x, 16000)
    frames, _ = collect(WavSource(path, realtime=False, clock=FakeClock()))
    assert len(frames) == 51
    y = np.concatenate([f.samples for f in frames])
    np.testing.assert_allclose(y[: x.size], x, atol=1e-4)
    assert not y[x.size :].any()  # zero padding


def test_wavsource_realtime_pacing(tmp_path):
    path = write_wav(tmp_path / "r.wav", np.zeros(8000), 16000)  # 0.5 s
    clock = MonotonicClock()
    t0 = time.monotonic()
    frames, _ = collect(WavSource(path, realtime=True, clock=clock))
    wall = time.monotonic() - t0
    assert wall == pytest.approx(0.5, abs=0.15)
    # a frame is released only once its last sample has "arrived"
    assert len(frames) == 25


def test_wavsource_realtime_with_fake_clock_advances_it(tmp_path):
    path = write_wav(tmp_path / "r.wav", np.zeros(1600), 16000)
    clock = FakeClock()
    frames, eos = collect(WavSource(path, realtime=True, clock=clock))
    assert clock.now() == pytest.approx(0.1) and len(frames) == 5


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"),
    (b"RIFF\x00\x00\x00\x00WAVEgarbage" + bytes(range(256)) * 4, "not a readable audio file"),
    (b"hello, I am not audio at all" * 50, "not a readable audio file"),
])
def test_wavsource_bad_files_raise_clear_error(tmp_path, content, match):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match=match) as err:
        WavSource(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, LiveSenseError)


def test_wavsource_missing_and_header_only(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        WavSource(tmp_path / "nope.wav")
    full = write_wav(tmp_path / "full.wav", np.zeros(1000), 16000)
    header = tmp_path / "header.wav"
    header.write_bytes(open(full, "rb").read()[:44])
    with pytest.raises(AudioFileError, match="no audio samples"):
        WavSource(header)


def test_wavsource_truncated_reads_what_is_there_and_warns(tmp_path, caplog):
    x = np.random.default_rng(1).uniform(-0.5, 0.5, 16000)
    full = write_wav(tmp_path / "full.wav", x, 16000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(open(full, "rb").read()[: 44 + 2 * 8000])  # half the samples
    with caplog.at_level(logging.WARNING):
        src = WavSource(cut, realtime=False, clock=FakeClock())
    assert "truncated" in caplog.text
    frames, _ = collect(src)
    assert len(frames) == 25
    np.testing.assert_allclose(np.concatenate([f.samples for f in frames]), x[:8000],
                               atol=1e-4)


@pytest.mark.parametrize("kind", SyntheticSource.KINDS)
def test_synthetic_sources(kind):
    src = SyntheticSource(kind, seconds=0.5, freq=1000, amplitude=0.3, realtime=False,
                          clock=FakeClock())
    frames, eos = collect(src)
    y = np.concatenate([f.samples for f in frames])
    assert len(frames) == 25 and eos.t_capture == pytest.approx(0.5)
    np.testing.assert_array_equal(y, src.signal())
    if kind == "tone":
        spec = np.abs(np.fft.rfft(y))
        assert np.argmax(spec) * 16000 / y.size == pytest.approx(1000, abs=2)
    if kind == "silence":
        assert not y.any()


def test_synthetic_rejects_unknown_kind():
    with pytest.raises(ValueError, match="tone"):
        SyntheticSource("square")


# ---- camera -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    import cv2

    path = str(tmp_path_factory.mktemp("video") / "clip.mp4")
    w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    for i in range(60):  # 2 s at 30 fps, pure red in BGR order = (0, 0, 255)
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :, 2] = 255
        img[:4, : i + 1] = 255
        w.write(img)
    w.release()
    return path


def test_camera_file_decimates_to_target_fps(mp4):
    clock = FakeClock(100.0)
    items = list(CameraSource(mp4, fps=5, realtime=False, clock=clock))
    frames, eos = items[:-1], items[-1]
    assert isinstance(eos, EndOfStream)
    assert len(frames) == 10  # 2 s at 5 fps
    assert [f.t_capture for f in frames] == pytest.approx(100 + np.arange(10) * 0.2)
    f = frames[0]
    assert isinstance(f, VideoFrame) and f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3)
    r, g, b = f.image[30, 30]
    assert r > 200 and g < 50 and b < 50  # RGB, not BGR


def test_camera_file_realtime_pacing_and_resize(mp4):
    t = time.monotonic()
    frames = [f for f in CameraSource(mp4, fps=10, realtime=True, size=(32, 24))
              if isinstance(f, VideoFrame)]
    wall = time.monotonic() - t
    assert len(frames) == 20 and frames[0].image.shape == (24, 32, 3)
    assert wall == pytest.approx(1.9, abs=0.3)  # last kept frame sits at 1.9 s


def test_camera_missing_path_and_bad_file(tmp_path):
    with pytest.raises(VideoError, match="no such video file"):
        CameraSource(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(VideoError, match="could not open"):
        CameraSource(bad)


def test_camera_index_without_camera_lists_probed_indices():
    if devices.list_cameras(4):
        pytest.skip("this machine has a camera")
    with pytest.raises(VideoError, match=r"no camera found \(probed OpenCV indices \[0, 1, 2, 3\]"):
        CameraSource("0")


# ---- devices ------------------------------------------------------------------------------
def test_explain_no_devices_says_what_to_do():
    text = devices.explain_no_devices()
    assert "No audio devices" in text and "PulseAudio" in text and "--mic file.wav" in text


FAKE = [devices.AudioDevice(0, "pulse", "ALSA", 32, 32, 44100.0),
        devices.AudioDevice(1, "default", "ALSA", 32, 32, 44100.0),
        devices.AudioDevice(2, "HDMI out", "ALSA", 0, 2, 48000.0)]


def fake_list(kind=None):
    return [d for d in FAKE if kind is None or d.channels(kind) > 0]


def test_resolve_device_by_name_index_and_errors(monkeypatch):
    monkeypatch.setattr(devices, "list_audio_devices", fake_list)
    assert devices.resolve_device(None, "input") is None
    assert devices.resolve_device("pulse", "input") == 0
    assert devices.resolve_device("hdmi", "output") == 2
    assert devices.resolve_device("1", "output") == 1
    with pytest.raises(DeviceError, match="no input device matching 'hdmi'.*'pulse'.*'default'"):
        devices.resolve_device("hdmi", "input")
    with pytest.raises(DeviceError, match="no output device with index 7"):
        devices.resolve_device(7, "output")


def test_resolve_device_with_no_devices_explains(monkeypatch):
    monkeypatch.setattr(devices, "list_audio_devices", lambda kind=None: [])
    with pytest.raises(DeviceError, match="No audio devices found"):
        devices.resolve_device(None, "output")


def test_importing_capture_and_playback_loads_no_native_io():
    code = ("import sys, livesense.capture, livesense.playback, livesense.errors;"
            "bad=[m for m in ('sounddevice','cv2','soundfile') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
