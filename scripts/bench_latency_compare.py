"""The ``--compare`` half of bench_latency.py (not run on its own).

The parent writes the inputs once to a folder: the spoken visual questions
(``questions.wav`` + ``.json``), the camera clip of their scenes (``scene.mp4``) and the
barge-in clip (``cut.*``). Each agent then runs in its own process (``bench_latency.py
--replay FOLDER --agent A``: two llama.cpp models, or llama.cpp and anything else, never
share a process) and leaves its output timeline (``A.wav``) and turn rows (``A.json``).
The parent cuts each reply out of the timeline, has Whisper tiny.en (int8, one thread)
transcribe it, scores it against the scene, and prints one JSON line.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

from livesense.app import AGENTS
from livesense.config import Config
from livesense.corpus.conversation import Script, barge_in
from livesense.eval.compare import answer_turns, reference_accuracy, reply_audio, score_agent, summarise
from livesense.eval.visual_qa import VisualQA, visual_conversation, write_clip

HERE = os.path.dirname(os.path.abspath(__file__))
RATE = 16000
PER_AGENT = ("answered", "p95_ms", "barge_in_ms", "underruns", "resumes", "stages")  # also reported for both agents


def parse_pair(spec: str) -> tuple[str, str]:
    pair = tuple(a.strip() for a in spec.split(","))
    if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(AGENTS):
        raise SystemExit(f"--compare takes two different agents A,B from {', '.join(AGENTS)}; got {spec!r}")
    return pair


def save_script(folder: str, name: str, script: Script) -> None:
    sf.write(os.path.join(folder, f"{name}.wav"), script.audio, RATE, subtype="FLOAT")
    with open(os.path.join(folder, f"{name}.json"), "w") as fh:
        json.dump(script.turns, fh)


def load_script(folder: str, name: str) -> Script:
    audio, _ = sf.read(os.path.join(folder, f"{name}.wav"), dtype="float32")
    with open(os.path.join(folder, f"{name}.json")) as fh:
        return Script(audio, json.load(fh))


def write_inputs(args, folder: str) -> VisualQA:
    qa = visual_conversation(args.turns, gap_s=args.gap or 6.0, seed=args.seed)
    save_script(folder, "questions", qa.script)
    save_script(folder, "cut", barge_in(0.8, seed=args.seed + 1))
    write_clip(os.path.join(folder, "scene.mp4"), qa)
    return qa


def replay(args, measure, cfg: Config) -> int:
    """Child: run ``args.agent`` on the inputs in ``args.replay``; leave A.wav and A.json."""
    folder = args.replay
    with tempfile.TemporaryDirectory() as tmp:
        result, report, rows = measure(args.agent, cfg, load_script(folder, "questions"),
                                       load_script(folder, "cut"), None, tmp,
                                       camera=os.path.join(folder, "scene.mp4"),
                                       out=os.path.join(folder, f"{args.agent}.wav"), views=args.hear_views)
    with open(os.path.join(folder, f"{args.agent}.json"), "w") as fh:
        json.dump({"result": result, "rows": rows, "texts": report["texts"], "t_out0": report["t_out0"]}, fh)
    print(json.dumps({k: v for k, v in result.items() if k not in ("m2e", "turn_floors")}))
    return 0


def run_child(agent: str, folder: str, endpoint: str = "seq", speculate: bool = True,
              speculate_s: float | None = None, views: tuple | None = None) -> dict:
    cmd = [sys.executable, os.path.join(HERE, "bench_latency.py"), "--replay", folder, "--agent", agent,
           "--endpoint", endpoint] + ([] if speculate else ["--no-speculate"]) \
        + ([] if speculate_s is None else ["--speculate-s", str(speculate_s)]) \
        + ([] if views is None else ["--hear-views", ",".join(f"{st}@{h}" for st, h in views)])
    subprocess.run(cmd, check=True, stdout=sys.stderr)  # our stdout's last line stays the comparison
    with open(os.path.join(folder, f"{agent}.json")) as fh:
        return json.load(fh)


def spoken_answers(pair, qa: VisualQA, runs: dict, folder: str, asr) -> list[dict]:
    """Per agent and question: its reply cut from its timeline, transcribed and scored."""
    answers = []
    for a in pair:
        wav, sr = sf.read(os.path.join(folder, f"{a}.wav"), dtype="float32")
        run = runs[a]
        chosen = answer_turns(run["rows"], len(qa.script.turns))
        heard = [asr.transcribe(reply_audio(wav, sr, run["t_out0"], run["rows"], r)) if r else "" for r in chosen]
        answers += score_agent(a, qa.script.turns, chosen, run["texts"], heard)
    return answers


def compare(args, browser_p50) -> int:
    from livesense.agents.cascade.asr import WhisperASR
    from livesense.corpus import synth_piper

    pair = parse_pair(args.compare)
    answers_path = args.answers or os.path.splitext(args.plot or "out/latency.png")[0] + "_answers.json"
    with tempfile.TemporaryDirectory() as folder:
        qa = write_inputs(args, folder)
        runs = {a: run_child(a, folder, args.endpoint, not args.no_speculate, args.speculate_s, args.hear_views)
                for a in pair}
        asr = WhisperASR(threads=1)
        answers = spoken_answers(pair, qa, runs, folder, asr)
        repeatable = functools.partial(synth_piper, noise_scale=0.0, noise_w_scale=0.0)  # same audio every run
        reference = reference_accuracy(qa.script.turns, asr, repeatable)
        browser = browser_p50(qa.script, pair[0], folder) if args.browser else {"browser_p50_ms": None}
        browser.pop("browser_m2e_ms", None)
    m2e = {a: runs[a]["result"].pop("m2e") for a in pair}
    for a in pair:
        runs[a]["result"].pop("turn_floors", None)  # (per-turn; its p50 is floor_ms)
    summary = summarise(pair, m2e, answers)
    os.makedirs(os.path.dirname(os.path.abspath(answers_path)), exist_ok=True)
    with open(answers_path, "w") as fh:
        json.dump(answers, fh, indent=1)
    first = runs[pair[0]]["result"]
    if args.plot:
        plot_compare(args.plot, pair, m2e, {a: runs[a]["result"]["stages"] for a in pair}, first["floor_ms"], summary)
    print(json.dumps({**first, **browser, "compare": list(pair),
                      **{f"{a}_{k}": runs[a]["result"][k] for a in pair for k in PER_AGENT},
                      **summary, "reference_answer_accuracy": reference, "answers": answers_path,
                      "plot": args.plot}))
    return 0


def plot_compare(path: str, pair, m2e: dict, stages: dict, floor: float, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.boxplot([m2e[x] for x in pair], showfliers=False, widths=0.5)
    rng = np.random.default_rng(0)
    for i, x in enumerate(pair, 1):
        a.scatter(i + rng.uniform(-0.12, 0.12, len(m2e[x])), m2e[x], s=16, alpha=0.7, zorder=3)
    a.axhline(floor, color="tab:red", ls="--", label=f"floor {floor:.0f} ms")
    a.set_xticks(range(1, len(pair) + 1), [_label(x, summary) for x in pair])
    a.set(ylabel="mouth-to-ear (ms)", title=f"same questions and scenes; speedup {summary['speedup']}x")
    a.legend()
    names = list(dict.fromkeys(k for x in pair for k in stages[x]))
    y, h = np.arange(len(names)), 0.8 / len(pair)
    for i, x in enumerate(pair):
        b.barh(y + i * h, [stages[x].get(n, 0.0) for n in names], height=h, label=x)
    b.set_yticks(y + h * (len(pair) - 1) / 2, names)
    b.set(xlabel="ms (p50)", title="where the time goes")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _label(agent: str, summary: dict) -> str:
    p50, acc = summary[f"{agent}_p50_ms"], summary[f"{agent}_answer_accuracy"]
    return f"{agent}\np50 {p50:.0f} ms\nright {acc:.0%}" if p50 is not None and acc is not None else agent
