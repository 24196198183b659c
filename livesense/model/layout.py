"""The token layout: one vocabulary for every modality, declared once.

The model reads and writes a single stream of integer ids. This module is the only place
that says which id means what; the exporters write :meth:`TokenLayout.as_dict` into the
model file and :func:`livesense.model.load.open_model` refuses a file whose layout was
built from another codec or vision contract (:meth:`TokenLayout.check_compatible`).

Id ranges, in this order (all contiguous, no gaps)::

    [control]  n_control ids: named control tokens (CONTROL_NAMES) + reserved slots
    [text]     text_vocab ids: byte-level text (id = text_base + byte)
    [audio]    one block per audio stream ("user", "agent"), each n_codebooks blocks of
               codebook_size ids: id = audio_base(stream) + k * codebook_size + code
    [image]    image_vocab ids from the vision tokenizer (one id per grid cell)

The user's and the agent's audio live in separate ranges so that, in full duplex, the
model always knows who is speaking, and the agent hears its own output codes in the same
stream. See models/FORMAT.md for the rationale.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

LAYOUT_VERSION = 1  # bump when the order of ranges or the meaning of control ids changes

CONTROL_NAMES: tuple[str, ...] = (
    "pad",  # filler for batched training; never attended to in inference
    "bos",  # start of a session
    "eos",  # end of a session
    "user",  # turn marker: the user starts a turn
    "agent",  # turn marker: the agent starts its reply
    "eou",  # end of utterance (the agent is done speaking)
    "silence",  # the agent stays silent for one audio frame (no codes this tick)
    "image",  # an image (grid of vision tokens) follows
    "image_end",  # the image grid is complete
    "text_end",  # end of the agent's text for this reply
)
N_CONTROL = 16  # slots reserved for control tokens: names can be added without moving ids


class LayoutMismatch(ValueError):
    """A model file was built for another token layout, codec or vision contract."""


@dataclass(frozen=True)
class TokenLayout:
    codec: dict  # FrameContract.as_dict() of the audio codec the audio ids come from
    vision: dict  # vision TokenizerContract fields + name: what the image ids mean
    text_vocab: int = 256  # byte-level text
    audio_streams: tuple[str, ...] = ("user", "agent")  # one audio id block per speaker
    n_control: int = N_CONTROL
    control_names: tuple[str, ...] = CONTROL_NAMES
    version: int = LAYOUT_VERSION
    text_kind: str = "bytes"  # how text ids are made: "bytes" (id = byte value)

    def __post_init__(self) -> None:
        if len(self.control_names) > self.n_control:
            raise ValueError(f"{len(self.control_names)} control names but {self.n_control} slots")

    # --- sizes from the contracts -------------------------------------------------------
    @property
    def n_codebooks(self) -> int:
        return int(self.codec["n_codebooks"])

    @property
    def codebook_size(self) -> int:
        return int(self.codec["codebook_size"])

    @property
    def image_vocab(self) -> int:
        return int(self.vision["vocab_size"])

    @property
    def image_grid(self) -> tuple[int, int]:
        """(rows, cols) of the vision token grid, tokens in row-major order."""
        return int(self.vision["grid_h"]), int(self.vision["grid_w"])

    @property
    def frame_s(self) -> float:
        """Duration of one audio code frame: the tick of the shared time axis."""
        return float(self.codec["frame_size"]) / float(self.codec["sample_rate"])

    # --- ranges ---------------------------------------------------------------------
    @property
    def text_base(self) -> int:
        return self.n_control

    @property
    def audio_block(self) -> int:
        return self.n_codebooks * self.codebook_size

    def audio_base(self, stream: str = "agent") -> int:
        return self.text_base + self.text_vocab + self.audio_streams.index(stream) * self.audio_block

    @property
    def image_base(self) -> int:
        return self.text_base + self.text_vocab + len(self.audio_streams) * self.audio_block

    @property
    def vocab_size(self) -> int:
        return self.image_base + self.image_vocab

    def ranges(self) -> dict[str, tuple[int, int]]:
        """Half-open [lo, hi) id range of every block, for docs, masks and metadata."""
        out = {"control": (0, self.n_control), "text": (self.text_base, self.text_base + self.text_vocab)}
        for s in self.audio_streams:
            for k in range(self.n_codebooks):
                lo = self.audio_base(s) + k * self.codebook_size
                out[f"audio.{s}.{k}"] = (lo, lo + self.codebook_size)
        out["image"] = (self.image_base, self.vocab_size)
        return out

    # --- id conversions ---------------------------------------------------------------
    def control(self, name: str) -> int:
        return self.control_names.index(name)

    def text_ids(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64) + self.text_base

    def text_of(self, ids) -> str:
        b = [int(i) - self.text_base for i in ids if self.text_base <= int(i) < self.text_base + self.text_vocab]
        return bytes(b).decode("utf-8", errors="replace")

    def audio_ids(self, codes: np.ndarray, stream: str = "user") -> np.ndarray:
        """(n_frames, n_codebooks) codes -> ids, frame-major (frame 0 code 0..K-1, ...)."""
        codes = np.asarray(codes, dtype=np.int64).reshape(-1, self.n_codebooks)
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"audio codes must lie in [0, {self.codebook_size})")
        offs = self.audio_base(stream) + np.arange(self.n_codebooks) * self.codebook_size
        return (codes + offs).reshape(-1)

    def audio_codes(self, ids, stream: str = "agent") -> np.ndarray:
        """Inverse of :meth:`audio_ids` for whole frames of one stream."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, self.n_codebooks)
        offs = self.audio_base(stream) + np.arange(self.n_codebooks) * self.codebook_size
        codes = ids - offs
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError("ids are not whole audio frames of stream " + stream)
        return codes

    def image_ids(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.image_vocab):
            raise ValueError(f"image tokens must lie in [0, {self.image_vocab})")
        return tokens + self.image_base

    def ids_of(self, kind: str, raw, stream: str = "user") -> np.ndarray:
        """Raw modality tokens (a ``frames.Tokens`` payload: codec codes (n, n_codebooks),
        vision tokenizer ids, text as str or bytes) -> ids of this layout."""
        if kind == "audio":
            return self.audio_ids(raw, stream)
        if kind == "image":
            return self.image_ids(raw)
        if kind == "text":
            data = raw.encode("utf-8") if isinstance(raw, str) else bytes(np.asarray(raw, np.uint8))
            return np.frombuffer(data, np.uint8).astype(np.int64) + self.text_base
        if kind == "control":
            return np.array([self.control(raw)] if isinstance(raw, str) else raw, dtype=np.int64)
        raise ValueError(f"unknown token kind {kind!r}")

    def kind_of(self, i: int) -> str:
        """'control', 'text', 'audio.<stream>.<k>' or 'image' for one id."""
        for name, (lo, hi) in self.ranges().items():
            if lo <= i < hi:
                return name
        raise ValueError(f"id {i} outside the vocabulary [0, {self.vocab_size})")

    def mask(self, *names: str) -> np.ndarray:
        """Boolean (vocab,) mask allowing the named ranges (keys of :meth:`ranges`) and
        control names, e.g. ``mask("audio.agent.0", "eou")``."""
        m = np.zeros(self.vocab_size, dtype=bool)
        rng = self.ranges()
        for n in names:
            if n in rng:
                lo, hi = rng[n]
                m[lo:hi] = True
            elif n in self.control_names:
                m[self.control(n)] = True
            else:
                raise KeyError(f"unknown range or control token {n!r}; ranges: {list(rng)}")
        return m

    # --- metadata --------------------------------------------------------------------
    def as_dict(self) -> dict:
        d = asdict(self)
        d["audio_streams"] = list(self.audio_streams)
        d["control_names"] = list(self.control_names)
        d["vocab_size"] = self.vocab_size  # redundant, lets a reader check arithmetic
        return d

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "TokenLayout":
        d = dict(d)
        vocab = d.pop("vocab_size", None)
        d["audio_streams"] = tuple(d["audio_streams"])
        d["control_names"] = tuple(d["control_names"])
        lay = cls(**d)
        if vocab is not None and int(vocab) != lay.vocab_size:
            raise LayoutMismatch(f"layout says vocab_size={vocab} but its ranges add up to {lay.vocab_size}")
        return lay

    @classmethod
    def from_json(cls, s: str) -> "TokenLayout":
        return cls.from_dict(json.loads(s))

    def check_compatible(self, other: "TokenLayout", what: str = "model file") -> None:
        """Raise :class:`LayoutMismatch` naming every difference between ``other`` (what a
        file declares) and ``self`` (what the running codec/vision tokenizer produce)."""
        diffs = []
        for key, mine in self.as_dict().items():
            theirs = other.as_dict().get(key)
            if key in ("codec", "vision"):
                diffs += [f"{key}.{k}: {what} has {theirs.get(k)!r}, in use {v!r}"
                          for k, v in mine.items() if _norm(theirs.get(k)) != _norm(v)]
                diffs += [f"{key}.{k}: {what} has {theirs[k]!r}, in use has no such field"
                          for k in theirs if k not in mine]
            elif _norm(theirs) != _norm(mine):
                diffs.append(f"{key}: {what} has {theirs!r}, in use {mine!r}")
        if diffs:
            raise LayoutMismatch(
                f"{what} was built for another token layout / codec / vision contract: "
                + "; ".join(diffs)
                + ". Re-export the model for the codec in use, or run with the codec it was trained for."
            )


def _norm(v):
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, bool):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def codec_contract_dict() -> dict:
    """The LSC-1 contract in use (livesense.codec.contract)."""
    from livesense.codec.contract import CONTRACT

    return CONTRACT.as_dict()


def vision_contract_dict() -> dict:
    """The vision tokenizer contract in use, with the derived sizes the layout needs."""
    from livesense.vision.tokenizer import CONTRACT

    return {"name": "livesense-vq", **asdict(CONTRACT), "vocab_size": CONTRACT.vocab_size}


def default_layout(**overrides) -> TokenLayout:
    """The layout built from the codec and vision contracts this installation uses."""
    return TokenLayout(codec=codec_contract_dict(), vision=vision_contract_dict(), **overrides)
