"""The tokens keep what the model is asked about: a small probe reads colour, shape, count
and brightness back from the tokens of fresh scenes (another seed) with >= 0.95 accuracy.

Also measured (asserted loosely, reported in the output): person present, and the same
probes on scenes made only of held-out (colour, shape) pairs that the probe never saw.
"""

import json

import pytest

from livesense.vision import probe
from livesense.vision.tokenizer import VisionTokenizer


@pytest.fixture(scope="module")
def sets():
    return probe.encode_sets(VisionTokenizer.load(), n_train=2500, n_test=500, seed=100)


@pytest.mark.slow
def test_probe_recovers_attributes_on_fresh_scenes(sets):
    acc = probe.evaluate(VisionTokenizer.load(), sets=sets)
    print(json.dumps(acc))
    for attr in ("colour", "shape", "count", "brightness"):
        assert acc["fresh"][attr] >= 0.95, (attr, acc["fresh"])
    assert acc["fresh"]["person"] >= 0.9
    # compositional generalisation: shapes in colours the probe never saw them in
    assert acc["held_out"]["shape"] >= 0.85, acc["held_out"]
    assert acc["held_out"]["colour"] >= 0.9, acc["held_out"]
