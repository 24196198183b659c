"""The learned envelope transform: training makes a file the codec loads, streams and checks."""

import numpy as np
import pytest

from livesense.codec import CONTRACT as C
from livesense.codec import LSC1Codec
from livesense.codec.features import Normalizer
from livesense.codec.rvq import load_codebooks, save_codebooks

M = C.n_sub * C.n_mel


def _envelopes(n_clips=12, n=250, seed=0):
    """Smooth random envelope trajectories (a few slow components), clip after clip."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((6, M)).astype(np.float32)
    clips = []
    for _ in range(n_clips):
        t = np.arange(n)[:, None]
        a = np.sin(2 * np.pi * t * rng.uniform(0.01, 0.1, 6) + rng.uniform(0, 6, 6))
        clips.append((a @ basis + 0.05 * rng.standard_normal((n, M))).astype(np.float32))
    return np.concatenate(clips), np.arange(n_clips) * n


@pytest.fixture(scope="module", params=[True, False], ids=["closed-loop", "open-loop"])
def trained(request):
    """A small transform of each kind: closed loop (the recipe's) and open loop (older files)."""
    pytest.importorskip("torch")
    from livesense.codec.learn import TransformConfig, train_transform

    env, starts = _envelopes()
    cfg = TransformConfig(lat=8, hidden=32, epochs=3, batch=100, lr=3e-3, init_frames=2500, init_iters=2,
                          closed_loop=request.param)
    tf = train_transform(env, starts, C.n_codebooks - 1, C.codebook_size, cfg, progress=False)
    return env, starts, tf, request.param


def test_training_learns_the_envelopes(trained):
    env, starts, tf, closed = trained
    assert tf.lat == 8 and tf.env == M and tf.stages == C.n_codebooks - 1
    assert tf.closed_loop == closed and tf.enc[0][0].shape[0] == 2 * M + (2 * tf.lat if closed else 0)
    seen, _ = _envelopes(n_clips=2, seed=0)  # the first two training clips
    codes, _ = tf.encode(seen, np.zeros(M, np.float32))
    assert codes.shape == (len(seen), 3) and codes.dtype == np.int32
    rec, _ = tf.decode(codes, np.zeros((2, tf.lat), np.float32))
    err = np.mean((rec - seen) ** 2)
    assert err < 0.5 * np.mean((seen - seen.mean(0)) ** 2), err  # far better than the mean


def test_clip_starts_names_each_rows_clip():
    from livesense.codec.learn import clip_starts

    np.testing.assert_array_equal(clip_starts(np.array([0, 3, 4]), 7), [0, 0, 0, 3, 4, 4, 4])


def _file(tmp_path, tf, post=None):
    rng = np.random.default_rng(0)
    books = np.zeros((1, C.dim, C.codebook_size), np.float32)
    books[0, M:] = rng.standard_normal((C.dim - M, C.codebook_size))
    one = np.ones(C.dim, np.float32)
    norm = Normalizer(np.zeros(C.dim, np.float32), one, one, np.eye(C.dim, dtype=np.float32), 0.5, M)
    path = tmp_path / "lsc1_codebooks.npz"
    save_codebooks(path, books, norm, C, extra={"recipe": "test"}, transform=tf, post=post)
    return path


def test_file_round_trip_streams_like_one_shot(trained, tmp_path):
    tf = trained[2]
    codec = LSC1Codec.load(_file(tmp_path, tf))
    assert codec.transform is not None and codec.books.shape[0] == 1
    for a, b in zip(codec.transform.arrays().values(), tf.arrays().values()):
        np.testing.assert_array_equal(a, b)
    t = np.arange(20 * C.frame_size) / C.sample_rate
    x = (0.3 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    one = codec.encode(x)
    xp = np.concatenate([x, np.zeros(len(one) * C.frame_size - len(x), np.float32)])  # encode's padding
    enc = codec.encoder()
    steps = np.concatenate([enc.step(xp[i: i + C.frame_size]) for i in range(0, len(xp), C.frame_size)])
    np.testing.assert_array_equal(steps, one)
    dec = codec.decoder()
    y = np.concatenate([dec.step(one[i: i + 1]) for i in range(len(one))])
    np.testing.assert_allclose(y, codec.decoder().step(one), atol=1e-5)
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0


def test_mismatched_or_mixed_files_are_refused(trained, tmp_path):
    tf = trained[2]
    path = _file(tmp_path, tf)
    z = dict(np.load(path, allow_pickle=False))
    z["tf_dec_w2"] = z["tf_dec_w2"][:, :-1]
    z["tf_dec_b2"] = z["tf_dec_b2"][:-1]
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(ValueError, match="does not fit the frame contract"):
        load_codebooks(tmp_path / "bad.npz", verify=False)
    post = np.zeros((2 * C.dim + 1, C.dim), np.float32)
    with pytest.raises(ValueError, match="context decoder"):
        load_codebooks(_file(tmp_path, tf, post=post), verify=False)
