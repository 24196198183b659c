"""Real PortAudio streams through a user-space PulseAudio server (tests/pulse.py).

Paths exercised:
  SpeakerSink -> vspk (null sink) -> vspk.monitor -> MicSource      (speaker loopback)
  paplay -d vmic_feed file.wav -> vmic (remap source) -> MicSource   (virtual microphone)
MicSource records the monitor when PULSE_SOURCE=vspk.monitor is set before it opens its
stream (libpulse reads it per stream). Figures are printed; run with -s to see them.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, correlate, sosfilt

from livesense.capture import MicSource, resolve_device
from livesense.clock import MonotonicClock
from livesense.config import AudioConfig
from livesense.errors import DeviceError
from livesense.frames import AudioFrame
from livesense.playback import SpeakerSink

pytestmark = pytest.mark.audio
SR = 16000


def test_signal(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Chirp 300 -> 2300 Hz, tremolo, plus band-limited noise: one clear correlation peak."""
    t = np.arange(round(seconds * sr)) / sr
    chirp = np.sin(2 * np.pi * (300 * t + 1000 / seconds * t * t))
    noise = sosfilt(butter(6, 4000, fs=sr, output="sos"),
                    np.random.default_rng(seed).standard_normal(t.size))
    return (0.3 * chirp * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.1 * noise).astype(np.float32)


test_signal.__test__ = False  # a helper, not a test


def aligned_correlation(rec: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """Pearson correlation after the best integer + fractional (1/20 sample) alignment."""
    c = correlate(rec, ref, mode="valid", method="fft")
    lag = int(np.argmax(np.abs(c)))
    lo = max(lag - 16, 0)
    seg = rec[lo : lag + ref.size + 16].astype(np.float64)
    spec, f = np.fft.rfft(seg), np.fft.rfftfreq(seg.size)
    best = -1.0
    for d in np.linspace(-1, 1, 41):
        shifted = np.fft.irfft(spec * np.exp(2j * np.pi * f * d), seg.size)
        best = max(best, np.corrcoef(shifted[lag - lo : lag - lo + ref.size], ref)[0, 1])
    return float(best), lag


class Recorder:
    """Runs MicSource.frames() on a thread, keeping frames and their wall arrival times."""

    def __init__(self, **kwargs) -> None:
        self.mic = MicSource(clock=MonotonicClock(), **kwargs)
        self.frames: list[AudioFrame] = []
        self.arrivals: list[float] = []
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Recorder":
        self.mic.start()
        self._thread.start()
        deadline = time.monotonic() + 8
        while not self.frames and time.monotonic() < deadline and self.error is None:
            time.sleep(0.01)
        assert self.frames, f"no audio from the mic within 8 s ({self.error})"
        return self

    def _run(self) -> None:
        try:
            for frame in self.mic.frames():
                self.frames.append(frame)
                self.arrivals.append(time.monotonic())
        except Exception as e:  # surfaced by the test
            self.error = e

    def __exit__(self, *exc) -> None:
        self.mic.stop()
        self._thread.join(3)
        assert not self._thread.is_alive(), "mic reader did not stop"

    def audio(self) -> np.ndarray:
        return np.concatenate([f.samples for f in self.frames])

    def time_of(self, sample: int) -> float:
        return self.frames[0].t_capture + sample / SR


def loopback_once(x: np.ndarray, seconds: float) -> dict:
    with Recorder() as rec:
        with SpeakerSink(clock=MonotonicClock()) as spk:
            t0 = time.monotonic()
            for i in range(0, x.size, 320):
                spk.write(AudioFrame(x[i : i + 320], SR, t0))
            spk.end_reply()
            assert spk.wait_idle(seconds + 5)
            wall = time.monotonic() - t0
            reply, stats = spk.last_reply(), spk.stats()
        time.sleep(0.4)
    corr, lag = aligned_correlation(rec.audio(), x)
    return {"corr": corr, "played": reply.t_last_out - reply.t_first_out, "wall": wall,
            "skew": rec.time_of(lag) - reply.t_first_out, "reply": reply, "stats": stats,
            "mic": rec.mic.stats()}


def test_speaker_loopback_correlates_and_is_real_time(pulse, monkeypatch):
    monkeypatch.setenv("PULSE_SOURCE", "vspk.monitor")
    x, seconds = test_signal(2.0), 2.0
    # One retry: about 1 run in 12 on this loaded 2-core machine the server glitched once
    # (corr 0.71); a second glitch in a row would be a real fault.
    for attempt in range(2):
        r = loopback_once(x, seconds)
        print(f"\nloopback attempt {attempt}: corr {r['corr']:.4f}, played {r['played']:.3f} s "
              f"for {seconds} s (wall to drain {r['wall']:.3f} s), mic-vs-speaker onset stamps "
              f"{r['skew'] * 1000:+.1f} ms, speaker {r['stats']}, mic {r['mic']}")
        if r["corr"] >= 0.95:
            break
    assert r["corr"] >= 0.95
    assert r["played"] == pytest.approx(seconds, abs=0.05)
    assert seconds - 0.4 < r["wall"] < seconds + 1.0  # handed over in real time, not at once
    assert r["stats"]["underruns"] == 0 and r["reply"].samples_played == x.size
    assert abs(r["skew"]) < 0.15  # speaker DAC stamps and mic ADC stamps agree


@pytest.mark.parametrize("device_rate", [None, 48000], ids=["stream16k", "stream48k-resampled"])
def test_mic_from_virtual_mic_is_paced_and_faithful(pulse, tmp_path, device_rate):
    sr_file, seconds = 48000, 1.5
    x48 = test_signal(seconds, sr_file, seed=1)
    path = str(tmp_path / "feed.wav")
    sf.write(path, x48, sr_file, subtype="FLOAT")
    with Recorder(device_rate=device_rate) as rec:
        player = pulse.paplay(path)
        assert player.wait(seconds + 5) == 0, player.stderr.read()
        time.sleep(0.4)
    frames = rec.frames
    k = np.arange(20, len(frames))  # skip the start-up backlog, delivered in a burst
    period = np.polyfit(k, np.array(rec.arrivals)[20:], 1)[0]  # mean arrival interval
    stamps = np.diff([f.t_capture for f in frames])[20:]
    from livesense.capture.resample import resample

    corr, _ = aligned_correlation(rec.audio(), resample(x48, sr_file, SR))
    print(f"\nmic ({device_rate or 16000} Hz stream): corr {corr:.4f}, {len(frames)} frames, "
          f"arrival period {period * 1000:.2f} ms, stamp steps "
          f"{stamps.min() * 1000:.2f}..{stamps.max() * 1000:.2f} ms, {rec.mic.stats()}")
    assert all(f.samples.shape == (320,) and f.sample_rate == SR for f in frames)
    assert corr >= 0.95
    assert period == pytest.approx(0.020, abs=0.002)
    # stamps step 20 ms; a late-callback estimate may be corrected downwards once (load)
    assert np.median(stamps) == pytest.approx(0.020, abs=1e-4)
    assert (stamps > 0).all() and (stamps < 0.025).all()
    assert rec.mic.stats()["ring_overruns"] == 0


def test_interrupt_flushes_within_one_block(pulse, monkeypatch):
    monkeypatch.setenv("PULSE_SOURCE", "vspk.monitor")
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR)).astype(np.float32)
    clock = MonotonicClock()
    with Recorder() as rec:
        with SpeakerSink(clock=clock) as spk:
            spk.write(AudioFrame(tone, SR, clock.now()))
            deadline = time.monotonic() + 5
            while spk.current_reply().t_first_out is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.8)
            before = spk.current_reply().samples_played
            t_int = clock.now()
            dropped = spk.interrupt()
            time.sleep(0.6)
            reply, stats = spk.last_reply(), spk.stats()
        time.sleep(0.2)
    audio = rec.audio()
    env = np.sqrt(np.convolve(audio**2, np.ones(160) / 160, mode="same"))
    loud = np.flatnonzero(env > 0.05)
    t_heard_end = rec.time_of(int(loud[-1]))
    block = spk.blocksize / spk.device_rate
    print(f"\ninterrupt: dropped {dropped / spk.device_rate:.2f} s, last sample handed out "
          f"{(reply.t_last_out - t_int) * 1000:.0f} ms after the interrupt (DAC time; device "
          f"latency {spk.ahead_s * 1000:.0f} ms, block {block * 1000:.0f} ms), "
          f"heard until {(t_heard_end - t_int) * 1000:.0f} ms after it, {stats}")
    assert reply.interrupted and dropped > 0.8 * SR
    assert stats["cuts"] == 1 and reply.t_last_out - t_int < 0.005  # the device's queue was dropped too
    # The jitter buffer hands out at most the block being pulled during the flush ...
    assert reply.samples_played - before <= spk.blocksize
    # ... so only what the device already held plays on: its latency plus one block.
    assert reply.t_last_out - t_int <= spk.ahead_s + block + 0.05
    assert t_heard_end - reply.t_last_out < 0.1
    after = audio[int((reply.t_last_out + 0.1 - rec.frames[0].t_capture) * SR):]
    assert after.size > 0.3 * SR and np.sqrt(np.mean(after**2)) < 0.01  # silence
    assert stats["underruns"] == 0


def test_duck_drops_the_device_queue_and_resumes_where_the_ear_stopped(pulse, monkeypatch):
    """A duck aborts the stream (PlaybackConfig.cut_device): what the device had queued is
    not played, it goes back to the jitter buffer, and the release plays it: the recording
    with its gap taken out is the whole reply, once, and the gap starts where the buffer
    says the listener stopped hearing, not one output latency later."""
    monkeypatch.setenv("PULSE_SOURCE", "vspk.monitor")
    x = test_signal(2.0, seed=3)
    clock = MonotonicClock()
    with Recorder() as rec:
        with SpeakerSink(clock=clock) as spk:
            spk.write(AudioFrame(x, SR, clock.now()))
            spk.end_reply()
            deadline = time.monotonic() + 5
            while spk.current_reply().t_first_out is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.7)
            handed = spk.current_reply().samples_played
            spk.duck(True)
            kept = spk.current_reply().samples_played
            time.sleep(0.5)
            spk.duck(False)
            assert spk.wait_idle(5)
            time.sleep(spk.ahead_s + 0.1)  # what the device holds plays before the stream closes
            reply, stats = spk.last_reply(), spk.stats()
        time.sleep(0.3)
    audio = rec.audio()
    env = np.sqrt(np.convolve(audio**2, np.ones(80) / 80, mode="same"))
    loud = np.flatnonzero(env > 0.02)
    gaps = np.flatnonzero(np.diff(loud) > 0.2 * SR)
    print(f"\nduck with a device cut: handed out {handed / SR:.3f} s, kept {kept / SR:.3f} s "
          f"(device latency {spk.ahead_s * 1000:.0f} ms), gaps {len(gaps)}, {stats}")
    assert stats["cuts"] == 1 and stats["underruns"] == 0 and len(gaps) == 1
    g = gaps[0]
    before, after = audio[loud[0]:loud[g] + 1], audio[loud[g + 1]:loud[-1] + 1]
    print(f"heard {before.size / SR:.3f} s before the gap, {after.size / SR:.3f} s after it")
    slack = int(0.025 * SR)  # the loudness threshold may clip a few ms off either end
    assert aligned_correlation(before, x[slack:before.size - slack])[0] >= 0.95  # the start of the reply ...
    assert aligned_correlation(after, x[x.size - after.size + slack:x.size - slack])[0] >= 0.95  # ... its end
    # The sound server plays what it had already committed after the abort: the sound stops
    # 4-26 ms after the cut time here (more under load), and that much is played again on resume.
    residual = 0.04 * SR
    assert 0 <= before.size + after.size - x.size < residual  # nothing lost, at most the residual twice
    assert -slack <= before.size - kept < residual  # the ear stopped at the cut, plus the server's residual
    assert handed - kept > 0.05 * SR  # the device's queue was dropped, not played
    assert reply.samples_played == x.size and not reply.interrupted


def test_underrun_counted_on_a_live_stream(pulse):
    clock = MonotonicClock()
    part = np.full(int(0.3 * SR), 0.1, np.float32)
    with SpeakerSink(clock=clock) as spk:
        spk.write(AudioFrame(part, SR, clock.now()))
        time.sleep(1.2)  # the device drains the first part, then starves mid-reply
        assert spk.stats()["underruns"] == 1
        spk.write(AudioFrame(part, SR, clock.now()))
        spk.end_reply()
        assert spk.wait_idle(5)
        time.sleep(0.3)  # idle silence after the reply is not an underrun
        stats, reply = spk.stats(), spk.last_reply()
    print(f"\nunderrun: {stats}")
    assert stats["underruns"] == 1 and reply.underruns == 1
    assert reply.samples_played == 2 * part.size
    assert stats["underrun_samples"] > 0.2 * SR


def test_missing_device_name_lists_existing_devices(pulse):
    with pytest.raises(DeviceError, match=r"no output device matching 'no-such-speaker'.*'pulse'"):
        resolve_device("no-such-speaker", "output")
    with pytest.raises(DeviceError, match=r"no input device matching 'nope'.*'default'"):
        MicSource(device="nope").start()


def _pulse_server_class():
    try:
        from tests.pulse import PulseServer
    except ImportError:  # tests/ is not a package
        from pulse import PulseServer
    return PulseServer


def test_device_lost_mid_stream_raises_and_stops(pulse):
    doomed = _pulse_server_class()().start()  # a second server we can crash
    try:
        doomed.activate()
        mic = MicSource(config=AudioConfig(), read_timeout_s=1.0)
        frames = mic.frames()
        next(frames)
        doomed.kill()
        t = time.monotonic()
        with pytest.raises(DeviceError, match="lost|no audio"):
            for _ in range(500):
                next(frames)
        elapsed = time.monotonic() - t
        print(f"\ndevice lost: DeviceError after {elapsed:.2f} s")
        assert elapsed < 3.0
        assert mic._stream is None  # stopped cleanly
    finally:
        doomed.deactivate()
        doomed.stop()
        pulse.activate()
