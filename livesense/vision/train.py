"""Train the tokenizer's codebooks: k-means over cell descriptors of generated scenes.

Scenes come from ``scenes.random_scene`` (held-out colour/shape pairs excluded), plus
augmentations (mirror, crop-and-rescale, gamma). Run via ``scripts/train_vision.py``.
"""

from __future__ import annotations

import json
import logging

import numpy as np

from livesense.vision import scenes
from livesense.vision.tokenizer import CONTRACT, Codebook, TokenizerContract, preprocess, raw_features

log = logging.getLogger(__name__)


def default_scales(c: TokenizerContract = CONTRACT) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature weights: hue/white fractions as they are, log-luma halved (brightness
    matters but must not swamp colour), silhouette at half the weight of the HOG."""
    colour = np.ones(c.colour_dim)
    colour[-1] = 0.5
    shape = np.ones(c.shape_dim)
    shape[c.hog_sub**2 * c.hog_bins:] = 0.5
    return colour, shape


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror, crop 85-100% and rescale back, gamma 0.8-1.25."""
    import cv2

    h, w = image.shape[:2]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    s = rng.uniform(0.85, 1.0)
    ch, cw = int(h * s), int(w * s)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    image = cv2.resize(np.ascontiguousarray(image[y:y + ch, x:x + cw]), (w, h), interpolation=cv2.INTER_LINEAR)
    lut = (255 * (np.arange(256) / 255) ** rng.uniform(0.8, 1.25) + 0.5).astype(np.uint8)
    return lut[image]


def scene_images(n: int, seed: int, held_out: str = "exclude", augmented: float = 0.5):
    """Yield n rendered training images (a mix of single-kind and mixed scenes)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        sc = scenes.random_scene(rng, kind="single" if i % 2 == 0 else "mixed", held_out=held_out)
        img = scenes.render(sc)
        yield augment(img, rng) if rng.random() < augmented else img


def collect(n_scenes: int, seed: int, c: TokenizerContract = CONTRACT, progress: bool = True):
    """Descriptors of every cell of n_scenes generated images: (colour, shape) arrays."""
    from tqdm import tqdm

    cols, shps = [], []
    for img in tqdm(scene_images(n_scenes, seed), total=n_scenes, desc="scenes", disable=not progress):
        col, shp, _ = raw_features(preprocess(img, c), c)
        cols.append(col)
        shps.append(shp)
    return np.concatenate(cols), np.concatenate(shps)


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[int(rng.integers(len(x)))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        nxt = x[int(rng.choice(len(x), p=d2 / d2.sum()))]
        centres.append(nxt)
        d2 = np.minimum(d2, ((x - nxt) ** 2).sum(1))
    return np.array(centres)


def kmeans(x: np.ndarray, k: int, iters: int = 30, seed: int = 0, desc: str = "k-means",
           progress: bool = True) -> np.ndarray:
    """Lloyd's k-means (k-means++ init on a subsample); empty clusters are re-seeded."""
    from tqdm import tqdm

    from livesense.vision.kernels import nearest

    rng = np.random.default_rng(seed)
    sub = x[rng.choice(len(x), min(len(x), 20000), replace=False)]
    centres = _kmeans_pp(sub, k, rng)
    for _ in tqdm(range(iters), desc=desc, disable=not progress):
        ids = nearest(x, centres)
        counts = np.bincount(ids, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, ids, x)
        empty = counts == 0
        centres = np.where(empty[:, None], x[rng.integers(len(x), size=k)], sums / np.maximum(counts, 1)[:, None])
    inertia = float(((x - centres[nearest(x, centres)]) ** 2).sum(1).mean())
    log.info("%s: k=%d, %d points, mean squared error %.4f", desc, k, len(x), inertia)
    return centres


def balance_colour(colour: np.ndarray, c: TokenizerContract, seed: int) -> np.ndarray:
    """Keep every cell that shows colour or white, and as many plain-background cells: most
    cells are background, and k-means would otherwise spend its codes on wall shades."""
    rng = np.random.default_rng(seed)
    mass = (colour[:, : 2 * c.hue_bins + 1] ** 2).sum(1)  # fraction of coloured/white pixels
    fg, bg = np.nonzero(mass > 0.05)[0], np.nonzero(mass <= 0.05)[0]
    keep = rng.choice(bg, min(len(bg), len(fg)), replace=False)
    return colour[np.concatenate([fg, keep])]


def train_codebook(n_scenes: int = 4000, seed: int = 0, c: TokenizerContract = CONTRACT,
                   iters: int = 30, progress: bool = True) -> Codebook:
    colour, shape = collect(n_scenes, seed, c, progress)
    cs, ss = default_scales(c)
    cc = kmeans(balance_colour(colour, c, seed) * cs, c.n_colour, iters, seed, "k-means colour", progress)
    sc = kmeans(shape * ss, c.n_shape, iters, seed + 1, "k-means shape", progress)
    meta = json.dumps({"n_scenes": n_scenes, "seed": seed, "iters": iters, "cells": int(len(colour)),
                       "held_out_excluded": sorted(map(list, scenes.held_out_pairs()))})
    return Codebook(contract=c, colour_centres=cc, shape_centres=sc, colour_scale=cs, shape_scale=ss, meta=meta)
