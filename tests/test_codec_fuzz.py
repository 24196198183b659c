"""Any in-range ids decode to finite, bounded audio (random ids through real codebooks)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livesense.codec import CONTRACT as C
from livesense.codec import LSC1Codec
from livesense.codec.codec import DEFAULT_CODEBOOKS

pytestmark = pytest.mark.skipif(not DEFAULT_CODEBOOKS.exists(), reason="no shipped codebooks")


@pytest.fixture(scope="module")
def codec():
    return LSC1Codec.load()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12),
       edge=st.sampled_from(["random", "zeros", "max", "alternate"]))
def test_random_ids_decode_to_bounded_audio(codec, seed, n, edge):
    rng = np.random.default_rng(seed)
    codes = {"random": rng.integers(0, C.codebook_size, (n, C.n_codebooks)),
             "zeros": np.zeros((n, C.n_codebooks), int),
             "max": np.full((n, C.n_codebooks), C.codebook_size - 1),
             "alternate": (np.arange(n * C.n_codebooks).reshape(n, -1) % 2) * (C.codebook_size - 1),
             }[edge].astype(np.int32)
    y = codec.decoder().step(codes)
    assert y.shape == (n * C.frame_size,) and y.dtype == np.float32
    assert np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 1.0


def test_shipped_codebooks_match_contract_and_hash(tmp_path):
    c = LSC1Codec.load(warmup=False)
    plain = C.n_codebooks - (c.transform.stages if c.transform else 0)
    assert c.books.shape == (plain, C.dim, C.codebook_size)
    bad = tmp_path / "lsc1_codebooks.npz"
    bad.write_bytes(DEFAULT_CODEBOOKS.read_bytes())
    (tmp_path / "lsc1_codebooks.sha256").write_text("0" * 64 + "  lsc1_codebooks.npz\n")
    with pytest.raises(ValueError, match="sha256"):
        LSC1Codec.load(bad, warmup=False)


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_normalizer_round_trip_in_both_domains(gamma):
    from livesense.codec.features import Normalizer

    rng = np.random.default_rng(0)
    m = C.n_sub * C.n_mel
    v = rng.normal(0.0, 1.0, (50, C.dim)).astype(np.float32)
    v[:, :m] -= 8.0  # log band powers of moderate speech
    n = Normalizer(rng.normal(0, 0.1, C.dim).astype(np.float32), np.full(C.dim, 0.5, np.float32),
                   np.ones(C.dim, np.float32), np.eye(C.dim, dtype=np.float32), gamma, m)
    np.testing.assert_allclose(n.inverse(n.forward(v)), v, atol=2e-4)


def test_codebooks_without_gamma_load_in_the_log_domain(tmp_path):
    z = dict(np.load(DEFAULT_CODEBOOKS, allow_pickle=False))
    z.pop("gamma", None)
    path = tmp_path / "old.npz"
    np.savez(path, **z)
    from livesense.codec.rvq import load_codebooks

    _, norm, _ = load_codebooks(path, verify=False)
    assert norm.gamma == 0.0
    v = np.zeros((1, C.dim), np.float32)
    assert np.array_equal(norm.compress(v), v)
