"""Streaming equals one-shot; contract and input checks; robustness to odd input."""

import numpy as np
import pytest

from livesense.codec import CONTRACT, LSC1Codec
from livesense.codec.features import Normalizer

C = CONTRACT


def _speechlike(n, seed=0):
    """Voiced harmonic bursts with a moving pitch plus noise bursts (no TTS needed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / C.sample_rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.5 * t)
    ph = 2 * np.pi * np.cumsum(f0) / C.sample_rate
    voiced = sum(np.sin(h * ph) / h for h in range(1, 20)) * (np.sin(2 * np.pi * 3 * t) > 0)
    noise = rng.standard_normal(n) * 0.1 * (np.sin(2 * np.pi * 3 * t) <= 0)
    return (0.2 * voiced + noise).astype(np.float32)


def random_transform(rng, lat=16, hidden=32):
    """A learned envelope transform with random weights (shapes as the contract needs)."""
    from livesense.codec.transform import EnvelopeTransform

    m = C.n_sub * C.n_mel

    def layers(n_in, n_out):
        sizes = [n_in, hidden, hidden, n_out]
        return [((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32),
                 (0.1 * rng.standard_normal(b)).astype(np.float32)) for a, b in zip(sizes, sizes[1:])]

    books = rng.standard_normal((C.n_codebooks - 1, lat, C.codebook_size)).astype(np.float32)
    return EnvelopeTransform(layers(2 * m, lat), layers(3 * lat, m), books)


@pytest.fixture(scope="module", params=["log", "compressed+context", "learned transform"])
def codec(request):
    """Random codebooks in code: the test does not depend on the shipped file. The second
    variant quantizes compressed magnitudes and decodes with a context decoder (state); the
    third codes the envelope through a learned transform (random weights; state both ways) and
    analyses pitch with YIN."""
    rng = np.random.default_rng(1)
    books = (rng.standard_normal((C.n_codebooks, C.dim, C.codebook_size)) * 0.5).astype(np.float32)
    mean = np.zeros(C.dim, np.float32)
    m = C.n_sub * C.n_mel
    mean[:m], mean[m:m + C.n_sub], mean[m + C.n_sub:] = -8.0, 7.0, 0.5
    if request.param == "log":
        norm = Normalizer(mean, np.full(C.dim, 2.0, np.float32), np.ones(C.dim, np.float32),
                          np.eye(C.dim, dtype=np.float32))
        return LSC1Codec(books, norm, C)
    mean[:m] = 0.02
    norm = Normalizer(mean, np.full(C.dim, 2.0, np.float32), np.ones(C.dim, np.float32),
                      np.eye(C.dim, dtype=np.float32), 0.5, m)
    if request.param == "learned transform":
        return LSC1Codec(books[:1], norm, C, meta={"pitch": "yin"}, transform=random_transform(rng))
    post = np.concatenate([np.eye(C.dim), 0.2 * rng.standard_normal((C.dim, C.dim)) / np.sqrt(C.dim),
                           np.zeros((1, C.dim))]).astype(np.float32)
    return LSC1Codec(books, norm, C, post=post)


def _stream_encode(codec, x, sizes):
    enc, out, i = codec.encoder(), [], 0
    for s in sizes:
        out.append(enc.step(x[i: i + s * C.frame_size]))
        i += s * C.frame_size
    return np.concatenate(out)


def test_stream_equals_oneshot(codec):
    x = _speechlike(30 * C.frame_size)
    one = codec.encoder().step(x)
    for sizes in ([1] * 30, [3, 1, 7, 2, 5, 12], [29, 1]):
        np.testing.assert_array_equal(_stream_encode(codec, x, sizes), one)
    y_one = codec.decoder().step(one)
    dec = codec.decoder()
    y_st = np.concatenate([dec.step(one[i: i + k]) for i, k in ((0, 1), (1, 4), (5, 10), (15, 15))])
    np.testing.assert_allclose(y_st, y_one, atol=1e-5)


def test_reset_restores_initial_state(codec):
    x = _speechlike(8 * C.frame_size, seed=3)
    enc, dec = codec.encoder(), codec.decoder()
    a = dec.step(enc.step(x))
    enc.reset(), dec.reset()
    np.testing.assert_array_equal(dec.step(enc.step(x)), a)


def test_encode_is_deterministic_across_instances(codec):
    x = _speechlike(10 * C.frame_size, seed=5)
    np.testing.assert_array_equal(codec.encode(x), codec.encode(x.copy()))


@pytest.mark.parametrize("bad,err,msg", [
    (np.zeros(C.frame_size + 1, np.float32), ValueError, "buffer"),
    (np.zeros(C.frame_size, np.int16), TypeError, "float"),
    (np.zeros((2, C.frame_size), np.float32), TypeError, "1-D"),
])
def test_bad_audio_is_rejected(codec, bad, err, msg):
    with pytest.raises(err, match=msg):
        codec.encoder().step(bad)


@pytest.mark.parametrize("bad,err,msg", [
    (np.full((2, C.n_codebooks), C.codebook_size), ValueError, rf"\[0, {C.codebook_size}\)"),
    (np.full((2, C.n_codebooks), -1), ValueError, "must lie"),
    (np.zeros((2, C.n_codebooks), np.float32), TypeError, "integers"),
    (np.zeros((2, C.n_codebooks + 1), np.int32), ValueError, "shape"),
    (np.zeros(C.n_codebooks, np.int32), ValueError, "shape"),
])
def test_bad_codes_are_rejected(codec, bad, err, msg):
    with pytest.raises(err, match=msg):
        codec.decoder().step(bad)


@pytest.mark.parametrize("kind", ["silence", "clipped", "dc", "quiet", "nan"])
def test_odd_input_encodes_without_nan(codec, kind):
    x = _speechlike(6 * C.frame_size)
    x = {"silence": np.zeros_like(x), "clipped": np.clip(x * 50, -1, 1),
         "dc": x * 0.2 + 0.7, "quiet": x * 1e-5, "nan": np.where(np.arange(len(x)) % 7, x, np.nan)}[kind]
    enc = codec.encoder()
    z = enc.norm.forward(enc._feat.step(x.astype(np.float32)))
    assert np.isfinite(z).all()
    y = codec.decoder().step(codec.encode(x.astype(np.float32)))
    assert np.isfinite(y).all()


def test_contract_numbers():
    assert C.tokens_per_s <= 100 and C.bitrate_bps <= 1100 and C.latency_ms <= 80
    with pytest.raises(ValueError, match="frame_size"):
        C.check({**C.as_dict(), "frame_size": 320})


def test_codes_file_roundtrip_and_contract_check(tmp_path):
    from dataclasses import replace

    from livesense.codec.codesfile import load_codes, save_codes

    codes = np.arange(3 * C.n_codebooks, dtype=np.int32).reshape(3, -1)
    save_codes(tmp_path / "a.npz", codes, utterance="x")
    back, meta = load_codes(tmp_path / "a.npz")
    np.testing.assert_array_equal(back, codes)
    assert meta["utterance"] == "x" and meta["frame_size"] == C.frame_size
    with pytest.raises(ValueError, match="another LSC-1 frame contract"):
        load_codes(tmp_path / "a.npz", replace(C, hop=80))
    save_codes(tmp_path / "b.npz", codes, codebooks_sha256="a" * 64)
    assert load_codes(tmp_path / "b.npz", codebooks_sha256="a" * 64)[1]["codebooks_sha256"] == "a" * 64
    load_codes(tmp_path / "b.npz")  # a reader that names no codebooks is not checked
    with pytest.raises(ValueError, match="codes made with codebooks aaaa"):
        load_codes(tmp_path / "b.npz", codebooks_sha256="b" * 64)


def test_features_then_quantize_is_step():
    from livesense.codec import LSC1Codec

    codec = LSC1Codec.load()
    x = (0.2 * np.sin(2 * np.pi * 150 * np.arange(16 * 640) / 16000)).astype(np.float32)
    enc = codec.encoder()
    assert np.array_equal(codec.encoder().step(x), enc.quantize(enc.features(x)))


def test_warp_moves_pitch_and_formants_together():
    from livesense.codec.contract import CONTRACT as c
    from livesense.codec.features import warp

    m = c.n_sub * c.n_mel
    v = np.zeros((3, c.dim), np.float32)
    env = np.full(c.n_mel, -10.0, np.float32)
    env[12] = 0.0  # one formant-like peak
    v[:, :m] = np.tile(env, c.n_sub)
    v[:, m: m + c.n_sub] = np.log2(150.0)
    assert warp(v, 0.0, c) is v
    up, down = warp(v, 3.0, c), warp(v, -3.0, c)
    assert np.allclose(up[:, m: m + c.n_sub], np.log2(150.0) + 0.25)
    assert np.allclose(down[:, m: m + c.n_sub], np.log2(150.0) - 0.25)
    assert np.array_equal(up[:, m + c.n_sub:], v[:, m + c.n_sub:])  # voicing untouched
    peak = lambda w: float(np.sum(np.arange(c.n_mel) * np.exp(w[0, :c.n_mel])) / np.sum(np.exp(w[0, :c.n_mel])))  # noqa: E731
    assert peak(down) < peak(v) - 0.2 < peak(v) + 0.2 < peak(up), "the peak moves up with the pitch"
    assert np.all(np.isfinite(warp(v, 24.0, c))) and warp(v, 24.0, c)[:, m:m + c.n_sub].max() <= np.log2(c.f0_max)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_shift_hops_equals_encoding_from_later(hops):
    """A grid shift of k hops in the feature domain is the encoder run from k*hop samples on
    (after the first frames, whose analysis history differs)."""
    from livesense.codec.contract import CONTRACT as c
    from livesense.codec.features import shift_hops, view
    from livesense.codec.stream import FeatureEncoder

    t = np.arange(40 * c.frame_size) / c.sample_rate
    x = (0.3 * np.sin(2 * np.pi * 140 * t * (1 + 0.1 * t)) + 0.1 * np.sin(2 * np.pi * 420 * t)).astype(np.float32)
    f = FeatureEncoder(c).step(x)
    later = x[hops * c.hop:]
    later = np.concatenate([later, np.zeros(-len(later) % c.frame_size, np.float32)])
    g = FeatureEncoder(c).step(later)
    s = shift_hops(f, hops, c)
    assert s.shape == (len(f) - 1, c.dim)
    assert np.allclose(s[2:], g[2: len(s)], atol=1e-4)
    assert shift_hops(f, 0, c) is f and np.array_equal(view(f, 0.0, hops, c), s)
    with pytest.raises(ValueError, match="0..3 hops"):
        shift_hops(f, c.n_sub, c)


def _pulses(f0, n, seed=0):
    """A glottal-pulse-like train at ``f0`` Hz through one 500 Hz resonance."""
    from scipy.signal import lfilter

    x = np.zeros(n)
    x[np.arange(0, n, C.sample_rate / f0).astype(int)] = 1.0
    r, w = 0.8, 2 * np.pi * 500 / C.sample_rate
    return (0.1 * lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], x)).astype(np.float32)


@pytest.mark.parametrize("f0", [70.0, 110.0, 250.0])
def test_yin_tracks_a_steady_voice_and_keeps_it_voiced(f0):
    from livesense.codec.features import unpack
    from livesense.codec.stream import FeatureEncoder

    x = _pulses(f0, 8 * C.frame_size)
    _, lf0, voicing = unpack(FeatureEncoder(C, "yin").step(x), C)
    steady = slice(C.history // C.hop + 1, None)  # hops whose window lies inside the signal
    np.testing.assert_allclose(2.0 ** lf0[steady], f0, rtol=0.02)
    assert voicing[steady].min() > 0.9


def test_codebook_file_names_its_pitch_analysis(tmp_path):
    from livesense.codec.rvq import save_codebooks

    rng = np.random.default_rng(0)
    books = rng.standard_normal((C.n_codebooks, C.dim, C.codebook_size)).astype(np.float32)
    one = np.ones(C.dim, np.float32)
    norm = Normalizer(np.zeros(C.dim, np.float32), one, one, np.eye(C.dim, dtype=np.float32))
    x = _pulses(70.0, 6 * C.frame_size)
    for extra, want in (({}, "autocorr"), ({"pitch": "yin"}, "yin")):
        path = tmp_path / f"{want}.npz"
        save_codebooks(path, books, norm, C, extra=extra)
        codec = LSC1Codec.load(path, warmup=False)
        assert codec.pitch == want
        from livesense.codec.stream import FeatureEncoder

        np.testing.assert_array_equal(codec.encoder().features(x), FeatureEncoder(C, want).step(x))
    save_codebooks(tmp_path / "bad.npz", books, norm, C, extra={"pitch": "crepe"})
    with pytest.raises(ValueError, match="pitch analysis 'crepe'"):
        LSC1Codec.load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="unknown pitch analysis"):
        FeatureEncoder(C, "crepe")
