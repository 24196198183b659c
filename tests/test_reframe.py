import numpy as np
import pytest

from livesense.frames import AudioFrame
from livesense.runtime.history import AudioHistory
from livesense.runtime.reframe import Reframer


@pytest.mark.parametrize("chunk", [1, 7, 320, 321, 5000])
def test_reframer_chunked_equals_one_shot(chunk):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000).astype(np.float32)
    one = Reframer(320, 16000).push(AudioFrame(x, 16000, 10.0))
    r, got = Reframer(320, 16000), []
    for i in range(0, len(x), chunk):
        got += r.push(AudioFrame(x[i : i + chunk], 16000, 10.0 + i / 16000))
    assert len(got) == len(one) == 50
    for a, b in zip(got, one):
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.t_capture == pytest.approx(b.t_capture, abs=1e-9)
    assert got[1].t_capture == pytest.approx(10.02)


def test_history_reads_by_capture_time_and_wraps():
    h = AudioHistory(seconds=1.0, sample_rate=100)
    x = np.arange(250, dtype=np.float32)
    for i in range(0, 250, 10):
        h.write(x[i : i + 10], i / 100)
    np.testing.assert_array_equal(h.read(2.0, 2.1), x[200:210])
    np.testing.assert_array_equal(h.read(0.0, 1.6), x[150:160])  # older than the window is gone
    assert h.read(3.0, 4.0).size == 0
