"""LiveSense-Tiny training data: cached speech codes and scene tokens, and the sequence
builder that turns (scene, question clip, reply) into one interleaved token stream.

Caches (``data/tiny/``, gitignored, reproducible from the seed):

* ``units.npz``   every reply unit spoken once by Piper joe, silence-trimmed, LSC-1 codes
* ``user_<split>.npz``  user questions: every phrasing × the split's voices (+ augmented
  copies for training), padded with a little room noise, LSC-1 codes
* ``scenes_<split>.npz``  rendered scenes -> vision tokens + labels

Stream of one turn (targets marked *)::

    bos image <36 cells> image_end user  (4 user codes, silence*) × frames  agent
    (text bytes of unit*, 4 agent codes* × frames of unit) × units ... text_end* ... eou*

``text_end`` follows the last unit's text; ``eou`` ends the reply. An interrupted reply is
cut after some frames, followed by ``user`` (given) and ``eou``* (the agent stops), then
the user's next turn. Target class per token: -1 none, 0 free (text/control/agent code 0),
k = 1..3 agent codebook k (the sampler's mask at inference).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livesense.train import curriculum as C

log = logging.getLogger(__name__)

FRAME_S = 0.04
SKILL_WEIGHTS = {"greet": 0.06, "identity": 0.06, "refuse": 0.1, "colour": 0.14, "shape": 0.14,
                 "see": 0.2, "count": 0.12, "light": 0.09, "person": 0.09}


# ------------------------------------------------------------------------ audio helpers
def trim(x: np.ndarray, sr: int = 16000, pre_s: float = 0.03, post_s: float = 0.06, db: float = -35.0) -> np.ndarray:
    """Cut leading/trailing silence (10 ms energy below ``db`` of the loudest window)."""
    hop = sr // 100
    n = len(x) // hop
    if n == 0:
        return x
    e = (x[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(1)
    on = np.nonzero(e > e.max() * 10 ** (db / 10))[0]
    a = max(0, on[0] * hop - int(pre_s * sr))
    b = min(len(x), (on[-1] + 1) * hop + int(post_s * sr))
    return x[a:b]


def room_pad(x: np.ndarray, rng: np.random.Generator, max_pre: float = 0.25, max_post: float = 0.25,
             sr: int = 16000) -> np.ndarray:
    """Surround a clip with a random amount of faint noise (what a mic hears before/after)."""
    pre, post = (int(rng.uniform(0.02, m) * sr) for m in (max_pre, max_post))
    level = np.abs(x).max() * 10 ** (rng.uniform(-70, -45) / 20)
    y = rng.standard_normal(pre + len(x) + post).astype(np.float32) * level
    y[pre: pre + len(x)] += x
    return y


def load_codec(path: str | Path | None = None):
    from livesense.codec import LSC1Codec

    return LSC1Codec.load(path)


# ------------------------------------------------------------------------ caches
def build_units(codec, out: Path) -> dict[str, np.ndarray]:
    if out.exists():
        return load_units(out)
    from livesense.corpus import synth_piper

    units = {}
    for u in C.all_units():
        units[u] = codec.encode(trim(synth_piper(C.spoken_form(u)))).astype(np.int16)
    np.savez(out, names=np.array(list(units)), **{f"u{i}": v for i, v in enumerate(units.values())})
    return units


def load_units(path: Path) -> dict[str, np.ndarray]:
    z = np.load(path)
    return {str(n): z[f"u{i}"].astype(np.int64) for i, n in enumerate(z["names"])}


N_ESPEAK_USER_VOICES = 24  # espeak-ng training voices that ask the questions, besides Piper joe


def user_voices(split: str, seed: int = 0, n_espeak: int = N_ESPEAK_USER_VOICES):
    """Who asks the questions. Train: Piper joe at 3 speeds + ``n_espeak`` random espeak-ng
    accent/variant/pitch/speed voices (Piper joe alone taught a model that only joe is
    heard: 0.08 text accuracy on held-out voices); eval: the held-out voices."""
    from livesense.corpus.voices import HELDOUT_VOICES, PIPER_TRAIN_VOICES, espeak_train_voices

    if split != "train":
        return HELDOUT_VOICES
    return PIPER_TRAIN_VOICES + espeak_train_voices(n_espeak, seed)


def build_user(codec, out: Path, split: str, seed: int, n_aug: int,
               n_espeak: int = N_ESPEAK_USER_VOICES) -> dict:
    """Every question phrasing in every voice of ``split`` (+ ``n_aug`` augmented copies)."""
    if out.exists():
        return load_user(out)
    from tqdm import tqdm

    from livesense.corpus import augment
    from livesense.corpus.voices import speak

    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    codes, skill, text, voice, feats = [], [], [], [], []
    keep_feats = split != "train"  # evaluation hears the turn in several views (NativeConfig.hear_views)
    quantizer = codec.encoder()  # stateless quantize(); one for every clip
    items = [(s, q, v) for s, qs in C.QUESTIONS.items() for q in qs for v in user_voices(split, seed, n_espeak)]
    for s, q, v in tqdm(items, desc=f"user speech ({split})", unit="clip"):
        x = speak(v, q)
        for a in range(1 + n_aug):
            y = x if a == 0 else augment(x, rng, p_reverb=0.15, p_noise=0.4)
            f = codec.features(room_pad(y, rng))
            codes.append(quantizer.quantize(f).astype(np.int16))
            if keep_feats:
                feats.append(f)
            skill.append(s)
            text.append(q)
            voice.append(v.name + ("" if a == 0 else f"+aug{a}"))
    offs = np.cumsum([0] + [len(c) for c in codes])
    np.savez(out, codes=np.concatenate(codes), offsets=offs, skill=np.array(skill), text=np.array(text),
             voice=np.array(voice), **({"feats": np.concatenate(feats)} if feats else {}))
    return load_user(out)


def load_user(path: Path) -> dict:
    z = np.load(path)
    allc, offs = z["codes"].astype(np.int64), z["offsets"]
    out = {"codes": [allc[a:b] for a, b in zip(offs[:-1], offs[1:])], "skill": [str(s) for s in z["skill"]],
           "text": [str(s) for s in z["text"]], "voice": [str(s) for s in z["voice"]]}
    if "feats" in z.files:
        feats = z["feats"]  # read from the archive once, not per clip
        out["feats"] = [feats[a:b] for a, b in zip(offs[:-1], offs[1:])]
    return out


def build_scenes(out: Path, split: str, n: int, seed: int) -> dict:
    """``split``: "train" (held-out pairs excluded), "eval" (seen pairs, fresh scenes) or
    "heldout" (only held-out (colour, shape) pairs)."""
    if out.exists():
        return load_scenes(out)
    from tqdm import tqdm

    from livesense.vision.scenes import random_scene, render
    from livesense.vision.tokenizer import VisionTokenizer

    tok = VisionTokenizer.load()
    rng = np.random.default_rng([seed, {"train": 11, "eval": 12, "heldout": 13}[split]])
    tokens, labels = [], []
    for i in tqdm(range(n), desc=f"scenes ({split})", unit="scene"):
        kind = "single" if (split == "heldout" or rng.random() < 0.75) else "mixed"
        sc = random_scene(rng, kind=kind, held_out="only" if split == "heldout" else "exclude")
        tokens.append(tok.encode(render(sc)))
        labels.append(sc.labels())
    np.savez(out, tokens=np.stack(tokens).astype(np.int32), labels=np.array(json.dumps(labels)))
    return load_scenes(out)


def load_scenes(path: Path) -> dict:
    z = np.load(path)
    return {"tokens": z["tokens"].astype(np.int64), "labels": json.loads(str(z["labels"]))}


# ------------------------------------------------------------------------ sequences
@dataclass
class Seq:
    ids: np.ndarray  # (T,) int64
    pos: np.ndarray  # (4, T) int32
    cls: np.ndarray  # (T,) int8: -1 not a target, 0 free, k codebook k
    meta: dict


class StreamBuilder:
    """Appends tokens in stream order with positions and target classes."""

    def __init__(self, layout, scheme) -> None:
        from livesense.model.positions import PositionAssigner

        self.L = layout
        self.pa = PositionAssigner(layout, scheme)
        self.pa.tick(0.0)  # time origin = 0
        self.ids, self.pos, self.cls = [], [], []

    def add(self, kind: str, ids, t: float, cls) -> None:
        p = self.pa.place(kind, ids, t)
        self.ids.append(p.ids)
        self.pos.append(p.pos)
        self.cls.append(np.broadcast_to(np.asarray(cls, np.int8), p.ids.shape).copy())

    def control(self, name: str, t: float, target: bool = False) -> None:
        self.add("control", [self.L.control(name)], t, 0 if target else -1)

    def image(self, tokens, t: float) -> None:
        self.control("image", t)
        self.add("image", self.L.image_ids(tokens), t, -1)
        self.control("image_end", t)

    def user_audio(self, codes, t0: float) -> float:
        """User frames, each followed by the agent's ``silence`` (a target)."""
        sil = self.L.control("silence")
        for f, fr in enumerate(codes):
            t = t0 + f * FRAME_S
            self.add("audio", self.L.audio_ids(fr[None], "user"), t, -1)
            self.add("control", [sil], t, 0)
        return t0 + len(codes) * FRAME_S

    def agent_reply(self, reply: C.Reply, units: dict, t0: float, cut_after: int | None = None) -> float:
        """Text of each unit, then its audio frames; ``cut_after`` frames -> stop there."""
        t, n = t0, 0
        last = len(reply.units) - 1
        for i, u in enumerate(reply.units):
            self.add("text", self.L.text_ids(u + ("" if i == last else " ")), t, 0)
            if i == last:
                self.control("text_end", t, target=True)
            for fr in units[u]:
                if cut_after is not None and n >= cut_after:
                    return t
                self.add("audio", self.L.audio_ids(fr[None], "agent"), t, [0, 1, 2, 3])
                t += FRAME_S
                n += 1
        self.control("eou", t, target=True)
        return t

    def build(self, meta: dict) -> Seq:
        return Seq(np.concatenate(self.ids), np.concatenate(self.pos, axis=1), np.concatenate(self.cls), meta)


def reply_frames(reply: C.Reply, units: dict) -> int:
    return sum(len(units[u]) for u in reply.units)


class Curriculum:
    """Draws training (or evaluation) sequences from the caches; deterministic per rng."""

    def __init__(self, layout, scheme, units: dict, user: dict, scenes: dict, seed: int = 0,
                 train: bool = True) -> None:
        self.L, self.scheme, self.units, self.user, self.scenes = layout, scheme, units, user, scenes
        self.seed, self.train = seed, train
        self.by_skill = {s: [i for i, k in enumerate(user["skill"]) if k == s] for s in C.SKILLS}
        labels = scenes["labels"]
        self.single = [i for i, lab in enumerate(labels) if lab["colour"] is not None and lab["shape"] is not None]
        self.skills = list(SKILL_WEIGHTS)
        w = np.array([SKILL_WEIGHTS[s] for s in self.skills])
        self.p = w / w.sum()

    def pick(self, rng, skill: str | None = None):
        """(skill, scene index, reply) with sentence hold-out respected in training."""
        skill = skill or str(rng.choice(self.skills, p=self.p))
        for _ in range(50):
            pool = self.single if skill in C.PAIR_SKILLS else range(len(self.scenes["labels"]))
            si = int(pool[int(rng.integers(len(pool)))])
            reply = C.reply_for(skill, self.scenes["labels"][si])
            if not (self.train and C.heldout_sentence(reply, self.seed)):
                return skill, si, reply
        return self.pick(rng, "colour")

    def turn(self, b: StreamBuilder, rng, skill, reply, t: float, cut: bool):
        ui = self.by_skill[skill][int(rng.integers(len(self.by_skill[skill])))]
        b.control("user", t)
        t = b.user_audio(self.user["codes"][ui], t)
        t += rng.integers(4, 13) * FRAME_S  # the runtime decides the turn has ended
        b.control("agent", t)
        cut_after = None
        if cut:
            cut_after = int(rng.integers(1, max(2, reply_frames(reply, self.units) - 2)))
        t = b.agent_reply(reply, self.units, t, cut_after)
        if cut:  # the user barges in: the agent must stop (eou) at once
            b.control("user", t)
            b.control("eou", t, target=True)
        return t + rng.integers(3, 25) * FRAME_S, ui

    def sample(self, rng, skill: str | None = None, two_turns: float = 0.15, interrupt: float = 0.1) -> Seq:
        skill, si, reply = self.pick(rng, skill)
        b = StreamBuilder(self.L, self.scheme)
        b.control("bos", 0.0)
        b.image(self.scenes["tokens"][si], 0.0)
        cut = rng.random() < interrupt
        t, ui = self.turn(b, rng, skill, reply, 0.0, cut)
        meta = {"skill": skill, "scene": si, "reply": reply.text, "user": ui}
        if cut:  # the new turn's first frames: the agent listens again
            n = int(rng.integers(3, 12))
            b.user_audio(self.user["codes"][int(rng.integers(len(self.user["codes"])))][:n], t)
        elif rng.random() < two_turns:
            for _ in range(50):
                s2 = str(rng.choice(self.skills, p=self.p))
                lab = self.scenes["labels"][si]
                if s2 in C.PAIR_SKILLS and (lab["colour"] is None or lab["shape"] is None):
                    continue
                r2 = C.reply_for(s2, lab)
                if not (self.train and C.heldout_sentence(r2, self.seed)):
                    self.turn(b, rng, s2, r2, t, False)
                    break
        return b.build(meta)


def collate(seqs: list[Seq], pad_id: int = 0):
    """Right-pad to the longest; positions continue idx; pads are never targets."""
    T = max(len(s.ids) for s in seqs)
    B = len(seqs)
    ids = np.full((B, T), pad_id, np.int64)
    pos = np.zeros((B, 4, T), np.int32)
    cls = np.full((B, T), -1, np.int8)
    for i, s in enumerate(seqs):
        n = len(s.ids)
        ids[i, :n], pos[i, :, :n], cls[i, :n] = s.ids, s.pos, s.cls
        pos[i, 0, n:] = s.pos[0, -1] + 1 + np.arange(T - n)
    return ids, pos, cls


@dataclass
class Caches:
    units: dict
    user_train: dict
    scenes_train: dict
    codebooks: str  # path of the LSC-1 codebooks the codes came from
    codebooks_sha256: str


def build_all(root: Path, seed: int = 0, n_scenes: int = 2500, n_aug: int = 2, codebooks: str | None = None,
              with_eval: bool = False, n_espeak: int = N_ESPEAK_USER_VOICES) -> Caches:
    """Build (or load) every training cache under ``root``."""
    from livesense.codec.rvq import sha256_of

    root.mkdir(parents=True, exist_ok=True)
    cb = Path(codebooks or __import__("livesense.codec.codec", fromlist=["x"]).DEFAULT_CODEBOOKS)
    digest = sha256_of(cb)
    marker = root / "codebooks.sha256"
    if marker.exists() and marker.read_text().split()[0] != digest:
        raise ValueError(f"the caches in {root} were encoded with LSC-1 codebooks {marker.read_text().split()[0][:12]}..., "
                         f"not {cb} ({digest[:12]}...): pass those codebooks, or use an empty --data folder")
    marker.write_text(f"{digest}  {cb}\n")
    codec = load_codec(cb)
    units = build_units(codec, root / "units.npz")
    user = build_user(codec, root / "user_train.npz", "train", seed, n_aug, n_espeak)
    scenes = build_scenes(root / "scenes_train.npz", "train", n_scenes, seed)
    if with_eval:
        build_eval(root, seed, codec)
    return Caches(units, user, scenes, str(cb), digest)


def build_eval(root: Path, seed: int, codec, n_scenes: int = 300) -> tuple[dict, dict, dict]:
    user = build_user(codec, root / "user_eval.npz", "eval", seed, 1)
    seen = build_scenes(root / "scenes_eval.npz", "eval", n_scenes, seed)
    held = build_scenes(root / "scenes_heldout.npz", "heldout", n_scenes // 2, seed)
    return user, seen, held
