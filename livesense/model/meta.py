"""The description every LiveSense model file carries (GGUF keys, ONNX metadata_props,
the torch checkpoint dict): one flat ``{key: str|int}`` map under ``livesense.``.

Nested things (layout, contracts, positional scheme, dims) are JSON strings so that all
three formats share one parser; a few scalars are repeated as typed keys for tools that
list GGUF metadata (``gguf-dump``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from livesense.errors import LiveSenseError
from livesense.model.config import ModelConfig
from livesense.model.layout import TokenLayout
from livesense.model.positions import PositionScheme

FORMAT_VERSION = 1  # bump when the meaning of these keys changes
PREFIX = "livesense."


class ModelFormatError(LiveSenseError):
    """A model file is missing, truncated, corrupt, or not a LiveSense model."""


@dataclass(frozen=True)
class ModelSpec:
    """What a model file says about itself."""

    cfg: ModelConfig
    layout: TokenLayout
    scheme: PositionScheme


def to_meta(spec: ModelSpec) -> dict[str, str | int]:
    codec = spec.layout.codec
    return {
        "livesense.format_version": FORMAT_VERSION,
        "livesense.model": spec.cfg.to_json(),
        "livesense.layout": spec.layout.to_json(),
        "livesense.positions": spec.scheme.to_json(),
        "livesense.positions.scheme": spec.scheme.name,
        "livesense.codec.name": str(codec.get("codec")),
        "livesense.codec.version": int(codec.get("version", 0)),
        "livesense.codec.contract": json.dumps(codec, sort_keys=True),
        "livesense.vision.contract": json.dumps(spec.layout.vision, sort_keys=True),
        "livesense.vocab_size": spec.layout.vocab_size,
        "livesense.d_model": spec.cfg.d_model,
        "livesense.n_layer": spec.cfg.n_layer,
    }


def from_meta(meta: dict, what: str = "model file") -> ModelSpec:
    if "livesense.model" not in meta:
        raise ModelFormatError(f"{what} has no livesense.* metadata: not a LiveSense model")
    version = int(meta.get("livesense.format_version", -1))
    if version != FORMAT_VERSION:
        raise ModelFormatError(f"{what} has format_version {version}; this build reads {FORMAT_VERSION}")
    try:
        cfg = ModelConfig.from_dict(json.loads(meta["livesense.model"]))
        layout = TokenLayout.from_json(meta["livesense.layout"])
        scheme = PositionScheme.from_dict(json.loads(meta["livesense.positions"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFormatError(f"{what} has unreadable livesense.* metadata: {e}") from e
    if cfg.vocab_size != layout.vocab_size:
        raise ModelFormatError(f"{what}: model vocab {cfg.vocab_size} != layout vocab {layout.vocab_size}")
    return ModelSpec(cfg, layout, scheme)
