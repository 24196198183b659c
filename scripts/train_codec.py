#!/usr/bin/env python
"""Train LSC-1's RVQ codebooks on speech the project generates itself.

Recipe (reproducible from --seed): train sentences (livesense.corpus.sentences("train"))
× (1 of 3 Piper joe speeds + 3 of 60 random espeak-ng accent/variant/pitch/speed voices, then
3 more espeak-ng voices from a second pool of 60 and all 3 Piper speeds again)
+ one augmented copy of every clip (speed, sox pitch, EQ, reverb, noise, gain) -> LSC-1 features (YIN pitch) ->
compressed band magnitudes (power gamma) -> per-dimension normalisation -> stage 1: k-means
of the source (log-f0, voicing) -> stages 2-4: the learned envelope transform (encoder MLP,
3-stage RVQ of its latent, decoder MLP; closed loop: the encoder also reads the last two
quantized latents; livesense.codec.learn, torch). ``--plain`` makes the
earlier kind instead: greedy RVQ of the envelope itself (k-means per stage) and a
least-squares context decoder. Held-out voices and held-out sentences are never read here.

    python scripts/train_codec.py            # ~85 min on one core (+ ~11 min to build the corpus once)
    python scripts/train_codec.py --plain --extra-espeak 0 --extra-piper 0 --pitch autocorr   # ~12 min: the recipe of the earlier
                      # plain file (models/tiny/lsc1_codebooks.npz); not bit for bit, see its card
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "lsc1_train2.npz"), help="corpus cache stem (built if missing)")
    p.add_argument("--out", default=str(ROOT / "models" / "lsc1" / "lsc1_codebooks.npz"), help="codebook file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of corpus rendering, augmentation and k-means")
    p.add_argument("--max-frames", type=int, default=250000, help="frames sampled for k-means")
    p.add_argument("--iters", type=int, default=12, help="k-means iterations per RVQ stage")
    p.add_argument("--n-mel", type=int, default=None, help="experiment: override the contract's n_mel "
                   "(the codec only loads files matching livesense.codec.contract.CONTRACT)")
    p.add_argument("--weight-f0", type=float, default=2.0, help="RVQ weight of the log-f0 dims (1.0 before YIN)")
    p.add_argument("--weight-voicing", type=float, default=1.0, help="RVQ weight of the voicing dims")
    p.add_argument("--weight-outside", type=float, default=0.5, help="RVQ weight of mel bands outside 150-4300 Hz")
    p.add_argument("--no-context-decoder", dest="context_decoder", action="store_false",
                   help="decode each frame from its own codes only")
    p.add_argument("--extra-espeak", type=int, default=3, help="more espeak-ng voices per sentence, from each "
                   "extra seeded pool of 60 (+1 augmented copy each)")
    p.add_argument("--extra-pools", type=int, default=1, help="extra espeak-ng voice pools (each its own seed)")
    p.add_argument("--extra-piper", type=int, default=1, help="extra Piper pools: every train sentence by all 3 "
                   "Piper joe speeds, +1 augmented copy each (natural speech: the voices the codec does worst on)")
    p.add_argument("--open-loop", action="store_true", help="learned transform: an open-loop encoder (envelopes "
                   "only; the recipe before 2026-12-06)")
    p.add_argument("--plain", action="store_true", help="plain RVQ codebooks for the envelope (no learned transform)")
    p.add_argument("--epochs", type=int, default=32, help="learned transform: training epochs")
    p.add_argument("--hidden", type=int, default=768, help="learned transform: width of the MLPs' hidden layers")
    p.add_argument("--lat", type=int, default=64, help="learned transform: latent dims")
    p.add_argument("--pitch", default="yin", choices=["yin", "autocorr"], help="pitch analysis the source "
                   "stage is trained on (written into the file; autocorr: the files before YIN)")
    p.add_argument("--gamma", type=float, default=0.5, help="quantize band magnitudes compressed to the power "
                   "gamma (0: log band powers, the first shipped codebooks)")
    return p.parse_args()


def corpus(path: str, seed: int, extra_espeak: int = 0, extra_pools: int = 1, extra_piper: int = 0):
    """Each train sentence: 1 Piper joe speed + 3 of 60 random espeak-ng voices, +1 augmented
    copy; ``extra_espeak`` more voices per sentence from each of ``extra_pools`` more pools of
    60 (each its own seed); ``extra_piper`` pools of all 3 Piper speeds, +1 augmented copy."""
    from livesense.corpus import sentences
    from livesense.corpus.dataset import build_corpus
    from livesense.corpus.voices import PIPER_TRAIN_VOICES, espeak_train_voices

    texts = sentences("train", seed=seed)
    base = Path(path)
    a, la = build_corpus(base.with_name(base.stem + "_piper.npz"), texts, PIPER_TRAIN_VOICES,
                         seed=seed, n_voices_per_text=1, n_aug=1)
    b, lb = build_corpus(base.with_name(base.stem + "_espeak.npz"), texts,
                         espeak_train_voices(60, seed), seed=seed + 1, n_voices_per_text=3, n_aug=1)
    for k in range(extra_pools if extra_espeak else 0):
        c, lc = build_corpus(base.with_name(base.stem + f"_espeak{k + 2}x{extra_espeak}.npz"), texts,
                             espeak_train_voices(60, seed + 2 + 2 * k), seed=seed + 3 + 2 * k,
                             n_voices_per_text=extra_espeak, n_aug=1)
        b, lb = b + c, lb + lc
    for k in range(extra_piper):
        c, lc = build_corpus(base.with_name(base.stem + f"_piper{k + 2}x3.npz"), texts, PIPER_TRAIN_VOICES,
                             seed=seed + 101 + k, n_voices_per_text=3, n_aug=1)
        b, lb = b + c, lb + lc
    return a + b, la + lb


def features(clips, c, pitch="autocorr"):
    from tqdm import tqdm

    from livesense.codec.stream import FeatureEncoder

    out = []
    for x in tqdm(clips, desc="features", unit="clip"):
        xp = np.zeros(-(-(len(x) + c.delay) // c.frame_size) * c.frame_size, np.float32)
        xp[: len(x)] = x
        out.append(FeatureEncoder(c, pitch).step(xp))
    starts = np.cumsum([0] + [len(f) for f in out[:-1]])
    return np.concatenate(out), starts


def band_weights(c, outside: float) -> np.ndarray:
    """RVQ weight per mel band: 1 inside STOI's 150-4300 Hz range, ``outside`` elsewhere."""
    from livesense.codec.dsp import tables

    centre = tables(c)["centre_hz"]
    return np.where((centre > 150.0) & (centre < 4300.0), 1.0, outside).astype(np.float32)


def normalizer(F, c, wf, wv, outside, gamma):
    """Per-dimension statistics of the (compressed) features and the RVQ distance weights."""
    from livesense.codec.features import Normalizer

    w = np.ones(c.dim, np.float32)
    m = c.n_sub * c.n_mel
    w[:m] = np.tile(band_weights(c, outside), c.n_sub)
    w[m: m + c.n_sub], w[m + c.n_sub:] = wf, wv
    eye, ones = np.eye(c.dim, dtype=np.float32), np.ones(c.dim, np.float32)
    G = Normalizer(0 * ones, ones, ones, eye, gamma, m).compress(F)
    floor = np.where(np.arange(c.dim) < m, 1e-3 if gamma <= 0 else 1e-6, 1e-3)
    return Normalizer(G.mean(0).astype(np.float32), (G.std(0) + floor).astype(np.float32), w, eye, gamma, m)


def stage_masks(c) -> np.ndarray:
    """Stage 1 codes the source (log-f0, voicing) alone; stages 2.. code the envelope.

    Measured on the dev set: a dedicated source stage beats one joint RVQ by ~0.015 STOI.
    """
    m = c.n_sub * c.n_mel
    masks = np.zeros((c.n_codebooks, c.dim), np.float32)
    masks[0, m:] = 1.0
    masks[1:, :m] = 1.0
    return masks


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    a = parse_args()
    from dataclasses import asdict, replace

    from livesense.codec.contract import CONTRACT as c

    c = replace(c, n_mel=a.n_mel) if a.n_mel else c
    from livesense.codec.rvq import fit_context_decoder, save_codebooks, train_rvq

    clips, labels = corpus(a.corpus, a.seed, a.extra_espeak, a.extra_pools, a.extra_piper)
    F_all, starts = features(clips, c, a.pitch)  # consecutive frames, clip after clip
    rng = np.random.default_rng(a.seed)
    F = F_all
    if len(F) > a.max_frames:
        F = F[np.sort(rng.choice(len(F), a.max_frames, replace=False))]
    norm = normalizer(F, c, a.weight_f0, a.weight_voicing, a.weight_outside, a.gamma)
    recipe = {"recipe": "scripts/train_codec.py", "seed": a.seed, "iters": a.iters,
              "frames": int(len(F)), "clips": len(clips), "weight_f0": a.weight_f0,
              "weight_voicing": a.weight_voicing, "weight_outside": a.weight_outside, "gamma": a.gamma,
              "extra_espeak": a.extra_espeak, "extra_pools": a.extra_pools, "extra_piper": a.extra_piper,
              "pitch": a.pitch}
    if a.plain:
        books = train_rvq(norm.forward(F), c.n_codebooks, c.codebook_size, a.iters, seed=a.seed,
                          masks=stage_masks(c))
        post = fit_context_decoder(norm.forward(F_all), books) if a.context_decoder else None
        recipe["context_decoder"] = bool(a.context_decoder)
        digest = save_codebooks(Path(a.out), books, norm, c, extra=recipe, post=post)
    else:
        from livesense.codec.learn import TransformConfig, train_transform

        books = train_rvq(norm.forward(F), 1, c.codebook_size, a.iters, seed=a.seed, masks=stage_masks(c)[:1])
        cfg = TransformConfig(lat=a.lat, hidden=a.hidden, epochs=a.epochs, seed=a.seed, closed_loop=not a.open_loop)
        tf = train_transform(norm.forward(F_all)[:, : c.n_sub * c.n_mel], starts, c.n_codebooks - 1,
                             c.codebook_size, cfg)
        recipe["transform"] = asdict(cfg)
        digest = save_codebooks(Path(a.out), books, norm, c, extra=recipe, transform=tf)
    print(json.dumps({"out": a.out, "sha256": digest, **recipe}))


if __name__ == "__main__":
    main()
