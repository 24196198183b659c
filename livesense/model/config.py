"""Model dimensions: one frozen dataclass, written into every model file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int  # = TokenLayout.vocab_size; checked against the layout on load
    d_model: int = 256  # residual width; = n_head * head_dim (llama.cpp qwen2vl requires it)
    n_layer: int = 4  # decoder blocks
    n_head: int = 4  # query heads
    n_kv_head: int = 2  # key/value heads (GQA: n_head % n_kv_head == 0)
    d_ff: int = 768  # SwiGLU hidden width
    # RMSNorm epsilon. Tiny on purpose: llama.cpp 0.3.36's qwen2vl loader ignores
    # layer_norm_rms_epsilon and normalises with eps = 0; 1e-8 agrees with that to ~1e-6
    # relative, agrees with a fixed llama.cpp exactly, and still keeps a zero vector finite.
    norm_eps: float = 1e-8
    tie_embeddings: bool = False  # output head = token embedding table
    n_ctx: int = 1024  # ring KV cache length (tokens): the model's attention window

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError("d_model must be a multiple of n_head")
        if self.n_head % self.n_kv_head:
            raise ValueError("n_head must be a multiple of n_kv_head")
        if self.head_dim % 2:
            raise ValueError("head_dim must be even (rotary pairs)")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**d)

    def n_params(self) -> int:
        d, f, hk = self.d_model, self.d_ff, self.n_kv_head * self.head_dim
        block = 2 * d * d + 2 * d * hk + 3 * d * f + 2 * d
        emb = self.vocab_size * d * (1 if self.tie_embeddings else 2)
        return self.n_layer * block + emb + d
