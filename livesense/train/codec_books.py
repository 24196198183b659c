"""Provisional LSC-1 codebooks for the native-model recipe when none are shipped yet.

The codec owns ``models/lsc1/lsc1_codebooks.npz``. While that file does not exist, the
recipe trains a smaller set of codebooks with the codec's own recipe (same features,
normaliser and stage masks as ``scripts/train_codec.py``, fewer clips) into ``data/``,
and the model card records their sha256: a model is only valid with the codebooks its
audio codes came from.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def shipped_codebooks() -> Path:
    from livesense.codec.codec import DEFAULT_CODEBOOKS

    return Path(DEFAULT_CODEBOOKS)


def train_provisional(out: Path, corpus: Path, n_clips: int = 800, iters: int = 8, seed: int = 0) -> Path:
    """Train codebooks on ``n_clips`` clips of the codec corpus cache ``corpus``."""
    from livesense.codec.contract import CONTRACT as c
    from livesense.codec.features import Normalizer
    from livesense.codec.rvq import save_codebooks, train_rvq
    from livesense.codec.stream import FeatureEncoder
    from livesense.corpus.dataset import build_corpus

    clips, _ = build_corpus(corpus, None, None)
    rng = np.random.default_rng(seed)
    feats = []
    for i in rng.choice(len(clips), min(n_clips, len(clips)), replace=False):
        x = clips[i]
        xp = np.zeros(-(-(len(x) + c.delay) // c.frame_size) * c.frame_size, np.float32)
        xp[: len(x)] = x
        feats.append(FeatureEncoder(c).step(xp))
    F = np.concatenate(feats)
    m = c.n_sub * c.n_mel
    norm = Normalizer(F.mean(0).astype(np.float32), (F.std(0) + 1e-3).astype(np.float32),
                      np.ones(c.dim, np.float32), np.eye(c.dim, dtype=np.float32))
    masks = np.zeros((c.n_codebooks, c.dim), np.float32)
    masks[0, m:], masks[1:, :m] = 1.0, 1.0
    books = train_rvq(norm.forward(F), c.n_codebooks, c.codebook_size, iters, seed=seed, masks=masks)
    save_codebooks(Path(out), books, norm, c, extra={"recipe": "livesense.train.codec_books (provisional)",
                                                     "clips": int(n_clips), "frames": int(len(F)), "seed": seed})
    log.info("provisional codebooks %s (%d frames)", out, len(F))
    return Path(out)


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO)
    train_provisional(Path(sys.argv[1]), Path(sys.argv[2]))
