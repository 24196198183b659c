"""Barge-in policy: while the agent is audible only real speech interrupts it."""

from types import SimpleNamespace

import numpy as np
import pytest
from tones import harmonic

from livesense.aec import duplexsim as ds
from livesense.config import AudioConfig, Config, DuplexConfig, TurnConfig
from livesense.frames import AudioFrame, TurnStart
from livesense.runtime.bargein import BargeInPolicy, periodicity
from livesense.runtime.turns import TurnDetector, TurnMachine, TurnState

FS = 16000


def detector(audible: bool, echo_info=None, **duplex) -> TurnDetector:
    policy = BargeInPolicy(AudioConfig(), DuplexConfig(**duplex), lambda t: audible, echo_info)
    return TurnDetector(AudioConfig(), TurnConfig(endpoint_model=None), barge_in=policy)  # one turn per utterance: no early end at its pauses


def onsets(det: TurnDetector, x: np.ndarray, lead_s: float = 0.5) -> list[float]:
    rng = np.random.default_rng(0)
    pad = np.zeros(int(lead_s * FS))
    y = np.concatenate([pad, x, pad, pad]) + rng.standard_normal(len(x) + 3 * len(pad)) * 10 ** (-65 / 20)
    out = []
    for i in range(0, len(y) - 319, 320):
        out += [f.t_capture for f in det.step(AudioFrame(y[i:i + 320].astype(np.float32), FS, i / FS))
                if isinstance(f, TurnStart) and f.resumes < 0]  # new turns (not the user going on after a pause)
    return out


def test_periodicity_tells_voice_from_noise():
    rng = np.random.default_rng(1)
    assert periodicity(harmonic(140, 0.04), FS) > 0.9
    assert periodicity(harmonic(300, 0.04), FS) > 0.9
    assert periodicity(rng.standard_normal(640), FS) < 0.4
    thud = ds.door_slam(rng)[:640]
    assert periodicity(thud, FS) < 0.6
    with pytest.raises(ValueError):
        periodicity(np.zeros(200), FS)


def test_speech_barges_in_from_its_onset(speech):
    got = onsets(detector(audible=True), speech)
    assert len(got) == 1
    assert 0.45 <= got[0] <= 0.6  # the onset of the speech (0.5 s), not the decision time


@pytest.mark.parametrize("noise", ["cough", "clicks", "door_slam", "knocks", "sneeze", "typing", "rustle"])
def test_noises_do_not_barge_in(noise):
    rng = np.random.default_rng(3)
    make = {**ds.TUNE_NOISES, **ds.HELDOUT_NOISES}[noise]
    x = np.concatenate([make(rng) for _ in range(4)])
    assert onsets(detector(audible=True), x) == []


def test_fan_switching_on_does_not_barge_in():
    x = ds.fan(np.random.default_rng(4), 4.0, -35.0)
    assert onsets(detector(audible=True), x) == []


def test_normal_turn_taking_unchanged_when_agent_is_silent(speech):
    """With the agent silent a cough is a (short) turn candidate as before: the policy
    only applies while the agent is audible."""
    got = onsets(detector(audible=False), speech)
    assert len(got) == 1 and 0.45 <= got[0] <= 0.6
    rng = np.random.default_rng(5)
    quiet_det = TurnDetector(AudioConfig(), TurnConfig())
    x = np.concatenate([ds.cough(rng) for _ in range(4)])
    assert onsets(detector(audible=False), x) == onsets(quiet_det, x)


def test_echo_dominated_frames_never_count(speech):
    """The canceller says every frame is its own echo: even speech does not interrupt."""
    echo = lambda t: SimpleNamespace(near_db=-10.0, ref_db=-20.0)  # noqa: E731
    assert onsets(detector(audible=True, echo_info=echo), speech) == []
    near = lambda t: SimpleNamespace(near_db=30.0, ref_db=-120.0)  # noqa: E731 - and the agent ducked
    assert len(onsets(detector(audible=True, echo_info=near), speech)) == 1


def test_min_speech_is_seconds_converted_once():
    policy = BargeInPolicy(AudioConfig(frame_ms=20), DuplexConfig(min_speech_s=0.25, window_s=0.4,
                                                                  min_voiced_s=0.1), lambda t: True)
    assert (policy.need, policy.window, policy.voiced_need) == (12, 20, 5)


def test_machine_begin_is_pure():
    m = TurnMachine(3, 5)
    start = m.begin(1.25)
    assert isinstance(start, TurnStart) and start.t_capture == 1.25
    assert m.state is TurnState.SPEAKING


@pytest.mark.parametrize("onset", [1.2, 1.6])
def test_headphones_user_with_a_comma_pause_barges_in(onset):
    """Headphones (no echo path): the agent talks, the user says "Thank you, that is all."
    at the playback's level soon after the reply began (the canceller has learnt nothing):
    one interrupt, while the user is still talking. (The real-device version of this,
    tests/test_run_devices.py, is where a lost second turn showed up.)"""
    from livesense.aec.duplexsim import DuplexSim
    from livesense.aec.room import RoomConfig, espeak, fit

    bot = fit(espeak("The train leaves at nine fifteen and takes about two hours to get there.",
                     "en-gb-x-rp", 150), 6 * FS, -18)
    first, second = (fit(x, len(x), -18) for x in (espeak("Thank you,", "en-us", 165),
                                                     espeak("that is all.", "en-us", 165)))
    user = np.concatenate([first, np.zeros(int(0.15 * FS)), second])  # one turn: a short comma pause
    extra = np.random.default_rng(0).standard_normal(6 * FS) * 3e-4
    extra[int(onset * FS):int(onset * FS) + len(user)] += user
    sim = DuplexSim(RoomConfig(echo_db=-90.0, rt60_s=0.2, bulk_delay_ms=60, seed=2), bot, Config())
    ev = sim.run(extra, [0.5])
    assert len(ev.interrupts) == 1, (ev.ducks, ev.interrupts)
    assert onset < ev.interrupts[0] < onset + len(user) / FS



@pytest.mark.parametrize("voice,word", [("en-gb+f3", "Sorry?"), ("en-gb-x-rp+m1", "Enough.")])
def test_a_rough_voices_short_word_barges_in_by_its_pitch_track(voice, word):
    """A one-word interruption in a rough espeak-ng voice: its vowel is too weakly periodic
    for ``voicing`` alone, but its pitch holds from frame to frame (``voicing_track``)."""
    from livesense.corpus.conversation import utterance
    from livesense.corpus.voices import Voice

    speed = {"en-gb+f3": 1.09, "en-gb-x-rp+m1": 1.2}[voice]
    pitch = {"en-gb+f3": 28, "en-gb-x-rp+m1": 27}[voice]
    x = utterance(Voice("v", "espeak", voice, speed=speed, pitch=pitch), word)
    assert len(onsets(detector(audible=True), x)) == 1
    assert onsets(detector(audible=True, voicing_track=1.0), x) == []  # periodicity alone misses it
