"""Train LiveSense-Tiny: the reference transformer with two training-time devices that
export to a plain LiveSense model file.

* **Factorised image embedding.** A vision token is (colour, blob, shape); it is embedded
  as ``E_colour[c] + E_blob[b] + E_shape[s]`` so a (colour, shape) pair never seen in
  training still gets a meaningful vector. At export the sums are written into the rows
  of the ordinary token table, so every backend (torch, ONNX, llama.cpp) reads the same
  model with no special code.
* **Output head restricted to what the agent can say** (control, text, agent audio) with
  the sampler's masks applied in the loss: slot k of an audio frame is a softmax over
  codebook k only, exactly as ``sampling.audio_frame_masks`` constrains it at inference.

``train()`` is resumable: the checkpoint holds weights, optimiser, step and the seed; the
batch of step ``s`` is drawn from ``rng([seed, s])``, so a resumed run sees the same data.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livesense.model.config import ModelConfig
from livesense.model.meta import ModelSpec
from livesense.model.positions import PositionScheme
from livesense.model.reference import LiveSenseLM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    d_model: int = 256  # residual width
    n_layer: int = 4  # decoder blocks
    n_head: int = 4  # query heads (head_dim 64)
    n_kv_head: int = 2  # GQA
    d_ff: int = 768  # SwiGLU width
    n_ctx: int = 1024  # attention window of the shipped model
    batch: int = 8  # sequences per step (one turn ~300-450 tokens, two turns ~800)
    lr: float = 2e-3  # peak Adam learning rate
    warmup: int = 100  # linear warm-up steps
    steps: int = 3000  # total steps (cosine decay to 10 % over these)
    max_minutes: float = 60.0  # stop (and save) after this much wall time
    ckpt_every_s: float = 120.0  # checkpoint at least this often
    seed: int = 0  # data order, init, held-out sentence split

    def model_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(vocab_size=vocab_size, d_model=self.d_model, n_layer=self.n_layer, n_head=self.n_head,
                           n_kv_head=self.n_kv_head, d_ff=self.d_ff, n_ctx=self.n_ctx)


DECISION_WEIGHT = 40.0  # loss weight of the first text byte of a reply unit (see token_weights)

GPU_CONFIG = TrainConfig(d_model=512, n_layer=8, n_head=8, n_kv_head=4, d_ff=1536, batch=32, lr=1e-3,
                         warmup=500, steps=20000, max_minutes=600.0)


def output_ids(layout) -> np.ndarray:
    """Ids the agent may emit: control, text, agent audio (ascending)."""
    r = layout.ranges()
    parts = [np.arange(*r["control"]), np.arange(*r["text"])]
    parts += [np.arange(*r[f"audio.agent.{k}"]) for k in range(layout.n_codebooks)]
    return np.concatenate(parts)


def class_masks(layout, out_ids: np.ndarray) -> np.ndarray:
    """(1 + n_codebooks, n_out) additive masks: class 0 free (control, text, agent code 0),
    class k codebook k only."""
    kinds = [layout.kind_of(int(i)) for i in out_ids]
    m = np.full((1 + layout.n_codebooks, len(out_ids)), -1e9, np.float32)
    m[0, [i for i, k in enumerate(kinds) if k in ("control", "text", "audio.agent.0")]] = 0.0
    for k in range(1, layout.n_codebooks):
        m[k, [i for i, kd in enumerate(kinds) if kd == f"audio.agent.{k}"]] = 0.0
    return m


class TinyTrainModel(nn.Module):
    def __init__(self, cfg: ModelConfig, scheme: PositionScheme, layout) -> None:
        super().__init__()
        self.lm = LiveSenseLM(cfg, scheme).init_weights(0, 0.02)
        v = layout.vision
        self.n_blob, self.n_shape = int(v["n_blob"]), int(v["n_shape"])
        self.image_base = layout.image_base
        d = cfg.d_model
        self.e_colour = nn.Embedding(int(v["n_colour"]), d)
        self.e_blob = nn.Embedding(self.n_blob, d)
        self.e_shape = nn.Embedding(self.n_shape, d)
        for e in (self.e_colour, self.e_blob, self.e_shape):
            nn.init.normal_(e.weight, std=0.02)
        out = output_ids(layout)
        self.register_buffer("out_ids", torch.as_tensor(out))
        self.register_buffer("masks", torch.as_tensor(class_masks(layout, out)))
        self.silence_id = layout.control("silence")
        remap = torch.full((cfg.vocab_size,), -1, dtype=torch.long)
        remap[self.out_ids] = torch.arange(len(out))
        self.register_buffer("remap", remap)

    def image_table(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids - self.image_base
        c, b, s = t // (self.n_blob * self.n_shape), (t // self.n_shape) % self.n_blob, t % self.n_shape
        return self.e_colour(c) + self.e_blob(b) + self.e_shape(s)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        img = ids >= self.image_base
        x = self.lm.embed(torch.where(img, torch.zeros_like(ids), ids))
        return torch.where(img.unsqueeze(-1), self.image_table(ids.clamp(min=self.image_base)), x)

    def hidden(self, ids, cos, sin) -> torch.Tensor:
        x = self.embed(ids)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        for blk in self.lm.blocks:
            x = _block(blk, x, cos, sin)
        return self.lm.norm(x)

    def loss(self, ids, cos, sin, cls) -> tuple[torch.Tensor, dict]:
        """Next-token loss on target tokens only, under the class masks."""
        h = self.hidden(ids[:, :-1], cos[:, :-1], sin[:, :-1])
        tgt_cls = cls[:, 1:].long()
        sel = tgt_cls >= 0
        hs = h[sel]
        w = self.lm.head.weight[self.out_ids]
        logits = hs @ w.t() + self.masks[tgt_cls[sel]]
        tgt = self.remap[ids[:, 1:][sel]]
        w = self.token_weights(ids, sel)
        loss = (F.cross_entropy(logits, tgt, reduction="none") * w).sum() / w.sum()
        with torch.no_grad():
            acc = (logits.argmax(-1) == tgt).float()
            c = tgt_cls[sel]
            free, audio = (c == 0).float(), (c > 0).float()  # tensors: no device sync per step
            stats = {"loss": loss.detach(), "acc_free": (acc * free).sum() / free.sum().clamp(min=1),
                     "acc_audio": (acc * audio).sum() / audio.sum().clamp(min=1)}
        return loss, stats

    def forward(self, ids, cos, sin, cls):  # what DistributedDataParallel calls
        return self.loss(ids, cos, sin, cls)

    def token_weights(self, ids, sel) -> torch.Tensor:
        """Most targets are determined by what precedes them (the rest of a word, a
        unit's audio after its text); the decisions are the first text byte of a unit
        (which intent, which colour, shape, number...), where the previous token is not
        text. Those get ``DECISION_WEIGHT``; the agent's ``silence`` ticks get less."""
        lo, hi = int(self.out_ids[0]) + 16, int(self.out_ids[0]) + 16 + 256  # text range (after 16 controls)
        tgt, prev = ids[:, 1:], ids[:, :-1]
        is_text = lambda x: (x >= lo) & (x < hi)  # noqa: E731
        w = torch.ones_like(tgt, dtype=torch.float32)
        w = torch.where(is_text(tgt) & ~is_text(prev), torch.full_like(w, DECISION_WEIGHT), w)
        w = torch.where(tgt == self.silence_id, torch.full_like(w, 0.2), w)
        return w[sel]

    @torch.no_grad()
    def export_lm(self) -> LiveSenseLM:
        """The plain reference model: image rows of the token table = factorised sums."""
        ids = torch.arange(self.image_base, self.lm.cfg.vocab_size)
        self.lm.embed.weight[self.image_base:] = self.image_table(ids)
        return self.lm.eval()


def _block(blk, x, cos, sin):
    """The reference block (same weights, same maths) with torch's fused causal attention:
    training only, no cache; ``reference.Block`` stays the definition of record."""
    from livesense.model.reference import rotate

    a = blk.attn
    b, t, _ = x.shape
    h = blk.attn_norm(x)
    q = a.wq(h).view(b, t, a.h, a.hd).transpose(1, 2)
    k = a.wk(h).view(b, t, a.hkv, a.hd).transpose(1, 2)
    v = a.wv(h).view(b, t, a.hkv, a.hd).transpose(1, 2)
    q, k = rotate(q, cos, sin), rotate(k, cos, sin)
    r = a.h // a.hkv
    k, v = k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    x = x + a.wo(o.transpose(1, 2).reshape(b, t, a.h * a.hd))
    h = blk.ffn_norm(x)
    return x + blk.w_down(F.silu(blk.w_gate(h)) * blk.w_up(h))


def build_model(tc: TrainConfig, layout) -> tuple[TinyTrainModel, ModelSpec]:
    cfg = tc.model_config(layout.vocab_size)
    scheme = PositionScheme.for_head_dim(cfg.head_dim, tick_s=layout.frame_s)
    torch.manual_seed(tc.seed)
    return TinyTrainModel(cfg, scheme, layout), ModelSpec(cfg, layout, scheme)


def lr_at(step: int, tc: TrainConfig, minutes: float = 0.0) -> float:
    """Warm-up, then cosine to 10 % over whichever runs out first: steps or wall time
    (a time-capped run on a loaded machine still ends at the low learning rate)."""
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    p = min(1.0, max((step - tc.warmup) / max(1, tc.steps - tc.warmup), minutes / tc.max_minutes))
    return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def batch_tensors(model: TinyTrainModel, seqs):
    from livesense.train.data import collate

    ids, pos, cls = collate(seqs)
    cos, sin = model.lm.rope(pos)
    return torch.from_numpy(ids), cos, sin, torch.from_numpy(cls)


class RopeTable:
    """The scheme's rotation angles computed on the training device from integer positions
    (``PositionScheme.angles`` is numpy): pair i of the half rotates by pos[section(i)] * s^i,
    the factors s^i read off the scheme itself (its angles at position 1). Agrees with the
    numpy scheme to float32 rounding."""

    def __init__(self, scheme, device) -> None:
        freq = scheme.angles(np.ones((4, 1), np.int32))[0]  # (half,): s^i as ggml's float32 loop makes it
        self.freq = torch.as_tensor(freq, device=device)
        self.sec = torch.as_tensor(scheme.pair_section(), device=device, dtype=torch.long)

    def __call__(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 4, T) int -> cos, sin (B, T, half) float32."""
        a = pos.float()[:, self.sec, :].transpose(1, 2) * self.freq
        return torch.cos(a), torch.sin(a)


class Batches(torch.utils.data.IterableDataset):
    """Step ``s``'s batch drawn from ``rng([seed, s])``, collated to numpy (ids, pos, cls).
    With several DataLoader workers, worker w makes steps w, w+W, ...; the loader's round
    robin hands them back in step order, so a run sees the same data with any worker count."""

    def __init__(self, curriculum, seed: int, batch: int, start: int, stop: int) -> None:
        self.cur, self.seed, self.batch, self.start, self.stop = curriculum, seed, batch, start, stop

    def __iter__(self):
        from livesense.train.data import collate

        info = torch.utils.data.get_worker_info()
        w, n = (info.id, info.num_workers) if info is not None else (0, 1)
        for step in range(self.start + w, self.stop, n):
            rng = np.random.default_rng([self.seed, step])
            ids, pos, cls = collate([self.cur.sample(rng) for _ in range(self.batch)])
            yield torch.from_numpy(ids), torch.from_numpy(pos), torch.from_numpy(cls)


def batch_stream(curriculum, tc: "TrainConfig", start: int, workers: int):
    """(ids, pos, cls) tensors from step ``start`` on, made by ``workers`` processes; if a
    worker breaks (e.g. a small /dev/shm), generation goes on in-process from that step."""
    step = start
    if workers > 0:
        loader = torch.utils.data.DataLoader(Batches(curriculum, tc.seed, tc.batch, start, tc.steps),
                                             batch_size=None, num_workers=workers, prefetch_factor=8,
                                             pin_memory=torch.cuda.is_available())
        try:
            for b in loader:
                yield b
                step += 1
            return
        except Exception as e:  # noqa: BLE001 - the data is reproducible: carry on without workers
            log.warning("batch workers failed at step %d (%s); generating in-process", step, e)
    yield from Batches(curriculum, tc.seed, tc.batch, step, tc.steps)


def save_ckpt(path: Path, model, opt, step: int, tc: TrainConfig, history: list, extra: dict,
              minutes: float = 0.0) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "train_config": asdict(tc),
                "minutes": minutes,
                "history": history, "extra": extra}, tmp)
    tmp.replace(path)


def train(model: TinyTrainModel, curriculum, tc: TrainConfig, ckpt: Path, extra: dict | None = None,
          progress: bool = True, device: str = "cpu", workers: int = 0) -> dict:
    """Run (or resume) training; returns a summary dict. Stops at ``tc.steps`` or
    ``tc.max_minutes``, checkpointing every ``tc.ckpt_every_s`` and at the end.
    ``device="cuda"``: bf16 autocast on the GPU, batches made by ``workers`` processes."""
    dev = torch.device(device)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=(0.9, 0.95), weight_decay=0.01)
    step, history, spent = 0, [], 0.0
    if ckpt.exists():
        ck = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        step, history = int(ck["step"]), list(ck["history"])
        spent = float(ck.get("minutes", 0.0))
        log.info("resumed from %s at step %d", ckpt, step)
    t_start = last_ck = time.monotonic()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=tc.steps, initial=step, desc="train", unit="step", mininterval=5)
    model.train()
    ema = None
    minutes = lambda: spent + (time.monotonic() - t_start) / 60  # noqa: E731  (total over resumes)
    rope = RopeTable(model.lm.scheme, dev)
    batches = batch_stream(curriculum, tc, step, workers)
    waited, t_log = 0.0, time.monotonic()  # time spent waiting for batches since the last log line
    while step < tc.steps and minutes() < tc.max_minutes:
        t_wait = time.monotonic()
        batch = next(batches)
        waited += time.monotonic() - t_wait
        ids, pos, cls = (x.to(dev, non_blocking=True) for x in batch)
        cos, sin = rope(pos)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc, minutes())
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss, st = model.loss(ids, cos, sin, cls)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = st if ema is None else {k: 0.95 * ema[k] + 0.05 * st[k] for k in st}
        if step % 10 == 0:
            now = {k: round(float(v), 4) for k, v in ema.items()}
            # data_wait: share of the wall time spent waiting for batches (1 = input-bound)
            now["data_wait"] = round(waited / max(1e-9, time.monotonic() - t_log), 3)
            waited, t_log = 0.0, time.monotonic()
            history.append({"step": step, "min": round(minutes(), 2), "lr": round(lr_at(step, tc, minutes()), 6), **now})
            if bar is not None:
                bar.set_postfix({k: f"{v:.3f}" for k, v in now.items()}, refresh=False)
        if bar is not None:
            bar.update(1)
        if time.monotonic() - last_ck > tc.ckpt_every_s:
            save_ckpt(ckpt, model, opt, step, tc, history, extra or {}, minutes())
            last_ck = time.monotonic()
    save_ckpt(ckpt, model, opt, step, tc, history, extra or {}, minutes())
    if bar is not None:
        bar.close()
    model.to("cpu").eval()
    return {"steps": step, "minutes_this_run": round((time.monotonic() - t_start) / 60, 1),
            "final": {k: round(float(v), 4) for k, v in (ema or {}).items()}, "history_tail": history[-3:]}
