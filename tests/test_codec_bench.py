"""The quick bench runs end to end and its JSON carries the agreed keys and budgets."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"stoi", "pesq_wb", "tokens_per_s", "bitrate_bps", "x_realtime", "latency_ms",
        "codec2_1300_stoi", "opus_6k_stoi"}


@pytest.mark.slow
def test_bench_quick_json(tmp_path):
    pytest.importorskip("pystoi"), pytest.importorskip("pesq"), pytest.importorskip("piper")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_codec.py"), "--quick",
                          "--png", str(tmp_path / "b.png")], capture_output=True, text=True,
                         timeout=600, cwd=ROOT, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert KEYS <= res.keys()
    assert res["tokens_per_s"] <= 100 and res["bitrate_bps"] <= 1100 and res["latency_ms"] <= 80
    assert res["stoi"] > 0.8 and res["pesq_wb"] > 1.0  # regression floor, not the target
    assert (tmp_path / "b.png").stat().st_size > 1000
