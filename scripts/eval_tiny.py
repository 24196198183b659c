#!/usr/bin/env python
"""Evaluate LiveSense-Tiny on what training never saw: held-out voices, held-out
(colour, shape) scene pairs and reply sentences never heard whole.

For every question clip spoken by a held-out voice (clean and augmented), a scene is
drawn (pair questions: half from held-out pairs, and "what do you see" items prefer
sentences held out of training), the model generates its reply through the same code
the agent uses (``livesense.agents.native.hear`` over the views of the turn ``--views``, then
``generate_reply``, codebook masks, greedy), the
codes are decoded by LSC-1 and transcribed by Whisper tiny.en, and the transcript is
scored per skill (the slot words must be right and no contradicting slot word spoken).

reference_wer: Whisper on the same expected texts spoken directly by Piper (the floor).
composed_wer: Whisper on the expected replies composed from the training units and decoded
by LSC-1 (what a perfect model would say: the floor of the unit recordings and the codec).
silent_while_user_speaks: at every user frame of every prompt, does the model choose
``silence`` over text, codes, text_end and eou? stop_on_interrupt: after a reply cut
mid-way by ``user``, does it choose ``eou``? Last line: JSON.

    OMP_NUM_THREADS=1 python scripts/eval_tiny.py                       # shipped Q8_0 GGUF
    python scripts/eval_tiny.py --model data/tiny/livesense-tiny-f32.gguf --limit 60
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from livesense.eval.answers import correct, wer_counts, words

ROOT = Path(__file__).resolve().parents[1]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "tiny" / "livesense-tiny-q8_0.gguf"), help="model file")
    p.add_argument("--codebooks", default=None, help="LSC-1 codebooks (default: next to the model)")
    p.add_argument("--data", default=str(ROOT / "data" / "tiny"), help="cache folder")
    p.add_argument("--seed", type=int, default=0, help="curriculum seed the model was trained with")
    p.add_argument("--limit", type=int, default=0, help="evaluate only this many items (0 = all)")
    p.add_argument("--dump", default=None, help="write per-item results (JSON lines) here")
    p.add_argument("--unit-gap", type=int, default=None, help="silent frames between reply units "
                   "(default: NativeConfig.unit_gap_frames)")
    p.add_argument("--views", default=None, help="views of each turn, semitones@grid-hops comma-separated "
                   "(default: NativeConfig.hear_views; 0 = as heard only)")
    return p.parse_args()


def items(user: dict, seen: dict, held: dict, seed: int) -> list[dict]:
    """One item per held-out-voice clip: (skill, clip, scene set, scene index, reply)."""
    from livesense.train import curriculum as C

    rng = np.random.default_rng([seed, 99])
    single = lambda sc: [i for i, lab in enumerate(sc["labels"]) if lab["colour"] and lab["shape"]]  # noqa: E731
    pools = {"seen": single(seen), "held": single(held)}
    out = []
    for ui, skill in enumerate(user["skill"]):
        if skill in C.PAIR_SKILLS:
            which = "held" if rng.random() < 0.5 else "seen"
            sc = held if which == "held" else seen
            cand = pools[which]
            if skill == "see" and which == "seen":  # prefer a sentence never heard whole
                unheard = [i for i in cand if C.heldout_sentence(C.reply_for("see", sc["labels"][i]), seed)]
                cand = unheard or cand
            si = int(cand[int(rng.integers(len(cand)))])
        else:
            which = "held" if rng.random() < 0.3 else "seen"
            sc = held if which == "held" else seen
            si = int(rng.integers(len(sc["labels"])))
        labels = sc["labels"][si]
        reply = C.reply_for(skill, labels)
        out.append({"skill": skill, "user": ui, "voice": user["voice"][ui], "question": user["text"][ui],
                    "scenes": which, "scene": si, "labels": labels, "reply": reply.text, "units": list(reply.units),
                    "heldout_combo": which == "held" and skill in C.PAIR_SKILLS,
                    "heldout_sentence": C.heldout_sentence(reply, seed)})
    return out


def prompt_for(layout, scheme, image, codes):
    from livesense.train.data import FRAME_S, StreamBuilder

    b = StreamBuilder(layout, scheme)
    b.control("bos", 0.0)
    b.image(image, 0.0)
    b.control("user", 0.0)
    t = b.user_audio(codes, 0.0)
    b.control("agent", t + 6 * FRAME_S)
    return b, t + 6 * FRAME_S


def run_item(backend, codec, asr, it, user, scenes, units, views=((0.0, 0),), gap=0, silence=None):
    from livesense.agents.native import ReplyEvent, free_choice, generate_reply, hear, unit_gaps
    from livesense.codec.features import view
    from livesense.model.positions import IDX, TIME

    L, spec = backend.spec.layout, backend.spec
    image = scenes["tokens"][it["scene"]]
    b, t_agent = prompt_for(L, spec.scheme, image, user["codes"][it["user"]])
    s = b.build({})
    backend.reset()
    logits = backend.eval(s.ids, s.pos, all_logits=True)
    sil = L.control("silence")
    at = np.nonzero(s.ids == sil)[0] - 1  # logits that choose the token at a silence slot
    choice = L.mask("silence", "text", "text_end", "eou", "audio.agent.0")
    masked = np.where(choice[None], logits[at], -np.inf)
    silent = (masked.argmax(1) == sil).tolist()
    first = logits[-1]  # as heard: the backend holds this prompt's state
    if tuple(views) != ((0.0, 0),):
        f, enc = user["feats"][it["user"]], codec.encoder()
        heard = [prompt_for(L, spec.scheme, image, enc.quantize(view(f, st, h, codec.c)).astype(np.int64))[0].build({})
                 for st, h in views]
        first, best = hear(backend, heard, free_choice(L))
        s = heard[best]
    text, frames = [], []
    events = generate_reply(backend, first, int(s.pos[IDX, -1]) + 1, int(s.pos[TIME].max()))
    if gap:
        events = unit_gaps(events, silence, gap)
    for kind, val in events:
        if kind == ReplyEvent.TEXT:
            text.append(val)
        elif kind == ReplyEvent.FRAME:
            frames.append(val)
    codes = np.concatenate(frames) if frames else np.zeros((0, L.n_codebooks), np.int64)
    audio = codec.decode(codes.astype(np.int32)) if len(codes) else np.zeros(0, np.float32)
    transcript = asr.transcribe(audio) if len(audio) > 1600 else ""
    return {"text": "".join(text), "transcript": transcript, "frames": len(codes), "silent": silent,
            "stop": stop_on_interrupt(backend, it, user, scenes, units)}


def stop_on_interrupt(backend, it, user, scenes, units) -> bool:
    """Teacher-force the true reply, cut half-way, then ``user``: is ``eou`` chosen?"""
    from livesense.train import curriculum as C

    L = backend.spec.layout
    b, t = prompt_for(L, backend.spec.scheme, scenes["tokens"][it["scene"]], user["codes"][it["user"]])
    reply = C.Reply(tuple(it["units"]))
    n = sum(len(units[u]) for u in reply.units)
    t = b.agent_reply(reply, units, t, cut_after=max(1, n // 2))
    b.control("user", t)
    s = b.build({})
    backend.reset()
    logits = backend.eval(s.ids, s.pos)
    choice = L.mask("text", "text_end", "eou", "audio.agent.0", "silence")
    return int(np.argmax(np.where(choice, logits, -np.inf))) == L.control("eou")


def reference_wer(texts: list[str], asr) -> tuple[int, int]:
    from livesense.corpus import synth_piper

    e = n = 0
    for t in sorted(set(texts)):
        k = texts.count(t)
        de, dn = wer_counts(t, asr.transcribe(synth_piper(t)))
        e, n = e + k * de, n + k * dn
    return e, n


def composed_wer(res: list[dict], units: dict, codec, asr, gap: int = 0, silence=None) -> tuple[int, int]:
    """Whisper on each expected reply composed from the training units (``gap`` silent frames
    between them, as the agent plays them) and decoded by LSC-1: what a perfect model would
    say (the unit recordings' and the codec's floor)."""
    from collections import Counter

    count = Counter(r["reply"] for r in res)
    units_of = {r["reply"]: r["units"] for r in res}
    pause = np.repeat(silence, gap, axis=0) if gap else None
    e = n = 0
    for t, k in sorted(count.items()):
        parts = [p for i, u in enumerate(units_of[t]) for p in ([pause] if i and gap else []) + [units[u]]]
        audio = codec.decode(np.concatenate(parts).astype(np.int32))
        de, dn = wer_counts(t, asr.transcribe(audio))
        e, n = e + k * de, n + k * dn
    return e, n


def main():
    logging.basicConfig(level=logging.WARNING)
    a = parse_args()
    from tqdm import tqdm

    from livesense.agents.cascade.asr import WhisperASR
    from livesense.agents.cascade.config import default_whisper_dir
    from livesense.agents.native import NativeConfig
    from livesense.cli import parse_views
    from livesense.codec import LSC1Codec
    from livesense.model.load import open_model
    from livesense.train import data as D

    model = Path(a.model)
    backend = open_model(model, n_threads=1) if model.suffix == ".gguf" else open_model(model)
    codec = LSC1Codec.load(a.codebooks or model.parent / "lsc1_codebooks.npz")
    if not (model.parent / "lsc1_codebooks.npz").exists() and a.codebooks is None:
        codec = LSC1Codec.load(Path(a.data) / "lsc1_codebooks.npz")
    asr = WhisperASR(default_whisper_dir(), threads=1)
    root = Path(a.data)
    user, seen, held = D.build_eval(root, a.seed, codec)
    views = parse_views(a.views) if a.views else NativeConfig().hear_views
    gap = NativeConfig().unit_gap_frames if a.unit_gap is None else a.unit_gap
    silence = codec.encode(np.zeros(codec.c.frame_size, np.float32))[:1]  # a silent frame's codes
    if views != ((0.0, 0),) and "feats" not in user:
        raise SystemExit(f"{root / 'user_eval.npz'} holds codes only (an older cache): delete it so it is "
                         "rebuilt with the feature vectors the views need, or pass --views 0")
    units = D.load_units(root / "units.npz")
    its = items(user, seen, held, a.seed)
    if a.limit:
        its = [its[i] for i in np.random.default_rng(0).permutation(len(its))[: a.limit]]
    t0 = time.monotonic()
    res = []
    for it in tqdm(its, desc="eval", unit="item"):
        sc = held if it["scenes"] == "held" else seen
        r = {**it, **run_item(backend, codec, asr, it, user, sc, units, views, gap, silence)}
        r["ok"] = correct(it["skill"], it["labels"], r["transcript"])
        r["text_ok"] = words(r["text"]) == words(it["reply"])
        r["wer"] = wer_counts(it["reply"], r["transcript"])
        res.append(r)
    if a.dump:
        with open(a.dump, "w") as f:
            for r in res:
                f.write(json.dumps(r) + "\n")
    out = summary(res, asr, time.monotonic() - t0, str(model))
    ce, cn = composed_wer(res, units, codec, asr, gap, silence)
    out["composed_wer"] = round(ce / max(1, cn), 4)
    out["hear_views"] = [list(v) for v in views]
    out["unit_gap_frames"] = gap
    print(json.dumps(out))


def summary(res: list[dict], asr, seconds: float, model: str) -> dict:
    mean = lambda xs: round(float(np.mean(xs)), 4) if len(xs) else None  # noqa: E731
    skills = sorted({r["skill"] for r in res})
    e = sum(r["wer"][0] for r in res)
    n = sum(r["wer"][1] for r in res)
    re_, rn = reference_wer([r["reply"] for r in res], asr)
    silent = [s for r in res for s in r["silent"]]
    return {
        "model": model, "items": len(res), "seconds": round(seconds, 1),
        "per_skill": {s: mean([r["ok"] for r in res if r["skill"] == s]) for s in skills},
        "heldout_sentence_accuracy": mean([r["ok"] for r in res if r["heldout_sentence"]]),
        "text_accuracy": mean([r["text_ok"] for r in res]),
        "heldout_voices": sorted({r["voice"].split("+")[0] for r in res}),
        "stop_on_interrupt": mean([r["stop"] for r in res]),
        "accuracy": mean([r["ok"] for r in res]),
        "heldout_combo_accuracy": mean([r["ok"] for r in res if r["heldout_combo"]]),
        "reply_wer": round(e / max(1, n), 4),
        "reference_wer": round(re_ / max(1, rn), 4),
        "silent_while_user_speaks": mean(silent),
        "refusal_ok": mean([r["ok"] for r in res if r["skill"] == "refuse"]),
    }


if __name__ == "__main__":
    main()
