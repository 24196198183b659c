"""Tokenizer: determinism, contract, input checks, a codebook file that is verified."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from livesense.vision import scenes
from livesense.vision.tokenizer import CONTRACT, DEFAULT_PATH, VisionTokenizer, load_codebook, save_codebook
from livesense.vision.train import train_codebook


@pytest.fixture(scope="module")
def tok():
    return VisionTokenizer.load()


@pytest.fixture(scope="module")
def image():
    return scenes.render(scenes.random_scene(np.random.default_rng(11)))


def test_shipped_codebook_loads_with_contract(tok):
    assert tok.contract == CONTRACT
    assert tok.codebook.colour_centres.shape == (CONTRACT.n_colour, CONTRACT.colour_dim)
    assert tok.codebook.shape_centres.shape == (CONTRACT.n_shape, CONTRACT.shape_dim)


def test_encode_is_deterministic_and_in_range(tok, image):
    a, b = tok.encode(image), tok.encode(image.copy())
    assert a.shape == (CONTRACT.n_tokens,) and a.dtype == np.int32
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() < CONTRACT.vocab_size


def test_split_join_roundtrip(tok, image):
    ids = tok.encode(image)
    np.testing.assert_array_equal(tok.join(*tok.split(ids)), ids)
    np.testing.assert_array_equal(np.stack(tok.split(ids)), np.stack(tok.encode_parts(image)))


def test_numpy_twin_gives_the_same_tokens(tok, image):
    ref = VisionTokenizer(tok.codebook, ref=True)
    np.testing.assert_array_equal(ref.encode(image), tok.encode(image))


def test_any_camera_size_is_accepted(tok, image):
    import cv2

    big = cv2.resize(image, (640, 480), interpolation=cv2.INTER_LINEAR)
    assert tok.encode(big).shape == (CONTRACT.n_tokens,)


@pytest.mark.parametrize("bad", [
    np.zeros((120, 160, 3), np.float32),  # wrong dtype
    np.zeros((120, 160), np.uint8),  # grey
    np.zeros((120, 160, 4), np.uint8),  # RGBA
    np.zeros((0, 160, 3), np.uint8),  # empty
    [[0, 0, 0]],  # not an array
])
def test_bad_input_is_refused_clearly(tok, bad):
    with pytest.raises(ValueError, match=r"expected an RGB uint8 image of shape \(H, W, 3\)"):
        tok.encode(bad)


@pytest.fixture(scope="module")
def tiny_codebook_file(tmp_path_factory):
    cb = train_codebook(n_scenes=20, seed=1, iters=3, progress=False)
    path = tmp_path_factory.mktemp("vq") / "tiny.npz"
    save_codebook(cb, path)
    return path


def test_sha256_mismatch_is_refused(tiny_codebook_file, tmp_path):
    bad = tmp_path / "tampered.npz"
    data = bytearray(tiny_codebook_file.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    Path(str(bad) + ".sha256").write_text(Path(str(tiny_codebook_file) + ".sha256").read_text())
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_codebook(bad)


def test_missing_sha256_is_refused(tiny_codebook_file, tmp_path):
    lone = tmp_path / "lone.npz"
    lone.write_bytes(tiny_codebook_file.read_bytes())
    with pytest.raises(ValueError, match="sha256"):
        load_codebook(lone)


def test_contract_mismatch_is_refused(tiny_codebook_file):
    assert load_codebook(tiny_codebook_file).contract == CONTRACT
    with pytest.raises(ValueError, match="contract mismatch"):
        load_codebook(tiny_codebook_file, contract=replace(CONTRACT, grid_w=4))


def test_shipped_file_records_its_contract():
    with np.load(DEFAULT_PATH) as z:
        stored = json.loads(str(z["contract"]))
    assert stored["version"] == CONTRACT.version and stored["grid_w"] == CONTRACT.grid_w
