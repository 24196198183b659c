"""Scene facts on rendered scenes the benchmark never shows (its scenes come from
``default_rng([seed, 7])``; these from other seeds), with noise, blur, JPEG and clutter."""

import time

import numpy as np
import pytest

from livesense.agents.cascade.scene import Scene, SceneFacts, hue_name
from livesense.vision.scenes import COLOURS, PALETTE, random_scene, render


def facts_accuracy(seed: int, n: int, kind: str) -> dict:
    rng = np.random.default_rng([seed, 31])
    sf = SceneFacts(faces=False)
    hits = dict.fromkeys(("count", "colour", "shape", "brightness", "person"), 0)
    for _ in range(n):
        scene = random_scene(rng, kind=kind, held_out="include")
        got = sf.analyse(render(scene))
        truth = sorted((o.colour, o.shape) for o in scene.objects)
        hits["count"] += len(got.objects) == len(truth)
        hits["colour"] += sorted(c for c, _ in got.objects) == [c for c, _ in truth]
        hits["shape"] += sorted(s for _, s in got.objects) == sorted(s for _, s in truth)
        hits["brightness"] += got.brightness == scene.brightness
        hits["person"] += got.person == (scene.person is not None)
    return {k: v / n for k, v in hits.items()}


@pytest.mark.parametrize("kind,seed", [("single", 2024), ("mixed", 4048)])
def test_scene_facts_accuracy_on_unseen_renders(kind, seed):
    acc = facts_accuracy(seed, 100, kind)
    assert min(acc.values()) >= 0.9, acc


def test_palette_colours_are_named_right():
    for name in COLOURS:
        assert hue_name(np.asarray(PALETTE[name]) * 0.3) == name  # dark scenes too


def test_fact_text_uses_answer_words():
    s = Scene("dark", (("red", "triangle"), ("red", "triangle")), None, True)
    assert s.text() == "count two; colour red; shape triangles; the light is dark; someone is there."
    assert Scene("bright", (), None, False).text() == "count no; the light is bright; nobody is there."


def test_scene_analysis_is_fast_at_320x240():
    scene = random_scene(np.random.default_rng(5), count=4, person=True)
    img, sf = render(scene, (320, 240)), SceneFacts(faces=True)
    sf.analyse(img)  # loads the face detector
    times = []
    for _ in range(20):
        t = time.perf_counter()
        sf.analyse(img)
        times.append(time.perf_counter() - t)
    assert np.median(times) < 0.005
