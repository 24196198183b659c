"""The one small protocol every inference backend implements, and shared chunking."""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from livesense.model.meta import ModelSpec
from livesense.model.positions import IDX

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str  # "torch", "onnxruntime", "llama.cpp"
    quant: str  # "f32", "int8", "q8_0", "q4_0", ...
    spec: ModelSpec  # dims, layout, positional scheme read from the model file
    n_ctx: int  # ring length: tokens the model attends to

    def reset(self) -> None:
        """Forget the session (empty the KV ring, positions may restart at 0)."""

    def eval(self, ids: np.ndarray, pos: np.ndarray, all_logits: bool = False) -> np.ndarray:
        """Feed ``ids`` (T,) at positions ``pos`` (4,T) after everything fed before.
        Returns the last token's logits (V,) or, with ``all_logits``, (T,V) float32."""


class ChunkedBackend:
    """Splits ``eval`` into chunks of at most ``max_chunk`` and checks positions; a
    subclass implements ``_run(ids, pos, all_logits) -> (T,V) or (1,V)`` and ``_reset``."""

    name = "?"
    quant = "?"

    def __init__(self, spec: ModelSpec, n_ctx: int, max_chunk: int) -> None:
        self.spec = spec
        self.n_ctx = int(n_ctx)
        self.max_chunk = max(1, min(int(max_chunk), self.n_ctx))
        self._last_idx = -1

    def reset(self) -> None:
        self._last_idx = -1
        self._reset()

    def eval(self, ids, pos, all_logits: bool = False) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        pos = np.asarray(pos, dtype=np.int32).reshape(4, -1)
        if len(ids) == 0 or pos.shape[1] != len(ids):
            raise ValueError(f"need T>0 ids and (4,T) positions, got {len(ids)} ids and {pos.shape}")
        if ids.min() < 0 or ids.max() >= self.spec.cfg.vocab_size:
            raise ValueError(f"token id outside [0, {self.spec.cfg.vocab_size})")
        idx = pos[IDX]
        if idx[0] <= self._last_idx or (len(idx) > 1 and np.any(np.diff(idx) <= 0)):
            raise ValueError("position section 0 (stream index) must strictly increase across eval calls "
                             f"(last {self._last_idx}, got {idx[:4]}...); reset() to start a new session")
        outs = []
        for a in range(0, len(ids), self.max_chunk):
            b = min(a + self.max_chunk, len(ids))
            want = "all" if all_logits else ("last" if b == len(ids) else "none")
            outs.append(self._run(ids[a:b], pos[:, a:b], want))
            self._last_idx = int(idx[b - 1])
        if all_logits:
            return np.concatenate(outs) if len(outs) > 1 else outs[0]
        return outs[-1][-1]

    def _reset(self) -> None:
        raise NotImplementedError

    def _run(self, ids, pos, want: str):
        raise NotImplementedError
