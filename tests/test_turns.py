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


FIXED = TurnConfig(endpoint_model=None)  # the fixed stop_s wait, no prosodic end-of-turn model


def test_turns_found_near_true_boundaries(clip):
    x, sr, truth = clip
    ev = events(TurnDetector(AudioConfig(), FIXED), x, sr, 320)
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
    det = TurnDetector(AudioConfig(), TurnConfig(stop_s=0.5, endpoint_model=None))
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
    gated = events(TurnDetector(AudioConfig(), FIXED), x, sr, 320)
    plain = events(TurnDetector(AudioConfig(), TurnConfig(energy_margin_db=None, endpoint_model=None)), x, sr, 320)
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


def test_with_the_endpoint_model_each_turn_still_spans_the_whole_utterance(clip):
    """The shipped model may end a turn at a pause ("Hello there. | What colour ...");
    speech within stop_s continues it, so the last TurnEnd of each true turn spans it from
    its true start, and it is decided no later than the fixed rule would."""
    x, sr, truth = clip
    out = []
    det = TurnDetector(AudioConfig(), TurnConfig(endpoint_model="shipped"))
    assert det.endpointer is not None
    for i in range(0, len(x), 320):
        out += det.step(AudioFrame(x[i : i + 320], sr, i / sr))
    ends = [f for f in out if isinstance(f, TurnEnd)]
    for seg in truth:
        last = [e for e in ends if seg["start_s"] < e.t_capture <= seg["end_s"] + 0.2][-1]
        assert abs(last.t_capture - seg["end_s"]) < 0.05
        assert abs(last.t_capture - last.speech_s - seg["start_s"]) < 0.1
        assert last.t_decided - last.t_capture <= TurnConfig().stop_s + 0.021


def test_machine_ends_early_when_the_model_says_so_and_merges_a_resumption():
    asked = []
    m = TurnMachine(start_frames=1, stop_frames=10, min_stop_frames=3,
                    ended=lambda k: asked.append(k) or k >= 4)
    seq = [True] * 5 + [False] * 4 + [True] * 3 + [False] * 10
    evs = [m.update(s, i * 0.02, (i + 1) * 0.02) for i, s in enumerate(seq)]
    ends = [e for e in evs if isinstance(e, TurnEnd)]
    assert asked[:2] == [3, 4]  # asked from min_stop_frames on
    assert ends[0].t_decided == pytest.approx(0.18) and ends[0].t_capture == pytest.approx(0.10)
    # the user went on 80 ms later (< stop_frames): the next turn spans both parts
    assert ends[1].t_capture == pytest.approx(0.24)
    assert ends[1].speech_s == pytest.approx(0.24)
    starts = [e for e in evs if isinstance(e, TurnStart)]
    assert [s.resumes for s in starts] == [-1, ends[0].id]  # the second start names the turn it goes on with


def test_speech_long_after_an_early_end_is_a_new_turn():
    m = TurnMachine(start_frames=1, stop_frames=10, min_stop_frames=3, ended=lambda k: k >= 4)
    seq = [True] * 5 + [False] * 14 + [True] * 3 + [False] * 10  # 280 ms of silence > stop_frames
    evs = [m.update(s, i * 0.02, (i + 1) * 0.02) for i, s in enumerate(seq)]
    starts, ends = [e for e in evs if isinstance(e, TurnStart)], [e for e in evs if isinstance(e, TurnEnd)]
    assert [s.resumes for s in starts] == [-1, -1] and ends[1].speech_s == pytest.approx(0.06)


def test_machine_waits_stop_frames_when_the_model_is_unsure():
    m = TurnMachine(start_frames=1, stop_frames=6, min_stop_frames=2, ended=lambda k: False)
    seq = [True] * 3 + [False] * 8
    ends = [e for i, s in enumerate(seq) if isinstance(e := m.update(s, i * 0.02, (i + 1) * 0.02), TurnEnd)]
    assert len(ends) == 1 and ends[0].t_decided == pytest.approx(0.18)
