"""LiveSense-Tiny curriculum: reproducible from its seed, and the held-out splits (voices,
(colour, shape) scene pairs, reply sentences) never leak into training."""

from __future__ import annotations

import numpy as np
import pytest

from livesense.model.layout import default_layout
from livesense.model.positions import PositionScheme
from livesense.train import curriculum as C
from livesense.train import data as D
from livesense.vision.scenes import COLOURS, SHAPES, held_out_pairs


def fake_caches(seed: int = 0):
    """Synthetic stand-ins for the cached codes/scenes (the real ones need TTS + minutes)."""
    L = default_layout()
    rng = np.random.default_rng(seed)
    units = {u: rng.integers(0, L.codebook_size, (int(rng.integers(3, 9)), L.n_codebooks)) for u in C.all_units()}
    user = {"codes": [], "skill": [], "text": [], "voice": []}
    for s, qs in C.QUESTIONS.items():
        for q in qs:
            user["codes"].append(rng.integers(0, L.codebook_size, (int(rng.integers(5, 15)), L.n_codebooks)))
            user["skill"].append(s), user["text"].append(q), user["voice"].append("fake")
    pairs = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in held_out_pairs()]
    labels = []
    for i in range(200):
        c, s = pairs[i % len(pairs)]
        labels.append({"colour": c, "shape": s, "count": 1 + i % 4, "brightness": ("bright", "dark")[i % 2],
                       "person": bool(i % 3 == 0)})
    scenes = {"tokens": rng.integers(0, L.image_vocab, (200, L.image_grid[0] * L.image_grid[1])), "labels": labels}
    return L, units, user, scenes


def curriculum(seed: int = 0) -> D.Curriculum:
    L, units, user, scenes = fake_caches()
    return D.Curriculum(L, PositionScheme.for_head_dim(64, tick_s=L.frame_s), units, user, scenes, seed=seed)


def test_sequences_are_reproducible_from_the_seed():
    a, b = curriculum(), curriculum()
    for s in range(20):
        x, y = a.sample(np.random.default_rng([0, s])), b.sample(np.random.default_rng([0, s]))
        assert np.array_equal(x.ids, y.ids) and np.array_equal(x.pos, y.pos) and np.array_equal(x.cls, y.cls)
    x, y = a.sample(np.random.default_rng([0, 1])), a.sample(np.random.default_rng([1, 1]))
    assert not (len(x.ids) == len(y.ids) and np.array_equal(x.ids, y.ids))


def test_stream_format_targets_and_positions():
    cur = curriculum()
    L = cur.L
    seq = cur.sample(np.random.default_rng(3), skill="colour", two_turns=0.0, interrupt=0.0)
    ids, cls = seq.ids, seq.cls
    assert ids[0] == L.control("bos") and ids[-1] == L.control("eou")
    assert np.all(np.diff(seq.pos[0]) == 1), "stream index must be +1 per token"
    sil = ids == L.control("silence")
    assert sil.sum() > 0 and np.all(cls[sil] == 0), "the agent's silence while the user speaks is a target"
    assert np.all(cls[(ids >= L.audio_base("user")) & (ids < L.audio_base("agent"))] == -1)
    assert np.all(cls[ids >= L.image_base] == -1)
    agent = (ids >= L.audio_base("agent")) & (ids < L.image_base)
    k = (ids[agent] - L.audio_base("agent")) // L.codebook_size
    assert np.array_equal(cls[agent], k), "agent code k is a target under codebook k's mask"
    assert L.text_of(ids) == C.reply_for("colour", cur.scenes["labels"][seq.meta["scene"]]).text


def test_interrupted_reply_stops_with_eou():
    cur = curriculum()
    L = cur.L
    for s in range(40):
        seq = cur.sample(np.random.default_rng([5, s]), interrupt=1.0)
        users = np.nonzero(seq.ids == L.control("user"))[0]
        assert len(users) == 2
        assert seq.ids[users[1] + 1] == L.control("eou") and seq.cls[users[1] + 1] == 0


def test_heldout_sentences_never_trained():
    cur = curriculum()
    held = {r.text for r in C.all_see_sentences() if C.heldout_sentence(r)}
    assert len(held) > 10
    for r in C.all_see_sentences():  # every held-out (colour, shape) sentence is held out
        shape = r.units[3].rstrip(".")
        shape = next((s for s, p in C.PLURAL.items() if p == shape), shape)
        if (r.units[2], shape) in held_out_pairs():
            assert r.text in held
    trained = set()
    for s in range(600):
        seq = cur.sample(np.random.default_rng([7, s]), two_turns=0.5)
        trained.add(seq.meta["reply"])
        text = cur.L.text_of(seq.ids)
        assert not any(h in text for h in held), text
    assert not trained & held


def test_heldout_voices_are_disjoint():
    from livesense.corpus.voices import HELDOUT_VOICES, PIPER_TRAIN_VOICES

    train_v, eval_v = D.user_voices("train"), D.user_voices("eval")
    train, evals = {v.name for v in train_v}, {v.name for v in eval_v}
    assert {v.name for v in PIPER_TRAIN_VOICES} < train and evals == {v.name for v in HELDOUT_VOICES}
    assert sum(v.engine == "espeak" for v in train_v) == D.N_ESPEAK_USER_VOICES
    assert not train & evals
    held_variants = {v.voice.split("+")[-1] for v in HELDOUT_VOICES if v.engine == "espeak"}
    assert not {v.voice.split("+")[-1] for v in train_v if v.engine == "espeak"} & held_variants
    assert not {(v.engine, v.voice, v.speed, v.pitch, v.cents) for v in train_v} & \
        {(v.engine, v.voice, v.speed, v.pitch, v.cents) for v in HELDOUT_VOICES}


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_scene_splits(tmp_path, split):
    sc = D.build_scenes(tmp_path / f"{split}.npz", split, 24, seed=0)
    again = D.build_scenes(tmp_path / f"{split}_again.npz", split, 24, seed=0)
    assert np.array_equal(sc["tokens"], again["tokens"]) and sc["labels"] == again["labels"]
    for lab in sc["labels"]:
        if lab["colour"] and lab["shape"]:
            assert ((lab["colour"], lab["shape"]) in held_out_pairs()) == (split == "heldout")


def test_every_reply_unit_is_in_the_vocabulary():
    units = set(C.all_units())
    labels = {"colour": "red", "shape": "star", "count": 3, "brightness": "dark", "person": False}
    for skill in C.SKILLS:
        for n in (1, 2):
            assert set(C.reply_for(skill, {**labels, "count": n}).units) <= units
