"""A small numpy probe: can an attribute be read back from the vision tokens?

Features are what a model would see through a factorised embedding: counts over the frame
of each code of each token part (colour, blob, shape; ``bag``), optionally per-cell
one-hots (``cells``). The classifier is softmax regression (default) or a one-hidden-layer
MLP, trained with Adam, numpy only. Used by tests/test_vision_probe.py and
scripts/bench_vision.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from livesense.vision import scenes

log = logging.getLogger(__name__)

ATTRIBUTES = {
    "colour": list(scenes.COLOURS),
    "shape": list(scenes.SHAPES),
    "count": [1, 2, 3, 4],
    "brightness": list(scenes.BRIGHTNESS),
    "person": [False, True],
}


def labelled_scenes(n: int, seed: int, held_out: str = "exclude"):
    """n single-kind scenes -> (images, {attribute: class index array})."""
    rng = np.random.default_rng(seed)
    images, labels = [], {a: [] for a in ATTRIBUTES}
    for _ in range(n):
        sc = scenes.random_scene(rng, kind="single", held_out=held_out)
        images.append(scenes.render(sc))
        for a, v in sc.labels().items():
            labels[a].append(ATTRIBUTES[a].index(v))
    return images, {a: np.array(v) for a, v in labels.items()}


def token_features(parts: tuple[np.ndarray, ...], sizes: tuple[int, ...], mode: str = "bag") -> np.ndarray:
    """Per-part (N, n_tokens) ids and each part's vocabulary size -> (N, D) float32 features:
    "bag" = counts of each code over the frame (/4), "cells" = per-cell one-hots, or both."""
    out = []
    for ids, k in zip(parts, sizes):
        n, t = ids.shape
        if "cells" in mode:
            onehot = np.zeros((n, t, k), np.float32)
            np.put_along_axis(onehot, ids[..., None].astype(np.int64), 1.0, axis=2)
            out.append(onehot.reshape(n, -1))
        if "bag" in mode:
            out.append(np.stack([np.bincount(r, minlength=k) for r in ids]).astype(np.float32) / 4)
    return np.concatenate(out, axis=1)


@dataclass
class Probe:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray | None = None
    b2: np.ndarray | None = None

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w1 + self.b1
        if self.w2 is None:
            return z
        return np.maximum(z, 0) @ self.w2 + self.b2

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(axis=1)


def _grads(p: Probe, x, y, l2):
    z = x @ p.w1 + p.b1
    h = np.maximum(z, 0) if p.w2 is not None else z
    out = h @ p.w2 + p.b2 if p.w2 is not None else h
    prob = np.exp(out - out.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    prob[np.arange(len(y)), y] -= 1
    d = prob / len(y)
    g = {}
    if p.w2 is not None:
        g["w2"], g["b2"] = h.T @ d + l2 * p.w2, d.sum(0)
        d = (d @ p.w2.T) * (z > 0)
    g["w1"], g["b1"] = x.T @ d + l2 * p.w1, d.sum(0)
    return g


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, hidden: int = 64, epochs: int = 60,
        lr: float = 3e-3, l2: float = 1e-4, batch: int = 128, seed: int = 0) -> Probe:
    """Softmax regression (hidden=0) or a one-hidden-layer MLP, Adam on minibatches."""
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    if hidden:
        p = Probe(rng.normal(0, (2 / d) ** 0.5, (d, hidden)).astype(np.float32), np.zeros(hidden, np.float32),
                  rng.normal(0, (1 / hidden) ** 0.5, (hidden, n_classes)).astype(np.float32),
                  np.zeros(n_classes, np.float32))
    else:
        p = Probe(np.zeros((d, n_classes), np.float32), np.zeros(n_classes, np.float32))
    names = [k for k in ("w1", "b1", "w2", "b2") if getattr(p, k) is not None]
    m = {k: 0.0 for k in names}
    v = {k: 0.0 for k in names}
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for s in range(0, len(y), batch):
            idx = order[s:s + batch]
            g = _grads(p, x[idx], y[idx], l2)
            step += 1
            for k in names:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
                upd = lr * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
                setattr(p, k, (getattr(p, k) - upd).astype(np.float32))
    return p


def encode_all(tok, images) -> tuple[np.ndarray, ...]:
    """Images -> (colour, blob, shape) id arrays of shape (N, n_tokens)."""
    parts = [tok.encode_parts(im) for im in images]
    return tuple(np.stack(p) for p in zip(*parts))


def part_sizes(c) -> tuple[int, int, int]:
    return c.n_colour, c.n_blob, c.n_shape


# Which token parts (0 colour, 1 blob, 2 shape) the factorised probe reads per attribute:
# what a model with a factorised embedding can attend to. "all" probes read every part.
READS = {"colour": (0,), "shape": (2,), "count": (1,), "brightness": (0,), "person": (0, 2)}


def _features(parts, sizes, attr: str, reads: str):
    sel = range(len(parts)) if reads == "all" else READS[attr]
    return token_features(tuple(parts[i] for i in sel), tuple(sizes[i] for i in sel), "bag")


def encode_sets(tok, n_train: int, n_test: int, seed: int) -> dict:
    """Token parts and labels for probe training, fresh test and held-out-pair test scenes."""
    out = {}
    for name, n, s, held in (("train", n_train, seed, "exclude"), ("fresh", n_test, seed + 1, "exclude"),
                             ("held_out", n_test, seed + 2, "only")):
        images, labels = labelled_scenes(n, s, held)
        out[name] = (encode_all(tok, images), labels)
    return out


def evaluate(tok, n_train: int = 2500, n_test: int = 500, seed: int = 100, reads: str = "parts",
             hidden: int = 0, epochs: int = 60, sets: dict | None = None) -> dict:
    """Train one probe per attribute on bag-of-code features of the tokens of fresh scenes
    (``seed``); test on other fresh scenes and on scenes made only of held-out (colour,
    shape) pairs. ``reads``: "parts" (each attribute reads its token parts, ``READS``) or
    "all". Returns {"fresh": {attr: acc}, "held_out": {attr: acc}}."""
    sets = sets or encode_sets(tok, n_train, n_test, seed)
    sizes = part_sizes(tok.contract)
    out = {"fresh": {}, "held_out": {}}
    for a, classes in ATTRIBUTES.items():
        parts, labels = sets["train"]
        p = fit(_features(parts, sizes, a, reads), labels[a], len(classes), hidden=hidden, epochs=epochs,
                lr=1e-2 if hidden == 0 else 3e-3)
        for split in ("fresh", "held_out"):
            parts, labels = sets[split]
            out[split][a] = float((p.predict(_features(parts, sizes, a, reads)) == labels[a]).mean())
    log.info("probe (%s) accuracies: %s", reads, out)
    return out
