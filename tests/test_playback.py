"""Jitter buffer logic (driven by a FakeClock, no device) and the WAV sink."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from livesense.clock import FakeClock
from livesense.frames import AudioFrame, EndOfStream, Interrupt, ReplyEnd
from livesense.playback.jitter import IDLE, PREBUFFER, JitterBuffer
from livesense.playback.wavsink import WavSink

SR, BLOCK = 16000, 320  # 20 ms blocks


class Device:
    """Stands in for the output callback: pulls one block per 20 ms of fake time."""

    def __init__(self, jb: JitterBuffer, clock: FakeClock, ahead: float = 0.1) -> None:
        self.jb, self.clock, self.ahead = jb, clock, ahead
        self.out = np.empty(BLOCK, np.float32)
        self.played: list[np.ndarray] = []

    def tick(self, n: int = 1) -> np.ndarray:
        for _ in range(n):
            self.jb.pull(self.out, self.clock.now() + self.ahead)
            self.played.append(self.out.copy())
            self.clock.advance(BLOCK / SR)
        return self.out

    def audio(self) -> np.ndarray:
        return np.concatenate(self.played)


def make(prebuffer_s=0.04, max_s=1.0, start=0.0):
    clock = FakeClock(start)
    jb = JitterBuffer(SR, prebuffer_s=prebuffer_s, max_buffer_s=max_s, clock=clock)
    return jb, clock, Device(jb, clock)


def ramp(n, start=1):
    return np.arange(start, start + n, dtype=np.float32)


def test_idle_silence_is_not_an_underrun():
    jb, clock, dev = make()
    dev.tick(50)
    assert jb.state == IDLE and jb.underruns == 0 and not dev.audio().any()


def test_prebuffers_then_plays_in_order_and_records_first_sample_time():
    jb, clock, dev = make(prebuffer_s=0.04)  # 640 samples
    dev.tick(3)  # idle
    jb.push(ramp(400))
    dev.tick()
    assert jb.state == PREBUFFER and not dev.out.any()  # still filling: not an underrun
    jb.push(ramp(400, 401))
    t_block = clock.now()
    dev.tick()
    np.testing.assert_array_equal(dev.out, ramp(320))
    rep = jb.current_reply()
    assert rep.t_first_out == pytest.approx(t_block + 0.1)  # DAC time of the block
    assert rep.t_first_push == pytest.approx(0.06)
    jb.end_reply()
    dev.tick(3)
    assert jb.state == IDLE and jb.underruns == 0
    audio = dev.audio()
    np.testing.assert_array_equal(audio[audio != 0], ramp(800))
    (done,) = jb.replies()
    assert done.samples_played == 800 and not done.interrupted
    assert done.t_last_out == pytest.approx(done.t_first_out + 800 / SR)


def test_underrun_counted_only_mid_reply_then_rebuffers():
    jb, clock, dev = make(prebuffer_s=0.04)
    jb.push(ramp(700))
    dev.tick(2)  # 640 played, 60 left
    dev.tick()  # 60 samples + 260 zeros: mid-reply starvation
    assert jb.underruns == 1 and jb.underrun_samples == 260 and jb.state == PREBUFFER
    dev.tick(2)  # still starving: same gap, more missing samples, no new event
    assert jb.underruns == 1 and jb.underrun_samples == 260 + 640
    jb.push(ramp(700, 701))
    jb.end_reply()
    dev.tick(4)  # resumes; the final drain after end_reply is not an underrun
    assert jb.underruns == 1 and jb.state == IDLE
    audio = dev.audio()
    np.testing.assert_array_equal(audio[audio != 0], ramp(1400))
    assert jb.replies()[0].underruns == 1


def test_reply_shorter_than_prebuffer_plays_on_end_reply():
    jb, clock, dev = make(prebuffer_s=0.2)
    jb.push(ramp(100))
    dev.tick(2)
    assert not dev.audio().any()
    jb.end_reply()
    dev.tick()
    np.testing.assert_array_equal(dev.out[:100], ramp(100))
    assert jb.state == IDLE and jb.underruns == 0


def test_flush_stops_within_one_block_and_reports_dropped():
    jb, clock, dev = make()
    jb.push(ramp(3200))
    dev.tick(3)
    dropped = jb.flush()
    assert dropped == 3200 - 3 * 320
    assert not dev.tick().any()  # the very next block is silent
    assert jb.state == IDLE and jb.underruns == 0 and jb.flushes == 1
    (rep,) = jb.replies()
    assert rep.interrupted and rep.samples_played == 960
    jb.push(ramp(700))  # a new reply after the interrupt starts cleanly
    jb.end_reply()
    dev.tick(3)
    assert [r.index for r in jb.replies()] == [0, 1] and jb.replies()[1].samples_played == 700


def test_overrun_refused_and_counted():
    jb, clock, dev = make(max_s=0.1)  # 1600 samples
    assert jb.push(ramp(1000)) == 1000
    assert jb.push(ramp(1000)) == 600
    assert jb.overruns == 1 and jb.overrun_samples == 400 and len(jb) == 1600


def test_back_to_back_replies_keep_separate_timings():
    jb, clock, dev = make(prebuffer_s=0.0)
    jb.push(ramp(480))
    jb.end_reply()
    dev.tick()  # 320 of reply 0 out
    jb.push(ramp(480, 1000))  # reply 1 queued behind the drain of reply 0
    assert jb.current_reply().index == 1 and jb.playing_reply().index == 0
    jb.end_reply()
    t1 = clock.now()
    dev.tick(3)
    r0, r1 = jb.replies()
    assert r0.samples_played == 480 and r1.samples_played == 480
    assert r1.t_first_out == pytest.approx(t1 + 0.1 + 160 / SR)  # mid-block start
    assert jb.underruns == 0


def test_wraparound_preserves_order():
    jb, clock, dev = make(prebuffer_s=0.0, max_s=0.05)  # 800-sample ring
    x = ramp(5000)
    i = 0
    while i < x.size:
        i += jb.push(x[i : i + 500])
        dev.tick()
    jb.end_reply()
    dev.tick(4)
    audio = dev.audio()
    np.testing.assert_array_equal(audio[audio != 0], x)


# ---- WavSink ------------------------------------------------------------------------------
def frame(x, t=0.0, sr=SR):
    return AudioFrame(np.asarray(x, np.float32), sr, t)


def test_wavsink_back_to_back(tmp_path):
    path = tmp_path / "out.wav"
    with WavSink(path) as sink:
        sink.step(frame(np.full(320, 0.25)))
        sink.step(frame(np.full(320, -0.25)))
        sink.step(EndOfStream(0.0))
    y, sr = sf.read(path, dtype="float32")
    assert sr == SR and y.size == 640
    assert np.allclose(y[:320], 0.25, atol=1e-4) and np.allclose(y[320:], -0.25, atol=1e-4)


def test_wavsink_realtime_places_replies_on_the_timeline(tmp_path):
    clock = FakeClock(100.0)
    path = tmp_path / "rt.wav"
    sink = WavSink(path, realtime=True, clock=clock, t_start=100.0)
    clock.advance(0.5)
    for _ in range(10):  # a 0.2 s reply generated in a burst at t=0.5 s
        sink.write(frame(np.full(320, 0.5)))
    sink.step(ReplyEnd(clock.now()))
    clock.advance(1.0)  # second reply at t=1.5 s
    sink.write(frame(np.full(1600, -0.5)))
    sink.close()
    y, _ = sf.read(path, dtype="float32")
    assert y.size == round(1.6 * SR)
    assert not y[:8000].any() and np.allclose(y[8000:11200], 0.5, atol=1e-4)
    assert not y[11200:24000].any() and np.allclose(y[24000:], -0.5, atol=1e-4)


def test_wavsink_realtime_interrupt_cuts_unplayed_audio(tmp_path):
    clock = FakeClock()
    path = tmp_path / "cut.wav"
    sink = WavSink(path, realtime=True, clock=clock, t_start=0.0)
    sink.write(frame(np.full(16000, 0.5)))  # 1 s reply produced at once
    clock.advance(0.3)
    assert sink.step(Interrupt(clock.now())) == []
    sink.close()
    y, _ = sf.read(path, dtype="float32")
    assert y.size == round(0.3 * SR) and np.allclose(y, 0.5, atol=1e-4)


def test_wavsink_resamples_other_rates_and_closes_on_exception(tmp_path):
    path = tmp_path / "r.wav"
    with pytest.raises(KeyboardInterrupt):
        with WavSink(path) as sink:
            sink.write(frame(np.zeros(4800), sr=48000))
            raise KeyboardInterrupt  # Ctrl-C: the with-block still closes the file
    info = sf.info(path)
    assert info.samplerate == SR and info.frames == 1600


def test_realtime_wav_hold_pauses_and_release_resumes_without_loss(tmp_path):
    """A duck on the real-time file: silence while held, then the rest of the reply, whole."""
    clock, sr = FakeClock(0.0), 16000
    path = tmp_path / "held.wav"
    sink = WavSink(path, realtime=True, clock=clock, t_start=0.0)
    reply = np.linspace(0.1, 0.9, sr, dtype=np.float32)  # 1 s, no zeros
    sink.write(AudioFrame(reply, sr, 0.0))
    clock.advance(0.25)
    sink.hold()
    clock.advance(0.5)
    sink.write(AudioFrame(reply[:0], sr, clock.now()))  # writes while held place nothing early
    sink.release()
    clock.advance(2.0)
    sink.close()
    y, _ = sf.read(path, dtype="float32")
    heard = y[np.abs(y) > 0]
    np.testing.assert_allclose(heard, reply, atol=1e-4)  # every sample, in order (PCM_16)
    assert np.all(y[int(0.26 * sr): int(0.74 * sr)] == 0)  # the held half second is silent
    assert abs(np.flatnonzero(np.abs(y) > 0)[-1] / sr - 1.5) < 0.01  # the reply ends 0.5 s late


def test_flush_while_held_drops_the_rest_and_ends_the_hold(tmp_path):

    clock, sr = FakeClock(0.0), 16000
    sink = WavSink(tmp_path / "cut.wav", realtime=True, clock=clock, t_start=0.0)
    sink.write(AudioFrame(np.full(sr, 0.5, np.float32), sr, 0.0))
    clock.advance(0.25)
    sink.hold()
    clock.advance(0.25)
    assert sink.interrupt() == sr - int(0.25 * sr)
    assert not sink.held and sink.committed == int(0.5 * sr)
    sink.close()


def _heard(dev: Device, t_cut: float) -> np.ndarray:
    """What reached the DAC: every block's samples before the device dropped its queue at
    ``t_cut`` (blocks pulled at t carry DAC time t + ahead), then all blocks pulled after."""
    out = []
    for k, block in enumerate(dev.played):
        t_dac = k * BLOCK / SR + dev.ahead
        pulled_after = k * BLOCK >= round(t_cut * SR)
        keep = BLOCK if pulled_after else int(np.clip(round((t_cut - t_dac) * SR), 0, BLOCK))
        out.append(block[:keep])
    return np.concatenate(out)


def test_hold_with_a_device_cut_gives_back_what_the_device_never_played():
    """The device dropped its queue (100 ms ahead) at the duck: those samples come back to
    the queue, the hold is silent at the cut, and release plays on from the first sample
    the listener did not hear: nothing lost, nothing twice (but the fade-in)."""
    jb, clock, dev = make(max_s=5.0)
    x = ramp(16000)
    jb.push(x)
    jb.end_reply()
    dev.tick(20)  # 0.4 s pulled; heard up to 0.3 s at t = 0.4 (100 ms in the device's queue)
    t_cut = clock.now()
    jb.hold(cut_at=t_cut)
    assert jb.cut_samples == 5 * BLOCK  # the blocks whose DAC time was still ahead
    assert jb.hold_times() == [t_cut]
    assert jb.playing_reply().t_last_out == pytest.approx(t_cut)
    dev.tick(10)
    assert not np.concatenate(dev.played[20:]).any()  # held: silence
    jb.release()
    dev.tick(60)
    heard = _heard(dev, t_cut)
    heard = heard[np.flatnonzero(heard)]
    fade = round(jb.sample_rate * 0.005)
    resume = int(t_cut * SR - 0.1 * SR)  # samples heard before the cut
    np.testing.assert_array_equal(heard[:resume], x[:resume])
    assert len(heard) == len(x)  # every sample once
    np.testing.assert_array_equal(heard[resume + fade:], x[resume + fade:])
    assert jb.replies()[-1].samples_played == len(x) and not jb.replies()[-1].interrupted


def test_flush_with_a_device_cut_ends_the_reply_at_the_cut():
    jb, clock, dev = make(max_s=5.0)
    jb.push(ramp(16000))
    dev.tick(20)
    t_cut = clock.now()
    dropped = jb.flush(cut_at=t_cut)
    last = jb.replies()[-1]
    assert last.interrupted and last.t_last_out == pytest.approx(t_cut)
    assert last.samples_played == int((t_cut + 0.0) * SR) - int(0.1 * SR) + 0  # heard before the cut
    assert dropped == 16000 - last.samples_played
    assert jb.handed_until <= t_cut  # nothing of it is in the device's queue any more
