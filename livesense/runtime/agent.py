"""The agent stage: hears the user, answers each finished turn, and yields to barge-in.

An ``Agent`` (the native model, the cascade, or a test agent) observes user frames and,
for each ``TurnEnd``, returns a *lazy* iterator of reply frames. ``AgentStage`` pulls that
iterator one item at a time from ``poll()``, so the pipeline can hand it a ``TurnStart``
(user barged in) between any two chunks: the reply is closed at once and an ``Interrupt``
naming the reply goes downstream, where it overtakes queued audio. A ``TurnStart`` that
resumes a turn ended early at a pause cuts that turn's reply the same way (``reason``
"resume", counted as ``resumes``, not ``interrupts``) and the agent forgets the reply
(``discarded``): the turn goes on and is answered whole when it ends.

Speculation: on ``TurnPending`` (the user went quiet; the turn will probably end) the stage
starts the reply at once and pulls it until its first audio, holding everything unheard.
If the ``TurnEnd`` with the same id follows, the held frames go out at once — the agent's
compute overlapped the rest of the end-of-turn wait; on ``TurnResumed`` (the user went on)
they are dropped and the agent is told (``discarded``) so the reply leaves no trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

from livesense.clock import Clock
from livesense.config import TurnConfig
from livesense.frames import (AudioFrame, Duck, EndOfStream, Frame, Interrupt, ReplyEnd, TurnEnd, TurnPending,
                              TurnResumed, TurnStart, Unduck)
from livesense.runtime.output import PlaybackState
from livesense.runtime.tracing import Tracer

log = logging.getLogger(__name__)

Mark = Callable[[str], None]


class Agent(Protocol):
    name: str

    def observe(self, frame: Frame) -> None:
        """User audio/video/tokens as they arrive (must be cheap)."""

    def respond(self, turn: TurnEnd, mark: Mark) -> Iterator[Frame]:
        """Reply frames (AudioFrame/TextFrame with ``turn=turn.id``), produced lazily.
        Call ``mark("first_token")`` when the first output token exists."""

    def interrupted(self, turn: TurnEnd) -> None:
        """The reply to ``turn`` was cut off by the user."""

    def reset(self) -> None:
        ...

    # optional: ``discarded(turn)`` — a reply started on a TurnPending was dropped unheard
    # (the user went on); undo anything respond() recorded for it.
    # optional: ``prepare(start)`` — the user started a turn (``start``, a TurnStart) and no reply
    # is running: compute now what the reply will need (e.g. an LLM prefill, the turn's audio so far).


@dataclass
class _Speculation:
    """A reply started on TurnPending, held unheard until its TurnEnd."""

    turn: TurnEnd
    started: float
    reply: Iterator[Frame] | None = None
    held: list[Frame] = field(default_factory=list)
    marks: list[tuple[str, float]] = field(default_factory=list)
    done: bool = False  # the reply ended while held

    def ready(self) -> bool:
        return self.done or any(isinstance(f, AudioFrame) for f in self.held)


class AgentStage:
    name = "agent"

    def __init__(self, agent: Agent, clock: Clock, tracer: Tracer, turn: TurnConfig,
                 playback: PlaybackState | None = None) -> None:
        self.agent = agent
        self.clock = clock
        self.tracer = tracer
        self.min_turn_s = turn.min_turn_s
        self.barge_in = turn.barge_in
        self._reply: Iterator[Frame] | None = None
        self._turn: TurnEnd | None = None
        self._pending: list[TurnEnd] = []  # turns waiting for the reply in progress (no barge-in)
        self.playback = playback or PlaybackState()  # is generated speech still being heard?
        self._answered: dict[int, TurnEnd] = {}  # recent replies by turn id (bounded)
        self._spec: _Speculation | None = None  # a reply started on TurnPending, unheard

    @property
    def busy(self) -> bool:
        """Has work to do between frames: a reply, or a held one not ready yet."""
        return self._reply is not None or (self._spec is not None and not self._spec.ready())

    def reset(self) -> None:
        self._cancel()
        self._discard()
        self._pending.clear()
        self.agent.reset()

    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, TurnPending):
            return self._speculate(frame.turn)
        if isinstance(frame, TurnResumed):
            self._discard()
            return []
        if isinstance(frame, TurnStart):
            self._discard()
            out = self._barge_in(frame)
            self._prepare(frame)
            return out
        if isinstance(frame, TurnEnd):
            return self._start_reply(frame)
        if isinstance(frame, EndOfStream):
            self._discard()
            return self._drain() + [frame]
        if isinstance(frame, (Duck, Unduck)):
            return [frame]  # for the output stage: hold or resume the reply's audio
        if not isinstance(frame, Interrupt):
            self.agent.observe(frame)
        return []

    def poll(self) -> list[Frame]:
        """Advance the current reply (or the held speculative one, up to its first audio) by one item."""
        if self._reply is None:
            return self._advance_speculation()
        try:
            frame = next(self._reply)
        except StopIteration:
            return self._finish()
        return self._emit(frame)

    def _emit(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, AudioFrame) and self._turn is not None:
            self.tracer.mark(self._turn.id, "first_audio", self.clock.now())
        return [frame]

    def _start_reply(self, turn: TurnEnd) -> list[Frame]:
        spec = self._spec if self._spec is not None and self._spec.turn.id == turn.id else None
        if spec is None:
            self._discard()  # (a held reply to another turn cannot be this one's)
        if turn.speech_s < self.min_turn_s:
            self._discard()
            self.tracer.count("short_turns_ignored")
            return []
        if self._reply is not None:
            self._pending.append(turn)
            return [turn]
        self._turn = turn
        self._answered[turn.id] = turn
        for old in list(self._answered)[:-8]:
            del self._answered[old]
        self.tracer.mark(turn.id, "speech_end", turn.t_capture)
        self.tracer.mark(turn.id, "turn_decided", turn.t_decided)
        if spec is not None:
            return [turn] + self._adopt(spec)
        self.tracer.mark(turn.id, "reply_start", self.clock.now())
        self._reply = iter(self.agent.respond(turn, self._marker(turn.id)))
        return [turn]

    # --- speculation: a reply started on TurnPending --------------------------------

    def _speculate(self, turn: TurnEnd) -> list[Frame]:
        if not self.barge_in or self._reply is not None or turn.speech_s < self.min_turn_s:
            return []  # busy, or turns queue: no reply may start before its TurnEnd
        self._discard()
        spec = _Speculation(turn, self.clock.now())
        spec.reply = iter(self.agent.respond(turn, lambda name: spec.marks.append((name, self.clock.now()))))
        self._spec = spec
        self.tracer.count("speculations")
        return []

    def _advance_speculation(self) -> list[Frame]:
        spec = self._spec
        if spec is None or spec.ready():
            return []  # nothing held, or its first audio is ready: wait for the decision
        try:
            spec.held.append(next(spec.reply))
        except StopIteration:
            spec.done = True
        return []

    def _adopt(self, spec: _Speculation) -> list[Frame]:
        """The turn ended as announced: the held reply becomes the reply, heard from now."""
        self._spec, now, tid = None, self.clock.now(), spec.turn.id
        self.tracer.count("speculations_used")
        self.tracer.mark(tid, "reply_start", spec.started)
        for name, t in spec.marks:  # work done before the decision counts as ready at the decision
            self.tracer.mark(tid, name, max(t, now))
        self._reply = spec.reply
        out: list[Frame] = []
        for f in spec.held:
            out += self._emit(f)
        return out + (self._finish() if spec.done else [])

    def _discard(self) -> None:
        spec, self._spec = self._spec, None
        if spec is None:
            return
        if spec.reply is not None and hasattr(spec.reply, "close"):
            spec.reply.close()
        if hasattr(self.agent, "discarded"):
            self.agent.discarded(spec.turn)
        self.tracer.count("speculations_dropped")

    def _prepare(self, start: TurnStart) -> None:
        """While the user speaks the agent thread is idle: let the agent get ready."""
        if self._reply is None and hasattr(self.agent, "prepare"):
            t0 = self.clock.now()
            self.agent.prepare(start)
            self.tracer.count("prepared")
            log.debug("agent prepared in %.0f ms", 1000 * (self.clock.now() - t0))

    def _marker(self, turn_id: int) -> Mark:
        return lambda name: self.tracer.mark(turn_id, name, self.clock.now())

    def _barge_in(self, start: TurnStart) -> list[Frame]:
        """The user speaks while the agent generates or is still heard: cut both."""
        audible = self.playback.speaking(self.clock.now())
        if not self.barge_in or (self._reply is None and audible is None):
            return [start]
        turn = self._turn if self._reply is not None else self._answered.get(audible)
        if turn is None:
            return [start]
        self._cancel()
        if start.resumes == turn.id:  # the turn was ended at a pause: its reply is dropped, the turn goes on
            getattr(self.agent, "discarded", self.agent.interrupted)(turn)
            self.tracer.count("resumes")
            self.tracer.mark(turn.id, "resumed", self.clock.now())
            log.info("resume: the user went on after a pause; reply to turn %d cut off", turn.id)
            return [Interrupt(t_capture=start.t_capture, reason="resume", turn=turn.id), start]
        self.agent.interrupted(turn)
        self.tracer.count("interrupts")
        self.tracer.mark(turn.id, "interrupted", self.clock.now())
        log.info("barge-in: reply to turn %d cut off", turn.id)
        return [Interrupt(t_capture=start.t_capture, turn=turn.id), start]

    def _drain(self) -> list[Frame]:
        out: list[Frame] = []
        while self._reply is not None:
            out += self.poll()
        return out

    def _finish(self) -> list[Frame]:
        turn, now = self._turn, self.clock.now()
        self.tracer.mark(turn.id, "reply_done", now)
        self._reply, self._turn = None, None
        if self._pending:
            self._start_reply(self._pending.pop(0))
        return [ReplyEnd(t_capture=now, turn=turn.id)]

    def _cancel(self) -> None:
        if self._reply is not None and hasattr(self._reply, "close"):
            self._reply.close()
        self._reply, self._turn = None, None
