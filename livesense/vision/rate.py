"""Scene-change-driven vision token rate.

``VisionTokenizerStage`` tokenizes every incoming ``VideoFrame`` but only *emits* a
``Tokens(kind="image")`` frame when the scene changed enough since the last emitted one,
at most ``max_rate_hz`` times per second, and at least every ``keyframe_s`` seconds even
if nothing changed. Change is measured per grid cell on the cell's mean colour (robust to
sensor noise) and on its token id: the fraction of cells that changed both ways. All
times come from ``frame.t_capture``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from livesense.frames import Frame, Tokens, VideoFrame
from livesense.vision.tokenizer import VisionTokenizer, preprocess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VisionRateConfig:
    min_interval_s: float = 0.5  # at most 1/min_interval_s token frames per second (2/s)
    keyframe_s: float = 2.0  # a token frame at least this often, even for a static scene
    cell_delta: float = 6.0  # a cell's mean colour must move this much (0-255 units) to count
    changed_frac: float = 0.06  # fraction of cells that must change (6% ~ 2 of 36 cells)

    def max_tokens_per_s(self, n_tokens: int) -> float:
        return n_tokens / self.min_interval_s


def cell_means(image: np.ndarray, tok: VisionTokenizer) -> np.ndarray:
    """(n_tokens, 3) mean RGB (0-255) of each grid cell of the tokenizer's working image."""
    c = tok.contract
    work = preprocess(image, c)
    ch, cw = c.image_h // c.grid_h, c.image_w // c.grid_w
    cells = work[: ch * c.grid_h, : cw * c.grid_w].reshape(c.grid_h, ch, c.grid_w, cw, 3)
    return cells.mean(axis=(1, 3)).reshape(-1, 3) * 255.0


class VisionTokenizerStage:
    """VideoFrame -> [Tokens(kind="image")] when the scene changed (or a keyframe is due)."""

    name = "vision"

    def __init__(self, tokenizer: VisionTokenizer, config: VisionRateConfig = VisionRateConfig()) -> None:
        self.tok = tokenizer
        self.cfg = config
        self.reset()

    def reset(self) -> None:
        self._last_t: float | None = None
        self._last_ids: np.ndarray | None = None
        self._last_means: np.ndarray | None = None
        self.emitted = 0
        self.seen = 0

    def change(self, ids: np.ndarray, means: np.ndarray) -> float:
        """Fraction of cells whose token and mean colour both changed since the last emit."""
        if self._last_ids is None:
            return 1.0
        moved = np.abs(means - self._last_means).max(axis=1) > self.cfg.cell_delta
        return float(np.mean(moved & (ids != self._last_ids)))

    def _due(self, t: float, change: float) -> bool:
        if self._last_t is None:
            return True
        dt = t - self._last_t
        if dt < self.cfg.min_interval_s:
            return False
        return dt >= self.cfg.keyframe_s or change >= self.cfg.changed_frac

    def step(self, frame: Frame) -> list[Frame]:
        if not isinstance(frame, VideoFrame):
            return [frame]  # control and other frames pass through
        self.seen += 1
        if self._last_t is not None and frame.t_capture - self._last_t < self.cfg.min_interval_s:
            return []  # rate bound: not even worth tokenizing
        ids = self.tok.encode(frame.image)
        means = cell_means(frame.image, self.tok)
        if not self._due(frame.t_capture, self.change(ids, means)):
            return []
        self._last_t, self._last_ids, self._last_means = frame.t_capture, ids, means
        self.emitted += 1
        return [Tokens(kind="image", ids=ids, t_capture=frame.t_capture)]
