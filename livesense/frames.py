"""The typed things that travel through the pipeline.

Every frame is stamped with ``t_capture`` (seconds on the injected clock) at the moment
its content entered the system, so latency can be measured from the mouth, not from
wherever a stage happened to see it. Derived frames keep their origin's ``t_capture``.

``Interrupt``, ``Duck`` and ``Unduck`` are *system* frames: channels let them overtake
queued data, so a barge-in is never stuck behind reply audio (see ``runtime.channel``). The other control frames
(``TurnStart``, ``TurnEnd``, ``EndOfStream``) stay in order with the audio they describe:
the agent must have heard every frame of a turn before it answers it, and a new turn
cannot start before the previous one ended.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import ClassVar, Union

import numpy as np

_ids = itertools.count()


def next_id() -> int:
    """A process-wide increasing id for frames (used to join latency spans)."""
    return next(_ids)


@dataclass
class AudioFrame:
    """Mono float32 PCM in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    t_capture: float
    turn: int = -1  # id of the TurnEnd this audio answers; -1 for captured (user) audio
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass
class VideoFrame:
    """One camera image, RGB uint8, shape (H, W, 3)."""

    image: np.ndarray
    t_capture: float
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False


@dataclass
class Tokens:
    """Discrete ids of one modality ("audio", "image", "text") covering one time span."""

    kind: str
    ids: np.ndarray
    t_capture: float
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False


@dataclass
class TextFrame:
    """Text produced by the agent (its transcript), streamed piece by piece."""

    text: str
    t_capture: float
    final: bool = False
    turn: int = -1  # id of the TurnEnd this text answers
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False


@dataclass
class Interrupt:
    """User barged in: stop generating, flush every queued sample now."""

    t_capture: float
    reason: str = "barge-in"  # or "resume": the user went on after a pause the turn was ended at
    turn: int = -1  # the reply (TurnEnd id) being cut off
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = True


@dataclass
class Duck:
    """Maybe the user is barging in (a tentative onset while the agent is audible): hold the
    reply's audio now, with a short fade, keeping every queued sample. A ``TurnStart`` that
    confirms it brings the ``Interrupt`` (flush); an ``Unduck`` resumes where it stopped."""

    t_capture: float  # the tentative onset
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = True


@dataclass
class Unduck:
    """The tentative onset was not confirmed (a cough, a knock): resume the held reply."""

    t_capture: float  # the frame that decided it
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = True


@dataclass
class TurnStart:
    """The user started speaking (onset time, not decision time, in ``t_capture``).
    ``resumes``: the id of the turn an end-of-turn model ended early that this speech
    continues (the user only paused; its next ``TurnEnd`` spans both parts), else -1."""

    t_capture: float
    resumes: int = -1
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False  # ordered: after the previous TurnEnd


@dataclass
class TurnEnd:
    """The user stopped speaking. ``t_capture`` is the end of speech; ``t_decided`` when the
    turn detector was sure (the difference is end-of-turn decision latency)."""

    t_capture: float
    t_decided: float = 0.0
    speech_s: float = 0.0  # length of the user's speech in this turn
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False  # ordered: follows the turn's audio


@dataclass
class TurnPending:
    """The user went quiet and the turn will probably end: ``turn`` is the TurnEnd that
    follows (same id) unless the user goes on (``TurnResumed``). The agent may start its
    reply now and hold it unheard until then (``TurnConfig.speculate_s``)."""

    turn: TurnEnd
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False  # ordered: follows the turn's audio

    @property
    def t_capture(self) -> float:
        return self.turn.t_capture


@dataclass
class TurnResumed:
    """The user went on after a ``TurnPending``: the held reply to ``turn`` is dropped unheard."""

    t_capture: float
    turn: int = -1
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False


@dataclass
class ReplyEnd:
    """The agent finished its reply to ``turn`` (not cut off): playback may drain."""

    t_capture: float
    turn: int = -1
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False  # ordered: after the reply's last audio


@dataclass
class EndOfStream:
    """The source is exhausted; stages flush and pass it on."""

    t_capture: float
    id: int = field(default_factory=next_id)
    system: ClassVar[bool] = False  # ordered: comes after the last data frame


Frame = Union[AudioFrame, VideoFrame, Tokens, TextFrame, Interrupt, Duck, Unduck, TurnStart, TurnEnd, TurnPending,
              TurnResumed, ReplyEnd, EndOfStream]
DataFrame = Union[AudioFrame, VideoFrame, Tokens, TextFrame]
ControlFrame = Union[Interrupt, Duck, Unduck, TurnStart, TurnEnd, TurnPending, TurnResumed, ReplyEnd, EndOfStream]
