"""Full duplex on real PortAudio devices with a real echo path through PulseAudio.

A ``module-loopback`` routes the virtual speaker's monitor into the virtual mic's feed,
so everything the assistant says comes back into its microphone 100-200 ms later (the
parrot agent says back the user's own words: its echo *is* user-like speech). With echo
cancellation on, the run must answer each user utterance once (its own echo never starts
a turn nor interrupts it), and a user utterance played during a reply must cut it.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from pulse import wait_until_listening

pytestmark = pytest.mark.audio
FS = 16000


def utterance(path, text: str, voice: str = "en-us") -> float:
    from livesense.aec.room import espeak, fit

    x = espeak(text, voice, 160)
    x = fit(x, len(x), -20)
    sf.write(path, np.concatenate([x, np.zeros(FS // 2, np.float32)]), FS)
    return len(x) / FS


@pytest.fixture
def echo_path(pulse):
    """Speaker -> mic loopback for the duration of one test."""
    idx = pulse.pactl("load-module", "module-loopback", "source=vspk.monitor", "sink=vmic_feed",
                      "latency_msec=60", "source_dont_move=true", "sink_dont_move=true").strip()
    # a room loses acoustic energy between speaker and mic: the loopback plays at 60 %
    # (PulseAudio's cubic volume: about -13 dB), like a laptop's speaker-to-mic coupling
    inputs = pulse.pactl("list", "short", "sink-inputs").splitlines()
    loop = [line.split()[0] for line in inputs if "loopback" in line]
    assert loop, inputs
    for sink_input in loop:
        pulse.pactl("set-sink-input-volume", sink_input, "60%")
    time.sleep(0.5)
    yield pulse
    pulse.pactl("unload-module", idx)


def test_assistant_does_not_hear_itself_but_yields_to_user(echo_path, tmp_path):
    pulse = echo_path
    first = utterance(tmp_path / "a.wav", "Hello there, can you hear me clearly today?")
    second = utterance(tmp_path / "b.wav", "Tell me again about the long train journey to the coast.",
                       "en-gb")
    third = utterance(tmp_path / "c.wav", "Wait, stop, I have a question.", "en-us+f3")
    env = {**os.environ, **pulse.env}
    run = subprocess.Popen([sys.executable, "-m", "livesense", "run", "--agent", "parrot"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_listening(run)
        pulse.paplay(str(tmp_path / "a.wav")).wait(20)
        time.sleep(first + 2.0)  # the reply plays and its echo comes back: nothing must happen
        pulse.paplay(str(tmp_path / "b.wav")).wait(20)
        time.sleep(1.2)  # the reply to the second utterance is playing ...
        pulse.paplay(str(tmp_path / "c.wav")).wait(20)  # ... and the user cuts in
        time.sleep(third + 2.5)
    finally:
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert second > 2.0
    counters = dict(re.findall(r"(\w+)=(\d+)", out.split("counters:")[-1]))
    assert counters.get("interrupts") == "1", out  # only the real user interrupted
    # (with --no-aec this run gives ~13 interrupts and ~14 replies: it talks to itself)
    # one reply per user utterance, none to its echo; the end-of-turn model may end a turn at a
    # pause ("Hello there,") and take it back when the user goes on: that reply is cut (a resume)
    resumes = int(counters.get("resumes", 0))
    assert resumes <= 2 and out.count("agent: (parrot)") == 3 + resumes, out
