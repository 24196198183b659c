"""llama.cpp backend through llama-cpp-python's low-level API (no high-level ``Llama``).

The model is a ``qwen2vl``-architecture GGUF (M-RoPE, 4 position sections). llama.cpp
takes 4-section positions only for *embedding* batches: a token-id batch gets its 1-D
position copied into the first three sections (and 0 in the fourth) —
``llm_graph_input_pos::set_input``. So this backend looks token embeddings up itself
(the GGUF's ``token_embd`` table, dequantized once with gguf-py: the same rows llama.cpp's
``get_rows`` would produce) and feeds ``llama_batch.embd`` with ``pos`` laid out
section-major, ``n_tokens × 4`` (``pos[j*T + i]``). Logits are read per token with
``llama_get_logits`` (all flagged outputs, in batch order).

The ring: before a chunk that would overflow ``n_ctx``, the oldest positions are
removed with ``llama_memory_seq_rm`` — the same set the torch/onnx rings overwrite.
M-RoPE caches cannot be shifted (``seq_add`` asserts), so positions keep growing.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import numpy as np

from livesense.model.backends.protocol import ChunkedBackend
from livesense.model.meta import ModelFormatError, ModelSpec

log = logging.getLogger(__name__)

GGML_TYPE_F32 = 0
_QUANT_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 7: "q8_0", 14: "q4_k_s", 15: "q4_k_m"}


def _llama():
    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError("the llama.cpp backend needs llama-cpp-python: "
                          'CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install llama-cpp-python==0.3.36') from e
    return llama_cpp


class _Runtime:
    """llama_backend_init once per process, and a log sink that keeps stderr quiet."""

    ready = False
    sink = None

    @classmethod
    def init(cls, lc) -> None:
        if cls.ready:
            return
        lc.llama_backend_init()
        cls.sink = lc.llama_log_callback(lambda level, text, user: _route(level, text))
        lc.llama_log_set(cls.sink, ctypes.c_void_p(0))
        cls.ready = True


def _route(level: int, text: bytes) -> None:
    # ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 cont
    if text and level in (3, 4):
        (log.error if level == 4 else log.debug)(text.decode(errors="replace").rstrip())


def read_token_embd(path: str | Path) -> np.ndarray:
    """(vocab, d_model) float32 token embedding table of a GGUF, dequantized."""
    try:
        import gguf
        from gguf.quants import dequantize
    except ImportError as e:
        raise ImportError("the llama.cpp backend needs gguf to read embeddings: pip install gguf") from e
    r = gguf.GGUFReader(str(path))
    t = next((t for t in r.tensors if t.name == "token_embd.weight"), None)
    if t is None:
        raise ModelFormatError(f"{path} has no token_embd.weight tensor")
    return np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1, int(t.shape[0]))


class LlamaBackend(ChunkedBackend):
    name = "llama.cpp"

    def __init__(self, path: str | Path, spec: ModelSpec, n_ctx: int | None = None, n_threads: int = 1,
                 max_chunk: int = 256, flash_attn: bool = False, n_seq: int = 1) -> None:
        lc = self._lc = _llama()
        _Runtime.init(lc)
        cfg = spec.cfg
        super().__init__(spec, n_ctx or cfg.n_ctx, max_chunk, n_seq)
        mp = lc.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = lc.llama_model_load_from_file(str(path).encode(), mp)
        if not self.model:
            raise ModelFormatError(f"llama.cpp could not load {path} (corrupt or truncated GGUF?)")
        self.quant = _QUANT_NAMES.get(lc.llama_model_ftype(self.model), str(lc.llama_model_ftype(self.model))) \
            if hasattr(lc, "llama_model_ftype") else "?"
        cp = lc.llama_context_default_params()
        cp.n_ctx = self.n_ctx * self.n_seq  # split evenly: each sequence gets its own n_ctx cells
        cp.n_batch = cp.n_ubatch = self.max_chunk
        cp.n_seq_max = self.n_seq
        cp.kv_unified = False
        cp.n_threads = cp.n_threads_batch = n_threads
        cp.type_k = cp.type_v = GGML_TYPE_F32  # F16 cache would cost parity for ~nothing at this size
        cp.flash_attn_type = 1 if flash_attn else 0
        cp.no_perf = True
        self.ctx = lc.llama_init_from_model(self.model, cp)
        if not self.ctx:
            lc.llama_model_free(self.model)
            raise RuntimeError("llama_init_from_model failed")
        self.mem = lc.llama_get_memory(self.ctx)
        self.table = read_token_embd(path)
        if self.table.shape != (cfg.vocab_size, cfg.d_model):
            raise ModelFormatError(f"token_embd is {self.table.shape}, metadata says {(cfg.vocab_size, cfg.d_model)}")
        self._alloc_batch(self.max_chunk, cfg.d_model)

    def _alloc_batch(self, n: int, d: int) -> None:
        lc = self._lc
        self._embd = np.zeros(n * d, np.float32)
        self._pos = np.zeros(4 * n, np.int32)
        self._nseq = np.ones(n, np.int32)
        self._seq0 = (lc.llama_seq_id * 1)(0)
        self._seqp = (ctypes.POINTER(lc.llama_seq_id) * n)(*([ctypes.cast(self._seq0, ctypes.POINTER(lc.llama_seq_id))] * n))
        self._out = np.zeros(n, np.int8)
        P = ctypes.POINTER
        self._batch = lc.llama_batch(
            n_tokens=0, token=P(lc.llama_token)(), embd=self._embd.ctypes.data_as(P(ctypes.c_float)),
            pos=self._pos.ctypes.data_as(P(lc.llama_pos)), n_seq_id=self._nseq.ctypes.data_as(P(ctypes.c_int32)),
            seq_id=ctypes.cast(self._seqp, P(P(lc.llama_seq_id))), logits=self._out.ctypes.data_as(P(ctypes.c_int8)))

    def _reset(self) -> None:
        if self.n_seq == 1:
            self._lc.llama_memory_clear(self.mem, True)
        elif not self._lc.llama_memory_seq_rm(self.mem, self.seq, -1, -1):
            raise RuntimeError(f"llama_memory_seq_rm refused to clear sequence {self.seq}")

    def _select(self, seq: int) -> None:
        self._seq0[0] = seq  # every token of the next batches belongs to this sequence

    def _truncate(self, idx: int, n: int) -> None:
        if not self._lc.llama_memory_seq_rm(self.mem, self.seq, idx, -1):
            raise RuntimeError(f"llama_memory_seq_rm refused to drop positions {idx}.. of sequence {self.seq}")

    def _evict(self, n_new: int) -> None:
        held = self._held[self.seq]
        extra = len(held) + n_new - self.n_ctx
        if extra <= 0:
            return
        hi = held[extra] if extra < len(held) else held[-1] + 1
        if not self._lc.llama_memory_seq_rm(self.mem, self.seq, held[0], hi):
            raise RuntimeError("llama_memory_seq_rm refused to evict the oldest entries")
        for _ in range(min(extra, len(held))):
            held.popleft()

    def _run(self, ids, pos, want):
        t, d = len(ids), self.spec.cfg.d_model
        self._evict(t)
        self._embd[: t * d] = self.table[ids].reshape(-1)
        self._pos[: 4 * t] = pos.reshape(-1)  # (4,T) row-major == section-major pos[j*T+i]
        self._out[:t] = 1 if want == "all" else 0
        if want == "last":
            self._out[t - 1] = 1
        self._batch.n_tokens = t
        rc = self._lc.llama_decode(self.ctx, self._batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc}")
        if want == "none":
            return None
        n_out = t if want == "all" else 1
        ptr = self._lc.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.spec.cfg.vocab_size)).copy()

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self._lc.llama_free(self.ctx)
            self.ctx = None
        if getattr(self, "model", None):
            self._lc.llama_model_free(self.model)
            self.model = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
