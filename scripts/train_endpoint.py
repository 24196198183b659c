"""Train the prosodic end-of-turn model (livesense/runtime/endpoint.py) and measure it.

Data (livesense/train/endpoint_data.py): sentences, questions (own templates; nouns split
train/test) and short replies, with their pauses stretched, in room noise, spoken by
  fit   — the training voices (Piper joe × 3 speeds + 24 espeak-ng voices) × training sentences,
          questions about training nouns, short turns,
  val   — the same voices × other training sentences and questions (picks the threshold),
  test  — the 4 held-out voices × held-out sentences and questions about held-out nouns
          (reported, never used to choose anything).
Each silence is cut into one row per 20 ms frame from min_stop_s to stop_s (a discrete-time
hazard); a logistic regression (Newton, L2) on the features, their squares and their products
with the silence so far (``endpoint.expand``) says whether the turn has ended. The threshold is
the one with the lowest mean wait on val that cuts at most ``--max-extra-cuts`` more turns
early than the fixed 360 ms rule does.

    python scripts/train_endpoint.py            # writes models/endpoint/endpoint.json (+ .sha256, plot)

Last line: JSON with the test figures for the fixed rule and the model, in the same run.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livesense.config import AudioConfig, TurnConfig  # noqa: E402
from livesense.runtime.endpoint import FEATURES, EndpointModel, expand  # noqa: E402
from livesense.train.endpoint_data import simulate, summary  # noqa: E402


def build(split: str, n_turns: int, seed: int, cache: Path | None):
    from tqdm import tqdm

    from livesense.corpus.text import sentences
    from livesense.corpus.voices import HELDOUT_VOICES, PIPER_TRAIN_VOICES, espeak_train_voices
    from livesense.train.endpoint_data import SHORT_TURNS, TEST_NOUNS, TRAIN_NOUNS, make_turn, questions, silences

    if cache is not None and cache.exists():
        return pickle.loads(cache.read_bytes())
    rng = np.random.default_rng(seed)
    if split == "test":
        voices, texts = HELDOUT_VOICES, sentences("heldout", n_turns, seed=seed, max_words=14)
        asked = questions(TEST_NOUNS, n_turns, rng)
        texts = [asked[i] if rng.random() < 0.5 else t for i, t in enumerate(texts)]
    else:
        voices = PIPER_TRAIN_VOICES + espeak_train_voices(24, seed=1)
        pool = sentences("train", 4 * n_turns, seed=0, max_words=14)
        half = len(pool) // 2
        texts = list(pool[:half] if split == "fit" else pool[half:])
        asked = questions(TRAIN_NOUNS, n_turns, rng)
        for i in range(len(texts)):
            u = rng.random()
            texts[i] = asked[i % len(asked)] if u < 0.45 else SHORT_TURNS[int(rng.integers(len(SHORT_TURNS)))] \
                if u < 0.65 else texts[i]
    rows = []
    for i in tqdm(range(n_turns), desc=f"endpoint {split}", unit="turn"):
        voice, text = voices[i % len(voices)], texts[i % len(texts)]
        turn = make_turn(voice, text, rng)
        rows.append({"voice": voice.name, "text": text, "end_s": turn.speech_end_s, "silences": silences(turn)})
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(rows))
    return rows


def design(turns):
    x, y = [], []
    for t in turns:
        for s in t["silences"]:
            x += s.features
            y += [float(s.last)] * len(s.features)
    return np.asarray(x), np.asarray(y)


def fit_logistic(x, y, l2=1.0, iters=30):
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-z @ w))
        g = z.T @ (p - y) + reg * w
        h = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1]), mean, std


def plot(curves, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, pts, fixed, chosen in curves:
        ax.plot([p[1] for p in pts], [100 * p[0] for p in pts], ".-", label=f"{name}: model, thresholds")
        ax.plot(fixed[1], 100 * fixed[0], "s", ms=8, label=f"{name}: fixed 360 ms")
        ax.plot(chosen[1], 100 * chosen[0], "*", ms=13, label=f"{name}: shipped threshold")
    ax.set_xlabel("mean wait after the end of speech (ms)")
    ax.set_ylabel("turns cut at a pause (%)")
    ax.set_title("End of turn: wait vs. cutting the speaker off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit-turns", type=int, default=900)
    ap.add_argument("--val-turns", type=int, default=300)
    ap.add_argument("--test-turns", type=int, default=300)
    ap.add_argument("--max-extra-cuts", type=float, default=0.02, help="cut-early rate allowed above the fixed rule's, on val")
    ap.add_argument("--cache", type=Path, default=ROOT / "data" / "endpoint", help="generated silences are kept here")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "endpoint" / "endpoint.json")
    ap.add_argument("--plot", type=Path, default=ROOT / "out" / "endpoint.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--l2", type=float, default=10.0, help="ridge penalty on the standardised weights")
    args = ap.parse_args(argv)

    cfg, frame_s = TurnConfig(), AudioConfig().frame_ms / 1000
    c = args.cache
    fit = build("fit", args.fit_turns, args.seed, c / f"fit_{args.fit_turns}_{args.seed}.pkl" if c else None)
    val = build("val", args.val_turns, args.seed + 1, c / f"val_{args.val_turns}_{args.seed}.pkl" if c else None)
    test = build("test", args.test_turns, args.seed + 2, c / f"test_{args.test_turns}_{args.seed}.pkl" if c else None)
    x, y = design(fit)
    w, b, mean, std = fit_logistic(expand(x), y, l2=args.l2)
    model = EndpointModel(w, b, mean, std, threshold=1.0)

    grid = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995]
    fixed_val = summary(simulate(val, None, 1.0, cfg, frame_s))
    val_pts = [(th, summary(simulate(val, model, th, cfg, frame_s))) for th in grid]
    ok = [(s["wait_mean_ms"], th) for th, s in val_pts if s["cut_early"] <= fixed_val["cut_early"] + args.max_extra_cuts]
    threshold = min(ok)[1] if ok else 1.0
    model.threshold = threshold
    fixed_test = summary(simulate(test, None, 1.0, cfg, frame_s))
    model_test = summary(simulate(test, model, threshold, cfg, frame_s))
    test_pts = [(th, summary(simulate(test, model, th, cfg, frame_s))) for th in grid]
    model_val = dict(val_pts)[threshold] if threshold in dict(val_pts) else fixed_val

    model.meta = {
        "recipe": "python scripts/train_endpoint.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": int(len(y)), "ends": int(y.sum()), "fit_turns": len(fit), "val_turns": len(val),
        "min_stop_s": cfg.min_stop_s, "stop_s": cfg.stop_s, "val_fixed": fixed_val, "val_model": model_val,
        "test_fixed": fixed_test, "test_model": model_test,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sha = model.save(args.out)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    pt = lambda s: (s["cut_early"], s["wait_mean_ms"])  # noqa: E731
    plot([("val (training voices)", [pt(s) for _, s in val_pts], pt(fixed_val), pt(model_val)),
          ("test (held-out voices)", [pt(s) for _, s in test_pts], pt(fixed_test), pt(model_test))], args.plot)
    for th, s in test_pts:
        print(f"test threshold {th}: {s}", file=sys.stderr)
    print(f"linear weights: {dict(zip(FEATURES, np.round(w[:len(FEATURES)], 3)))}", file=sys.stderr)
    print(json.dumps({"threshold": threshold, "sha256": sha, "test_fixed": fixed_test, "test_model": model_test,
                      "wait_p50_ratio": round(model_test["wait_p50_ms"] / fixed_test["wait_p50_ms"], 3),
                      "val_fixed": fixed_val, "val_model": model_val, "plot": str(args.plot)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
