"""The browser demo end to end in Debian Chromium (fake mic = tests/data/turns.wav, fake
camera = a generated y4m), parrot agent, audio routed to the test PulseAudio server's
virtual speaker when there is one. Skipped only when chromium / node / playwright-core are
missing; CI installs them (apt-get install -y chromium; cd ui/e2e && npm ci)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytest.importorskip("gradio", reason="pip install 'gradio==6.*'")
pytest.importorskip("websockets", reason="pip install websockets")

from ui.bench_browser import browser_latency, missing_tools  # noqa: E402

OUT = ROOT / "out" / "ui"


def optional_pulse(request):
    try:
        return request.getfixturevalue("pulse")
    except pytest.skip.Exception:
        return None


@contextmanager
def record_speaker(pulse, path: Path):
    """parec the virtual speaker's monitor (16 kHz mono s16) while the page plays."""
    with open(path, "wb") as f:
        proc = subprocess.Popen(["parec", "-d", "vspk.monitor", "--raw", "--format=s16le", "--rate=16000",
                                 "--channels=1"], stdout=f, env=pulse._child_env())
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(5)


@pytest.mark.browser
def test_browser_demo_end_to_end(request):
    missing = missing_tools()
    if missing:
        pytest.skip("needs " + ", ".join(missing))
    OUT.mkdir(parents=True, exist_ok=True)
    pulse = optional_pulse(request)
    env, capture, speaker_raw = {}, None, OUT / "speaker.raw"
    if pulse is not None:
        env = {**pulse.env, "PULSE_SINK": "vspk"}
        capture = lambda: record_speaker(pulse, speaker_raw)  # noqa: E731
    shot = OUT / "browser.png"
    res = browser_latency(str(ROOT / "tests" / "data" / "turns.wav"), n_turns=4, agent="parrot",
                          screenshot=str(shot), env=env, capture_speaker=capture)
    report, snap = res.pop("report"), res.pop("snapshot")
    res.pop("logs")
    res["pulse"] = pulse is not None
    (OUT / "browser_latency.json").write_text(json.dumps(res, indent=1))
    print("\nbrowser path:", json.dumps(res))

    assert snap["state"].startswith("live"), snap["state"]  # the page loaded and the session went live
    assert report["error"] is None
    assert res["mic_received_s"] >= 0.8 * res["mic_sent_s"] > 5.0  # no lost mic audio
    assert res["mic_lost_chunks"] == 0
    assert res["align_score"] > 0.6  # what arrived is the file Chromium was given
    assert res["video_frames"] >= 10
    assert "(parrot) you spoke for" in snap["transcript"]  # transcript on the page
    assert res["played_s"] > 1.0 and res["underruns"] == 0  # the reply played, without gaps
    assert res["turns"] >= 3 and 0 < res["browser_p50_ms"] < 1500  # mouth-to-ear measured per turn
    assert snap["latency"] is not None  # the latency panel got its numbers
    assert shot.exists() and shot.stat().st_size > 10_000
    if pulse is not None:  # the reply really reached the (virtual) speaker
        heard = np.frombuffer(speaker_raw.read_bytes(), "<i2").astype(np.float32) / 32768
        blocks = heard[: len(heard) // 1600 * 1600].reshape(-1, 1600)  # 100 ms each
        loud = np.sqrt(np.mean(blocks**2, axis=1)) > 0.01
        assert loud.sum() * 0.1 > 1.0, "speaker capture is silent"
