"""Turn-taking: an explicit state machine over per-frame voice activity.

QUIET --speech--> STARTING --start_s of speech--> SPEAKING --silence--> STOPPING
STOPPING --stop_s of silence--> QUIET (emit TurnEnd); STOPPING --speech--> SPEAKING;
at speculate_s of silence STOPPING emits TurnPending (the TurnEnd to come, so the agent can
start its reply unheard) and, if speech comes back, TurnResumed;
with an end-of-turn model (runtime/endpoint.py) STOPPING may end sooner, from min_stop_s,
when the prosody before the silence says the user has finished; speech that starts within
``resume_s`` of such an early end continues that turn (its TurnStart names it in ``resumes``);
STARTING --silence--> QUIET (a click or cough shorter than start_s is not a turn).

While the agent is audible, an optional ``BargeInPolicy`` (runtime/bargein.py) decides
when a turn starts instead (real speech only: not the agent's echo, a cough or a fan);
the machine is then told with ``begin(onset)``. On the policy's tentative onset the
detector emits ``Duck`` (the output holds the reply) and, if it is not confirmed,
``Unduck``; a confirmed one is a ``TurnStart`` (the agent stage turns it into an Interrupt).

Thresholds are seconds in ``TurnConfig`` and become frame counts here, in one place.
``TurnStart`` carries the speech onset time; ``TurnEnd`` carries the true end of speech
(``t_capture``) and the moment the detector decided (``t_decided``).
"""

from __future__ import annotations

import enum
from typing import Callable

from livesense.config import AudioConfig, TurnConfig
from livesense.frames import AudioFrame, Duck, EndOfStream, Frame, TurnEnd, TurnPending, TurnResumed, TurnStart, Unduck
from livesense.runtime.bargein import BargeInPolicy, Verdict
from livesense.runtime.endpoint import Endpointer, endpointer_for, open_model
from livesense.runtime.reframe import Reframer
from livesense.runtime.vad import EnergyGatedVad, Vad, WebRtcVad


class TurnState(enum.Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


class TurnMachine:
    """Pure state machine: feed (is_speech, t_start, t_end) per frame, get events."""

    def __init__(self, start_frames: int, stop_frames: int, min_stop_frames: int | None = None,
                 ended: Callable[[int], bool] | None = None, frame_s: float = 0.02,
                 pending_frames: int | None = None, resume_s: float | None = None) -> None:
        self.start_frames = start_frames
        self.stop_frames = stop_frames
        self.min_stop_frames = stop_frames if min_stop_frames is None else min(min_stop_frames, stop_frames)
        self.ended = ended  # (silent frames so far) -> has the turn ended? asked from min_stop_frames on
        # speech starting this soon after an early end continues that turn (default: a pause the fixed rule keeps)
        self.resume_s = stop_frames * frame_s if resume_s is None else resume_s
        self.pending_frames = pending_frames  # silent frames before TurnPending (None: never)
        self.reset()

    def reset(self) -> None:
        self.state = TurnState.QUIET
        self._run = 0
        self._onset = 0.0
        self._end = 0.0
        self._early: tuple[float, float, int] | None = None  # (onset, end, TurnEnd id) of a turn ended early
        self._pending: TurnEnd | None = None  # announced by TurnPending, not decided yet

    def _start(self, onset: float) -> TurnStart:
        """A turn starting within resume_s of an early end continues it: the user only paused.
        Its TurnEnd then spans both parts (``speech_s`` from the first onset), so the agent
        hears the whole utterance; the TurnStart names the turn it resumes (its reply is cut)."""
        early, self._early = self._early, None
        resumes = early is not None and onset - early[1] < self.resume_s
        self._onset = early[0] if resumes else onset
        return TurnStart(t_capture=onset, resumes=early[2] if resumes else -1)

    def update(self, speech: bool, t0: float, t1: float) -> Frame | None:
        handler = getattr(self, f"_on_{self.state.value}")
        return handler(speech, t0, t1)

    def begin(self, onset: float) -> Frame:
        """Start a turn now at ``onset``, decided elsewhere (the barge-in policy)."""
        self.state = TurnState.SPEAKING
        return self._start(onset)

    def _on_quiet(self, speech, t0, t1):
        if speech:
            self.state, self._run, self._first = TurnState.STARTING, 1, t0
            return self._on_starting_confirmed(t1)
        return None

    def _on_starting(self, speech, t0, t1):
        if not speech:
            self.state = TurnState.QUIET
            return None
        self._run += 1
        return self._on_starting_confirmed(t1)

    def _on_starting_confirmed(self, t1):
        if self._run >= self.start_frames:
            self.state = TurnState.SPEAKING
            return self._start(self._first)
        return None

    def _on_speaking(self, speech, t0, t1):
        if not speech:
            self.state, self._run, self._end = TurnState.STOPPING, 1, t0
            return self._on_stopping_confirmed(t1)
        return None

    def _on_stopping(self, speech, t0, t1):
        if speech:
            self.state = TurnState.SPEAKING
            pending, self._pending = self._pending, None
            return TurnResumed(t_capture=t0, turn=pending.id) if pending else None
        self._run += 1
        return self._on_stopping_confirmed(t1)

    def _on_stopping_confirmed(self, t1):
        early = self._run < self.stop_frames and self.ended is not None and self._run >= self.min_stop_frames \
            and self.ended(self._run)
        if early or self._run >= self.stop_frames:
            self.state = TurnState.QUIET
            pending, self._pending = self._pending, None
            end = TurnEnd(t_capture=self._end, t_decided=t1, speech_s=self._end - self._onset,
                          **({"id": pending.id} if pending else {}))
            self._early = (self._onset, self._end, end.id) if early else None
            return end
        if self._run == self.pending_frames:
            self._pending = TurnEnd(t_capture=self._end, t_decided=t1, speech_s=self._end - self._onset)
            return TurnPending(self._pending)
        return None

    def flush(self, t: float) -> Frame | None:
        """End of input: close an open turn at its last speech frame."""
        if self.state in (TurnState.SPEAKING, TurnState.STOPPING):
            end = self._end if self.state is TurnState.STOPPING else t
            self.state = TurnState.QUIET
            pending, self._pending = self._pending, None
            return TurnEnd(t_capture=end, t_decided=t, speech_s=end - self._onset,
                           **({"id": pending.id} if pending and self._end == end else {}))
        self.state = TurnState.QUIET
        return None


def default_vad(audio: AudioConfig, turn: TurnConfig) -> Vad:
    vad: Vad = WebRtcVad(audio.sample_rate, audio.frame_ms, turn.vad_aggressiveness)
    if turn.energy_margin_db is not None:
        vad = EnergyGatedVad(vad, margin_db=turn.energy_margin_db, frame_s=audio.frame_ms / 1000)
    return vad


def default_endpointer(audio: AudioConfig, turn: TurnConfig) -> Endpointer | None:
    """The end-of-turn model's helper (prosodic or sequence), or None: none configured, or
    turns queue (no barge-in), where an early end could not be taken back."""
    if turn.endpoint_model is None or not turn.barge_in:
        return None
    return endpointer_for(open_model(turn.endpoint_model), audio.sample_rate, audio.frame_size, audio.frame_ms / 1000,
                          lambda: default_vad(audio, turn))


class TurnDetector:
    """Stage: passes every frame through and inserts TurnStart/TurnEnd where they happen."""

    name = "turns"

    def __init__(self, audio: AudioConfig, turn: TurnConfig, vad: Vad | None = None,
                 barge_in: BargeInPolicy | None = None) -> None:
        self.audio = audio
        self.barge_in = barge_in
        self.vad = vad or default_vad(audio, turn)
        self.reframer = Reframer(audio.frame_size, audio.sample_rate)
        self._frame_s = audio.frame_ms / 1000
        self.endpointer = default_endpointer(audio, turn)
        ended = self.endpointer.ended if self.endpointer else None
        pending = turn.frames(turn.speculate_s, audio.frame_ms) if turn.speculate_s and turn.barge_in else None
        self.machine = TurnMachine(turn.frames(turn.start_s, audio.frame_ms), turn.frames(turn.stop_s, audio.frame_ms),
                                   turn.frames(turn.min_stop_s, audio.frame_ms), ended, self._frame_s, pending,
                                   turn.resume_s)

    @property
    def state(self) -> TurnState:
        return self.machine.state

    def reset(self) -> None:
        self.reframer.reset()
        self.machine.reset()
        if self.endpointer is not None:
            self.endpointer.reset()
        if hasattr(self.vad, "reset"):
            self.vad.reset()
        if self.barge_in is not None:
            self.barge_in.reset()

    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, EndOfStream):
            event = self.machine.flush(frame.t_capture)
            return [event, frame] if event else [frame]
        if not isinstance(frame, AudioFrame):
            return [frame]
        out: list[Frame] = []
        for f in self.reframer.push(frame):
            events = self._decide(f)
            ends = (TurnEnd, TurnPending)  # follow the audio they end
            out += [e for e in events if not isinstance(e, ends)]  # TurnStart, TurnResumed, Duck, Unduck
            out.append(f)
            out += [e for e in events if isinstance(e, ends)]
        return out

    def _decide(self, f: AudioFrame) -> list[Frame]:
        speech, t0 = self.vad.is_speech(f.samples), f.t_capture
        if self.endpointer is not None:
            self.endpointer.push(f.samples, speech)
        policy = self.barge_in
        if policy is None or self.machine.state not in (TurnState.QUIET, TurnState.STARTING):
            return _some(self.machine.update(speech, t0, t0 + self._frame_s))
        if not policy.armed(t0):
            release = [Unduck(t_capture=t0)] if policy.ducked else []
            policy.clear()
            return release + _some(self.machine.update(speech, t0, t0 + self._frame_s))
        verdict, t = policy.update(f.samples, t0, speech)
        if verdict is Verdict.BARGE_IN:
            return [self.machine.begin(t)]
        control = {Verdict.DUCK: [Duck(t_capture=t)], Verdict.RELEASE: [Unduck(t_capture=t)]}.get(verdict, [])
        return control + _some(self.machine.update(False, t0, t0 + self._frame_s))


def _some(event: Frame | None) -> list[Frame]:
    return [] if event is None else [event]
