"""Backends against the reference: torch vs GGUF F32 vs ONNX FP32 (tight), Q8_0 / int8 /
4-bit within stated tolerances and the same greedy tokens; refusal of bad files.

Tolerances (tiny model trained to memorise one session, largest |logit| ~13):
  F32 backends       max |Δlogit| <= 1e-4 * max|logit|  (float32 reduction order only)
  Q8_0, ONNX int8    max |Δlogit| <= 3% of max|logit|, same greedy token at every step
                     (measured ~1%)
  Q4_0               max |Δlogit| <= 20% of max|logit|, same greedy token at >= 90% of steps
                     (measured ~10%, 100%)
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from livesense.model.backends.torch_backend import TorchBackend, save_torch  # noqa: E402
from livesense.model.layout import LayoutMismatch, TokenLayout  # noqa: E402
from livesense.model.load import open_model, read_spec  # noqa: E402
from livesense.model.meta import ModelFormatError  # noqa: E402
from livesense.model.positions import text_positions  # noqa: E402
from livesense.model.tiny import tiny_model  # noqa: E402

N_CTX = 64


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    model, spec, sess = tiny_model(train_steps=60, n_ctx=N_CTX)
    return model, spec, sess, model.logits(sess.ids[:N_CTX], sess.pos[:, :N_CTX])


@pytest.fixture(scope="module")
def files(tiny, tmp_path_factory):
    model, spec, _, _ = tiny
    d = tmp_path_factory.mktemp("model")
    out = {"pt": save_torch(model, spec, d / "tiny.pt")}
    try:
        from livesense.model.export.gguf_export import export_gguf

        out["gguf_f32"] = export_gguf(model, spec, d / "tiny.f32.gguf")
    except ImportError:
        pass
    return out, d


def _gguf(files, quant):
    pytest.importorskip("gguf")
    pytest.importorskip("llama_cpp")
    from livesense.model.export.gguf_export import quantize_gguf

    f, d = files
    if quant == "f32":
        return f["gguf_f32"]
    dst = d / f"tiny.{quant}.gguf"
    if not dst.exists():
        quantize_gguf(f["gguf_f32"], dst, quant)
    return dst


@pytest.fixture(scope="module")
def onnx_files(tiny, files):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from livesense.model.export.onnx_export import export_onnx, quantize_onnx_int8

    model, spec, _, _ = tiny
    _, d = files
    fp32 = export_onnx(model, spec, d / "tiny.onnx")
    return {"f32": fp32, "int8": quantize_onnx_int8(fp32, d / "tiny.int8.onnx")}


def _run(backend, sess, n=N_CTX, chunk=None):
    ids, pos = sess.ids[:n], sess.pos[:, :n]
    if chunk is None:
        return backend.eval(ids, pos, all_logits=True)
    return np.concatenate([backend.eval(ids[a:a + chunk], pos[:, a:a + chunk], all_logits=True)
                           for a in range(0, n, chunk)])


def _close(got, ref, frac):
    scale = np.abs(ref).max()
    err = np.abs(got - ref).max()
    assert err <= frac * scale, f"max |dlogit| {err:.4g} > {frac} * {scale:.3g}"


def _same_greedy(got, ref, at_least=1.0):
    agree = (got.argmax(-1) == ref.argmax(-1)).mean()
    assert agree >= at_least, f"greedy tokens agree at {agree:.0%} of steps"


def test_torch_checkpoint_round_trip(tiny, files):
    _, _, sess, ref = tiny
    b = open_model(files[0]["pt"], layout=tiny[1].layout)
    assert isinstance(b, TorchBackend)
    np.testing.assert_allclose(_run(b, sess, chunk=5), ref, atol=1e-4)


def test_gguf_f32_matches_torch(tiny, files):
    _, spec, sess, ref = tiny
    b = open_model(_gguf(files, "f32"))  # checked against the installed codec + vision contracts
    assert b.name == "llama.cpp" and b.quant == "f32"
    _close(_run(b, sess), ref, 1e-4)  # one batch
    b.reset()
    _close(_run(b, sess, chunk=1), ref, 1e-4)  # token by token with explicit 4-D positions


def test_gguf_uses_all_four_position_sections(tiny, files):
    """llama.cpp must see row/col/time, not just the stream index: moving them changes
    its logits, and it still agrees with torch at the moved positions."""
    model, spec, sess, ref = tiny
    b = open_model(_gguf(files, "f32"), layout=spec.layout)
    pos = sess.pos[:, :N_CTX].copy()
    pos[1:] = 0  # keep idx, drop row, col and time
    got = b.eval(sess.ids[:N_CTX], pos, all_logits=True)
    assert np.abs(got - ref).max() > 0.01 * np.abs(ref).max()
    _close(got, model.logits(sess.ids[:N_CTX], pos), 1e-4)


def test_onnx_fp32_matches_torch(tiny, onnx_files):
    _, spec, sess, ref = tiny
    b = open_model(onnx_files["f32"], layout=spec.layout)
    assert b.providers == ["CPUExecutionProvider"]
    _close(_run(b, sess), ref, 1e-4)
    b.reset()
    _close(_run(b, sess, chunk=3), ref, 1e-4)


def test_onnx_reports_the_providers_it_really_uses(tiny, onnx_files):
    import os

    b = open_model(onnx_files["f32"], layout=tiny[1].layout, device="cuda")
    if not os.path.exists("/dev/nvidiactl"):  # onnxruntime-gpu lists CUDA, then falls back
        assert b.providers == ["CPUExecutionProvider"]
    assert b.providers[-1] == "CPUExecutionProvider"


@pytest.mark.parametrize("quant,frac,agree", [("q8_0", 0.03, 1.0), ("q4_0", 0.2, 0.9)])
def test_gguf_quantized_within_tolerance(tiny, files, quant, frac, agree):
    _, spec, sess, ref = tiny
    path = _gguf(files, quant)
    assert path.stat().st_size < files[0]["gguf_f32"].stat().st_size / 2.5
    b = open_model(path, layout=spec.layout)
    assert b.quant == quant
    got = _run(b, sess, chunk=1)
    _close(got, ref, frac)
    _same_greedy(got, ref, agree)


def test_onnx_int8_within_tolerance(tiny, onnx_files):
    _, spec, sess, ref = tiny
    got = _run(open_model(onnx_files["int8"], layout=spec.layout), sess, chunk=1)
    _close(got, ref, 0.03)
    _same_greedy(got, ref)


def test_quantized_backends_speak_the_same_frames(tiny, files, onnx_files):
    """Free-running greedy generation of agent audio frames (codebook-constrained, each
    code fed back): Q8_0 and int8 pick exactly the torch reference's codes."""
    from livesense.model.generate import speak
    from livesense.model.positions import Placed

    model, spec, sess, _ = tiny
    start = int(np.flatnonzero([spec.layout.kind_of(int(i)) == "audio.agent.0" for i in sess.ids])[0])
    prompt = Placed(sess.ids[:start], sess.pos[:, :start])
    want, _ = speak(TorchBackend(model, spec), prompt, n_frames=3)
    assert [spec.layout.kind_of(int(i)) for i in want[:4]] == [f"audio.agent.{k}" for k in range(4)]
    assert np.array_equal(want[:8], sess.ids[start:start + 8])  # it learned the session
    for path in (_gguf(files, "q8_0"), onnx_files["int8"]):
        got, _ = speak(open_model(path, layout=spec.layout), prompt, n_frames=3)
        assert np.array_equal(got, want), path.name


def test_backends_agree_after_the_ring_wraps(tiny, files, onnx_files):
    """Past n_ctx every backend forgets the same oldest entries (torch/onnx ring overwrite,
    llama.cpp llama_memory_seq_rm)."""
    model, spec, sess, _ = tiny
    rng = np.random.default_rng(5)
    n = 2 * N_CTX + 9
    ids = rng.integers(0, spec.cfg.vocab_size, n)
    pos = text_positions(n)
    pos[3] = np.arange(n) // 4
    gguf_f32 = _gguf(files, "f32")
    outs = []
    for b in (TorchBackend(model, spec), open_model(onnx_files["f32"], layout=spec.layout),
              open_model(gguf_f32, layout=spec.layout)):
        outs.append(np.concatenate([b.eval(ids[a:a + 5], pos[:, a:a + 5], all_logits=True)
                                    for a in range(0, n, 5)]))
    _close(outs[1], outs[0], 1e-4)
    _close(outs[2], outs[0], 1e-4)


def test_model_for_another_codec_is_refused(tiny, files):
    _, spec, _, _ = tiny
    other = TokenLayout(codec={**spec.layout.codec, "n_codebooks": 8}, vision=spec.layout.vision)
    with pytest.raises(LayoutMismatch, match=r"codec\.n_codebooks: .* has 4, in use 8"):
        open_model(files[0]["pt"], layout=other)
    if "gguf_f32" in files[0]:
        newer = TokenLayout(codec={**spec.layout.codec, "version": 2}, vision=spec.layout.vision)
        with pytest.raises(LayoutMismatch, match=r"codec\.version"):
            open_model(files[0]["gguf_f32"], layout=newer)


def test_truncated_gguf_is_refused(files, tmp_path):
    pytest.importorskip("gguf")
    src = files[0]["gguf_f32"]
    data = src.read_bytes()
    for n in (len(data) - 64, len(data) // 2, 100):
        bad = tmp_path / f"cut{n}.gguf"
        bad.write_bytes(data[:n])
        with pytest.raises(ModelFormatError, match="truncated"):
            read_spec(bad)
    spec = read_spec(src)
    assert spec.cfg.n_ctx == N_CTX and spec.scheme.name == "livesense-mrope4"


def test_unknown_or_foreign_file_is_refused(tmp_path):
    junk = tmp_path / "x.gguf"
    junk.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ModelFormatError):
        read_spec(junk)
    other = tmp_path / "x.bin"
    other.write_bytes(b"x")
    with pytest.raises(ModelFormatError, match="unknown model format"):
        read_spec(other)


def test_gguf_with_tied_embeddings(tmp_path):
    """No output.weight: llama.cpp reuses token_embd for the head, as the torch model does."""
    pytest.importorskip("gguf")
    pytest.importorskip("llama_cpp")
    from livesense.model.export.gguf_export import export_gguf

    model, spec, sess = tiny_model(train_steps=0, n_ctx=32, tie_embeddings=True)
    ref = model.logits(sess.ids[:32], sess.pos[:, :32])
    b = open_model(export_gguf(model, spec, tmp_path / "tied.gguf"), layout=spec.layout)
    _close(b.eval(sess.ids[:32], sess.pos[:, :32], all_logits=True), ref, 1e-4)


@pytest.mark.parametrize("kind", ["pt", "gguf", "onnx"])
def test_sequences_are_independent_and_truncate_exactly(tiny, files, onnx_files, kind):
    """Two sequences over one set of weights: sequence 1 fed a prefix, then tokens that are
    dropped again (``truncate``), then the rest, ends where sequence 0 fed straight ends."""
    _, spec, sess, ref = tiny
    path = {"pt": files[0]["pt"], "onnx": onnx_files["f32"]}.get(kind) or _gguf(files, "f32")
    b = open_model(path, layout=spec.layout, n_seq=2)
    ids, pos, n = sess.ids, sess.pos, 40
    b.use(0)
    straight = b.eval(ids[:n], pos[:, :n])
    b.use(1)
    assert b.eval(ids[:25], pos[:, :25], logits=False) is None
    b.eval(ids[25:31][::-1], pos[:, 25:31])  # a wrong continuation ...
    assert b.truncate(int(pos[0, 25])) == 6  # ... dropped
    again = b.eval(ids[25:n], pos[:, 25:n])
    _close(again, straight, 1e-4)
    _close(straight, ref[n - 1], 1e-4)
    b.use(0)  # sequence 0 was left alone: it goes on from where it was
    _close(b.eval(ids[n:n + 5], pos[:, n:n + 5]), ref[n + 4], 1e-4)
    with pytest.raises(ValueError, match="sequence 2"):
        b.use(2)


def test_prefix_cache_evaluates_only_what_a_sequence_lacks(tiny, files):
    from livesense.model.prefix import PrefixCache

    _, spec, sess, ref = tiny
    ids, pos = sess.ids, sess.pos
    for n_seq in (2, 1):  # one sequence for two slots: they evict each other, still right
        cache = PrefixCache(open_model(files[0]["pt"], layout=spec.layout, n_seq=n_seq))
        assert cache.sync(0, ids[:30], pos[:, :30], logits=False) is None and cache.fed == 30
        _close(cache.sync(0, ids[:40], pos[:, :40]), ref[39], 1e-4)
        assert cache.fed == 40, "only the 10 new tokens"
        _close(cache.sync(1, ids[:20], pos[:, :20]), ref[19], 1e-4)
        fed = cache.fed
        _close(cache.sync(0, ids[:40], pos[:, :40]), ref[39], 1e-4)  # held: its last token again
        assert cache.fed - fed == (1 if n_seq == 2 else 20)  # one sequence: it held the first 20 only
        seq = cache.slot(0)  # generation goes on in a slot and is remembered
        _close(seq.eval(ids[40:45], pos[:, 40:45]), ref[44], 1e-4)
        fed = cache.fed
        other = ids[30:36][::-1].copy()  # a prompt that differs from token 30 on
        cache.sync(0, np.concatenate([ids[:30], other]), np.asarray(pos[:, :36]))
        assert cache.fed - fed == 6
        _close(cache.sync(0, ids[:42], pos[:, :42]), ref[41], 1e-4)
