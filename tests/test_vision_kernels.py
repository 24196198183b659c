"""Every njit kernel agrees with its numpy twin on generated scenes."""

import numpy as np
import pytest

from livesense.vision import kernels, kernels_ref, scenes
from livesense.vision.tokenizer import CONTRACT as C
from livesense.vision.tokenizer import preprocess


@pytest.fixture(scope="module")
def works():
    rng = np.random.default_rng(3)
    imgs = [scenes.render(scenes.random_scene(rng, kind=k)) for k in ("single", "mixed", "single")]
    return [preprocess(im) for im in imgs]


def _maps(work):
    return kernels.pixel_maps(work, float(np.median(work.mean(axis=2))))


def test_pixel_maps_agree(works):
    for w in works:
        lum = float(np.median(w.mean(axis=2)))
        np.testing.assert_allclose(kernels.pixel_maps(w, lum), kernels_ref.pixel_maps(w, lum), atol=1e-5)


def test_cell_colour_agrees(works):
    for w in works:
        m = _maps(w)
        np.testing.assert_allclose(kernels.cell_colour(m, C.grid_h, C.grid_w, C.hue_bins),
                                   kernels_ref.cell_colour(m, C.grid_h, C.grid_w, C.hue_bins), atol=1e-9)


def test_cell_shape_agrees(works):
    args = (C.grid_h, C.grid_w, C.overlap, C.hog_sub, C.hog_bins, C.sil, C.hog_eps)
    for w in works:
        m = _maps(w)
        np.testing.assert_allclose(kernels.cell_shape(m, *args), kernels_ref.cell_shape(m, *args), atol=1e-9)


def test_blob_peaks_agree(works):
    for w in works:
        m = _maps(w)
        got = kernels.blob_peaks(m, C.grid_h, C.grid_w, C.blob_sigma, C.blob_thr)
        np.testing.assert_array_equal(got, kernels_ref.blob_peaks(m, C.grid_h, C.grid_w, C.blob_sigma, C.blob_thr))
        assert got.sum() >= 1


def test_nearest_agrees():
    rng = np.random.default_rng(0)
    x, c = rng.normal(size=(500, 12)), rng.normal(size=(40, 12))
    np.testing.assert_array_equal(kernels.nearest(x, c), kernels_ref.nearest(x, c))


def test_gaussian_taps_agree():
    np.testing.assert_allclose(kernels.gaussian_taps(5.0), kernels_ref.gaussian_taps(5.0), atol=1e-12)
