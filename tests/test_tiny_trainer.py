"""LiveSense-Tiny trainer: the batches and angles the GPU path uses are the CPU path's, and a
run is the same with or without batch worker processes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from livesense.train import trainer as T
from test_tiny_curriculum import fake_caches

SMALL = T.TrainConfig(d_model=64, n_layer=1, n_head=1, n_kv_head=1, d_ff=128, batch=2, steps=4, warmup=2,
                      max_minutes=5.0, ckpt_every_s=1e9)


def setup(tc=SMALL):
    L, units, user, scenes = fake_caches()
    model, spec = T.build_model(tc, L)
    from livesense.train.data import Curriculum

    return model, Curriculum(L, spec.scheme, units, user, scenes, seed=tc.seed)


def test_rope_table_matches_the_position_scheme():
    model, cur = setup()
    seqs = [cur.sample(np.random.default_rng([0, s])) for s in range(3)]
    from livesense.train.data import collate

    _, pos, _ = collate(seqs)
    cos, sin = T.RopeTable(model.lm.scheme, "cpu")(torch.from_numpy(pos))
    ref_cos, ref_sin = model.lm.rope(pos)
    assert cos.shape == ref_cos.shape
    # float32 rounding of angles up to a few hundred radians
    assert float((cos - ref_cos).abs().max()) < 1e-3 and float((sin - ref_sin).abs().max()) < 1e-3


def test_batches_are_the_same_with_worker_processes():
    _, cur = setup()
    tc = replace(SMALL, steps=5)
    a = list(T.batch_stream(cur, tc, start=1, workers=0))
    b = list(T.batch_stream(cur, tc, start=1, workers=2))
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):
        assert all(torch.equal(p, q) for p, q in zip(x, y))


def test_training_lowers_the_loss_and_resumes(tmp_path):
    torch.manual_seed(0)
    model, cur = setup()
    tc = replace(SMALL, steps=30, lr=3e-3)
    out = T.train(model, cur, tc, tmp_path / "ck.pt", progress=False)
    assert out["steps"] == 30
    h = torch.load(tmp_path / "ck.pt", weights_only=False)["history"]
    assert h[-1]["loss"] < h[0]["loss"]
    more = T.train(model, cur, replace(tc, steps=32), tmp_path / "ck.pt", progress=False)
    assert more["steps"] == 32  # resumed at 30, two more steps
