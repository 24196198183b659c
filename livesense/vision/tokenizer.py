"""Camera frame -> a small grid of discrete vision tokens.

Each grid cell gets a three-part product code:

* *colour* (k-means codebook over hue histograms, white fraction, brightness),
* *blob*: how many object-scale blob centres lie in the cell (0, 1, 2+; a fixed detector,
  no codebook) - counting becomes summing this part over the grid,
* *shape* (k-means codebook over a colour-invariant edge-orientation histogram + silhouette).

The token id is ``(colour * n_blob + blob) * n_shape + shape``: one token per cell,
vocabulary ``n_colour * n_blob * n_shape``. A model should embed a token as
``E_colour[c] + E_blob[b] + E_shape[s]`` (``split``) so that a colour it never saw on a
shape still comes with that shape's code - what makes held-out (colour, shape) pairs
answerable.

The contract (image size, grid, codebook sizes, feature parameters, version) is declared
once (``CONTRACT``), stored in the codebook file, and checked when the file is loaded,
together with the file's sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / "vision" / "vq_v1.npz"


@dataclass(frozen=True)
class TokenizerContract:
    version: int = 1  # bump when features or layout change: old codebooks are then refused
    image_w: int = 120  # frames are resized (INTER_AREA) to image_w x image_h first
    image_h: int = 96
    grid_w: int = 6  # one token per cell: grid_w * grid_h tokens per frame, row-major
    grid_h: int = 6
    n_colour: int = 16  # colour codebook size
    n_blob: int = 3  # blob centres per cell: 0, 1, 2 or more
    n_shape: int = 128  # shape codebook size (64 gave 0.92 shape accuracy, 128 gave 0.97)
    smooth: int = 3  # box filter (px) against sensor noise before features
    hue_bins: int = 12  # per saturation band (vivid, muted)
    overlap: int = 4  # HOG window extends this many px beyond its cell
    hog_sub: int = 2  # HOG sub-cells per side
    hog_bins: int = 8  # unsigned orientations
    sil: int = 4  # silhouette sub-cells per side
    hog_eps: float = 1.0  # contrast-normalisation floor: weak (noise) edges stay small
    blob_sigma: float = 5.0  # px; about half an object's radius: one blob centre per object
    blob_thr: float = 0.25  # smoothed salient fraction a blob centre must exceed

    @property
    def n_tokens(self) -> int:
        return self.grid_w * self.grid_h

    @property
    def vocab_size(self) -> int:
        return self.n_colour * self.n_blob * self.n_shape

    @property
    def colour_dim(self) -> int:
        return 2 * self.hue_bins + 2

    @property
    def shape_dim(self) -> int:
        return self.hog_sub**2 * self.hog_bins + self.sil**2


CONTRACT = TokenizerContract()


@dataclass(frozen=True)
class Codebook:
    contract: TokenizerContract
    colour_centres: np.ndarray  # (n_colour, colour_dim), in scaled feature space
    shape_centres: np.ndarray  # (n_shape, shape_dim)
    colour_scale: np.ndarray  # (colour_dim,) per-feature weights applied before lookup
    shape_scale: np.ndarray  # (shape_dim,)
    meta: str = "{}"  # JSON: how it was made (seed, scenes, ...)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_codebook(cb: Codebook, path: Path) -> str:
    """Write ``path`` (.npz) and ``path.sha256``; returns the digest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, contract=np.array(json.dumps(asdict(cb.contract), sort_keys=True)),
                 colour_centres=cb.colour_centres.astype(np.float32),
                 shape_centres=cb.shape_centres.astype(np.float32),
                 colour_scale=cb.colour_scale.astype(np.float32),
                 shape_scale=cb.shape_scale.astype(np.float32), meta=np.array(cb.meta))
    digest = sha256_of(path)
    Path(str(path) + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def load_codebook(path: Path | None = None, contract: TokenizerContract = CONTRACT) -> Codebook:
    """Load a codebook, refusing a file whose sha256 or contract does not match."""
    path = Path(path or DEFAULT_PATH)
    side = Path(str(path) + ".sha256")
    if not side.exists():
        raise ValueError(f"{path}: missing {side.name}; refusing an unverified codebook")
    want, got = side.read_text().split()[0], sha256_of(path)
    if want != got:
        raise ValueError(f"{path}: sha256 mismatch (file {got[:12]}..., expected {want[:12]}...)")
    with np.load(path) as z:
        stored = json.loads(str(z["contract"]))
        if stored != asdict(contract):
            raise ValueError(f"{path}: tokenizer contract mismatch: file has {stored}, code expects {asdict(contract)}")
        arrays = {k: z[k].astype(np.float64) for k in ("colour_centres", "shape_centres", "colour_scale", "shape_scale")}
        meta = str(z["meta"])
    return Codebook(contract=contract, meta=meta, **arrays)


def check_image(image) -> None:
    """Raise ValueError unless ``image`` is a non-empty RGB uint8 array (H, W, 3)."""
    ok = isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
    ok = ok and image.shape[2] == 3 and min(image.shape[:2]) >= 8
    if not ok:
        what = (f"dtype={image.dtype}, shape={image.shape}" if isinstance(image, np.ndarray)
                else f"type {type(image).__name__}")
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3) with H, W >= 8; got {what}")


def preprocess(image: np.ndarray, c: TokenizerContract = CONTRACT) -> np.ndarray:
    """RGB uint8 (any size) -> float32 (image_h, image_w, 3) in [0, 1], lightly smoothed."""
    import cv2

    check_image(image)
    x = cv2.resize(image, (c.image_w, c.image_h), interpolation=cv2.INTER_AREA)
    x = x.astype(np.float32) * np.float32(1 / 255)
    return cv2.blur(x, (c.smooth, c.smooth)) if c.smooth > 1 else x


def raw_features(work: np.ndarray, c: TokenizerContract = CONTRACT, ref: bool = False):
    """Preprocessed image -> colour (n_tokens, colour_dim), shape (n_tokens, shape_dim)
    descriptors and blob ids (n_tokens,) int32 in [0, n_blob)."""
    if ref:
        from livesense.vision import kernels_ref as k
    else:
        from livesense.vision import kernels as k
    lum_ref = float(np.median(work.mean(axis=2)))
    maps = k.pixel_maps(work, lum_ref)
    colour = k.cell_colour(maps, c.grid_h, c.grid_w, c.hue_bins)
    shape = k.cell_shape(maps, c.grid_h, c.grid_w, c.overlap, c.hog_sub, c.hog_bins, c.sil, c.hog_eps)
    peaks = k.blob_peaks(maps, c.grid_h, c.grid_w, c.blob_sigma, c.blob_thr)
    return colour, shape, np.minimum(peaks, c.n_blob - 1).astype(np.int32)


class VisionTokenizer:
    """Frame -> ``contract.n_tokens`` token ids in ``[0, contract.vocab_size)``."""

    def __init__(self, codebook: Codebook, ref: bool = False) -> None:
        self.codebook = codebook
        self.contract = codebook.contract
        self.ref = ref  # use the numpy twins (slow; for checks)

    @classmethod
    def load(cls, path: Path | None = None, ref: bool = False) -> "VisionTokenizer":
        return cls(load_codebook(path), ref=ref)

    def warmup(self) -> None:
        from livesense.vision import kernels

        kernels.warmup()
        self.encode(np.zeros((self.contract.image_h, self.contract.image_w, 3), np.uint8))

    def _nearest(self, x, centres):
        if self.ref:
            from livesense.vision.kernels_ref import nearest
        else:
            from livesense.vision.kernels import nearest
        return nearest(np.ascontiguousarray(x), centres)

    def encode_parts(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(colour, blob, shape) ids, each (n_tokens,) int32, row-major over the grid."""
        colour, shape, blob = raw_features(preprocess(image, self.contract), self.contract, self.ref)
        cb = self.codebook
        return (self._nearest(colour * cb.colour_scale, cb.colour_centres), blob,
                self._nearest(shape * cb.shape_scale, cb.shape_centres))

    def encode(self, image: np.ndarray) -> np.ndarray:
        return self.join(*self.encode_parts(image))

    def join(self, colour: np.ndarray, blob: np.ndarray, shape: np.ndarray) -> np.ndarray:
        c = self.contract
        return ((colour * c.n_blob + blob) * c.n_shape + shape).astype(np.int32)

    def split(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token ids -> (colour, blob, shape) ids."""
        ids, c = np.asarray(ids), self.contract
        return ids // (c.n_blob * c.n_shape), (ids // c.n_shape) % c.n_blob, ids % c.n_shape
