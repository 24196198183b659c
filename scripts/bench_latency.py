"""Mouth-to-ear latency of the full runtime, from files with known speech boundaries.

    python scripts/bench_latency.py [--turns 8] [--agent parrot] [--plot out/latency.png]
    python scripts/bench_latency.py --compare [native,cascade] [--turns 6]

A scripted conversation (held-out voices) is played into the runtime *paced in real time*,
exactly as a microphone would deliver it; replies go to a real-time WAV timeline (or to
the speaker with --speaker DEVICE). Mouth-to-ear = true end of user speech (known from the
script, not the VAD's guess) -> first reply sample at the output. A second scenario cuts
in during a reply and measures barge-in: true onset of the interrupting speech -> reply
audio silenced (the duck on a tentative onset, or the flush if that came first; only a
barge-in that was then confirmed counts). It runs ``--barge-in-trials`` renditions of that
clip (Piper speaks the interruption afresh each time): ``barge_in_ms`` is the median over
the confirmed ones, ``barge_in_missed`` counts the others (what the first of them saw is in
``barge_in_counters`` / ``barge_in_marks``). The algorithmic floor is the latency no compute can remove with this
configuration: ``floor_ms`` is the p50 over turns of what each turn's end-of-turn decision
needed (the wait the rule took on that turn's audio, a function of the sound alone) plus
output buffering; ``floor_min_ms`` the shortest wait the rule allows. ``resumes`` counts
replies cut because the user went on after a pause the turn was ended at (the price of an
early end); ``interrupts`` counts barge-ins. Last line: JSON.

--compare A,B runs two agents (default native,cascade), each in its own process, on the
same inputs: spoken visual questions (held-out voices) with a camera clip showing each
question's scene (``livesense.eval.visual_qa``), and the same barge-in clip. The JSON keeps
the keys above for A and adds ``A_p50_ms``/``B_p50_ms`` (and p95, answered, barge-in,
stages), ``speedup`` = B p50 / A p50, and answer quality: ``A_answer_accuracy`` is the
share of questions whose spoken reply, as Whisper tiny.en hears it, names the right slot
word for the scene (``livesense.eval.answers.correct``); ``A_text_accuracy`` scores the
agent's own text; ``reference_answer_accuracy`` scores the expected replies spoken by
Piper (the measure's ceiling). Per-question rows go to ``answers`` (JSON), both agents'
latency distributions to ``plot``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from dataclasses import replace

import numpy as np
import soundfile as sf

from livesense.app import RunSpec, build_session
from livesense.cli import parse_views
from livesense.config import Config
from livesense.corpus.conversation import barge_in, conversation
from livesense.runtime.pipeline import SESSION


def run_script(script, agent: str, cfg: Config, speaker: str | None, tmp: str, camera: str | None = None,
               out: str | None = None, views: tuple | None = None, listen: bool = True) -> dict:
    wav = os.path.join(tmp, "in.wav")
    sf.write(wav, script.audio, 16000, subtype="FLOAT")
    out = speaker or out or os.path.join(tmp, "out.wav")
    session = build_session(RunSpec(mic=wav, camera=camera, speaker=out, agent=agent, hear_views=views,
                                    listen=listen), cfg)
    session.pipeline.run()
    report = session.report()
    report["marks"] = session.pipeline.tracer.turns()
    report["texts"] = {str(k): v for k, v in session.transcript.replies.items()}
    report["t_out0"] = getattr(getattr(session.output, "sink", None), "t_start", None)  # WAV sample 0
    return report


def match_turns(report: dict, script) -> list[dict]:
    """Pair each answered turn with the scripted utterance whose end it detected."""
    t0 = report["marks"][SESSION]["source_start"]
    rows = []
    for tid, m in report["marks"].items():
        if tid == SESSION or "speech_end" not in m:
            continue
        q = min(range(len(script.turns)), key=lambda i: abs(t0 + script.turns[i]["end_s"] - m["speech_end"]))
        truth = script.turns[q]
        rows.append({"q": q, "turn": tid, "true_end": t0 + truth["end_s"], "true_start": t0 + truth["start_s"], **m})
    return sorted(rows, key=lambda r: r["true_end"])


def answered(rows: list[dict]) -> list[dict]:
    """The turns answered (a resumed turn's cut reply is no answer), in order."""
    return [r for r in rows if "first_output" in r and "resumed" not in r]


def latency_rows(rows: list[dict]) -> dict:
    done = answered(rows)
    m2e = [1000 * (r["first_output"] - r["true_end"]) for r in done]
    stage = lambda a, b: [1000 * (r[b] - r[a]) for r in done if a in r and b in r]  # noqa: E731
    stages = {
        "vad_turn": stage("true_end", "turn_decided"),
        "model": stage("turn_decided", "first_token"),
        "decode": stage("first_token", "first_audio"),
        "output_buffer": stage("first_audio", "first_output"),
    }
    return {"m2e": m2e, "stages": {k: float(np.median(v)) for k, v in stages.items() if v}}


def output_ms(cfg: Config, speaker: bool) -> float:
    """Output buffering no compute removes (speaker only: the jitter prebuffer plus the
    device latency; a WAV timeline has none)."""
    return (cfg.playback.prebuffer_s + cfg.audio.output_latency_s) * 1000 if speaker else 0.0


def floor_ms(cfg: Config, speaker: bool, codec_ms: float = 0.0) -> float:
    """The shortest latency this configuration allows: the shortest end-of-turn wait (min_stop_s
    with an end-of-turn model; stop_s without one), VAD frame quantisation (half a frame on
    average), the codec's frame and look-ahead, and output buffering."""
    stop = cfg.turn.min_stop_s if cfg.turn.endpoint_model and cfg.turn.barge_in else cfg.turn.stop_s
    return stop * 1000 + cfg.audio.frame_ms / 2 + codec_ms + output_ms(cfg, speaker)


def turn_floors_ms(rows: list[dict], cfg: Config, speaker: bool, codec_ms: float = 0.0) -> list[float]:
    """Per answered turn, the latency no compute could have removed from *that* turn: the wait
    the end-of-turn rule took on its audio (true end of speech -> the capture time of the frame
    it decided on: a function of the sound, not of how fast anything ran), plus the codec's
    frame and look-ahead and output buffering. With the fixed rule this is ~``floor_ms``; with
    an end-of-turn model it is what that model needed to hear for this turn."""
    return [1000 * (r["turn_decided"] - r["true_end"]) + codec_ms + output_ms(cfg, speaker) for r in answered(rows)]


def barge_in_ms(report: dict, script) -> float | None:
    t0 = report["marks"][SESSION]["source_start"]
    onset = t0 + script.turns[-1]["start_s"]
    cut = [min(m[k] for k in ("ducked", "flushed") if k in m) for tid, m in report["marks"].items()
           if tid != SESSION and "flushed" in m]  # silent from the duck on; only a confirmed cut counts
    return 1000 * (cut[0] - onset) if cut else None


def browser_p50(script, agent: str, tmp: str) -> dict:
    """The same conversation through the browser demo in headless Chromium (ui/bench_browser)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from ui.bench_browser import browser_latency, missing_tools

    if missing_tools():
        return {"browser_p50_ms": None, "browser_note": "needs " + ", ".join(missing_tools())}
    wav = os.path.join(tmp, "browser.wav")
    sf.write(wav, script.audio, 16000, subtype="PCM_16")
    with open(os.path.join(tmp, "browser.json"), "w") as fh:
        json.dump({"sample_rate": 16000, "turns": script.turns}, fh)
    r = browser_latency(wav, n_turns=len(script.turns), agent=agent)
    return {k: r.get(k) for k in ("browser_p50_ms", "browser_p95_ms")} | {
        "browser_underruns": r.get("underruns"),
        "browser_m2e_ms": dict(zip(r.get("per_turn_q") or [], r.get("per_turn_ms") or []))}  # by turn index


def browser_added_ms(cli_m2e: dict, browser_m2e: dict | None) -> float | None:
    """What the browser path adds, turn by turn: the median of (browser - CLI) mouth-to-ear
    over the turns (by index in the script) both answered. With an end-of-turn model the two p50s may fall in
    different humps of the distribution (each session's audio reaches the detector its own
    way and some turns end early in one and not the other); the per-turn median is not
    thrown by a few such turns."""
    both = [q for q in cli_m2e if q in (browser_m2e or {})]
    return float(np.median([browser_m2e[q] - cli_m2e[q] for q in both])) if both else None


def plot(path: str, m2e: list[float], stages: dict, floor: float, turn_floors: list[float] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.bar(range(len(m2e)), m2e, color="tab:blue")
    if turn_floors and len(turn_floors) == len(m2e):
        a.plot(range(len(m2e)), turn_floors, "_", color="black", ms=14, mew=2, label="this turn's floor")
    a.axhline(floor, color="tab:red", ls="--", label=f"floor {floor:.0f} ms")
    a.set(xlabel="turn", ylabel="mouth-to-ear (ms)", title="per turn")
    a.legend()
    b.barh(list(stages), list(stages.values()), color="tab:green")
    b.set(xlabel="ms (p50)", title="where the time goes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def measure(agent: str, cfg: Config, script, cut, speaker: str | None, tmp: str, camera: str | None = None,
            out: str | None = None, views: tuple | None = None, listen: bool = True) -> tuple[dict, dict, list[dict]]:
    """The conversation, then the barge-in clip: (result keys, report, matched turn rows)."""
    report = run_script(script, agent, cfg, speaker, tmp, camera, out, views, listen)
    rows = match_turns(report, script)
    lat = latency_rows(rows)
    times, missed = [], None
    cuts = cut if isinstance(cut, list) else [cut]
    for c in cuts:  # renditions of the interruption (Piper renders it afresh each time)
        cut_report = run_script(c, agent, replace(cfg, turn=replace(cfg.turn, barge_in=True)), speaker, tmp,
                                views=views, listen=listen)
        ms = barge_in_ms(cut_report, c)
        if ms is not None:
            times.append(ms)
        elif missed is None:
            missed = (cut_report, c)
    m2e = lat["m2e"]
    floors = turn_floors_ms(rows, cfg, speaker is not None)
    result = {
        "agent": agent, "turns": len(script.turns), "answered": len(m2e),
        "p50_ms": float(np.percentile(m2e, 50)) if m2e else None,
        "p95_ms": float(np.percentile(m2e, 95)) if m2e else None,
        "floor_ms": float(np.median(floors)) if floors else None,  # p50 of the per-turn floors
        "floor_min_ms": floor_ms(cfg, speaker=speaker is not None),
        "resumes": int(report.get("counters", {}).get("resumes", 0)),  # replies cut as the user went on
        "interrupts": int(report.get("counters", {}).get("interrupts", 0)),  # barge-ins in the conversation
        "underruns": int(report.get("output", {}).get("underruns", 0)),
        "barge_in_ms": float(np.median(times)) if times else None,  # over the confirmed renditions
        "barge_in_trials": len(cuts), "barge_in_missed": len(cuts) - len(times),  # renditions not confirmed
        "stages": lat["stages"], "m2e": m2e, "turn_floors": floors,
    }
    if missed is not None:  # not confirmed: say what the first such barge-in run saw, to look into it
        miss_report, miss_script = missed
        t0 = miss_report["marks"][SESSION]["source_start"]
        result["barge_in_counters"] = miss_report.get("counters", {})
        result["barge_in_marks"] = {str(k): {n: round(v - t0, 3) for n, v in m.items() if isinstance(v, float)}
                                    for k, m in miss_report["marks"].items() if k != SESSION}
        result["barge_in_script"] = [(t["text"], t["voice"], round(t["start_s"], 3), round(t["end_s"], 3))
                                     for t in miss_script.turns]
    return result, report, rows


def bench_config(args) -> Config:
    cfg = Config()
    if args.no_speculate:
        cfg = replace(cfg, turn=replace(cfg.turn, speculate_s=None))
    elif args.speculate_s is not None:
        cfg = replace(cfg, turn=replace(cfg.turn, speculate_s=args.speculate_s))
    cfg = replace(cfg, turn=replace(cfg.turn, endpoint_model=None if args.endpoint == "off" else args.endpoint))
    return cfg


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=8)
    p.add_argument("--agent", default="parrot")
    p.add_argument("--speaker", help="output device instead of a real-time WAV timeline")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--barge-in-trials", type=int, default=3, help="renditions of the barge-in clip to run")
    p.add_argument("--plot", default="out/latency.png")
    p.add_argument("--browser", action="store_true", help="also run the browser path (headless Chromium)")
    p.add_argument("--compare", nargs="?", const="native,cascade", metavar="A,B",
                   help="two agents on the same visual questions and camera clip (default native,cascade)")
    p.add_argument("--gap", type=float, default=None, help="silence after each question, s (4; --compare 6)")
    p.add_argument("--answers", help="--compare: per-question rows (default: next to --plot)")
    p.add_argument("--endpoint", default="seq", metavar="MODEL",
                   help="end-of-turn: 'seq' sequence model (the default), 'off' (fixed 360 ms wait), 'shipped' "
                        "prosodic model, or a .json/.npz file")
    p.add_argument("--no-speculate", action="store_true",
                   help="start each reply only when the turn has ended (no reply computed during the end-of-turn wait)")
    p.add_argument("--speculate-s", type=float, default=None,
                   help="silence after which the reply starts unheard (TurnConfig.speculate_s, default 0.08)")
    p.add_argument("--hear-views", type=parse_views, default=None, metavar="ST@H,..",
                   help="native: views of each turn, semitones@grid-hops (NativeConfig.hear_views; 0 = as heard only)")
    p.add_argument("--no-listen", action="store_true",
                   help="native: prefill each turn only once it has ended, not while the user speaks")
    p.add_argument("--replay", help=argparse.SUPPRESS)  # --compare's child: run --agent on the inputs in this folder
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.replay:
        from bench_latency_compare import replay

        return replay(args, measure, bench_config(args))
    if args.compare:
        from bench_latency_compare import compare

        return compare(args, browser_p50)
    cfg = bench_config(args)
    with tempfile.TemporaryDirectory() as tmp:
        script = conversation(args.turns, gap_s=args.gap or 4.0, seed=args.seed)
        cuts = [barge_in(0.8, seed=args.seed + 1) for _ in range(args.barge_in_trials)]
        result, report, rows = measure(args.agent, cfg, script, cuts, args.speaker, tmp,
                                       views=args.hear_views, listen=not args.no_listen)
        rows_q = [r["q"] for r in answered(rows)]  # the question each m2e answers
        browser = browser_p50(script, args.agent, tmp) if args.browser else {"browser_p50_ms": None}
    m2e, turn_floors = result.pop("m2e"), result.pop("turn_floors")
    if args.browser:
        browser["browser_added_ms"] = browser_added_ms(dict(zip(rows_q, m2e)), browser.pop("browser_m2e_ms", None))
    if args.plot:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        plot(args.plot, m2e, result["stages"], result["floor_ms"] or result["floor_min_ms"], turn_floors)
    result = {**result, **browser, "hear_views": args.hear_views, "endpoint": args.endpoint, "listen": not args.no_listen,
              "speculate": not args.no_speculate, "m2e_ms": [round(x, 1) for x in m2e], "plot": args.plot}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
