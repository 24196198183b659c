"""The one small protocol every inference backend implements, and shared chunking."""

from __future__ import annotations

import collections
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
    subclass implements ``_run(ids, pos, want) -> (T,V), (1,V) or None`` and ``_reset``.

    Sequences: a backend built with ``n_seq`` > 1 holds that many independent sessions
    (KV caches) over one set of weights; ``use(k)`` picks the one that ``eval``, ``reset``
    and ``truncate`` act on (a subclass implements ``_select`` and ``_truncate``). Each
    sequence remembers the stream indices it holds, so ``truncate(idx)`` can drop the
    entries from ``idx`` on: a prompt that shares a prefix with what a sequence holds then
    only evaluates the rest (``livesense.model.prefix``)."""

    name = "?"
    quant = "?"

    def __init__(self, spec: ModelSpec, n_ctx: int, max_chunk: int, n_seq: int = 1) -> None:
        self.spec = spec
        self.n_ctx = int(n_ctx)
        self.max_chunk = max(1, min(int(max_chunk), self.n_ctx))
        self.n_seq = max(1, int(n_seq))
        self.seq = 0
        self._held = [collections.deque(maxlen=self.n_ctx) for _ in range(self.n_seq)]  # stream indices held

    @property
    def _last_idx(self) -> int:
        held = self._held[self.seq]
        return held[-1] if held else -1

    def use(self, seq: int) -> None:
        """Make sequence ``seq`` (0 .. n_seq-1) the one the next calls act on."""
        if not 0 <= seq < self.n_seq:
            raise ValueError(f"sequence {seq} outside 0..{self.n_seq - 1}")
        if seq != self.seq:
            self.seq = seq
            self._select(seq)

    def reset(self) -> None:
        """Forget every sequence; sequence 0 is current again."""
        for k in reversed(range(self.n_seq)):
            self.use(k)
            self._held[k].clear()
            self._reset()

    def truncate(self, idx: int) -> int:
        """Drop the current sequence's entries at stream index ``idx`` and after (the last
        ones fed); returns how many. Later ``eval`` calls may then restart from ``idx``."""
        held = self._held[self.seq]
        n = 0
        while held and held[-1] >= idx:
            held.pop()
            n += 1
        if n:
            self._truncate(idx, n)
        return n

    def eval(self, ids, pos, all_logits: bool = False, logits: bool = True) -> np.ndarray | None:
        """As ``Backend.eval``; ``logits=False`` computes none (a prefill whose output is
        not needed yet) and returns None."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        pos = np.ascontiguousarray(pos, dtype=np.int32).reshape(4, -1)
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
            want = "all" if all_logits else ("last" if b == len(ids) and logits else "none")
            outs.append(self._run(ids[a:b], pos[:, a:b], want))
            self._held[self.seq].extend(int(i) for i in idx[a:b])
        if not logits and not all_logits:
            return None
        if all_logits:
            return np.concatenate(outs) if len(outs) > 1 else outs[0]
        return outs[-1][-1]

    def _reset(self) -> None:
        raise NotImplementedError

    def _run(self, ids, pos, want: str):
        raise NotImplementedError

    def _select(self, seq: int) -> None:
        raise NotImplementedError(f"{self.name} backend holds one sequence")

    def _truncate(self, idx: int, n: int) -> None:
        raise NotImplementedError(f"{self.name} backend cannot drop cached entries")
