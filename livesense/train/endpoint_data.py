"""Turns with pauses inside them, for the prosodic end-of-turn model (runtime/endpoint.py).

A turn is one sentence spoken by a voice, with its pauses at commas and between clauses
stretched or shrunk at random (TTS pauses of 0.15-0.5 s become 0.08-0.7 s), in room noise,
with a random gain, EQ and sometimes reverberation. ``silences(turn)`` runs it through the
runtime's own VAD and ``ProsodyTrack`` frame by frame and returns every silence that began
after the turn had started: its onset, how long it lasted, whether speech came back after
it (a pause) or not (the end), and the model's features at each frame of it up to ``stop_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from livesense.config import AudioConfig, TurnConfig
from livesense.corpus.augment import add_noise, add_reverb, change_speed, random_eq, sox_pitch
from livesense.corpus.conversation import utterance
from livesense.corpus.voices import Voice

RATE = 16000
FRAME = 320  # 20 ms, the runtime's VAD frame

# Short turns of our own (not the benchmark's questions): replies, commands, hesitations.
SHORT_TURNS = (
    "Yes.", "No.", "Okay, go on.", "Hmm, let me think.", "Look at this.", "Wait.",
    "Right, and then?", "Hello there.", "Can you hear me?", "Tell me more.",
    "No, the other one.", "Well, maybe.", "That one, on the left.", "Say it again, please.",
    "I think so, yes.", "Sure, why not?", "Is that so?", "Stop there.", "Great, thanks.",
    "Hold on, one second.", "What about this one?", "Please describe it.", "Fine.",
    "And now?", "So, what do you think?", "Not really, no.", "Show me.", "Good morning.",
)


# Questions are most of what people say to the agent, and many end on a rise; our own
# templates and nouns (the benchmarks' questions are not among them). Nouns are split so the
# held-out test asks about things training never named.
QUESTION_TEMPLATES = (
    "What is the {n} made of?", "Where is the {n}?", "Which {n} is bigger?", "Is the {n} open?",
    "Can you read the {n}?", "Do you see my {n}?", "Why is the {n} there?", "How old is the {n}?",
    "Is that a {n}?", "What does the {n} look like?", "Could you find the {n} for me?",
    "Have you seen the {n} before?", "Is the {n} on the left or on the right?", "How big is the {n}?",
    "Whose {n} is that?", "Does the {n} look broken?", "Is there a {n} behind me?",
)
# More of our own, for the sequence model (runtime/endpoint_seq.py), which also hears the
# words: training templates, and templates only its test uses (none is a benchmark question).
MORE_TEMPLATES = (
    "Where did you put the {n}?", "Can you hand me the {n}?", "Is this {n} yours?", "What is next to the {n}?",
    "How far away is the {n}?", "Do you like the {n}?", "Is the {n} clean?", "What is written on the {n}?",
    "Can you move the {n} a bit?", "Who left the {n} here?", "Is there anything on the {n}?",
    "When did you buy the {n}?", "Could you describe the {n}?", "Show me the {n}.", "Point at the {n}.",
    "Look at the {n} over there.", "Put the {n} on the table.", "I lost my {n}.", "I think the {n} is broken.",
    "This {n} is new.", "How heavy is the {n}?", "What is inside the {n}?", "Is the {n} still there?",
    "Did you see where the {n} went?",
)
TEST_TEMPLATES = (
    "What colour is the {n}?", "Can you see the {n}?", "What shape is the {n}?", "Tell me about the {n}.",
    "Why is the {n} so small?", "Is the {n} near the door?", "Is my {n} in the picture?",
    "Would you pick up the {n}?", "How long have you had the {n}?", "Take the {n} away.",
)
MORE_NOUNS = (  # the sequence model's extra training nouns (none is a test noun or in a benchmark question)
    "towel", "spoon", "fork", "knife", "candle", "pillow", "blanket", "mirror", "camera", "laptop", "keyboard",
    "mouse", "cable", "charger", "notebook", "pencil", "folder", "envelope", "stamp", "ticket", "umbrella",
    "jacket", "scarf", "glove", "sock", "belt", "watch", "ring", "bracelet", "helmet", "bicycle", "car",
    "truck", "boat", "train", "garden", "fence", "gate", "roof", "wall", "floor", "ceiling", "shelf",
    "drawer", "cupboard", "fridge", "oven", "sink", "tap", "bucket", "brush", "comb", "toy", "puzzle",
    "guitar", "piano", "drum", "painting", "poster", "map", "globe", "radio", "speaker", "battery",
)
ADJECTIVES = ("", "", "", "big", "small", "old", "new", "wooden", "little", "heavy", "empty", "broken", "shiny")
PLAIN_TURNS = (
    "What time do we start?", "Can we begin now?", "Are you ready?", "Is it working?", "What happens next?",
    "Do you understand me?", "Could you repeat that?", "What did you say?", "How are you today?",
    "Where are we?", "Thanks, that helps.", "That is enough for now.", "Okay, I am done.", "Goodbye.",
    "Let us stop here.", "Can you hear me now?", "Is anyone listening?", "Why not?", "How so?",
)
PREFIXES = ("", "", "", "Okay, ", "Hey, ", "So, ", "Tell me, ", "Um, ", "And, ", "Well, ")
TRAIN_NOUNS = ("cup", "book", "phone", "lamp", "box", "bottle", "chair", "key", "bag", "clock",
               "plate", "window", "shoe", "pen", "plant", "door", "sign", "card", "hat", "screen")
TEST_NOUNS = ("jar", "mug", "wallet", "bowl", "kettle", "label", "coat", "ladder", "remote", "basket")


def questions(nouns: tuple[str, ...], n: int, rng: np.random.Generator,
              templates: tuple[str, ...] = QUESTION_TEMPLATES, adjectives: tuple[str, ...] = ("",)) -> list[str]:
    out = []
    for _ in range(n):
        t = templates[int(rng.integers(len(templates)))]
        p = PREFIXES[int(rng.integers(len(PREFIXES)))]
        adj = adjectives[int(rng.integers(len(adjectives)))]
        q = t.format(n=(adj + " " if adj else "") + nouns[int(rng.integers(len(nouns)))])
        out.append(p + (q[0].lower() + q[1:] if p else q))
    return out


def pause_inside(text: str, rng: np.random.Generator) -> str:
    """``text`` with a comma at a random word boundary ("What colour, is it?"): the TTS pauses
    there with the pitch held up, as a speaker who stops to think mid-question."""
    words = text.split()
    if len(words) < 2:
        return text
    i = int(rng.integers(1, len(words)))
    if words[i - 1][-1] in ",.?!":
        return text
    return " ".join(words[:i - 1] + [words[i - 1] + ","] + words[i:])


@dataclass
class Turn:
    audio: np.ndarray
    speech_end_s: float  # true end of the (clean) speech in ``audio``
    text: str
    voice: str


@dataclass
class Silence:
    onset_s: float  # first silent frame
    frames: int  # how long it lasted (capped at the clip's end)
    last: bool  # no speech after it: the end of the turn
    features: list[np.ndarray] = field(default_factory=list)  # at silent frames first..stop-1
    first: int = 5  # the silent-frame count of features[0]: min_stop when built (turns cached before
    #                 this field existed were built with min_stop_s 0.1 = 5 frames)


def _frame_levels(x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME
    return 10 * np.log10(np.mean(np.square(x[: n * FRAME].reshape(n, FRAME), dtype=np.float64), axis=1) + 1e-12)


def stretch_pauses(x: np.ndarray, rng: np.random.Generator, lo_s: float = 0.08, hi_s: float = 0.7) -> np.ndarray:
    """Set every inner pause (>= 60 ms at 35 dB below the peak) to a random length, log-uniform in lo..hi."""
    lv = _frame_levels(x)
    quiet = lv < lv.max() - 35
    parts, i, pos = [], 0, 0
    while i < len(quiet):
        if not quiet[i]:
            i += 1
            continue
        j = i
        while j < len(quiet) and quiet[j]:
            j += 1
        if i > 0 and j < len(quiet) and j - i >= 3:
            a, b = i * FRAME, j * FRAME
            n = int(np.exp(rng.uniform(np.log(lo_s), np.log(hi_s))) * RATE)
            parts += [x[pos:a], np.zeros(n, np.float32)]
            pos = b
        i = j
    parts.append(x[pos:])
    return np.concatenate(parts).astype(np.float32)


def make_turn(voice: Voice, text: str, rng: np.random.Generator, lead_s: float = 0.6, tail_s: float = 0.8,
              snr_db: tuple[float, float] = (20.0, 50.0), cents: float = 0.0, speed: float = 1.0) -> Turn:
    """``text`` in ``voice`` (moved by ``cents`` and played ``speed`` times faster if given),
    its pauses stretched, in noise at an SNR drawn from ``snr_db``."""
    x = utterance(voice, text)
    if cents:
        x = sox_pitch(x, cents)
    if speed != 1.0:
        x = change_speed(x, speed)
    if rng.random() < 0.85:
        x = stretch_pauses(x, rng)
    if rng.random() < 0.5:
        x = random_eq(x, rng)
    n_lead, n_tail = int(lead_s * RATE), int(tail_s * RATE)
    y = np.concatenate([np.zeros(n_lead, np.float32), x, np.zeros(n_tail, np.float32)])
    if rng.random() < 0.3:
        y = add_reverb(y, rng, rng.uniform(0.15, 0.5), rng.uniform(0.1, 0.35))
    y = add_noise(y, rng, float(rng.uniform(*snr_db)))
    y *= 10 ** (rng.uniform(-25, 0) / 20) / max(1e-9, float(np.abs(y).max()))
    return Turn(y.astype(np.float32), (n_lead + len(x)) / RATE, text, voice.name)


def silences(turn: Turn, audio: AudioConfig | None = None, cfg: TurnConfig | None = None) -> list[Silence]:
    """Every silence after the turn started, with the endpoint features at each frame of it."""
    from livesense.runtime.endpoint import ProsodyTrack
    from livesense.runtime.turns import default_vad

    audio, cfg = audio or AudioConfig(), cfg or TurnConfig()
    frame_s = audio.frame_ms / 1000
    vad = default_vad(audio, cfg)
    track = ProsodyTrack(audio.sample_rate, audio.frame_size, frame_s)
    start_need = cfg.frames(cfg.start_s, audio.frame_ms)
    lo, hi = cfg.frames(cfg.min_stop_s, audio.frame_ms), cfg.frames(cfg.stop_s, audio.frame_ms)
    out: list[Silence] = []
    run_speech, started, cur = 0, False, None
    n = len(turn.audio) // audio.frame_size
    for i in range(n):
        f = turn.audio[i * audio.frame_size:(i + 1) * audio.frame_size]
        speech = vad.is_speech(f)
        track.push(f, speech)
        if speech:
            run_speech += 1
            started = started or run_speech >= start_need
            cur = None
            continue
        run_speech = 0
        if not started:
            continue
        if cur is None:
            cur = Silence(i * frame_s, 0, True, first=lo)
            out.append(cur)
        cur.frames += 1
        if lo <= cur.frames < hi:
            cur.features.append(track.features(cur.frames))
    for s in out[:-1]:
        s.last = False
    return out


def seq_frames(turn: Turn, audio: AudioConfig | None = None, cfg: TurnConfig | None = None, phases: int = 1):
    """(frame features, VAD speech) of a turn, frame by frame as ``SeqEndpointer`` sees it
    (runtime/endpoint_seq.py): (n, d) float32 and (n,) bool for one frame grid; for
    ``phases`` > 1, (K, n, d) and (K, n), grid k lagging the capture grid by
    ``phase_offsets(frame, K)[k]`` samples (silence before the clip, as at a stream's start)."""
    from livesense.runtime.endpoint_seq import SeqFeatures, phase_offsets
    from livesense.runtime.turns import default_vad

    audio, cfg = audio or AudioConfig(), cfg or TurnConfig()
    n_fr, size = len(turn.audio) // audio.frame_size, audio.frame_size
    xs, sps = [], []
    for off in phase_offsets(size, phases):
        y = np.concatenate([np.zeros(off, np.float32), turn.audio])
        vad, feats = default_vad(audio, cfg), SeqFeatures(audio.sample_rate, size, audio.frame_ms / 1000)
        x, speech = [], np.zeros(n_fr, bool)
        for i in range(n_fr):
            f = y[i * size:(i + 1) * size]
            speech[i] = vad.is_speech(f)
            x.append(feats.push(f, bool(speech[i])))
        xs.append(np.asarray(x, np.float32))
        sps.append(speech)
    return (xs[0], sps[0]) if phases == 1 else (np.stack(xs), np.stack(sps))


def decision_frames(sil: list[Silence], cfg: TurnConfig, frame_s: float) -> list[np.ndarray]:
    """Per silence, the frame indices (from the clip's start) of its decision frames: its
    silent frames min_stop..stop-1 (as far as it lasted), whatever min_stop it was built with."""
    ms = round(1000 * frame_s)
    lo, hi = cfg.frames(cfg.min_stop_s, ms), cfg.frames(cfg.stop_s, ms)
    return [round(s.onset_s / frame_s) - 1 + np.arange(lo, max(lo, min(s.frames + 1, hi))) for s in sil]


def with_probs(sil: list[Silence], p: np.ndarray, cfg: TurnConfig, frame_s: float) -> list[Silence]:
    """Copies of ``sil`` whose features are a frame-wise p(ended) ``p`` at their decision
    frames, to score with ``simulate(..., GIVEN, threshold, ...)``."""
    lo = cfg.frames(cfg.min_stop_s, round(1000 * frame_s))
    return [replace(s, features=list(p[i]), first=lo) for s, i in zip(sil, decision_frames(sil, cfg, frame_s))]


class GIVEN:
    """For ``simulate``: the silences' features already are p(ended) (``with_probs``)."""

    @staticmethod
    def prob(p):
        return p


def simulate(turns, model, threshold, cfg: TurnConfig, frame_s: float):
    """Per turn (``{"end_s", "silences"}``): (decided at its end?, wait after the true end of
    speech in ms) under ``model`` at ``threshold`` (a number, or a schedule of (silence s,
    threshold) points as ``SeqEndpointModel.threshold_at``), or the fixed stop_s rule if
    ``model`` is None."""
    from livesense.runtime.endpoint_seq import threshold_at

    lo, hi = cfg.frames(cfg.min_stop_s, round(1000 * frame_s)), cfg.frames(cfg.stop_s, round(1000 * frame_s))
    thr = threshold_at(threshold, np.arange(hi + 1) * frame_s)  # by silent-frame count
    out = []
    for t in turns:
        for s in t["silences"]:
            k_end = None
            if model is not None:
                for j, f in enumerate(s.features):
                    if lo <= s.first + j < hi and model.prob(f) >= thr[s.first + j]:
                        k_end = s.first + j
                        break
            if k_end is None and s.frames >= hi:
                k_end = hi
            if k_end is not None:
                out.append((s.last, 1000 * (s.onset_s + k_end * frame_s - t["end_s"])))
                break
        else:
            out.append((False, float("nan")))  # never decided (clip too short): counts as a cut
    return out


def summary(decisions) -> dict:
    """Share of turns cut at a pause, and the wait after the end for the others."""
    ok = [w for last, w in decisions if last]
    cut = 1 - len(ok) / len(decisions)
    return {"turns": len(decisions), "cut_early": round(cut, 4),
            "wait_p50_ms": round(float(np.median(ok)), 1), "wait_p95_ms": round(float(np.percentile(ok, 95)), 1),
            "wait_mean_ms": round(float(np.mean(ok)), 1)}
