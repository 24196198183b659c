import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livesense.config import AudioConfig, TurnConfig
from livesense.frames import AudioFrame, EndOfStream, TurnEnd, TurnStart
from livesense.runtime.turns import TurnDetector, TurnMachine, TurnState

DATA = Path(__file__).parent / "data"


def events(detector, x, sr, chunk):
    out = []
    for i in range(0, len(x), chunk):
        out += detector.step(AudioFrame(x[i : i + chunk], sr, i / sr))
    out += detector.step(EndOfStream(len(x) / sr))
    return [(type(f).__name__, round(f.t_capture, 4)) for f in out if isinstance(f, (TurnStart, TurnEnd))]


@pytest.fixture(scope="module")
def clip():
    x, sr = sf.read(DATA / "turns.wav", dtype="float32")
    truth = json.loads((DATA / "turns.json").read_text())["turns"]
    return x, sr, truth


def test_turns_found_near_true_boundaries(clip):
    x, sr, truth = clip
    ev = events(TurnDetector(AudioConfig(), TurnConfig()), x, sr, 320)
    starts = [t for name, t in ev if name == "TurnStart"]
    ends = [t for name, t in ev if name == "TurnEnd"]
    assert len(starts) == len(ends) == len(truth)
    for s, e, seg in zip(starts, ends, truth):
        assert abs(s - seg["start_s"]) < 0.1
        assert -0.05 < e - seg["end_s"] < 0.2


@pytest.mark.parametrize("chunk", [1, 77, 320, 999, 10**7])
def test_chunking_does_not_change_events(clip, chunk):
    """Streaming parity: any chunking upstream gives the same turn events as one shot."""
    x, sr, _ = clip
    if chunk == 1:
        x = x[: sr * 3]  # sample by sample is slow in Python; 3 s still holds a whole turn
    ref = events(TurnDetector(AudioConfig(), TurnConfig()), x, sr, len(x))
    assert len(ref) >= 2
    assert events(TurnDetector(AudioConfig(), TurnConfig()), x, sr, chunk) == ref


def test_turn_end_reports_decision_delay(clip):
    x, sr, _ = clip
    det = TurnDetector(AudioConfig(), TurnConfig(stop_s=0.5))
    out = []
    for i in range(0, len(x), 320):
        out += det.step(AudioFrame(x[i : i + 320], sr, i / sr))
    ends = [f for f in out if isinstance(f, TurnEnd)]
    assert ends and all(abs((e.t_decided - e.t_capture) - 0.5) < 0.021 for e in ends)


def test_machine_rejects_click_shorter_than_start():
    m = TurnMachine(start_frames=3, stop_frames=2)
    seq = [True, True, False, False, False]
    assert [m.update(s, i * 0.02, (i + 1) * 0.02) for i, s in enumerate(seq)] == [None] * 5
    assert m.state is TurnState.QUIET


def test_machine_states_in_order():
    m = TurnMachine(start_frames=2, stop_frames=2)
    states, evs = [], []
    for i, s in enumerate([True, True, True, False, True, False, False]):
        evs.append(m.update(s, i * 0.02, (i + 1) * 0.02))
        states.append(m.state)
    assert states == [TurnState.STARTING, TurnState.SPEAKING, TurnState.SPEAKING, TurnState.STOPPING,
                      TurnState.SPEAKING, TurnState.STOPPING, TurnState.QUIET]
    assert isinstance(evs[1], TurnStart) and evs[1].t_capture == 0.0
    assert isinstance(evs[-1], TurnEnd) and evs[-1].t_capture == pytest.approx(0.10)


def test_open_turn_closed_at_end_of_stream():
    m = TurnMachine(start_frames=1, stop_frames=5)
    m.update(True, 0.0, 0.02)
    end = m.flush(0.5)
    assert isinstance(end, TurnEnd) and end.t_capture == 0.5


def test_wrong_rate_is_refused_with_advice():
    det = TurnDetector(AudioConfig(), TurnConfig())
    with pytest.raises(ValueError, match="resample"):
        det.step(AudioFrame(np.zeros(480, np.float32), 48000, 0.0))


def test_silence_and_noise_make_no_turn():
    rng = np.random.default_rng(0)
    sr = 16000
    x = np.concatenate([np.zeros(sr), 0.01 * rng.standard_normal(2 * sr)]).astype(np.float32)
    assert events(TurnDetector(AudioConfig(), TurnConfig(vad_aggressiveness=3)), x, sr, 320) == []


def test_energy_gate_ends_turns_at_the_true_end(clip):
    x, sr, truth = clip
    gated = events(TurnDetector(AudioConfig(), TurnConfig()), x, sr, 320)
    plain = events(TurnDetector(AudioConfig(), TurnConfig(energy_margin_db=None)), x, sr, 320)
    g_ends = [t for n, t in gated if n == "TurnEnd"]
    p_ends = [t for n, t in plain if n == "TurnEnd"]
    for g, p, seg in zip(g_ends, p_ends, truth):
        assert abs(g - seg["end_s"]) <= 0.04  # within two frames of the true end
        assert p - g >= 0.06  # webrtcvad alone hangs on for longer


def test_energy_gate_follows_noise_floor():
    from livesense.runtime.vad import EnergyGatedVad

    class Always:
        def is_speech(self, frame):
            return True

    rng = np.random.default_rng(1)
    gate = EnergyGatedVad(Always(), margin_db=8.0)
    noise = [0.02 * rng.standard_normal(320).astype(np.float32) for _ in range(50)]
    assert not any(gate.is_speech(f) for f in noise[5:])  # steady noise is never speech
    tone = 0.3 * np.sin(np.arange(320) * 0.3).astype(np.float32)
    assert gate.is_speech(tone)  # 20 dB above that floor is
