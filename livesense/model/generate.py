"""Autoregressive generation of the agent's audio frames on any backend.

Each frame is ``n_codebooks`` tokens; slot ``k`` is sampled under the
``audio.agent.k`` mask and fed back at once (the agent hears itself), so the next slot
is conditioned on it. Positions continue the stream: idx +1 per code, the frame's codes
share one tick, ticks advance one per frame.
"""

from __future__ import annotations

import numpy as np

from livesense.model.positions import IDX, N_SECTIONS, TIME, Placed
from livesense.model.sampling import Sampler, audio_frame_masks


def speak(backend, prompt: Placed, n_frames: int, sampler: Sampler | None = None,
          stream: str = "agent") -> tuple[np.ndarray, np.ndarray]:
    """Feed ``prompt``, then generate ``n_frames`` audio frames. Returns the generated
    ids (n_frames * n_codebooks,) and their (4, N) positions."""
    layout = backend.spec.layout
    sampler = sampler or Sampler()
    masks = audio_frame_masks(layout, stream)
    logits = backend.eval(prompt.ids, prompt.pos)
    idx, tick = int(prompt.pos[IDX, -1]) + 1, int(prompt.pos[TIME].max()) + 1
    ids, pos = [], []
    for f in range(n_frames):
        for k, mask in enumerate(masks):
            tok = sampler(logits, mask)
            p = np.zeros((N_SECTIONS, 1), np.int32)
            p[IDX, 0], p[TIME, 0] = idx, tick + f
            logits = backend.eval(np.array([tok]), p)
            ids.append(tok)
            pos.append(p)
            idx += 1
    return np.array(ids, np.int64), np.concatenate(pos, axis=1)
