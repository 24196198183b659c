"""Several GPUs: the LiveSense-Tiny recipe under torchrun / DistributedDataParallel.

Written for a GPU box and not run on the 2-core CPU machine this project is built on
(there is no GPU here); it reuses the same curriculum, model and loss as
``livesense.train.trainer``, with the larger ``GPU_CONFIG`` by default.

    torchrun --nproc_per_node=8 -m livesense.train.ddp --data data/tiny --steps 20000

Each rank draws its own batches from ``rng([seed, step, rank])`` (the data is generated,
so there is nothing to shard); rank 0 logs, checkpoints (resumable) and exports.
"""

from __future__ import annotations

import logging

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/tiny", help="cache folder (build it once with scripts/train_tiny.py --build-only)")
    p.add_argument("--ckpt", default="data/tiny/ckpt_ddp.pt", help="checkpoint, resumed if present")
    p.add_argument("--steps", type=int, default=None, help="total steps")
    p.add_argument("--batch", type=int, default=None, help="sequences per step per GPU")
    p.add_argument("--seed", type=int, default=0, help="seed")
    p.add_argument("--small", action="store_true", help="the CPU config instead of GPU_CONFIG")
    return p.parse_args()


def main() -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from livesense.model.layout import default_layout
    from livesense.train import data as D
    from livesense.train import trainer as T

    a = parse_args()
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    dev = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    tc = T.TrainConfig() if a.small else T.GPU_CONFIG
    tc = replace(tc, seed=a.seed, **{k: v for k, v in (("steps", a.steps), ("batch", a.batch)) if v is not None})
    root = Path(a.data)
    layout = default_layout()
    model, spec = T.build_model(tc, layout)
    cur = D.Curriculum(layout, spec.scheme, D.load_units(root / "units.npz"), D.load_user(root / "user_train.npz"),
                       D.load_scenes(root / "scenes_train.npz"), a.seed)
    model.to(dev)
    ddp = DDP(model, device_ids=[local] if dev.type == "cuda" else None)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=(0.9, 0.95), weight_decay=0.01)
    ckpt, step = Path(a.ckpt), 0
    if ckpt.exists():
        ck = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = int(ck["step"])
    t0 = time.monotonic()
    while step < tc.steps:
        rng = np.random.default_rng([tc.seed, step, rank])
        ids, cos, sin, cls = (x.to(dev) for x in T.batch_tensors(model, [cur.sample(rng) for _ in range(tc.batch)]))
        for g in opt.param_groups:
            g["lr"] = T.lr_at(step, tc)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss, _ = ddp(ids, cos, sin, cls)  # DDP's forward = TinyTrainModel.loss: grads all-reduced
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if rank == 0 and step % 100 == 0:
            log.info("step %d loss %.4f %.0fs", step, float(loss), time.monotonic() - t0)
        if rank == 0 and step % 1000 == 0:
            T.save_ckpt(ckpt, model, opt, step, tc, [], {"world": world})
    if rank == 0:
        T.save_ckpt(ckpt, model, opt, step, tc, [], {"world": world})
    dist.destroy_process_group()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
