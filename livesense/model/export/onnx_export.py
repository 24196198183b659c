"""Reference model -> ONNX (dynamo exporter, dynamic chunk length) and int8.

Graph signature (batch 1, ``P`` = the ring length ``n_ctx`` fixed, ``T`` dynamic)::

    ids (1,T) int64, cos (1,T,half) f32, sin (1,T,half) f32,
    past_k (L,1,Hkv,P,hd) f32, past_v (L,1,Hkv,P,hd) f32, past_mask (P,) bool
      -> logits (1,T,V), k_new (L,1,Hkv,T,hd), v_new (L,1,Hkv,T,hd)

The ring itself lives in the backend (numpy, preallocated); the graph only reads it.
cos/sin come from ``PositionScheme.cos_sin`` — the one implementation of the angles.
Requires ``pip install onnx onnxscript`` (export) and onnxruntime (int8).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from livesense.model.meta import ModelSpec, to_meta

log = logging.getLogger(__name__)

INPUTS = ["ids", "cos", "sin", "past_k", "past_v", "past_mask"]
OUTPUTS = ["logits", "k_new", "v_new"]


def _example(model, t: int = 3):
    import torch

    c = model.cfg
    p = c.n_ctx
    return (torch.zeros(1, t, dtype=torch.long), torch.ones(1, t, model.scheme.half),
            torch.zeros(1, t, model.scheme.half), torch.zeros(c.n_layer, 1, c.n_kv_head, p, c.head_dim),
            torch.zeros(c.n_layer, 1, c.n_kv_head, p, c.head_dim), torch.zeros(p, dtype=torch.bool))


def export_onnx(model, spec: ModelSpec, path: str | Path) -> Path:
    """Write an FP32 ONNX model with livesense.* metadata_props."""
    try:
        import onnx
        import torch
    except ImportError as e:
        raise ImportError("ONNX export needs: pip install onnx onnxscript (and torch)") from e
    path = Path(path)
    t = torch.export.Dim("T", min=1, max=spec.cfg.n_ctx)
    dyn = {"ids": {1: t}, "cos": {1: t}, "sin": {1: t}, "past_k": None, "past_v": None, "past_mask": None}
    with warnings.catch_warnings():  # exporter chatter (deprecated pytree API, axis renames)
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(model.eval(), _example(model), dynamo=True, input_names=INPUTS,
                                 output_names=OUTPUTS, dynamic_shapes=dyn, optimize=True, verbose=False)
    prog.save(str(path))
    m = onnx.load(str(path))
    _set_meta(m, spec)
    onnx.save(m, str(path))
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def _set_meta(m, spec: ModelSpec) -> None:
    del m.metadata_props[:]
    for k, v in to_meta(spec).items():
        p = m.metadata_props.add()
        p.key, p.value = k, str(v)


def quantize_onnx_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 (weights int8 per channel, activations quantized on the fly) of the
    MatMul/Gather weights; the livesense.* metadata is carried over."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"])
    m, q = onnx.load(str(src), load_external_data=False), onnx.load(str(dst))
    del q.metadata_props[:]
    q.metadata_props.extend(m.metadata_props)
    onnx.save(q, str(dst))
    return Path(dst)
