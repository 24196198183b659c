"""Streaming LSC-1 encoder and decoder with explicit state (``step``, ``reset``).

A chunk must hold a whole number of frames (``contract.frame_size`` samples, or frames of
codes); the caller buffers. One-shot use is one ``step`` with the whole signal, so the
streaming and one-shot paths run the same code.
"""

from __future__ import annotations

import numpy as np

from livesense.codec import dsp
from livesense.codec import kernels as K
from livesense.codec.contract import CONTRACT, FrameContract

INITIAL_LF0 = float(np.log2(120.0))  # pitch assumed before the first voiced hop


def check_audio_chunk(x, c: FrameContract) -> np.ndarray:
    """Validate a PCM chunk: 1-D float, whole frames, finite. Returns float64 samples."""
    x = np.asarray(x)
    if x.ndim != 1 or x.dtype.kind != "f":
        raise TypeError(f"expected 1-D float PCM at {c.sample_rate} Hz, got {x.dtype} shape {x.shape}")
    if len(x) % c.frame_size:
        raise ValueError(f"chunk of {len(x)} samples is not a whole number of {c.frame_size}-sample "
                         f"frames: the caller must buffer to multiples of {c.frame_size}")
    x = x.astype(np.float64)  # a copy: safe to clean in place
    if not np.isfinite(x).all():
        np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(x, -1.0, 1.0, out=x)


class FeatureEncoder:
    """Audio chunk -> frame feature vectors (n_frames, dim); state: history and last f0."""

    def __init__(self, contract: FrameContract = CONTRACT, pitch: str = "autocorr"):
        if pitch not in dsp.PITCH:
            raise ValueError(f"unknown pitch analysis {pitch!r}: expected one of {sorted(dsp.PITCH)}")
        self.c, self.pitch = contract, pitch
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(self.c.history, np.float64)
        self._last_lf0 = INITIAL_LF0

    def step(self, chunk) -> np.ndarray:
        c = self.c
        x = check_audio_chunk(chunk, c)
        n_frames = len(x) // c.frame_size
        xp = np.concatenate([self._buf, x])
        win = dsp.hop_windows(xp, n_frames * c.n_sub, c.hop, c.pitch_win)
        logmel = dsp.log_mel(win, c)
        lf0, strength = dsp.PITCH[self.pitch](win, c)
        lf0, self._last_lf0 = K.fill_unvoiced(lf0, strength, dsp.VOICED_THR, self._last_lf0)
        self._buf = xp[len(xp) - c.history:].copy()
        from livesense.codec.features import pack

        return pack(logmel, lf0, dsp.voicing(strength), c)


class FeatureDecoder:
    """Frame feature vectors -> audio (frame_size samples per frame, ``contract.delay`` late)."""

    def __init__(self, contract: FrameContract = CONTRACT):
        self.c = contract
        self.reset()

    def reset(self) -> None:
        c = self.c
        self._frame = 0
        self._phase = 0.0
        self._last_lf0 = None
        self._pulse_tail = np.zeros(c.hop, np.float32)
        self._carry = np.zeros(c.n_fft - c.hop, np.float64)

    def _excitation(self, lf0: np.ndarray, n_frames: int):
        """Pulse and noise streams a chunk's synthesis windows read (y coordinates).

        Pulses are generated frame by frame, each frame knowing only its own pitch (held
        after its last hop), so any chunking gives the same samples.
        """
        c = self.c
        y0 = self._frame * c.frame_size
        a = (c.n_fft - 2 * c.hop) // 2  # first sample a synthesis window reads
        pulses = np.zeros(n_frames * c.frame_size + c.n_fft - c.hop, np.float32)
        pulses[a: a + c.hop] = self._pulse_tail
        prev = self._last_lf0 if self._last_lf0 is not None else float(lf0[0])
        for f in range(n_frames):
            m0 = (self._frame + f) * c.n_sub - 1
            pos = (c.hop * np.arange(m0, m0 + c.n_sub + 1) + c.n_fft // 2).astype(np.float64)
            knots = np.concatenate([[prev], lf0[f * c.n_sub: (f + 1) * c.n_sub]])
            start = y0 + f * c.frame_size + a + c.hop
            new, self._phase = K.pulse_train(pos, knots, start, c.frame_size, self._phase,
                                             float(c.sample_rate))
            pulses[start - y0: start - y0 + c.frame_size] = new
            prev = float(knots[-1])
        end = n_frames * c.frame_size + a
        self._pulse_tail = pulses[end: end + c.hop].copy()
        noise = K.hash_noise(y0, len(pulses), dsp.NOISE_SEED)
        return pulses, noise

    def step(self, feats: np.ndarray) -> np.ndarray:
        from livesense.codec.features import unpack

        c = self.c
        n_frames = feats.shape[0]
        logmel, lf0, voicing = unpack(feats, c)
        pulses, noise = self._excitation(lf0, n_frames)
        n_hops = n_frames * c.n_sub
        frames = dsp.synth_hops(logmel, voicing, dsp.hop_windows(pulses, n_hops, c.hop, c.n_fft),
                                dsp.hop_windows(noise, n_hops, c.hop, c.n_fft), c)
        out = np.zeros(n_frames * c.frame_size + len(self._carry))
        out[: len(self._carry)] += self._carry
        for i in range(n_hops):
            out[i * c.hop: i * c.hop + c.n_fft] += frames[i]
        self._carry = out[n_frames * c.frame_size:].copy()
        self._last_lf0 = float(lf0[-1])
        self._frame += n_frames
        return np.clip(out[: n_frames * c.frame_size], -1.0, 1.0).astype(np.float32)  # PCM range

