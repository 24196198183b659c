"""Reference model -> GGUF (llama.cpp ``qwen2vl`` architecture, M-RoPE) and quantization.

The file is a regular llama.cpp model: architecture ``qwen2vl`` (its graph is our
reference block without biases), ``rope.dimension_sections`` = our 4 sections, an empty
vocabulary (``tokenizer.ggml.model = "none"`` + ``vocab_size``: llama.cpp creates dummy
tokens; we never tokenize text with it), and our description under ``livesense.*``.

Requires ``pip install gguf`` (export) and ``llama-cpp-python`` (quantize).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from livesense.model.meta import ModelSpec, to_meta

log = logging.getLogger(__name__)

ARCH = "qwen2vl"

# llama_ftype values (llama.h) for the quantizations we ship/test
FTYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_k_m": 15, "q4_k_s": 14}


def _gguf():
    try:
        import gguf
    except ImportError as e:
        raise ImportError("GGUF export needs the gguf package: pip install gguf") from e
    return gguf


def tensor_map(model) -> dict[str, np.ndarray]:
    """llama.cpp tensor name -> float32 array (torch (out, in) order = ggml {in, out})."""
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    out = {"token_embd.weight": sd["embed.weight"], "output_norm.weight": sd["norm.weight"]}
    if "head.weight" in sd:
        out["output.weight"] = sd["head.weight"]
    names = {"attn_norm.weight": "attn_norm.weight", "attn.wq.weight": "attn_q.weight",
             "attn.wk.weight": "attn_k.weight", "attn.wv.weight": "attn_v.weight",
             "attn.wo.weight": "attn_output.weight", "ffn_norm.weight": "ffn_norm.weight",
             "w_gate.weight": "ffn_gate.weight", "w_up.weight": "ffn_up.weight",
             "w_down.weight": "ffn_down.weight"}
    for i in range(model.cfg.n_layer):
        for ours, theirs in names.items():
            out[f"blk.{i}.{theirs}"] = sd[f"blocks.{i}.{ours}"]
    return out


def export_gguf(model, spec: ModelSpec, path: str | Path) -> Path:
    """Write ``model`` as an F32 GGUF with the livesense.* description."""
    gguf = _gguf()
    cfg, path = spec.cfg, Path(path)
    w = gguf.GGUFWriter(str(path), ARCH)
    w.add_name("livesense-native")
    w.add_context_length(cfg.n_ctx)
    w.add_embedding_length(cfg.d_model)
    w.add_block_count(cfg.n_layer)
    w.add_feed_forward_length(cfg.d_ff)
    w.add_head_count(cfg.n_head)
    w.add_head_count_kv(cfg.n_kv_head)
    w.add_layer_norm_rms_eps(cfg.norm_eps)
    w.add_rope_freq_base(spec.scheme.rope_base)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_rope_dimension_sections(list(spec.scheme.sections))
    w.add_vocab_size(cfg.vocab_size)
    w.add_tokenizer_model("none")
    w.add_file_type(FTYPES["f32"])
    for k, v in to_meta(spec).items():
        (w.add_uint32 if isinstance(v, int) else w.add_string)(k, v)
    for name, arr in tensor_map(model).items():
        w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def quantize_gguf(src: str | Path, dst: str | Path, qtype: str = "q8_0", nthread: int = 1) -> Path:
    """``llama_model_quantize`` src -> dst (``q8_0``, ``q4_0``, ``q4_k_m``, ...). Norms stay
    F32; llama.cpp falls back to a compatible type for rows that are not a multiple of the
    block size (256 for K-quants), so tiny test models still quantize."""
    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError("quantizing needs llama-cpp-python: pip install llama-cpp-python==0.3.36") from e
    from livesense.model.backends.llama_backend import _Runtime

    _Runtime.init(llama_cpp)  # route llama.cpp's log lines to logging instead of stderr
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[qtype]
    params.nthread = nthread
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {qtype}) failed with code {rc}")
    return Path(dst)
