"""Speculative replies: started on TurnPending, held unheard, used on the TurnEnd, dropped on
TurnResumed without a trace."""

import numpy as np
import pytest

from livesense.clock import FakeClock
from livesense.config import TurnConfig
from livesense.frames import AudioFrame, Interrupt, ReplyEnd, TextFrame, TurnEnd, TurnPending, TurnResumed, TurnStart
from livesense.runtime.agent import AgentStage
from livesense.runtime.tracing import Tracer
from livesense.runtime.turns import TurnMachine


class SlowAgent:
    """Each reply: a text piece, then three audio chunks; 'compute' advances the fake clock."""

    name = "slow"

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.started, self.closed, self.discards, self.cut = clock, [], [], [], []

    def observe(self, frame):
        pass

    def respond(self, turn, mark):
        self.started.append(turn.id)
        try:
            self.clock.advance(0.2)  # thinking
            mark("first_token")
            yield TextFrame("hi", turn.t_capture, turn=turn.id)
            for _ in range(3):
                self.clock.advance(0.01)
                yield AudioFrame(np.full(320, 0.1, np.float32), 16000, turn.t_capture, turn=turn.id)
        finally:
            self.closed.append(turn.id)

    def interrupted(self, turn):
        self.cut.append(turn.id)

    def discarded(self, turn):
        self.discards.append(turn.id)

    def reset(self):
        pass


def stage_with_agent():
    clock = FakeClock(10.0)
    agent = SlowAgent(clock)
    stage = AgentStage(agent, clock, Tracer(), TurnConfig())
    return clock, agent, stage


def drain(stage):
    out = []
    while stage.busy:
        out += stage.poll()
    return out


def test_held_reply_is_heard_at_once_when_the_turn_ends():
    clock, agent, stage = stage_with_agent()
    turn = TurnEnd(t_capture=9.0, t_decided=10.0, speech_s=1.0)
    assert stage.step(TurnPending(turn)) == []
    assert drain(stage) == []  # computed up to its first audio, nothing heard yet
    assert agent.started == [turn.id] and stage.busy is False
    clock.advance(0.2)  # the rest of the end-of-turn wait
    decided = TurnEnd(t_capture=9.0, t_decided=clock.now(), speech_s=1.0, id=turn.id)
    out = stage.step(decided)
    assert [type(f) for f in out] == [TurnEnd, TextFrame, AudioFrame]  # the first audio without waiting
    rest = drain(stage)
    assert [type(f) for f in rest] == [AudioFrame, AudioFrame, ReplyEnd]
    marks = stage.tracer.turns()[turn.id]
    assert marks["first_token"] == pytest.approx(clock.now() - 0.02)  # ready at the decision, not before
    assert marks["first_audio"] <= marks["turn_decided"] + 0.001 + 0.02
    assert stage.tracer.counters()["speculations_used"] == 1 and agent.discards == []


def test_reply_dropped_unheard_when_the_user_goes_on():
    clock, agent, stage = stage_with_agent()
    first = TurnEnd(t_capture=9.0, t_decided=10.0, speech_s=1.0)
    stage.step(TurnPending(first))
    drain(stage)
    assert stage.step(TurnResumed(t_capture=10.1, turn=first.id)) == []
    assert agent.discards == [first.id] and agent.closed == [first.id] and not stage.busy
    # the real end later: a fresh reply over the whole utterance, nothing from the dropped one
    later = TurnEnd(t_capture=11.0, t_decided=11.4, speech_s=3.0)
    out = stage.step(later) + drain(stage)
    assert agent.started == [first.id, later.id]
    assert {f.turn for f in out if isinstance(f, (TextFrame, AudioFrame))} == {later.id}
    assert stage.tracer.counters()["speculations_dropped"] == 1


def test_no_speculation_while_a_reply_plays_or_when_turns_queue():
    clock, agent, stage = stage_with_agent()
    t1 = TurnEnd(t_capture=9.0, t_decided=9.4, speech_s=1.0)
    stage.step(t1)
    stage.poll()  # a reply is in progress
    stage.step(TurnPending(TurnEnd(t_capture=12.0, t_decided=12.2, speech_s=1.0)))
    assert agent.started == [t1.id]
    queued = AgentStage(SlowAgent(clock), clock, Tracer(), TurnConfig(barge_in=False))
    queued.step(TurnPending(TurnEnd(t_capture=9.0, t_decided=9.2, speech_s=1.0)))
    assert queued.agent.started == []


def test_a_barge_in_drops_the_held_reply():
    clock, agent, stage = stage_with_agent()
    turn = TurnEnd(t_capture=9.0, t_decided=10.0, speech_s=1.0)
    stage.step(TurnPending(turn))
    drain(stage)
    out = stage.step(TurnStart(t_capture=10.1))
    assert agent.discards == [turn.id] and agent.cut == []  # never heard: not an interruption
    assert [type(f) for f in out] == [TurnStart]


def test_going_on_after_an_early_end_cuts_the_reply_as_a_resume_not_a_barge_in():
    clock, agent, stage = stage_with_agent()
    turn = TurnEnd(t_capture=9.0, t_decided=9.1, speech_s=1.0)
    stage.step(turn)
    stage.poll()  # the reply is under way
    out = stage.step(TurnStart(t_capture=9.3, resumes=turn.id))
    cut = [f for f in out if isinstance(f, Interrupt)]
    assert len(cut) == 1 and cut[0].reason == "resume" and cut[0].turn == turn.id
    assert agent.discards == [turn.id] and agent.cut == []  # forgotten: the turn is answered whole later
    counters = stage.tracer.counters()
    assert counters.get("resumes") == 1 and "interrupts" not in counters
    assert "resumed" in stage.tracer.turns()[turn.id]  # (benches leave it out of the answered turns)
    stage.step(TurnEnd(t_capture=10.0, t_decided=10.1, speech_s=2.0))
    stage.poll()
    out = stage.step(TurnStart(t_capture=11.0))  # a new turn during the reply: a barge-in
    assert [f.reason for f in out if isinstance(f, Interrupt)] == ["barge-in"] and agent.cut


def test_machine_announces_then_decides_the_same_turn():
    m = TurnMachine(start_frames=1, stop_frames=8, pending_frames=3)
    seq = [True] * 5 + [False] * 3 + [True] * 2 + [False] * 8
    evs = [e for i, s in enumerate(seq) if (e := m.update(s, i * 0.02, (i + 1) * 0.02)) is not None]
    kinds = [type(e).__name__ for e in evs]
    assert kinds == ["TurnStart", "TurnPending", "TurnResumed", "TurnPending", "TurnEnd"]
    assert evs[2].turn == evs[1].turn.id
    assert evs[4].id == evs[3].turn.id and evs[4].t_capture == pytest.approx(0.2)
    assert evs[4].t_decided == pytest.approx(0.36) and evs[3].turn.t_decided == pytest.approx(0.26)


def test_agents_undo_a_dropped_reply():
    from livesense.agents.cascade.dialogue import Dialogue
    from livesense.agents.native import NativeAgent

    d = Dialogue(4)
    d.add(1, "hello", "hi")
    d.add(2, "what colour", "red")
    d.forget(2)
    assert [ex.turn for ex in d.history] == [1]
    native = NativeAgent()
    native.context, native._spent = [], (7, ["user", "eou"])
    native.discarded(TurnEnd(t_capture=1.0, id=7))
    assert native.context == ["user", "eou"]  # the barge-in record waits for the next reply
    native.discarded(TurnEnd(t_capture=1.0, id=7))
    assert native.context == ["user", "eou"]  # once
