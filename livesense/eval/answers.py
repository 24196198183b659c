"""Score a spoken answer (its Whisper transcript) against the scene it was asked about.

``correct(skill, labels, transcript)``: the slot words the right reply needs must be
there, and no contradicting slot word may be (a reply that names every colour is not
right). ``words`` normalises what Whisper writes ("2", "to", "color", "live sense") to
the curriculum's spelling; ``wer_counts`` is word errors and reference length.
"""

from __future__ import annotations

import re

import numpy as np

NUM_FIX = {"1": "one", "2": "two", "3": "three", "4": "four", "to": "two", "too": "two", "for": "four",
           "won": "one", "color": "colour", "i'm": "i am"}


def words(s: str) -> list[str]:
    s = s.lower()
    for heard in ("live sense", "live since", "life since"):  # how Whisper writes the name
        s = s.replace(heard, "livesense")
    out = []
    for w in re.findall(r"[a-z0-9']+", s):
        out.extend(NUM_FIX.get(w, w).split())
    return out


def wer_counts(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words) between two texts after ``words``."""
    r, h = words(ref), words(hyp)
    d = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        prev, d[0] = d.copy(), i
        for j in range(1, len(h) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return int(d[len(h)]), len(r)


def correct(skill: str, labels: dict, transcript: str) -> bool:
    """Is ``transcript`` a right answer to a ``skill`` question about a scene with ``labels``
    (``Scene.labels()``)? Skills are the curriculum's (``livesense.train.curriculum``)."""
    from livesense.train.curriculum import NUMBERS, PLURAL
    from livesense.vision.scenes import BRIGHTNESS, COLOURS, SHAPES

    w = set(words(transcript))
    shape_words = {s: {s, PLURAL[s]} for s in SHAPES}

    def only(expected: str, options) -> bool:
        return expected in w and not any(o in w for o in options if o != expected)

    def shape_ok() -> bool:
        s = labels["shape"]
        return bool(w & shape_words[s]) and not any(w & shape_words[o] for o in SHAPES if o != s)

    if skill == "greet":
        return bool(w & {"hello", "hi", "hallo"})
    if skill == "identity":  # the name, or "I can see and talk" -- not the refusal's "only talk"
        return "sorry" not in w and ("livesense" in w or {"see", "talk"} <= w)
    if skill == "refuse":
        return "sorry" in w
    if skill == "colour":
        return only(labels["colour"], COLOURS)
    if skill == "shape":
        return shape_ok()
    if skill == "see":
        return only(labels["colour"], COLOURS) and shape_ok() and only(NUMBERS[labels["count"]], NUMBERS[1:])
    if skill == "count":
        return only(NUMBERS[labels["count"]], NUMBERS[1:])
    if skill == "light":
        return only(labels["brightness"], BRIGHTNESS)
    if skill == "person":
        return ("person" in w and "nobody" not in w) if labels["person"] else ("nobody" in w and "person" not in w)
    raise ValueError(skill)
