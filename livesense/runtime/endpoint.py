"""End of turn by prosody: how long to wait once the user goes quiet.

A fixed rule waits ``TurnConfig.stop_s`` (360 ms) of silence after every utterance: long
enough not to cut a speaker who pauses at a comma, and all of it added to the reply's
latency. People hear the end of a turn before the silence is long: the voice falls in
pitch and level and the last syllable is drawn out; a pause inside a sentence keeps the
pitch up. ``ProsodyTrack`` keeps each frame's level and pitch; when a silence begins it
summarises the speech just before it into a few numbers (``FEATURES``). ``EndpointModel``
is a logistic hazard over those numbers and the silence so far, trained by
``scripts/train_endpoint.py`` on generated speech (comma pauses vs. sentence ends) and
shipped in ``models/endpoint/`` (off by default: ``TurnConfig.endpoint_model``,
``livesense run --endpoint shipped``). ``TurnMachine`` ends the turn at the first silent frame
after ``TurnConfig.min_stop_s`` where the hazard passes the model's threshold, and at
``stop_s`` whatever it says — an uncertain end waits exactly as long as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from livesense.errors import ModelFileError
from livesense.runtime.bargein import F0_MIN, yin

FEATURES = (
    "f0_end_rel",  # semitones: pitch of the last voiced frames vs. the speaker's median in the window
    "f0_slope",  # semitones/s over the last 0.3 s of voiced frames (a fall ends statements)
    "has_f0_end",  # 1 if the last 0.3 s had enough voiced frames for the two above
    "level_end_rel",  # dB/10: level of the last speech frames vs. the window's loud speech
    "level_slope",  # dB/100 ms over the last 8 speech frames
    "last_voiced_s",  # length of the final voiced run (final lengthening)
    "unvoiced_tail_s",  # unvoiced speech after the last voiced frame (a final /s/, /t/)
    "log_speech_s",  # log of the speech heard in the window (short replies end sooner)
    "silence_s",  # silence so far (the hazard's clock)
)
VOICED = 0.6  # YIN periodicity of a voiced frame (as the barge-in policy)
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "endpoint" / "endpoint.json"


class ProsodyTrack:
    """Level (dB) and pitch (semitones re 100 Hz, NaN unvoiced) of the last ``history_s``
    of frames, in preallocated rings; ``features(silence_frames)`` for the silence in progress."""

    def __init__(self, sample_rate: int, frame_size: int, frame_s: float, history_s: float = 2.0) -> None:
        self.sample_rate, self.frame_s = sample_rate, frame_s
        n = max(8, round(history_s / frame_s))
        self.level, self.pitch = np.zeros(n), np.full(n, np.nan)
        self.speech = np.zeros(n, bool)
        self._win = np.zeros(max(2 * frame_size, int(2.5 * sample_rate / F0_MIN)), np.float32)
        self.reset()

    def reset(self) -> None:
        self.level[:] = -120.0
        self.pitch[:] = np.nan
        self.speech[:] = False
        self._win[:] = 0.0
        self._pos, self._count = 0, 0
        self._cached: np.ndarray | None = None

    def push(self, frame: np.ndarray, speech: bool) -> None:
        n = frame.shape[0]
        self._win[:-n] = self._win[n:]
        self._win[-n:] = frame
        level = 10 * np.log10(float(np.mean(np.square(frame, dtype=np.float64))) + 1e-12)
        f0 = np.nan
        if speech:
            strength, hz = yin(self._win, self.sample_rate)
            if strength >= VOICED:
                f0 = 12 * np.log2(hz / 100.0)
            self._cached = None  # speech again: the next silence is a new one
        i = self._pos
        self.level[i], self.pitch[i], self.speech[i] = level, f0, speech
        self._pos = (i + 1) % self.level.shape[0]
        self._count += 1

    def _ordered(self, skip: int):
        """The window oldest-first, without its last ``skip`` frames (the silence)."""
        order = (np.arange(self.level.shape[0]) + self._pos) % self.level.shape[0]
        keep = order[: max(0, order.shape[0] - skip)]
        return self.level[keep], self.pitch[keep], self.speech[keep]

    def features(self, silence_frames: int) -> np.ndarray:
        """``FEATURES`` for a silence that has lasted ``silence_frames`` frames (the frames
        before it describe the speech; computed once per silence)."""
        if self._cached is None:
            self._cached = self._summary(silence_frames)
        out = self._cached.copy()
        out[-1] = silence_frames * self.frame_s
        return out

    def _summary(self, skip: int) -> np.ndarray:
        level, pitch, speech = self._ordered(skip)
        f = np.zeros(len(FEATURES))
        sp = np.flatnonzero(speech)
        if sp.size == 0:
            return f
        tail = 0.3 / self.frame_s
        last = sp[-1]
        voiced = np.flatnonzero(~np.isnan(pitch))
        recent = voiced[voiced > last - tail]
        if recent.size >= 3:
            ref = float(np.median(pitch[voiced]))
            f[0] = float(np.median(pitch[recent[-3:]])) - ref
            t = recent * self.frame_s
            f[1] = float(np.clip(np.polyfit(t, pitch[recent], 1)[0], -60, 60))
            f[2] = 1.0
        loud = float(np.percentile(level[sp], 90))
        f[3] = (float(np.mean(level[sp[-3:]])) - loud) / 10
        if sp.size >= 4:
            k = sp[-8:]
            f[4] = float(np.polyfit(k * self.frame_s / 0.1, level[k], 1)[0]) / 10
        if voiced.size:
            v_last = voiced[-1]
            run = 1
            while v_last - run >= 0 and not np.isnan(pitch[v_last - run]):
                run += 1
            f[5] = run * self.frame_s
            f[6] = (last - v_last) * self.frame_s
        f[7] = np.log(sp.size * self.frame_s)
        return f


def expand(x: np.ndarray) -> np.ndarray:
    """The model's inputs: the features, their squares (a rise and a fall can both end a
    turn) and each one times the silence so far (how much it matters changes as the silence
    grows). ``x``: (..., len(FEATURES))."""
    x = np.asarray(x, np.float64)
    f, s = x[..., :-1], x[..., -1:]
    return np.concatenate([x, f * f, f * s], axis=-1)


N_INPUTS = 3 * len(FEATURES) - 2


class EndpointModel:
    """Logistic hazard: p(the turn has ended | FEATURES) = sigmoid(w · (expand(x) - mean) / std + b)."""

    def __init__(self, weights: np.ndarray, bias: float, mean: np.ndarray, std: np.ndarray,
                 threshold: float, meta: dict | None = None) -> None:
        if weights.shape != (N_INPUTS,) or mean.shape != (N_INPUTS,) or std.shape != (N_INPUTS,):
            raise ModelFileError(f"endpoint model has {weights.shape[0]} weights, expected {N_INPUTS} "
                             f"(expand() of {FEATURES}): retrain it")
        self.weights, self.bias, self.mean, self.std = weights, float(bias), mean, std
        self.threshold, self.meta = float(threshold), dict(meta or {})

    def prob(self, x: np.ndarray) -> np.ndarray:
        z = ((expand(x) - self.mean) / self.std) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "weights": self.weights.tolist(), "bias": self.bias,
                "mean": self.mean.tolist(), "std": self.std.tolist(), "threshold": self.threshold,
                "meta": self.meta}

    def save(self, path: Path) -> str:
        """Write JSON and ``<path>.sha256``; returns the sha256."""
        data = json.dumps(self.to_dict(), indent=1, sort_keys=True).encode()
        Path(path).write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        Path(str(path) + ".sha256").write_text(f"{sha}  {Path(path).name}\n")
        return sha

    @classmethod
    def load(cls, path: Path | str = DEFAULT_MODEL) -> "EndpointModel":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelFileError(f"endpoint model {path} is missing (train it: scripts/train_endpoint.py)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelFileError(f"endpoint model {path} is not valid JSON: {e}") from None
        if not isinstance(d, dict) or d.get("features") != list(FEATURES):
            got = d.get("features") if isinstance(d, dict) else None
            raise ModelFileError(f"endpoint model {path} was trained on features {got}, "
                                 f"this LiveSense computes {list(FEATURES)}: retrain it (scripts/train_endpoint.py)")
        try:
            return cls(np.asarray(d["weights"], np.float64), float(d["bias"]), np.asarray(d["mean"], np.float64),
                       np.asarray(d["std"], np.float64), float(d["threshold"]), d.get("meta"))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"endpoint model {path} is incomplete or malformed ({e}): retrain it") from None


def open_model(name: str):
    """An end-of-turn model by name: "shipped" (this prosodic model), "seq" (the sequence
    model, runtime/endpoint_seq.py), or a file: ``.npz`` a sequence model, else a prosodic JSON."""
    from livesense.runtime.endpoint_seq import DEFAULT_MODEL as SEQ_MODEL, SeqEndpointModel

    if name == "shipped":
        return EndpointModel.load()
    if name == "seq" or str(name).endswith(".npz"):
        return SeqEndpointModel.load(SEQ_MODEL if name == "seq" else name)
    return EndpointModel.load(name)


def endpointer_for(model, sample_rate: int, frame_size: int, frame_s: float, make_vad=None):
    """The ``TurnDetector``'s per-frame helper for ``model`` (either kind); ``make_vad`` gives
    the sequence model's extra frame grids their VADs."""
    from livesense.runtime.endpoint_seq import SeqEndpointer, SeqEndpointModel

    if isinstance(model, SeqEndpointModel):
        return SeqEndpointer(model, sample_rate, frame_size, frame_s, make_vad)
    return Endpointer(model, sample_rate, frame_size, frame_s)


class Endpointer:
    """Owned by ``TurnDetector``: feeds ``ProsodyTrack`` and answers ``ended(silence_frames)``."""

    def __init__(self, model: EndpointModel, sample_rate: int, frame_size: int, frame_s: float) -> None:
        self.model = model
        self.track = ProsodyTrack(sample_rate, frame_size, frame_s)
        self.last_prob = 0.0

    def reset(self) -> None:
        self.track.reset()
        self.last_prob = 0.0

    def push(self, frame: np.ndarray, speech: bool) -> None:
        self.track.push(frame, speech)

    def ended(self, silence_frames: int) -> bool:
        self.last_prob = float(self.model.prob(self.track.features(silence_frames)))
        return self.last_prob >= self.model.threshold
