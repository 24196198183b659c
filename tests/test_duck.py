"""Duck on a tentative barge-in, flush on confirm: streaming, FakeClock, deterministic."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from tones import harmonic

from livesense.aec import duplexsim as ds
from livesense.clock import FakeClock
from livesense.config import AudioConfig, DuplexConfig, TurnConfig
from livesense.frames import AudioFrame, Duck, Interrupt, TurnEnd, TurnStart, Unduck
from livesense.playback.jitter import JitterBuffer
from livesense.runtime.agent import AgentStage
from livesense.runtime.bargein import BargeInPolicy, Verdict, impulse_share
from livesense.runtime.output import OutputStage, PlaybackState
from livesense.runtime.tracing import Tracer
from livesense.runtime.turns import TurnDetector

FS, BLOCK = 16000, 320


def events(x: np.ndarray, echo_info=None, lead_s: float = 0.5,
           duplex: DuplexConfig | None = None) -> list[tuple[str, float, int]]:
    """(kind, time, frame index) of every Duck/Unduck/TurnStart while the agent is audible."""
    policy = BargeInPolicy(AudioConfig(), duplex or DuplexConfig(), lambda t: True, echo_info)
    det = TurnDetector(AudioConfig(), TurnConfig(), barge_in=policy)
    rng = np.random.default_rng(0)
    pad = np.zeros(int(lead_s * FS))
    y = np.concatenate([pad, x, pad, pad]) + rng.standard_normal(len(x) + 3 * len(pad)) * 10 ** (-65 / 20)
    out = []
    for k, i in enumerate(range(0, len(y) - BLOCK + 1, BLOCK)):
        for f in det.step(AudioFrame(y[i:i + BLOCK].astype(np.float32), FS, i / FS)):
            if isinstance(f, (Duck, Unduck, TurnStart)):  # a TurnStart going on after a pause: "Resume"
                out.append(("Resume" if getattr(f, "resumes", -1) >= 0 else type(f).__name__, f.t_capture, k))
    return out


# ---- the policy ---------------------------------------------------------------------
def test_duck_fires_within_one_block_of_a_tentative_onset():
    """A voiced onset: the Duck comes with the second counted frame (duck_s = 40 ms), one
    block after the first, long before the barge-in is confirmed."""
    ev = events(harmonic(140, 1.0))
    onset_frame = int(0.5 * FS) // BLOCK
    kinds = [e[0] for e in ev]
    assert kinds[0] == "Duck" and "TurnStart" in kinds
    _, t, k = ev[0]
    assert abs(t - 0.5) <= 0.02 and k <= onset_frame + 1
    start = ev[kinds.index("TurnStart")]
    assert start[2] > k + 3  # confirmation takes longer: the duck is what the user hears first


def test_duck_voicing_sets_how_clearly_pitched_the_onset_must_be():
    """A pitched sound buried in noise (3 dB SNR: periodicity ~0.68) ducks at the plain
    voicing threshold (0.6) but not at a stricter duck_voicing (0.75); a clear voice ducks
    under both, as fast."""
    rough = harmonic(140, 0.3)
    rough = rough + np.random.default_rng(1).standard_normal(len(rough)) * np.sqrt(np.mean(rough ** 2)) * 10 ** (-3 / 20)
    plain, strict = DuplexConfig(duck_voicing=0.6), DuplexConfig(duck_voicing=0.75)
    assert [e[0] for e in events(rough, duplex=plain)][:1] == ["Duck"]
    assert "Duck" not in [e[0] for e in events(rough, duplex=strict)]
    clear_plain, clear_strict = events(harmonic(140, 1.0), duplex=plain), events(harmonic(140, 1.0), duplex=strict)
    assert clear_plain[0][0] == clear_strict[0][0] == "Duck" and clear_plain[0][2] == clear_strict[0][2]


def test_speech_ducks_then_confirms_from_its_onset(speech):
    ev = events(speech)
    assert [e[0] for e in ev][:1] == ["Duck"]
    starts = [e for e in ev if e[0] == "TurnStart"]
    assert len(starts) == 1 and 0.45 <= starts[0][1] <= 0.6


@pytest.mark.parametrize("noise", ["cough", "door_slam", "sneeze", "rustle", "typing", "knocks"])
def test_noise_during_agent_speech_never_confirms(noise):
    rng = np.random.default_rng(3)
    make = {**ds.TUNE_NOISES, **ds.HELDOUT_NOISES}[noise]
    x = np.concatenate([make(rng) for _ in range(4)])
    ev = events(x)
    assert not [e for e in ev if e[0] == "TurnStart"]
    ducks = [e for e in ev if e[0] == "Duck"]
    assert len([e for e in ev if e[0] == "Unduck"]) == len(ducks)  # every duck is released


def test_clicks_neither_duck_nor_confirm():
    rng = np.random.default_rng(7)
    x = np.concatenate([ds.clicks(rng) for _ in range(6)])
    assert events(x) == []


def test_steady_fan_neither_ducks_nor_confirms():
    assert events(ds.fan(np.random.default_rng(4), 4.0, -35.0)) == []


def test_impulse_share_tells_a_click_from_a_voice():
    frame = np.zeros(BLOCK)
    frame[100:130] = np.hanning(30)
    assert impulse_share(frame, 32) > 0.9
    assert impulse_share(harmonic(140, 0.02), 32) < 0.3  # 10 slices: ~0.1-0.25


def test_confirm_waits_for_voice_clear_of_echo():
    """The canceller says the reference is playing (echo possible): voiced speech ducks but
    does not confirm; once the reference has been quiet the room's tail, it does."""
    playing = lambda t: SimpleNamespace(near_db=30.0, ref_db=-20.0)  # noqa: E731
    ev = events(harmonic(140, 1.5), echo_info=playing)
    assert [e[0] for e in ev][0] == "Duck" and "TurnStart" not in [e[0] for e in ev]
    quiet_from = 0.8  # e.g. the duck silenced the agent
    ducked = lambda t: SimpleNamespace(near_db=30.0, ref_db=-20.0 if t < quiet_from else -120.0)  # noqa: E731
    ev = events(harmonic(140, 1.5), echo_info=ducked)
    starts = [e for e in ev if e[0] == "TurnStart"]
    assert len(starts) == 1 and starts[0][2] * BLOCK / FS >= quiet_from + DuplexConfig().clear_after_s


def test_release_needs_a_new_onset_to_duck_again():
    policy = BargeInPolicy(AudioConfig(), DuplexConfig(voicing=2.0), lambda t: True)  # nothing voiced
    policy._run_voiced = 0
    got = [policy._duck_step(True, True, 0.02 * i)[0] for i in range(3)]
    assert got[1] is Verdict.DUCK
    verdicts = [policy._duck_step(True, False, 0.06 + 0.02 * i)[0] for i in range(60)]
    assert verdicts.count(Verdict.RELEASE) == 1 and Verdict.DUCK not in verdicts
    policy._duck_step(False, False, 2.0)
    assert [policy._duck_step(True, True, 2.02 + 0.02 * i)[0] for i in range(2)][1] is Verdict.DUCK


# ---- the output side ----------------------------------------------------------------
def test_jitter_hold_fades_out_within_a_block_and_release_loses_nothing():
    clock = FakeClock(0.0)
    jb = JitterBuffer(FS, prebuffer_s=0.0, max_buffer_s=5.0, clock=clock)
    x = harmonic(200, 1.0, -12) + 0.05  # no exact zeros: count what was played
    jb.push(x)
    out, played = np.empty(BLOCK, np.float32), []

    def tick():
        got = jb.pull(out, clock.now() + 0.1)
        played.append(out[:].copy())
        clock.advance(BLOCK / FS)
        return got

    for _ in range(5):
        tick()
    jb.hold()
    got = tick()  # the fade: 5 ms, then silence in the same block
    assert got == int(0.005 * FS) and np.all(played[-1][got:] == 0)
    gain = played[-1][:got] / x[5 * BLOCK:5 * BLOCK + got]  # a smooth ramp to silence, not a click
    assert np.all(np.diff(gain) <= 1e-6) and gain[0] > 0.99 and gain[-1] < 0.01
    assert jb.hold_times() == [pytest.approx(5 * BLOCK / FS + 0.1 + 0.005)]
    for _ in range(10):
        assert tick() == 0 and not played[-1].any()  # held: silent, and not an underrun
    assert jb.underruns == 0 and len(jb) == len(x) - 5 * BLOCK - got
    jb.release()
    jb.end_reply()
    while tick():
        pass
    heard = np.concatenate(played)
    assert np.count_nonzero(heard) == len(x)  # every sample generated was played once
    first = 6 + 10  # the block after the hold
    assert np.abs(played[first][:80]).max() < np.abs(played[first][80:160]).max()  # fade-in
    assert jb.stats()["holds"] == 1


def test_flush_while_held_drops_the_held_audio_and_ends_the_hold():
    clock = FakeClock(0.0)
    jb = JitterBuffer(FS, prebuffer_s=0.0, clock=clock)
    jb.push(harmonic(200, 0.5))
    out = np.empty(BLOCK, np.float32)
    jb.pull(out)
    jb.hold()
    jb.pull(out)
    assert jb.flush() > 0 and not jb.held
    jb.push(harmonic(200, 0.1))
    assert jb.pull(out) == BLOCK  # the next reply plays at once


class Reply:
    name = "reply"

    def __init__(self, seconds: float) -> None:
        self.seconds, self.cut = seconds, 0

    def observe(self, frame) -> None:
        pass

    def respond(self, turn, mark):
        for _ in range(int(self.seconds / 0.04)):
            yield AudioFrame(harmonic(180, 0.04, -18) + 0.05, FS, turn.t_capture, turn=turn.id)  # no zeros

    def interrupted(self, turn) -> None:
        self.cut += 1

    def reset(self) -> None:
        pass


def session(seconds: float):
    clock = FakeClock(10.0)
    tracer, playback = Tracer(False), PlaybackState()
    speaker = ds.SimSpeaker(clock, 0.1)
    agent = Reply(seconds)
    stage = AgentStage(agent, clock, tracer, TurnConfig(), playback)
    output = OutputStage(speaker, clock, tracer, playback, 0.1)
    feed = lambda frames: [output.step(f) for f in frames]  # noqa: E731
    feed(stage.step(TurnEnd(clock.now(), clock.now(), 1.0)))
    while stage.busy:
        feed(stage.poll())
    return clock, playback, speaker, agent, stage, feed


def play(clock, speaker, n: int) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        block = np.zeros(BLOCK, np.float32)
        speaker.jitter.pull(block, clock.now() + 0.1)
        out.append(block)
        clock.advance(BLOCK / FS)
    return out


def test_released_duck_resumes_playback_with_no_audio_lost():
    clock, playback, speaker, agent, stage, feed = session(1.0)
    heard = play(clock, speaker, 10)
    feed(stage.step(Duck(clock.now())))
    assert playback.speaking(clock.now() + 1.0) is not None  # still the agent's turn while held
    heard += play(clock, speaker, 15)
    assert not np.concatenate(heard[11:]).any()  # silent from the block after the duck
    feed(stage.step(Unduck(clock.now())))
    heard += play(clock, speaker, 60)
    assert np.count_nonzero(np.concatenate(heard)) == int(1.0 * FS)  # samples played == generated
    assert speaker.jitter.flushes == 0 and agent.cut == 0


def test_confirmed_barge_in_flushes_a_ducked_reply():
    clock, playback, speaker, agent, stage, feed = session(2.0)
    play(clock, speaker, 10)
    feed(stage.step(Duck(clock.now())))
    play(clock, speaker, 10)
    frames = stage.step(TurnStart(clock.now() - 0.2))
    assert isinstance(frames[0], Interrupt)
    feed(frames)
    assert agent.cut == 1 and speaker.jitter.flushes == 1 and len(speaker.jitter) == 0
    assert playback.speaking(clock.now()) is None and not speaker.jitter.held
    assert not np.concatenate(play(clock, speaker, 10)).any()


def test_turn_start_without_interrupt_releases_the_duck():
    clock, playback, speaker, agent, stage, feed = session(1.0)
    feed(stage.step(Duck(clock.now())))
    stage.barge_in = False  # barge-in off: the TurnStart brings no Interrupt
    feed(stage.step(TurnStart(clock.now())))
    assert not speaker.jitter.held and agent.cut == 0


def test_duplex_session_ducks_before_it_flushes(speech):
    """Through the whole simulated room: the user's speech ducks the agent at once, the
    Interrupt comes later, and the output was silent at the DAC before the flush."""
    from livesense.aec.duplexsim import DuplexSim
    from livesense.aec.room import RoomConfig, espeak, fit
    from livesense.config import Config

    bot = fit(espeak("The train leaves at nine fifteen and takes about two hours to get there.",
                     "en-gb-x-rp", 150), 12 * FS, -18)
    extra = np.random.default_rng(0).standard_normal(12 * FS) * 1e-3 * 0.3
    onset = 8.0
    extra[int(onset * FS):int(onset * FS) + len(speech)] += speech
    sim = DuplexSim(RoomConfig(rt60_s=0.3, bulk_delay_ms=50, seed=1), bot, Config())
    ev = sim.run(extra, [0.5])
    assert len(ev.interrupts) == 1 and onset < ev.interrupts[0] < onset + 1.0
    ducks = [t for t in ev.ducks if t >= onset]
    assert ducks and ducks[0] < ev.interrupts[0]
    silent = [t for t in ev.held_out if t >= onset]
    assert silent and silent[0] <= ev.cut_out[0] and silent[0] - onset < 0.35


def test_a_decaying_tail_is_never_clear_of_echo():
    """The agent's voice ringing on in a room the canceller has not learnt: voiced, loud, the
    reference quiet for longer than the tail rule — but falling 1.6 dB per frame. It ducks at
    most; it never confirms (without the decay rule it did). The same tone held steady confirms."""
    quiet_ref = lambda t: SimpleNamespace(near_db=30.0, ref_db=-120.0, adapted=False)  # noqa: E731
    tone = harmonic(140, 1.2)
    tail = tone * 10 ** (-80 * np.arange(len(tone)) / FS / 20)  # -80 dB/s: RT60 0.75 s
    assert "TurnStart" not in [e[0] for e in events(tail, echo_info=quiet_ref)]
    assert "TurnStart" in [e[0] for e in events(tone, echo_info=quiet_ref)]
