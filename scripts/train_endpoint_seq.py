"""Train the sequence end-of-turn model (livesense/runtime/endpoint_seq.py) and measure it
against the fixed 360 ms wait and the prosodic model, on the same generated turns.

Data (livesense/train/endpoint_data.py, as scripts/train_endpoint.py, plus more question
templates and nouns, the native model's own question phrasings, and questions with a pause
inside them, "What colour, is it?"): turns with their pauses stretched to 0.08-0.7 s, in
room noise, spoken by
  fit   — the training voices (Piper joe × 3 speeds + 24 espeak-ng voices), 3 in 10 moved by
          sox pitch (±400 cents), 3 in 10 played faster or slower (±15 %), 1 in 4 in a quiet room;
          and the same 8000 texts again by Piper joe + 80 espeak-ng voices (``--espeak-voices 24,80``),
  val   — the first voice set, other sentences (picks the threshold),
  test  — the 4 held-out voices × held-out sentences, and questions about nouns training never
          named, half of them from templates training never used,
  domain — the 4 held-out voices × the native model's phrasings (models/tiny/MODEL_CARD.md).
Two of the latency benchmark's eight questions ("Who are you?", "What shape is it?") are native
phrasings and so in the training text (in other voices); the other six are not.
Each turn runs through the runtime's VAD; every frame becomes ``SeqFeatures``; the GRU is
trained (torch, one thread) on the silent frames from min_stop_s to stop_s of every silence
after the turn began: 1 if no speech follows (the end), 0 if it does (a pause). The threshold
is the one with the lowest mean wait on val that cuts at most ``--max-extra-cuts`` more
turns at a pause than the fixed rule does.

    python scripts/train_endpoint_seq.py     # writes models/endpoint/endpoint_seq.npz (+ .sha256, plot)
    python scripts/train_endpoint_seq.py --rethreshold models/endpoint/endpoint_seq.npz --max-extra-cuts 0.03
                                             # the same weights, the threshold re-picked (no training)

Last line: JSON with the test and domain figures for the fixed rule, the prosodic model and
this one, in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livesense.config import AudioConfig, TurnConfig  # noqa: E402
from livesense.runtime.endpoint import EndpointModel  # noqa: E402
from livesense.runtime.endpoint_seq import FEATURES, RESET_S, SeqEndpointModel, segments  # noqa: E402
from livesense.train.endpoint_data import GIVEN, decision_frames, simulate, summary, with_probs  # noqa: E402


RECIPE = "v4: fit/val voices moved by sox pitch and tempo, 1 in 4 in a quiet room; more nouns"  # part of the cache key


def texts_for(split: str, n: int, rng: np.random.Generator) -> list[str]:
    from livesense.corpus.text import sentences
    from livesense.train.curriculum import QUESTIONS
    from livesense.train.endpoint_data import (ADJECTIVES, MORE_NOUNS, MORE_TEMPLATES, PLAIN_TURNS, QUESTION_TEMPLATES,
                                               SHORT_TURNS, TEST_NOUNS, TEST_TEMPLATES, TRAIN_NOUNS, pause_inside,
                                               questions)

    domain = [q for qs in QUESTIONS.values() for q in qs]
    if split == "domain":
        return [pause_inside(domain[i % len(domain)], rng) if rng.random() < 0.5 else domain[i % len(domain)]
                for i in range(n)]
    if split == "test":
        texts = sentences("heldout", n, seed=2, max_words=14)
        asked = questions(TEST_NOUNS, n, rng, TEST_TEMPLATES + QUESTION_TEMPLATES)
        return [pause_inside(asked[i], rng) if rng.random() < 0.3 else asked[i] if rng.random() < 0.4
                else texts[i % len(texts)] for i in range(n)]
    pool = sentences("train", 4 * n, seed=0, max_words=14)
    half = len(pool) // 2
    texts = list(pool[:half] if split == "fit" else pool[half:])[:n]
    asked = questions(TRAIN_NOUNS + MORE_NOUNS, n, rng, QUESTION_TEMPLATES + MORE_TEMPLATES, ADJECTIVES)
    short = SHORT_TURNS + PLAIN_TURNS
    out = []
    for i in range(n):
        u = rng.random()
        t = asked[i] if u < 0.35 else domain[int(rng.integers(len(domain)))] if u < 0.55 else \
            short[int(rng.integers(len(short)))] if u < 0.7 else texts[i % len(texts)]
        out.append(pause_inside(t, rng) if "?" in t and rng.random() < 0.5 else t)
    return out


def build(split: str, n: int, seed: int, cache: Path | None, n_espeak: int = 24, phases: int = 1) -> list[dict]:
    """Turns of a split, each with its frame features, VAD (on ``phases`` frame grids: x (K, n, d)
    when K > 1), and silences (prosodic features too)."""
    from tqdm import tqdm

    from livesense.corpus.voices import HELDOUT_VOICES, PIPER_TRAIN_VOICES, espeak_train_voices
    from livesense.train.endpoint_data import make_turn, seq_frames, silences

    rng = np.random.default_rng(seed)
    voices = HELDOUT_VOICES if split in ("test", "domain") else PIPER_TRAIN_VOICES + espeak_train_voices(n_espeak, seed=1)
    texts = texts_for(split, n, rng)
    if cache is not None:  # keyed by what would be spoken, so a changed recipe never reads stale turns
        grids = [f"phases={phases}"] if phases > 1 else []
        key = hashlib.sha1("\n".join([RECIPE] + grids + texts + [v.name for v in voices]).encode()).hexdigest()[:10]
        cache = cache.with_name(f"{cache.stem}_{key}.pkl")
        if cache.exists():
            return pickle.loads(cache.read_bytes())
    rows = []
    for i in tqdm(range(n), desc=f"endpoint {split}", unit="turn"):
        voice, text = voices[i % len(voices)], texts[i]
        if split in ("fit", "val"):  # more voices than the training set names: pitch, tempo, quieter rooms
            cents = float(rng.uniform(-400, 400)) if rng.random() < 0.3 else 0.0
            speed = float(rng.uniform(0.85, 1.15)) if rng.random() < 0.3 else 1.0
            snr = (60.0, 90.0) if rng.random() < 0.25 else (20.0, 50.0)
            turn = make_turn(voice, text, rng, cents=cents, speed=speed, snr_db=snr)
        else:
            turn = make_turn(voice, text, rng)
        x, speech = seq_frames(turn, phases=phases)
        rows.append({"voice": voice.name, "text": text, "end_s": turn.speech_end_s, "x": x, "speech": speech,
                     "silences": silences(turn)})
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(rows))
    return rows


def targets(turn: dict, cfg: TurnConfig, frame_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, labels) of the decision frames: 1 in the silence that ends the turn."""
    frames = decision_frames(turn["silences"], cfg, frame_s)
    idx = np.concatenate(frames or [np.zeros(0, np.int64)]).astype(np.int64)
    lab = np.concatenate([np.full(len(f), float(s.last), np.float32) for s, f in zip(turn["silences"], frames)]
                         or [np.zeros(0, np.float32)])
    return idx, lab


def sequences(turns, cfg, frame_s):
    """Training sequences: the GRU's segments (as the runtime runs it), with decision targets."""
    reset = max(1, round(RESET_S / frame_s))
    out = []
    for t in turns:
        idx, lab = targets(t, cfg, frame_s)
        for a, b in segments(t["speech"], reset):
            keep = (idx >= a) & (idx < b)
            if keep.any():
                out.append((t["x"][a:b], idx[keep] - a, lab[keep]))
    return out


def train(seqs, hidden: int, epochs: int, seed: int, mean, std):
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    d = len(FEATURES)
    gru, out = torch.nn.GRU(d, hidden, batch_first=True), torch.nn.Linear(hidden, 1)
    params = list(gru.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    rng = np.random.default_rng(seed)
    mean_t, std_t = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
    bs = 32
    for _ in (bar := tqdm(range(epochs), desc="train GRU", unit="epoch")):
        order, tot, n = rng.permutation(len(seqs)), 0.0, 0
        for i in range(0, len(order), bs):
            batch = [seqs[j] for j in order[i:i + bs]]
            T = max(len(x) for x, _, _ in batch)
            X = torch.zeros(len(batch), T, d)
            rows, cols, ys = [], [], []
            for b, (x, idx, lab) in enumerate(batch):
                X[b, :len(x)] = (torch.from_numpy(x) - mean_t) / std_t
                rows += [b] * len(idx)
                cols += idx.tolist()
                ys += lab.tolist()
            H, _ = gru(X)
            logit = out(H[rows, cols]).squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.tensor(ys))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            tot, n = tot + loss.item() * len(ys), n + len(ys)
        bar.set_postfix(loss=f"{tot / max(n, 1):.4f}")
    sd = gru.state_dict()
    return {"w_ih": sd["weight_ih_l0"].numpy(), "w_hh": sd["weight_hh_l0"].numpy(), "b_ih": sd["bias_ih_l0"].numpy(),
            "b_hh": sd["bias_hh_l0"].numpy(), "w_out": out.weight.detach().numpy()[0],
            "b_out": out.bias.detach().numpy()[0], "mean": mean, "std": std}


def scored(turns, model: SeqEndpointModel, cfg, frame_s):
    """The turns with each silence's decision-frame features replaced by the GRU's p(ended),
    computed as ``SeqEndpointer`` computes them (score with ``simulate(..., GIVEN, ...)``)."""
    return [{**t, "silences": with_probs(t["silences"], model.run(t["x"], t["speech"], frame_s), cfg, frame_s)}
            for t in turns]


def plot(curves, path: Path):
    """Wait vs. cuts: one colour per set; the curve is the sequence model over thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.0, 4.6))
    for (name, pts, marks), colour in zip(curves, ("tab:blue", "tab:purple", "tab:olive")):
        ax.plot([p[1] for p in pts], [100 * p[0] for p in pts], ".-", color=colour, label=f"{name}: sequence model")
        for label, (cut, wait), style in marks:
            ax.plot(wait, 100 * cut, style, ms=10, color=colour, mec="black", label=f"{name}: {label}")
    ax.set_xlabel("mean wait after the end of speech (ms)")
    ax.set_ylabel("turns cut at a pause (%)")
    ax.set_title("End of turn: wait vs. cutting the speaker off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit-turns", type=int, default=8000)
    ap.add_argument("--val-turns", type=int, default=400)
    ap.add_argument("--test-turns", type=int, default=300)
    ap.add_argument("--domain-turns", type=int, default=240)
    ap.add_argument("--hidden", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--max-extra-cuts", type=float, default=0.03,
                    help="cut-early rate allowed above the fixed rule's, on val")
    ap.add_argument("--cache", type=Path, default=ROOT / "data" / "endpoint_seq",
                    help="generated turns are kept here")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "endpoint" / "endpoint_seq.npz")
    ap.add_argument("--plot", type=Path, default=ROOT / "out" / "endpoint_seq.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--espeak-voices", default="24,80",
                    help="espeak-ng training voice sets: fit is spoken once by each set; val by the first")
    ap.add_argument("--phases", type=int, default=4,
                    help="frame grids the endpointer averages (runtime/endpoint_seq.py); the threshold is picked for them")
    ap.add_argument("--falling", action=argparse.BooleanOptionalAction, default=True,
                    help="let the val rule also pick a threshold that falls over the silence (--no-falling: flat only)")
    ap.add_argument("--rethreshold", type=Path, metavar="NPZ",
                    help="no training: re-pick the threshold of this model file by --max-extra-cuts (written to --out)")
    args = ap.parse_args(argv)

    cfg, frame_s = TurnConfig(), AudioConfig().frame_ms / 1000
    c = args.cache
    counts = [int(v) for v in str(args.espeak_voices).split(",")]
    sets = {}
    for i, (split, n) in enumerate((("fit", args.fit_turns), ("val", args.val_turns), ("test", args.test_turns),
                                    ("domain", args.domain_turns))):
        if split == "fit" and args.rethreshold:
            continue
        cache = c / f"{split}_{n}_{args.seed}.pkl" if c else None
        sets[split] = [t for k in (counts if split == "fit" else counts[:1])
                       for t in build(split, n, args.seed + i, cache, k, 1 if split == "fit" else args.phases)]
    if args.rethreshold:
        model = SeqEndpointModel.load(args.rethreshold)
        trained = dict(model.meta)
    else:
        seqs = sequences(sets["fit"], cfg, frame_s)
        allx = np.concatenate([x for x, _, _ in seqs])
        mean, std = allx.mean(0), allx.std(0) + 1e-3
        model = SeqEndpointModel(train(seqs, args.hidden, args.epochs, args.seed, mean, std), threshold=1.0)
        trained = {"recipe": "python scripts/train_endpoint_seq.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                   "fit_turns": len(sets["fit"]), "rows": int(sum(len(i) for _, i, _ in seqs)), "hidden": args.hidden,
                   "epochs": args.epochs}

    grid = [0.5, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999]
    fixed = {k: summary(simulate(v, None, 1.0, cfg, frame_s)) for k, v in sets.items() if k != "fit"}
    allowed = fixed["val"]["cut_early"] + args.max_extra_cuts
    span = (cfg.min_stop_s, round(cfg.stop_s - frame_s, 6))  # the decision frames' silence, first to last

    def pick(phases: int, falling: bool):
        """(rule by the val criterion, its figures per set, every flat threshold's) with
        ``phases`` grids; a rule is a flat threshold, or with ``falling`` also a threshold
        falling linearly over the decision frames, ((t0, a), (t1, b)) with b < a."""
        model.phases = phases
        one = (lambda t: {**t, "x": t["x"][0], "speech": t["speech"][0]}) if phases == 1 and args.phases > 1 \
            else (lambda t: t)
        probs = {k: scored([one(t) for t in v], model, cfg, frame_s) for k, v in sets.items() if k != "fit"}
        pts = {k: [(th, summary(simulate(v, GIVEN, th, cfg, frame_s))) for th in grid] for k, v in probs.items()}
        rules = list(grid) + ([((span[0], a), (span[1], b)) for a in grid for b in grid if b < a]
                                        if falling else [])
        val = [(summary(simulate(probs["val"], GIVEN, r, cfg, frame_s)), r) for r in rules]
        ok = [(s["wait_mean_ms"], i) for i, (s, _) in enumerate(val) if s["cut_early"] <= allowed]
        rule = val[min(ok)[1]][1] if ok else 1.0
        return rule, {k: summary(simulate(v, GIVEN, rule, cfg, frame_s)) for k, v in probs.items()}, pts

    one_grid = pick(1, False)[:2] if args.phases > 1 else None
    flat = pick(args.phases, False)[:2] if args.falling else None
    rule, seq, pts = pick(args.phases, args.falling)
    model.threshold, model.schedule = (rule, None) if np.ndim(rule) == 0 else (rule[0][1], list(rule))
    threshold = model.threshold
    prosodic_model = EndpointModel.load()
    prosodic = {k: summary(simulate(v, prosodic_model, prosodic_model.threshold, cfg, frame_s))
                for k, v in sets.items() if k != "fit"}

    keep = ("recipe", "fit_turns", "rows", "hidden", "epochs")
    model.meta = {**{k: trained[k] for k in keep if k in trained}, "max_extra_cuts": args.max_extra_cuts,
                  "min_stop_s": cfg.min_stop_s, "stop_s": cfg.stop_s,
                  "phases": args.phases,
                  **{f"{k}_{name}": v for name, d in (("fixed", fixed), ("prosodic", prosodic), ("seq", seq))
                     for k, v in d.items()}}
    if one_grid:
        model.meta.update({"one_grid_threshold": one_grid[0], **{f"{k}_seq_one_grid": v for k, v in one_grid[1].items()}})
    if flat:
        model.meta.update({"flat_threshold": flat[0], **{f"{k}_seq_flat": v for k, v in flat[1].items()}})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sha = model.save(args.out)
    pt = lambda s: (s["cut_early"], s["wait_mean_ms"])  # noqa: E731
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot([(f"{k} ({'held-out' if k != 'val' else 'training'} voices)", [pt(s) for _, s in pts[k]],
           [("fixed 360 ms", pt(fixed[k]), "s"), ("prosodic model", pt(prosodic[k]), "^"),
            ("shipped threshold", pt(seq[k]), "*")]) for k in ("val", "test", "domain")], args.plot)
    for k in ("test", "domain"):
        for th, s in pts[k]:
            print(f"{k} threshold {th}: {s}", file=sys.stderr)
    print(json.dumps({"threshold": threshold, "schedule": model.schedule, "phases": args.phases, "sha256": sha,
                      "fixed": fixed, "prosodic": prosodic, "seq": seq,
                      "flat": flat and {"threshold": flat[0], **flat[1]},
                      "one_grid": one_grid and {"threshold": one_grid[0], **one_grid[1]}, "plot": str(args.plot)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
