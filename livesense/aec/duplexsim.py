"""A simulated full-duplex session through the real runtime stages, on a FakeClock.

    agent ─> OutputStage ─> SimSpeaker (JitterBuffer, pulled every 20 ms at DAC time) ─┐
      ^                                        │ ReferenceTap (t_dac)                  │ room IR
      │                                        v                                       v (+ bias)
    AgentStage <─ TurnDetector(+BargeInPolicy) <─ EchoCancelStage <─ mic = echo + user + noise

Each 20 ms tick: the device pulls one block from the jitter buffer for the DAC time
``now + latency`` and hands it to the reference tap; the block goes through the room (a
``tanh`` speaker, the impulse response, and a hidden extra delay ``bias_ms`` the canceller
must find) into the echo timeline; the mic frame captured ``input_latency`` ago is the
echo plus whatever the scenario adds (user speech, coughs, fans); it runs through the
AEC, the turn detector and the agent stage; the agent is polled while the reply keeps
less than ``lookahead_s`` queued (a generator a little faster than real time).

Recorded (seconds from the start): every Interrupt, Duck and Unduck (decision times),
every TurnStart, when the last sample of each interrupted reply left the DAC (``cut_out``),
when each duck's fade ended at the DAC (``held_out``), the played (speaker), mic and AEC
output timelines.
Used by scripts/bench_duplex.py and tests/test_duplex.py.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from livesense.aec.aec import EchoCancelStage, EchoCanceller
from livesense.aec.room import RoomConfig, impulse_response
from livesense.aec.tap import ReferenceTap
from livesense.clock import FakeClock, samples_before
from livesense.config import Config
from livesense.frames import AudioFrame, Duck, Frame, Interrupt, TextFrame, TurnEnd, TurnStart, Unduck
from livesense.playback.jitter import JitterBuffer
from livesense.runtime.agent import AgentStage, Mark
from livesense.runtime.bargein import BargeInPolicy
from livesense.runtime.output import OutputStage, PlaybackState
from livesense.runtime.tracing import Tracer
from livesense.runtime.turns import TurnDetector

FS = 16000


class SpeechAgent:
    """A test agent that answers every turn with the next ``reply_s`` of a long recording."""

    name = "speech"

    def __init__(self, speech: np.ndarray, reply_s: float = 30.0, chunk_s: float = 0.04) -> None:
        self.speech, self.reply = np.asarray(speech, np.float32), int(reply_s * FS)
        self.chunk, self.pos, self.interruptions = int(chunk_s * FS), 0, 0

    def observe(self, frame: Frame) -> None:
        pass

    def respond(self, turn: TurnEnd, mark: Mark) -> Iterator[Frame]:
        mark("first_token")
        yield TextFrame("(speech)", turn.t_capture, final=True, turn=turn.id)
        for _ in range(0, self.reply, self.chunk):
            i = self.pos % (len(self.speech) - self.chunk)
            self.pos += self.chunk
            yield AudioFrame(self.speech[i:i + self.chunk].copy(), FS, turn.t_capture, turn=turn.id)

    def interrupted(self, turn: TurnEnd) -> None:
        self.interruptions += 1

    def reset(self) -> None:
        self.pos = 0


class SimSpeaker:
    """``AudioSink`` over a JitterBuffer that the simulation pulls like a device would.

    ``cuts_device``: like ``SpeakerSink`` with ``PlaybackConfig.cut_device``, a duck or a
    flush drops the device's queue (``on_cut(t)``: the simulation takes back what it had
    scheduled for the room from ``t`` on) instead of letting one latency of audio play out.
    ``cut_residual_s``: what the device still plays after the abort (a sound server's
    committed fragment), so the sound stops that long after the decision.
    """

    def __init__(self, clock: FakeClock, latency_s: float, cuts_device: bool = False, on_cut=None,
                 cut_residual_s: float = 0.0) -> None:
        self.sample_rate, self.clock, self.latency = FS, clock, latency_s
        self.jitter = JitterBuffer(FS, 0.04, 60.0, clock)
        self.cuts_device, self.on_cut, self.cut_residual = cuts_device, on_cut, cut_residual_s

    def write(self, samples: np.ndarray, on_output=None) -> None:
        self.jitter.push(np.asarray(samples, np.float32))
        if on_output is not None:
            on_output(self.clock.now() + self.latency)

    def end_reply(self) -> None:
        self.jitter.end_reply()

    def _cut_at(self) -> float | None:
        t = self.clock.now() + self.cut_residual
        if not self.cuts_device or self.jitter.held or self.jitter.handed_until <= t:
            return None
        if self.on_cut is not None:
            self.on_cut(t)
        return t

    def flush(self) -> int:
        return self.jitter.flush(cut_at=self._cut_at())

    def duck(self, on: bool) -> None:
        self.jitter.hold(cut_at=self._cut_at()) if on else self.jitter.release()

    def drain(self, timeout: float) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class DuplexEvents:
    interrupts: list[float] = field(default_factory=list)  # clock time of each Interrupt (barge-in)
    resumes: list[float] = field(default_factory=list)  # ... and of each reply cut as the user went on after a pause
    turn_starts: list[float] = field(default_factory=list)  # onset time of each TurnStart
    last_out: float = float("-inf")  # end of the last reply sample handed to the DAC
    cut_out: list[float] = field(default_factory=list)  # same, for each interrupted reply
    ducks: list[float] = field(default_factory=list)  # clock time of each Duck
    unducks: list[float] = field(default_factory=list)  # clock time of each Unduck (duck released)
    held_out: list[float] = field(default_factory=list)  # DAC time each duck went silent
    agent_s: float = 0.0  # seconds of agent audio played


class DuplexSim:
    """One room, one session. ``mic_extra`` (the user and noises, on the mic timeline from
    t=0) is given up front; the echo is computed online from what the speaker really
    played, so a flush is heard as silence."""

    def __init__(self, room: RoomConfig, speech: np.ndarray, cfg: Config | None = None, *,
                 latency_s: float = 0.1, input_latency_s: float = 0.02, aec: bool = True,
                 lookahead_s: float = 0.5, t0: float = 100.0, cut_residual_s: float = 0.0) -> None:
        self.cfg = cfg = cfg or Config()
        self.clock = FakeClock(t0)
        self.t0, self.latency, self.in_lat = t0, latency_s, input_latency_s
        self.frame = cfg.audio.frame_size
        self.ir = impulse_response(room, FS)
        self.drive, self.bias = room.nonlinear, int(room.bulk_delay_ms * 1e-3 * FS)
        self.tracer = Tracer(False)
        self.playback = PlaybackState()
        self.speaker = SimSpeaker(self.clock, latency_s, cfg.playback.cut_device, self._cut, cut_residual_s)
        self.agent = SpeechAgent(speech)
        self.tap = ReferenceTap()
        self._in_flight: collections.deque = collections.deque()  # (t_dac, i, block, got) not yet at the DAC
        self.aec = EchoCancelStage(EchoCanceller(), tap=self.tap) if aec else None
        audible = lambda t: self.playback.speaking(t) is not None  # noqa: E731
        policy = BargeInPolicy(cfg.audio, cfg.duplex, audible, self.aec.log.get if aec else None)
        self.turns = TurnDetector(cfg.audio, cfg.turn, barge_in=policy)
        self.agent_stage = AgentStage(self.agent, self.clock, self.tracer, cfg.turn, self.playback)
        self.output = OutputStage(self.speaker, self.clock, self.tracer, self.playback, latency_s)
        self.lookahead = lookahead_s
        self.events = DuplexEvents()

    def run(self, mic_extra: np.ndarray, replies_at: list[float], restart: bool = False) -> DuplexEvents:
        """Simulate ``len(mic_extra)`` samples; the agent starts a reply at each time in
        ``replies_at`` (seconds from the start); ``restart``: and again after each
        interrupt, 1 s later (to keep measuring false barge-ins)."""
        n = len(mic_extra) - len(mic_extra) % self.frame
        self.echo = np.zeros(n + len(self.ir) + 4 * FS)
        self.played = np.zeros(n + 4 * FS)
        self.out = np.zeros(n + 4 * FS)
        self.mic = np.zeros(n)
        pending = sorted(replies_at)
        lag_frames = int(round(self.in_lat * FS / self.frame))
        for k in range(n // self.frame + lag_frames):
            now = self.clock.now() - self.t0
            if pending and now >= pending[0]:
                pending.pop(0)
                self._feed(self.agent_stage.step(TurnEnd(self.clock.now(), self.clock.now(), 1.0)))
            self._device_tick(k)
            j = k - lag_frames  # the mic frame whose capture ended input_latency ago
            if j >= 0:
                before = len(self.events.interrupts)
                self._mic_frame(j, mic_extra)
                if restart and len(self.events.interrupts) > before:
                    pending = sorted(pending + [now + 1.0])
            self._poll()
            self.clock.advance(self.frame / FS)
        self.events.cut_out = [r.t_last_out - self.t0 for r in self.speaker.jitter.replies()
                               if r.interrupted and r.t_last_out is not None]
        self.events.held_out = [t - self.t0 for t in self.speaker.jitter.hold_times()]
        return self.events

    def _device_tick(self, k: int) -> None:
        block = np.zeros(self.frame, np.float32)
        t_dac = self.clock.now() + self.latency
        got = self.speaker.jitter.pull(block, t_dac)
        self.tap(block, t_dac, FS)
        if got:
            self.events.last_out = t_dac + got / FS
            self.events.agent_s += got / FS
        i = int(round((t_dac - self.t0) * FS))  # position on the mic timeline
        if i >= len(self.played):
            return
        self.played[i:i + self.frame] = block
        if got:
            self._room(block, i, +1.0)
            while self._in_flight and self._in_flight[0][0] + self.frame / FS <= self.clock.now():
                self._in_flight.popleft()
            self._in_flight.append((t_dac, i, block, got))

    def _room(self, block: np.ndarray, i: int, sign: float) -> None:
        """Add (or take back) the echo of ``block`` played from mic-timeline sample ``i``."""
        spk = np.tanh(self.drive * block) / self.drive if self.drive > 0 else block
        e = np.convolve(spk, self.ir)
        a = i + self.bias
        self.echo[a:a + len(e)] += sign * e[:max(0, len(self.echo) - a)]

    def _cut(self, t: float) -> None:
        """The device dropped its queue at ``t``: what it would have played from then on
        never reaches the room (nor the canceller's reference)."""
        self.tap.cut(t)
        for t_dac, i, block, got in self._in_flight:
            k = samples_before(t, t_dac, FS)
            if k >= got:
                continue
            tail = np.zeros_like(block)
            tail[k:got] = block[k:got]
            self._room(tail, i, -1.0)
            self.played[i + k:i + self.frame] = 0.0
            self.events.agent_s -= (got - k) / FS
        self._in_flight.clear()
        self.events.last_out = min(self.events.last_out, t)

    def _mic_frame(self, j: int, mic_extra: np.ndarray) -> None:
        s = slice(j * self.frame, (j + 1) * self.frame)
        x = (self.echo[s] + mic_extra[s]).astype(np.float32)
        self.mic[s] = x
        frame = AudioFrame(x, FS, self.t0 + j * self.frame / FS)
        frames = self.aec.step(frame) if self.aec is not None else [frame]
        for f in frames:
            if isinstance(f, AudioFrame) and self.aec is not None:
                i = int(round((f.t_capture - self.t0) * FS))
                if 0 <= i < len(self.out) - self.frame:
                    self.out[i:i + self.frame] = f.samples
            for g in self.turns.step(f):
                if isinstance(g, TurnStart):
                    self.events.turn_starts.append(g.t_capture - self.t0)
                self._feed(self.agent_stage.step(g))

    def _poll(self) -> None:
        while self.agent_stage.busy and self.speaker.jitter.buffered_s < self.lookahead:
            self._feed(self.agent_stage.poll())

    def _feed(self, frames: list[Frame]) -> None:
        for f in frames:
            now = self.clock.now() - self.t0
            if isinstance(f, Interrupt):
                (self.events.resumes if f.reason == "resume" else self.events.interrupts).append(now)
            elif isinstance(f, Duck):
                self.events.ducks.append(now)
            elif isinstance(f, Unduck):
                self.events.unducks.append(now)
            self.output.step(f)


# ---- generated noises (seeded) ----------------------------------------------------------
def _band(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(4, [lo, hi], "bandpass", fs=FS, output="sos"), x)


def _at_rms(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * 10 ** (dbfs / 20) / (np.sqrt(np.mean(x * x)) + 1e-12)


def cough(rng: np.random.Generator, dbfs: float = -18.0) -> np.ndarray:
    """One or two bursts of band-passed noise, sharp attack, 120-300 ms decay."""
    out = []
    for _ in range(rng.integers(1, 3)):
        n = int(rng.uniform(0.15, 0.35) * FS)
        env = np.exp(-np.arange(n) / (rng.uniform(0.04, 0.1) * FS)) * (1 - np.exp(-np.arange(n) / 40))
        out += [_band(rng.standard_normal(n), rng.uniform(200, 500), rng.uniform(2500, 5000)) * env,
                np.zeros(int(rng.uniform(0.05, 0.2) * FS))]
    x = np.concatenate(out)
    return _at_rms(x, dbfs) * 1.0


def clicks(rng: np.random.Generator, dbfs: float = -20.0) -> np.ndarray:
    """A few 1-3 ms clicks (pen, mouse, tongue) 50-300 ms apart."""
    x = np.zeros(int(0.8 * FS))
    for _ in range(rng.integers(1, 5)):
        i, m = rng.integers(0, len(x) - 64), rng.integers(16, 48)
        x[i:i + m] += rng.standard_normal(m) * np.hanning(m)
    return x * 10 ** (dbfs / 20) / (np.abs(x).max() + 1e-12) * 8


def door_slam(rng: np.random.Generator, dbfs: float = -14.0) -> np.ndarray:
    """Broadband transient plus a low thud ringing down over ~0.4 s."""
    n = int(0.6 * FS)
    t = np.arange(n) / FS
    thud = _band(rng.standard_normal(n), 40, 250) * np.exp(-t / 0.12)
    crack = _band(rng.standard_normal(n), 500, 6000) * np.exp(-t / 0.015)
    return _at_rms(thud + 0.7 * crack, dbfs)


def fan(rng: np.random.Generator, seconds: float, dbfs: float = -40.0) -> np.ndarray:
    """Steady brown-ish noise (a fan or air conditioning), switched on abruptly."""
    from scipy.signal import lfilter

    x = lfilter([1.0], [1.0, -0.95], rng.standard_normal(int(seconds * FS)))
    return _at_rms(_band(x, 60, 6000), dbfs)


# held out: never used while tuning DuplexConfig
def knocks(rng: np.random.Generator, dbfs: float = -16.0) -> np.ndarray:
    """Knocking on a table: 2-4 short resonant thumps ~150 ms apart."""
    x = np.zeros(int(0.9 * FS))
    f0 = rng.uniform(150, 400)
    for k in range(rng.integers(2, 5)):
        i, t = int(k * rng.uniform(0.12, 0.2) * FS), np.arange(int(0.08 * FS)) / FS
        hit = (np.sin(2 * np.pi * f0 * t) * 0.6 + rng.standard_normal(len(t)) * 0.4) * np.exp(-t / 0.015)
        x[i:i + len(t)] += hit[:len(x) - i]
    return _at_rms(x, dbfs)


def typing(rng: np.random.Generator, dbfs: float = -26.0) -> np.ndarray:
    """Keyboard typing: 8-15 keystrokes (two clicks each) at 6-10 per second."""
    n = int(2.0 * FS)
    x = np.zeros(n)
    i = 0
    for _ in range(rng.integers(8, 16)):
        for off in (0, rng.integers(400, 1200)):
            m = rng.integers(24, 80)
            j = i + off
            if j + m < n:
                x[j:j + m] += _band(rng.standard_normal(m + 64), 1000, 7000)[64:] * np.hanning(m)
        i += int(FS / rng.uniform(6, 10))
    return _at_rms(x[:i + 2000], dbfs)


def sneeze(rng: np.random.Generator, dbfs: float = -14.0) -> np.ndarray:
    """An in-breath then a loud broadband burst."""
    a, b = int(0.3 * FS), int(0.35 * FS)
    inhale = _band(rng.standard_normal(a), 800, 4000) * np.linspace(0, 0.3, a)
    burst = _band(rng.standard_normal(b), 300, 7000) * np.exp(-np.arange(b) / (0.08 * FS))
    return _at_rms(np.concatenate([inhale, burst]), dbfs)


def rustle(rng: np.random.Generator, dbfs: float = -28.0) -> np.ndarray:
    """Paper rustling: 1 s of crackly high-passed noise bursts."""
    n = FS
    env = (rng.random(n // 160) < 0.4).repeat(160) * rng.uniform(0.3, 1.0, n // 160).repeat(160)
    return _at_rms(_band(rng.standard_normal(n), 1500, 7500) * env, dbfs)


TUNE_NOISES = {"cough": cough, "clicks": clicks, "door_slam": door_slam}
HELDOUT_NOISES = {"knocks": knocks, "typing": typing, "sneeze": sneeze, "rustle": rustle}
