import threading

import numpy as np
import pytest

from livesense.frames import AudioFrame, Interrupt, TextFrame, VideoFrame
from livesense.runtime.channel import Channel, ChannelClosed, ChannelFull


def audio(t=0.0):
    return AudioFrame(np.zeros(320, np.float32), 16000, t)


def test_control_frames_overtake_queued_data():
    ch = Channel(capacity=8)
    for i in range(5):
        ch.put(audio(i))
    ch.put(Interrupt(t_capture=9.0))
    first = ch.get(timeout=0)
    assert isinstance(first, Interrupt)
    assert [ch.get(timeout=0).t_capture for _ in range(5)] == [0, 1, 2, 3, 4]


def test_video_drops_oldest_and_counts():
    ch = Channel(capacity=8, video_capacity=2)
    for i in range(5):
        ch.put(VideoFrame(np.zeros((2, 2, 3), np.uint8), float(i)))
    got = [ch.get(timeout=0).t_capture for _ in range(2)]
    assert got == [3.0, 4.0]
    assert ch.stats.dropped_video == 3


def test_video_does_not_consume_audio_capacity():
    ch = Channel(capacity=2, video_capacity=2)
    ch.put(VideoFrame(np.zeros((2, 2, 3), np.uint8), 0.0))
    ch.put(audio())
    ch.put(audio())  # would block if video counted against audio capacity
    assert len(ch) == 3


def test_audio_is_never_dropped_silently():
    ch = Channel(capacity=2, name="x")
    ch.put(audio())
    ch.put(audio())
    with pytest.raises(ChannelFull, match="refusing to drop AudioFrame"):
        ch.put(audio(), timeout=0.05)
    assert len(ch) == 2


def test_blocked_producer_resumes_when_consumer_reads():
    ch = Channel(capacity=1)
    ch.put(audio(0))
    done = threading.Event()

    def producer():
        ch.put(audio(1), timeout=2.0)
        done.set()

    threading.Thread(target=producer).start()
    assert not done.wait(0.05)
    assert ch.get(timeout=1).t_capture == 0
    assert done.wait(1.0)
    assert ch.get(timeout=1).t_capture == 1


def test_close_wakes_consumer_and_refuses_producer():
    ch = Channel(capacity=1)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.get(timeout=1)
    with pytest.raises(ChannelClosed):
        ch.put(TextFrame("x", 0.0))


def test_drop_data_removes_matching_frames_only():
    ch = Channel(capacity=8)
    ch.put(AudioFrame(np.zeros(4, np.float32), 16000, 0.0, turn=3))
    ch.put(AudioFrame(np.zeros(4, np.float32), 16000, 0.0, turn=4))
    assert ch.drop_data(lambda f: getattr(f, "turn", -1) == 3) == 1
    assert ch.get(timeout=0).turn == 4
