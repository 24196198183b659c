"""Open a model file: read its livesense.* description first, refuse what does not fit.

``open_model(path)`` picks the backend from the extension (``.gguf`` llama.cpp, ``.onnx``
onnxruntime, ``.pt`` torch), checks that the file is complete and that its token layout
was built from the codec and vision contracts in use, and only then loads weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

from livesense.model.layout import LayoutMismatch, TokenLayout
from livesense.model.meta import ModelFormatError, ModelSpec, from_meta

log = logging.getLogger(__name__)


def read_spec(path: str | Path) -> ModelSpec:
    """The ModelSpec a file declares (raises ModelFormatError if it is unreadable)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"model file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".gguf":
        return from_meta(_gguf_meta(path), str(path))
    if suffix == ".onnx":
        return from_meta(_onnx_meta(path), str(path))
    if suffix == ".pt":
        return from_meta(_torch_meta(path), str(path))
    raise ModelFormatError(f"{path}: unknown model format {suffix!r} (.gguf, .onnx or .pt)")


def _gguf_meta(path: Path) -> dict:
    try:
        import gguf
    except ImportError as e:
        raise ImportError("reading GGUF files needs: pip install gguf") from e
    size = path.stat().st_size
    try:
        r = gguf.GGUFReader(str(path))
    except Exception as e:  # gguf raises ValueError/IndexError/struct errors on short files
        raise ModelFormatError(f"{path} is not a readable GGUF ({size} bytes; truncated or corrupt?): {e}") from e
    end = max((int(t.data_offset) + int(t.n_bytes) for t in r.tensors), default=0)
    if end > size:
        raise ModelFormatError(f"{path} is truncated: tensor data ends at byte {end}, file has {size}")
    meta = {}
    for name, field in r.fields.items():
        if name.startswith("livesense."):
            v = field.contents()
            meta[name] = v
    return meta


def _onnx_meta(path: Path) -> dict:
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            m = onnx.load(str(path), load_external_data=False)
        except Exception as e:
            raise ModelFormatError(f"{path} is not a readable ONNX model (truncated or corrupt?): {e}") from e
        return {p.key: p.value for p in m.metadata_props}
    from livesense.model.backends.onnx_backend import _ort

    ort = _ort()
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ModelFormatError(f"{path} is not a readable ONNX model: {e}") from e
    return dict(sess.get_modelmeta().custom_metadata_map)


def _torch_meta(path: Path) -> dict:
    from livesense.model.backends.torch_backend import _torch

    torch = _torch()
    try:
        ck = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelFormatError(f"{path} is not a readable torch checkpoint: {e}") from e
    return ck.get("meta", {})


def check_spec(spec: ModelSpec, layout: TokenLayout | None, what: str) -> None:
    """Refuse a file whose token layout / codec / vision contract differs from ``layout``
    (default: the layout built from the installed codec and vision tokenizer)."""
    if layout is None:
        from livesense.model.layout import default_layout

        layout = default_layout()
    layout.check_compatible(spec.layout, what)


def open_model(path: str | Path, layout: TokenLayout | None = None, **backend_kw):
    """Check, then load ``path`` into the backend its extension calls for."""
    path = Path(path)
    spec = read_spec(path)
    check_spec(spec, layout, str(path))
    suffix = path.suffix.lower()
    if suffix == ".gguf":
        from livesense.model.backends.llama_backend import LlamaBackend

        return LlamaBackend(path, spec, **backend_kw)
    if suffix == ".onnx":
        from livesense.model.backends.onnx_backend import OnnxBackend

        return OnnxBackend(path, spec, **backend_kw)
    from livesense.model.backends.torch_backend import TorchBackend

    return TorchBackend.load(path, spec, **backend_kw)


__all__ = ["LayoutMismatch", "ModelFormatError", "check_spec", "open_model", "read_spec"]
