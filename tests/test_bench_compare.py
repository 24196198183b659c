"""bench_latency --compare: replies are cut from the right place of an output timeline,
scored against the scene, and summarised (speedup, accuracy); the visual questions put
each question's scene on camera; a short real --compare run (parrot vs the shipped tiny
native model) writes every key, the per-question rows and the plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from livesense.eval.answers import correct, words
from livesense.eval.compare import PAD_S, answer_turns, reply_audio, score_agent, summarise, trim
from livesense.eval.visual_qa import SKILLS, questions_for, scene_index

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
LABELS = {"colour": "yellow", "shape": "triangle", "count": 4, "brightness": "dark", "person": False}


def test_scoring_needs_the_slot_word_and_no_contradiction():
    assert correct("colour", LABELS, "They are yellow.")
    assert not correct("colour", LABELS, "They are yellow and red.")
    assert not correct("colour", LABELS, "It is black.")
    assert correct("count", LABELS, "I count 4.")
    assert correct("count", LABELS, "I count four.")
    assert not correct("count", LABELS, "I count, tune.")
    assert correct("shape", LABELS, "They are triangles.")
    assert not correct("light", LABELS, "It is right.")
    assert correct("identity", LABELS, "I am Live Sense.")
    assert correct("identity", LABELS, "Oh, I am life since.")
    assert not correct("identity", LABELS, "Sorry, I only talk about what I see.")
    assert correct("person", LABELS, "No, I see nobody.")
    assert not correct("person", LABELS, "Yes, I see a person.")
    assert words("What color? 2") == ["what", "colour", "two"]


def test_reply_audio_is_cut_between_first_outputs_and_trimmed():
    wav = np.zeros(10 * SR, np.float32)
    wav[2 * SR : 3 * SR] = 0.5  # reply 1: 2-3 s on the timeline
    wav[6 * SR : 6 * SR + SR // 2] = -0.5  # reply 2: 6-6.5 s
    t0 = 100.0  # clock time of sample 0
    rows = [{"q": 0, "turn": 1, "speech_end": 101.5, "true_end": 101.45, "first_output": 102.0},
            {"q": 1, "turn": 2, "speech_end": 105.5, "true_end": 105.5, "first_output": 106.0}]
    pad = round(PAD_S * SR)
    first, second = (reply_audio(wav, SR, t0, rows, r)[pad:-pad] for r in rows)
    assert len(first) == SR and np.all(first == 0.5)
    assert len(second) == SR // 2 and np.all(second == -0.5)
    assert not reply_audio(wav, SR, t0, rows, rows[0])[:pad].any()
    assert trim(np.zeros(100, np.float32)).size == 0


def test_answer_turns_take_the_turn_nearest_the_true_end_and_mark_missing_ones():
    rows = [{"q": 0, "turn": 1, "speech_end": 1.0, "true_end": 1.6, "first_output": 1.4},  # VAD split
            {"q": 0, "turn": 2, "speech_end": 1.62, "true_end": 1.6, "first_output": 2.0},
            {"q": 1, "turn": 3, "speech_end": 5.0, "true_end": 5.0}]  # decided, never answered
    chosen = answer_turns(rows, 3)
    assert chosen[0]["turn"] == 2 and chosen[1] is None and chosen[2] is None


def test_score_and_summary_speedup_and_accuracy():
    qs = [{"skill": "colour", "text": "What colour is it?", "voice": "v", "labels": LABELS, "expected": "x"},
          {"skill": "count", "text": "Count the objects.", "voice": "v", "labels": LABELS, "expected": "y"}]
    row = lambda q, turn: {"q": q, "turn": turn, "speech_end": 1.0, "true_end": 1.0, "first_output": 1.4}  # noqa: E731
    a = score_agent("fast", qs, [row(0, 7), row(1, 8)], {"7": "They are yellow.", "8": "I count four."},
                    ["They are yellow.", "I count, tune."])
    b = score_agent("slow", qs, [row(0, 3), None], {"3": "It is black."}, ["It is black.", ""])
    assert [r["ok"] for r in a] == [True, False] and [r["text_ok"] for r in a] == [True, True]
    assert [r["answered"] for r in b] == [True, False] and not any(r["ok"] for r in b)
    s = summarise(("fast", "slow"), {"fast": [400.0, 420.0, 440.0], "slow": [1000.0, 1300.0]}, a + b)
    assert s["fast_p50_ms"] == 420.0 and s["slow_p50_ms"] == 1150.0
    assert s["speedup"] == round(1150.0 / 420.0, 3)
    assert s["fast_answer_accuracy"] == 0.5 and s["fast_text_accuracy"] == 1.0
    assert s["slow_answer_accuracy"] == 0.0 and s["fast_per_skill"] == {"colour": 1.0, "count": 0.0}


def test_visual_questions_cycle_skills_and_scenes_switch_before_each_question():
    asked = questions_for(13)
    assert [s for s, _ in asked[:6]] == list(SKILLS) and asked[6][0] == SKILLS[0]
    assert asked[0][1] != asked[6][1]  # the next phrasing of the same skill
    starts = [0.5, 7.0, 14.0]
    t = np.array([0.0, 0.6, 6.2, 6.4, 8.0, 13.5, 20.0])
    assert scene_index(t, starts, lead_s=0.7).tolist() == [0, 0, 0, 1, 1, 2, 2]


@pytest.mark.slow
def test_compare_run_parrot_against_native(tmp_path):
    """The whole --compare path on real models (the light ones): two processes, the same
    inputs, Whisper scoring, the JSON keys, the side file and the plot."""
    plot = tmp_path / "cmp.png"
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_latency.py"), "--compare", "parrot,native",
                          "--turns", "2", "--gap", "4", "--plot", str(plot)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("agent", "turns", "answered", "p50_ms", "p95_ms", "floor_ms", "floor_min_ms", "browser_p50_ms",
                "underruns", "barge_in_ms", "resumes", "stages", "plot"):  # bench_latency's own keys, first agent
        assert key in r, key
    # per turn, the reply comes after the end-of-turn decision that sets that turn's floor
    assert 0 < r["floor_ms"] <= 360 + 40 and r["p50_ms"] >= r["floor_ms"] - 1
    assert r["agent"] == "parrot" and r["compare"] == ["parrot", "native"]
    assert r["parrot_answered"] == r["native_answered"] == 2
    assert r["p50_ms"] == r["parrot_p50_ms"]
    assert r["speedup"] == pytest.approx(r["native_p50_ms"] / r["parrot_p50_ms"], abs=1e-3)
    assert r["parrot_text_accuracy"] == 0.0  # it says back the question: never an answer
    assert r["reference_answer_accuracy"] == 1.0  # Whisper hears Piper's right answers as right
    rows = json.loads(Path(r["answers"]).read_text())
    assert [(x["agent"], x["q"]) for x in rows] == [("parrot", 0), ("parrot", 1), ("native", 0), ("native", 1)]
    assert all(x["heard"] for x in rows if x["agent"] == "native")  # its replies were cut out and heard
    assert plot.stat().st_size > 10_000
