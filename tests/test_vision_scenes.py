"""Scene renderer: deterministic, labelled, held-out pairs really held out."""

import numpy as np
import pytest

from livesense.vision import scenes


def test_render_is_deterministic_and_camera_sized():
    sc = scenes.random_scene(np.random.default_rng(1))
    a, b = scenes.render(sc), scenes.render(sc)
    assert a.shape == (120, 160, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_random_scene_excludes_held_out_pairs():
    rng = np.random.default_rng(2)
    held = scenes.held_out_pairs()
    seen = {(o.colour, o.shape) for _ in range(300) for o in scenes.random_scene(rng, kind="mixed").objects}
    assert not seen & held
    only = {(o.colour, o.shape) for _ in range(50) for o in scenes.random_scene(rng, held_out="only").objects}
    assert only <= held


def test_single_scene_labels():
    sc = scenes.random_scene(np.random.default_rng(3), kind="single", count=3, person=True, brightness="dark")
    lab = sc.labels()
    assert lab["count"] == 3 and lab["person"] and lab["brightness"] == "dark"
    assert lab["colour"] in scenes.COLOURS and lab["shape"] in scenes.SHAPES


def test_dark_scenes_are_darker():
    rng = np.random.default_rng(4)
    dark = np.mean([scenes.render(scenes.random_scene(rng, brightness="dark")).mean() for _ in range(10)])
    bright = np.mean([scenes.render(scenes.random_scene(rng, brightness="bright")).mean() for _ in range(10)])
    assert dark < 0.5 * bright


def test_clip_motion_kinds():
    rng = np.random.default_rng(5)
    static = scenes.clip(rng, n_frames=6, motion="static")
    moving = scenes.clip(rng, n_frames=6, motion="move")
    change = scenes.clip(rng, n_frames=6, motion="change")
    assert len(static.frames) == 6 and static.times[1] == pytest.approx(0.2)
    assert static.scenes[0].objects == static.scenes[-1].objects
    assert moving.scenes[0].objects != moving.scenes[-1].objects
    assert len(change.events) == 1
    with pytest.raises(ValueError, match="motion"):
        scenes.clip(rng, motion="teleport")
