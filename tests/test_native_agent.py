"""NativeAgent: streams audio before the reply is finished, stops when closed, and the
shipped LiveSense-Tiny answers through it."""

from __future__ import annotations

import numpy as np
import pytest

from livesense.agents.native import DEFAULT_MODEL, NativeAgent, NativeConfig
from livesense.frames import AudioFrame, TextFrame, Tokens, TurnEnd

SR = 16000


class Counting:
    """A backend wrapper that counts eval calls (how far generation has gone)."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0
        self.spec, self.n_ctx = inner.spec, inner.n_ctx

    def reset(self):
        self.inner.reset()

    def eval(self, ids, pos, all_logits=False):
        self.calls += 1
        return self.inner.eval(ids, pos, all_logits)


@pytest.fixture(scope="module")
def codec():
    from livesense.codec import LSC1Codec

    return LSC1Codec.load(DEFAULT_MODEL.parent / "lsc1_codebooks.npz")


def tiny_agent(codec, frames=6):
    from livesense.model.backends.torch_backend import TorchBackend
    from livesense.model.tiny import tiny_model

    model, spec, _ = tiny_model(train_steps=0, n_ctx=512)
    backend = Counting(TorchBackend(model, spec))
    return NativeAgent(NativeConfig(max_reply_frames=frames, max_text_bytes=8, unit_gap_frames=0), backend=backend, codec=codec), backend


def hear(agent, seconds=1.0, t0=0.0, block=320):
    rng = np.random.default_rng(0)
    x = (0.1 * np.sin(2 * np.pi * 180 * np.arange(int(seconds * SR)) / SR) + 0.01 * rng.standard_normal(int(seconds * SR)))
    for i in range(0, len(x) - block + 1, block):
        agent.observe(AudioFrame(x[i:i + block].astype(np.float32), SR, t0 + i / SR))
    return t0 + seconds


def test_streams_first_audio_before_generation_ends(codec):
    agent, backend = tiny_agent(codec)
    t = hear(agent)
    marks = []
    turn = TurnEnd(t_capture=t, t_decided=t + 0.1, speech_s=0.8)
    calls_at_first_audio, out = None, []
    for fr in agent.respond(turn, marks.append):
        out.append(fr)
        if isinstance(fr, AudioFrame) and calls_at_first_audio is None:
            calls_at_first_audio = backend.calls
    audio = [f for f in out if isinstance(f, AudioFrame)]
    assert marks[:1] == ["first_token"]
    assert len(audio) == 6 + 1  # frames + decoder tail
    assert all(f.turn == turn.id and f.sample_rate == SR and len(f.samples) == 640 for f in audio)
    assert calls_at_first_audio is not None and calls_at_first_audio < backend.calls, "audio must stream"
    assert isinstance(out[-1], TextFrame) and out[-1].final


def test_stops_when_closed(codec):
    agent, backend = tiny_agent(codec, frames=50)
    t = hear(agent)
    gen = agent.respond(TurnEnd(t_capture=t, speech_s=0.8), lambda name: None)
    for fr in gen:
        if isinstance(fr, AudioFrame):
            break
    calls = backend.calls
    gen.close()  # barge-in
    assert backend.calls == calls
    with pytest.raises(StopIteration):
        next(gen)
    agent.interrupted(TurnEnd(t_capture=t))
    assert agent.interruptions == 1 and agent.context[-2:] == ["user", "eou"]
    seen = []
    real = agent._prompt
    agent._prompt = lambda spec, codes, context=(), *a: seen.append(list(context)) or real(spec, codes, context, *a)
    t = hear(agent, t0=t)
    list(agent.respond(TurnEnd(t_capture=t, speech_s=0.8), lambda name: None))
    list(agent.respond(TurnEnd(t_capture=t, speech_s=0.8), lambda name: None))
    n = len(agent.config.hear_views)  # one prompt per view of the turn, all with the same context
    assert seen == [["user", "eou"]] * n + [[]] * n, "the next turn's stream carries the barge-in, once"


def test_no_audio_no_reply(codec):
    agent, _ = tiny_agent(codec)
    assert list(agent.respond(TurnEnd(t_capture=5.0, speech_s=1.0), lambda n: None)) == []


def test_keeps_latest_image_tokens(codec):
    agent, _ = tiny_agent(codec)
    agent.observe(Tokens(kind="image", ids=np.arange(36), t_capture=0.0))
    agent.observe(Tokens(kind="image", ids=np.arange(36) + 1, t_capture=0.2))
    assert np.array_equal(agent._image, np.arange(36) + 1)


def test_rejects_other_sample_rates(codec):
    agent, _ = tiny_agent(codec)
    with pytest.raises(ValueError, match="resample"):
        agent.observe(AudioFrame(np.zeros(480, np.float32), 48000, 0.0))


def test_shipped_model_answers_a_question():
    """The default agent (shipped Q8_0 GGUF on llama.cpp) answers a spoken question about a
    rendered scene with streamed speech and in-domain text."""
    from livesense.corpus import synth_piper
    from livesense.vision.scenes import random_scene, render
    from livesense.vision.tokenizer import VisionTokenizer

    agent = NativeAgent()
    agent.warm()
    scene = random_scene(np.random.default_rng(1), kind="single", count=1)
    agent.observe(Tokens(kind="image", ids=VisionTokenizer.load().encode(render(scene)), t_capture=0.0))
    x = np.concatenate([np.zeros(3200, np.float32), synth_piper("What colour is it?"), np.zeros(3200, np.float32)])
    for i in range(0, len(x) - 320 + 1, 320):
        agent.observe(AudioFrame(x[i:i + 320], SR, i / SR))
    t = len(x) / SR
    out = list(agent.respond(TurnEnd(t_capture=t, t_decided=t, speech_s=t - 0.2), lambda n: None))
    audio = [f for f in out if isinstance(f, AudioFrame)]
    assert len(audio) >= 5 and isinstance(out[-1], TextFrame) and out[-1].final
    assert agent.last_text.strip(), "the model's inner text is empty"


class Scripted:
    """A backend whose next-token logits are set per prompt (keyed by its first id)."""

    def __init__(self, table):
        self.table, self.state, self.evals = table, None, []

    def reset(self):
        self.state = None

    def eval(self, ids, pos, all_logits=False):
        self.state = int(ids[0])
        self.evals.append(self.state)
        return np.array(self.table[self.state], np.float32)


def test_hear_decides_on_the_mean_and_keeps_the_backing_prompt():
    from types import SimpleNamespace

    from livesense.agents.native import hear

    P = lambda k: SimpleNamespace(ids=np.array([k]), pos=np.zeros((1, 1)))  # noqa: E731
    # prompt 0 prefers token 2, prompts 1 and 2 token 1: the mean picks token 1, backed
    # most by prompt 1, which is re-prefilled because it was not the last one run
    b = Scripted({0: [0, 0, 4, 0], 1: [0, 6, 0, 0], 2: [0, 5, 3, 2]})
    mean, best = hear(b, [P(0), P(1), P(2)])
    assert int(np.argmax(mean)) == 1 and best == 1
    assert b.evals == [0, 1, 2, 1] and b.state == 1
    lp = [np.log(np.exp(r) / np.exp(r).sum()) for r in np.array(list(b.table.values()), np.float64)]
    assert np.allclose(mean, np.mean(lp, 0), atol=1e-5)
    # a mask restricts the decision: token 2 is backed by prompt 0 (re-prefilled) ...
    b.evals.clear()
    mean, best = hear(b, [P(0), P(1), P(2)], mask=np.array([0, 0, 1, 1], bool))
    assert best == 0 and b.evals == [0, 1, 2, 0] and b.state == 0
    # ... token 3 by prompt 2, the last one run: no re-prefill
    b.evals.clear()
    mean, best = hear(b, [P(0), P(1), P(2)], mask=np.array([0, 0, 0, 1], bool))
    assert best == 2 and b.evals == [0, 1, 2]
    # one prompt: its raw logits
    b.evals.clear()
    out, best = hear(b, [P(0)])
    assert best == 0 and np.array_equal(out, b.table[0]) and b.evals == [0]


def test_a_one_frame_turn_is_heard_as_spoken(codec):
    """Shifted views of a single frame are empty: the turn is still answered, from the one view left."""
    agent, backend = tiny_agent(codec)
    hear(agent, seconds=0.04)
    prompts = []
    real = agent._prompt
    agent._prompt = lambda spec, codes, *a: prompts.append(len(codes)) or real(spec, codes, *a)
    out = list(agent.respond(TurnEnd(t_capture=0.04, speech_s=0.04), lambda n: None))
    assert prompts == [1] and any(isinstance(f, AudioFrame) for f in out)


def test_unit_gaps_pause_between_units_only():
    from livesense.agents.native import ReplyEvent, unit_gaps

    T, F, END = ReplyEvent.TEXT, ReplyEvent.FRAME, ReplyEvent.END
    sil = np.zeros((1, 4), np.int64)
    a, b, c = (np.full((1, 4), i) for i in (1, 2, 3))
    ev = [(T, "It is"), (F, a), (F, b), (T, "red."), (F, c), (T, ""), (END, "eou")]
    out = list(unit_gaps(iter(ev), sil, 2))
    kinds = [(k, v if k != F else int(v[0, 0])) for k, v in out]
    assert kinds == [(T, "It is"), (F, 1), (F, 2), (T, "red."), (F, 0), (F, 0), (F, 3), (T, ""), (END, "eou")]
    assert list(unit_gaps(iter(ev[:3]), sil, 1)) == ev[:3], "no pause before the first unit or after the last"


def test_hear_stops_adding_views_at_the_budget():
    from types import SimpleNamespace

    from livesense.agents.native import hear
    from livesense.clock import FakeClock

    clock = FakeClock()

    class Slow(Scripted):
        def eval(self, ids, pos, all_logits=False):
            clock.advance(0.05)  # each prefill takes 50 ms
            return super().eval(ids, pos, all_logits)

    P = lambda k: SimpleNamespace(ids=np.array([k]), pos=np.zeros((1, 1)))  # noqa: E731
    b = Slow({0: [0, 0, 4, 0], 1: [0, 6, 0, 0], 2: [0, 5, 3, 2], 3: [9, 0, 0, 0]})
    # 0.2 s: after 2 views 0.1 s spent + 0.05 next + 0.05 re-prefill = 0.2, not over: a third
    # view; after 3 (0.15 + 0.1 > 0.2) no fourth, so prompt 3's strong token 0 is never heard
    mean, best = hear(b, [P(0), P(1), P(2), P(3)], budget_s=0.2, clock=clock)
    assert b.evals[:3] == [0, 1, 2] and 3 not in b.evals and int(np.argmax(mean)) == 1 and best == 1
    b.evals.clear()
    mean, best = hear(b, [P(0), P(1), P(2), P(3)])
    assert b.evals[:4] == [0, 1, 2, 3], "no budget: every view"


def _ask(agent, speech: np.ndarray, listen: bool, image):
    """One spoken question, heard frame by frame; with ``listen`` the agent is told when the
    turn starts (as the agent stage does on TurnStart). Returns (text, audio frames, prompt
    tokens evaluated after the turn ended)."""
    from livesense.frames import TurnStart

    agent.reset()
    agent.observe(image)
    lead = 3200
    x = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(4800, np.float32)])
    t_on, t_end = lead / SR, (lead + len(speech)) / SR
    for i in range(0, len(x) - 320 + 1, 320):
        if listen and i == lead:
            agent.prepare(TurnStart(t_capture=t_on))
        agent.observe(AudioFrame(x[i:i + 320], SR, i / SR))
    fed = agent._cache.fed
    out = list(agent.respond(TurnEnd(t_capture=t_end, t_decided=t_end + 0.3, speech_s=t_end - t_on), lambda n: None))
    frames = [f.samples for f in out if isinstance(f, AudioFrame)]
    return agent.last_text, frames, agent._cache.fed - fed


def test_listening_while_the_user_speaks_gives_the_same_reply():
    """The shipped model prefilled frame by frame during the turn (each view in its own
    sequence, the frames after the end of speech dropped again) answers as a whole-turn
    prefill does, and leaves only the ``agent`` marker to evaluate when the turn ends."""
    from livesense.corpus import synth_piper
    from livesense.vision.scenes import random_scene, render
    from livesense.vision.tokenizer import VisionTokenizer

    scene = random_scene(np.random.default_rng(3), kind="single", count=2)
    image = Tokens(kind="image", ids=VisionTokenizer.load().encode(render(scene)), t_capture=0.0)
    agent = NativeAgent(NativeConfig(hear_budget_s=None))  # every view both ways (a whole prefill is slower)
    agent.warm()
    views = len(agent.config.hear_views)
    for q in ("How many things do you see?", "Who are you?"):
        speech = synth_piper(q)  # (Piper samples: speak once, hear it twice)
        text0, frames0, fed0 = _ask(agent, speech, listen=False, image=image)
        text1, frames1, fed1 = _ask(agent, speech, listen=True, image=image)
        assert text1 == text0 and text1.strip()
        assert len(frames1) == len(frames0)
        same = np.mean([np.allclose(a, b, atol=1e-4) for a, b in zip(frames0, frames1)])
        assert same >= 0.9, f"{q!r}: {same:.2f} of the frames agree"
        assert fed0 > 100 * views and fed1 <= 2 * views, (fed0, fed1)


def test_a_turn_longer_than_the_history_stops_listening_and_is_still_answered(codec):
    """Listening feeds only new frames; once the turn outgrows the feature history its
    start would move every frame (a whole prefill each time), so the agent stops listening
    and prefills the turn's last ``history_s`` when it ends."""
    from livesense.frames import TurnStart
    from livesense.model.backends.torch_backend import TorchBackend
    from livesense.model.tiny import tiny_model

    model, spec, _ = tiny_model(train_steps=0, n_ctx=512)
    cfg = NativeConfig(max_reply_frames=3, max_text_bytes=4, unit_gap_frames=0, history_s=1.0, hear_budget_s=None)
    agent = NativeAgent(cfg, backend=TorchBackend(model, spec, n_seq=4), codec=codec)
    agent.load()
    agent.prepare(TurnStart(t_capture=0.0))
    hear(agent, seconds=0.6)
    listened = agent._cache.fed
    assert agent._listen_from is not None and listened > 4 * 15, "frames fed while the user speaks"
    hear(agent, seconds=1.2, t0=0.6)
    assert agent._listen_from is None, "stopped once the turn outgrew the 1 s history"
    stopped = agent._cache.fed
    out = list(agent.respond(TurnEnd(t_capture=1.8, t_decided=1.9, speech_s=1.8 - 0.2), lambda n: None))
    assert any(isinstance(f, AudioFrame) for f in out)
    assert agent._cache.fed - stopped > 4 * 20, "the whole (last 1 s of the) turn prefilled at its end"


def test_bench_listen_prints_its_json():
    """scripts/bench_listen.py runs (one turn) and its last line is the JSON it documents."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_listen.py"
    out = subprocess.run([sys.executable, str(script), "--turns", "1"], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["turns"] == 1 and r["listen_ms_per_frame"]["mean"] > 0
    assert r["listen_end_tokens"] <= 2 * len(NativeConfig().hear_views) < r["no_listen_end_tokens"]
