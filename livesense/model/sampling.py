"""Seeded sampling with token-range constraints.

During an audio frame the slot for codebook ``k`` may only emit codebook-``k`` ids of the
agent's stream; between frames the agent may emit text or control tokens. The caller
passes the allowed set as a boolean mask (``TokenLayout.mask(...)``, precomputed once);
everything else is set to -inf before greedy/temperature/top-k sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 0.0  # 0 = greedy (argmax)
    top_k: int = 0  # keep the k most likely ids (0 = all)
    seed: int = 0  # one seeded generator per session: replies are reproducible


class Sampler:
    def __init__(self, cfg: SamplingConfig = SamplingConfig()) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.cfg.seed)

    def __call__(self, logits: np.ndarray, allowed: np.ndarray | None = None) -> int:
        x = np.asarray(logits, dtype=np.float64).reshape(-1)
        if allowed is not None:
            if not allowed.any():
                raise ValueError("the constraint mask allows no token")
            x = np.where(allowed, x, -np.inf)
        if self.cfg.temperature <= 0:
            return int(np.argmax(x))
        x = x / self.cfg.temperature
        if 0 < self.cfg.top_k < np.isfinite(x).sum():
            kth = np.partition(x, -self.cfg.top_k)[-self.cfg.top_k]
            x = np.where(x >= kth, x, -np.inf)
        p = np.exp(x - x.max())
        p /= p.sum()
        return int(self.rng.choice(len(p), p=p))


def audio_frame_masks(layout, stream: str = "agent") -> list[np.ndarray]:
    """One mask per codebook slot of a frame: slot k allows only ``audio.<stream>.k``."""
    return [layout.mask(f"audio.{stream}.{k}") for k in range(layout.n_codebooks)]
