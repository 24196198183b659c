"""Vision rate stage: static scene -> keyframes only; motion -> more, never above the bound."""

import numpy as np
import pytest

from livesense.frames import EndOfStream, Tokens, VideoFrame
from livesense.vision import scenes
from livesense.vision.rate import VisionRateConfig, VisionTokenizerStage
from livesense.vision.tokenizer import CONTRACT, VisionTokenizer


@pytest.fixture(scope="module")
def stage():
    return VisionTokenizerStage(VisionTokenizer.load(), VisionRateConfig())


def _run(stage, clip):
    stage.reset()
    out = []
    for img, t in zip(clip.frames, clip.times):
        out += stage.step(VideoFrame(image=img, t_capture=t))
    return out


def _times(out):
    return np.array([f.t_capture for f in out])


def test_static_scene_emits_keyframes_only(stage):
    clip = scenes.clip(np.random.default_rng(1), n_frames=50, fps=5.0, motion="static")  # 10 s
    out = _run(stage, clip)
    assert all(isinstance(f, Tokens) and f.kind == "image" and f.ids.shape == (CONTRACT.n_tokens,) for f in out)
    assert 5 <= len(out) <= 7  # first frame + a keyframe every 2 s
    assert np.all(np.diff(_times(out)) >= stage.cfg.keyframe_s - 1e-9)


def test_motion_emits_more_but_bounded(stage):
    rng = np.random.default_rng(2)
    base = scenes.random_scene(rng, kind="single", count=3)
    moving = _run(stage, scenes.clip(rng, n_frames=50, fps=5.0, motion="move", base=base, speed=0.3))
    static = _run(stage, scenes.clip(rng, n_frames=50, fps=5.0, motion="static", base=base))
    assert len(moving) > 1.5 * len(static)
    gaps = np.diff(_times(moving))
    assert gaps.min() >= stage.cfg.min_interval_s - 1e-9  # <= 2 token frames per second
    assert len(moving) <= 10.0 / stage.cfg.min_interval_s + 1


def test_change_is_emitted_promptly(stage):
    rng = np.random.default_rng(3)
    clip = scenes.clip(rng, n_frames=20, fps=5.0, motion="change")
    t_change = clip.events[0][0]
    times = _times(_run(stage, clip))
    assert np.any((times >= t_change) & (times <= t_change + stage.cfg.min_interval_s + 0.2))


def test_reset_and_passthrough(stage):
    img = scenes.render(scenes.random_scene(np.random.default_rng(4)))
    stage.reset()
    assert len(stage.step(VideoFrame(image=img, t_capture=0.0))) == 1
    assert stage.step(VideoFrame(image=img, t_capture=0.1)) == []
    stage.reset()
    assert len(stage.step(VideoFrame(image=img, t_capture=0.1))) == 1  # fresh state: emits again
    eos = EndOfStream(t_capture=1.0)
    assert stage.step(eos) == [eos]


def test_bad_frame_is_refused(stage):
    stage.reset()
    with pytest.raises(ValueError, match="RGB uint8"):
        stage.step(VideoFrame(image=np.zeros((10, 10, 3), np.float64), t_capture=0.0))
