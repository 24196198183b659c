"""A short soak through the full runtime on a 20x clock: no errors, no drift, answers keep coming."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "scripts" / "soak.py"


def test_short_soak_holds_up():
    # Reply offsets are read on the sped-up clock, so 1 ms of wall-clock scheduling jitter
    # reads as `speed` ms of drift. At 20x, 2 of 6 runs here (one in CI) went over 20 ms
    # with no real drift; at 10x six runs gave 0.8-9.0 ms.
    r = subprocess.run([sys.executable, str(SCRIPT), "--hours", "0.03", "--speed", "10", "--turns", "4"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["errors"] == 0
    assert result["turns_answered"] >= 15  # 108 s of session, a turn every ~6 s
    assert result["replies_located"] == result["turns_answered"]
    assert result["drift_ms"] <= 20
