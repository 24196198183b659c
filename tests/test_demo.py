"""`livesense run --demo` (the README's first command) works with no network at all."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import soundfile as sf


def can_unshare_net() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_unshare_net(), reason="unshare -n needs root or user namespaces")
def test_demo_runs_without_network(tmp_path):
    r = subprocess.run(["unshare", "-n", sys.executable, "-m", "livesense", "run", "--demo", "--out-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert "agent:" in r.stdout
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert trace["turns"]["turns"] >= 1 and trace["realtime"]
    assert sf.info(tmp_path / "reply.wav").duration > 1.0
    assert (tmp_path / "transcript.txt").read_text().strip()
