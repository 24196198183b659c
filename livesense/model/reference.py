"""The reference model: a decoder-only transformer over the interleaved token stream.

Everything the other backends must reproduce is in this file: RMSNorm, grouped-query
attention with the 4-section rotary scheme of :mod:`livesense.model.positions` (NeoX
pairing, llama.cpp ``qwen2vl`` M-RoPE), SwiGLU MLP, untied or tied output head. The
architecture is llama.cpp's ``qwen2vl`` graph without biases; tensor names map 1:1 in
``export/gguf_export.py``.

``forward`` is one function for training, full-sequence inference, streaming and ONNX
export: it takes the chunk's ids, its rotary cos/sin (from ``PositionScheme``), the past
keys/values and a mask of which past slots may be attended to, and returns logits plus
the chunk's new keys/values. Attention is computed over [past, chunk] with a two-part
softmax, so the ring cache never has to be concatenated.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livesense.model.config import ModelConfig
from livesense.model.kvcache import RingKVCache
from livesense.model.positions import PositionScheme

NEG = -1e9  # additive mask value (finite: keeps int8/fp16 kernels NaN-free)


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """NeoX rotation of pairs (x[i], x[i+half]); x (B,H,T,hd), cos/sin (B,1,T,half)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.h, self.hkv, self.hd = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.wq = nn.Linear(cfg.d_model, self.h * self.hd, bias=False)
        self.wk = nn.Linear(cfg.d_model, self.hkv * self.hd, bias=False)
        self.wv = nn.Linear(cfg.d_model, self.hkv * self.hd, bias=False)
        self.wo = nn.Linear(self.h * self.hd, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, past_k, past_v, past_bias):
        b, t, _ = x.shape
        r = self.h // self.hkv
        q = self.wq(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.wk(x).view(b, t, self.hkv, self.hd).transpose(1, 2)
        v = self.wv(x).view(b, t, self.hkv, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        # query head h uses kv head h // r (ggml's broadcast): group queries per kv head
        qg = q.reshape(b, self.hkv, r * t, self.hd) * (1.0 / math.sqrt(self.hd))
        causal = torch.full((t, t), NEG).triu(1).repeat(r, 1)  # (r*t, t)
        s_new = qg @ k.transpose(-1, -2) + causal
        m = s_new.amax(-1, keepdim=True)
        if past_k is not None:
            s_past = qg @ past_k.transpose(-1, -2) + past_bias
            m = torch.maximum(m, s_past.amax(-1, keepdim=True))
        e_new = torch.exp(s_new - m)
        num, den = e_new @ v, e_new.sum(-1, keepdim=True)
        if past_k is not None:
            e_past = torch.exp(s_past - m)
            num, den = num + e_past @ past_v, den + e_past.sum(-1, keepdim=True)
        out = (num / den).reshape(b, self.h, t, self.hd).transpose(1, 2).reshape(b, t, self.h * self.hd)
        return self.wo(out), k, v


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.w_gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.w_up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.w_down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, past_k, past_v, past_bias):
        a, k, v = self.attn(self.attn_norm(x), cos, sin, past_k, past_v, past_bias)
        x = x + a
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h)), k, v


class LiveSenseLM(nn.Module):
    def __init__(self, cfg: ModelConfig, scheme: PositionScheme | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.scheme = scheme or PositionScheme.for_head_dim(cfg.head_dim)
        if self.scheme.half * 2 != cfg.head_dim:
            raise ValueError(f"rotary sections {self.scheme.sections} do not cover head_dim {cfg.head_dim}")
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def init_weights(self, seed: int = 0, std: float = 0.02) -> "LiveSenseLM":
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=g) * std)
        return self

    # --- the one forward -------------------------------------------------------------
    def forward(self, ids, cos, sin, past_k=None, past_v=None, past_mask=None):
        """ids (B,T) int64; cos/sin (B,T,half) float32; past_k/past_v
        (L,B,n_kv_head,P,head_dim) or None; past_mask (P,) bool (True = attend).
        Returns logits (B,T,V) and the chunk's keys/values (L,B,n_kv_head,T,head_dim)."""
        x = self.embed(ids)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        bias = None if past_mask is None else torch.where(past_mask, 0.0, NEG)
        ks, vs = [], []
        for i, blk in enumerate(self.blocks):
            pk = None if past_k is None else past_k[i]
            pv = None if past_v is None else past_v[i]
            x, k, v = blk(x, cos, sin, pk, pv, bias)
            ks.append(k)
            vs.append(v)
        x = self.norm(x)
        logits = x @ self.embed.weight.t() if self.head is None else self.head(x)
        return logits, torch.stack(ks), torch.stack(vs)

    # --- conveniences on numpy positions ---------------------------------------------
    def rope(self, pos) -> tuple[torch.Tensor, torch.Tensor]:
        """(4,T) or (B,4,T) integer positions -> cos/sin (B,T,half)."""
        pos = np.asarray(pos)
        if pos.ndim == 2:
            pos = pos[None]
        c, s = self.scheme.cos_sin(pos)
        return torch.from_numpy(c), torch.from_numpy(s)

    @torch.no_grad()
    def logits(self, ids, pos) -> np.ndarray:
        """Full-sequence forward, no cache: (T,) ids, (4,T) pos -> (T,V) float32."""
        cos, sin = self.rope(pos)
        out, _, _ = self(torch.as_tensor(np.asarray(ids), dtype=torch.long).view(1, -1), cos, sin)
        return out[0].numpy()

    def new_cache(self, capacity: int | None = None) -> RingKVCache:
        c = self.cfg
        return RingKVCache(c.n_layer, c.n_kv_head, capacity or c.n_ctx, c.head_dim)

    @torch.no_grad()
    def step(self, ids, pos, cache: RingKVCache) -> np.ndarray:
        """Streaming: feed a chunk (T,) ids with (4,T) pos, keep keys/values in the ring;
        returns (T,V) logits. Chunk by chunk equals :meth:`logits` while the session fits
        the ring; beyond it the oldest entries are forgotten."""
        ids = np.asarray(ids).reshape(-1)
        slots, past = cache.slots.plan(len(ids))
        cos, sin = self.rope(pos)
        out, k, v = self(torch.as_tensor(ids, dtype=torch.long).view(1, -1), cos, sin,
                         cache.k, cache.v, torch.from_numpy(past))
        cache.write(slots, k, v)
        return out[0].numpy()


def build(cfg: ModelConfig, scheme: PositionScheme | None = None, seed: int = 0, std: float = 0.02) -> LiveSenseLM:
    """A randomly initialised model in eval mode."""
    return LiveSenseLM(cfg, scheme).init_weights(seed, std).eval()
