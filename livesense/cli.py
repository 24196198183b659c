"""Command line: ``livesense devices`` and ``livesense run``.

The only module that prints. Flags map onto the frozen config dataclasses.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace

from livesense.config import Config
from livesense.errors import LiveSenseError


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop a run cleanly (files flushed, devices closed). Installed
    explicitly: a process started in the background inherits SIGINT *ignored*, and then
    Python would never raise KeyboardInterrupt."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stop_on_signals()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except LiveSenseError as e:
        print(f"livesense: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("livesense: stopped", file=sys.stderr)
        return 130


def parse_views(text: str) -> tuple[tuple[float, int], ...]:
    """"0@1,0@2,-2" -> ((0.0, 1), (0.0, 2), (-2.0, 0)): ``--hear-views``, each view a voice warp
    in semitones and, after @, a code-grid shift in 10 ms hops (0-3)."""
    want = "--hear-views wants SEMITONES[@HOPS] items separated by commas, e.g. 0@1,0@2,0@3,0"
    try:
        views = tuple((float(v.split("@")[0]), int(v.split("@")[1]) if "@" in v else 0)
                      for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{want}; got {text!r}")
    if not views or any(abs(st) > 12 or not 0 <= h <= 3 for st, h in views):
        raise argparse.ArgumentTypeError(f"{want} (|semitones| <= 12, hops 0-3); got {text!r}")
    return views


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="livesense", description="On-device real-time voice-and-vision agent")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    d = sub.add_parser("devices", help="list audio devices and cameras, or explain why there are none")
    d.add_argument("--max-camera", type=int, default=4, help="probe camera indices below this")
    d.set_defaults(func=cmd_devices)
    r = sub.add_parser("run", help="run the assistant")
    r.add_argument("--mic", help="input device (index or name) or an audio file (WAV/FLAC); default: default mic")
    r.add_argument("--camera", help="camera index or a video file path; default: no camera")
    r.add_argument("--speaker", help="output device (index or name) or a .wav path; default: default speaker")
    r.add_argument("--agent", default="cascade", choices=["cascade", "native", "parrot"],
                   help="who answers: 'cascade' = Whisper tiny.en -> Gemma 3 270M -> Piper (shipped on PyPI); "
                        "'native' = LiveSense-Tiny, one model for audio+image in, text+speech out (early: "
                        "see models/tiny/MODEL_CARD.md); 'parrot' = a test agent that says back what it heard")
    r.add_argument("--whisper-dir", help="cascade: a CTranslate2 Whisper model folder instead of tiny.en")
    r.add_argument("--gguf", help="cascade: a GGUF language model instead of Gemma 3 270M; "
                                  "native: a LiveSense GGUF instead of the shipped tiny model")
    r.add_argument("--hear-views", type=parse_views, metavar="ST@H,..",
                   help="native: views of each turn, semitones@grid-hops (default 0@1,0@2,0@3,0@0; 0 = as heard only)")
    r.add_argument("--piper-onnx", help="cascade: a Piper voice .onnx instead of joe")
    r.add_argument("--fast", action="store_true",
                   help="with file input: run as fast as possible (no pacing, no barge-in)")
    r.add_argument("--trace", metavar="JSON", help="write the latency trace to this file")
    r.add_argument("--demo", action="store_true",
                   help="run on the shipped demo (spoken question + camera clip), no devices needed; "
                        "writes reply.wav, transcript.txt and trace.json to --out-dir")
    r.add_argument("--out-dir", default="out/demo", help="where --demo writes its files")
    r.add_argument("--stop-s", type=float, help="silence that always ends a user turn, seconds (0.36)")
    r.add_argument("--no-speculate", action="store_true",
                   help="start each reply only once the turn has ended (default: computed, unheard, "
                        "from 0.16 s of silence on and dropped if you go on)")
    r.add_argument("--endpoint", default="seq", metavar="MODEL",
                   help="end-of-turn model: 'seq' (the default: the sequence model, models/endpoint; answers "
                        "~100 ms after you stop when it can tell you are done, and takes it back if you go on), "
                        "'shipped' (prosodic), a .json/.npz file, or 'off' (always wait --stop-s: fewer "
                        "false starts at pauses)")
    r.add_argument("--no-aec", action="store_true",
                   help="turn off echo cancellation of the agent's own voice (on by default with a speaker)")
    r.set_defaults(func=cmd_run)
    return p


def cmd_devices(args) -> int:
    from livesense.capture.devices import explain_no_devices, list_audio_devices, list_cameras

    try:
        devices = list_audio_devices()
    except LiveSenseError as e:
        devices, problem = [], str(e)
    else:
        problem = explain_no_devices() if not devices else ""
    print("Audio devices:" if devices else problem)
    for dev in devices:
        print(f"  {dev}")
    cams = list_cameras(args.max_camera)
    print(f"Cameras: {', '.join(map(str, cams))}" if cams else
          f"Cameras: none found at indices 0..{args.max_camera - 1} (use --camera path/to/video.mp4)")
    return 0


def config_from(args) -> Config:
    cfg = Config()
    if args.stop_s is not None:
        cfg = replace(cfg, turn=replace(cfg.turn, stop_s=args.stop_s))
    if getattr(args, "no_speculate", False):
        cfg = replace(cfg, turn=replace(cfg.turn, speculate_s=None))
    endpoint = getattr(args, "endpoint", "seq")
    if endpoint != "off":
        from livesense.runtime.endpoint import open_model

        open_model(endpoint)  # a bad file fails now, clearly
    cfg = replace(cfg, turn=replace(cfg.turn, endpoint_model=None if endpoint == "off" else endpoint))
    if getattr(args, "no_aec", False):
        cfg = replace(cfg, duplex=replace(cfg.duplex, aec=False))
    if args.fast:
        cfg = replace(cfg, runtime=replace(cfg.runtime, realtime=False), turn=replace(cfg.turn, barge_in=False))
    return cfg


def cmd_run(args) -> int:
    from livesense.app import RunSpec, run_session

    if args.demo:
        apply_demo(args)
    spec = RunSpec(mic=args.mic, camera=args.camera, speaker=args.speaker, agent=args.agent,
                   whisper_dir=args.whisper_dir, gguf=args.gguf, piper_onnx=args.piper_onnx,
                   hear_views=args.hear_views)
    ready = lambda: print("livesense: listening", file=sys.stderr, flush=True)  # noqa: E731
    report = run_session(spec, config_from(args), on_text=TranscriptPrinter(), on_ready=ready)
    print(format_report(report))
    if args.trace:
        with open(args.trace, "w") as fh:
            json.dump(report, fh, indent=1)
    if args.demo:
        with open(os.path.join(args.out_dir, "transcript.txt"), "w") as fh:
            fh.write("\n".join(report["transcript"]) + "\n")
        print(f"demo: wrote {args.speaker}, {args.trace} and transcript.txt in {args.out_dir}")
    return 0


class TranscriptPrinter:
    """Prints the agent's text as it streams: one line per reply."""

    def __init__(self) -> None:
        self.turn: int | None = None

    def __call__(self, frame) -> None:
        text = frame.text
        if frame.turn != self.turn:
            if self.turn is not None:
                print()
            text = "agent: " + text.lstrip()
            self.turn = frame.turn
        print(text, end="\n" if frame.final else "", flush=True)
        if frame.final:
            self.turn = None

    def cut(self, interrupt) -> None:
        """The reply to ``interrupt.turn`` was cut off: say so where it was printed."""
        from livesense.app import cut_note

        if interrupt.turn == self.turn:
            print(" " + cut_note(interrupt), flush=True)
            self.turn = None
        else:
            print("agent: " + cut_note(interrupt), flush=True)


def apply_demo(args) -> None:
    """Point the run at the shipped demo input; keep any device/file the user named."""
    from importlib.resources import files

    demo = files("livesense") / "demo"
    os.makedirs(args.out_dir, exist_ok=True)
    args.mic = args.mic or str(demo / "question.wav")
    args.camera = args.camera or str(demo / "scene.mp4")
    args.speaker = args.speaker or os.path.join(args.out_dir, "reply.wav")
    args.trace = args.trace or os.path.join(args.out_dir, "trace.json")


def format_report(report: dict) -> str:
    turns = report["turns"]
    lines = [f"turns answered: {turns.get('turns', 0)}"]
    if not report["realtime"]:
        lines.append("latency: not measured with --fast (input is not paced like a live mic)")
    elif turns.get("turns"):
        lines.append(f"mouth-to-ear p50 {turns['p50_ms']:.0f} ms, p95 {turns['p95_ms']:.0f} ms")
        lines.append("  per stage (p50): " + ", ".join(f"{k} {v:.0f} ms" for k, v in turns["stages"].items()))
    if report["realtime"]:
        lines.append("stages (p50 processing / age at entry): " + ", ".join(
            f"{k} {v['p50_ms']:.2f}/{v['age_p50_ms']:.0f} ms" for k, v in report["stages"].items()))
    if report.get("counters"):
        lines.append("counters: " + ", ".join(f"{k}={v}" for k, v in sorted(report["counters"].items())))
    return "\n".join(lines)
