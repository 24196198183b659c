"""`livesense run` on real PortAudio devices: the virtual mic in, the virtual speaker out.

turns.wav is played into the virtual mic (paplay -> vmic_feed -> vmic), the assistant
(parrot test agent) answers through the default output (vspk), and the speaker is
recorded from vspk.monitor: what it said back must be the speech it heard.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate

from pulse import wait_until_listening

pytestmark = pytest.mark.audio
DATA = Path(__file__).parent / "data"


def test_assistant_on_virtual_devices(pulse, tmp_path):
    env = {**os.environ, **pulse.env}
    rec_path = tmp_path / "speaker.wav"
    rec = subprocess.Popen(["parec", "-d", "vspk.monitor", "--rate=16000", "--channels=1", "--format=s16le",
                            "--file-format=wav", str(rec_path)], env=env)
    run = subprocess.Popen([sys.executable, "-m", "livesense", "run", "--agent", "parrot"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until_listening(run)
    feed = pulse.paplay(str(DATA / "turns.wav"))
    feed.wait(20)
    time.sleep(4.0)  # the second reply plays out
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    rec.send_signal(signal.SIGINT)
    rec.wait(10)
    assert run.returncode == 0, err
    resumes = int(dict(re.findall(r"(\w+)=(\d+)", out.split("counters:")[-1])).get("resumes", 0))
    assert resumes <= 1 and out.count("agent: (parrot)") == 2 + resumes, out  # (a pause at "Hello there,")
    assert "mouth-to-ear p50" in out
    heard, sr = sf.read(rec_path, dtype="float32")
    spoken, _ = sf.read(DATA / "turns.wav", dtype="float32")
    # the second turn starts while the first reply plays, so that reply is cut (barge-in);
    # the second reply plays whole: look for the middle of the second turn
    second_turn = spoken[int(3.9 * 16000) : int(4.8 * 16000)]
    lag = int(np.argmax(np.abs(correlate(heard, second_turn, mode="valid", method="fft"))))
    r = np.corrcoef(heard[lag : lag + len(second_turn)], second_turn)[0, 1]
    assert r > 0.95  # the speaker played back what the user said
    assert "interrupts=1" in out  # and the first reply was cut when the user spoke again
