"""NativeAgent: the LiveSense native model as an ``Agent`` — one decoder hears the user's
LSC-1 codes and sees the camera's vision tokens, and speaks LSC-1 codes back.

Data path, one way: user ``AudioFrame`` -> LSC-1 analysis -> feature vectors (a
preallocated ring of recent frames), quantized to codes when a turn ends; camera
``Tokens(kind="image")`` (or a ``VideoFrame`` tokenized here at most every ``image_interval_s``) -> latest keyframe. On ``TurnEnd`` the prompt is the
training stream format (``livesense.train.data.StreamBuilder``)::

    bos image <grid> image_end user (codes, silence) × frames agent

and the model writes, under the sampler's masks, the reply's text (its inner monologue)
and, unit by unit, the audio frames of that text. Every frame is decoded by the
``StreamingDecoder`` and yielded at once, so speech starts while the rest of the reply is
still being generated; closing the generator (barge-in) stops decoding immediately.

Hearing a turn several ways (``NativeConfig.hear_views``): the model was trained on about a
hundred synthetic voices and hears new ones worse, and what it hears depends on where the
40 ms code grid falls on the speech. So the turn's features are quantized on each of the
four 10 ms grid phases (``livesense.codec.features.shift_hops``; a view may also warp the
voice, ``features.warp``), each version is prefilled, and the reply starts from the mean of
their next-token log-probabilities (:func:`hear`), continuing in the version that backs
that choice best.

Listening: each view lives in its own sequence of the backend (a KV cache each,
``livesense.model.prefix.PrefixCache``). From the moment a turn starts (``prepare``) every
new 40 ms frame is quantized and fed to each view's sequence as the user speaks, so when
the turn ends only its last frames and the ``agent`` marker are left to evaluate, not the
whole turn four times. The image and the barge-in record are the ones of the turn's start.

Default model: ``models/tiny/livesense-tiny-q8_0.gguf`` (LiveSense-Tiny; read its
MODEL_CARD.md for what it can and cannot do) on llama.cpp, one thread, with the LSC-1
codebooks it was trained with (``models/tiny/lsc1_codebooks.npz``, sha256 checked).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from livesense.frames import AudioFrame, Frame, TextFrame, Tokens, TurnEnd, VideoFrame
from livesense.runtime.agent import Mark

log = logging.getLogger(__name__)

TINY_DIR = Path(__file__).resolve().parents[2] / "models" / "tiny"
DEFAULT_MODEL = TINY_DIR / "livesense-tiny-q8_0.gguf"
SIDECAR = TINY_DIR / "livesense-tiny.json"


@dataclass(frozen=True)
class NativeConfig:
    model_path: str | None = None  # GGUF/ONNX/.pt LiveSense model; None = the shipped LiveSense-Tiny
    codebooks: str | None = None  # LSC-1 codebooks the model was trained with; None = next to the model
    threads: int = 1  # engine threads (one per engine on shared cores)
    history_s: float = 8.0  # user codes kept (seconds); a longer turn keeps its last part
    pre_roll_s: float = 0.2  # audio before the detected speech onset fed to the model
    max_reply_frames: int = 100  # hard cap on a reply (4 s of speech)
    max_text_bytes: int = 120  # hard cap on text tokens per reply
    image_interval_s: float = 0.5  # tokenize camera frames at most this often (if no vision stage)
    temperature: float = 0.0  # 0 = greedy
    seed: int = 0
    hear_budget_s: float | None = 0.2  # compute for the views of a turn: a long turn gets fewer (None: all)
    listen: bool = True  # prefill each view frame by frame while the user speaks (needs a backend with
    #   one sequence per view); False: each view is prefilled whole when the turn ends
    unit_gap_frames: int = 1  # silent frames (40 ms each) played between the units of a reply (0: none)
    hear_views: tuple[tuple[float, int], ...] = ((0.0, 1), (0.0, 2), (0.0, 3), (0.0, 0))  # (semitones,
    #   grid shift in hops) per view of the turn: one prefill each, + one if the deciding view was not the
    #   last; ((0.0, 0),) = as heard only. Chosen on dev voices (neither training nor eval voices), text
    #   accuracy: as heard 0.683, these four grid phases 0.792, warps -2/+2/0 0.750 (models/tiny/MODEL_CARD.md)


# --------------------------------------------------------------------------- generation
class ReplyEvent:
    TEXT, FRAME, END = "text", "frame", "end"


def free_choice(L) -> np.ndarray:
    """Tokens the model may choose between frames: text, ``text_end``, ``eou``, a frame's first code."""
    return L.mask("text", "text_end", "eou", "audio.agent.0")


def generate_reply(backend, logits: np.ndarray, next_idx: int, tick: int, sampler=None,
                   max_frames: int = 100, max_text: int = 120) -> Iterator[tuple[str, object]]:
    """Continue the stream after a prompt whose last logits are ``logits``.

    Yields ("text", str) per text token run, ("frame", codes (1, K)) per audio frame and
    ("end", reason). Between frames the model may emit text, ``text_end``, ``eou`` or the
    first code of a frame; inside a frame slot k may only emit agent codebook k."""
    from livesense.model.positions import IDX, N_SECTIONS, TIME
    from livesense.model.sampling import Sampler, audio_frame_masks

    L = backend.spec.layout
    sampler = sampler or Sampler()
    masks = audio_frame_masks(L, "agent")
    free = free_choice(L)
    eou, text_end = L.control("eou"), L.control("text_end")
    text_lo, text_hi = L.ranges()["text"]
    pend, frames, n_text = bytearray(), 0, 0

    def feed(tok: int) -> np.ndarray:
        nonlocal next_idx
        p = np.zeros((N_SECTIONS, 1), np.int32)
        p[IDX, 0], p[TIME, 0] = next_idx, tick
        next_idx += 1
        return backend.eval(np.array([tok]), p)

    while True:
        tok = sampler(logits, free if n_text < max_text else L.mask("eou", "audio.agent.0"))
        if tok == eou or frames >= max_frames:
            if pend:
                yield ReplyEvent.TEXT, pend.decode("utf-8", "replace")
            yield ReplyEvent.END, "eou" if tok == eou else "max_frames"
            return
        if text_lo <= tok < text_hi:
            pend.append(tok - text_lo)
            n_text += 1
            logits = feed(tok)
            continue
        if tok == text_end:
            logits = feed(tok)
            continue
        if pend:  # the text of this unit is complete: hand it on before its audio
            yield ReplyEvent.TEXT, pend.decode("utf-8", "replace")
            pend = bytearray()
        codes = [tok]
        logits = feed(tok)
        for k in range(1, L.n_codebooks):
            codes.append(sampler(logits, masks[k]))
            logits = feed(codes[-1])
        frames += 1
        tick += 1
        yield ReplyEvent.FRAME, L.audio_codes(np.array(codes), "agent")


def unit_gaps(events: Iterator[tuple[str, object]], silence: np.ndarray, n: int) -> Iterator[tuple[str, object]]:
    """``generate_reply``'s events with ``n`` frames of ``silence`` codes before the audio of
    every unit after the first (a unit's text comes before its frames): a short pause at
    each seam of the composed speech, where Whisper otherwise runs the units together
    ("They are white." heard as "there")."""
    seen_audio = gap = False
    for kind, val in events:
        if kind == ReplyEvent.TEXT and seen_audio:
            gap = True
        elif kind == ReplyEvent.FRAME:
            if gap:
                for _ in range(n):
                    yield ReplyEvent.FRAME, silence
                gap = False
            seen_audio = True
        yield kind, val


# --------------------------------------------------------------------------- the agent
def hear(backend, prompts: list, mask: np.ndarray | None = None, budget_s: float | None = None,
         clock=None, cache=None) -> tuple[np.ndarray, int]:
    """Prefill each prompt (one turn heard in different views; their lengths may differ).

    Returns the mean of their next-token log-probabilities and the index of the prompt whose
    own log-probability of the mean's best token (under ``mask``) is highest; the backend is
    left holding that prompt's state, ready to generate. One prompt: its logits, index 0.
    ``budget_s`` (with ``clock``, a :class:`~livesense.clock.Clock`): no further view is
    prefilled once the time spent, plus one more view and a possible re-prefill at the pace
    so far, would pass it, so a long turn is heard in fewer views instead of answered late.
    With ``cache`` (a :class:`~livesense.model.prefix.PrefixCache` over ``backend``), prompt
    k goes to the cache's slot k and only what that slot does not hold yet is evaluated;
    the caller continues in ``cache.slot(best)``."""
    def prefill(k: int, p) -> np.ndarray:
        if cache is not None:
            return cache.sync(k, p.ids, p.pos)
        backend.reset()
        return backend.eval(p.ids, p.pos)

    if len(prompts) == 1:
        return prefill(0, prompts[0]), 0
    logp = []
    t0 = clock.now() if budget_s is not None else 0.0
    for k, p in enumerate(prompts):
        lg = np.asarray(prefill(k, p), np.float64)
        lg = lg - lg.max()
        logp.append(lg - np.log(np.exp(lg).sum()))
        if budget_s is not None and len(logp) < len(prompts):
            spent = clock.now() - t0
            if spent + 2.0 * spent / len(logp) > budget_s:
                log.info("heard the turn in %d of %d views (%.0f ms spent)", len(logp), len(prompts), 1000 * spent)
                break
    mean = np.mean(logp, axis=0)
    tok = int(np.argmax(mean if mask is None else np.where(mask, mean, -np.inf)))
    best = int(np.argmax([lp[tok] for lp in logp]))
    if best != len(logp) - 1 and (cache is None or getattr(backend, "n_seq", 1) < len(logp)):
        prefill(best, prompts[best])  # the sequence now holds another view: back to this one
    return mean.astype(np.float32), best


class _FeatureRing:
    """Preallocated ring of the most recent user feature frames and their capture times."""

    def __init__(self, n: int, k: int) -> None:
        self.feats = np.zeros((n, k), np.float32)
        self.times = np.full(n, -np.inf)
        self.n, self.ptr = n, 0

    def reset(self) -> None:
        self.times[:] = -np.inf
        self.ptr = 0

    def push(self, feats: np.ndarray, t0: float, frame_s: float) -> None:
        for f in range(len(feats)):
            self.feats[self.ptr] = feats[f]
            self.times[self.ptr] = t0 + f * frame_s
            self.ptr = (self.ptr + 1) % self.n

    def window(self, t_from: float, t_to: float) -> np.ndarray:
        order = (self.ptr + np.arange(self.n)) % self.n  # oldest first
        keep = order[(self.times[order] >= t_from - 1e-6) & (self.times[order] <= t_to + 1e-6)]
        return self.feats[keep]


class NativeAgent:
    name = "native"

    def __init__(self, config: NativeConfig | None = None, backend=None, codec=None, vision=None,
                 clock=None) -> None:
        from livesense.clock import MonotonicClock

        self.config = cfg = config or NativeConfig()
        self._clock = clock or MonotonicClock()  # paces the views' compute budget only
        self._backend, self._codec, self._vision = backend, codec, vision
        self._enc = self._dec = None
        self._ring: _FeatureRing | None = None
        self._pcm = np.zeros(0, np.float32)
        self._pcm_t = 0.0
        self._image: np.ndarray | None = None
        self._image_t = -np.inf
        self.interruptions = 0
        self.context: list[str] = []  # control tokens appended between turns (e.g. after a barge-in)
        self._spent: tuple[int, list[str]] = (-1, [])  # (turn, the context its prompt used)
        self.last_text = ""
        self._sampler = None
        self._seed = cfg.seed
        self._cache = None  # PrefixCache over the backend's sequences (one per view)
        self._codes: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # view -> (features, codes) last quantized
        self._listen_from: float | None = None  # listening to the turn that started here (s, capture clock)
        self._listen_t0 = -np.inf  # where the last turn listened to started
        self._turn_image: np.ndarray | None = None  # the image of that turn's start
        self._black: np.ndarray | None = None  # image tokens of a black frame (no camera)

    # --- loading --------------------------------------------------------------------
    def _paths(self) -> tuple[Path, Path]:
        cfg = self.config
        model = Path(cfg.model_path) if cfg.model_path else DEFAULT_MODEL
        books = Path(cfg.codebooks) if cfg.codebooks else model.parent / "lsc1_codebooks.npz"
        return model, books

    def load(self) -> None:
        """Open the model (layout/codec/vision contracts checked), the codec and the
        vision tokenizer; no-op for parts injected in the constructor."""
        model, books = self._paths()
        if self._backend is None:
            from livesense.model.load import open_model

            if not model.exists():
                raise FileNotFoundError(f"native model {model} not found: train it with scripts/train_tiny.py "
                                        "or pass NativeConfig(model_path=...)")
            seqs = len(self.config.hear_views or ((0.0, 0),))
            self._backend = open_model(model, n_threads=self.config.threads, n_seq=seqs) \
                if model.suffix == ".gguf" else open_model(model, n_seq=seqs)
        if self._cache is None and hasattr(self._backend, "truncate"):
            from livesense.model.prefix import PrefixCache

            self._cache = PrefixCache(self._backend)
        if self._codec is None:
            from livesense.codec import LSC1Codec

            _check_codebooks(model, books)
            self._codec = LSC1Codec.load(books)
        if self._enc is None:
            self._enc, self._dec = self._codec.encoder(), self._codec.decoder()
            c = self._codec.c
            self._ring = _FeatureRing(int(self.config.history_s * c.frame_rate), c.dim)
            self._silence = self._codec.encode(np.zeros(c.frame_size, np.float32))[:1]
        from livesense.model.sampling import Sampler, SamplingConfig

        self._sampler = Sampler(SamplingConfig(self.config.temperature, 0, self._seed))

    @property
    def backend(self):
        if self._backend is None:
            self.load()
        return self._backend

    def _tokenizer(self):
        if self._vision is None:
            from livesense.vision.tokenizer import VisionTokenizer

            self._vision = VisionTokenizer.load()
        return self._vision

    def warm(self) -> None:
        """Load everything and run one short reply, so the first turn pays no start-up."""
        self.load()
        self._tokenizer()
        c = self._codec.c
        t = 0.0
        for _ in range(10):
            self.observe(AudioFrame(np.zeros(c.frame_size, np.float32), c.sample_rate, t))
            t += c.frame_size / c.sample_rate
        for _ in self.respond(TurnEnd(t_capture=t, t_decided=t, speech_s=0.4, id=-1), lambda name: None):
            pass
        self.reset()

    # --- Agent protocol -------------------------------------------------------------
    def observe(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame) and frame.turn == -1:
            self._hear(frame)
        elif isinstance(frame, Tokens) and frame.kind == "image":
            self._image, self._image_t = np.asarray(frame.ids, np.int64).reshape(-1), frame.t_capture
        elif isinstance(frame, VideoFrame) and frame.t_capture - self._image_t >= self.config.image_interval_s:
            self._image, self._image_t = self._tokenizer().encode(frame.image).astype(np.int64), frame.t_capture

    def _hear(self, frame: AudioFrame) -> None:
        if self._enc is None:
            self.load()
        c = self._codec.c
        if frame.sample_rate != c.sample_rate:
            raise ValueError(f"NativeAgent hears {c.sample_rate} Hz audio, got {frame.sample_rate} Hz: "
                             "resample in the capture stage")
        if not len(self._pcm):
            self._pcm_t = frame.t_capture
        self._pcm = np.concatenate([self._pcm, np.asarray(frame.samples, np.float32)])  # < 1 frame buffered
        n = (len(self._pcm) // c.frame_size) * c.frame_size
        if n:
            self._ring.push(self._enc.features(self._pcm[:n]), self._pcm_t, c.frame_size / c.sample_rate)
            self._pcm = self._pcm[n:]
            self._pcm_t += n / c.sample_rate
            if self._listen_from is not None:
                self._listen()

    def prepare(self, start=None) -> None:
        """The user started a turn (``TurnStart``) and no reply runs: listen from its onset."""
        if start is None or self._cache is None or not self.config.listen:
            return
        if start.resumes >= 0 and self._listen_from is not None:
            return  # the user goes on after a pause: keep listening from the turn's onset
        self._listen_from = self._listen_t0 = start.t_capture - self.config.pre_roll_s
        self._turn_image = self._image

    def _listen(self) -> None:
        """Feed each view's sequence the turn so far (only its new frames are evaluated).
        A turn longer than the feature history stops listening: its window would lose its
        start every frame, and every frame would then cost a whole prefill."""
        if self._pcm_t - self._listen_from > self.config.history_s - 0.1:
            log.info("turn longer than %.0f s: prefilled when it ends", self.config.history_s)
            self._listen_from = None
            return
        feats = self._ring.window(self._listen_from, np.inf)
        for k, prompt in enumerate(self._prompts(feats, agent=False)):
            self._cache.sync(k, prompt.ids, prompt.pos, logits=False)

    def _window_start(self, turn: TurnEnd) -> float:
        """Where a turn's audio for the model starts: its speech onset less the pre-roll."""
        return turn.t_capture - turn.speech_s - self.config.pre_roll_s

    def _prompts(self, feats: np.ndarray, agent: bool = True) -> list:
        """The turn's prompt in each view (views of a one-frame turn may be empty: skipped)."""
        from livesense.codec.features import view

        c = self._codec.c
        heard = [(k, view(feats, st, hops, c)) for k, (st, hops) in enumerate(self.config.hear_views or ((0.0, 0),))]
        heard = [(k, v) for k, v in heard if len(v)] or [(0, feats)]
        image = self._image if self._turn_image is None else self._turn_image
        return [self._prompt(self.backend.spec, self._quantize(k, v), self.context, image, agent) for k, v in heard]

    def _quantize(self, k: int, feats: np.ndarray) -> np.ndarray:
        """Codes of a view's frames; the frames it shares with the last call are not searched again."""
        empty = (np.zeros((0, feats.shape[1]), np.float32), np.zeros((0, self._codec.c.n_codebooks), np.int64))
        held, codes = self._codes.get(k, empty)
        m = min(len(held), len(feats))
        same = np.all(held[:m] == feats[:m], axis=1)
        m = int(np.argmin(same)) if not same.all() else m
        new = self._enc.quantize(feats[m:]).astype(np.int64) if len(feats) > m else codes[:0]
        codes = np.concatenate([codes[:m], new])
        self._codes[k] = (feats.copy(), codes)
        return codes

    def respond(self, turn: TurnEnd, mark: Mark) -> Iterator[Frame]:
        if self._enc is None or self._sampler is None:
            self.load()
        backend = self.backend
        c = self._codec.c
        t_from = self._window_start(turn)
        self._listen_from = None  # the reply owns the sequences now
        if self._turn_image is not None and abs(t_from - self._listen_t0) > 1e-3:
            self._turn_image = None  # not the turn listened to (e.g. merged with an earlier one)
        feats = self._ring.window(t_from, turn.t_capture)
        if not len(feats):
            log.info("turn %d: no user audio in the window, no reply", turn.id)
            return
        from livesense.model.positions import IDX, TIME

        prompts = self._prompts(feats)
        self._spent = (turn.id, self.context)
        self.context = []  # the barge-in record goes into this turn's stream once
        fed = self._cache.fed if self._cache is not None else 0
        logits, best = hear(backend, prompts, free_choice(backend.spec.layout), self.config.hear_budget_s, self._clock,
                            self._cache)
        if self._cache is not None:
            log.debug("turn %d: %d prompt tokens evaluated at the turn's end", turn.id, self._cache.fed - fed)
        prompt = prompts[best]
        model = self._cache.slot(best) if self._cache is not None else backend

        events = generate_reply(model, logits, int(prompt.pos[IDX, -1]) + 1, int(prompt.pos[TIME].max()),
                                self._sampler, self.config.max_reply_frames, self.config.max_text_bytes)
        n_gap = self.config.unit_gap_frames
        rendered = unit_gaps(events, self._silence, n_gap) if n_gap else events
        self._dec.reset()
        text, first = [], True
        try:
            for kind, val in rendered:
                if first:
                    mark("first_token")
                    first = False
                if kind == ReplyEvent.TEXT:
                    text.append(val)
                    yield TextFrame(val, turn.t_capture, turn=turn.id)
                elif kind == ReplyEvent.FRAME:
                    yield AudioFrame(self._dec.step(val), c.sample_rate, turn.t_capture, turn=turn.id)
            yield AudioFrame(self._dec.step(self._silence), c.sample_rate, turn.t_capture, turn=turn.id)  # decoder tail
            yield TextFrame("", turn.t_capture, final=True, turn=turn.id)
        finally:
            rendered.close()
            events.close()  # barge-in: no further token is decoded
            self.last_text = "".join(text)

    def discarded(self, turn: TurnEnd) -> None:
        """A reply started before the turn ended was dropped unheard: the barge-in record it
        consumed goes back for the next reply."""
        tid, spent = self._spent
        if tid == turn.id:
            self.context = (spent + self.context)[-8:]
        self._spent = (-1, [])
        if self._cache is not None and abs(self._window_start(turn) - self._listen_t0) < 1e-3:
            self._listen_from = self._listen_t0  # the user goes on with the turn listened to: listen on

    def interrupted(self, turn: TurnEnd) -> None:
        """The reply was cut off: the next turn's token stream records the barge-in
        (``user`` then the agent's ``eou``, as in training) before the new user turn."""
        self.interruptions += 1
        self.context = (self.context + ["user", "eou"])[-8:]

    def reset(self) -> None:
        if self._enc is not None:
            self._enc.reset()
            self._dec.reset()
            self._ring.reset()
        if self._cache is not None:
            self._cache.reset()
        self._codes.clear()
        self._listen_from, self._turn_image = None, None
        self._pcm = np.zeros(0, np.float32)
        self._image, self._image_t = None, -np.inf
        self.interruptions, self.context, self.last_text = 0, [], ""
        self._spent = (-1, [])
        if self._sampler is not None:
            self._sampler.reset()

    # --- prompt -----------------------------------------------------------------------
    def _prompt(self, spec, codes: np.ndarray, context: list[str] = (), image: np.ndarray | None = None,
                agent: bool = True):
        from livesense.model.positions import Placed
        from livesense.train.data import FRAME_S, StreamBuilder

        L = spec.layout
        if image is None:  # no camera: what a black frame looks like to the tokenizer (computed once)
            if self._black is None:
                v = self._tokenizer().contract
                self._black = self._tokenizer().encode(np.zeros((v.image_h, v.image_w, 3), np.uint8)).astype(np.int64)
            image = self._black
        b = StreamBuilder(L, spec.scheme)
        b.control("bos", 0.0)
        b.image(image, 0.0)
        for name in context:  # e.g. the barge-in record: the last reply was cut by the user
            b.control(name, 0.0)
        b.control("user", 0.0)
        t = b.user_audio(codes, 0.0)
        if agent:
            b.control("agent", t + 6 * FRAME_S)
        s = b.build({})
        return Placed(s.ids, s.pos)


def _check_codebooks(model: Path, books: Path) -> None:
    """Refuse codebooks other than the ones the model's audio codes came from (the layout
    check covers the contract, not the codebook values)."""
    side = model.parent / "livesense-tiny.json"
    if not side.exists() or not books.exists():
        return
    want = json.loads(side.read_text()).get("codebooks_sha256")
    from livesense.codec.rvq import sha256_of

    got = sha256_of(books)
    if want and got != want:
        raise ValueError(f"{books} (sha256 {got[:12]}...) are not the LSC-1 codebooks {model.name} was trained "
                         f"with ({want[:12]}...): its audio codes would decode to noise")


__all__ = ["DEFAULT_MODEL", "NativeAgent", "NativeConfig", "generate_reply"]
