"""The learned envelope transform of LSC-1 (codebook files with ``tf_*`` arrays).

Stages 2-4 of a frame's ids code its spectral envelope (the 128 log-mel dims, in the
normalised RVQ space). In a plain file they index RVQ codebooks of the envelope itself.
In a file with a learned transform they index an RVQ of a small *latent* instead:

    encoder: [envelope_t, envelope_{t-1}(, q_{t-1}, q_{t-2})] -> MLP -> latent (``lat`` dims) -> RVQ ids
    decoder: [q_t, q_{t-1}, q_{t-2}]                           -> MLP -> envelope_t

(q: the quantized latents, what the decoder has.) A *closed-loop* encoder (an input of
``2 * env + 2 * lat``) also reads the last two quantized latents, the decoder's own context,
so it can spend the frame's bits on what the decoder cannot already predict (predictive
coding); it then runs frame by frame. An open-loop encoder (``2 * env``) reads envelopes only.
Both MLPs are causal (past frames only), so the algorithmic latency is unchanged; the
encoder keeps the last envelope row (and, closed-loop, the last two quantized latents), the
decoder the last two decoded latents. Layers run
through :func:`livesense.codec.kernels.dense` (no fastmath, row by row), so the ids are the
same bits in a stream and in a one-shot call. Stage 1 (the source: log-f0, voicing) stays a
plain RVQ stage. Trained by :mod:`livesense.codec.learn`; why it exists: models/lsc1/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livesense.codec import kernels as K

PREFIX = "tf_"
LAYERS = 3  # dense layers per MLP (ReLU after all but the last)


@dataclass
class EnvelopeTransform:
    enc: list  # [(w (n_in, n_out), b (n_out,)), ...] float32
    dec: list
    books: np.ndarray  # (stages, lat, codebook_size) float32, stored like the RVQ books

    def __post_init__(self):
        self._active = K.active_dims(self.books)
        self._norms = K.book_norms(self.books, self._active)

    @property
    def lat(self) -> int:
        return self.books.shape[1]

    @property
    def env(self) -> int:
        return self.dec[-1][0].shape[1]

    @property
    def closed_loop(self) -> bool:
        """The encoder reads the last two quantized latents too (see the module's docstring)."""
        return self.enc[0][0].shape[0] == 2 * self.env + 2 * self.lat

    @property
    def stages(self) -> int:
        return self.books.shape[0]

    @classmethod
    def from_arrays(cls, z, env: int, stages: int, codebook_size: int, what: str = "file") -> "EnvelopeTransform":
        """Read ``tf_*`` arrays (a dict or npz) and check every shape against the contract."""
        def layers(part):
            out = [(np.ascontiguousarray(z[f"{PREFIX}{part}_w{i}"], np.float32),
                    np.ascontiguousarray(z[f"{PREFIX}{part}_b{i}"], np.float32)) for i in range(LAYERS)]
            for i, (w, b) in enumerate(out):
                if w.ndim != 2 or b.shape != (w.shape[1],) or (i and w.shape[0] != out[i - 1][0].shape[1]):
                    raise ValueError(f"{what}: {part} layer {i} has shapes {w.shape}, {b.shape}")
            return out

        tf = cls(layers("enc"), layers("dec"), np.ascontiguousarray(z[f"{PREFIX}books"], np.float32))
        n_in, loop = tf.enc[0][0].shape[0], 2 * env + 2 * tf.lat  # open loop: 2 * env
        want = {"encoder input": (n_in, n_in if n_in in (2 * env, loop) else f"{2 * env} or {loop}"), "encoder output": (tf.enc[-1][0].shape[1], tf.lat),
                "decoder input": (tf.dec[0][0].shape[0], 3 * tf.lat), "decoder output": (tf.env, env),
                "latent stages": (tf.stages, stages), "latent codebook size": (tf.books.shape[2], codebook_size)}
        bad = {k: v for k, v in want.items() if v[0] != v[1]}
        if bad:
            raise ValueError(f"{what}: learned envelope transform does not fit the frame contract: "
                             + ", ".join(f"{k} {a}, expected {b}" for k, (a, b) in bad.items()))
        return tf

    def arrays(self) -> dict:
        out = {f"{PREFIX}books": self.books}
        for part, layers in (("enc", self.enc), ("dec", self.dec)):
            for i, (w, b) in enumerate(layers):
                out[f"{PREFIX}{part}_w{i}"], out[f"{PREFIX}{part}_b{i}"] = w, b
        return out

    def encode(self, env: np.ndarray, prev: np.ndarray, past: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Envelope rows (n, env), the row before the first and the last two quantized
        latents (2, lat), oldest first -> (ids (n, stages) int32, the new last two latents)."""
        env = np.ascontiguousarray(env, np.float32)
        past = np.zeros((2, self.lat), np.float32) if past is None else np.asarray(past, np.float32)
        if not len(env):
            return np.zeros((0, self.stages), np.int32), past
        before = np.concatenate([prev[None].astype(np.float32), env[:-1]])
        rows = np.concatenate([env, before], axis=1)
        if not self.closed_loop:
            ids = K.rvq_search(mlp(self.enc, rows), self.books, self._active, self._norms)
            return ids, np.concatenate([past, K.rvq_decode(ids[-2:], self.books)])[-2:]
        ids = np.empty((len(env), self.stages), np.int32)
        q = past.copy()
        for t in range(len(env)):  # each frame's input holds the quantized latents before it
            latent = mlp(self.enc, np.concatenate([rows[t], q[1], q[0]])[None])
            ids[t] = K.rvq_search(latent, self.books, self._active, self._norms)[0]
            q = np.stack([q[1], K.rvq_decode(ids[t: t + 1], self.books)[0]])
        return ids, q

    def decode(self, codes: np.ndarray, past: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids (n, stages) and the last two latents (2, lat), oldest first -> (envelope rows
        (n, env), the new last two latents)."""
        if not len(codes):
            return np.zeros((0, self.env), np.float32), past
        q = np.concatenate([past.astype(np.float32), K.rvq_decode(codes, self.books)])
        rows = np.concatenate([q[2:], q[1:-1], q[:-2]], axis=1)
        return mlp(self.dec, rows), q[-2:].copy()


def mlp(layers: list, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, np.float32)
    for i, (w, b) in enumerate(layers):
        x = K.dense(x, w, b, i < len(layers) - 1)
    return x
