"""LSC-1 public API: streaming encoder/decoder of token ids and the :class:`LSC1Codec` facade.

    codec = LSC1Codec.load()                 # shipped codebooks, sha256 + contract checked
    codes = codec.encode(x)                  # (n_frames, 4) int32 ids, x: float PCM 16 kHz
    y = codec.decode(codes)                  # float32 PCM aligned with x

Streaming: ``enc = codec.encoder(); dec = codec.decoder()`` then ``enc.step(chunk)`` and
``dec.step(codes)`` per whole frame(s); the decoder's stream lags by ``contract.delay``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from livesense.codec import kernels as K
from livesense.codec.contract import CONTRACT, FrameContract
from livesense.codec.features import Normalizer
from livesense.codec.rvq import context_rows
from livesense.codec.stream import FeatureDecoder, FeatureEncoder
from livesense.codec.transform import EnvelopeTransform

log = logging.getLogger(__name__)

BLOCK_FRAMES = 32  # one-shot calls run in blocks of this many frames (cache-friendly)
DEFAULT_CODEBOOKS = Path(__file__).resolve().parents[2] / "models" / "lsc1" / "lsc1_codebooks.npz"


def check_codes(codes, c: FrameContract) -> np.ndarray:
    """Validate ids: integer (n_frames, n_codebooks), each in [0, codebook_size)."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers (int32 ids), got dtype {codes.dtype}")
    if codes.ndim != 2 or codes.shape[1] != c.n_codebooks:
        raise ValueError(f"codes must have shape (n_frames, {c.n_codebooks}), got {codes.shape}: "
                         "pass whole frames, the caller buffers partial ones")
    if codes.size and (codes.min() < 0 or codes.max() >= c.codebook_size):
        raise ValueError(f"code ids must lie in [0, {c.codebook_size}), "
                         f"got min {codes.min()} max {codes.max()}")
    return np.ascontiguousarray(codes, dtype=np.int32)


class StreamingEncoder:
    """PCM chunk (whole frames) -> code ids (n_frames, n_codebooks) int32.

    With a learned envelope transform the envelope's encoder also reads the frame before,
    so the encoder keeps the last frame's envelope and the last two quantized latents
    (state, cleared by ``reset``).
    """

    def __init__(self, books: np.ndarray, norm: Normalizer, contract: FrameContract = CONTRACT,
                 transform: EnvelopeTransform | None = None, pitch: str = "autocorr"):
        self.c, self.books, self.norm, self.tf = contract, books, norm, transform
        self._active = K.active_dims(books)
        self._norms = K.book_norms(books, self._active)
        self._feat = FeatureEncoder(contract, pitch)
        self._env = np.zeros(contract.n_sub * contract.n_mel, np.float32)
        self._latents = np.zeros((2, transform.lat if transform else 0), np.float32)

    def reset(self) -> None:
        self._feat.reset()
        self._env[:] = 0.0
        self._latents[:] = 0.0

    def step(self, chunk) -> np.ndarray:
        return self.quantize(self.features(chunk))

    def features(self, chunk) -> np.ndarray:
        """The analysis half of ``step``: PCM (whole frames) -> feature vectors (n, dim)."""
        return self._feat.step(chunk)

    def quantize(self, feats: np.ndarray) -> np.ndarray:
        """The search half of ``step``: feature vectors -> code ids (n, n_codebooks). Plain
        codebooks keep no state here; a learned transform carries the last envelope row and
        the last two quantized latents."""
        z = self.norm.forward(feats)
        if self.tf is None:
            return K.rvq_search(z, self.books, self._active, self._norms)
        m = self.c.n_sub * self.c.n_mel
        codes = np.empty((len(z), self.c.n_codebooks), np.int32)
        codes[:, :1] = K.rvq_search(z, self.books, self._active, self._norms)
        codes[:, 1:], self._latents = self.tf.encode(z[:, :m], self._env, self._latents)
        if len(z):
            self._env[:] = z[-1, :m]
        return codes


class StreamingDecoder:
    """Code ids (whole frames) -> PCM, ``frame_size`` samples per frame, ``delay`` late.

    With a context decoder (``post``), a frame's features are regressed from its own and
    the previous frame's codewords; the previous codeword sum is the state kept here.
    """

    def __init__(self, books: np.ndarray, norm: Normalizer, contract: FrameContract = CONTRACT,
                 post: np.ndarray | None = None, transform: EnvelopeTransform | None = None):
        self.c, self.books, self.norm, self.post, self.tf = contract, books, norm, post, transform
        self._feat = FeatureDecoder(contract)
        lo, hi = _feature_bounds(norm, contract)
        self._lo, self._hi = lo, hi
        self._prev = np.zeros(contract.dim, np.float32)
        self._latents = np.zeros((2, transform.lat if transform else 0), np.float32)

    def reset(self) -> None:
        self._feat.reset()
        self._prev[:] = 0.0
        self._latents[:] = 0.0

    def step(self, codes) -> np.ndarray:
        return self._feat.step(self.features(codes))

    def features(self, codes) -> np.ndarray:
        """The decoding half of ``step`` (advances the same state): ids -> the feature
        vectors the vocoder is given, clipped to physical bounds."""
        codes = check_codes(codes, self.c)
        n_plain = self.books.shape[0]
        q = K.rvq_decode(np.ascontiguousarray(codes[:, :n_plain]), self.books)
        if self.tf is not None and len(q):
            env, self._latents = self.tf.decode(np.ascontiguousarray(codes[:, n_plain:]), self._latents)
            q[:, : env.shape[1]] = env
        if self.post is not None and len(q):
            rows = context_rows(q, self._prev)
            self._prev[:] = q[-1]
            q = rows @ self.post
        return np.clip(self.norm.inverse(q), self._lo, self._hi)


def _feature_bounds(norm: Normalizer, c: FrameContract):
    """Physical limits on decoded features (any ids -> bounded audio)."""
    lo = np.full(c.dim, np.log(1e-10), np.float32)
    hi = np.full(c.dim, np.log(4.0), np.float32)  # band power at most ~ full-scale square
    m = c.n_sub * c.n_mel
    lo[m: m + c.n_sub], hi[m: m + c.n_sub] = np.log2(c.f0_min), np.log2(c.f0_max)
    lo[m + c.n_sub:], hi[m + c.n_sub:] = 0.0, 1.0
    return lo, hi


class LSC1Codec:
    """Codebooks + contract; makes streaming encoders/decoders and does one-shot calls."""

    def __init__(self, books: np.ndarray, norm: Normalizer, contract: FrameContract = CONTRACT,
                 meta: dict | None = None, post: np.ndarray | None = None,
                 transform: EnvelopeTransform | None = None):
        self.c, self.books, self.norm, self.meta, self.post = contract, books, norm, meta or {}, post
        self.transform = transform
        self.sha256 = self.meta.get("sha256")  # of the file loaded (None when built in code)
        self.pitch = self.meta.get("pitch", "autocorr")  # the pitch analysis the codebooks were trained on

    @classmethod
    def load(cls, path: str | Path | None = None, contract: FrameContract = CONTRACT,
             warmup: bool = True) -> "LSC1Codec":
        from livesense.codec.rvq import load_codebooks

        books, norm, meta = load_codebooks(Path(path or DEFAULT_CODEBOOKS), contract)
        if warmup:
            K.warmup()
        return cls(books, norm, contract, meta, meta.pop("post"), meta.pop("transform"))

    def encoder(self) -> StreamingEncoder:
        return StreamingEncoder(self.books, self.norm, self.c, self.transform, self.pitch)

    def decoder(self) -> StreamingDecoder:
        return StreamingDecoder(self.books, self.norm, self.c, self.post, self.transform)

    def n_frames_for(self, n_samples: int) -> int:
        """Frames needed so the decoded (delayed) stream covers ``n_samples``."""
        return -(-(n_samples + self.c.delay) // self.c.frame_size)

    def encode(self, x) -> np.ndarray:
        """Whole signal -> ids; zero-pads the tail so every input sample is decodable."""
        return self.encoder().quantize(self.features(x))

    def features(self, x) -> np.ndarray:
        """Whole signal -> feature vectors (n_frames, dim), padded as :meth:`encode` pads it
        (its ids are ``encoder().quantize`` of these)."""
        x = np.asarray(x)
        if x.ndim != 1 or x.dtype.kind != "f":
            raise TypeError(f"expected 1-D float PCM, got {x.dtype} shape {x.shape}")
        xp = np.zeros(self.n_frames_for(len(x)) * self.c.frame_size, np.float32)
        xp[: len(x)] = x
        enc, step = self.encoder(), BLOCK_FRAMES * self.c.frame_size
        return np.concatenate([enc.features(xp[i: i + step]) for i in range(0, len(xp), step)])

    def decode(self, codes, n_samples: int | None = None) -> np.ndarray:
        """Ids -> PCM aligned with the encoded input (the decoder delay removed)."""
        codes = check_codes(codes, self.c)
        dec = self.decoder()
        y = np.concatenate([dec.step(codes[i: i + BLOCK_FRAMES])
                            for i in range(0, len(codes), BLOCK_FRAMES)] or [np.zeros(0, np.float32)])
        y = y[self.c.delay:]
        return y if n_samples is None else y[:n_samples]
