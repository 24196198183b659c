"""Tiny in-code models for tests and benchmarks: random, or briefly trained to memorise
one interleaved audio+image+text session (so greedy decoding has clear margins and
quantized backends can be asked to pick the same tokens)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livesense.model.config import ModelConfig
from livesense.model.layout import TokenLayout, default_layout
from livesense.model.meta import ModelSpec
from livesense.model.positions import Placed, PositionScheme, interleave


@dataclass
class _Chunk:
    kind: str
    ids: np.ndarray
    t_capture: float


def demo_session(layout: TokenLayout, scheme: PositionScheme, seed: int = 0, seconds: float = 0.48) -> Placed:
    """A synthetic session: user audio frames every 40 ms, one camera grid, a question in
    text, the agent's text and audio reply — interleaved by capture time."""
    rng = np.random.default_rng(seed)
    fs = layout.frame_s
    chunks = [_Chunk("control", np.array([layout.control("bos"), layout.control("user")]), 0.0)]
    n_frames = int(round(seconds / fs))
    for f in range(n_frames):
        codes = rng.integers(0, layout.codebook_size, (1, layout.n_codebooks))
        chunks.append(_Chunk("audio", layout.audio_ids(codes, "user"), f * fs))
    grid = rng.integers(0, layout.image_vocab, layout.image_grid[0] * layout.image_grid[1])
    chunks.append(_Chunk("image", layout.image_ids(grid), 0.1))
    t_end = n_frames * fs
    chunks.append(_Chunk("control", np.array([layout.control("agent")]), t_end))
    chunks.append(_Chunk("text", layout.text_ids("a red ball"), t_end))
    for f in range(4):
        codes = rng.integers(0, layout.codebook_size, (1, layout.n_codebooks))
        chunks.append(_Chunk("audio", layout.audio_ids(codes, "agent"), t_end + f * fs))
    chunks.append(_Chunk("control", np.array([layout.control("eou")]), t_end + 4 * fs))
    return interleave(layout, scheme, chunks)


def tiny_config(layout: TokenLayout, **kw) -> ModelConfig:
    base = dict(vocab_size=layout.vocab_size, d_model=64, n_layer=2, n_head=2, n_kv_head=1, d_ff=128, n_ctx=64)
    return ModelConfig(**{**base, **kw})


def tiny_model(layout: TokenLayout | None = None, train_steps: int = 60, seed: int = 0, **cfg_kw):
    """(model, spec, session): a tiny model, trained ``train_steps`` Adam steps to predict
    the next token of ``session`` (0 = random init)."""
    import torch

    from livesense.model.reference import build

    layout = layout or default_layout()
    cfg = tiny_config(layout, **cfg_kw)
    scheme = PositionScheme.for_head_dim(cfg.head_dim, tick_s=layout.frame_s)
    model = build(cfg, scheme, seed=seed, std=0.05)
    sess = demo_session(layout, scheme, seed)
    if train_steps:
        _train(model, sess, train_steps, torch)
    return model.eval(), ModelSpec(cfg, layout, scheme), sess


def _train(model, sess: Placed, steps: int, torch) -> None:
    model.train()
    ids = torch.as_tensor(sess.ids).view(1, -1)
    cos, sin = model.rope(sess.pos)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        logits, _, _ = model(ids[:, :-1], cos[:, :-1], sin[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits[0], ids[0, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
