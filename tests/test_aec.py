"""Echo canceller behaviour on simulated rooms: ERLE, double talk, delay jumps, streaming."""

import numpy as np
import pytest
import soundfile as sf
from pathlib import Path

from livesense.aec import AecConfig, DelayEstimator, EchoCancelStage, EchoCanceller
from livesense.aec.room import RoomConfig, espeak, fit, simulate
from livesense.frames import AudioFrame, EndOfStream

FS = 16000
FRAME = 320
DATA = Path(__file__).parent / "data"
FAR_TEXT = ("The weather today is sunny with a few clouds over the hills. Tomorrow we expect "
            "rain in the afternoon and a cold wind from the north, so take a coat with you.")


@pytest.fixture(scope="module")
def far_speech():
    return espeak(FAR_TEXT, "en-us", 170)


@pytest.fixture(scope="module")
def near_speech():
    x, sr = sf.read(DATA / "turns.wav", dtype="float32")
    assert sr == FS
    return x


def run(canceller, mic, ref):
    return np.concatenate([canceller.process(mic[i:i + FRAME], ref[i:i + FRAME])
                           for i in range(0, len(mic) - FRAME + 1, FRAME)])


def erle_db(mic, out, lat, start, stop):
    return 10 * np.log10(np.sum(mic[start:stop] ** 2) / np.sum(out[start + lat:stop + lat] ** 2))


@pytest.mark.parametrize("rt60,delay_ms", [(0.3, 120.0), (0.5, 200.0)])
def test_erle_far_end_only(far_speech, rt60, delay_ms):
    n = 10 * FS
    sim = simulate(fit(far_speech, n, -18), np.zeros(n, np.float32),
                   RoomConfig(rt60_s=rt60, bulk_delay_ms=delay_ms, seed=int(rt60 * 10)))
    c = EchoCanceller()
    out = run(c, sim.mic, sim.far)
    assert abs(c.delay / 16 - (delay_ms + 2.0)) <= 2.0  # bulk + 2 ms acoustic direct path
    assert erle_db(sim.mic, out, c.latency, n // 2, n - FRAME) >= 20.0


def test_near_end_preserved_in_double_talk(far_speech, near_speech):
    from pystoi import stoi

    n = 12 * FS
    near = np.zeros(n, np.float32)
    talk = slice(6 * FS, 6 * FS + len(near_speech))
    near[talk] = fit(near_speech, len(near_speech), -24)  # user quieter than the echo (~-24 dBFS)
    sim = simulate(fit(far_speech, n, -18), near, RoomConfig(rt60_s=0.4, bulk_delay_ms=150, seed=7))
    c = EchoCanceller()
    out = run(c, sim.mic, sim.far)
    lat = c.latency
    clean, mic_seg = sim.near[talk], sim.mic[talk]
    out_seg = out[talk.start + lat:talk.stop + lat]
    s_out, s_mic = stoi(clean, out_seg, FS), stoi(clean, mic_seg, FS)
    assert s_out >= 0.8 and s_out > s_mic  # intelligible, and better than the raw mic
    assert erle_db(sim.mic, out, lat, 4 * FS, 6 * FS) >= 20.0  # far-end only before: cancelled
    assert c.stats()["filter_resets"] == 0


@pytest.mark.parametrize("jump_ms", [-40.0, 40.0])
def test_delay_jump_recovers(far_speech, jump_ms):
    n = 14 * FS
    room = RoomConfig(rt60_s=0.3, bulk_delay_ms=140, jump_at_s=6.0, jump_ms=jump_ms, seed=5)
    sim = simulate(fit(far_speech, n, -18), np.zeros(n, np.float32), room)
    c = EchoCanceller()
    out = run(c, sim.mic, sim.far)
    assert abs(c.delay / 16 - (142.0 + jump_ms)) <= 2.0
    assert erle_db(sim.mic, out, c.latency, 10 * FS, n - FRAME) >= 20.0


def _estimate(mic, ref):
    est = DelayEstimator(FS)
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        est.push(mic[i:i + FRAME], ref[i:i + FRAME])
    assert est.changes >= 1
    return est.delay / 16


@pytest.mark.parametrize("delay_ms", [37.0, 121.3, 202.0])
def test_delay_estimator_pure_delay_within_1ms(far_speech, delay_ms):
    n, d = 6 * FS, int(round(delay_ms * 16))
    ref = fit(far_speech, n, -18)
    rng = np.random.default_rng(0)
    mic = np.zeros(n, np.float32)
    mic[d:] = 0.5 * np.convolve(ref, [0.3, 0.4, 0.3], "same")[:n - d]
    mic += rng.standard_normal(n).astype(np.float32) * 1e-3
    assert abs(_estimate(mic, ref) - delay_ms) <= 1.0


@pytest.mark.parametrize("delay_ms", [37.0, 121.3, 202.0])
def test_delay_estimator_in_a_room_within_2ms(far_speech, delay_ms):
    n = 6 * FS
    sim = simulate(fit(far_speech, n, -18), np.zeros(n, np.float32),
                   RoomConfig(rt60_s=0.4, bulk_delay_ms=delay_ms, direct_ms=0.0, seed=2))
    assert abs(_estimate(sim.mic, sim.far) - delay_ms) <= 2.0


def _short_sim(far_speech, seconds=4):
    n = seconds * FS
    near = np.zeros(n, np.float32)
    near[2 * FS:3 * FS] = 0.05 * np.sin(2 * np.pi * 300 * np.arange(FS) / FS)
    return simulate(fit(far_speech, n, -18), near, RoomConfig(rt60_s=0.3, bulk_delay_ms=60, seed=1))


def test_streaming_parity(far_speech):
    sim = _short_sim(far_speech)
    per_frame = run(EchoCanceller(), sim.mic, sim.far)
    one_shot = EchoCanceller().process(sim.mic, sim.far)
    c, parts, i = EchoCanceller(), [], 0
    for k, group in enumerate([1, 3, 7, 2, 5] * 100):  # uneven groupings of whole frames
        j = min(i + group * FRAME, len(sim.mic))
        if i >= j:
            break
        parts.append(c.process(sim.mic[i:j], sim.far[i:j]))
        i = j
    np.testing.assert_array_equal(per_frame, one_shot)
    np.testing.assert_array_equal(per_frame, np.concatenate(parts))


def test_timed_reference_path_matches_explicit(far_speech):
    """push_reference(t_out) ahead of time + process(t_capture) == process(mic, ref)."""
    sim = _short_sim(far_speech)
    explicit = run(EchoCanceller(), sim.mic, sim.far)
    c, out = EchoCanceller(), []
    t0 = 100.0
    lead = 5  # the speaker side pushes 5 frames (100 ms) ahead of capture, in 10 ms chunks
    for k in range(0, lead * FRAME, 160):
        c.push_reference(sim.far[k:k + 160], t0 + k / FS)
    for i in range(0, len(sim.mic), FRAME):
        for k in range(i + lead * FRAME, i + (lead + 1) * FRAME, 160):
            if k < len(sim.far):
                c.push_reference(sim.far[k:k + 160], t0 + k / FS)
        jitter = 0.0004 * np.sin(i)  # timestamp jitter under resync_ms is ignored
        out.append(c.process(sim.mic[i:i + FRAME], t_capture=t0 + i / FS + jitter))
    np.testing.assert_array_equal(np.concatenate(out)[: len(explicit)], explicit)
    assert c.stats()["ref_missing_frames"] == 0


def test_no_nan_on_silence_zeros_clipping_and_nan(far_speech):
    c = EchoCanceller()
    z = np.zeros(50 * FRAME, np.float32)
    assert np.all(np.isfinite(c.process(z, z)))
    loud = np.clip(fit(far_speech, 100 * FRAME, 0) * 4, -1, 1)  # hard-clipped, full scale
    for mic, ref in [(loud, loud), (loud, np.zeros_like(loud)),
                     (np.zeros_like(loud), loud), (np.sign(loud), loud)]:
        out = c.process(mic, ref)
        assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
    bad = loud.copy()
    bad[::97] = np.nan
    bad[5] = np.inf
    assert np.all(np.isfinite(c.process(bad, loud)))
    assert np.all(np.isfinite(c.process(loud, bad)))


def test_rejects_misaligned_chunks():
    c = EchoCanceller()
    with pytest.raises(ValueError, match="reframe"):
        c.process(np.zeros(100, np.float32), np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="reference"):
        c.push_reference(np.zeros(10), 0.0, sample_rate=48000)


def test_stage_reframes_and_stamps(far_speech):
    c = EchoCanceller()
    stage = EchoCancelStage(c)
    ref = fit(far_speech, 20 * FRAME, -18)
    for k in range(0, len(ref), 160):
        c.push_reference(ref[k:k + 160], 10.0 + k / FS)
    out = []
    for k in range(0, 10 * FRAME, 480):  # 30 ms chunks in, 20 ms frames out
        out += stage.step(AudioFrame(ref[k:k + 480] * 0.3, FS, 10.0 + k / FS))
    out += stage.step(EndOfStream(t_capture=11.0))
    frames = [f for f in out if isinstance(f, AudioFrame)]
    assert isinstance(out[-1], EndOfStream)
    assert [len(f.samples) for f in frames] == [FRAME] * 10
    assert frames[1].t_capture == pytest.approx(10.0 + FRAME / FS - c.latency / FS)
    stage.reset()
    assert c.frames == 0


@pytest.mark.parametrize("device_rate", [16000, 48000])
def test_tap_cut_zeroes_the_reference_the_device_never_played(device_rate):
    """The speaker dropped its queue at t = 0.13 s: the reference from then on (drained
    already, or still in the tap) is silence for the canceller; blocks tapped after the
    cut (the restarted stream) are kept."""
    from livesense.aec.tap import ReferenceTap

    canceller, tap = EchoCanceller(), ReferenceTap()
    n = device_rate // 50  # 20 ms blocks
    for k in range(5):  # 0.00-0.10 s, drained at once
        tap(np.ones(n, np.float32), 0.02 * k, device_rate)
    tap.drain(canceller)
    for k in range(5, 11):  # 0.10-0.22 s, still in the tap at the cut
        tap(np.ones(n, np.float32), 0.02 * k, device_rate)
    tap.cut(0.13)
    tap(np.ones(n, np.float32), 0.25, device_rate)  # the restarted stream
    tap.drain(canceller)
    sr = canceller.config.sample_rate
    ref = np.zeros(int(0.3 * sr), np.float32)
    canceller._timeline.read_into(0, ref)
    at = lambda t0, t1: ref[int(t0 * sr):int(t1 * sr)]  # noqa: E731
    assert np.allclose(at(0.01, 0.12), 1.0, atol=0.02)  # played
    assert not at(0.135, 0.24).any()  # never played (a resampler rings ~1 ms either side of a step)
    assert np.allclose(at(0.255, 0.265), 1.0, atol=0.02)  # after the restart
