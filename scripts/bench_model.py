#!/usr/bin/env python
"""Tokens/s of the native model per backend x quantization at 1 thread, and real-time headroom.

Builds a randomly initialised model of the given size (speed does not depend on the
weights), exports it (GGUF F32/Q8_0/Q4_0[/Q4_K_M], ONNX FP32/int8, torch), prefills a
context of interleaved audio/image/text tokens, then times single-token decode steps —
the sequential case: every generated code depends on the previous one.

Counting: real time needs ``codec tokens_per_s`` = 100 generated audio tokens per second
(25 frames x 4 codebooks) while the agent speaks, so ``realtime_headroom = decode
tokens_per_s / 100``. Listening is cheaper per token (a frame's 4 codes, an image's 36
cells and text arrive together and are fed as one batch), so ``duplex_headroom`` also
charges 100 user-audio tokens + 36 image tokens (one keyframe) per second at the measured
prefill rate: 1 / (100/decode + 136/prefill).

    python scripts/bench_model.py                 # default size (d=256, 4 layers)
    python scripts/bench_model.py --quick         # fewer steps
    python scripts/bench_model.py --backends llama --quants q8_0,q4_0
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d-model", type=int, default=256, help="residual width")
    p.add_argument("--n-layer", type=int, default=4, help="decoder blocks")
    p.add_argument("--n-head", type=int, default=4, help="query heads")
    p.add_argument("--n-kv-head", type=int, default=2, help="key/value heads (GQA)")
    p.add_argument("--d-ff", type=int, default=768, help="SwiGLU hidden width")
    p.add_argument("--n-ctx", type=int, default=1024, help="KV ring length")
    p.add_argument("--prefill", type=int, default=512, help="context tokens fed before timing")
    p.add_argument("--steps", type=int, default=400, help="timed single-token decode steps")
    p.add_argument("--threads", type=int, default=1, help="threads per engine")
    p.add_argument("--backends", default="torch,onnx,llama", help="comma list: torch, onnx, llama")
    p.add_argument("--quants", default="", help="comma list to restrict quantizations (f32,int8,q8_0,q4_0,q4_k_m)")
    p.add_argument("--quick", action="store_true", help="100 steps, 256 prefill")
    p.add_argument("--out", default=None, help="keep exported files here (default: a temp dir)")
    return p.parse_args()


def build(args):
    import torch

    from livesense.model.config import ModelConfig
    from livesense.model.layout import default_layout
    from livesense.model.meta import ModelSpec
    from livesense.model.positions import PositionScheme
    from livesense.model.reference import build as build_model

    torch.set_num_threads(args.threads)
    layout = default_layout()
    cfg = ModelConfig(vocab_size=layout.vocab_size, d_model=args.d_model, n_layer=args.n_layer, n_head=args.n_head,
                      n_kv_head=args.n_kv_head, d_ff=args.d_ff, n_ctx=args.n_ctx)
    scheme = PositionScheme.for_head_dim(cfg.head_dim, tick_s=layout.frame_s)
    model = build_model(cfg, scheme, seed=0)
    return model, ModelSpec(cfg, layout, scheme)


def export_all(model, spec, d: Path, backends, quants):
    """[(backend, quant, opener)] for every available combination."""
    from livesense.model.backends.torch_backend import TorchBackend

    def want(q):
        return not quants or q in quants

    out = []
    if "torch" in backends and want("f32"):
        out.append(("torch", "f32", lambda: TorchBackend(model, spec)))
    if "onnx" in backends:
        out += _onnx(model, spec, d, want)
    if "llama" in backends:
        out += _llama(model, spec, d, want)
    return out


def _onnx(model, spec, d, want):
    try:
        from livesense.model.backends.onnx_backend import OnnxBackend
        from livesense.model.export.onnx_export import export_onnx, quantize_onnx_int8
        fp32 = export_onnx(model, spec, d / "m.onnx")
    except ImportError as e:
        logging.warning("onnx skipped: %s", e)
        return []
    rows = [("onnxruntime", "f32", lambda: OnnxBackend(fp32, spec))] if want("f32") else []
    if want("int8"):
        int8 = quantize_onnx_int8(fp32, d / "m.int8.onnx")
        rows.append(("onnxruntime", "int8", lambda: OnnxBackend(int8, spec)))
    return rows


def _llama(model, spec, d, want):
    try:
        import llama_cpp  # noqa: F401

        from livesense.model.backends.llama_backend import LlamaBackend
        from livesense.model.export.gguf_export import export_gguf, quantize_gguf
    except ImportError as e:
        logging.warning("llama.cpp skipped: %s", e)
        return []
    f32 = export_gguf(model, spec, d / "m.f32.gguf")
    qs = ["f32", "q8_0", "q4_0"] + (["q4_k_m"] if spec.cfg.d_model % 256 == 0 else [])
    rows = []
    for q in filter(want, qs):
        path = f32 if q == "f32" else quantize_gguf(f32, d / f"m.{q}.gguf", q)
        rows.append(("llama.cpp", q, lambda p=path: LlamaBackend(p, spec)))
    return rows


def stream(spec, n):
    """n ids/positions of an interleaved session (audio frames, a keyframe per second, text)."""
    from livesense.model.tiny import demo_session

    parts, idx = [], 0
    while idx < n:
        s = demo_session(spec.layout, spec.scheme, seed=len(parts), seconds=1.0)
        pos = s.pos.copy()
        pos[0] += idx
        pos[3] += 25 * len(parts)
        parts.append((s.ids, pos))
        idx += len(s.ids)
    ids = np.concatenate([p[0] for p in parts])[:n]
    return ids, np.concatenate([p[1] for p in parts], axis=1)[:, :n]


def measure(backend, spec, prefill: int, steps: int) -> dict:
    ids, pos = stream(spec, prefill + steps)
    t0 = time.perf_counter()
    for a in range(0, prefill, 64):
        backend.eval(ids[a:min(a + 64, prefill)], pos[:, a:min(a + 64, prefill)])
    t_pre = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(prefill, prefill + steps):
        backend.eval(ids[i:i + 1], pos[:, i:i + 1])
    t_dec = time.perf_counter() - t0
    return {"tokens_per_s": steps / t_dec, "prefill_tokens_per_s": prefill / t_pre}


def main():
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.steps, args.prefill = 100, 256
    backends = set(args.backends.split(","))
    quants = set(filter(None, args.quants.split(",")))
    model, spec = build(args)
    from livesense.codec.contract import CONTRACT

    rate = CONTRACT.tokens_per_s
    tmp = None if args.out else tempfile.TemporaryDirectory()
    d = Path(args.out or tmp.name)
    d.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"model: {spec.cfg.n_params() / 1e6:.2f}M params, {spec.cfg}")
    for name, quant, opener in export_all(model, spec, d, backends, quants):
        b = opener()
        r = measure(b, spec, args.prefill, args.steps)
        r.update(backend=name, quant=quant, realtime_headroom=r["tokens_per_s"] / rate,
                 duplex_headroom=1.0 / (rate / r["tokens_per_s"] + (rate + 36) / r["prefill_tokens_per_s"]))
        rows.append({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})
        print(f"{name:12s} {quant:7s} decode {r['tokens_per_s']:8.0f} tok/s  prefill {r['prefill_tokens_per_s']:8.0f}"
              f" tok/s  headroom {r['realtime_headroom']:5.1f}x  duplex {r['duplex_headroom']:5.1f}x")
        del b
    best = max((r["realtime_headroom"] for r in rows), default=0.0)
    print(json.dumps({"rows": rows, "best_headroom": best, "threads": args.threads, "token_rate": rate,
                      "params": spec.cfg.n_params(), "config": spec.cfg.as_dict()}))


if __name__ == "__main__":
    main()
