"""Each Numba kernel agrees with its numpy twin (bit for bit on the token path)."""

import numpy as np
import pytest

from livesense.codec import kernels as K
from livesense.codec import kernels_ref as R


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def test_pick_pitch_matches_twin(rng):
    r = rng.standard_normal((20, 300))
    lk, sk = K.pick_pitch(r, 40, 266, 0.9)
    lr, sr = R.pick_pitch(r, 40, 266, 0.9)
    np.testing.assert_allclose(lk, lr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sk, sr)


def test_pick_pitch_finds_period():
    t = np.arange(300)
    r = np.cos(2 * np.pi * t / 80.0)[None, :] * (1 - t / 600.0)  # period 80 samples
    lag, strength = K.pick_pitch(r, 40, 266, 0.9)
    assert abs(lag[0] - 80) < 1.0 and strength[0] > 0.8


def test_pick_yin_matches_twin(rng):
    d = 0.2 + np.abs(rng.standard_normal((30, 300)))  # no dip under the threshold: the lowest wins
    d[::3, 120] = 0.05  # every third row: one dip under it
    lk, ak = K.pick_yin(d, 40, 266, 0.15)
    lr, ar = R.pick_yin(d, 40, 266, 0.15)
    np.testing.assert_allclose(lk, lr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ak, ar)
    assert np.all(np.abs(lk[::3] - 120) <= 0.5)


def test_fill_unvoiced_matches_twin(rng):
    lf0, s = rng.uniform(6, 8, 50), rng.uniform(0, 1, 50)
    a, la = K.fill_unvoiced(lf0, s, 0.5, 7.0)
    b, lb = R.fill_unvoiced(lf0, s, 0.5, 7.0)
    np.testing.assert_array_equal(a, b)
    assert la == lb


@pytest.mark.parametrize("dim,k", [(8, 16), (88, 1024)])
def test_rvq_search_bitexact(rng, dim, k):
    books = rng.standard_normal((4, dim, k)).astype(np.float32)
    x = rng.standard_normal((40, dim)).astype(np.float32)
    x[0] = books[0, :, 3]  # an exact hit
    act = K.active_dims(books)
    norms = K.book_norms(books, act)
    np.testing.assert_array_equal(norms, R.book_norms(books, act))
    codes = K.rvq_search(x, books, act, norms)
    np.testing.assert_array_equal(codes, R.rvq_search(x, books, act, norms))
    assert codes[0, 0] == 3 and codes.dtype == np.int32
    exact = np.argmin(((x[:, :, None] - books[0][None]) ** 2).sum(1), axis=1)
    assert np.mean(codes[:, 0] == exact) > 0.95  # same nearest codeword up to float rounding


def test_rvq_masked_stages_match_twin(rng):
    books = rng.standard_normal((4, 20, 64)).astype(np.float32)
    books[0, 8:] = 0.0  # stage 1 codes dims 0..7 only, the rest the other dims
    books[1:, :8] = 0.0
    act = K.active_dims(books)
    assert act[0].sum() == 8 and act[1].sum() == 12
    x = rng.standard_normal((30, 20)).astype(np.float32)
    norms = K.book_norms(books, act)
    np.testing.assert_array_equal(K.rvq_search(x, books, act, norms), R.rvq_search(x, books, act, norms))
    full = np.ones_like(act)  # skipping all-zero dims never changes the choice here
    np.testing.assert_array_equal(K.rvq_search(x, books, act, norms),
                                  K.rvq_search(x, books, full, K.book_norms(books, full)))


def test_rvq_ties_go_to_lowest_id():
    books = np.zeros((1, 2, 4), np.float32)
    books[0, :, 2] = books[0, :, 1] = 1.0
    act = np.ones((1, 2), bool)
    nrm = K.book_norms(books, act)
    codes = K.rvq_search(np.ones((1, 2), np.float32), books, act, nrm)
    assert codes[0, 0] == 1 and R.rvq_search(np.ones((1, 2), np.float32), books, act, nrm)[0, 0] == 1


def test_rvq_decode_matches_twin(rng):
    books = rng.standard_normal((4, 10, 32)).astype(np.float32)
    codes = rng.integers(0, 32, (25, 4)).astype(np.int32)
    np.testing.assert_allclose(K.rvq_decode(codes, books), R.rvq_decode(codes, books), atol=1e-6)


def test_pulse_train_matches_twin():
    pos, lf0 = np.array([0.0, 160.0, 320.0, 480.0]), np.array([7.0, 7.4, 6.9, 8.0])
    a, pa = K.pulse_train(pos, lf0, -100, 800, 0.25, 16000.0)
    b, pb = R.pulse_train(pos, lf0, -100, 800, 0.25, 16000.0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert abs(pa - pb) < 1e-12
    assert np.count_nonzero(a) > 5  # ~128 Hz over 50 ms


def test_hash_noise_matches_twin_and_is_positional():
    np.testing.assert_array_equal(K.hash_noise(-7, 500, 3), R.hash_noise(-7, 500, 3))
    np.testing.assert_array_equal(K.hash_noise(100, 50, 3), K.hash_noise(0, 200, 3)[100:150])
    n = K.hash_noise(0, 200000, 1)
    assert abs(n.std() - 1.0) < 0.01 and abs(n.mean()) < 0.01


@pytest.mark.parametrize("beam", [1, 2, 4])
def test_rvq_beam_matches_twin(rng, beam):
    books = rng.standard_normal((3, 12, 64)).astype(np.float32)
    x = rng.standard_normal((25, 12)).astype(np.float32)
    act = K.active_dims(books)
    codes = K.rvq_search_beam(x, books, act, beam)
    np.testing.assert_array_equal(codes, R.rvq_search_beam(x, books, act, beam))
    if beam == 1:  # exact-difference distances: same choice as greedy here
        np.testing.assert_array_equal(codes, K.rvq_search(x, books, act, K.book_norms(books, act)))


def test_rvq_beam_beats_greedy_on_average(rng):
    books = rng.standard_normal((4, 12, 64)).astype(np.float32)
    x = rng.standard_normal((50, 12)).astype(np.float32)

    def err(c):
        return np.sum((x - K.rvq_decode(c, books)) ** 2, axis=1)

    act = K.active_dims(books)
    greedy = K.rvq_search(x, books, act, K.book_norms(books, act))
    assert err(K.rvq_search_beam(x, books, act, 4)).mean() < err(greedy).mean()


def test_dense_matches_twin_and_rows_do_not_depend_on_batch(rng):
    x = rng.standard_normal((9, 40)).astype(np.float32)
    x[x < 0.2] = 0.0  # post-ReLU inputs: many exact zeros (skipped)
    w = rng.standard_normal((40, 24)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    for relu in (True, False):
        out = K.dense(x, w, b, relu)
        np.testing.assert_array_equal(out, R.dense(x, w, b, relu))
        rows = np.concatenate([K.dense(x[i:i + 1], w, b, relu) for i in range(len(x))])
        np.testing.assert_array_equal(rows, out)  # a streamed frame = the same frame in a batch
        want = x.astype(np.float64) @ w + b
        np.testing.assert_allclose(out, np.maximum(want, 0) if relu else want, atol=1e-4)
    assert (K.dense(x, w, b, True) >= 0).all()
