"""Echo-cancellation wiring on the desktop path and a simulated duplex session."""

from types import SimpleNamespace

import numpy as np
import pytest

from livesense.aec import EchoCanceller
from livesense.aec.aec import EchoCancelStage, EchoLog
from livesense.aec.tap import ReferenceTap
from livesense.capture.resample import resample
from livesense.clock import FakeClock
from livesense.config import AudioConfig, Config
from livesense.playback.jitter import JitterBuffer
from livesense.playback.speaker import SpeakerSink

FS = 16000


def chirp(n: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    return (0.3 * np.sin(2 * np.pi * (200 * t + 600 * t * t))).astype(np.float32)


def test_tap_hands_reference_with_dac_times():
    c, tap = EchoCanceller(), ReferenceTap()
    x = chirp(20 * 320, FS)
    for i in range(20):
        tap(x[i * 320:(i + 1) * 320], 10.0 + i * 0.02, FS)
    assert tap.drain(c) == 20 and tap.drain(c) == 0
    got = np.concatenate([c._timed_reference(10.0 + i * 0.02).copy() for i in range(20)])
    np.testing.assert_array_equal(got, x)


def test_tap_resamples_device_rate_and_keeps_time():
    c, tap = EchoCanceller(), ReferenceTap()
    x48 = chirp(48000, 48000)
    for i in range(0, 48000, 960):  # 20 ms device blocks at 48 kHz
        tap(x48[i:i + 960], 5.0 + i / 48000, 48000)
    tap.drain(c)
    ref = resample(x48, 48000, FS)
    frames = [c._timed_reference(5.0 + k * 0.02).copy() for k in range(40)]
    got = np.concatenate(frames)
    np.testing.assert_allclose(got[320:-640], ref[320:len(got) - 640], atol=2e-3)


def test_tap_counts_blocks_lost_when_nobody_drains():
    tap = ReferenceTap(capacity_s=0.1, max_rate=16000, max_blocks=8)
    for i in range(20):
        tap(np.zeros(320, np.float32), i * 0.02, FS)
    assert tap.drain(EchoCanceller()) <= 8 and tap.dropped >= 12


def test_speaker_callback_taps_what_the_device_plays():
    clock, seen = FakeClock(3.0), []
    sink = SpeakerSink(AudioConfig(), clock=clock, device_rate=FS,
                       on_played=lambda b, t, r: seen.append((b.copy(), t, r)))
    sink.jitter = JitterBuffer(FS, 0.0, 1.0, clock)
    sink.blocksize = 320
    sink.jitter.push(np.full(640, 0.25, np.float32))
    out = np.zeros((320, 1), np.float32)
    info = SimpleNamespace(outputBufferDacTime=11.12, currentTime=11.0)
    sink._callback(out, 320, info, SimpleNamespace(output_underflow=False))
    block, t, rate = seen[0]
    np.testing.assert_array_equal(block, out[:, 0])
    assert block[0] == 0.25 and rate == FS
    assert t == pytest.approx(3.0 + 0.12)  # our clock now + the device's DAC lead


def test_stage_logs_echo_info_by_capture_time():
    log = EchoLog()
    stage = EchoCancelStage(EchoCanceller(), tap=ReferenceTap(), echo_log=log)
    from livesense.frames import AudioFrame

    outs = stage.step(AudioFrame(np.zeros(960, np.float32), FS, 2.0))
    assert len(outs) == 3
    for f in outs:
        info = log.get(f.t_capture)
        assert info is not None and info.t_capture == pytest.approx(f.t_capture, abs=0.011)
    assert log.get(50.0) is None


@pytest.mark.parametrize("cut", [True, False], ids=["device-cut", "device-plays-out"])
def test_simulated_duplex_session_rejects_echo_and_takes_barge_in(cut):
    from livesense.aec.duplexsim import DuplexSim
    from livesense.aec.room import RoomConfig, espeak, fit
    from livesense.config import PlaybackConfig

    bot = fit(espeak("The train leaves at nine fifteen and takes about two hours to get there.",
                     "en-gb-x-rp", 150), 12 * FS, -18)
    user = espeak("Wait, stop, I have a question.", "en-us", 165)
    user = fit(user, len(user), -22)
    extra = np.random.default_rng(0).standard_normal(12 * FS) * 1e-3 * 0.3
    onset = 8.0
    extra[int(onset * FS):int(onset * FS) + len(user)] += user
    sim = DuplexSim(RoomConfig(rt60_s=0.3, bulk_delay_ms=50, seed=1), bot,
                    Config(playback=PlaybackConfig(cut_device=cut)), latency_s=0.1)
    ev = sim.run(extra, [0.5])
    # the duck silences the agent at once; the confirm waits for voice heard clear of echo
    ducks = [t for t in ev.ducks if t > onset]  # (a duck before the canceller converged was released)
    assert ducks and ducks[0] < onset + 0.2
    silent = [t for t in ev.held_out if t >= ducks[0]][0]  # the duck reached the DAC
    i = int(round(ducks[0] * FS))
    if cut:  # the device's queue was dropped: silent at the decision, nothing of it reached the room
        assert silent - ducks[0] < 1e-6 and not sim.played[i + 1:i + int(0.09 * FS)].any()
    else:  # one output latency, the block being pulled and the 5 ms fade play out first
        assert 0.1 <= silent - ducks[0] <= 0.1 + 0.02 + 0.005 + 1e-6 and sim.played[i:i + int(0.09 * FS)].any()
    assert len(ev.interrupts) == 1 and onset < ev.interrupts[0] < onset + 1.0
    assert ev.cut_out and ev.cut_out[0] - ev.interrupts[0] <= 0.1 + 0.02 + 1e-6  # flushed (or held before)
    late = slice(3 * FS, int(onset * FS))
    erle = 10 * np.log10(np.sum(sim.mic[late] ** 2) / np.sum(sim.out[late] ** 2))
    assert erle > 15


def test_session_inserts_aec_only_for_a_speaker(monkeypatch):
    from livesense import app
    from livesense.aec import EchoCancelStage as Stage
    from livesense.runtime.output import PlaybackState

    class FakeSpeaker:
        on_played = None

    speaker_out = SimpleNamespace(speaker=FakeSpeaker())
    stages = app.duplex_front(app.RunSpec(), Config(), speaker_out, PlaybackState())
    assert isinstance(stages[0], Stage) and isinstance(speaker_out.speaker.on_played, ReferenceTap)
    assert stages[1].barge_in is not None
    from dataclasses import replace

    off = replace(Config(), duplex=replace(Config().duplex, aec=False))
    assert len(app.duplex_front(app.RunSpec(), off, SimpleNamespace(speaker=FakeSpeaker()), PlaybackState())) == 1
    assert len(app.duplex_front(app.RunSpec(), Config(), SimpleNamespace(), PlaybackState())) == 1


def test_cli_no_aec_flag():
    from livesense.cli import config_from, parser

    assert config_from(parser().parse_args(["run", "--no-aec"])).duplex.aec is False
    assert config_from(parser().parse_args(["run"])).duplex.aec is True


class _Stream:
    """Stands in for a PortAudio stream: counts aborts/starts, can be slow to abort."""

    def __init__(self, abort_s: float = 0.0) -> None:
        self.active, self.latency, self.aborts, self.starts, self.abort_s = True, 0.1, 0, 0, abort_s

    def abort(self) -> None:
        import time

        time.sleep(self.abort_s)
        self.aborts += 1

    def start(self) -> None:
        self.starts += 1


def _playing_speaker(stream: _Stream, cut_taps: list) -> tuple[SpeakerSink, FakeClock]:
    clock = FakeClock(3.0)
    sink = SpeakerSink(AudioConfig(), clock=clock, device_rate=FS, on_cut=cut_taps.append)
    sink.jitter = JitterBuffer(FS, 0.0, 5.0, clock)
    sink.blocksize, sink._stream = 320, stream
    sink.jitter.push(np.full(FS, 0.25, np.float32))
    out = np.zeros((320, 1), np.float32)
    info = SimpleNamespace(outputBufferDacTime=11.1, currentTime=11.0)
    for _ in range(5):  # 100 ms handed to the device, 100 ms ahead of the DAC
        sink._callback(out, 320, info, SimpleNamespace(output_underflow=False))
        clock.advance(0.02)
    return sink, clock


def test_speaker_duck_cuts_the_device_queue_and_tells_the_tap():
    stream, cuts = _Stream(), []
    sink, clock = _playing_speaker(stream, cuts)
    sink.duck(True)
    assert stream.aborts == stream.starts == 1 and cuts == [pytest.approx(clock.now())]
    assert sink.jitter.held and sink.jitter.cut_samples > 0 and sink.cuts_device
    sink.duck(False)
    sink.interrupt()  # nothing of the reply is in the device's queue now: no second cut
    assert stream.aborts == 1


def test_speaker_stops_cutting_after_a_slow_cut():
    stream, cuts = _Stream(abort_s=0.2), []
    sink, clock = _playing_speaker(stream, cuts)
    sink.duck(True)
    assert stream.aborts == 1 and not sink.cuts_device  # too slow: from now on the queue plays out
    sink.duck(False)
    sink._callback(np.zeros((320, 1), np.float32), 320, SimpleNamespace(outputBufferDacTime=11.1, currentTime=11.0),
                   SimpleNamespace(output_underflow=False))
    sink.interrupt()
    assert stream.aborts == 1 and len(cuts) == 1


def test_a_late_finished_callback_after_a_cut_is_not_a_lost_device():
    stream, cuts = _Stream(), []
    sink, _ = _playing_speaker(stream, cuts)
    sink.duck(True)
    sink._finished()  # PortAudio reports the aborted stream finished after it was restarted
    assert not sink._lost.is_set()
    stream.active = False  # a real loss: the stream is not running
    sink._finished()
    assert sink._lost.is_set()
