"""Build and cache a speech corpus (text × voices [× augmentation]) as one .npz file.

The cache key is the file name; the content is reproducible from ``seed``. Corpora live
under ``data/`` (gitignored), never in git.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from livesense.corpus.voices import Voice, speak

log = logging.getLogger(__name__)


def _render(texts, voices, n_voices_per_text, rng, n_aug, progress):
    from livesense.corpus.augment import augment

    clips, labels = [], []
    it = list(enumerate(texts))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="speech", unit="sent")
    for i, text in it:
        for vi in rng.choice(len(voices), size=min(n_voices_per_text, len(voices)), replace=False):
            x = speak(voices[vi], text)
            clips.append(x)
            labels.append(f"{voices[vi].name}|{i}")
            for a in range(n_aug):
                clips.append(augment(x, rng))
                labels.append(f"{voices[vi].name}|{i}|aug{a}")
    return clips, labels


def load_corpus(path: str | Path):
    """A corpus cache written by :func:`build_corpus` -> (list of float32 clips, labels)."""
    z = np.load(path, allow_pickle=False)
    audio, offs = z["audio"], z["offsets"]  # read each array once
    return [audio[a:b] for a, b in zip(offs[:-1], offs[1:])], list(z["labels"])


def build_corpus(path: str | Path, texts: list[str], voices: tuple[Voice, ...], seed: int = 0,
                 n_voices_per_text: int = 2, n_aug: int = 0, progress: bool = True):
    """Render (or load from ``path``) clips; returns (list of float32 arrays, labels)."""
    path = Path(path)
    if path.exists():
        return load_corpus(path)
    rng = np.random.default_rng(seed)
    clips, labels = _render(texts, voices, n_voices_per_text, rng, n_aug, progress)
    offs = np.cumsum([0] + [len(c) for c in clips])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, audio=np.concatenate(clips).astype(np.float32), offsets=offs,
             labels=np.array(labels))
    log.info("corpus %s: %d clips, %.1f min", path, len(clips), offs[-1] / 16000 / 60)
    return clips, labels
