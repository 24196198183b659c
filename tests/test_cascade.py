"""Cascade agent: streaming hand-offs (fake engines), model-file errors, real models (slow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from livesense.agents.cascade import CascadeAgent, CascadeConfig, ModelFileError, SceneFacts
from livesense.agents.cascade.config import check_gguf, check_piper, check_whisper_dir
from livesense.agents.cascade.dialogue import CUT_OFF, Dialogue
from livesense.agents.cascade.tts import SpeechChunker
from livesense.clock import FakeClock
from livesense.config import TurnConfig
from livesense.frames import AudioFrame, Interrupt, TextFrame, TurnEnd, TurnStart, VideoFrame
from livesense.runtime.agent import AgentStage
from livesense.runtime.tracing import Tracer

DATA = Path(__file__).parent / "data"
SR = 16000


# --- fakes --------------------------------------------------------------------------


class FakeASR:
    def __init__(self, text: str) -> None:
        self.text = text
        self.heard: list[np.ndarray] = []

    def transcribe(self, audio: np.ndarray) -> str:
        self.heard.append(audio.copy())
        return self.text


class FakeLLM:
    """Yields fixed pieces; records how far the consumer pulled and whether it closed us."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.prompts: list[str] = []
        self.yielded = 0
        self.finished = False
        self.closed = False

    def stream(self, prompt: str):
        self.prompts.append(prompt)
        self.yielded, self.finished, self.closed = 0, False, False
        try:
            for p in self.pieces:
                self.yielded += 1
                yield p
            self.finished = True
        except GeneratorExit:
            self.closed = True
            raise


class PrefillLLM(FakeLLM):
    """A FakeLLM that also records prefills (the real one decodes them into its KV cache)."""

    def __init__(self, pieces: list[str]) -> None:
        super().__init__(pieces)
        self.prefilled: list[tuple[str, bool]] = []  # (text, was a stream open?)
        self.open = False

    def prefill(self, text: str) -> int:
        self.prefilled.append((text, self.open))
        return len(text)

    def stream(self, prompt: str):
        self.open = True
        try:
            yield from super().stream(prompt)
        finally:
            self.open = False


class FakeTTS:
    """Speech = 0.1 s of a constant per character chunk; records what it was asked to say."""

    def __init__(self, llm: FakeLLM | None = None) -> None:
        self.llm = llm
        self.said: list[str] = []
        self.llm_finished_at_call: list[bool] = []

    def synthesize(self, text: str):
        self.said.append(text)
        self.llm_finished_at_call.append(bool(self.llm and self.llm.finished))
        yield np.full(int(0.1 * SR) + 7, 0.1, np.float32)


REPLY = ["The", " ball", " is", " red", ".", " It", " sits", " on", " a", " table", "."]


def make_agent(text="What colour is the ball?", pieces=REPLY, **cfg):
    llm = FakeLLM(pieces)
    agent = CascadeAgent(FakeASR(text), llm, FakeTTS(llm), CascadeConfig(**cfg))
    return agent, llm


def feed_speech(agent, seconds=1.0, t0=0.0):
    for i in range(int(seconds / 0.02)):
        agent.observe(AudioFrame(np.full(320, 0.01, np.float32), SR, t0 + i * 0.02))
    return TurnEnd(t_capture=t0 + seconds, t_decided=t0 + seconds + 0.3, speech_s=seconds - 0.5)


class Marks(list):
    def __call__(self, name: str) -> None:
        self.append(name)


# --- (a) streaming hand-offs --------------------------------------------------------


def test_reply_streams_text_then_audio_per_sentence():
    agent, llm = make_agent()
    turn = feed_speech(agent)
    marks = Marks()
    frames = list(agent.respond(turn, marks))
    assert marks == ["asr_done", "first_token"]
    texts = [f for f in frames if isinstance(f, TextFrame)]
    audio = [f for f in frames if isinstance(f, AudioFrame)]
    assert "".join(t.text for t in texts) == "".join(REPLY)
    assert texts[-1].final and frames[-1] is texts[-1]
    assert agent.tts.said == ["The ball is red.", "It sits on a table."]
    assert all(f.turn == turn.id for f in frames)
    assert all(f.sample_rate == SR and len(f.samples) <= 640 for f in audio)
    assert sum(len(f.samples) for f in audio) == 2 * (int(0.1 * SR) + 7)


def test_first_audio_comes_before_the_llm_has_finished():
    agent, llm = make_agent()
    reply = agent.respond(feed_speech(agent), Marks())
    for frame in reply:
        if isinstance(frame, AudioFrame):
            break
    assert not llm.finished and llm.yielded == REPLY.index(".") + 1  # spoken at its '.', not a token later
    assert agent.tts.llm_finished_at_call == [False]
    reply.close()


def test_asr_hears_the_turn_with_pre_roll():
    agent, _ = make_agent(pre_roll_s=0.25)
    turn = feed_speech(agent, seconds=1.0)
    list(agent.respond(turn, Marks()))
    assert len(agent.asr.heard[0]) == pytest.approx((turn.speech_s + 0.25) * SR, abs=2)


def test_closing_mid_reply_stops_the_llm_and_history_records_the_cut():
    agent, llm = make_agent()
    turn = feed_speech(agent)
    reply = agent.respond(turn, Marks())
    next(f for f in reply if isinstance(f, AudioFrame))
    reply.close()
    assert llm.closed and not llm.finished and llm.yielded < len(REPLY)
    agent.interrupted(turn)
    (ex,) = agent.dialogue.history
    assert ex.interrupted and ex.reply.startswith("The ball is red.") and ex.reply != "".join(REPLY)
    list(agent.respond(feed_speech(agent, t0=2.0), Marks()))
    assert f"Assistant: {ex.reply}{CUT_OFF}" in llm.prompts[-1]


def test_barge_in_through_the_agent_stage_closes_the_llm():
    agent, llm = make_agent()
    clock, tracer = FakeClock(), Tracer()
    stage = AgentStage(agent, clock, tracer, TurnConfig())
    turn = feed_speech(agent)
    stage.step(turn)
    out = []
    while not any(isinstance(f, AudioFrame) for f in out):
        out += stage.poll()
    frames = stage.step(TurnStart(t_capture=1.5))
    assert isinstance(frames[0], Interrupt) and frames[0].turn == turn.id
    assert llm.closed and agent.interruptions == 1 and agent.dialogue.history[0].interrupted
    assert {"first_token", "asr_done", "first_audio"} <= set(tracer._marks[turn.id])


def test_the_prompt_up_to_the_users_words_is_prefilled_while_they_speak():
    llm = PrefillLLM(REPLY)
    agent = CascadeAgent(FakeASR("What colour is the ball?"), llm, FakeTTS(llm), CascadeConfig())
    stage = AgentStage(agent, FakeClock(), Tracer(), TurnConfig())
    stage.step(TurnStart(t_capture=0.0))  # idle: prefill now
    turn = feed_speech(agent)
    stage.step(turn)
    while not any(isinstance(f, AudioFrame) for f in stage.poll()):
        pass
    (text, was_open), = llm.prefilled
    assert not was_open and llm.prompts[-1].startswith(text)
    assert llm.prompts[-1][len(text):] == " What colour is the ball?\nAssistant:"
    stage.step(TurnStart(t_capture=1.5))  # barge-in: the reply is closed first, then the prefill
    assert llm.closed and len(llm.prefilled) == 2 and not llm.prefilled[1][1]
    assert CUT_OFF in llm.prefilled[1][0]  # it already holds the cut-off exchange


def test_no_prefill_while_a_reply_runs_on():
    llm = PrefillLLM(REPLY)
    agent = CascadeAgent(FakeASR("What colour is the ball?"), llm, FakeTTS(llm), CascadeConfig())
    stage = AgentStage(agent, FakeClock(), Tracer(), TurnConfig(barge_in=False))  # turns queue
    stage.step(feed_speech(agent))
    stage.poll()
    stage.step(TurnStart(t_capture=1.5))
    assert llm.prefilled == [] and not llm.closed


def test_no_words_no_reply():
    agent, llm = make_agent(text="")
    marks = Marks()
    assert list(agent.respond(feed_speech(agent), marks)) == []
    assert marks == ["asr_done"] and llm.prompts == []


def test_scene_facts_reach_the_prompt():
    agent, llm = make_agent()
    img = np.full((120, 160, 3), 110, np.uint8)
    img[40:80, 20:60] = (230, 20, 20)
    img[40:80, 100:140] = (20, 30, 230)
    agent.observe(VideoFrame(img, 0.0))
    list(agent.respond(feed_speech(agent), Marks()))
    scene_line = [ln for ln in llm.prompts[0].splitlines() if ln.startswith("Scene:")][-1]
    assert "red" in scene_line and "blue" in scene_line
    assert llm.prompts[0].endswith("User: What colour is the ball?\nAssistant:")


def test_reset_forgets_dialogue_and_audio():
    agent, llm = make_agent()
    list(agent.respond(feed_speech(agent), Marks()))
    agent.reset()
    assert agent.dialogue.history == [] and agent.scene.text is None


# --- pieces -------------------------------------------------------------------------


def test_chunker_sentences_first_clause_and_word_cap():
    c = SpeechChunker(first_words=4, max_words=8)
    out = []
    for word in "Well, I think that it is red, and the other one is blue. Yes".split(" "):
        out += c.push(word + " ")
    assert out == ["Well, I think that it is red,", "and the other one is blue."]
    assert c.flush() == "Yes"
    c = SpeechChunker(first_words=4, max_words=6)
    assert c.push("one two three four five six seven") == ["one two three four five six"]
    assert c.push("!") == ["seven!"] and c.flush() is None


def test_chunker_speaks_a_finished_sentence_without_waiting_for_the_next_token():
    c = SpeechChunker()
    assert [c.push(p) for p in ["They", " are", " red", "."]] == [[], [], [], ["They are red."]]
    assert c.push("\n") == [] and c.flush() is None
    assert c.push("Is it red?") == ["Is it red?"]
    assert c.push("I count 3.") == [] and c.push("5 apples.") == ["I count 3.5 apples."]  # a decimal point
    assert c.push("Ask Dr.") == [] and c.flush() == "Ask Dr."  # an abbreviation's '.' waits
    assert c.push("Well...") == ["Well..."] and c.push(" Yes.") == ["Yes."]
    assert c.flush() is None


def test_chunker_keeps_decimals_and_first_clause_only_once():
    c = SpeechChunker(first_words=2, max_words=50)
    assert c.push("It costs 3.5 euros, the red one, ok") == ["It costs 3.5 euros,"]
    assert c.push(". Bye") == ["the red one, ok."]


def test_dialogue_keeps_last_exchanges():
    d = Dialogue(keep=2)
    for i in range(3):
        d.add(i, f"question {i}", f"answer {i}\n")
    p = d.prompt("now?", "The camera shows a dark scene; main colours: black.")
    assert "question 0" not in p and "question 1" in p and "answer 2" in p
    assert p.endswith("Scene: The camera shows a dark scene; main colours: black.\nUser: now?\nAssistant:")
    assert d.prompt("x", None).startswith(d.head())
    assert not d.mark_interrupted(0) and d.mark_interrupted(2)


def test_scene_brightness_motion_and_rate_limit():
    s = SceneFacts(interval_s=0.5, faces=False)
    img = np.full((120, 160, 3), 120, np.uint8)
    img[20:100, 40:120] = (230, 20, 20)
    assert s.update(img, 0.0)
    assert s.scene.brightness == "bright" and s.scene.objects == (("red", "square"),)
    assert s.scene.moving is None and s.scene.person is False
    moved = np.roll(img, 40, axis=1)
    assert not s.update(moved, 0.3)  # too soon: not analysed
    assert s.update(moved, 0.6) and s.scene.moving
    assert s.update(moved, 1.2) and not s.scene.moving
    assert s.analyse(np.full((120, 160, 3), 10, np.uint8)).brightness == "dark"
    assert s.text == "count one; colour red; shape square; the light is bright; nobody is there; nothing is moving."


def test_scene_face_fact_is_reported_or_skipped():
    s = SceneFacts(faces=True)
    person = s.analyse(np.zeros((120, 160, 3), np.uint8)).person
    assert person is False  # no skin blob, and no face for OpenCV 4's Haar files (if shipped)


# --- (b) model file errors ----------------------------------------------------------


def test_missing_and_wrong_model_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not found"):
        check_gguf(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match=r"not a GGUF file \(magic b'hell'"):
        check_gguf(text)
    with pytest.raises(ModelFileError, match="not found"):
        check_whisper_dir(tmp_path / "nope")
    with pytest.raises(ModelFileError, match="not a CTranslate2"):
        check_whisper_dir(text)
    with pytest.raises(ModelFileError, match="not a CTranslate2"):
        check_whisper_dir(tmp_path)  # a folder without model.bin
    with pytest.raises(ModelFileError, match="not found"):
        check_piper(tmp_path / "v.onnx", tmp_path / "v.onnx.json")
    with pytest.raises(ModelFileError, match="not an ONNX model"):
        check_piper(text, text)


def test_piper_config_is_checked(tmp_path):
    onnx = tmp_path / "v.onnx"
    onnx.write_bytes(b"\x08\x08\x12")
    with pytest.raises(ModelFileError, match="config not found"):
        check_piper(onnx, tmp_path / "v.onnx.json")
    (tmp_path / "v.onnx.json").write_text("{}")
    with pytest.raises(ModelFileError, match="not a Piper voice config"):
        check_piper(onnx, tmp_path / "v.onnx.json")
    (tmp_path / "v.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 22050}}))
    assert check_piper(onnx, tmp_path / "v.onnx.json")[0] == onnx


def test_engines_and_config_refuse_bad_paths_before_importing_anything(tmp_path):
    from livesense.agents.cascade.asr import WhisperASR
    from livesense.agents.cascade.llm import LlamaLLM
    from livesense.agents.cascade.tts import PiperTTS

    bad = tmp_path / "model.bin"
    bad.write_bytes(b"\0" * 16)
    with pytest.raises(ModelFileError, match="GGUF"):
        LlamaLLM(bad).load()
    with pytest.raises(ModelFileError, match="CTranslate2"):
        WhisperASR(bad).load()
    with pytest.raises(ModelFileError, match="ONNX"):
        PiperTTS(bad).load()
    with pytest.raises(ModelFileError):
        CascadeConfig(whisper_dir=str(bad), gguf_path=str(bad), piper_onnx=str(bad)).resolved()


def test_missing_packages_name_the_pip_install(monkeypatch):
    from livesense.agents.cascade import asr, llm, tts

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    monkeypatch.setitem(sys.modules, "piper", None)
    with pytest.raises(ImportError, match="pip install llama-cpp-python"):
        llm._import_llama()
    with pytest.raises(ImportError, match="pip install --no-deps faster-whisper"):
        asr._import_whisper_model()
    with pytest.raises(ImportError, match="piper-tts"):
        tts._import_piper()


# --- (c) the real models (slow) -----------------------------------------------------


def _turns():
    import soundfile as sf

    audio, sr = sf.read(DATA / "turns.wav", dtype="float32")
    assert sr == SR
    return audio, json.loads((DATA / "turns.json").read_text())["turns"]


@pytest.fixture(scope="module")
def real_agent():
    for pkg in ("faster_whisper", "llama_cpp", "piper"):
        pytest.importorskip(pkg)
    return CascadeAgent.from_config(CascadeConfig())


@pytest.mark.slow
def test_real_asr_hears_the_ball(real_agent):
    audio, turns = _turns()
    t = turns[0]
    turn = audio[int((t["start_s"] - 0.25) * SR) : int(t["end_s"] * SR)]
    assert "ball" in real_agent.asr.transcribe(turn).lower()  # short-window path
    assert "ball" in real_agent.asr._transcribe_full(turn).lower()  # standard 30 s path
    assert real_agent.asr.transcribe(np.zeros(SR, np.float32)) == ""


@pytest.mark.slow
def test_real_cascade_answers_turn_one_with_speech(real_agent):
    audio, turns = _turns()
    real_agent.reset()
    end = turns[0]["end_s"]
    for i in range(0, int((end + 0.3) * SR), 320):
        real_agent.observe(AudioFrame(audio[i : i + 320], SR, i / SR))
    turn = TurnEnd(t_capture=end, t_decided=end + 0.3, speech_s=end - turns[0]["start_s"])
    marks = Marks()
    frames = list(real_agent.respond(turn, marks))
    assert "ball" in real_agent.last_transcript.lower()
    assert marks == ["asr_done", "first_token"]
    reply = "".join(f.text for f in frames if isinstance(f, TextFrame)).strip()
    speech = np.concatenate([f.samples for f in frames if isinstance(f, AudioFrame)])
    assert reply and all(f.turn == turn.id for f in frames)
    assert speech.size > 0.3 * SR and np.abs(speech).max() > 0.05
    heard = real_agent.asr.transcribe(speech)
    assert heard.strip(), f"Whisper heard nothing in the spoken reply {reply!r}"


@pytest.mark.slow
def test_real_llm_stream_closes_cleanly_and_stays_deterministic(real_agent):
    llm = real_agent.llm
    prompt = Dialogue().prompt("What is the capital of Italy?", None)
    stream = llm.stream(prompt)
    first = next(stream)
    decoded = llm._llama.n_tokens
    stream.close()
    assert llm._llama.n_tokens == decoded  # closing decoded nothing more
    full = "".join(llm.stream(prompt))
    assert full.startswith(first) and "\n" not in full
    assert "".join(llm.stream(prompt)) == full


@pytest.mark.slow
def test_real_llm_prefill_leaves_only_the_users_words(real_agent):
    llm, d = real_agent.llm, Dialogue()
    scene = "count two; colour red; shape circles; the light is bright; nobody is there."
    prompt = d.prompt("What colour are they?", scene)
    alone = "".join(llm.stream(prompt))
    "".join(llm.stream(d.prompt("Who are you?", None)))  # the cache now ends elsewhere
    n = llm.prefill(d.prefix(scene))
    assert 5 < n < 40  # the scene line and "User:" (the few-shot head stays cached)
    assert llm.prefill(d.prefix(scene)) == 0
    cached = llm._llama.n_tokens
    assert "".join(llm.stream(prompt)) == alone == " They are red."
    tokens = llm._llama.tokenize(prompt.encode(), special=True)
    assert tokens[:cached] == list(llm._llama.input_ids[:cached])  # the prefill was the prompt's start


def test_asr_prompt_is_whispers_previous_text():
    from livesense.agents.cascade.asr import WhisperASR

    class Tok:
        sot_prev = 7

        def encode(self, text):
            return [ord(c) for c in text]

    asr = WhisperASR(prompt=" colour? ")
    asr._tokenizer = Tok()
    assert asr._prompt_tokens() == [7] + [ord(c) for c in " colour?"]
    asr.prompt = ""
    assert asr._prompt_tokens() == []
    assert "colour" in CascadeConfig().asr_prompt
