"""Deterministic English sentences with a fixed train/held-out split.

The text comes from Python's own bundled documentation (``pydoc_data.topics``), so it is
available offline on every machine and never changes within a Python version. Sentences
are split by a hash of their text: a sentence is either always "train" or always
"heldout", whatever the seed or the count asked for.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD_OK = re.compile(r"^[A-Za-z][A-Za-z ,;'\-]*[a-z][.?!]?$")


def _raw_sentences() -> list[str]:
    import pydoc_data.topics as topics  # stdlib, lazily

    text = " ".join(topics.topics[k] for k in sorted(topics.topics))
    text = re.sub(r"\s+", " ", text)
    return re.split(r"(?<=[.?!])\s+", text)


def _clean(s: str, min_words: int, max_words: int) -> str | None:
    s = s.strip()
    n = len(s.split())
    if not (min_words <= n <= max_words) or not _WORD_OK.match(s):
        return None
    return s if s[-1] in ".?!" else s + "."


def _split_of(s: str, heldout_fraction: float) -> str:
    h = int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "little") / 2**32
    return "heldout" if h < heldout_fraction else "train"


def sentences(split: str = "train", n: int | None = None, seed: int = 0,
              min_words: int = 6, max_words: int = 18, heldout_fraction: float = 0.15) -> list[str]:
    """Up to ``n`` distinct sentences of ``split`` ("train" or "heldout"), shuffled by ``seed``."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    seen: set[str] = set()
    out = []
    for raw in _raw_sentences():
        s = _clean(raw, min_words, max_words)
        if s and s not in seen and _split_of(s, heldout_fraction) == split:
            seen.add(s)
            out.append(s)
    order = np.random.default_rng(seed).permutation(len(out))
    picked = [out[i] for i in order]
    return picked if n is None else picked[:n]
