"""The command line, end to end on files (real sources, real turn detection, real WAV out)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).parent / "data"


def livesense(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "livesense", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("cam") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(60):
        img = np.zeros((120, 160, 3), np.uint8)
        img[40:80, 10 + 2 * i : 50 + 2 * i] = (0, 0, 255)
        writer.write(img)
    writer.release()
    return path


def test_run_files_in_real_time_prints_transcript_and_trace(tmp_path, clip):
    out, trace = tmp_path / "out.wav", tmp_path / "trace.json"
    r = livesense("run", "--agent", "parrot", "--mic", str(DATA / "turns.wav"), "--camera", str(clip),
                  "--speaker", str(out), "--trace", str(trace))
    assert r.returncode == 0, r.stderr
    report = json.loads(trace.read_text())
    resumes = report["counters"].get("resumes", 0)  # a turn ended at "Hello there," that went on
    assert resumes <= 1 and r.stdout.count("agent: (parrot)") == 2 + resumes
    assert r.stdout.count("[cut: you went on]") == resumes
    assert "mouth-to-ear p50" in r.stdout and "turn_detect" in r.stdout
    assert report["turns"]["turns"] == 2  # answered turns: a resumed one is not among them
    # real-time: mouth-to-ear is the end-of-turn wait plus a little compute, never negative
    assert 80 < report["turns"]["p50_ms"] < 800
    assert report["stages"]["agent"]["n"] > 200
    x, sr = sf.read(out)
    src, _ = sf.read(DATA / "turns.wav")
    assert sr == 16000 and len(x) >= len(src)  # time-aligned with the input, replies after turns
    assert np.abs(x).max() > 0.1


def test_run_fast_says_latency_is_not_measured(tmp_path):
    r = livesense("run", "--agent", "parrot", "--mic", str(DATA / "turns.wav"), "--speaker", str(tmp_path / "o.wav"),
                  "--fast")
    assert r.returncode == 0, r.stderr
    assert "not measured with --fast" in r.stdout
    assert 2.8 < sf.info(tmp_path / "o.wav").duration < 3.8


@pytest.mark.parametrize("content,expect", [(b"", "empty file"), (b"RIFF\x00\x00garbage" * 10, "not a readable audio file")])
def test_bad_mic_file_gives_clear_error(tmp_path, content, expect):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    r = livesense("run", "--agent", "parrot", "--mic", str(bad), "--speaker", str(tmp_path / "o.wav"), "--fast")
    assert r.returncode == 2
    assert expect in r.stderr and "Traceback" not in r.stderr


def test_missing_video_gives_clear_error(tmp_path):
    r = livesense("run", "--agent", "parrot", "--mic", str(DATA / "turns.wav"), "--camera", str(tmp_path / "nope.mp4"),
                  "--speaker", str(tmp_path / "o.wav"), "--fast")
    assert r.returncode == 2 and "nope.mp4" in r.stderr and "Traceback" not in r.stderr


def test_devices_without_sound_server_explains(tmp_path):
    env = {"PULSE_SERVER": f"unix:{tmp_path}/no-such-socket", "XDG_RUNTIME_DIR": str(tmp_path)}
    r = livesense("devices", env=env)
    assert r.returncode == 0
    assert "No audio devices found" in r.stdout and "--mic file.wav" in r.stdout
    assert "Cameras: none found" in r.stdout


def test_ctrl_c_stops_cleanly_and_flushes_the_wav(tmp_path):
    import signal
    import time

    out = tmp_path / "o.wav"
    p = subprocess.Popen([sys.executable, "-m", "livesense", "run", "--agent", "parrot", "--mic", str(DATA / "turns.wav"),
                          "--speaker", str(out), "--endpoint", "off"],  # (the fixed wait: no early end at a pause)
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()  # the first reply has started: we are ~3 s into the 6 s input
    assert first.startswith("agent:"), first
    time.sleep(0.5)  # let its audio reach the output
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    stdout, stderr = p.communicate(timeout=20)
    assert time.monotonic() - t0 < 3.0  # a prompt, clean stop
    assert p.returncode == 0, stderr
    assert "turns answered" in stdout and "Traceback" not in stderr
    info = sf.info(out)  # a valid, closed WAV (header rewritten) holding what was played
    assert info.duration >= 3.0  # the input so far, then the first reply written whole


def test_cascade_answers_from_files(tmp_path, clip):
    """The default agent on real models: hears the question, speaks an answer."""
    out = tmp_path / "reply.wav"
    r = livesense("run", "--mic", str(DATA / "turns.wav"), "--camera", str(clip), "--speaker", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("turns answered: 2") == 1
    assert "agent:" in r.stdout and "mouth-to-ear p50" in r.stdout
    x, sr = sf.read(out)
    assert np.abs(x).max() > 0.05


def test_cascade_refuses_a_wrong_model_file(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"hello, not a model")
    r = livesense("run", "--gguf", str(fake), "--mic", str(DATA / "turns.wav"), "--speaker", str(tmp_path / "o.wav"))
    assert r.returncode == 2
    assert "not a GGUF file" in r.stderr and "Traceback" not in r.stderr


def test_native_agent_runs_the_demo(tmp_path):
    """The shipped native model end to end: audio + image tokens in, text + LSC-1 speech out."""
    r = livesense("run", "--agent", "native", "--demo", "--out-dir", str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "agent:" in r.stdout and "mouth-to-ear p50" in r.stdout
    x, sr = sf.read(tmp_path / "reply.wav")
    assert sr == 16000 and np.abs(x).max() > 0.05  # it spoke


def test_turn_options_reach_the_turn_config(tmp_path):
    from livesense.cli import config_from, parser

    assert config_from(parser().parse_args(["run"])).turn.endpoint_model == "seq"  # the sequence model by default
    assert config_from(parser().parse_args(["run", "--endpoint", "off"])).turn.endpoint_model is None
    cfg = config_from(parser().parse_args(["run", "--endpoint", "shipped"]))
    assert cfg.turn.endpoint_model == "shipped"
    assert config_from(parser().parse_args(["run"])).turn.speculate_s == 0.08
    assert config_from(parser().parse_args(["run", "--no-speculate"])).turn.speculate_s is None
    bad = tmp_path / "ep.json"
    bad.write_text("{}")
    r = livesense("run", "--mic", str(DATA / "turns.wav"), "--speaker", str(tmp_path / "o.wav"), "--fast",
                  "--endpoint", str(bad))
    assert r.returncode != 0 and "endpoint" in r.stderr and "Traceback" not in r.stderr


def test_hear_views_parse_and_reject():
    import argparse

    from livesense.cli import parse_views

    assert parse_views("0@1,0@2,-2") == ((0.0, 1), (0.0, 2), (-2.0, 0))
    assert parse_views("0") == ((0.0, 0),)
    for bad in ("x", "0@4", "30", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="hear-views"):
            parse_views(bad)


def test_transcript_says_which_replies_were_cut_and_why(capsys):
    from livesense.app import TranscriptStage
    from livesense.cli import TranscriptPrinter
    from livesense.frames import Interrupt, TextFrame

    stage = TranscriptStage(TranscriptPrinter())
    stage.step(TextFrame("Hello,", 1.0, turn=7))
    stage.step(Interrupt(1.2, reason="resume", turn=7))  # mid-reply: the user went on after a pause
    stage.step(TextFrame("It is red.", 2.0, final=True, turn=8))
    stage.step(Interrupt(2.5, turn=8))  # printed whole, heard in part: the user cut in
    stage.step(Interrupt(3.0, turn=99))  # a reply with no text: nothing to say
    assert capsys.readouterr().out.splitlines() == ["agent: Hello, [cut: you went on]", "agent: It is red.",
                                                    "agent: [cut: you cut in]"]
