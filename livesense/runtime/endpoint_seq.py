"""End of turn from the sound of the words: a small recurrent model over the turn's frames.

The prosodic model (``runtime/endpoint.py``) summarises the last syllables in a few
numbers, and a question that ends on a rise looks to it like a pause at a comma. People
also hear *what* was said: "What colour is the ball?" is finished, "What colour is…" is
not. ``SeqFeatures`` turns every 20 ms VAD frame into a short vector (24 log-mel bands
against the recent peak, level, pitch against the speaker's own, voicing, the VAD's
verdict), and a one-layer GRU (``SeqEndpointModel``, 48 units, ~12k weights) reads them as
they come. At every silent frame
its output is p(the turn has ended); ``TurnMachine`` ends the turn at the first silent frame
from ``TurnConfig.min_stop_s`` on where p passes the shipped threshold, and at ``stop_s``
whatever it says. The threshold may fall as the silence goes on (``schedule``: (silence s,
threshold) points, linear between them): near ``stop_s`` the turn ends soon anyway, so
waiting for more certainty buys little, and a turn whose p hovers just under a flat
threshold no longer waits the full ``stop_s``. After ``RESET_S`` of non-speech the GRU
starts afresh (as in training), so an endless session never drifts.

Where the 20 ms frames fall in the sound is chance (when capture started, what the browser
buffered), and one run on one frame grid moves many turns between "ended early" and
"waited" when the same audio is shifted by a few ms (figures in the model card). So the
model file names ``phases`` (K): the endpointer runs K copies over K frame grids, each
``frame/K`` samples behind the last (each with its own VAD and features), and p is their
mean. The threshold is picked for that mean.

The GRU runs here in numpy (``gru_step``: the torch layout, checked against torch in the
tests); training is ``scripts/train_endpoint_seq.py``, the file ``models/endpoint/endpoint_seq.npz``.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from livesense.errors import ModelFileError
from livesense.runtime.bargein import F0_MIN, yin

N_MEL = 24
FEATURES = tuple(f"mel{i}" for i in range(N_MEL)) + ("level", "pitch_rel", "voiced", "speech")
N_FFT = 512
FLOOR_DB = 60.0  # levels below the peak are floored here
PEAK_FALL_DB = 0.1  # dB per frame the level reference falls (5 dB/s at 20 ms frames)
RESET_S = 0.5  # non-speech after which the GRU state starts afresh
VOICED = 0.6  # YIN periodicity of a voiced frame
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "endpoint" / "endpoint_seq.npz"


@lru_cache(maxsize=4)
def mel_matrix(sample_rate: int, n_fft: int = N_FFT, n_mel: int = N_MEL, lo: float = 80.0,
               hi: float = 7600.0) -> np.ndarray:
    """(n_fft//2+1, n_mel) triangular mel filters."""
    from livesense.codec.dsp import mel_edges, mel_triangles

    edges = mel_edges(lo, min(hi, sample_rate / 2), n_mel)
    return np.ascontiguousarray(mel_triangles(np.fft.rfftfreq(n_fft, 1.0 / sample_rate), edges).T)


class SeqFeatures:
    """Per VAD frame: ``FEATURES``. Levels in dB/20 against a slowly falling peak, floored
    at 60 dB down (a quiet room and digital silence look alike); pitch in octaves against
    the mean voiced pitch of the stretch of speech so far (a voice's own register does not
    matter, only its moves), forgotten with the GRU's state after ``RESET_S`` of non-speech."""

    def __init__(self, sample_rate: int, frame_size: int, frame_s: float = 0.02) -> None:
        self.sample_rate = sample_rate
        self._mel = mel_matrix(sample_rate)
        self._hann = np.hanning(N_FFT)
        self._win = np.zeros(max(N_FFT, frame_size, int(2.5 * sample_rate / F0_MIN)), np.float64)
        self.reset_frames = max(1, round(RESET_S / frame_s))
        self.reset()

    def reset(self) -> None:
        self._win[:] = 0.0
        self._peak = -120.0
        self._quiet = self.reset_frames
        self._pitch_sum, self._pitch_n = 0.0, 0

    @property
    def resting(self) -> bool:
        """``RESET_S`` of non-speech up to the last frame pushed: the GRU rests."""
        return self._quiet >= self.reset_frames

    def push(self, frame: np.ndarray, speech: bool) -> np.ndarray:
        n = frame.shape[0]
        self._win[:-n] = self._win[n:]
        self._win[-n:] = frame
        self._quiet = 0 if speech else self._quiet + 1
        if self.resting:
            self._pitch_sum, self._pitch_n = 0.0, 0
        seg = self._win[-N_FFT:]
        spec = np.abs(np.fft.rfft(seg * self._hann)) ** 2
        mel_db = 10 * np.log10(spec @ self._mel + 1e-10)
        level = 10 * np.log10(float(np.mean(np.square(frame, dtype=np.float64))) + 1e-12)
        self._peak = max(level, self._peak - PEAK_FALL_DB)
        ref = self._peak + 10 * np.log10(N_FFT * N_FFT / 8)  # mel power of a full-level frame, roughly
        out = np.empty(len(FEATURES), np.float32)
        out[:N_MEL] = np.clip(mel_db - ref, -FLOOR_DB, 10.0) / 20.0
        out[N_MEL] = max(-FLOOR_DB, level - self._peak) / 20.0
        pitch, voiced = 0.0, 0.0
        if speech:
            strength, hz = yin(self._win[-int(2.5 * self.sample_rate / F0_MIN):], self.sample_rate)
            if strength >= VOICED:
                st = 12 * np.log2(hz / 100.0)
                self._pitch_sum, self._pitch_n = self._pitch_sum + st, self._pitch_n + 1
                pitch, voiced = (st - self._pitch_sum / self._pitch_n) / 12.0, 1.0
        out[N_MEL + 1], out[N_MEL + 2], out[N_MEL + 3] = pitch, voiced, float(speech)
        return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_step(x: np.ndarray, h: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray,
             b_hh: np.ndarray) -> np.ndarray:
    """One step of a torch ``nn.GRU`` layer (gates r, z, n stacked in that order)."""
    H = h.shape[-1]
    gi = w_ih @ x + b_ih
    gh = w_hh @ h + b_hh
    r = _sigmoid(gi[:H] + gh[:H])
    z = _sigmoid(gi[H:2 * H] + gh[H:2 * H])
    n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
    return (1.0 - z) * n + z * h


ARRAYS = ("w_ih", "w_hh", "b_ih", "b_hh", "w_out", "b_out", "mean", "std")


def threshold_at(rule, silence_s):
    """A threshold rule's value after ``silence_s`` (a number or an array of them) of silence:
    ``rule`` is a flat threshold, or (silence s, threshold) points, linear between them and
    clamped at their ends. The one place a rule is read (the runtime and the recipe's scoring)."""
    if np.ndim(rule) == 0:
        return np.full(np.shape(silence_s), float(rule))
    t, th = zip(*rule)
    return np.interp(silence_s, t, th)


class SeqEndpointModel:
    """GRU + logistic read-out over standardised ``FEATURES``; ``threshold`` on p(ended)."""

    def __init__(self, arrays: dict, threshold: float, meta: dict | None = None, phases: int = 1,
                 schedule=None) -> None:
        d = len(FEATURES)
        w_ih = np.asarray(arrays["w_ih"], np.float64)
        H = w_ih.shape[0] // 3
        shapes = {"w_ih": (3 * H, d), "w_hh": (3 * H, H), "b_ih": (3 * H,), "b_hh": (3 * H,), "w_out": (H,),
                  "b_out": (), "mean": (d,), "std": (d,)}
        for k, shape in shapes.items():
            if np.shape(arrays[k]) != shape:
                raise ModelFileError(f"end-of-turn model array {k} has shape {np.shape(arrays[k])}, expected {shape} "
                                     f"(for {d} features {FEATURES[0]}..{FEATURES[-1]}): retrain it")
        self.a = {k: np.asarray(arrays[k], np.float64) for k in ARRAYS}
        self.hidden = H
        self.threshold, self.meta = float(threshold), dict(meta or {})
        if int(phases) < 1:
            raise ModelFileError(f"end-of-turn model: phases must be >= 1, not {phases}")
        self.phases = int(phases)  # frame grids averaged (see the module doc); the threshold is for their mean
        self.schedule = [(float(t), float(th)) for t, th in schedule] if schedule else None
        if self.schedule and any(b[0] <= a[0] for a, b in zip(self.schedule, self.schedule[1:])):
            raise ModelFileError(f"end-of-turn model: schedule times must rise, got {self.schedule}")

    def threshold_at(self, silence_s: float) -> float:
        """The threshold on p after ``silence_s`` of silence: ``schedule`` (clamped at its ends)
        or the flat ``threshold``."""
        return float(threshold_at(self.schedule or self.threshold, silence_s))

    def step(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, float]:
        """(new state, p(ended)) after one frame's features ``x``."""
        a = self.a
        h = gru_step((np.asarray(x, np.float64) - a["mean"]) / a["std"], h, a["w_ih"], a["w_hh"], a["b_ih"],
                     a["b_hh"])
        return h, float(_sigmoid(h @ a["w_out"] + a["b_out"]))

    def run(self, x: np.ndarray, speech: np.ndarray, frame_s: float = 0.02) -> np.ndarray:
        """p(ended) at every frame of a recorded turn (features ``x``, VAD ``speech``), exactly
        as ``SeqEndpointer`` gives them frame by frame: 0 where it rests. ``x`` (K, n, d) and
        ``speech`` (K, n) hold K frame grids (``phase_offsets``): the mean of their p."""
        if np.ndim(x) == 3:
            return np.mean([self.run(xk, sk, frame_s) for xk, sk in zip(x, speech)], axis=0)
        p = np.zeros(len(x))
        for a, b in segments(speech, max(1, round(RESET_S / frame_s))):
            h = np.zeros(self.hidden)
            for i in range(a, b):
                h, p[i] = self.step(x[i], h)
        return p

    def save(self, path: Path) -> str:
        """Write the ``.npz`` (arrays + JSON header) and ``<path>.sha256``; returns the sha256."""
        header = json.dumps({"features": list(FEATURES), "threshold": self.threshold, "phases": self.phases,
                             "schedule": self.schedule, "meta": self.meta}, sort_keys=True)
        with open(path, "wb") as f:
            np.savez(f, header=np.array(header), **{k: v.astype(np.float32) for k, v in self.a.items()})
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        Path(str(path) + ".sha256").write_text(f"{sha}  {Path(path).name}\n")
        return sha

    @classmethod
    def load(cls, path: Path | str = DEFAULT_MODEL) -> "SeqEndpointModel":
        path = Path(path)
        if not path.exists():
            raise ModelFileError(f"end-of-turn model {path} is missing (train it: scripts/train_endpoint_seq.py)")
        side = Path(str(path) + ".sha256")
        if side.exists():
            want, got = side.read_text().split()[0], hashlib.sha256(path.read_bytes()).hexdigest()
            if want != got:
                raise ModelFileError(f"end-of-turn model {path} has sha256 {got[:12]}..., its .sha256 says "
                                     f"{want[:12]}...: the file is damaged or was replaced")
        try:
            with np.load(path, allow_pickle=False) as z:
                head = json.loads(str(z["header"]))
                arrays = {k: z[k] for k in ARRAYS}
        except (OSError, ValueError, KeyError) as e:
            raise ModelFileError(f"end-of-turn model {path} is not a LiveSense sequence model ({e})") from None
        if head.get("features") != list(FEATURES):
            raise ModelFileError(f"end-of-turn model {path} was trained on other features "
                                 f"({len(head.get('features') or [])} of them): retrain it")
        return cls(arrays, head["threshold"], head.get("meta"), head.get("phases", 1), head.get("schedule"))


def phase_offsets(frame_size: int, phases: int) -> list[int]:
    """How many samples each of ``phases`` frame grids lags the capture grid: 0, n/K, 2n/K, ..."""
    return [k * frame_size // phases for k in range(phases)]


class SeqEndpointer:
    """Owned by ``TurnDetector``: runs the GRU on every frame of each of the model's frame
    grids (``phases``; the first is the capture grid, with the detector's own VAD verdict;
    the others get a VAD each from ``make_vad``); ``ended(silence_frames)``."""

    def __init__(self, model: SeqEndpointModel, sample_rate: int, frame_size: int, frame_s: float,
                 make_vad=None) -> None:
        self.model = model
        self.offsets = phase_offsets(frame_size, model.phases)
        if model.phases > 1 and make_vad is None:
            raise ValueError(f"end-of-turn model runs {model.phases} frame grids: give make_vad for the others")
        self.frame_s = frame_s
        self.features = [SeqFeatures(sample_rate, frame_size, frame_s) for _ in self.offsets]
        self.vads = [None] + [make_vad() for _ in self.offsets[1:]]
        self._recent = np.zeros(2 * frame_size, np.float32)  # last two capture frames: the lagging grids' frames
        self.h = np.zeros((len(self.offsets), model.hidden))
        self.reset()

    def reset(self) -> None:
        for f in self.features:
            f.reset()  # starts as after a long silence: resting
        for v in self.vads:
            if hasattr(v, "reset"):
                v.reset()
        self._recent[:] = 0.0
        self.h[:] = 0.0
        self.last_prob = 0.0

    def push(self, frame: np.ndarray, speech: bool) -> None:
        n = frame.shape[0]
        self._recent[:n] = self._recent[n:]
        self._recent[n:] = frame
        total = 0.0
        for k, (off, feats, vad) in enumerate(zip(self.offsets, self.features, self.vads)):
            f = frame if off == 0 else self._recent[n - off:2 * n - off]
            x = feats.push(f, speech if vad is None else vad.is_speech(f))
            if feats.resting:
                self.h[k] = 0.0
                continue
            self.h[k], p = self.model.step(x, self.h[k])
            total += p
        self.last_prob = total / len(self.offsets)

    def ended(self, silence_frames: int) -> bool:
        return self.last_prob >= self.model.threshold_at(silence_frames * self.frame_s)


def segments(speech: np.ndarray, reset_frames: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges the GRU runs over as ``SeqEndpointer`` does: it rests (state
    zero, no output) from the ``reset_frames``-th frame of non-speech until speech returns."""
    out, start, quiet = [], None, reset_frames
    for i, s in enumerate(speech):
        quiet = 0 if s else quiet + 1
        if quiet >= reset_frames:
            if start is not None:
                out.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        out.append((start, len(speech)))
    return out
