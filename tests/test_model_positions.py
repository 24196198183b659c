"""The time-aligned 4-section rotary positions (idx, row, col, time)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from livesense.model.layout import default_layout
from livesense.model.positions import COL, IDX, ROW, TIME, PositionAssigner, PositionScheme, interleave


@dataclass
class Tok:
    kind: str
    ids: np.ndarray
    t_capture: float


@pytest.fixture(scope="module")
def layout():
    return default_layout()


def test_interleaved_audio_image_text(layout):
    scheme = PositionScheme.for_head_dim(32)
    audio = Tok("audio", layout.audio_ids(np.zeros((3, 4), int), "user"), 10.00)  # 3 frames from t=10 s
    image = Tok("image", layout.image_ids(np.arange(36)), 10.05)  # captured between frame 1 and 2
    text = Tok("text", layout.text_ids("hi"), 10.13)
    late = Tok("audio", layout.audio_ids(np.zeros((1, 4), int), "agent"), 10.12)
    p = interleave(layout, scheme, [text, image, audio, late])
    kinds = [layout.kind_of(int(i)).split(".")[0] for i in p.ids]
    assert kinds == ["audio"] * 12 + ["image"] * 36 + ["audio"] * 4 + ["text"] * 2  # by capture time
    assert np.array_equal(p.pos[IDX], np.arange(len(p)))  # stream order, strictly +1
    assert list(p.pos[TIME, :12]) == [0] * 4 + [1] * 4 + [2] * 4  # codes of a frame share its tick
    assert set(p.pos[TIME, 12:48]) == {1}  # 10.05 s is in the second 40 ms frame
    rows, cols = p.pos[ROW, 12:48] // scheme.spatial_stride, p.pos[COL, 12:48] // scheme.spatial_stride
    assert list(rows[:7]) == [0] * 6 + [1] and list(cols[:7]) == [0, 1, 2, 3, 4, 5, 0] and rows[-1] == cols[-1] == 5
    assert not p.pos[ROW, :12].any() and not p.pos[COL, 48:].any()  # only image tokens are 2-D
    assert list(p.pos[TIME, 48:]) == [3] * 6  # agent frame at 10.12 s and text at 10.13 s


def test_streaming_assigner_rejects_partial_frames_and_wrong_grids(layout):
    pa = PositionAssigner(layout, PositionScheme.for_head_dim(32))
    with pytest.raises(ValueError, match="whole frames"):
        pa.place("audio", np.zeros(6, int), 0.0)
    with pytest.raises(ValueError, match="grid"):
        pa.place("image", np.zeros(35, int), 0.0)
    a = pa.place("text", layout.text_ids("ab"), 0.0)
    b = pa.place("audio", np.zeros(4, int), 0.2)  # time can be anything; idx continues
    assert list(a.pos[IDX]) == [0, 1] and list(b.pos[IDX]) == [2, 3, 4, 5] and set(b.pos[TIME]) == {5}


def test_angles_are_llama_cpp_mrope(layout):
    """theta_i = pos[section(i)] * base^(-2i/head_dim): sections contiguous in pair index."""
    scheme = PositionScheme.for_head_dim(32)  # 16 pairs: (4, 2, 2, 8)
    assert scheme.sections == (4, 2, 2, 8)
    pos = np.array([[7], [16], [40], [250]], dtype=np.int32)
    a = scheme.angles(pos)[0]
    sec = np.repeat(np.arange(4), scheme.sections)
    want = pos[sec, 0] * 10000.0 ** (-2 * np.arange(16) / 32)
    np.testing.assert_allclose(a, want, rtol=1e-5)
    assert a.dtype == np.float32
