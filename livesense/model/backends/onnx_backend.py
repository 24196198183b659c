"""onnxruntime backend: FP32 or int8 ONNX graph, the KV ring in preallocated numpy.

Providers are explicit: CPU by default; ``device="cuda"`` asks for CUDA first and the
providers actually used are read back (``providers``) — onnxruntime-gpu silently falls
back to CPU when CUDA is unusable, so callers should look.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from livesense.model.backends.protocol import ChunkedBackend
from livesense.model.kvcache import RingSlots
from livesense.model.meta import ModelSpec

log = logging.getLogger(__name__)


def _ort():
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError("the ONNX backend needs onnxruntime: pip install onnxruntime-gpu==1.31.1 "
                          "(never also install the CPU 'onnxruntime' package: they overwrite each other)") from e
    return onnxruntime


class OnnxBackend(ChunkedBackend):
    name = "onnxruntime"

    def __init__(self, path: str | Path, spec: ModelSpec, device: str = "cpu", n_threads: int = 1,
                 max_chunk: int = 256, quant: str | None = None, n_seq: int = 1) -> None:
        ort = _ort()
        c = spec.cfg
        super().__init__(spec, c.n_ctx, max_chunk, n_seq)  # the graph's ring length is fixed at export
        self.quant = quant or ("int8" if "int8" in Path(path).name else "f32")
        so = ort.SessionOptions()
        so.intra_op_num_threads = n_threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        want = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), so, providers=want)
        self.providers = self.session.get_providers()
        if want[0] not in self.providers:
            log.warning("asked for %s, onnxruntime uses %s", want[0], self.providers)
        shape = (c.n_layer, 1, c.n_kv_head, self.n_ctx, c.head_dim)
        self._rings = [(np.zeros(shape, np.float32), np.zeros(shape, np.float32), RingSlots(self.n_ctx))
                       for _ in range(self.n_seq)]
        self.k, self.v, self.slots = self._rings[0]

    def _reset(self) -> None:
        self.slots.reset()

    def _select(self, seq: int) -> None:
        self.k, self.v, self.slots = self._rings[seq]

    def _truncate(self, idx: int, n: int) -> None:
        self.slots.rewind(n)

    def _run(self, ids, pos, want):
        slots, past = self.slots.plan(len(ids))
        cos, sin = self.spec.scheme.cos_sin(pos[None])
        logits, k, v = self.session.run(None, {
            "ids": ids[None], "cos": cos, "sin": sin, "past_k": self.k, "past_v": self.v, "past_mask": past})
        self.k[:, :, :, slots] = k
        self.v[:, :, :, slots] = v
        self.slots.commit(slots)
        return {"all": logits[0], "last": logits[0, -1:], "none": None}[want]
