"""Token layout: one source of truth for ids; round trip and refusal of other contracts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from livesense.model.layout import LayoutMismatch, TokenLayout, default_layout
from livesense.model.sampling import Sampler, SamplingConfig, audio_frame_masks


@pytest.fixture(scope="module")
def layout():
    return default_layout()


def test_ranges_tile_the_vocabulary(layout):
    spans = sorted(layout.ranges().values())
    assert spans[0][0] == 0 and spans[-1][1] == layout.vocab_size
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous, no overlap
    # 16 control + 256 bytes + 2 streams x 4 x 1024 audio + vision vocab
    assert layout.vocab_size == 16 + 256 + 2 * layout.n_codebooks * layout.codebook_size + layout.image_vocab


def test_layout_follows_the_codec_contract(layout):
    from livesense.codec.contract import CONTRACT

    assert layout.n_codebooks == CONTRACT.n_codebooks and layout.codebook_size == CONTRACT.codebook_size
    assert layout.frame_s == pytest.approx(CONTRACT.frame_size / CONTRACT.sample_rate)


def test_round_trips(layout):
    assert TokenLayout.from_json(layout.to_json()) == layout
    codes = np.arange(12).reshape(3, 4) * 77 % layout.codebook_size
    ids = layout.audio_ids(codes, "agent")
    assert [layout.kind_of(int(i)) for i in ids[:4]] == [f"audio.agent.{k}" for k in range(4)]
    assert np.array_equal(layout.audio_codes(ids, "agent"), codes)
    assert layout.text_of(layout.text_ids("héllo")) == "héllo"
    assert layout.kind_of(int(layout.image_ids([5])[0])) == "image"
    with pytest.raises(ValueError):
        layout.audio_ids([[0, 0, 0, layout.codebook_size]])
    assert np.array_equal(layout.ids_of("audio", codes, "agent"), ids)
    assert np.array_equal(layout.ids_of("text", "hi"), layout.text_ids("hi"))
    assert layout.ids_of("control", "eou")[0] == layout.control("eou")
    assert layout.ids_of("image", [0, 1])[1] == layout.image_base + 1


def test_mismatched_codec_is_refused_with_the_field_named(layout):
    other = TokenLayout(codec={**layout.codec, "codebook_size": 512}, vision=layout.vision)
    in_use = layout.codec["codebook_size"]
    with pytest.raises(LayoutMismatch, match=rf"codec\.codebook_size: model file has 512, in use {in_use}"):
        layout.check_compatible(other)
    grid = TokenLayout(codec=layout.codec, vision={**layout.vision, "grid_w": 8})
    with pytest.raises(LayoutMismatch, match=r"vision\.grid_w"):
        layout.check_compatible(grid)
    mono = dataclasses.replace(layout, audio_streams=("user",))
    with pytest.raises(LayoutMismatch, match="audio_streams"):
        layout.check_compatible(mono)
    layout.check_compatible(TokenLayout.from_dict(layout.as_dict()))  # identical: no error


def test_constrained_sampling_stays_in_range(layout):
    rng = np.random.default_rng(1)
    masks = audio_frame_masks(layout, "agent")
    s = Sampler(SamplingConfig(temperature=1.0, top_k=50, seed=3))
    for k, m in enumerate(masks):
        for _ in range(20):
            i = s(rng.normal(size=layout.vocab_size) * 3, m)
            assert layout.kind_of(i) == f"audio.agent.{k}"


def test_sampling_is_seeded_and_greedy_is_argmax(layout):
    logits = np.random.default_rng(0).normal(size=layout.vocab_size)
    a = [Sampler(SamplingConfig(1.0, 0, seed=7))(logits) for _ in range(3)]
    s = Sampler(SamplingConfig(1.0, 0, seed=7))
    b = [s(logits) for _ in range(3)]
    assert a[0] == b[0] and len(set(a)) == 1
    assert Sampler()(logits) == int(np.argmax(logits))
    with pytest.raises(ValueError):
        Sampler()(logits, np.zeros(layout.vocab_size, bool))
