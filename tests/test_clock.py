import threading
import time

import pytest

from livesense.clock import FakeClock, MonotonicClock, ScaledClock


def test_fake_clock_moves_only_when_told():
    c = FakeClock(5.0)
    assert c.now() == 5.0
    c.sleep(0.25)
    c.advance(0.75)
    assert c.now() == 6.0
    with pytest.raises(ValueError):
        c.advance(-1)


def test_fake_clock_is_thread_safe():
    c = FakeClock()
    threads = [threading.Thread(target=lambda: [c.advance(0.001) for _ in range(1000)]) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert c.now() == pytest.approx(4.0)


def test_scaled_clock_runs_faster_and_sleeps_shorter():
    c = ScaledClock(10.0)
    w0, t0 = time.monotonic(), c.now()
    c.sleep(1.0)
    wall, virtual = time.monotonic() - w0, c.now() - t0
    assert 0.09 < wall < 0.5 and virtual >= 1.0


def test_monotonic_clock_never_goes_back():
    c = MonotonicClock()
    a = c.now()
    assert c.now() >= a
