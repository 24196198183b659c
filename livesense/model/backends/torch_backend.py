"""The reference torch model as a backend (and the .pt checkpoint format)."""

from __future__ import annotations

from pathlib import Path

from livesense.model.backends.protocol import ChunkedBackend
from livesense.model.meta import ModelSpec, to_meta


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("the torch backend needs torch: pip install torch==2.13.0") from e
    return torch


def save_torch(model, spec: ModelSpec, path: str | Path) -> Path:
    torch = _torch()
    torch.save({"meta": to_meta(spec), "state_dict": model.state_dict()}, str(path))
    return Path(path)


class TorchBackend(ChunkedBackend):
    name = "torch"
    quant = "f32"

    def __init__(self, model, spec: ModelSpec, n_ctx: int | None = None, max_chunk: int = 256,
                 n_threads: int = 1, n_seq: int = 1) -> None:
        torch = _torch()
        torch.set_num_threads(n_threads)
        super().__init__(spec, n_ctx or spec.cfg.n_ctx, max_chunk, n_seq)
        self.model = model.eval()
        self.caches = [model.new_cache(self.n_ctx) for _ in range(self.n_seq)]
        self.cache = self.caches[0]

    @classmethod
    def load(cls, path: str | Path, spec: ModelSpec, **kw) -> "TorchBackend":
        torch = _torch()
        from livesense.model.reference import LiveSenseLM

        ck = torch.load(str(path), map_location="cpu", weights_only=True)
        model = LiveSenseLM(spec.cfg, spec.scheme)
        model.load_state_dict(ck["state_dict"])
        return cls(model, spec, **kw)

    def _reset(self) -> None:
        self.cache.reset()

    def _select(self, seq: int) -> None:
        self.cache = self.caches[seq]

    def _truncate(self, idx: int, n: int) -> None:
        self.cache.slots.rewind(n)

    def _run(self, ids, pos, want):
        out = self.model.step(ids, pos, self.cache)
        return {"all": out, "last": out[-1:], "none": None}[want]
