"""Reference torch model: streaming equals full forward; the ring keeps memory bounded."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from livesense.model.positions import text_positions  # noqa: E402
from livesense.model.tiny import tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    return tiny_model(train_steps=0, n_ctx=64)


def test_step_by_step_equals_full_forward(tiny):
    model, spec, sess = tiny
    ids, pos = sess.ids[:60], sess.pos[:, :60]
    full = model.logits(ids, pos)
    cache = model.new_cache()
    one = np.concatenate([model.step(ids[i:i + 1], pos[:, i:i + 1], cache) for i in range(len(ids))])
    np.testing.assert_allclose(one, full, atol=2e-5, rtol=1e-4)
    cache = model.new_cache()
    chunks = np.concatenate([model.step(ids[a:a + 7], pos[:, a:a + 7], cache) for a in range(0, len(ids), 7)])
    np.testing.assert_allclose(chunks, full, atol=2e-5, rtol=1e-4)


def test_ring_beyond_capacity_is_bounded_and_forgets(tiny):
    model, spec, _ = tiny
    cache = model.new_cache(16)
    nbytes = cache.nbytes()
    rng = np.random.default_rng(0)
    n = 100
    ids = rng.integers(0, spec.cfg.vocab_size, n)
    pos = text_positions(n)
    out = [model.step(ids[i:i + 1], pos[:, i:i + 1], cache) for i in range(n)]
    assert np.isfinite(np.concatenate(out)).all()
    assert cache.nbytes() == nbytes and cache.slots.n_stored == 16 and cache.slots.count == n
    # once the ring is full, what came before the window no longer matters
    cache2 = model.new_cache(16)
    ids2 = ids.copy()
    ids2[:10] = (ids2[:10] + 1) % spec.cfg.vocab_size
    out2 = [model.step(ids2[i:i + 1], pos[:, i:i + 1], cache2) for i in range(n)]
    assert not np.allclose(out[12], out2[12])
    # layer>0 keys depend on their context, so the influence fades over a couple of windows
    np.testing.assert_allclose(out[-1], out2[-1], atol=1e-5)


def test_chunk_larger_than_ring_is_refused(tiny):
    model, _, sess = tiny
    cache = model.new_cache(8)
    with pytest.raises(ValueError, match="exceeds the KV ring"):
        model.step(sess.ids[:9], sess.pos[:, :9], cache)
