"""The shipped LiveSense-Tiny file: sha256, size and metadata match the sidecar, the
token layout / codec / vision contracts in use, and the codebooks it speaks."""

from __future__ import annotations

import hashlib
import json

import pytest

from livesense.agents.native import DEFAULT_MODEL, SIDECAR
from livesense.model.layout import default_layout
from livesense.model.load import check_spec, read_spec


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def side() -> dict:
    return json.loads(SIDECAR.read_text())


def test_file_is_shipped_with_matching_sha256(side):
    assert DEFAULT_MODEL.is_file(), "models/tiny/livesense-tiny-q8_0.gguf is missing"
    digest = sha256(DEFAULT_MODEL)
    recorded = (DEFAULT_MODEL.parent / (DEFAULT_MODEL.name + ".sha256")).read_text().split()
    assert recorded == [digest, DEFAULT_MODEL.name]
    assert side["sha256"] == digest and side["bytes"] == DEFAULT_MODEL.stat().st_size
    assert DEFAULT_MODEL.stat().st_size <= 50_000_000


def test_metadata_matches_contracts_and_recipe(side):
    spec = read_spec(DEFAULT_MODEL)
    check_spec(spec, default_layout(), str(DEFAULT_MODEL))  # layout, codec and vision contracts in use
    from livesense.codec.contract import CONTRACT

    assert spec.layout.codec == CONTRACT.as_dict()
    tc = side["train_config"]
    for k in ("d_model", "n_layer", "n_head", "n_kv_head", "d_ff", "n_ctx"):
        assert getattr(spec.cfg, k) == tc[k], k
    assert spec.scheme.tick_s == pytest.approx(spec.layout.frame_s)


def test_codebooks_are_the_ones_it_was_trained_with(side):
    books = DEFAULT_MODEL.parent / side["codebooks"]
    assert sha256(books) == side["codebooks_sha256"]
    from livesense.codec import LSC1Codec

    LSC1Codec.load(books, warmup=False)  # sha256 sidecar + contract checked by the codec


def test_model_card_states_limits():
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    for must in ("Limits", "held-out", "reply_wer", DEFAULT_MODEL.name):
        assert must in card, must
