"""The agent stage: hears the user, answers each finished turn, and yields to barge-in.

An ``Agent`` (the native model, the cascade, or a test agent) observes user frames and,
for each ``TurnEnd``, returns a *lazy* iterator of reply frames. ``AgentStage`` pulls that
iterator one item at a time from ``poll()``, so the pipeline can hand it a ``TurnStart``
(user barged in) between any two chunks: the reply is closed at once and an ``Interrupt``
naming the reply goes downstream, where it overtakes queued audio.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator, Protocol

from livesense.clock import Clock
from livesense.config import TurnConfig
from livesense.frames import AudioFrame, Duck, EndOfStream, Frame, Interrupt, ReplyEnd, TurnEnd, TurnStart, Unduck
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

    @property
    def busy(self) -> bool:
        return self._reply is not None

    def reset(self) -> None:
        self._cancel()
        self._pending.clear()
        self.agent.reset()

    def step(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, TurnStart):
            return self._barge_in(frame)
        if isinstance(frame, TurnEnd):
            return self._start_reply(frame)
        if isinstance(frame, EndOfStream):
            return self._drain() + [frame]
        if isinstance(frame, (Duck, Unduck)):
            return [frame]  # for the output stage: hold or resume the reply's audio
        if not isinstance(frame, Interrupt):
            self.agent.observe(frame)
        return []

    def poll(self) -> list[Frame]:
        """Advance the current reply by one item."""
        if self._reply is None:
            return []
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
        if turn.speech_s < self.min_turn_s:
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
        self.tracer.mark(turn.id, "reply_start", self.clock.now())
        self._reply = iter(self.agent.respond(turn, self._marker(turn.id)))
        return [turn]

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
