"""Two agents, same questions: cut each agent's spoken replies out of its output timeline,
score what Whisper hears against the scene, and summarise latency and accuracy side by side.

Inputs per agent are what a real-time WAV run leaves behind: the output WAV (16 kHz, its
sample 0 at clock time ``t_wav0``), the tracer's turn marks matched to the scripted
questions (rows with ``q``, ``turn``, ``true_end``, ``speech_end``, ``first_output``) and
the agent's own text per turn. A reply runs from its first output sample to the next
reply's first sample (or the end of the file); silence around it is trimmed to ``PAD_S``.
"""

from __future__ import annotations

import numpy as np

from livesense.eval.answers import correct

SILENCE_DB = -45.0  # below this (re full scale) a sample is silence when trimming a reply
PAD_S = 0.3  # silence put back around a trimmed reply: Whisper drops the last word of a tight cut


def trim(audio: np.ndarray, floor_db: float = SILENCE_DB) -> np.ndarray:
    idx = np.flatnonzero(np.abs(audio) > 10 ** (floor_db / 20))
    return audio[idx[0] : idx[-1] + 1] if idx.size else audio[:0]


def answer_turns(rows: list[dict], n_questions: int) -> list[dict | None]:
    """Per scripted question, the answered turn whose detected end is nearest the true
    end (a VAD split can yield two turns for one question), or None."""
    best: list[dict | None] = [None] * n_questions
    for r in rows:
        if "first_output" not in r or "resumed" in r:  # (a reply cut as the user went on answers nothing)
            continue
        cur = best[r["q"]]
        if cur is None or abs(r["speech_end"] - r["true_end"]) < abs(cur["speech_end"] - cur["true_end"]):
            best[r["q"]] = r
    return best


def reply_audio(wav: np.ndarray, sr: int, t_wav0: float, rows: list[dict], turn: dict) -> np.ndarray:
    """The trimmed audio of ``turn``'s reply: from its first output to the next reply's."""
    starts = sorted(r["first_output"] for r in rows if "first_output" in r)
    t0 = turn["first_output"]
    t1 = next((t for t in starts if t > t0), None)
    a = max(0, round((t0 - t_wav0) * sr))
    b = len(wav) if t1 is None else max(a, round((t1 - t_wav0) * sr))
    speech = trim(np.asarray(wav[a:b], np.float32))
    pad = np.zeros(round(PAD_S * sr) if speech.size else 0, np.float32)
    return np.concatenate([pad, speech, pad])


def score_agent(agent: str, questions: list[dict], chosen: list[dict | None], texts: dict[str, str],
                heard: list[str]) -> list[dict]:
    """One row per question (``chosen``: its answered turn, see ``answer_turns``): what the
    agent meant (its ``text``, by turn id), what Whisper ``heard`` of its speech, and
    whether each is right for the question's scene."""
    out = []
    for k, (q, r, h) in enumerate(zip(questions, chosen, heard)):
        text = texts.get(str(r["turn"]), "") if r else ""
        out.append({"agent": agent, "q": k, "skill": q["skill"], "question": q["text"], "voice": q["voice"],
                    "labels": q["labels"], "expected": q["expected"], "answered": r is not None,
                    "m2e_ms": 1000 * (r["first_output"] - r["true_end"]) if r else None,
                    "text": text.strip(), "heard": h, "ok": correct(q["skill"], q["labels"], h),
                    "text_ok": correct(q["skill"], q["labels"], text)})
    return out


def p50(xs: list[float]) -> float | None:
    return float(np.percentile(xs, 50)) if len(xs) else None


def mean(xs: list) -> float | None:
    return round(float(np.mean(xs)), 4) if len(xs) else None


def summarise(pair: tuple[str, str], m2e: dict[str, list[float]], answers: list[dict]) -> dict:
    """``{agent}_p50_ms``, ``{agent}_answer_accuracy`` (spoken, via Whisper),
    ``{agent}_text_accuracy`` (its own text) for both agents, and ``speedup`` = second
    agent's p50 / first agent's p50 (> 1: the first answers sooner)."""
    out: dict = {}
    for a in pair:
        mine = [r for r in answers if r["agent"] == a]
        out[f"{a}_p50_ms"] = p50(m2e[a])
        out[f"{a}_answer_accuracy"] = mean([r["ok"] for r in mine])
        out[f"{a}_text_accuracy"] = mean([r["text_ok"] for r in mine])
        out[f"{a}_per_skill"] = {s: mean([r["ok"] for r in mine if r["skill"] == s])
                                 for s in dict.fromkeys(r["skill"] for r in mine)}
    first, second = out[f"{pair[0]}_p50_ms"], out[f"{pair[1]}_p50_ms"]
    out["speedup"] = round(second / first, 3) if first and second else None
    return out


def reference_accuracy(questions: list[dict], asr, speak) -> float | None:
    """The measure's own ceiling: Whisper on the expected reply spoken by ``speak``
    (Piper joe at 16 kHz), scored like an agent's reply."""
    return mean([correct(q["skill"], q["labels"], asr.transcribe(speak(q["expected"]))) for q in questions])
