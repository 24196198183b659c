"""One positional scheme for every modality: 4-section rotary positions on a shared clock.

Every token carries four integer position components, stored section-major as an array
of shape ``(4, T)`` (the layout llama.cpp's M-RoPE batch takes, ``pos[j*T + i]``):

    0  ``idx``   stream index: +1 per token, strictly increasing in stream order
    1  ``row``   image row × ``spatial_stride`` (0 for non-image tokens)
    2  ``col``   image column × ``spatial_stride`` (0 for non-image tokens)
    3  ``time``  capture time in ticks of one audio code frame (40 ms), shared by audio,
                 image and text tokens, relative to the session start

Rotary embedding (exactly llama.cpp's ``GGML_ROPE_TYPE_MROPE``, NeoX pairing): a head of
``head_dim`` channels has ``half = head_dim/2`` rotation pairs ``(x[i], x[i+half])``; pair
``i`` belongs to section ``s(i)`` by the contiguous split ``sections`` (sum = half) and
turns by ``theta_i = pos[s(i)] * base^(-2i/head_dim)``, the power built by repeated float32
multiplication as ggml does (``theta *= theta_scale``), so every backend rotates by the
same float32 angles. Section 0 takes the highest frequencies (local order), sections 1-2
the middle (image layout), section 3 the lowest (time, long range).

Why ``idx`` is its own section (and section 0): llama.cpp keys its KV cache and its causal
mask on section 0 and requires it not to decrease; two tokens with the same section-0
value see each other (or are masked by a 2-D rule). Capture time cannot be section 0 —
the four codes of a frame and the 36 cells of an image share one tick. With ``idx`` in
section 0, causality is plain stream order in every backend and time stays free to be
non-monotonic (a video frame captured before the audio that was queued ahead of it keeps
its true capture time). See models/FORMAT.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from livesense.model.layout import TokenLayout

SCHEME_NAME = "livesense-mrope4"  # idx,row,col,time sections over llama.cpp M-RoPE
N_SECTIONS = 4
IDX, ROW, COL, TIME = range(N_SECTIONS)


@dataclass(frozen=True)
class PositionScheme:
    sections: tuple[int, int, int, int]  # rotation pairs per section (idx, row, col, time)
    rope_base: float = 10000.0  # frequency base (llama.cpp rope.freq_base)
    spatial_stride: int = 8  # row/col positions are multiplied by this (mid frequencies)
    tick_s: float = 0.04  # time section unit: one codec frame
    name: str = SCHEME_NAME

    @classmethod
    def for_head_dim(cls, head_dim: int, tick_s: float = 0.04, **kw) -> "PositionScheme":
        """Default split: 1/4 idx, 1/8 row, 1/8 col, the rest (~1/2) time."""
        half = head_dim // 2
        s0, s1 = max(1, half // 4), max(1, half // 8)
        return cls(sections=(s0, s1, s1, half - s0 - 2 * s1), tick_s=tick_s, **kw)

    @property
    def half(self) -> int:
        return sum(self.sections)

    def pair_section(self) -> np.ndarray:
        """(half,) section index of every rotation pair."""
        return np.repeat(np.arange(N_SECTIONS), self.sections)

    def angles(self, pos: np.ndarray) -> np.ndarray:
        """Rotation angles, float32, shape ``pos.shape[:-2] + (T, half)`` for ``pos`` of
        shape ``(..., 4, T)``: ggml's ``theta_t *= theta_scale`` loop, vectorised."""
        pos = np.asarray(pos)
        scale = np.float32(np.power(np.float32(self.rope_base), np.float32(-2.0 / (2 * self.half)), dtype=np.float32))
        cur = pos.astype(np.float32)  # (..., 4, T)
        sec = self.pair_section()
        out = np.empty(pos.shape[:-2] + (pos.shape[-1], self.half), dtype=np.float32)
        for i in range(self.half):
            out[..., i] = cur[..., sec[i], :]
            cur = cur * scale  # float32 * float32 -> float32, as in ggml_mrope_cache_init
        return out

    def cos_sin(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = self.angles(pos)
        return np.cos(a), np.sin(a)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["sections"] = list(self.sections)
        return d

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "PositionScheme":
        d = dict(d)
        d["sections"] = tuple(int(x) for x in d["sections"])
        return cls(**d)


@dataclass
class Placed:
    """Ids and their (4, T) positions, ready for any backend."""

    ids: np.ndarray  # (T,) int64
    pos: np.ndarray  # (4, T) int32

    def __len__(self) -> int:
        return len(self.ids)


class PositionAssigner:
    """Streaming position assignment: call :meth:`place` with tokens in stream order.

    Holds only the next stream index and the session's time origin; ``reset()`` starts a
    new session. Audio tokens are ``(n_frames * n_codebooks)`` ids, frame-major: frame
    ``f`` of a chunk captured at ``t`` gets tick ``tick(t) + f`` and its codes share it.
    Image tokens are one grid, row-major. Text and control tokens share the tick of
    their ``t_capture``.
    """

    def __init__(self, layout: TokenLayout, scheme: PositionScheme) -> None:
        self.layout = layout
        self.scheme = scheme
        self.reset()

    def reset(self) -> None:
        self.next_idx = 0
        self.t0: float | None = None

    def tick(self, t_capture: float) -> int:
        if self.t0 is None:
            self.t0 = t_capture
        return int(np.floor((t_capture - self.t0) / self.scheme.tick_s + 1e-6))

    def place(self, kind: str, ids: np.ndarray, t_capture: float) -> Placed:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        n = len(ids)
        pos = np.zeros((N_SECTIONS, n), dtype=np.int32)
        pos[IDX] = self.next_idx + np.arange(n)
        t = self.tick(t_capture)
        if kind == "audio":
            k = self.layout.n_codebooks
            if n % k:
                raise ValueError(f"audio chunk of {n} ids is not whole frames of {k} codes; buffer upstream")
            pos[TIME] = t + np.arange(n) // k
        elif kind == "image":
            rows, cols = self.layout.image_grid
            if n != rows * cols:
                raise ValueError(f"image chunk has {n} ids, the vision grid is {rows}x{cols}")
            cell = np.arange(n)
            pos[ROW] = (cell // cols) * self.scheme.spatial_stride
            pos[COL] = (cell % cols) * self.scheme.spatial_stride
            pos[TIME] = t
        elif kind in ("text", "control"):
            pos[TIME] = t
        else:
            raise ValueError(f"unknown token kind {kind!r} (audio, image, text, control)")
        self.next_idx += n
        return Placed(ids, pos)


def interleave(layout: TokenLayout, scheme: PositionScheme, chunks: Iterable) -> Placed:
    """Merge ``Tokens``-like chunks (``.kind``, ``.ids`` already in the layout's id space,
    ``.t_capture``) of several modalities into one stream ordered by capture time (stable:
    equal times keep their given order) and place them. Used for prompts and training
    data; a live session calls :class:`PositionAssigner` as frames arrive."""
    chunks = sorted(chunks, key=lambda c: c.t_capture)
    pa = PositionAssigner(layout, scheme)
    parts = [pa.place(c.kind, c.ids, c.t_capture) for c in chunks]
    if not parts:
        return Placed(np.zeros(0, np.int64), np.zeros((N_SECTIONS, 0), np.int32))
    return Placed(np.concatenate([p.ids for p in parts]), np.concatenate([p.pos for p in parts], axis=1))


def text_positions(n: int, start: int = 0) -> np.ndarray:
    """(4, n) positions for a plain sequence: idx = start.., everything else 0."""
    pos = np.zeros((N_SECTIONS, n), dtype=np.int32)
    pos[IDX] = start + np.arange(n)
    return pos
